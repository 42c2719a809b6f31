"""NixOS modules: `let` bindings, imports, priorities and literal conditions, one rule per test
(the NixOS manual's "Writing NixOS Modules", "Modularity" and lib/modules.nix: mkIf, mkForce,
mkDefault, mkOverride, mkBefore, mkAfter; types.lines concatenates definitions)."""

from __future__ import annotations

from tests.extract.helpers import lint_fixture, verdict, where

DENY_FB = "    acl fb dstdomain .facebook.com\n    http_access deny fb\n"
ALLOW_ALL = "    http_access allow all\n"


def squid(extra: str, body: str = DENY_FB, head: str = "", let: str = "") -> str:
    """A module enabling squid with `body` as extraConfig (its first rule on line 5 + head lines)."""
    prefix = f"let\n{let}in\n" if let else ""
    return (
        prefix
        + "{\n"
        + head
        + "  services.squid.enable = true;\n"
        + f"  services.squid.extraConfig = {extra}''\n"
        + body
        + "  '';\n}\n"
    )


def test_realistic_modules():
    report = lint_fixture("nixos_modules/configuration.nix")
    assert not report.errors
    assert verdict(report, "squid", "facebook") == "blocked"
    assert verdict(report, "squid", "linkedin") == "blocked"
    # The rules of the imported module point into it.
    assert where(report, "TE101") == [("configuration.nix", 20), ("default.nix", 6)]
    assert where(report, "TE102", "facebook") == [("configuration.nix", 24)]
    # `lib.mkIf false` in the imported firewall.nix: inert, what it would block said.
    assert verdict(report, "hosts", "twitter") == "unaffected"
    assert where(report, "TE202", "twitter") == [("firewall.nix", 6)]
    assert not where(report, "TE903")


def test_let_bound_string_and_list_interpolated(lint):
    let = '  fb = ".facebook.com";\n  more = [ ".fbcdn.net" ".facebook.net" ];\n'
    body = '    acl fb dstdomain ${fb} ${lib.concatStringsSep " " more}\n    http_access deny fb\n'
    report = lint({"p.nix": squid("", body, let=let)})
    assert verdict(report, "squid", "facebook") == "blocked"
    assert where(report, "TE101") == [("p.nix", 9)]
    assert not where(report, "TE907")


def test_let_bound_multiline_string_as_the_value_and_as_a_line(lint):
    let = "  rules = ''\n    acl fb dstdomain .facebook.com\n    http_access deny fb\n  '';\n"
    as_value = (
        "let\n" + let + "in\n{\n  services.squid.enable = true;\n  services.squid.extraConfig = rules;\n}\n"
    )
    report = lint({"p.nix": as_value})
    assert verdict(report, "squid", "facebook") == "blocked"
    assert where(report, "TE101") == [("p.nix", 4)]
    report = lint({"q.nix": squid("", "    ${rules}\n", let=let)})
    assert where(report, "TE101") == [("q.nix", 4)]


def test_unbound_interpolation_stays_unknown(lint):
    report = lint({"p.nix": squid("", "    acl fb dstdomain ${config.blocked}\n    http_access deny fb\n")})
    assert verdict(report, "squid", "facebook") == "unknown"
    assert where(report, "TE907") == [("p.nix", 4)]


def test_import_followed_and_its_enable_counts(lint):
    report = lint(
        {
            "configuration.nix": "{\n  imports = [ ./proxy.nix ];\n  services.squid.enable = true;\n}\n",
            "proxy.nix": "{\n  services.squid.extraConfig = ''\n" + DENY_FB + "  '';\n}\n",
        }
    )
    assert verdict(report, "squid", "facebook") == "blocked"
    assert where(report, "TE101") == [("proxy.nix", 4)]


def test_import_of_a_directory_is_its_default_nix(lint):
    report = lint(
        {
            "configuration.nix": "{\n  imports = [\n    ./proxy\n  ];\n  services.squid.enable = true;\n}\n",
            "proxy/default.nix": "{\n  services.squid.extraConfig = ''\n" + DENY_FB + "  '';\n}\n",
        }
    )
    assert where(report, "TE101") == [("default.nix", 4)]


def test_missing_import_is_te903_and_makes_the_config_unknown(lint):
    report = lint({"c.nix": squid("", head="  imports = [ ./hardware-configuration.nix ];\n")})
    assert verdict(report, "squid", "facebook") == "unknown"
    assert where(report, "TE903") == [("c.nix", 2)]


def test_import_outside_the_root_is_never_read(lint, tmp_path):
    (tmp_path.parent / "outside.nix").write_text(
        "{\n  services.squid.extraConfig = ''\n" + ALLOW_ALL + "  '';\n}\n"
    )
    report = lint({"c.nix": squid("", head="  imports = [ ../outside.nix ];\n")})
    assert verdict(report, "squid", "facebook") == "unknown"
    assert where(report, "TE903") == [("c.nix", 2)]
    assert not any("outside.nix" in f.span.path for f in report.findings)


def test_nixpkgs_modules_are_not_followed_nor_missing(lint):
    head = '  imports = [ <nixpkgs/nixos/modules/profiles/minimal.nix> (modulesPath + "/installer/scan/not-detected.nix") ];\n'
    report = lint({"c.nix": squid("", head=head)})
    assert verdict(report, "squid", "facebook") == "blocked"
    assert not where(report, "TE903")


def test_mkforce_definition_replaces_the_others(lint):
    report = lint(
        {
            "c.nix": "{\n  imports = [ ./strict.nix ];\n  services.squid.enable = true;\n"
            "  services.squid.extraConfig = lib.mkForce ''\n" + ALLOW_ALL + "  '';\n}\n",
            "strict.nix": "{\n  services.squid.extraConfig = ''\n" + DENY_FB + "  '';\n}\n",
        }
    )
    assert verdict(report, "squid", "facebook") == "unaffected"
    assert not where(report, "TE101")


def test_mkdefault_definition_loses_to_a_plain_one(lint):
    report = lint(
        {
            "c.nix": "{\n  imports = [ ./base.nix ];\n  services.squid.enable = true;\n"
            "  services.squid.extraConfig = ''\n" + DENY_FB + "  '';\n}\n",
            "base.nix": "{\n  services.squid.extraConfig = lib.mkDefault ''\n" + ALLOW_ALL + "  '';\n}\n",
        }
    )
    assert verdict(report, "squid", "facebook") == "blocked"


def test_mkbefore_orders_lines_first(lint):
    # Without mkBefore the allow (this module) would come before the imported deny.
    report = lint(
        {
            "c.nix": "{\n  imports = [ ./deny.nix ];\n  services.squid.enable = true;\n"
            "  services.squid.extraConfig = ''\n" + ALLOW_ALL + "  '';\n}\n",
            "deny.nix": "{\n  services.squid.extraConfig = lib.mkBefore ''\n" + DENY_FB + "  '';\n}\n",
        }
    )
    assert verdict(report, "squid", "facebook") == "blocked"
    assert where(report, "TE101") == [("deny.nix", 4)]


def test_enable_mkforce_false_in_an_import_wins(lint):
    report = lint(
        {
            "c.nix": "{\n  imports = [ ./off.nix ];\n  services.squid.enable = true;\n"
            "  services.squid.extraConfig = ''\n" + DENY_FB + "  '';\n}\n",
            "off.nix": "{\n  services.squid.enable = lib.mkForce false;\n}\n",
        }
    )
    assert verdict(report, "squid", "facebook") == "unaffected"
    assert where(report, "TE202", "facebook") == [("c.nix", 6)]


def test_literal_mkif_true_and_let_bound_condition(lint):
    nix = (
        "{\n  services.squid = lib.mkIf true {\n    enable = true;\n    extraConfig = ''\n"
        + DENY_FB
        + "    '';\n  };\n}\n"
    )
    assert verdict(lint({"a.nix": nix}), "squid", "facebook") == "blocked"
    bound = "let\n  strict = false;\nin\n" + nix.replace("mkIf true", "mkIf strict")
    report = lint({"b.nix": bound})
    assert verdict(report, "squid", "facebook") == "unaffected"
    assert where(report, "TE202", "facebook") == [("b.nix", 9)]


def test_mkif_on_an_option_value(lint):
    report = lint({"a.nix": squid("lib.mkIf config.office.strict ")})
    assert verdict(report, "squid", "facebook") == "unknown"
    report = lint({"b.nix": squid("lib.mkIf false ")})
    assert verdict(report, "squid", "facebook") == "unaffected"


def test_enable_false_stays_inert_with_imports(lint):
    report = lint(
        {
            "c.nix": "{\n  imports = [ ./rules.nix ];\n  services.squid.enable = false;\n}\n",
            "rules.nix": "{\n  services.squid.extraConfig = ''\n" + DENY_FB + "  '';\n}\n",
        }
    )
    assert verdict(report, "squid", "facebook") == "unaffected"
    assert where(report, "TE202", "facebook") == [("rules.nix", 4)]


def test_import_cycle_reads_each_module_once(lint):
    report = lint(
        {
            "a.nix": "{\n  imports = [ ./b.nix ];\n  services.squid.enable = true;\n}\n",
            "b.nix": "{\n  imports = [ ./a.nix ];\n  services.squid.extraConfig = ''\n"
            + DENY_FB
            + "  '';\n}\n",
        }
    )
    assert where(report, "TE101") == [("b.nix", 5)]


def test_import_through_a_link_out_of_the_root_is_not_read(lint, tmp_path):
    outside = tmp_path.parent / "elsewhere.nix"
    outside.write_text("{\n  services.squid.extraConfig = ''\n" + ALLOW_ALL + "  '';\n}\n")
    (tmp_path / "link.nix").symlink_to(outside)
    report = lint({"c.nix": squid("", head="  imports = [ ./link.nix ];\n")})
    assert verdict(report, "squid", "facebook") == "unknown"
    assert where(report, "TE903") == [("c.nix", 2)]


def test_map_over_a_let_bound_list_in_settings_and_hosts(lint):
    nix = (
        'let\n  blocked = [ "facebook.com" "fbcdn.net" ];\nin\n{\n  services.dnsmasq.enable = true;\n'
        '  services.dnsmasq.settings.address = map (d: "/${d}/0.0.0.0") blocked;\n'
        '  networking.extraHosts = lib.concatMapStrings (d: "0.0.0.0 ${d}\\n") [ "linkedin.com" "www.linkedin.com" ];\n}\n'
    )
    report = lint({"dns.nix": nix})
    assert verdict(report, "dnsmasq", "facebook") == "blocked"
    assert where(report, "TE101", "facebook") == [("dns.nix", 6)]
    assert verdict(report, "hosts", "linkedin") == "blocked"
    assert where(report, "TE101", "linkedin") == [("dns.nix", 7), ("dns.nix", 7)]

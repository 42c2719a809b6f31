"""One container kind or rule per test, through the `lint` fixture (files under a temporary root)."""

from __future__ import annotations

from pathlib import Path

from policy_lint.dialects.firewalls.iptables.model import DYN
from policy_lint.extract import shell as shell_container
from tests.extract.helpers import verdict, where

SQUID_DENY_FB = """\
acl social dstdomain .facebook.com .fbcdn.net
http_access deny social
http_access allow all
"""


# ------------------------------------------------------------------ markdown / reST


def test_markdown_fence_tag_names_the_dialect(lint):
    fence = "```squid\n" + SQUID_DENY_FB + "```\n"
    report = lint({"notes.md": "# Proxy\n\nSome text.\n\n" + fence})
    assert verdict(report, "squid", "facebook") == "blocked"
    assert where(report, "TE101") == [("notes.md", 7)]


def test_markdown_untagged_fence_detected_by_content(lint):
    fence = "```\n127.0.0.1 localhost\n0.0.0.0 linkedin.com\n0.0.0.0 www.linkedin.com\n```\n"
    report = lint({"notes.md": "Hosts:\n\n" + fence})
    assert verdict(report, "hosts", "linkedin") == "blocked"
    assert where(report, "TE101") == [("notes.md", 5), ("notes.md", 6)]


def test_markdown_fence_of_code_is_no_config(lint):
    report = lint(
        {"README.md": "# Title\n\n```python\nprint(1)\n```\n\n```squid\nhttp_access allow all\n```\n"}
    )
    assert not report.errors and [f.dialect for f in report.files] == ["squid"]


def test_rst_code_block(lint):
    text = "Proxy\n=====\n\n.. code-block:: squid\n\n   " + SQUID_DENY_FB.replace("\n", "\n   ") + "\nEnd.\n"
    report = lint({"guide.rst": text})
    assert verdict(report, "squid", "facebook") == "blocked"
    assert where(report, "TE101") == [("guide.rst", 7)]


def test_markdown_placeholder_in_source_position_keeps_the_verdict(lint):
    fence = "```squid\nacl lan src __LAN_CIDR__\nacl fb dstdomain .facebook.com\nhttp_access deny fb lan\n"
    fence += "http_access allow lan\nhttp_access deny all\n```\n"
    report = lint({"notes.md": fence})
    assert verdict(report, "squid", "facebook") == "blocked"
    assert not where(report, "TE907")


def test_markdown_placeholder_in_destination_position_is_unknown(lint):
    fence = "```squid\nacl fb dstdomain __BLOCKED__\nhttp_access deny fb\nhttp_access allow all\n```\n"
    report = lint({"notes.md": fence})
    assert verdict(report, "squid", "facebook") == "unknown"
    assert where(report, "TE907") == [("notes.md", 2)]


# ------------------------------------------------------------------ shell


def test_shell_heredoc_to_squid_conf(lint):
    script = (
        "#!/bin/sh\nLAN=10.0.0.0/8\ncat > /etc/squid/squid.conf <<EOF\nacl lan src $LAN\n"
        "acl fb dstdomain .facebook.com\nhttp_access deny fb lan\nhttp_access allow lan\n"
        "http_access deny all\nEOF\n"
    )
    report = lint({"setup.sh": script})
    assert verdict(report, "squid", "facebook") == "blocked"
    assert where(report, "TE101") == [("setup.sh", 6)]
    assert not report.errors


def test_shell_tee_append_and_echo(lint):
    script = (
        "#!/bin/bash\ncat <<EOF | sudo tee -a /etc/hosts\n0.0.0.0 linkedin.com\nEOF\n"
        'for h in www.linkedin.com; do\n  echo "0.0.0.0 $h" >> /etc/hosts\ndone\n'
    )
    report = lint({"hosts.sh": script})
    assert verdict(report, "hosts", "linkedin") == "blocked"
    assert where(report, "TE101") == [("hosts.sh", 3), ("hosts.sh", 6)]


def test_shell_nft_commands_in_a_loop(lint):
    script = (
        "#!/bin/sh\nnft add table inet f\n"
        "nft add chain inet f fwd '{ type filter hook forward priority 0; policy accept; }'\n"
        "for n in 157.240.0.0/16 31.13.24.0/21; do\n  nft add rule inet f fwd ip daddr $n drop\ndone\n"
    )
    report = lint({"nft.sh": script})
    assert verdict(report, "nftables", "facebook") == "blocked-partial"
    assert where(report, "TE102") == [("nft.sh", 5)]


def test_shell_unset_variable_in_destination_is_unknown(lint):
    script = "#!/bin/sh\ncat > /etc/hosts <<EOF\n0.0.0.0 $SITE\nEOF\n"
    report = lint({"h.sh": script})
    assert verdict(report, "hosts", "facebook") == "unknown"
    assert where(report, "TE907") == [("h.sh", 3)]


def test_shell_quoted_heredoc_is_literal(lint):
    # <<'EOF': `$fb` is pf's own macro, not the shell's.
    script = (
        "#!/bin/sh\npfctl -f - <<'EOF'\nfb = \"157.240.0.0/16\"\nblock drop quick to $fb\npass all\nEOF\n"
    )
    report = lint({"pf.sh": script})
    assert verdict(report, "pf", "facebook") == "blocked-partial"
    assert where(report, "TE102") == [("pf.sh", 4)]


def test_shell_uci_is_not_read(lint):
    report = lint({"openwrt.sh": "#!/bin/sh\nuci add firewall rule\nuci commit firewall\n"})
    assert where(report, "TE908") == [("openwrt.sh", 2), ("openwrt.sh", 3)]
    assert all(r.verdict.value == "unknown" for f in report.files for r in f.services.values())


def test_container_holding_nothing_known_is_an_error_when_named(lint):
    # Nothing read is no success: a named script or document holding no config is an input
    # error, as any file of no known kind.
    assert lint({"hello.sh": "#!/bin/sh\necho hello\n"}).errors
    assert lint({"notes.md": "# Notes\n\nNothing here.\n"}).errors


def test_dyn_marker_is_the_iptables_one():
    assert shell_container.DYN == DYN


def test_shell_script_content_other_dialect_ignored_as_whole(lint):
    # squid lines in a heredoc do not make the script a squid.conf.
    script = "#!/bin/sh\ncat > /etc/squid/squid.conf <<EOF\n" + SQUID_DENY_FB + "EOF\n"
    report = lint({"s.sh": script})
    assert [f.dialect for f in report.files] == ["squid"]
    assert not where(report, "TE901")


# ------------------------------------------------------------------ terraform


def test_terraform_heredoc_with_literal_variable(lint):
    tf = (
        'variable "blocked" {\n  default = ".linkedin.com"\n}\n\n'
        'resource "local_file" "p" {\n  filename = "/etc/squid/squid.conf"\n  content = <<EOF\n'
        "acl x dstdomain ${var.blocked}\nhttp_access deny x\nhttp_access allow all\nEOF\n}\n"
    )
    report = lint({"main.tf": tf})
    assert verdict(report, "squid", "linkedin") == "blocked"
    assert where(report, "TE101") == [("main.tf", 9)]


def test_terraform_unresolved_destination_is_unknown(lint):
    tf = (
        'variable "blocked" {}\n'
        'resource "local_file" "p" {\n  filename = "/etc/squid/squid.conf"\n  content = <<EOF\n'
        "acl x dstdomain ${var.blocked}\nhttp_access deny x\nhttp_access allow all\nEOF\n}\n"
    )
    report = lint({"main.tf": tf})
    assert verdict(report, "squid", "facebook") == "unknown"
    assert where(report, "TE907") == [("main.tf", 5)]


def test_terraform_missing_template_is_te903(lint):
    tf = 'resource "local_file" "p" {\n  content = templatefile("${path.module}/gone.tftpl", {})\n}\n'
    report = lint({"main.tf": tf})
    assert where(report, "TE903") == [("main.tf", 2)]
    assert all(r.verdict.value == "unknown" for f in report.files for r in f.services.values())


def test_terraform_user_data_script_writes(lint):
    tf = (
        'resource "aws_instance" "gw" {\n  user_data = <<-EOF\n    #!/bin/bash\n'
        "    echo '0.0.0.0 linkedin.com' >> /etc/hosts\n    echo '0.0.0.0 www.linkedin.com' >> /etc/hosts\n"
        "  EOF\n}\n"
    )
    report = lint({"main.tf": tf})
    assert verdict(report, "hosts", "linkedin") == "blocked"
    assert where(report, "TE101") == [("main.tf", 4), ("main.tf", 5)]


# ------------------------------------------------------------------ nix


def test_nix_squid_extra_config_inside_the_module_config(lint):
    nix = (
        "{ ... }:\n{\n  services.squid.enable = true;\n  services.squid.extraConfig = ''\n"
        "    acl fb dstdomain .facebook.com\n    http_access deny fb\n  '';\n}\n"
    )
    report = lint({"proxy.nix": nix})
    assert verdict(report, "squid", "facebook") == "blocked"
    assert where(report, "TE101") == [("proxy.nix", 6)]


def test_nix_squid_extra_config_allow_is_followed_by_module_deny_all(lint):
    # nixpkgs appends `http_access allow localnet`, `allow localhost`, `deny all` after
    # extraConfig: nothing here blocks Facebook for the local networks.
    nix = "{\n  services.squid = {\n    enable = true;\n    extraConfig = ''\n      cache deny all\n    '';\n  };\n}\n"
    report = lint({"proxy.nix": nix})
    assert verdict(report, "squid", "facebook") in ("unaffected", "blocked-partial")


def test_nix_disabled_service_is_inert(lint):
    nix = '{\n  services.squid.enable = false;\n  services.squid.extraConfig = "http_access deny all";\n}\n'
    report = lint({"proxy.nix": nix})
    assert verdict(report, "squid", "facebook") == "unaffected"
    assert not where(report, "TE101") and not where(report, "TE105")


def test_nix_firewall_extra_commands_with_antiquotation_interface(lint):
    nix = (
        "{ config, ... }:\n{\n  networking.firewall.extraCommands = ''\n"
        "    iptables -I FORWARD -i ${config.lanIf} -d 157.240.0.0/16 -j DROP\n  '';\n}\n"
    )
    report = lint({"fw.nix": nix})
    assert verdict(report, "iptables", "facebook") == "blocked-partial"
    assert where(report, "TE102") == [("fw.nix", 4)]
    assert all("if_" not in " ".join(f.audiences) for f in report.findings)


def test_nix_hosts_attribute_set(lint):
    nix = '{\n  networking.hosts = {\n    "0.0.0.0" = [ "linkedin.com" "www.linkedin.com" ];\n  };\n}\n'
    report = lint({"hosts.nix": nix})
    assert verdict(report, "hosts", "linkedin") == "blocked"
    assert where(report, "TE101") == [("hosts.nix", 3), ("hosts.nix", 3)]


# ------------------------------------------------------------------ python


def test_python_netmiko_command_list(lint):
    py = (
        "from netmiko import ConnectHandler\n\nCMDS = [\n"
        '    "/ip firewall address-list add list=s address=157.240.0.0/16",\n'
        '    "/ip firewall filter add chain=forward dst-address-list=s action=drop",\n]\n'
        "c = ConnectHandler(host='192.0.2.1')\nc.send_config_set(CMDS)\n"
    )
    report = lint({"push.py": py})
    assert verdict(report, "mikrotik", "facebook") == "blocked-partial"
    assert where(report, "TE102") == [("push.py", 5)]


def test_python_hosts_write(lint):
    py = (
        "with open('/etc/hosts', 'a') as f:\n    f.write('0.0.0.0 linkedin.com\\n')\n"
        "    f.write('0.0.0.0 www.linkedin.com\\n')\n"
    )
    report = lint({"block.py": py})
    assert verdict(report, "hosts", "linkedin") == "blocked"
    assert where(report, "TE101") == [("block.py", 2), ("block.py", 3)]


def test_python_fstring_destination_is_unknown(lint):
    py = "site = input()\nwith open('/etc/hosts', 'a') as f:\n    f.write(f'0.0.0.0 {site}\\n')\n"
    report = lint({"block.py": py})
    assert verdict(report, "hosts", "facebook") == "unknown"
    assert where(report, "TE907") == [("block.py", 3)]


def test_python_is_never_run(lint, tmp_path: Path):
    marker = tmp_path / "ran"
    py = f"open({str(marker)!r}, 'w').write('x')\nimport os\nos.system('touch {marker}')\n"
    lint({"evil.py": py})
    assert not marker.exists()


def test_shell_pf_table_script_is_recognised_as_undecided(lint):
    script = "#!/bin/sh\npfctl -t social -T add 157.240.0.0/16\npfctl -t social -T add 31.13.24.0/21\n"
    report = lint({"tables.sh": script})
    assert not report.errors
    assert where(report, "TE907") == [("tables.sh", 2), ("tables.sh", 3)]
    assert all(r.verdict.value == "unknown" for f in report.files for r in f.services.values())


def test_nft_fragment_of_add_element_is_detected():
    from policy_lint import dialects

    text = "add element inet filter social { 157.240.0.0/16, 31.13.24.0/21 }\n"
    module = dialects.detect(Path("social-sets.conf"), text)
    assert module is not None and module.NAME == "nftables"


def test_verbose_logs_detection_scores(tmp_path):
    import subprocess
    import sys

    (tmp_path / "squid.conf").write_text(SQUID_DENY_FB)
    out = subprocess.run(
        [sys.executable, "-m", "policy_lint", "-v", "check", "squid.conf"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert "event='detection'" in out.stderr and "'squid':" in out.stderr


def test_pihole_regex_list_under_any_name(lint):
    report = lint({"social.list": "(^|\\.)facebook\\.com$\n(^|\\.)fbcdn\\.net$\n^(.+\\.)?linkedin\\.com$\n"})
    assert report.files[0].dialect == "pihole"
    assert where(report, "TE101") == [("social.list", 1), ("social.list", 3)]


def test_plain_domain_list_named_list_is_not_taken_for_regexes():
    from policy_lint.dialects.dns import pihole

    assert not pihole.regex_list_by_content(Path("social.list"), "facebook.com\nfbcdn.net\n")


def test_binary_container_is_one_error(lint, tmp_path):
    (tmp_path / "bin.md").write_bytes(b"\x00\x01\x02" * 100)
    from policy_lint.catalog import load_catalog
    from policy_lint.engine import Options, lint_paths
    from policy_lint.policy import strict_policy

    catalog = load_catalog()
    report = lint_paths([tmp_path / "bin.md"], catalog, strict_policy(catalog), Options(root=tmp_path))
    assert (
        report.errors == [f"{tmp_path / 'bin.md'}: binary file, not a configuration"]
        or len(report.errors) == 1
    )


def test_truncated_terraform_is_te901_and_unknown(lint):
    report = lint({"main.tf": 'resource "x" "y" {\n  content = <<EOF\nacl a dstdomain .facebook.com\n'})
    assert [f.code for f in report.findings] == ["TE901"]
    assert report.files[0].services["facebook"].verdict.value == "unknown"


def test_broken_yaml_tasks_is_one_line_te901(lint):
    report = lint({"site.yml": "- name: x\n  lineinfile:\n    path: /etc/hosts\n    line: [unclosed\n"})
    assert [(f.code, f.span.line) for f in report.findings] == [("TE901", 4)]
    assert "\n" not in report.findings[0].message


def test_ansible_ufw_rules(lint):
    out = "- name: deny linkedin out\n  community.general.ufw:\n    rule: deny\n    direction: out\n"
    out += "    to_ip: 108.174.10.0/24\n"
    report = lint({"host.yml": out})
    assert verdict(report, "iptables", "linkedin") == "blocked-partial"
    assert where(report, "TE102") == [("host.yml", 3)]
    routed = "- name: route deny\n  community.general.ufw:\n    rule: reject\n    route: true\n"
    routed += "    to_ip: 157.240.0.0/16\n"
    report = lint({"router.yml": routed})
    assert verdict(report, "iptables", "facebook") == "blocked-partial"
    assert where(report, "TE102") == [("router.yml", 3)]


def test_unknown_value_in_an_earlier_allow_makes_the_later_deny_unknown_for_whom_it_may_reach(lint):
    fence = (
        "```squid\nacl fb dstdomain .facebook.com\nacl vip src 10.0.0.5\nhttp_access allow vip {{ extra }}\n"
        "http_access deny fb\nhttp_access allow all\n```\n"
    )
    report = lint({"t.md": fence})
    assert verdict(report, "squid", "facebook") == "unknown"
    assert where(report, "TE907") == [("t.md", 4)]
    assert not where(report, "TE901")  # the placeholder's own text is no config error


def test_terraform_heredoc_does_not_make_the_module_a_squid_conf(lint):
    tf = (
        'resource "local_file" "p" {\n  filename = "/etc/squid/squid.conf"\n  content = <<EOF\n'
        + SQUID_DENY_FB
        + "EOF\n}\n"
    )
    report = lint({"main.tf": tf})
    assert [f.dialect for f in report.files] == ["squid"]
    assert where(report, "TE101") == [("main.tf", 5)]


def test_ansible_template_named_by_its_task_dest(lint):
    report = lint(
        {
            "roles/p/templates/proxy.j2": SQUID_DENY_FB,
            "roles/p/tasks/main.yml": "- template:\n    src: proxy.j2\n    dest: /etc/squid/squid.conf\n",
        }
    )
    assert verdict(report, "squid", "facebook") == "blocked"
    assert where(report, "TE101") == [("proxy.j2", 2)]


def test_weighted_phrase_list_under_any_name(lint):
    report = lint({"words.txt": "# social words\n<facebook><60>\n<twitter>,<login><40>\n"})
    assert report.files[0].dialect in ("e2guardian", "dansguardian")
    assert where(report, "TE102", "facebook") == [("words.txt", 2)]


def test_unweighted_phrase_list_role_is_not_guessed():
    from policy_lint.dialects.proxies import e2guardian

    assert e2guardian.content_role("<facebook>\n<twitter>\n") is None
    assert e2guardian.content_role("<facebook><60>\n<twitter><40>\n") == ("weighted", "phrase")


def test_commented_out_command_in_a_shell_fence_stays_a_comment(lint):
    fence = "```bash\n$ iptables -A FORWARD -j ACCEPT\n# iptables -I FORWARD -d 157.240.0.0/16 -j DROP\n```\n"
    report = lint({"notes.md": fence})
    assert verdict(report, "iptables", "facebook") == "unaffected"


def test_terraform_if_directive_lines_are_unknown(lint):
    tf = (
        'variable "strict" {\n  default = false\n}\n'
        'resource "local_file" "p" {\n  filename = "/etc/squid/squid.conf"\n  content = <<EOF\n'
        "acl fb dstdomain .facebook.com\n%{ if var.strict }\nhttp_access deny fb\n%{ endif }\n"
        "http_access allow all\nEOF\n}\n"
    )
    report = lint({"main.tf": tf})
    assert verdict(report, "squid", "facebook") == "unknown"
    assert ("main.tf", 9) in where(report, "TE907")


def test_nix_mkif_makes_the_config_unknown_not_a_block(lint):
    nix = (
        "{ config, lib, ... }:\n{\n  services.squid = lib.mkIf config.office.strict {\n    enable = true;\n"
        "    extraConfig = ''\n      acl fb dstdomain .facebook.com\n      http_access deny fb\n    '';\n  };\n}\n"
    )
    report = lint({"proxy.nix": nix})
    assert verdict(report, "squid", "facebook") == "unknown"
    assert ("proxy.nix", 7) in where(report, "TE907")


def test_nix_enable_with_priority_and_expression(lint):
    body = "  services.squid.extraConfig = ''\n    acl fb dstdomain .facebook.com\n    http_access deny fb\n  '';\n"
    forced = lint({"a.nix": "{\n  services.squid.enable = lib.mkForce true;\n" + body + "}\n"})
    assert verdict(forced, "squid", "facebook") == "blocked"
    computed = lint(
        {"b.nix": "{ config, ... }:\n{\n  services.squid.enable = config.office.proxy;\n" + body + "}\n"}
    )
    assert verdict(computed, "squid", "facebook") == "unknown"


def test_shell_write_inside_if_is_unknown(lint):
    script = (
        '#!/bin/sh\nif [ "$1" = strict ]; then\ncat > /etc/squid/squid.conf <<EOF\n'
        + SQUID_DENY_FB
        + "EOF\nfi\n"
    )
    report = lint({"s.sh": script})
    assert verdict(report, "squid", "facebook") == "unknown"
    assert ("s.sh", 5) in where(report, "TE907")


# ------------------------------------------------------------------ which container claims a file


def test_container_gate_answers_as_every_container_asked_in_order():
    """container_for imports a container only for a file name it could claim; the answer is the
    one asking every container in order gives (their own suffix lists included)."""
    from policy_lint import extract
    from policy_lint.extract import ansible, markdown

    heads = [
        "",
        "#!/bin/sh\necho hi\n",
        "- lineinfile:\n    path: /etc/hosts\n",
        "import x\nsend_command('a')\n",
    ]
    names = ["squid.conf", "notes.md", "a.txt.md", "x.rst", "main.tf", "cfg.nix", "site.yml", "t.j2", "s.py"]
    names += ["run.sh", "run", "RUN.BASH", "x.ZSH", "hosts", "a.markdown", "b.mdown", "c.jinja2", "d.yaml"]
    names += [f"f{s}" for s in (*markdown.SUFFIXES, *shell_container.SUFFIXES, *ansible.TEMPLATE_SUFFIXES)]
    for name in names:
        for head in heads:
            path = Path("/repo") / name
            expected = next((m for m in extract.CONTAINERS if m.claims(path, head)), None)
            assert extract.container_for(path, head) is expected, (name, head)

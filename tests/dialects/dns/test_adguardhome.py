"""AdGuard Home (AdGuardHome.yaml): one test per rule of AdGuard Home's documented filtering
(configuration wiki, DNS filtering syntax, `DNSFilter.CheckHost` order); see the module
docstring of policy_lint.dialects.dns.adguardhome."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import detected_dialect, verdicts

CONF = "AdGuardHome.yaml"
HEAD = """\
http:
  address: 0.0.0.0:3000
dns:
  bind_hosts:
    - 0.0.0.0
  port: 53
  upstream_dns:
    - https://dns10.quad9.net/dns-query
"""


def conf(body: str, schema: int = 29) -> dict[str, str]:
    return {CONF: HEAD + body + f"schema_version: {schema}\n"}


def test_a_blocked_service_blocks_the_domains_of_adguards_service_list(lint):
    report = lint(conf("filtering:\n  blocked_services:\n    ids:\n      - facebook\n      - youtube\n"))
    v = verdicts(report)
    assert v["facebook"] == "blocked" and v["twitter"] == "unaffected"
    f = next(f for f in report.findings if f.code == "TE101")
    assert f.span.line == 12 and "blocked service facebook" in f.message


def test_the_old_list_form_under_dns(lint):
    body = "  protection_enabled: true\n  blocked_services:\n    - twitter\n    - linkedin\n"
    v = verdicts(lint(conf(body, schema=20)))
    assert v["twitter"] == "blocked" and v["linkedin"] == "blocked" and v["facebook"] == "unaffected"


def test_a_pause_window_makes_the_block_partial(lint):
    body = """\
filtering:
  blocked_services:
    schedule:
      time_zone: Europe/Berlin
      sat:
        start: 10h
        end: 12h30m
    ids: [facebook]
"""
    assert verdicts(lint(conf(body)))["facebook"] == "blocked-partial"


def test_a_schedule_paused_all_week_blocks_nothing(lint):
    days = "".join(
        f"      {d}:\n        start: 0s\n        end: 24h\n"
        for d in ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]
    )
    body = (
        "filtering:\n  blocked_services:\n    schedule:\n      time_zone: Local\n"
        + days
        + "    ids: [facebook]\n"
    )
    assert verdicts(lint(conf(body)))["facebook"] == "unaffected"


def test_protection_disabled_makes_everything_inert(lint):
    body = "filtering:\n  protection_enabled: false\n  blocked_services:\n    ids: [facebook]\nuser_rules:\n  - '||twitter.com^'\n"
    assert set(verdicts(lint(conf(body))).values()) == {"unaffected"}


def test_filtering_disabled_leaves_blocked_services_on(lint):
    body = """\
filtering:
  filtering_enabled: false
  blocked_services:
    ids: [facebook]
user_rules:
  - '||linkedin.com^'
"""
    v = verdicts(lint(conf(body)))
    assert v["facebook"] == "blocked" and v["linkedin"] == "unaffected"


def test_user_rules_block(lint):
    body = "user_rules:\n  - '||twitter.com^'\n  - '||x.com^'\n"
    report = lint(conf(body))
    assert verdicts(report)["twitter"] == "blocked"
    assert {f.span.line for f in report.findings if f.code == "TE101"} == {10, 11}


def test_an_exception_ends_the_check_before_blocked_services(lint):
    body = "filtering:\n  blocked_services:\n    ids: [facebook]\nuser_rules:\n  - '@@||facebook.com^'\n"
    assert verdicts(lint(conf(body)))["facebook"] in ("allowed", "unaffected", "degraded")
    assert verdicts(lint(conf(body)))["facebook"] != "blocked"


def test_important_wins_over_an_exception(lint):
    body = "user_rules:\n  - '||linkedin.com^$important'\n  - '@@||linkedin.com^'\n"
    assert verdicts(lint(conf(body)))["linkedin"] == "blocked"


def test_badfilter_cancels_a_rule(lint):
    body = "user_rules:\n  - '||linkedin.com^'\n  - '||linkedin.com^$badfilter'\n"
    assert verdicts(lint(conf(body)))["linkedin"] == "unaffected"


CLIENTS = """\
clients:
  persistent:
    - name: kid
      ids: [192.168.1.20]
      tags: [user_child]
"""


def test_client_modifier_blocks_only_for_the_named_client(lint):
    report = lint(conf("user_rules:\n  - '||linkedin.com^$client=kid'\n" + CLIENTS))
    assert verdicts(report)["linkedin"] == "blocked-partial"
    f = next(f for f in report.findings if f.code == "TE102")
    assert "client kid" in f.message


def test_client_modifier_by_address(lint):
    report = lint(conf("user_rules:\n  - '||linkedin.com^$client=192.168.1.0/24'\n" + CLIENTS))
    assert verdicts(report)["linkedin"] == "blocked-partial"


def test_negated_client_modifier(lint):
    report = lint(conf("user_rules:\n  - '||linkedin.com^$client=~kid'\n" + CLIENTS))
    assert verdicts(report)["linkedin"] == "blocked-partial"


def test_ctag_modifier(lint):
    report = lint(conf("user_rules:\n  - '||linkedin.com^$ctag=user_child'\n" + CLIENTS))
    assert verdicts(report)["linkedin"] == "blocked-partial"


def test_a_client_value_no_persistent_client_has_is_an_audience(lint):
    report = lint(conf("user_rules:\n  - '||linkedin.com^$client=10.0.0.7'\n"))
    assert verdicts(report)["linkedin"] == "blocked-partial"


def test_per_client_blocked_services(lint):
    body = """\
clients:
  persistent:
    - name: kid
      ids: [192.168.1.20]
      use_global_blocked_services: false
      blocked_services:
        schedule:
          time_zone: Local
        ids: [facebook]
"""
    assert verdicts(lint(conf(body)))["facebook"] == "blocked-partial"


def test_per_client_filtering_disabled(lint):
    body = """\
user_rules:
  - '||linkedin.com^'
clients:
  persistent:
    - name: guest
      ids: [192.168.1.30]
      use_global_settings: false
      filtering_enabled: false
"""
    assert verdicts(lint(conf(body)))["linkedin"] == "blocked-partial"


def test_dnsrewrite_to_a_sinkhole_or_nxdomain(lint):
    body = "user_rules:\n  - '||linkedin.com^$dnsrewrite=0.0.0.0'\n  - '||ning.com^$dnsrewrite=NXDOMAIN'\n"
    v = verdicts(lint(conf(body)))
    assert v["linkedin"] == "blocked" and v["ning"] == "blocked"


def test_denyallow_is_not_modelled(lint):
    report = lint(conf("user_rules:\n  - '||linkedin.com^$denyallow=example.org'\n"))
    assert verdicts(report)["linkedin"] == "unknown"
    assert any(f.code == "TE908" and f.span.line == 10 for f in report.findings)


def test_rules_with_non_dns_modifiers_are_ignored(lint):
    report = lint(conf("user_rules:\n  - '||linkedin.com^$third-party'\n"))
    assert verdicts(report)["linkedin"] == "unaffected"
    assert any(f.code == "TE905" and f.span.line == 10 for f in report.findings)


def test_a_remote_list_not_in_the_repository_is_unknown(lint):
    body = "filters:\n  - enabled: true\n    url: https://example.org/lists/blocklist.txt\n    name: My list\n    id: 7\n"
    report = lint(conf(body))
    assert verdicts(report)["linkedin"] == "unknown"
    assert any(f.code == "TE903" and f.span.line == 11 for f in report.findings)


def test_a_remote_list_read_from_adguard_homes_copy(lint):
    body = "filters:\n  - enabled: true\n    url: https://example.org/lists/blocklist.txt\n    name: My list\n    id: 7\n"
    files = conf(body)
    files["data/filters/7.txt"] = "||linkedin.com^\n"
    v = verdicts(lint(files))
    assert v["linkedin"] == "blocked" and v["facebook"] == "unaffected"


def test_a_local_list_and_a_disabled_one(lint):
    body = """\
filters:
  - enabled: true
    url: /opt/AdGuardHome/social.txt
    name: social
    id: 1
  - enabled: false
    url: https://example.org/other.txt
    name: other
    id: 2
"""
    files = conf(body)
    files["opt/AdGuardHome/social.txt"] = "||twitter.com^\n||x.com^\n"
    v = verdicts(lint(files))
    assert v["twitter"] == "blocked" and v["linkedin"] == "unaffected"


def test_an_allowlist_lets_a_blocked_service_through(lint):
    body = """\
filtering:
  blocked_services:
    ids: [linkedin]
whitelist_filters:
  - enabled: true
    url: /opt/allow.txt
    name: allow
    id: 3
"""
    files = conf(body)
    files["opt/allow.txt"] = "||linkedin.com^\n||licdn.com^\n||lnkd.in^\n"
    assert verdicts(lint(files))["linkedin"] != "blocked"


def test_a_missing_allowlist_leaves_blocks_unknown(lint):
    body = """\
filtering:
  blocked_services:
    ids: [linkedin]
whitelist_filters:
  - enabled: true
    url: https://example.org/allow.txt
    name: allow
    id: 3
"""
    assert verdicts(lint(conf(body)))["linkedin"] == "unknown"


def test_legacy_rewrites_answer_with_an_address(lint):
    body = """\
filtering:
  rewrites:
    - domain: linkedin.com
      answer: 0.0.0.0
    - domain: '*.linkedin.com'
      answer: 0.0.0.0
"""
    assert verdicts(lint(conf(body)))["linkedin"] == "blocked"


def test_an_exact_rewrite_leaves_subdomains(lint):
    body = "filtering:\n  rewrites:\n    - domain: linkedin.com\n      answer: 127.0.0.1\n"
    assert verdicts(lint(conf(body)))["linkedin"] == "blocked-partial"


def test_routing_to_adguard_homes_own_address_loops(lint):
    files = {CONF: HEAD + "    - '[/linkedin.com/licdn.com/lnkd.in/]127.0.0.1'\nschema_version: 29\n"}
    assert verdicts(lint(files))["linkedin"] == "blocked"


def test_routing_to_another_local_resolver_is_unknown(lint):
    files = {CONF: HEAD + "    - '[/linkedin.com/]192.168.1.1:5353'\nschema_version: 29\n"}
    assert verdicts(lint(files))["linkedin"] == "unknown"


def test_routing_to_an_ordinary_resolver_or_default_is_no_block(lint):
    files = {CONF: HEAD + "    - '[/linkedin.com/]8.8.8.8'\n    - '[/facebook.com/]#'\nschema_version: 29\n"}
    v = verdicts(lint(files))
    assert v["linkedin"] == "unaffected" and v["facebook"] == "unaffected"


def test_access_blocked_hosts_drop_the_query(lint):
    files = {CONF: HEAD + "  blocked_hosts:\n    - '||linkedin.com^'\nschema_version: 29\n"}
    assert verdicts(lint(files))["linkedin"] == "blocked"


def test_safe_search_and_parental_control_are_no_block(lint):
    body = "filtering:\n  parental_enabled: true\n  safe_search:\n    enabled: true\n"
    assert set(verdicts(lint(conf(body))).values()) == {"unaffected"}


def test_custom_ip_blocking_mode(lint):
    body = "filtering:\n  blocking_mode: custom_ip\n  blocking_ipv4: 192.168.1.5\n  blocked_services:\n    ids: [twitter]\n"
    report = lint(conf(body))
    assert verdicts(report)["twitter"] == "blocked"
    assert any("192.168.1.5" in f.message for f in report.findings if f.code == "TE101")


def test_a_service_id_of_another_service_blocks_none(lint):
    assert set(verdicts(lint(conf("filtering:\n  blocked_services:\n    ids: [netflix]\n"))).values()) == {
        "unaffected"
    }


def test_detection():
    head = HEAD + "filtering:\n  protection_enabled: true\nschema_version: 27\n"
    assert detected_dialect(Path("AdGuardHome.yaml"), head) == "adguardhome"
    assert detected_dialect(Path("config.yaml"), head) == "adguardhome"
    assert detected_dialect(Path("config.yaml"), "dns:\n  foo: 1\n") != "adguardhome"


def test_invalid_yaml_is_one_error(lint):
    report = lint({CONF: "dns:\n  upstream_dns: [\n"}, dialect="adguardhome")
    assert not report.files and len(report.errors) == 1 and "YAML" in report.errors[0]


def test_an_alias_bomb_is_an_error_not_a_hang(lint):
    bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
    for i in range(1, 9):
        bomb += f"{chr(97 + i)}: &{chr(97 + i)} [{', '.join('*' + chr(96 + i) for _ in range(10))}]\n"
    report = lint({CONF: bomb + "dns: {}\nschema_version: 29\n"}, dialect="adguardhome")
    assert not report.files and report.errors


def test_other_service_ids_are_assumed_not_to_block_and_said_so(lint):
    report = lint(conf("filtering:\n  blocked_services:\n    ids: [netflix, youtube]\n"))
    note = next(f for f in report.findings if f.code == "TE903")
    assert "netflix" in note.message and note.span.line == 11


def test_an_unlisted_id_naming_a_service_is_unknown(lint):
    report = lint(conf("filtering:\n  blocked_services:\n    ids: [linkedin_learning]\n"))
    assert verdicts(report)["linkedin"] == "unknown"
    assert any(f.code == "TE908" and f.span.line == 11 for f in report.findings)


def test_routing_to_another_resolver_is_named(lint):
    files = {CONF: HEAD + "    - '[/linkedin.com/]10.0.0.53'\nschema_version: 29\n"}
    report = lint(files)
    assert any(f.code == "TE907" and f.span.line == 9 for f in report.findings)


def test_dnstype_naming_a_and_aaaa_matches_a_browsers_queries(lint):
    v = verdicts(lint(conf("user_rules:\n  - '||linkedin.com^$dnstype=A|AAAA'\n")))
    assert v["linkedin"] == "blocked"


def test_dnstype_naming_one_type_is_not_modelled(lint):
    report = lint(conf("user_rules:\n  - '||linkedin.com^$dnstype=AAAA'\n"))
    assert verdicts(report)["linkedin"] == "unknown"
    assert any(f.code == "TE908" for f in report.findings)


def test_client_names_may_be_quoted(lint):
    body = "user_rules:\n  - \"||linkedin.com^$client='Kid Phone'\"\nclients:\n  persistent:\n    - name: Kid Phone\n      ids: [192.168.1.21]\n"
    report = lint(conf(body))
    assert verdicts(report)["linkedin"] == "blocked-partial"
    assert any("Kid Phone" in f.message for f in report.findings if f.code == "TE102")


def test_binary_input_is_one_error(lint):
    report = lint({CONF: "\x00\x01\x02\x03binary"}, dialect="adguardhome")
    assert not report.files and len(report.errors) == 1


def test_a_yaml_file_that_is_no_adguard_home_config_is_an_input_error(lint):
    report = lint({"other.yaml": "name: something\nitems: [1, 2]\n"}, dialect="adguardhome")
    assert report.errors and "understood none of the" in report.errors[0]

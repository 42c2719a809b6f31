"""nftables: base chains per hook in priority order, policies, jump/goto/return, named and
anonymous sets, maps, ct state, interfaces, QUIC, defines, includes, `add rule` scripts and
`nft -j` JSON, with the catalog's address coverage."""

from __future__ import annotations

import json
import time
from pathlib import Path

from policy_lint.catalog import load_catalog
from policy_lint.dialects import detect
from policy_lint.dialects.firewalls import nftables
from policy_lint.dialects.semantics.base import ParseContext
from policy_lint.inputs import Resolver
from tests.conftest import verdicts

FB_CATALOG = load_catalog()
FB = FB_CATALOG.services["facebook"]
FB_ALL = ", ".join(str(n) for n in FB.networks)
FB_V4 = ", ".join(str(n) for n in FB.networks if n.version == 4)
FB_V6 = ", ".join(str(n) for n in FB.networks if n.version == 6)
FB_ONE = next(str(n) for n in FB.networks if n.version == 4)


def codes(report) -> list[str]:
    return [f.code for f in report.findings]


def fwd(body: str, policy: str = "accept", sets: str = "") -> str:
    return f"""
table inet filter {{
    set fb {{ type ipv4_addr; flags interval; elements = {{ {FB_V4} }} }}
    set fb6 {{ type ipv6_addr; flags interval; elements = {{ {FB_V6} }} }}
{sets}
    chain forward {{
        type filter hook forward priority 0; policy {policy};
{body}
    }}
}}
"""


# ---------------------------------------------------------------- sets and coverage


def test_named_sets_dropping_every_prefix_block_and_trace_the_element(lint):
    report = lint({"nftables.conf": fwd("        ip daddr @fb drop\n        ip6 daddr @fb6 drop\n")})
    assert verdicts(report)["facebook"] == "blocked"
    assert verdicts(report)["twitter"] == "unaffected"
    f = next(f for f in report.findings if f.code == "TE101")
    assert "ip daddr @fb drop" in f.span.text
    assert any(s.line == 3 for s in f.trace)  # the set's element


def test_one_prefix_in_an_anonymous_set_is_partial(lint):
    report = lint({"nftables.conf": fwd(f"        ip daddr {{ {FB_ONE}, 192.0.2.1 }} drop\n")})
    assert verdicts(report)["facebook"] == "blocked-partial"


def test_ipv4_only_drop_blocks_and_says_ipv4_only(lint):
    report = lint({"nftables.conf": fwd("        ip daddr @fb drop\n")})
    assert verdicts(report)["facebook"] == "blocked"
    assert "IPv4 only" in next(f for f in report.findings if f.code == "TE101").message


def test_ip6_daddr_alone_is_partial(lint):
    report = lint({"nftables.conf": fwd("        ip6 daddr @fb6 drop\n")})
    assert verdicts(report)["facebook"] == "blocked-partial"


def test_ip_family_table_sees_ipv4_only(lint):
    report = lint(
        {
            "nftables.conf": f"""
table ip6 f6 {{
    chain forward {{ type filter hook forward priority 0; policy accept; ip6 daddr {{ {FB_V6} }} drop; }}
}}
"""
        }
    )
    assert verdicts(report)["facebook"] == "blocked-partial"


def test_hostname_resolves_through_the_catalog(lint):
    report = lint({"nftables.conf": fwd("        ip daddr www.facebook.com drop\n")})
    # nft resolves the name once, at load time, to IPv4 addresses (`ip daddr`): the catalog's
    # address of www.facebook.com (shared by facebook.com and m.facebook.com) is dropped over
    # IPv4; IPv6, and Facebook's other addresses, stay open.
    assert verdicts(report)["facebook"] == "blocked-partial"
    assert verdicts(report)["linkedin"] == "unaffected"


def test_reject_says_reject(lint):
    report = lint(
        {"nftables.conf": fwd("        ip daddr @fb reject with tcp reset\n        ip6 daddr @fb6 reject\n")}
    )
    assert verdicts(report)["facebook"] == "blocked"
    assert "reject" in next(f for f in report.findings if f.code == "TE101").message


def test_set_filled_by_add_element_command(lint):
    report = lint(
        {
            "rules.nft": f"""
add table inet f
add set inet f social {{ type ipv4_addr; flags interval; }}
add chain inet f fw {{ type filter hook forward priority 0; policy accept; }}
add rule inet f fw ip daddr @social drop
add element inet f social {{ {FB_V4} }}
"""
        }
    )
    assert verdicts(report)["facebook"] == "blocked"


def test_empty_set_matches_nothing(lint):
    report = lint(
        {
            "nftables.conf": fwd(
                "        ip daddr @trackers drop\n",
                sets="    set trackers { type ipv4_addr; flags interval; }\n",
            )
        }
    )
    assert verdicts(report)["facebook"] == "unaffected"


def test_dynamic_set_filled_by_rules_is_unknown(lint):
    report = lint(
        {
            "nftables.conf": fwd(
                "        ip daddr @seen drop\n        tcp dport 443 add @seen { ip daddr }\n",
                sets="    set seen { type ipv4_addr; flags dynamic; }\n",
            )
        }
    )
    assert verdicts(report)["facebook"] == "unknown"


# ---------------------------------------------------------------- ports, protocols, state


def test_udp_443_only_is_quic_not_a_block(lint):
    report = lint(
        {
            "nftables.conf": fwd(
                "        ip daddr @fb udp dport 443 drop\n        ip6 daddr @fb6 udp dport 443 drop\n"
            )
        }
    )
    assert verdicts(report)["facebook"] == "unaffected"
    # ... and the linter says why it is no block, once per rule
    assert codes(report).count("TE209") == 2


def test_tcp_443_and_80_drop_blocks(lint):
    report = lint(
        {
            "nftables.conf": fwd(
                "        meta l4proto tcp ip daddr @fb tcp dport { 80, https } drop\n"
                "        ip6 daddr @fb6 th dport { 80-443 } drop\n"
            )
        }
    )
    assert verdicts(report)["facebook"] == "blocked"


def test_other_port_does_not_match(lint):
    report = lint(
        {
            "nftables.conf": fwd(
                "        ip daddr @fb tcp dport 8443 drop\n        ip6 daddr @fb6 tcp dport != 443 drop\n"
            )
        }
    )
    # `ip6 ... tcp dport != 443 drop` drops Facebook's plain-HTTP (port 80) probes over IPv6: over
    # one protocol and port only, so partial.
    assert verdicts(report)["facebook"] == "blocked-partial"
    report = lint({"nftables.conf": fwd("        ip daddr @fb tcp dport 8443 drop\n")})
    assert verdicts(report)["facebook"] == "unaffected"


def test_established_accept_first_still_lets_the_syn_hit_the_drop(lint):
    report = lint(
        {
            "nftables.conf": fwd(
                "        ct state established,related accept\n        ip daddr @fb drop\n"
                "        ip6 daddr @fb6 drop\n"
            )
        }
    )
    assert verdicts(report)["facebook"] == "blocked"


def test_new_only_accept_before_drop_lets_it_through(lint):
    report = lint({"nftables.conf": fwd("        ct state new accept\n        ip daddr @fb drop\n")})
    # The SYN is accepted; the established packets then reach the drop.
    assert verdicts(report)["facebook"] == "blocked"
    report = lint(
        {"nftables.conf": fwd("        ct state { new, established } accept\n        ip daddr @fb drop\n")}
    )
    assert verdicts(report)["facebook"] == "unaffected"


def test_limit_rate_over_is_flood_control_not_a_block(lint):
    report = lint(
        {"nftables.conf": fwd("        ct state new limit rate over 10/second burst 5 packets drop\n")}
    )
    assert verdicts(report)["facebook"] == "unaffected"


def test_icmp_rules_do_not_touch_tcp(lint):
    report = lint(
        {"nftables.conf": fwd("        ip protocol icmp drop\n        icmp type echo-request drop\n")}
    )
    assert verdicts(report)["facebook"] == "unaffected"


def test_unevaluable_match_makes_the_drop_unknown(lint):
    report = lint(
        {
            "nftables.conf": fwd(
                "        meta mark 0x1 ip daddr @fb drop\n        ip6 daddr @fb6 meta mark 1 drop\n"
            )
        }
    )
    assert verdicts(report)["facebook"] == "unknown"


# ---------------------------------------------------------------- chains, hooks, policies


def test_comment_naming_the_service_is_not_a_match(lint):
    report = lint(
        {
            "nftables.conf": fwd(
                '        tcp dport 8853 drop comment "facebook.com twitter.com"\n'
                '        # udp dport 443 drop comment "Facebook"\n'
            )
        }
    )
    assert set(verdicts(report).values()) == {"unaffected"}
    assert "TE209" not in codes(report)  # the commented-out QUIC drop is no rule


def test_accept_ends_only_its_own_base_chain(lint):
    report = lint(
        {
            "nftables.conf": f"""
table inet a {{
    chain fw {{ type filter hook forward priority -10; policy accept; accept; }}
}}
table inet b {{
    chain fw {{ type filter hook forward priority 10; policy accept; ip daddr {{ {FB_V4} }} drop; ip6 daddr {{ {FB_V6} }} drop; }}
}}
"""
        }
    )
    assert verdicts(report)["facebook"] == "blocked"


def test_drop_in_a_lower_priority_chain_is_final(lint):
    report = lint(
        {
            "nftables.conf": f"""
table inet late {{
    chain fw {{ type filter hook forward priority 100; policy accept; accept; }}
}}
table inet early {{
    chain fw {{ type filter hook forward priority filter - 5; policy accept; ip daddr {{ {FB_V4} }} drop; ip6 daddr {{ {FB_V6} }} drop; }}
}}
"""
        }
    )
    f = next(f for f in report.findings if f.code == "TE101")
    assert f.span.line == 6


def test_jump_returns_and_goto_does_not(lint):
    sub = "    chain empty { counter; }\n"
    jump = fwd("        jump empty\n        ip daddr @fb drop\n        ip6 daddr @fb6 drop\n", sets=sub)
    assert verdicts(lint({"nftables.conf": jump}))["facebook"] == "blocked"
    goto = fwd("        goto empty\n        ip daddr @fb drop\n        ip6 daddr @fb6 drop\n", sets=sub)
    assert verdicts(lint({"nftables.conf": goto}))["facebook"] == "unaffected"


def test_return_in_a_user_chain_comes_back(lint):
    sub = "    chain social { ip saddr 10.9.9.9 return\n ip daddr @fb drop\n ip6 daddr @fb6 drop; }\n"
    report = lint({"nftables.conf": fwd("        ip saddr 10.0.0.0/8 jump social\n", sets=sub)})
    assert verdicts(report)["facebook"] == "blocked-partial"  # 10.9.9.9 and other networks get through


def test_return_in_a_base_chain_applies_its_policy(lint):
    report = lint({"nftables.conf": fwd("        return\n        ip daddr @fb drop\n")})
    assert verdicts(report)["facebook"] == "unaffected"
    report = lint(
        {
            "nftables.conf": fwd(
                "        ip daddr @fb return\n        ip6 daddr @fb6 return\n        accept\n", policy="drop"
            )
        }
    )
    assert verdicts(report)["facebook"] == "blocked"  # returned to the policy: dropped


def test_policy_drop_with_an_allow_list_denies_all_web(lint):
    report = lint({"nftables.conf": fwd("        ip daddr 192.0.2.0/24 accept\n", policy="drop")})
    assert verdicts(report)["facebook"] == "blocked"


def test_input_hook_drop_blocks_only_this_host_and_established_first_saves_it(lint):
    body = f"""
table inet filter {{
    chain input {{
        type filter hook input priority 0; policy accept;
        {{est}}
        ip saddr {{{{ {FB_V4} }}}} drop
        ip6 saddr {{{{ {FB_V6} }}}} drop
    }}
}}
"""
    report = lint({"nftables.conf": body.replace("{est}", "")})
    assert verdicts(report)["facebook"] == "blocked"
    report = lint({"nftables.conf": body.replace("{est}", "ct state established,related accept")})
    assert verdicts(report)["facebook"] == "unaffected"


def test_output_hook_blocks_the_host(lint):
    report = lint(
        {
            "nftables.conf": f"""
table inet filter {{
    chain output {{ type filter hook output priority 0; policy accept; ip daddr {{ {FB_V4} }} drop; ip6 daddr {{ {FB_V6} }} drop; }}
}}
"""
        }
    )
    assert verdicts(report)["facebook"] == "blocked"


def test_nat_chains_never_filter(lint):
    report = lint(
        {
            "nftables.conf": f"""
table ip nat {{
    chain post {{ type nat hook postrouting priority 100; policy accept; ip daddr {{ {FB_V4} }} masquerade; }}
}}
"""
        }
    )
    assert verdicts(report)["facebook"] == "unaffected"


def test_accept_before_the_drop_makes_it_ineffective(lint):
    rules = (
        '        iifname "lan0" oifname "wan0" accept\n        ip daddr @fb drop\n'
        "        ip6 daddr @fb6 drop\n"
    )
    report = lint(
        {"nftables.conf": fwd("        ct state established,related accept\n" + rules, policy="drop")}
    )
    assert verdicts(report)["facebook"] == "unaffected"
    # Without accepting the replies, the policy drops every server's SYN-ACK: no web at all.
    report = lint({"nftables.conf": fwd(rules, policy="drop")})
    assert verdicts(report)["facebook"] == "blocked"
    assert "TE105" in codes(report)


def test_unused_set_naming_the_service_is_reported(lint):
    report = lint({"nftables.conf": fwd("        tcp dport 23 drop\n")})
    assert "TE202" in codes(report)
    assert verdicts(report)["facebook"] == "unaffected"


def test_interface_names_are_audiences(lint):
    report = lint(
        {
            "nftables.conf": fwd(
                '        iifname "guest0" ip daddr @fb drop\n        iifname "guest0" ip6 daddr @fb6 drop\n'
            )
        }
    )
    assert verdicts(report)["facebook"] == "blocked-partial"
    f = next(f for f in report.findings if f.code == "TE102")
    assert f.audiences == ("iifname guest0",)
    assert "blocked for iifname guest0" in f.message


def test_source_sets_are_audiences(lint):
    report = lint(
        {
            "nftables.conf": fwd(
                "        ip saddr @kids ip daddr @fb drop\n",
                sets="    set kids { type ipv4_addr; flags interval; elements = { 192.168.5.10-192.168.5.20 } }\n",
            )
        }
    )
    assert verdicts(report)["facebook"] == "blocked-partial"


def test_verdict_map(lint):
    report = lint(
        {"nftables.conf": fwd(f"        ip daddr vmap {{ {FB_ONE} : drop, 192.0.2.1 : accept }}\n")}
    )
    assert verdicts(report)["facebook"] == "blocked-partial"
    report = lint(
        {
            "nftables.conf": fwd(
                "        ct state vmap { established : accept, related : accept, new : jump social }\n",
                sets="    chain social { ip daddr @fb drop; ip6 daddr @fb6 drop; }\n",
            )
        }
    )
    assert verdicts(report)["facebook"] == "blocked"


def test_dormant_table_does_nothing(lint):
    report = lint(
        {
            "nftables.conf": fwd("        ip daddr @fb drop\n        ip6 daddr @fb6 drop\n").replace(
                "table inet filter {", "table inet filter {\n    flags dormant"
            )
        }
    )
    assert verdicts(report)["facebook"] == "unaffected"


# ---------------------------------------------------------------- files, defines, commands


def test_defines_expand_in_sets_and_rules(lint):
    report = lint(
        {
            "nftables.conf": f"define SOCIAL = {{ {FB_V4} }}\ndefine SOCIAL6 = {{ {FB_V6} }}\ndefine LAN = eth1\n"
            + fwd("        iifname $LAN ip daddr $SOCIAL drop\n        ip6 daddr $SOCIAL6 drop\n")
        }
    )
    # IPv4 is dropped for iifname eth1 only ($LAN expanded), IPv6 for everyone: partial.
    assert verdicts(report)["facebook"] == "blocked-partial"
    assert "blocked for iifname eth1" in next(f.message for f in report.findings if f.span.line == 11)
    assert "TE901" not in codes(report)


def test_undefined_variable_is_an_input_problem(lint):
    report = lint({"nftables.conf": fwd("        ip daddr $NOPE drop\n")})
    assert "TE901" in codes(report)


def test_flush_ruleset_discards_what_came_before(lint):
    report = lint(
        {"nftables.conf": fwd("        ip daddr @fb drop\n        ip6 daddr @fb6 drop\n") + "flush ruleset\n"}
    )
    assert verdicts(report)["facebook"] == "unaffected"


def test_include_relative_and_glob(lint):
    report = lint(
        {
            "etc/nftables.conf": 'include "nftables.d/*.nft"\ninclude "sets.nft"\n',
            "etc/nftables.d/10-filter.nft": f"table inet f {{\n chain fw {{ type filter hook forward priority 0; "
            f"policy accept; ip daddr {{ {FB_V4} }} drop; ip6 daddr {{ {FB_V6} }} drop; }}\n}}\n",
            "etc/sets.nft": "define X = 1.2.3.4\n",
        }
    )
    assert verdicts(report)["facebook"] == "blocked"
    assert any(s.path.endswith("10-filter.nft") for f in report.findings for s in [f.span])


def test_missing_include_is_unknown_not_clean(lint):
    report = lint({"nftables.conf": 'include "/etc/nftables/absent.nft"\n' + fwd("        accept\n")})
    assert "TE903" in codes(report)
    assert verdicts(report)["facebook"] == "unknown"


def test_include_loop_is_reported(lint):
    report = lint({"a.nft": 'include "b.nft"\n', "b.nft": 'include "a.nft"\n'})
    assert "TE904" in codes(report)


def test_add_rule_script_with_insert(lint):
    report = lint(
        {
            "fw.nft": f"""#!/usr/sbin/nft -f
add table ip filter
add chain ip filter forward {{ type filter hook forward priority 0 ; policy accept ; }}
add rule ip filter forward ip daddr {{ {FB_V4} }} drop
insert rule ip filter forward accept
"""
        }
    )
    assert verdicts(report)["facebook"] == "unaffected"  # the inserted accept comes first


# ---------------------------------------------------------------- JSON


def _json(rules: list[list[dict]], policy: str = "accept") -> str:
    out: list[dict] = [
        {"metainfo": {"version": "1.0.6", "json_schema_version": 1}},
        {"table": {"family": "inet", "name": "f", "handle": 1}},
        {
            "set": {
                "family": "inet",
                "name": "fb",
                "table": "f",
                "type": "ipv4_addr",
                "flags": ["interval"],
                "elem": [
                    {"prefix": {"addr": str(n.network_address), "len": n.prefixlen}}
                    for n in FB.networks
                    if n.version == 4
                ],
            }
        },
        {
            "chain": {
                "family": "inet",
                "table": "f",
                "name": "fw",
                "type": "filter",
                "hook": "forward",
                "prio": 0,
                "policy": policy,
            }
        },
    ]
    for expr in rules:
        out.append({"rule": {"family": "inet", "table": "f", "chain": "fw", "expr": expr}})
    return json.dumps({"nftables": out}, indent=1)


def test_json_ruleset(lint):
    daddr = {"payload": {"protocol": "ip", "field": "daddr"}}
    text = _json(
        [
            [
                {
                    "match": {
                        "op": "in",
                        "left": {"ct": {"key": "state"}},
                        "right": ["established", "related"],
                    }
                },
                {"accept": None},
            ],
            [{"match": {"op": "==", "left": daddr, "right": "@fb"}}, {"counter": None}, {"drop": None}],
        ]
    )
    report = lint({"ruleset.nft.json": text})
    assert verdicts(report)["facebook"] == "blocked"
    f = next(f for f in report.findings if f.code == "TE101")
    assert "ip daddr @fb" in f.span.text and f.span.line > 1
    quic = _json(
        [
            [
                {"match": {"op": "==", "left": daddr, "right": "@fb"}},
                {
                    "match": {
                        "op": "==",
                        "left": {"payload": {"protocol": "udp", "field": "dport"}},
                        "right": 443,
                    }
                },
                {"drop": None},
            ]
        ]
    )
    assert verdicts(lint({"ruleset.nft.json": quic}))["facebook"] == "unaffected"


def test_broken_json_is_an_input_problem(lint):
    report = lint({"ruleset.nft.json": '{"nftables": [{"table": {"family": "inet", "name": "f"}},\n'})
    assert "TE901" in codes(report)


# ---------------------------------------------------------------- bad input, detection


def test_unterminated_brace_and_quote_are_input_problems(lint):
    report = lint({"nftables.conf": "table inet f {\n chain fw { type filter hook forward priority 0;\n"})
    assert "TE901" in codes(report)
    report = lint({"nftables.conf": fwd('        ip daddr @fb drop comment "oops\n')})
    assert "TE901" in codes(report)


def test_chain_statement_needs_a_terminator_before_the_brace(lint):
    report = lint({"nftables.conf": fwd("        accept", sets="    chain c { counter }\n")})
    assert "TE901" in codes(report)


def test_unknown_statement_is_an_input_problem(lint):
    report = lint({"nftables.conf": fwd("        ip daddr @fb dorp\n")})
    assert "TE901" in codes(report)
    report = lint({"nftables.conf": fwd("        ip daddr @nosuchset drop\n")})
    assert "TE901" in codes(report)


def test_many_rules_finish_quickly(tmp_path):
    lines = [
        f"add rule inet f fw ip daddr 10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256} drop"
        for i in range(100_000)
    ]
    f = tmp_path / "big.nft"
    f.write_text(
        "add table inet f\nadd chain inet f fw { type filter hook forward priority 0; policy accept; }\n"
        + "\n".join(lines)
        + "\n"
    )
    from policy_lint.engine import Options, lint_paths
    from policy_lint.policy import strict_policy

    catalog = load_catalog()
    start = time.monotonic()
    report = lint_paths([f], catalog, strict_policy(catalog), Options(root=tmp_path))
    assert time.monotonic() - start < 60
    assert verdicts(report)["facebook"] == "unaffected"


def test_deep_braces_and_jump_fan_out_are_bounded(lint):
    deep = fwd("        ip daddr " + "{" * 5000 + "1.2.3.4" + "}" * 5000 + " drop\n")
    report = lint({"nftables.conf": deep})
    assert "TE901" in codes(report)
    chains = (
        "".join(f"    chain c{i} {{ " + f"jump c{i + 1}; " * 10 + "}\n" for i in range(20))
        + "    chain c20 { counter; }\n"
    )
    start = time.monotonic()
    report = lint({"nftables.conf": fwd("        jump c0\n", policy="drop", sets=chains)})
    assert time.monotonic() - start < 60
    assert verdicts(report)["facebook"] == "unknown"


def test_binary_input_is_refused_not_a_crash(tmp_path):
    from policy_lint.engine import Options, lint_paths
    from policy_lint.policy import strict_policy

    catalog = load_catalog()
    f = tmp_path / "nftables.conf"
    f.write_bytes(b"table inet f {\x00\x01\x02" * 100)
    report = lint_paths([f], catalog, strict_policy(catalog), Options(root=tmp_path, dialect="nftables"))
    assert report.errors and not report.files


def test_detection_claims_nft_files_and_not_others():
    nft = "table inet filter {\n chain input {\n  type filter hook input priority 0; policy drop;\n }\n}\n"
    assert detect(Path("nftables.conf"), nft) is nftables
    found = detect(Path("firewall.rules"), nft)
    assert found is not None and found.NAME == "nftables"
    assert detect(Path("x.nft.json"), '{"nftables": [{"metainfo": {}}]}') is nftables
    assert nftables.detect(Path("pf.conf"), "table <bad> persist\nblock quick from <bad>\n") == 0.0
    assert (
        nftables.detect(Path("rules.v4"), "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -j DROP\nCOMMIT\n") == 0.0
    )
    assert nftables.detect(Path("notes.txt"), "the table is ready\n") == 0.0
    assert nftables.detect(Path("README.md"), nft) == 0.0


def test_parse_directly_reports_problems_with_lines(tmp_path):
    f = tmp_path / "nftables.conf"
    f.write_text(
        "table inet f {\n  chain c {\n    type filter hook forward priority 0;\n    bogus thing\n  }\n}\n"
    )
    rs = nftables.parse(f, ParseContext(Resolver(tmp_path), load_catalog()))
    assert [(p.code, p.span.line) for p in rs.problems] == [("TE901", 4)]


# ---------------------------------------------------------------- three-valued first match (#13)
# nft(8): rules run in order; `accept` ends the base chain it is in (a later base chain on the
# same hook still sees the packet), `drop` is final, `jump` comes back. A match we do not
# evaluate (`meta mark`) may or may not hold: what the rule could decide is unknown.

FB_DROP = "        ip daddr @fb drop\n        ip6 daddr @fb6 drop\n"


def test_one_rule_with_an_unknown_matcher_decides_nothing(lint):
    report = lint({"nftables.conf": fwd("        meta mark 0x1 drop\n")})
    assert verdicts(report)["facebook"] == "unknown"
    f = next(f for f in report.findings if f.code == "TE908")
    assert f.span.line == 8 and "meta mark" in f.message


def test_accept_we_cannot_evaluate_before_a_drop_in_the_same_chain_is_unknown(lint):
    report = lint({"nftables.conf": fwd("        meta mark 0x1 accept\n" + FB_DROP)})
    assert verdicts(report)["facebook"] == "unknown"
    f = next(f for f in report.findings if f.code == "TE106" and f.service == "facebook")
    assert f.span.line == 8 and "before" in f.message


def test_accept_we_cannot_evaluate_that_cannot_match_the_probe_changes_nothing(lint):
    report = lint({"nftables.conf": fwd("        udp dport 53 meta mark 0x1 accept\n" + FB_DROP)})
    assert verdicts(report)["facebook"] == "blocked"
    assert "TE908" not in codes(report)


def test_accept_we_cannot_evaluate_in_an_earlier_base_chain_does_not_skip_a_later_one(lint):
    report = lint(
        {
            "nftables.conf": f"""
table inet a {{
    chain fw {{ type filter hook forward priority -10; policy accept; meta mark 0x1 accept; }}
}}
table inet b {{
    chain fw {{ type filter hook forward priority 10; policy accept; ip daddr {{ {FB_V4} }} drop; ip6 daddr {{ {FB_V6} }} drop; }}
}}
"""
        }
    )
    assert verdicts(report)["facebook"] == "blocked"


def test_accept_we_cannot_evaluate_before_a_policy_drop_is_unknown(lint):
    report = lint(
        {
            "nftables.conf": fwd(
                "        ct state established,related accept\n        meta mark 0x1 accept\n", policy="drop"
            )
        }
    )
    assert verdicts(report)["facebook"] == "unknown"


def test_jump_into_a_chain_with_an_accept_we_cannot_evaluate_makes_the_later_drop_unknown(lint):
    sub = "    chain maybe { meta mark 0x1 accept; }\n"
    report = lint({"nftables.conf": fwd("        jump maybe\n" + FB_DROP, sets=sub)})
    assert verdicts(report)["facebook"] == "unknown"


def test_goto_into_a_chain_with_a_drop_we_cannot_evaluate_is_unknown(lint):
    sub = "    chain maybe { meta mark 0x1 ip daddr @fb drop; meta mark 0x1 ip6 daddr @fb6 drop; }\n"
    report = lint({"nftables.conf": fwd("        goto maybe\n", sets=sub)})
    assert verdicts(report)["facebook"] == "unknown"


def test_drop_we_cannot_evaluate_before_a_certain_drop_is_blocked(lint):
    report = lint({"nftables.conf": fwd("        meta mark 0x1 ip daddr @fb drop\n" + FB_DROP)})
    assert verdicts(report)["facebook"] == "blocked"


def test_brackets_only_around_a_literal_ipv6_address(tmp_path):
    # nft's scanner reads `[ip6addr]` as one token (so a port can follow); `[$VAR]` is a syntax
    # error at the bracket ("unexpected '['", Debian's nft 1.0.6, as corpus case 41 line 350).
    def problems(stmt: str) -> list:
        f = tmp_path / "nat.nft"
        f.write_text(
            "define PI6 = fd00::1\ntable ip6 nat {\n  chain p {\n"
            "    type nat hook prerouting priority -100; policy accept;\n"
            f"    tcp dport 53 {stmt}\n  }}\n}}\n"
        )
        return [
            (p.code, p.span.line, p.span.col)
            for p in nftables.parse(f, ParseContext(Resolver(tmp_path), FB_CATALOG)).problems
        ]

    assert problems("dnat to [fd00::1]:53") == []
    assert problems("dnat ip6 to $PI6") == []
    assert problems("dnat to [$PI6]:53") == [("TE901", 5, 26)]
    assert problems("dnat to [192.0.2.1]:53") == [("TE901", 5, 26)]


# ---------------------------------------------------------------- who counts as users (#13)


def test_drop_in_a_prerouting_filter_chain_is_blocked_like_in_forward(lint):
    report = lint(
        {
            "nftables.conf": f"""
table inet f {{
    chain pre {{ type filter hook prerouting priority 0; policy accept; ip daddr {{ {FB_V4} }} drop; ip6 daddr {{ {FB_V6} }} drop; }}
}}
"""
        }
    )
    assert verdicts(report)["facebook"] == "blocked"


def test_a_routers_own_output_is_no_audience(lint):
    report = lint(
        {
            "nftables.conf": f"""
table inet f {{
    chain fw {{ type filter hook forward priority 0; policy accept; ip daddr 192.0.2.0/24 drop; }}
    chain out {{ type filter hook output priority 0; policy accept; ip daddr {{ {FB_V4} }} drop; ip6 daddr {{ {FB_V6} }} drop; }}
}}
"""
        }
    )
    assert verdicts(report)["facebook"] == "unaffected"


def test_loopback_sources_are_no_audience(lint):
    report = lint({"nftables.conf": fwd("        ip saddr 127.0.0.1 accept\n" + FB_DROP)})
    assert verdicts(report)["facebook"] == "blocked"


# ---------------------------------------------------------------- findings say who and where (#13)


def test_input_saddr_names_the_services_servers_not_an_audience(lint):
    report = lint(
        {
            "nftables.conf": "table inet f {\n  chain in { type filter hook input priority 0; policy accept; "
            "ip saddr 157.240.0.0/16 drop; }\n}\n"
        }
    )
    f = next(f for f in report.findings if f.code in ("TE101", "TE102") and f.service == "facebook")
    assert (
        "for this host (an input-hook rule stops the replies of the service's servers in 157.240.0.0/16)"
        in (f.message)
    )


def test_everyone_reaching_a_rule_names_whom_earlier_accepts_let_through(lint):
    report = lint({"nftables.conf": fwd("        ip saddr 10.0.0.0/8 accept\n" + FB_DROP)})
    f = next(f for f in report.findings if f.span.line == 9 and f.service == "facebook")
    assert "blocked for everyone but ip saddr 10.0.0.0/8 (line 8) by" in f.message


# ---------------------------------------------------------------- destination NAT (#13)
# nft(8): `dnat to ADDR[:PORT]` and `redirect [to :PORT]` (this host) in a `type nat hook
# prerouting|output` chain rewrite a connection's first packet; `tproxy to :PORT` hands it to a
# local socket. The filter chains then see the new destination.


def _nat(rules: str, family: str = "ip") -> str:
    return (
        f"table {family} nat {{\n    chain pre {{\n        type nat hook prerouting priority dstnat; "
        f"policy accept;\n{rules}    }}\n}}\n"
    )


def test_dnat_of_the_services_addresses_to_another_host_is_a_block(lint):
    report = lint(
        {
            "nftables.conf": _nat(
                f"        ip daddr {{ {FB_V4} }} dnat ip to 192.168.1.5\n"
                f"        ip6 daddr {{ {FB_V6} }} dnat ip6 to fd00::5\n",
                "inet",
            )
        }
    )
    assert verdicts(report)["facebook"] == "blocked"
    assert verdicts(report)["twitter"] == "unaffected"
    f = next(f for f in report.findings if f.code == "TE101")
    assert "dnat" in f.span.text and "(redirect)" in f.message


def test_redirect_to_a_proxy_port_is_unknown_with_te907(lint):
    report = lint({"nftables.conf": _nat("        tcp dport { 80, 443 } redirect to :3128\n", "inet")})
    assert verdicts(report)["facebook"] == "unknown"
    f = next(f for f in report.findings if f.code == "TE907")
    assert f.span.line == 4 and "transparent proxy at this host:3128" in f.message


def test_dnat_to_a_proxy_on_another_host_names_it(lint):
    report = lint({"nftables.conf": _nat("        tcp dport 80 dnat to 192.168.1.1:8118\n")})
    assert verdicts(report)["facebook"] == "unknown"
    f = next(f for f in report.findings if f.code == "TE907")
    assert "192.168.1.1:8118" in f.message and "Privoxy" in f.message


def test_tproxy_is_unknown(lint):
    report = lint(
        {
            "nftables.conf": "table inet m {\n  chain pre { type filter hook prerouting priority mangle; "
            "policy accept; tcp dport 443 tproxy to :3129 meta mark set 1 accept; }\n}\n"
        }
    )
    assert verdicts(report)["facebook"] == "unknown"
    assert "TE907" in codes(report)


def test_dnat_of_dns_changes_nothing(lint):
    report = lint({"nftables.conf": _nat("        udp dport 53 dnat to 192.168.1.1:53\n")})
    assert set(verdicts(report).values()) == {"unaffected"}


# ---------------------------------------------------------------- after destination NAT (#13)
# The netfilter packet flow with nft(8) hooks and priorities: filter chains of the prerouting
# hook with a lower priority than the nat chain (raw -300, mangle -150 < dstnat -100) see the
# original destination; after the rewrite the routing decision sends the connection to the
# forward hook (another host) or the input hook (this host: `redirect`, or a `dnat` to one of
# its addresses) with the new address and port. A drop there blocks it whatever the proxy does.


def _fb_dnat(to: str) -> str:
    return (
        "table ip nat {\n    chain pre {\n        type nat hook prerouting priority dstnat; policy accept;\n"
        f"        ip daddr {{ {FB_V4} }} {to}\n    }}\n}}\n"
    )


def _filter(hook: str, rules: str, priority: str = "0") -> str:
    return (
        f"table ip f_{hook}_{priority.strip('-')} {{\n    chain c {{\n        type filter hook {hook} "
        f"priority {priority}; policy accept;\n{rules}    }}\n}}\n"
    )


def test_prerouting_dnat_then_a_forward_drop_of_the_new_destination_is_blocked(lint):
    # As another host, the forward hook drops 192.168.1.5:3128; as this host, the input hook.
    text = (
        _fb_dnat("dnat to 192.168.1.5:3128")
        + _filter("forward", "        ip daddr 192.168.1.5 tcp dport 3128 drop\n")
        + _filter("input", "        tcp dport 3128 drop\n")
    )
    report = lint({"nftables.conf": text})
    assert verdicts(report)["twitter"] == "unaffected"
    f = next(f for f in report.findings if f.service == "facebook" and f.code in ("TE101", "TE102"))
    assert "ip daddr 192.168.1.5 tcp dport 3128 drop" in f.span.text


def test_dnat_to_an_address_the_ruleset_does_not_place_is_unknown_when_the_place_decides(lint):
    text = _fb_dnat("dnat to 192.168.1.5:3128") + _filter("forward", "        tcp dport 3128 drop\n")
    report = lint({"nftables.conf": text})
    assert verdicts(report)["facebook"] == "unknown"
    f = next(f for f in report.findings if f.code == "TE106" and f.service == "facebook")
    assert "whether 192.168.1.5 is one of this host's own addresses decides it" in f.message


def test_redirect_then_an_input_drop_of_the_proxy_port_is_blocked(lint):
    text = _fb_dnat("redirect to :3128") + _filter("input", "        tcp dport 3128 drop\n")
    report = lint({"nftables.conf": text})
    assert verdicts(report)["twitter"] == "unaffected"
    f = next(f for f in report.findings if f.service == "facebook" and f.code in ("TE101", "TE102"))
    assert f.span.text.strip() == "tcp dport 3128 drop"


def test_redirect_whose_filter_path_passes_is_left_to_the_proxy(lint):
    text = _fb_dnat("redirect to :3128") + _filter(
        "input", "        ct state established,related accept\n        tcp dport 3128 accept\n        drop\n"
    )
    report = lint({"nftables.conf": text})
    assert verdicts(report)["facebook"] == "unknown"
    assert "TE907" in codes(report)


def test_prerouting_filter_before_dstnat_sees_the_original_destination(lint):
    report = lint(
        {
            "nftables.conf": _fb_dnat("redirect to :3128")
            + _filter("prerouting", f"        ip daddr {{ {FB_V4} }} drop\n", "-300")
        }
    )
    f = next(f for f in report.findings if f.service == "facebook" and f.code in ("TE101", "TE102"))
    assert "drop" in f.span.text and "dnat" not in f.span.text


def test_prerouting_filter_after_dstnat_sees_the_new_destination(lint):
    report = lint(
        {
            "nftables.conf": _fb_dnat("redirect to :3128")
            + _filter("prerouting", f"        ip daddr {{ {FB_V4} }} drop\n", "0")
        }
    )
    assert verdicts(report)["facebook"] == "unknown"
    assert "TE907" in codes(report)


def test_a_block_where_a_statement_should_start_is_a_config_error_not_a_crash(lint):
    # `{{` (a template's escaped brace left in): the statement begins with a block.
    report = lint({"fw.nft": "table inet filter {{\n  chain forward {{\n  }}\n}}\n"})
    assert "TE901" in codes(report) and report.files

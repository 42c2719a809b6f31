"""pf: last match wins unless quick, tables (inline and from files), macros, router in/out
passes, address coverage of the catalog's prefixes."""

from __future__ import annotations

from policy_lint.catalog import load_catalog
from tests.conftest import verdicts

FB = load_catalog().services["facebook"]
FB_ALL = " ".join(str(n) for n in FB.networks)
FB_V4 = " ".join(str(n) for n in FB.networks if n.version == 4)
LAN = 'lan_if = "em1"\next_if = "em0"\nmatch out on $ext_if inet from !($ext_if) nat-to ($ext_if)\n'


def codes(report) -> list[str]:
    return [f.code for f in report.findings]


def test_last_matching_rule_wins_without_quick(lint):
    report = lint(
        {
            "pf.conf": f"""
table <fb> {{ {FB_ALL} }}
block out from any to <fb>
pass out all
"""
        }
    )
    assert verdicts(report)["facebook"] == "unaffected"


def test_quick_ends_the_search(lint):
    report = lint(
        {
            "pf.conf": f"""
table <fb> {{ {FB_ALL} }}
block out quick from any to <fb>
pass out all
"""
        }
    )
    assert verdicts(report)["facebook"] == "blocked"
    f = next(f for f in report.findings if f.code == "TE101")
    assert f.span.line == 3


def test_block_after_pass_wins_as_the_last_match(lint):
    report = lint(
        {
            "pf.conf": f"""
pass out all
block return out proto tcp from any to {{ {FB_ALL} }} port {{ 80 443 }}
"""
        }
    )
    assert verdicts(report)["facebook"] == "blocked"
    assert "reject" in next(f for f in report.findings if f.code == "TE101").message


def test_table_from_a_file_traces_the_matching_line(lint):
    nets = "\n".join(str(n) for n in FB.networks)
    report = lint(
        {
            "etc/pf.conf": 'table <bl> persist file "/etc/pf/blocklist"\nblock quick to <bl>\n',
            "etc/pf/blocklist": "# Facebook\n" + nets + "\n",
        }
    )
    assert verdicts(report)["facebook"] == "blocked"
    f = next(f for f in report.findings if f.code == "TE101")
    assert any(s.path.endswith("etc/pf/blocklist") for s in f.trace)


def test_missing_table_file_is_unknown_not_clean(lint):
    report = lint({"pf.conf": 'table <bl> persist file "/etc/pf/absent"\npass all\nblock quick to <bl>\n'})
    assert "TE903" in codes(report)
    assert verdicts(report)["facebook"] == "unknown"


def test_one_prefix_is_partial_and_says_its_coverage(lint):
    report = lint({"pf.conf": "block quick to 31.13.64.0/18\n"})
    assert verdicts(report)["facebook"] == "blocked-partial"
    msg = next(f for f in report.findings if f.code == "TE102").message
    assert "partly blocked" in msg and "Facebook IPv4 prefixes" in msg


def test_ipv4_only_block_says_so(lint):
    report = lint({"pf.conf": f"table <fb> {{ {FB_V4} }}\nblock quick inet to <fb>\n"})
    assert verdicts(report)["facebook"] == "blocked"
    assert "IPv4 only" in next(f for f in report.findings if f.code == "TE101").message


def test_macros_and_lists_expand(lint):
    report = lint({"pf.conf": f'social = "{{ {FB_ALL} }}"\nblock quick to $social\n'})
    assert verdicts(report)["facebook"] == "blocked"


def test_rules_on_the_egress_interface_inbound_do_not_block_clients(lint):
    report = lint(
        {
            "pf.conf": LAN
            + f"""
table <fb> {{ {FB_ALL} }}
block in quick on $ext_if from <fb>
pass in on $lan_if
pass out on $ext_if
"""
        }
    )
    assert verdicts(report)["facebook"] == "unaffected"


def test_router_lan_interface_is_an_audience(lint):
    report = lint(
        {
            "pf.conf": LAN
            + f"""
guest_if = "em2"
table <fb> {{ {FB_ALL} }}
pass in on $lan_if
pass in on $guest_if
block in quick on $guest_if to <fb>
pass out on $ext_if
"""
        }
    )
    assert verdicts(report)["facebook"] == "blocked-partial"
    f = next(f for f in report.findings if f.code == "TE102")
    assert "em2" in f.message


def test_default_block_with_allow_list_denies_the_control_too(lint):
    report = lint({"pf.conf": "block all\npass out quick proto udp to any port 53\n"})
    assert verdicts(report)["facebook"] == "blocked"
    assert any("all web" in f.message.lower() or f.code == "TE105" for f in report.findings)


def test_inline_anchor_rules_apply_in_place(lint):
    report = lint({"pf.conf": f'anchor "social" {{\n block quick to {{ {FB_ALL} }}\n}}\npass all\n'})
    assert verdicts(report)["facebook"] == "blocked"


def test_include_loop_and_unknown_statement_are_input_problems(lint):
    report = lint({"pf.conf": 'include "/etc/pf.conf"\nfrobnicate all\nblock quick to 31.13.64.0/18\n'})
    assert {"TE904", "TE901"} <= set(codes(report)) or "TE903" in codes(report)
    assert verdicts(report)["facebook"] == "blocked-partial"


def test_unterminated_brace_is_reported_not_a_crash(lint):
    report = lint({"pf.conf": "table <x> { 31.13.64.0/18\nblock quick to <x>\n"})
    assert "TE901" in codes(report)


def test_commented_rule_is_not_a_block(lint):
    report = lint({"pf.conf": f"# block quick to {{ {FB_ALL} }}\npass all\n"})
    assert verdicts(report)["facebook"] == "unaffected"


def test_table_negation_is_decided_by_the_longest_prefix(lint):
    # pf tables are radix trees: the most specific entry holding the address decides, so a
    # negated entry inside a blocked supernet carves a hole, and a plain entry inside a negated
    # one fills it again.
    # 57.144.0.0/14 holds www.facebook.com's catalog address.
    nets = " ".join(str(n) for n in FB.networks if n.version == 4 and not str(n).startswith("57."))
    report = lint(
        {"pf.conf": f"table <fb> {{ {nets} 57.0.0.0/8 !57.144.0.0/14 }}\nblock quick inet to <fb>\n"}
    )
    assert verdicts(report)["facebook"] == "blocked-partial"
    report = lint(
        {
            "pf.conf": f"table <fb> {{ {nets} 57.0.0.0/8 !57.144.0.0/14 57.144.0.0/15 57.146.0.0/15 }}\n"
            "block quick inet to <fb>\n"
        }
    )
    assert verdicts(report)["facebook"] == "blocked"


def test_udp_443_block_is_quic_only_and_says_so(lint):
    report = lint(
        {"pf.conf": f"table <fb> {{ {FB_ALL} }}\nblock out quick proto udp to <fb> port 443\npass out all\n"}
    )
    assert verdicts(report)["facebook"] == "unaffected"
    assert codes(report) == ["TE209"]


# --- issue #13: options pf.conf(5) documents that decide a match, redirects, replies


def test_tagged_makes_the_rule_unknown_not_all_web_denied(lint):
    """Tags come from `tag` on other rules, bridge rules and run-time anchors: not evaluated."""
    report = lint({"pf.conf": "pass out on egress all\nblock drop out quick on egress tagged FB\n"})
    assert set(verdicts(report).values()) == {"unknown"}
    assert "TE105" not in codes(report)
    f = next(f for f in report.findings if f.code == "TE106" and f.service == "facebook")
    assert f.span.line == 2 and "tagged FB" in f.message


def test_each_unmodelled_matcher_yields_unknown_from_its_rule(lint):
    for option in ("received-on em1", "prio 3", "probability 20%", 'os "Windows"', "tos 0x10"):
        report = lint({"pf.conf": f"pass out all\nblock out quick to {{ {FB_ALL} }} {option}\n"})
        assert verdicts(report)["facebook"] == "unknown", option
        assert verdicts(report)["twitter"] == "unaffected", option


def test_options_after_a_label_are_still_read(lint):
    report = lint({"pf.conf": f'pass out all\nblock out quick to {{ {FB_ALL} }} label "fb" prio 2\n'})
    assert verdicts(report)["facebook"] == "unknown"


def test_probability_100_percent_matches(lint):
    report = lint({"pf.conf": f"pass out all\nblock out quick to {{ {FB_ALL} }} probability 100%\n"})
    assert verdicts(report)["facebook"] == "blocked"


def test_user_never_matches_forwarded_client_traffic(lint):
    """pf.conf(5): for forwarded connections the user and group are unknown."""
    report = lint({"pf.conf": LAN + f"pass in on $lan_if\nblock out quick to {{ {FB_ALL} }} user bob\n"})
    assert verdicts(report)["facebook"] == "unaffected"
    report = lint({"pf.conf": LAN + f"pass in on $lan_if\nblock out quick to {{ {FB_ALL} }} user unknown\n"})
    assert verdicts(report)["facebook"] == "blocked"


def test_user_on_a_host_is_whoever_runs_the_browser(lint):
    report = lint({"pf.conf": f"pass out all\nblock out quick proto tcp to {{ {FB_ALL} }} user bob\n"})
    assert verdicts(report)["facebook"] == "unknown"


def test_flags_s_sa_matches_the_connection(lint):
    report = lint({"pf.conf": f"block out quick proto tcp to {{ {FB_ALL} }} flags S/SA\npass out all\n"})
    assert verdicts(report)["facebook"] == "blocked"


def test_source_port_of_a_client_is_ephemeral(lint):
    report = lint(
        {"pf.conf": f"pass out all\nblock out quick proto tcp from any port 80 to {{ {FB_ALL} }}\n"}
    )
    assert verdicts(report)["facebook"] == "unaffected"
    report = lint(
        {"pf.conf": f"pass out all\nblock out quick proto tcp from any port > 1023 to {{ {FB_ALL} }}\n"}
    )
    assert verdicts(report)["facebook"] == "blocked"


def test_rdr_of_the_service_addresses_to_a_block_page_blocks(lint):
    report = lint(
        {
            "pf.conf": LAN + f"rdr pass on $lan_if proto tcp from any to {{ {FB_ALL} }} port {{ 80 443 }} "
            "-> 10.0.0.9 port 80\npass in on $lan_if\npass out on $ext_if\n"
        }
    )
    assert verdicts(report)["facebook"] == "blocked"
    assert verdicts(report)["twitter"] == "unaffected"
    f = next(f for f in report.findings if f.code == "TE101" and f.service == "facebook")
    assert f.span.line == 4 and "redirect" in f.message


def test_rdr_of_all_web_traffic_to_a_proxy_is_unknown_with_te907(lint):
    report = lint(
        {
            "pf.conf": LAN + "rdr pass on $lan_if proto tcp from any to any port 80 -> 127.0.0.1 port 3128\n"
            "pass in on $lan_if\npass out on $ext_if\n"
        }
    )
    assert verdicts(report)["facebook"] == "unknown"
    assert any(f.code == "TE907" and f.span.line == 4 for f in report.findings)
    # an rdr on the egress side (a port forward from the Internet) is not the clients' traffic
    report = lint({"pf.conf": LAN + "rdr on $ext_if proto tcp to port 80 -> 10.0.0.5\npass all\n"})
    assert verdicts(report)["facebook"] == "unaffected"


def test_divert_to_on_a_pass_rule_is_unknown(lint):
    report = lint(
        {
            "pf.conf": LAN + "pass in on $lan_if proto tcp to port { 80 443 } divert-to 127.0.0.1 port 3129\n"
            "pass out on $ext_if\n"
        }
    )
    assert verdicts(report)["facebook"] == "unknown"
    assert any(f.code == "TE907" and f.span.line == 4 for f in report.findings)


def test_block_from_the_service_drops_its_replies_without_state(lint):
    report = lint({"pf.conf": f"block in quick from {{ {FB_ALL} }}\n"})
    assert verdicts(report)["facebook"] == "blocked"
    f = next(f for f in report.findings if f.code == "TE101")
    assert "source" in f.message and "replies" in f.message


def test_block_from_the_service_is_harmless_behind_a_stateful_pass(lint):
    report = lint({"pf.conf": f"block in quick from {{ {FB_ALL} }}\npass out all\n"})
    assert verdicts(report)["facebook"] == "unaffected"
    report = lint({"pf.conf": f"block in quick from {{ {FB_ALL} }}\npass out all no state\n"})
    assert verdicts(report)["facebook"] == "blocked"


# ---- whom a rule reaches, in the ruleset's words (issue #13, item 12)


def _fb_block(report):
    return next(f for f in report.findings if f.service == "facebook" and f.code in ("TE101", "TE102"))


def test_a_block_after_a_quick_pass_names_whom_it_reaches(lint):
    # pf.conf(5): a matching quick rule ends the search, so 10.0.0.5 passes before the block.
    report = lint(
        {"pf.conf": "pass in quick on em1 from 10.0.0.5\nblock in quick on em1 to 157.240.0.0/16\n"}
    )
    f = _fb_block(report)
    assert f.message.startswith("Facebook partly blocked for clients on em1 & not from 10.0.0.5 by ")
    assert "192.168.77.77" not in f.message and "192.168.77.77" not in " ".join(f.audiences)


def test_a_block_nobody_is_exempted_from_keeps_its_own_words(lint):
    report = lint(
        {"pf.conf": "block in quick on em1 to 157.240.0.0/16\npass in quick on em1 from 10.0.0.5\n"}
    )
    assert _fb_block(report).message.startswith("Facebook partly blocked for clients on em1 by ")


def test_a_source_network_is_named_as_written_not_by_a_sample_address(lint):
    report = lint({"pf.conf": "pass in on em1\nblock in quick on em1 from 10.0.0.0/8 to 157.240.0.0/16\n"})
    assert _fb_block(report).message.startswith(
        "Facebook partly blocked for clients from 10.0.0.0/8 on em1 by "
    )


def test_a_nested_exemption_is_said_as_but_not_from(lint):
    report = lint(
        {
            "pf.conf": "pass in quick on em1 from 10.0.0.5\n"
            "block in quick on em1 from 10.0.0.0/8 to 157.240.0.0/16\n"
        }
    )
    assert _fb_block(report).message.startswith(
        "Facebook partly blocked for clients on em1 & from 10.0.0.0/8 but not from 10.0.0.5 by "
    )


def test_last_match_wins_so_an_earlier_non_quick_pass_exempts_nobody(lint):
    report = lint({"pf.conf": "pass in on em1 from 10.0.0.5\nblock in on em1 to 157.240.0.0/16\n"})
    assert _fb_block(report).message.startswith("Facebook partly blocked for clients on em1 by ")


# ---- policy routing into a VPN or tunnel (issue #13, item 7)


def test_route_to_on_the_deciding_pass_rule_is_unknown_with_te907(lint):
    # pf.conf(5): route-to routes the packet to the given interface / next hop: the connection
    # leaves through a path (here a WireGuard tunnel) whose filtering is not in this file.
    report = lint(
        {"pf.conf": "pass in on em1\npass in quick on em1 from 10.0.0.0/24 route-to (wg0 10.8.0.1)\n"}
    )
    v = verdicts(report)
    assert v["facebook"] == "unknown" and v["linkedin"] == "unknown"
    te907 = [f for f in report.findings if f.code == "TE907"]
    assert [f.span.line for f in te907] == [2]
    assert "sends all traffic it matches through another path" in te907[0].message
    f = next(f for f in report.findings if f.code == "TE106" and f.service == "facebook")
    assert f.message.startswith("Facebook: cannot decide for clients on em1 & from 10.0.0.0/24 at ")


def test_route_to_of_the_service_addresses_only_is_unknown_for_that_service(lint):
    report = lint(
        {"pf.conf": "pass in on em1\npass in quick on em1 to 157.240.0.0/16 route-to (tun0 10.9.0.1)\n"}
    )
    v = verdicts(report)
    assert v["facebook"] == "unknown" and v["twitter"] == "unaffected"
    te907 = next(f for f in report.findings if f.code == "TE907")
    assert "sends connections it matches through another path" in te907.message


def test_rtable_on_an_inbound_match_rule_is_unknown(lint):
    # pf.conf(5): rtable selects another routing table, effective inbound only.
    report = lint({"pf.conf": "pass in on em1\nmatch in on em1 rtable 1\n"})
    assert verdicts(report)["facebook"] == "unknown"
    assert any(f.code == "TE907" and f.span.line == 2 for f in report.findings)
    report = lint({"pf.conf": "pass in on em1\nmatch out on egress rtable 1\n"})
    assert verdicts(report)["facebook"] == "unaffected"


def test_reply_to_is_policy_routing_too(lint):
    report = lint({"pf.conf": "pass in quick on em1 reply-to (em2 192.0.2.1)\n"})
    assert verdicts(report)["facebook"] == "unknown"


def test_dup_to_leaves_the_original_packet_routed_as_usual(lint):
    # pf.conf(5): dup-to routes a copy; "the original packet gets routed as it normally would".
    report = lint(
        {
            "pf.conf": "pass in quick on em1 dup-to (em2 10.0.0.9)\nblock out quick on egress to 157.240.0.0/16\n"
        }
    )
    assert verdicts(report)["facebook"] == "blocked-partial"
    assert not any(f.code == "TE907" for f in report.findings)


def test_a_block_before_the_routing_rule_is_said_with_the_unknown_rest(lint):
    report = lint(
        {"pf.conf": "block in quick on em1 to 157.240.0.0/16\npass in quick on em1 route-to (wg0 10.8.0.1)\n"}
    )
    assert verdicts(report)["facebook"] == "unknown"  # the other prefixes are routed: unknown
    assert verdicts(report)["twitter"] == "unknown"
    f = next(f for f in report.findings if f.code == "TE106" and f.service == "facebook")
    assert "blocks 18 of 66 Facebook IPv4 prefixes" in f.message


def test_a_source_network_on_a_host_may_hold_the_hosts_own_address(lint):
    # No sign of routing: the file filters this host's own connections, whose address it does
    # not give; a host numbered in 10/8 is blocked, one elsewhere is not.
    report = lint({"pf.conf": "block drop quick from 10.0.0.0/8 to 157.240.0.0/16\npass all\n"})
    assert verdicts(report)["facebook"] == "unknown"
    assert verdicts(report)["twitter"] == "unaffected"


# ------------------------------------------------------------------ generic rules, walked once


def test_many_generic_rules_merge_with_address_rules_in_ruleset_order(lint):
    """Rules whose destination is `any` match whatever the address (pf.conf(5)): their part of
    the last-match walk is the same for every address, and still counts in ruleset order."""
    generic = "block log out all\n" * 500
    report = lint(
        {
            "pf.conf": f"""
{generic}pass out quick from any to {{ {FB_ALL} }}
block out quick all
"""
        }
    )
    v = verdicts(report)
    assert v["facebook"] == "allowed"  # the quick pass to its addresses ends the walk
    assert v["twitter"] == "blocked"  # every other address meets the quick block after it
    f = next(f for f in report.findings if f.code == "TE101" and "Twitter" in f.message)
    assert f.span.line == 503


def test_a_quick_generic_rule_before_an_address_rule_ends_the_walk(lint):
    report = lint(
        {
            "pf.conf": f"""
pass out all
{"block log out all" + chr(10)}block out quick proto tcp to any port {{ 80 443 }}
pass out quick from any to {{ {FB_ALL} }}
"""
        }
    )
    v = verdicts(report)
    assert v["facebook"] == "blocked" and v["twitter"] == "blocked"
    f = next(f for f in report.findings if f.code == "TE105")  # all web access denied
    assert f.span.line == 4


def test_missing_include_is_unknown_even_before_a_pass_all(lint):
    # pf.conf(5): included rules stand where the include is; a `block quick` among them would
    # end the search before `pass all`, so what reaches the include is undecided.
    report = lint({"pf.conf": 'include "/etc/pf.social.conf"\npass all\n'})
    assert "TE903" in codes(report)
    assert set(verdicts(report).values()) == {"unknown"}
    undecided = next(f for f in report.findings if f.code == "TE106")
    assert undecided.span.line == 1


def test_a_present_include_is_evaluated_in_place(lint):
    report = lint(
        {"pf.conf": 'include "social.conf"\npass all\n', "social.conf": "block quick to 31.13.64.0/18\n"}
    )
    assert verdicts(report)["facebook"] == "blocked-partial"
    assert verdicts(report)["twitter"] == "unaffected"


def test_a_pass_of_unknown_match_after_the_deciding_block_makes_it_unknown(lint):
    # Last match wins: the pass would undo `block all` for packets it matches; whether it
    # matches (a tag set elsewhere, by an anchor at run time) is unknown.
    report = lint({"pf.conf": "block all\npass out proto tcp to any port 443 tagged FOO\n"})
    assert set(verdicts(report).values()) == {"unknown"}
    undecided = next(f for f in report.findings if f.code == "TE106")
    assert "tagged FOO" in undecided.message and undecided.span.line == 2


def test_a_pass_of_unknown_match_before_the_deciding_block_changes_nothing(lint):
    report = lint({"pf.conf": "pass out proto tcp to any port 443 tagged FOO\nblock all\n"})
    assert set(verdicts(report).values()) == {"blocked"}


def test_a_quick_pass_of_unknown_match_before_the_block_makes_it_unknown(lint):
    report = lint({"pf.conf": "pass out quick proto tcp to any port 443 tagged FOO\nblock all\n"})
    assert set(verdicts(report).values()) == {"unknown"}

"""iptables/ip6tables scripts and iptables-save files (with ipset): read, never run."""

from __future__ import annotations

import textwrap
from pathlib import Path

from policy_lint.dialects.firewalls import iptables
from policy_lint.dialects.semantics.base import ParseContext
from policy_lint.inputs import Resolver
from policy_lint.model import Outcome
from tests.conftest import verdicts

# Both families, so that a block is not only IPv4 ("no IPv6" would make it partial).
STRING_DROP = """
    iptables -A {chain} -m string --string "facebook.com" --algo bm -j DROP
    ip6tables -A {chain} -m string --string "facebook.com" --algo bm -j DROP
"""


def codes(report) -> list[str]:
    return [f.code for f in report.findings]


def ruleset(tmp_path: Path, catalog, text: str, name: str = "fw.sh", **extra: str):
    for n, t in extra.items():
        (tmp_path / n.replace("_", ".")).write_text(textwrap.dedent(t))
    p = tmp_path / name
    p.write_text(textwrap.dedent(text))
    return iptables.parse(p, ParseContext(Resolver(tmp_path), catalog))


def fb_https(catalog):
    return next(
        p for p in catalog.services["facebook"].probes() if p.scheme == "https" and p.role == "primary"
    )


def test_string_match_blocks_in_both_families(lint):
    report = lint({"fw.sh": STRING_DROP.format(chain="OUTPUT")})
    assert verdicts(report)["facebook"] == "blocked"
    assert verdicts(report)["twitter"] == "unaffected"


def test_first_match_wins(lint):
    accept = """
        iptables -A OUTPUT -p tcp -m multiport --dports 80,443 -j ACCEPT
        ip6tables -A OUTPUT -p tcp -m multiport --dports 80,443 -j ACCEPT
    """
    assert verdicts(lint({"fw.sh": accept + STRING_DROP.format(chain="OUTPUT")}))["facebook"] == "unaffected"


def test_insert_goes_above_earlier_rules(lint):
    text = """
        iptables -A FORWARD -j ACCEPT
        ip6tables -A FORWARD -j ACCEPT
        iptables -I FORWARD -m string --string "facebook.com" --algo kmp -j REJECT
        ip6tables -I FORWARD 1 -m string --string "facebook.com" --algo kmp -j REJECT
    """
    assert verdicts(lint({"fw.sh": text}))["facebook"] == "blocked"


def test_established_accept_first_lets_the_payload_through(lint):
    # The SYN carries no Host/SNI; the data packet is ESTABLISHED and accepted before the drop.
    text = """
        iptables -A FORWARD -m state --state ESTABLISHED,RELATED -j ACCEPT
        ip6tables -A FORWARD -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
    """ + STRING_DROP.format(chain="FORWARD")
    assert verdicts(lint({"fw.sh": text}))["facebook"] == "unaffected"


def test_input_chain_is_not_a_block(lint):
    report = lint({"fw.sh": STRING_DROP.format(chain="INPUT")})
    assert verdicts(report)["facebook"] == "unaffected"


def test_jump_and_return_exempt_a_source(lint, tmp_path, catalog):
    text = """
        iptables -N SOCIAL
        iptables -A SOCIAL -s 10.0.0.5 -j RETURN
        iptables -A SOCIAL -m string --string "facebook.com" --algo bm -j DROP
        iptables -A FORWARD -j SOCIAL
        ip6tables -A FORWARD -m string --string "facebook.com" --algo bm -j DROP
    """
    assert verdicts(lint({"fw.sh": text}))["facebook"] == "blocked-partial"
    rs = ruleset(tmp_path, catalog, text)
    others = next(a for a in rs.audiences() if a.attribute("src") != "10.0.0.5")
    d = rs.evaluate(fb_https(catalog), others)
    assert d.outcome == Outcome.DENY and d.specific
    assert [s.line for s in d.trace] == [5, 4]  # the jump, then the drop


def test_policy_drop_denies_the_control_too(lint):
    report = lint(
        {
            "fw.sh": """
        iptables -P FORWARD DROP
        ip6tables -P FORWARD DROP
    """
        }
    )
    assert verdicts(report)["facebook"] == "blocked"
    assert "TE105" in codes(report)


def test_policy_drop_with_allow_list_blocks_with_policy_span(lint, tmp_path, catalog):
    text = """
        IPT=/sbin/iptables
        $IPT -P FORWARD DROP
        ${IPT} -A FORWARD -d 93.184.215.14 -j ACCEPT
    """
    rs = ruleset(tmp_path, catalog, text)
    d = rs.evaluate(fb_https(catalog), rs.audiences()[0])
    # The policy line decides; every IPv4 prefix is denied, so it is a block, and the note
    # says IPv6 (no ip6tables rules) stays open.
    assert d.outcome == Outcome.DENY and d.rule.line == 3 and not d.partial and "IPv4 only" in d.note
    assert verdicts(lint({"fw.sh": text}))["facebook"] == "blocked"


def test_one_prefix_is_partial_with_coverage_note(tmp_path, catalog):
    rs = ruleset(tmp_path, catalog, "iptables -A OUTPUT -d 31.13.24.0/21 -j DROP\n")
    d = rs.evaluate(fb_https(catalog), rs.audiences()[0])
    assert d.outcome == Outcome.DENY and d.partial
    assert "Facebook IPv4 prefixes" in d.note and "no IPv6" in d.note


def test_one_address_inside_a_prefix_is_partial(lint):
    report = lint({"fw.sh": "iptables -A OUTPUT -p tcp -d 157.240.217.35 -j DROP\n"})
    assert verdicts(report)["facebook"] == "blocked-partial"


def test_delete_by_spec_and_flush(lint):
    text = (
        STRING_DROP.format(chain="OUTPUT")
        + """
        iptables -D OUTPUT -m string --string "facebook.com" --algo bm -j DROP
    """
    )
    assert verdicts(lint({"fw.sh": text}))["facebook"] == "blocked-partial"  # IPv6 rule stays
    assert (
        verdicts(lint({"fw.sh": STRING_DROP.format(chain="OUTPUT") + "iptables -F\nip6tables -F\n"}))[
            "facebook"
        ]
        == "unaffected"
    )


def test_hostname_resolves_through_the_catalog(tmp_path, catalog):
    rs = ruleset(tmp_path, catalog, "iptables -A OUTPUT -d www.facebook.com -j DROP\n")
    d = rs.evaluate(fb_https(catalog), rs.audiences()[0])
    assert d.outcome == Outcome.DENY and d.partial and "catalog" in d.note
    rs = ruleset(tmp_path, catalog, "iptables -A OUTPUT -d intranet.example.org -j DROP\n")
    assert rs.evaluate(fb_https(catalog), rs.audiences()[0]).outcome == Outcome.UNKNOWN


def test_ipset_from_a_save_file(tmp_path, catalog, lint):
    text = """
        ipset restore < sets.ipset
        iptables -A FORWARD -m set --match-set fb dst -j DROP
    """
    sets = "create fb hash:net family inet\nadd fb 31.13.24.0/21\nadd fb 31.13.64.0/18\n"
    rs = ruleset(tmp_path, catalog, text, sets_ipset=sets)
    d = rs.evaluate(fb_https(catalog), rs.audiences()[0])
    assert d.outcome == Outcome.DENY and d.partial and d.specific
    assert any(s.path.endswith("sets.ipset") for s in d.trace)


def test_ipset_never_loaded_is_missing_and_unknown(lint):
    report = lint({"fw.sh": "iptables -A FORWARD -m set --match-set social dst -j DROP\n"})
    assert "TE903" in codes(report)
    assert verdicts(report)["facebook"] == "unknown"


def test_time_window_makes_an_audience(lint, tmp_path, catalog):
    text = """
        iptables -A FORWARD -m time --timestart 09:00 --timestop 17:00 --weekdays Mon,Tue,Wed,Thu,Fri -m string --string "facebook.com" --algo bm -j DROP
        ip6tables -A FORWARD -m time --timestart 09:00 --timestop 17:00 --weekdays Mon,Tue,Wed,Thu,Fri -m string --string "facebook.com" --algo bm -j DROP
    """
    assert verdicts(lint({"fw.sh": text}))["facebook"] == "blocked-partial"
    rs = ruleset(tmp_path, catalog, text)
    assert any("Mon 09:01" in " ".join(a.conditions) for a in rs.audiences())


def test_literal_loop_and_variables(lint):
    text = """
        IPT="/usr/sbin/iptables -w"
        for net in 31.13.24.0/21 \\
                   31.13.64.0/18; do
            $IPT -A OUTPUT -d "$net" -j DROP   # comment
        done
    """
    report = lint({"fw.sh": text})
    assert verdicts(report)["facebook"] == "blocked-partial"
    assert any(f.code == "TE102" and f.span.line == 5 for f in report.findings)


def test_dynamic_values_are_unknown_with_the_line(lint):
    text = """
        for ip in $(curl -s https://example.org/fb.txt); do
            iptables -A OUTPUT -d $ip -j DROP
        done
    """
    report = lint({"fw.sh": text})
    assert verdicts(report)["facebook"] == "unknown"
    assert any(f.code == "TE907" and f.span.line == 3 for f in report.findings)


def test_unknown_match_makes_a_drop_unknown(tmp_path, catalog):
    rs = ruleset(
        tmp_path,
        catalog,
        "iptables -A OUTPUT -m limit --limit 5/min -j DROP\n"
        "iptables -A OUTPUT -m limit --limit 5/min -j LOG\n",
    )
    assert rs.evaluate(fb_https(catalog), rs.audiences()[0]).outcome == Outcome.UNKNOWN


def test_save_file_and_bad_input(lint):
    save = """
        *filter
        :INPUT ACCEPT [0:0]
        :FORWARD ACCEPT [0:0]
        :OUTPUT ACCEPT [0:0]
        -A OUTPUT -d 31.13.24.0/21 -j DROP
        COMMIT
    """
    assert verdicts(lint({"rules.v4": save}))["facebook"] == "blocked-partial"
    report = lint({"rules.v4": save.replace("COMMIT", "")})
    assert "TE901" in codes(report)
    report = lint({"fw.sh": 'iptables -A OUTPUT -m comment --comment "oops -j DROP\n'})
    assert "TE901" in codes(report)


def test_detection():
    assert iptables.detect(Path("fw.sh"), "#!/bin/sh\niptables -A FORWARD -d 1.2.3.4 -j DROP\n") > 0.5
    assert iptables.detect(Path("rules"), "*filter\n:INPUT ACCEPT [0:0]\nCOMMIT\n") > 0.5
    assert iptables.detect(Path("notes.txt"), "hello\n") == 0.0


def test_ipset_commands_in_the_script(tmp_path, catalog):
    text = """
        ipset -exist create social hash:net
        ipset add social 31.13.24.0/21
        ipset restore -f more.ipset
        iptables -A FORWARD -m set --match-set social dst -j DROP
    """
    rs = ruleset(tmp_path, catalog, text, more_ipset="add social 31.13.64.0/18\n")
    d = rs.evaluate(fb_https(catalog), rs.audiences()[0])
    assert d.outcome == Outcome.DENY and d.partial
    assert "2 of" in d.note
    assert not rs.problems


def test_documentation_quoting_commands_is_not_a_ruleset():
    text = "Run:\n\n    iptables -A FORWARD -d 31.13.24.0/21 -j DROP\n    iptables -A OUTPUT -j DROP\n"
    assert iptables.detect(Path("README.md"), text) == 0.0
    assert iptables.detect(Path("block.sh"), text) > 0.5


def test_unused_chain_and_unused_ipset_are_noted_not_blocks(lint):
    report = lint(
        {
            "fw.sh": """
        iptables -N UNUSED
        iptables -A UNUSED -m string --string "facebook.com" --algo bm -j DROP
        ipset create fb hash:net
        ipset add fb 157.240.0.0/17
    """
        }
    )
    assert verdicts(report)["facebook"] == "unaffected"
    assert sorted(f.span.line for f in report.findings if f.code == "TE202") == [3, 5]


def test_input_drop_of_replies_blocks_this_host_only(lint, tmp_path, catalog):
    # The SYN-ACK from Facebook comes back through INPUT: this host cannot connect...
    text = "iptables -A INPUT -s 31.13.24.0/21 -j DROP\n"
    assert verdicts(lint({"fw.sh": text}))["facebook"] == "blocked-partial"
    # ...unless replies of established connections are accepted first;
    established = "iptables -A INPUT -m state --state ESTABLISHED,RELATED -j ACCEPT\n" + text
    assert verdicts(lint({"fw.sh": established}))["facebook"] == "unaffected"
    # and forwarded clients never cross INPUT.
    rs = ruleset(tmp_path, catalog, text + "iptables -A FORWARD -d 192.0.2.1 -j DROP\n")
    fwd = next(a for a in rs.audiences() if a.attribute("path") == "forward")
    assert rs.evaluate(fb_https(catalog), fwd).outcome == Outcome.ALLOW


def test_goto_and_replace(lint):
    text = """
        iptables -N SOCIAL
        iptables -A SOCIAL -m string --string "facebook.com" --algo bm -j ACCEPT
        iptables -A FORWARD -g SOCIAL
        iptables -A FORWARD -m string --string "facebook.com" --algo bm -j DROP
    """
    # -g: SOCIAL's ACCEPT ends it; and after SOCIAL a goto never comes back to FORWARD.
    assert verdicts(lint({"fw.sh": text}))["facebook"] == "unaffected"
    replaced = text + 'iptables -R SOCIAL 1 -m string --string "facebook.com" --algo bm -j DROP\n'
    assert verdicts(lint({"fw.sh": replaced}))["facebook"] == "blocked"


def test_one_server_address_dropped_in_input_is_partial(lint):
    assert (
        verdicts(lint({"fw.sh": "iptables -A INPUT -s 157.240.217.35 -j DROP\n"}))["facebook"]
        == "blocked-partial"
    )


def test_menu_case_arms_are_alternatives(lint):
    text = """
        read -p "choice: " n
        case "$n" in
          1) iptables -A OUTPUT -m string --string "facebook.com" --algo bm -j DROP ;;
          2)
            iptables -F
            ;;
          *) echo "usage" ;;
        esac
    """
    # Option 1 applies the block; option 2 (the undo) does not hide it.
    assert verdicts(lint({"fw.sh": text}))["facebook"] == "blocked"
    literal = text.replace('read -p "choice: " n', "n=2")
    assert verdicts(lint({"fw.sh": literal}))["facebook"] == "unaffected"


def test_restore_from_a_here_document(lint, tmp_path, catalog):
    text = """
        FB=31.13.24.0/21
        iptables-restore --noflush <<EOF
        *filter
        -A FORWARD -d $FB -j DROP
        COMMIT
        EOF
        ipset restore <<'SETS'
        create social hash:net
        add social 31.13.64.0/18
        SETS
        iptables -A FORWARD -m set --match-set social dst -j DROP
    """
    report = lint({"fw.sh": text})
    assert verdicts(report)["facebook"] == "blocked-partial"
    assert [f.span.line for f in report.findings if f.code == "TE102"] == [5]  # the body line
    assert not [f for f in report.findings if f.code.startswith("TE9")]
    rs = ruleset(tmp_path, catalog, text)
    assert "2 of" in rs.evaluate(fb_https(catalog), rs.audiences()[0]).note  # both prefixes count


def test_wait_option_and_table_option(lint):
    text = """
        iptables -w 5 -t filter -A OUTPUT -m string --string "facebook.com" --algo bm -j DROP
        ip6tables --wait -A OUTPUT -m string --string "facebook.com" --algo bm -j DROP
        iptables -t nat -A POSTROUTING -o eth0 -j MASQUERADE
    """
    report = lint({"fw.sh": text})
    assert verdicts(report)["facebook"] == "blocked"
    assert not [f for f in report.findings if f.code.startswith("TE9")]


def test_udp_443_drop_is_quic_only_and_says_so(lint):
    report = lint(
        {
            "fw.sh": """
        iptables -A FORWARD -p udp --dport 443 -j DROP
        iptables -A FORWARD -p tcp --dport 8443 -j DROP
    """
        }
    )
    assert set(verdicts(report).values()) == {"unaffected"}
    assert codes(report) == ["TE209"]


def test_accept_we_cannot_evaluate_before_a_policy_drop_is_unknown(tmp_path, catalog):
    # The chain ends after an ACCEPT whose match we cannot tell (-m limit): the policy's DROP
    # may or may not be reached. (This walk used to raise a TypeError.)
    rs = ruleset(
        tmp_path,
        catalog,
        "iptables -P OUTPUT DROP\niptables -A OUTPUT -m limit --limit 5/s -j ACCEPT\n",
    )
    d = rs.evaluate(fb_https(catalog), rs.audiences()[0])
    assert d.outcome == Outcome.UNKNOWN and d.rule.line == 2
    assert "an earlier rule may let it through (line 2) before OUTPUT policy DROP" in d.note


# ---------------------------------------------------------------- three-valued first match (#13)
# A rule whose match cannot be told (a -m module or option not evaluated) may or may not match:
# the verdict it could decide is unknown, never guessed. iptables(8): first match in a chain; a
# terminating target ends the chain; ACCEPT ends one table's chain, the next table's still runs
# (netfilter hooks in priority order); RETURN goes back to the calling chain.

BOTH = "iptables {rule}\nip6tables {rule}\n"
FB_STRING = '-m string --string "facebook.com" --algo bm -j DROP'


def fw(*rules: str) -> str:
    return "".join(BOTH.format(rule=r) for r in rules)


def test_one_rule_with_an_unknown_matcher_decides_nothing(lint):
    report = lint({"fw.sh": fw(f"-A FORWARD -m geoip --dst-cc US {FB_STRING}")})
    assert verdicts(report)["facebook"] == "unknown"
    assert "TE908" in codes(report)
    f = next(f for f in report.findings if f.code == "TE908")
    assert f.span.line == 1 and "-m geoip" in f.message


def test_accept_we_cannot_evaluate_before_a_drop_in_the_same_chain_is_unknown(lint):
    report = lint({"fw.sh": fw("-A FORWARD -m geoip --dst-cc US -j ACCEPT", f"-A FORWARD {FB_STRING}")})
    assert verdicts(report)["facebook"] == "unknown"
    f = next(f for f in report.findings if f.code == "TE106" and f.service == "facebook")
    assert f.span.line == 1 and "before" in f.message
    assert "TE908" in codes(report)


def test_accept_we_cannot_evaluate_that_cannot_match_the_probe_changes_nothing(lint):
    # -p udp rules it out for a TCP connection, whatever geoip says.
    report = lint(
        {"fw.sh": fw("-A FORWARD -p udp -m geoip --dst-cc US -j ACCEPT", f"-A FORWARD {FB_STRING}")}
    )
    assert verdicts(report)["facebook"] == "blocked"
    assert "TE908" not in codes(report)


def test_accept_we_cannot_evaluate_in_another_table_does_not_skip_the_filter_table(lint):
    # ACCEPT in mangle FORWARD ends that chain only: filter FORWARD still sees the packet.
    report = lint(
        {"fw.sh": fw("-t mangle -A FORWARD -m geoip --dst-cc US -j ACCEPT", f"-A FORWARD {FB_STRING}")}
    )
    assert verdicts(report)["facebook"] == "blocked"


def test_jump_into_a_chain_with_an_accept_we_cannot_evaluate_makes_the_later_drop_unknown(lint):
    report = lint(
        {
            "fw.sh": fw(
                "-N maybe",
                "-A maybe -m geoip --dst-cc US -j ACCEPT",
                "-A FORWARD -j maybe",
                f"-A FORWARD {FB_STRING}",
            )
        }
    )
    assert verdicts(report)["facebook"] == "unknown"


def test_return_we_cannot_evaluate_before_a_drop_in_a_user_chain_is_unknown(lint):
    report = lint(
        {
            "fw.sh": fw(
                "-N social",
                "-A social -m geoip --dst-cc US -j RETURN",
                f"-A social {FB_STRING}",
                "-A FORWARD -j social",
            )
        }
    )
    assert verdicts(report)["facebook"] == "unknown"


def test_drop_we_cannot_evaluate_before_a_certain_drop_is_blocked(lint):
    report = lint({"fw.sh": fw(f"-A FORWARD -m geoip --dst-cc US {FB_STRING}", f"-A FORWARD {FB_STRING}")})
    assert verdicts(report)["facebook"] == "blocked"


def test_target_we_do_not_model_is_unknown(lint):
    # xtables-addons' DELUDE answers a SYN with a SYN-ACK and a RST for the rest: not modelled.
    report = lint({"fw.sh": fw('-A FORWARD -m string --string "facebook.com" --algo bm -j DELUDE')})
    assert verdicts(report)["facebook"] == "unknown"
    assert "TE908" in codes(report)


def test_syn_accept_lets_only_the_first_packet_through(lint):
    # --syn matches SYN without ACK/RST/FIN: the data packet carrying the Host still meets the drop.
    report = lint({"fw.sh": fw("-A FORWARD -p tcp --syn -j ACCEPT", f"-A FORWARD {FB_STRING}")})
    assert verdicts(report)["facebook"] == "blocked"


def test_tcp_flags_and_date_windows_are_not_evaluated(lint):
    for cond in ("-p tcp --tcp-flags SYN,ACK ACK", "-m time --datestart 2030-01-01T00:00:00"):
        report = lint({"fw.sh": fw(f"-A FORWARD {cond} -j ACCEPT", f"-A FORWARD {FB_STRING}")})
        assert verdicts(report)["facebook"] == "unknown", cond


# ---------------------------------------------------------------- who counts as users (#13)
# The router's own traffic (OUTPUT) and loopback sources are not a population of users: on a
# box whose FORWARD path carries web traffic they never turn a block of the clients into a
# partial one.


def test_string_drop_in_raw_prerouting_is_blocked_like_in_forward(lint):
    forward = lint({"fw.sh": fw(f"-A FORWARD {FB_STRING}")})
    raw = lint({"fw.sh": fw(f"-t raw -A PREROUTING {FB_STRING}")})
    assert verdicts(forward)["facebook"] == verdicts(raw)["facebook"] == "blocked"


def test_a_routers_own_output_is_no_audience(lint):
    # The clients are not blocked; the router itself not browsing Facebook blocks nobody.
    report = lint({"fw.sh": fw("-A FORWARD -d 192.0.2.0/24 -j DROP", f"-A OUTPUT {FB_STRING}")})
    assert verdicts(report)["facebook"] == "unaffected"


def test_a_host_that_forwards_nothing_is_its_own_user(lint):
    report = lint({"fw.sh": fw("-P FORWARD DROP", f"-A OUTPUT {FB_STRING}")})
    assert verdicts(report)["facebook"] == "blocked"


def test_loopback_sources_are_no_audience(lint):
    report = lint({"fw.sh": "iptables -A FORWARD -s 127.0.0.1 -j ACCEPT\n" + fw(f"-A FORWARD {FB_STRING}")})
    assert verdicts(report)["facebook"] == "blocked"


# ---------------------------------------------------------------- findings say who and where (#13)


def test_input_source_match_names_the_services_servers_not_an_audience(lint):
    # INPUT sees the replies to this host's connections: -s is where they come from.
    report = lint({"fw.sh": "iptables -A INPUT -s 157.240.0.0/16 -j DROP\n"})
    f = next(f for f in report.findings if f.code in ("TE101", "TE102") and f.service == "facebook")
    assert "for this host (INPUT stops the replies of the service's servers in 157.240.0.0/16)" in f.message
    assert "for -s 157.240.0.0/16" not in f.message


def test_everyone_reaching_a_rule_names_whom_earlier_accepts_let_through(lint):
    report = lint({"fw.sh": "iptables -A FORWARD -s 10.0.0.0/8 -j ACCEPT\n" + fw(f"-A FORWARD {FB_STRING}")})
    f = next(f for f in report.findings if f.span.line == 2 and f.service == "facebook")
    assert "blocked for everyone but -s 10.0.0.0/8 (line 1) by" in f.message


def test_an_accept_that_takes_no_web_traffic_is_not_named(lint):
    report = lint(
        {"fw.sh": "iptables -A FORWARD -s 10.0.0.0/8 -p udp -j ACCEPT\n" + fw(f"-A FORWARD {FB_STRING}")}
    )
    f = next(f for f in report.findings if f.span.line == 2 and f.service == "facebook")
    assert "10.0.0.0/8" not in f.message


# ---------------------------------------------------------------- destination NAT (#13)
# iptables-extensions(8): DNAT (nat PREROUTING/OUTPUT) rewrites the destination of a connection's
# first packet, REDIRECT sends it to this host (--to-ports), TPROXY hands it to a local socket
# (--on-port). The filter table then sees the new destination: the connection goes elsewhere.


def test_dnat_of_the_services_web_traffic_to_another_host_is_a_block(lint):
    report = lint(
        {
            "fw.sh": "iptables -t nat -A PREROUTING -p tcp -m multiport --dports 80,443 "
            "-j DNAT --to-destination 10.0.0.1\n"
            "ip6tables -t nat -A PREROUTING -p tcp -m multiport --dports 80,443 "
            "-j DNAT --to-destination [fd00::1]\n"
        }
    )
    # Every web connection goes to 10.0.0.1 (a captive portal): no site is reached.
    assert verdicts(report)["facebook"] == "blocked"
    assert "TE105" in codes(report)


def test_dnat_of_the_services_addresses_is_a_block_of_those_addresses(lint, catalog):
    nets = list(catalog.services["facebook"].networks)
    text = "".join(
        f"{'iptables' if n.version == 4 else 'ip6tables'} -t nat -A PREROUTING -d {n} -p tcp "
        f"-j DNAT --to-destination {'10.0.0.1' if n.version == 4 else '[fd00::1]'}\n"
        for n in nets
    )
    report = lint({"fw.sh": text})
    assert verdicts(report)["facebook"] == "blocked"
    assert verdicts(report)["twitter"] == "unaffected"
    f = next(f for f in report.findings if f.code == "TE101")
    assert "DNAT" in f.span.text and "(redirect)" in f.message


def test_redirect_to_a_proxy_port_is_unknown_with_te907(lint):
    report = lint({"fw.sh": "iptables -t nat -A PREROUTING -p tcp --dport 80 -j REDIRECT --to-ports 3128\n"})
    assert verdicts(report)["facebook"] == "unknown"
    f = next(f for f in report.findings if f.code == "TE907")
    assert f.span.line == 1 and "transparent proxy at this host:3128" in f.message and "Squid" in f.message


def test_tproxy_is_unknown(lint):
    report = lint(
        {
            "fw.sh": "iptables -t mangle -A PREROUTING -p tcp --dport 443 -j TPROXY --on-port 3129 --tproxy-mark 1\n"
        }
    )
    assert verdicts(report)["facebook"] == "unknown"
    assert "TE907" in codes(report)


def test_nat_of_other_ports_changes_nothing(lint):
    report = lint(
        {
            "fw.sh": "iptables -t nat -A PREROUTING -p udp --dport 53 -j DNAT --to-destination 10.0.0.1:53\n"
            + fw(f"-A FORWARD {FB_STRING}")
        }
    )
    assert verdicts(report)["facebook"] == "blocked"
    assert verdicts(report)["twitter"] == "unaffected"


def test_nat_rule_we_cannot_evaluate_is_unknown(lint):
    report = lint(
        {
            "fw.sh": "iptables -t nat -A PREROUTING -p tcp -m geoip --dst-cc US "
            "-j DNAT --to-destination 10.0.0.1\n"
        }
    )
    assert verdicts(report)["twitter"] == "unknown"


# ---------------------------------------------------------------- after destination NAT (#13)
# The netfilter packet flow (iptables(8), iptables-extensions(8) DNAT/REDIRECT): raw and mangle
# PREROUTING run before nat PREROUTING and see the original destination; after the nat rewrite
# the routing decision sends the connection to FORWARD (the new destination is another host) or
# INPUT (it is this host: REDIRECT, or DNAT to one of its addresses), with the new address and
# port; the payload is what the client sends (its Host / SNI: it believes it talks to the
# service). This host's own connections: nat OUTPUT, then the filter OUTPUT chain. A drop on
# that path blocks the connection whatever the proxy would do.

DNAT_TO_PROXY = (
    "iptables -t nat -A PREROUTING -i eth1 -p tcp -m multiport --dports 80,443 "
    "-j DNAT --to-destination 172.16.0.2:3128\n"
    "ip6tables -t nat -A PREROUTING -i eth1 -p tcp -m multiport --dports 80,443 "
    "-j DNAT --to-destination [fd00::2]:3128\n"
)
REDIRECT_TO_PROXY = fw("-t nat -A PREROUTING -p tcp -m multiport --dports 80,443 -j REDIRECT --to-ports 3128")


def test_dnat_to_a_proxy_then_a_forward_and_output_string_drop_is_blocked(lint):
    # Another host: the client's bytes cross FORWARD (line 5 drops them); this host: its proxy
    # asks the service itself, through OUTPUT (line 7 drops that).
    report = lint({"fw.sh": DNAT_TO_PROXY + fw(f"-A FORWARD {FB_STRING}", f"-A OUTPUT {FB_STRING}")})
    assert verdicts(report)["facebook"] == "blocked"
    assert verdicts(report)["twitter"] == "unknown"
    f = next(f for f in report.findings if f.code == "TE101" and f.service == "facebook")
    assert f.span.line == 3
    assert any(f.code == "TE907" and f.span.line == 1 for f in report.findings)


def test_dnat_to_an_address_the_ruleset_does_not_place_is_unknown_when_the_place_decides(lint):
    # FORWARD drops it if 172.16.0.2 is another host; if it is this host's own, INPUT lets it
    # to the proxy: which one it is is the interfaces' business, not the ruleset's.
    report = lint({"fw.sh": DNAT_TO_PROXY + fw(f"-A FORWARD {FB_STRING}")})
    assert verdicts(report)["facebook"] == "unknown"
    f = next(f for f in report.findings if f.code == "TE106" and f.service == "facebook" and f.span.line == 1)
    assert "whether 172.16.0.2 is one of this host's own addresses decides it" in f.message
    assert "line 3 drops it" in f.message and "nothing stops it before the proxy" in f.message


def _fb_to_proxy(catalog, target: str) -> str:
    """nat PREROUTING sends Facebook's addresses (only) to a proxy."""
    return "".join(
        f"{'iptables' if n.version == 4 else 'ip6tables'} -t nat -A PREROUTING -d {n} -p tcp -j {target}\n"
        for n in catalog.services["facebook"].networks
    )


def test_dnat_to_another_host_sees_the_new_destination_in_forward(lint, catalog):
    # FORWARD (and INPUT, were 172.16.0.2 this host's own address) sees 172.16.0.2:3128, not
    # Facebook's address: its drop of the proxy's port stops every connection sent there.
    text = _fb_to_proxy(catalog, "DNAT --to-destination 172.16.0.2:3128").replace(
        "ip6tables -t nat -A PREROUTING", "# ip6tables -t nat -A PREROUTING"
    )
    report = lint(
        {
            "fw.sh": text
            + "iptables -A FORWARD -d 172.16.0.2 -p tcp --dport 3128 -j DROP\n"
            + "iptables -A INPUT -d 172.16.0.2 -p tcp --dport 3128 -j DROP\n"
        }
    )
    assert verdicts(report)["twitter"] == "unaffected"
    f = next(f for f in report.findings if f.service == "facebook" and f.code in ("TE101", "TE102"))
    assert "-A FORWARD -d 172.16.0.2" in f.span.text
    assert "IPv4" in f.message  # Facebook's IPv6 addresses are not sent there


def test_redirect_to_a_local_port_then_an_input_drop_of_that_port_is_blocked(lint, catalog):
    report = lint(
        {
            "fw.sh": _fb_to_proxy(catalog, "REDIRECT --to-ports 3128")
            + fw("-A INPUT -p tcp --dport 3128 -j DROP")
        }
    )
    assert verdicts(report)["facebook"] == "blocked"
    assert verdicts(report)["twitter"] == "unaffected"
    f = next(f for f in report.findings if f.code == "TE101" and f.service == "facebook")
    assert "--dport 3128" in f.span.text


def test_redirect_then_an_input_string_drop_sees_the_clients_host_and_sni(lint):
    report = lint({"fw.sh": REDIRECT_TO_PROXY + fw(f"-A INPUT {FB_STRING}")})
    assert verdicts(report)["facebook"] == "blocked"
    assert verdicts(report)["twitter"] == "unknown"
    f = next(f for f in report.findings if f.code == "TE101" and f.service == "facebook")
    assert f.span.line == 3


def test_redirect_whose_filter_path_passes_is_left_to_the_proxy(lint):
    # -P INPUT DROP, but the proxy's port and established connections are accepted.
    report = lint(
        {
            "fw.sh": REDIRECT_TO_PROXY
            + fw(
                "-P INPUT DROP",
                "-A INPUT -m state --state ESTABLISHED,RELATED -j ACCEPT",
                "-A INPUT -p tcp --dport 3128 -j ACCEPT",
                "-A FORWARD -p tcp --dport 3128 -j DROP",
            )
        }
    )
    assert set(verdicts(report).values()) == {"unknown"}
    assert any(f.code == "TE907" and f.span.line == 1 for f in report.findings)


def test_a_local_proxys_request_dropped_by_address_alone_is_left_to_the_proxy(lint, catalog):
    # OUTPUT drops the proxy's direct connection to Facebook's addresses, but a proxy that
    # forwards through a parent proxy is not stopped by it: how it forwards is its own config's.
    nets = [n for n in catalog.services["facebook"].networks if n.version == 4]
    text = REDIRECT_TO_PROXY + "".join(f"iptables -A OUTPUT -d {n} -j DROP\n" for n in nets)
    report = lint({"fw.sh": text})
    assert verdicts(report)["facebook"] == "unknown"


def test_raw_prerouting_sees_the_original_destination(lint, catalog):
    # raw PREROUTING runs before nat PREROUTING: its drop of the service's addresses holds.
    nets = list(catalog.services["facebook"].networks)
    text = REDIRECT_TO_PROXY + "".join(
        f"{'iptables' if n.version == 4 else 'ip6tables'} -t raw -A PREROUTING -d {n} -j DROP\n" for n in nets
    )
    report = lint({"fw.sh": text})
    assert verdicts(report)["facebook"] == "blocked"
    assert verdicts(report)["twitter"] == "unknown"


def test_this_hosts_own_traffic_dnatted_in_nat_output_meets_filter_output(lint):
    # nat OUTPUT sends this host's browser to a local proxy on port 8080: filter OUTPUT, then
    # the loopback interface into INPUT, where the Host / SNI is dropped.
    report = lint(
        {
            "fw.sh": "iptables -P FORWARD DROP\nip6tables -P FORWARD DROP\n"
            + fw("-t nat -A OUTPUT -p tcp -m multiport --dports 80,443 -j REDIRECT --to-ports 8080")
            + fw(f"-A INPUT -i lo {FB_STRING}")
        }
    )
    assert verdicts(report)["facebook"] == "blocked"
    assert verdicts(report)["twitter"] == "unknown"

"""MikroTik RouterOS exports: filter chains in order, address-lists, tls-host, content, layer7,
DNS static, web-proxy access, time= windows and scheduler scripts."""

from __future__ import annotations

from pathlib import Path

from policy_lint import dialects
from policy_lint.catalog import load_catalog
from tests.conftest import verdicts

FB = load_catalog().services["facebook"]
FB_V4 = [str(n) for n in FB.networks if n.version == 4]
FB_V6 = [str(n) for n in FB.networks if n.version == 6]
HEAD = "# jan/02/2024 10:00:00 by RouterOS 7.12\n"


def codes(report) -> list[str]:
    return [f.code for f in report.findings]


def fb_list(name: str = "fb") -> str:
    v4 = "\n".join(f"add address={n} list={name}" for n in FB_V4)
    v6 = "\n".join(f"add address={n} list={name}" for n in FB_V6)
    return f"/ip firewall address-list\n{v4}\n/ipv6 firewall address-list\n{v6}\n"


def test_detects_exports_by_header_and_menus():
    found = dialects.detect(Path("router.rsc"), HEAD + "/ip firewall filter\nadd chain=forward\n")
    assert found is not None and found.NAME == "mikrotik"
    found = dialects.detect(Path("notes.txt"), "/ip dns static\nadd name=facebook.com address=0.0.0.0\n")
    assert found is not None and found.NAME == "mikrotik"
    assert dialects.detect(Path("notes.md"), "/ip firewall filter\n") is None


def test_tls_host_drop_in_forward_blocks_https(lint):
    report = lint(
        {"r.rsc": HEAD + "/ip firewall filter\nadd action=drop chain=forward tls-host=*facebook.com\n"}
    )
    assert verdicts(report)["facebook"] == "blocked"
    assert verdicts(report)["twitter"] == "unaffected"
    assert next(f for f in report.findings if f.code == "TE101").span.line == 3


def test_tls_host_star_dot_does_not_match_the_bare_domain(lint):
    report = lint({"r.rsc": "/ip firewall filter\nadd action=drop chain=forward tls-host=*.facebook.com\n"})
    assert verdicts(report)["facebook"] == "blocked-partial"  # facebook.com itself still loads


def test_rules_after_accept_established_see_no_client_hello(lint):
    report = lint(
        {
            "r.rsc": "/ip firewall filter\n"
            "add action=accept chain=forward connection-state=established,related\n"
            "add action=drop chain=forward tls-host=*facebook.com\n"
        }
    )
    assert verdicts(report)["facebook"] == "unaffected"


def test_input_and_output_chains_are_the_router_not_users(lint):
    report = lint(
        {
            "r.rsc": "/ip firewall filter\n"
            "add action=drop chain=output tls-host=*facebook.com\n"
            "add action=drop chain=input content=facebook.com\n"
        }
    )
    assert verdicts(report)["facebook"] == "unaffected"


def test_disabled_rules_are_ignored(lint):
    report = lint(
        {"r.rsc": "/ip firewall filter\nadd action=drop chain=forward content=facebook.com disabled=yes\n"}
    )
    assert verdicts(report)["facebook"] == "unaffected"


def test_content_matches_host_header_and_sni(lint):
    report = lint({"r.rsc": "/ip firewall filter\nadd action=reject chain=forward content=facebook.com\n"})
    assert verdicts(report)["facebook"] == "blocked"
    assert "reject" in next(f for f in report.findings if f.code == "TE101").message


def test_continuation_lines_and_quoted_values(lint):
    report = lint(
        {
            "r.rsc": "/ip firewall filter\n"
            'add action=drop chain=forward comment="Blok \\"sosmed\\" di\\\n'
            '    kantor" content=\\\n'
            "    facebook.com\n"
        }
    )
    assert verdicts(report)["facebook"] == "blocked"


def test_address_list_of_every_prefix_used_by_a_drop_blocks(lint):
    report = lint(
        {
            "r.rsc": fb_list() + "/ip firewall filter\nadd action=drop chain=forward dst-address-list=fb\n"
            "/ipv6 firewall filter\nadd action=drop chain=forward dst-address-list=fb\n"
        }
    )
    assert verdicts(report)["facebook"] == "blocked"


def test_one_prefix_is_partial(lint):
    report = lint({"r.rsc": "/ip firewall filter\nadd action=drop chain=forward dst-address=31.13.64.0/18\n"})
    assert verdicts(report)["facebook"] == "blocked-partial"


def test_address_list_no_rule_uses_blocks_nothing_and_is_reported(lint):
    report = lint({"r.rsc": fb_list()})
    assert verdicts(report)["facebook"] == "unaffected"
    assert "TE202" in codes(report)


def test_domain_entries_resolve_through_the_catalog(lint):
    report = lint(
        {
            "r.rsc": "/ip firewall address-list\nadd address=www.facebook.com list=s\n"
            "/ip firewall filter\nadd action=drop chain=forward dst-address-list=s\n"
        }
    )
    v = verdicts(report)
    assert v["facebook"] == "blocked-partial"  # www.facebook.com's connections, not every host
    assert v["twitter"] == "unaffected"


def test_jump_and_return(lint):
    base = (
        "/ip firewall filter\nadd action=jump chain=forward jump-target=social\n"
        "add action=return chain=social {ret}\nadd action=drop chain=social content=facebook.com\n"
    )
    assert verdicts(lint({"r.rsc": base.format(ret="src-address=10.9.9.9")}))["facebook"] == "blocked-partial"
    assert verdicts(lint({"r.rsc": base.format(ret="protocol=tcp")}))["facebook"] == "unaffected"


def test_time_window_is_partial(lint):
    report = lint(
        {
            "r.rsc": "/ip firewall filter\n"
            "add action=drop chain=forward content=facebook.com time=8h-16h,mon,tue,wed,thu,fri\n"
        }
    )
    assert verdicts(report)["facebook"] == "blocked-partial"
    f = next(f for f in report.findings if f.code == "TE102")
    # The audience is told apart by the rule's own window, not a sample moment.
    assert f.audiences == ("within time=8h-16h,mon,tue,wed,thu,fri",)


def test_source_allow_list_makes_it_partial(lint):
    report = lint(
        {
            "r.rsc": "/ip firewall address-list\nadd address=192.168.88.10 list=boss\n"
            "/ip firewall filter\n"
            "add action=drop chain=forward content=facebook.com src-address-list=!boss\n"
        }
    )
    assert verdicts(report)["facebook"] == "blocked-partial"


def test_in_interface_names_an_audience(lint):
    report = lint(
        {
            "r.rsc": "/ip firewall filter\nadd action=drop chain=forward content=facebook.com "
            "in-interface=vlan-guest\n"
        }
    )
    assert verdicts(report)["facebook"] == "blocked-partial"


def test_interface_list_lan_is_where_clients_are(lint):
    report = lint(
        {
            "r.rsc": "/interface list member\nadd interface=bridge list=LAN\nadd interface=ether1 list=WAN\n"
            "/ip firewall filter\nadd action=drop chain=forward content=facebook.com in-interface-list=LAN\n"
        }
    )
    assert verdicts(report)["facebook"] == "blocked"


def test_layer7_regexp(lint):
    report = lint(
        {
            "r.rsc": '/ip firewall layer7-protocol\nadd name=fb regexp="^.+(facebook.com).*\\$"\n'
            "/ip firewall filter\nadd action=drop chain=forward layer7-protocol=fb\n"
        }
    )
    assert verdicts(report)["facebook"] == "blocked"


def test_layer7_not_defined_is_unknown(lint):
    report = lint({"r.rsc": "/ip firewall filter\nadd action=drop chain=forward layer7-protocol=fb\n"})
    assert verdicts(report)["facebook"] == "unknown"


def test_unevaluated_matcher_makes_a_drop_unknown(lint):
    report = lint(
        {
            "r.rsc": "/ip firewall filter\nadd action=drop chain=forward content=facebook.com "
            "connection-mark=social\n"
        }
    )
    assert verdicts(report)["facebook"] == "unknown"


def test_raw_prerouting_drop_blocks(lint):
    report = lint({"r.rsc": "/ip firewall raw\nadd action=drop chain=prerouting content=facebook.com\n"})
    assert verdicts(report)["facebook"] == "blocked"


def test_add_dst_to_address_list_then_drop_blocks_the_next_connection(lint):
    report = lint(
        {
            "r.rsc": "/ip firewall filter\n"
            "add action=drop chain=forward dst-address-list=social\n"
            "add action=add-dst-to-address-list address-list=social chain=forward content=facebook.com\n"
        }
    )
    assert verdicts(report)["facebook"] == "blocked"


def test_dns_static_sinkhole_and_nxdomain(lint):
    report = lint(
        {
            "r.rsc": '/ip dns static\nadd address=0.0.0.0 regexp="(^|\\\\.)facebook\\\\.com\\$"\n'
            "add name=twitter.com type=NXDOMAIN match-subdomain=yes\n"
            "add name=x.com type=NXDOMAIN match-subdomain=yes\n"
        }
    )
    v = verdicts(report)
    assert v["facebook"] == "blocked"
    assert v["twitter"] == "blocked"
    assert "DNS" in next(f for f in report.findings if f.code == "TE101").message


def test_dns_static_is_the_routers_own_when_clients_cannot_query_it(lint):
    report = lint(
        {
            "r.rsc": "/ip dns\nset allow-remote-requests=no\n"
            "/ip dns static\nadd address=0.0.0.0 name=www.facebook.com\n"
        }
    )
    assert verdicts(report)["facebook"] == "unaffected"


def test_proxy_access_applies_to_redirected_http(lint):
    report = lint(
        {
            "r.rsc": "/ip proxy\nset enabled=yes\n/ip proxy access\nadd action=deny dst-host=*facebook*\n"
            "/ip firewall nat\nadd action=redirect chain=dstnat dst-port=80 protocol=tcp to-ports=8080\n"
        }
    )
    assert verdicts(report)["facebook"] == "blocked-partial"  # HTTP only: HTTPS is not redirected


def test_scheduler_disabling_a_rule_makes_it_partial(lint):
    report = lint(
        {
            "r.rsc": "/ip firewall filter\n"
            "add action=drop chain=forward comment=fb content=facebook.com\n"
            "/system scheduler\n"
            'add interval=1d name=fb-off on-event="/ip firewall filter disable [find comment=fb]" '
            "start-time=17:00:00\n"
            'add interval=1d name=fb-on on-event="/ip firewall filter enable [find comment=fb]" '
            "start-time=08:00:00\n"
        }
    )
    assert verdicts(report)["facebook"] == "blocked-partial"


def test_scheduler_script_not_followed_is_unknown(lint):
    report = lint(
        {
            "r.rsc": '/system scheduler\nadd name=x on-event=":foreach i in=[/ip firewall filter find] '
            'do={/ip firewall filter disable \\$i}" start-time=08:00:00\n'
        }
    )
    assert "TE907" in codes(report)
    assert verdicts(report)["facebook"] == "unknown"


def test_set_and_remove_by_number(lint):
    report = lint(
        {
            "r.rsc": "/ip firewall filter\nadd action=drop chain=forward content=facebook.com\n"
            "add action=drop chain=forward content=twitter.com\nremove 1\n"
            "set 0 content=linkedin.com\n"
        }
    )
    v = verdicts(report)
    assert (v["facebook"], v["twitter"], v["linkedin"]) == ("unaffected", "unaffected", "blocked")


def test_bad_input_is_te9xx_not_a_traceback(lint):
    report = lint(
        {
            "r.rsc": '/ip firewall filter\nadd action=drop chain=forward comment="open\n'
            "add action=explode chain=forward\nadd action=drop content=x\n"
            'add action=drop chain=forward time=99x\n/ip dns static\nadd name=a regexp="("\n'
            "/ip firewall filter\nadd action=drop chain=forward dst-address=1.2.3\n"
            "add action=drop chain=forward \\\n"
        }
    )
    assert {"TE901", "TE905"} <= set(codes(report))
    # `add action=drop chain=forward time=99x` drops every forwarded packet at times we cannot
    # read (RouterOS refuses the value: TE901): whether it matches, and so Facebook, is unknown.
    assert verdicts(report)["facebook"] == "unknown"
    assert ("TE106", 5) in {(f.code, f.span.line) for f in report.findings if f.service == "facebook"}


def test_binary_and_huge_inputs_do_not_hang(lint, tmp_path):
    big = "/ip firewall address-list\n" + "".join(
        f"add address=10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256} list=big\n" for i in range(20000)
    )
    report = lint(
        {"r.rsc": big + "/ip firewall filter\nadd action=drop chain=forward dst-address-list=big\n"}
    )
    assert verdicts(report)["facebook"] == "unaffected"
    (tmp_path / "bin.rsc").write_bytes(b"\x00\x01\x02/ip firewall filter\n")
    from policy_lint.engine import Options, lint_paths
    from policy_lint.policy import strict_policy

    cat = load_catalog()
    rep = lint_paths(
        [tmp_path / "bin.rsc"], cat, strict_policy(cat), Options(root=tmp_path, dialect="mikrotik")
    )
    assert rep.errors or not rep.files or rep.files[0].services


# Rules whose dst-address is only plain networks are looked up by network; every other rule is
# always taken. These would catch one kind being tried before the other, out of rule order:
# each file also runs with its two `lan` rules swapped, which is what such a bug would do.


def _jump_chain(*rules: str, established: bool = True) -> str:
    head = "add action=accept chain=forward connection-state=established,related\n" if established else ""
    head += "add action=jump chain=forward jump-target=lan\n"
    return fb_list() + "/ip firewall filter\n" + head + "".join(f"add chain=lan {r}\n" for r in rules)


def test_earlier_unindexed_accept_wins_over_later_indexed_drop_in_a_jump_chain(lint):
    drop = "action=drop dst-address=" + ",".join(FB_V4)  # indexed
    for accept in (
        "dst-address=!10.0.0.0/8",
        "dst-address=0.0.0.0-255.255.255.255",
        "dst-address-list=fb",
        "protocol=tcp",
    ):  # not indexed
        assert (
            verdicts(lint({"r.rsc": _jump_chain(f"action=accept {accept}", drop)}))["facebook"]
            == "unaffected"
        ), accept
        assert (
            verdicts(lint({"r.rsc": _jump_chain(drop, f"action=accept {accept}")}))["facebook"] == "blocked"
        ), accept


def test_earlier_indexed_accept_wins_over_later_unindexed_drop_in_a_jump_chain(lint):
    accept = "action=accept dst-address=" + ",".join(FB_V4)  # indexed
    for drop, established in (
        ("dst-address-list=fb", True),
        ("content=facebook.com", False),
        ("tls-host=*facebook.com", False),
    ):  # not indexed
        assert (
            verdicts(lint({"r.rsc": _jump_chain(accept, f"action=drop {drop}", established=established)}))[
                "facebook"
            ]
            == "unaffected"
        ), drop
        assert (
            verdicts(lint({"r.rsc": _jump_chain(f"action=drop {drop}", accept, established=established)}))[
                "facebook"
            ]
            == "blocked"
        ), drop


def test_indexed_and_unindexed_rules_interleave_in_order(lint):
    text = _jump_chain(
        f"action=drop dst-address={FB_V4[0]}",
        "action=accept protocol=tcp",
        "action=drop dst-address=" + ",".join(FB_V4),
    )
    report = lint({"r.rsc": text})
    assert verdicts(report)["facebook"] == "blocked-partial"  # only the first prefix, before the accept
    assert (
        next(f for f in report.findings if f.code == "TE102").span.line
        == text.splitlines().index(f"add chain=lan action=drop dst-address={FB_V4[0]}") + 1
    )


def test_chain_index_candidates_are_the_rules_that_can_match_in_order():
    import ipaddress
    import random

    from policy_lint.dialects.firewalls.mikrotik import Addr, ChainIndex, ChainRule, Rule
    from policy_lint.dialects.firewalls.mikrotik.model import cidr_of
    from policy_lint.model import Span

    rnd = random.Random(7)
    nets = [
        ipaddress.ip_network(n)
        for n in (
            "10.0.0.0/8",
            "10.1.0.0/16",
            "10.1.2.0/24",
            "10.1.2.3/32",
            "0.0.0.0/0",
            "192.0.2.0/24",
            "2001:db8::/32",
            "::/0",
        )
    ]
    rules: list[ChainRule] = []
    for k in range(400):
        kind = rnd.randrange(5)
        picked = tuple(rnd.sample(nets, rnd.randint(1, 2)))
        dst = (
            None
            if kind == 0
            else Addr(tuple(cidr_of(n) for n in picked))
            if kind < 3
            else Addr(tuple(cidr_of(n) for n in picked), neg=True)
            if kind == 3
            else Addr(
                tuple(cidr_of(n) for n in picked),
                ((4, int(ipaddress.ip_address("10.1.2.0")), int(ipaddress.ip_address("10.1.2.9"))),),
            )
        )
        rules.append(Rule(Span("r", k + 1), 4, "filter", "lan", dst=dst))
    index = ChainIndex(rules)
    for text in (
        "10.1.2.3",
        "10.1.2.4",
        "10.1.9.9",
        "10.200.0.1",
        "192.0.2.1",
        "198.51.100.1",
        "2001:db8::1",
        "0.0.0.0",
        None,
    ):
        addr = ipaddress.ip_address(text) if text else None
        for _ in range(2):  # computed, then cached
            got = index.candidates(addr)
            pos = [rules.index(r) for r in got]
            assert pos == sorted(pos) and len(set(pos)) == len(pos), text
            for r in rules:
                d = r.dst
                if d is None or d.neg or d.ranges:
                    assert r in got, text  # never indexed: always a candidate
                elif addr is None or addr.is_unspecified:
                    assert (r in got) == any(n.prefixlen == 0 for n in d.networks()), text
                else:
                    assert (r in got) == d.has(addr), text


def test_udp_443_drop_is_quic_only_and_says_so(lint):
    report = lint(
        {
            "r.rsc": HEAD + "/ip firewall filter\n"
            'add action=drop chain=forward protocol=udp dst-port=443 comment="no QUIC"\n'
            "add action=drop chain=input protocol=udp dst-port=443\n"
        }
    )
    assert set(verdicts(report).values()) == {"unaffected"}
    assert [f.span.line for f in report.findings if f.code == "TE209"] == [3]  # not the input chain


# --- issue #13: unmodelled matchers, dstnat, raw = forward, servers matched as the source


def test_each_unmodelled_matcher_yields_unknown_from_its_rule(lint):
    """RouterOS matchers the linter does not evaluate (marks set by mangle, address types,
    per-connection-classifier, bridge ports, hotspot): the rule's match is unknown."""
    for matcher in (
        "connection-mark=fb",
        "packet-mark=fb",
        "routing-mark=vpn",
        "src-address-type=local",
        "per-connection-classifier=both-addresses:2/0",
        "in-bridge-port=ether3",
        "hotspot=auth",
    ):
        report = lint(
            {"r.rsc": HEAD + f"/ip firewall filter\nadd action=drop chain=forward {matcher}\n"},
            dialect="mikrotik",
        )
        assert verdicts(report)["facebook"] == "unknown", matcher
        assert any(f.code == "TE106" and f.span.line == 3 for f in report.findings), matcher


def test_dst_nat_of_the_service_addresses_elsewhere_blocks(lint):
    """Sending the service's IPv4 addresses to another host is the same as dropping them."""
    drop = lint(
        {
            "r.rsc": HEAD
            + f"/ip firewall filter\nadd action=drop chain=forward dst-address-list=fb\n{fb_list()}"
        },
        dialect="mikrotik",
    )
    report = lint(
        {
            "r.rsc": HEAD + "/ip firewall nat\n"
            f"add action=dst-nat chain=dstnat dst-address-list=fb to-addresses=10.0.0.9\n{fb_list()}"
        },
        dialect="mikrotik",
    )
    assert verdicts(report)["facebook"] == verdicts(drop)["facebook"] == "blocked"
    f = next(f for f in report.findings if f.service == "facebook" and f.code in ("TE101", "TE102"))
    assert f.span.line == 3 and "redirect" in f.message
    assert verdicts(report)["twitter"] == "unaffected"


def test_dst_nat_of_all_https_to_another_host_is_unknown_with_te907(lint):
    report = lint(
        {
            "r.rsc": HEAD + "/ip firewall nat\n"
            "add action=dst-nat chain=dstnat protocol=tcp dst-port=443 to-addresses=10.0.0.5 to-ports=3129\n"
        },
        dialect="mikrotik",
    )
    assert verdicts(report)["facebook"] == "unknown"
    assert any(f.code == "TE907" and f.span.line == 3 for f in report.findings)


def test_dstnat_accept_exempts_and_srcnat_never_redirects(lint):
    report = lint(
        {
            "r.rsc": HEAD + "/ip firewall nat\n"
            "add action=accept chain=dstnat protocol=tcp\n"
            "add action=redirect chain=dstnat protocol=tcp to-ports=8080\n"
            "add action=masquerade chain=srcnat\n"
        },
        dialect="mikrotik",
    )
    assert verdicts(report)["facebook"] == "unaffected"


def test_raw_prerouting_drop_is_the_same_as_forward(lint):
    """The router's own output is no audience: a drop of client traffic in raw prerouting is a
    block exactly as in filter forward."""
    got = []
    for menu, chain in (("raw", "prerouting"), ("filter", "forward")):
        report = lint(
            {"r.rsc": HEAD + f"/ip firewall {menu}\nadd action=drop chain={chain} content=facebook.com\n"},
            dialect="mikrotik",
        )
        got.append(verdicts(report)["facebook"])
    assert got == ["blocked", "blocked"]


def test_drop_by_source_names_the_servers_not_clients(lint):
    nets = ",".join(FB_V4 + FB_V6)
    report = lint(
        {"r.rsc": HEAD + f"/ip firewall filter\nadd action=drop chain=forward src-address={nets}\n"},
        dialect="mikrotik",
    )
    f = next(f for f in report.findings if f.service == "facebook" and f.code == "TE101")
    assert "for everyone" in f.message and "replies from its servers" in f.message


# ---- whom a rule reaches, in the export's words (issue #13, item 12)

EXEMPT = "/ip firewall filter\nadd chain=forward src-address=10.0.0.5 action=accept\n"


def test_a_rule_after_an_exemption_names_whom_it_reaches_not_a_sample_address(lint):
    # RouterOS: the first matching rule decides; 10.0.0.5 is accepted before the drop.
    report = lint(
        {"r.rsc": EXEMPT + "add chain=forward protocol=tcp dst-port=443 tls-host=*facebook.com action=drop\n"}
    )
    f = next(f for f in report.findings if f.service == "facebook" and f.code in ("TE101", "TE102"))
    assert f.message.startswith("Facebook blocked for clients not in src-address=10.0.0.5 by ")
    assert f.audiences == ("clients not in src-address=10.0.0.5",)
    assert "192.168.77.77" not in f.message


def test_a_scoped_rule_after_an_exemption_says_whom_of_its_scope_it_reaches(lint):
    report = lint(
        {
            "r.rsc": EXEMPT + "add chain=forward in-interface=ether2 protocol=tcp dst-port=443 "
            "tls-host=*facebook.com action=drop\n"
        }
    )
    f = next(f for f in report.findings if f.service == "facebook" and f.code in ("TE101", "TE102"))
    assert f.message.startswith("Facebook blocked for clients not in src-address=10.0.0.5 & in ether2 by ")


def test_a_scoped_rule_nobody_is_exempted_from_keeps_its_own_words(lint):
    report = lint(
        {
            "r.rsc": "/ip firewall filter\nadd chain=forward in-interface=ether2 protocol=tcp dst-port=443 "
            "tls-host=*facebook.com action=drop\nadd chain=forward src-address=10.0.0.5 action=accept\n"
        }
    )
    f = next(f for f in report.findings if f.service == "facebook" and f.code in ("TE101", "TE102"))
    assert f.message.startswith("Facebook blocked for in-interface=ether2 by ")


def test_nested_source_conditions_tell_the_clients_apart(lint):
    report = lint(
        {
            "r.rsc": EXEMPT + "add chain=forward src-address=10.0.0.0/8 protocol=tcp dst-port=443 "
            "tls-host=*facebook.com action=drop\n"
        }
    )
    f = next(f for f in report.findings if f.service == "facebook" and f.code in ("TE101", "TE102"))
    assert f.message.startswith(
        "Facebook blocked for clients in src-address=10.0.0.0/8 but not in src-address=10.0.0.5 by "
    )


# ---- policy routing into a VPN or tunnel (issue #13, item 7)

VPN_ROUTE = "/routing table\nadd name=to_vpn fib\n/ip route\nadd dst-address=0.0.0.0/0 gateway=wg0 routing-table=to_vpn\n"


def test_mark_routing_into_a_vpn_table_is_unknown_with_te907(lint):
    # RouterOS policy routing: mangle prerouting mark-routing selects the routing table the
    # routing decision uses; its route leaves through wg0, whose filtering is not in the file.
    report = lint(
        {
            "r.rsc": VPN_ROUTE + "/ip firewall mangle\nadd chain=prerouting src-address=192.168.88.50 "
            "action=mark-routing new-routing-mark=to_vpn passthrough=no\n"
        }
    )
    assert verdicts(report)["twitter"] == "unknown"
    te907 = [f for f in report.findings if f.code == "TE907"]
    assert [f.span.line for f in te907] == [6]
    assert (
        "sends all traffic it matches by routing table to_vpn (add dst-address=0.0.0.0/0" in te907[0].message
    )
    f = next(f for f in report.findings if f.code == "TE106" and f.service == "twitter")
    assert f.message.startswith("Twitter / X: cannot decide for src-address=192.168.88.50 at ")


def test_a_filter_drop_still_blocks_routed_clients(lint):
    # The forward filter runs after the routing decision: a drop there blocks whatever the route.
    report = lint(
        {
            "r.rsc": VPN_ROUTE + "/ip firewall mangle\nadd chain=prerouting action=mark-routing "
            "new-routing-mark=to_vpn\n/ip firewall filter\nadd chain=forward protocol=tcp dst-port=443 "
            "tls-host=*facebook.com action=drop\n"
        }
    )
    v = verdicts(report)
    assert v["facebook"] == "blocked" and v["linkedin"] == "unknown"


def test_mark_routing_of_the_service_addresses_is_unknown_for_that_service_only(lint):
    report = lint(
        {
            "r.rsc": VPN_ROUTE + "/ip firewall mangle\nadd chain=prerouting dst-address=157.240.0.0/16 "
            "action=mark-routing new-routing-mark=to_vpn\n"
        }
    )
    v = verdicts(report)
    assert v["facebook"] == "unknown" and v["twitter"] == "unaffected"
    assert any("sends connections it matches" in f.message for f in report.findings if f.code == "TE907")


def test_a_mangle_accept_before_the_mark_exempts(lint):
    report = lint(
        {
            "r.rsc": VPN_ROUTE + "/ip firewall mangle\nadd chain=prerouting action=accept\n"
            "add chain=prerouting action=mark-routing new-routing-mark=to_vpn\n"
        }
    )
    assert verdicts(report)["facebook"] == "unaffected"
    assert not any(f.code == "TE907" for f in report.findings)

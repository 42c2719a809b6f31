"""The network view on small repositories: segments declared in the settings and inferred from
DHCP, composed along their paths (a DNS block void for a resolver elsewhere, a firewall set
filled by a DNS server the segment does not ask, a tunnel), and the settings' validation."""

from __future__ import annotations

from pathlib import Path

import pytest

from policy_lint.engine import Options, Report, lint_paths
from policy_lint.inputs import InputError
from policy_lint.network import attach
from policy_lint.network.segments import load_segments
from policy_lint.policy import strict_policy
from tests.network.repos import OFFICE, VPS, write_repo


def network_of(root: Path, catalog) -> Report:
    policy = strict_policy(catalog)
    report = lint_paths([root], catalog, policy, Options(root=root))
    settings = root / ".policy-lint.yaml"
    attach(report, str(settings) if settings.exists() else "", root, catalog, policy)
    return report


def table(report: Report) -> dict[str, dict[str, str]]:
    assert report.network is not None
    return {
        s.segment.name: {sid: o.verdict.value for sid, o in s.services.items()}
        for s in report.network.segments
    }


def files(report: Report) -> dict[str, dict[str, str]]:
    return {Path(f.path).name: {sid: r.verdict.value for sid, r in f.services.items()} for f in report.files}


def test_office_guest_resolver_elsewhere_voids_the_pihole_block(tmp_path, catalog):
    report = network_of(write_repo(tmp_path, OFFICE), catalog)
    # Per file: the Pi-hole blocks Facebook, squid blocks LinkedIn for guests.
    assert files(report)["regex.list"]["facebook"] == "blocked"
    assert files(report)["squid.conf"]["linkedin"] == "blocked-partial"
    net = table(report)
    # Staff ask the Pi-hole: Facebook blocked at the DNS layer; squid lets staff use LinkedIn.
    assert net["staff"]["facebook"] == "blocked"
    assert net["staff"]["linkedin"] == "unaffected"
    # Guests ask 9.9.9.9: the Pi-hole's block is void for them; squid's guest rule blocks LinkedIn.
    assert net["guest"]["facebook"] == "unaffected"
    assert net["guest"]["linkedin"] == "blocked"
    guest = next(s for s in report.network.segments if s.segment.name == "guest")
    li = guest.services["linkedin"]
    assert li.decided_by is not None and li.decided_by.line == 5 and "deny guest social" in li.decided_by.text
    assert [x.verdict for x in guest.services["facebook"].layers] == ["bypassed", "unaffected", "unaffected"]
    codes = {(f.code, f.service, f.audiences) for f in report.findings}
    assert ("TE111", "facebook", ("guest",)) in codes
    assert ("TE110", "facebook", ("staff",)) in codes
    assert ("TE110", "linkedin", ("guest",)) in codes


def test_office_without_settings_has_no_network(tmp_path, catalog):
    files_only = {k: v for k, v in OFFICE.items() if k != ".policy-lint.yaml"}
    report = network_of(write_repo(tmp_path, files_only), catalog)
    assert report.network is None
    assert not any(f.code in ("TE110", "TE111") for f in report.findings)


def test_vps_dhcp_ranges_become_segments_and_the_ipset_needs_the_lookup(tmp_path, catalog):
    report = network_of(write_repo(tmp_path, VPS), catalog)
    # Per file the firewall blocks Facebook (the set dnsmasq fills).
    assert files(report)["iptables.rules"]["facebook"] == "blocked"
    net = table(report)
    # The VPN range asks dnsmasq (its listen-address): the set is filled, Facebook is blocked.
    assert net["vpn"]["facebook"] == "blocked"
    # The guest range asks 9.9.9.9: dnsmasq never sees its lookups, so the set holds only what
    # others looked up: unknown, never blocked by guess.
    assert net["guest"]["facebook"] == "unknown"
    guest = next(s for s in report.network.segments if s.segment.name == "guest")
    assert guest.segment.origin == "inferred"
    assert guest.segment.span.line == 5  # the dhcp-range line
    fw = next(x for x in guest.services["facebook"].layers if x.role == "firewall")
    assert fw.verdict == "unknown" and "filled by" in fw.note
    assert net["vpn"]["twitter"] == "unaffected"


def test_private_resolver_no_file_listens_on_is_an_unresolved_link(tmp_path, catalog):
    repo = dict(VPS)
    repo["dnsmasq.conf"] = (
        VPS["dnsmasq.conf"].replace("6,9.9.9.9", "6,10.9.0.53") + "address=/facebook.com/#\n"
    )
    report = network_of(write_repo(tmp_path, repo), catalog)
    net = table(report)
    assert net["guest"]["facebook"] == "unknown"
    unresolved = [f for f in report.findings if f.code == "TE903" and "10.9.0.53" in f.message]
    assert unresolved and unresolved[0].span.line == 5 and unresolved[0].span.path.endswith("dnsmasq.conf")


def test_declared_segment_path_to_a_missing_file_is_unknown(tmp_path, catalog):
    repo = dict(OFFICE)
    repo[".policy-lint.yaml"] = """
        network:
          segments:
            - name: lab
              clients: [10.7.0.0/24]
              path: [pihole/, firewall/missing.rules]
        """
    report = network_of(write_repo(tmp_path, repo), catalog)
    assert table(report)["lab"]["twitter"] == "unknown"
    assert table(report)["lab"]["facebook"] == "blocked"  # blocked on any layer blocks
    f = next(f for f in report.findings if f.code == "TE903")
    assert f.span.path.endswith(".policy-lint.yaml") and f.span.line == 5 and "missing.rules" in f.message


def test_tunnel_skips_the_layers_it_names(tmp_path, catalog):
    repo = dict(OFFICE)
    repo["router/iptables.rules"] = """
        *filter
        :INPUT ACCEPT [0:0]
        :FORWARD ACCEPT [0:0]
        :OUTPUT ACCEPT [0:0]
        -A FORWARD -s 10.1.0.0/24 -p tcp --dport 443 -m string --string linkedin.com --algo bm -j DROP
        -A FORWARD -d 13.107.42.14 -j DROP
        COMMIT
        """
    repo[".policy-lint.yaml"] = """
        network:
          segments:
            - name: staff
              clients: [10.1.0.0/24]
              path: [pihole/, squid/squid.conf]
              pinned: [facebook]
              tunnel: {services: [facebook], via: wg0, skips: [squid/squid.conf]}
        """
    report = network_of(write_repo(tmp_path, repo), catalog)
    staff = report.network.segments[0]
    fb = staff.services["facebook"]
    # Pinned: the Pi-hole's block is void; tunnelled past squid: reachable through wg0.
    assert fb.verdict.value == "allowed"
    assert [x.verdict for x in fb.layers] == ["bypassed", "bypassed"]
    assert any(f.code == "TE111" and "wg0" in f.message for f in report.findings)


def test_audiences_the_segment_cannot_be_placed_in_make_the_layer_unknown(tmp_path, catalog):
    repo = dict(OFFICE)
    repo[".policy-lint.yaml"] = """
        network:
          segments:
            - name: lab
              clients: [10.7.0.0/24]
              path: [squid/squid.conf]
        """
    report = network_of(write_repo(tmp_path, repo), catalog)
    layer = report.network.segments[0].services["linkedin"].layers[0]
    assert layer.verdict == "unknown" and "tells clients apart" in layer.note
    # squid denies every other client all web access: that too may or may not be the lab.
    assert table(report)["lab"]["facebook"] == "unknown"


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        (
            "network:\n  segments:\n    - name: a\n      path: [x]\n      colour: red\n",
            5,
            "unknown key 'colour'",
        ),
        (
            "network:\n  segments:\n    - name: a\n      clients: [10.0.0.300/8]\n      path: [x]\n",
            4,
            "not an address",
        ),
        ("network:\n  segments:\n    - name: a\n      clients: [10.0.0.0/8]\n", 3, "needs a path"),
        (
            "network:\n  segments:\n    - {name: a, path: [x]}\n    - {name: a, path: [y]}\n",
            4,
            "declared twice",
        ),
        ("network:\n  segments: {a: 1}\n", 2, "must be a list"),
        (
            "network:\n  segments:\n    - name: a\n      path: [x]\n      tunnel: {via: wg0}\n",
            5,
            "needs services",
        ),
    ],
)
def test_settings_errors_name_file_and_line(tmp_path, text, line, words):
    settings = tmp_path / ".policy-lint.yaml"
    settings.write_text(text)
    with pytest.raises(InputError) as exc:
        load_segments(str(settings))
    assert f".policy-lint.yaml:{line}:" in str(exc.value) and words in str(exc.value)


def test_settings_schema_reads_every_key(tmp_path):
    settings = tmp_path / ".policy-lint.yaml"
    settings.write_text(
        "network:\n  segments:\n    - name: guest\n      clients: [10.50.0.0/24, guest-vlan]\n"
        "      path: [dns/, fw.rules]\n      resolver: dns/\n      pinned: [Facebook]\n"
        "      tunnel: {services: [twitter], via: wg0, skips: [fw.rules]}\n      description: visitors\n"
    )
    (seg,) = load_segments(str(settings))
    assert seg.names == ("guest-vlan",) and str(seg.networks[0]) == "10.50.0.0/24"
    assert seg.path == (tmp_path.resolve() / "dns", tmp_path.resolve() / "fw.rules")
    assert seg.resolver == str(tmp_path.resolve() / "dns") and seg.pinned == ("facebook",)
    assert seg.tunnel is not None and seg.tunnel.via == "wg0" and seg.span.line == 3


def test_captive_portal_dnat_is_an_unresolved_link_and_redirect_links_squid(tmp_path, catalog):
    from tests.network.repos import PORTAL

    report = network_of(write_repo(tmp_path, PORTAL), catalog)
    net = table(report)
    # Guests: DNATed to a portal no linted config is: every verdict unknown, TE903 names both ends.
    assert net["guest"]["linkedin"] == "unknown" and net["guest"]["facebook"] == "unknown"
    portal = [f for f in report.findings if f.code == "TE903" and "10.60.0.2:8080" in f.message]
    assert portal and portal[0].span.line == 4 and portal[0].span.path.endswith("router.rules")
    # Staff: port 80 redirected to squid's intercept port: squid is on their path and decides,
    # but only for plain HTTP (HTTPS is not intercepted): LinkedIn partly blocked, not blocked.
    assert net["staff"]["linkedin"] == "blocked-partial"
    assert net["staff"]["twitter"] == "blocked-partial"  # dnsmasq (their resolver) sinks twitter.com
    # The firewall's "a transparent proxy decides" is settled by the linked squid layer.
    assert net["staff"]["facebook"] == "unaffected"
    staff = next(s for s in report.network.segments if s.segment.name == "staff")
    squid = next(x for x in staff.services["linkedin"].layers if x.role == "proxy")
    assert squid.verdict == "blocked-partial" and "HTTPS passes it by" in squid.note
    assert squid.rule is not None and squid.rule.line == 5


def test_split_tunnel_policy_routing_is_allowed_through_the_tunnel(tmp_path, catalog):
    from tests.network.repos import SPLIT_TUNNEL

    report = network_of(write_repo(tmp_path, SPLIT_TUNNEL), catalog)
    net = table(report)
    assert net["lan"]["twitter"] == "allowed"
    assert net["lan"]["facebook"] == "unaffected"
    routed = [f for f in report.findings if f.code == "TE111" and f.service == "twitter"]
    assert routed and "wg0" in routed[0].message and "routing.sh:3" in routed[0].message
    assert routed[0].span.path.endswith("iptables.rules") and routed[0].span.line == 3


def test_policy_routing_into_a_table_without_route_is_unresolved(tmp_path, catalog):
    from tests.network.repos import SPLIT_TUNNEL

    repo = dict(SPLIT_TUNNEL)
    repo["routing.sh"] = "#!/bin/sh\nip rule add fwmark 0x1 lookup 100\n"
    report = network_of(write_repo(tmp_path, repo), catalog)
    assert table(report)["lan"]["twitter"] == "unknown"
    assert table(report)["lan"]["facebook"] == "unaffected"
    f = next(f for f in report.findings if f.code == "TE903" and f.service == "twitter")
    assert "table 100" in f.message and "routing.sh:2" in f.message and f.span.line == 3


def test_policy_routing_alone_implies_a_segment(tmp_path, catalog):
    from tests.network.repos import SPLIT_TUNNEL

    repo = {k: v for k, v in SPLIT_TUNNEL.items() if k != "dnsmasq.conf"}
    repo["dnsmasq-sets.conf"] = "ipset=/twitter.com/x.com/twimg.com/vpnroute\n"
    report = network_of(write_repo(tmp_path, repo), catalog)
    (seg,) = report.network.segments
    assert seg.segment.name == "routed 10.1.0.0/24"
    # The firewall lets it through to wg0; the DNS server's place is not stated: unknown, not allowed.
    assert seg.services["twitter"].verdict.value == "unknown"


def test_isc_dhcpd_and_kea_subnets_hand_out_resolvers(tmp_path, catalog):
    repo = {
        "dns/dnsmasq.conf": "listen-address=10.1.0.1\naddress=/facebook.com/#\n",
        "dhcp/dhcpd.conf": """
            option domain-name-servers 10.1.0.1;
            subnet 10.1.0.0 netmask 255.255.255.0 {
              range 10.1.0.10 10.1.0.200;
            }
            subnet 10.50.0.0 netmask 255.255.255.0 {
              range 10.50.0.10 10.50.0.200;
              option domain-name-servers 9.9.9.9;
            }
            """,
        "dhcp/kea-dhcp4.conf": """
            {
              // the lab's Kea server
              "Dhcp4": {
                "subnet4": [
                  {"id": 7, "subnet": "10.7.0.0/24",
                   "option-data": [{"name": "domain-name-servers", "data": "10.7.0.53"}]}
                ]
              }
            }
            """,
    }
    report = network_of(write_repo(tmp_path, repo), catalog)
    net = table(report)
    assert net["dhcp 10.1.0.0/24"]["facebook"] == "blocked"  # the global option: the dnsmasq
    assert net["dhcp 10.50.0.0/24"]["facebook"] == "unaffected"  # its own option: 9.9.9.9
    assert net["dhcp 10.7.0.0/24"]["facebook"] == "unknown"  # 10.7.0.53: no linted server
    lab = next(s for s in report.network.segments if s.segment.name == "dhcp 10.7.0.0/24")
    assert lab.segment.span.path.endswith("kea-dhcp4.conf") and lab.segment.span.line == 5
    guest = next(s for s in report.network.segments if s.segment.name == "dhcp 10.50.0.0/24")
    assert guest.segment.span.line == 5


def test_a_policy_exception_for_the_segment_accepts_its_network_block(tmp_path, catalog):
    import datetime as dt

    from policy_lint.model import Severity, Span
    from policy_lint.policy import Exception_, NamedAudience, Policy

    root = write_repo(tmp_path, OFFICE)
    guests = NamedAudience("guests", (__import__("ipaddress").ip_network("10.50.0.0/16"),))
    policy = Policy(
        "t",
        "t.yaml",
        dict.fromkeys(catalog.services, Severity.ERROR),
        audiences={"guests": guests, "everyone": NamedAudience("everyone")},
        exceptions=[Exception_("linkedin", "guests", "visitors", dt.date(2099, 1, 1), Span("t.yaml", 1))],
    )
    report = lint_paths([root], catalog, policy, Options(root=root))
    attach(report, str(root / ".policy-lint.yaml"), root, catalog, policy)
    assert any(
        f.code == "TE110" and f.service == "linkedin" and f.audiences == ("guest",) for f in report.accepted
    )
    assert not any(f.code == "TE110" and f.service == "linkedin" for f in report.findings)
    assert any(f.code == "TE110" and f.service == "facebook" for f in report.findings)  # staff: no exception


def test_pihole_dhcp_hands_out_the_pihole(tmp_path, catalog):
    repo = {
        "pihole/regex.list": r"(^|\.)facebook\.com$" + "\n",
        "pihole/setupVars.conf": "DHCP_ACTIVE=true\nDHCP_START=192.168.1.100\nDHCP_END=192.168.1.199\n",
    }
    report = network_of(write_repo(tmp_path, repo), catalog)
    (seg,) = report.network.segments
    # Exactly the leased addresses (the subnet's mask is the interface's, not in the files).
    assert seg.segment.clients == (
        "192.168.1.100/30",
        "192.168.1.104/29",
        "192.168.1.112/28",
        "192.168.1.128/26",
        "192.168.1.192/29",
    )
    assert seg.services["facebook"].verdict.value == "blocked"
    assert seg.segment.span.path.endswith("setupVars.conf") and seg.segment.span.line == 2


def test_mikrotik_dhcp_network_names_its_dns_server(tmp_path, catalog):
    repo = {
        "router.rsc": """
            /ip dhcp-server network
            add address=10.20.0.0/24 dns-server=9.9.9.9 gateway=10.20.0.1
            add address=10.30.0.0/24 gateway=10.30.0.1
            /ip firewall filter
            add chain=forward action=accept
            """,
        "dnsmasq.conf": "address=/facebook.com/#\n",
    }
    report = network_of(write_repo(tmp_path, repo), catalog)
    net = table(report)
    assert net["dhcp 10.20.0.0/24"]["facebook"] == "unaffected"  # asks 9.9.9.9: the dnsmasq is void
    assert net["dhcp 10.30.0.0/24"]["facebook"] == "unknown"  # no dns-server: the router's own DNS


def test_the_dialects_that_imply_segments_are_all_asked_for() -> None:
    """attach() skips the network modules for a lint of no SEGMENT_DIALECTS file (start-up
    time): every dialect the scanners, markers and segment inference read must be in it."""
    import re

    from policy_lint.network import SEGMENT_DIALECTS, links
    from policy_lint.network.intercept import SCANNERS
    from policy_lint.network.routing import MARKERS

    inferred = set(re.findall(r'fr\.dialect == "([^"]+)"', Path(links.__file__).read_text()))
    assert inferred
    assert set(SCANNERS) | set(MARKERS) | inferred <= SEGMENT_DIALECTS

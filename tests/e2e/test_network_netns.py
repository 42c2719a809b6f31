"""The network verdict against real traffic, in private network namespaces the test makes.

A router namespace runs Debian's dnsmasq and nftables from the repository's own files
(tests/network/repos.py NETNS_VPN): dnsmasq answers from a stub upstream on the router's
loopback that maps Facebook's names to 203.0.113.10 and every other name to 198.51.100.10
(both held by a stand-in server namespace), answers NXDOMAIN for LinkedIn, and fills the
nftables set `social` with what it answers for facebook.com; nftables drops forwarded traffic
to the set. A `vpn` client asks dnsmasq; a `guest` client asks a resolver elsewhere (a second
stub on the server). Each connects to every primary host of every service: a service the
static network verdict calls `blocked` for its segment must fail on every one (no address, or
no connection), one it calls `unaffected` must connect on every one. `unknown` verdicts (the
guests' Facebook: the set holds only what others looked up) are not asserted.

Skipped (a failure under POLICY_LINT_REQUIRE_E2E=1) without root or ip/nft/dnsmasq, or where
namespaces cannot be made. Only documentation-range addresses; no packet leaves the
namespaces; every program is bounded in time and ended by its process id.
"""

from __future__ import annotations

import json

from policy_lint.catalog import PRIMARY
from tests.conftest import skip_or_fail
from tests.e2e.netns_harness import (
    BLOCKED_ADDRESS,
    OPEN_ADDRESS,
    OUTSIDE_RESOLVER,
    ROUTER_ADDRESS,
    missing_tools,
    network,
)
from tests.network.repos import NETNS_VPN, write_repo
from tests.network.test_network import network_of

AGENT_SECONDS = "120"
WEB_PORT = "443"
START_TRIES = 50


def test_clients_are_refused_exactly_as_the_network_verdicts_say(tmp_path, catalog):
    why = missing_tools()
    if why:
        skip_or_fail(why)
    root = write_repo(tmp_path / "repo", NETNS_VPN)
    report = network_of(root, catalog)
    assert report.network is not None
    verdicts = {
        s.segment.name: {sid: o.verdict.value for sid, o in s.services.items()}
        for s in report.network.segments
    }
    # The static view first: what the live network must then do.
    assert verdicts["vpn"]["facebook"] == "blocked" and verdicts["vpn"]["linkedin"] == "blocked"
    assert verdicts["guest"]["linkedin"] == "unaffected"  # the DNS block is void for the guests
    assert verdicts["guest"]["facebook"] == "unknown"  # the set holds only others' lookups

    # The stubs' map follows the catalog, not the verdicts: Facebook's names to the address
    # the set will hold, every other name to the other stand-in.
    mapping = {d.domain: BLOCKED_ADDRESS for d in catalog.services["facebook"].domains}
    mapping[""] = OPEN_ADDRESS
    seen: dict[str, dict[str, dict[str, dict]]] = {}
    try:
        with network() as net:
            net.must(net.router, ["nft", "-f", str(root / "router.nft")])
            net.start(
                net.router,
                net.agent(net.router, "stub", "127.0.0.1", "5300", AGENT_SECONDS, json.dumps(mapping)),
            )
            net.start(
                net.server,
                net.agent(net.server, "stub", OUTSIDE_RESOLVER, "53", AGENT_SECONDS, json.dumps(mapping)),
            )
            net.start(net.server, net.agent(net.server, "listen", WEB_PORT, AGENT_SECONDS))
            net.start(
                net.router,
                [
                    "dnsmasq",
                    "--keep-in-foreground",
                    "--log-facility=-",
                    "--pid-file=",
                    "--user=root",
                    f"--dhcp-leasefile={tmp_path / 'leases'}",
                    f"--conf-file={root / 'dnsmasq.conf'}",
                ],
                ready=None,
            )
            clients = {"vpn": (net.client, ROUTER_ADDRESS), "guest": (net.guest, OUTSIDE_RESOLVER)}

            def probe(segment: str, host: str) -> dict:
                ns, resolver = clients[segment]
                return json.loads(net.must(ns, net.agent(ns, "probe", resolver, host, WEB_PORT)))

            for segment in clients:
                control: dict = {}
                for _ in range(START_TRIES):  # dnsmasq answers once it is up: a bounded wait
                    control = probe(segment, catalog.control_host)
                    if control["addresses"]:
                        break
                assert control.get("connected"), f"{segment}: the control site must be reachable: {control}"
            for segment in clients:
                seen[segment] = {}
                for sid, svc in catalog.services.items():
                    hosts = sorted(
                        {p.host for p in svc.probes() if p.role == PRIMARY and p.scheme == "https"}
                    )
                    seen[segment][sid] = {host: probe(segment, host) for host in hosts}
    except PermissionError as exc:
        skip_or_fail(f"cannot make network namespaces here: {exc}")
        return
    for segment, by_service in verdicts.items():
        for sid, verdict in by_service.items():
            reached = {h: bool(r["addresses"]) and r["connected"] for h, r in seen[segment][sid].items()}
            if verdict == "blocked":
                assert not any(reached.values()), (
                    f"{segment}/{sid}: the network verdict is blocked, but {reached}"
                )
            elif verdict == "unaffected":
                assert all(reached.values()), (
                    f"{segment}/{sid}: the network verdict is unaffected, but {reached}"
                )

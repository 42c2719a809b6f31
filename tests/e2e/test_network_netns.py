"""The network verdict against real traffic, in private network namespaces the test makes.

A router namespace runs Debian's dnsmasq and nftables from the repository's own files
(tests/network/repos.py NETNS_VPN): dnsmasq answers from a stub upstream on the router's
loopback that maps Facebook's names to 203.0.113.10 and every other name to 198.51.100.10
(both held by a stand-in server namespace), and fills the nftables set `social` with what it
answers for facebook.com; nftables drops forwarded traffic to the set. A client namespace on
the `vpn` DHCP range asks dnsmasq and connects to each service's primary hosts: a service the
static network verdict calls `blocked` for the segment must be refused on every one, one it
calls `unaffected` reachable on every one.

Skipped (a failure under POLICY_LINT_REQUIRE_E2E=1) without root or ip/nft/dnsmasq, or where
namespaces cannot be made. Only documentation-range addresses; no packet leaves the
namespaces; every program is bounded in time and ended by its process id.
"""

from __future__ import annotations

import json

from policy_lint.catalog import PRIMARY
from tests.conftest import skip_or_fail
from tests.e2e.netns_harness import BLOCKED_ADDRESS, OPEN_ADDRESS, ROUTER_ADDRESS, missing_tools, network
from tests.network.repos import NETNS_VPN, write_repo
from tests.network.test_network import network_of

AGENT_SECONDS = "90"
WEB_PORT = "443"


def test_client_is_refused_exactly_as_the_network_verdict_says(tmp_path, catalog):
    why = missing_tools()
    if why:
        skip_or_fail(why)
    root = write_repo(tmp_path / "repo", NETNS_VPN)
    report = network_of(root, catalog)
    assert report.network is not None
    vpn = next(s for s in report.network.segments if s.segment.name == "vpn")
    verdicts = {sid: o.verdict.value for sid, o in vpn.services.items()}
    assert verdicts["facebook"] == "blocked" and set(verdicts.values()) <= {"blocked", "unaffected"}

    # The stub's map follows the catalog, not the verdicts: Facebook's names to the address the
    # set will hold, every other name to the other stand-in.
    mapping = {d.domain: BLOCKED_ADDRESS for d in catalog.services["facebook"].domains}
    mapping[""] = OPEN_ADDRESS
    try:
        with network() as net:
            net.must(net.router, ["nft", "-f", str(root / "router.nft")])
            net.start(net.router, net.agent(net.router, "stub", "5300", AGENT_SECONDS, json.dumps(mapping)))
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
            seen: dict[str, dict[str, bool]] = {}

            def probe(host: str) -> dict:
                out = net.must(net.client, net.agent(net.client, "probe", ROUTER_ADDRESS, host, WEB_PORT))
                return json.loads(out)

            # dnsmasq answers once it is up: wait (bounded) for the control name to resolve.
            control = {}
            for _ in range(50):
                control = probe(catalog.control_host)
                if control["addresses"]:
                    break
            assert control.get("connected"), f"the control site must be reachable: {control}"
            for sid, svc in catalog.services.items():
                hosts = sorted({p.host for p in svc.probes() if p.role == PRIMARY and p.scheme == "https"})
                seen[sid] = {}
                for host in hosts:
                    result = probe(host)
                    assert result["addresses"], f"{host} did not resolve: {result}"
                    seen[sid][host] = result["connected"]
    except PermissionError as exc:
        skip_or_fail(f"cannot make network namespaces here: {exc}")
        return
    for sid, verdict in verdicts.items():
        reached = set(seen[sid].values())
        if verdict == "blocked":
            assert reached == {False}, f"{sid}: the network verdict is blocked, but {seen[sid]}"
        else:
            assert reached == {True}, f"{sid}: the network verdict is {verdict}, but {seen[sid]}"

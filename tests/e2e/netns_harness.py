"""Private network namespaces for end-to-end tests of the network view.

`network()` makes four namespaces joined by veth pairs, holding only documentation-range
addresses (RFC 5737), and removes them afterwards whatever happens:

    client  c0 192.0.2.10/25  ---- r0 192.0.2.1/25    router   r1 203.0.113.1/24 ---- s0 203.0.113.10/24  server
    guest   g0 192.0.2.130/25 ---- r2 192.0.2.129/25  (forwards)                      + 198.51.100.10/24
            (default via the router)                                                   + 198.51.100.53/24

The router forwards between them; the server holds the stand-in addresses the stub DNS maps
the services' names to, and a second stub (the guests' resolver "elsewhere"). Nothing is routed out of the namespaces: none of them has a link
to the host's network. Every command is bounded in time; programs started in a namespace are
ended by their process id on the way out.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from tests.conftest import REPO

COMMAND_TIMEOUT = 20.0
START_TIMEOUT = 10.0
STOP_TIMEOUT = 5.0

CLIENT_ADDRESS = "192.0.2.10"  # the vpn segment: 192.0.2.0/25
ROUTER_ADDRESS = "192.0.2.1"
GUEST_ADDRESS = "192.0.2.130"  # the guest segment: 192.0.2.128/25
GUEST_ROUTER = "192.0.2.129"
BLOCKED_ADDRESS = "203.0.113.10"  # the stand-in for the service the firewall drops
OPEN_ADDRESS = "198.51.100.10"  # the stand-in for every other name
OUTSIDE_RESOLVER = "198.51.100.53"  # a resolver "elsewhere" (on the server), the guests' one


def missing_tools() -> str:
    """Why the namespace test cannot run here ("" when it can)."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    for tool in ("ip", "nft", "dnsmasq"):
        if shutil.which(tool) is None and not os.path.exists(f"/usr/sbin/{tool}"):
            return f"{tool} is not installed"
    return ""


def _tool(name: str) -> str:
    return shutil.which(name) or f"/usr/sbin/{name}"


def run(argv: list[str], timeout: float = COMMAND_TIMEOUT) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False, cwd=REPO)


@dataclass
class Network:
    client: str
    router: str
    server: str
    guest: str
    processes: list[subprocess.Popen] = field(default_factory=list)

    def names(self) -> tuple[str, ...]:
        return (self.client, self.router, self.server, self.guest)

    def exec(self, ns: str, argv: list[str], timeout: float = COMMAND_TIMEOUT) -> subprocess.CompletedProcess:
        return run([_tool("ip"), "netns", "exec", ns, *argv], timeout)

    def must(self, ns: str, argv: list[str]) -> str:
        done = self.exec(ns, argv)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} in {ns}: {done.stderr.strip()[-500:]}")
        return done.stdout

    def start(self, ns: str, argv: list[str], ready: str | None = "ready") -> subprocess.Popen:
        """A program in `ns`, in the background; waits for its first line to be `ready`."""
        proc = subprocess.Popen(
            [_tool("ip"), "netns", "exec", ns, *argv],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=REPO,
        )
        self.processes.append(proc)
        if ready is not None:
            assert proc.stdout is not None
            line = proc.stdout.readline()  # the agents print "ready" at once; bounded by their own deadline
            if line.strip() != ready:
                raise RuntimeError(
                    f"{argv[0]} did not start in {ns}: {line}{proc.stdout.read()[-500:] if proc.poll() is not None else ''}"
                )
        return proc

    def agent(self, ns: str, *args: str) -> list[str]:
        return [sys.executable, "-m", "tests.e2e.netns_agents", *args]

    def stop(self) -> None:
        for proc in reversed(self.processes):
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=STOP_TIMEOUT)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=STOP_TIMEOUT)
            if proc.stdout:
                proc.stdout.close()


def _veth(router: str, inside: str, ns: str, outside: str) -> list[str]:
    ip = _tool("ip")
    return [ip, "-n", router, "link", "add", inside, "type", "veth", "peer", "name", outside, "netns", ns]


def _setup(net: Network) -> None:
    ip = _tool("ip")
    steps = [
        _veth(net.router, "r0", net.client, "c0"),
        _veth(net.router, "r2", net.guest, "g0"),
        _veth(net.router, "r1", net.server, "s0"),
        [ip, "-n", net.client, "addr", "add", f"{CLIENT_ADDRESS}/25", "dev", "c0"],
        [ip, "-n", net.guest, "addr", "add", f"{GUEST_ADDRESS}/25", "dev", "g0"],
        [ip, "-n", net.router, "addr", "add", f"{ROUTER_ADDRESS}/25", "dev", "r0"],
        [ip, "-n", net.router, "addr", "add", f"{GUEST_ROUTER}/25", "dev", "r2"],
        [ip, "-n", net.router, "addr", "add", "203.0.113.1/24", "dev", "r1"],
        [ip, "-n", net.server, "addr", "add", f"{BLOCKED_ADDRESS}/24", "dev", "s0"],
        [ip, "-n", net.server, "addr", "add", f"{OPEN_ADDRESS}/24", "dev", "s0"],
        [ip, "-n", net.server, "addr", "add", f"{OUTSIDE_RESOLVER}/24", "dev", "s0"],
    ]
    links = ((net.client, "c0"), (net.guest, "g0"), (net.router, "r0"), (net.router, "r2"))
    for ns, dev in (*links, (net.router, "r1"), (net.server, "s0")):
        steps.append([ip, "-n", ns, "link", "set", dev, "up"])
    for ns in net.names():
        steps.append([ip, "-n", ns, "link", "set", "lo", "up"])
    steps += [
        [ip, "-n", net.client, "route", "add", "default", "via", ROUTER_ADDRESS],
        [ip, "-n", net.guest, "route", "add", "default", "via", GUEST_ROUTER],
        [ip, "-n", net.server, "route", "add", "default", "via", "203.0.113.1"],
        [ip, "-n", net.router, "route", "add", "198.51.100.0/24", "via", BLOCKED_ADDRESS],
    ]
    for argv in steps:
        done = run(argv)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)}: {done.stderr.strip()}")
    net.must(net.router, ["sysctl", "-q", "-w", "net.ipv4.ip_forward=1"])


@contextlib.contextmanager
def network() -> Iterator[Network]:
    tag = f"pl{os.getpid() % 100000}"
    names = [f"{tag}c", f"{tag}r", f"{tag}s", f"{tag}g"]
    made: list[str] = []
    net = Network(names[0], names[1], names[2], names[3])
    try:
        for name in names:
            done = run([_tool("ip"), "netns", "add", name])
            if done.returncode != 0:
                raise PermissionError(f"ip netns add: {done.stderr.strip()}")
            made.append(name)
        _setup(net)
        yield net
    finally:
        net.stop()
        for name in made:
            run([_tool("ip"), "netns", "del", name])


def wait_for(predicate, timeout: float = START_TIMEOUT) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False

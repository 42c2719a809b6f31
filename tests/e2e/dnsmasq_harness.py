"""A real dnsmasq on 127.0.0.1 for end-to-end tests.

- the stub upstream it forwards to is `tests.e2e.dns_stub.stub_upstream()`: a UDP DNS server on
  127.0.0.1 (free high port) answering every A query with 192.0.2.1 and every AAAA query with
  2001:db8::1 (documentation addresses), so that "dnsmasq forwarded the name" is visible as
  exactly that answer;
- `running_dnsmasq(conf, upstream_port, tmpdir)`: Debian's dnsmasq in the foreground on
  127.0.0.1:<free high port>, reading only the given config file (plus what it includes), with
  `--no-resolv --no-hosts` and the stub as its only default upstream;
- `ask(port, name, qtype)`: one query with dnspython; returns ("NXDOMAIN"|"REFUSED"|...,
  [addresses]).

Nothing leaves 127.0.0.1 (configs handed to dnsmasq must name only loopback upstreams; see
`loopback_only`), and every wait is bounded.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import dns.rrset

LOOPBACK = "127.0.0.1"
START_TIMEOUT = 10.0
START_ATTEMPTS = 5
STOP_TIMEOUT = 5.0
QUERY_TIMEOUT = 2.0


def find_dnsmasq() -> str | None:
    found = shutil.which("dnsmasq")
    if found:
        return found
    if os.access("/usr/sbin/dnsmasq", os.X_OK):
        return "/usr/sbin/dnsmasq"
    return None


def free_udp_port() -> int:
    """A port free over UDP and TCP alike (dnsmasq listens on both)."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind((LOOPBACK, 0))
            port = s.getsockname()[1]
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
            try:
                t.bind((LOOPBACK, port))
            except OSError:
                continue
        return port


_SERVER_ADDR = re.compile(
    r"^(\s*(?:server|local|rev-server)\s*=\s*(?:/[^#\n]*/)?)([0-9a-fA-F:.]+)(#\d+)?(@\S*)?\s*$", re.M
)


def loopback_only(text: str, upstream_port: int) -> str:
    """Rewrite every upstream address in a config to the stub (nothing may leave 127.0.0.1)."""
    return _SERVER_ADDR.sub(lambda m: f"{m.group(1)}{LOOPBACK}#{upstream_port}", text)


@dataclass
class Dnsmasq:
    port: int
    process: subprocess.Popen


def ask(port: int, name: str, qtype: str = "A") -> tuple[str, list[str]]:
    q = dns.message.make_query(name, qtype)
    r = dns.query.udp(q, LOOPBACK, port=port, timeout=QUERY_TIMEOUT)
    addrs = [
        item.to_text()
        for rrset in r.answer
        for item in rrset
        if rrset.rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA)
    ]
    return dns.rcode.to_text(r.rcode()), addrs


@contextlib.contextmanager
def running_dnsmasq(conf: Path, upstream_port: int | None, binary: str | None = None) -> Iterator[Dnsmasq]:
    """upstream_port None: no default upstream at all (only what the config names)."""
    binary = binary or find_dnsmasq()
    assert binary, "dnsmasq not installed"
    # Another process may take the port between our probe and dnsmasq's bind: try a few.
    for attempt in range(START_ATTEMPTS):
        try:
            with _running_dnsmasq(conf, upstream_port, binary) as d:
                yield d
                return
        except PortTaken:
            if attempt == START_ATTEMPTS - 1:
                raise RuntimeError(f"dnsmasq found no free port in {START_ATTEMPTS} attempts") from None


class PortTaken(RuntimeError):
    pass


@contextlib.contextmanager
def _running_dnsmasq(conf: Path, upstream_port: int | None, binary: str) -> Iterator[Dnsmasq]:
    port = free_udp_port()
    argv = [
        binary,
        "--keep-in-foreground",
        "--log-facility=-",
        f"--port={port}",
        f"--listen-address={LOOPBACK}",
        "--bind-interfaces",
        "--no-resolv",
        "--no-hosts",
        "--pid-file=",
        "--cache-size=0",
        f"--conf-file={conf}",
    ]
    if upstream_port is not None:
        argv.append(f"--server={LOOPBACK}#{upstream_port}")
    if os.geteuid() == 0:
        argv.append("--user=nobody")
    proc = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=conf.parent, text=True
    )
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if proc.poll() is not None:
                out = proc.stdout.read() if proc.stdout else ""
                if "Address already in use" in out:
                    raise PortTaken(out)
                raise RuntimeError(f"dnsmasq exited with {proc.returncode}: {out[-2000:]}")
            try:
                ask(port, "ready.invalid.", "A")
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"dnsmasq did not answer within {START_TIMEOUT} s") from None
                time.sleep(0.05)
        yield Dnsmasq(port, proc)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=STOP_TIMEOUT)
        if proc.stdout:
            proc.stdout.close()


def syntax_check(conf: Path, binary: str | None = None) -> tuple[bool, str]:
    """`dnsmasq --test`: whether dnsmasq accepts the config, and what it said."""
    binary = binary or find_dnsmasq()
    assert binary is not None, "dnsmasq is not installed"
    p = subprocess.run(
        [binary, "--test", f"--conf-file={conf}"], capture_output=True, text=True, timeout=30, cwd=conf.parent
    )
    return p.returncode == 0, (p.stdout + p.stderr).strip()

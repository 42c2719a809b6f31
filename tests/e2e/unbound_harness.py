"""A real unbound on 127.0.0.1 for end-to-end tests, forwarding to the stub upstream of
dns_stub.py (`stub_upstream()`: every A query answered with 192.0.2.1, every AAAA query with
2001:db8::1, documentation addresses, so that "unbound resolved the name normally" is visible as
exactly that answer).

- `running_unbound(workdir, body, stub_port)`: Debian's unbound in the foreground
  (`unbound -d -c`) on 127.0.0.1:<free high port>, unprivileged in the sense that it binds no
  privileged port, uses no chroot and no remote control, keeps its pid file in `workdir`, and
  forwards every name it resolves to the stub (`forward-zone: "."`, `do-not-query-localhost:
  no`): it never reaches the internet;
- `ask(port, name)`: one A query with dnspython (retried over TCP when truncated), returned as
  an `Answer` (rcode, addresses, CNAME targets, timed out or not);
- `checkconf(conf)`: `unbound-checkconf` on a config: whether unbound accepts it.

Every wait is bounded.
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
from dataclasses import dataclass, field
from pathlib import Path

import dns.exception
import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import dns.rrset

LOOPBACK = "127.0.0.1"
START_TIMEOUT = 15.0
STOP_TIMEOUT = 5.0
QUERY_TIMEOUT = 0.6  # the daemon answers from 127.0.0.1 in milliseconds; a drop waits this long

# Settings of a config under test that would let unbound leave 127.0.0.1, bind elsewhere, or need
# files we do not provide: commented out before it runs (our own settings come after them).
_NEUTRALISED = re.compile(
    r"^(\s*)(interface|ip-address|port|outgoing-interface|username|chroot|directory|pidfile|logfile|"
    r"use-syslog|do-daemonize|root-hints|auto-trust-anchor-file|trust-anchor-file|trust-anchor|"
    r"trusted-keys-file|tls-cert-bundle|forward-addr|forward-host|stub-addr|stub-host|primary|master|"
    r"url|control-enable|control-interface|control-port|module-config|access-control)\s*:",
    re.M,
)


def find_unbound() -> str | None:
    for name in ("unbound",):
        found = shutil.which(name)
        if found:
            return found
        if os.access(f"/usr/sbin/{name}", os.X_OK):
            return f"/usr/sbin/{name}"
    return None


def find_checkconf() -> str | None:
    return shutil.which("unbound-checkconf") or (
        "/usr/sbin/unbound-checkconf" if os.access("/usr/sbin/unbound-checkconf", os.X_OK) else None
    )


def free_port() -> int:
    """A port free on 127.0.0.1 for both UDP and TCP (unbound listens on both)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.bind((LOOPBACK, 0))
            port = u.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
                try:
                    t.bind((LOOPBACK, port))
                except OSError:
                    continue
                return port
    raise RuntimeError("no free port on 127.0.0.1")


def neutralise(text: str) -> str:
    """Comment out a config's own listening, privilege, upstream and trust-anchor settings."""
    return _NEUTRALISED.sub(lambda m: f"{m.group(1)}# (test) {m.group(2)}:", text)


@dataclass
class Answer:
    rcode: str = ""
    addresses: list[str] = field(default_factory=list)
    cnames: list[str] = field(default_factory=list)
    timed_out: bool = False
    truncated: bool = False

    def __str__(self) -> str:
        if self.timed_out:
            return "no answer (timeout)"
        extra = f" CNAME {' -> '.join(self.cnames)}" if self.cnames else ""
        return f"{self.rcode} {self.addresses}{extra}" + (" (TC, then TCP)" if self.truncated else "")


def ask(port: int, name: str, qtype: str = "A", timeout: float = QUERY_TIMEOUT) -> Answer:
    q = dns.message.make_query(name, qtype)
    try:
        r = dns.query.udp(q, LOOPBACK, port=port, timeout=timeout)
    except dns.exception.Timeout:
        return Answer(timed_out=True)
    truncated = bool(r.flags & dns.flags.TC)
    if truncated:
        try:
            r = dns.query.tcp(q, LOOPBACK, port=port, timeout=timeout * 3)
        except (dns.exception.Timeout, OSError):
            return Answer(timed_out=True, truncated=True)
    addrs = [
        item.to_text()
        for rrset in r.answer
        for item in rrset
        if rrset.rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA)
    ]
    cnames = [
        item.target.to_text().rstrip(".").lower()
        for rrset in r.answer
        for item in rrset
        if rrset.rdtype == dns.rdatatype.CNAME
    ]
    return Answer(dns.rcode.to_text(r.rcode()), addrs, cnames, False, truncated)


@dataclass
class Unbound:
    port: int
    process: subprocess.Popen
    conf: Path


def wrapper(workdir: Path, body: str, port: int, stub_port: int, modules: str = "respip iterator") -> str:
    """The config unbound runs: `body` (the settings under test) and then ours."""
    return (
        f"{body.rstrip()}\n\n"
        f"server:\n"
        f"  interface: {LOOPBACK}\n"
        f"  port: {port}\n"
        f"  do-daemonize: no\n"
        f'  username: ""\n'
        f'  chroot: ""\n'
        f'  directory: "{workdir}"\n'
        f'  pidfile: "{workdir}/unbound.pid"\n'
        f"  use-syslog: no\n"
        f'  logfile: ""\n'
        f"  verbosity: 1\n"
        f"  do-ip6: no\n"
        f"  do-not-query-localhost: no\n"
        f"  qname-minimisation: no\n"
        f"  access-control: 127.0.0.0/8 allow\n"
        f'  module-config: "{modules}"\n'
        f"remote-control:\n"
        f"  control-enable: no\n"
        f"forward-zone:\n"
        f'  name: "."\n'
        f"  forward-addr: {LOOPBACK}@{stub_port}\n"
    )


def write_config(
    workdir: Path, body: str, stub_port: int, port: int = 0, modules: str = "respip iterator"
) -> Path:
    conf = workdir / "unbound.conf"
    conf.write_text(wrapper(workdir, body, port or free_port(), stub_port, modules))
    return conf


@contextlib.contextmanager
def running_unbound(
    workdir: Path,
    body: str,
    stub_port: int,
    modules: str = "respip iterator",
    binary: str | None = None,
    attempts: int = 5,
) -> Iterator[Unbound]:
    """Start unbound on a free port (another port when the one picked is taken meanwhile)."""
    for attempt in range(attempts):
        port = free_port()
        conf = write_config(workdir, body, stub_port, port, modules)
        try:
            with _running(conf, port, binary) as daemon:
                yield daemon
                return
        except _PortTaken:
            if attempt == attempts - 1:
                raise RuntimeError(f"unbound could not bind a port in {attempts} attempts") from None


class _PortTaken(RuntimeError):
    pass


@contextlib.contextmanager
def _running(conf: Path, port: int, binary: str | None = None) -> Iterator[Unbound]:
    binary = binary or find_unbound()
    assert binary, "unbound not installed"
    proc = subprocess.Popen(
        [binary, "-d", "-c", str(conf)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        cwd=conf.parent,
        text=True,
    )
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if proc.poll() is not None:
                out = proc.stdout.read() if proc.stdout else ""
                if "Address already in use" in out:
                    raise _PortTaken(out)
                raise RuntimeError(f"unbound exited with {proc.returncode}: {out[-3000:]}")
            a = ask(port, "ready.invalid.", "A", timeout=0.2)
            if not a.timed_out:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"unbound did not answer within {START_TIMEOUT} s")
            time.sleep(0.05)
        yield Unbound(port, proc, conf)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=STOP_TIMEOUT)
        if proc.stdout:
            proc.stdout.close()


def checkconf(conf: Path, binary: str | None = None) -> tuple[bool, str]:
    """`unbound-checkconf`: whether unbound accepts the config, and what it said."""
    binary = binary or find_checkconf()
    assert binary, "unbound-checkconf not installed"
    p = subprocess.run([binary, str(conf)], capture_output=True, text=True, timeout=60, cwd=conf.parent)
    return p.returncode == 0, (p.stdout + p.stderr).strip()

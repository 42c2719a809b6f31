"""A stub upstream DNS server on 127.0.0.1 for the DNS daemons' differential tests: it answers
every A query with 192.0.2.1 and every AAAA query with 2001:db8::1 (documentation addresses),
so a name the daemon forwards is told apart from one it blocks, and no real name is resolved."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import dns.flags
import dns.message
import dns.rdatatype
import dns.rrset

LOOPBACK = "127.0.0.1"
STUB_A = "192.0.2.1"
STUB_AAAA = "2001:db8::1"


@dataclass
class Stub:
    port: int
    queries: int = 0


@contextlib.contextmanager
def stub_upstream() -> Iterator[Stub]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((LOOPBACK, 0))
    sock.settimeout(0.2)
    stub = Stub(sock.getsockname()[1])
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                data, peer = sock.recvfrom(4096)
            except (TimeoutError, OSError):
                continue
            try:
                query = dns.message.from_wire(data)
            except Exception:
                continue
            response = dns.message.make_response(query)
            response.flags |= dns.flags.RA
            for q in query.question:
                if q.rdtype == dns.rdatatype.A:
                    response.answer.append(dns.rrset.from_text(q.name, 60, "IN", "A", STUB_A))
                elif q.rdtype == dns.rdatatype.AAAA:
                    response.answer.append(dns.rrset.from_text(q.name, 60, "IN", "AAAA", STUB_AAAA))
            stub.queries += 1
            with contextlib.suppress(OSError):
                sock.sendto(response.to_wire(), peer)

    thread = threading.Thread(target=serve, name="stub-upstream", daemon=True)
    thread.start()
    try:
        yield stub
    finally:
        stop.set()
        thread.join(timeout=2)
        sock.close()

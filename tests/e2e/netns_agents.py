"""Small programs the network-namespace end-to-end test runs inside its namespaces
(`python -m tests.e2e.netns_agents KIND ...`), each bounded in time:

- `stub ADDRESS PORT SECONDS MAP`: a DNS server on ADDRESS:PORT answering A queries for names under
  MAP's suffixes (JSON {"suffix": "address"}; "" is the default) with documentation-range
  addresses, NXDOMAIN otherwise; it exits after SECONDS.
- `listen PORT SECONDS`: a TCP server on every address of its namespace that accepts and
  closes connections; it exits after SECONDS.
- `probe RESOLVER NAME PORT`: one A query to RESOLVER:53, then one TCP connection to the first
  address on PORT (2 s each); prints {"name", "addresses", "connected"} as JSON.

No real name is resolved and no real address is used: the stub answers from its map only.
"""

from __future__ import annotations

import json
import socket
import sys
import time

import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import dns.rrset

STEP = 0.2


def stub(address: str, port: int, seconds: float, mapping: dict[str, str]) -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((address, port))
    sock.settimeout(STEP)
    deadline = time.monotonic() + seconds
    print("ready", flush=True)
    while time.monotonic() < deadline:
        try:
            data, peer = sock.recvfrom(4096)
            query = dns.message.from_wire(data)
        except (TimeoutError, OSError):
            continue
        except Exception:
            continue
        response = dns.message.make_response(query)
        response.flags |= dns.flags.RA
        for q in query.question:
            name = q.name.to_text().rstrip(".").lower()
            answer: str | None = next(
                (
                    a
                    for suffix, a in mapping.items()
                    if suffix and (name == suffix or name.endswith("." + suffix))
                ),
                mapping.get(""),
            )
            if answer is None:
                response.set_rcode(dns.rcode.NXDOMAIN)
            elif q.rdtype == dns.rdatatype.A:
                response.answer.append(dns.rrset.from_text(q.name, 60, "IN", "A", answer))
        sock.sendto(response.to_wire(), peer)


def listen(port: int, seconds: float) -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("0.0.0.0", port))
    sock.listen(16)
    sock.settimeout(STEP)
    deadline = time.monotonic() + seconds
    print("ready", flush=True)
    while time.monotonic() < deadline:
        try:
            conn, _peer = sock.accept()
        except (TimeoutError, OSError):
            continue
        conn.close()


def probe(resolver: str, name: str, port: int) -> None:
    query = dns.message.make_query(name, "A")
    addresses: list[str] = []
    try:
        answer = dns.query.udp(query, resolver, timeout=2.0)
        addresses = [r.address for rr in answer.answer if rr.rdtype == dns.rdatatype.A for r in rr]
    except Exception:
        pass
    connected = False
    if addresses:
        try:
            socket.create_connection((addresses[0], port), timeout=2.0).close()
            connected = True
        except OSError:
            connected = False
    print(json.dumps({"name": name, "addresses": addresses, "connected": connected}))


def main(argv: list[str]) -> None:
    kind = argv[0]
    if kind == "stub":
        stub(argv[1], int(argv[2]), float(argv[3]), json.loads(argv[4]))
    elif kind == "listen":
        listen(int(argv[1]), float(argv[2]))
    elif kind == "probe":
        probe(argv[1], argv[2], int(argv[3]))
    else:
        raise SystemExit(f"unknown agent {kind!r}")


if __name__ == "__main__":
    main(sys.argv[1:])

"""What a PAC answer (`PROXY a; SOCKS5 b; DIRECT`) means: each entry parsed the way Chrome
parses it, and whether connecting through it gets anywhere."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from policy_lint.dialects.semantics.tunnels import LOCAL_PROXY_PORTS

DEFAULT_PORTS = {
    "PROXY": 80,
    "HTTP": 80,
    "HTTPS": 443,
    "QUIC": 443,
    "SOCKS": 1080,
    "SOCKS4": 1080,
    "SOCKS5": 1080,
}
BLACKHOLE_NAME = re.compile(
    r"black|sink.?hole|block|deny|denied|reject|nowhere|null|void|dead|drop|banned|"
    r"forbid",
    re.I,
)
BLACKHOLE_HOSTS = re.compile(
    r"^(black-?hole|sink-?hole|blocked|block|deny|denied|reject|null|nowhere|void|"
    r"dev-?null|discard)$",
    re.I,
)
DOC_NETS = tuple(
    ipaddress.ip_network(n) for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32")
)
_ASSIGNED_STRING = re.compile(r"""([A-Za-z_$][\w$]*)\s*[:=]\s*(["'])((?:\\.|(?!\2)[^\\\n])*)\2""")


@dataclass(frozen=True)
class Entry:
    text: str
    kind: str  # direct | proxy | black-hole | unknown | invalid
    why: str = ""


def _split_host_port(rest: str, default: int) -> tuple[str, int] | None:
    if not rest or "@" in rest or any(c.isspace() for c in rest):
        return None
    if rest.startswith("["):
        host, sep, tail = rest[1:].partition("]")
        if not sep or not host:
            return None
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            return None
        if not tail:
            return host, default
        if not tail.startswith(":"):
            return None
        port_text = tail[1:]
    elif ":" in rest:
        host, _, port_text = rest.rpartition(":")
    else:
        return (rest, default) if re.fullmatch(r"[\w.-]+", rest) else None
    if not host or not re.fullmatch(r"[\w.-]+|[0-9a-fA-F:]+", host) or not port_text.isdigit():
        return None
    port = int(port_text)
    return (host, port) if port <= 65535 else None


def classify_entry(text: str, blackhole_literals: set[str]) -> Entry:
    """One element of a PAC answer, the way Chrome parses it (proxy_string_util.cc), and what
    connecting through it does."""
    text = text.strip()
    kind, _, rest = text.partition(" ")
    kind = kind.upper()
    rest = rest.strip()
    if kind == "DIRECT":
        return Entry(text, "direct") if not rest else Entry(text, "invalid", "DIRECT takes no host")
    if kind not in DEFAULT_PORTS:
        return Entry(text, "invalid", f"'{kind}' is not a proxy type (PROXY, HTTPS, SOCKS, SOCKS5, DIRECT)")
    hp = _split_host_port(rest, DEFAULT_PORTS[kind])
    if hp is None:
        return Entry(text, "invalid", "not host:port")
    host, port = hp
    host = host.lower().rstrip(".")
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        ip = None
    if port == 0:
        return Entry(text, "black-hole", "port 0 accepts no connection")
    if ip is not None and (
        ip.is_unspecified
        or ip.is_multicast
        or ip == ipaddress.ip_address("255.255.255.255")
        or (ip.version == 4 and ip in ipaddress.ip_network("240.0.0.0/4"))
    ):
        return Entry(text, "black-hole", f"{host} is not a reachable host")
    if ip is not None and any(ip.version == n.version and ip in n for n in DOC_NETS):
        return Entry(text, "black-hole", f"{host} is a documentation address (RFC 5737), routed nowhere")
    if host == "invalid" or host.endswith(".invalid"):
        return Entry(text, "black-hole", "a .invalid name never resolves (RFC 6761)")
    if BLACKHOLE_HOSTS.match(host.split(".")[0]):
        return Entry(text, "black-hole", f"a proxy named '{host}'")
    if _norm_entry(text) in blackhole_literals:
        return Entry(text, "black-hole", "the script keeps it in a variable named as a black hole")
    if host == "localhost" or host.endswith(".localhost") or (ip is not None and ip.is_loopback):
        if port < 1024:
            return Entry(text, "black-hole", f"nothing listens on port {port} of the client itself")
        if port not in LOCAL_PROXY_PORTS:
            return Entry(
                text,
                "unknown",
                f"a proxy on the client itself ({host}:{port}): a black hole unless "
                "a local proxy listens there",
            )
        return Entry(text, "proxy", f"a local proxy or tunnel ({host}:{port})")
    return Entry(text, "proxy", f"through {kind} {host}:{port}")


def _norm_entry(text: str) -> str:
    return " ".join(text.split()).upper()


def blackhole_literals(source: str) -> set[str]:
    """Proxy entries the script stores under names such as `blackhole`, `BLOCKED`, `deny`."""
    out: set[str] = set()
    for m in _ASSIGNED_STRING.finditer(source):
        if BLACKHOLE_NAME.search(m.group(1)):
            for part in m.group(3).split(";"):
                if part.strip() and not part.strip().upper().startswith("DIRECT"):
                    out.add(_norm_entry(part))
    return out


# --------------------------------------------------------------------------- client samples

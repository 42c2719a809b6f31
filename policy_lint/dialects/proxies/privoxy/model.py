"""What reading a Privoxy configuration yields and evaluating it reads: action-file sections,
missing files, the trust file, forwarding rules, and what a forwarding target is."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from policy_lint.dialects.proxies.privoxy.urlmatch import UrlPattern, atoi
from policy_lint.dialects.semantics.tunnels import LOCAL_PROXY_PORTS
from policy_lint.model import Span

NAME = "privoxy"
FILE_PATTERNS = ("*.action", "privoxy.conf", "privoxy*.conf", "privoxy.config")

FORWARD_DIRECTIVES = (
    "forward",
    "forward-socks4",
    "forward-socks4a",
    "forward-socks5",
    "forward-socks5t",
    "forward-webserver",
)


@dataclass
class Section:
    """One `{ actions }` header and its patterns; `changes` maps a deciding action to
    ("+", value) or ("-", None). A header Privoxy cannot parse is `broken`: its effect is
    unknown."""

    span: Span
    changes: dict[str, tuple[str, str | None]]
    patterns: list[UrlPattern] = field(default_factory=list)
    broken: bool = False
    via: Span | None = None  # the `actionsfile` line that loaded the file

    @property
    def deciding(self) -> bool:
        return self.broken or bool(self.changes)


@dataclass
class MissingFile:
    """An action file that is named but not there: what it would decide is unknown, for the
    services in `unknown_for` (None: every service; empty: assumed to decide nothing)."""

    span: Span
    name: str
    unknown_for: frozenset[str] | None


@dataclass
class Trust:
    span: Span
    entries: list[tuple[bool, UrlPattern]]  # (trusted, pattern), in file order
    missing: bool = False


@dataclass(frozen=True)
class Forward:
    """Where a request goes: direct (`.`), through a proxy/tunnel, or into a black hole."""

    directive: str
    kind: str  # direct | tunnel | black-hole | unknown
    target: str
    span: Span
    pattern: UrlPattern | None = None  # None for forward-override{}


def _endpoint(address: str, default_port: int) -> tuple[str, int]:
    """parse_forwarder_address(): [user:pass@]host[:port], [ipv6]:port."""
    addr = address.rsplit("@", 1)[-1]
    port = default_port
    if addr.startswith("[") and "]" in addr:
        host, _, rest = addr[1:].partition("]")
        if rest.startswith(":"):
            port = atoi(rest[1:])
    elif ":" in addr:
        host, _, p = addr.partition(":")
        port = atoi(p)
    else:
        host = addr
    return host.lower(), port


def classify_target(directive: str, args: list[str]) -> tuple[str, str]:
    """(kind, target text) of a forwarding target, given the arguments after the pattern."""
    if directive == "forward":
        if args[0] == ".":
            return "direct", "."
        hops = [_endpoint(args[0], 8000)]
    elif directive == "forward-webserver":
        hops = [_endpoint(args[0], 80)]
    else:
        hops = [_endpoint(args[0], 1080)]
        if len(args) > 1 and args[1] != ".":
            hops.append(_endpoint(args[1], 8000))
    host, port = hops[0]
    target = " ".join(args)
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        ip = None
    if (
        port <= 0
        or port > 65535
        or (ip is not None and (ip.is_multicast or ip == ipaddress.ip_address("255.255.255.255")))
    ):
        return "black-hole", target
    # A connection to 0.0.0.0 reaches this machine (Linux), like one to 127.0.0.1.
    loopback = host == "localhost" or (ip is not None and (ip.is_loopback or ip.is_unspecified))
    if loopback:
        if port < 1024:
            return "black-hole", target
        if port not in LOCAL_PROXY_PORTS:
            return "unknown", target
    return "tunnel", target


# --------------------------------------------------------------------------- pcrs redirects

"""Access-control entries as IOS and ASA evaluate them: first match, implicit deny.

    ip access-list extended BLOCK            (IOS: wildcard masks)
     10 deny tcp any 31.13.64.0 0.0.63.255 eq 443
     20 permit ip any any
    access-list OUT extended deny tcp any host 31.13.64.35 eq https    (ASA: netmasks)

The entries are walked in order (by sequence number where given); the first one whose protocol,
source, destination and ports all match decides, permit or deny. A list with at least one entry
ends in an implicit `deny ip any any`; a list with no entry (or only remarks) permits
everything (IOS and ASA alike). A condition the reader cannot evaluate (an unknown port name,
a `time-range`, an object not in the file) makes the entry's match unknown: if it might decide
differently from the entry that does match, the answer is unknown at that entry.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass, field

from policy_lint.model import Span

IPv4 = ipaddress.IPv4Address

# Port names as IOS and ASA print them (Cisco IOS "show ip access-lists" / ASA "TCP and UDP
# ports" table). A name not here makes the entry's match unknown.
PORT_NAMES = {
    "www": 80,
    "http": 80,
    "https": 443,
    "domain": 53,
    "ftp": 21,
    "ftp-data": 20,
    "ssh": 22,
    "telnet": 23,
    "smtp": 25,
    "pop3": 110,
    "imap4": 143,
    "ntp": 123,
    "snmp": 161,
    "bootps": 67,
    "bootpc": 68,
    "tftp": 69,
    "isakmp": 500,
    "ldap": 389,
    "ldaps": 636,
    "sqlnet": 1521,
    "h323": 1720,
    "sip": 5060,
    "rtsp": 554,
    "nntp": 119,
    "irc": 194,
    "echo": 7,
    "discard": 9,
    "finger": 79,
    "gopher": 70,
    "kerberos": 88,
    "netbios-ssn": 139,
    "netbios-ns": 137,
    "netbios-dgm": 138,
    "syslog": 514,
    "cmd": 514,
    "rsh": 514,
    "lpd": 515,
    "citrix-ica": 1494,
    "pptp": 1723,
    "whois": 43,
    "time": 37,
}
# IP protocol keywords and numbers that match TCP (the probes are TCP connections).
TCP_PROTOCOLS = {"ip", "tcp", "6", "object-group", "object"}
OTHER_PROTOCOLS = {
    "udp",
    "17",
    "icmp",
    "1",
    "gre",
    "47",
    "esp",
    "50",
    "ahp",
    "ah",
    "51",
    "eigrp",
    "88",
    "ospf",
    "89",
    "pim",
    "103",
    "igmp",
    "2",
    "ipinip",
    "4",
    "nos",
    "pcp",
    "icmp6",
    "58",
    "sctp",
    "132",
}


@dataclass(frozen=True)
class Packet:
    """One packet of the probe's connection as a filter sees it; `src` None = unknown address."""

    src: IPv4 | ipaddress.IPv6Address | None
    dst: IPv4 | ipaddress.IPv6Address | None
    sport: int
    dport: int
    reply: bool = False  # the server's answer (ACK set: `established` matches)

    @property
    def version(self) -> int:
        a = self.dst or self.src
        return a.version if a is not None else 4


@dataclass(frozen=True)
class AddrMatch:
    """`any`, `host A`, `A WILDCARD`/`A MASK`, or a reference resolved by `resolve` at match time.

    `net`/`wild` are integers: an address matches when it agrees with `net` on every bit the
    wildcard leaves 0 (a netmask is stored as its inverse). `ref` names an object or
    object-group; `name` an ASA fqdn object (matched by the probe's host name, not its address).
    """

    kind: str  # any | net | ref | interface | unknown
    net: int = 0
    wild: int = 0
    version: int = 4
    ref: str = ""
    text: str = ""

    def specific(self) -> bool:
        return self.kind != "any"


# A reference resolver: (ref name, address, probe host) -> True/False/None.
Resolve = Callable[[str, object, str], bool | None]


def match_address(spec: AddrMatch, addr, host: str, resolve: Resolve) -> bool | None:
    if spec.kind == "any":
        if spec.version == 6 and addr is not None and addr.version == 4:
            return False  # ASA any6
        return not (spec.ref == "any4" and addr is not None and addr.version == 6)
    if addr is None:
        return None
    if spec.kind == "net":
        if addr.version != spec.version:
            return False
        return (int(addr) & ~spec.wild) == (spec.net & ~spec.wild)
    if spec.kind == "ref":
        return resolve(spec.ref, addr, host)
    return None


@dataclass(frozen=True)
class PortMatch:
    op: str = ""  # "" any | eq | neq | lt | gt | range | unknown | ref
    values: tuple[int, ...] = ()
    ref: str = ""

    def matches(self, port: int, resolve_port: Callable[[str, int], bool | None]) -> bool | None:
        if not self.op:
            return True
        if self.op == "unknown":
            return None
        if self.op == "ref":
            return resolve_port(self.ref, port)
        if self.op == "eq":
            return port in self.values
        if self.op == "neq":
            return port not in self.values
        if self.op == "lt":
            return port < self.values[0]
        if self.op == "gt":
            return port > self.values[0]
        if self.op == "range":
            return self.values[0] <= port <= self.values[1]
        return None


def port_value(word: str) -> int | None:
    w = word.lower()
    if w.isdigit():
        return int(w)
    return PORT_NAMES.get(w)


@dataclass
class Ace:
    """One access-control entry."""

    action: str  # permit | deny
    protocol: str
    src: AddrMatch
    dst: AddrMatch
    span: Span
    sport: PortMatch = field(default_factory=PortMatch)
    dport: PortMatch = field(default_factory=PortMatch)
    established: bool = False
    unknown: str = ""  # why its match cannot be evaluated ("" = it can)
    inactive: bool = False
    seq: int = 0

    def matches(self, pkt: Packet, host: str, resolve: Resolve, resolve_port) -> bool | None:
        proto = self.protocol.lower()
        if proto in OTHER_PROTOCOLS:
            return False
        if self.inactive:
            return False
        # The server's name (an ASA fqdn object) is known on the server's side only: the
        # destination of a request, the source of a reply.
        results = [
            match_address(self.src, pkt.src, host if pkt.reply else "", resolve),
            match_address(self.dst, pkt.dst, "" if pkt.reply else host, resolve),
        ]
        results.append(self.sport.matches(pkt.sport, resolve_port))
        results.append(self.dport.matches(pkt.dport, resolve_port))
        if self.established:
            results.append(pkt.reply)
        if proto not in TCP_PROTOCOLS:
            results.append(None)  # a protocol word we do not know
        if proto in ("object-group", "object"):
            results.append(None)  # a service object-group: resolved by the caller when modelled
        if False in results:
            return False
        if self.unknown or None in results:
            return None
        return True

    def specific(self) -> bool:
        """It names where the traffic goes (not only who sends it)."""
        return self.dst.specific()


@dataclass
class Acl:
    name: str
    span: Span  # where it is defined (its first line)
    entries: list[Ace] = field(default_factory=list)
    standard: bool = False
    defined: bool = True

    def ordered(self) -> list[Ace]:
        if any(e.seq for e in self.entries):
            return sorted(self.entries, key=lambda e: e.seq)
        return self.entries


@dataclass(frozen=True)
class AclResult:
    """What one list does with one packet: permit | deny | unknown, and the entry that decided."""

    verdict: str
    entry: Ace | None
    note: str = ""


def first_match(acl: Acl, pkt: Packet, host: str, resolve: Resolve, resolve_port=None) -> AclResult:
    """The list's answer for `pkt` (module docstring): first match, implicit deny, three-valued."""
    rp = resolve_port or (lambda _ref, _port: None)
    entries = acl.ordered()
    if not entries:
        return AclResult("permit", None, f"access list {acl.name} has no entries: it permits everything")
    pending: list[Ace] = []
    for e in entries:
        m = e.matches(pkt, host, resolve, rp)
        if m is False:
            continue
        if m is None:
            pending.append(e)
            continue
        if any(p.action != e.action for p in pending):
            p = next(p for p in pending if p.action != e.action)
            return AclResult("unknown", p, _why(p))
        return AclResult(e.action, e)
    if any(p.action != "deny" for p in pending):
        p = next(p for p in pending if p.action != "deny")
        return AclResult("unknown", p, _why(p))
    return AclResult("deny", pending[0] if pending else None, f"the implicit deny at the end of {acl.name}")


class CachedLists:
    """`first_match` with its answers remembered for one ruleset: every probe of a service is
    evaluated at the same sample addresses, so most questions repeat. A list's answer depends on
    the probe's host name only when it references objects (an ASA fqdn object)."""

    def __init__(self, resolve: Resolve, resolve_port: Callable[[str, int], bool | None]):
        self.resolve = resolve
        self.resolve_port = resolve_port
        self.cache: dict[tuple, AclResult] = {}
        self.by_name: dict[int, bool] = {}

    def first_match(self, acl: Acl, pkt: Packet, host: str) -> AclResult:
        named = self.by_name.get(id(acl))
        if named is None:
            named = self.by_name[id(acl)] = any(
                e.src.kind == "ref" or e.dst.kind == "ref" for e in acl.entries
            )
        key = (id(acl), pkt, host if named else "")
        hit = self.cache.get(key)
        if hit is None:
            hit = self.cache[key] = first_match(acl, pkt, host, self.resolve, self.resolve_port)
        return hit


def _why(e: Ace) -> str:
    return f"whether line {e.span.line} matches is unknown" + (f" ({e.unknown})" if e.unknown else "")


def wildcard(mask: str) -> int | None:
    try:
        return int(ipaddress.IPv4Address(mask))
    except ValueError:
        return None


def netmask_to_wild(mask: str) -> int | None:
    """A netmask (255.255.255.0) as its wildcard (0.0.0.255); None if it is no netmask."""
    try:
        net = ipaddress.IPv4Network(f"0.0.0.0/{mask}")
    except ValueError:
        return None
    return int(net.hostmask)


def v4(word: str) -> int | None:
    try:
        return int(ipaddress.IPv4Address(word))
    except ValueError:
        return None


PORT_OPS = ("eq", "neq", "lt", "gt", "range")
# Entry options that do not change which TCP packets match (logging, counters, marks).
HARMLESS_OPTIONS = {"log", "log-input", "log-update", "inactive", "dscp", "precedence", "tos", "ttl"}


class AceSyntaxError(ValueError):
    pass


def parse_address(words: list[str], i: int, style: str) -> tuple[AddrMatch, int]:
    """An address at words[i]; `style` is "wildcard" (IOS) or "netmask" (ASA)."""
    if i >= len(words):
        raise AceSyntaxError("address missing")
    w = words[i].lower()
    if w in ("any", "any4", "any6"):
        return AddrMatch("any", version=6 if w == "any6" else 4, ref=w if w != "any" else "", text=w), i + 1
    if w == "host":
        if i + 1 >= len(words):
            raise AceSyntaxError("host without an address")
        a = words[i + 1]
        try:
            ip = ipaddress.ip_address(a)
        except ValueError:
            # IOS resolves a host name when the entry is entered; ASA needs an IP or a name.
            return AddrMatch("unknown", text=f"host {a}"), i + 2
        return AddrMatch("net", int(ip), 0, ip.version, text=f"host {a}"), i + 2
    if w in ("object-group", "object", "addrgroup"):
        if i + 1 >= len(words):
            raise AceSyntaxError(f"{w} without a name")
        return AddrMatch("ref", ref=words[i + 1], text=f"{w} {words[i + 1]}"), i + 2
    if w == "interface":
        if i + 1 >= len(words):
            raise AceSyntaxError("interface without a name")
        return AddrMatch("interface", ref=words[i + 1], text=f"interface {words[i + 1]}"), i + 2
    if "/" in w:
        try:
            net = ipaddress.ip_network(words[i], strict=False)
        except ValueError:
            raise AceSyntaxError(f"bad address {words[i]!r}") from None
        return AddrMatch(
            "net", int(net.network_address), int(net.hostmask), net.version, text=words[i]
        ), i + 1
    addr = v4(w)
    if addr is None:
        raise AceSyntaxError(f"bad address {words[i]!r}")
    mask_word = words[i + 1] if i + 1 < len(words) else ""
    mask = v4(mask_word)
    if mask is None:
        # A standard IOS entry may give one address alone: that host.
        return AddrMatch("net", addr, 0, text=words[i]), i + 1
    wild = wildcard(mask_word) if style == "wildcard" else netmask_to_wild(mask_word)
    if wild is None:
        raise AceSyntaxError(f"bad mask {mask_word!r}")
    return AddrMatch("net", addr, wild, text=f"{words[i]} {mask_word}"), i + 2


def parse_ports(words: list[str], i: int) -> tuple[PortMatch, int]:
    if i >= len(words) or words[i].lower() not in PORT_OPS:
        return PortMatch(), i
    op = words[i].lower()
    if op == "range":
        vals = [port_value(w) for w in words[i + 1 : i + 3]]
        if len(vals) < 2:
            raise AceSyntaxError("range needs two ports")
        if None in vals:
            return PortMatch("unknown"), i + 3
        return PortMatch("range", (vals[0] or 0, vals[1] or 0)), i + 3
    # IOS allows several ports after eq/neq (`eq www 443`): take every port word that follows.
    j = i + 1
    vals2: list[int | None] = []
    while j < len(words) and (port_value(words[j]) is not None or (op in ("eq", "neq") and j == i + 1)):
        vals2.append(port_value(words[j]))
        j += 1
        if op not in ("eq", "neq"):
            break
    if not vals2:
        raise AceSyntaxError(f"{op} without a port")
    if None in vals2:
        return PortMatch("unknown"), j
    return PortMatch(op, tuple(v for v in vals2 if v is not None)), j


def parse_ace(words: list[str], span: Span, style: str, standard: bool = False) -> Ace:
    """`permit|deny ...` (after the list name and sequence number have been taken off)."""
    if not words or words[0].lower() not in ("permit", "deny"):
        raise AceSyntaxError("an entry starts with permit or deny")
    action = words[0].lower()
    if standard:
        src, j = parse_address(words, 1, style)
        dst = AddrMatch("any", text="any")
        return Ace(action, "ip", src, dst, span, unknown=_options(words[j:]))
    if len(words) < 2:
        raise AceSyntaxError("protocol missing")
    i = 1
    protocol = words[i].lower()
    i += 1
    if protocol in ("object-group", "object"):
        i += 1  # the service object's name: what it holds is not modelled (unknown below)
    src, i = parse_address(words, i, style)
    sport, i = parse_ports(words, i)
    dst, i = parse_address(words, i, style)
    dport, i = parse_ports(words, i)
    dport_ref = ""
    if dport.op == "" and i + 1 < len(words) and words[i].lower() == "object-group":
        dport_ref = words[i + 1]  # ASA: a service object-group for the destination port
        i += 2
    rest = [w.lower() for w in words[i:]]
    established = "established" in rest
    unknown = _options([w for w in words[i:] if w.lower() != "established"])
    ace = Ace(action, protocol, src, dst, span, sport, dport, established, unknown)
    if dport_ref:
        ace.dport = PortMatch("ref", ref=dport_ref)
    ace.inactive = "inactive" in rest  # ASA: an entry switched off
    return ace


def _options(words: list[str]) -> str:
    """Why the entry's trailing options make its match unknown ("" when they change nothing)."""
    i = 0
    while i < len(words):
        w = words[i].lower()
        if w in ("dscp", "precedence", "tos", "ttl"):
            return f"{w} {words[i + 1] if i + 1 < len(words) else ''}: the packet's marking is not modelled"
        if w in ("time-range",):
            return f"time-range {words[i + 1] if i + 1 < len(words) else ''}: applies at some times only"
        if w == "inactive":
            return ""
        if (
            w
            in (
                "interval",
                "disable",
                "default",
                "informational",
                "debugging",
                "notifications",
                "warnings",
                "errors",
                "critical",
                "alerts",
                "emergencies",
            )
            or w.isdigit()
        ):
            i += 1
            continue
        if w in HARMLESS_OPTIONS:
            i += 1
            continue
        return f"option {words[i]!r} is not modelled"
    return ""

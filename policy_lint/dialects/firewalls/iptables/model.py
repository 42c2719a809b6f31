"""The rule model an iptables/ip6tables/ipset configuration is read into (tables of chains of
rules, and ipsets), and the netfilter facts both the reader and the evaluator use."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from policy_lint.dialects.semantics.addressing import IPAddress
from policy_lint.dialects.semantics.setfills import SetFill
from policy_lint.model import Span

NAME = "iptables"
DYN = "\x00"  # marks text computed at run time
BUILTIN = {
    "filter": ("INPUT", "FORWARD", "OUTPUT"),
    "mangle": ("PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"),
    "raw": ("PREROUTING", "OUTPUT"),
    "security": ("INPUT", "FORWARD", "OUTPUT"),
    "nat": ("PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"),
}
DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")

Net = ipaddress.IPv4Network | ipaddress.IPv6Network
# A network as integers: (version, network address, prefix length).
Block = tuple[int, int, int]


def block_of(n: Net) -> Block:
    return (n.version, int(n.network_address), n.prefixlen)


def net_of(b: Block) -> Net:
    version, base, plen = b
    return ipaddress.IPv4Network((base, plen)) if version == 4 else ipaddress.IPv6Network((base, plen))


@dataclass(slots=True)
class AddrMatch:
    """`-s`/`-d`/`--src-range`: networks (or ranges), negated or not; None = unknown value."""

    # The networks as integers, in the order written. An `ipaddress` network per `-d` of a
    # 200,000-rule file cost ~300 B, and the cycle collector walked it and its address twice;
    # `nets` builds them for the few places that print or summarise networks.
    blocks: tuple[Block, ...] = ()
    # (version, lo, hi). A tuple: one empty list per `-d` of a 200,000-rule file cost ~11 MB.
    ranges: tuple[tuple[int, int, int], ...] = ()
    neg: bool = False
    unknown: str = ""  # why the value cannot be known (dynamic, unknown hostname)
    host: str = ""  # the hostname as written, resolved through the catalog

    @classmethod
    def of_nets(cls, nets: list[Net]) -> AddrMatch:
        return cls(blocks=tuple(block_of(n) for n in nets))

    @property
    def nets(self) -> list[Net]:
        return [net_of(b) for b in self.blocks]

    def contains(self, addr: IPAddress) -> bool | None:
        if self.unknown:
            return None
        a = int(addr)
        version = addr.version
        bits = 32 if version == 4 else 128
        # `addr in network`: the address masked to the prefix is the network's address.
        hit = any(
            v == version and a >> (bits - plen) == base >> (bits - plen) for v, base, plen in self.blocks
        ) or any(v == version and lo <= a <= hi for v, lo, hi in self.ranges)
        return hit != self.neg


@dataclass
class TimeMatch:
    start: int = 0
    stop: int = 24 * 60
    days: frozenset[int] = frozenset(range(7))
    neg_days: bool = False

    def contains(self, day: int, minute: int) -> bool:
        days = (frozenset(range(7)) - self.days) if self.neg_days else self.days
        if self.start <= self.stop:
            return day in days and self.start <= minute < self.stop
        # Crossing midnight: the evening part belongs to the listed day (xt_time --contiguous not
        # modelled: both parts are tested against the day of the packet).
        return day in days and (minute >= self.start or minute < self.stop)

    def text(self) -> str:
        days = ",".join(DAYS[d] for d in sorted(self.days)) if len(self.days) < 7 else "every day"
        return (
            f"{self.start // 60:02d}:{self.start % 60:02d}-{self.stop // 60:02d}:{self.stop % 60:02d} {days}"
        )


@dataclass(slots=True)
class Rule:
    span: Span
    family: int
    table: str
    chain: str
    target: str = ""
    goto: bool = False
    proto: tuple[str, bool] | None = None
    src: AddrMatch | None = None
    dst: AddrMatch | None = None
    dports: tuple[list[tuple[int, int]], bool] | None = None
    sports: tuple[list[tuple[int, int]], bool] | None = None
    iif: tuple[str, bool] | None = None
    oif: tuple[str, bool] | None = None
    states: tuple[frozenset[str], bool] | None = None
    strings: tuple[tuple[bytes, bool, bool], ...] = ()  # (needle, icase, neg)
    sets: tuple[tuple[str, str, bool], ...] = ()  # (name, "src"|"dst", neg)
    time: TimeMatch | None = None
    mac: tuple[str, bool] | None = None
    owner: tuple[str, bool] | None = None
    syn: bool | None = None  # --syn (True) or ! --syn (False): the connection's first packet
    target_opts: tuple[tuple[str, str], ...] = ()  # (--to-destination, 10.0.0.1:80) ...
    unknown: tuple[str, ...] = ()  # matches we cannot evaluate
    dynamic: str = ""  # text computed at run time

    @property
    def specific(self) -> bool:
        return bool(self.dst or self.strings or any(d == "dst" for _n, d, _g in self.sets))


@dataclass
class Chain:
    policy: str = "ACCEPT"
    policy_span: Span | None = None
    head: list[Rule] = field(default_factory=list)  # rules inserted at the top, newest last
    tail: list[Rule] = field(default_factory=list)

    def rules(self) -> list[Rule]:
        if self.head:
            self.tail = self.head[::-1] + self.tail
            self.head = []
        return self.tail


@dataclass
class IpSet:
    name: str
    span: Span
    members: list[tuple[Net, Span]] = field(default_factory=list)
    dynamic: Span | None = None
    # Filled by a DNS forwarder with the addresses of these names (dnsmasq ipset=, unbound's
    # ipset module): see semantics/setfills.
    filled: list[SetFill] = field(default_factory=list)

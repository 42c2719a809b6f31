"""squidGuard's rule model: what squidGuard.conf defines (time spaces, dests, srcs, acl entries,
rewrites) and the client a decision is for. parse.py builds it, evaluate.py decides with it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from functools import lru_cache

from policy_lint.dialects.proxies.squidguard.lists import ExprList, SgList
from policy_lint.dialects.semantics.patterns import BoundedPattern
from policy_lint.model import Span
from policy_lint.records import FrozenRecord, Record

NAME = "squidguard"
FILE_PATTERNS = ("squidguard*.conf", "squidguard.conf*", "*.squidguard")
DEFAULT_CONFIGS = ("/etc/squidguard/squidGuard.conf", "/usr/local/squidGuard/squidGuard.conf")
REFERENCE_MONDAY = dt.datetime(2030, 1, 7)  # a Monday: representative times fall in its week
DEFAULT_WHEN = REFERENCE_MONDAY + dt.timedelta(hours=10)
OUTSIDE_IP = "198.51.100.77"  # a documentation address: in no group


@dataclass(frozen=True, eq=False, repr=False)
class TimeElement(FrozenRecord):
    wday: int = 0  # bit per weekday, Sunday = bit 0 (0: a date element)
    start: int = 0  # minutes; squidGuard tests start <= minute < end
    end: int = 0
    fromdate: dt.date | None = None
    todate: dt.date | None = None
    cron: tuple[int, int, int] | None = None  # year, month, day; -1 = any


@dataclass(eq=False, repr=False)
class TimeSpace(Record):
    name: str
    span: Span
    elements: list[TimeElement] = field(default_factory=list)
    dates: list[dt.date] = field(default_factory=list)  # concrete days worth sampling

    def active(self, when: dt.datetime) -> bool:
        minute = when.hour * 60 + when.minute
        wday = (when.weekday() + 1) % 7  # tm_wday: Sunday = 0
        for te in self.elements:
            if not te.start <= minute < te.end:
                continue
            if te.wday:
                if (1 << wday) & te.wday:
                    return True
            elif te.fromdate is not None:
                if te.fromdate <= when.date() <= (te.todate or te.fromdate):
                    return True
            elif te.cron is not None:
                y, m, d = te.cron
                if y in (-1, when.year) and m in (-1, when.month) and d in (-1, when.day):
                    return True
        return False


@dataclass(eq=False, repr=False)
class Dest(Record):
    name: str
    span: Span
    domainlist: SgList | None = None
    urllist: SgList | None = None
    expressions: ExprList | None = None
    redirect: str | None = None
    rewrite: str | None = None
    time: tuple[str, str] | None = None  # ("within"|"outside", time name)
    content: bool = False  # any of domainlist/urllist/expressionlist/redirect/rewrite given
    assumed: bool = False  # missing lists whose name says another topic
    directive_spans: dict[str, Span] = field(default_factory=dict)


@dataclass(eq=False, repr=False)
class Source(Record):
    name: str
    span: Span
    nets: list[tuple[str, int, int]] = field(default_factory=list)  # ("mask", net, mask) | ("range", lo, hi)
    nets6: list = field(default_factory=list)
    has_ip: bool = False
    iplist_missing: list[tuple[str, Span]] = field(default_factory=list)
    users: set[str] = field(default_factory=set)
    has_user: bool = False
    userlist_missing: list[tuple[str, Span]] = field(default_factory=list)
    domains: list[str] = field(default_factory=list)
    time: tuple[str, str] | None = None

    @property
    def ip_free(self) -> str:
        return f"ip:{self.name}"

    @property
    def user_free(self) -> str:
        return f"user:{self.name}"

    @property
    def domain_free(self) -> str:
        return f"domain:{self.name}"


@dataclass(frozen=True, eq=False, repr=False)
class PassItem(FrozenRecord):
    name: str
    allowed: bool
    kind: str  # "dest" | "all" | "none" | "in-addr" | "dnsbl"
    span: Span


@dataclass(eq=False, repr=False)
class AclEntry(Record):
    name: str  # a source name, or "default"
    span: Span
    time: tuple[str, str] | None = None
    is_else: bool = False
    passes: list[PassItem] = field(default_factory=list)
    pass_span: Span | None = None
    redirect: str | None = None
    redirect_span: Span | None = None
    rewrite: str | None = None

    def label(self) -> str:
        if self.name == "default":
            return "default"
        return f"src {self.name}"


@dataclass(eq=False, repr=False)
class RewriteRule(Record):
    pattern: BoundedPattern | None
    subst: str
    code: str  # "", "302:" (r) or "301:" (R)
    global_: bool
    span: Span


@dataclass(eq=False, repr=False)
class RewriteGroup(Record):
    name: str
    span: Span
    rules: list[RewriteRule] = field(default_factory=list)


@dataclass(eq=False, repr=False)
class DestMatch(Record):
    result: bool | None  # the dest names the request / does not / cannot tell
    spans: list[Span]  # dest, list directive, entry (or what could not be read)
    note: str = ""
    value: str | None = None  # a list entry's own redirect URL ("domain http://...")


@dataclass(frozen=True, repr=False)
class Client(FrozenRecord):
    """One representative client as squidGuard sees it."""

    ip: str = OUTSIDE_IP
    user: str | None = None  # None: squid sent "-"
    when: dt.datetime = DEFAULT_WHEN
    free: frozenset[str] = frozenset()  # free conditions that hold (listed in a missing iplist ...)


@lru_cache(maxsize=4096)  # a pure function, asked about the same few client addresses per rule
def ipv4(text: str) -> int | None:
    parts = text.split(".")
    if len(parts) != 4 or not all(p.isdigit() for p in parts):
        return None
    vals = [int(p) for p in parts]
    if any(v > 255 for v in vals):
        return None
    return (vals[0] << 24) | (vals[1] << 16) | (vals[2] << 8) | vals[3]

"""What unbound builds from the statements: local zones and their data (one ZoneSet for the
server and one per view), views, rpz clauses with their zones, and what a client brings to a
query (Ctx: its view, tags, overrides)."""

from __future__ import annotations

from dataclasses import dataclass, field

import dns.rdata

from policy_lint.dialects.dns import rpz as rpzmod
from policy_lint.dialects.dns.unbound.parse import Missing, Stmt, norm_name, parse_rr
from policy_lint.dialects.semantics.names import suffixes
from policy_lint.model import Problem, Span


@dataclass
class Zone:
    name: str
    type: str
    span: Span
    tags: frozenset[str] | None = None
    tag_span: Span | None = None
    earlier: list[Span] = field(default_factory=list)  # the same zone named before (overridden)
    implicit: bool = False


@dataclass
class Data:
    name: str
    rdtype: str
    rdata: dns.rdata.Rdata
    span: Span


@dataclass
class ZoneSet:
    zones: dict[str, Zone] = field(default_factory=dict)
    data: dict[str, list[Data]] = field(default_factory=dict)
    any_zone: bool = False  # a local-zone or local-data exists (relevant to probes or not)
    problems: list[Problem] = field(default_factory=list)

    def add(self, stmts: list[Stmt], tags: dict[str, tuple[frozenset[str], Span]]) -> None:
        for s in stmts:
            if s.keyword == "local-zone":
                self.any_zone = True
                name, typ = norm_name(s.args[0]), s.args[1]
                if typ == "nodefault":
                    continue  # turns off a default zone; creates none
                old = self.zones.get(name)
                z = Zone(name, typ, s.span)
                if old is not None:
                    z.earlier = old.earlier + [old.span]
                self.zones[name] = z  # unbound: the last line for a name wins (checked in e2e)
            elif s.keyword == "local-data":
                self.any_zone = True
                rr = parse_rr(s.args[0])
                if rr is not None:
                    self.data.setdefault(rr[0], []).append(Data(rr[0], rr[1], rr[2], s.span))
        for name, (tagset, span) in tags.items():
            tagged = self.zones.get(name)
            if tagged is not None:
                tagged.tags, tagged.tag_span = tagset, span
        # local-data outside every zone: unbound makes a transparent zone above it
        for name, items in self.data.items():
            if self.covering(name) is None:
                self.zones[name] = Zone(name, "transparent", items[0].span, implicit=True)
        for name, items in self.data.items():
            cover = self.covering(name)
            if cover is not None and cover.type in ("redirect", "inform_redirect") and cover.name != name:
                self.problems.append(
                    Problem(
                        "TE901",
                        items[0].span,
                        f"local-data below the redirect zone '{cover.name}' (it must be at the "
                        f"zone's top); unbound refuses this",
                    )
                )

    def covering(self, name: str) -> Zone | None:
        for s in suffixes(name):
            z = self.zones.get(s)
            if z is not None:
                return z
        return self.zones.get("")

    def find(self, host: str, tags: frozenset[str], start: int = 0) -> Zone | None:
        """The most specific zone covering `host` whose tags (if any) the client has."""
        names = list(suffixes(host)) + [""]
        for s in names[start:]:
            z = self.zones.get(s)
            if z is not None and (z.tags is None or z.tags & tags):
                return z
        return None

    def data_for(self, name: str, zone: Zone) -> list[Data]:
        items = self.data.get(name, [])
        return [d for d in items if self.covering(d.name) is zone]


@dataclass
class View:
    name: str
    span: Span
    zones: ZoneSet
    view_first: bool = False


@dataclass
class RpzClause:
    name: str
    span: Span
    zone: rpzmod.RpzZone | None
    tags: frozenset[str] | None
    remote: Missing | None = None  # content fetched at run time (url:/primary:), not in the repo


@dataclass(frozen=True)
class Ctx:
    """What unbound knows about a client: its view, tags, tag actions, zone overrides."""

    view: str | None = None
    tags: frozenset[str] = frozenset()
    actions: tuple[tuple[str, str, Span], ...] = ()  # (tag, zone type, where)
    overrides: tuple[tuple[str, str, Span], ...] = ()  # (zone, zone type, where)
    client_rpz: tuple[tuple[str, str], ...] = ()  # (rpz name, client-ip trigger)
    who: str = ""  # the client in unbound's words, for decisions that depend on it

"""The rule model -> decisions: which src and acl entry a client gets, whether a dest names a
request (documented lookup, or squidGuard 1.6's B-tree with `lookup="squidguard-1.6"`), the pass
list walked left to right, redirects and rewrites, and the audiences that tell clients apart.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import itertools
import re
from dataclasses import replace
from pathlib import Path
from urllib.parse import unquote

from policy_lint.dialects.proxies.squidguard.lists import ExprList, SgList
from policy_lint.dialects.proxies.squidguard.model import (
    DEFAULT_WHEN,
    NAME,
    OUTSIDE_IP,
    REFERENCE_MONDAY,
    AclEntry,
    Client,
    Dest,
    DestMatch,
    PassItem,
    RewriteGroup,
    Source,
    ipv4,
)
from policy_lint.dialects.proxies.squidguard.parse import SquidGuardConfig
from policy_lint.dialects.proxies.squidguard.urls import Request, ascii_lower, parse_request, request_line_url
from policy_lint.dialects.semantics.base import ParseContext
from policy_lint.model import Audience, Decision, Outcome, Probe, Problem, Span

LOOKUP = "documented"  # or "squidguard-1.6": Debian's B-tree lookup with its neighbour quirk
MAX_AUDIENCES = 4096
MAX_FREE = 10  # free client conditions enumerated in full (2**n); beyond, sampled
OTHER_USER = "(another user)"
# The spans of a template entry (see SquidGuardRuleset._shared_chains): no file's path holds a NUL.
TEMPLATE_PATH = "\0template"


def _v4text(n: int) -> str:
    return str(ipaddress.IPv4Address(n))


class SquidGuardRuleset:
    """squidGuard's decisions for probes and clients (sgAclAccess), over a SquidGuardConfig."""

    dialect = NAME

    def __init__(
        self,
        path: Path,
        display: str,
        context: ParseContext,
        lookup: str | None = None,
        diff_state: str | None = None,
    ):
        self.path = display
        self.catalog = context.catalog
        self.lookup = lookup or LOOKUP
        # None: a list with a .diff is read both ways (unknown where they differ); "base" or
        # "updated" pins one (the differential tests run squidGuard -C, then -u).
        self.diff_state = diff_state
        self._match_cache: dict[tuple, DestMatch] = {}
        # Decisions by the behaviour of the client (see behaviour()), then by probe.
        self._decision_cache: dict[tuple, dict[Probe, Decision]] = {}
        self._active: dict[tuple[tuple[str, str], dt.datetime], bool] = {}
        self._audiences: list[Audience] | None = None
        self._queries_ready = False
        # Pure answers asked once per (probe x audience): squidGuard's view of a request, the
        # src/acl entry a client gets, its behaviour, a rewrite of a URL.
        self._requests: dict[str, Request] = {}
        self._selected: dict[Client, tuple[Source | None, AclEntry | None]] = {}
        self._behaviours: dict[Client, tuple] = {}
        self._rewritten: dict[tuple[int, str], tuple[str | None, Span | None]] = {}
        # audience key -> its client, acl entry and decisions (None: decide() answers alike)
        self._clients: dict[tuple, tuple[Client, AclEntry | None, dict[Probe, Decision] | None]] = {}
        self._activity: dict[dt.datetime, tuple[bool, ...]] = {}  # which dests are on, by time
        self._source_needs: dict[tuple, list[tuple[Source, frozenset[str]]]] = {}  # see _needs
        self._descriptions: dict[tuple, tuple[str, ...]] = {}  # see _describe
        # Decisions of template entries (see _shared_chains) by (probe, chain, dest activity),
        # and each sharing entry's spans by its template's.
        self._templates: dict[tuple, Decision] = {}
        self._relabels: dict[int, tuple[dict[int, Span], str, str]] = {}
        self._ensured: set[str] = set()  # request URLs whose queries the lists were read for
        config = SquidGuardConfig(path, display, context)
        # The loaded definitions themselves, not copies: what evaluation finds later (a regex
        # timeout, a sampled audience) joins the same problems list.
        self.problems = config.problems
        self.included = config.included
        self.dests = config.dests
        self.sources = config.sources
        self.times = config.times
        self.rewrites = config.rewrites
        self.acl = config.acl
        self.default = config.default
        self.emergency = config.emergency
        self._chains = self._shared_chains()

    # ---- queries (what the list scans look for)
    def _prepare_queries(self) -> None:
        if self._queries_ready:
            return
        self._queries_ready = True
        probes = [p for s in self.catalog.services.values() for p in s.probes()] + list(
            self.catalog.control_probes()
        )
        self._ensure_probes(probes)

    def _ensure_probes(self, probes: list[Probe]) -> None:
        asked = {request_line_url(p) for p in probes}
        if asked <= self._ensured:
            return  # their queries are in every list's scan already, and any error reported
        self._ensured |= asked
        reqs = [self._request(p) for p in probes]
        domains = sorted({"." + r.domain for r in reqs})
        urls = sorted({u for r in reqs for u in (r.surl, r.furl)})
        for d in self.dests.values():
            if d.domainlist is not None:
                d.domainlist.ensure(domains)
            if d.urllist is not None:
                d.urllist.ensure(urls)
        for d in self.dests.values():
            for x in (d.domainlist, d.urllist):
                if x is not None and x.error and not any(p.message == x.error for p in self.problems):
                    self.problems.append(Problem("TE902", x.span, x.error))

    def _request(self, probe: Probe) -> Request:
        url = request_line_url(probe)
        req = self._requests.get(url)
        if req is None:
            req = self._requests[url] = parse_request(url)
        return req

    # ---- time
    def _time_active(self, ref: tuple[str, str] | None, when: dt.datetime) -> bool:
        if ref is None:
            return True
        # Remembered: the walk asks it for every dest of every pass list, probe and audience
        # (~18,000 times for 11 audiences x 92 probes), about a handful of distinct moments.
        key = (ref, when)
        hit = self._active.get(key)
        if hit is None:
            kind, name = ref
            ts = self.times.get(name)
            on = ts.active(when) if ts else True
            hit = self._active[key] = on if kind == "within" else not on
        return hit

    def _dest_active(self, d: Dest, when: dt.datetime) -> bool:
        return d.content and self._time_active(d.time, when)

    def _dests_active(self, when: dt.datetime) -> tuple[bool, ...]:
        """Which dests are on at `when` (asked per client and decision; a handful of times)."""
        hit = self._activity.get(when)
        if hit is None:
            hit = self._activity[when] = tuple(self._dest_active(d, when) for d in self.dests.values())
        return hit

    # ---- clients
    def _needs(self, ip: str, user: str | None, when: dt.datetime) -> list[tuple[Source, frozenset[str]]]:
        """The srcs a client at (ip, user, when) can be in, in order, each with the free
        conditions it needs for that (listed in a missing iplist ...): asked for each of the
        free-condition combinations of an address, user and time."""
        key = (ip, user, when)
        hit = self._source_needs.get(key)
        if hit is None:
            hit = self._source_needs[key] = [
                (s, need) for s in self.sources if (need := self._source_need(s, ip, user, when)) is not None
            ]
        return hit

    def _source_need(self, s: Source, ip: str, user: str | None, when: dt.datetime) -> frozenset[str] | None:
        """The free conditions a client needs to match src `s`; None when it never does."""
        if not (s.has_ip or s.has_user or s.domains):
            return None  # sgSourceEnd: no content, inactive
        if not self._time_active(s.time, when):
            return None
        need = []
        if s.has_ip and not self._ip_in(s, ip):
            if not s.iplist_missing:
                return None
            need.append(s.ip_free)
        if s.has_user:
            if not user:
                return None
            if ascii_lower(unquote(user)) not in s.users:
                if not s.userlist_missing:
                    return None
                need.append(s.user_free)
        if s.domains:
            need.append(s.domain_free)
        return frozenset(need)

    @staticmethod
    def _ip_in(s: Source, text: str) -> bool:
        ip = ipv4(text)
        if ip is not None:
            return any(
                (kind == "range" and a <= ip <= b) or (kind == "mask" and ip & b == a)
                for kind, a, b in s.nets
            )
        try:
            addr = ipaddress.ip_address(text)
        except ValueError:
            return False
        return any(addr.version == n.version and addr in n for n in s.nets6)

    def select(self, c: Client) -> tuple[Source | None, AclEntry | None]:
        """sgFindSource then sgAclCheckSource: the first matching src, its first active acl
        entry (or the else branch), else default."""
        hit = self._selected.get(c)
        if hit is None:
            hit = self._selected[c] = self._select(c)
        return hit

    def _select(self, c: Client) -> tuple[Source | None, AclEntry | None]:
        src = next((s for s, need in self._needs(c.ip, c.user, c.when) if need <= c.free), None)
        return src, self._entry(src, c.when)

    def _entry(self, src: Source | None, when: dt.datetime) -> AclEntry | None:
        """sgAclCheckSource: the first active acl entry (or else branch) of `src`, else default."""
        if src is not None:
            for e in self.acl:
                if e.name != src.name:
                    continue
                active = self._time_active(e.time, when)
                if e.is_else:
                    active = not active
                if active:
                    return e
        return self.default

    def client_dimensions(self) -> tuple[list[str], list[str | None], list[dt.datetime], list[str]]:
        """Representative addresses, users, times and free conditions that tell clients apart."""
        ips: list[str] = []
        for s in self.sources:
            for kind, a, b in s.nets:
                if kind == "range":
                    ips += [_v4text(a), _v4text(b)]
                elif b == 0xFFFFFFFF:
                    ips.append(_v4text(a))
                else:
                    size = (~b & 0xFFFFFFFF) + 1
                    ips.append(_v4text(a + (1 if size > 2 else 0)))
                    if size > 4:
                        ips.append(_v4text(a + size - 2))
            for n in s.nets6:
                ips.append(str(n.network_address + (1 if n.num_addresses > 2 else 0)))
        ips = _distinct(
            list(dict.fromkeys(ips + [OUTSIDE_IP])),
            lambda ip: tuple(self._ip_in(s, ip) for s in self.sources),
        )
        users: list[str | None] = [None]
        if any(s.has_user for s in self.sources):
            users = [*sorted({u for s in self.sources for u in s.users}), OTHER_USER, None]
            users = _distinct(
                users,
                lambda u: tuple(bool(u) and ascii_lower(u) in s.users for s in self.sources) + (u is None,),
            )
        free = []
        for s in self.sources:
            if s.iplist_missing:
                free.append(s.ip_free)
            if s.userlist_missing:
                free.append(s.user_free)
            if s.domains:
                free.append(s.domain_free)
        return ips, users, self.time_points(), free

    def time_points(self) -> list[dt.datetime]:
        used = {
            t[1]
            for t in [s.time for s in self.sources]
            + [e.time for e in self.acl]
            + [d.time for d in self.dests.values()]
            if t
        }
        spaces = [self.times[n] for n in sorted(used) if n in self.times]
        if not spaces:
            return [DEFAULT_WHEN]
        minutes = {0, 12 * 60, 24 * 60 - 1}
        for ts in spaces:
            for te in ts.elements:
                for m in (te.start, te.end, te.end - 1, te.start - 1, (te.start + te.end) // 2):
                    if 0 <= m < 24 * 60:
                        minutes.add(m)
        days = [REFERENCE_MONDAY + dt.timedelta(days=i) for i in range(7)]
        days += [dt.datetime.combine(d, dt.time()) for ts in spaces for d in ts.dates]
        seen: dict[tuple[bool, ...], dt.datetime] = {}
        for day in days:
            for m in sorted(minutes):
                when = day + dt.timedelta(minutes=m)
                seen.setdefault(tuple(ts.active(when) for ts in spaces), when)
        return list(seen.values())

    def behaviour(self, c: Client) -> tuple:
        """Everything about a client that can change a decision."""
        hit = self._behaviours.get(c)
        if hit is None:
            _src, entry = self.select(c)
            hit = (id(entry), self._dests_active(c.when))
            self._behaviours[c] = hit
        return hit

    def describe(self, c: Client) -> tuple[str, ...]:
        src, entry = self.select(c)
        return self._describe(src, entry, c.when)

    def _describe(self, src: Source | None, entry: AclEntry | None, when: dt.datetime) -> tuple[str, ...]:
        key = (id(src), id(entry), when)  # srcs and entries live as long as the ruleset
        hit = self._descriptions.get(key)
        if hit is None:
            hit = self._descriptions[key] = self._words(src, entry, when)
        return hit

    def _words(self, src: Source | None, entry: AclEntry | None, when: dt.datetime) -> tuple[str, ...]:
        """Who gets `entry` of `src` at `when`, in the config's words."""
        out: list[str] = []
        if entry is not None and entry is self.default and self.sources:
            out.append(self._default_label())
        elif src is not None:
            out.append(f"src {src.name}")
            if src.time:
                out.append(f"{'' if src.time[0] == 'within' else 'outside '}time {src.time[1]}")
        if entry is not None and entry.time is not None:
            kind, name = entry.time
            inside = (kind == "within") != entry.is_else
            out.append(f"time {name}" if inside else f"outside time {name}")
        for d in self.dests.values():
            if d.time and not self._time_active(d.time, when):
                out.append(f"dest {d.name} off ({d.time[0]} {d.time[1]})")
        return tuple(dict.fromkeys(out))

    def _default_label(self) -> str:
        """Who gets the default acl: clients in no src group, and groups without an entry."""
        own = {e.name for e in self.acl if e.name != "default"}
        orphans = [s.name for s in self.sources if s.name not in own]
        if not orphans:
            return "other clients"
        return f"src {', '.join(orphans)} or other clients"

    def audiences(self) -> list[Audience]:
        if self._audiences is not None:
            return self._audiences
        ips, users, times, free = self.client_dimensions()
        if len(free) <= MAX_FREE:
            frees = [
                frozenset(itertools.compress(free, bits))
                for bits in itertools.product((False, True), repeat=len(free))
            ]
        else:
            frees = [frozenset(), frozenset(free)] + [frozenset([f]) for f in free]
            self.problems.append(
                Problem(
                    "TE906",
                    Span(self.path, 1, 1),
                    f"{len(free)} independent client conditions: evaluated a sample of audiences, not all",
                )
            )
        combos = len(ips) * len(users) * len(times)
        if combos * len(frees) > MAX_AUDIENCES and len(frees) > 2:
            frees = [frozenset(), frozenset(free)]
            self.problems.append(
                Problem(
                    "TE906",
                    Span(self.path, 1, 1),
                    "too many client conditions: evaluated a sample of audiences, not all",
                )
            )
        # Every client (ip, user, when, free conditions), in this order; per client what
        # select(), behaviour() and describe() answer, without a Client made for each one.
        seen: dict[tuple, Audience] = {}
        for ip, user, when in itertools.product(ips, users, times):
            needs = self._needs(ip, user, when)
            active = self._dests_active(when)
            for fr in frees:
                src = next((s for s, need in needs if need <= fr), None)
                entry = self._entry(src, when)
                key = (id(entry), active)
                conditions = self._describe(src, entry, when)
                old = seen.get(key)
                if old is not None and len(old.conditions) <= len(conditions):
                    continue
                c = Client(ip, user, when, fr)
                seen[key] = Audience(
                    key=client_key(c), conditions=conditions, attributes=client_attributes(c)
                )
        if len(seen) == 1:
            only = next(iter(seen.values()))
            self._audiences = [replace(only, conditions=())]
        else:
            self._audiences = list(seen.values()) or [Audience(key=())]
        return self._audiences

    # ---- matching
    def _list_match(self, lst: SgList, query: str) -> tuple[bool | None, list[Span], str]:
        """Whether a list names `query`: True/False/None (unknown), spans, and a note when
        squidGuard 1.6's lookup or a pending .diff changes the answer."""
        if lst.missing:
            return None, [lst.span], ""
        results = []
        states = lst.states()
        if self.diff_state is not None:
            states = (self.diff_state if lst.diff is not None else "base",)
        for state in states:
            doc = lst.documented(query, state)
            emu, neighbour = lst.emulated(query, state)
            chosen = emu if self.lookup == "squidguard-1.6" else doc
            results.append((state, chosen, doc, emu, neighbour))
        outcomes = {r[1] is not None for r in results}
        note = ""
        state, chosen, doc, emu, neighbour = results[0]
        if self.lookup != "squidguard-1.6" and (doc is None) != (emu is None):
            if doc is not None:
                why = f" ({neighbour.text!r}, line {neighbour.line}, sits next to it)" if neighbour else ""
                note = (
                    f"squidGuard 1.5/1.6 lets this through: its B-tree lookup misses {doc.text!r}"
                    f"{why}; remove redundant subdomain entries (sgclean)"
                )
            else:
                assert emu is not None  # doc and emu differ and doc is None
                note = f"squidGuard 1.5/1.6 blocks this: its B-tree lookup takes {emu.text!r} as a prefix"
        if len(outcomes) > 1:
            diff_span = next((r[1] for r in results if r[1] is not None), None)
            note = (
                f"depends on {lst.ref}.diff: listed only "
                f"{'until' if results[0][1] is not None else 'once'} `squidGuard -u` applies it"
            )
            return None, [s for s in (lst.span, diff_span) if s], note
        if chosen is None:
            return False, [], note
        return True, [lst.span, chosen], note

    def _expr_match(self, ex: ExprList, furl: str) -> tuple[bool | None, list[Span]]:
        if ex.missing:
            return None, [ex.span]
        timed_out = None
        for pattern, span in ex.patterns:
            r = pattern.search(furl)
            if r:
                return True, [ex.span, span]
            if r is None:
                timed_out = span
                if not any(p.code == "TE905" and p.span == span for p in self.problems):
                    self.problems.append(
                        Problem(
                            "TE905",
                            span,
                            "regular expression ran out of time; verdicts that depend on it are unknown",
                        )
                    )
        if timed_out is not None or ex.truncated:
            return None, [timed_out or ex.span]
        return False, []

    def dest_match(self, d: Dest, probe: Probe) -> DestMatch:
        """Does dest `d` name this request? (domainlist, then urllist, then expressionlist)."""
        key = (d.name, probe.host, probe.path, probe.scheme, probe.port)
        hit = self._match_cache.get(key)
        if hit is not None:
            return hit
        self._prepare_queries()
        self._ensure_probes([probe])
        req = self._request(probe)
        unknown: list[Span] = []
        notes: list[str] = []
        result: DestMatch | None = None
        checks: list[tuple[SgList, list[str]]] = []
        if d.domainlist is not None:
            checks.append((d.domainlist, ["." + req.domain]))
        if d.urllist is not None:
            checks.append((d.urllist, [req.surl, req.furl]))
        for lst, queries in checks:
            if lst.missing and (d.assumed or probe.is_control):
                continue
            for q in queries:
                m, spans, note = self._list_match(lst, q)
                if note:
                    notes.append(note)
                if m:
                    parts = spans[-1].text.split(None, 1)
                    value = parts[1].strip() if len(parts) > 1 and spans[-1].path == lst.display else None
                    result = DestMatch(True, [d.span] + spans, "; ".join(notes), value)
                    break
                if m is None:
                    unknown.extend(spans)
            if result:
                break
        if (
            result is None
            and d.expressions is not None
            and not (d.expressions.missing and (d.assumed or probe.is_control))
        ):
            m, spans = self._expr_match(d.expressions, req.furl)
            if m:
                result = DestMatch(True, [d.span] + spans, "; ".join(notes))
            elif m is None:
                unknown.extend(spans)
        if result is None:
            result = DestMatch(
                None if unknown else False, [d.span] + unknown if unknown else [], "; ".join(notes)
            )
        self._match_cache[key] = result
        return result

    # ---- decisions
    def decide(self, probe: Probe, c: Client) -> Decision:
        """squidGuard's answer for this probe from this client (sgAclAccess)."""
        if self.emergency:
            p = self.emergency[0]
            return Decision(
                Outcome.ALLOW,
                p.span,
                (p.span,),
                note="squidGuard cannot load this config: in emergency mode it passes every request",
            )
        _src, entry = self.select(c)
        if entry is None:
            return Decision(Outcome.ALLOW, None, note="no default acl")
        decisions = self._decisions(c)
        hit = decisions.get(probe)
        if hit is None:
            hit = decisions[probe] = self._decide(probe, c, entry)
        return hit

    def _decisions(self, c: Client) -> dict[Probe, Decision]:
        """The decisions, by probe, of every client that behaves as `c` does."""
        key = self.behaviour(c)
        hit = self._decision_cache.get(key)
        if hit is None:
            hit = self._decision_cache[key] = {}
        return hit

    def _decide(self, probe: Probe, c: Client, entry: AclEntry) -> Decision:
        shared = self._chains.get(id(entry))
        if shared is not None:
            chain, template = shared
            key = (probe, chain, self._dests_active(c.when))
            hit = self._templates.get(key)
            if hit is None:
                hit = self._templates[key] = self._decide(probe, c, template)
            return self._relabel(hit, template, entry)
        default = self.default or entry
        passes = entry.passes or default.passes
        pass_span = entry.pass_span if entry.passes else default.pass_span
        req = self._request(probe)
        scope = (
            ""
            if entry is default and not self.sources
            else (entry.label() if entry is not default else self._default_label())
        )
        if not passes:
            return self._blocked(probe, c, entry, None, [default.span], False, scope, entry.span)
        return self._walk(passes, 0, probe, c, entry, req, pass_span or entry.span, scope, [])

    def _walk(
        self,
        passes: list[PassItem],
        start: int,
        probe: Probe,
        c: Client,
        entry: AclEntry,
        req: Request,
        rule: Span,
        scope: str,
        trace: list[Span],
    ) -> Decision:
        for i in range(start, len(passes)):
            item = passes[i]
            if item.kind == "all":
                return self._passed(probe, c, entry, rule, trace + [item.span], False, scope)
            if item.kind == "none":
                return self._blocked(probe, c, entry, None, trace + [item.span], False, scope, rule)
            if item.kind == "in-addr":
                if req.is_ip:
                    if item.allowed:
                        return self._passed(probe, c, entry, rule, trace + [item.span], True, scope)
                    return self._blocked(probe, c, entry, None, trace + [item.span], True, scope, rule)
                continue
            if item.kind == "dnsbl":
                if req.is_ip or probe.is_control:
                    continue
                rest = self._walk(passes, i + 1, probe, c, entry, req, rule, scope, trace)
                if rest.outcome == Outcome.DENY:
                    return rest
                return Decision(
                    Outcome.UNKNOWN,
                    rule,
                    tuple(trace + [item.span]),
                    False,
                    scope=scope,
                    note="a DNS blacklist lookup decides (not evaluated)",
                )
            d = self.dests.get(item.name)
            if d is None or not self._dest_active(d, c.when):
                continue
            dm = self.dest_match(d, probe)
            m, spans, note = dm.result, dm.spans, dm.note
            if m is False:
                continue
            if m is True:
                if item.allowed:
                    dec = self._passed(probe, c, entry, rule, trace + spans, True, scope)
                else:
                    dec = self._blocked(probe, c, entry, d, trace + spans, True, scope, rule, dm.value)
                return replace(dec, note=f"{dec.note}; {note}" if dec.note else note) if note else dec
            # Unknown: if both branches end the same, the answer is certain after all.
            rest = self._walk(passes, i + 1, probe, c, entry, req, rule, scope, trace)
            if item.allowed:
                here = self._passed(probe, c, entry, rule, trace + spans, True, scope)
            else:
                here = self._blocked(probe, c, entry, d, trace + spans, True, scope, rule)
            if here.outcome == rest.outcome and rest.outcome != Outcome.UNKNOWN:
                return rest
            return Decision(
                Outcome.UNKNOWN,
                rule,
                tuple(trace + spans),
                True,
                scope=scope,
                note=note or f"dest {d.name}: its lists could not be read",
            )
        # squidGuard: a pass list that decides nothing passes (the implicit end is `all`).
        return self._passed(probe, c, entry, rule, trace, False, scope)

    def _passed(
        self,
        probe: Probe,
        c: Client,
        entry: AclEntry,
        rule: Span,
        trace: list[Span],
        specific: bool,
        scope: str,
    ) -> Decision:
        rewrite = self.rewrites.get(entry.rewrite or "") or self.rewrites.get(
            (self.default.rewrite if self.default else None) or ""
        )
        if rewrite is not None:
            orig = self._request(probe).orig
            result, span = self._apply_rewrite(rewrite, orig)
            if result is None and span is not None:
                return Decision(
                    Outcome.UNKNOWN,
                    span,
                    tuple(trace + [span]),
                    specific,
                    scope=scope,
                    note="a rewrite pattern ran out of time",
                )
            if result is not None:
                assert span is not None  # _apply_rewrite returns a rewritten URL with its rule
                host = _url_host(result)
                if host and host != probe.host.lower():
                    return Decision(
                        Outcome.DENY,
                        span,
                        tuple(trace + [span]),
                        True,
                        "rewrite",
                        scope=scope,
                        note=f"rewritten to {result}",
                    )
                return Decision(
                    Outcome.ALLOW,
                    rule,
                    tuple(trace + [span]),
                    specific,
                    scope=scope,
                    note=f"rewritten to {result} (same host)",
                )
        return Decision(Outcome.ALLOW, rule, tuple(trace), specific, scope=scope)

    def _blocked(
        self,
        probe: Probe,
        c: Client,
        entry: AclEntry,
        d: Dest | None,
        trace: list[Span],
        specific: bool,
        scope: str,
        rule: Span,
        value: str | None = None,
    ) -> Decision:
        """A block needs a redirect: the list entry's own (`domain URL`), the dest's, a dest
        rewrite, the acl entry's, default's; without one squidGuard lets the request through."""
        redirect = value
        if redirect is None and d is not None and d.redirect:
            redirect = d.redirect
        elif redirect is None and d is not None and d.rewrite and d.rewrite in self.rewrites:
            result, _span = self._apply_rewrite(self.rewrites[d.rewrite], self._request(probe).orig)
            redirect = result
        if redirect is None:
            redirect = entry.redirect if entry.redirect else (self.default.redirect if self.default else None)
        if not redirect:
            return Decision(
                Outcome.ALLOW,
                rule,
                tuple(trace),
                False,
                scope=scope,
                note="blocked by the pass list, but no redirect is defined: squidGuard passes it",
            )
        return Decision(Outcome.DENY, rule, tuple(trace), specific, "redirect", scope=scope)

    def _apply_rewrite(self, group: RewriteGroup, orig: str) -> tuple[str | None, Span | None]:
        """sgRegExpSubst: the first rule whose pattern matches rewrites the URL."""
        key = (id(group), orig)  # groups live as long as self.rewrites
        hit = self._rewritten.get(key)
        if hit is None:
            hit = self._rewrite(group, orig)
            if hit[0] is not None or hit[1] is None:  # a time-out is asked again, as before
                self._rewritten[key] = hit
        return hit

    def _rewrite(self, group: RewriteGroup, orig: str) -> tuple[str | None, Span | None]:
        for rule in group.rules:
            if rule.pattern is None:
                continue
            try:
                m = rule.pattern.find(orig)
            except TimeoutError:
                return None, rule.span
            if m is None:
                continue
            out = rule.code
            text = orig
            while True:
                out += text[: m.start()] + _expand(rule.subst, m)
                text = text[m.end() :]
                if not rule.global_ or not text:
                    break
                try:
                    m = rule.pattern.find(text)
                except TimeoutError:
                    return None, rule.span
                if m is None or m.end() == 0:
                    break
            return out + text, rule.span
        return None, None

    # ---- entries that decide alike
    def _shared_chains(self) -> dict[int, tuple[int, AclEntry]]:
        """Acl entries that decide alike but for their own spans and name (a school's classes,
        each with the same pass list, rewrite and redirect), by id, each with its group's number
        and the template entry the group shares. A decision is worked out once on the template, whose
        spans no file has, and relabelled for each entry (_relabel): squidGuard's answer for a
        request depends on an entry only through what the chain holds."""
        if self.default is None:
            return {}
        groups: dict[tuple, list[AclEntry]] = {}
        for e in self.acl:
            if e is self.default or not e.passes:
                continue  # default's decisions name "other clients"; an empty list is default's
            chain = (
                tuple((p.name, p.allowed, p.kind) for p in e.passes),
                e.pass_span is None,
                e.rewrite,
                e.redirect,
            )
            groups.setdefault(chain, []).append(e)
        out: dict[int, tuple[int, AclEntry]] = {}
        for n, entries in enumerate(groups.values()):
            if len(entries) < 2:
                continue
            first = entries[0]
            template = AclEntry(
                "\0template",
                Span(TEMPLATE_PATH, 0),
                passes=[replace(p, span=Span(TEMPLATE_PATH, i + 1)) for i, p in enumerate(first.passes)],
                pass_span=None if first.pass_span is None else Span(TEMPLATE_PATH, -1),
                redirect=first.redirect,
                rewrite=first.rewrite,
            )
            for e in entries:
                out[id(e)] = (n, template)
        return out

    def _relabel(self, d: Decision, template: AclEntry, entry: AclEntry) -> Decision:
        """The template's decision `d` as `entry`'s: its own spans and scope in place of the
        template's (every span a decision takes from its entry is one of those mapped). The
        template's span objects are told by identity: they live as long as the ruleset, so no
        other span has their id."""
        known = self._relabels.get(id(entry))
        if known is None:
            spans = {id(t.span): e.span for t, e in zip(template.passes, entry.passes, strict=True)}
            spans[id(template.span)] = entry.span
            if template.pass_span is not None and entry.pass_span is not None:
                spans[id(template.pass_span)] = entry.pass_span
            known = self._relabels[id(entry)] = (spans, template.label(), entry.label())
        spans, template_scope, scope = known
        return Decision(
            d.outcome,
            None if d.rule is None else spans.get(id(d.rule), d.rule),
            tuple([spans.get(id(s), s) for s in d.trace]),
            d.specific,
            d.how,
            d.note,
            scope if d.scope == template_scope else d.scope,
            d.partial,
        )

    # ---- the Ruleset protocol
    def evaluate(self, probe: Probe, audience: Audience) -> Decision:
        # decide()'s work, the client's part of it done once per audience (asked per probe).
        known = self._clients.get(audience.key)
        if known is None:
            c = client_from_key(audience.key)
            entry = None if self.emergency else self.select(c)[1]
            known = self._clients[audience.key] = (c, entry, None if entry is None else self._decisions(c))
        c, entry, decisions = known
        if entry is None or decisions is None:
            return self.decide(probe, c)
        hit = decisions.get(probe)
        if hit is None:
            hit = decisions[probe] = self._decide(probe, c, entry)
        return hit

    def inert_mentions(self, probe: Probe) -> list[Span]:
        used = {p.name for e in self.acl for p in e.passes}
        out = []
        for d in self.dests.values():
            if d.name in used or not d.content:
                continue
            dm = self.dest_match(d, probe)
            if dm.result and not probe.is_control:
                out.append(dm.spans[-1] if dm.spans else d.span)
        return out


def _distinct(reps: list, vector) -> list:
    """One representative per distinct pattern of group memberships."""
    seen: dict = {}
    for rep in reps:
        seen.setdefault(vector(rep), rep)
    return list(seen.values())


def _expand(subst: str, m) -> str:
    out = []
    i = 0
    while i < len(subst):
        ch = subst[i]
        if ch == "\\" and i + 1 < len(subst):
            nxt = subst[i + 1]
            if nxt.isdigit():
                with contextlib.suppress(IndexError):
                    out.append(m.group(int(nxt)) or "")
            else:
                out.append(nxt)
            i += 2
            continue
        if ch == "&":
            out.append(m.group(0))
        else:
            out.append(ch)
        i += 1
    return "".join(out)


def _url_host(url: str) -> str:
    u = re.sub(r"^\d{3}:", "", url)
    if "://" in u:
        u = u.split("://", 1)[1]
    return ascii_lower(re.split(r"[/:?#]", u, maxsplit=1)[0])


def client_key(c: Client) -> tuple:
    return (("ip", c.ip), ("user", c.user), ("when", c.when.isoformat()), ("free", tuple(sorted(c.free))))


def client_from_key(key: tuple) -> Client:
    if not key:
        return Client()
    d = dict(key)
    return Client(
        d.get("ip", OUTSIDE_IP),
        d.get("user"),
        dt.datetime.fromisoformat(d["when"]) if d.get("when") else DEFAULT_WHEN,
        frozenset(d.get("free", ())),
    )


def client_attributes(c: Client) -> tuple[tuple[str, str], ...]:
    attrs = [("src", c.ip), ("time", f"{'MTWHFAS'[c.when.weekday()]} {c.when:%H:%M}")]
    if not REFERENCE_MONDAY <= c.when < REFERENCE_MONDAY + dt.timedelta(days=7):
        attrs.append(("date", c.when.date().isoformat()))
    if c.user and c.user != OTHER_USER:
        attrs.append(("user", c.user))
    return tuple(attrs)

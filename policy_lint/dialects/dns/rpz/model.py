"""The rule model of a policy zone: its triggers (owner names, relative to the origin) with
their records, the action each trigger takes in BIND's or unbound's way of applying the zone,
and the lookup of a query name (exact owner, then wildcards, in each server's own order).
parse.py builds an RpzZone from the text; evaluate.py turns its actions into decisions."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import dns.name
import dns.rdata
from dns.rdtypes.ANY.CNAME import CNAME

from policy_lint.model import Problem, Span

MAX_REPORTED = 50  # TE901 findings per file; beyond, one summary
SENTINEL = dns.name.from_text("policy-lint-relative.invalid.")

# Actions (BIND's names; unbound's are the same).
NXDOMAIN = "NXDOMAIN"
NODATA = "NODATA"
PASSTHRU = "PASSTHRU"
DROP = "DROP"
TCP_ONLY = "TCP-ONLY"
LOCAL = "local data"
INVALID = "invalid"
DISABLED = "DISABLED"
BLOCKING = frozenset({NXDOMAIN, NODATA, DROP, LOCAL})

# Record types a policy zone ignores (apex bookkeeping and DNSSEC).
IGNORED_TYPES = frozenset({"SOA", "NS", "DNAME", "DNSKEY", "DS", "RRSIG", "NSEC", "NSEC3", "NSEC3PARAM"})


class CappedProblems(list[Problem]):
    """Problems of one input, with at most MAX_REPORTED TE901s kept (a file of 10^6 broken
    lines yields 50 findings and a count, not 10^6 findings)."""

    def __init__(self) -> None:
        super().__init__()
        self.te901 = 0
        self.dropped = 0

    def append(self, problem: Problem) -> None:
        if problem.code == "TE901":
            self.te901 += 1
            if self.te901 > MAX_REPORTED:
                self.dropped += 1
                return
        super().append(problem)

    def extend(self, problems: Iterable[Problem]) -> None:
        for p in problems:
            self.append(p)

    def summarise(self, path: str, what: str) -> None:
        if self.dropped:
            first = next((p for p in self if p.code == "TE901"), None)
            span = first.span if first else Span(path, 1, 1)
            super().append(Problem("TE901", span, f"{self.dropped} more {what} not listed"))
            self.dropped = 0


@dataclass
class Record:
    owner: dns.name.Name  # absolute, as parsed (relative owners are under SENTINEL)
    rdtype: str
    rdata: dns.rdata.Rdata
    span: Span


@dataclass
class Trigger:
    """All records of one owner name: a policy."""

    name: str  # relative to the zone origin, lowercase, no trailing dot ("*.facebook.com")
    kind: str  # qname | client-ip | ip | nsdname | nsip
    records: list[Record] = field(default_factory=list)

    @property
    def span(self) -> Span:
        return self.records[0].span

    @property
    def wildcard(self) -> bool:
        return self.name == "*" or self.name.startswith("*.")


@dataclass
class Action:
    """What a trigger does, decided once per zone flavour."""

    kind: str  # NXDOMAIN | NODATA | PASSTHRU | DROP | TCP-ONLY | local data | invalid
    span: Span
    data: list[Record] = field(default_factory=list)  # local data records
    note: str = ""


@dataclass
class RpzZone:
    """One parsed policy zone, for BIND's or unbound's way of applying it."""

    path: str
    origin: str  # "" when it could not be told (owners are then the triggers as written)
    flavour: str  # "bind" | "unbound"
    problems: list[Problem] = field(default_factory=list)
    included: list[Path] = field(default_factory=list)
    missing: list[tuple[Span, str]] = field(default_factory=list)  # $INCLUDE files not found
    triggers: dict[str, Trigger] = field(default_factory=dict)  # qname triggers by name
    others: list[Trigger] = field(default_factory=list)  # ip / nsdname / nsip / client-ip
    origin_note: str = ""
    override: str = ""  # a policy override (BIND `policy`, unbound rpz-action-override)
    override_cname: str = ""
    override_span: Span | None = None
    records: int = 0
    wildcards: dict[str, Trigger] = field(default_factory=dict)
    _actions: dict[str, Action] = field(default_factory=dict)
    _near: dict[tuple, list[tuple]] = field(default_factory=dict)
    _tld_min2: dict[tuple[int, str], tuple[int, str]] = field(default_factory=dict)
    _apex: bool = False

    # ---- lookup
    def finish(self, near: set[str] | None = None, tld_min2: dict | None = None, apex: bool = False) -> None:
        """For unbound's lookup: `near`, the trigger names sharing a registrable domain with a
        probe name; `tld_min2` and `apex`, what sorts before them higher up (see _ZoneReader)."""
        # A trigger without a usable action does not exist for lookups (unbound skips the
        # record; BIND has nothing to apply).
        self.triggers = {n: t for n, t in self.triggers.items() if self.action(t).kind != INVALID}
        for t in self.triggers.values():
            if t.wildcard:
                self.wildcards[t.name[2:] if t.name != "*" else ""] = t
        for n in (near or set()) | set(self.triggers):
            key = _canonical(n)
            if len(key) >= 2:
                self._near.setdefault(key[:2], []).append(key)
        self._tld_min2 = dict(tld_min2 or {})
        self._apex = apex

    def lookup(self, host: str) -> Trigger | None:
        host = host.lower().rstrip(".")
        if self.flavour == "unbound":
            return self._lookup_unbound(host)
        exact = self.triggers.get(host)
        if exact is not None and not exact.wildcard:
            return exact
        labels = host.split(".")
        for i in range(1, len(labels)):
            t = self.wildcards.get(".".join(labels[i:]))
            if t is not None:
                return t
        return self.wildcards.get("")

    def _lookup_unbound(self, host: str) -> Trigger | None:
        """unbound's rpz_find_zone: the trigger that sorts at or before the name in unbound's
        order (see _canonical); if it is not the name itself, `*.` + the labels both share
        (services/rpz.c). So a trigger sharing more of the query's labels hides a wildcard
        (`m.facebook.com` hides `*.facebook.com` from `x.m.facebook.com`). Checked against
        unbound 1.17 with random zones in tests/e2e/test_unbound_differential.py.

        The labels the predecessor shares with the query: the most, over the names that sort
        before it, of the labels they share, for a name that is an ancestor or branches off
        to a smaller label."""
        exact = self.triggers.get(host)
        if exact is not None:
            return exact
        key = _canonical(host)
        shared = -1
        for other in self._near.get(key[:2], ()):
            j = 0
            while j < len(other) and j < len(key) and other[j] == key[j]:
                j += 1
            if j == len(key):
                continue  # below the query: sorts after it
            if j == len(other) or other[j] < key[j]:
                shared = max(shared, j)
        if shared < 0 and key:
            second = self._tld_min2.get(key[0])  # (0, "") when the TLD itself is a trigger
            if second is not None and (len(key) < 2 or second < key[1]):
                shared = 1
            elif self._apex or any(t < key[0] for t in self._tld_min2):
                shared = 0
        if shared < 0:
            return None
        return self.triggers.get(".".join(("*",) + tuple(lab for _n, lab in reversed(key[:shared]))))

    def action(self, trigger: Trigger) -> Action:
        act = self._actions.get(trigger.name)
        if act is None:
            act = self._actions[trigger.name] = (
                _action_unbound(trigger, self) if self.flavour == "unbound" else _action_bind(trigger, self)
            )
        return act


def _canonical(name: str) -> tuple[tuple[int, str], ...]:
    """unbound's order of names in a local-zone tree (util/data/dname.c, dname_lab_cmp): label
    by label from the top, a shorter label before a longer one, then by (lowercase) bytes;
    a name before its subdomains. Not RFC 4034's canonical order: `zz` sorts before
    `facebook`."""
    return tuple((len(lab), lab) for lab in reversed(name.split("."))) if name else ()


def target_text(target: dns.name.Name, zone: RpzZone) -> str:
    if target.is_subdomain(SENTINEL):
        rel = target.relativize(SENTINEL).to_text()
        return f"{rel}.{zone.origin}." if zone.origin else rel
    return target.to_text()


def _special(target: dns.name.Name) -> str | None:
    text = target.to_text().lower()
    return {
        ".": NXDOMAIN,
        "*.": NODATA,
        "rpz-passthru.": PASSTHRU,
        "rpz-drop.": DROP,
        "rpz-tcp-only.": TCP_ONLY,
    }.get(text)


def _action_bind(trigger: Trigger, zone: RpzZone) -> Action:
    cnames = [r for r in trigger.records if r.rdtype == "CNAME"]
    if cnames:
        rec = cnames[0]
        assert isinstance(rec.rdata, CNAME)  # dnspython's type for every CNAME it parses
        target = rec.rdata.target
        special = _special(target)
        if special:
            return Action(special, rec.span)
        if target_text(target, zone).lower().rstrip(".") == trigger.name:
            return Action(PASSTHRU, rec.span, note="a CNAME to its own name: BIND's legacy PASSTHRU")
        note = ""
        if target.is_subdomain(SENTINEL) or (
            zone.origin and target.is_subdomain(dns.name.from_text(zone.origin))
        ):
            note = (
                f"the CNAME target lies inside the policy zone ({target_text(target, zone)}): "
                f"a missing trailing dot? It is a rewrite, not an RPZ action"
            )
        return Action(LOCAL, rec.span, [rec], note)
    data = [r for r in trigger.records if r.rdtype not in IGNORED_TYPES]
    if data:
        return Action(LOCAL, data[0].span, data)
    return Action(INVALID, trigger.span)


def _action_unbound(trigger: Trigger, zone: RpzZone) -> Action:
    """unbound's rpz_insert_rr: the first record that is not local data sets the action (later
    ones at the same name are skipped as duplicates); local data records accumulate."""
    first: Action | None = None
    data: list[Record] = []
    for rec in trigger.records:
        if rec.rdtype in IGNORED_TYPES:
            continue
        kind = LOCAL
        if rec.rdtype == "CNAME":
            assert isinstance(rec.rdata, CNAME)
            target = rec.rdata.target
            kind = _special(target) or LOCAL
            labels = target.labels
            if kind == LOCAL and len(labels) >= 2 and labels[-2].lower().startswith(b"rpz-"):
                continue  # rpz_rr_to_action: any other rpz-* TLD is an invalid action: skipped
        if kind == LOCAL:
            data.append(rec)
            if first is None:
                first = Action(LOCAL, rec.span)
        elif first is None:
            first = Action(kind, rec.span)
    if first is None:
        return Action(INVALID, trigger.span, note="no usable action (unbound skips it)")
    first.data = data
    return first

"""BIND response policy zones (RPZ): zone files that rewrite DNS answers.

An RPZ is an ordinary master file read by BIND's zone parser (here: dnspython's). Each owner
name, relative to the zone's origin, is a trigger; its records say what happens to a query
for that name (BIND ARM, "Response Policy Zone (RPZ) Rewriting"; draft-vixie-dns-rpz):

    $ORIGIN rpz.example.
    facebook.com        CNAME .                 ; NXDOMAIN
    *.facebook.com      CNAME .                 ; every subdomain (not the apex itself)
    www.twitter.com     CNAME *.                ; NODATA: the name exists, no address
    m.facebook.com      CNAME rpz-passthru.     ; exception: answered normally (explicitly allowed)
    x.com               CNAME rpz-drop.         ; no answer at all
    linkedin.com        CNAME rpz-tcp-only.     ; answered over TCP only: not a block
    ning.com            A     10.0.0.80         ; local data: a private block page
    t.co                CNAME walled.example.   ; local data: redirected to a walled garden

So Facebook and X are blocked, m.facebook.com is explicitly allowed, www.twitter.com is blocked
(twitter.com itself is not), LinkedIn resolves, Ning and t.co are redirected. An A/AAAA answer
is a block when it is a sinkhole, a private address, or any address the catalog cannot confirm
as the service's own (a rewrite exists to send users elsewhere); a CNAME to a name of the same
service (twitter.com -> x.com) is not a block. The legacy passthru form, a CNAME to the owner's
own name (`www.example.com CNAME www.example.com.`), is honoured.

Precedence within one zone: an exact owner beats a wildcard; among wildcards the one nearest the
name wins (`*.www.facebook.com` before `*.facebook.com`). Client-IP triggers
(`<prefix>.<reversed address>.rpz-client-ip`) come before QNAME triggers in BIND's order: they
split clients into audiences (a CNAME . for 10.1.0.0/16 blocks everything for those clients,
a passthru exempts them). Response-IP (`rpz-ip`), `rpz-nsip` and `rpz-nsdname` triggers do not
decide names: when one covers addresses or name servers the catalog places in a service, the
service's names become `unknown` (with a note); otherwise they are ignored.

unbound applies the same files with its own rules (`flavour="unbound"`, used by unbound.py):
the first record of a name sets the action, a CNAME to another `rpz-*` name is skipped, the
legacy passthru is not known, and wildcards follow unbound's tree order (see unbound.py).

The zone's origin comes from, in order: the caller (unbound's `name:`), a `zone "..." { file
"..."; }` statement of a named.conf next to the file or under --root (with the
`response-policy { zone "..." policy ...; }` override, if any), the SOA owner, or the common
suffix of owner names written as absolute names (`facebook.com.rpz.` in a file whose SOA is
`@`). `$ORIGIN` works as in BIND; `$INCLUDE` files are read inside --root only, loop-safe
(TE904), missing ones are TE903. Records BIND would refuse (syntax errors, CNAME beside other
data, out-of-zone names) are TE901 with their line; parsing resumes on the next record.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from fnmatch import fnmatch
from pathlib import Path

import dns.exception
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.tokenizer
import dns.zonefile

from policy_lint.catalog import Catalog
from policy_lint.dialects.dns.hosts import address_decision
from policy_lint.dialects.semantics.base import ParseContext
from policy_lint.inputs import InputError, read_source
from policy_lint.model import EVERYONE, Audience, Decision, Outcome, Probe, Problem, Span

NAME = "rpz"
FILE_PATTERNS = (
    "db.rpz",
    "db.rpz.*",
    "*.rpz",
    "rpz.db",
    "rpz.zone",
    "*.rpz.zone",
    "*.rpz.db",
    "rpz.*.zone",
    "db.rpz-*",
    "*-rpz.zone",
    "*-rpz.db",
    "*_rpz.zone",
    "rpz-*.zone",
    "rpz.*.db",
    "*.rpz.txt",
)
MAX_INCLUDE_DEPTH = 16
MAX_REPORTED = 50  # TE901 findings per file; beyond, one summary
MAX_RESTARTS = 20  # syntax errors in one run of lines before the rest of the run is skipped
SENTINEL = dns.name.from_text("policy-lint-relative.invalid.")
DEFAULT_TTL = 3600  # BIND and unbound warn and load a record without a TTL; so do we

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
TRIGGER_KINDS = {"rpz-client-ip": "client-ip", "rpz-ip": "ip", "rpz-nsdname": "nsdname", "rpz-nsip": "nsip"}

_SOA_LINE = re.compile(r"^\S*\s+(?:\d+[smhdwSMHDW]?\s+)?(?:IN\s+)?SOA\s", re.M | re.I)
_RPZ_MARKERS = re.compile(
    r"\bCNAME\s+(?:\.|\*\.|rpz-passthru\.|rpz-drop\.|rpz-tcp-only\.)\s*(?:;.*)?$"
    r"|\.rpz[-.a-z0-9]*\.\s|rpz-(?:ip|nsdname|client-ip|nsip)\b",
    re.M | re.I,
)
_DIRECTIVE = re.compile(r"^\$([A-Za-z]+)\b")


def detect(path: Path, head: str) -> float:
    name = path.name.lower()
    named = any(fnmatch(name, p) for p in FILE_PATTERNS)
    soa = bool(_SOA_LINE.search(head))
    markers = len(_RPZ_MARKERS.findall(head))
    if named and (soa or markers or not head.strip()):
        return 0.9
    if markers >= 2 and (soa or "$ORIGIN" in head.upper() or "$TTL" in head.upper()):
        return 0.85
    if named:
        return 0.55
    return 0.0


# --------------------------------------------------------------------------- model


class CappedProblems(list):
    """Problems of one input, with at most MAX_REPORTED TE901s kept (a file of 10^6 broken
    lines yields 50 findings and a count, not 10^6 findings)."""

    def __init__(self) -> None:
        super().__init__()
        self.te901 = 0
        self.dropped = 0

    def append(self, problem: Problem) -> None:  # type: ignore[override]
        if problem.code == "TE901":
            self.te901 += 1
            if self.te901 > MAX_REPORTED:
                self.dropped += 1
                return
        super().append(problem)

    def extend(self, problems) -> None:  # type: ignore[override]
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
    triggers: dict[str, Trigger] = field(default_factory=dict)  # qname triggers by name
    others: list[Trigger] = field(default_factory=list)  # ip / nsdname / nsip / client-ip
    origin_note: str = ""
    override: str = ""  # a policy override (BIND `policy`, unbound rpz-action-override)
    override_cname: str = ""
    override_span: Span | None = None
    records: int = 0
    _wild: dict[str, Trigger] = field(default_factory=dict)
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
                self._wild[t.name[2:] if t.name != "*" else ""] = t
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
            t = self._wild.get(".".join(labels[i:]))
            if t is not None:
                return t
        return self._wild.get("")

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


def _target_text(target: dns.name.Name, zone: RpzZone) -> str:
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
        target = rec.rdata.target
        special = _special(target)
        if special:
            return Action(special, rec.span)
        if _target_text(target, zone).lower().rstrip(".") == trigger.name:
            return Action(PASSTHRU, rec.span, note="a CNAME to its own name: BIND's legacy PASSTHRU")
        note = ""
        if target.is_subdomain(SENTINEL) or (
            zone.origin and target.is_subdomain(dns.name.from_text(zone.origin))
        ):
            note = (
                f"the CNAME target lies inside the policy zone ({_target_text(target, zone)}): "
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


# --------------------------------------------------------------------------- reading

SENTINEL_TEXT = SENTINEL.to_text().lower()
# One record on one line, owner in column 1, of the types block lists are made of: read
# without dnspython (the rest, and every record a probe can meet, goes through dnspython).
_FAST_RR = re.compile(
    r'^([^\s;()"\\$][^\s;()"\\]*)[ \t]+'
    r"(?:\d+[smhdwSMHDW]?(?:\d+[smhdwSMHDW])*[ \t]+)?(?:IN[ \t]+)?"
    r"(?:\d+[smhdwSMHDW]?(?:\d+[smhdwSMHDW])*[ \t]+)?"
    r'(CNAME|A|AAAA)[ \t]+([^\s;()"\\]+)[ \t]*(?:;.*)?$',
    re.I,
)
_IPV4 = re.compile(r"(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}")
_IPV6 = re.compile(r"[0-9a-fA-F:.]*:[0-9a-fA-F:.]*")


class _Collector:
    """A minimal dnspython transaction handing each record to the zone reader."""

    def __init__(self, take) -> None:
        self.manager = self
        self.take = take
        self.line = 0

    def origin_information(self):
        return dns.name.root, False, dns.name.root

    def check_put_rdataset(self, check) -> None:
        return None

    def _set_origin(self, origin) -> None:
        return None

    def add_unicode(self, value) -> None:
        return None

    def add(self, name, ttl, rdata) -> None:
        self.take(name.to_text().lower(), dns.rdatatype.to_text(rdata.rdtype), rdata, self.line)


class _LineReader(dns.zonefile.Reader):
    """dnspython's reader, remembering the line each record starts on."""

    def _rr_line(self) -> None:
        self.txn.line = self.tok.where()[1]
        self.record_line = self.txn.line
        super()._rr_line()
        self.record_line = 0

    def _generate_line(self) -> None:
        self.txn.line = self.tok.where()[1]
        self.record_line = self.txn.line
        super()._generate_line()
        self.record_line = 0


@dataclass
class _State:
    origin: dns.name.Name
    last_name: dns.name.Name | str  # a text when set by the fast path (converted when needed)
    default_ttl: int = DEFAULT_TTL
    _origin_text: tuple[dns.name.Name, str] | None = None

    @property
    def origin_text(self) -> str:
        if self._origin_text is None or self._origin_text[0] is not self.origin:
            self._origin_text = (self.origin, self.origin.to_text().lower())
        return self._origin_text[1]

    def apply(self, reader: _LineReader) -> None:
        if isinstance(self.last_name, str):
            self.last_name = dns.name.from_text(self.last_name)
        reader.current_origin = self.origin
        reader.last_name = self.last_name
        reader.default_ttl = self.default_ttl
        reader.default_ttl_known = True

    def save(self, reader: _LineReader) -> None:
        self.origin = reader.current_origin
        self.last_name = reader.last_name or self.last_name
        self.default_ttl = reader.default_ttl


def _paren_depth(line: str) -> int:
    depth = 0
    quoted = False
    for ch in line:
        if ch == '"':
            quoted = not quoted
        elif quoted:
            continue
        elif ch == ";":
            break
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
    return depth


def _absolute(owner: str, origin_text: str) -> str:
    o = owner.lower()
    if o == "@":
        return origin_text
    if o.endswith("."):
        return o
    return f"{o}.{origin_text}" if origin_text != "." else f"{o}."


@dataclass
class _Raw:
    """A record kept for evaluation (the probes may meet it), before the origin is known."""

    owner: str  # absolute text, lowercase, trailing dot
    rdtype: str
    rdata: dns.rdata.Rdata | str  # str: from the fast path, absolute for CNAME targets
    file: str
    line: int
    text: str


class _ZoneReader:
    def __init__(
        self,
        context: ParseContext,
        problems: list[Problem],
        flavour: str,
        origin: dns.name.Name | None,
        anchors: frozenset[str],
        relevant: frozenset[str],
    ):
        self.context = context
        self.problems = problems
        self.flavour = flavour
        self.origin = origin  # known up front (unbound name:, named.conf)
        self.origin_text = origin.to_text().lower() if origin is not None else ""
        self.anchors = anchors
        self.relevant = relevant
        self.collector = _Collector(self._take_rd)
        self.included: list[Path] = []
        self.kept: list[_Raw] = []
        self.records = 0
        self.soa: str | None = None
        self.common: list[str] | None = None  # common label suffix of absolute-written owners
        self.min_labels = 10**6
        # unbound's lookup needs the name sorting just before a query: for labels the query
        # shares beyond its registrable domain the kept names tell; above it, per TLD, the
        # smallest second label ("" = the TLD itself is a trigger) and an apex trigger.
        self.tld_min2: dict[tuple[int, str], tuple[int, str]] = {}
        self.apex = False
        self.out_of_zone: list[Span] = []
        self.out_of_zone_count = 0
        self._file = ""
        self._lines: list[str] = []

    # ---- files
    def read(self, path: Path, display: str, state: _State, stack: tuple[Path, ...]) -> None:
        src = read_source(path, display)
        self.problems.extend(src.problems)
        lines = src.lines
        for i, line in enumerate(lines):
            if "\x00" in line:
                self.problems.append(
                    Problem(
                        "TE902",
                        Span(display, i + 1, 1),
                        "NUL byte in a zone file: BIND refuses the zone; the line is ignored",
                    )
                )
                lines[i] = ""
        batch = 0  # first line of the pending dnspython batch (0: none)
        depth = 0
        for n, line in enumerate(lines, start=1):
            if depth > 0:
                depth = max(0, depth + _paren_depth(line))
                continue
            if not line or line.isspace() or line.lstrip().startswith(";"):
                continue
            if line[0] == "$":
                m = _DIRECTIVE.match(line)
                if m and m.group(1).upper() == "INCLUDE":
                    if batch:
                        self._segment(lines, batch, n - 1, display, state)
                        batch = 0
                    self._include(line, Span(display, n, 1, line.strip()), path, state, stack)
                    continue
            else:
                m = _FAST_RR.match(line)
                if m is not None and self._fast_ok(m):
                    if batch:
                        self._segment(lines, batch, n - 1, display, state)
                        batch = 0
                    self._fast(m, state, display, n, line)
                    continue
            if not batch:
                batch = n
            depth = max(0, _paren_depth(line)) if "(" in line else 0
        if batch:
            self._segment(lines, batch, len(lines), display, state)

    @staticmethod
    def _fast_ok(m: re.Match) -> bool:
        rdtype, value = m.group(2).upper(), m.group(3)
        if rdtype == "A":
            return _IPV4.fullmatch(value) is not None
        if rdtype == "AAAA":
            return _IPV6.fullmatch(value) is not None
        return True

    def _fast(self, m: re.Match, state: _State, display: str, n: int, line: str) -> None:
        origin_text = state.origin_text
        owner = _absolute(m.group(1), origin_text)
        state.last_name = owner
        rdtype = m.group(2).upper()
        value = m.group(3)
        if rdtype == "CNAME":
            value = _absolute(value, origin_text)
        self._take(owner, rdtype, value, display, n, line)

    def _take_rd(self, owner: str, rdtype: str, rdata: dns.rdata.Rdata, line: int) -> None:
        lines = self._lines
        text = lines[line - 1] if 0 < line <= len(lines) else ""
        self._take(owner, rdtype, rdata, self._file, line, text)

    def _take(self, owner: str, rdtype: str, rdata, file: str, line: int, text: str) -> None:
        self.records += 1
        relative = owner.endswith(SENTINEL_TEXT)
        if rdtype == "SOA":
            if self.soa is None:
                self.soa = owner
        elif not relative and rdtype != "NS":
            labels = owner[:-1].split(".") if owner != "." else []
            if self.common is None:
                self.common = labels
            else:
                k = 0
                c = self.common
                while k < len(c) and k < len(labels) and c[-1 - k] == labels[-1 - k]:
                    k += 1
                if k < len(c):
                    self.common = c[len(c) - k :]
            self.min_labels = min(self.min_labels, len(labels) - (1 if labels and labels[0] == "*" else 0))
        if (
            self.origin is not None
            and not relative
            and owner != self.origin_text
            and not owner.endswith("." + self.origin_text)
            and self.origin_text != "."
        ):
            self.out_of_zone_count += 1
            if len(self.out_of_zone) < 5:
                self.out_of_zone.append(Span(file, line, 1, text.strip()))
            return
        if self.flavour == "unbound" and self.origin is not None and rdtype not in IGNORED_TYPES:
            if rdtype != "CNAME" or _usable_cname(rdata):
                rel = _strip(owner, self.origin_text)
                if not rel:
                    self.apex = True
                else:
                    labels = rel.rsplit(".", 2)
                    tld, second = labels[-1], (labels[-2] if len(labels) > 1 else "")
                    if not tld.startswith("rpz-"):
                        tkey, skey = (len(tld), tld), (len(second), second)
                        cur = self.tld_min2.get(tkey)
                        if cur is None or skey < cur:
                            self.tld_min2[tkey] = skey
        if self._keep(owner):
            self.kept.append(_Raw(owner, rdtype, rdata, file, line, text.strip()))

    def _keep(self, owner: str) -> bool:
        """Whether a probe can meet this owner: a name holding one of the probe names'
        registrable domains, an rpz-* trigger, or a wildcard near the top of the zone."""
        labels = owner[:-1].split(".") if owner != "." else []
        for i in range(len(labels) - 1):
            if f"{labels[i]}.{labels[i + 1]}" in self.anchors:
                return True
        if "rpz-" in owner:
            return True
        if labels and labels[0] == "*":
            # `*.com`, `*.net`: a wildcard for a whole top-level domain, or the zone's apex
            if self.origin is not None:
                rest = _strip(owner[2:], self.origin_text) if owner[2:] != self.origin_text else ""
                return rest == "" or rest in self.relevant
            return owner[2:] == SENTINEL_TEXT or len(labels) <= 3 or labels[1] in self.relevant
        return False

    def _segment(self, lines: list[str], first: int, last: int, display: str, state: _State) -> None:
        self._file, self._lines = display, lines
        start = first
        restarts = 0
        while start <= last and restarts < MAX_RESTARTS:
            tok = dns.tokenizer.Tokenizer("\n".join(lines[start - 1 : last]) + "\n", display)
            tok.line_number = start
            reader = _LineReader(
                tok,
                dns.rdataclass.IN,
                self.collector,
                allow_directives={"$ORIGIN", "$TTL", "$GENERATE"},
                default_ttl=state.default_ttl,
            )
            reader.record_line = 0
            state.apply(reader)
            try:
                reader.read()
                state.save(reader)
                return
            except (dns.exception.DNSException, ValueError) as exc:
                state.save(reader)
                at = tok.where()[1]
                line = reader.record_line or min(at, last)
                text = lines[line - 1].strip() if 0 < line <= len(lines) else ""
                detail = re.sub(r"^\S+:\d+: ", "", str(exc)) or "syntax error"
                restarts += 1
                self.problems.append(
                    Problem(
                        "TE901",
                        Span(display, line, 1, text),
                        f"zone file syntax error: {detail}; BIND refuses to load the zone",
                    )
                )
                nxt = max(at, line + 1)
                # Inside an unclosed ( ... ): skip to the line after it closes.
                depth = sum(_paren_depth(x) for x in lines[line - 1 : nxt - 1])
                while depth > 0 and nxt <= last:
                    depth += _paren_depth(lines[nxt - 1])
                    nxt += 1
                start = nxt
        if restarts >= MAX_RESTARTS and start <= last:
            self.problems.append(
                Problem(
                    "TE901",
                    Span(display, start, 1),
                    f"{MAX_RESTARTS} syntax errors in a row: lines {start}-{last} are not read",
                )
            )

    def _include(self, line: str, span: Span, path: Path, state: _State, stack: tuple[Path, ...]) -> None:
        words = line.split(";", 1)[0].split()
        if len(words) < 2:
            self.problems.append(Problem("TE901", span, "$INCLUDE without a file name"))
            return
        ref = words[1].strip('"')
        new_origin = state.origin
        if len(words) > 2:
            try:
                new_origin = dns.name.from_text(words[2], state.origin)
            except dns.exception.DNSException as exc:
                self.problems.append(Problem("TE901", span, f"bad origin in $INCLUDE: {exc}"))
                return
        resolver = self.context.resolver
        target = resolver.resolve(ref, path)
        if target is None:
            self.problems.append(Problem("TE903", span, f"$INCLUDE file not found: {ref}"))
            return
        real = target.resolve()
        if real in stack:
            self.problems.append(Problem("TE904", span, f"$INCLUDE loop: {ref} includes itself"))
            return
        if len(stack) >= MAX_INCLUDE_DEPTH:
            self.problems.append(Problem("TE904", span, f"$INCLUDE nested deeper than {MAX_INCLUDE_DEPTH}"))
            return
        self.included.append(target)
        inner = _State(new_origin, new_origin, state.default_ttl)
        saved = (self._file, self._lines)
        try:
            self.read(target, resolver.display(target), inner, stack + (real,))
        except InputError as exc:
            self.problems.append(Problem("TE902", span, str(exc)))
        self._file, self._lines = saved
        # BIND restores the origin after an included file; $TTL stays as the file left it.
        state.default_ttl = inner.default_ttl


def _usable_cname(rdata) -> bool:
    """unbound skips a CNAME to an rpz-* TLD other than the three actions."""
    target = rdata if isinstance(rdata, str) else rdata.target.to_text().lower()
    labels = target.rstrip(".").split(".")
    return not (
        labels
        and labels[-1].startswith("rpz-")
        and target not in ("rpz-passthru.", "rpz-drop.", "rpz-tcp-only.")
    )


def _strip(owner: str, origin_text: str) -> str:
    if owner == origin_text:
        return ""
    if origin_text == ".":
        return owner[:-1]
    return owner[: -len(origin_text) - 1]


# --------------------------------------------------------------------------- named.conf

_ZONE_STMT = re.compile(r'\bzone\s+"([^"]+)"\s*(?:IN\s*)?\{(.*?)\}\s*;', re.S | re.I)
_FILE_OPT = re.compile(r'\bfile\s+"([^"]+)"', re.I)
_RP_STMT = re.compile(r"\bresponse-policy\s*\{(.*?)\}\s*[^;{}]*;", re.S)
_RP_ZONE = re.compile(r'\bzone\s+"([^"]+)"\s*(?:policy\s+([a-z-]+)(?:\s+("?[^";\s]+"?))?)?', re.I)


def _named_conf(path: Path, context: ParseContext) -> tuple[str, str, str, Span | None]:
    """(zone name, policy override, cname of a `policy cname X`, where) from a named.conf
    whose zone statement loads this file; empty strings when none is found."""
    root = context.resolver.root
    dirs = [
        path.parent,
        path.parent.parent,
        root / "etc" / "bind",
        root / "etc" / "named",
        root / "etc",
        root,
    ]
    seen: set[Path] = set()
    for d in dirs:
        try:
            if not d.is_dir() or not context.resolver._inside(d, path.parent):
                continue
            candidates = sorted(d.glob("named.conf*"))
        except OSError:
            continue
        for conf in candidates:
            if conf in seen or not conf.is_file():
                continue
            seen.add(conf)
            try:
                text = read_source(conf).lines
            except InputError:
                continue
            body = "\n".join(re.sub(r"(//|#).*$", "", line) for line in text)
            for m in _ZONE_STMT.finditer(body):
                f = _FILE_OPT.search(m.group(2))
                if not f or Path(f.group(1)).name != path.name:
                    continue
                zone = m.group(1).rstrip(".").lower()
                line = body.count("\n", 0, m.start()) + 1
                span = Span(context.resolver.display(conf), line, 1, f'zone "{m.group(1)}"')
                policy = cname = ""
                for rp in _RP_STMT.finditer(body):
                    for z in _RP_ZONE.finditer(rp.group(1)):
                        if z.group(1).rstrip(".").lower() == zone and z.group(2):
                            policy, cname = z.group(2).lower(), (z.group(3) or "").strip('"')
                return zone, policy, cname, span
    return "", "", "", None


# --------------------------------------------------------------------------- loading


def load_zone(
    path: Path,
    context: ParseContext,
    origin: str | None = None,
    flavour: str = "bind",
    display: str | None = None,
    stack: tuple[Path, ...] = (),
) -> RpzZone:
    """Parse a policy zone file. `origin` None: find it (named.conf, SOA, owner names)."""
    shown = display or context.resolver.display(path)
    problems = CappedProblems()
    zone = RpzZone(shown, "", flavour, problems)
    override = override_cname = ""
    override_span = None
    if origin is None and flavour == "bind":
        named, override, override_cname, override_span = _named_conf(path, context)
        if named:
            origin = named
            zone.origin_note = f"zone name '{named}' from {override_span.where()}"
    given = dns.name.from_text(origin) if origin else None
    start = given or SENTINEL
    reader = _ZoneReader(
        context, problems, flavour, given, _anchors(context.catalog), _relevant(context.catalog)
    )
    reader.read(path, shown, _State(start, start), stack + (path.resolve(),))
    zone.included = reader.included
    zone.records = reader.records
    # ---- the origin
    known = given
    if known is None:
        if reader.soa is not None and not reader.soa.endswith(SENTINEL_TEXT):
            known = dns.name.from_text(reader.soa)
            zone.origin_note = f"zone name '{reader.soa.rstrip('.')}' from the SOA record"
        elif reader.common:
            known = _guess_origin(reader.common, reader.min_labels)
            if known is not None:
                zone.origin_note = (
                    f"zone name '{known.to_text().rstrip('.')}' guessed from the "
                    f"owner names (the SOA is '@'; the zone statement is elsewhere)"
                )
    origin_text = known.to_text().lower() if known is not None else "."
    zone.origin = origin_text.rstrip(".") if known is not None and known != dns.name.root else ""
    # ---- triggers
    relevant = _relevant(context.catalog)
    near: set[str] = set()
    out_of_zone = list(reader.out_of_zone)
    out_count = reader.out_of_zone_count
    for raw in reader.kept:
        if raw.owner.endswith(SENTINEL_TEXT):
            rel = _strip(raw.owner, SENTINEL_TEXT)
        elif known is None:
            rel = raw.owner[:-1]
        elif raw.owner == origin_text or raw.owner.endswith("." + origin_text) or origin_text == ".":
            rel = _strip(raw.owner, origin_text)
        else:
            if given is None:  # counted while reading when the origin was known
                out_count += 1
                if len(out_of_zone) < 5:
                    out_of_zone.append(Span(raw.file, raw.line, 1, raw.text))
            continue
        if rel == "" and raw.rdtype in IGNORED_TYPES:
            continue
        labels = rel.split(".") if rel else []
        kind = TRIGGER_KINDS.get(labels[-1], "qname") if labels else "qname"
        if (
            flavour == "unbound"
            and kind == "qname"
            and raw.rdtype not in IGNORED_TYPES
            and (raw.rdtype != "CNAME" or _usable_cname(raw.rdata))
            and not labels[-1].startswith("rpz-")
        ):
            near.add(rel)
        if kind == "qname" and not (
            rel in relevant or rel == "*" or (rel.startswith("*.") and rel[2:] in relevant)
        ):
            continue
        rdata = raw.rdata
        if isinstance(rdata, str):
            try:
                rdata = dns.rdata.from_text(
                    dns.rdataclass.IN,
                    dns.rdatatype.from_text(raw.rdtype),
                    rdata,
                    origin=dns.name.root,
                    relativize=False,
                )
            except (dns.exception.DNSException, ValueError) as exc:
                problems.append(
                    Problem(
                        "TE901",
                        Span(raw.file, raw.line, 1, raw.text),
                        f"zone file syntax error: {exc}; BIND refuses to load the zone",
                    )
                )
                continue
        span = Span(raw.file, raw.line, 1, raw.text)
        trig = (
            zone.triggers.get(rel)
            if kind == "qname"
            else next((t for t in zone.others if t.name == rel), None)
        )
        if trig is None:
            trig = Trigger(rel, kind)
            if kind == "qname":
                zone.triggers[rel] = trig
            else:
                zone.others.append(trig)
        trig.records.append(Record(dns.name.from_text(raw.owner), raw.rdtype, rdata, span))
    if out_count:
        where = ", ".join(str(s.line) for s in out_of_zone[:5])
        consequence = "unbound refuses to load the zone" if flavour == "unbound" else "BIND ignores them"
        problems.append(
            Problem(
                "TE901",
                out_of_zone[0],
                f"{out_count} record(s) outside the zone "
                f"'{zone.origin or '.'}' (lines {where}): {consequence}",
            )
        )
    if flavour == "bind":
        _check_bind(zone)
    problems.summarise(shown, "zone file errors")
    if override:
        zone.override, zone.override_cname, zone.override_span = (
            _policy_word(override),
            override_cname,
            override_span,
        )
    zone.finish(near, reader.tld_min2, reader.apex)
    return zone


def _anchors(catalog: Catalog) -> frozenset[str]:
    """The registrable domains (last two labels) of every name the engine asks about."""
    names = {p.host.lower() for svc in catalog.services.values() for p in svc.probes()}
    names.add(catalog.control_host.lower())
    return frozenset(".".join(n.split(".")[-2:]) for n in names)


def _relevant(catalog: Catalog) -> frozenset[str]:
    names = {p.host.lower() for svc in catalog.services.values() for p in svc.probes()}
    names.add(catalog.control_host.lower())
    out = set()
    for n in names:
        labels = n.split(".")
        out.update(".".join(labels[i:]) for i in range(len(labels)))
    return frozenset(out)


def _policy_word(word: str) -> str:
    return {
        "nxdomain": NXDOMAIN,
        "nodata": NODATA,
        "passthru": PASSTHRU,
        "drop": DROP,
        "tcp-only": TCP_ONLY,
        "tcp_only": TCP_ONLY,
        "disabled": DISABLED,
        "cname": "CNAME",
        "given": "",
        "no-op": PASSTHRU,
    }.get(word.lower(), "")


def _guess_origin(common: list[str], min_labels: int) -> dns.name.Name | None:
    """The zone name of a file whose owners are written as absolute names: their common
    suffix, cut back to a label holding 'rpz' when there is one, and shortened until every
    owner keeps a registrable name (two labels) in front of it."""
    labels = list(common)
    for i, lab in enumerate(labels):
        if "rpz" in lab:
            return dns.name.from_text(".".join(labels[i:]) + ".")
    while labels:
        if min_labels - len(labels) >= 2:
            return dns.name.from_text(".".join(labels) + ".")
        labels = labels[1:]
    return None


def _check_bind(zone: RpzZone) -> None:
    """What BIND refuses when loading a zone: CNAME beside other data, several CNAMEs."""
    for t in list(zone.triggers.values()) + zone.others:
        types = [r.rdtype for r in t.records if r.rdtype not in ("RRSIG", "NSEC", "NSEC3")]
        cnames = types.count("CNAME")
        if cnames and len(types) > cnames:
            other = next(r for r in t.records if r.rdtype != "CNAME")
            zone.problems.append(
                Problem(
                    "TE901", other.span, f"CNAME and other data at '{t.name}': BIND refuses to load the zone"
                )
            )
        elif cnames > 1 and len({str(r.rdata) for r in t.records if r.rdtype == "CNAME"}) > 1:
            zone.problems.append(
                Problem(
                    "TE901",
                    t.records[1].span,
                    f"more than one CNAME at '{t.name}': BIND refuses to load the zone",
                )
            )


# --------------------------------------------------------------------------- decisions


def trigger_decision(
    zone: RpzZone, trigger: Trigger, host: str, catalog: Catalog, trace: tuple[Span, ...] = ()
) -> Decision:
    """What applying `trigger` to an A query for `host` does to a user of its service."""
    act = zone.action(trigger)
    kind = act.kind
    via = f"RPZ {zone.origin or zone.path}"
    note_extra = act.note
    if zone.override and zone.override not in ("CNAME",) and kind != INVALID:
        note_extra = f"every trigger's action is overridden to {zone.override}"
        kind = zone.override
    elif zone.override == "CNAME" and kind != INVALID:
        note_extra = f"every trigger's action is overridden to CNAME {zone.override_cname}"
        return _name_decision(zone.override_cname, host, catalog, act.span, trace + (act.span,), via)
    spans = trace + ((zone.override_span,) if zone.override_span and zone.override else ()) + (act.span,)
    if kind == DISABLED:
        return Decision(
            Outcome.ALLOW,
            act.span,
            spans,
            False,
            f"{via}: policy disabled",
            "the policy zone's actions are disabled (logged only)",
        )
    if kind == NXDOMAIN:
        return Decision(Outcome.DENY, act.span, spans, True, "NXDOMAIN", note_extra)
    if kind == NODATA:
        return Decision(Outcome.DENY, act.span, spans, True, "NODATA", note_extra)
    if kind == DROP:
        return Decision(Outcome.DENY, act.span, spans, True, "dropped (no answer)", note_extra)
    if kind == PASSTHRU:
        return Decision(
            Outcome.ALLOW,
            act.span,
            spans,
            True,
            "passthru",
            note_extra or "an RPZ passthru: answered normally",
        )
    if kind == TCP_ONLY:
        return Decision(
            Outcome.ALLOW,
            act.span,
            spans,
            False,
            "tcp-only",
            "answered over TCP only (clients retry over TCP): not a block",
        )
    if kind == INVALID:
        return Decision(Outcome.ALLOW, act.span, spans, False, "", act.note or "no usable policy")
    return _data_decision(act, host, catalog, spans, zone)


def _data_decision(
    act: Action, host: str, catalog: Catalog, spans: tuple[Span, ...], zone: RpzZone
) -> Decision:
    a = [r for r in act.data if r.rdtype == "A"]
    cname = [r for r in act.data if r.rdtype == "CNAME"]
    if a:
        return rewrite_address(str(a[0].rdata.address), host, catalog, a[0].span, spans)
    if cname:
        target = cname[0].rdata.target
        if target.labels and target.labels[0] == b"*":
            # BIND/unbound: '*.walled.example.' means the query name prepended
            text = host + "." + target.parent().to_text()
        else:
            text = _target_text(target, zone)
        d = _name_decision(text, host, catalog, cname[0].span, spans, "")
        if act.note:
            d = Decision(d.outcome, d.rule, d.trace, d.specific, d.how, f"{d.note}; {act.note}".strip("; "))
        return d
    aaaa = [r for r in act.data if r.rdtype == "AAAA"]
    note = (
        "only AAAA data: IPv4 clients get NODATA"
        if aaaa
        else f"local data without an address ({', '.join(sorted({r.rdtype for r in act.data}))})"
    )
    return Decision(Outcome.DENY, act.span, spans, True, "NODATA", note)


def _name_decision(
    target: str, host: str, catalog: Catalog, span: Span, spans: tuple[Span, ...], via: str
) -> Decision:
    target = target.rstrip(".").lower()
    owner = catalog.service_for_host(host)
    held = catalog.service_for_host(target) if target else None
    if owner is not None and held is not None and held[0] == owner[0]:
        return Decision(
            Outcome.ALLOW,
            span,
            spans,
            True,
            f"CNAME {target}",
            f"rewritten to {target}, a name of {catalog.services[owner[0]].name} itself",
        )
    return Decision(
        Outcome.DENY,
        span,
        spans,
        True,
        f"redirected to {target or '.'}",
        "rewritten to another name (a walled garden or block page)",
    )


def rewrite_address(
    address: str, host: str, catalog: Catalog, span: Span, trace: tuple[Span, ...]
) -> Decision:
    """An address a policy answers with: a block unless it is one of the service's own."""
    d = address_decision(address, host, catalog, span, trace, "")
    if d.outcome == Outcome.UNKNOWN and "not an address" not in d.note:
        return Decision(
            Outcome.DENY,
            span,
            trace,
            True,
            f"redirected to {address}",
            f"{address} is not among the catalog's addresses for this service: a redirect "
            f"(walled garden or block page)",
        )
    if d.outcome == Outcome.ALLOW and not d.specific:
        # the name belongs to no service: the rewrite still replaces the real answer
        return Decision(
            Outcome.DENY,
            span,
            trace,
            True,
            f"redirected to {address}",
            "a rewrite to another address (walled garden or block page)",
        )
    return d


# --------------------------------------------------------------------------- other triggers


def netblock(trigger_name: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    """`24.0.100.51.198.rpz-ip` -> 198.51.100.0/24; `zz` stands for `::` in IPv6 forms."""
    labels = trigger_name.split(".")[:-1]
    if len(labels) < 2 or not labels[0].isdigit():
        return None
    prefix = int(labels[0])
    parts = list(reversed(labels[1:]))
    try:
        if len(parts) == 4 and all(p.isdigit() for p in parts):
            return ipaddress.ip_network(f"{'.'.join(parts)}/{prefix}", strict=False)
        text = ":".join("" if p == "zz" else p for p in parts)
        if "zz" in parts:
            text = text.replace(":::", "::")
        return ipaddress.ip_network(f"{text}/{prefix}", strict=False)
    except ValueError:
        return None


def other_trigger_note(
    zone: RpzZone, host: str, catalog: Catalog, trace: tuple[Span, ...] = ()
) -> Decision | None:
    """rpz-ip / rpz-nsip / rpz-nsdname triggers that may catch the service behind `host`."""
    owner = catalog.service_for_host(host)
    if owner is None:
        return None
    svc = catalog.services[owner[0]]
    for t in zone.others:
        if t.kind == "client-ip":
            continue
        act = zone.action(t)
        kind = zone.override or act.kind
        if kind not in BLOCKING:
            continue
        if t.kind in ("ip", "nsip"):
            net = netblock(t.name)
            if net is None or not any(net.version == n.version and net.overlaps(n) for n in svc.networks):
                continue
            what = "answers holding" if t.kind == "ip" else "names served by name servers at"
            return Decision(
                Outcome.UNKNOWN,
                t.span,
                trace + (t.span,),
                True,
                "",
                f"{what} {net} (addresses of {svc.name}) are rewritten ({kind}); "
                f"whether {host} is depends on the address it resolves to",
            )
        if t.kind == "nsdname":
            ns = t.name.rsplit(".", 1)[0]
            if catalog.service_for_host(ns) and catalog.service_for_host(ns)[0] == owner[0]:
                return Decision(
                    Outcome.UNKNOWN,
                    t.span,
                    trace + (t.span,),
                    True,
                    "",
                    f"names served by the name server {ns} are rewritten ({kind}); {host} may be one of them",
                )
    return None


def client_netblocks(zone: RpzZone) -> list[tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, Trigger]]:
    out = []
    for t in zone.others:
        if t.kind == "client-ip":
            net = netblock(t.name)
            if net is not None:
                out.append((net, t))
    return out


# --------------------------------------------------------------------------- the ruleset

OTHER_CLIENT = "198.51.100.77"


class RpzRuleset:
    """One policy zone as BIND applies it to each client."""

    dialect = NAME

    def __init__(self, zone: RpzZone, catalog: Catalog, missing: str = ""):
        self.path = zone.path
        self.zone = zone
        self.catalog = catalog
        self.problems = zone.problems
        self.included = [str(p.resolve()) for p in zone.included]
        self._clients = client_netblocks(zone)
        self._audiences: list[Audience] | None = None
        self._cache: dict[tuple[str, tuple], Decision] = {}

    def audiences(self) -> list[Audience]:
        if self._audiences is not None:
            return self._audiences
        if not self._clients:
            self._audiences = [EVERYONE]
            return self._audiences
        seen: dict[str | None, Audience] = {}
        reps = [(_representative(net), net, t) for net, t in self._clients] + [(OTHER_CLIENT, None, None)]
        for ip, _net, _t in reps:
            trig = self._client_trigger(ip)
            key = trig.name if trig else None
            if key in seen:
                continue
            if trig is None:
                cond: tuple[str, ...] = ("clients outside every rpz-client-ip trigger",)
            else:
                net = netblock(trig.name)
                cond = (f"rpz-client-ip {net}",)
            seen[key] = Audience(key=(("client", key or ""),), conditions=cond, attributes=(("src", ip),))
        self._audiences = list(seen.values())
        return self._audiences

    def _client_trigger(self, ip: str) -> Trigger | None:
        addr = ipaddress.ip_address(ip)
        best = None
        for net, t in self._clients:
            if (
                addr.version == net.version
                and addr in net
                and (best is None or net.prefixlen > best[0].prefixlen)
            ):
                best = (net, t)
        return best[1] if best else None

    def evaluate(self, probe: Probe, audience: Audience) -> Decision:
        key = (probe.host.lower(), audience.key)
        hit = self._cache.get(key)
        if hit is None:
            hit = self._cache[key] = self._decide(probe.host.lower(), audience) or NOT_LISTED
        return hit

    def _decide(self, host: str, audience: Audience) -> Decision | None:
        ip = audience.attribute("src")
        if ip and self._clients:
            t = self._client_trigger(ip)
            if t is not None:  # CLIENT-IP triggers come before QNAME triggers (BIND ARM)
                d = trigger_decision(self.zone, t, host, self.catalog)
                return Decision(d.outcome, d.rule, d.trace, False, d.how, d.note, d.scope)
        t = self.zone.lookup(host)
        if t is not None:
            d = trigger_decision(self.zone, t, host, self.catalog)
            if d.outcome == Outcome.ALLOW and d.how == "passthru":
                broader = self._broader(host, t)
                if broader is not None:
                    d = Decision(
                        d.outcome,
                        d.rule,
                        (broader.span,) + d.trace,
                        True,
                        d.how,
                        f"an exception to '{broader.span.text}'",
                    )
            return d
        return other_trigger_note(self.zone, host, self.catalog)

    def _broader(self, host: str, trigger: Trigger) -> Trigger | None:
        labels = host.split(".")
        for i in range(1, len(labels) + 1):
            t = self.zone._wild.get(".".join(labels[i:]))
            if t is not None and t is not trigger and self.zone.action(t).kind in BLOCKING:
                return t
        return None

    def inert_mentions(self, probe: Probe) -> list[Span]:
        return []


def _representative(net: ipaddress.IPv4Network | ipaddress.IPv6Network) -> str:
    if net.num_addresses > 2:
        return str(net.network_address + 1)
    return str(net.network_address)


NOT_LISTED = Decision(Outcome.ALLOW, None, (), False, "", "the policy zone does not name this host")


def parse(path: Path, context: ParseContext) -> RpzRuleset:
    zone = load_zone(path, context)
    if not zone.triggers and not zone.others and zone.records == 0 and not zone.problems:
        zone.problems.append(Problem("TE901", Span(zone.path, 1, 1), "no records: an empty zone file"))
    return RpzRuleset(zone, context.catalog)

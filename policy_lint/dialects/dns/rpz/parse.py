"""Reading a policy zone: the zone file (with its $INCLUDEs, through dnspython's zone parser
and a fast path for the one-line records block lists are made of), the zone's origin (caller,
named.conf, SOA or owner names) and the problems BIND or unbound would refuse, into an RpzZone
(model.py). Also `detect`: whether a file looks like a policy zone."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
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
from policy_lint.dialects.dns.rpz import stream
from policy_lint.dialects.dns.rpz.model import (
    DISABLED,
    DROP,
    IGNORED_TYPES,
    NODATA,
    NXDOMAIN,
    PASSTHRU,
    SENTINEL,
    TCP_ONLY,
    CappedProblems,
    Record,
    RpzZone,
    Trigger,
)
from policy_lint.dialects.semantics.base import ParseContext
from policy_lint.dialects.semantics.linestream import NotStreamable
from policy_lint.inputs import MAX_FILE_BYTES, InputError, read_source
from policy_lint.model import Problem, Span

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
MAX_RESTARTS = 20  # syntax errors in one run of lines before the rest of the run is skipped
# Files from this size on are read through stream.py (small zones: line by line).
STREAM_FROM_BYTES = 1 << 20
DEFAULT_TTL = 3600  # BIND and unbound warn and load a record without a TTL; so do we
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
_BAD_NAME = re.compile(r"\.\.|^\.(?!$)|[^.]{64}")


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
    """dnspython's reader, remembering the line each record starts on (its transaction is
    always a _Collector)."""

    record_line: int  # the line of the record being read (0: between records)

    def _rr_line(self) -> None:
        assert isinstance(self.txn, _Collector)
        self.txn.line = self.tok.where()[1]
        self.record_line = self.txn.line
        super()._rr_line()
        self.record_line = 0

    def _generate_line(self) -> None:
        assert isinstance(self.txn, _Collector)
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
        assert reader.current_origin is not None  # apply() set it; $ORIGIN only replaces it
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
        self.missing: list[tuple[Span, str]] = []
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
        self._offset = 0  # self._lines[0] is line self._offset + 1
        self.relevant_res: list[re.Pattern[bytes]] | None = None  # stream.relevant_patterns

    # ---- files
    def read(self, path: Path, display: str, state: _State, stack: tuple[Path, ...]) -> None:
        batch: list[str] = []  # the lines of the pending dnspython batch, from line `first` on
        first = 0
        depth = 0
        skipped = stream.Skipped()
        numbered = self._source(path, display, state, skipped, lambda: not batch and self._plain(state))
        mark = len(self.problems)  # NUL problems go first, as when every line was checked up front
        nul: list[Problem] = []
        for n, line in numbered:
            if "\x00" in line:
                nul.append(
                    Problem(
                        "TE902",
                        Span(display, n, 1),
                        "NUL byte in a zone file: BIND refuses the zone; the line is ignored",
                    )
                )
                line = ""
            if depth > 0:
                depth = max(0, depth + _paren_depth(line))
                batch.append(line)
                continue
            if not line or line.isspace() or line.lstrip().startswith(";"):
                if batch:
                    batch.append(line)
                continue
            if line[0] == "$":
                m = _DIRECTIVE.match(line)
                if m and m.group(1).upper() == "INCLUDE":
                    if batch:
                        self._segment(batch, first, display, state)
                        batch = []
                    self._include(line, Span(display, n, 1, line.strip()), path, state, stack)
                    continue
            else:
                m = _FAST_RR.match(line)
                if m is not None and self._fast_ok(m, state.origin_text):
                    if batch:
                        self._segment(batch, first, display, state)
                        batch = []
                    self._fast(m, state, display, n, line)
                    continue
            if not batch:
                first = n
            batch.append(line)
            depth = max(0, _paren_depth(line)) if "(" in line else 0
        if batch:
            self._segment(batch, first, display, state)
        self.records += skipped.records
        self.problems[mark:mark] = nul

    def _source(
        self, path: Path, display: str, state: _State, skipped: stream.Skipped, clean: Callable[[], bool]
    ) -> Iterable[tuple[int, str]]:
        """The file's lines; for a big zone only those stream.py says the reader must see."""
        try:
            if STREAM_FROM_BYTES < path.stat().st_size <= MAX_FILE_BYTES and self._plain(state):
                if self.relevant_res is None:
                    self.relevant_res = stream.relevant_patterns(self.anchors)
                return stream.lines(path, self.relevant_res, clean, skipped)  # NotStreamable first
        except (NotStreamable, OSError):
            pass  # read the ordinary way: the same lines, or the same error
        src = read_source(path, display)
        self.problems.extend(src.problems)
        return enumerate(src.lines, start=1)

    def _plain(self, state: _State) -> bool:
        """Whether a plain relative record only counts (stream.py): no origin known yet."""
        return self.origin is None and state.origin is SENTINEL

    @staticmethod
    def _fast_ok(m: re.Match, origin_text: str) -> bool:
        # A name dnspython refuses (empty or overlong labels, over 255 octets) is left to it:
        # a syntax error at its line (the fast path would pass it on to fail later).
        owner = m.group(1)
        if _BAD_NAME.search(owner) or len(_absolute(owner, origin_text)) > 254:
            return False
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
        lines, i = self._lines, line - 1 - self._offset
        text = lines[i] if 0 <= i < len(lines) else ""
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
        if (
            self.flavour == "unbound"
            and self.origin is not None
            and rdtype not in IGNORED_TYPES
            and (rdtype != "CNAME" or _usable_cname(rdata))
        ):
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

    def _segment(self, lines: list[str], first: int, display: str, state: _State) -> None:
        """Read lines first.. (numbered from `first`) with dnspython."""
        off = first - 1  # lines[i - 1 - off] is line i
        last = first + len(lines) - 1
        self._file, self._lines, self._offset = display, lines, off
        start = first
        restarts = 0
        while start <= last and restarts < MAX_RESTARTS:
            tok = dns.tokenizer.Tokenizer("\n".join(lines[start - 1 - off : last - off]) + "\n", display)
            tok.line_number = start
            reader = _LineReader(
                tok,
                dns.rdataclass.IN,
                self.collector,  # type: ignore[arg-type]  # duck-types the parts of a Transaction the reader uses
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
                text = lines[line - 1 - off].strip() if 0 < line - off <= len(lines) else ""
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
                depth = sum(_paren_depth(x) for x in lines[line - 1 - off : nxt - 1 - off])
                while depth > 0 and nxt <= last:
                    depth += _paren_depth(lines[nxt - 1 - off])
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
            self.problems.append(
                Problem(
                    "TE903",
                    span,
                    f"$INCLUDE file not found: {ref}; the names its triggers could rewrite are unknown",
                )
            )
            self.missing.append((span, ref))
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
        saved = (self._file, self._lines, self._offset)
        try:
            self.read(target, resolver.display(target), inner, stack + (real,))
        except InputError as exc:
            self.problems.append(Problem("TE902", span, str(exc)))
        self._file, self._lines, self._offset = saved
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
            if not d.is_dir() or not context.resolver.inside(d, path.parent):
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
            assert override_span is not None  # _named_conf names a zone together with where
            origin = named
            zone.origin_note = f"zone name '{named}' from {override_span.where()}"
    given = dns.name.from_text(origin) if origin else None
    start = given or SENTINEL
    reader = _ZoneReader(
        context, problems, flavour, given, _anchors(context.catalog), _relevant(context.catalog)
    )
    reader.read(path, shown, _State(start, start), stack + (path.resolve(),))
    zone.included = reader.included
    zone.missing = reader.missing
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
            policy_word(override),
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
    out: set[str] = set()
    for n in names:
        labels = n.split(".")
        out.update(".".join(labels[i:]) for i in range(len(labels)))
    return frozenset(out)


def policy_word(word: str) -> str:
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

"""squidGuard.conf -> the rule model: settings, `time`, `dest`, `src`, `rew` and `acl` blocks read as
squidGuard 1.6 reads them, with the list files they name resolved under dbhome (or next to the config).

Anything squidGuard refuses to load is an emergency problem (TE901): squidGuard then passes every
request. Missing list files are TE903, judged by their names (see `SquidGuardConfig._report_missing`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import re
from fnmatch import fnmatch
from pathlib import Path

from policy_lint.dialects.proxies.squidguard.lists import ExprList, SgList, list_lines
from policy_lint.dialects.proxies.squidguard.model import (
    FILE_PATTERNS,
    AclEntry,
    Dest,
    PassItem,
    RewriteGroup,
    RewriteRule,
    Source,
    TimeElement,
    TimeSpace,
    ipv4,
)
from policy_lint.dialects.proxies.squidguard.syntax import Block, Parser, Stmt
from policy_lint.dialects.proxies.squidguard.urls import ascii_lower
from policy_lint.dialects.semantics.base import ParseContext
from policy_lint.dialects.semantics.listnames import OTHER_TOPIC_WORDS, classify_list_name
from policy_lint.dialects.semantics.patterns import BoundedPattern, PatternError
from policy_lint.inputs import InputError, read_source
from policy_lint.model import Problem, Span

DEFAULT_DBHOME = "/var/lib/squidguard/db"  # Debian's compiled-in default


MAX_EXPRESSIONS = 20000  # patterns per expressionlist; beyond, the rest is undecidable


# Filter categories of the squidGuard world that listnames.py does not know yet (Shalla's
# "anonvpn", school lists' "Anonymizers", "Applications"/"software" download categories).
EXTRA_OTHER_TOPIC = ("anonym", "anonom", "anonvpn", "application", "software", "remote")

_HINT = re.compile(
    r"^\s*(dbhome|logdir|dest(ination)?\s+\S+\s*\{|src\s+\S+\s*\{|acl\s*\{|"
    r"(domainlist|urllist|expressionlist)\s+\S+|pass\s+\S+)",
    re.M,
)
_SPECIFIC = re.compile(
    r"^\s*(dbhome\s|dest(ination)?\s+\S+\s*\{|(domainlist|urllist|expressionlist)\s+\S+)", re.M
)
_SETTINGS = {
    "dbhome",
    "logdir",
    "syslog",
    "groupttl",
    "ldapcachetime",
    "ldapprotover",
    "ldapbinddn",
    "ldapbindpass",
    "mysqlusername",
    "mysqlpassword",
    "mysqldb",
}
_IPV4 = r"\d{1,3}(?:\.\d{1,3}){3}"
_IP_SPEC = re.compile(rf"({_IPV4})(?:\s*-\s*({_IPV4})|/({_IPV4}|\d{{1,2}}))?")
_TIME_RANGE = re.compile(r"(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})")
_DATE = re.compile(r"^(\d{4}|\*)[-.](\d{1,2}|\*)[-.](\d{1,2}|\*)$")
_DAY_NAMES = {"sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6}
_DAY_LETTERS = {"s": 0, "m": 1, "t": 2, "w": 3, "h": 4, "f": 5, "a": 6}


def detect(path: Path, head: str) -> float:
    name = path.name.lower()
    if any(fnmatch(name, p) for p in FILE_PATTERNS):
        return 0.95  # above squid's 0.9 for "squid*.conf"
    # `pass` and `src x {` also open lines of pf.conf: without a word only squidGuard uses,
    # the file is not squidGuard's.
    if not _SPECIFIC.search(head):
        return 0.0
    hits = len(_HINT.findall(head))
    if re.search(r"^\s*acl\s*\{", head, re.M) and hits >= 2:
        return 0.9
    return min(0.7, 0.2 * hits) if hits >= 2 else 0.0


def _parse_time(block: Block, problems: list[Problem], fatal: list[Problem]) -> TimeSpace:
    ts = TimeSpace(block.head.words[1] if len(block.head.words) > 1 else "?", block.head.span)
    for stmt in block.body:
        kind, rest = stmt.words[0].lower(), " ".join(stmt.words[1:])
        ranges = [(int(a) * 60 + int(b), int(c) * 60 + int(d)) for a, b, c, d in _TIME_RANGE.findall(rest)]
        words = _TIME_RANGE.sub(" ", rest).replace(",", " ").split()
        if kind == "weekly":
            if not ranges:
                fatal.append(
                    Problem(
                        "TE901",
                        stmt.span,
                        "'weekly' without a time range: squidGuard 1.6 "
                        "refuses this (syntax error); write e.g. 'weekly as 00:00-24:00'",
                    )
                )
                continue
            wday = 0
            for w in words:
                lw = w.lower()
                if lw == "*":
                    wday = 127
                elif lw[:3] in _DAY_NAMES:
                    wday |= 1 << _DAY_NAMES[lw[:3]]
                elif all(c in _DAY_LETTERS for c in lw):
                    for c in lw:
                        wday |= 1 << _DAY_LETTERS[c]
                else:
                    fatal.append(
                        Problem("TE901", stmt.span, f"weekday format error '{w}': squidGuard refuses this")
                    )
            for a, b in ranges:
                ts.elements.append(TimeElement(wday=wday, start=a, end=b))
        elif kind == "date":
            dates = []
            for w in words:
                for part in _split_date_range(w):
                    dates.append(part)
            if not dates:
                fatal.append(Problem("TE901", stmt.span, "date format error: squidGuard refuses this"))
                continue
            spans = ranges or [(0, 1439)]  # sgTimeElementEnd: no time = 00:00-23:59
            for d in dates:
                for a, b in spans:
                    if isinstance(d, tuple) and len(d) == 3 and isinstance(d[0], int):
                        ts.elements.append(TimeElement(start=a, end=b, cron=d))
                        ts.dates.extend(_cron_examples(d))
                    else:
                        lo, hi = d
                        ts.elements.append(TimeElement(start=a, end=b, fromdate=lo, todate=hi))
                        ts.dates.append(lo)
        else:
            fatal.append(
                Problem(
                    "TE901",
                    stmt.span,
                    f"unknown statement '{stmt.words[0]}' in time "
                    f"{ts.name}: squidGuard refuses this (syntax error)",
                )
            )
    return ts


def _split_date_range(word: str) -> list:
    """`2030-12-24`, `2030.12.24-2030.12.26`, `*-12-25` -> [(lo, hi)] dates or a cron tuple."""
    m = re.fullmatch(r"(\d{4}[-.]\d{1,2}[-.]\d{1,2})-(\d{4}[-.]\d{1,2}[-.]\d{1,2})", word)
    if m:
        lo, hi = _date(m.group(1)), _date(m.group(2))
        return [(lo, hi)] if lo and hi else []
    m = _DATE.match(word)
    if not m:
        return []
    if "*" in word:
        return [tuple(-1 if g == "*" else int(g) for g in m.groups())]
    d = _date(word)
    return [(d, d)] if d else []


def _date(text: str) -> dt.date | None:
    try:
        y, m, d = (int(x) for x in re.split(r"[-.]", text))
        return dt.date(y, m, d)
    except ValueError:
        return None


def _cron_examples(cron: tuple[int, int, int]) -> list[dt.date]:
    y, m, d = cron
    try:
        return [dt.date(2030 if y == -1 else y, 1 if m == -1 else m, 1 if d == -1 else d)]
    except ValueError:
        return []


class SquidGuardConfig:
    """squidGuard.conf read as squidGuard loads it: definitions in order (no forward references),
    what makes squidGuard refuse the config (`emergency`), the files it reads (`included`) and the
    problems found on the way. SquidGuardRuleset decides with what this holds."""

    def __init__(self, path: Path, display: str, context: ParseContext):
        self.path = display
        self.config = path
        self.catalog = context.catalog
        self.resolver = context.resolver
        self.problems: list[Problem] = []
        self.included: list[str] = []
        self.dbhome = DEFAULT_DBHOME
        self.dests: dict[str, Dest] = {}
        self.sources: list[Source] = []
        self.times: dict[str, TimeSpace] = {}
        self.rewrites: dict[str, RewriteGroup] = {}
        self.acl: list[AclEntry] = []
        self.default: AclEntry | None = None
        self.emergency: list[Problem] = []
        src = read_source(path, display)
        self.problems.extend(src.problems)
        parser = Parser(src.lines, display)
        settings, blocks = parser.parse()
        self.emergency.extend(parser.fatal)
        self._build(settings, blocks)
        self.problems.extend(self.emergency)
        self._report_missing()

    # ---- building
    def _build(self, settings: list[Stmt], blocks: list[Block]) -> None:
        for stmt in settings:
            key = stmt.words[0].lower()
            if key == "dbhome" and len(stmt.words) > 1:
                self.dbhome = stmt.words[1]
            elif key in _SETTINGS:
                continue
            else:
                self.emergency.append(
                    Problem(
                        "TE901",
                        stmt.span,
                        f"unknown statement '{stmt.words[0]}': squidGuard refuses this config (syntax error)",
                    )
                )
        # No forward references in squidGuard: definitions are read in order.
        for block in blocks:
            kind = block.head.words[0].lower()
            if kind == "time":
                ts = _parse_time(block, self.problems, self.emergency)
                self.times[ts.name] = ts
            elif kind in ("dest", "destination"):
                self._dest(block)
            elif kind in ("src", "source"):
                self._source(block)
            elif kind in ("rew", "rewrite"):
                self._rewrite(block)
            elif kind == "acl":
                for entry in block.children:
                    self._acl_entry(entry)
            else:
                self.emergency.append(
                    Problem(
                        "TE901",
                        block.head.span,
                        f"unknown block '{block.head.words[0]}': "
                        "squidGuard refuses this config (syntax error)",
                    )
                )
        if self.default is None and (self.acl or blocks):
            self.emergency.append(
                Problem(
                    "TE901",
                    Span(self.path, 1, 1),
                    "no 'default' acl: squidGuard refuses this config (FATAL: default acl not defined)",
                )
            )

    def _unknown_statement(self, stmt: Stmt, where: str) -> None:
        self.emergency.append(
            Problem(
                "TE901",
                stmt.span,
                f"unknown statement '{stmt.words[0]}' in {where}: squidGuard refuses this config (syntax error)",
            )
        )

    def _time_ref(self, words: tuple[str, ...], span: Span) -> tuple[str, str] | None:
        for i, w in enumerate(words):
            if w.lower() in ("within", "outside") and i + 1 < len(words):
                name = words[i + 1]
                if name not in self.times:
                    self.emergency.append(
                        Problem(
                            "TE901",
                            span,
                            f"time {name} is not defined (before this line): squidGuard refuses this config",
                        )
                    )
                    return None
                return w.lower(), name
        return None

    def _header_extras(self, block: Block, kind: str) -> None:
        """squidGuard 1.6's grammar has `dest NAME {` and `src NAME {` only: a time constraint
        goes inside the block (`within T` / `outside T`), and there is no `else`."""
        if len(block.head.words) > 2:
            self.emergency.append(
                Problem(
                    "TE901",
                    block.head.span,
                    f"'{' '.join(block.head.words[2:])}' on the "
                    f"{kind} line: squidGuard 1.6 refuses this (syntax error); write it "
                    f"inside the block",
                )
            )
        if block.else_body is not None:
            self.emergency.append(
                Problem(
                    "TE901",
                    block.else_span or block.head.span,
                    f"'else' after a {kind} block: squidGuard 1.6 refuses this (syntax error)",
                )
            )

    def _db_path(self, ref: str) -> str:
        return ref if ref.startswith("/") else self.dbhome.rstrip("/") + "/" + ref

    def _resolve(self, ref: str) -> Path | None:
        """A list path under --root or next to the config; a bare file name alone does not do
        (every category's list is called `domains`): the category directory must match too."""
        full = self._db_path(ref)
        parts = Path(full).parts
        for cand in self.resolver.candidates(full, self.config):
            if len(parts) >= 3 and cand.parent.name != parts[-2]:
                continue
            if cand.is_file():
                return cand
        return None

    def _sglist(self, kind: str, ref: str, span: Span) -> SgList:
        path = self._resolve(ref)
        display = self.resolver.display(path) if path else self._db_path(ref)
        diff = None
        if path is not None:
            cand = path.with_name(path.name + ".diff")
            if cand.is_file() and self.resolver.inside(cand, self.config.parent):
                diff = cand
        lst = SgList(kind, ref, span, path, display, diff, self.resolver.display(diff) if diff else "")
        for p in (path, diff):
            if p is not None:
                self.included.append(str(p.resolve()))
        return lst

    def _dest(self, block: Block) -> None:
        words = block.head.words
        name = words[1] if len(words) > 1 else "?"
        if name in self.dests:
            self.emergency.append(
                Problem(
                    "TE901",
                    block.head.span,
                    f"destination {name} is defined twice: squidGuard refuses this config",
                )
            )
        d = Dest(name, block.head.span)
        self._header_extras(block, "dest")
        for stmt in block.body:
            key, args = stmt.words[0].lower(), stmt.words[1:]
            if key in ("domainlist", "urllist", "expressionlist") and args:
                d.content = True
                ref = args[-1]
                d.directive_spans[key] = stmt.span
                if ref == "-":
                    ref = f"dest/{name}/{key}"
                if key == "domainlist":
                    d.domainlist = self._sglist("domain", ref, stmt.span)  # the last one wins
                elif key == "urllist":
                    d.urllist = self._sglist("url", ref, stmt.span)
                else:
                    d.expressions = self._exprlist(ref, stmt.span)
            elif key == "redirect" and args:
                d.content = True
                d.redirect = args[0]
            elif key in ("rewrite", "rew") and args:
                d.content = True
                d.rewrite = args[0]
                if args[0] not in self.rewrites:
                    self.emergency.append(
                        Problem(
                            "TE901",
                            stmt.span,
                            f"rewrite {args[0]} is not defined: squidGuard refuses this config",
                        )
                    )
            elif key in ("within", "outside") and args:
                d.time = self._time_ref(stmt.words, stmt.span)
            elif key in ("log", "logfile"):
                continue
            else:
                self._unknown_statement(stmt, f"dest {name}")
        self.dests[name] = d

    def _exprlist(self, ref: str, span: Span) -> ExprList:
        path = self._resolve(ref)
        display = self.resolver.display(path) if path else self._db_path(ref)
        ex = ExprList(ref, span, path, display)
        if path is None:
            return ex
        self.included.append(str(path.resolve()))
        try:
            for n, raw in list_lines(path, display):
                if not raw:
                    continue  # squidGuard skips empty lines, but not '#' lines: those are patterns
                if len(ex.patterns) >= MAX_EXPRESSIONS:
                    ex.truncated = True
                    break
                try:
                    ex.patterns.append(
                        (BoundedPattern.compile(raw, ignore_case=True), Span(display, n, 1, raw))
                    )
                except PatternError as exc:
                    self.problems.append(Problem("TE905", Span(display, n, 1, raw), str(exc)))
        except InputError as exc:
            ex.error = str(exc)
            self.problems.append(Problem("TE902", span, str(exc)))
        if ex.truncated:
            self.problems.append(
                Problem(
                    "TE905",
                    span,
                    f"expressionlist {ref}: more than {MAX_EXPRESSIONS} "
                    "patterns; requests the first ones do not match are unknown",
                )
            )
        return ex

    def _source(self, block: Block) -> None:
        words = block.head.words
        s = Source(words[1] if len(words) > 1 else "?", block.head.span)
        if any(x.name == s.name for x in self.sources):
            self.emergency.append(
                Problem(
                    "TE901",
                    block.head.span,
                    f"source {s.name} is defined twice: squidGuard refuses this config",
                )
            )
        self._header_extras(block, "src")
        for stmt in block.body:
            key, args = stmt.words[0].lower(), stmt.words[1:]
            if key == "ip":
                s.has_ip = True
                self._ips(s, " ".join(args), stmt.span)
            elif key == "iplist" and args:
                s.has_ip = True
                self._iplist(s, args[0], stmt.span)
            elif key == "user":
                s.has_user = True
                s.users.update(ascii_lower(u) for a in args for u in a.split(",") if u)
            elif key == "userlist" and args:
                s.has_user = True
                self._userlist(s, args[0], stmt.span)
            elif key == "domain":
                s.domains.extend(a for arg in args for a in arg.split(",") if a)
            elif key in ("within", "outside") and args:
                s.time = self._time_ref(stmt.words, stmt.span)
            elif key in (
                "log",
                "logfile",
                "continue",
                "userquota",
                "group",
                "ldapusersearch",
                "ldapipsearch",
                "ipquota",
                "execuserlist",
                "userquery",
            ):
                if key in ("group", "ldapusersearch", "ldapipsearch", "execuserlist", "userquery"):
                    s.has_user = True
                    s.userlist_missing.append((f"{key} {' '.join(args)}", stmt.span))
                continue
            else:
                self._unknown_statement(stmt, f"src {s.name}")
        if not (s.has_ip or s.has_user or s.domains):
            self.problems.append(
                Problem(
                    "TE901",
                    s.span,
                    f"src {s.name} has no ip, user or domain: "
                    "squidGuard sets it inactive (it matches no client)",
                )
            )
        self.sources.append(s)

    def _ips(self, s: Source, text: str, span: Span) -> None:
        for m in _IP_SPEC.finditer(text):
            a, hi, suffix = m.group(1), m.group(2), m.group(3)
            net = ipv4(a)
            if net is None:
                self.emergency.append(
                    Problem("TE901", span, f"address error {a}: squidGuard refuses this config")
                )
                continue
            if hi:
                top = ipv4(hi)
                if top is None or top < net:
                    self.emergency.append(
                        Problem("TE901", span, f"iprange error {a}-{hi}: squidGuard refuses this")
                    )
                    continue
                s.nets.append(("range", net, top))
            elif suffix and "." in suffix:
                mask = ipv4(suffix) or 0
                s.nets.append(("mask", net, mask))  # not masked: a host address here matches nothing
            elif suffix:
                bits = int(suffix)
                mask = 0xFFFFFFFF ^ (0xFFFFFFFF >> bits) if bits < 32 else 0xFFFFFFFF
                s.nets.append(("mask", net & mask, mask))
            else:
                s.nets.append(("mask", net, 0xFFFFFFFF))
        for word in text.replace(",", " ").split():
            if ":" in word:
                with contextlib.suppress(ValueError):
                    s.nets6.append(ipaddress.ip_network(word, strict=False))

    def _client_list(self, ref: str, span: Span, missing: list[tuple[str, Span]]) -> list[str] | None:
        """The lines of an iplist or userlist; None, with `ref` added to `missing`, when it is not
        found or cannot be read."""
        path = self._resolve(ref)
        if path is None:
            missing.append((ref, span))
            return None
        self.included.append(str(path.resolve()))
        try:
            src = read_source(path, self.resolver.display(path))
        except InputError as exc:
            self.problems.append(Problem("TE902", span, str(exc)))
            missing.append((ref, span))
            return None
        return src.lines

    def _iplist(self, s: Source, ref: str, span: Span) -> None:
        lines = self._client_list(ref, span, s.iplist_missing)
        if lines is None:
            return
        for raw in lines:
            if raw.startswith("#"):
                continue
            self._ips(s, raw.split("#", 1)[0], span)

    def _userlist(self, s: Source, ref: str, span: Span) -> None:
        lines = self._client_list(ref, span, s.userlist_missing)
        if lines is None:
            return
        for raw in lines:
            if raw.startswith("#"):
                continue
            line = raw.split("#", 1)[0]
            if ":" in line:
                s.users.add(ascii_lower(line.split(":", 1)[0].strip()))
            else:
                s.users.update(ascii_lower(u) for u in re.split(r"[\s,]+", line) if u)

    def _rewrite(self, block: Block) -> None:
        name = block.head.words[1] if len(block.head.words) > 1 else "?"
        group = RewriteGroup(name, block.head.span)
        for stmt in block.body:
            text = " ".join(stmt.words)
            if text.startswith("s@"):
                group.rules.append(self._subst(text, stmt.span))
            elif stmt.words[0].lower() in ("log", "logfile", "within", "outside"):
                continue
            else:
                self._unknown_statement(stmt, f"rewrite {name}")
        self.rewrites[name] = group

    def _subst(self, text: str, span: Span) -> RewriteRule:
        """sgRewriteSubstitute: s@from@to@[irRg]."""
        body = text[2:]
        pattern, subst, flags = body, "", ""
        for i in range(len(body)):
            if body[i] == "@" and (i == 0 or body[i - 1] != "\\"):
                pattern, subst = body[:i], body[i + 1 :]
                break
        at = subst.rfind("@")
        if at >= 0:
            subst, flags = subst[:at], subst[at + 1 :]
        try:
            compiled = BoundedPattern.compile(pattern, ignore_case="i" in flags.lower())
        except PatternError as exc:
            self.problems.append(Problem("TE905", span, str(exc)))
            compiled = None
        code = "302:" if "r" in flags else "301:" if "R" in flags else ""
        return RewriteRule(compiled, subst, code, "g" in flags, span)

    def _acl_entry(self, block: Block) -> None:
        words = block.head.words
        name = words[0]
        if name != "default" and not any(s.name == name for s in self.sources):
            self.emergency.append(
                Problem(
                    "TE901",
                    block.head.span,
                    f"acl {name}: source {name} is not defined "
                    "(before the acl): squidGuard refuses this config",
                )
            )
        time = self._time_ref(words[1:], block.head.span)
        entry = self._acl_body(AclEntry(name, block.head.span, time), block.body)
        self.acl.append(entry)
        if name == "default":
            self.default = entry  # sgAcl: each "default" replaces the last ...
        if block.else_body is not None:
            other = self._acl_body(
                AclEntry(name, block.else_span or block.head.span, time, True), block.else_body
            )
            self.acl.append(other)
            if name == "default":
                # ... so `default within T { } else { }` is always its else branch (checked
                # against squidGuard 1.6)
                self.default = other

    def _acl_body(self, entry: AclEntry, body: list[Stmt]) -> AclEntry:
        for stmt in body:
            key, args = stmt.words[0].lower(), stmt.words[1:]
            if key in ("pass", "next"):
                entry.pass_span = entry.pass_span or stmt.span
                negate = False
                for raw in args:
                    for w in [x for x in re.split(r"(!)|,", raw) if x]:
                        if w == "!":
                            negate = True
                            continue
                        entry.passes.append(self._pass_item(w, not negate, stmt.span))
                        negate = False
            elif key == "redirect" and args:
                entry.redirect = None if args[0] == "default" else args[0]
                entry.redirect_span = stmt.span
            elif key in ("rewrite", "rew") and args:
                if args[0] != "none" and args[0] not in self.rewrites:
                    self.emergency.append(
                        Problem(
                            "TE901",
                            stmt.span,
                            f"rewrite {args[0]} is not defined: squidGuard refuses this config",
                        )
                    )
                entry.rewrite = None if args[0] == "none" else args[0]
            elif key in ("log", "logfile"):
                continue
            else:
                self._unknown_statement(stmt, f"acl {entry.name}")
        return entry

    def _pass_item(self, word: str, allowed: bool, span: Span) -> PassItem:
        if word in ("all", "any"):
            return PassItem(word, True, "all", span)  # "!all" is "all" in squidGuard
        if word == "none":
            return PassItem(word, False, "none", span)
        if word == "in-addr":
            return PassItem(word, allowed, "in-addr", span)
        if word.startswith("dnsbl"):
            return PassItem(word, False, "dnsbl", span)
        if word not in self.dests:
            self.emergency.append(
                Problem(
                    "TE901",
                    span,
                    f"destination {word} is not defined (before the acl): "
                    "squidGuard refuses this config and passes every request",
                )
            )
        return PassItem(word, allowed, "dest", span)

    def _report_missing(self) -> None:
        """One TE903 per dest with missing lists (judged by the dest's and lists' names) and per
        missing client list."""
        keywords = {sid: s.keywords for sid, s in self.catalog.services.items()}
        used = {p.name for e in self.acl for p in e.passes}
        for d in self.dests.values():
            lists = [x for x in (d.domainlist, d.urllist, d.expressions) if x is not None]
            missing = [x for x in lists if x.missing]
            for x in lists:
                if isinstance(x, SgList) and x.error:
                    self.problems.append(Problem("TE902", x.span, x.error))
            if not missing or d.name not in used:
                continue
            refs = ", ".join(x.ref for x in missing)
            d.assumed = all(self._other_topic(f"{d.name} {x.ref}", keywords) for x in missing)
            where = f" (dbhome {self.dbhome})" if any(not x.ref.startswith("/") for x in missing) else ""
            if d.assumed:
                msg = (
                    f"dest {d.name}: {refs} not found{where}; its name suggests another topic, "
                    f"so it is assumed not to name the catalog services"
                )
            else:
                msg = f"dest {d.name}: {refs} not found{where}; verdicts that depend on it are unknown"
            if any(isinstance(x, ExprList) for x in missing):
                msg += " (where squidGuard runs, a missing expressionlist sends it into emergency mode)"
            self.problems.append(Problem("TE903", missing[0].span, msg))
        for s in self.sources:
            for ref, span in s.iplist_missing:
                self.problems.append(
                    Problem(
                        "TE903",
                        span,
                        f"src {s.name}: iplist {ref} not found; which clients belong to it is unknown",
                    )
                )
            for ref, span in s.userlist_missing:
                self.problems.append(
                    Problem(
                        "TE903",
                        span,
                        f"src {s.name}: {ref} not found or not readable "
                        "here; which users belong to it is unknown",
                    )
                )

    @staticmethod
    def _other_topic(name: str, keywords: dict) -> bool:
        kind, _ = classify_list_name(name, keywords)
        if kind == "other-topic":
            return True
        if kind == "social":
            return False
        tokens = [t for t in re.split(r"[^a-z]+", name.lower()) if t]
        return any(t.startswith(w) for t in tokens for w in EXTRA_OTHER_TOPIC + OTHER_TOPIC_WORDS)

"""Pi-hole: gravity and adlists, exact and regex deny lists, exact and regex allow-lists.

Pi-hole answers DNS queries; a blocked name gets 0.0.0.0 / NXDOMAIN. Its lists match:

- **exactly** (gravity, the lists downloaded from adlists, `blacklist.txt`/`black.list`, the
  allow-list `whitelist.txt`): blocking `twitter.com` does not block `www.twitter.com`.
  Lines are a domain, or hosts syntax (`0.0.0.0 twitter.com`, the address is ignored);
  `#` starts a comment. Pi-hole v6 also reads ABP-style `||twitter.com^` in adlists: that
  entry covers the name and its subdomains (`@@||twitter.com^` allows them);
- by **regex** (`regex.list`, regex allow-lists such as `whitelist-regex.txt`): POSIX
  extended regular expressions matched, case-insensitively, against the queried name, with
  Pi-hole's extensions `;querytype=` (a rule that does not apply to A queries does not stop a
  browser) and `;invert`. Evaluated with a time bound (TE905 when it runs out).

**Allow wins**: a name on an exact or regex allow-list is never blocked, whatever gravity or
the deny lists say. So, with these files in one Pi-hole directory,

    gravity.list      facebook.com            -> facebook.com blocked; www.facebook.com not
                      www.facebook.com
    regex.list        (^|\\.)twitter\\.com$     -> twitter.com and every subdomain blocked
    whitelist.txt     www.facebook.com        -> ... but www.facebook.com allowed (allow wins)

Facebook is `blocked-partial` (facebook.com and m.facebook.com blocked, www.facebook.com
allowed) and Twitter `blocked-partial` (x.com still resolves).

The files of one Pi-hole install (`/etc/pihole`: gravity.list, adlists.list, regex.list,
black.list, blacklist.txt, whitelist.txt, custom.list, list.N.host.domains, pihole.toml,
setupVars.conf, the v5 Teleporter's `*.exact.json`/`*.regex.json`/`adlist.json`) are read
together: linting the directory reports them once, under the first of them. A list file
met on its own (a repository of lists to load into Pi-hole) is judged alone: an allow-list
is `pihole-allowlist`, anything else a block list.

`adlists.list` (and `adlist.json`) name remote lists by URL. Their content is read from
the downloaded copies Pi-hole keeps beside it (`list.N.<host>.domains`), from `file://`
URLs inside --root, or it is already in a `gravity.list` next to it; otherwise it is
unknown: TE903, and the names a list could hold are `unknown` (unless the list's name says
it holds another topic, e.g. ads or malware). `custom.list` and pihole.toml's `dns.hosts`
are local DNS records (hosts semantics: a sinkhole address blocks, a service's own address
is pinned). `BLOCKING_ENABLED=false` (setupVars.conf) or `dns.blocking.active = false`
(pihole.toml) turns the lists off.

Large lists (10^6 lines) are scanned in their raw bytes for the probe names' registrable
domains (see `listscan`); only those lines are parsed. Lines that are neither domains,
hosts lines nor comments are counted and reported once (TE902): Pi-hole skips them.
"""

from __future__ import annotations

import itertools
import json
import re
from dataclasses import dataclass, field
from fnmatch import fnmatch
from functools import lru_cache
from pathlib import Path

from policy_lint.catalog import Catalog
from policy_lint.dialects.dns.hosts import address_decision, parse_address
from policy_lint.dialects.semantics import listscan
from policy_lint.dialects.semantics.base import ParseContext
from policy_lint.dialects.semantics.listnames import classify_list_name
from policy_lint.dialects.semantics.names import DomainIndex, NameRuleset, suffixes
from policy_lint.dialects.semantics.patterns import BoundedPattern, PatternError
from policy_lint.inputs import InputError, read_source
from policy_lint.model import Decision, Outcome, Problem, Span

NAME = "pihole"
FILE_PATTERNS = (
    "gravity.list",
    "adlists.list",
    "regex.list",
    "black.list",
    "blacklist.txt",
    "custom.list",
    "list.*.domains",
    "pihole.toml",
    "*pihole*",
    "*pi-hole*",
    "*.exact.json",
    "*.regex.json",
    "adlist.json",
    "*regex*.list",
    "*regex*.txt",
)

# The files of one Pi-hole install, in the order that picks the one reporting for all.
INSTALL_FILES = (
    "adlists.list",
    "gravity.list",
    "pihole.toml",
    "blacklist.txt",
    "black.list",
    "regex.list",
    "custom.list",
    "whitelist.txt",
    "whitelist.list",
    "white.list",
    "whitelist-regex.txt",
    "regex-whitelist.list",
    "adlist.json",
    "blacklist.exact.json",
    "blacklist.regex.json",
    "whitelist.exact.json",
    "whitelist.regex.json",
    "list.*.domains",
    "setupvars.conf",
)
# Names only Pi-hole uses: one of them beside a list says the directory is a Pi-hole's.
PIHOLE_ONLY = (
    "gravity.list",
    "adlists.list",
    "regex.list",
    "pihole.toml",
    "pihole-ftl.conf",
    "setupvars.conf",
    "gravity.db",
    "list.*.domains",
)

_ALLOW_WORDS = re.compile(r"white|allow", re.I)
_DOMAIN = re.compile(r"^(?:[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?\.)*[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?\.?$")
_ABP = re.compile(r"^(@@)?\|\|([a-z0-9_.-]+)\^$")
_REGEX_HINT = re.compile(r"[\\^$()|\[\]]")
# A line Pi-hole reads from a domain list: a domain, hosts syntax, ABP-style, a comment or
# blank. Over lower-cased bytes after a newline; the others are counted as malformed.
_WELL_FORMED = (
    rb"[a-z0-9_][a-z0-9_.-]*+[ \t]*+(?:#[^\n]*)?\r?(?=\n)"
    rb"|[0-9a-f:.]++(?:%[^\s]*)?[ \t]"
    rb"|(?:@@)?\|\|[a-z0-9_.-]++\^[ \t]*+\r?(?=\n)"
    rb"|[#!\n]|[ \t]*+\r?(?=\n)|\Z"
)
_MALFORMED = re.compile(rb"\n(?!" + _WELL_FORMED + rb")")
_ABP_SINGLE = re.compile(rb"\n(?:@@)?\|\|[a-z0-9_-]+\^")  # `||com^` names no anchor but matters
MAX_EXAMPLES = 3


# --------------------------------------------------------------------------- roles


def role_for(path: Path) -> str:
    """What a file is to Pi-hole, from its name: deny | allow | regex-deny | regex-allow |
    adlists | records | toml | setupvars | json-<role>."""
    name = path.name.lower()
    if name in ("adlists.list",):
        return "adlists"
    if name == "adlist.json":
        return "json-adlists"
    if name == "custom.list":
        return "records"
    if name == "pihole.toml":
        return "toml"
    if name == "setupvars.conf":
        return "setupvars"
    allow = bool(_ALLOW_WORDS.search(name))
    if name.endswith(".json"):
        kind = "regex-" if ".regex." in name else ""
        return "json-" + kind + ("allow" if allow else "deny")
    if "regex" in name:
        return "regex-allow" if allow else "regex-deny"
    return "allow" if allow else "deny"


def _is_install_file(name: str) -> bool:
    return any(fnmatch(name, p) for p in INSTALL_FILES)


def pihole_context(path: Path, head: str) -> bool:
    """Does something say this file belongs to a Pi-hole (its folders, its neighbours, its
    header)?"""
    parts = [p.lower() for p in path.parts[-4:-1]]
    if any("pihole" in p or "pi-hole" in p for p in parts):
        return True
    if re.search(r"pi-?hole", head[:4096], re.I):
        return True
    return any(s != path.name.lower() for s in _pihole_only_files(str(path.parent)))


@lru_cache(maxsize=64)
def _pihole_only_files(directory: str) -> tuple[str, ...]:
    """The names in `directory` that only Pi-hole uses (detection asks once per folder)."""
    try:
        names = [p.name.lower() for p in itertools.islice(Path(directory).iterdir(), 5000)]
    except OSError:
        return ()
    return tuple(n for n in names if any(fnmatch(n, p) for p in PIHOLE_ONLY))


def list_content(head: str) -> tuple[int, int, int]:
    """(domain-like lines, regex-like lines, content lines) in a file's head."""
    domains = regexes = content = 0
    for raw in head.splitlines()[:400]:
        line = raw.split("#", 1)[0].strip().lower() if not raw.lstrip().startswith("#") else ""
        if not line or line.startswith("!"):
            continue
        content += 1
        words = line.split()
        if (
            _ABP.match(line)
            or (len(words) == 1 and _DOMAIN.match(words[0]) and "." in words[0])
            or (len(words) >= 2 and parse_address(words[0].split("%", 1)[0]) is not None)
        ):
            domains += 1
        elif _REGEX_HINT.search(line):
            regexes += 1
    return domains, regexes, content


def detect(path: Path, head: str) -> float:
    name = path.name.lower()
    role = role_for(path)
    if name in ("gravity.list", "adlists.list", "regex.list", "pihole.toml") or fnmatch(
        name, "list.*.domains"
    ):
        return 0.95
    if name in ("adlist.json", "blacklist.exact.json", "blacklist.regex.json", "whitelist.regex.json"):
        return 0.9
    domains, regexes, content = list_content(head)
    listy = content == 0 or domains >= 0.8 * content
    regexy = content > 0 and (regexes + domains) >= 0.8 * content and regexes > 0
    if role in ("allow", "json-allow"):
        return 0.0  # pihole-allowlist's
    if name == "custom.list" and (listy or content == 0):
        return 0.9
    if role.startswith("regex") and (regexy or listy):
        named_regex = fnmatch(name, "*regex*.list") or fnmatch(name, "*regex*.txt")
        return 0.9 if named_regex or pihole_context(path, head) else 0.0
    named = "pihole" in name or "pi-hole" in name
    if named and (listy or regexy):
        return 0.9
    if name in ("blacklist.txt", "black.list") and listy:
        return 0.9 if pihole_context(path, head) else 0.55
    if listy and domains and pihole_context(path, head):
        return 0.75
    if regex_list_by_content(path, head):
        return 0.7
    return 0.0


def regex_list_by_content(path: Path, head: str) -> bool:
    """A `*.list` its author named freely (`social.list`) whose lines are regexes, as Pi-hole's
    regex.list holds (`(^|\\.)facebook\\.com$`): read as a regex deny list (#18)."""
    if not path.name.lower().endswith(".list") or role_for(path) != "deny":
        return False
    _domains, regexes, content = list_content(head)
    return regexes >= 2 and regexes >= 0.8 * content


# --------------------------------------------------------------------------- state


@dataclass
class RegexRule:
    pattern: BoundedPattern
    invert: bool
    span: Span
    reply: str = ""  # FTL's `;reply=` (nodata, nxdomain, refused, ip, or an address)


@dataclass
class MissingList:
    span: Span
    reference: str
    services: set[str]


@dataclass
class PiholeState:
    wanted: frozenset[str]
    relevant: frozenset[str]  # every suffix of a wanted name (for ABP-style entries)
    allow: DomainIndex[Span] = field(default_factory=DomainIndex)
    deny: DomainIndex[Span] = field(default_factory=DomainIndex)
    allow_regex: list[RegexRule] = field(default_factory=list)
    deny_regex: list[RegexRule] = field(default_factory=list)
    records: dict[str, tuple[str, Span]] = field(default_factory=dict)
    missing: list[MissingList] = field(default_factory=list)
    disabled: Span | None = None
    problems: list[Problem] = field(default_factory=list)
    included: list[str] = field(default_factory=list)
    gravity_present: bool = False

    def problem(self, code: str, span: Span, message: str) -> None:
        p = Problem(code, span, message)
        if p not in self.problems:
            self.problems.append(p)


# --------------------------------------------------------------------------- readers


class _Reader:
    def __init__(self, context: ParseContext, state: PiholeState):
        self.context = context
        self.state = state
        self.anchors = listscan.anchor_patterns(state.wanted)
        self.keywords = {sid: svc.keywords for sid, svc in context.catalog.services.items()}

    def display(self, path: Path) -> str:
        return self.context.resolver.display(path)

    def read(self, path: Path, role: str) -> None:
        if role in ("deny", "allow"):
            self.domain_list(path, role)
        elif role in ("regex-deny", "regex-allow"):
            self.regex_list(path, role)
        elif role == "adlists":
            self.adlists(path)
        elif role == "records":
            self.records(path)
        elif role == "toml":
            self.toml(path)
        elif role == "setupvars":
            self.setupvars(path)
        elif role.startswith("json-"):
            self.teleporter(path, role[5:])

    # -- exact lists (large): only lines naming a probe's registrable domain are parsed
    def domain_list(self, path: Path, role: str) -> None:
        shown = self.display(path)
        st = self.state
        index = st.allow if role == "allow" else st.deny

        def on_line(line: int, text: str) -> None:
            body = text.split("#", 1)[0].strip()
            if not body:
                return
            low = body.lower()
            span = Span(shown, line, len(text) - len(text.lstrip()) + 1, text.strip())
            m = _ABP.match(low)
            if m:
                name = m.group(2).rstrip(".")
                target = st.allow if (m.group(1) or role == "allow") else st.deny
                if name in st.relevant:
                    target.add_subtree(name, span)
                return
            words = low.split()
            if len(words) >= 2 and parse_address(words[0].split("%", 1)[0]) is not None:
                names = words[1:]
            elif len(words) == 1:
                names = words
            else:
                return
            for n in names:
                n = n.rstrip(".")
                if n in st.wanted and _DOMAIN.match(n):
                    index.add_exact(n, span)

        stats = listscan.scan(
            path,
            shown,
            on_line,
            anchors=self.anchors,
            line_patterns=[_ABP_SINGLE],
            counters={"malformed": _MALFORMED},
        )
        st.problems.extend(stats.problems())
        bad = stats.matched.get("malformed", 0)
        if bad:
            examples = stats.matched_examples.get("malformed", [])
            line, text = examples[0] if examples else (1, "")
            shown_ex = "; ".join(f"line {n}: '{t[:80]}'" for n, t in examples)
            st.problem(
                "TE902",
                Span(shown, line, 1, text[:120]),
                f"{bad} of {stats.lines} lines are not domains, hosts lines or comments; "
                f"Pi-hole skips them ({shown_ex})",
            )

    # -- regex lists (small)
    def regex_list(self, path: Path, role: str) -> None:
        src = read_source(path, self.display(path))
        self.state.problems.extend(src.problems)
        for i, raw in enumerate(src.lines, start=1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            span = Span(src.path, i, len(raw) - len(raw.lstrip()) + 1, line)
            self.add_regex(line, span, role == "regex-allow")

    def add_regex(self, text: str, span: Span, allow: bool) -> None:
        st = self.state
        pattern, invert, applies = split_extensions(text)
        if not applies:
            return  # only for query types a browser does not depend on (e.g. AAAA, ANY)
        try:
            compiled = BoundedPattern.compile(ere_to_python(pattern), ignore_case=True)
        except PatternError as exc:
            st.problem("TE905", span, f"{exc}; Pi-hole rejects it too")
            return
        (st.allow_regex if allow else st.deny_regex).append(RegexRule(compiled, invert, span, reply_of(text)))

    # -- adlists: URLs of remote lists
    def adlists(self, path: Path) -> None:
        src = read_source(path, self.display(path))
        self.state.problems.extend(src.problems)
        urls = []
        for i, raw in enumerate(src.lines, start=1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            urls.append((line.split()[0], Span(src.path, i, len(raw) - len(raw.lstrip()) + 1, line)))
        self.add_adlists(path, urls)

    def add_adlists(self, path: Path, urls: list[tuple[str, Span]]) -> None:
        st = self.state
        if st.gravity_present:
            return  # gravity.list beside it holds what the lists held
        for idx, (url, span) in enumerate(urls):
            local = self.local_copy(path, url, idx)
            if local is not None:
                st.included.append(str(local.resolve()))
                self.domain_list(local, "deny")
                continue
            kind, services = classify_list_name(url, self.keywords)
            named = {"social": services, "other-topic": set()}.get(kind, set(self.keywords))
            st.missing.append(MissingList(span, url, named))
            assumption = (
                "; assumed not to name the services (its name says it holds another topic)"
                if kind == "other-topic"
                else "; the names it blocks are unknown"
            )
            st.problem(
                "TE903",
                span,
                f"adlist '{url}' is remote and no downloaded copy "
                f"(list.N.<host>.domains) or gravity.list is here{assumption}",
            )

    def local_copy(self, path: Path, url: str, idx: int) -> Path | None:
        if url.startswith("file://"):
            return self.context.resolver.resolve(url[len("file://") :], path)
        host = url.split("://", 1)[-1].split("/", 1)[0].split("@")[-1].split(":")[0]
        if not host:
            return None
        copies = sorted(path.parent.glob(f"list.*.{glob_escape(host)}.domains"))
        if len(copies) == 1:
            return copies[0]
        for n in (idx, idx + 1):  # v4 numbers the lists from 0, v5 by database id (from 1)
            p = path.parent / f"list.{n}.{host}.domains"
            if p.is_file():
                return p
        return None

    # -- local DNS records
    def records(self, path: Path) -> None:
        src = read_source(path, self.display(path))
        self.state.problems.extend(src.problems)
        for i, raw in enumerate(src.lines, start=1):
            body = raw.split("#", 1)[0]
            words = body.split()
            if len(words) < 2:
                continue
            span = Span(src.path, i, len(raw) - len(raw.lstrip()) + 1, raw.strip())
            self.add_record(words[0], words[1:], span)

    def add_record(self, address: str, names: list[str], span: Span) -> None:
        for n in names:
            n = n.lower().rstrip(".")
            if n in self.state.wanted and n not in self.state.records:
                self.state.records[n] = (address, span)

    def toml(self, path: Path) -> None:
        import tomllib

        src = read_source(path, self.display(path))
        self.state.problems.extend(src.problems)
        text = "\n".join(src.lines)
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            line = getattr(exc, "lineno", None) or _lineno_from_message(str(exc))
            self.state.problem("TE901", Span(src.path, line, 1), f"pihole.toml does not parse: {exc}")
            return
        dns_table = data.get("dns")
        dns = dns_table if isinstance(dns_table, dict) else {}
        for entry in dns.get("hosts") or []:
            if isinstance(entry, str):
                words = entry.split()
                if len(words) >= 2:
                    self.add_record(words[0], words[1:], _span_of(src.path, src.lines, entry))
        blocking_table = dns.get("blocking")
        blocking = blocking_table if isinstance(blocking_table, dict) else {}
        if blocking.get("active") is False:
            self.state.disabled = _span_of(src.path, src.lines, "active")

    def setupvars(self, path: Path) -> None:
        src = read_source(path, self.display(path))
        for i, raw in enumerate(src.lines, start=1):
            if re.match(r"^\s*BLOCKING_ENABLED\s*=\s*['\"]?false", raw, re.I):
                self.state.disabled = Span(src.path, i, 1, raw.strip())

    # -- v5 Teleporter export
    def teleporter(self, path: Path, role: str) -> None:
        src = read_source(path, self.display(path))
        try:
            data = json.loads("\n".join(src.lines))
        except json.JSONDecodeError as exc:
            self.state.problem("TE901", Span(src.path, exc.lineno, exc.colno), f"not valid JSON: {exc.msg}")
            return
        items = [d for d in data if isinstance(d, dict)] if isinstance(data, list) else []
        items = [d for d in items if d.get("enabled", 1) not in (0, False, "0")]
        if role == "adlists":
            urls = [
                (str(d.get("address", "")), _span_of(src.path, src.lines, str(d.get("address", ""))))
                for d in items
                if d.get("address")
            ]
            self.add_adlists(path, urls)
            return
        for d in items:
            value = str(d.get("domain", ""))
            if not value:
                continue
            span = _span_of(src.path, src.lines, json.dumps(value)[1:-1])
            if role.startswith("regex-"):
                self.add_regex(value, span, role == "regex-allow")
            else:
                name = value.lower().rstrip(".")
                if name in self.state.wanted:
                    (self.state.allow if role == "allow" else self.state.deny).add_exact(name, span)


def glob_escape(text: str) -> str:
    return re.sub(r"([*?\[])", r"[\1]", text)


def _span_of(path: str, lines: list[str], needle: str) -> Span:
    for i, line in enumerate(lines, start=1):
        if needle and needle in line:
            return Span(path, i, len(line) - len(line.lstrip()) + 1, line.strip())
    return Span(path, 1, 1)


def _lineno_from_message(message: str) -> int:
    m = re.search(r"line (\d+)", message)
    return int(m.group(1)) if m else 1


# --------------------------------------------------------------------------- regex

_EXTENSION = re.compile(r";(?=(?:querytype|invert|reply)\b)")


def split_extensions(text: str) -> tuple[str, bool, bool]:
    """(regex, inverted, applies to a browser's A queries) of a Pi-hole regex line."""
    parts = _EXTENSION.split(text)
    pattern, invert, applies = parts[0], False, True
    for ext in parts[1:]:
        key, _, value = ext.partition("=")
        key = key.strip().lower()
        if key == "invert":
            invert = True
        elif key == "querytype":
            negated = value.startswith("!")
            types = {t.strip().upper() for t in value.lstrip("!").split(",") if t.strip()}
            applies = ("A" not in types) if negated else ("A" in types)
    return pattern, invert, applies


def reply_of(text: str) -> str:
    """The value of FTL's `;reply=` extension ("" without one)."""
    for ext in _EXTENSION.split(text)[1:]:
        key, _, value = ext.partition("=")
        if key.strip().lower() == "reply":
            return value.strip().lower()
    return ""


def ere_to_python(pattern: str) -> str:
    """A POSIX extended regex (TRE, as Pi-hole's FTL compiles it) in Python `regex` syntax:
    `\\<`/`\\>` become word boundaries; inside brackets a backslash is a literal and a `]`
    right after the opening bracket is a member."""
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "\\" and i + 1 < n:
            nxt = pattern[i + 1]
            out.append(r"\b" if nxt in "<>" else c + nxt)
            i += 2
            continue
        if c == "[":
            j = i + 1
            body = ["["]
            if j < n and pattern[j] == "^":
                body.append("^")
                j += 1
            if j < n and pattern[j] == "]":
                body.append(r"\]")
                j += 1
            closed = False
            while j < n:
                d = pattern[j]
                if d == "[" and j + 1 < n and pattern[j + 1] in ":=.":
                    end = pattern.find(pattern[j + 1] + "]", j + 2)
                    if end >= 0:
                        body.append(pattern[j : end + 2])
                        j = end + 2
                        continue
                if d == "]":
                    body.append("]")
                    closed = True
                    j += 1
                    break
                body.append("\\" + d if d in "\\[" else d)
                j += 1
            if not closed:
                out.append(r"\[")  # TRE would reject it; let the compile step say so
                i += 1
                continue
            out.append("".join(body))
            i = j
            continue
        out.append(c)
        i += 1
    return "".join(out)


# --------------------------------------------------------------------------- deciding


def pihole_decider(state: PiholeState, catalog: Catalog):
    def first_regex(rules: list[RegexRule], host: str) -> tuple[RegexRule | None, RegexRule | None]:
        """(first matching rule, first rule that ran out of time before it)."""
        timed_out = None
        for r in rules:
            hit = r.pattern.search(host)
            if hit is None:
                timed_out = timed_out or r
                state.problem("TE905", r.span, "regular expression ran out of time")
                continue
            if hit != r.invert:
                return r, timed_out
        return None, timed_out

    def decide(host: str) -> Decision | None:
        host = host.lower().rstrip(".")
        # allow-lists first: allow wins
        allow_span = state.allow.lookup_exact(host)
        if allow_span is None:
            sub = state.allow.lookup_subtree(host)
            allow_span = sub[1] if sub else None
        allow_undecided = None
        if allow_span is None:
            rule, allow_undecided = first_regex(state.allow_regex, host)
            allow_span = rule.span if rule else None
        deny_span = None
        if state.disabled is None:
            deny_span = state.deny.lookup_exact(host)
            if deny_span is None:
                sub = state.deny.lookup_subtree(host)
                deny_span = sub[1] if sub else None
        if allow_span is not None:
            trace = (deny_span, allow_span) if deny_span else (allow_span,)
            note = f"the allow-list wins over '{deny_span.text}'" if deny_span else ""
            return Decision(Outcome.ALLOW, allow_span, trace, True, "allow-list", note)
        deny_undecided = None
        reply = ""
        if deny_span is None and state.disabled is None:
            rule, deny_undecided = first_regex(state.deny_regex, host)
            deny_span = rule.span if rule else None
            reply = rule.reply if rule else ""
        if deny_span is not None:
            if allow_undecided is not None:
                return Decision(
                    Outcome.UNKNOWN,
                    allow_undecided.span,
                    (deny_span, allow_undecided.span),
                    True,
                    "",
                    "an allow-list regex ran out of time on this name",
                )
            if reply and reply not in ("nodata", "nxdomain", "refused", "ip", "none"):
                # `;reply=ADDRESS`: the name is answered with that address (semantics/answers.py)
                if parse_address(reply) is not None:
                    return address_decision(reply, host, catalog, deny_span, (deny_span,), ";reply=")
                return Decision(
                    Outcome.UNKNOWN, deny_span, (deny_span,), True, "", f";reply={reply} is not evaluated"
                )
            return Decision(Outcome.DENY, deny_span, (deny_span,), True, f";reply={reply}" if reply else "")
        if deny_undecided is not None:
            return Decision(
                Outcome.UNKNOWN,
                deny_undecided.span,
                (deny_undecided.span,),
                True,
                "",
                "a regex ran out of time on this name",
            )
        record = state.records.get(host)
        if record is not None:
            address, span = record
            return address_decision(address, host, catalog, span, (span,), "local DNS record")
        if state.disabled is None and state.missing:
            owner = catalog.service_for_host(host)
            for m in state.missing:
                if owner and owner[0] in m.services:
                    return Decision(
                        Outcome.UNKNOWN,
                        m.span,
                        (m.span,),
                        True,
                        "",
                        f"the adlist '{m.reference}' is not available",
                    )
        return None

    return decide


# --------------------------------------------------------------------------- parse


def install_files(path: Path) -> list[Path]:
    """The Pi-hole install files beside `path` (itself included), lead file first."""
    if not _is_install_file(path.name.lower()):
        return [path]
    try:
        siblings = [p for p in path.parent.iterdir() if p.is_file()]
    except OSError:
        return [path]
    ranked = []
    for p in siblings:
        name = p.name.lower()
        for rank, pattern in enumerate(INSTALL_FILES):
            if fnmatch(name, pattern):
                ranked.append((rank, name, p))
                break
    ranked.sort()
    files = [p for _r, _n, p in ranked]
    return files if any(p.resolve() == path.resolve() for p in files) else [path]


def wanted_names(catalog: Catalog) -> frozenset[str]:
    names = {p.host.lower() for svc in catalog.services.values() for p in svc.probes()}
    names.add(catalog.control_host.lower())
    return frozenset(names)


def read_pihole(path: Path, context: ParseContext, default_role: str | None = None) -> PiholeState:
    """Read `path` and, when it is a file of a Pi-hole install, the install's other files.
    `default_role` says what `path` itself is when its name does not (an allow-list)."""
    wanted = wanted_names(context.catalog)
    state = PiholeState(wanted, frozenset(s for h in wanted for s in suffixes(h)))
    reader = _Reader(context, state)
    files = install_files(path)
    names = {p.name.lower() for p in files}
    state.gravity_present = "gravity.list" in names
    if "adlists.list" in names or "adlist.json" in names:
        # the downloaded copies are read through the adlists that name them
        files = [
            p for p in files if not fnmatch(p.name.lower(), "list.*.domains") or p.resolve() == path.resolve()
        ]
    for p in files:
        itself = p.resolve() == path.resolve()
        if not itself:
            state.included.append(str(p.resolve()))
        try:
            reader.read(p, default_role if itself and default_role else role_for(p))
        except InputError as exc:
            if itself:
                raise
            state.problem("TE902", Span(reader.display(p), 1, 1), str(exc))
    return state


class PiholeRuleset(NameRuleset):
    def __init__(self, path: str, dialect: str, state: PiholeState, catalog: Catalog, lead: bool):
        super().__init__(
            path, dialect, pihole_decider(state, catalog), state.problems, state.included if lead else []
        )
        self.state = state


def parse(
    path: Path, context: ParseContext, dialect: str = NAME, default_role: str | None = None
) -> PiholeRuleset:
    files = install_files(path)
    lead = files[0].resolve() == path.resolve()
    if default_role is None:
        try:
            with open(path, "rb") as fh:
                head = fh.read(16384).decode("utf-8", "replace")
        except OSError:
            head = ""
        if regex_list_by_content(path, head):
            default_role = "regex-deny"
    state = read_pihole(path, context, default_role)
    return PiholeRuleset(context.resolver.display(path), dialect, state, context.catalog, lead)

"""e2guardian (and the shared core of DansGuardian): site, URL and regex lists, evaluated the
way the filter does.

A filter group loads lists of three kinds, each as *exception*, *grey* or *banned*:

    bannedsitelist          facebook.com         # the domain and every subdomain (".gov": a TLD)
    bannedurllist           linkedin.com/feed    # host (and subdomains) + path prefix, no scheme
    bannedregexpurllist     (^|\\.)x\\.com        # regex on the lower-cased URL without scheme
    exceptionsitelist       www.facebook.com     # exceptions win over every ban
    .Include</etc/e2guardian/lists/blacklists/ads/domains>   # another list, nested

An HTTP request is checked: exception lists (allowed, no further filtering), grey lists (no URL
bans, content still filtered), blanket block, banned lists, then the page content (phrase
lists). A CONNECT (HTTPS without MITM) is checked against the *site* lists and the regex lists
(on the host name alone: no path, no port); URL lists never see it, nor does content filtering.
With `sslmitm = on` the decrypted requests go through the HTTP checks with their full URL.

Details checked against Debian's e2guardian 5.3.5 (tests/e2e/test_e2guardian_differential.py)
and the e2guardian/DansGuardian sources (ListContainer::ifsreadItemList, StoryBoard.cpp,
HTTPHeader::url, FOptionContainer::inRegExpURLList):

- list lines: `#` starts a comment line, `" #"` a trailing comment; `#time: h m h m days`
  limits a list to a time window (an audience here); lines shorter than 2 characters are
  ignored; entries are lower-cased, a trailing `/` and `ftp://` are removed.
- URL lists are not consulted for a site-only URL (`http://linkedin.com/`): `linkedin.com`
  in a URL list blocks `linkedin.com/x` but not the front page. A path entry matches that path
  and everything below it (`/feed` matches `/feed/x`, `/feed?x`, not `/feedback`).
- regexes are case-insensitive; the subject is `host/path` with no scheme, no port and no
  trailing `/`.
- blanket markers in a banned site list: `**` everything, `**s` every CONNECT, `*ip` and
  `**ips` hosts given as IP addresses (never a service probe, which names a host). e2guardian
  5 ignores these markers ("now implemented using Storyboarding"): its group storyboard's
  `checkblanketblock`/`sslcheckblanketblock` functions are read instead. A list file alone
  is read as e2guardian <= 4 / DansGuardian would (markers honoured) unless it carries the v5
  note; the decision says so.
- e2guardian 5 group configs name lists `sitelist = 'name=banned,path=...'`; the standard
  storyboard (common.story) checks local exception > local grey > local banned > exception >
  grey > blanket > banned. Older configs and DansGuardian name them `bannedsitelist = '...'`,
  and `groupmode = 0|1|2` bans, filters or exempts a whole group.
- phrase lists (banned/weighted/exception) filter page *content*: they block a service by
  name only when a phrase names it (`< facebook >`, or a weight at or above
  `naughtynesslimit`), and then only where content is seen (HTTP, or HTTPS under MITM).
  Otherwise they are noted as content filtering, not a block of a service.
- `e2guardian.conf`: `filtergroups = N` loads `e2guardianf1.conf` ... `e2guardianfN.conf`
  beside it; each group is an audience; clients in the exception/banned client IP lists are
  audiences too (everything allowed / nothing allowed).

List options the linter does not evaluate (TE908 at the list, `unknown` for what they could
decide; never `unaffected`, never `blocked` from them), per the stock e2guardianf1.conf /
dansguardianf1.conf and common.story:

- decided by a request header the linter does not see: `bannedregexpheaderlist`,
  `exceptionregexpheaderlist`, `bannedregexpuseragentlist`, `exceptionregexpuseragentlist`,
  `refererexceptionsitelist`/`urllist`, `embededreferersitelist`/`urllist` (v5 list names
  `bannedheader`, `exceptionheader`, `banneduseragent`, `exceptionuseragent`,
  `refererexception`, `embededreferer`). A non-empty list makes every request that reaches its
  check unknown (a `Host: .*facebook` entry blocks Facebook; a `Referer` exception lets a
  blocked page through): banned ones where the banned lists are checked, exceptions where the
  exception lists are.
- rewriting a request: `headerregexplist` (v5 `headermods`, `responseheadermods`: a changed
  `Host` sends the request elsewhere) makes every request unknown; `urlregexplist` (v5
  `change`), `urlredirectregexplist` (v5 `redirect`), `addheaderregexplist` (v5 `addheader`)
  and `sslsiteregexplist` (v5 `sslreplace`) hold `"regex"->"replacement"` lines: a request whose
  URL one of their regexes matches (tried on `http://host/path`, `host/path` and, for a
  CONNECT, `host:443`) is unknown, other requests are not touched. DansGuardian and
  e2guardian <= 4 apply these before the checks, e2guardian 5's storyboard after the bans.
- `contentregexplist` rewrites page content: every request whose content is seen (HTTP, or
  HTTPS under `sslmitm`) is unknown while it has entries.

Harmless for these services and not evaluated: the MIME-type and file-extension lists
(`bannedmimetypelist`, `bannedextensionlist`, their exceptions, `exceptionfilesitelist`/
`urllist`, `blockdownloads`): they block downloads by type, and the services' pages are
HTML served from paths without a file extension; log-only lists (`logsitelist`...) and
virus-scan exemptions decide nothing.

A phrase or regexp list under a name of its author's choosing is recognised by its content
and given the role of the e2guardian*/dansguardian*.conf in the repository that names it; named
by none, an unweighted list is evaluated as banned and as exception and is `unknown` where the
two differ (TE903); see guardian_lists.py.

A referenced file that cannot be found is TE903: a missing list whose name says it holds
another topic (`blacklists/ads/domains`) is assumed not to name the services; otherwise the
decisions it could change become `unknown`.
"""

from __future__ import annotations

import contextlib
import itertools
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

from policy_lint.dialects.proxies.e2guardian_stream import lines_to_read, relevant_pattern
from policy_lint.dialects.semantics.base import ParseContext
from policy_lint.dialects.semantics.linestream import NotStreamable
from policy_lint.dialects.semantics.listnames import classify_list_name
from policy_lint.dialects.semantics.patterns import BoundedPattern, PatternError
from policy_lint.inputs import MAX_FILE_BYTES, InputError, Resolver, find_root, read_source
from policy_lint.model import Audience, Decision, Outcome, Probe, Problem, Span

NAME = "e2guardian"
PRODUCT = "e2guardian"

# List files as the device ships them (the corpus gives a list file alone as `main`).
LIST_RE = re.compile(
    r"^(?P<local>local)?(?P<role>banned|exception|grey|weighted)(?P<ssl>ssl)?"
    r"(?P<kind>siteip|site|url|regexpurl|phrase)list(?:[._-].*)?$"
)
LIST_PATTERNS = (
    "*bannedsitelist*",
    "*exceptionsitelist*",
    "*greysitelist*",
    "*bannedurllist*",
    "*exceptionurllist*",
    "*greyurllist*",
    "*regexpurllist*",
    "*phraselist*",
    "*sslsitelist*",
    "*siteiplist*",
)
FILE_PATTERNS = ("e2guardian*.conf", *LIST_PATTERNS)

MAX_INCLUDE_DEPTH = 16
# Site/URL lists from this size on are scanned by e2guardian_stream.py (small ones: line by line).
STREAM_FROM_BYTES = 1 << 20
MAX_TIME_TAGS = 6  # time-limited lists become audiences: 2**n combinations at most
DEFAULT_NAUGHTYNESS = 50
# Informational notes: content filtering, and markers this version ignores.
NOTE_CODE = "TE208"
URL_KINDS = ("site", "url", "regex")
# Content filter lists: how the group config and the v5 list names call them.
PHRASE_KEYS = {
    "bannedphraselist": "banned",
    "weightedphraselist": "weighted",
    "exceptionphraselist": "exception",
}
# v4 / DansGuardian group-config keys for URL decisions -> (role, kind).
LEGACY_KEYS = {
    "bannedsitelist": ("banned", "site"),
    "greysitelist": ("grey", "site"),
    "exceptionsitelist": ("exception", "site"),
    "bannedurllist": ("banned", "url"),
    "greyurllist": ("grey", "url"),
    "exceptionurllist": ("exception", "url"),
    "bannedregexpurllist": ("banned", "regex"),
    "exceptionregexpurllist": ("exception", "regex"),
    "bannedsslsitelist": ("bannedssl", "site"),
    "greysslsitelist": ("greyssl", "site"),
}
# v5 list types (V5_list_definition.pdf, table 1) that URL decisions read.
V5_TYPES = {"sitelist": "site", "ipsitelist": "site", "urllist": "url", "regexpboollist": "regex"}
# v5 list names the standard storyboard (common.story) maps to actions.
V5_ROLES = {
    "banned",
    "exception",
    "grey",
    "localbanned",
    "localexception",
    "localgrey",
    "greyssl",
    "localgreyssl",
    "bannedssl",
}
CLIENT_LISTS = {"exceptioniplist": "exceptionclient", "bannediplist": "bannedclient"}

# List options decided by what the linter does not see -> (action, what they look at).
# action: "deny"/"allow" (the check they belong to) or "rewrite" (the request is changed);
# what: "header" (any request header), "url" ("regex"->"replacement" lines on the URL),
# "content" (the page body).
OPAQUE_KEYS = {
    "bannedregexpheaderlist": ("deny", "header"),
    "exceptionregexpheaderlist": ("allow", "header"),
    "bannedregexpuseragentlist": ("deny", "header"),
    "exceptionregexpuseragentlist": ("allow", "header"),
    "refererexceptionsitelist": ("allow", "header"),
    "refererexceptionsiteiplist": ("allow", "header"),
    "refererexceptionurllist": ("allow", "header"),
    "embededreferersitelist": ("allow", "header"),
    "embededrefererurllist": ("allow", "header"),
    "headerregexplist": ("rewrite", "header"),
    "urlregexplist": ("rewrite", "url"),
    "urlredirectregexplist": ("rewrite", "url"),
    "urlredirectregexpurllist": ("rewrite", "url"),
    "addheaderregexplist": ("rewrite", "url"),
    "sslsiteregexplist": ("rewrite", "url"),
    "contentregexplist": ("rewrite", "content"),
}
# The same lists by their v5 names (common.story: headerin, useragentin, refererin, fullurlin).
V5_OPAQUE = {
    "bannedheader": ("deny", "header"),
    "exceptionheader": ("allow", "header"),
    "banneduseragent": ("deny", "header"),
    "exceptionuseragent": ("allow", "header"),
    "refererexception": ("allow", "header"),
    "embededreferer": ("allow", "header"),
    "headermods": ("rewrite", "header"),
    "responseheadermods": ("rewrite", "header"),
    "change": ("rewrite", "url"),
    "redirect": ("rewrite", "url"),
    "addheader": ("rewrite", "url"),
    "sslreplace": ("rewrite", "url"),
}
_OPAQUE_WHAT = {
    ("deny", "header"): "block requests by a request header (Host, User-Agent, Referer, Cookie...)",
    ("allow", "header"): "exempt requests from filtering by a request header (Referer, User-Agent...)",
    ("rewrite", "header"): "rewrite request headers (a changed Host sends a request elsewhere)",
    ("rewrite", "url"): "rewrite or redirect the URLs their regexes match",
    ("rewrite", "content"): "rewrite page content",
}
_REPLACE_LINE = re.compile(r'^"(.*)"\s*->\s*"(.*)"\s*$')

_GROUP_HINT = re.compile(
    r"^\s*(groupmode|groupname|naughtynesslimit|storyboard|(banned|exception|grey)(site|url|regexpurl|phrase)list"
    r"|(site|url|ipsite|regexpbool)list\s*=\s*'name=)\s*=?",
    re.M,
)
_MAIN_HINT = re.compile(r"^\s*(filtergroups|filtergroupslist|filterports|filterip|languagedir)\s*=", re.M)


def _list_role(name: str) -> tuple[str, str] | None:
    """(role, kind) of a list from its file name: bannedsitelist -> ("banned", "site")."""
    m = LIST_RE.match(name.lower())
    if not m:
        return None
    kind = {"siteip": "site", "site": "site", "url": "url", "regexpurl": "regex", "phrase": "phrase"}[
        m["kind"]
    ]
    role = m["role"]
    if kind == "phrase":
        return role, kind
    if role == "weighted":
        return None
    return (m["local"] or "") + role + (m["ssl"] or ""), kind


_PHRASE_LINE = re.compile(r"^\s*(?:<[^<>]+>\s*,?\s*)+$")
_WEIGHTED_LINE = re.compile(r"<\s*-?\d+\s*>\s*$")


def content_role(head: str) -> tuple[str, str] | None:
    """("weighted", "phrase") for a weighted phrase list saved under any name (every entry a
    `<phrase>` combination ending in a `<weight>`). Unweighted phrase lists are banned or
    exception lists alike, and regexp lists of URLs, sites or replacements look the same: their
    role cannot be told from the content, so it is not guessed (#18)."""
    lines = [
        ln
        for ln in head.splitlines()[:400]
        if ln.strip() and not ln.lstrip().startswith("#") and not ln.lstrip().lower().startswith(".include")
    ]
    if len(lines) < 2 or not all(_PHRASE_LINE.match(ln) for ln in lines):
        return None
    return ("weighted", "phrase") if all(_WEIGHTED_LINE.search(ln) for ln in lines) else None


def detect_for(product: str, path: Path, head: str) -> float:
    """Shared by the e2guardian and dansguardian dialects: the product's name in the file or
    directory names decides between them; list files alone are recognised by name."""
    name = path.name.lower()
    where = str(path).lower()
    other = "dansguardian" if product == "e2guardian" else "e2guardian"
    if fnmatch(name, f"{product}*.conf"):
        return 0.95
    if fnmatch(name, f"{other}*.conf"):
        return 0.0
    mine = product in where or product in head.lower()
    theirs = other in where or other in head.lower()
    if _list_role(name) or content_role(head):
        if mine and not theirs:
            return 0.9
        if theirs and not mine:
            return 0.3
        return 0.7 if product == "e2guardian" else 0.65
    hints = len(_GROUP_HINT.findall(head)) + len(_MAIN_HINT.findall(head))
    if hints >= 2 and (mine or not theirs):
        return 0.8 if mine else 0.6
    return _by_reference(product, path, head, mine, theirs)


def _by_reference(product: str, path: Path, head: str, mine: bool, theirs: bool) -> float:
    """A phrase or regexp list under a name of its author's choosing (#18): the product whose
    config in the repository names the file; an unweighted phrase list named by none is still
    one (its role unknown: guardian_lists.AmbiguousRole); a regexp list named by none is not
    claimed (Pi-hole regex lists look the same)."""
    from policy_lint.dialects.proxies import guardian_lists

    if path.suffix.lower() == ".conf":
        return 0.0
    shape = guardian_lists.looks_like(head)
    if shape is None:
        return 0.0
    # Detection knows no --root: the git work tree holding the list (find_root), else only
    # the list's own folder. The parse looks again, confined to the lint root.
    root = find_root(path)
    if root not in path.resolve().parents:
        root = path.resolve().parent
    products = {r.product for r in guardian_lists.references(path, Resolver(root))}
    if products:
        return 0.9 if product in products else 0.0
    if shape != "phrase":
        return 0.0
    if mine and not theirs:
        return 0.9
    if theirs and not mine:
        return 0.3
    return 0.7 if product == "e2guardian" else 0.65


def detect(path: Path, head: str) -> float:
    return detect_for(PRODUCT, path, head)


# --------------------------------------------------------------------------- lists


@dataclass(frozen=True)
class Entry:
    """One list line with where it came from: the include lines that led to it, and the
    `#time:` windows it is limited to."""

    span: Span
    chain: tuple[Span, ...] = ()
    times: tuple[str, ...] = ()


@dataclass
class Phrase:
    words: tuple[str, ...]  # one phrase, or the parts of a combination phrase
    weight: int | None
    entry: Entry


@dataclass
class ListData:
    """What a (role, kind) of one group holds, over all its files and includes."""

    sites: dict[str, Entry] = field(default_factory=dict)
    urls: dict[str, list[tuple[str, Entry]]] = field(default_factory=dict)  # host -> [(path, entry)]
    regexes: list[tuple[BoundedPattern, Entry]] = field(default_factory=list)
    phrases: list[Phrase] = field(default_factory=list)
    raw: list[tuple[str, Entry]] = field(default_factory=list)  # lines of a list not evaluated
    blanket: dict[str, Entry] = field(default_factory=dict)  # "**", "**s", "*ip", "**ips"
    missing: list[tuple[str, Span, bool]] = field(default_factory=list)  # (ref, span, may name services)
    sources: list[Span] = field(default_factory=list)  # config lines that loaded the lists
    v5_note: bool = False

    def merge(self, other: ListData) -> None:
        for k, v in other.sites.items():
            self.sites.setdefault(k, v)
        for k, entries in other.urls.items():
            self.urls.setdefault(k, []).extend(entries)
        self.regexes += other.regexes
        self.phrases += other.phrases
        self.raw += other.raw
        for k, v in other.blanket.items():
            self.blanket.setdefault(k, v)
        self.missing += other.missing
        self.sources += other.sources
        self.v5_note = self.v5_note or other.v5_note

    def __bool__(self) -> bool:
        return bool(
            self.sites
            or self.urls
            or self.regexes
            or self.phrases
            or self.raw
            or self.blanket
            or self.missing
        )


_TIME_TAG = re.compile(r"^#time:\s*(\d{1,2})\s+(\d{1,2})\s+(\d{1,2})\s+(\d{1,2})\s+([0-6]+)\s*$")
_V5_NOTE = re.compile(r"From v5 Blanket blocks", re.I)
_PHRASE = re.compile(r"<([^<>]*)>")


def _strip_trailing_comment(text: str) -> str:
    # ListContainer: only " #" starts a comment that is not at the start of a line.
    i = text.find(" #")
    return text[:i] if i >= 0 else text


class _ListReader:
    """Reads list files with `.Include<...>`, loop-safe and bounded, resolved inside --root."""

    def __init__(
        self,
        context: ParseContext,
        problems: list[Problem],
        included: list[Path],
        keywords: dict[str, tuple[str, ...]],
    ):
        self.context = context
        self.problems = problems
        self.included = included
        self.keywords = keywords
        self._bad_patterns: set[str] = set()
        self._relevant: re.Pattern[bytes] | None = None  # e2guardian_stream.relevant_pattern
        self.entries = 0  # lines of the file being linted read as entries, markers or includes

    def may_name_services(self, ref: str) -> bool:
        tail = "/".join(Path(ref).parts[-2:])
        kind, _ = classify_list_name(tail, self.keywords)
        return kind != "other-topic"

    def missing(self, data: ListData, ref: str, span: Span, what: str, kind: str = "") -> None:
        if kind == "phrase":
            data.missing.append((ref, span, False))
            self.problems.append(
                Problem(
                    "TE903",
                    span,
                    f"{what} {ref} not found; it filters page content, so it is assumed "
                    f"not to block a service by name",
                )
            )
            return
        names = self.may_name_services(ref)
        data.missing.append((ref, span, names))
        if names:
            self.problems.append(
                Problem("TE903", span, f"{what} {ref} not found; verdicts that depend on it are unknown")
            )
        else:
            self.problems.append(
                Problem(
                    "TE903",
                    span,
                    f"{what} {ref} not found; its name suggests another topic, "
                    f"so it is assumed not to name the catalog services",
                )
            )

    def load(self, ref: str, config: Path, span: Span, kind: str, what: str) -> ListData:
        """A list named by a config line (`bannedsitelist = '...'`)."""
        data = ListData(sources=[span])
        target = self.context.resolver.resolve(ref, config)
        if target is None:
            self.missing(data, ref, span, what, kind)
            return data
        self.read(target, kind, data, (span,), (), (target.resolve(),), span)
        return data

    def read(
        self,
        path: Path,
        kind: str,
        data: ListData,
        chain: tuple[Span, ...],
        times: tuple[str, ...],
        stack: tuple[Path, ...],
        ref_span: Span | None,
    ) -> None:
        display = self.context.resolver.display(path)
        streamed = self._streamed(path, kind)
        numbered: Iterable[tuple[int, str]]
        if streamed is None:
            try:
                src = read_source(path, display)
            except InputError as exc:
                if ref_span is None:
                    raise  # the file being linted: one clear error line, exit 2
                where = ref_span
                self.problems.append(Problem("TE902", where, str(exc)))
                data.missing.append((display, where, True))
                return
            if kind != "phrase":  # phrase lists are often Latin-1: content filtering, not names
                self.problems.extend(src.problems)
            lines: list[str] = src.lines
            numbered = enumerate(src.lines, start=1)
        else:
            numbered, skipped = streamed
            lines = [raw for _i, raw in numbered]
            if ref_span is None:
                self.entries += skipped  # each line left out is a plain entry
        self.included.append(path)
        # A #time: tag anywhere in the file limits the whole list (ListContainer::readTimeTag).
        for raw in lines:
            m = _TIME_TAG.match(raw.strip())
            if m:
                h1, m1, h2, m2, days = m.groups()
                times = times + (
                    f"{int(h1):02d}:{int(m1):02d}-{int(h2):02d}:{int(m2):02d} days {days} ({path.name})",
                )
                break
        for i, raw in numbered:
            if len(raw) < 2 or raw.startswith("#"):
                if raw.startswith("#") and _V5_NOTE.search(raw):
                    data.v5_note = True
                continue
            if "\x00" in raw:
                self.problems.append(
                    Problem("TE902", Span(display, i, 1), "NUL byte in a list line; line skipped")
                )
                continue
            text = raw
            if kind not in ("phrase", "opaque"):
                for flag in ("**s", "**ips", "**", "*ip"):
                    if text.startswith(flag):
                        data.blanket.setdefault(flag, Entry(Span(display, i, 1, raw.strip()), chain, times))
                        break
                else:
                    flag = ""
                if flag:
                    self.entries += ref_span is None
                    continue
            if kind != "phrase":
                text = _strip_trailing_comment(text)
            value = text.strip()
            if not value:
                continue
            span = Span(display, i, raw.find(value) + 1, value)
            if value.lower().startswith(".include<"):
                ref = value[len(".include<") :].split(">", 1)[0].strip()
                self.entries += ref_span is None
                self._include(ref, path, kind, data, chain + (span,), times, stack, span)
                continue
            self.entries += ref_span is None
            self._add(value, kind, data, Entry(span, chain, times))

    def _streamed(self, path: Path, kind: str) -> tuple[list[tuple[int, str]], int] | None:
        """The lines of a big site/URL list that can matter (e2guardian_stream.py), or None:
        a small list, another kind, or a file to read the ordinary way (the same lines, or
        the same error)."""
        if kind not in ("site", "url"):
            return None
        try:
            if not STREAM_FROM_BYTES < path.stat().st_size <= MAX_FILE_BYTES:
                return None
            if self._relevant is None:
                catalog = self.context.catalog
                hosts = {p.host.lower() for svc in catalog.services.values() for p in svc.probes()}
                hosts.add(catalog.control_host.lower())
                self._relevant = relevant_pattern({s for h in hosts for s in _suffixes(h)})
            return lines_to_read(path, self._relevant)
        except (NotStreamable, OSError):
            return None

    def _include(
        self,
        ref: str,
        config: Path,
        kind: str,
        data: ListData,
        chain: tuple[Span, ...],
        times: tuple[str, ...],
        stack: tuple[Path, ...],
        span: Span,
    ) -> None:
        target = self.context.resolver.resolve(ref, config) if ref else None
        if target is None:
            self.missing(data, ref or "(empty)", span, "included list", kind)
            return
        real = target.resolve()
        if real in stack:
            self.problems.append(Problem("TE904", span, f"include loop: {ref} includes itself"))
            return
        if len(stack) >= MAX_INCLUDE_DEPTH:
            self.problems.append(Problem("TE904", span, f"includes nested deeper than {MAX_INCLUDE_DEPTH}"))
            return
        self.read(target, kind, data, chain, times, stack + (real,), span)

    def _add(self, value: str, kind: str, data: ListData, entry: Entry) -> None:
        if kind == "opaque":
            data.raw.append((value, entry))
            return
        if kind == "phrase":
            parts = _PHRASE.findall(value)
            words = tuple(p.strip().lower() for p in parts if not p.strip().lstrip("-").isdigit())
            weights = [int(p.strip()) for p in parts if p.strip().lstrip("-").isdigit()]
            if words:
                data.phrases.append(Phrase(words, weights[-1] if weights else None, entry))
            return
        if kind == "regex":
            try:
                data.regexes.append((BoundedPattern.compile(value, ignore_case=True), entry))
            except PatternError as exc:
                self.problems.append(
                    Problem("TE905", entry.span, f"{exc}; e2guardian refuses to start with it")
                )
            return
        v = value.lower()
        if v.endswith("/"):
            v = v[:-1]
        if v.startswith("ftp://"):
            v = v[len("ftp://") :]
        if kind == "site":
            data.sites.setdefault(v.lstrip("."), entry)
            return
        host, _, path = v.partition("/")
        host = host.split(":", 1)[0] if re.match(r"^[^/]*:\d+$", host) else host
        data.urls.setdefault(host.lstrip("."), []).append(("/" + path if path else "", entry))


# --------------------------------------------------------------------------- matching


def _suffixes(host: str) -> list[str]:
    labels = host.split(".")
    return [".".join(labels[i:]) for i in range(len(labels))]


@dataclass(frozen=True)
class Request:
    """What the filter sees of a probe: CONNECT host only, or the full URL."""

    host: str
    path: str  # "" for a site-only URL
    connect: bool

    @property
    def subject(self) -> str:
        return self.host + self.path


def _request(probe: Probe, mitm: bool) -> Request:
    path = probe.path if probe.path != "/" else ""
    path = path.rstrip("/")
    if probe.scheme == "https" and not mitm:
        return Request(probe.host.lower(), "", True)
    return Request(probe.host.lower(), path.lower(), False)


@dataclass
class Match:
    hit: bool | None  # True, False, or None (could not tell: missing list, slow regex)
    entry: Entry | None = None
    note: str = ""


NO = Match(False)


# --------------------------------------------------------------------------- groups


@dataclass
class Opaque:
    """A list the linter does not evaluate (OPAQUE_KEYS): what it could decide is unknown."""

    key: str  # the option (or v5 list name) as the config gives it
    action: str  # "deny" | "allow" | "rewrite"
    what: str  # "header" | "url" | "content"
    span: Span  # the config line that loads it
    entries: list[tuple[BoundedPattern | None, Entry]]  # url: the regex of each line (None: unreadable)
    missing: bool = False

    def __bool__(self) -> bool:
        return bool(self.entries) or self.missing

    def first(self) -> Entry:
        return self.entries[0][1] if self.entries else Entry(self.span)


@dataclass
class Group:
    number: int
    name: str
    span: Span  # where the group is defined (its config, or the list file alone)
    lists: dict[tuple[str, str], ListData] = field(default_factory=dict)
    mode: int = 1  # DansGuardian/v4 groupmode: 0 banned, 1 filtered, 2 unfiltered
    mode_span: Span | None = None
    v5: bool = False
    legacy_blanket_note: str = ""
    story_blanket: dict[str, Span] = field(default_factory=dict)  # "http"/"ssl" -> story line
    story_all: tuple[str, Span] | None = None  # checkrequest overridden: ("block"|"allow", line)
    mitm: bool = False
    naughtyness: int = DEFAULT_NAUGHTYNESS
    opaque: list[Opaque] = field(default_factory=list)

    def get(self, role: str, kind: str) -> ListData | None:
        return self.lists.get((role, kind))

    def label(self) -> str:
        return f"filter group {self.number}" + (f" ({self.name})" if self.name else "")


class GuardianRuleset:
    """The Ruleset of an e2guardian/DansGuardian config, group config or list file."""

    def __init__(
        self,
        path: str,
        dialect: str,
        groups: list[Group],
        problems: list[Problem],
        catalog,
        clients: dict[str, Span] | None = None,
    ):
        self.path = path
        self.dialect = dialect
        self.groups = groups
        self.problems = problems
        self.catalog = catalog
        self.clients = clients or {}
        self.included: list[str] = []
        self.notes: list[Problem] = []
        # What the file held and what was read of it (engine.reading); None: not counted.
        self.statements: int | None = None
        self.understood: int | None = None
        self._keywords = {sid: s.keywords for sid, s in catalog.services.items()}
        self._slow: set[int] = set()
        self._reported: set[Span] = set()
        self._audiences: list[Audience] | None = None
        self._cache: dict[tuple, Decision] = {}
        self._times = sorted({t for g in groups for d in g.lists.values() for t in _all_times(d)})
        if len(self._times) > MAX_TIME_TAGS:
            self.problems.append(
                Problem(
                    "TE906",
                    Span(path, 1, 1),
                    f"{len(self._times)} time-limited lists: evaluated a sample of times",
                )
            )
        self._note_content_filters()

    # ---- audiences
    def audiences(self) -> list[Audience]:
        if self._audiences is not None:
            return self._audiences
        times = self._times
        if len(times) <= MAX_TIME_TAGS:
            combos = [
                frozenset(t for t, on in zip(times, bits, strict=True) if on)
                for bits in itertools.product((False, True), repeat=len(times))
            ]
        else:
            combos = [frozenset(), frozenset(times)] + [frozenset({t}) for t in times]
        out = []
        for g in self.groups:
            for active in combos:
                conds = []
                if len(self.groups) > 1 or self.clients:
                    conds.append(g.label())
                conds += [f"time {t}" for t in times if t in active]
                conds += [f"outside time {t}" for t in times if t not in active]
                attrs = (("group", g.name or str(g.number)),)
                out.append(
                    Audience(
                        key=(g.number, tuple(sorted(active)), ""), conditions=tuple(conds), attributes=attrs
                    )
                )
        for kind in sorted(self.clients):
            out.append(Audience(key=(0, (), kind), conditions=(f"client in {kind} list",)))
        self._audiences = out or [Audience(key=())]
        return self._audiences

    def inert_mentions(self, probe: Probe) -> list[Span]:
        return []

    # ---- evaluation
    def evaluate(self, probe: Probe, audience: Audience) -> Decision:
        key = (probe, audience.key)
        hit = self._cache.get(key)
        if hit is None:
            hit = self._cache[key] = self._evaluate(probe, audience)
        return hit

    def _evaluate(self, probe: Probe, audience: Audience) -> Decision:
        if not audience.key:
            return Decision(Outcome.ALLOW, None, (), note="no filter group")
        number, active, client = audience.key
        if client:
            span = self.clients[client]
            if client == "bannedclient":
                return Decision(Outcome.DENY, span, (span,), False, "403", "client is banned", client)
            return Decision(Outcome.ALLOW, span, (span,), False, note="client is exempt from filtering")
        group = next(g for g in self.groups if g.number == number)
        scope = group.label() if len(self.groups) > 1 or self.clients else ""
        d = self._decide(group, probe, frozenset(active))
        scope = " & ".join(x for x in (scope, d.scope) if x)
        return Decision(d.outcome, d.rule, d.trace, d.specific, d.how, d.note, scope)

    def _decide(self, g: Group, probe: Probe, active: frozenset[str]) -> Decision:
        if g.mode == 0 and not g.v5:
            return Decision(
                Outcome.DENY,
                g.mode_span,
                (g.mode_span,) if g.mode_span else (),
                False,
                "403",
                "groupmode = 0: the whole group is banned",
            )
        if g.mode == 2 and not g.v5:
            return Decision(Outcome.ALLOW, g.mode_span, (), False, note="groupmode = 2: unfiltered")
        if g.story_all is not None:
            what, span = g.story_all
            return Decision(
                Outcome.DENY if what == "block" else Outcome.ALLOW,
                span,
                (span,),
                False,
                "403" if what == "block" else "",
                "the group's storyboard decides every request",
            )
        req = _request(probe, g.mitm)
        control = probe.is_control
        uncertain: list[tuple[str, Match]] = []
        grey: Match | None = None
        for outcome, how, match_fn in self._steps(g, req):
            m = match_fn(req, active, control)
            if m.hit is None:
                uncertain.append(("allow" if outcome == "grey" else outcome, m))
                continue
            if not m.hit:
                continue
            if outcome == "grey":  # URL bans end here; the content is still filtered
                grey = m
                break
            return self._finish(outcome, how, m, uncertain, req)
        uncertain += [("rewrite", m) for m in self._after(g, req)]
        content = self._content(g, probe, req, active)
        if content is not None:
            return self._finish("deny", "content-phrase", content, uncertain, req)
        if grey is not None:
            e = grey.entry
            assert e is not None  # a grey-list match always has its entry
            if any(other != "allow" for other, _m in uncertain):
                return self._finish("allow", "", grey, uncertain, req)  # unknown
            return Decision(
                Outcome.ALLOW,
                e.span,
                e.chain + (e.span,),
                False,
                "",
                "grey list: URL bans skipped, content still filtered",
            )
        return self._finish("allow", "", Match(False), uncertain, req)

    def _finish(self, outcome: str, how: str, m: Match, uncertain: list, req: Request) -> Decision:
        entry = m.entry
        trace = entry.chain + (entry.span,) if entry else ()
        for other, um in uncertain:
            if other != outcome:
                spans = um.entry.chain + (um.entry.span,) if um.entry else ()
                return Decision(
                    Outcome.UNKNOWN,
                    um.entry.span if um.entry else (entry.span if entry else None),
                    trace + spans,
                    bool(entry),
                    note=um.note or "depends on a list that could not be read",
                )
        if outcome == "deny":
            when = " & ".join(f"time {t}" for t in entry.times) if entry else ""
            return Decision(
                Outcome.DENY, entry.span if entry else None, trace, True, how or "403", m.note, when
            )
        if entry is not None:
            return Decision(Outcome.ALLOW, entry.span, trace, True, how, m.note or "exception list")
        note = (
            "HTTPS tunnel: only site lists and regexes on the host name apply (no MITM)"
            if req.connect
            else ""
        )
        return Decision(Outcome.ALLOW, None, (), False, "", note)

    # The order of checks (common.story for v5; ConnectionHandler for DansGuardian / v4).
    def _steps(self, g: Group, req: Request) -> list:
        def lists(role: str, kinds=URL_KINDS):
            return [(k, g.get(role, k)) for k in kinds if g.get(role, k)]

        def check(role: str, kinds=URL_KINDS):
            found = lists(role, kinds)
            return lambda r, a, c: self._in_lists(found, r, a, c)

        def opaque(action: str, whats: tuple[str, ...]):
            return [
                ("rewrite" if action == "rewrite" else action, "", lambda r, a, c, o=o: self._opaque(o, r))
                for o in g.opaque
                if o.action == action and o.what in whats
            ]

        blanket_role = None if g.v5 else "banned"
        steps = []
        if not g.v5:  # DansGuardian / v4 rewrite the URL and headers before the checks
            steps += opaque("rewrite", ("url", "header"))
        if g.v5:
            site_kinds = ("site", "regex")  # `sitein`: site and regexp lists, on the host
            kinds = site_kinds if req.connect else URL_KINDS
            steps.append(("allow", "", check("localexception", kinds)))
            if not req.connect:
                steps.append(("grey", "", check("localgrey", kinds)))
            steps.append(("deny", "403", check("localbanned", kinds)))
            steps.append(("allow", "", check("exception", kinds)))
            steps += opaque("allow", ("header",))  # exceptioncheck / sslexceptioncheck
            if not req.connect:
                steps.append(("grey", "", check("grey", kinds)))
            key = "ssl" if req.connect else "http"
            if key in g.story_blanket:
                span = g.story_blanket[key]
                steps.append(("deny", "blanket", lambda r, a, c, s=span: Match(True, Entry(s))))
            steps.append(("deny", "403", check("banned", kinds)))
            if not req.connect:  # bannedcheck: useragentin / headerin after the banned lists
                steps += opaque("deny", ("header",))
        else:
            steps.append(("allow", "", check("exception")))
            steps += opaque("allow", ("header",))
            steps.append(("grey", "", check("grey", ("site", "url"))))
            if req.connect:
                steps.append(("grey", "", check("greyssl", ("site",))))
            steps.append(("deny", "blanket", lambda r, a, c: self._blanket(g, blanket_role, r, a)))
            steps.append(("deny", "403", check("banned")))
            if req.connect:
                steps.append(("deny", "403", check("bannedssl", ("site",))))
            steps += opaque("deny", ("header",))
        return steps

    def _after(self, g: Group, req: Request) -> list[Match]:
        """What changes a request that passed the checks: e2guardian 5's rewrites (after the
        bans in common.story), and page content rewriting (where content is seen)."""
        out = []
        for o in g.opaque:
            if o.action != "rewrite" or (o.what != "content" and not g.v5):
                continue
            m = self._opaque(o, req)
            if m.hit is None:
                out.append(m)
        return out

    def _opaque(self, o: Opaque, req: Request) -> Match:
        """A list the linter does not evaluate: unknown for every request it could decide."""
        note = f"{o.key} would {_OPAQUE_WHAT[(o.action, o.what)]}; not evaluated"
        if not o:
            return NO
        if o.what == "content" and req.connect:
            return NO  # content is not seen in a CONNECT tunnel
        if o.what != "url" or o.missing:
            return Match(None, o.first(), note)
        if req.connect:
            forms = (f"{req.host}:443", req.host, f"https://{req.host}:443")
        else:
            forms = (
                f"http://{req.host}{req.path or '/'}",
                req.subject,
                f"https://{req.host}{req.path or '/'}",
            )
        for pattern, e in o.entries:
            hit = (
                None
                if pattern is None
                else next((True for f in forms if pattern.search(f) is not False), False)
            )
            if hit is False:
                continue
            if e.span not in self._reported:
                self._reported.add(e.span)
                self.problems.append(
                    Problem(
                        "TE908",
                        e.span,
                        f"{o.key}: this line would {_OPAQUE_WHAT[(o.action, o.what)]} "
                        f"({req.host}), which the linter does not evaluate; those verdicts are unknown",
                    )
                )
            return Match(None, e, note)
        return NO

    def _blanket(self, g: Group, role: str | None, req: Request, active: frozenset[str]) -> Match:
        data = g.get(role, "site") if role else None
        if not data:
            return NO
        for flag in ("**", "**s") if req.connect else ("**",):
            e = data.blanket.get(flag)
            if e is not None and all(t in active for t in e.times):
                note = "blanket block" + (f"; {g.legacy_blanket_note}" if g.legacy_blanket_note else "")
                return Match(True, e, note)
        return NO

    def _in_lists(
        self, found: list[tuple[str, ListData]], req: Request, active: frozenset[str], control: bool
    ) -> Match:
        maybe: Match | None = None
        for kind, data in found:
            if kind == "site":
                m = self._site(data, req, active)
            elif kind == "url":
                m = self._url(data, req, active)
            else:
                m = self._regex(data, req, active)
            if m.hit:
                return m
            if m.hit is None and maybe is None:
                maybe = m
            if data.missing and not control and maybe is None:
                ref, span, names = next(((r, s, n) for r, s, n in data.missing if n), (None, None, False))
                if names and span is not None:
                    maybe = Match(None, Entry(span), f"depends on the missing list {ref}")
        return maybe or NO

    @staticmethod
    def _site(data: ListData, req: Request, active: frozenset[str]) -> Match:
        for suffix in _suffixes(req.host):
            e = data.sites.get(suffix)
            if e is not None and all(t in active for t in e.times):
                return Match(True, e)
        return NO

    @staticmethod
    def _url(data: ListData, req: Request, active: frozenset[str]) -> Match:
        if req.connect or not req.path:
            return NO  # URL lists are not checked for a site-only URL (nor a CONNECT)
        for suffix in _suffixes(req.host):
            for path, e in data.urls.get(suffix, ()):
                if not all(t in active for t in e.times):
                    continue
                p = req.path
                if not path or p == path or (p.startswith(path) and p[len(path)] in "/?&;#"):
                    return Match(True, e)
        return NO

    def _regex(self, data: ListData, req: Request, active: frozenset[str]) -> Match:
        slow: Match | None = None
        for pattern, e in data.regexes:
            if not all(t in active for t in e.times):
                continue
            if id(pattern) in self._slow:
                slow = slow or Match(None, e, "a regular expression ran out of time")
                continue
            r = pattern.search(req.subject)
            if r:
                return Match(True, e)
            if r is None:
                self._slow.add(id(pattern))
                msg = f"regular expression {pattern.source!r} ran out of time; verdicts that depend on it are unknown"
                self.problems.append(Problem("TE905", e.span, msg))
                slow = slow or Match(None, e, "a regular expression ran out of time")
        return slow or NO

    # ---- content filtering
    def _content(self, g: Group, probe: Probe, req: Request, active: frozenset[str]) -> Match | None:
        """A phrase that names the probe's service blocks its pages (where content is seen)."""
        if req.connect or probe.is_control or probe.role != "primary":
            return None
        words = self._keywords.get(probe.service or "", ())
        for role in ("banned", "weighted"):
            data = g.get(role, "phrase")
            if not data:
                continue
            for ph in data.phrases:
                if not all(t in active for t in ph.entry.times):
                    continue
                if role == "weighted" and (ph.weight is None or ph.weight < g.naughtyness):
                    continue
                if all(_names(w, words) for w in ph.words):
                    return Match(True, ph.entry, "a content phrase names the service: its pages are blocked")
        return None

    def _note_content_filters(self) -> None:
        for g in self.groups:
            for role in ("banned", "weighted", "exception"):
                data = g.get(role, "phrase")
                if not data or not data.phrases:
                    continue
                first = data.sources[0] if data.sources else data.phrases[0].entry.span
                self.notes.append(
                    Problem(
                        NOTE_CODE,
                        first,
                        f"{role} phrase list: content filtering (pages are scored by the words they contain); "
                        f"not a block of a service by name unless a phrase names it",
                    )
                )


def _names(word: str, keywords: tuple[str, ...]) -> bool:
    w = word.strip().lower()
    return any(re.search(rf"(^|[^a-z0-9]){re.escape(k)}([^a-z0-9]|$)", w) for k in keywords)


def _all_times(data: ListData) -> set[str]:
    out = {t for e in data.sites.values() for t in e.times}
    out |= {t for v in data.urls.values() for _p, e in v for t in e.times}
    out |= {t for _p, e in data.regexes for t in e.times}
    out |= {t for e in data.blanket.values() for t in e.times}
    out |= {t for ph in data.phrases for t in ph.entry.times}
    return out


# --------------------------------------------------------------------------- configs


@dataclass(frozen=True)
class Setting:
    key: str
    value: str
    span: Span


_SETTING = re.compile(r"^\s*([A-Za-z_][\w-]*)\s*=\s*(.*?)\s*$")


def _unquote(value: str) -> str:
    value = value.strip()
    m = re.match(r"^'([^']*)'", value) or re.match(r'^"([^"]*)"', value)
    if m:
        return m.group(1)
    return value.split("#", 1)[0].strip()


class _ConfReader:
    """`key = 'value'` lines of e2guardian.conf / e2guardianfN.conf, with v5 `.include<...>`."""

    def __init__(self, context: ParseContext, problems: list[Problem], included: list[Path]):
        self.context = context
        self.problems = problems
        self.included = included

    def read(self, path: Path, stack: tuple[Path, ...] = ()) -> list[Setting]:
        display = self.context.resolver.display(path)
        src = read_source(path, display)
        self.problems.extend(src.problems)
        out: list[Setting] = []
        stack = stack + (path.resolve(),)
        for i, raw in enumerate(src.lines, start=1):
            body = raw.strip()
            if not body or body.startswith("#"):
                continue
            if body.lower().startswith(".include<"):
                ref = body[len(".include<") :].split(">", 1)[0].strip()
                span = Span(display, i, raw.find(body) + 1, body)
                target = self.context.resolver.resolve(ref, path)
                if target is None:
                    self.problems.append(
                        Problem(
                            "TE903",
                            span,
                            f"included file {ref} not found; verdicts that depend on it are unknown",
                        )
                    )
                elif target.resolve() in stack or len(stack) >= MAX_INCLUDE_DEPTH:
                    self.problems.append(Problem("TE904", span, f"include loop or nesting too deep at {ref}"))
                else:
                    self.included.append(target)
                    try:
                        out += self.read(target, stack)
                    except InputError as exc:
                        self.problems.append(Problem("TE902", span, str(exc)))
                continue
            m = _SETTING.match(raw)
            if m:
                out.append(
                    Setting(m.group(1).lower(), m.group(2), Span(display, i, raw.find(body) + 1, body))
                )
        return out


def _v5_def(value: str) -> dict[str, str]:
    """'name=banned,messageno=500,path=/etc/...' -> {"name": "banned", ...}."""
    out = {}
    for part in _unquote(value).split(","):
        k, _, v = part.partition("=")
        out[k.strip().lower()] = v.strip()
    return out


def _is_on(value: str) -> bool:
    return _unquote(value).lower() in ("on", "yes", "true", "1")


class _Parser:
    def __init__(self, product: str, path: Path, context: ParseContext):
        self.product = product
        self.path = path
        self.context = context
        self.display = context.resolver.display(path)
        self.problems: list[Problem] = []
        self.notes: list[Problem] = []
        self.included: list[Path] = []
        keywords = {sid: s.keywords for sid, s in context.catalog.services.items()}
        self.lists = _ListReader(context, self.problems, self.included, keywords)
        self.conf = _ConfReader(context, self.problems, self.included)

    # ---- a list file alone: the group that loads just this list
    def list_alone(self, role: str, kind: str) -> list[Group]:
        data = ListData()
        self.lists.read(self.path, kind, data, (), (), (self.path.resolve(),), None)
        group = Group(1, "", Span(self.display, 1, 1))
        group.lists[(role, kind)] = data
        if data.blanket and self.product == "e2guardian":
            if data.v5_note:
                self.notes_blanket(next(iter(data.blanket.values())).span)
                data.blanket.clear()
            else:
                group.legacy_blanket_note = (
                    "honoured as e2guardian <= 4 does; e2guardian 5 ignores blanket markers in list files"
                )
        return [group]

    # ---- a group config (e2guardianfN.conf / dansguardianfN.conf)
    def group(self, path: Path, number: int, settings: list[Setting] | None = None) -> Group:
        settings = settings if settings is not None else self.conf.read(path)
        display = self.context.resolver.display(path)
        group = Group(number, "", Span(display, 1, 1))
        v5 = self.product == "e2guardian" and any(
            s.key in V5_TYPES or s.key == "storyboard" for s in settings
        )
        group.v5 = v5
        seen: dict[tuple, Setting] = {}
        opaque: list[tuple[str, str, str, str, Setting]] = []
        for s in settings:
            if s.key == "groupname":
                group.name = _unquote(s.value)
            elif s.key == "groupmode":
                try:
                    group.mode = int(_unquote(s.value))
                    group.mode_span = s.span
                except ValueError:
                    self.problems.append(Problem("TE901", s.span, f"groupmode {s.value!r} is not 0, 1 or 2"))
            elif s.key == "naughtynesslimit":
                with contextlib.suppress(ValueError):  # e2guardian keeps its default limit
                    group.naughtyness = int(_unquote(s.value))
            elif s.key == "sslmitm":
                group.mitm = _is_on(s.value)
            elif s.key in V5_TYPES and v5 and _v5_def(s.value).get("name", "").lower() in V5_ROLES:
                d = _v5_def(s.value)
                if d.get("path"):
                    seen[(d["name"].lower(), V5_TYPES[s.key], s.key)] = s  # the last definition wins (v5)
            elif s.key in LEGACY_KEYS:
                key = LEGACY_KEYS[s.key] + (s.key,)
                if v5:
                    seen[key] = s
                else:
                    seen.setdefault(key, s)  # the first one wins before v5
            elif s.key in OPAQUE_KEYS:
                opaque.append((s.key, *OPAQUE_KEYS[s.key], _unquote(s.value), s))
            elif s.key in PHRASE_KEYS:
                key = (PHRASE_KEYS[s.key], "phrase", s.key)
                if v5:
                    seen[key] = s
                else:
                    seen.setdefault(key, s)
            elif s.key == "storyboard" and v5:
                self._storyboard(group, s, path)
            elif v5 and s.key.endswith("list") and "name=" in s.value:
                d = _v5_def(s.value)
                name = d.get("name", "").lower()
                if name in V5_OPAQUE and d.get("path"):
                    opaque.append((f"{s.key} {name}", *V5_OPAQUE[name], d["path"], s))
        for (role, kind, key), s in seen.items():
            ref = _v5_def(s.value)["path"] if key in V5_TYPES else _unquote(s.value)
            if not ref:
                continue
            what = f"{role} {key}" if key in V5_TYPES else key
            data = self.lists.load(ref, path, s.span, kind, what)
            if not v5 and data.blanket and self.product == "e2guardian":
                group.legacy_blanket_note = "e2guardian <= 4 group config"
            if v5 and data.blanket:
                e = next(iter(data.blanket.values()))
                self.notes_blanket(e.span)
                data.blanket.clear()
            old = group.lists.get((role, kind))
            if old is None:
                group.lists[(role, kind)] = data
            else:
                old.merge(data)
        for name, action, what, target, line in opaque:
            if target:
                group.opaque.append(self._opaque(name, action, what, target, line, path))
        return group

    def _opaque(self, key: str, action: str, what: str, ref: str, s: Setting, config: Path) -> Opaque:
        """Read a list the linter does not evaluate; TE908 (or TE903) when it could decide."""
        data = ListData(sources=[s.span])
        target = self.context.resolver.resolve(ref, config)
        missing = target is None
        if target is None:
            self.problems.append(
                Problem(
                    "TE903",
                    s.span,
                    f"{key} {ref} not found: its entries would {_OPAQUE_WHAT[(action, what)]}; "
                    f"the verdicts it could decide are unknown",
                )
            )
        else:
            self.lists.read(target, "opaque", data, (s.span,), (), (target.resolve(),), s.span)
            missing = any(names for _r, _s, names in data.missing)
        entries: list[tuple[BoundedPattern | None, Entry]] = []
        for value, entry in data.raw:
            pattern: BoundedPattern | None = None
            if what == "url":
                m = _REPLACE_LINE.match(value)
                with contextlib.suppress(PatternError):
                    pattern = BoundedPattern.compile(m.group(1) if m else value, ignore_case=True)
            entries.append((pattern, entry))
        found = Opaque(key, action, what, s.span, entries, missing)
        if entries and what != "url":  # URL rewrites: reported where a regex matches a probe
            n = len(entries)
            self.problems.append(
                Problem(
                    "TE908",
                    entries[0][1].span,
                    f"{key}: {n} entr{'y' if n == 1 else 'ies'} that would {_OPAQUE_WHAT[(action, what)]}, "
                    f"which the linter does not evaluate; the verdicts they could decide are unknown",
                )
            )
        return found

    def notes_blanket(self, span: Span) -> None:
        self.notes.append(
            Problem(
                NOTE_CODE,
                span,
                "blanket block marker in a list file: e2guardian 5 silently ignores it "
                "(blanket blocks live in the group's storyboard)",
            )
        )

    def _storyboard(self, group: Group, setting: Setting, config: Path) -> None:
        ref = _unquote(setting.value)
        functions: dict[str, list[Span]] = {}
        self._read_story(ref, config, setting.span, functions, ())
        for name, key in (("checkblanketblock", "http"), ("sslcheckblanketblock", "ssl")):
            for line in functions.get(name, []):
                if re.match(r"^if\(\s*true\s*(,[^)]*)?\)\s*return\s+setblock\b", line.text):
                    group.story_blanket[key] = line
                    break
        for line in functions.get("checkrequest", [])[:1]:
            m = re.match(r"^if\(\s*true\s*(,[^)]*)?\)\s*return\s+(setblock|setexception)\b", line.text)
            if m:
                group.story_all = ("block" if m.group(2) == "setblock" else "allow", line)

    def _read_story(
        self, ref: str, config: Path, span: Span, functions: dict[str, list[Span]], stack: tuple[Path, ...]
    ) -> None:
        target = self.context.resolver.resolve(ref, config)
        if target is None:
            if not stack:
                self.problems.append(
                    Problem(
                        "TE903",
                        span,
                        f"storyboard {ref} not found; assumed the standard library logic "
                        f"(common.story) without blanket blocks",
                    )
                )
            return
        real = target.resolve()
        if real in stack or len(stack) >= MAX_INCLUDE_DEPTH:
            self.problems.append(Problem("TE904", span, f"storyboard include loop at {ref}"))
            return
        display = self.context.resolver.display(target)
        try:
            src = read_source(target, display)
        except InputError as exc:
            self.problems.append(Problem("TE902", span, str(exc)))
            return
        self.included.append(target)
        current: str | None = None
        for i, raw in enumerate(src.lines, start=1):
            body = raw.split("#", 1)[0].strip() if not raw.strip().startswith(".") else raw.strip()
            if not body:
                continue
            line_span = Span(display, i, raw.find(body) + 1, body)
            if body.lower().startswith(".include<"):
                inc = body[len(".include<") :].split(">", 1)[0].strip()
                current = None
                self._read_story(inc, target, line_span, functions, stack + (real,))
                continue
            m = re.match(r"^function\(\s*([\w-]+)\s*\)", body)
            if m:
                current = m.group(1)
                functions[current] = []  # a later definition replaces an earlier one
                continue
            if body.startswith("end()"):
                current = None
                continue
            if current is not None:
                functions[current].append(line_span)

    # ---- the main config (e2guardian.conf / dansguardian.conf)
    def main(self, settings: list[Setting]) -> tuple[list[Group], dict[str, Span]]:
        count = 1
        count_span = None
        clients: dict[str, Span] = {}
        for s in settings:
            if s.key == "filtergroups":
                try:
                    count = max(1, min(99, int(_unquote(s.value))))
                    count_span = s.span
                except ValueError:
                    self.problems.append(
                        Problem("TE901", s.span, f"filtergroups {s.value!r} is not a number")
                    )
            elif s.key in CLIENT_LISTS or (
                s.key == "iplist" and _v5_def(s.value).get("name") in CLIENT_LISTS.values()
            ):
                kind = CLIENT_LISTS.get(s.key) or _v5_def(s.value)["name"]
                ref = _v5_def(s.value).get("path", "") if s.key == "iplist" else _unquote(s.value)
                target = self.context.resolver.resolve(ref, self.path) if ref else None
                if target is not None and _has_entries(target):
                    clients[kind] = s.span
                    self.included.append(target)
        groups = []
        for n in range(1, count + 1):
            name = f"{self.product}f{n}.conf"
            target = self.context.resolver.resolve(name, self.path)
            if target is None:
                span = count_span or Span(self.display, 1, 1)
                self.problems.append(
                    Problem(
                        "TE903",
                        span,
                        f"filter group config {name} not found; verdicts for that group are unknown",
                    )
                )
                g = Group(n, "", span)
                g.lists[("banned", "site")] = ListData(missing=[(name, span, True)])
                groups.append(g)
                continue
            self.included.append(target)
            try:
                groups.append(self.group(target, n))
            except InputError as exc:
                self.problems.append(Problem("TE902", count_span or Span(self.display, 1, 1), str(exc)))
        return groups, clients


def _has_entries(path: Path) -> bool:
    try:
        src = read_source(path)
    except InputError:
        return False
    return any(line.strip() and not line.strip().startswith("#") for line in src.lines)


def parse_for(product: str, dialect: str, path: Path, context: ParseContext) -> Any:
    role = _list_role(path.name)
    if role is None and path.suffix.lower() != ".conf":
        try:
            with open(path, "rb") as fh:
                head = fh.read(16384).decode("utf-8", "replace")
        except OSError:
            head = ""
        from policy_lint.dialects.proxies import guardian_lists

        shape = guardian_lists.looks_like(head)
        if shape is not None:
            refs = guardian_lists.references(path, context.resolver)
            roles = list(dict.fromkeys((r.role, r.kind) for r in refs))
            if len(roles) == 1 and roles[0][1] != "opaque":
                role = roles[0]
            elif refs or content_role(head) is None:
                return _ambiguous(product, dialect, path, context, refs, shape)
            else:
                role = content_role(head)
    return _parse(product, dialect, path, context, role)


def _ambiguous(product: str, dialect: str, path: Path, context: ParseContext, refs: list, shape: str) -> Any:
    """A list whose role no single config line gives: every possible role evaluated."""
    from policy_lint.dialects.proxies import guardian_lists

    display = context.resolver.display(path)
    kind = "phrase" if shape == "phrase" else "regex"
    opaque = [r for r in refs if r.kind == "opaque"]
    if opaque:
        r = opaque[0]
        why = (
            f"named as {r.role} by {r.span.path}:{r.span.line}, a list evaluated only with its config "
            "(lint the config): what it decides is unknown"
        )
        variants = [("banned", _parse(product, dialect, path, context, ("banned", kind)))]
        return guardian_lists.AmbiguousRole(display, dialect, variants, why, code="TE908", always=True)
    if refs:
        roles = list(dict.fromkeys((r.role, r.kind) for r in refs))
        where = ", ".join(f"{r.span.path}:{r.span.line} ({r.role})" for r in refs)
        why = f"named with different roles ({where}): each is evaluated, verdicts that differ are unknown"
    else:
        roles = [("banned", kind), ("exception", kind)]
        why = (
            f"no e2guardian/dansguardian config in the repository names this {kind} list, so whether it "
            "bans or exempts is unknown: verdicts that differ between the two are unknown"
        )
    variants = [(f"{r}", _parse(product, dialect, path, context, (r, k))) for r, k in roles]
    return guardian_lists.AmbiguousRole(display, dialect, variants, why)


def _parse(
    product: str, dialect: str, path: Path, context: ParseContext, role: tuple[str, str] | None
) -> GuardianRuleset:
    parser = _Parser(product, path, context)
    display = parser.display
    if role is not None:
        groups = parser.list_alone(*role)
        clients: dict[str, Span] = {}
    else:
        settings = parser.conf.read(path)
        keys = {s.key for s in settings}
        # Options only the main config has (a group config never sets them).
        if keys & {"filtergroups", "filtergroupslist", "filterports", "filterip", "languagedir"}:
            groups, clients = parser.main(settings)
        else:
            groups, clients = [parser.group(path, 1, settings)], {}
    ruleset = GuardianRuleset(display, dialect, groups, parser.problems, context.catalog, clients)
    ruleset.notes[:0] = parser.notes
    if role is not None and not any(p.code == "TE902" for p in parser.problems):
        # A list file alone, read cleanly: e2guardian takes every line that is no comment as an
        # entry (a marker, an include), so what it holds is what was read. Files with unreadable
        # parts are left to the engine's judgement (not counted).
        ruleset.statements = ruleset.understood = parser.lists.entries
    ruleset.problems.extend(ruleset.notes)
    ruleset.included = sorted({str(p.resolve()) for p in parser.included if p.resolve() != path.resolve()})
    return ruleset


def parse(path: Path, context: ParseContext) -> Any:
    return parse_for(PRODUCT, NAME, path, context)

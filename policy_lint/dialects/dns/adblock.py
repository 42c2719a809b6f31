"""AdBlock Plus / uBlock Origin filter lists, evaluated with a real adblock engine.

The rules are given to Brave's adblock-rust (the `adblock` Python bindings), the engine a
browser runs, and the engine answers for the requests a user of each service makes:

- a **primary** probe is a top-level page load: `check_network_urls(url, url, "document")`;
- a **supporting** probe (CDN, API, messaging) is a subrequest from the service's own page
  (`https://www.facebook.com/` loading a script or image from static.xx.fbcdn.net, an
  XMLHttpRequest to graph.facebook.com); blocked if any typical request type is blocked;
- a **hygiene** probe (ads, tracking, widgets) is a third-party subrequest from an unrelated
  page (`https://www.example.com/` embedding platform.twitter.com/widgets.js);
- the control (`www.example.com`) is a page load, so `*$document` shows as "all web denied".

So, as in uBlock Origin, AdGuard and Brave:

    ||facebook.com^                  blocks facebook.com and every subdomain, the page itself too
    @@||facebook.com^                an exception wins over a block (verdict `allowed`)
    ||facebook.com^$important        ... unless the block is `$important`
    ||facebook.com^$badfilter        cancels `||facebook.com^`
    ||facebook.com^$third-party      does not stop a user who opens facebook.com (TE201 at most)
    ||fbcdn.net^$image               a subrequest type: the site is `degraded`
    /facebook/                       a generic pattern blocks subrequests, not the page (no $document)
    0.0.0.0 twitter.com, twitter.com hosts-syntax and bare-domain lines are `||twitter.com^`
                                     (uBlock Origin's reading; Adblock Plus would read the bare
                                     line as a substring pattern)
    facebook.com##.ad                cosmetic filters hide elements: never a block, ignored

Deliberate readings: `!#if` blocks are all evaluated (the list's rules for any platform);
`$popup` rules only stop pop-ups and are ignored; `$all` is read as every type plus
`$document`, `$from=` as `$domain=`. Rules with options the engine does not implement
(`$denyallow`, `$to`, `$method`, `$header`, `$ipaddress`, AdGuard Home's `$client`,
`$dnstype`, `$dnsrewrite`...) that could match a probe make that probe `unknown` (TE908),
unless another rule decides it; filters that are simply invalid are ignored, as the blockers
ignore them (TE905, informational). An `@@...$document` exception lifts the block of the page
itself (as uBlock Origin and adblock-rust do), not of every request the page makes (Adblock
Plus would). `!#include file` is followed inside --root (loop-safe, depth 8); a missing or
remote include is TE903 and, unless its name says it holds another topic, leaves the probes
it could decide `unknown`.

Scale: a 10^6-line list would take the engine 7 s and 1.1 GB to load. Only rules that can
match one of the probe URLs are given to it: a plain `||host^` rule (or hosts/bare line) only
when its host is on a label boundary of a probe's registrable domain (found in the raw bytes,
see `listscan`); every other rule (generic, regex, wildcard, single-label hosts) is parsed,
and kept when each literal piece of its pattern occurs in some probe URL (for a regex, the
literal runs it cannot match without; none when it has a top-level `|`). A line holding,
before its options, a character no probe URL holds is skipped in the raw scan. Exceptions
and `$badfilter` rules pass the same test, since they must match the same URLs.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from fnmatch import fnmatch
from pathlib import Path

from policy_lint.catalog import HYGIENE_ROLES, PRIMARY, Catalog
from policy_lint.dialects.semantics import listscan
from policy_lint.dialects.semantics.answers import address_decision
from policy_lint.dialects.semantics.base import ParseContext
from policy_lint.dialects.semantics.listnames import classify_list_name
from policy_lint.dialects.semantics.names import NOT_LISTED
from policy_lint.inputs import InputError
from policy_lint.model import EVERYONE, Audience, Decision, Outcome, Probe, Problem, Span

NAME = "abp"
FILE_PATTERNS = (
    "*.easylist",
    "easylist*.txt",
    "easyprivacy*.txt",
    "*adblock*",
    "*ublock*",
    "*.abp",
    "*abp*.txt",
    "*filters*.txt",
    "*filterlist*.txt",
    "*-filter.txt",
)
NOT_MINE = ("*.py", "*.sh", "*.yaml", "*.yml", "*.json", "*.conf", "*.md", "*.html", "*.js")

MAX_ENGINE_RULES = 50_000
MAX_INCLUDE_DEPTH = 8
EXAMPLE_PAGE = "https://www.example.com/"

# --------------------------------------------------------------------------- detection

_HEADER = re.compile(
    r"^\s*\[(?:adblock|ublock|adguard)[^\]]*\]|^!\s*(?:title|homepage|expires|"
    r"version|last modified|licen[sc]e)\s*:",
    re.I | re.M,
)
_NETWORK_LINE = re.compile(r"^(?:@@)?\|\|[^\s]+|^[^\s#!]*#[@?$%]{0,3}#\S", re.M)
_CONTENT_LINE = re.compile(r"^[ \t]*[^\s!#\[]", re.M)
_ADGUARD = re.compile(r"adguard|\$(?:dnsrewrite|client|ctag|dnstype)=|#[@]?%#|#[@]?\$\?#", re.I)


def score(path: Path, head: str) -> float:
    """How sure we are that `path` is an adblock-syntax list (any flavour)."""
    name = path.name.lower()
    if any(fnmatch(name, p) for p in NOT_MINE):
        return 0.0
    header = bool(_HEADER.search(head[:4096]))
    network = len(_NETWORK_LINE.findall(head))
    content = len(_CONTENT_LINE.findall(head))
    ratio = network / content if content else 0.0
    named = any(fnmatch(name, p) for p in FILE_PATTERNS)
    if header:
        return 0.95
    if named and (ratio >= 0.3 or not content):
        return 0.9
    if network >= 3 and ratio >= 0.6:
        return 0.85
    if network >= 1 and ratio >= 0.5:
        return 0.6
    return 0.0


def is_adguard(path: Path, head: str) -> bool:
    return "adguard" in path.name.lower() or bool(_ADGUARD.search(head[:16384]))


def detect(path: Path, head: str) -> float:
    s = score(path, head)
    return max(0.0, s - 0.05) if s and is_adguard(path, head) else s


# --------------------------------------------------------------------------- rule lines

# A line that can only matter when it names a probe's domain: a plain host-anchored rule with a
# complete host of two or more labels, a hosts line, a bare host name, a comment, a cosmetic
# filter, a blank line, text with white space before its options. Any other line is parsed.
# Over lower-cased bytes, after a newline.
_SIMPLE = (
    rb"\|\|[a-z0-9_-]++\.[a-z0-9_.-]++[\^/:]|@@\|\|[a-z0-9_-]++\.[a-z0-9_.-]++[\^/:]"
    rb"|[a-z0-9_-]++(?:\.[a-z0-9_-]++)++\.?[ \t]*+\r?(?=\n)"
    rb"|[0-9a-f:.]++(?:%[^\s]*)?[ \t]"
    rb"|!(?!#include[ \t])|[#\[\n]|[ \t]*+\r?(?=\n)|\Z"
    rb"|[a-z0-9.,~*_:-]*+(?:#@?[?$%]{0,2}#|\$@?\$)"
    # white space before any `$`: not a network filter a URL can match (URLs hold none)
    rb"|(?!!)[^\s$]++[ \t]++[^\s#]"
)


def not_simple_lines(urls: str) -> re.Pattern[bytes]:
    """The lines to parse: not `_SIMPLE`, and not a (non-regex) pattern holding, before its
    options, a character that none of the probe URLs holds (`&ad_type=`, `%2F`, `<garbage>`):
    such a pattern matches none of them, whatever else it says."""
    chars = sorted(set(urls.replace("\n", "")) | set("*^|@"))
    allowed = "".join(c if c.isalnum() else "\\" + c for c in chars).encode()
    impossible = rb"(?![/!]|@@/)[" + allowed + rb"]*+[^" + allowed + rb"$\r\n]"
    return re.compile(rb"\n(?!" + _SIMPLE + rb"|" + impossible + rb")")


_COSMETIC = re.compile(r"^[^/*|@\"!]*?(?:#@?[?$%]{0,2}#|\$@?\$)")
_HOSTNAME = re.compile(r"^(?:[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?\.)+[a-z0-9-]*[a-z0-9]\.?$")
_OPTIONS = re.compile(r"^~?[a-z0-9_-]+(?:=[^,]*)?(?:,~?[a-z0-9_-]+(?:=[^,]*)?)*$", re.I)
_INCLUDE = re.compile(r"^!#include\s+(\S+)")

# Options the engine ignores that never make a rule block a page or its resources.
NON_BLOCKING = frozenset(
    {
        "popup",
        "popunder",
        "removeparam",
        "queryprune",
        "csp",
        "permissions",
        "replace",
        "urltransform",
        "uritransform",
        "urlskip",
        "cookie",
        "stealth",
        "removeheader",
        "hls",
        "jsonprune",
        "referrerpolicy",
        "elemhide",
        "ehide",
        "generichide",
        "ghide",
        "specifichide",
        "shide",
        "content",
        "jsinject",
        "extension",
        "genericblock",
        "urlblock",
        "inline-script",
        "inline-font",
        "webrtc",
        "network",
        "redirect-rule",
        "badfilter",
        "cname",
    }
)
# Options of uBlock Origin / AdGuard that this engine does not implement: a rule using them
# may block, so the probes it could match are undecided.
UNEVALUATED = frozenset(
    {
        "to",
        "denyallow",
        "method",
        "header",
        "ipaddress",
        "strict1p",
        "strict3p",
        "strict-first-party",
        "strict-third-party",
        "client",
        "ctag",
        "dnstype",
        "dnsrewrite",
        "app",
    }
)
_OTHER_TYPES = "script,image,stylesheet,object,xmlhttprequest,subdocument,ping,media,font,websocket,other"


@dataclass(frozen=True)
class Candidate:
    text: str  # as given to the engine
    span: Span
    exception: bool
    badfilter: bool
    options: frozenset[str]
    chunks: tuple[str, ...]  # literal pieces every URL it matches holds


def _split_options(body: str) -> tuple[str, list[str]]:
    if body.startswith("/"):
        m = re.match(r"^(/.*/)(?:\$([^/]*))?$", body)
        if m:
            return m.group(1), (m.group(2).split(",") if m.group(2) else [])
    idx = body.rfind("$")
    if idx >= 0 and _OPTIONS.match(body[idx + 1 :]):
        return body[:idx], body[idx + 1 :].split(",")
    return body, []


_CHUNK_SPLIT = re.compile(r"[*^|]+")


def _chunks(pattern: str) -> tuple[str, ...]:
    """Literal pieces every URL the pattern matches must contain (lower-case)."""
    p = pattern.lower()
    if len(p) > 1 and p[0] == "/" and p[-1] == "/":
        return regex_literals(p[1:-1])
    return tuple([c for c in _CHUNK_SPLIT.split(p) if c])


_QUANTIFIED_AWAY = re.compile(r"[?*]|\{0[,}]")


def regex_literals(body: str) -> tuple[str, ...]:
    """Runs of literal characters a regex filter cannot match without, conservatively: none
    when the regex has a top-level alternation; groups and classes are skipped whole; a
    character made optional by `?`, `*` or `{0,` ends a run without joining it."""
    out: list[str] = []
    run: list[str] = []
    i, n = 0, len(body)

    def flush() -> None:
        if run:
            out.append("".join(run))
            run.clear()

    while i < n:
        c = body[i]
        if c == "\\":
            nxt = body[i + 1] if i + 1 < n else ""
            if not nxt or nxt.isalnum():  # \d \w \b \s \1 ...: not a literal
                flush()
                i += 2
                continue
            lit, i = nxt, i + 2
        elif c in "([":
            flush()
            depth, j, close = 0, i, ")" if c == "(" else "]"
            while j < n:
                if body[j] == "\\":
                    j += 2
                    continue
                if body[j] == c and c == "(":
                    depth += 1
                elif body[j] == close:
                    depth -= 1
                    if c == "[" or depth == 0:
                        break
                j += 1
            i = j + 1
            continue
        elif c == "|":
            return ()
        elif c in ".^$+*?{}":
            flush()
            if c == "{":
                end = body.find("}", i)
                i = end + 1 if end > 0 else n
            else:
                i += 1
            continue
        else:
            lit, i = c, i + 1
        if _QUANTIFIED_AWAY.match(body, i):
            flush()
        else:
            run.append(lit)
    flush()
    return tuple(x for x in out if x)


_TYPES = frozenset(
    {
        "document",
        "doc",
        "script",
        "image",
        "stylesheet",
        "css",
        "xmlhttprequest",
        "xhr",
        "subdocument",
        "frame",
        "media",
        "font",
        "object",
        "websocket",
        "ping",
        "other",
        "all",
        "~document",
    }
)


def _translate(pattern: str, options: list[str]) -> list[str]:
    """uBO aliases adblock-rust 0.6 does not read, rewritten into what it does."""
    keys = {o.split("=", 1)[0].strip().lower() for o in options}
    popup_too = bool(keys & {"popup", "popunder"}) and bool(keys & _TYPES)
    opts, extra = [], []
    for o in options:
        key = o.split("=", 1)[0].strip().lower()
        if key == "all":
            extra.append("document")
        elif key == "from":
            opts.append("domain=" + o.split("=", 1)[1])
        elif key in ("empty", "mp4"):
            continue  # an empty answer is a block
        elif key == "~document":
            opts.append(_OTHER_TYPES)
        elif key in ("popup", "popunder") and popup_too:
            continue  # `$doc,popup`: the other types still apply (pop-ups are not evaluated)
        else:
            opts.append(o.strip())
    out = [pattern + ("$" + ",".join(opts) if opts else "")]
    if extra:
        out.append(pattern + "$" + ",".join(opts + extra))
    return out


def without_badfilter(text: str) -> str:
    """The filter a `$badfilter` rule cancels."""
    head, _, opts = text.rpartition("$")
    kept = [o for o in opts.split(",") if o.strip().lower() != "badfilter"]
    return head + ("$" + ",".join(kept) if kept else "")


def parse_line(text: str, span_of, urls: str | None = None) -> list[Candidate]:
    """The engine rules one list line stands for (none for comments and cosmetic filters).
    With `urls` (the probe URLs, newline-separated), rules that cannot match any of them are
    left out before any more work is done on them (most lines of a large list)."""
    s = text.strip()
    if not s or s[0] in "![#":
        return []
    if ("#" in s or "$$" in s or "$@$" in s) and _COSMETIC.match(s):
        return []
    low = s.lower()
    if s[0].isdigit() or s[0] == ":":
        words = low.split()
        if len(words) >= 2 and _is_address(words[0]):
            names = []
            for w in words[1:]:
                if w.startswith("#"):
                    break
                if _HOSTNAME.match(w) and (urls is None or w.rstrip(".") in urls):
                    names.append(w.rstrip("."))
            if not names:
                return []
            span = span_of()
            return [Candidate(f"||{n}^", span, False, False, frozenset(), (n,)) for n in names]
    if "." in low and _HOSTNAME.match(low):
        n = low.rstrip(".")
        if urls is not None and n not in urls:
            return []
        return [Candidate(f"||{n}^", span_of(), False, False, frozenset(), (n,))]
    exception = s.startswith("@@")
    body = s[2:] if exception else s
    pattern, options = _split_options(body)
    chunks = _chunks(pattern)
    if urls is not None and not all(c in urls for c in chunks):
        return []
    keys = frozenset(o.split("=", 1)[0].strip().lower() for o in options)
    span = span_of()
    prefix = "@@" if exception else ""
    return [
        Candidate(prefix + t, span, exception, "badfilter" in keys, keys, chunks)
        for t in _translate(pattern, options)
    ]


def _is_address(word: str) -> bool:
    try:
        ipaddress.ip_address(word.split("%", 1)[0])
        return True
    except ValueError:
        return word in ("0", "0.0")


# --------------------------------------------------------------------------- reading


@dataclass
class Missing:
    span: Span
    reference: str
    services: set[str]  # the services it may name (empty: assumed to name none)


@dataclass
class AdblockList:
    """What a list (and its includes) says that can matter for the probes."""

    path: str
    candidates: dict[str, Candidate] = field(default_factory=dict)  # engine text -> first
    problems: list[Problem] = field(default_factory=list)
    missing: list[Missing] = field(default_factory=list)
    included: list[str] = field(default_factory=list)
    lines: int = 0
    capped: Span | None = None


class _Reader:
    def __init__(self, context: ParseContext, urls: str):
        self.context = context
        self.urls = urls  # every probe URL, lower-case, newline-separated
        names = _probe_hosts(context.catalog)
        self.anchors = listscan.anchor_patterns(names)
        self.not_simple = not_simple_lines(urls)
        self.keywords = {sid: svc.keywords for sid, svc in context.catalog.services.items()}

    def read(self, path: Path, out: AdblockList, stack: tuple[Path, ...] = ()) -> None:
        display = self.context.resolver.display(path)
        includes: list[tuple[str, Span]] = []

        def on_line(line: int, text: str) -> None:
            m = _INCLUDE.match(text.lstrip()) if text.lstrip().startswith("!#") else None
            if m:
                includes.append((m.group(1), Span(display, line, 1, text.strip())))
                return
            spans: list[Span] = []

            def span_of() -> Span:
                if not spans:
                    col = len(text) - len(text.lstrip()) + 1
                    spans.append(Span(display, line, col, text.strip()))
                return spans[0]

            for c in parse_line(text, span_of, self.urls):
                if c.text in out.candidates:
                    continue
                if len(out.candidates) >= MAX_ENGINE_RULES:
                    out.capped = out.capped or c.span
                    return
                out.candidates[c.text] = c

        stats = listscan.scan(path, display, on_line, anchors=self.anchors, line_patterns=[self.not_simple])
        out.lines += stats.lines
        out.problems.extend(stats.problems())
        for ref, span in includes:
            self._include(ref, span, path, out, stack + (path.resolve(),))

    def _include(self, ref: str, span: Span, config: Path, out: AdblockList, stack: tuple[Path, ...]) -> None:
        target = None if "://" in ref else self.context.resolver.resolve(ref, config)
        if target is None:
            kind, services = classify_list_name(ref, self.keywords)
            assumption = (
                "; assumed not to name the services (its name says it holds another topic)"
                if kind == "other-topic"
                else "; the rules it holds are unknown"
            )
            named = {"social": services, "other-topic": set()}.get(kind, set(self.keywords))
            out.missing.append(Missing(span, ref, named))
            where = "a remote list, not fetched" if "://" in ref else "not found under --root"
            out.problems.append(Problem("TE903", span, f"included list '{ref}' is {where}{assumption}"))
            return
        if target.resolve() in stack:
            out.problems.append(Problem("TE904", span, f"include loop: '{ref}' includes itself"))
            return
        if len(stack) >= MAX_INCLUDE_DEPTH:
            out.problems.append(Problem("TE904", span, f"includes nest deeper than {MAX_INCLUDE_DEPTH}"))
            return
        out.included.append(str(target.resolve()))
        self.read(target, out, stack)


def _probe_hosts(catalog: Catalog) -> set[str]:
    hosts = {p.host.lower() for svc in catalog.services.values() for p in svc.probes()}
    hosts.add(catalog.control_host.lower())
    return hosts


def probe_urls(catalog: Catalog) -> list[str]:
    urls = {p.url.lower() for svc in catalog.services.values() for p in svc.probes()}
    urls |= {p.url.lower() for p in catalog.control_probes()}
    return sorted(urls)


# --------------------------------------------------------------------------- evaluation


def _contexts(probe: Probe, page: str) -> list[tuple[str, str]]:
    """(source URL, request type) of the requests that make up this probe."""
    url = probe.url
    role = probe.role
    if role in HYGIENE_ROLES:
        return [(EXAMPLE_PAGE, t) for t in ("script", "image", "sub_frame", "xmlhttprequest", "ping")]
    if role == "cdn":
        return [(page, t) for t in ("script", "stylesheet", "image", "media", "font")]
    if role == "api":
        return [(page, "xmlhttprequest"), (page, "script")]
    if role == "auth":
        return [(url, "document"), (page, "xmlhttprequest")]
    if role == "messaging":
        return [(url, "document"), (page, "xmlhttprequest"), (page, "websocket")]
    return [(url, "document")]  # primary, short-link, control


class AdblockRuleset:
    """One audience (everyone); a decision per probe URL and role."""

    def __init__(self, listing: AdblockList, catalog: Catalog, dialect: str):
        self.path = listing.path
        self.dialect = dialect
        self.listing = listing
        self.problems = listing.problems
        self.included = listing.included
        self.catalog = catalog
        self._cache: dict[tuple, Decision] = {}
        self._pages = {sid: f"https://www.{_main_domain(svc)}/" for sid, svc in catalog.services.items()}
        self._build()

    # -- engine
    def _build(self) -> None:
        cands = list(self.listing.candidates.values())
        self.spans = {c.text: c.span for c in cands}
        self.engine = _Engine([c.text for c in cands])
        # The same exceptions read as blocks: which probes an exception names even when no
        # rule of this list blocks them (an allow-list): `allowed`.
        exc = {c.text[2:]: c.span for c in cands if c.exception}
        self.exc_spans = exc
        self.exc_engine = _Engine(list(exc)) if exc else None
        cancelled = {without_badfilter(c.text) for c in cands if c.badfilter}
        self.unevaluated: list[Candidate] = []
        for c in cands:
            if c.badfilter or c.text in cancelled or self.engine.exists(c.text):
                continue
            if c.options & UNEVALUATED:
                self.unevaluated.append(c)
                if _evaluated_rewrite(c):
                    continue
                which = ", ".join(sorted("$" + o for o in c.options & UNEVALUATED))
                self.problems.append(
                    Problem(
                        "TE908",
                        c.span,
                        f"filter option {which} is not evaluated by the adblock "
                        f"engine: the requests it could match are undecided",
                    )
                )
            elif not c.options & NON_BLOCKING:
                self.problems.append(
                    Problem(
                        "TE905", c.span, "the adblock engine cannot parse this filter; blockers ignore it too"
                    )
                )
        if self.listing.capped:
            self.problems.append(
                Problem(
                    "TE902",
                    self.listing.capped,
                    f"more than {MAX_ENGINE_RULES} filters could match the probes; the rest were not "
                    f"evaluated and undecided probes are unknown",
                )
            )

    # -- Ruleset protocol
    def audiences(self) -> list[Audience]:
        return [EVERYONE]

    def inert_mentions(self, probe: Probe) -> list[Span]:
        return []

    def evaluate(self, probe: Probe, audience: Audience) -> Decision:
        key = (probe.url, probe.role, probe.service)
        hit = self._cache.get(key)
        if hit is None:
            hit = self._cache[key] = self._decide(probe)
        return hit

    def _decide(self, probe: Probe) -> Decision:
        rewrite = self._dnsrewrite(probe.host.lower())
        if rewrite is not None:
            return rewrite
        page = self._pages.get(probe.service or "", EXAMPLE_PAGE)
        url = probe.url
        excepted: tuple[Span | None, Span | None, str] | None = None
        for source, rtype in _contexts(probe, page):
            r = self.engine.check(url, source, rtype)
            if r.matched:
                span = self._span(r.filter)
                how = "" if rtype == "document" else f"{rtype} request"
                note = "$important: exceptions do not apply" if r.important else ""
                maybe = None if r.important else self._unevaluated_exception(url)
                if maybe is not None:
                    return Decision(
                        Outcome.UNKNOWN,
                        maybe.span,
                        tuple(s for s in (span, maybe.span) if s is not None),
                        True,
                        how,
                        "an exception with an option the engine does not evaluate may lift this block",
                    )
                return Decision(Outcome.DENY, span, (span,) if span else (), True, how, note)
            if r.exception and excepted is None:
                excepted = (self._span(r.filter), self._span(r.exception), rtype)
        if excepted:
            blocked, exc, rtype = excepted
            trace = tuple(s for s in (blocked, exc) if s)
            return Decision(
                Outcome.ALLOW,
                exc,
                trace,
                True,
                "exception",
                f"the exception overrides '{blocked.text if blocked else ''}'",
            )
        undecided = self._undecided(probe)
        if undecided:
            return undecided
        if self.exc_engine is not None:
            for source, rtype in _contexts(probe, page):
                r = self.exc_engine.check(url, source, rtype)
                if r.matched:
                    span = self.exc_spans.get(r.filter)
                    return Decision(Outcome.ALLOW, span, (span,) if span else (), True, "exception")
        return NOT_LISTED

    def _dnsrewrite(self, host: str) -> Decision | None:
        """AdGuard Home's `||name^$dnsrewrite=VALUE` (the rewrite outranks blocking rules and
        `@@||name^$dnsrewrite` lifts it): the answer is judged as every DNS dialect judges one
        (semantics/answers.py). Rules with other unevaluated options stay undecided."""
        rules = [
            (c, _dnsrewrite_value(c.text) or "")
            for c in self.unevaluated
            if _evaluated_rewrite(c) and covers(c.text, host)
        ]
        if not rules or any(c.exception for c, _v in rules):
            return None
        c, value = rules[0]
        return dnsrewrite_decision(value, host, self.catalog, c.span)

    def _unevaluated_exception(self, url: str) -> Candidate | None:
        url = url.lower()
        for c in self.unevaluated:
            if c.exception and all(ch in url for ch in c.chunks):
                return c
        return None

    def _undecided(self, probe: Probe) -> Decision | None:
        url = probe.url.lower()
        for c in self.unevaluated:
            if c.exception:
                continue
            if all(ch in url for ch in c.chunks):
                return Decision(
                    Outcome.UNKNOWN,
                    c.span,
                    (c.span,),
                    True,
                    "",
                    "a filter option the engine does not evaluate",
                )
        if probe.service is not None:
            for m in self.listing.missing:
                if probe.service in m.services:
                    return Decision(
                        Outcome.UNKNOWN,
                        m.span,
                        (m.span,),
                        True,
                        "",
                        f"the included list '{m.reference}' is not available",
                    )
        if self.listing.capped is not None:
            return Decision(
                Outcome.UNKNOWN,
                self.listing.capped,
                (self.listing.capped,),
                True,
                "",
                "too many filters could match; not all were evaluated",
            )
        return None

    def _span(self, text: str | None) -> Span | None:
        if not text:
            return None
        return self.spans.get(text) or Span(self.path, 1, 1, text)


_FATAL = (KeyboardInterrupt, SystemExit, GeneratorExit, MemoryError)


class _Engine:
    """adblock-rust over a list of filters, with one correction.

    adblock-rust 0.6 drops a leading `www.` from a filter's host: `||www.linkedin.com^`
    blocks linkedin.com and platform.linkedin.com there, unlike in uBlock Origin, Adblock
    Plus and AdGuard (and unlike the filter's text). A host-anchored filter the engine names
    for a host it does not cover is set aside and the request checked again without it.
    """

    MAX_RECHECKS = 8

    def __init__(self, rules: list[str]):
        try:
            import adblock  # the Rust engine; imported only when a list is linted
        except ImportError:
            raise InputError("the adblock engine is not installed: pip install 'adblock>=0.6'") from None
        self._adblock = adblock
        self.rules = rules
        self._engines: dict[frozenset[str], object] = {}
        self.base = self._without(frozenset())

    def _without(self, excluded: frozenset[str]):
        engine = self._engines.get(excluded)
        if engine is None:
            fs = self._adblock.FilterSet(debug=True)  # debug: results name the filter's text
            rules = [r for r in self.rules if r not in excluded] if excluded else self.rules
            try:
                if rules:
                    fs.add_filters(rules)
                engine = self._engines[excluded] = self._adblock.Engine(fs, optimize=False)
            except _FATAL:
                raise
            except BaseException as exc:
                raise InputError(f"the adblock engine failed on this list: {exc}") from None
        return engine

    def exists(self, text: str) -> bool:
        try:
            return bool(self.base.filter_exists(text))
        except Exception:
            return False

    def check(self, url: str, source: str, rtype: str):
        host = url.split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0].lower()
        excluded: frozenset[str] = frozenset()
        result = None
        for _ in range(self.MAX_RECHECKS):
            try:
                result = self._without(excluded).check_network_urls(url, source, rtype)
            except _FATAL:
                raise
            except BaseException as exc:
                raise InputError(f"the adblock engine failed on {url}: {exc}") from None
            wrong = {
                t
                for t in (result.filter, result.exception)
                if t and (result.matched or result.exception) and not covers(t, host)
            }
            if not wrong:
                return result
            excluded |= wrong
        return result


def _evaluated_rewrite(c: Candidate) -> bool:
    """A `||name^$dnsrewrite=...` rule this module answers itself (see dnsrewrite_decision)."""
    return (
        c.options & UNEVALUATED == {"dnsrewrite"}
        and c.text.lstrip("@").startswith("||")
        and _dnsrewrite_value(c.text) is not None
    )


def _dnsrewrite_value(text: str) -> str | None:
    """VALUE of `$dnsrewrite=VALUE` when the rule's other options are only `important`
    (None for anything else: `$client`, `$dnstype`... keep the rule undecided)."""
    _head, _, opts = text.rpartition("$")
    value = None
    for o in opts.split(","):
        key, _, v = o.strip().partition("=")
        if key.lower() == "dnsrewrite":
            value = v.strip()
        elif key.lower() != "important":
            return None
    return value


_RCODE_BLOCKS = {"NXDOMAIN": "NXDOMAIN", "REFUSED": "REFUSED", "SERVFAIL": "SERVFAIL", "NOERROR": "NODATA"}


def dnsrewrite_decision(value: str, host: str, catalog: Catalog, span: Span) -> Decision:
    """What an AdGuard Home `$dnsrewrite` answer does to a browser's A query for `host`:
    `1.2.3.4` or `NOERROR;A;1.2.3.4` -> that address; an rcode alone -> no address (blocked);
    `name` or `NOERROR;CNAME;name` -> a CNAME; anything else (other record types) -> unknown."""
    parts = [p.strip() for p in value.split(";")]
    how = f"$dnsrewrite={value}"
    if len(parts) == 1:
        word = parts[0]
        if word.upper() in _RCODE_BLOCKS:
            return Decision(Outcome.DENY, span, (span,), True, _RCODE_BLOCKS[word.upper()])
        if _is_address(word):
            return address_decision(word, host, catalog, span, (span,), "$dnsrewrite")
        if _HOSTNAME.match(word.lower()):
            return cname_decision(word, host, catalog, span)
    elif len(parts) == 3 and parts[0].upper() == "NOERROR":
        rtype, data = parts[1].upper(), parts[2]
        if rtype == "A" and _is_address(data):
            return address_decision(data, host, catalog, span, (span,), "$dnsrewrite")
        if rtype == "CNAME" and _HOSTNAME.match(data.lower()):
            return cname_decision(data, host, catalog, span)
    elif len(parts) == 3 and parts[0].upper() in _RCODE_BLOCKS:
        return Decision(Outcome.DENY, span, (span,), True, parts[0].upper())
    return Decision(
        Outcome.UNKNOWN, span, (span,), True, how, "a DNS rewrite to a record this linter does not evaluate"
    )


def cname_decision(target: str, host: str, catalog: Catalog, span: Span) -> Decision:
    """A rewrite to another name: the service's own name resolves as usual; another name is a
    redirect (a walled garden or block page), as RPZ and unbound CNAMEs are judged."""
    target = target.rstrip(".").lower()
    owner = catalog.service_for_host(host)
    held = catalog.service_for_host(target)
    if owner is not None and held is not None and owner[0] == held[0]:
        return Decision(Outcome.ALLOW, span, (span,), True, f"CNAME {target}")
    return Decision(
        Outcome.DENY,
        span,
        (span,),
        True,
        f"redirected to {target}",
        "a CNAME to another name (a walled garden or block page)",
    )


def covers(text: str, host: str) -> bool:
    """False when `text` is a host-anchored filter whose host does not cover `host`."""
    body = text[2:] if text.startswith("@@") else text
    if not body.startswith("||"):
        return True
    m = re.match(r"([a-z0-9_.-]+)([\^/:])", body[2:], re.I)
    if not m:
        return True  # a partial host (`||faceb*`): the engine's word stands
    name = m.group(1).lower().rstrip(".")
    return host == name or host.endswith("." + name)


def _main_domain(svc) -> str:
    for d in svc.domains:
        if d.role == PRIMARY:
            return d.domain
    return svc.domains[0].domain if svc.domains else svc.id


def read_list(path: Path, context: ParseContext) -> AdblockList:
    urls = "\n".join(probe_urls(context.catalog))
    listing = AdblockList(context.resolver.display(path))
    _Reader(context, urls).read(path, listing)
    return listing


def parse(path: Path, context: ParseContext, dialect: str = NAME) -> AdblockRuleset:
    return AdblockRuleset(read_list(path, context), context.catalog, dialect)

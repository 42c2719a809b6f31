"""Squid (squid.conf): ACLs, `http_access` and friends, evaluated the way Squid does.

Squid names conditions with `acl NAME TYPE VALUE...` (repeated lines add values; quoted
`"/path"` values load one value per line from a file) and decides each request with the
first `http_access` line whose ACLs all match (`!` negates one). When no line matches, Squid
does the opposite of the last line. So in

    acl social dstdomain .facebook.com      # leading dot: the domain and every subdomain
    acl lan src 192.168.0.0/16
    http_access allow lan
    http_access deny social                 # never reached by LAN clients
    http_access deny all

Facebook is reachable for the LAN and the deny line blocks nothing. Also evaluated:
`adapted_http_access`; `ssl_bump terminate` by SNI; `deny_info TCP_RESET`/redirects (chosen
by the last ACL of the deny line); delay pools (`throttled`); `include` with globs.

`url_rewrite_program /usr/bin/squidGuard -c /etc/squidguard/squidGuard.conf` chains squidGuard
behind squid: its config (`-c`, else squidGuard's default path) is read with the squidGuard
dialect, inside --root, and every request squid allows and `url_rewrite_access` sends to the
rewriter is asked of squidGuard for the same client (address, user, time): its redirect is a
block (how "redirect"), its pass leaves squid's decision standing. Another rewriter, or a
squidGuard whose config cannot be read, decides out of sight: `unknown` (TE907).

Who asks matters: `src`, `arp`, `proxy_auth`, `time`, `external` and other client-side ACLs
split clients into audiences. Addresses, MACs, users and times are enumerated through
representative values; other client-side conditions are free booleans.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import itertools
import re
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from policy_lint.dialects.proxies import squid_names

# The dialect's detect (and its file patterns) live in a light module of their own, which
# detection imports without this one (squid_detect.py says why); re-exported here.
from policy_lint.dialects.proxies.squid_detect import FILE_PATTERNS as FILE_PATTERNS
from policy_lint.dialects.proxies.squid_detect import detect as detect
from policy_lint.dialects.semantics.addressing import decide_by_address
from policy_lint.dialects.semantics.base import ParseContext
from policy_lint.dialects.semantics.listnames import classify_list_name
from policy_lint.dialects.semantics.patterns import BoundedPattern, PatternError
from policy_lint.inputs import InputError, read_source
from policy_lint.model import Audience, Decision, Outcome, Probe, Problem, Span
from policy_lint.records import FrozenRecord, Record


def _squidguard():
    """The squidGuard dialect, for the url_rewrite_program chain: imported only when a config
    has a rewriter (start-up time matters for the common case)."""
    from policy_lint.dialects.proxies import squidguard

    return squidguard


NAME = "squid"
MAX_INCLUDE_DEPTH = 16
MAX_AUDIENCES = 4096

# ACL types by what decides them (squid_names.py): the request, the client, or neither modelled.
REQUEST_TYPES = squid_names.REQUEST_TYPES
CLIENT_DIMENSION_TYPES = squid_names.CLIENT_DIMENSION_TYPES
UNMODELLED_TYPES = squid_names.UNMODELLED_TYPES
LIST_TYPES_WITH_CONTENT = {
    "dstdomain",
    "dstdom_regex",
    "url_regex",
    "urlpath_regex",
    "dst",
    "ssl::server_name",
    "ssl::server_name_regex",
}
REGEX_TYPES = {
    "dstdom_regex",
    "url_regex",
    "urlpath_regex",
    "ssl::server_name_regex",
    "proxy_auth_regex",
    "srcdom_regex",
    "referer_regex",
    "browser",
}
DAYS = "SMTWHFA"  # Squid's day letters, Sunday first
DECISION_DIRECTIVES = ("http_access", "adapted_http_access")
# Access lists whose lines read `DIRECTIVE allow|deny acl...` (one more word first for some).
ACCESS_DIRECTIVES = (
    "http_access",
    "adapted_http_access",
    "http_reply_access",
    "ssl_bump",
    "url_rewrite_access",
    "never_direct",
    "always_direct",
)
NAMED_ACCESS_DIRECTIVES = ("cache_peer_access", "adaptation_access", "delay_access")
# Fields of an external ACL helper's input that come from the request, not the client
# (external_acl_type FORMAT, squid.conf.documented): a helper given one may decide by site.
EXTERNAL_REQUEST_FIELDS = re.compile(r"%(DST|URI|PATH|METHOD|PORT|PROTO|>ru|>rd|>rp|>rm|>rP|ru|rp|rm|>h|>\{)")
EXTERNAL_OPTION = re.compile(r"^[-+][a-zA-Z]$")


@dataclass(frozen=True, eq=False, repr=False)
class Line(FrozenRecord):
    """One logical config line (after includes and continuations) with its span."""

    span: Span
    words: tuple[str, ...]


@dataclass(eq=False, repr=False)
class Acl(Record):
    name: str
    type: str
    spans: list[Span] = field(default_factory=list)
    # (value, span of the value) - inline values carry the acl line's span, file values theirs
    values: list[tuple[str, Span]] = field(default_factory=list)
    case_insensitive: set[int] = field(default_factory=set)  # indexes of values under -i
    missing_files: list[tuple[str, Span]] = field(default_factory=list)
    value_sources: dict[str, list[Span]] = field(default_factory=dict)  # list file -> acl lines
    patterns: list[tuple[BoundedPattern, Span]] = field(default_factory=list)
    bad_patterns: int = 0
    _index: tuple[dict[str, Span], dict[str, Span]] | None = None

    @property
    def first_span(self) -> Span:
        return self.spans[0]

    def domain_index(self) -> tuple[dict[str, Span], dict[str, Span]]:
        """dstdomain values as (exact names, names with a leading dot: the domain and every
        subdomain), so a list of 10^5 domains costs one lookup per label of the host."""
        if self._index is None:
            exact: dict[str, Span] = {}
            dotted: dict[str, Span] = {}
            for value, span in self.values:
                v = value.lower()
                if v.startswith("."):
                    dotted.setdefault(v[1:], span)
                else:
                    exact.setdefault(v, span)
            self._index = (exact, dotted)
        return self._index


@dataclass(frozen=True, repr=False)
class _Bumped(Probe):
    """A request inside a bumped TLS tunnel: Squid checks it again as a GET of the full
    https:// URL, so url_regex and urlpath_regex see the path."""

    @property
    def method(self) -> str:
        return "GET"


@dataclass(frozen=True, repr=False)
class AccessLine(FrozenRecord):
    """`http_access allow a !b` and the like: an action and a conjunction of ACL literals."""

    directive: str
    action: str
    literals: tuple[tuple[str, bool], ...]  # (acl name, negated)
    span: Span


# --------------------------------------------------------------------------- parsing


def _split_words(text: str) -> list[str]:
    words: list[str] = []
    for m in re.finditer(r'"([^"]*)"|(\S+)', text):
        words.append(f'"{m.group(1)}"' if m.group(1) is not None else m.group(2))
    return words


def _strip_comment(text: str) -> str:
    # Squid's own default config writes "acl Safe_ports port 80   # http": a '#' after
    # white space starts a comment.
    m = re.search(r"(^|\s)#", text)
    return text[: m.start()] if m else text


class _Reader:
    def __init__(self, context: ParseContext):
        self.context = context
        self.problems: list[Problem] = []
        self.lines: list[Line] = []
        self.included: list[Path] = []

    def read(self, path: Path, display: str, stack: tuple[Path, ...]) -> None:
        src = read_source(path, display)
        self.problems.extend(src.problems)
        pending = ""
        start = 0
        for i, raw in enumerate(src.lines, start=1):
            if not pending:
                start = i
            stripped = raw.rstrip()
            if stripped.endswith("\\"):
                pending += stripped[:-1] + " "
                continue
            text = pending + raw
            pending = ""
            body = text.strip()
            if not body or body.startswith("#"):
                continue
            col = len(text) - len(text.lstrip()) + 1
            words = tuple(_split_words(_strip_comment(body)))
            if not words:
                continue
            span = Span(display, start, col, body)
            if words[0] == "include":
                self._include(words[1:], span, path, stack)
                continue
            self.lines.append(Line(span, words))

    def _include(self, args: tuple[str, ...], span: Span, path: Path, stack: tuple[Path, ...]) -> None:
        resolver = self.context.resolver
        for arg in args:
            arg = arg.strip('"')
            targets = (
                resolver.glob(arg, path)
                if any(c in arg for c in "*?[")
                else [t for t in [resolver.resolve(arg, path)] if t]
            )
            if not targets:
                self.problems.append(Problem("TE903", span, f"included file not found: {arg}"))
                continue
            for target in targets:
                real = target.resolve()
                if real in stack:
                    self.problems.append(Problem("TE904", span, f"include loop: {arg} includes itself"))
                    continue
                if len(stack) >= MAX_INCLUDE_DEPTH:
                    self.problems.append(
                        Problem("TE904", span, f"includes nested deeper than {MAX_INCLUDE_DEPTH}")
                    )
                    continue
                self.included.append(target)
                try:
                    self.read(target, resolver.display(target), stack + (real,))
                except InputError as exc:
                    self.problems.append(Problem("TE902", span, str(exc)))


def _parse_acls(
    lines: list[Line], context: ParseContext, problems: list[Problem], config: Path
) -> dict[str, Acl]:
    acls: dict[str, Acl] = {}
    for line in lines:
        if line.words[0] != "acl" or len(line.words) < 3:
            continue
        name, typ = line.words[1], line.words[2]
        args = list(line.words[3:])
        acl = acls.get(name)
        if acl is None:
            acl = acls[name] = Acl(name, typ)
        elif acl.type != typ:
            problems.append(
                Problem(
                    "TE901",
                    line.span,
                    f"acl {name} redefined with type {typ} (was {acl.type}); Squid refuses this",
                )
            )
            continue
        if typ not in squid_names.ACL_TYPES and len(acl.spans) == 0:
            problems.append(
                Problem("TE901", line.span, f"acl {name}: unknown ACL type {typ}; Squid refuses this config")
            )
        acl.spans.append(line.span)
        # Options that apply to the whole line come first (-n, -m, ..., `--` ends them).
        while (args and EXTERNAL_OPTION.match(args[0]) and args[0] not in ("-i", "+i")) or args[:1] == ["--"]:
            if args.pop(0) == "--":
                break
        # Regex ACLs: -i / +i switch case-insensitivity for the patterns after them, on this
        # line only (Squid's RegexData parsing; checked against the real squid in tests/e2e).
        ignore_case = False
        for arg in args:
            if arg in ("-i", "+i"):  # other types accept -i and ignore it (domains are caseless)
                ignore_case = arg == "-i" and typ in REGEX_TYPES
                continue
            before = len(acl.values)
            if arg.startswith('"') and arg.endswith('"') and len(arg) >= 2:
                _load_value_file(acl, arg[1:-1], line.span, context, problems, config)
            else:
                acl.values.append((arg, line.span))
            if ignore_case:
                acl.case_insensitive.update(range(before, len(acl.values)))
    for acl in acls.values():
        if acl.type == "dstdomain":
            _overlapping_domains(acl, problems)
        if acl.type in REGEX_TYPES:
            for i, (value, span) in enumerate(acl.values):
                try:
                    acl.patterns.append((BoundedPattern.compile(value, i in acl.case_insensitive), span))
                except PatternError as exc:
                    acl.bad_patterns += 1
                    problems.append(Problem("TE905", span, f"acl {acl.name}: {exc}"))
    return acls


def _overlapping_domains(acl: Acl, problems: list[Problem]) -> None:
    """Squid keeps a dstdomain ACL in a splay tree and refuses to start (`ERROR: 'X' is a
    subdomain of 'Y'`, then `FATAL: Bungled ... line`) when a value arrives that would hide
    one already there: `.example.com` after `example.com` or after anything under it
    (`www.example.com`, `.www.example.com`), and `example.com` after `.example.com`. A name
    under a wildcard that came first is only a WARNING (the name is dropped, the wildcard
    matches it anyway). Found by differential fuzzing against Debian's squid 5.7
    (tests/e2e/test_daemon_fuzz.py); the order rule is aclDomainCompare's in src/acl/DomainData.cc."""
    names: set[str] = set()
    dotted: set[str] = set()
    under: set[str] = set()  # every proper parent domain of a value seen so far
    for value, span in acl.values:
        v = value.lower().rstrip(".")
        wildcard = v.startswith(".")
        d = v.lstrip(".")
        if not d:
            continue
        hidden = (d in names or d in under) if wildcard else d in dotted
        if hidden:
            problems.append(
                Problem(
                    "TE901",
                    span,
                    f"acl {acl.name}: dstdomain {value} overlaps a value listed before it "
                    f"(Squid: '... is a subdomain of ...', and it refuses to start); keep only the wider one, first",
                )
            )
        (dotted if wildcard else names).add(d)
        labels = d.split(".")
        under.update(".".join(labels[i:]) for i in range(1, len(labels)))


def _load_value_file(
    acl: Acl, ref: str, span: Span, context: ParseContext, problems: list[Problem], config: Path
) -> None:
    target = context.resolver.resolve(ref, config)
    if target is None:
        acl.missing_files.append((ref, span))
        return
    try:
        src = read_source(target, context.resolver.display(target))
    except InputError as exc:
        acl.missing_files.append((ref, span))
        problems.append(Problem("TE902", span, str(exc)))
        return
    problems.extend(src.problems)
    acl.value_sources.setdefault(src.path, []).append(span)
    for i, raw in enumerate(src.lines, start=1):
        value = _strip_comment(raw).strip()
        if not value:
            continue
        acl.values.append((value, Span(src.path, i, raw.find(value) + 1, value)))


def _parse_access(lines: list[Line], directives: tuple[str, ...]) -> list[AccessLine]:
    out = []
    for line in lines:
        if line.words[0] in directives and len(line.words) >= 2:
            literals = tuple((w[1:], True) if w.startswith("!") else (w, False) for w in line.words[2:])
            out.append(AccessLine(line.words[0], line.words[1], literals, line.span))
    return out


# --------------------------------------------------------------------------- matching


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _networks(values: list[tuple[str, Span]]) -> list[tuple[Network | str, Span]]:
    """Squid address values: a.b.c.d, CIDR, a.b.c.d/255.255.0.0, ranges a-b[/mask], `all`; a
    value that is no address stays a string (a host name)."""
    nets: list[tuple[Network | str, Span]] = []
    for value, span in values:
        v = value.lower()
        try:
            if v == "all":
                nets.append((ipaddress.ip_network("0.0.0.0/0"), span))
                nets.append((ipaddress.ip_network("::/0"), span))
            elif "-" in v and not v.startswith("-"):
                lo, hi = v.split("-", 1)
                hi = hi.split("/", 1)[0]
                for n in ipaddress.summarize_address_range(
                    ipaddress.ip_address(lo), ipaddress.ip_address(hi)
                ):
                    nets.append((n, span))
            else:
                nets.append((ipaddress.ip_network(v, strict=False), span))
        except ValueError:
            nets.append((v, span))  # a host name, resolved later through the catalog
    return nets


@dataclass(frozen=True, eq=False, repr=False)
class TimeWindow(FrozenRecord):
    days: str
    start: int  # minutes since midnight
    end: int


def parse_time(values: list[tuple[str, Span]]) -> list[TimeWindow]:
    """Each `acl NAME time [days] [h1:m1-h2:m2]` line is one window (days default to every
    day, the range to the whole day); several lines for one ACL are alternatives. Squid
    compares minutes inclusively at both ends."""
    by_line: dict[Span, list[str]] = {}
    for value, span in values:
        by_line.setdefault(span, []).append(value)
    windows: list[TimeWindow] = []
    for words in by_line.values():
        days = "".join(w.upper() for w in words if set(w.upper()) <= set(DAYS))
        ranges: list[re.Match[str] | None] = [
            m for w in words if (m := re.fullmatch(r"(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})", w))
        ]
        for m in ranges or [None]:
            if m is None:
                windows.append(TimeWindow(days or DAYS, 0, 24 * 60 - 1))
            else:
                a, b, c, d = map(int, m.groups())
                windows.append(TimeWindow(days or DAYS, a * 60 + b, c * 60 + d))
    return windows


def in_time(windows: list[TimeWindow], day: str, minute: int) -> bool:
    return any(day in w.days and w.start <= minute <= w.end for w in windows)


# --------------------------------------------------------------------------- the ruleset


@dataclass(eq=False, repr=False)
class _Dims(Record):
    """Representative clients: addresses, MACs, users, times, and free booleans."""

    ips: list[str]
    macs: list[str]
    users: list[str]
    times: list[tuple[str, int]]
    free: list[str]


CHAIN_KEY = "\x00squidguard"  # in an audience key: the client as the chained squidGuard sees it
NO_USER = "(unauthenticated)"
OTHER_USER = "(another user)"
OTHER_MAC = "(another MAC)"
OUTSIDE_IPS = ("198.51.100.77", "2001:db8::77")  # documentation addresses: outside every list


class SquidRuleset:
    dialect = NAME

    def __init__(
        self,
        path: str,
        lines: list[Line],
        acls: dict[str, Acl],
        problems: list[Problem],
        context: ParseContext,
    ):
        self.path = path
        self.problems = problems
        self.acls = acls
        self.catalog = context.catalog
        self.access = _parse_access(lines, ("http_access",))
        self.adapted = _parse_access(lines, ("adapted_http_access",))
        self.ssl_bump = _parse_access(lines, ("ssl_bump",))
        self.rewrite_access = _parse_access(lines, ("url_rewrite_access",))
        self.reply_access = _parse_access(lines, ("http_reply_access",))
        self.never_direct = _parse_access(lines, ("never_direct",))
        self.always_direct = _parse_access(lines, ("always_direct",))
        self.peers: dict[str, Span] = {}  # cache_peer name -> its line
        self.peer_access: dict[str, list[AccessLine]] = {}
        self.adaptation: dict[str, list[AccessLine]] = {}  # adaptation_access per service
        self.adaptation_enabled = False  # icap_enable on / ecap_enable on
        self.bump_ports: bool | None = None  # a port with ssl-bump; None: the config names no port
        self.external_formats: dict[str, str] = {}  # external_acl_type name -> its FORMAT words
        self.mentioned: set[str] = set()  # every word of a non-acl line (an ACL it may use)
        self.deny_info: dict[str, tuple[str, Span]] = {}
        self.rewriter: Span | None = None
        self.rewriter_words: tuple[str, ...] = ()
        self.rewriter_concurrency = 0
        self.chain = None  # a SquidGuardRuleset when url_rewrite_program is a readable squidGuard
        self.delay_access: dict[int, list[AccessLine]] = {}
        self.delay_limited: dict[int, bool] = {}
        self._read_directives(lines)
        if self.adaptation_enabled:
            for service, access in sorted(self.adaptation.items()):
                self.problems.append(
                    Problem(
                        "TE907",
                        access[0].span,
                        f"ICAP/eCAP service {service} is not evaluated: verdicts for requests "
                        "adaptation_access sends it are unknown",
                    )
                )
        self._unmodelled = self._find_unmodelled()
        self._slow_patterns: set[BoundedPattern] = set()
        self._match_cache: dict[tuple[str, Probe], tuple[bool | None, Span | None]] = {}
        self._assumed: dict[str, str] = {}
        self.included: list[str] = []  # real paths of included files, set by parse()
        self._classify_missing()
        self._check_references({line.span: i for i, line in enumerate(lines)})
        self._audiences: list[Audience] | None = None
        self._decisions: dict[tuple[int, int], Decision] = {}
        self._line_by_span = {line.span: line for line in self._all_access_lines()}
        self._client_cache: dict[str, Acl] | None = None
        self._net_cache: dict[str, list] = {}
        # Probe -> the number of its signature: the decision cache's key hashes a small int, not
        # the signature's spans, on each of the (probes x audiences) calls.
        self._signatures: dict[Probe, int] = {}
        self._signature_ids: dict[tuple, int] = {}
        self._audience_numbers: dict[tuple, int] = {}
        # id(probe or audience) -> (the object, its number): the object is held, so its id
        # names no other object while the entry lives; saves hashing a dataclass per call.
        self._identities: dict[int, tuple[object, int]] = {}
        # (the audiences list, its keys as dicts, line id -> some audience passes its client part)
        self._reachers: tuple[list[Audience], list[dict], dict[int, bool]] | None = None
        self._dst_nets: dict[str, list[tuple[Network | str, Span]]] = {}
        self._dst_cache: dict[tuple, tuple[bool | None, Span | None]] = {}
        self._address_acls = self._public_dst_acls()
        self._request_names = sorted(
            {n for line in self._all_access_lines() for n, _ in line.literals}
            - set(self.client_acls())
            - set(self._path_unknown_acls())
        )

    # ---- directives other than acl/http_access
    def _read_directives(self, lines: list[Line]) -> None:
        for line in lines:
            w = line.words
            if w[0] != "acl":
                self.mentioned.update(x.lstrip("!") for x in w[1:])
            if w[0] == "cache_peer" and len(w) >= 2:
                name = next((x[5:] for x in w[2:] if x.startswith("name=")), w[1])
                self.peers.setdefault(name, line.span)
            elif w[0] in ("cache_peer_access", "adaptation_access") and len(w) >= 3:
                literals = tuple((x[1:], True) if x.startswith("!") else (x, False) for x in w[3:])
                table = self.peer_access if w[0] == "cache_peer_access" else self.adaptation
                table.setdefault(w[1], []).append(AccessLine(w[0], w[2], literals, line.span))
            elif w[0] in ("icap_enable", "ecap_enable") and len(w) >= 2:
                self.adaptation_enabled = self.adaptation_enabled or w[1].lower() == "on"
            elif w[0] in ("http_port", "https_port"):
                self.bump_ports = bool(self.bump_ports) or "ssl-bump" in w[2:]
            elif w[0] == "external_acl_type" and len(w) >= 3:
                self.external_formats[w[1]] = " ".join(w[2:])
            if w[0] == "deny_info" and len(w) >= 3:
                # Squid walks its deny_info list in order and takes the first line naming the
                # ACL (aclGetDenyInfoPage); a later one for the same ACL is never used. Checked
                # against Debian's squid by tests/e2e/test_daemon_fuzz.py.
                for acl in w[2:]:
                    self.deny_info.setdefault(acl, (w[1], line.span))
            elif w[0] in ("url_rewrite_program", "redirect_program") and len(w) >= 2:
                self.rewriter = line.span
                self.rewriter_words = w[1:]
            elif w[0] in ("url_rewrite_children", "redirect_children"):
                for opt in w[1:]:
                    if opt.startswith("concurrency=") and opt[12:].isdigit():
                        self.rewriter_concurrency = int(opt[12:])
            elif w[0] == "delay_access" and len(w) >= 3 and w[1].isdigit():
                pool = int(w[1])
                literals = tuple((x[1:], True) if x.startswith("!") else (x, False) for x in w[3:])
                self.delay_access.setdefault(pool, []).append(
                    AccessLine("delay_access", w[2], literals, line.span)
                )
            elif w[0] == "delay_parameters" and len(w) >= 3 and w[1].isdigit():
                # "-1/-1" everywhere means no limit
                self.delay_limited[int(w[1])] = any(p != "-1/-1" and "/" in p for p in w[2:])

    def link_rewriter(self, config: Path, context: ParseContext) -> None:
        """Read the squidGuard config a `url_rewrite_program` names, or say why not (TE907)."""
        if self.rewriter is None:
            return
        words = [x.strip('"') for x in self.rewriter_words]
        program = Path(words[0]).name if words else ""
        if program.lower() != "squidguard":
            self.problems.append(
                Problem(
                    "TE907",
                    self.rewriter,
                    f"URL rewriter {program or '?'} is not evaluated: verdicts for requests it sees are unknown",
                )
            )
            return
        if self.rewriter_concurrency > 0:
            self.problems.append(
                Problem(
                    "TE907",
                    self.rewriter,
                    f"squidGuard does not speak squid's concurrent helper protocol (concurrency="
                    f"{self.rewriter_concurrency}): its answers cannot be trusted, verdicts for requests it sees are unknown",
                )
            )
            return
        refs: list[str] = []
        for i, x in enumerate(words[1:], start=1):
            if x == "-c" and i + 1 < len(words):
                refs = [words[i + 1]]
            elif x.startswith("-c") and len(x) > 2:
                refs = [x[2:]]
        explicit = bool(refs)
        refs = refs or list(_squidguard().DEFAULT_CONFIGS)
        target = next((t for t in (context.resolver.resolve(r, config) for r in refs) if t), None)
        if target is None:
            where = refs[0] if explicit else " or ".join(refs) + " (squidGuard's default)"
            self.problems.append(Problem("TE903", self.rewriter, f"squidGuard config {where} not found"))
            self.problems.append(
                Problem(
                    "TE907",
                    self.rewriter,
                    "squidGuard's config cannot be read: verdicts for requests it sees are unknown",
                )
            )
            return
        try:
            chain = _squidguard().parse(target, context)
        except InputError as exc:
            self.problems.append(Problem("TE902", self.rewriter, str(exc)))
            self.problems.append(
                Problem(
                    "TE907",
                    self.rewriter,
                    "squidGuard's config cannot be read: verdicts for requests it sees are unknown",
                )
            )
            return
        self.chain = chain
        # squidGuard's findings are this file's too (they may grow while evaluating: share the list).
        self.problems.extend(chain.problems)
        chain.problems = self.problems
        self.included += [str(target.resolve())] + list(chain.included)
        self._audiences = None

    def _chain_client(self, values: dict):
        key = values.get(CHAIN_KEY)
        return _squidguard().client_from_key(key) if key else _squidguard().Client(ip=OUTSIDE_IPS[0])

    def _all_access_lines(self) -> list[AccessLine]:
        lines = (
            self.access
            + self.adapted
            + self.ssl_bump
            + self.rewrite_access
            + self.reply_access
            + self.never_direct
            + self.always_direct
        )
        for table in (self.delay_access, self.peer_access, self.adaptation):
            for access in table.values():
                lines += access
        return lines

    def _public_dst_acls(self) -> list[str]:
        """Used `dst` ACLs naming public networks: the ones a service's address may fall in."""
        used = {n for line in self._all_access_lines() for n, _ in line.literals}
        out = []
        for name in sorted(used):
            acl = self.acls.get(name)
            if acl is None or acl.type != "dst" or name in self._unmodelled:
                continue
            nets = [n for n, _ in _networks(acl.values) if not isinstance(n, str)]
            if any(not (n.is_private or n.is_loopback or n.is_link_local or n.is_multicast) for n in nets):
                out.append(name)
        return out

    def _find_unmodelled(self) -> set[str]:
        """ACLs whose match policy-lint does not evaluate (squid_names.UNMODELLED_TYPES, an
        unknown type, an external helper given request fields): each used one is TE908."""
        used = {n for line in self._all_access_lines() for n, _ in line.literals}
        out = set()
        for name, acl in self.acls.items():
            why = ""
            if acl.type in UNMODELLED_TYPES:
                why = f"acl type {acl.type} is not evaluated"
            elif acl.type not in squid_names.ACL_TYPES:
                why = f"acl type {acl.type} is unknown"
            elif acl.type == "external" and acl.values:
                fmt = self.external_formats.get(acl.values[0][0], "")
                if EXTERNAL_REQUEST_FIELDS.search(fmt):
                    why = f"external helper {acl.values[0][0]} is given the request ({fmt.split()[0]} ...)"
            if not why:
                continue
            out.add(name)
            if name in used:
                self.problems.append(
                    Problem(
                        "TE908",
                        acl.first_span,
                        f"acl {name}: {why}; what the rules using it decide is unknown",
                    )
                )
        return out

    def _check_references(self, order: dict[Span, int]) -> None:
        for line in self._all_access_lines():
            for name, _neg in line.literals:
                acl = self.acls.get(name)
                if acl is None and name not in _BUILTIN:
                    self.problems.append(
                        Problem(
                            "TE901",
                            line.span,
                            f"acl {name} is used but never defined; Squid refuses this config",
                        )
                    )
                elif acl is not None and order.get(acl.first_span, -1) > order.get(line.span, 0):
                    self.problems.append(
                        Problem(
                            "TE901",
                            line.span,
                            f"acl {name} is used before its definition at line "
                            f"{acl.first_span.line}; Squid refuses this config",
                        )
                    )

    def _classify_missing(self) -> None:
        """Missing list files: decide from the list's name whether it may name the services."""
        keywords = {sid: s.keywords for sid, s in self.catalog.services.items()}
        used = {n for line in self._all_access_lines() for n, _ in line.literals}
        for acl in self.acls.values():
            for ref, span in acl.missing_files:
                kind, _named = classify_list_name(f"{acl.name} {Path(ref).name}", keywords)
                if acl.name not in used:
                    continue
                if acl.type in REQUEST_TYPES and acl.type != "urlpath_regex" and kind == "other-topic":
                    self._assumed[acl.name] = ref
                    self.problems.append(
                        Problem(
                            "TE903",
                            span,
                            f"acl {acl.name}: list file {ref} not found; its name suggests another topic, "
                            f"so it is assumed not to name the catalog services",
                        )
                    )
                else:
                    self.problems.append(
                        Problem(
                            "TE903",
                            span,
                            f"acl {acl.name}: list file {ref} not found; verdicts that depend on it are unknown",
                        )
                    )

    # ---- request-side matching (per probe)
    def _request_match(self, name: str, probe: Probe) -> tuple[bool | None, Span | None]:
        key = (name, probe)
        hit = self._match_cache.get(key)
        if hit is None:
            hit = self._match_cache[key] = self._request_match_uncached(name, probe)
        return hit

    def _request_match_uncached(self, name: str, probe: Probe) -> tuple[bool | None, Span | None]:
        if name in _BUILTIN and name not in self.acls:
            return _BUILTIN[name](probe), None
        acl = self.acls.get(name)
        if acl is None:
            return None, None
        if name in self._unmodelled:
            return None, acl.first_span
        host = probe.host.lower()
        t = acl.type
        found: tuple[bool | None, Span | None] = (False, None)
        if t in ("dstdomain", "ssl::server_name"):
            exact, dotted = acl.domain_index()
            labels = host.split(".")
            for i in range(len(labels)):
                span = dotted.get(".".join(labels[i:]))
                if span is not None:
                    return True, span
            if host in exact:
                return True, exact[host]
        elif t in ("dstdom_regex", "url_regex", "urlpath_regex", "ssl::server_name_regex"):
            # A CONNECT names host:port only; a plain or bumped request the whole URL.
            tunnel = probe.scheme == "https" and not isinstance(probe, _Bumped)
            subject = {
                "url_regex": f"{host}:{probe.port}" if tunnel else probe.url,
                "urlpath_regex": "" if tunnel else probe.path,
            }.get(t, host)
            timed_out: Span | None = None
            for pattern, span in acl.patterns:
                # A pattern that ran out of time once is not run again: the budget stays bounded.
                r = None if pattern in self._slow_patterns else pattern.search(subject)
                if r is None:
                    self._slow_patterns.add(pattern)
                if r:
                    return True, span
                if r is None:
                    timed_out = span
            if timed_out is not None:
                self._note_timeout(acl, timed_out)
                found = (None, timed_out)
        elif t == "dst":
            found = self._dst_match(acl, probe)
        elif t == "dst_as":
            if probe.service:
                asns = {a.asn for a in self.catalog.services[probe.service].asns}
                for value, span in acl.values:
                    if value.isdigit() and int(value) in asns:
                        return True, span
        elif t == "port":
            for value, span in acl.values:
                lo, _, hi = value.partition("-")
                if lo.isdigit() and int(lo) <= probe.port <= int(hi or lo):
                    return True, span
        elif t == "method":
            for value, span in acl.values:
                if value.upper() == probe.method:
                    return True, span
        elif t == "proto":
            proto = (
                "HTTP" if probe.scheme == "http" else "HTTPS" if isinstance(probe, _Bumped) else "AUTHORITY"
            )
            for value, span in acl.values:
                if value.upper() in (proto, "ALL"):
                    return True, span
        elif t == "at_step":
            return True, None  # every bumping step sees the SNI we probe with
        elif t == "urllogin":
            return False, None
        if found[0] is False and acl.missing_files and acl.name not in self._assumed:
            if probe.is_control:
                return False, None  # the control site is neutral by construction
            return None, acl.missing_files[0][1]
        return found

    def _note_timeout(self, acl: Acl, span: Span) -> None:
        msg = f"acl {acl.name}: regular expression ran out of time; verdicts that depend on it are unknown"
        if not any(p.message == msg for p in self.problems):
            self.problems.append(Problem("TE905", span, msg))

    def _dst_match(self, acl: Acl, probe: Probe) -> tuple[bool | None, Span | None]:
        key = (acl.name, probe.addresses, probe.service, probe.host)
        hit = self._dst_cache.get(key)
        if hit is None:
            hit = self._dst_cache[key] = self._dst_match_uncached(acl, probe)
        return hit

    def _dst_match_uncached(self, acl: Acl, probe: Probe) -> tuple[bool | None, Span | None]:
        addresses = [ipaddress.ip_address(a) for a in probe.addresses]
        parsed = self._dst_nets.get(acl.name)
        if parsed is None:
            parsed = self._dst_nets[acl.name] = _networks(acl.values)
        for net, span in parsed:
            if isinstance(net, str):
                owner = self.catalog.service_for_host(net)
                if owner and probe.service == owner[0] and owner[1] == "primary":
                    return True, span
                if net == probe.host:
                    return True, span
                continue
            if any(a.version == net.version and a in net for a in addresses):
                return True, span
        return False, None

    # ---- client side: audiences
    def client_acls(self) -> dict[str, Acl]:
        """The ACLs the access lines use that test the client (src, proxy_auth, time...), by
        name: the dimensions of the audiences."""
        if self._client_cache is None:
            used = {n for line in self._all_access_lines() for n, _ in line.literals}
            self._client_cache = {
                n: a
                for n, a in self.acls.items()
                if n in used and a.type not in REQUEST_TYPES and n not in self._unmodelled
            }
        return self._client_cache

    def _path_unknown_acls(self) -> list[str]:
        """urlpath_regex lists we cannot read: every probe asks for "/", so such a list matches
        the control and the services alike - a shared free boolean, not a per-host unknown."""
        used = {n for line in self._all_access_lines() for n, _ in line.literals}
        return [
            n for n, a in self.acls.items() if n in used and a.type == "urlpath_regex" and a.missing_files
        ]

    def _dims(self) -> _Dims:
        client = self.client_acls()
        ips: list[str] = []
        macs: list[str] = []
        users: list[str] = []
        free: list[str] = []
        time_acls: list[Acl] = []
        for acl in client.values():
            if acl.type == "src":
                if self._src_undecidable(acl):
                    free.append(acl.name)  # who is in it is unknown: a free condition
                    continue
                for net, _span in _networks(acl.values):
                    if isinstance(net, str):
                        continue
                    size = net.num_addresses
                    ips.append(str(net.network_address + (1 if size > 2 else 0)))
                    if size > 4:
                        ips.append(str(net.broadcast_address - 1))
            elif acl.type in ("arp", "eui64"):
                macs.extend(v.lower() for v, _ in acl.values)
            elif acl.type == "proxy_auth":
                if acl.missing_files:
                    free.append(acl.name)
                users.extend(v for v, _ in acl.values if v != "REQUIRED")
            elif acl.type == "time":
                time_acls.append(acl)
            else:
                free.append(acl.name)
        free.extend(self._path_unknown_acls())
        if any(a.type == "src" for a in client.values()):
            ips = list(dict.fromkeys(ips + list(OUTSIDE_IPS)))
        else:
            ips = [OUTSIDE_IPS[0]]
        macs = (
            list(dict.fromkeys(macs)) + [OTHER_MAC]
            if any(a.type in ("arp", "eui64") for a in client.values())
            else [OTHER_MAC]
        )
        if any(a.type == "proxy_auth" for a in client.values()):
            users = list(dict.fromkeys(users)) + [OTHER_USER, NO_USER]
        else:
            users = [NO_USER]
        times = self._time_points(time_acls)
        # The proxy host's own requests (src localhost, 127.0.0.1, ::1) are no population of
        # users: they never make a block partial.
        ips = [ip for ip in ips if not ipaddress.ip_address(ip).is_loopback] or [OUTSIDE_IPS[0]]
        ips = self._distinct(
            ips, [a for a in client.values() if a.type == "src" and not self._src_undecidable(a)], "src"
        )
        macs = self._distinct(macs, [a for a in client.values() if a.type in ("arp", "eui64")], "mac")
        if self.chain is not None:
            # squidGuard tells clients apart too: add its representatives (times carry the
            # moment squidGuard is asked at, which may be a dated holiday).
            sg_ips, sg_users, sg_times, _free = self.chain.client_dimensions()
            ips = list(
                dict.fromkeys(
                    ips
                    + [
                        ip
                        for ip in sg_ips
                        if ip != _squidguard().OUTSIDE_IP and not ipaddress.ip_address(ip).is_loopback
                    ]
                )
            )
            named = [u for u in sg_users if u and u != OTHER_USER]
            # squid sends squidGuard a user name only when it learns one (auth, ident, helpers).
            if named and any(
                a.type in ("proxy_auth", "proxy_auth_regex", "ident", "ident_regex", "external")
                for a in self.acls.values()
            ):
                users = list(
                    dict.fromkeys(
                        [u for u in users if u not in (OTHER_USER, NO_USER)] + named + [OTHER_USER, NO_USER]
                    )
                )
            times = [(d, m, _reference_time(d, m)) for d, m in times]
            times += [("MTWHFAS"[w.weekday()], w.hour * 60 + w.minute, w) for w in sg_times]
        return _Dims(ips, macs, users, times, free)

    def _distinct(self, reps: list[str], acls: list[Acl], key: str) -> list[str]:
        """One representative per distinct pattern of matches: clients the ACLs cannot tell
        apart are one audience."""
        seen: dict[tuple[bool, ...], str] = {}
        for rep in reps:
            vector = tuple(self._client_value(a, {key: rep}) for a in acls)
            seen.setdefault(vector, rep)
        return list(seen.values())

    def _time_points(self, time_acls: list[Acl]) -> list[tuple[str, int]]:
        if not time_acls:
            return [("M", 10 * 60)]
        windows = {a.name: parse_time(a.values) for a in time_acls}
        minutes = {0, 12 * 60, 24 * 60 - 1}
        for ws in windows.values():
            for w in ws:
                minutes |= {
                    w.start,
                    w.end,
                    (w.start + w.end) // 2,
                    max(0, w.start - 1),
                    min(24 * 60 - 1, w.end + 1),
                }
        seen: dict[tuple[bool, ...], tuple[str, int]] = {}
        for day in "MTWHFAS":
            for minute in sorted(minutes):
                vec = tuple(in_time(ws, day, minute) for ws in windows.values())
                seen.setdefault(vec, (day, minute))
        return list(seen.values())

    def _src_undecidable(self, acl: Acl) -> bool:
        """A src list in a missing file, or naming hosts (resolved by Squid at start-up)."""
        return bool(acl.missing_files) or any(isinstance(n, str) for n, _ in _networks(acl.values))

    def _nets(self, acl: Acl) -> list:
        nets = self._net_cache.get(acl.name)
        if nets is None:
            nets = self._net_cache[acl.name] = [n for n, _ in _networks(acl.values) if not isinstance(n, str)]
        return nets

    def _client_value(self, acl: Acl, rep: dict) -> bool:
        t = acl.type
        if t == "src":
            ip = ipaddress.ip_address(rep["src"])
            return any(ip.version == n.version and ip in n for n in self._nets(acl))
        if t in ("arp", "eui64"):
            return rep["mac"] in {v.lower() for v, _ in acl.values}
        if t == "proxy_auth":
            if acl.missing_files:
                return rep["free"][acl.name] and rep["user"] != NO_USER
            names = {v for v, _ in acl.values}
            return rep["user"] != NO_USER and ("REQUIRED" in names or rep["user"] in names)
        if t == "time":
            return in_time(parse_time(acl.values), rep["day"], rep["minute"])
        return rep["free"].get(acl.name, False)

    def audiences(self) -> list[Audience]:
        if self._audiences is not None:
            return self._audiences
        dims = self._dims()
        client = self.client_acls()
        by_type: dict[str, list[Acl]] = {}
        for acl in client.values():
            by_type.setdefault(acl.type, []).append(acl)
        base = len(dims.ips) * len(dims.macs) * len(dims.users) * len(dims.times)
        if base * (2 ** len(dims.free)) <= MAX_AUDIENCES:
            free_assignments = [
                dict(zip(dims.free, bits, strict=True))
                for bits in itertools.product((False, True), repeat=len(dims.free))
            ]
        else:
            free_assignments = [dict.fromkeys(dims.free, False), dict.fromkeys(dims.free, True)]
            free_assignments += [{f: f == g for f in dims.free} for g in dims.free]
            self.problems.append(
                Problem(
                    "TE906",
                    Span(self.path, 1, 1),
                    f"{len(dims.free)} independent client conditions: evaluated a sample of audiences, not all",
                )
            )
        # Each dimension's ACL values are computed once per representative, then combined.
        src_acls = [a for a in by_type.get("src", []) if not self._src_undecidable(a)]
        ip_vals = {ip: {a.name: self._client_value(a, {"src": ip}) for a in src_acls} for ip in dims.ips}
        mac_acls = by_type.get("arp", []) + by_type.get("eui64", [])
        mac_vals = {m: {a.name: self._client_value(a, {"mac": m}) for a in mac_acls} for m in dims.macs}
        time_acls = by_type.get("time", [])
        time_vals = {
            t: {a.name: self._client_value(a, {"day": t[0], "minute": t[1]}) for a in time_acls}
            for t in dims.times
        }
        user_acls = by_type.get("proxy_auth", [])
        lines = self._all_access_lines()
        # Every combination below assigns the same client ACL names (each dimension's dicts share
        # their keys), so each line's client literals are picked out once, not per combination.
        names = set(dims.free) | {a.name for a in (*src_acls, *mac_acls, *time_acls, *user_acls)}
        client_literals = [tuple((n, neg) for n, neg in line.literals if n in names) for line in lines]
        chain_frees = self._chain_frees(base * len(free_assignments))

        # A line lets a client through when none of its client literals fails. The dimensions'
        # ACL names are disjoint (a proxy_auth value, also a free condition when its file is
        # missing, is decided with the user), so each dimension's value is reduced once to a
        # bit mask of the lines it does not fail, and a combination's vector is their AND:
        # hundreds of combinations cost a few integer operations each, not a pass over the lines.
        def passing(part: dict[str, bool]) -> int:
            mask = 0
            for i, lits in enumerate(client_literals):
                if not any(n in part and part[n] == neg for n, neg in lits):
                    mask |= 1 << i
            return mask

        user_vals = {
            (user, fi): {a.name: self._client_value(a, {"user": user, "free": free}) for a in user_acls}
            for user in dims.users
            for fi, free in enumerate(free_assignments)
        }
        # (mask, number of true values) per dimension value; free and user values together.
        ip_bits = {ip: (passing(v), sum(v.values())) for ip, v in ip_vals.items()}
        mac_bits = {m: (passing(v), sum(v.values())) for m, v in mac_vals.items()}
        time_bits = {t: (passing(v), sum(v.values())) for t, v in time_vals.items()}
        free_bits = {
            (user, fi): (passing(both := {**free_assignments[fi], **uv}), sum(both.values()))
            for (user, fi), uv in user_vals.items()
        }
        seen: dict[tuple, Audience] = {}
        for ip, mac, user, when, fi, sg_free in itertools.product(
            dims.ips, dims.macs, dims.users, dims.times, range(len(free_assignments)), chain_frees
        ):
            (ip_mask, ip_true), (mac_mask, mac_true) = ip_bits[ip], mac_bits[mac]
            (time_mask, time_true), (free_mask, free_true) = time_bits[when], free_bits[(user, fi)]
            vector: tuple = (ip_mask & mac_mask & time_mask & free_mask,)
            sg_client = sg_conditions = None
            if self.chain is not None:
                sg_client = _squidguard().Client(ip, None if user == NO_USER else user, when[2], sg_free)
                vector += (self.chain.behaviour(sg_client),)
                sg_conditions = tuple(f"squidGuard {c}" for c in self.chain.describe(sg_client))
            old = seen.get(vector)
            if (
                old is not None
                and sg_client is None
                and len(old.conditions) <= ip_true + mac_true + time_true + free_true
            ):
                continue
            free = free_assignments[fi]
            values = dict(free)
            values.update(ip_vals[ip])
            values.update(mac_vals[mac])
            values.update(time_vals[when])
            values.update(user_vals[(user, fi)])
            assert len(values) == len(names)  # the invariant client_literals rests on
            day, minute = when[0], when[1]
            attrs = [("src", ip), ("time", f"{day} {minute // 60:02d}:{minute % 60:02d}")]
            if mac != OTHER_MAC:
                attrs.append(("mac", mac))
            if user not in (OTHER_USER, NO_USER):
                attrs.append(("user", user))
            for a in by_type.get("external", []):
                if values.get(a.name):
                    attrs += [("group", g) for g, _ in a.values[1:]]
            conditions = self._describe(client, values)
            key = tuple(sorted(values.items()))
            if sg_client is not None:
                conditions += sg_conditions
                key += ((CHAIN_KEY, _squidguard().client_key(sg_client)),)
            if old is None or len(conditions) < len(old.conditions):
                seen[vector] = Audience(key=key, conditions=conditions, attributes=tuple(attrs))
        self._audiences = list(seen.values()) or [Audience(key=())]
        if len(self._audiences) == 1 and self.chain is not None:
            self._audiences = [replace(self._audiences[0], conditions=())]
        return self._audiences

    def _chain_frees(self, combos: int) -> list[frozenset[str]]:
        """squidGuard's own free conditions (clients in an iplist we cannot read ...)."""
        if self.chain is None:
            return [frozenset()]
        free = self.chain.client_dimensions()[3]
        if combos * (2 ** len(free)) <= MAX_AUDIENCES:
            return [
                frozenset(f for f, bit in zip(free, bits, strict=True) if bit)
                for bits in itertools.product((False, True), repeat=len(free))
            ]
        self.problems.append(
            Problem(
                "TE906",
                Span(self.path, 1, 1),
                f"{len(free)} squidGuard client conditions: evaluated a sample of audiences, not all",
            )
        )
        return [frozenset(), frozenset(free)] + [frozenset([f]) for f in free]

    def _describe(self, client: dict[str, Acl], values: dict[str, bool]) -> tuple[str, ...]:
        out = []
        for n, v in values.items():
            acl = client.get(n)
            typ = acl.type if acl else "urlpath_regex"
            if acl is not None and acl.type == "src" and acl.values and acl.values[0][0] == "all":
                continue
            if v and typ != "time":
                out.append(f"{typ} {n}")
            elif typ == "time":
                out.append(f"time {n}" if v else f"outside time {n}")
        for typ, word in (("src", "src in no named list"), ("arp", "arp in no named list")):
            named = [
                n
                for n, a in client.items()
                if a.type == typ and n in values and not (a.values and a.values[0][0] == "all")
            ]
            if named and not any(values[n] for n in named):
                out.insert(0, word)
        return tuple(out)

    def _client_part(self, line: AccessLine, values: dict[str, bool]) -> bool:
        return not any(name in values and values[name] == neg for name, neg in line.literals)

    # ---- evaluation
    def _line_match(
        self, line: AccessLine, probe: Probe, values: dict[str, bool]
    ) -> tuple[bool | None, list[Span], bool]:
        """Whether the line matches: True/False/None, the value spans that matched, and
        whether a request-specific ACL matched (domain, URL, address)."""
        result: bool | None = True
        spans: list[Span] = []
        specific = False
        for name, neg in line.literals:
            if name in values:
                v: bool | None = values[name]
                vspan = None
            else:
                v, vspan = self._request_match(name, probe)
            if v is None:
                result = None
                if vspan:
                    spans.append(vspan)
                continue
            if v == neg:
                return False, [], False
            if not neg and name in self.acls and self.acls[name].type in LIST_TYPES_WITH_CONTENT | {"dst_as"}:
                specific = True
                if vspan:
                    definition = self._definition_of(self.acls[name], vspan)
                    spans.extend([definition, vspan] if definition != vspan else [vspan])
        return result, spans, specific

    @staticmethod
    def _definition_of(acl: Acl, value_span: Span) -> Span:
        """The `acl` line that brought in a value (itself, or the line naming its file)."""
        if value_span in acl.spans:
            return value_span
        for ref_span in acl.value_sources.get(value_span.path, ()):
            return ref_span
        return acl.first_span

    def _walk(
        self, lines: list[AccessLine], probe: Probe, values: dict[str, bool], start: int = 0
    ) -> tuple[str | None, AccessLine | None, list[Span], bool, bool]:
        """First match: (action, line, trace, specific, certain). action None = no line matched.

        A line whose match is unknown does not decide when the lines after it give the same
        answer either way: then the rule that decides for certain is named (a later line, or
        the implicit last rule), never the line whose list could not be read."""
        trace: list[Span] = []
        for i in range(start, len(lines)):
            line = lines[i]
            m, spans, specific = self._line_match(line, probe, values)
            if m is False:
                continue  # the trace keeps the lines that could decide, not every line passed
            trace.append(line.span)
            trace.extend(spans)
            if m is True:
                return line.action, line, trace, specific, True
            rest = self._walk(lines, probe, values, i + 1)
            rest_action = rest[0] if rest[0] is not None else _implicit(lines)
            if rest_action == line.action:
                return rest[0], rest[1], trace + rest[2], rest[3], rest[4]
            return line.action, line, trace + rest[2], specific, False
        return None, None, trace, False, True

    @staticmethod
    def _implicit_span(lines: list[AccessLine]) -> Span:
        """Squid's implicit last rule of an access list, named as such (at the list's last line)."""
        last = lines[-1]
        text = f"{last.directive} {_implicit(lines)} all (Squid's implicit rule after line {last.span.line})"
        return Span(last.span.path, last.span.line, last.span.col, text)

    def _scope(self, line: AccessLine | None) -> str:
        """The client-side conditions of a line, as Squid names them."""
        if line is None:
            return ""
        client = self.client_acls()
        parts = []
        for name, neg in line.literals:
            acl = client.get(name)
            if acl is None or (acl.type == "src" and acl.values and acl.values[0][0] == "all"):
                continue
            parts.append(f"{'not ' if neg else ''}{acl.type} {name}")
        return " & ".join(parts)

    def _reach(self, lines: list[AccessLine], index: int, probe: Probe) -> str:
        """Who reaches line `index` (len(lines): the implicit rule) for this probe: the line's
        own client conditions, less the clients that earlier lines with client conditions took
        (`everyone not in src localnet`). Earlier lines no client of this config satisfies
        (`src localhost`: the proxy host is no audience) take nobody."""
        own = self._scope(lines[index]) if index < len(lines) else ""
        taken: list[str] = []
        for prior in lines[:index]:
            who = self._scope(prior)
            if not who or who in taken:
                continue
            request = [(n, neg) for n, neg in prior.literals if n not in self.client_acls()]
            if any(self._request_match(n, probe)[0] is not (not neg) for n, neg in request if n != "all"):
                continue  # this line is not about this request
            if not self._anyone_reaches(prior):
                continue
            taken.append(who)
        if not taken:
            return own
        others = " or ".join(taken)
        return f"{own} (not {others})" if own else f"everyone not in {others}"

    def _anyone_reaches(self, line: AccessLine) -> bool:
        """Whether some audience passes the line's client conditions (asked per probe and line:
        the answer depends on neither the probe nor the line's request conditions)."""
        audiences = self.audiences()
        cache = self._reachers
        if cache is None or cache[0] is not audiences:
            cache = self._reachers = (audiences, [dict(a.key) for a in audiences], {})
        hit = cache[2].get(id(line))
        if hit is None:
            hit = cache[2][id(line)] = any(self._client_part(line, values) for values in cache[1])
        return hit

    def _signature(self, probe: Probe) -> int:
        """Everything the rules can see of a probe: probes alike in every request-side match
        get the same decision, so it is computed once. Returned as the signature's number."""
        known = self._identities.get(id(probe))
        if known is not None and known[0] is probe:
            return known[1]
        n = self._signatures.get(probe)
        if n is None:
            sig: tuple = (probe.is_control, probe.scheme, isinstance(probe, _Bumped)) + tuple(
                self._request_match(name, probe) for name in self._request_names
            )
            if self.chain is not None:
                sig += (probe,)  # squidGuard sees the URL itself
            n = self._signatures[probe] = self._signature_ids.setdefault(sig, len(self._signature_ids))
        self._identities[id(probe)] = (probe, n)
        return n

    def _audience_number(self, audience: Audience) -> int:
        """A number per distinct audience key (hashing the key's tuple once per object)."""
        known = self._identities.get(id(audience))
        if known is not None and known[0] is audience:
            return known[1]
        n = self._audience_numbers.setdefault(audience.key, len(self._audience_numbers))
        self._identities[id(audience)] = (audience, n)
        return n

    def evaluate(self, probe: Probe, audience: Audience) -> Decision:
        if self._address_acls:
            # `dst` ACLs see one of the service's addresses: judge every catalog prefix, as the
            # packet filters do ("blocks 18 of 66 Facebook IPv4 prefixes").
            return decide_by_address(
                probe,
                self.catalog,
                lambda t: self._evaluate_cached(replace(probe, addresses=(str(t.address),)), audience),
            )
        return self._evaluate_cached(probe, audience)

    def _evaluate_cached(self, probe: Probe, audience: Audience) -> Decision:
        key = (self._signature(probe), self._audience_number(audience))
        hit = self._decisions.get(key)
        if hit is None:
            d = self._evaluate(probe, audience)
            line = self._line_by_span.get(d.rule) if d.rule else None
            hit = self._decisions[key] = replace(d, scope=self._scope(line)) if line and not d.scope else d
        return hit

    def _evaluate(self, probe: Probe, audience: Audience) -> Decision:
        values = dict(audience.key)
        action, line, trace, specific, certain = self._walk(self.access, probe, values)
        if action is None:
            if not self.access:
                # A fragment without access rules (an included file) decides nothing here.
                return Decision(Outcome.ALLOW, None, tuple(trace), note="no http_access rules")
            action = _implicit(self.access)
            rule = self._implicit_span(self.access)
            index = len(self.access)
            note = f"no http_access line matched: Squid does the opposite of the last line ({action})"
        else:
            assert line is not None  # _walk names the line whenever an action was found
            rule = line.span
            index = self.access.index(line)
            note = ""
        if not certain:
            return Decision(
                Outcome.UNKNOWN,
                rule,
                tuple(trace),
                specific,
                note="depends on a list or pattern that could not be read",
            )
        if action == "deny":
            return Decision(
                Outcome.DENY,
                rule,
                tuple(trace),
                specific,
                self._deny_how(line) if line is not None else self._implicit_how(self.access, probe, values),
                note,
                scope=self._reach(self.access, index, probe),
            )
        return self._after_allow(probe, audience, values, rule, trace, specific)

    def _implicit_how(self, lines: list[AccessLine], probe: Probe, values: dict[str, bool]) -> str:
        """How Squid's implicit deny answers. deny_info is looked up for the last ACL Squid
        *checked* (squid.conf.documented, deny_info: "Squid remembers the last acl it evaluated
        in http_access"): when no line matched, that is the ACL at which the last line stopped
        (its first literal that failed; literals are tried left to right). So `deny_info
        TCP_RESET lan` with a last line `http_access allow !lan` resets a LAN client's
        connection. Found by differential fuzzing (tests/e2e/test_daemon_fuzz.py)."""
        if not lines:
            return "403"
        for name, neg in lines[-1].literals:
            v = values[name] if name in values else self._request_match(name, probe)[0]
            if v is None:
                return "403"  # where Squid stopped is not known: its default page
            if v == neg:
                return self._deny_how_for(name)
        return "403"

    def _deny_how(self, line: AccessLine | None) -> str:
        if line is None or not line.literals:
            return "403"
        return self._deny_how_for(line.literals[-1][0])

    def _deny_how_for(self, last: str) -> str:
        info = self.deny_info.get(last)
        if info is None:
            return "403"
        target = info[0]
        if target == "TCP_RESET":
            return "reset"
        if "://" in target or target.startswith("%"):
            return "redirect"
        return "error-page"

    def _list_decision(
        self, lines: list[AccessLine], probe: Probe, values: dict[str, bool]
    ) -> tuple[str, Span, list[Span], bool, bool, AccessLine | None]:
        """An access list's answer with Squid's default (the opposite of its last line)."""
        action, line, more, spec, certain = self._walk(lines, probe, values)
        if action is None:
            return _implicit(lines), self._implicit_span(lines), more, spec, certain, None
        assert line is not None
        return action, line.span, more, spec, certain, line

    def _bump_action(
        self, probe: Probe, values: dict[str, bool]
    ) -> tuple[str, Span | None, list[Span], bool]:
        """What ssl_bump does with an HTTPS tunnel: (splice | bump | terminate | unknown, line,
        spans, specific). Rules are tried in order at each step; peek and stare only look
        (stare keeps bumping possible: with no final rule after a stare Squid bumps, after a
        peek it splices); no match: splice. Squid consults ssl_bump only on a port with the
        ssl-bump flag (a config that names no port is a fragment: assumed to have one)."""
        if self.bump_ports is False:
            return "splice", None, [], False
        stared = False
        for line in self.ssl_bump:
            m, spans, spec = self._line_match(line, probe, values)
            if m is False:
                continue
            if line.action in ("peek", "stare"):
                stared = stared or (line.action == "stare" and m is True)
                continue
            action = {"client-first": "bump", "server-first": "bump", "none": "splice"}.get(
                line.action, line.action
            )
            if m is None:
                return "unknown", line.span, [line.span, *spans], spec
            return action, line.span, [line.span, *spans], spec
        return ("bump" if stared else "splice"), None, [], False

    def _after_allow(
        self,
        probe: Probe,
        audience: Audience,
        values: dict[str, bool],
        rule: Span | None,
        trace: list[Span],
        specific: bool,
    ) -> Decision:
        if self.adapted:
            action, span, more, spec2, certain, line = self._list_decision(self.adapted, probe, values)
            if not certain:
                return Decision(Outcome.UNKNOWN, span, tuple(trace + more), spec2)
            if action == "deny":
                return Decision(Outcome.DENY, span, tuple(trace + more), spec2, self._deny_how(line))
        if probe.scheme == "https" and not isinstance(probe, _Bumped) and self.ssl_bump:
            bump, bump_span, spans, spec3 = self._bump_action(probe, values)
            if bump == "terminate":
                assert bump_span is not None
                return Decision(Outcome.DENY, bump_span, tuple(trace + spans), spec3, "tls-terminate")
            if bump in ("bump", "unknown"):
                # The decrypted request passes http_access (and the rest) again as a GET of the
                # full https:// URL.
                inner = self._evaluate(_Bumped(*(getattr(probe, f.name) for f in fields(Probe))), audience)
                inner = replace(inner, trace=tuple(trace + spans) + inner.trace)
                if bump == "bump":
                    return inner
                if inner.outcome != Outcome.ALLOW:
                    return Decision(
                        Outcome.UNKNOWN,
                        bump_span,
                        inner.trace,
                        spec3,
                        note="whether ssl_bump decrypts this could not be decided",
                    )
                # allowed whether bumped or spliced: go on as a tunnel
        if self.rewriter is not None:
            rw_action, line, more, _s, certain = self._walk(self.rewrite_access, probe, values)
            if (
                not self.rewrite_access
                or rw_action == "allow"
                or (rw_action is None and _implicit(self.rewrite_access) == "allow")
            ):
                if self.chain is None:
                    return Decision(
                        Outcome.UNKNOWN,
                        self.rewriter,
                        tuple(trace + more + [self.rewriter]),
                        specific,
                        note="passed to a URL rewriter not evaluated here",
                    )
                sg = self.chain.decide(probe, self._chain_client(values))
                via = tuple(trace + more + [self.rewriter]) + sg.trace
                if sg.outcome != Outcome.ALLOW and not certain:
                    return Decision(
                        Outcome.UNKNOWN,
                        line.span if line else self.rewriter,
                        via,
                        sg.specific,
                        note="whether url_rewrite_access sends this to squidGuard could not be decided",
                    )
                if sg.outcome == Outcome.DENY:
                    return Decision(
                        Outcome.DENY, sg.rule, via, sg.specific, sg.how or "redirect", sg.note, scope=sg.scope
                    )
                if sg.outcome == Outcome.UNKNOWN:
                    return Decision(
                        Outcome.UNKNOWN,
                        sg.rule,
                        via,
                        sg.specific,
                        note=sg.note or "squidGuard's answer could not be decided",
                        scope=sg.scope,
                    )
        forwarding = self._forwarding(probe, values, trace)
        if forwarding is not None:
            return forwarding
        if self.reply_access and (probe.scheme == "http" or isinstance(probe, _Bumped)):
            # Replies to HTTP requests (and to requests inside a bumped tunnel); a CONNECT
            # tunnel's traffic is not subject to http_reply_access.
            action, span, more, spec5, certain, line = self._list_decision(self.reply_access, probe, values)
            if not certain:
                return Decision(
                    Outcome.UNKNOWN,
                    span,
                    tuple(trace + more),
                    spec5,
                    note="http_reply_access depends on what could not be evaluated",
                )
            if action == "deny":
                return Decision(Outcome.DENY, span, tuple(trace + more), spec5, self._deny_how(line))
        if self.adaptation_enabled:
            for service, lines in sorted(self.adaptation.items()):
                action, span, more, _s, certain, _line = self._list_decision(lines, probe, values)
                if action == "allow" or not certain:
                    return Decision(
                        Outcome.UNKNOWN,
                        span,
                        tuple(trace + more),
                        specific,
                        note=f"sent to the ICAP/eCAP service {service}, which is not evaluated",
                    )
        for pool in sorted(self.delay_access):
            pool_action, line, more, spec4, certain = self._walk(self.delay_access[pool], probe, values)
            if pool_action == "allow":
                assert line is not None  # _walk names the line whenever an action was found
                if self.delay_limited.get(pool, True):
                    return Decision(Outcome.THROTTLE, line.span, tuple(trace + more), spec4, "delay-pool")
                break
        return Decision(Outcome.ALLOW, rule, tuple(trace), specific)

    def _forwarding(self, probe: Probe, values: dict[str, bool], trace: list[Span]) -> Decision | None:
        """never_direct/always_direct and cache_peer_access: a request that may not go direct
        and that no cache_peer accepts has no forwarding path, and Squid fails it
        (ERR_CANNOT_FORWARD). None: it is forwarded (directly or to a peer)."""
        if not self.never_direct:
            return None
        if self.always_direct:
            action, _span, _more, _s, certain, _line = self._list_decision(self.always_direct, probe, values)
            if action == "allow" and certain:
                return None  # always_direct wins over never_direct
            always_unsure = not certain
        else:
            always_unsure = False
        action, span, more, spec, certain, _line = self._list_decision(self.never_direct, probe, values)
        if action != "allow" and certain:
            return None
        unsure = always_unsure or not certain
        for name in self.peers:
            lines = self.peer_access.get(name)
            if not lines:
                return None  # a peer for every request
            p_action, _ps, _pm, _s, p_certain, _pl = self._list_decision(lines, probe, values)
            if p_action == "allow" and p_certain:
                return None
            unsure = unsure or not p_certain
        if unsure:
            return Decision(
                Outcome.UNKNOWN,
                span,
                tuple(trace + more),
                spec,
                note="whether Squid may forward this request (never_direct, cache_peer_access) is undecided",
            )
        return Decision(
            Outcome.DENY,
            span,
            tuple(trace + more),
            spec,
            "no forwarding path",
            note="never_direct forbids going direct and no cache_peer accepts it",
        )

    def inert_mentions(self, probe: Probe) -> list[Span]:
        if self.chain is not None:
            return self._inert_mentions(probe) + self.chain.inert_mentions(probe)
        return self._inert_mentions(probe)

    def _inert_mentions(self, probe: Probe) -> list[Span]:
        used = {n for line in self._all_access_lines() for n, _ in line.literals}
        used |= set(self.deny_info)
        # An ACL any other directive names (access_log, tcp_outgoing_address, miss_access ...)
        # or a group ACL (any-of, all-of) holds is in use too.
        used |= self.mentioned
        used |= {v for a in self.acls.values() if a.type in ("any-of", "all-of") for v, _ in a.values}
        out = []
        for name, acl in self.acls.items():
            if name in used or acl.type not in LIST_TYPES_WITH_CONTENT:
                continue
            m, span = self._request_match(name, probe)
            if m:
                out.append(span or acl.first_span)
        return out


def _reference_time(day: str, minute: int) -> dt.datetime:
    """A (day letter, minute) sample as a moment in squidGuard's reference week."""
    return _squidguard().REFERENCE_MONDAY + dt.timedelta(days="MTWHFAS".index(day), minutes=minute)


def _implicit(lines: list[AccessLine]) -> str:
    """Squid's default when no line matches: the opposite of the last line."""
    if not lines:
        return "allow"
    return "allow" if lines[-1].action == "deny" else "deny"


# Predefined ACLs that need no definition line and never match a probe: `manager` is cache
# manager URLs, `to_linklocal` link-local destinations.
_BUILTIN = {
    "manager": lambda probe: False,
    "to_linklocal": lambda probe: False,
}


def _builtin_acls() -> list[Line]:
    """Squid 4+ predefines these ACLs; a config may redefine them with the same type."""
    span = Span("<squid built-in>", 0, 0, "")
    return [
        Line(span, ("acl", "all", "src", "all")),
        Line(span, ("acl", "localhost", "src", "127.0.0.1/32", "::1")),
        Line(span, ("acl", "to_localhost", "dst", "127.0.0.0/8", "0.0.0.0/32", "::1")),
        Line(span, ("acl", "CONNECT", "method", "CONNECT")),
    ]


def ruleset_from_lines(
    display: str, lines: list[Line], context: ParseContext, problems: list[Problem], config: Path
) -> SquidRuleset:
    """A ruleset from squid.conf lines already read: squid.conf itself, or the lines another
    dialect generates (pfSense's Squid package). Squid's predefined ACLs are added unless the
    lines redefine them; quoted list files resolve relative to `config`."""
    defined = {line.words[1] for line in lines if line.words[0] == "acl" and len(line.words) > 2}
    builtins = [b for b in _builtin_acls() if b.words[1] not in defined]
    acls = _parse_acls(builtins + lines, context, problems, config)
    return SquidRuleset(display, lines, acls, problems, context)


def parse(path: Path, context: ParseContext) -> SquidRuleset:
    reader = _Reader(context)
    display = str(path)
    reader.read(path, display, (path.resolve(),))
    for line in reader.lines:
        if line.words[0] not in squid_names.DIRECTIVES:
            # `squid -k parse`: "unrecognized: 'http_acess'", exit 1; Squid does not start.
            reader.problems.append(
                Problem(
                    "TE901",
                    line.span,
                    f"unknown directive {line.words[0]}: Squid refuses to start with this config",
                )
            )
    ruleset = ruleset_from_lines(display, reader.lines, context, reader.problems, path)
    ruleset.included = [str(p.resolve()) for p in reader.included]
    ruleset.link_rewriter(path, context)
    return ruleset

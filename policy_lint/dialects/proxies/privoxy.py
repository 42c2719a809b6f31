"""Privoxy: the main `config` and its action files, evaluated the way Privoxy 3.0 decides.

The main `config` names action files (`actionsfile user.action`, relative to `confdir`),
read in order; each action file is a list of sections, a header of actions in braces followed
by URL patterns. For every request Privoxy walks all sections of all files in order and, each
time a pattern matches, applies the section's actions: **the last match wins**, so a later
`{-block}` (or a later file such as `user.action`) undoes an earlier `{+block}`:

    {{alias}}
    unblock = -block -redirect            # aliases: names for action lists (any case)
    { +block{Social media.} }
    .facebook.                            # any host with a `facebook` label (.de, .com ...)
    .twitter.com                          # twitter.com and every subdomain
    linkedin.com                          # exactly linkedin.com (www.linkedin.com passes)
    /.*ning.*                             # any host, a path containing "ning": never HTTPS
    { unblock }
    graph.facebook.com                    # the API stays reachable

Patterns are `host[:port][/path]` (Privoxy user manual 8.4, checked against Debian's
privoxy 3.0.34 in tests/e2e/test_privoxy_differential.py and its source, urlmatch.c):

- host part, compared label by label, case-insensitively: a leading dot leaves the left end
  open (`.example.com` = example.com and its subdomains), a trailing dot the right end
  (`www.` = any host whose first label is www), both (`.example.`) = any host containing that
  label, neither = exactly that many labels. Labels may use `*`, `?` and `[...]` (Privoxy's own
  `simplematch`, ported as is). `.` or no host part matches every host, as does `/`.
  (`PCRE-HOST-PATTERN:` needs a build option Debian's privoxy lacks: read as a plain host.)
- `:port` (or `:80,8000-8100`) limits a pattern to those ports.
- path part: a case-insensitive regular expression (PCRE), anchored at the `/`
  (`/.*facebook` = a path containing "facebook"; time-bounded here). Privoxy sees only
  `host:443` of an HTTPS request (a CONNECT), whose path is taken as `/`: a pattern whose path
  regex needs more than `/` never applies to HTTPS, `.facebook.com/` or `.facebook.com/.*`
  still do. With `+https-inspection` for the host, the real path is seen.
- `TAG:`, `NO-REQUEST-TAG:`, `NO-RESPONSE-TAG:` and `CLIENT-TAG:` lines match request headers
  or clients that opted in, not URLs: they are not evaluated (a known limit of this dialect).

Actions that decide whether a service is reachable: `+block{reason}` / `-block` (the
block page, a 403; with `+handle-as-image` or `+handle-as-empty-document` a substitute,
still a block); `+redirect{URL}` or `+redirect{s@pcrs@command@}` (a 302: to another site it
is a block, to the same site, e.g. an HTTP -> HTTPS upgrade, it is not; a CONNECT cannot follow
a redirect, so any redirect of an HTTPS request is a block); block wins over redirect;
`+limit-connect{ports}` (CONNECT to other ports is refused); `+forward-override{...}`.

In `config`: `forward PATTERN parent[:port]|.` and `forward-socks4/4a/5/5t PATTERN
socks[:port] parent|.`, checked in order, the last match wins. `.` is a direct connection; a
real upstream (any host that is not this machine, or a proxy port on loopback such as Tor's
9050) is a tunnel: the service stays reachable, `allowed` when the pattern names it; a black
hole (port 0, or a port below 1024 on 127.0.0.1 / 0.0.0.0: nothing listens there, Privoxy
answers 503) is a block; another loopback port cannot be told from here (`unknown`). `toggle 0`
starts Privoxy switched off (no actions); `trustfile` allows only trusted sites (`~pattern`
and `+pattern` lines trust, plain lines distrust, the last matching line wins, anything
unlisted is blocked).

Files: when `config` is linted, its action files are evaluated in order (and not linted again
on their own); a missing one is TE903: Privoxy's standard `match-all.action` and
`default.action`, and files whose name says they hold another topic (`block-trackers.action`),
are assumed not to block the services' sites (the finding says so), any other missing file
leaves the services' verdicts `unknown` unless a later file decides them. An action file linted
on its own is evaluated as Privoxy would with a config naming only that file (no forwarding,
toggle on). Errors Privoxy refuses to start with (an unterminated section header, an unknown
action or alias, a pattern before the first section, an invalid path regex) are TE901/TE905;
the sections concerned decide `unknown`.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from fnmatch import fnmatch
from pathlib import Path

from policy_lint.dialects.semantics.base import ParseContext
from policy_lint.dialects.semantics.listnames import classify_list_name
from policy_lint.dialects.semantics.patterns import SEARCH_TIMEOUT_SECONDS, BoundedPattern, PatternError
from policy_lint.inputs import InputError, SourceText, read_source
from policy_lint.model import EVERYONE, Audience, Decision, Outcome, Probe, Problem, Span

NAME = "privoxy"
FILE_PATTERNS = ("*.action", "privoxy.conf", "privoxy*.conf", "privoxy.config")

MAX_AF_FILES = 100  # Privoxy 3.0.34's MAX_AF_FILES: more `actionsfile` lines are refused
MAX_TRACE = 8  # matched sections shown in a decision's trace

# Privoxy 3.0.34's action names (strings of Debian's binary), by the kind of value they take.
BOOL_ACTIONS = frozenset(
    {
        "crunch-if-none-match",
        "crunch-incoming-cookies",
        "crunch-outgoing-cookies",
        "downgrade-http-version",
        "force-text-mode",
        "handle-as-empty-document",
        "handle-as-image",
        "https-inspection",
        "ignore-certificate-errors",
        "prevent-compression",
        "prevent-keeping-cookies",
        "session-cookies-only",
    }
)
STRING_ACTIONS = frozenset(
    {
        "block",
        "change-x-forwarded-for",
        "content-type-overwrite",
        "crunch-client-header",
        "crunch-server-header",
        "deanimate-gifs",
        "delay-response",
        "fast-redirects",
        "forward-override",
        "hide-accept-language",
        "hide-content-disposition",
        "hide-from-header",
        "hide-if-modified-since",
        "hide-referer",
        "hide-referrer",
        "hide-user-agent",
        "limit-connect",
        "limit-cookie-lifetime",
        "overwrite-last-modified",
        "redirect",
        "set-image-blocker",
    }
)
MULTI_ACTIONS = frozenset(
    {
        "add-header",
        "client-body-filter",
        "client-body-tagger",
        "client-header-filter",
        "client-header-tagger",
        "external-filter",
        "filter",
        "filter-client-headers",
        "filter-server-headers",
        "server-header-filter",
        "server-header-tagger",
        "suppress-tag",
    }
)
# Accepted with an error message and ignored (actions.c: action_used_to_be_valid).
FORMER_ACTIONS = frozenset(
    {
        "inspect-jpegs",
        "kill-popups",
        "send-vanilla-wafer",
        "send-wafer",
        "treat-forbidden-connects-like-blocks",
        "vanilla-wafer",
        "wafer",
    }
)
# The actions that decide whether a request gets through.
DECIDING = (
    "block",
    "redirect",
    "handle-as-image",
    "handle-as-empty-document",
    "set-image-blocker",
    "https-inspection",
    "limit-connect",
    "forward-override",
)

TAG_PREFIXES = ("tag:", "client-tag:", "no-request-tag:", "no-response-tag:")

# Privoxy's distribution files, whose content is known: they block no site of the services.
STANDARD_FILES = {
    "match-all.action": "Privoxy's standard match-all.action, which sets default filters and blocks nothing",
    "default.action": "Privoxy's standard default.action, which blocks ad, tracker and widget URLs only",
}

# Ports a local proxy or tunnel usually listens on (Tor, SOCKS, HTTP proxies, I2P, ...).
PROXY_PORTS = frozenset(
    {
        1080,
        1086,
        1087,
        3128,
        3129,
        4444,
        4447,
        7890,
        7891,
        8000,
        8080,
        8081,
        8118,
        8123,
        8888,
        9040,
        9050,
        9150,
        10808,
        10809,
    }
)
FORWARD_DIRECTIVES = (
    "forward",
    "forward-socks4",
    "forward-socks4a",
    "forward-socks5",
    "forward-socks5t",
    "forward-webserver",
)

_CONFIG_HINT = re.compile(
    r"^[ \t]*(?:(?:actionsfile|confdir|filterfile|listen-address|forward-socks[45][at]?|enable-edit-actions"
    r"|enforce-blocks|enable-remote-toggle|templdir|trustfile|forward-webserver)[ \t]+\S"
    r"|toggle[ \t]+[01]|forward[ \t]+\S+[ \t]+\S)",
    re.M,
)
_ACTION_HINT = re.compile(r"^\s*\{\s*(\{\s*alias\s*\}|[+-][a-z-]+|[a-z0-9+-]+\s*\})", re.M | re.I)


# Source and documentation files that quote Privoxy syntax are not configs.
NOT_CONFIG_SUFFIXES = frozenset(
    {
        ".py",
        ".md",
        ".rst",
        ".html",
        ".htm",
        ".js",
        ".json",
        ".yaml",
        ".yml",
        ".toml",
        ".c",
        ".h",
        ".sh",
        ".pl",
        ".rb",
        ".go",
        ".rs",
    }
)


def detect(path: Path, head: str) -> float:
    name = path.name.lower()
    if path.suffix.lower() in NOT_CONFIG_SUFFIXES:
        return 0.0
    config_hits = len(_CONFIG_HINT.findall(head))
    action_hits = len(_ACTION_HINT.findall(head))
    if name.endswith(".action"):
        return 0.9 if action_hits or not head.strip() else 0.4
    if any(fnmatch(name, p) for p in FILE_PATTERNS):
        return 0.9
    if re.search(r"^\s*actionsfile\s+\S", head, re.M):
        return 0.9
    if config_hits and "privoxy" in str(path).lower():
        return 0.85
    if config_hits >= 2 and name in ("config", "config.txt"):
        return 0.75
    if config_hits >= 3:
        return 0.7
    if action_hits >= 2 and re.search(r"^\s*\{[^}\n]*[+-](block|redirect)\b", head, re.M):
        return 0.7
    return 0.0


# --------------------------------------------------------------------------- reading lines


@dataclass(frozen=True, slots=True)
class Line:
    """One logical line as Privoxy reads it (comments removed, `\\` continuations joined)."""

    text: str
    span: Span


def _logical_lines(src: SourceText) -> list[Line]:
    """Privoxy's edit_read_line: `#` starts a comment anywhere unless written `\\#`; a line
    ending in `\\` continues on the next; leading and trailing white space is dropped."""
    out: list[Line] = []
    data = ""
    start = 0
    col = 1
    cont = False
    for i, raw in enumerate(src.lines, start=1):
        line = raw
        if not cont:
            start = i
        cont = line.endswith("\\")
        if cont:
            line = line[:-1]
        if not data:
            stripped = line.lstrip()
            col = len(line) - len(stripped) + 1
            line = stripped
        if "#" in line:
            line = _strip_comment(line)
        data += line
        if cont:
            continue
        text = data.rstrip()
        data = ""
        if text:
            out.append(Line(text, Span(src.path, start, col, text)))
    if data.strip():
        out.append(Line(data.strip(), Span(src.path, start, col, data.strip())))
    return out


def _strip_comment(line: str) -> str:
    out = []
    i = 0
    while i < len(line):
        c = line[i]
        if c == "#":
            if out and out[-1] == "\\":
                out[-1] = "#"
                i += 1
                continue
            break
        out.append(c)
        i += 1
    return "".join(out)


# --------------------------------------------------------------------------- URL patterns


def _simplematch(pattern: str, text: str) -> bool:
    """Privoxy's simplematch() (urlmatch.c), ported as is: `*`, `?` and `[...]` classes
    (ranges, enumerations) with its own greedy fallback. True when `text` matches."""
    pat = pattern + "\0"
    txt = text + "\0"
    p = t = 0
    fallback = 0
    wildcard = False
    lastchar = ord("a")
    charmap: set[int] = set()
    while txt[t] != "\0":
        if pat[p] == "\0":
            if wildcard:
                p = fallback
            else:
                return False
        if pat[p] == "*":
            p += 1
            if pat[p] == "\0":
                return True
            wildcard = True
            fallback = p
        if pat[p] == "[":
            charmap = set()
            while True:
                p += 1
                if pat[p] == "]":
                    break
                if pat[p] == "\0":
                    return False
                if pat[p] == "-":
                    p += 1
                    if pat[p] in "]\0":
                        return False
                    charmap.update(range(lastchar, ord(pat[p]) + 1))
                else:
                    charmap.add(ord(pat[p]))
                    lastchar = ord(pat[p])
        if pat[p] == txt[t] or pat[p] == "?" or (pat[p] == "]" and ord(txt[t]) in charmap):
            p += 1
        elif not wildcard:
            return False
        elif p != fallback:
            if pat[p] == "]":
                t += 1
            p = fallback
            continue
        t += 1
    if pat[p] == "*":
        p += 1
    return pat[p] == "\0"


def _match_portlist(portlist: str, port: int) -> bool:
    """Privoxy's match_portlist(): `a,b-c,-d,e-` (atoi semantics: an empty bound is 0/65535)."""
    for item in portlist.split(","):
        if "-" not in item:
            if port == _atoi(item):
                return True
        else:
            lo, hi = item.split("-", 1)
            top = _atoi(hi) or 65535
            if _atoi(lo) <= port <= top:
                return True
    return False


def _atoi(text: str) -> int:
    m = re.match(r"\s*([+-]?\d+)", text)
    return int(m.group(1)) if m else 0


_GLOB = re.compile(r"[*?\[]")


@dataclass(slots=True)
class UrlPattern:
    """One pattern line: `host[:port][/path]` (or a tag pattern, never matched to URLs)."""

    spec: str
    span: Span
    tag: bool = False
    labels: tuple[str, ...] = ()
    open_left: bool = False  # leading dot: more labels may precede
    open_right: bool = False  # trailing dot: more labels may follow
    ports: str | None = None
    path: BoundedPattern | None = None
    invalid: bool = False  # its path regex does not compile: what it matches is unknown

    @property
    def catch_all(self) -> bool:
        """Matches every request whatever is requested (`/`, `.`, `:443`)."""
        return not self.tag and not self.labels and self.path is None

    @property
    def globbed(self) -> bool:
        return any(_GLOB.search(label) for label in self.labels)

    def host_matches(self, labels: tuple[str, ...]) -> bool:
        plen, flen = len(self.labels), len(labels)
        if plen == 0:
            return True
        if flen < plen:
            return False
        if self.open_left and not self.open_right:
            return self._cmp(labels[flen - plen :])
        if not self.open_left and not self.open_right:
            return flen == plen and self._cmp(labels)
        if self.open_right and not self.open_left:
            return self._cmp(labels[:plen])
        return any(self._cmp(labels[i : i + plen]) for i in range(flen - plen + 1))

    def _cmp(self, labels: tuple[str, ...]) -> bool:
        return all(
            p == f or (_GLOB.search(p) is not None and _simplematch(p, f))
            for p, f in zip(self.labels, labels)
        )

    def matches(
        self,
        labels: tuple[str, ...],
        port: int,
        path: str,
        memo: dict[tuple[int, str], bool | None] | None = None,
    ) -> bool | None:
        """True/False, or None when the path regex ran out of time. `memo` caches path
        results by (regex, path): many patterns share a regex, most probes the path `/`."""
        if self.tag:
            return False
        if self.ports is not None and not _match_portlist(self.ports, port):
            return False
        if not self.host_matches(labels):
            return False
        if self.path is None:
            return True
        if memo is None:
            return self.path.search(path)
        key = (id(self.path), path)
        if key not in memo:
            memo[key] = self.path.search(path)
        return memo[key]


def _compile_pattern(spec: str, span: Span, regex_cache: dict[str, BoundedPattern]) -> UrlPattern:
    """create_pattern_spec(): raises PatternError for what Privoxy refuses."""
    if "/" not in spec and ":" not in spec and "<" not in spec:  # the common host-only form
        return UrlPattern(
            spec,
            span,
            labels=tuple(label for label in spec.lower().split(".") if label),
            open_left=spec.startswith("."),
            open_right=spec.endswith("."),
        )
    if spec.lower().startswith(TAG_PREFIXES):
        return UrlPattern(spec, span, tag=True)
    buf = spec
    out = UrlPattern(spec, span)
    slash = buf.find("/")
    if slash >= 0:
        if buf[slash + 1 :]:
            out.path = _regex("^" + buf[slash:], regex_cache)
        buf = buf[:slash]
    port_at = -1
    if buf.startswith("<") and ">" in buf[1:]:
        end = buf.index(">", 1)
        rest = buf[end + 1 :]
        if rest and not rest.startswith(":"):
            raise PatternError(f"garbage after the IPv6 address in {spec!r}")
        host = buf[1:end]
        if rest:
            out.ports = rest[1:]
        buf = host
    else:
        port_at = buf.find(":")
        if port_at >= 0:
            out.ports = buf[port_at + 1 :]
            buf = buf[:port_at]
    if buf:
        out.open_left = buf.startswith(".")
        out.open_right = buf.endswith(".")
        out.labels = tuple(label for label in buf.lower().split(".") if label)
    return out


def _regex(source: str, cache: dict[str, BoundedPattern]) -> BoundedPattern:
    hit = cache.get(source)
    if hit is None:
        hit = cache[source] = BoundedPattern.compile(source, ignore_case=True)
    return hit


# --------------------------------------------------------------------------- action files


@dataclass
class Section:
    """One `{ actions }` header and its patterns; `changes` maps a deciding action to
    ("+", value) or ("-", None). A header Privoxy cannot parse is `broken`: its effect is
    unknown."""

    span: Span
    changes: dict[str, tuple[str, str | None]]
    patterns: list[UrlPattern] = field(default_factory=list)
    broken: bool = False
    via: Span | None = None  # the `actionsfile` line that loaded the file

    @property
    def deciding(self) -> bool:
        return self.broken or bool(self.changes)


@dataclass
class MissingFile:
    """An action file that is named but not there: what it would decide is unknown, for the
    services in `unknown_for` (None: every service; empty: assumed to decide nothing)."""

    span: Span
    name: str
    unknown_for: frozenset[str] | None


class _ActionError(ValueError):
    pass


def _action_tokens(text: str) -> list[tuple[str, str | None]]:
    """get_action_token(): `+name{value} -name alias` -> [(name, value)]; the value ends at the
    first `}` not written `\\}`."""
    out: list[tuple[str, str | None]] = []
    i, n = 0, len(text)
    while True:
        while i < n and text[i] in " \t":
            i += 1
        if i >= n:
            return out
        if text[i] == "{":
            raise _ActionError("a value without an action name")
        start = i
        while i < n and text[i] not in " \t{":
            if text[i] == "}":
                raise _ActionError("'}' without '{'")
            i += 1
        name = text[start:i]
        if i < n and text[i] == "{":
            j = i + 1
            value_chars: list[str] = []
            while True:
                if j >= n:
                    raise _ActionError(f"no closing '}}' for the value of {name}")
                if text[j] == "}":
                    if value_chars and value_chars[-1] == "\\":
                        value_chars[-1] = "}"
                        j += 1
                        continue
                    break
                value_chars.append(text[j])
                j += 1
            out.append((name, "".join(value_chars).strip()))
            i = j + 1
        else:
            out.append((name, None))
            i += 1


def _resolve_actions(
    text: str, aliases: dict[str, dict[str, tuple[str, str | None]]]
) -> tuple[dict[str, tuple[str, str | None]], list[str]]:
    """get_actions(): the deciding changes of an action list, and notes (ignored actions).
    Raises _ActionError for what Privoxy refuses (unknown action or alias, bad value)."""
    changes: dict[str, tuple[str, str | None]] = {}
    notes: list[str] = []
    for name, value in _action_tokens(text):
        lowered = name.lower()
        sign, base = lowered[:1], lowered[1:]
        if sign in "+-" and base in BOOL_ACTIONS | STRING_ACTIONS | MULTI_ACTIONS:
            if base in BOOL_ACTIONS and value is not None:
                raise _ActionError(f"action {name} takes no parameter")
            if sign == "+" and base in STRING_ACTIONS | MULTI_ACTIONS and not value and base != "block":
                raise _ActionError(f"action {name} needs a parameter")
            if base in DECIDING:
                changes[base] = (sign, (value or "No reason specified.") if sign == "+" else None)
            continue
        alias = aliases.get(lowered)
        if alias is not None:
            changes.update(alias)  # merge_actions(): the alias's settings win; its value is ignored
            continue
        if sign in "+-" and base in FORMER_ACTIONS:
            notes.append(f"action {name} is no longer valid; Privoxy ignores it")
            continue
        raise _ActionError(f"unknown action or alias: {name}")
    return changes, notes


def _parse_action_file(
    lines: list[Line], problems: list[Problem], via: Span | None, regex_cache: dict[str, BoundedPattern]
) -> list[Section]:
    """load_one_actions_file(): {{settings}}, {{description}}, {{alias}} (in that order, each
    once, before any section), then sections. Privoxy refuses the whole file at the first error;
    here the error is reported (TE901) and the rest is still read."""
    mode = "start"  # start < settings < description < alias < actions
    order = {"start": 0, "settings": 1, "description": 2, "alias": 3, "actions": 4}
    aliases: dict[str, dict[str, tuple[str, str | None]]] = {}
    sections: list[Section] = []
    current: Section | None = None
    refused = False

    def refuse(span: Span, message: str, code: str = "TE901") -> None:
        nonlocal refused
        suffix = "" if refused else "; Privoxy refuses to load this file"
        refused = True
        problems.append(Problem(code, span, message + suffix))

    for line in lines:
        text, span = line.text, line.span
        if text.startswith("{{"):
            name = text[2:-2].strip().lower() if text.endswith("}}") and len(text) >= 5 else ""
            if name not in order or name in ("start", "actions"):
                refuse(span, f"invalid special section {text!r}")
                mode = "actions" if mode == "actions" else "description"
                continue
            if order[mode] >= order[name]:
                refuse(span, f"{{{{{name}}}}} must appear once, before every section")
            mode = name
            continue
        if text.startswith("{"):
            mode = "actions"
            if not text.endswith("}"):
                refuse(span, f"section header without its closing '}}': {text}")
                current = Section(span, {}, broken=True, via=via)
                sections.append(current)
                continue
            try:
                changes, notes = _resolve_actions(text[1:-1].strip(), aliases)
            except _ActionError as exc:
                refuse(span, f"cannot parse the section header ({exc}): {text}")
                current = Section(span, {}, broken=True, via=via)
            else:
                current = Section(span, changes, via=via)
            sections.append(current)
            continue
        if mode == "settings":
            m = re.match(r"for-privoxy-version=(\d+)(?:\.(\d+))?(?:\.(\d+))?", text)
            if m and tuple(int(x or 0) for x in m.groups()) > (3, 0, 34):
                refuse(span, f"requires a newer Privoxy: {text}")
            continue
        if mode == "description":
            continue
        if mode == "alias":
            name, eq, value = text.partition("=")
            if not eq or not name.strip() or not value.strip():
                refuse(span, f"invalid alias line: {text}")
                continue
            try:
                changes, _notes = _resolve_actions(value.strip(), aliases)
            except _ActionError as exc:
                refuse(span, f"invalid alias ({exc}): {text}")
                changes = {"block": ("?", None)}
            aliases[name.strip().lower()] = changes
            continue
        if mode == "start" or current is None:
            refuse(span, f"a pattern before the first section header: {text}")
            continue
        if not current.deciding:
            # Nothing here decides reachability; Privoxy still refuses a bad path regex.
            slash = text.find("/")
            if slash >= 0 and text[slash + 1 :] and not text.lower().startswith(TAG_PREFIXES):
                try:
                    _regex("^" + text[slash:], regex_cache)
                except PatternError as exc:
                    refuse(span, f"cannot use the pattern {text!r}: {exc}", "TE905")
            continue
        try:
            current.patterns.append(_compile_pattern(text, span, regex_cache))
        except PatternError as exc:
            refuse(span, f"cannot use the pattern {text!r}: {exc}", "TE905")
            try:  # its host part still says which requests it was meant for
                host_part = _compile_pattern(text.split("/", 1)[0] or "/", span, regex_cache)
            except PatternError:
                continue
            host_part.invalid = True
            current.patterns.append(host_part)
    return sections


# --------------------------------------------------------------------------- forwarding


@dataclass(frozen=True)
class Forward:
    """Where a request goes: direct (`.`), through a proxy/tunnel, or into a black hole."""

    directive: str
    kind: str  # direct | tunnel | black-hole | unknown
    target: str
    span: Span
    pattern: UrlPattern | None = None  # None for forward-override{}


def _endpoint(address: str, default_port: int) -> tuple[str, int]:
    """parse_forwarder_address(): [user:pass@]host[:port], [ipv6]:port."""
    addr = address.rsplit("@", 1)[-1]
    port = default_port
    if addr.startswith("[") and "]" in addr:
        host, _, rest = addr[1:].partition("]")
        if rest.startswith(":"):
            port = _atoi(rest[1:])
    elif ":" in addr:
        host, _, p = addr.partition(":")
        port = _atoi(p)
    else:
        host = addr
    return host.lower(), port


def _classify_target(directive: str, args: list[str]) -> tuple[str, str]:
    """(kind, target text) of a forwarding target, given the arguments after the pattern."""
    if directive == "forward":
        if args[0] == ".":
            return "direct", "."
        hops = [_endpoint(args[0], 8000)]
    elif directive == "forward-webserver":
        hops = [_endpoint(args[0], 80)]
    else:
        hops = [_endpoint(args[0], 1080)]
        if len(args) > 1 and args[1] != ".":
            hops.append(_endpoint(args[1], 8000))
    host, port = hops[0]
    target = " ".join(args)
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        ip = None
    if (
        port <= 0
        or port > 65535
        or (ip is not None and (ip.is_multicast or ip == ipaddress.ip_address("255.255.255.255")))
    ):
        return "black-hole", target
    # A connection to 0.0.0.0 reaches this machine (Linux), like one to 127.0.0.1.
    loopback = host == "localhost" or (ip is not None and (ip.is_loopback or ip.is_unspecified))
    if loopback:
        if port < 1024:
            return "black-hole", target
        if port not in PROXY_PORTS:
            return "unknown", target
    return "tunnel", target


# --------------------------------------------------------------------------- pcrs redirects


def _pcrs(command: str, subject: str) -> tuple[str | None, bool]:
    """Apply one pcrs command `s<d>pattern<d>replacement<d>flags` (the subset redirects use:
    flags g, i, m, s, x, T; `$1`, `$&`, `` $` ``, `$'`, `$+` in the replacement) to `subject`.
    Returns (result or None when nothing matched, certain)."""
    import regex

    if len(command) < 2 or command[0] != "s":
        return None, True
    delim = command[1]
    parts: list[str] = []
    buf: list[str] = []
    i = 2
    while i < len(command):
        c = command[i]
        if c == "\\" and i + 1 < len(command) and command[i + 1] == delim:
            buf.append(delim)
            i += 2
            continue
        if c == delim:
            parts.append("".join(buf))
            buf = []
            i += 1
            continue
        buf.append(c)
        i += 1
    parts.append("".join(buf))
    if len(parts) < 2:
        return None, True
    pattern, replacement = parts[0], parts[1]
    flags_text = parts[2] if len(parts) > 2 else ""
    flags = regex.VERSION0
    for f, bit in (
        ("i", regex.IGNORECASE),
        ("m", regex.MULTILINE),
        ("s", regex.DOTALL),
        ("x", regex.VERBOSE),
    ):
        if f in flags_text:
            flags |= bit
    try:
        compiled = regex.compile(pattern, flags)
    except (regex.error, OverflowError, RecursionError):
        return None, True
    trivial = "T" in flags_text
    count = 0 if "g" in flags_text else 1

    def expand(m) -> str:
        if trivial:
            return replacement
        out: list[str] = []
        j = 0
        while j < len(replacement):
            c = replacement[j]
            nxt = replacement[j + 1] if j + 1 < len(replacement) else ""
            if c == "\\" and nxt:
                out.append({"n": "\n", "t": "\t", "r": "\r"}.get(nxt, nxt))
                j += 2
            elif c == "$" and nxt.isdigit():
                k = int(nxt)
                out.append((m.group(k) or "") if k <= (compiled.groups or 0) else "")
                j += 2
            elif c == "$" and nxt in "&`'+":
                if nxt == "&":
                    out.append(m.group(0))
                elif nxt == "`":
                    out.append(subject[: m.start()])
                elif nxt == "'":
                    out.append(subject[m.end() :])
                else:
                    last = [g for g in m.groups() if g is not None]
                    out.append(last[-1] if last else "")
                j += 2
            else:
                out.append(c)
                j += 1
        return "".join(out)

    try:
        result, hits = compiled.subn(expand, subject, count=count, timeout=SEARCH_TIMEOUT_SECONDS)
    except TimeoutError:
        return None, False
    return (result if hits else None), True


# --------------------------------------------------------------------------- the ruleset


@dataclass
class _State:
    """The deciding actions in force for one request after every matching section."""

    values: dict[str, tuple[str, str | None]] = field(default_factory=dict)
    by: dict[str, tuple[Section | MissingFile, UrlPattern | None]] = field(default_factory=dict)
    trace: list[Span] = field(default_factory=list)
    uncertain: list[str] = field(default_factory=list)  # why a match could not be decided

    def on(self, name: str) -> bool:
        return self.values.get(name, ("-", None))[0] == "+"

    def value(self, name: str) -> str | None:
        v = self.values.get(name)
        return v[1] if v and v[0] == "+" else None


@dataclass
class _Trust:
    span: Span
    entries: list[tuple[bool, UrlPattern]]  # (trusted, pattern), in file order
    missing: bool = False


class PrivoxyRuleset:
    dialect = NAME

    def __init__(
        self,
        path: str,
        entries: list[Section | MissingFile],
        forwards: list[Forward],
        problems: list[Problem],
        context: ParseContext,
        *,
        toggled_off: Span | None = None,
        trust: _Trust | None = None,
    ):
        self.path = path
        self.entries = entries
        self.forwards = forwards
        self.problems = problems
        self.catalog = context.catalog
        self.toggled_off = toggled_off
        self.trust = trust
        self.included: list[str] = []
        self._cache: dict[Probe, Decision] = {}
        self._index()

    # ---- indexing: label patterns without wildcards by key, host-less ones by (port, path)
    def _index(self) -> None:
        self._keyed: dict[tuple, list[tuple[int, int]]] = {}
        self._hostless: list[tuple[int, int]] = []  # depend on port and path only
        self._globbed: list[tuple[int, int]] = []  # host labels with * ? [...]
        self._missing: list[int] = []
        self._memo: dict[tuple[int, str], bool | None] = {}
        self._hostless_hits: dict[tuple[int, str], list[tuple[int, int, bool | None]]] = {}
        for ei, entry in enumerate(self.entries):
            if isinstance(entry, MissingFile):
                self._missing.append(ei)
                continue
            for pi, pat in enumerate(entry.patterns):
                if pat.tag:
                    continue
                if not pat.labels:
                    self._hostless.append((ei, pi))
                elif pat.globbed:
                    # Indexed by a literal end label when the pattern is anchored there.
                    if not pat.open_right and not _GLOB.search(pat.labels[-1]):
                        self._keyed.setdefault(("last", pat.labels[-1]), []).append((ei, pi))
                    elif not pat.open_left and not _GLOB.search(pat.labels[0]):
                        self._keyed.setdefault(("first", pat.labels[0]), []).append((ei, pi))
                    else:
                        self._globbed.append((ei, pi))
                else:
                    kind = (
                        ("R" if pat.open_left else "F")
                        if not pat.open_right
                        else ("U" if pat.open_left else "L")
                    )
                    self._keyed.setdefault((kind, pat.labels), []).append((ei, pi))

    def _matches(self, labels: tuple[str, ...], port: int, path: str) -> list[tuple[int, int, bool | None]]:
        """(entry, pattern, True|None) of every matching pattern, in file order; pattern -1
        stands for a missing file."""
        out: list[tuple[int, int, bool | None]] = []
        keyed = self._keyed
        n = len(labels)
        hits: list[tuple[int, int]] = []
        if keyed and labels:
            hits += keyed.get(("last", labels[-1]), [])
            hits += keyed.get(("first", labels[0]), [])
            hits += keyed.get(("F", labels), [])
            for i in range(n):
                hits += keyed.get(("R", labels[i:]), [])
                hits += keyed.get(("L", labels[: i + 1]), [])
                for j in range(i + 1, n + 1):
                    hits += keyed.get(("U", labels[i:j]), [])
        hits += self._globbed
        for ei, pi in hits:
            pat = self.entries[ei].patterns[pi]  # type: ignore[union-attr]
            m = pat.matches(labels, port, path, self._memo)
            if m is not False:
                out.append((ei, pi, m))
        key = (port, path)
        hostless = self._hostless_hits.get(key)
        if hostless is None:
            hostless = []
            for ei, pi in self._hostless:
                pat = self.entries[ei].patterns[pi]  # type: ignore[union-attr]
                m = pat.matches((), port, path, self._memo)
                if m is not False:
                    hostless.append((ei, pi, m))
            self._hostless_hits[key] = hostless
        out += hostless
        out += [(ei, -1, True) for ei in self._missing]
        out.sort(key=lambda t: (t[0], t[1]))
        return out

    def audiences(self) -> list[Audience]:
        return [EVERYONE]

    def inert_mentions(self, probe: Probe) -> list[Span]:
        return []

    # ---- the actions in force for one request
    def _state(self, probe: Probe, port: int, path: str) -> _State:
        host = probe.host.lower().rstrip(".")
        labels = tuple(label for label in host.split(".") if label)
        state = _State()
        applied = -1
        for ei, pi, m in self._matches(labels, port, path):
            entry = self.entries[ei]
            if isinstance(entry, MissingFile):
                if (entry.unknown_for is None and not probe.is_control) or (
                    entry.unknown_for and probe.service in entry.unknown_for
                ):
                    state.values["block"] = ("?", None)
                    state.by["block"] = (entry, None)
                    state.uncertain.append(f"depends on {entry.name}, which is missing")
                    state.trace.append(entry.span)
                continue
            if ei == applied:
                continue  # the section already applied through another of its patterns
            applied = ei
            pat = entry.patterns[pi]
            state.trace.extend(s for s in (entry.via, entry.span, pat.span) if s is not None)
            if m is None:
                self._timeout(pat)
                state.values["block"] = ("?", None)
                state.by["block"] = (entry, pat)
                state.uncertain.append(f"the path pattern {pat.spec!r} ran out of time")
                continue
            if entry.broken or pat.invalid:
                state.values["block"] = ("?", None)
                state.by["block"] = (entry, pat)
                state.uncertain.append(
                    f"Privoxy cannot parse the section header {entry.span.text!r}"
                    if entry.broken
                    else f"the pattern {pat.spec!r} is invalid"
                )
                continue
            for name, change in entry.changes.items():
                state.values[name] = change
                state.by[name] = (entry, pat)
                if change[0] == "?":
                    state.uncertain.append(f"the alias in {entry.span.text!r} cannot be parsed")
        return state

    def _timeout(self, pat: UrlPattern) -> None:
        problem = Problem("TE905", pat.span, f"the path pattern {pat.spec!r} ran out of time on a probe")
        if problem not in self.problems:
            self.problems.append(problem)

    # ---- evaluation
    def evaluate(self, probe: Probe, audience: Audience) -> Decision:
        hit = self._cache.get(probe)
        if hit is None:
            hit = self._cache[probe] = self._evaluate(probe)
        return hit

    def _trace(self, state: _State, *extra: Span | None) -> tuple[Span, ...]:
        spans = list(dict.fromkeys(state.trace))[-2 * MAX_TRACE :]
        spans += [s for s in extra if s is not None and s not in spans]
        return tuple(spans)

    def _evaluate(self, probe: Probe) -> Decision:
        https = probe.scheme == "https"
        if https:
            state = self._state(probe, probe.port, "/")
            inspected = state.on("https-inspection") and not self.toggled_off
            if inspected and probe.path != "/":
                state = self._state(probe, probe.port, probe.path)
        else:
            inspected = False
            state = self._state(probe, probe.port, probe.path)
        if self.toggled_off is not None:
            return self._forward(
                probe, _State(), note="Privoxy starts toggled off (toggle 0): no actions apply"
            )
        connect = https and not inspected
        # 1. limit-connect: a CONNECT to a port outside the list is refused.
        limit = state.value("limit-connect")
        if connect and limit is not None and not _match_portlist(limit, probe.port):
            entry, pat = state.by["limit-connect"]
            return Decision(
                Outcome.DENY,
                pat.span if pat else entry.span,
                self._trace(state),
                False,
                "403",
                f"CONNECT to port {probe.port} outside limit-connect{{{limit}}}",
            )
        # 2. block (before trust and redirects: Privoxy's crunchers run in that order).
        block = state.values.get("block")
        if block and block[0] == "?":
            entry, pat = state.by["block"]
            return Decision(
                Outcome.UNKNOWN,
                pat.span if pat else entry.span,
                self._trace(state),
                note=state.uncertain[-1] if state.uncertain else "",
            )
        if block and block[0] == "+":
            entry, pat = state.by["block"]
            # Substitutes (checked against privoxy 3.0.34, CONNECT included): an image (403) or a
            # redirect to set-image-blocker's URL (302), an empty document (403).
            how = "403"
            if state.on("handle-as-image") and state.value("set-image-blocker"):
                blocker = state.value("set-image-blocker") or ""
                how = "redirect" if blocker.lower() not in ("pattern", "blank") else "image"
            elif state.on("handle-as-empty-document"):
                how = "empty-document"
            return Decision(
                Outcome.DENY,
                pat.span if pat else entry.span,
                self._trace(state),
                bool(pat and not pat.catch_all),
                how,
                f"block reason: {block[1]}",
            )
        # 3. trust file: untrusted sites are blocked.
        if self.trust is not None:
            denied = self._untrusted(probe, state)
            if denied is not None:
                return denied
        # 4. redirects.
        redirected = self._redirect(probe, state, connect)
        if redirected is not None:
            return redirected
        # 5. forwarding, then the request goes out.
        allow_rule = None
        if block and block[0] == "-":
            entry, pat = state.by["block"]
            allow_rule = (pat.span if pat else entry.span, bool(pat and not pat.catch_all))
        return self._forward(probe, state, allow_rule)

    def _untrusted(self, probe: Probe, state: _State) -> Decision | None:
        trust = self.trust
        assert trust is not None
        if trust.missing:
            return (
                None
                if probe.is_control
                else Decision(
                    Outcome.UNKNOWN,
                    trust.span,
                    self._trace(state, trust.span),
                    note="the trust file is missing: which sites it trusts is unknown",
                )
            )
        host = probe.host.lower()
        labels = tuple(label for label in host.split(".") if label)
        path = probe.path if probe.scheme == "http" else "/"
        for trusted, pat in reversed(trust.entries):  # Privoxy reads the file into a stack
            m = pat.matches(labels, probe.port, path)
            if m is None:
                return Decision(
                    Outcome.UNKNOWN,
                    pat.span,
                    self._trace(state, trust.span, pat.span),
                    note=f"the trust pattern {pat.spec!r} ran out of time",
                )
            if m:
                if trusted:
                    return None
                return Decision(
                    Outcome.DENY,
                    pat.span,
                    self._trace(state, trust.span, pat.span),
                    not pat.catch_all,
                    "untrusted",
                    "distrusted by the trust file",
                )
        return Decision(
            Outcome.DENY,
            trust.span,
            self._trace(state, trust.span),
            False,
            "untrusted",
            "not in the trust file (only pages linked from a trusted referrer pass)",
        )

    def _redirect(self, probe: Probe, state: _State, connect: bool) -> Decision | None:
        target = state.value("redirect")
        if target is None:
            return None
        entry, pat = state.by["redirect"]
        rule = pat.span if pat else entry.span
        if connect:
            url = f"{probe.host}:{probe.port}"
        else:
            url = f"{probe.scheme}://{probe.host}{probe.path}"
        if target.startswith("s"):
            new, certain = _pcrs(target, url)
            if not certain:
                return Decision(
                    Outcome.UNKNOWN, rule, self._trace(state), note=f"the redirect {target!r} ran out of time"
                )
            if new is None or not new.lower().startswith(("http://", "https://")):
                return None
        else:
            new = target
        if new.lower() == url.lower():
            return None  # Privoxy prevents the loop and lets the request pass
        specific = bool(pat and not pat.catch_all)
        if connect:
            return Decision(
                Outcome.DENY,
                rule,
                self._trace(state),
                specific,
                "redirect",
                f"a CONNECT answered with a redirect to {new} fails",
            )
        from urllib.parse import urlsplit  # on first use: most configs have no redirects (start-up time)

        to_host = (urlsplit(new).hostname or "").lower()
        if self._same_site(probe, to_host):
            state.trace.append(rule)
            return self._forward(probe, state, note=f"redirected to {new} (same site)")
        return Decision(Outcome.DENY, rule, self._trace(state), specific, "redirect", f"redirected to {new}")

    def _same_site(self, probe: Probe, host: str) -> bool:
        if host == probe.host.lower():
            return True
        if probe.service is None:
            return False
        hit = self.catalog.service_for_host(host)
        return bool(hit and hit[0] == probe.service)

    def _forward(
        self, probe: Probe, state: _State, allow_rule: tuple[Span, bool] | None = None, note: str = ""
    ) -> Decision:
        fwd = self._forwarder(probe, state)
        rule, specific = allow_rule if allow_rule else (None, False)
        if fwd is not None:
            fspecific = fwd.pattern is not None and not fwd.pattern.catch_all
            if fwd.kind == "black-hole":
                return Decision(
                    Outcome.DENY,
                    fwd.span,
                    self._trace(state, fwd.span),
                    fspecific,
                    "black-hole",
                    f"forwarded to {fwd.target}, where nothing listens (Privoxy answers 503)",
                )
            if fwd.kind == "unknown":
                return Decision(
                    Outcome.UNKNOWN,
                    fwd.span,
                    self._trace(state, fwd.span),
                    fspecific,
                    note=f"forwarded to {fwd.target}: whether a proxy listens there is unknown "
                    f"(a closed port blocks)",
                )
            if fspecific:  # a tunnel or a direct exception that names the host
                kind = "tunnelled through" if fwd.kind == "tunnel" else "sent directly by"
                return Decision(
                    Outcome.ALLOW,
                    fwd.span,
                    self._trace(state, fwd.span),
                    True,
                    note=f"{kind} '{fwd.span.text}'",
                )
        return Decision(Outcome.ALLOW, rule, self._trace(state), specific, note=note)

    def _forwarder(self, probe: Probe, state: _State) -> Forward | None:
        override = state.value("forward-override")
        if override is not None and self.toggled_off is None:
            entry, pat = state.by["forward-override"]
            span = pat.span if pat else entry.span
            words = override.split()
            if words and words[0].lower() in FORWARD_DIRECTIVES and len(words) >= 2:
                kind, target = _classify_target(words[0].lower(), words[1:])
                return Forward(words[0].lower(), kind, target, span)
            return None
        host = probe.host.lower()
        labels = tuple(label for label in host.split(".") if label)
        path = "/" if probe.scheme == "https" else probe.path
        for fwd in reversed(self.forwards):  # the last matching line wins
            assert fwd.pattern is not None
            if fwd.pattern.matches(labels, probe.port, path):
                return fwd
        return None


# --------------------------------------------------------------------------- parsing files


def _load_source(path: Path, display: str, span: Span | None, problems: list[Problem]) -> SourceText | None:
    try:
        src = read_source(path, display)
    except InputError as exc:
        if span is None:
            raise
        problems.append(Problem("TE902", span, str(exc)))
        return None
    problems.extend(src.problems)
    return src


def _is_action_file(lines: list[Line]) -> bool:
    return bool(lines) and lines[0].text.startswith("{")


def _missing_assumption(name: str, context: ParseContext) -> tuple[frozenset[str] | None, str]:
    base = Path(name).name.lower()
    if base in STANDARD_FILES:
        return frozenset(), f"assumed to be {STANDARD_FILES[base]}"
    keywords = {sid: svc.keywords for sid, svc in context.catalog.services.items()}
    kind, named = classify_list_name(Path(name).stem, keywords)
    if kind == "other-topic":
        return frozenset(), "its name says it holds another topic: assumed not to block the services' sites"
    if kind == "social" and named and named != set(keywords):
        return frozenset(named), "what it decides for " + ", ".join(sorted(named)) + " is unknown"
    return None, "what it decides for the services is unknown"


def parse(path: Path, context: ParseContext) -> PrivoxyRuleset:
    display = str(path)
    problems: list[Problem] = []
    src = read_source(path, display)
    problems.extend(src.problems)
    lines = _logical_lines(src)
    regex_cache: dict[str, BoundedPattern] = {}
    if _is_action_file(lines) or path.name.lower().endswith(".action"):
        sections = _parse_action_file(lines, problems, None, regex_cache)
        return PrivoxyRuleset(display, list(sections), [], problems, context)
    return _parse_config(path, display, lines, problems, context, regex_cache)


def _parse_config(
    path: Path,
    display: str,
    lines: list[Line],
    problems: list[Problem],
    context: ParseContext,
    regex_cache: dict[str, BoundedPattern],
) -> PrivoxyRuleset:
    confdir: str | None = None
    entries: list[Section | MissingFile] = []
    forwards: list[Forward] = []
    included: list[str] = []
    toggled_off: Span | None = None
    trust: _Trust | None = None
    n_files = 0
    for line in lines:
        m = re.match(r"(\S+)[ \t]*(.*)", line.text)
        assert m is not None
        directive, arg = m.group(1).lower(), m.group(2).strip()
        span = line.span
        if directive == "confdir":
            confdir = arg
        elif directive == "actionsfile":
            n_files += 1
            if n_files > MAX_AF_FILES:
                problems.append(
                    Problem(
                        "TE901", span, f"more than {MAX_AF_FILES} actionsfile lines: Privoxy refuses this"
                    )
                )
                continue
            entries.extend(_load_actions(arg, confdir, path, span, problems, context, included, regex_cache))
        elif directive == "trustfile":
            trust = _load_trust(arg, confdir, path, span, problems, context, included, regex_cache)
        elif directive == "toggle":
            toggled_off = span if arg[:1] == "0" else None
        elif directive in FORWARD_DIRECTIVES:
            fwd = _parse_forward(directive, arg, span, problems, regex_cache)
            if fwd is not None:
                forwards.append(fwd)
    ruleset = PrivoxyRuleset(
        display, entries, forwards, problems, context, toggled_off=toggled_off, trust=trust
    )
    ruleset.included = included
    return ruleset


def _reference(name: str, confdir: str | None) -> str:
    """make_path(confdir, name): absolute names stay, others are under confdir."""
    if name.startswith("/") or not confdir:
        return name
    return confdir.rstrip("/") + "/" + name


def _load_actions(
    name: str,
    confdir: str | None,
    config: Path,
    span: Span,
    problems: list[Problem],
    context: ParseContext,
    included: list[str],
    regex_cache: dict[str, BoundedPattern],
) -> list[Section | MissingFile]:
    resolver = context.resolver
    ref = _reference(name, confdir)
    target = resolver.resolve(ref, config)
    if target is None and not name.endswith(".action"):
        target = resolver.resolve(ref + ".action", config)
        if target is not None:
            problems.append(
                Problem(
                    "TE901",
                    span,
                    f"actionsfile {name}: Privoxy 3.0.7 and later need the "
                    f"complete file name ({name}.action)",
                )
            )
    if target is None:
        unknown_for, assumption = _missing_assumption(name, context)
        problems.append(Problem("TE903", span, f"actions file not found: {ref} ({assumption})"))
        return [MissingFile(span, name, unknown_for)] if unknown_for != frozenset() else []
    included.append(str(target.resolve()))
    src = _load_source(target, resolver.display(target), span, problems)
    if src is None:
        return [MissingFile(span, name, None)]
    return list(_parse_action_file(_logical_lines(src), problems, span, regex_cache))


def _load_trust(
    name: str,
    confdir: str | None,
    config: Path,
    span: Span,
    problems: list[Problem],
    context: ParseContext,
    included: list[str],
    regex_cache: dict[str, BoundedPattern],
) -> _Trust:
    resolver = context.resolver
    ref = _reference(name, confdir)
    target = resolver.resolve(ref, config)
    if target is None:
        problems.append(
            Problem("TE903", span, f"trust file not found: {ref} (which sites it trusts is unknown)")
        )
        return _Trust(span, [], missing=True)
    included.append(str(target.resolve()))
    src = _load_source(target, resolver.display(target), span, problems)
    if src is None:
        return _Trust(span, [], missing=True)
    entries: list[tuple[bool, UrlPattern]] = []
    for line in _logical_lines(src):
        text = line.text
        trusted = text[0] in "~+"
        spec = text[1:] if trusted else text
        if not spec:
            continue
        try:
            entries.append((trusted, _compile_pattern(spec, line.span, regex_cache)))
        except PatternError as exc:
            problems.append(Problem("TE905", line.span, f"cannot use the trust pattern {spec!r}: {exc}"))
    return _Trust(span, entries)


def _parse_forward(
    directive: str, arg: str, span: Span, problems: list[Problem], regex_cache: dict[str, BoundedPattern]
) -> Forward | None:
    words = arg.split()
    want = 2 if directive in ("forward", "forward-webserver") else 3
    if len(words) != want:
        problems.append(
            Problem("TE901", span, f"{directive} takes {want} values, not {len(words)}: Privoxy refuses this")
        )
        return None
    try:
        pattern = _compile_pattern(words[0], span, regex_cache)
    except PatternError as exc:
        problems.append(Problem("TE905", span, f"{directive}: cannot use the pattern {words[0]!r}: {exc}"))
        return None
    kind, target = _classify_target(directive, words[1:])
    return Forward(directive, kind, target, span, pattern)

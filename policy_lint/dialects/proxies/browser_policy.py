"""Browser policies: Chrome/Edge `URLBlocklist`/`URLAllowlist` and Firefox `WebsiteFilter`.

**Chrome and Edge** (managed policy JSON such as /etc/opt/chrome/policies/managed/*.json, a
chrome://policy export, a Windows registry export `.reg`, or a macOS plist/.mobileconfig):

    {"URLBlocklist": ["facebook.com", ".x.com", "*"],
     "URLAllowlist": ["linkedin.com", "twitter.com/i/flow/login"]}

Filters follow Chrome's URL filter format `[scheme://][.]host[:port][/path][?query]`
(support.google.com/chrome/a/answer/9942583; components/url_matcher/url_util.cc):
`example.com` is the domain and every subdomain, `.example.com` that host only, an IP address
that address only, `*` every URL; a scheme, a port and a path prefix (case-sensitive) narrow a
filter. Of all filters that match a URL the most specific decides (url_blocklist_manager.cc,
FilterTakesPrecedence): `*` is the weakest; an exact-host filter beats a domain filter; then
the longer host, the longer path, the more query tokens; at equal specificity the allow-list
wins. A host with a wildcard inside it (`*.facebook.com`) is not part of the format: Chrome
keeps it as a literal name that no site has, so it blocks nothing (TE901). Only the first 1000
filters of a list count. The legacy names `URLBlacklist`/`URLWhitelist` are read when the new
name is absent (Chrome ignores them when both are set).

**Firefox** (`policies.json`, or a `.reg` export under Software\\Policies\\Mozilla\\Firefox):

    {"policies": {"WebsiteFilter": {"Block": ["<all_urls>"],
                                    "Exceptions": ["*://*.linkedin.com/*"]}}}

Patterns are WebExtension match patterns `scheme://host/path` (`*` scheme = http and https,
`*.example.com` = the domain and its subdomains, `<all_urls>`, `*` globs in the path), matched
on the lower-cased URL; a URL matching a Block pattern is blocked unless an Exceptions pattern
matches it too (WebsiteFilter.sys.mjs). Invalid patterns are skipped (TE901).

Both browsers check only page loads (top-level navigations and frames): "It does not block any
other accesses to these urls: image tags, scripts, XHR" (Firefox's WebsiteFilter; Chrome
enforces the lists in a navigation throttle). A blocked CDN or API host (fbcdn.net,
api.x.com) therefore degrades nothing: pages that load it still get it. A policy file that is not
valid JSON is ignored by the browser and is an input error here (exit 2).
"""

from __future__ import annotations

import html
import ipaddress
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from policy_lint.dialects.semantics.base import ParseContext
from policy_lint.inputs import MAX_FILE_BYTES, InputError, read_source
from policy_lint.model import EVERYONE, Audience, Decision, Outcome, Probe, Problem, Span

NAME = "chrome-policy"
FILE_PATTERNS = ("*polic*.json", "*.reg", "*.plist", "*.mobileconfig")
FIREFOX_NAME = "firefox-policy"
FIREFOX_PATTERNS = ("policies.json", "*firefox*.json", "*firefox*.reg")

BLOCK_KEYS = ("URLBlocklist", "URLBlacklist")  # new name first: it wins when both are set
ALLOW_KEYS = ("URLAllowlist", "URLWhitelist")
MAX_FILTERS = 1000  # Chrome (kMaxFiltersAllowed) and Firefox (LIST_LENGTH_LIMIT) alike
# Roles whose hosts pages load as subresources (images, scripts, XHR), which neither browser's
# URL lists check. Widgets stay: a like button is a frame, which is a page load.
SUBRESOURCE_ROLES = frozenset({"cdn", "api", "ads", "analytics", "tracking"})
CHROME_VENDORS = re.compile(r"\\(Google\\Chrome|Microsoft\\Edge|Chromium|BraveSoftware\\Brave)\b", re.I)
FIREFOX_VENDOR = re.compile(r"\\Mozilla\\Firefox\b", re.I)
_CHROME_JSON_KEY = re.compile(r'"(URLBlocklist|URLBlacklist|URLAllowlist|URLWhitelist)"\s*:')
_PLIST_KEY = re.compile(r"<key>\s*(URLBlocklist|URLBlacklist|URLAllowlist|URLWhitelist)\s*</key>")


def _clean_head(head: str) -> str:
    return head.replace("\x00", "")  # UTF-16 registry exports, read as bytes


def detect(path: Path, head: str) -> float:
    name = path.name.lower()
    head = _clean_head(head)
    if name.endswith(".json") and _CHROME_JSON_KEY.search(head):
        return 0.9
    if name.endswith((".plist", ".mobileconfig", ".xml")) and _PLIST_KEY.search(head):
        return 0.9
    if name.endswith(".reg") and CHROME_VENDORS.search(head):
        return 0.9 if re.search(r"\\URL(Block|Black|Allow|White)list\]", head, re.I) else 0.6
    if name in ("managed_policies.json", "recommended_policies.json") and head.lstrip().startswith("{"):
        return 0.6
    return 0.0


def detect_firefox(path: Path, head: str) -> float:
    name = path.name.lower()
    head = _clean_head(head)
    if name.endswith(".json") and '"WebsiteFilter"' in head:
        return 0.9
    if name.endswith(".reg") and FIREFOX_VENDOR.search(head):
        return 0.9 if re.search(r"\\WebsiteFilter\\(Block|Exceptions)\]", head, re.I) else 0.6
    if name == "policies.json" and re.search(r'"policies"\s*:', head):
        return 0.6
    return 0.0


# --------------------------------------------------------------------------- reading


@dataclass
class Item:
    """One string of a list, where it stands, and which list it belongs to."""

    value: str
    span: Span
    index: int


@dataclass
class Lists:
    """The lists a policy file sets: Chrome's by policy name, Firefox's Block/Exceptions."""

    chrome: dict[str, list[Item]] = field(default_factory=dict)
    firefox: dict[str, list[Item]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    # Settings that hand requests to something this file does not describe: (code, span, why).
    elsewhere: list[tuple[str, Span, str]] = field(default_factory=list)


def _position(text: str, offset: int) -> tuple[int, int]:
    line = text.count("\n", 0, offset) + 1
    col = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return line, col


def _line_text(text: str, line: int) -> str:
    lines = text.split("\n")
    return lines[line - 1].strip() if 0 < line <= len(lines) else ""


def _span_at(display: str, text: str, offset: int) -> Span:
    line, col = _position(text, offset)
    return Span(display, line, col, _line_text(text, line)[:200])


def _read_text(path: Path, display: str) -> tuple[str, list[Problem]]:
    """Text of a policy file: UTF-16 registry exports included (regedit writes UTF-16LE)."""
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise InputError(f"{display}: file too large ({size} bytes; limit {MAX_FILE_BYTES})")
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{display}: cannot read: {exc.strerror or exc}") from None
    for bom, codec in ((b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be")):
        if data.startswith(bom):
            try:
                return data[len(bom) :].decode(codec).replace("\r\n", "\n").replace("\r", "\n"), []
            except UnicodeDecodeError:
                raise InputError(f"{display}: not valid {codec.upper()} text") from None
    if data.startswith(b"bplist"):
        raise InputError(f"{display}: binary plist; convert it with 'plutil -convert xml1' to lint it")
    src = read_source(path, display)
    return "\n".join(src.lines), list(src.problems)


def _without_trailing_commas(text: str) -> str:
    """The text with each comma that closes an array or object blanked out (offsets kept)."""
    out = list(text)
    in_string = escaped = False
    last_comma = -1
    for i, c in enumerate(text):
        if in_string:
            if escaped:
                escaped = False
            elif c == "\\":
                escaped = True
            elif c == '"':
                in_string = False
            continue
        if c == '"':
            in_string, last_comma = True, -1
        elif c == ",":
            last_comma = i
        elif c in "]}":
            if last_comma >= 0:
                out[last_comma] = " "
            last_comma = -1
        elif not c.isspace():
            last_comma = -1
    return "".join(out)


# Policies the dialect does not evaluate that decide where requests go: a proxy (Chrome
# ProxyMode/ProxyServer/ProxyPacUrl/ProxySettings, Firefox Proxy) decides with its own
# configuration (TE907, as a PAC PROXY answer). What the URL lists deny stays denied (the
# browser refuses the navigation itself); anything else is unknown. Force-installed extensions
# are separate programs, not settings of this file, and are not read (README).
_PROXY_WHY = "requests go through a proxy or PAC script this file does not describe, which decides for itself"
_ELSEWHERE = {
    "ProxyMode": ("TE907", _PROXY_WHY),
    "ProxyServer": ("TE907", _PROXY_WHY),
    "ProxyPacUrl": ("TE907", _PROXY_WHY),
    "ProxySettings": ("TE907", _PROXY_WHY),
    "Proxy": ("TE907", _PROXY_WHY),
}


def _decides_elsewhere(key: str, value: Any) -> bool:
    if isinstance(value, dict) and "value" in value and "level" in value:
        value = value["value"]  # a chrome://policy export
    if key == "ProxyMode":
        return value in ("fixed_servers", "pac_script")
    if key == "ProxySettings":
        return isinstance(value, dict) and value.get("ProxyMode") in ("fixed_servers", "pac_script")
    if key in ("ProxyServer", "ProxyPacUrl"):
        return isinstance(value, str) and bool(value.strip())
    if key == "Proxy":  # Firefox: Mode manual / autoConfig
        return isinstance(value, dict) and value.get("Mode") in ("manual", "autoConfig")
    return False


def _json_lists(text: str, display: str) -> Lists:
    try:
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as first:
            # Chrome reads its policy files with JSON_ALLOW_TRAILING_COMMAS
            # (config_dir_policy_loader.cc); Firefox's JSON.parse does not.
            if '"WebsiteFilter"' in text or re.search(r'^\s*\{\s*"policies"\s*:', text):
                raise first
            try:
                doc = json.loads(_without_trailing_commas(text))
            except json.JSONDecodeError:
                raise first from None
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{display}:{exc.lineno}:{exc.colno}: invalid JSON ({exc.msg}); browsers ignore "
            "a policy file they cannot parse"
        ) from None
    except RecursionError:
        raise InputError(f"{display}: JSON nests too deeply") from None
    if not isinstance(doc, dict):
        raise InputError(f"{display}: a policy file holds a JSON object ({{...}}), not {type(doc).__name__}")
    out = Lists()
    cursor = 0

    def items(key: str, values: Any, key_offset: int) -> list[Item] | None:
        nonlocal cursor
        if isinstance(values, dict) and isinstance(values.get("value"), list):
            values = values["value"]  # a chrome://policy export: {"value": [...], "level": ...}
        key_span = _span_at(display, text, key_offset)
        if not isinstance(values, list):
            out.problems.append(
                Problem(
                    "TE901",
                    key_span,
                    f"{key} must be a list of strings; the browser ignores this {type(values).__name__}",
                )
            )
            return None
        found: list[Item] = []
        pos = key_offset
        for i, v in enumerate(values):
            if not isinstance(v, str):
                out.problems.append(
                    Problem("TE901", key_span, f"{key} entry {i + 1} is not a string: ignored")
                )
                continue
            hit = -1
            for literal in (json.dumps(v, ensure_ascii=False), json.dumps(v)):
                hit = text.find(literal, pos)
                if hit >= 0:
                    pos = hit + len(literal)
                    break
            found.append(Item(v, _span_at(display, text, hit if hit >= 0 else key_offset), i))
        return found

    def key_offset(key: str) -> int:
        nonlocal cursor
        m = re.compile(r'"' + re.escape(key) + r'"\s*:').search(text, cursor)
        if m is None:
            m = re.compile(r'"' + re.escape(key) + r'"\s*:').search(text)
        if m is None:
            return 0
        cursor = m.end()
        return m.start()

    def walk(node: Any, depth: int) -> None:
        if depth > 32:
            return
        if isinstance(node, dict):
            for key, value in node.items():
                if key in BLOCK_KEYS + ALLOW_KEYS:
                    got = items(key, value, key_offset(key))
                    if got is not None:
                        out.chrome.setdefault(key, []).extend(got)
                elif key in _ELSEWHERE and _decides_elsewhere(key, value):
                    code, why = _ELSEWHERE[key]
                    out.elsewhere.append((code, _span_at(display, text, key_offset(key)), f"{key}: {why}"))
                elif key == "WebsiteFilter" and isinstance(value, dict):
                    key_offset(key)
                    for sub in ("Block", "Exceptions"):
                        if sub in value:
                            got = items(f"WebsiteFilter {sub}", value[sub], key_offset(sub))
                            if got is not None:
                                out.firefox.setdefault(sub, []).extend(got)
                else:
                    walk(value, depth + 1)
        elif isinstance(node, list):
            for value in node:
                walk(value, depth + 1)

    walk(doc, 0)
    return out


_REG_SECTION = re.compile(r"^\[(-?)([^\]]+)\]\s*$")
_REG_VALUE = re.compile(r'^"((?:[^"\\]|\\.)*)"\s*=\s*"((?:[^"\\]|\\.)*)"\s*$')


def _reg_lists(text: str, display: str) -> Lists:
    """A regedit export: list policies are keys whose values "1", "2", ... hold the entries."""
    out = Lists()
    target: tuple[str, str] | None = None
    for lineno, raw in enumerate(text.split("\n"), start=1):
        line = raw.strip()
        m = _REG_SECTION.match(line)
        if m:
            target = None
            if m.group(1):
                continue  # [-KEY] deletes the key
            parts = m.group(2).split("\\")
            last = parts[-1]
            if CHROME_VENDORS.search(m.group(2)):
                for key in BLOCK_KEYS + ALLOW_KEYS:
                    if last.lower() == key.lower():
                        target = ("chrome", key)
            elif (
                FIREFOX_VENDOR.search(m.group(2)) and len(parts) >= 2 and parts[-2].lower() == "websitefilter"
            ):
                for key in ("Block", "Exceptions"):
                    if last.lower() == key.lower():
                        target = ("firefox", key)
            continue
        v = _REG_VALUE.match(line)
        if v and target:
            value = re.sub(r"\\(.)", r"\1", v.group(2))
            col = raw.find('"') + 1
            span = Span(display, lineno, col, line[:200])
            book = out.chrome if target[0] == "chrome" else out.firefox
            entries = book.setdefault(target[1], [])
            entries.append(Item(value, span, len(entries)))
    return out


def _plist_lists(text: str, display: str) -> Lists:
    """Chrome/Edge keys in an XML plist or .mobileconfig: <key>URLBlocklist</key><array>..."""
    out = Lists()
    for m in re.finditer(
        r"<key>\s*(URLBlocklist|URLBlacklist|URLAllowlist|URLWhitelist)\s*</key>\s*"
        r"(<array>(.*?)</array>|<array\s*/>)",
        text,
        re.S,
    ):
        key = m.group(1)
        entries = out.chrome.setdefault(key, [])
        body_start = m.start(3) if m.group(3) is not None else m.end()
        for s in re.finditer(r"<string>(.*?)</string>", m.group(3) or "", re.S):
            entries.append(
                Item(
                    html.unescape(s.group(1)).strip(),
                    _span_at(display, text, body_start + s.start()),
                    len(entries),
                )
            )
    return out


def read_lists(path: Path) -> tuple[str, Lists]:
    display = str(path)
    text, problems = _read_text(path, display)
    name = path.name.lower()
    if (
        name.endswith(".reg")
        or text.lstrip().startswith("Windows Registry Editor")
        or text.lstrip().startswith("REGEDIT")
    ):
        lists = _reg_lists(text, display)
    elif name.endswith((".plist", ".mobileconfig")) or text.lstrip().startswith("<?xml"):
        lists = _plist_lists(text, display)
    else:
        lists = _json_lists(text, display)
    lists.problems[:0] = problems
    return display, lists


# --------------------------------------------------------------------------- Chrome filters


@dataclass(frozen=True)
class UrlFilter:
    text: str
    allow: bool
    span: Span
    scheme: str = ""  # "" = any scheme
    host: str = ""  # "" = any host
    subdomains: bool = True
    port: int = 0  # 0 = any port
    path: str = ""
    query_tokens: int = 0
    dead: bool = False  # parses, but can match no real URL (a wildcard inside the host)

    @property
    def wildcard(self) -> bool:
        return (
            not (self.host or self.scheme or self.path or self.query_tokens or self.port) and self.subdomains
        )

    def matches(self, probe: Probe) -> bool:
        if self.dead or self.query_tokens:  # the probes carry no query string
            return False
        if self.scheme and self.scheme != probe.scheme:
            return False
        host = probe.host.lower()
        if self.host:
            if self.subdomains:
                if host != self.host and not host.endswith("." + self.host):
                    return False
            elif host != self.host:
                return False
        if self.port and self.port != probe.port:
            return False
        return probe.path.startswith(self.path)

    def rank(self) -> tuple:
        """FilterTakesPrecedence as a sort key: higher wins."""
        return (
            not self.wildcard,
            not self.subdomains,
            len(self.host),
            len(self.path),
            self.query_tokens,
            self.allow,
        )


def parse_filter(text: str, allow: bool, span: Span) -> UrlFilter | str:
    """A Chrome URL filter, or the reason Chrome rejects it."""
    f = text.strip().split("#", 1)[0]
    if not f:
        return "empty filter"
    lower = f.lower()
    scheme = ""
    m = re.match(r"^([a-z][a-z0-9+.-]*):(//)?(.*)$", lower)
    if m and (m.group(2) or m.group(3) == "*"):
        scheme = m.group(1)
        if m.group(3) == "*":
            return UrlFilter(text, allow, span, scheme=scheme)  # scheme:* or scheme://*
        f = f[len(scheme) + 3 :]
    if scheme in ("file", "data", "javascript", "about", "chrome", "edge", "blob", "filesystem"):
        return UrlFilter(text, allow, span, scheme=scheme, host="", dead=True)
    cut = len(f)
    for ch in "/?":
        k = f.find(ch)
        if 0 <= k < cut:
            cut = k
    authority, rest = f[:cut], f[cut:]
    authority = authority.rsplit("@", 1)[-1]  # user:pass@ is ignored
    path, _, query = rest.partition("?")
    port = 0
    if authority.startswith("["):
        host, sep, tail = authority[1:].partition("]")
        if not sep:
            return "unterminated IPv6 address"
        if tail.startswith(":"):
            port_text = tail[1:]
            if not port_text.isdigit():
                return f"port '{port_text}' is not a number"
            port = int(port_text)
        host_kind = "ip"
    else:
        host, sep, port_text = authority.partition(":")
        if sep:
            if not port_text.isdigit():
                return f"port '{port_text}' is not a number"
            port = int(port_text)
        host_kind = ""
    if sep and not 0 < port <= 65535:
        return f"port {port} is outside 1-65535"
    host = host.lower().rstrip(".")
    if not host:
        return "no host"
    if host == "*":
        return UrlFilter(
            text,
            allow,
            span,
            scheme=scheme,
            host="",
            subdomains=True,
            port=port,
            path=path,
            query_tokens=len([t for t in query.split("&") if t]),
        )
    subdomains = True
    if host.startswith("."):
        host, subdomains = host[1:], False
    elif host_kind == "ip":
        subdomains = False
    else:
        try:
            ipaddress.ip_address(host)
            subdomains = False
        except ValueError:
            pass
    dead = "*" in host
    return UrlFilter(
        text,
        allow,
        span,
        scheme=scheme,
        host=host,
        subdomains=subdomains,
        port=port,
        path=path,
        query_tokens=len([t for t in query.split("&") if t]),
        dead=dead,
    )


# --------------------------------------------------------------------------- Firefox patterns


@dataclass(frozen=True)
class MatchPattern:
    text: str
    span: Span
    schemes: frozenset[str]
    host: str | None  # None = any host
    subdomains: bool
    path: re.Pattern | None  # None = any path (<all_urls>)

    def matches(self, probe: Probe) -> bool:
        if probe.scheme not in self.schemes:
            return False
        host = probe.host.lower()
        if self.host is not None:
            if self.subdomains:
                if host != self.host and not host.endswith("." + self.host):
                    return False
            elif host != self.host:
                return False
        return self.path is None or self.path.fullmatch(probe.path.lower()) is not None

    def names(self, probe: Probe) -> bool:
        """Whether the pattern's host is the probe's (to tell an explicit exception)."""
        return self.host is not None and self.matches(probe)


_MATCH_PATTERN = re.compile(r"^(\*|[a-z][a-z0-9+.-]*)://(\*|\*\.[^/*:]+|[^/*:]+|)(/.*)$")
_ALL_SCHEMES = frozenset({"http", "https", "ws", "wss", "ftp", "file", "data"})


def parse_match_pattern(text: str, span: Span) -> MatchPattern | str:
    p = text.strip().lower()
    if p == "<all_urls>":
        return MatchPattern(text, span, _ALL_SCHEMES, None, True, None)
    m = _MATCH_PATTERN.match(p)
    if not m:
        return "not a match pattern (scheme://host/path, e.g. *://*.example.com/*)"
    scheme, host, path = m.groups()
    schemes = frozenset({"http", "https", "ws", "wss"}) if scheme == "*" else frozenset({scheme})
    if not host and scheme != "file":
        return "no host"
    if host == "*":
        host_value, subdomains = None, True
    elif host.startswith("*."):
        host_value, subdomains = host[2:], True
    else:
        host_value, subdomains = host or None, False
    glob = re.compile("".join(".*" if c == "*" else re.escape(c) for c in path))
    return MatchPattern(text, span, schemes, host_value, subdomains, glob)


# --------------------------------------------------------------------------- the ruleset

NOT_LISTED = Decision(Outcome.ALLOW, None, (), False, "", "no filter of the policy matches")


class BrowserPolicyRuleset:
    """One policy file: the same answer for every user of the browser (one audience)."""

    def __init__(
        self,
        path: str,
        dialect: str,
        problems: list[Problem],
        block: list[UrlFilter],
        allow: list[UrlFilter],
        ff_block: list[MatchPattern],
        ff_allow: list[MatchPattern],
        inert: list[tuple[Span, UrlFilter | MatchPattern]],
    ):
        self.path = path
        self.dialect = dialect
        self.problems = problems
        self.block = block
        self.allow = allow
        self.ff_block = ff_block
        self.ff_allow = ff_allow
        self._inert = inert
        self.elsewhere: list[tuple[str, Span, str]] = []

    def audiences(self) -> list[Audience]:
        return [EVERYONE]

    def evaluate(self, probe: Probe, audience: Audience) -> Decision:
        d = self._lists(probe)
        if self.elsewhere and d.outcome != Outcome.DENY:
            _code, span, why = self.elsewhere[0]
            return Decision(Outcome.UNKNOWN, span, d.trace + (span,), False, "", why)
        return d

    def _lists(self, probe: Probe) -> Decision:
        decisions = []
        if self.block or self.allow:
            decisions.append(self._chrome(probe))
        if self.ff_block or self.ff_allow:
            decisions.append(self._firefox(probe))
        if not decisions:
            return NOT_LISTED
        d = next((d for d in decisions if d.outcome == Outcome.DENY), None) or next(
            (d for d in decisions if d.specific), decisions[0]
        )
        if probe.role in SUBRESOURCE_ROLES and d.outcome == Outcome.DENY:
            return Decision(
                Outcome.ALLOW,
                d.rule,
                d.trace,
                False,
                "",
                f"{probe.host} is loaded by pages as an image, script or API call, which the "
                "browser's URL lists do not check (they stop page loads only)",
            )
        return d

    def _chrome(self, probe: Probe) -> Decision:
        hits = [f for f in self.block + self.allow if f.matches(probe)]
        if not hits:
            return NOT_LISTED
        best = max(hits, key=UrlFilter.rank)
        blocks = [f for f in hits if not f.allow]
        if best.allow:
            overridden = tuple(f.span for f in blocks)
            return Decision(
                Outcome.ALLOW,
                best.span,
                overridden + (best.span,),
                bool(blocks) and bool(best.host),
                "",
                f"URLAllowlist '{best.text}' is the most specific filter"
                + (f" (over URLBlocklist '{blocks[0].text}')" if blocks else ""),
            )
        return Decision(
            Outcome.DENY,
            best.span,
            (best.span,),
            not best.wildcard,
            "url-blocklist",
            f"URLBlocklist '{best.text}' is the most specific filter for {probe.label()}",
        )

    def _firefox(self, probe: Probe) -> Decision:
        block = next((p for p in self.ff_block if p.matches(probe)), None)
        if block is None:
            return NOT_LISTED
        exception = next((p for p in self.ff_allow if p.matches(probe)), None)
        if exception is not None:
            return Decision(
                Outcome.ALLOW,
                exception.span,
                (block.span, exception.span),
                exception.names(probe),
                "",
                f"WebsiteFilter exception '{exception.text}' overrides block '{block.text}'",
            )
        return Decision(
            Outcome.DENY,
            block.span,
            (block.span,),
            block.host is not None,
            "website-filter",
            f"WebsiteFilter blocks '{block.text}'",
        )

    def inert_mentions(self, probe: Probe) -> list[Span]:
        out = []
        for span, f in self._inert:
            if isinstance(f, UrlFilter):
                loose = UrlFilter(
                    f.text,
                    f.allow,
                    f.span,
                    f.scheme,
                    f.host.replace("*.", "").replace("*", ""),
                    True,
                    f.port,
                    f.path,
                    0,
                    False,
                )
                if loose.host and loose.matches(probe):
                    out.append(span)
            elif f.matches(probe):
                out.append(span)
        return out


def _chrome_filters(lists: Lists, problems: list[Problem]) -> tuple[list[UrlFilter], list[UrlFilter], list]:
    inert: list[tuple[Span, UrlFilter | MatchPattern]] = []
    chosen: dict[bool, list[UrlFilter]] = {False: [], True: []}
    for allow, keys in ((False, BLOCK_KEYS), (True, ALLOW_KEYS)):
        present = [k for k in keys if k in lists.chrome]
        for k in present[1:]:  # a legacy name beside the new one: Chrome ignores it
            for item in lists.chrome[k]:
                f = parse_filter(item.value, allow, item.span)
                if isinstance(f, UrlFilter):
                    inert.append((item.span, f))
        if not present:
            continue
        key = present[0]
        for item in lists.chrome[key]:
            f = parse_filter(item.value, allow, item.span)
            if isinstance(f, str):
                problems.append(
                    Problem(
                        "TE901",
                        item.span,
                        f"{key} filter '{item.value}' is invalid ({f}): the browser skips it",
                    )
                )
                continue
            if item.index >= MAX_FILTERS:
                inert.append((item.span, f))
                continue
            if f.dead and f.host:
                problems.append(
                    Problem(
                        "TE901",
                        item.span,
                        f"{key} filter '{item.value}' matches nothing: Chrome's "
                        "filters take no wildcard inside a host (write "
                        f"'{f.host.lstrip('*.')}' for the domain and its subdomains)",
                    )
                )
                inert.append((item.span, f))
                continue
            chosen[allow].append(f)
        over = [i for i in lists.chrome[key] if i.index >= MAX_FILTERS]
        if over:
            problems.append(
                Problem(
                    "TE901",
                    over[0].span,
                    f"{key} has {len(lists.chrome[key])} entries: the "
                    f"browser ignores those after the first {MAX_FILTERS}",
                )
            )
    return chosen[False], chosen[True], inert


def _firefox_patterns(
    lists: Lists, problems: list[Problem]
) -> tuple[list[MatchPattern], list[MatchPattern], list]:
    inert: list[tuple[Span, UrlFilter | MatchPattern]] = []
    out: dict[str, list[MatchPattern]] = {"Block": [], "Exceptions": []}
    for key in out:
        for item in lists.firefox.get(key, []):
            p = parse_match_pattern(item.value, item.span)
            if isinstance(p, str):
                problems.append(
                    Problem(
                        "TE901",
                        item.span,
                        f"WebsiteFilter {key} pattern '{item.value}' is invalid ({p}): Firefox skips it",
                    )
                )
                continue
            if item.index >= MAX_FILTERS:
                inert.append((item.span, p))
                continue
            out[key].append(p)
        if len(lists.firefox.get(key, [])) > MAX_FILTERS:
            problems.append(
                Problem(
                    "TE901",
                    lists.firefox[key][MAX_FILTERS].span,
                    f"WebsiteFilter {key} has more than {MAX_FILTERS} entries: Firefox ignores the rest",
                )
            )
    return out["Block"], out["Exceptions"], inert


def parse(path: Path, context: ParseContext) -> BrowserPolicyRuleset:
    display, lists = read_lists(path)
    problems = lists.problems
    block, allow, inert = _chrome_filters(lists, problems)
    ff_block, ff_allow, ff_inert = _firefox_patterns(lists, problems)
    dialect = FIREFOX_NAME if (lists.firefox and not lists.chrome) else NAME
    ruleset = BrowserPolicyRuleset(
        display, dialect, problems, block, allow, ff_block, ff_allow, inert + ff_inert
    )
    ruleset.elsewhere = lists.elsewhere
    for code, span, why in lists.elsewhere:
        problems.append(Problem(code, span, f"{why}; verdicts it could decide are unknown"))
    return ruleset

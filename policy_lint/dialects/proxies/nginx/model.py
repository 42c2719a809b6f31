"""nginx's configuration as the evaluator sees it, and the lookups nginx makes: server names,
locations, maps, listen ports, and whether a value can carry the requested host name."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from policy_lint.dialects.proxies.nginx.syntax import Directive
from policy_lint.dialects.semantics.patterns import BoundedPattern, PatternError
from policy_lint.model import Problem, Span

NAME = "nginx"
# Variables that carry the name the client asked for: a proxy_pass to them reaches the origin.
REQUESTED_HOST_VARS = ("host", "http_host", "ssl_preread_server_name")
VARIABLE = re.compile(r"\$(?:\{(\w+)\}|(\w+))")


class Unknown(Exception):
    """A value this dialect does not model (a variable, a condition); `span` is the directive
    that needed it, when known."""

    def __init__(self, message: str, span: Span | None = None):
        super().__init__(message)
        self.span = span


@dataclass
class Map:
    source: str
    span: Span
    hostnames: bool = False
    default: str = ""
    exact: dict[str, str] = field(default_factory=dict)
    wild_front: dict[str, str] = field(default_factory=dict)  # ".example.com" (from *.example.com) -> value
    wild_back: dict[str, str] = field(default_factory=dict)  # "mail." (from mail.*) -> value
    regexes: list[tuple[BoundedPattern, str]] = field(default_factory=list)
    broken: bool = False


@dataclass
class Server:
    context: str  # http | stream
    span: Span
    block: list[Directive]
    ports: list[tuple[int, bool]]  # (port, default_server)
    names: list[str]
    forward: list[Span] = field(default_factory=list)
    # proxy_pass lines to the requested host with no resolver in effect: nginx reaches only
    # names an `upstream` block defines (any other fails with 502), so no site on the web.
    unresolved: list[Span] = field(default_factory=list)


@dataclass
class Context:
    """One `http` or `stream` context (all `http` blocks and top-level server snippets merged)."""

    kind: str
    directives: list[Directive] = field(default_factory=list)
    servers: list[Server] = field(default_factory=list)
    maps: dict[str, Map] = field(default_factory=dict)
    upstreams: dict[str, Directive] = field(default_factory=dict)
    missing: list[Span] = field(default_factory=list)  # includes nginx could not find


def listen_port(args: list[str]) -> tuple[int, bool] | None:
    if not args:
        return None
    a = args[0]
    if a.startswith("unix:"):
        return None
    port: int | None = None
    if a.isdigit():
        port = int(a)
    elif a.startswith("[") and "]:" in a:
        port = int(a.rsplit(":", 1)[1]) if a.rsplit(":", 1)[1].isdigit() else None
    elif ":" in a and not a.startswith("["):
        tail = a.rsplit(":", 1)[1]
        port = int(tail) if tail.isdigit() else None
    else:
        port = 80
    if port is None:
        return None
    return port, any(x in ("default_server", "default") for x in args[1:])


def compile_map(d: Directive, problems: list[Problem]) -> tuple[str, Map] | None:
    if len(d.args) != 2 or d.block is None:
        return None
    m = Map(d.args[0], d.span)
    for entry in d.block:
        key, vals = entry.name, entry.args
        if key == "hostnames" and not vals:
            m.hostnames = True
            continue
        if key == "volatile" and not vals:
            continue
        if key == "default" and vals:
            m.default = vals[0]
            continue
        value = vals[0] if vals else ""
        if key.startswith("\\"):
            key = key[1:]
        elif key.startswith("~"):
            ci = key.startswith("~*")
            try:
                m.regexes.append((BoundedPattern.compile(key[2:] if ci else key[1:], ci), value))
            except PatternError as exc:
                m.broken = True
                problems.append(Problem("TE905", entry.span, f"map {d.args[1]}: {exc}; nginx refuses this"))
            continue
        k = key.lower()
        if m.hostnames and k.startswith("*."):
            m.wild_front.setdefault(k[1:], value)
        elif m.hostnames and k.startswith("."):
            m.exact.setdefault(k[1:], value)
            m.wild_front.setdefault(k, value)
        elif m.hostnames and k.endswith(".*"):
            m.wild_back.setdefault(k[:-1], value)
        else:
            m.exact.setdefault(k, value)
    return d.args[1].lstrip("$"), m


def map_lookup(m: Map, source: str) -> str | None:
    """The raw value for `source` (None: a regex could not be decided in time)."""
    if m.broken:
        return None
    s = source.lower()
    if s in m.exact:
        return m.exact[s]
    if m.hostnames:
        # The longest mask wins: try the host's own label boundaries, longest part first.
        dots = [k for k, c in enumerate(s) if c == "."]
        for k in dots:
            if s[k:] in m.wild_front:
                return m.wild_front[s[k:]]
        for k in reversed(dots):
            if s[: k + 1] in m.wild_back:
                return m.wild_back[s[: k + 1]]
    for rx, value in m.regexes:
        hit = rx.search(source)
        if hit is None:
            return None
        if hit:
            return value
    return m.default


def server_name_matches(server: Server, host: str) -> tuple[int, int] | None:
    """Priority of `server`'s best name for `host` (lower wins; nginx's server_name order):
    exact (0), longest leading wildcard (1), longest trailing wildcard (2), first regex (3)."""
    h = host.lower()
    best: tuple[int, int] | None = None
    for name in server.names:
        n = name.lower()
        rank: tuple[int, int] | None = None
        if n.startswith("~"):
            try:
                rx = BoundedPattern.compile(n[1:], ignore_case=True)
            except PatternError:
                continue
            if rx.search(host):
                rank = (3, 0)
        elif n.startswith("*.") and h.endswith(n[1:]):
            rank = (1, -len(n))
        elif n.startswith(".") and (h == n[1:] or h.endswith(n)):
            rank = (0, 0) if h == n[1:] else (1, -len(n))
        elif n.endswith(".*") and h.startswith(n[:-1]):
            rank = (2, -len(n))
        elif n == h:
            rank = (0, 0)
        if rank is not None and (best is None or rank < best):
            best = rank
    return best


def find_location(block: list[Directive], uri: str) -> list[Directive]:
    """The location chain (outermost first) nginx picks for `uri` among `block`'s locations."""
    locs = [d for d in block if d.name == "location" and d.block is not None and d.args]
    for d in locs:
        if d.args[0] == "=" and len(d.args) > 1 and d.args[1] == uri:
            return [d]
        if d.args[0].startswith("=") and d.args[0] != "=" and d.args[0][1:] == uri:
            return [d]
    prefix: Directive | None = None
    best = -1
    for d in locs:
        mod, path = (d.args[0], d.args[1]) if len(d.args) > 1 else ("", d.args[0])
        if mod in ("", "^~") and not path.startswith("@") and uri.startswith(path) and len(path) > best:
            prefix, best = d, len(path)
    if prefix is not None and prefix.block:
        nested = find_location(prefix.block, uri)
        if nested and nested[0] is not prefix:
            return [prefix, *nested]
    if prefix is not None and prefix.args[0] == "^~":
        return [prefix]
    for d in locs:
        if d.args[0] in ("~", "~*") and len(d.args) > 1:
            try:
                rx = BoundedPattern.compile(d.args[1], d.args[0] == "~*")
            except PatternError:
                continue
            hit = rx.search(uri)
            if hit is None:
                raise Unknown("a location regex ran out of time", d.span)
            if hit:
                return [d]
    return [prefix] if prefix is not None else []


def derived_from_request(
    value: str, maps: dict[str, Map], sets: dict[str, list[str]], depth: int = 0
) -> bool:
    """Whether `value` can carry the requested host name (directly or through map/set)."""
    if depth > 8:
        return False
    for m in VARIABLE.finditer(value):
        name = m.group(1) or m.group(2)
        if name in REQUESTED_HOST_VARS:
            return True
        if name in maps:
            mp = maps[name]
            values = {mp.default, *mp.exact.values(), *mp.wild_front.values(), *mp.wild_back.values()}
            values |= {v for _r, v in mp.regexes}
            if any(derived_from_request(v, maps, sets, depth + 1) for v in values):
                return True
        for v in sets.get(name, []):
            if derived_from_request(v, maps, sets, depth + 1):
                return True
    return False


def host_part(url: str) -> str:
    rest = url.split("://", 1)[1] if "://" in url else url
    return re.split(r"[/?]", rest, maxsplit=1)[0]


def condition_words(args: list[str]) -> list[str]:
    """An `if (...)`'s words without its parentheses (ngx_http_rewrite_if_condition strips the
    `(` of the first word and the `)` of the last, a lone `)` being its own word)."""
    words = list(args)
    if words and words[0].startswith("("):
        words[0] = words[0][1:]
        if not words[0]:
            words.pop(0)
    if words and words[-1].endswith(")"):
        words[-1] = words[-1][:-1]
        if not words[-1]:
            words.pop()
    return words

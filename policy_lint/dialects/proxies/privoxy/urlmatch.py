"""Privoxy's URL patterns (urlmatch.c): `host[:port][/path]`, host labels compared with its own
`simplematch` globs, port lists, and path regular expressions run under a time bound."""

from __future__ import annotations

import re
from dataclasses import dataclass

from policy_lint.dialects.semantics.patterns import BoundedPattern, PatternError
from policy_lint.model import Span

TAG_PREFIXES = ("tag:", "client-tag:", "no-request-tag:", "no-response-tag:")


def simplematch(pattern: str, text: str) -> bool:
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


def match_portlist(portlist: str, port: int) -> bool:
    """Privoxy's match_portlist(): `a,b-c,-d,e-` (atoi semantics: an empty bound is 0/65535)."""
    for item in portlist.split(","):
        if "-" not in item:
            if port == atoi(item):
                return True
        else:
            lo, hi = item.split("-", 1)
            top = atoi(hi) or 65535
            if atoi(lo) <= port <= top:
                return True
    return False


def atoi(text: str) -> int:
    m = re.match(r"\s*([+-]?\d+)", text)
    return int(m.group(1)) if m else 0


GLOB = re.compile(r"[*?\[]")


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
        return any(GLOB.search(label) for label in self.labels)

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
            p == f or (GLOB.search(p) is not None and simplematch(p, f))
            for p, f in zip(self.labels, labels, strict=True)
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
        if self.ports is not None and not match_portlist(self.ports, port):
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


def compile_pattern(spec: str, span: Span, regex_cache: dict[str, BoundedPattern]) -> UrlPattern:
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
            out.path = compile_regex("^" + buf[slash:], regex_cache)
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


def compile_regex(source: str, cache: dict[str, BoundedPattern]) -> BoundedPattern:
    hit = cache.get(source)
    if hit is None:
        hit = cache[source] = BoundedPattern.compile(source, ignore_case=True)
    return hit

"""How squidGuard reads a URL: the request line squid sends (parseLine) and urllist keys (sgStripUrl).

Both sides need it: the config side normalises list keys and user names, the evaluation side
turns a probe into what squidGuard compares with them.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote

from policy_lint.model import Probe
from policy_lint.records import FrozenRecord

ASCII_LOWER = {c: c + 32 for c in range(65, 91)}


def ascii_lower(text: str) -> str:
    """C's tolower() in the C locale: ASCII only (what squidGuard does to URLs and keys)."""
    return text.translate(ASCII_LOWER)


@dataclass(frozen=True, eq=False, repr=False)
class Request(FrozenRecord):
    """A probe as squidGuard sees it (squidGuard's parseLine)."""

    orig: str  # the URL as squid sends it: http://host/path, or host:443 for CONNECT
    domain: str  # host, lowercase, no port
    surl: str  # host without www/web/ftp[0-9]* + path ("strippedurl")
    furl: str  # host[:port]/path, lowercase
    is_ip: bool


def request_line_url(probe: Probe) -> str:
    """What squid passes squidGuard for this probe (CONNECT carries host:port, no path)."""
    if probe.scheme == "https":
        return f"{probe.host}:{probe.port}"
    return f"http://{probe.host}{probe.path}"


def parse_request(url: str) -> Request:
    """squidGuard's parseLine: unescape, lowercase, drop the scheme and user@; the domain is
    the host without port; surl also drops a leading www/web/ftp[0-9]* label and the port."""
    orig = unquote(url)
    s = ascii_lower(orig)
    if "://" in s:
        s = s.split("://", 1)[1]
    d = s.find("/")
    start = 0
    a = s.find("@")
    if a >= 0 and (d < 0 or a < d):
        start = a + 1
    c = s.find(":", start)
    e = d
    if c >= 0 and (d < 0 or c < d):
        e = c
    furl = s[start:]
    q = start
    if s[start : start + 3] in ("www", "web", "ftp"):
        k = start + 3
        while k < len(s) and s[k].isdigit():
            k += 1
        if k < len(s) and s[k] == ".":
            q = k + 1
    domain = s[start:] if e < 0 else s[start:e]
    surl = s[q:] if e < 0 else s[q : max(e, q)]
    if d >= 0:
        surl += s[d:]
    is_ip = bool(domain) and all(ch in ".0123456789" for ch in domain)
    return Request(orig, domain, surl, furl, is_ip)


def strip_url_key(key: str) -> str:
    """sgStripUrl: a urllist entry loses user@ and :port (not www, not the scheme)."""
    p = key
    d = p.find("/")
    e = d if d >= 0 else None
    a = p.find("@")
    if a >= 0 and (d < 0 or a < d):
        p = p[a + 1 :]
        d = p.find("/")
        e = d if d >= 0 else None
    c = p.find(":")
    if c >= 0 and (d < 0 or c < d):
        e = c
    new = p if e is None else p[:e]
    if d >= 0:
        new += p[d:]
    return new

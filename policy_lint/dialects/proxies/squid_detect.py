"""Whether a file is a squid.conf: the squid dialect's `detect`, in a module of its own.

Detection asks every dialect whose file-name hint matches; `squid*.conf` matches
squidGuard.conf too, and importing the whole squid dialect only to hear "not mine" was ~10 ms
of a squidGuard lint's start-up (issue #20). policy_lint.dialects asks this module first
(DETECTORS) and imports squid.py only when squid is the answer; squid.py re-exports `detect`
and FILE_PATTERNS, so `squid.detect` is this very function.

    detect(Path("squid.conf"), "")                 -> 0.9 (its file name)
    detect(Path("squidGuard.conf"), "")            -> 0.0 (the squidguard dialect's)
    detect(Path("x.conf"), "http_access deny all") -> 0.3 (one directive seen)
"""

from __future__ import annotations

import re
from fnmatch import fnmatch
from pathlib import Path

FILE_PATTERNS = ("squid*.conf", "*.squid", "squid.conf*")

DIRECTIVE_HINT = re.compile(
    r"^\s*(http_access|acl\s+\S+\s+(dstdomain|dstdom_regex|url_regex|src|dst|port|method)\b"
    r"|http_port|refresh_pattern|cache_peer|visible_hostname|ssl_bump|delay_pools)",
    re.M,
)


def detect(path: Path, head: str) -> float:
    name = path.name.lower()
    if "squidguard" in name:
        return 0.0  # squidGuard.conf: the squidguard dialect's
    if any(fnmatch(name, p) for p in FILE_PATTERNS):
        return 0.9
    hits = len(DIRECTIVE_HINT.findall(head))
    return min(0.8, 0.3 * hits) if hits else 0.0

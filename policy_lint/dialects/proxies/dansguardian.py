"""DansGuardian (dansguardian.conf, dansguardianfN.conf and its lists): the same list
semantics as e2guardian before version 5, evaluated by the shared core in `e2guardian.py`.

    # bannedsitelist
    facebook.com                  # facebook.com and every subdomain
    **                            # blanket block: everything not in the exception/grey lists
    .Include</etc/dansguardian/lists/blacklists/ads/domains>

Exception lists win over bans; grey lists skip the URL bans but keep content filtering;
`**s` blocks every HTTPS CONNECT, `*ip` / `**ips` hosts given as IP addresses;
`groupmode = 0|1|2` in a group config bans, filters or exempts the whole group. DansGuardian
has no HTTPS interception: a CONNECT is checked against the site lists and the regexes (on
the host name), never the URL lists or the content. See `e2guardian.py` for the details
and their sources (DansGuardian 2.10 ConnectionHandler::requestChecks, ListContainer).
"""

from __future__ import annotations

from pathlib import Path

from policy_lint.dialects.proxies.e2guardian import LIST_PATTERNS, GuardianRuleset, detect_for, parse_for
from policy_lint.dialects.semantics.base import ParseContext

NAME = "dansguardian"
PRODUCT = "dansguardian"
FILE_PATTERNS = ("dansguardian*.conf", *LIST_PATTERNS)


def detect(path: Path, head: str) -> float:
    return detect_for(PRODUCT, path, head)


def parse(path: Path, context: ParseContext) -> GuardianRuleset:
    return parse_for(PRODUCT, NAME, path, context)

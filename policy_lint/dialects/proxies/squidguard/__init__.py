"""squidGuard (squidGuard.conf): the URL filter behind many squid proxies, evaluated as it decides.

squid hands every request to squidGuard (`url_rewrite_program /usr/bin/squidGuard -c ...`) as
one line, `URL client-ip/fqdn user method`; squidGuard answers with a redirect (the request is
blocked) or with nothing (it passes). It decides like this:

    dbhome /var/lib/squidguard/db           # list paths are relative to it
    src kids { ip 10.0.0.0/22 }              # client groups, the FIRST one that matches counts
    dest social {
        domainlist social/domains            # facebook.com: the domain and every subdomain
        urllist    social/urls               # facebook.com/groups: a prefix of the URL,
    }                                        #   written without scheme, www/web/ftp[0-9]* and port
    acl {
        kids { pass !social all }            # left to right: !dest blocks if the request matches
        default {                            #   it, dest passes if it matches, all/any passes,
            pass none                        #   none blocks; a list that decides nothing passes
            redirect http://proxy/blocked    #   (the implicit end is `all`)
        }
    }

- `src` groups: `ip` (address, /nn, /netmask, a-b range), `iplist`, `domain` (the client's
  reverse name), `user`, `userlist`, `within|outside TIME`; the types in one group are ANDed.
  A client in no group, or in a group without an acl entry, gets `default`.
- `acl` entries may carry `within|outside TIME { ... } else { ... }`; `src` and `dest` blocks
  may be time-bound too, with `within|outside TIME` inside the block (squidGuard 1.6 refuses
  it on the header line) (`time NAME { weekly mtwhf 08:00-17:00  date *-12-24 }`).
- A blocked request needs a redirect (the dest's, the acl entry's or default's): without one
  squidGuard lets it through. An acl `rewrite` applies sed-style substitutions to what passes;
  a rewrite to another host is a block in effect.
- `expressionlist` lines are case-insensitive POSIX regexes searched in `host[:port]/path`
  (time-bounded here). HTTPS reaches squidGuard as `CONNECT host:443`: no path, so URL and
  path rules never see it.
- `.diff` files next to a list (`+add` / `-remove` lines) change the list only when someone
  runs `squidGuard -u`; a verdict that differs between the two states is `unknown`.
- A config squidGuard cannot load (an undefined dest, src or time, a syntax error) puts it into
  emergency mode: every request passes (TE901).

List files usually live outside the repository (downloaded blacklists): a missing one is a
TE903 finding and makes dependent verdicts `unknown`, unless its name says it holds another
topic (`adv`, `porn`, `warez`), which is then assumed not to name the services.

Domain lists are read as documented (a domain and all its subdomains). Debian's squidGuard
1.6 looks them up in a B-tree that only compares a request with its neighbours, so a list
holding both `fbcdn.net` and `creative.ak.fbcdn.net` lets `static.xx.fbcdn.net` through; such
disagreements are named in the decision's note (`parse(..., lookup="squidguard-1.6")` evaluates
them that way, and tests/e2e checks both against the real program).

The package follows the data: `syntax` (text -> statements and blocks), `parse` (blocks -> the
rule model of `model`, with the list files of `lists` and squidGuard's URL handling in `urls`),
`evaluate` (the model -> decisions and audiences). squid's chain uses only the names below.
"""

from __future__ import annotations

from pathlib import Path

from policy_lint.dialects.proxies.squidguard.evaluate import (
    SquidGuardRuleset,
    client_from_key,
    client_key,
)
from policy_lint.dialects.proxies.squidguard.lists import SgList
from policy_lint.dialects.proxies.squidguard.model import (
    DEFAULT_CONFIGS,
    FILE_PATTERNS,
    NAME,
    OUTSIDE_IP,
    REFERENCE_MONDAY,
    Client,
    TimeElement,
    TimeSpace,
)
from policy_lint.dialects.proxies.squidguard.parse import detect
from policy_lint.dialects.proxies.squidguard.urls import parse_request, request_line_url
from policy_lint.dialects.semantics.base import ParseContext

__all__ = [
    "DEFAULT_CONFIGS",
    "FILE_PATTERNS",
    "NAME",
    "OUTSIDE_IP",
    "REFERENCE_MONDAY",
    "Client",
    "SgList",
    "SquidGuardRuleset",
    "TimeElement",
    "TimeSpace",
    "client_from_key",
    "client_key",
    "detect",
    "parse",
    "parse_request",
    "request_line_url",
]


def parse(
    path: Path, context: ParseContext, lookup: str | None = None, diff_state: str | None = None
) -> SquidGuardRuleset:
    """Read a squidGuard.conf. `lookup` and `diff_state` are for tests that compare with the
    real program (see the module docstring)."""
    return SquidGuardRuleset(path, str(path), context, lookup, diff_state)

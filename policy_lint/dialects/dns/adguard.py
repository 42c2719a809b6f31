"""AdGuard filter lists (AdGuard browser extensions and AdGuard Home blocklists).

Same syntax and the same evaluation as `abp` (see `adblock.py`): the rules go to Brave's
adblock-rust engine and are asked about a page load of each service, its CDN and API
subrequests, and its ad/widget endpoints from an unrelated page.

    ||twitter.com^          blocks twitter.com and every subdomain
    @@||twitter.com^        the exception wins
    example.org#%#//js...   scriptlets and other cosmetic rules never block a site

AdGuard Home's DNS-only modifiers (`$client`, `$ctag`, `$dnstype`, `$dnsrewrite`,
`$denyallow`) are not evaluated by the engine: a rule using them that could match a probe
makes it `unknown` (TE908; `$dnsrewrite` alone is evaluated). This module only registers the name `adguard` and recognises
AdGuard's lists: a name with `adguard`, AdGuard headers or AdGuard-only syntax.
"""

from __future__ import annotations

from pathlib import Path

from policy_lint.dialects.dns import adblock
from policy_lint.dialects.semantics.base import ParseContext

NAME = "adguard"
FILE_PATTERNS = ("*adguard*",)


def detect(path: Path, head: str) -> float:
    s = adblock.score(path, head)
    if not s:
        return 0.0
    return min(1.0, s + 0.05) if adblock.is_adguard(path, head) else max(0.0, s - 0.1)


def parse(path: Path, context: ParseContext) -> adblock.AdblockRuleset:
    return adblock.parse(path, context, dialect=NAME)

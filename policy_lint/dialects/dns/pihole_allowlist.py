"""Pi-hole allow-lists (whitelists): names Pi-hole never blocks, whatever its block lists say.

Read exactly as `pihole` reads them (see `pihole.py`): one domain per line or hosts syntax,
matched **exactly** (`facebook.com` does not allow `www.facebook.com`), `@@||facebook.com^`
(Pi-hole v6) allowing the name and its subdomains. A listed probe is `allowed`:

    # Facebook
    facebook.com            -> facebook.com allowed: the service is `allowed`
    graph.facebook.com

A whitelist.txt inside a Pi-hole install is read together with the install's block lists
(allow wins); a list on its own (a repository of lists to add to Pi-hole, such as
anudeepND/whitelist) stands alone. This module only registers the name `pihole-allowlist`
and recognises such lists: a name with `whitelist`/`allowlist`, or a domain list in a Pi-hole
folder whose header says it is a whitelist.
"""

from __future__ import annotations

import re
from fnmatch import fnmatch
from pathlib import Path

from policy_lint.dialects.dns import pihole
from policy_lint.dialects.semantics.base import ParseContext

NAME = "pihole-allowlist"
FILE_PATTERNS = (
    "whitelist.txt",
    "whitelist.list",
    "white.list",
    "*whitelist*.txt",
    "*allowlist*.txt",
    "*whitelist*.list",
    "*allowlist*.list",
    "whitelist.exact.json",
    "*whitelist*",
    "*allowlist*",
)

_ALLOW_HEADER = re.compile(r"white-?list|allow-?list", re.I)
NOT_MINE = ("*.py", "*.sh", "*.yaml", "*.yml", "*.conf", "*.md", "*.html", "*.js")


def detect(path: Path, head: str) -> float:
    name = path.name.lower()
    if any(fnmatch(name, p) for p in NOT_MINE) or "regex" in name:
        return 0.0
    if name == "whitelist.exact.json":
        return 0.9
    if name.endswith(".json"):
        return 0.0
    domains, _regexes, content = pihole.list_content(head)
    listy = domains >= 1 and domains >= 0.8 * content
    if not listy:
        return 0.0
    named = bool(re.search(r"white|allow", name))
    context = pihole.pihole_context(path, head)
    comments = "\n".join(line for line in head.splitlines()[:40] if line.lstrip().startswith("#"))
    header = bool(_ALLOW_HEADER.search(comments))
    if named and (context or name in ("whitelist.txt", "whitelist.list", "white.list")):
        return 0.95
    if named:
        return 0.7
    if context and header:
        return 0.9
    return 0.0


def parse(path: Path, context: ParseContext) -> pihole.PiholeRuleset:
    return pihole.parse(path, context, dialect=NAME, default_role="allow")

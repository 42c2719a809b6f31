"""unbound (unbound.conf, its include: fragments, and the RPZ zones it loads).

unbound answers a query from its local zones first: the most specific `local-zone:` that is the
name or one of its parents decides, by its type (unbound.conf(5), "local-zone"), and a
`local-data:` record for exactly that name answers before the type does (except for the
always_* types). So in

    server:
        local-zone: "facebook.com" always_nxdomain      # facebook.com and every subdomain
        local-zone: "com" static                        # every .com name: NXDOMAIN ...
        local-zone: "linkedin.com" transparent          # ... except linkedin.com's, resolved
        local-zone: "twitter.com" redirect              # every twitter.com name answers with
        local-data: "twitter.com A 0.0.0.0"             #   the apex's data: a sinkhole
        local-data: "x.com A 10.0.0.80"                 # one name (static zone: x.com's own
                                                        #   subdomains still get NXDOMAIN)

Facebook, Twitter/X and every other .com site are blocked, LinkedIn is an explicit exception.

Types that block: deny and inform_deny (the query is dropped), refuse (REFUSED), static (NXDOMAIN,
or NODATA for a name that has other local data), redirect and inform_redirect (the apex's data
for every name below, NODATA without it), always_refuse, always_nxdomain, always_nodata,
always_deny, always_null (0.0.0.0 / ::). Types that resolve normally: transparent (NODATA for a
name that has local data of another type only), typetransparent, inform (logged),
always_transparent (ignores local data), and noview outside a view. `nodefault` creates no zone
at all: a broader zone still decides. A local-data answer is judged by its address: a sinkhole or
a private address blocks, an address the catalog confirms as the service's own is `allowed`, a
CNAME to another name redirects. local-data outside every local-zone answers just that name
(unbound makes a transparent zone for it). The same zone named twice: the last line wins.
(Checked against Debian's unbound 1.17 in tests/e2e/test_unbound_differential.py, which found
that always_null answers from local data for the exact name, unlike the man page says.)

After the local zones, `rpz:` clauses apply in order, the first zone with a match deciding
(a passthru is a match). Their zone files are evaluated by the rpz dialect with unbound's rules,
which differ from BIND's: the first record of a name sets its action (later ones are skipped), a
CNAME to an unknown `rpz-*` name is ignored, and a wildcard applies only through the trigger
that sorts just before the query in unbound's own order (labels compared shorter first): a
trigger sharing more of the query's labels hides it (`m.facebook.com` hides `*.facebook.com`
from `x.m.facebook.com`; `s.com` hides `*` from `facebook.com`). A transparent zone does not
shield a name from RPZ; `rpz-action-override:` replaces every action of its zone; an `rpz:`
clause without the respip module in `module-config:` makes unbound refuse to start (TE901).

`view:` clauses (`access-control-view:`, `view-first:`), `local-zone-tag:` with
`access-control-tag:`/`access-control-tag-action:`, `local-zone-override:`, rpz `tags:` and
`rpz-client-ip` triggers make the answer depend on the client: each netblock named there is an
audience (`access-control-view 10.20.0.0/16 kids`), plus the clients outside all of them.

`include:` and `include-toplevel:` (globs too) are followed inside --root, loop-safe (TE904).
A missing include makes unbound refuse to start (TE903); a glob that matches nothing in an
existing folder is skipped, as unbound does (a missing folder is TE903). A missing file makes
the names it could decide `unknown` (only the named service's when its name names one), as in
every other dialect, unless its name is a published category of another topic (listnames.py:
the finding states that assumption). An rpz zone fetched at run time (`url:`/`primary:` without a local zone file) makes the
names it could decide `unknown`, unless its name says it holds another topic (listnames.py).
`response-ip:` blocks and `auth-zone:`s covering a service's addresses or names are `unknown`;
`forward-zone:`s are noted, not blocks. Syntax unbound refuses (unknown words, unterminated
quotes, bad zone types, bad local-data) is TE901 with its line.

The package: `parse.py` (the lexer and includes into clauses of statements; `detect`), `model.py`
(local zones, views, rpz clauses, a client's context), `evaluate.py` (the ruleset: answers and
audiences), `stream.py` (a file over 1 MiB: the plain local-zone/local-data lines of the server:
clause no probe can meet are skipped without the lexer; every other line is lexed as above).
"""

from __future__ import annotations

from pathlib import Path

from policy_lint.dialects.dns.unbound.evaluate import UnboundRuleset
from policy_lint.dialects.dns.unbound.parse import (
    BLOCK_TYPES,
    FILE_PATTERNS,
    NAME,
    RESOLVE_TYPES,
    ZONE_TYPES,
    Reader,
    detect,
    relevant_names,
)
from policy_lint.dialects.semantics.base import ParseContext

# The registry's names (NAME, FILE_PATTERNS, detect, parse) and the zone types the tests check.
__all__ = [
    "BLOCK_TYPES",
    "FILE_PATTERNS",
    "NAME",
    "RESOLVE_TYPES",
    "ZONE_TYPES",
    "UnboundRuleset",
    "detect",
    "parse",
]


# Defined after the imports above on purpose: it rebinds the package attribute `parse` from the
# submodule parse.py (bound as a side effect of importing it) to this function, the registry's
# entry point. Import the submodule's names with `from ...unbound.parse import X`.
def parse(path: Path, context: ParseContext) -> UnboundRuleset:
    reader = Reader(context, relevant_names(context.catalog))
    display = context.resolver.display(path)
    reader.read(path, display, (path.resolve(),))
    ruleset = UnboundRuleset(display, reader, context)
    reader.problems.summarise(display, "configuration errors")
    return ruleset

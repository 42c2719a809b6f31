"""BIND response policy zones (RPZ): zone files that rewrite DNS answers.

An RPZ is an ordinary master file read by BIND's zone parser (here: dnspython's). Each owner
name, relative to the zone's origin, is a trigger; its records say what happens to a query
for that name (BIND ARM, "Response Policy Zone (RPZ) Rewriting"; draft-vixie-dns-rpz):

    $ORIGIN rpz.example.
    facebook.com        CNAME .                 ; NXDOMAIN
    *.facebook.com      CNAME .                 ; every subdomain (not the apex itself)
    www.twitter.com     CNAME *.                ; NODATA: the name exists, no address
    m.facebook.com      CNAME rpz-passthru.     ; exception: answered normally (explicitly allowed)
    x.com               CNAME rpz-drop.         ; no answer at all
    linkedin.com        CNAME rpz-tcp-only.     ; answered over TCP only: not a block
    ning.com            A     10.0.0.80         ; local data: a private block page
    t.co                CNAME walled.example.   ; local data: redirected to a walled garden

So Facebook and X are blocked, m.facebook.com is explicitly allowed, www.twitter.com is blocked
(twitter.com itself is not), LinkedIn resolves, Ning and t.co are redirected. An A/AAAA answer
is judged as every DNS dialect judges one (semantics/answers.py): a sinkhole, a private address
or another service's address blocks, the service's own address is a pin (`allowed`), and any
other public address is `unknown` (clients connect there: an unblocking proxy, or a public
block page, cannot be told apart from the zone); a CNAME to a name of the same
service (twitter.com -> x.com) is not a block. The legacy passthru form, a CNAME to the owner's
own name (`www.example.com CNAME www.example.com.`), is honoured.

Precedence within one zone: an exact owner beats a wildcard; among wildcards the one nearest the
name wins (`*.www.facebook.com` before `*.facebook.com`). Client-IP triggers
(`<prefix>.<reversed address>.rpz-client-ip`) come before QNAME triggers in BIND's order: they
split clients into audiences (a CNAME . for 10.1.0.0/16 blocks everything for those clients,
a passthru exempts them). Response-IP (`rpz-ip`), `rpz-nsip` and `rpz-nsdname` triggers do not
decide names: when one covers addresses or name servers the catalog places in a service, the
service's names become `unknown` (with a note); otherwise they are ignored.

unbound applies the same files with its own rules (`flavour="unbound"`, used by the unbound
dialect): the first record of a name sets the action, a CNAME to another `rpz-*` name is skipped,
the legacy passthru is not known, and wildcards follow unbound's tree order (see unbound's
docstring).

The zone's origin comes from, in order: the caller (unbound's `name:`), a `zone "..." { file
"..."; }` statement of a named.conf next to the file or under --root (with the
`response-policy { zone "..." policy ...; }` override, if any), the SOA owner, or the common
suffix of owner names written as absolute names (`facebook.com.rpz.` in a file whose SOA is
`@`). `$ORIGIN` works as in BIND; `$INCLUDE` files are read inside --root only, loop-safe
(TE904), missing ones are TE903 and make the service names no trigger of the zone names `unknown`. Records BIND would refuse (syntax errors, CNAME beside other
data, out-of-zone names) are TE901 with their line; parsing resumes on the next record.

The package: `model.py` (triggers, actions, the zone's lookup), `parse.py` (the zone file and its
origin into a model.RpzZone; `detect`), `evaluate.py` (actions into decisions; the ruleset),
`stream.py` (a zone over 1 MiB whose origin is not known yet: the plain one-line records no probe
can meet are counted without being parsed; every other line is read as above).
"""

from __future__ import annotations

from pathlib import Path

from policy_lint.dialects.dns.rpz.evaluate import (
    RpzRuleset,
    client_netblocks,
    missing_include,
    other_trigger_note,
    representative,
    trigger_decision,
)
from policy_lint.dialects.dns.rpz.model import CappedProblems, RpzZone
from policy_lint.dialects.dns.rpz.parse import FILE_PATTERNS, NAME, detect, load_zone, policy_word
from policy_lint.dialects.semantics.base import ParseContext
from policy_lint.model import Problem, Span

# The registry's names (NAME, FILE_PATTERNS, detect, parse) and what the unbound dialect uses.
__all__ = [
    "FILE_PATTERNS",
    "NAME",
    "CappedProblems",
    "RpzRuleset",
    "RpzZone",
    "client_netblocks",
    "detect",
    "load_zone",
    "missing_include",
    "other_trigger_note",
    "parse",
    "policy_word",
    "representative",
    "trigger_decision",
]


# Defined after the imports above on purpose: it rebinds the package attribute `parse` from the
# submodule parse.py (bound as a side effect of importing it) to this function, the registry's
# entry point. Import the submodule's names with `from ...rpz.parse import X`.
def parse(path: Path, context: ParseContext) -> RpzRuleset:
    zone = load_zone(path, context)
    if not zone.triggers and not zone.others and zone.records == 0 and not zone.problems:
        zone.problems.append(Problem("TE901", Span(zone.path, 1, 1), "no records: an empty zone file"))
    return RpzRuleset(zone, context.catalog)

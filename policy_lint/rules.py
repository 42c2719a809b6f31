"""The registry of finding codes. A code never changes meaning once released.

TE1xx: a service is blocked, degraded or throttled (which, for whom).
TE2xx: fragile or risky configuration around the services, and policy housekeeping.
TE9xx: input problems (the linter could not read or decide something).
Each entry documents what it flags, why it matters for Technology Enablement, and how to fix.
"""

from __future__ import annotations

from dataclasses import dataclass

from policy_lint.model import Severity
from policy_lint.records import FrozenRecord


@dataclass(frozen=True, eq=False, repr=False)
class Code(FrozenRecord):
    code: str
    name: str
    summary: str
    why: str
    fix: str
    severity: Severity


_CODES = [
    Code(
        "TE101",
        "service-blocked",
        "A service is blocked for everyone the config governs.",
        "Technology Enablement means people can reach the platforms they work with; a blanket "
        "block turns IT into a gatekeeper.",
        "Remove the rule (or the service's names from its list), or record an accepted, expiring "
        "exception in the policy.",
        Severity.ERROR,
    ),
    Code(
        "TE102",
        "service-blocked-partial",
        "A service is blocked for some audiences, times, ports, or on some of its own hosts.",
        "A block for some groups or hours is still a block for those people, and a block of some "
        "of a service's hosts (twitter.com but not x.com) breaks it unpredictably.",
        "Remove the rule, or record the audience as an accepted exception in the policy.",
        Severity.ERROR,
    ),
    Code(
        "TE103",
        "service-degraded",
        "A supporting domain of a service (CDN, API, login, short links) is blocked.",
        "The site loads without images, video, login or links: a quiet block that users "
        "experience as a broken tool.",
        "Unblock the supporting domain (e.g. fbcdn.net, twimg.com, licdn.com, t.co).",
        Severity.WARNING,
    ),
    Code(
        "TE104",
        "service-throttled",
        "A service is throttled (delay pools, bandwidth limits).",
        "Throttling a service to make it unusable is gatekeeping by other means.",
        "Remove the service from the delay pool or shaping rule.",
        Severity.WARNING,
    ),
    Code(
        "TE105",
        "all-web-denied",
        "The config denies all web access to everyone it governs.",
        "Nothing gets through, so the services are blocked too; usually an allow-list proxy.",
        "If this is intended (an allow-list), add the services to the allow-list.",
        Severity.ERROR,
    ),
    Code(
        "TE106",
        "verdict-unknown",
        "Whether a service is blocked could not be decided.",
        "An undecided verdict is never a pass: the answer depends on data the linter cannot see "
        "(a list file that is not in the repository, a URL rewriter, a regex that ran out of time).",
        "Add the missing file to the repository (or point --root at it), or simplify the rule.",
        Severity.WARNING,
    ),
    Code(
        "TE201",
        "hygiene-only-block",
        "Only a service's ad, analytics, tracking or widget endpoints are blocked.",
        "This is privacy hygiene and leaves the site working; reported so auditors see it was considered.",
        "Nothing to fix.",
        Severity.INFO,
    ),
    Code(
        "TE202",
        "unused-acl-names-service",
        "A definition names a service but no rule uses it.",
        "Dead rules that name a service mislead readers and become blocks the day someone references them.",
        "Delete the unused definition.",
        Severity.INFO,
    ),
    Code(
        "TE203",
        "expired-exception",
        "A policy exception has passed its expiry date.",
        "Exceptions are accepted for a time; an expired one no longer covers the block it described.",
        "Renew the exception with a new date and reason, or remove the block.",
        Severity.WARNING,
    ),
    Code(
        "TE204",
        "unused-suppression",
        "A `policy-lint: disable=` comment silences nothing.",
        "Stale suppressions hide the next real block on that line and mislead reviewers.",
        "Delete the comment, or correct the codes it names.",
        Severity.WARNING,
    ),
    Code(
        "TE205",
        "stale-baseline-entry",
        "A baseline entry no longer matches any finding.",
        "The problem it recorded is gone; keeping the entry would hide it if it came back.",
        "Regenerate the baseline with --write-baseline.",
        Severity.INFO,
    ),
    Code(
        "TE208",
        "content-filter",
        "Content filtering (phrase lists, page scanning) is configured.",
        "Content filters judge pages by what they contain, not by which service serves them; "
        "they can still block a service's pages when a phrase names it.",
        "Review the phrase lists for names of the services; nothing to fix otherwise.",
        Severity.INFO,
    ),
    Code(
        "TE209",
        "quic-only-block",
        "Only QUIC (UDP 443) is dropped.",
        "Browsers fall back to HTTPS over TCP when QUIC is blocked, so the services stay "
        "reachable: this is no block, and is reported so auditors see it was considered.",
        "Nothing to fix; remove the rule if HTTP/3 is wanted.",
        Severity.INFO,
    ),
    Code(
        "TE901",
        "config-error",
        "The config has an error the device itself would refuse.",
        "The device may not run this config at all, so the verdicts describe a config that is "
        "not what is deployed.",
        "Fix the line as the message says.",
        Severity.ERROR,
    ),
    Code(
        "TE902",
        "unreadable-input",
        "Part of the input could not be read as text (or none of it: then the file gets no verdict).",
        "Skipped text could hold rules that block a service; a file of which the dialect understood "
        "no statement (a hosts file checked as squid, an XML file that refuses to be parsed) says "
        "nothing about the services, so it is an input error, never a pass.",
        "Save the file as UTF-8 text and keep lines shorter than 1 MiB; for a file nothing of which "
        "was understood, name its kind with --dialect (see `check --help`).",
        Severity.WARNING,
    ),
    Code(
        "TE903",
        "missing-reference",
        "A file the config references is not in the repository.",
        "The verdicts that depend on it cannot be decided (or rest on the assumption stated).",
        "Add the file under the lint root, or pass --root pointing at a tree that has it.",
        Severity.WARNING,
    ),
    Code(
        "TE904",
        "include-loop",
        "Includes loop or nest too deep.",
        "The device would refuse or mis-read such a config.",
        "Break the include cycle.",
        Severity.ERROR,
    ),
    Code(
        "TE905",
        "bad-pattern",
        "A regular expression is invalid or ran out of time.",
        "The device may reject it or behave unlike intended; the linter cannot decide what it matches.",
        "Fix or simplify the pattern.",
        Severity.WARNING,
    ),
    Code(
        "TE906",
        "audiences-sampled",
        "Too many client conditions to evaluate every combination.",
        "Verdicts rest on a sample of audiences and may miss a combination.",
        "Simplify the client conditions, or lint smaller includes.",
        Severity.INFO,
    ),
    Code(
        "TE907",
        "external-decider",
        "A program outside the config decides some requests.",
        "A URL rewriter other than squidGuard (or a squidGuard whose config cannot be read), a "
        "script computing list lines at run time: the verdicts for what it decides are unknown.",
        "Add the program's configuration to the repository, or lint it separately.",
        Severity.WARNING,
    ),
    Code(
        "TE908",
        "not-modelled",
        "A directive, option or matcher changes what the device does in a way the linter does not evaluate.",
        "What the rule matches or does is unknown (a request header, a reply's type, a helper's "
        "answer; dnsmasq's cname=/host-record=, an adblock option such as $denyallow or $client), "
        "so the verdicts it could decide are unknown: never clean and never blocked.",
        "Check the named line by hand, or express the rule with what the dialect's documentation "
        "lists as evaluated (a domain, URL or address list).",
        Severity.WARNING,
    ),
    # The network view (policy_lint/network): verdicts per segment along the layers its traffic
    # passes. New codes because no per-file code says "for this segment, on this path".
    Code(
        "TE110",
        "network-verdict",
        "A service is blocked, degraded, throttled or undecided for a network segment along its path.",
        "Clients see the network, not one file: a block on any layer their traffic passes (DNS, "
        "proxy, firewall) blocks the service for them, whatever the other files say.",
        "Change the rule named (the layer that decided), or move the segment to a path without it.",
        Severity.ERROR,
    ),
    Code(
        "TE111",
        "layer-bypassed",
        "A layer's rule does not apply to a segment: its traffic does not pass that layer.",
        "A DNS block is void for clients that ask another resolver or connect by pinned address; "
        "a tunnel skips the layers after its entry. The file's verdict overstates what they see.",
        "Point the segment's DHCP at the filtering resolver, or block on a layer its traffic passes.",
        Severity.INFO,
    ),
]

CODES: dict[str, Code] = {c.code: c for c in _CODES}


def describe(code: str) -> str:
    c = CODES[code]
    return (
        f"{c.code} ({c.name}) - {c.summary}\n\nWhy it matters: {c.why}\n\nHow to fix: {c.fix}\n"
        f"\nDefault severity: {c.severity.value}\n"
    )

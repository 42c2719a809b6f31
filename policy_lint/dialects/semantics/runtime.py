"""Values a script computes at run time whose meaning is plain, answered from the service catalog.

A firewall script often fetches what it blocks: the prefixes an autonomous system announces, or
the addresses a service's name resolves to. Running the look-up is out of the question (no
network, no commands), but its meaning is plain, and the catalog holds the answer the linter
uses everywhere else:

    for net in $(whois -h whois.radb.net -- '-i origin AS32934' | grep ^route: | awk '{print $2}'); do
        iptables -A FORWARD -d "$net" -j DROP          # -> every IPv4 prefix the catalog has for AS32934
    done
    iptables -A OUTPUT -d "$(dig +short facebook.com)" -j DROP   # -> Facebook's representative addresses

Recognised: `whois ... -i origin ASn` (RADb/RIPE/RIS whois), RIPEstat `announced-prefixes` and
BGPView `/asn/N/prefixes` URLs fetched with curl/wget, and `dig`/`host`/`nslookup` of a name
the catalog places. Filters after the look-up (`grep`, `awk`, `cut`, `sed`, `sort`, `uniq`,
`tr`, `aggregate`, `jq`) are taken to extract the prefixes or addresses; `head`, `tail` or any
other command makes the value unknown (it may keep only some). An AS number or a name the
catalog does not hold, or one without prefixes, is unknown too: the caller keeps its TE907.
IPv4 prefixes are answered unless the pipeline asks for IPv6 (`route6`, `AAAA`, `ipv6`).

Downloads of a service's published prefix lists mean the same as the whois look-up of its
autonomous systems, since that is how they are made: ipverse/as-ip-blocks `as/N/...` (one AS),
lord-alfred/ipranges `<service>/ipv4.txt` and SecOps-Institute `<Service>IPLists` (every AS of
the service; their SOURCE notes in the team's data say how each is built). They are answered
with the catalog's prefixes of that AS or service, in the family the file name says.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable

from policy_lint.catalog import Catalog

_ASN_LOOKUP = re.compile(
    r"\bwhois\b.*\b(?:origin|-i\s+origin)\b.*?\bAS(\d+)\b"
    r"|stat\.ripe\.net/data/(?:announced-prefixes|ris-prefixes)/data\.json\?resource=AS(\d+)"
    r"|api\.bgpview\.io/asn/(?:AS)?(\d+)/prefixes"
    r"|\bwhois\b.*\bAS(\d+)\b.*\borigin\b",
    re.I,
)
_AS_LIST = re.compile(r"as-ip-blocks/(?:raw/)?(?:refs/heads/)?[\w.-]+/as/(\d+)/", re.I)
_SERVICE_LIST = re.compile(
    r"ipranges/(?:raw/)?(?:refs/heads/)?[\w.-]+/(facebook|twitter|linkedin)/ipv([46])(?:_merged)?\.txt"
    r"|(Facebook|Twitter|LinkedIn)IPLists/(?:raw/)?(?:refs/heads/)?[\w.-]+/\w+?_(ipv6|ipv4|ip)_?(?:cidr_blocks|list)",
    re.I,
)
_NAME_LOOKUP = {"dig", "host", "nslookup", "getent", "drill", "kdig"}
_FILTERS = {"grep", "egrep", "awk", "cut", "sed", "sort", "uniq", "tr", "aggregate", "jq", "xargs", "cat"}
_FETCHERS = {"curl", "wget", "whois"}
_V6 = re.compile(r"route6|\bAAAA\b|ipv6|-6\b", re.I)


def _commands(pipeline: str) -> list[list[str]] | None:
    try:
        return [shlex.split(part) for part in pipeline.split("|") if part.strip()]
    except ValueError:
        return None


def command_output(command: str, catalog: Catalog) -> list[str] | None:
    """What `command` (the text of a `$(...)`) would print, when the catalog knows; else None."""
    parts = _commands(command)
    if not parts or not all(parts):
        return None
    head, rest = parts[0], parts[1:]
    if any(p[0].rsplit("/", 1)[-1] not in _FILTERS for p in rest):
        return None
    v6 = bool(_V6.search(command))
    program = head[0].rsplit("/", 1)[-1]
    if program in _FETCHERS:
        words = " ".join(head)
        listed = _SERVICE_LIST.search(words)
        if listed:
            service = (listed.group(1) or listed.group(3)).lower()
            family = listed.group(2) or ("6" if listed.group(4).lower() == "ipv6" else "4")
            svc = catalog.services.get(service)
            nets = [str(n) for n in svc.networks if n.version == int(family)] if svc else []
            return nets or None
        m = _ASN_LOOKUP.search(words) or _AS_LIST.search(words)
        if not m:
            return None
        v6 = v6 or "ipv6" in words.lower()
        asn = int(next(g for g in m.groups() if g))
        nets = [
            str(n)
            for svc in catalog.services.values()
            for a in svc.asns
            if a.asn == asn
            for n in a.networks
            if n.version == (6 if v6 else 4)
        ]
        return nets or None
    if program in _NAME_LOOKUP:
        names = [w for w in head[1:] if not w.startswith(("-", "+", "@")) and "." in w]
        names = [w for w in names if w.upper() not in ("A", "AAAA")]
        if len(names) != 1:
            return None
        found = catalog.service_for_host(names[0])
        if found is None:
            return None
        addresses = [a for a in catalog.services[found[0]].addresses if (":" in a) == v6]
        return addresses or None
    return None


def substitution(catalog: Catalog) -> Callable[[str], str | None]:
    """A `$(...)` resolver for the shell model: the output as words, or None (run-time value)."""

    def substitute(command: str) -> str | None:
        out = command_output(command, catalog)
        return None if out is None else " ".join(out)

    return substitute

"""Destination addresses for packet filters: where a probe's packets go, and how much of a
service a set of address rules covers.

A firewall that matches on addresses never sees a hostname. What it sees is one of the
service's addresses, and which one depends on DNS at that moment. So a probe is evaluated
against *targets*: sample addresses taken from every prefix the catalog lists for the
service (`addresses.yaml`, per ASN, dated), in both families. The first, middle and last
address of each prefix are sampled, so a rule covering a quarter of a /14 does not count as
covering the /14.

The rule (README "Packet-filter semantics evaluated"):

- every IPv4 prefix of the service denied -> `deny` (the first denying rule). IPv4 decides
  because every client has it; when IPv6 prefixes stay open the note says so ("IPv4 only"), as
  the DNS dialects say "(IPv4 only)": a dual-stack network still reaches it;
- some IPv4 prefixes denied (or only IPv6 ones) -> `deny` with `partial=True` and a coverage
  note ("blocks 23 of 27 Facebook IPv4 prefixes, no IPv6 (catalog addresses 2026-01)"): the
  engine reports it as `blocked-partial`. However small the prefixes left open are, and
  whichever they are;
- none denied -> the decision for the representative address (allow or unknown).

Why every prefix counts, with no share of the space tolerated: a prefix left open could only be
discounted with data saying it serves none of the hostnames the catalog probes, and the catalog
has none. Its prefixes are BGP announcements (ipverse/as-ip-blocks, see the team's shared
data/sources/ipverse-as*-aggregated.SOURCE.txt) and IRR route objects (SecOps-Institute,
lord-alfred/ipranges, kept as a cross-check): they say what a service's networks announce, not
which of them answer for www.facebook.com. The shared data holds no DNS answers, and the
catalog's representative addresses are, as addresses.yaml says, a deterministic pick (first
host of the largest prefix), not DNS answers; so "the prefix holding the representative
address" is no better a measure of where users connect. The names are answered from several
prefixes, varying by resolver (GeoDNS; one published lookup, zaro.info "What is the DNS of
Facebook?", gives facebook.com in 157.240.192.0/18 and www.facebook.com in 31.13.64.0/18), and
the set changes between snapshots: of the 2026 announcements, 5 Facebook, 2 Twitter and 5
LinkedIn IPv4 prefixes lie outside every route of the February 2024 lists
(data/sources/secops-*_ip_list.txt), among them 103.20.92.0/22, LinkedIn's largest (16% of its
IPv4 space), while 66 Facebook routes of 2024 overlap no 2026 prefix. A block list copied from
an ASN some months ago that misses a newer prefix therefore leaves an address the names may
resolve to reachable: the verdict is partial, and the note counts the prefixes so the gap is
visible. When the catalog gains per-prefix evidence of what is served where (dated DNS answers
from many vantage points), that evidence can narrow the prefixes that count; a share of address
space cannot.

A service without prefixes in the catalog (Ning) has only its representative addresses, or
none: an address rule then cannot be judged to hit it, and only name-based matching (SNI,
payload strings, DNS entries) decides. The control probe's targets are the catalog's control
addresses.

Dialects call `decide_by_address(probe, catalog, decide_one)` with their own
`decide_one(target) -> Decision` that walks their chains for one destination address.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass, replace

from policy_lint.catalog import Catalog
from policy_lint.model import Decision, Outcome, Probe
from policy_lint.records import FrozenRecord

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
# Stand-ins for a service whose addresses the catalog does not hold (Ning): public unicast
# addresses in three distant /8s, none a catalog service's, a bogon or a public DNS resolver.
UNKNOWN_LOCATION = tuple(ipaddress.ip_address(a) for a in ("23.215.0.136", "151.101.0.223", "212.58.244.22"))
# The IPv6 counterpart of the control probe: documentation space, in no catalog service.
NEUTRAL_IPV6 = ipaddress.ip_address("2001:db8::80")


@dataclass(frozen=True, eq=False, repr=False)
class Target(FrozenRecord):
    """One destination address a probe's packets may go to."""

    address: IPAddress
    network: IPNetwork | None = None  # the catalog prefix this address samples (None: representative)
    asn: int | None = None

    @property
    def version(self) -> int:
        return self.address.version


def _samples(net: IPNetwork) -> tuple[IPAddress, ...]:
    if net.num_addresses <= 2:
        return (net.network_address,)
    first = net.network_address + 1
    last = net.broadcast_address - 1 if net.version == 4 else net.broadcast_address
    middle = net.network_address + net.num_addresses // 2
    return tuple(dict.fromkeys((first, middle, last)))


def _service_targets(catalog: Catalog, service: str | None) -> tuple[Target, ...]:
    if service is None:
        return tuple(Target(ipaddress.ip_address(a)) for a in catalog.control_addresses)
    svc = catalog.services.get(service)
    if svc is None:
        return ()
    out: list[Target] = []
    for asn in svc.asns:
        for net in asn.networks:
            out.extend(Target(a, net, asn.asn) for a in _samples(net))
    if not out:
        out = [Target(ipaddress.ip_address(a)) for a in svc.addresses]
    return tuple(out)


def targets(probe: Probe, catalog: Catalog) -> tuple[Target, ...]:
    """Where `probe`'s packets may go: samples of every catalog prefix of its service."""
    return _service_targets(catalog, probe.service)


def representative(probe: Probe, catalog: Catalog) -> tuple[IPAddress, ...]:
    """The addresses a hostname rule (`-d www.facebook.com`) resolves to, from the catalog."""
    return tuple(ipaddress.ip_address(a) for a in probe.addresses)


def family_name(version: int) -> str:
    return "IPv4" if version == 4 else "IPv6"


def coverage_note(service_name: str, covered: dict[int, tuple[int, int]], version: str) -> str:
    """`covered` maps address family -> (prefixes denied, prefixes known)."""
    parts = []
    for fam in (4, 6):
        done, total = covered.get(fam, (0, 0))
        if not total:
            continue
        if done == 0:
            parts.append(f"no {family_name(fam)}")
        elif done == total:
            parts.append(f"all {total} {family_name(fam)} prefixes")
        else:
            parts.append(f"{done} of {total} {service_name} {family_name(fam)} prefixes")
    text = "blocks " + ", ".join(parts) if parts else "blocks some addresses"
    return f"{text} (catalog addresses {version or 'undated'})"


def _without_blanket_ipv6_denial(decide_one: Callable[[Target], Decision]) -> Callable[[Target], Decision]:
    """A client denied IPv6 to anywhere (`block all` with inet-only pass rules) has no IPv6 and
    connects over IPv4 (happy eyeballs): that is no block of this service. Told apart from an
    IPv6 block of the service by a rule naming no networks that also denies a neutral address."""

    def decide(target: Target) -> Decision:
        d = decide_one(target)
        if (
            d.outcome == Outcome.DENY
            and target.version == 6
            and not d.specific
            and decide_one(Target(NEUTRAL_IPV6)).outcome == Outcome.DENY
        ):
            return Decision(Outcome.ALLOW, note="no IPv6 for this client: it connects over IPv4")
        return d

    return decide


def decide_by_address(probe: Probe, catalog: Catalog, decide_one: Callable[[Target], Decision]) -> Decision:
    """Evaluate `probe` at every target address and summarise the coverage (module docstring).

    A probe with no known address (a service without catalog prefixes) is evaluated at
    UNKNOWN_LOCATION: rules naming real networks do not match all of them, rules for any address do.
    """
    ts = targets(probe, catalog)
    if not ts:
        # Where the service lives is unknown: only a rule for (nearly) any address can be said
        # to hit it. Three public addresses far apart, all of which must be denied: a bogon,
        # country or CDN list holding one of them proves nothing about this service.
        samples = [decide_one(Target(a)) for a in UNKNOWN_LOCATION]
        if all(d.outcome == Outcome.DENY for d in samples):
            return samples[0]
        return next((d for d in samples if d.outcome == Outcome.UNKNOWN), None) or next(
            d for d in samples if d.outcome != Outcome.DENY
        )
    decide_one = _without_blanket_ipv6_denial(decide_one)
    decisions = [(t, decide_one(t)) for t in ts]
    denied = [(t, d) for t, d in decisions if d.outcome == Outcome.DENY]
    if not denied:
        unknown = [d for _t, d in decisions if d.outcome == Outcome.UNKNOWN]
        return unknown[0] if unknown else decisions[0][1]
    if len(denied) == len(decisions):
        return denied[0][1]
    # Coverage per prefix: a prefix counts as blocked when all its samples are denied.
    per_prefix: dict[tuple[int, IPNetwork | IPAddress], bool] = {}
    for t, d in decisions:
        key = (t.version, t.network or t.address)
        per_prefix[key] = per_prefix.get(key, True) and d.outcome == Outcome.DENY
    covered: dict[int, tuple[int, int]] = {}
    for (fam, _net), is_denied in per_prefix.items():
        done, total = covered.get(fam, (0, 0))
        covered[fam] = (done + int(is_denied), total + 1)
    svc = catalog.services.get(probe.service or "")
    name = svc.name if svc else (probe.service or "control")
    first = denied[0][1]
    v4_done, v4_total = covered.get(4, (0, 0))
    if v4_total and v4_done == v4_total:
        v6_done, v6_total = covered.get(6, (0, 0))
        note = coverage_note(name, covered, catalog.addresses_version)
        if v6_total and not v6_done:
            how = f"{first.how}, IPv4 only" if first.how else "IPv4 only"
            note = f"IPv4 only: {note}"
        else:
            how = first.how
        return replace(first, how=how, note=f"{first.note}; {note}" if first.note else note)
    note = coverage_note(name, covered, catalog.addresses_version)
    open_v4 = [d for t, d in decisions if t.version == 4 and d.outcome != Outcome.DENY]
    if open_v4 and all(d.outcome == Outcome.UNKNOWN for d in open_v4):
        # No IPv4 address is certainly reachable: every one not denied is undecided, so the
        # service may be blocked whole. Partial would be a guess.
        unsure = open_v4[0]
        note = f"{note}; whether the rest is reachable could not be decided"
        return replace(unsure, note=f"{unsure.note}; {note}" if unsure.note else note)
    return replace(first, partial=True, note=f"{first.note}; {note}" if first.note else note)


# `a.b.c.d[/n]` with no leading zeros in the octets: the spelling nearly every rule uses.
_PLAIN_IPV4 = re.compile(
    r"(0|[1-9][0-9]{0,2})\.(0|[1-9][0-9]{0,2})\.(0|[1-9][0-9]{0,2})\.(0|[1-9][0-9]{0,2})"
    r"(?:/([0-9]{1,2}))?"
)


def plain_ipv4_network(text: str) -> ipaddress.IPv4Network | None:
    """`text` as `ipaddress.ip_network(text, strict=False)` reads it when it is a plain
    `a.b.c.d[/n]`, built from integers (ipaddress's string parsing is most of the time of reading
    a 200,000-rule file); None for any other spelling, which the caller gives to ip_network
    (so leading zeros, netmask forms and errors are judged by ipaddress itself)."""
    bounds = plain_ipv4_bounds(text)
    return None if bounds is None else ipaddress.IPv4Network(bounds)


def plain_ipv4_bounds(text: str) -> tuple[int, int] | None:
    """`text` as (network address, prefix length) integers when `plain_ipv4_network` would read
    it (host bits cleared, as strict=False does), without building the `ipaddress` object (a
    network object per rule is most of a 200,000-rule file's memory); None otherwise."""
    m = _PLAIN_IPV4.fullmatch(text)
    if m is None:
        return None
    a, b, c, d, plen = m.groups()
    ia, ib, ic, id_ = int(a), int(b), int(c), int(d)
    bits = 32 if plen is None else int(plen)
    if ia > 255 or ib > 255 or ic > 255 or id_ > 255 or bits > 32:
        return None
    address = (ia << 24) | (ib << 16) | (ic << 8) | id_
    return address & ~((1 << (32 - bits)) - 1), bits


def nets_overlap(a: IPNetwork, b: IPNetwork) -> bool:
    """`a.overlaps(b)` from the networks' integers: ipaddress's overlaps() caches a
    broadcast_address and a hostmask on every network it touches (two address objects each,
    ~30 MB over a 200,000-rule file's networks)."""
    if a.version != b.version:
        return False
    lo_a, lo_b = int(a.network_address), int(b.network_address)
    hi_a = lo_a + (1 << (a.max_prefixlen - a.prefixlen)) - 1
    hi_b = lo_b + (1 << (b.max_prefixlen - b.prefixlen)) - 1
    return lo_a <= hi_b and lo_b <= hi_a

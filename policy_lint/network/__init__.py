"""The network view: a repository is a network, not a pile of files.

A segment is a set of clients (CIDRs, zones, interfaces, groups) and the ordered layers its
traffic passes (endpoint policies -> DNS -> proxy -> firewalls). Segments come from the
settings file's `network:` section (`segments.py`) and from what the configs say (`links.py`:
DHCP ranges and the resolver they hand out). `compose.py` turns the per-file, per-audience
results into one verdict per segment and service; `render.py` prints the table and the JSON.

File-level verdicts stay what they are: the network verdict is added beside them, only when
the repository declares or implies segments (otherwise every output is unchanged).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from policy_lint.catalog import Catalog
from policy_lint.engine import Report
from policy_lint.model import Finding
from policy_lint.policy import Policy

if TYPE_CHECKING:
    from policy_lint.network.compose import Network
    from policy_lint.network.segments import Segment

__all__ = ["Network", "Segment", "attach", "segments_for"]


def __getattr__(name: str) -> Any:
    """`Network` on first use (PEP 562): compose.py is imported only when it is needed."""
    if name == "Network":
        from policy_lint.network.compose import Network

        return Network
    if name == "Segment":
        from policy_lint.network.segments import Segment

        return Segment
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def segments_for(
    report: Report, settings_file: str, root: Path | None, catalog: Catalog | None = None
) -> list[Segment]:
    """Declared segments, then inferred ones whose name no declared segment takes; each with
    the policy routing (catalog given) that covers its clients."""
    from policy_lint.network.links import infer_segments, routed_segment, with_intercepts
    from policy_lint.network.routing import find_routes
    from policy_lint.network.segments import Tunnel, load_segments

    declared = [with_intercepts(s, report) for s in load_segments(settings_file)]
    names = {s.name for s in declared}
    declared_names = {n.lower() for s in declared for n in s.names}
    # A declaration corrects an inference: an inferred segment of a declared name, or whose
    # clients lie inside a declared segment's, is the user's to describe.
    declared_nets = [n for s in declared for n in s.networks]
    inferred = [
        s
        for s in infer_segments(report, root)
        if s.name not in names
        and not (s.names and not s.networks and all(n.lower() in declared_names for n in s.names))
        and not (
            s.networks
            and all(any(n.version == d.version and n.subnet_of(d) for d in declared_nets) for n in s.networks)  # type: ignore[arg-type]
        )
    ]
    segments = declared + inferred
    if catalog is None:
        return segments
    routes = find_routes(report, root, catalog)
    # Policy routing for clients no segment holds implies a segment of its own.
    for r in routes:
        if (r.sources or r.interfaces) and not any(r.covers(s.networks, s.names) for s in segments):
            segments.append(routed_segment(report, r.sources, r.interfaces, r.span))
    out = []
    for seg in segments:
        covering = tuple(
            Tunnel(r.services, r.via or "an unknown route", (), r.span, r.path, r.unresolved)
            for r in routes
            if r.covers(seg.networks, seg.names)
        )
        out.append(replace(seg, routes=covering) if covering else seg)
    return out


def attach(
    report: Report,
    settings_file: str,
    root: Path | None,
    catalog: Catalog,
    policy: Policy,
    today: dt.date | None = None,
) -> None:
    """Add the network view to `report` (its verdicts and findings) when there are segments."""
    if not _may_have_segments(report, settings_file):
        return
    segments = segments_for(report, settings_file, root, catalog)
    if not segments:
        return
    # Composing is imported only for a repository with segments: most lints have none, and the
    # import was a few milliseconds of every start-up (issue #20).
    from policy_lint.network.compose import compose

    network = compose(report, segments, catalog, policy)
    report.network = network
    accepted = [f for f in network.findings if _excepted(f, segments, policy, today or dt.date.today())]
    report.findings = report.findings + [f for f in network.findings if f not in accepted]
    report.accepted = report.accepted + accepted


# The dialects whose files can imply a segment (links.infer_segments), hold an interception
# rule (intercept.SCANNERS) or mark traffic for policy routing (routing.MARKERS);
# tests/network/test_network.py checks that it holds each of them.
SEGMENT_DIALECTS = frozenset(
    {"pihole", "mikrotik", "dnsmasq", "unbound", "iptables", "nftables", "pf", "pfsense"}
)


def _may_have_segments(report: Report, settings_file: str) -> bool:
    """False when segments_for certainly finds none: segments are declared only in a
    `.policy-lint.yaml`, inferred only from the files of SEGMENT_DIALECTS or a skipped file (a
    DHCP server's), and routes come only from SEGMENT_DIALECTS. A lint of anything else then
    skips importing the network modules, ~5 ms of each start-up (issue #20)."""
    return (
        Path(settings_file).name == ".policy-lint.yaml"
        or bool(report.skipped)
        or any(fr.dialect in SEGMENT_DIALECTS for fr in report.files)
    )


def _excepted(f: Finding, segments: list[Segment], policy: Policy, today: dt.date) -> bool:
    """A TE110 block the policy accepts: an active exception for the service whose audience is
    everyone, or whose networks hold every CIDR of the segment."""
    if f.code != "TE110" or not f.service or not f.audiences:
        return False
    seg = next((s for s in segments if s.name == f.audiences[0]), None)
    if seg is None:
        return False
    for e in policy.exceptions:
        if e.service != f.service or e.expired(today) or e.audience not in policy.audiences:
            continue
        named = policy.audiences[e.audience]
        if named.name == "everyone":
            return True
        if seg.networks and all(
            any(n.version == x.version and n.subnet_of(x) for x in named.networks) for n in seg.networks
        ):
            return True
    return False

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

from dataclasses import replace
from pathlib import Path

from policy_lint.catalog import Catalog
from policy_lint.engine import Report
from policy_lint.network.compose import Network, compose
from policy_lint.network.links import infer_segments, routed_segment, with_intercepts
from policy_lint.network.routing import find_routes
from policy_lint.network.segments import Segment, Tunnel, load_segments
from policy_lint.policy import Policy

__all__ = ["Network", "Segment", "attach", "segments_for"]


def segments_for(
    report: Report, settings_file: str, root: Path | None, catalog: Catalog | None = None
) -> list[Segment]:
    """Declared segments, then inferred ones whose name no declared segment takes; each with
    the policy routing (catalog given) that covers its clients."""
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


def attach(report: Report, settings_file: str, root: Path | None, catalog: Catalog, policy: Policy) -> None:
    """Add the network view to `report` (its verdicts and findings) when there are segments."""
    segments = segments_for(report, settings_file, root, catalog)
    if not segments:
        return
    network = compose(report, segments, catalog, policy)
    report.network = network
    report.findings = report.findings + network.findings

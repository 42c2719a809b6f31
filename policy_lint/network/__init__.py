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

from pathlib import Path

from policy_lint.catalog import Catalog
from policy_lint.engine import Report
from policy_lint.network.compose import Network, compose
from policy_lint.network.links import infer_segments, with_intercepts
from policy_lint.network.segments import Segment, load_segments
from policy_lint.policy import Policy

__all__ = ["Network", "Segment", "attach", "segments_for"]


def segments_for(report: Report, settings_file: str, root: Path | None) -> list[Segment]:
    """Declared segments, then inferred ones whose name no declared segment takes."""
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
    return declared + inferred


def attach(report: Report, settings_file: str, root: Path | None, catalog: Catalog, policy: Policy) -> None:
    """Add the network view to `report` (its verdicts and findings) when there are segments."""
    segments = segments_for(report, settings_file, root)
    if not segments:
        return
    network = compose(report, segments, catalog, policy)
    report.network = network
    report.findings = report.findings + network.findings

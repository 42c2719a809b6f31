"""The network view as text (a segment x service table) and as JSON contract v1's additive
`network` key:

    {"segments": [{"name", "clients", "origin", "path": [file...],
                   "services": {"<service>": {"verdict", "decided_by": {"path", "line", "text"} | null,
                                              "layers": [{"path", "role", "verdict", "note"}]}}}]}

A layer's verdict is a file verdict for the segment, or `bypassed` (its traffic does not pass
that layer for this service: a resolver elsewhere, a pinned address, a tunnel).
"""

from __future__ import annotations

from typing import Any

from policy_lint.network.compose import Network, SegmentResult


def to_json(network: Network) -> dict[str, Any]:
    return {"segments": [_segment(s) for s in network.segments]}


def _segment(s: SegmentResult) -> dict[str, Any]:
    return {
        "name": s.segment.name,
        "clients": list(s.segment.clients),
        "origin": s.segment.origin,
        "path": s.files,
        "services": {
            sid: {
                "verdict": o.verdict.value,
                "decided_by": (
                    {"path": o.decided_by.path, "line": o.decided_by.line, "text": o.decided_by.text}
                    if o.decided_by
                    else None
                ),
                "layers": [
                    {"path": x.path, "role": x.role, "verdict": x.verdict, "note": x.note} for x in o.layers
                ],
            }
            for sid, o in s.services.items()
        },
    }


def table(network: Network) -> list[str]:
    """'network: segment x service' and one row per segment, columns aligned."""
    if not network.segments:
        return []
    services = list(network.segments[0].services)
    rows = [["segment", "clients", *services]]
    for s in network.segments:
        rows.append(
            [s.segment.name, s.segment.describe_clients(), *(o.verdict.value for o in s.services.values())]
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    out = ["network verdicts (segment x service, along each segment's path):"]
    for r in rows:
        out.append("  " + "  ".join(f"{c:<{w}}" for c, w in zip(r, widths, strict=True)).rstrip())
    return out


def walk(network: Network, segment: str, sid: str, name: str) -> str:
    """`explain SERVICE DIR --segment NAME`: the layers of one segment's path, in order."""
    found = next((s for s in network.segments if s.segment.name == segment), None)
    if found is None:
        known = ", ".join(s.segment.name for s in network.segments) or "none"
        raise KeyError(f"no segment {segment!r} (known: {known})")
    seg = found.segment
    o = found.services[sid]
    lines = [f"segment {seg.name} ({seg.describe_clients()}, {seg.origin} at {seg.span.where()}): {name}"]
    if seg.resolver:
        lines.append(f"  resolver: {seg.resolver}")
    for i, x in enumerate(o.layers, 1):
        if x.verdict == "bypassed":
            rule = f" ({x.rule.where()}: {x.rule.text} does not apply)" if x.rule else ""
        else:
            rule = f" by {x.rule.where()}: {x.rule.text}" if x.rule else ""
        note = f" ({x.note})" if x.note else ""
        lines.append(f"  {i}. {x.role:<8} {x.path}: {x.verdict}{rule}{note}")
    decided = f" (decided at {o.decided_by.where()}: {o.decided_by.text})" if o.decided_by else ""
    lines.append(f"  => network verdict: {o.verdict.value}{decided}")
    return "\n".join(lines) + "\n"

"""Text output in the shape ruff and gcc taught users: `path:line:col: CODE message [service]`,
the trace indented below, then one verdict line per file."""

from __future__ import annotations

from policy_lint.engine import Report
from policy_lint.model import Finding


def _finding(f: Finding, with_trace: bool) -> list[str]:
    tag = f" [{f.service}]" if f.service else ""
    lines = [f"{f.span.where()}: {f.code} {f.message}{tag}"]
    if with_trace:
        for s in f.trace:
            if s != f.span:
                lines.append(f"    = {s.where()}: {s.text}")
    return lines


def render(report: Report, with_trace: bool = True, summary: bool = True) -> str:
    out: list[str] = []
    for f in report.findings:
        out += _finding(f, with_trace)
    if summary:
        for fr in report.files:
            verdicts = " ".join(f"{sid}={r.verdict.value}" for sid, r in fr.services.items())
            out.append(f"{fr.path} ({fr.dialect}): {verdicts}")
        for f in report.accepted:
            out.append(f"accepted by policy exception: {f.span.where()}: {f.code} {f.message}")
        n = len(report.findings)
        out.append(f"Found {n} finding{'s' if n != 1 else ''}." if n else "No findings.")
    return "\n".join(out) + "\n"

"""Text output in the shape ruff and gcc taught users: `path:line:col: CODE message [service]`,
the trace indented below, then one verdict line per file. Colour only when asked for (the CLI
decides: a TTY, `--color`, NO_COLOR)."""

from __future__ import annotations

from collections import Counter

import click

from policy_lint.engine import Report
from policy_lint.model import Finding
from policy_lint.rules import CODES

CODE_COLOURS = {"error": "red", "warning": "yellow", "info": "cyan"}


def _finding(f: Finding, with_trace: bool, color: bool) -> list[str]:
    def style(text: str, **kw) -> str:
        return click.style(text, **kw) if color else text

    tag = f" [{f.service}]" if f.service else ""
    lines = [
        f"{style(f.span.where(), bold=True)}: {style(f.code, fg=CODE_COLOURS[f.severity.value], bold=True)}"
        f" {f.message}{style(tag, dim=True) if tag else ''}"
    ]
    if with_trace:
        for s in f.trace:
            if s != f.span:
                lines.append(style(f"    = {s.where()}: {s.text}", dim=True))
    return lines


def skipped_line(report: Report, most: int = 5) -> str:
    """'skipped 3 files of unknown kind: a, b, c (use --dialect)'."""
    paths = [s.path for s in report.skipped]
    shown = ", ".join(paths[:most]) + (f" and {len(paths) - most} more" if len(paths) > most else "")
    n = len(paths)
    return f"skipped {n} file{'s' if n != 1 else ''} of unknown kind: {shown} (use --dialect)"


def render(
    report: Report,
    with_trace: bool = True,
    summary: bool = True,
    color: bool = False,
    statistics: bool = False,
) -> str:
    out: list[str] = []
    for f in report.findings:
        out += _finding(f, with_trace, color)
    if statistics:
        counts = Counter(f.code for f in report.findings)
        for code, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
            out.append(f"{n:5}  {code}  {CODES[code].name}")
    if summary:
        for fr in report.files:
            verdicts = " ".join(f"{sid}={r.verdict.value}" for sid, r in fr.services.items())
            reading = f", {fr.rendering}" if fr.rendering else ""
            out.append(f"{fr.path} ({fr.dialect}{reading}): {verdicts}")
        if report.network is not None:
            from policy_lint.network.render import table

            out += table(report.network)
        for f in report.accepted:
            out.append(f"accepted by policy exception: {f.span.where()}: {f.code} {f.message}")
        if report.suppressed:
            out.append(f"{len(report.suppressed)} finding(s) suppressed by comments or the baseline.")
        if report.skipped:
            out.append(skipped_line(report))
        n = len(report.findings)
        found = f"Found {n} finding{'s' if n != 1 else ''}."
        if report.errors:
            # Never "No findings." when an input could not be linted: nothing was said about it.
            k = len(report.errors)
            found += f" {k} input{'s' if k != 1 else ''} could not be linted (errors on stderr)."
        out.append(found if n or report.errors else "No findings.")
    return "\n".join(out) + ("\n" if out else "")

"""GitHub Actions workflow commands: each finding becomes an annotation on the pull request.
Chosen automatically when GITHUB_ACTIONS=true and no format is given."""

from __future__ import annotations

from policy_lint.engine import Report
from policy_lint.report.text import skipped_line

COMMANDS = {"error": "error", "warning": "warning", "info": "notice"}


def _data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _prop(text: str) -> str:
    return _data(text).replace(":", "%3A").replace(",", "%2C")


def render(report: Report) -> str:
    out = []
    for f in report.findings:
        title = f.code + (f" {f.service}" if f.service else "")
        trace = "".join(f"\n= {s.where()}: {s.text}" for s in f.trace if s != f.span)
        out.append(
            f"::{COMMANDS[f.severity.value]} file={_prop(f.span.path)},line={max(f.span.line, 1)},"
            f"col={max(f.span.col, 1)},title={_prop(title)}::{_data(f.message + trace)}"
        )
    for err in report.errors:
        out.append(f"::error title=policy-lint::{_data(err)}")
    if report.skipped:
        out.append(f"::notice title=policy-lint::{_data(skipped_line(report, most=20))}")
    return "\n".join(out) + ("\n" if out else "")

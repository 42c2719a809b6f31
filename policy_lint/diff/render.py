"""A comparison in the formats reviewers read: text with +/- markers, JSON (contract below),
SARIF and GitHub annotations with only the introduced findings (what code scanning should show
on a pull request), and Markdown for a pull-request comment.

JSON, version 1:
{"version": 1, "base": REV, "head": REV,
 "changes": [{"kind", "path", "service", "audience", "segment", "before", "after",
              "rule": {"path", "line", "text"} | null, "code", "message", "marker"}],
 "errors": ["inputs of the head side that could not be linted and could be before"],
 "files": N, "reused": N}
`kind` is `verdict` (before/after are verdicts; null: no such file), `introduced` or `resolved`
(before/after are "" or the finding's code).
"""

from __future__ import annotations

import json

from policy_lint.diff.compare import Change, Comparison
from policy_lint.engine import Report
from policy_lint.model import Span

FORMATS = ("text", "json", "sarif", "github", "markdown")


def render(fmt: str, result: Comparison) -> str:
    if fmt == "json":
        return _json(result)
    if fmt == "markdown":
        return _markdown(result)
    if fmt in ("sarif", "github"):
        from importlib import import_module

        return import_module(f"policy_lint.report.{fmt}").render(Report(findings=list(result.introduced)))
    return _text(result)


def _where(span: Span | None) -> str:
    return span.where() if span else "(built-in default)"


def _text(result: Comparison) -> str:
    lines = [f"policy-lint diff {result.base} -> {result.head}"]
    for c in result.changes:
        if c.kind == "verdict":
            code = f" [{c.code}]" if c.code else ""
            lines.append(f"{c.marker} {_where(c.rule)}: {c.message} ({c.audience}){code}")
            if c.rule and c.rule.text:
                lines.append(f"      {c.rule.text.strip()}")
    for c in result.changes:
        if c.kind != "verdict":
            lines.append(f"{c.marker} {_where(c.rule)}: {c.code} {c.message}")
    for error in result.new_errors:
        lines.append(f"+ error: {error}")
    introduced = len(result.introduced)
    lines.append(
        f"{len([c for c in result.changes if c.kind == 'verdict'])} verdict change(s), "
        f"{introduced} finding(s) introduced, {len(result.resolved)} resolved "
        f"({result.files} file(s); {result.reused} reused from {result.base})"
    )
    return "\n".join(lines) + "\n"


def _change(c: Change) -> dict:
    return {
        "kind": c.kind,
        "path": c.path,
        "service": c.service,
        "audience": c.audience,
        "segment": c.segment,
        "before": c.before,
        "after": c.after,
        "rule": {"path": c.rule.path, "line": c.rule.line, "text": c.rule.text} if c.rule else None,
        "code": c.code,
        "message": c.message,
        "marker": c.marker,
    }


def _json(result: Comparison) -> str:
    doc = {
        "version": 1,
        "base": result.base,
        "head": result.head,
        "changes": [_change(c) for c in result.changes],
        "errors": result.new_errors,
        "files": result.files,
        "reused": result.reused,
    }
    return json.dumps(doc, indent=2) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _markdown(result: Comparison) -> str:
    out = [f"### policy-lint: `{result.base}` -> `{result.head}`", ""]
    verdicts = [c for c in result.changes if c.kind == "verdict"]
    if not result.changes and not result.new_errors:
        out.append("No change to any service's verdict, and no finding introduced or resolved.")
        return "\n".join(out) + "\n"
    if verdicts:
        out += ["| | service | audience | before | after | rule |", "|---|---|---|---|---|---|"]
        for c in verdicts:
            rule = f"`{_cell(c.rule.where())}` `{_cell(c.rule.text.strip())}`" if c.rule else "built-in"
            out.append(
                f"| {c.marker} | {c.service} | {_cell(c.audience)} | {c.before or '(no file)'} "
                f"| {c.after or '(no file)'} | {rule} |"
            )
        out.append("")
    for title, kind in (("Introduced", "introduced"), ("Resolved", "resolved")):
        items = [c for c in result.changes if c.kind == kind]
        if items:
            out.append(f"**{title}**")
            out += [f"- `{c.code}` `{_cell(_where(c.rule))}`: {_cell(c.message)}" for c in items]
            out.append("")
    for error in result.new_errors:
        out.append(f"- error: {_cell(error)}")
    return "\n".join(out).rstrip() + "\n"

"""The JSON contract (version 1), read by other tools and by our own corpus scoring.

{"version": 1,
 "files": [{"path", "dialect", "services": {"<service>": {"verdict", "audiences", "rules": [{"path", "line", "text"}]}}}],
           plus "rendering" ("host p1", "hosts p2, p3") when a container renders the file per target,
 "findings": [{"code", "severity", "path", "line", "column", "service", "message", "audiences", "trace"}],
 "accepted": [...findings covered by a policy exception...],
 "suppressed": [...findings silenced by a suppression comment or the baseline...],
 "errors": ["one line per input that could not be linted"],
 "skipped": [{"path", "reason"}: files a directory scan could not identify, not linted],
 "network": {...}: only when the repository declares or implies segments (see
            policy_lint/network/render.py)}
"""

from __future__ import annotations

import json

from policy_lint.engine import Report
from policy_lint.model import Finding, Span


def _span(span: Span) -> dict:
    return {"path": span.path, "line": span.line, "column": span.col, "text": span.text}


def _finding(f: Finding) -> dict:
    return {
        "code": f.code,
        "severity": f.severity.value,
        "path": f.span.path,
        "line": f.span.line,
        "column": f.span.col,
        "service": f.service,
        "message": f.message,
        "audiences": list(f.audiences),
        "trace": [_span(s) for s in f.trace],
    }


def render(report: Report) -> str:
    doc = {
        "version": 1,
        "files": [
            {
                "path": fr.path,
                "dialect": fr.dialect,
                **({"rendering": fr.rendering} if fr.rendering else {}),
                "services": {
                    sid: {
                        "verdict": r.verdict.value,
                        "audiences": r.audiences,
                        "rules": [{"path": s.path, "line": s.line, "text": s.text} for s in r.rules],
                    }
                    for sid, r in fr.services.items()
                },
            }
            for fr in report.files
        ],
        "findings": [_finding(f) for f in report.findings],
        "accepted": [_finding(f) for f in report.accepted],
        "suppressed": [_finding(f) for f in report.suppressed],
        "errors": report.errors,
        "skipped": [{"path": s.path, "reason": s.reason} for s in report.skipped],
    }
    if report.network is not None:
        from policy_lint.network.render import to_json

        doc["network"] = to_json(report.network)
    return json.dumps(doc, indent=2) + "\n"

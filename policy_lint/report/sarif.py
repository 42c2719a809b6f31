"""SARIF 2.1.0 for code-scanning tabs: rules with their documentation, results with regions,
the trace as related locations, and partial fingerprints that survive line moves. Validated
against the official schema in the tests."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from policy_lint import __version__
from policy_lint.engine import Report
from policy_lint.model import Finding, Span
from policy_lint.rules import CODES

LEVELS = {"error": "error", "warning": "warning", "info": "note"}
SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"


def _uri(path: str) -> str:
    rel = os.path.relpath(os.path.abspath(path)) if path else "."
    return Path(rel).as_posix()


def _location(span: Span, message: str | None = None, id_: int | None = None) -> dict:
    loc: dict = {
        "physicalLocation": {
            "artifactLocation": {"uri": _uri(span.path), "uriBaseId": "%SRCROOT%"},
            "region": {"startLine": max(span.line, 1), "startColumn": max(span.col, 1)},
        }
    }
    if span.text:
        loc["physicalLocation"]["region"]["snippet"] = {"text": span.text}
    if id_ is not None:
        loc["id"] = id_
    if message:
        loc["message"] = {"text": message}
    return loc


def _fingerprint(f: Finding) -> str:
    rule = " ".join((f.span.text or f.message).split())
    raw = "\0".join((_uri(f.span.path), f.code, f.service or "", rule))
    return hashlib.sha256(raw.encode()).hexdigest()[:32]


def _rules() -> list[dict]:
    out = []
    for c in CODES.values():
        out.append(
            {
                "id": c.code,
                "name": c.name,
                "shortDescription": {"text": c.summary},
                "fullDescription": {"text": f"{c.summary} {c.why}"},
                "help": {
                    "text": f"Why it matters: {c.why}\nHow to fix: {c.fix}",
                    "markdown": f"**Why it matters:** {c.why}\n\n**How to fix:** {c.fix}",
                },
                "defaultConfiguration": {"level": LEVELS[c.severity.value]},
            }
        )
    return out


def render(report: Report) -> str:
    index = {code: i for i, code in enumerate(CODES)}
    results = []
    for f in report.findings:
        result = {
            "ruleId": f.code,
            "ruleIndex": index[f.code],
            "level": LEVELS[f.severity.value],
            "message": {"text": f.message + (f" [{f.service}]" if f.service else "")},
            "locations": [_location(f.span)],
            "partialFingerprints": {"policyLintFinding/v1": _fingerprint(f)},
        }
        related = [s for s in f.trace if s != f.span and s.line >= 1]
        if related:
            result["relatedLocations"] = [
                _location(s, "trace: " + (s.text or s.where()), i) for i, s in enumerate(related, start=1)
            ]
        if f.service:
            result["properties"] = {"service": f.service, "audiences": list(f.audiences)}
        results.append(result)
    run = {
        "tool": {
            "driver": {
                "name": "policy-lint",
                "version": __version__,
                "informationUri": "https://github.com/policy-lint/policy-lint",
                "rules": _rules(),
            }
        },
        "originalUriBaseIds": {"%SRCROOT%": {"uri": Path(os.getcwd()).as_uri() + "/"}},
        "invocations": [
            {
                "executionSuccessful": not report.errors,
                "toolExecutionNotifications": [
                    {"level": "error", "message": {"text": e}} for e in report.errors
                ]
                + [
                    {
                        "level": "note",
                        "message": {"text": f"skipped: {s.reason}, not linted (use --dialect)"},
                        "locations": [
                            {
                                "physicalLocation": {
                                    "artifactLocation": {"uri": _uri(s.path), "uriBaseId": "%SRCROOT%"}
                                }
                            }
                        ],
                    }
                    for s in report.skipped
                ],
            }
        ],
        "results": results,
    }
    return json.dumps({"$schema": SCHEMA, "version": "2.1.0", "runs": [run]}, indent=2) + "\n"

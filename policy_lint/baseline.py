"""Baselines: adopt policy-lint on an old repository without fixing everything first.

`--write-baseline FILE` records today's findings; `--baseline FILE` then reports only findings
not in it. Entries are keyed by (path relative to the baseline file, code, service, the rule's
text with white space folded), never by line number, so moving lines does not break them.
Entries that no longer match anything are reported as TE205, so the baseline shrinks as
problems get fixed.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path

from policy_lint.inputs import InputError
from policy_lint.model import Finding, Severity, Span

Key = tuple[str, str, str, str]


def _key(f: Finding, base: Path) -> Key:
    path = os.path.relpath(os.path.abspath(f.span.path), base) if f.span.path else ""
    rule = " ".join((f.span.text or f.message).split())
    return (Path(path).as_posix(), f.code, f.service or "", rule)


def write(findings: list[Finding], file: Path) -> int:
    base = file.resolve().parent
    keys = sorted(_key(f, base) for f in findings)
    lines = [
        json.dumps({"path": p, "code": c, "service": s, "rule": r}, sort_keys=True) for p, c, s, r in keys
    ]
    body = '{"version": 1, "entries": [\n' + ",\n".join(lines) + "\n]}\n"
    tmp = file.with_name(file.name + ".tmp")
    tmp.write_text(body, encoding="utf-8")
    tmp.replace(file)
    return len(keys)


def _read(file: Path) -> list[tuple[Key, int]]:
    try:
        text = file.read_text(encoding="utf-8")
        doc = json.loads(text)
        entries = doc["entries"]
        if doc.get("version") != 1 or not isinstance(entries, list):
            raise ValueError("unknown baseline version")
    except OSError as exc:
        raise InputError(f"{file}: cannot read baseline: {exc.strerror or exc}") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise InputError(f"{file}: not a policy-lint baseline ({exc})") from None
    out = []
    lines = text.splitlines()
    for e in entries:
        key = (
            str(e.get("path", "")),
            str(e.get("code", "")),
            str(e.get("service", "")),
            str(e.get("rule", "")),
        )
        needle = json.dumps(e, sort_keys=True)
        line = next((i for i, t in enumerate(lines, 1) if t.strip().rstrip(",") == needle), 1)
        out.append((key, line))
    return out


def apply(findings: list[Finding], file: Path) -> tuple[list[Finding], list[Finding]]:
    """(findings not in the baseline, plus TE205 for stale entries; findings in it)."""
    base = file.resolve().parent
    entries = _read(file)
    available = Counter(k for k, _ in entries)
    new, known = [], []
    for f in findings:
        k = _key(f, base)
        if available[k] > 0:
            available[k] -= 1
            known.append(f)
        else:
            new.append(f)
    for key, line in entries:
        if available[key] > 0:
            available[key] -= 1
            new.append(
                Finding(
                    "TE205",
                    Severity.INFO,
                    Span(str(file), line, 1, key[3]),
                    f"stale baseline entry: {key[1]} in {key[0]} no longer occurs ({key[3]})",
                    key[2] or None,
                )
            )
    return new, known

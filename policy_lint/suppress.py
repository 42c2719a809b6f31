"""Suppressions written in the config's own comment syntax.

    # policy-lint: disable=TE101 -- approved by the works council (ticket 42)
    http_access deny social

A comment naming codes (or code prefixes) silences findings of those codes on its own line or
on the line after it; `policy-lint: disable-file=TE202` anywhere silences them in the whole
file. Any comment character works (`#`, `;`, `!`, `//`), so every dialect has the same form.
A suppression that silences nothing is reported as TE204.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from policy_lint.inputs import InputError, read_source
from policy_lint.model import Finding, Severity, Span
from policy_lint.records import Record

MARKER = "policy-lint:"
PATTERN = re.compile(
    r"policy-lint:\s*disable(?P<file>-file)?\s*=\s*(?P<codes>[A-Za-z0-9]+(?:\s*,\s*[A-Za-z0-9]+)*)"
    r"(?:\s*--\s*(?P<reason>.*))?"
)


@dataclass(eq=False, repr=False)
class Suppression(Record):
    span: Span
    codes: tuple[str, ...]
    file_level: bool
    reason: str
    used: set[str] = field(default_factory=set)

    def covers(self, finding: Finding) -> bool:
        if finding.span.path != self.span.path:
            return False
        if not self.file_level and finding.span.line not in (self.span.line, self.span.line + 1):
            return False
        return any(finding.code.startswith(c) for c in self.codes)


_CHUNK_BYTES = 1 << 20


def _mentions_marker(path: Path) -> bool:
    """Whether the file's bytes hold MARKER, read in blocks: a 10^6-line list is never held
    whole (reading it into one bytes object costs twice as long as the search itself)."""
    needle = MARKER.encode()
    keep = len(needle) - 1
    tail = b""  # the previous block's last bytes: a marker may straddle two blocks
    with open(path, "rb") as fh:
        while block := fh.read(_CHUNK_BYTES):
            if needle in block or needle in tail + block[:keep]:
                return True
            tail = block[-keep:]
    return False


def collect(path: str) -> list[Suppression]:
    try:
        # Most files have no suppression at all: a byte search spares decoding a 10^6-line list.
        if not _mentions_marker(Path(path)):
            return []
        source = read_source(path)
    except (InputError, OSError):
        return []
    out = []
    for i, line in enumerate(source.lines, start=1):
        if MARKER not in line:
            continue
        m = PATTERN.search(line)
        if m:
            codes = tuple(c.strip().upper() for c in m.group("codes").split(","))
            out.append(
                Suppression(
                    Span(path, i, m.start() + 1, line.strip()),
                    codes,
                    bool(m.group("file")),
                    (m.group("reason") or "").strip(),
                )
            )
    return out


def apply(findings: list[Finding]) -> tuple[list[Finding], list[Finding]]:
    """(findings still reported, including TE204 for unused suppressions; findings silenced)."""
    by_path: dict[str, list[Suppression]] = {}
    for f in findings:
        if f.span.path not in by_path:
            by_path[f.span.path] = collect(f.span.path)
    kept: list[Finding] = []
    silenced: list[Finding] = []
    for f in findings:
        hits = [s for s in by_path[f.span.path] if s.covers(f)]
        for s in hits:
            s.used.add(f.code)
        (silenced if hits else kept).append(f)
    for sups in by_path.values():
        for s in sups:
            if not s.used:
                kept.append(
                    Finding(
                        "TE204",
                        Severity.WARNING,
                        s.span,
                        f"unused suppression: nothing to silence for {', '.join(s.codes)}",
                    )
                )
    return kept, silenced

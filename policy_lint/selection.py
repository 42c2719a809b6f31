"""Which codes to report: `--select` / `--extend-select` / `--ignore` by code prefix, and
severity overrides. As in ruff, the most specific (longest) matching prefix decides, and at
equal length `ignore` wins: `--select TE1 --ignore TE10` reports TE110 but not TE101."""

from __future__ import annotations

from dataclasses import replace

from policy_lint.model import Finding, Severity

ALL = "TE"


def _prefixes(codes: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(ALL if c.upper() == "ALL" else c.upper() for c in codes)


def is_selected(
    code: str, select: tuple[str, ...] | None, extend_select: tuple[str, ...], ignore: tuple[str, ...]
) -> bool:
    rules = [(p, True) for p in _prefixes((select if select is not None else (ALL,)) + extend_select)]
    rules += [(p, False) for p in _prefixes(ignore)]
    matching = [(len(p), keep) for p, keep in rules if code.startswith(p)]
    if not matching:
        return False
    longest = max(n for n, _ in matching)
    return all(keep for n, keep in matching if n == longest)


def with_severity(finding: Finding, overrides: dict[str, str]) -> Finding:
    """The most specific matching override (by code prefix) sets the severity."""
    best = max((p for p in overrides if finding.code.startswith(p)), key=len, default=None)
    return replace(finding, severity=Severity(overrides[best])) if best else finding

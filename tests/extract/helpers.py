"""Small helpers for the container tests: the findings and verdicts of one container."""

from __future__ import annotations

from pathlib import Path

from policy_lint.catalog import load_catalog
from policy_lint.engine import Options, Report, lint_paths
from policy_lint.policy import strict_policy

FIXTURES = Path(__file__).parent / "fixtures"


def lint_fixture(relative: str) -> Report:
    catalog = load_catalog()
    return lint_paths([FIXTURES / relative], catalog, strict_policy(catalog), Options(root=FIXTURES))


def where(report: Report, code: str, service: str | None = None) -> list[tuple[str, int]]:
    """(file name, line) of each finding with `code` (and `service`), sorted."""
    return sorted(
        (Path(f.span.path).name, f.span.line)
        for f in report.findings
        if f.code == code and (service is None or f.service == service)
    )


def verdict(report: Report, dialect: str, service: str) -> str:
    """The verdict for `service` of the (first) embedded config read by `dialect`."""
    for f in report.files:
        if f.dialect == dialect:
            return f.services[service].verdict.value
    raise AssertionError(
        f"no {dialect} config in {[f.dialect for f in report.files]}; errors {report.errors}"
    )

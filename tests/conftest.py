"""Shared test helpers.

End-to-end and corpus tests need things outside the repo (Debian's squid, ../shared/corpus).
Locally they skip with a visible reason when those are missing; CI sets
POLICY_LINT_REQUIRE_E2E=1 so that a skip becomes a failure.
"""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

from policy_lint import dialects
from policy_lint.catalog import load_catalog
from policy_lint.engine import Options, Report, lint_paths
from policy_lint.policy import strict_policy

REPO = Path(__file__).resolve().parent.parent


def skip_or_fail(reason: str) -> None:
    if os.environ.get("POLICY_LINT_REQUIRE_E2E") == "1":
        pytest.fail(f"required by CI but unavailable: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def catalog():
    return load_catalog()


@pytest.fixture
def lint(tmp_path, catalog):
    """Write files (name -> text) under tmp_path and lint the first one; returns the Report."""

    def run(files: dict[str, str], policy=None, dialect: str | None = None) -> Report:
        paths = []
        for name, text in files.items():
            p = tmp_path / name
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(textwrap.dedent(text))
            paths.append(p)
        policy = policy or strict_policy(catalog)
        extended = catalog.extended(policy.extra_domains, policy.custom_services)
        return lint_paths([paths[0]], extended, policy, Options(root=tmp_path, dialect=dialect))

    return run


def detected_dialect(path: Path, head: str) -> str | None:
    """NAME of the dialect `dialects.detect` picks for `path` with content `head`; None if none."""
    module = dialects.detect(path, head)
    return None if module is None else module.NAME


def verdicts(report: Report) -> dict[str, str]:
    assert report.files, report.errors
    return {sid: r.verdict.value for sid, r in report.files[0].services.items()}

"""Every dialect survives mutated real configs and random bytes: no exception escapes the
documented input error, and every lint returns within a time bound (a bounded, seeded campaign;
scripts/fuzz.sh runs longer ones)."""

from __future__ import annotations

import os

import pytest

from policy_lint.catalog import Catalog
from policy_lint.policy import strict_policy
from tests.fuzz.parsers import campaign, save, seeds

CASES = int(os.environ.get("POLICY_LINT_FUZZ_CASES", "8"))
SEED = int(os.environ.get("POLICY_LINT_FUZZ_SEED", "20261205"))


def test_there_are_seeds_of_many_kinds() -> None:
    assert len(seeds()) >= 10


def test_mutated_inputs_never_escape_as_exceptions(catalog: Catalog, tmp_path) -> None:
    failures = [f for _d, f in campaign(CASES, SEED, catalog, strict_policy(catalog)) if f is not None]
    for failure in failures:
        save(failure, tmp_path / "failures")
    if failures:
        first = failures[0]
        pytest.fail(
            f"{len(failures)} fuzz case(s) failed; first: --dialect {first.dialect} on a {first.mutation} "
            f"of {first.seed}:\n{first.error}\n(inputs saved under {tmp_path / 'failures'})"
        )

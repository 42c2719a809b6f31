"""Linting files in worker processes (`policy-lint check --jobs N`).

Each file's lint (engine.lint_file: detect, parse, evaluate) depends on nothing but the file, the
files it pulls in, the catalog and the policy, so files are linted in a pool of forked workers
and their outcomes come back in the order the files were given: the report, and so every output
format, is the same bytes whatever N. The steps that join files (included files, policy
exceptions) stay in the parent (engine.lint_paths).

Workers are forked (the `fork` start method): they inherit the catalog and policy without
pickling them, and are set up once each (`_init_worker`). They get no progress bar, logger or
lint cache (engine._outcomes strips them from the options). Only the outcomes are pickled back.
Imported only when a run goes parallel: starting a small lint does not pay for it.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from policy_lint.catalog import Catalog
from policy_lint.engine import FileOutcome, Options, lint_file
from policy_lint.policy import Policy


@dataclass(frozen=True)
class _WorkerState:
    catalog: Catalog
    policy: Policy
    options: Options


# Set once in each worker process by _init_worker (a fork of the parent: nothing is pickled), so
# the catalog and policy are not sent with every file. Never set in the parent process.
_worker_state: list[_WorkerState] = []


def _init_worker(state: _WorkerState) -> None:
    _worker_state.append(state)


def _lint_in_worker(item: tuple[Path, bool]) -> FileOutcome:
    state = _worker_state[0]
    return lint_file(item[0], item[1], state.catalog, state.policy, state.options)


def lint_in_workers(
    todo: list[tuple[Path, bool]], catalog: Catalog, policy: Policy, options: Options, jobs: int
) -> Iterator[FileOutcome]:
    """The outcome of each (path, named explicitly) in `todo`, in order, from `jobs` workers."""
    with ProcessPoolExecutor(
        max_workers=jobs,
        mp_context=multiprocessing.get_context("fork"),
        initializer=_init_worker,
        initargs=(_WorkerState(catalog, policy, options),),
    ) as pool:
        # Chunks of a few files amortise the round trips; small ones keep the workers evenly
        # loaded to the end when some files are much bigger than others (a large last chunk
        # leaves the other workers idle). map() yields in submission order.
        chunk = max(1, min(8, len(todo) // (jobs * 16)))
        yield from pool.map(_lint_in_worker, todo, chunksize=chunk)

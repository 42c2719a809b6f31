"""Parser fuzzing: mutated real configs and random bytes into every dialect.

Each case writes one mutated file (beside the files it came with, so that includes and lists
still resolve) and lints it with the dialect forced, in this process, under a time bound. A
case passes when linting returns (input errors are reported in `Report.errors`, the documented
way) within the bound; any exception escaping `lint_paths`, or running out of time, fails it
and the case is kept (seed, dialect, the mutated text) for a regression test.

Used by tests/fuzz/test_parsers.py (bounded, seeded, in CI) and scripts/fuzz.sh (longer).
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import tempfile
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from policy_lint.catalog import Catalog
from policy_lint.dialects import DIALECTS
from policy_lint.engine import Options, lint_paths
from policy_lint.policy import Policy

REPO = Path(__file__).resolve().parents[2]
CORPUS = REPO.parent / "shared" / "corpus" / "cases"
SPECIALS = "\"'\\{}()[]*$#;|<>\t\x00"  # quoting, nesting, globs, comments, separators
MAX_SEED_BYTES = 256 * 1024


@dataclass(frozen=True)
class Seed:
    """A real config and the directory whose other files it may reference."""

    path: Path
    base: Path


@dataclass(frozen=True)
class Failure:
    dialect: str
    seed: str
    mutation: str
    error: str
    text: bytes


def seeds() -> list[Seed]:
    found: list[Seed] = []
    for directory in sorted((REPO / "examples").iterdir()):
        if directory.is_dir():
            found += [Seed(p, directory) for p in sorted(directory.rglob("*")) if p.is_file()]
    if CORPUS.is_dir():
        for case in sorted(CORPUS.iterdir()):
            tree = case / "tree"
            if tree.is_dir():
                found += [Seed(p, tree) for p in sorted(tree.rglob("*")) if p.is_file()]
    return [s for s in found if s.path.stat().st_size <= MAX_SEED_BYTES]


def mutate(data: bytes, rnd: random.Random) -> tuple[str, bytes]:
    """One mutation of `data`, named."""
    lines = data.split(b"\n")
    kind = rnd.choice(
        ["truncate", "drop-line", "dup-line", "swap-lines", "special", "splice", "bytes", "nest"]
    )
    if kind == "truncate" and data:
        return kind, data[: rnd.randrange(len(data))]
    if kind == "drop-line" and lines:
        del lines[rnd.randrange(len(lines))]
    elif kind == "dup-line" and lines:
        i = rnd.randrange(len(lines))
        # Not thousands: a generic rule repeated 1,000 times is a scale test (bench/), and pf's
        # last-match walk over it takes minutes (noted in #20), not a parser fault.
        lines[i:i] = [lines[i]] * rnd.choice([2, 50])
    elif kind == "swap-lines" and len(lines) > 1:
        i, j = rnd.randrange(len(lines)), rnd.randrange(len(lines))
        lines[i], lines[j] = lines[j], lines[i]
    elif kind == "special" and data:
        chars = bytearray(data)
        for _ in range(rnd.randint(1, 8)):
            chars[rnd.randrange(len(chars))] = ord(rnd.choice(SPECIALS)) if rnd.random() < 0.9 else 0xE9
        return kind, bytes(chars)
    elif kind == "splice" and lines:
        i = rnd.randrange(len(lines))
        lines[i] = lines[i] + b" " + rnd.choice(lines)
    elif kind == "bytes":
        return kind, bytes(rnd.randrange(256) for _ in range(rnd.randint(0, 512)))
    elif kind == "nest" and lines:
        i = rnd.randrange(len(lines))
        opener = rnd.choice([b"{", b"(", b"[", b"<", b'"'])
        lines[i] = opener * rnd.choice([1, 200]) + lines[i]
    return kind, b"\n".join(lines)


class _Timeout(Exception):
    pass


def _alarm(_signum: int, _frame: object) -> None:
    raise _Timeout


def run_case(
    dialect: str, seed: Seed, rnd: random.Random, catalog: Catalog, policy: Policy, bound: float
) -> Failure | None:
    mutation, text = mutate(seed.path.read_bytes(), rnd)
    with tempfile.TemporaryDirectory(prefix="policy-lint-fuzz-") as tmp:
        tree = Path(tmp) / "tree"
        shutil.copytree(seed.base, tree, symlinks=True)
        target = tree / seed.path.relative_to(seed.base)
        target.write_bytes(text)
        previous = signal.signal(signal.SIGALRM, _alarm)
        signal.setitimer(signal.ITIMER_REAL, bound)
        try:
            lint_paths([target], catalog, policy, Options(root=tree, dialect=dialect))
        except _Timeout:
            return Failure(dialect, str(seed.path), mutation, f"no answer within {bound} s", text)
        except Exception:  # any exception escaping lint_paths is the finding
            return Failure(dialect, str(seed.path), mutation, traceback.format_exc(limit=6), text)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
    return None


def campaign(
    cases_per_dialect: int, seed: int, catalog: Catalog, policy: Policy, bound: float = 15.0
) -> Iterator[tuple[str, Failure | None]]:
    """`cases_per_dialect` mutated inputs for every dialect, reproducible from `seed`."""
    pool = seeds()
    for dialect in sorted(DIALECTS):
        rnd = random.Random(f"{seed}:{dialect}")
        # Mostly the dialect's own files (they reach its deeper code), some of any kind.
        own = [s for s in pool if DIALECTS[dialect].detect(s.path, _head(s.path)) >= 0.5] or pool
        for _ in range(cases_per_dialect):
            chosen = rnd.choice(own if rnd.random() < 0.8 else pool)
            yield dialect, run_case(dialect, chosen, rnd, catalog, policy, bound)


def _head(path: Path) -> str:
    with open(path, "rb") as fh:
        return fh.read(16384).decode("utf-8", "replace")


def save(failure: Failure, directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    name = f"{failure.dialect}-{abs(hash((failure.seed, failure.text))) % 10**8}"
    (directory / f"{name}.input").write_bytes(failure.text)
    (directory / f"{name}.txt").write_text(
        f"dialect: {failure.dialect}\nseed file: {failure.seed}\nmutation: {failure.mutation}\n\n{failure.error}\n"
    )
    return directory / name


def cpu_count() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1

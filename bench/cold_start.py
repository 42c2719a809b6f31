"""Benchmark: cold start of `policy-lint check` on the corpus's squid and squidGuard cases.

Target (issue #20 item 1): each case, process start to exit, within 1.3x of the venv's
`python -c 'import yaml, click, structlog'` (the base).

    .venv/bin/python bench/cold_start.py [--runs 15] [--corpus DIR]

Paired and alternating: each round runs the base, then every case, in that order, so a burst of
load from other processes on the machine hits base and cases alike; the ratio is of the medians.
Spread is the interquartile range of each command's times as a share of its median. Bytecode
writing is switched on for the children (PYTHONDONTWRITEBYTECODE removed): a user's install has
its .pyc files, and without them every run recompiles the package.

Next to the wall-clock ratio it prints the ratio of CPU seconds (user + system), which a busy
machine changes much less. It prints figures and never fails: targets are judged by people reading the numbers (with the
load average printed next to them), not by timed assertions.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import yaml

DEFAULT_CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "cases"
DIALECTS = ("squid", "squidguard")


def cases(corpus: Path) -> list[tuple[str, list[str]]]:
    """(case name, argv) of every case whose dialect is squid or squidGuard."""
    out = []
    for case in sorted(p for p in corpus.iterdir() if (p / "expected.yaml").is_file()):
        exp = yaml.safe_load((case / "expected.yaml").read_text())
        if str(exp.get("dialect", "")).lower() not in DIALECTS:
            continue
        tree = case / "tree"
        argv = [sys.executable, "-m", "policy_lint", "check", "--root", str(tree), str(tree / exp["main"])]
        out.append((case.name, argv))
    return out


CPU: dict[str, list[float]] = {}  # CPU seconds (user + system) per command, by its first argv words


def once(argv: list[str]) -> float:
    """Wall seconds of one run; its CPU seconds go to CPU (they do not grow with the load)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    CPU.setdefault(" ".join(argv), []).append(cpu)
    return wall


def spread(times: list[float]) -> float:
    q = statistics.quantiles(times, n=4)
    return (q[2] - q[0]) / statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--corpus", type=Path, default=Path(os.environ.get("POLICY_LINT_CORPUS", DEFAULT_CORPUS)))
    args = ap.parse_args()
    # A user's install has its .pyc files: measure that, not a recompile of every module per
    # run (this workplace sets PYTHONDONTWRITEBYTECODE, which adds ~0.1 s to every child).
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    todo = cases(args.corpus)
    if not todo:
        sys.exit(f"no squid or squidGuard case under {args.corpus}")
    base_argv = [sys.executable, "-c", "import yaml, click, structlog"]
    # One warm-up of each: the page cache and .pyc files, as on a machine that ran it before.
    for argv in [base_argv, *(a for _n, a in todo)]:
        once(argv)
    base: list[float] = []
    times: dict[str, list[float]] = {name: [] for name, _a in todo}
    load_before = os.getloadavg()[0]
    for _ in range(args.runs):
        base.append(once(base_argv))
        for name, argv in todo:
            times[name].append(once(argv))
    load_after = os.getloadavg()[0]
    b = statistics.median(base)
    b_cpu = statistics.median(CPU[" ".join(base_argv)][1:])  # [0]: the warm-up
    print(
        f"runs: {args.runs} (paired, alternating)   load average (1 min): {load_before:.2f} -> {load_after:.2f}"
    )
    print(f"{'base: import yaml, click, structlog':48} median {b * 1000:6.1f} ms  spread {spread(base):5.1%}")
    worst = 0.0
    for name, argv in todo:
        m = statistics.median(times[name])
        worst = max(worst, m / b)
        cpu = statistics.median(CPU[" ".join(argv)][1:])
        print(
            f"{name:48} median {m * 1000:6.1f} ms  spread {spread(times[name]):5.1%}  ratio {m / b:.2f}x"
            f"  (CPU ratio {cpu / b_cpu:.2f}x)"
        )
    print(f"worst ratio: {worst:.2f}x   target: <= 1.30x")


if __name__ == "__main__":
    main()

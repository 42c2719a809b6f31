"""Benchmark: `policy-lint check --jobs N` on a generated 1,000-file repository.

Target (issue #20 item 4): on 2 cores, `--jobs 2` at least 1.8x faster than `--jobs 1`, with the
same output.

    .venv/bin/python bench/jobs.py [--files 1000] [--lines 300] [--runs 5] [--jobs 2]

Generates a repository of --files configs of several dialects (squid.conf variants reading a
shared list, some denying Facebook; hosts files; dnsmasq files; pf rulesets; adblock lists,
each of up to --lines lines), then times `policy-lint check --format json .` as a new process,
alternating `--jobs 1` and `--jobs N` run after run, and checks that both print the same bytes.
Prints each one's median and spread (interquartile range / median), the speed-up of the medians,
the usable cores and the load average before and after (other processes on a shared machine
take cores from the workers: read the figures with the load next to them). It never fails on a
time: targets are judged by people reading the numbers.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CLI = [str(Path(sys.executable).parent / "policy-lint")]


def generate(repo: Path, files: int, lines: int) -> None:
    """--files configs under repo/siteNNNN/, several dialects, sizes varying with n."""
    (repo / "lists").mkdir(parents=True)
    (repo / "lists" / "blocked.txt").write_text("".join(f".ads{i}.example.net\n" for i in range(200)))
    for n in range(files):
        site = repo / f"site{n:04d}"
        site.mkdir()
        size = 20 + (n * 37) % lines  # from 20 to --lines lines: uneven, like a real repository
        kind = n % 5
        if kind == 0:
            social = (
                "acl social dstdomain .facebook.com .fbcdn.net\nhttp_access deny social\n" if n % 10 else ""
            )
            (site / "squid.conf").write_text(
                f"acl lan src 10.{n % 250}.0.0/16\n"
                'acl ads dstdomain "/lists/blocked.txt"\n'
                + "".join(f"acl extra{i} dstdomain .x{i}.site{n}.example\n" for i in range(size // 10))
                + social
                + "http_access deny ads\nhttp_access allow lan\nhttp_access deny all\n"
            )
        elif kind == 1:
            extra = "0.0.0.0 www.linkedin.com\n" if n % 7 == 0 else ""
            (site / "hosts").write_text(
                "".join(f"0.0.0.0 t{i}.site{n}.example\n" for i in range(size)) + extra
            )
        elif kind == 2:
            (site / "dnsmasq.conf").write_text(
                "".join(f"address=/ads{i}.site{n}.example/0.0.0.0\n" for i in range(size))
            )
        elif kind == 3:
            (site / "pf.conf").write_text(
                "ext_if = em0\nset skip on lo\nblock in all\npass out all keep state\n"
                + "".join(f"block out quick to 198.{n % 200}.{i % 250}.0/24\n" for i in range(size // 4))
            )
        else:
            (site / "adblock-filters.txt").write_text(
                "[Adblock Plus 2.0]\n" + "".join(f"||ads{i}.site{n}.example^\n" for i in range(size))
            )


def run(command: list[str], cwd: Path) -> tuple[float, float, bytes]:
    """(wall seconds, CPU seconds of the process and its workers, stdout)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    out = subprocess.run(command, cwd=cwd, capture_output=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, out.stdout


def spread(times: list[float]) -> float:
    if len(times) < 2:
        return 0.0
    q = statistics.quantiles(times, n=4)
    return (q[2] - q[0]) / statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=1000)
    ap.add_argument("--lines", type=int, default=300)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args()
    # A user's install has its .pyc files: measure that, not a recompile of every module per
    # run (this workplace sets PYTHONDONTWRITEBYTECODE, which adds ~0.1 s to every child).
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    with tempfile.TemporaryDirectory() as tmp:
        repo = Path(tmp) / "repo"
        generate(repo, args.files, args.lines)
        base = [*CLI, "check", "--format", "json", "."]
        one: list[float] = []
        many: list[float] = []
        cpu_one: list[float] = []
        cpu_many: list[float] = []
        load_before = os.getloadavg()
        identical = True
        for _ in range(args.runs):
            t1, c1, out1 = run([*base, "--jobs", "1"], repo)
            tn, cn, outn = run([*base, "--jobs", str(args.jobs)], repo)
            one.append(t1)
            many.append(tn)
            cpu_one.append(c1)
            cpu_many.append(cn)
            identical = identical and out1 == outn and bool(out1)
        load_after = os.getloadavg()
    m1, mn = statistics.median(one), statistics.median(many)
    print(
        f"{args.files} files, {args.runs} runs each, alternating; usable cores: {len(os.sched_getaffinity(0))}"
    )
    print(
        f"load average before: {load_before[0]:.2f} {load_before[1]:.2f}; after: {load_after[0]:.2f} {load_after[1]:.2f}"
    )
    print(f"--jobs 1:  median {m1:6.2f} s  spread {spread(one):5.1%}  ({', '.join(f'{t:.2f}' for t in one)})")
    print(
        f"--jobs {args.jobs}:  median {mn:6.2f} s  spread {spread(many):5.1%}  ({', '.join(f'{t:.2f}' for t in many)})"
    )
    print(f"speed-up (medians): {m1 / mn:.2f}x   target: >= 1.80x on 2 cores")
    # CPU time does not depend on how busy the machine is: what the workers cost on top of the
    # work itself (forks, imports in each worker, pickling outcomes back).
    c1, cn = statistics.median(cpu_one), statistics.median(cpu_many)
    print(
        f"CPU seconds (medians, process + workers): --jobs 1 {c1:.2f} s, --jobs {args.jobs} {cn:.2f} s ({cn / c1:.2f}x)"
    )
    print(f"output identical: {identical}")


if __name__ == "__main__":
    main()

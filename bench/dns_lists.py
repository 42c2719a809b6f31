"""Benchmark: a 1,000,000-line hosts blocklist, `policy-lint check` against a bare line count.

    .venv/bin/python bench/dns_lists.py [--lines N] [--keep DIR]

Generates the input described in ../shared/recipes/performance-facts.md (hosts syntax
`0.0.0.0 adsN.trackerM.exampleK.com`, one `facebook.com` line at the end), then times, each as
a new process and best of 3:

- a bare Python line count of the file (`sum(1 for _ in open(f))`), the reference;
- `policy-lint check` on the file (the whole CLI: start-up, catalog, parse, verdicts, output);
- the hosts dialect's parse alone, in-process (what this dialect costs).

and prints the ratio to the reference (target: at most 8x) and the peak RSS of the
`policy-lint check` child (target: at most 250 MB), measured with resource.getrusage.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TARGET_RATIO = 8.0
TARGET_RSS_MB = 250.0


def generate(path: Path, lines: int) -> None:
    with open(path, "w") as fh:
        fh.write("# Title: generated hosts blocklist (bench/dns_lists.py)\n")
        fh.writelines(f"0.0.0.0 ads{i}.tracker{i % 997}.example{i % 31}.com\n" for i in range(lines - 2))
        fh.write("0.0.0.0 facebook.com\n")


def timed(argv: list[str], runs: int = 3) -> tuple[float, float, subprocess.CompletedProcess[str]]:
    """Best wall time of `runs` runs, and the largest peak RSS (MB) of any child so far."""
    best = float("inf")
    last: subprocess.CompletedProcess[str] | None = None
    for _ in range(runs):
        t = time.perf_counter()
        last = subprocess.run(argv, capture_output=True, text=True, cwd=REPO)
        best = min(best, time.perf_counter() - t)
    assert last is not None, "runs must be at least 1"
    rss_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return best, rss_kb / 1024, last


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--keep", type=Path, help="write the generated file here and keep it")
    a = ap.parse_args()
    # A user's install has its .pyc files: measure that, not a recompile of every module per
    # run (this workplace sets PYTHONDONTWRITEBYTECODE, which adds ~0.1 s to every child).
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    tmp = tempfile.TemporaryDirectory()
    directory = a.keep or Path(tmp.name)
    directory.mkdir(parents=True, exist_ok=True)
    hosts = directory / "hosts"
    generate(hosts, a.lines)
    size = hosts.stat().st_size
    py = sys.executable

    count_t, _, count = timed([py, "-c", f"print(sum(1 for _ in open({str(hosts)!r})))"])
    # The line count runs first, so the RSS figure after the next call is the linter's own
    # (ru_maxrss of RUSAGE_CHILDREN is the largest of all children waited for).
    lint_t, lint_rss, lint = timed([py, "-m", "policy_lint", "check", "--format", "json", str(hosts)])
    _, _, parse = timed(
        [
            py,
            "-c",
            (
                "import time; from pathlib import Path; from policy_lint.catalog import load_catalog;"
                "from policy_lint.dialects.dns import hosts; from policy_lint.dialects.semantics.base import ParseContext;"
                f"from policy_lint.inputs import Resolver; c = load_catalog(); p = Path({str(hosts)!r});"
                "t = time.perf_counter(); r = hosts.parse(p, ParseContext(Resolver(p.parent), c));"
                "print(round(time.perf_counter() - t, 3), r.scan.lines, r.scan.malformed)"
            ),
        ]
    )
    if lint.returncode not in (0, 1) or '"facebook"' not in lint.stdout:
        print(f"policy-lint check failed ({lint.returncode}): {lint.stderr[-500:]}")
        return 2
    ratio = lint_t / count_t
    print(f"input: {hosts} ({a.lines:,} lines, {size / 1e6:.1f} MB)")
    print(f"bare line count (new process):        {count_t:6.3f} s   ({count.stdout.strip()} lines)")
    print(
        f"policy-lint check (new process):      {lint_t:6.3f} s   = {ratio:4.1f}x the line count "
        f"(target <= {TARGET_RATIO:.0f}x)  {'OK' if ratio <= TARGET_RATIO else 'MISSED'}"
    )
    print(
        f"  of which the hosts parse, in-process: {parse.stdout.split()[0]} s "
        f"(lines={parse.stdout.split()[1]}, malformed={parse.stdout.split()[2]})"
    )
    print(
        f"peak RSS of policy-lint check:        {lint_rss:6.1f} MB (target <= {TARGET_RSS_MB:.0f} MB)  "
        f"{'OK' if lint_rss <= TARGET_RSS_MB else 'MISSED'}"
    )
    tmp.cleanup() if not a.keep else None
    return 0 if ratio <= TARGET_RATIO and lint_rss <= TARGET_RSS_MB else 1


if __name__ == "__main__":
    sys.exit(main())

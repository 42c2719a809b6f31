"""Benchmark: a 1,000,000-line adblock list and a 1,000,000-line Pi-hole gravity list,
`policy-lint check` against a bare Python line count of the same file.

    .venv/bin/python bench/adblock_lists.py [--lines N] [--runs 3] [--keep DIR] [--full-engine]

Generates the inputs (../shared/recipes/performance-facts.md): an adblock list shaped like
the big DNS-style lists (mostly `||adsN.trackerM.exampleK.com^`, with some options,
exceptions, hosts and bare-domain lines, cosmetic filters, generic and regex rules and
comments) and a gravity list (bare domains, some in hosts syntax); each ends with one
`facebook.com` rule. Then times, each as a new process, best of --runs:

- a bare Python line count of the file (`sum(1 for _ in open(f))`), the reference;
- `policy-lint check` on the file (the whole CLI: start-up, catalog, scan, engine, output);

and prints the ratio (target: at most 8x), the peak RSS of the `policy-lint check` child
(target: at most 250 MB; from os.wait4, the child's own resource usage), and how many rules
reached the adblock engine. `--full-engine` also times loading every rule into adblock-rust,
what the prefilter avoids (about 7 s and 1.1 GB per 10^6 rules).
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TARGET_RATIO = 8.0
TARGET_RSS_MB = 250.0


def generate_adblock(path: Path, lines: int, seed: int = 1) -> None:
    rnd = random.Random(seed)
    with open(path, "w") as fh:
        fh.write("[Adblock Plus 2.0]\n! Title: generated list (bench/adblock_lists.py)\n")
        for i in range(lines - 3):
            r = rnd.random()
            k, m = rnd.randrange(100_000), rnd.randrange(1000)
            if r < 0.93:
                fh.write(f"||ads{i}.tracker{m}.example{k}.com^\n")
            elif r < 0.95:
                fh.write(f"||ads{i}.tracker{m}.example{k}.com^$third-party\n")
            elif r < 0.96:
                fh.write(f"@@||cdn{i}.example{k}.com^$script\n")
            elif r < 0.97:
                fh.write(f"site{k}.example##.ad-banner-{i}\n")
            elif r < 0.98:
                fh.write(f"0.0.0.0 ads{i}.tracker{m}.example{k}.net\n")
            elif r < 0.99:
                fh.write(f"ads{i}.example{k}.org\n")
            elif r < 0.995:
                fh.write(f"/banner{i}/ads*$image\n")
            elif r < 0.999:
                fh.write(f"! section {i}\n")
            else:
                fh.write(f"/^https?:\\/\\/ads{i}\\.[a-z]+\\.com\\//$script\n")
        fh.write("||facebook.com^\n")


def generate_gravity(path: Path, lines: int, seed: int = 2) -> None:
    rnd = random.Random(seed)
    with open(path, "w") as fh:
        for i in range(lines - 1):
            k, m = rnd.randrange(100_000), rnd.randrange(1000)
            fh.write(
                f"ads{i}.tracker{m}.example{k}.com\n"
                if i % 10
                else f"0.0.0.0 ads{i}.tracker{m}.example{k}.net\n"
            )
        fh.write("facebook.com\n")


def run(argv: list[str]) -> tuple[float, float, str]:
    """Wall time, peak RSS (MB) of the child itself, stdout."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=REPO)
    assert proc.stdout is not None  # stdout=PIPE
    out = proc.stdout.read()
    _pid, _status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(_status)
    elapsed = time.perf_counter() - start
    return elapsed, usage.ru_maxrss / 1024, out.decode("utf-8", "replace")


def best(argv: list[str], runs: int) -> tuple[float, float, str]:
    results = [run(argv) for _ in range(runs)]
    return min(r[0] for r in results), max(r[1] for r in results), results[-1][2]


def engine_rules(path: Path) -> int:
    from policy_lint.catalog import load_catalog
    from policy_lint.dialects.dns import adblock
    from policy_lint.dialects.semantics.base import ParseContext
    from policy_lint.inputs import Resolver

    return len(adblock.read_list(path, ParseContext(Resolver(path.parent), load_catalog())).candidates)


def full_engine(path: Path) -> tuple[float, float]:
    code = (
        "import time, adblock, resource; t = time.perf_counter(); fs = adblock.FilterSet();"
        f"fs.add_filter_list(open({str(path)!r}).read()); e = adblock.Engine(fs);"
        "print(round(time.perf_counter() - t, 2))"
    )
    _elapsed, rss, out = run([sys.executable, "-c", code])
    return float(out.strip() or "nan"), rss


def measure(label: str, path: Path, dialect: str, runs: int) -> bool:
    py = sys.executable
    count_t, _, count = best([py, "-c", f"print(sum(1 for _ in open({str(path)!r})))"], runs)
    lint_t, lint_rss, out = best([py, "-m", "policy_lint", "check", "--dialect", dialect, str(path)], runs)
    ratio = lint_t / count_t
    ok = ratio <= TARGET_RATIO and lint_rss <= TARGET_RSS_MB
    size = path.stat().st_size / 1e6
    print(f"{label}: {path.name} ({int(count.strip()):,} lines, {size:.1f} MB)")
    print(f"  bare line count (new process):   {count_t:6.3f} s")
    print(
        f"  policy-lint check (new process): {lint_t:6.3f} s = {ratio:4.1f}x the line count "
        f"(target <= {TARGET_RATIO:.0f}x)  {'OK' if ratio <= TARGET_RATIO else 'MISSED'}"
    )
    print(
        f"  peak RSS of policy-lint check:   {lint_rss:6.1f} MB (target <= {TARGET_RSS_MB:.0f} MB)  "
        f"{'OK' if lint_rss <= TARGET_RSS_MB else 'MISSED'}"
    )
    verdict = next((line for line in out.splitlines() if f"({dialect})" in line), "").split(": ", 1)[-1]
    print(f"  verdicts: {verdict}")
    return ok


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--keep", type=Path, help="write the generated files here and keep them")
    ap.add_argument("--full-engine", action="store_true", help="also load every rule into adblock-rust")
    a = ap.parse_args()
    tmp = tempfile.TemporaryDirectory()
    directory = a.keep or Path(tmp.name)
    directory.mkdir(parents=True, exist_ok=True)
    abp, gravity = directory / "adblock-list.txt", directory / "gravity.list"
    generate_adblock(abp, a.lines)
    generate_gravity(gravity, a.lines)
    ok = measure("adblock list", abp, "abp", a.runs)
    print(f"  rules given to the adblock engine: {engine_rules(abp)}")
    if a.full_engine:
        secs, rss = full_engine(abp)
        print(f"  for contrast, every rule loaded into adblock-rust: {secs} s, {rss:.0f} MB peak RSS")
    ok &= measure("Pi-hole gravity list", gravity, "pihole", a.runs)
    tmp.cleanup() if not a.keep else None
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

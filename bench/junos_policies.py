"""Benchmark: `policy-lint check` on a Junos SRX configuration with many security policies.

    .venv/bin/python bench/junos_policies.py [--policies N] [--keep DIR]

Generates `display set` output in the shape big SRX configurations have: N address-book
entries over private-use /24s (none of them a catalog service's), N deny policies from trust to
untrust each naming one of them with `application junos-https`, then one policy denying a
Facebook prefix and a final permit. Times, as a new process and best of 3, `policy-lint check`
on it (start-up, catalog, parse, every probe against every sampled address, output), prints the
policies per second and the peak RSS of the child, and checks the verdict (Facebook
blocked-partial).
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BASE = "set security policies from-zone trust to-zone untrust policy"


def generate(directory: Path, policies: int) -> Path:
    path = directory / "srx-big.set"
    with open(path, "w") as fh:
        fh.write("set version 21.4R3\nset system host-name bench-srx\n")
        fh.write("set security zones security-zone trust interfaces ge-0/0/1.0\n")
        fh.write("set security zones security-zone untrust interfaces ge-0/0/0.0\n")
        fh.write("set security address-book global address fb 31.13.24.0/21\n")
        for i in range(policies):
            fh.write(f"set security address-book global address a{i} 10.{(i >> 8) % 250}.{i & 255}.0/24\n")
        for i in range(policies):
            fh.write(
                f"{BASE} p{i} match source-address any destination-address a{i} application junos-https\n"
            )
            fh.write(f"{BASE} p{i} then deny\n")
        fh.write(f"{BASE} no-fb match source-address any destination-address fb application any\n")
        fh.write(f"{BASE} no-fb then deny\n")
        fh.write(f"{BASE} rest match source-address any destination-address any application any\n")
        fh.write(f"{BASE} rest then permit\n")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--policies", type=int, default=5000)
    parser.add_argument("--keep", type=Path, help="write the config here and keep it")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        directory = args.keep or Path(tmp)
        directory.mkdir(parents=True, exist_ok=True)
        path = generate(directory, args.policies)
        best = float("inf")
        out = ""
        for _ in range(3):
            start = time.perf_counter()
            run = subprocess.run(
                [sys.executable, "-m", "policy_lint", "check", "--format", "json", str(path)],
                capture_output=True,
                text=True,
                cwd=REPO,
            )
            best = min(best, time.perf_counter() - start)
            out = run.stdout
        rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        ok = '"facebook": {' in out and "blocked-partial" in out
        print(
            f"junos: {args.policies} policies in {best:.2f}s ({args.policies / best:,.0f} policies/s), "
            f"peak RSS {rss:.0f} MiB, verdict {'ok' if ok else 'UNEXPECTED'}"
        )


if __name__ == "__main__":
    main()

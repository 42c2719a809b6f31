"""Benchmark: `policy-lint check` on a FortiGate config with many policies.

    .venv/bin/python bench/fortigate.py [--policies N] [--sources S] [--keep DIR]

Generates a FortiOS backup in the shape big real ones have: S source subnets (each an audience),
N deny policies over documentation and private-use /24s (none a catalog service's), each from
one of the sources, then a deny of one Facebook prefix and an accept of everything with a web
filter blocking category 37 for the last source only. Then times, as a new process and best
of 3, `policy-lint check` on it (start-up, catalog, parse, every probe against every sampled
address for every audience, output), prints policies per second and the child's peak RSS, and
checks the verdict (Facebook blocked-partial).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def generate(directory: Path, policies: int, sources: int) -> Path:
    path = directory / "fortigate.conf"
    lines = ["#config-version=FG100F-7.2.8-FW-build1639-240313:opmode=0:vdom=0:user=admin"]
    lines.append("config firewall address")
    for i in range(sources):
        lines += [
            f'    edit "src{i}"',
            f"        set subnet 10.{i // 250}.{i % 250}.0 255.255.255.0",
            "    next",
        ]
    for i in range(policies):
        a, b, c = 100 + (i >> 16) % 100, (i >> 8) & 255, i & 255
        lines += [f'    edit "dst{i}"', f"        set subnet {a}.{b}.{c}.0 255.255.255.0", "    next"]
    lines += ['    edit "fb"', "        set subnet 31.13.24.0 255.255.248.0", "    next", "end"]
    lines += [
        "config webfilter profile",
        '    edit "strict"',
        "        config ftgd-wf",
        "            config filters",
    ]
    lines += [
        "                edit 1",
        "                    set category 37",
        "                    set action block",
    ]
    lines += [
        "                next",
        "            end",
        "        end",
        "    next",
        "end",
        "config firewall policy",
    ]

    def policy(pid: int, src: str, dst: str, action: str, extra: tuple[str, ...] = ()) -> list[str]:
        return [
            f"    edit {pid}",
            '        set srcintf "port1"',
            '        set dstintf "wan1"',
            f'        set srcaddr "{src}"',
            f'        set dstaddr "{dst}"',
            f"        set action {action}",
            '        set schedule "always"',
            '        set service "ALL"',
            *extra,
            "    next",
        ]

    for i in range(policies):
        lines += policy(i + 1, f"src{i % sources}", f"dst{i}", "deny")
    lines += policy(policies + 1, "all", "fb", "deny")
    lines += policy(
        policies + 2,
        f"src{sources - 1}",
        "all",
        "accept",
        ("        set utm-status enable", '        set ssl-ssh-profile "certificate-inspection"')
        + ('        set webfilter-profile "strict"',),
    )
    lines += policy(policies + 3, "all", "all", "accept")
    lines.append("end")
    path.write_text("\n".join(lines) + "\n")
    return path


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--policies", type=int, default=5000)
    ap.add_argument("--sources", type=int, default=20)
    ap.add_argument("--keep", type=Path, help="write the config here and keep it")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        directory = args.keep or Path(tmp)
        directory.mkdir(parents=True, exist_ok=True)
        path = generate(directory, args.policies, args.sources)
        exe = REPO / ".venv" / "bin" / "policy-lint"
        best = float("inf")
        out = ""
        for _ in range(3):
            start = time.perf_counter()
            proc = subprocess.run(
                [str(exe), "check", "--format", "json", str(path)], capture_output=True, text=True
            )
            best = min(best, time.perf_counter() - start)
            out = proc.stdout
        rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        verdict = json.loads(out)["files"][0]["services"]["facebook"]["verdict"]
        print(
            f"{args.policies} policies, {args.sources} sources: {best:.2f} s best of 3 "
            f"({args.policies / best:,.0f} policies/s), peak RSS {rss:.0f} MiB, facebook={verdict}"
        )
        return 0 if verdict == "blocked-partial" else 1


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark (#21): organisation-scale logs through `policy-lint traffic`, per engine.

    .venv/bin/python bench/traffic_scale.py [--records 5000000] [--engines python,duckdb,spark]
        [--repeat N] [--baseline DIR] [--keep DIR] [--inputs squid,zscaler]

Generates a squid native access.log and a Zscaler NSS default-feed web log of --records records
each (catalog and non-catalog hosts, 2,000 clients in a guest and a staff subnet, one record a
second over 60 days, some denied, some garbage lines in squid's and logins with a non-ASCII letter
in Zscaler's: lines the SQL engines leave to the Python readers), then runs `policy-lint traffic FILE
--engine E --by day --format json` on each, each run a new process (--repeat N times, the engines
alternating), and prints the median records/s with its spread, the median CPU seconds of the
child's process tree (user + system, the JVM's included, sampled every 0.1 s: steadier than wall
time on a loaded machine), and two peak RSS figures: the
largest single process (os.wait4) and the largest sum over the child's process tree, sampled every
0.1 s from /proc (with --engine spark the JVM is a second process beside Python's).
--baseline DIR runs the same engines from another checkout too (cwd DIR: its policy_lint is
imported), alternating with this one: old and new code measured under the same load.

Targets (#21): DuckDB >= 1,000,000 records/s on 2 cores; peak RSS <= 1 GB whatever the input
size; Spark (local[2]) within 3x of DuckDB. Both SQL engines parse plain squid and Zscaler lines
themselves (the lines they cannot prove they read as the Python readers do go to those readers).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HOSTS = [
    "www.facebook.com",
    "static.xx.fbcdn.net",
    "www.linkedin.com",
    "twitter.com",
    "abs.twimg.com",
    "www.example.org",
    "cdn.example.net",
    "mail.example.com",
]
START = 1655683200  # 2022-06-20 00:00 UTC


def _client(rng: random.Random) -> str:
    n = rng.randrange(2000)
    return f"10.20.{n // 250}.{n % 250}" if n < 1000 else f"10.10.{(n - 1000) // 250}.{n % 250}"


def squid(path: Path, records: int, seed: int = 1) -> None:
    rng = random.Random(seed)
    with open(path, "w") as out:
        for i in range(records):
            ts = START + i * (60 * 86400) // max(records, 1)
            host = rng.choice(HOSTS)
            client = _client(rng)
            if i % 100_000 == 99_999:
                out.write("garbage line\n")
            if client.startswith("10.20.") and "facebook" in host and (ts // 86400) % 2 == 0:
                out.write(
                    f"{ts}.{i % 1000:03d}      3 {client} TCP_DENIED/403 3850 CONNECT {host}:443 - HIER_NONE/- -\n"
                )
            else:
                out.write(
                    f"{ts}.{i % 1000:03d}    120 {client} TCP_TUNNEL/200 9000 CONNECT {host}:443 - HIER_DIRECT/157.240.1.35 -\n"
                )


def zscaler(path: Path, records: int, seed: int = 2) -> None:
    rng = random.Random(seed)
    with open(path, "w") as out:
        for i in range(records):
            ts = START + i * (60 * 86400) // max(records, 1)
            when = dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%a %b %d %H:%M:%S %Y")
            host = rng.choice(HOSTS)
            client = _client(rng)
            blocked = client.startswith("10.20.") and "facebook" in host and (ts // 86400) % 2 == 0
            action, code = ("Blocked", "403") if blocked else ("Allowed", "200")
            # a login with a non-ASCII letter now and then: a line DuckDB leaves to Python
            login = "josé@example.com" if i % 100_000 == 99_999 else "user@example.com"
            fields = [when, login, "HTTPS", f"{host}/", action, "App", "Class", "512", "9000"]
            fields += ["Business Use", "Social", "Social Networking", "None", "None", "0", "None", "None"]
            fields += ["HQ", "Dept", client, "157.240.1.35", "GET", code, "Mozilla/5.0", "None", "None"]
            fields += ["None", "text/html", "None", "user", "laptop", "N/A"]
            out.write("\t".join(fields) + "\n")


def _tree_sample(pid: int, cpu: dict[int, float]) -> int:
    """Resident bytes of `pid` and all its descendants now (0 once gone); the CPU seconds of each
    descendant so far go to `cpu` (pid -> user + system)."""
    total, todo = 0, [pid]
    tick = os.sysconf("SC_CLK_TCK")
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/status") as fh:
                for line in fh:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
            if p != pid:
                with open(f"/proc/{p}/stat") as fh:
                    fields = fh.read().rsplit(")", 1)[1].split()
                cpu[p] = (int(fields[11]) + int(fields[12])) / tick
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as fh:
                    todo += [int(c) for c in fh.read().split()]
        except (OSError, ValueError):
            continue
    return total


def run(path: Path, engine: str, cwd: Path | None = None) -> tuple[float, int, int, int, float]:
    """(seconds, peak RSS of the largest process, peak RSS of the process tree, exit code, CPU
    seconds of the process tree, user + system) of one `policy-lint traffic` child. The tree's
    CPU: the child's own with the processes it waited for, plus each process below it as last
    sampled (Spark's JVM is not waited for by pyspark: its CPU would be missed otherwise)."""
    cmd = [sys.executable, "-m", "policy_lint", "traffic", str(path), "--engine", engine, "--by", "day"]
    cmd += ["--format", "json"]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=cwd)
    tree = 0
    below: dict[int, float] = {}
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        tree = max(tree, _tree_sample(proc.pid, below))
        time.sleep(0.1)
    took = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    cpu = usage.ru_utime + usage.ru_stime + sum(below.values())
    return took, usage.ru_maxrss * 1024, tree, proc.returncode, cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=5_000_000)
    ap.add_argument("--engines", default="python,duckdb")
    ap.add_argument("--inputs", default="squid,zscaler")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--baseline", type=Path, help="another checkout to measure alternately (its cwd)")
    ap.add_argument("--keep", type=Path, help="write the inputs here and keep them")
    args = ap.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="policy-lint-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    inputs = {"squid": work / "access.log", "zscaler": work / "nss-web.log"}
    inputs = {k: v for k, v in inputs.items() if k in args.inputs.split(",")}
    t0 = time.perf_counter()
    for name, path in inputs.items():
        marker = path.with_suffix(".n")
        if args.keep and path.exists() and marker.exists() and marker.read_text() == str(args.records):
            continue  # kept from an earlier run with the same size
        (squid if name == "squid" else zscaler)(path, args.records)
        if args.keep:
            path.with_suffix(".n").write_text(str(args.records))
    print(f"inputs of {args.records:,} records ready in {time.perf_counter() - t0:.1f} s under {work}")
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    codes = [("this", None)] + ([("base", args.baseline)] if args.baseline else [])
    print(
        f"{'input':8} {'code':5} {'engine':7} {'records/s (median)':>19} {'spread':>17} "
        f"{'max proc RSS':>12} {'tree RSS':>9} {'exit':>4} {'CPU s (median)':>14}"
    )
    for name, path in inputs.items():
        results: dict[tuple[str, str], list[tuple[float, int, int, int, float]]] = {}
        for _ in range(args.repeat):
            for engine in args.engines.split(","):
                for label, cwd in codes:
                    results.setdefault((label, engine), []).append(run(path, engine, cwd))
        for (label, engine), runs in results.items():
            rates = [args.records / r[0] for r in runs]
            spread = f"{min(rates):,.0f}-{max(rates):,.0f}"
            print(
                f"{name:8} {label:5} {engine:7} {statistics.median(rates):19,.0f} {spread:>17} "
                f"{max(r[1] for r in runs) / 2**20:9.0f} MB {max(r[2] for r in runs) / 2**20:6.0f} MB "
                f"{max(r[3] for r in runs):4} {statistics.median(r[4] for r in runs):14.2f}"
            )
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if not args.keep:
        for path in inputs.values():
            path.unlink()
        work.rmdir()


if __name__ == "__main__":
    main()

"""Benchmark (#21): organisation-scale logs through `policy-lint traffic`, per engine.

    .venv/bin/python bench/traffic_scale.py [--records 5000000] [--engines python,duckdb] [--keep DIR]

Generates a squid native access.log and a Zscaler NSS default-feed web log of --records records
each (catalog and non-catalog hosts, 2,000 clients in a guest and a staff subnet, one record a
second over 60 days, some denied, some garbage lines), then runs `policy-lint traffic FILE
--engine E --by day --format json` on each, each run a new process, and prints records/s and the
child's peak RSS (os.wait4: the child's own resource usage).

Targets (#21): DuckDB >= 1,000,000 records/s on 2 cores; peak RSS <= 1 GB whatever the input
size. Both engines parse the records with the Python readers (the DuckDB engine classifies and
aggregates in SQL): parsing bounds the throughput of both, see the README.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
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
            fields = [when, "user@example.com", "HTTPS", f"{host}/", action, "App", "Class", "512", "9000"]
            fields += ["Business Use", "Social", "Social Networking", "None", "None", "0", "None", "None"]
            fields += ["HQ", "Dept", client, "157.240.1.35", "GET", code, "Mozilla/5.0", "None", "None"]
            fields += ["None", "text/html", "None", "user", "laptop", "N/A"]
            out.write("\t".join(fields) + "\n")


def run(path: Path, engine: str) -> tuple[float, int, int]:
    """(seconds, peak RSS bytes, exit code) of one `policy-lint traffic` child."""
    cmd = [sys.executable, "-m", "policy_lint", "traffic", str(path), "--engine", engine, "--by", "day"]
    cmd += ["--format", "json"]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    took = time.perf_counter() - t0
    return took, usage.ru_maxrss * 1024, os.waitstatus_to_exitcode(status)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=5_000_000)
    ap.add_argument("--engines", default="python,duckdb")
    ap.add_argument("--keep", type=Path, help="write the inputs here and keep them")
    args = ap.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="policy-lint-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    inputs = {"squid": work / "access.log", "zscaler": work / "nss-web.log"}
    t0 = time.perf_counter()
    squid(inputs["squid"], args.records)
    zscaler(inputs["zscaler"], args.records)
    print(f"generated 2 x {args.records:,} records in {time.perf_counter() - t0:.1f} s under {work}")
    print(f"{'input':8} {'engine':7} {'records/s':>12} {'peak RSS':>10} {'exit':>4}")
    for name, path in inputs.items():
        for engine in args.engines.split(","):
            took, rss, code = run(path, engine)
            print(f"{name:8} {engine:7} {args.records / took:12,.0f} {rss / 2**20:8.0f} MB {code:4}")
    if not args.keep:
        for path in inputs.values():
            path.unlink()
        work.rmdir()


if __name__ == "__main__":
    main()

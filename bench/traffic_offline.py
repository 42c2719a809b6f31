"""Offline traffic analysis throughput and memory. Prints figures; asserts nothing.

.venv/bin/python bench/traffic_offline.py [--flows 20000] [--lines 200000] [--observations 100000]
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

HOSTS = [
    "www.facebook.com",
    "static.xx.fbcdn.net",
    "twitter.com",
    "www.linkedin.com",
    "www.ning.com",
    "example.org",
    "static.licdn.com",
]


def rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed_cli(path: Path, n: int, label: str) -> None:
    t = time.perf_counter()
    r = subprocess.run(
        [sys.executable, "-m", "policy_lint", "traffic", str(path), "--format", "json"],
        capture_output=True,
        text=True,
    )
    dt_ = time.perf_counter() - t
    # The error text is built outside the f-string: nesting the same quote type inside a
    # replacement field is only valid from Python 3.12 on, and the project supports 3.11.
    error = " ERROR " + r.stderr.strip() if r.returncode == 2 else ""
    print(f"{label}: {n} records in {dt_:.2f}s = {n / dt_:,.0f} records/s (exit {r.returncode}{error})")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--flows", type=int, default=20000)
    ap.add_argument("--lines", type=int, default=200000)
    ap.add_argument("--observations", type=int, default=100000)
    a = ap.parse_args()
    from mitmproxy import io

    from tests.traffic.helpers import make_flow

    with tempfile.TemporaryDirectory() as d:
        mitm = Path(d) / "bench.mitm"
        with open(mitm, "wb") as fh:
            w = io.FlowWriter(fh)
            for i in range(a.flows):
                host = HOSTS[i % len(HOSTS)]
                w.add(
                    make_flow(
                        host,
                        status=403 if i % 3 == 0 else 200,
                        body=b"x" * 2000,
                        client=f"10.0.{i % 200}.{i % 250}",
                    )
                )
        timed_cli(mitm, a.flows, "mitm flow file")
        log = Path(d) / "access.log"
        with open(log, "w") as fh:
            for i in range(a.lines):
                tag = "TCP_DENIED/403" if i % 4 == 0 else "TCP_TUNNEL/200"
                fh.write(
                    f"{1795921200 + i}.000 12 10.1.{i % 200}.{i % 250} {tag} 3924 CONNECT "
                    f"{HOSTS[i % len(HOSTS)]}:443 - HIER_NONE/- -\n"
                )
        timed_cli(log, a.lines, "squid access.log")

    from policy_lint.catalog import load_catalog
    from policy_lint.traffic.classify import Classifier
    from policy_lint.traffic.compliance import ComplianceReport
    from policy_lint.traffic.record import FlowRecord

    catalog = load_catalog()
    c = Classifier(catalog)
    rep = ComplianceReport(catalog)
    before = rss_mb()
    t = time.perf_counter()
    for i in range(a.observations):
        rec = FlowRecord(
            1795921200.0 + i,
            f"h{i}.{HOSTS[i % len(HOSTS)]}",
            443,
            "https",
            client=f"10.{i % 250}.{(i // 250) % 250}.{i % 199}",
            status=200 if i % 5 else 403,
            server_ip="157.240.1.35",
        )
        obs = c.classify(rec)
        if obs:
            rep.add(obs)
    rep.to_dict()
    print(
        f"{a.observations} observations (unique hosts and clients) in {time.perf_counter() - t:.2f}s; "
        f"RSS {before:.1f} MB -> {rss_mb():.1f} MB"
    )


if __name__ == "__main__":
    main()

"""Benchmark: linting one small squid.conf, process start to exit, against the bare imports.

Target (issue 2): `policy-lint check squid.conf` within 1.5x of
`python -c 'import yaml, click, structlog'` on the same machine.

    .venv/bin/python bench/startup.py [--runs 15]

Prints the median and best wall time of each command and their ratio. It prints figures and
never fails: targets are judged by people reading the numbers, not by timed assertions.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SMALL_SQUID_CONF = """\
acl localnet src 10.0.0.0/8
acl guests src 10.50.0.0/16
acl social dstdomain .facebook.com .fbcdn.net
acl office_hours time MTWHF 09:00-17:00
acl SSL_ports port 443
acl CONNECT method CONNECT
http_access deny CONNECT !SSL_ports
http_access deny guests social office_hours
http_access allow localnet
http_access deny all
"""


def timed(argv: list[str], runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        out.append(time.perf_counter() - start)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=15)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        conf = Path(tmp) / "squid.conf"
        conf.write_text(SMALL_SQUID_CONF)
        baseline = timed([sys.executable, "-c", "import yaml, click, structlog"], args.runs)
        lint = timed([sys.executable, "-m", "policy_lint", "check", str(conf)], args.runs)
    b, l_ = statistics.median(baseline), statistics.median(lint)
    print(f"runs: {args.runs}")
    print(
        f"python -c 'import yaml, click, structlog': median {b * 1000:.0f} ms, best {min(baseline) * 1000:.0f} ms"
    )
    print(
        f"policy-lint check squid.conf (small):    median {l_ * 1000:.0f} ms, best {min(lint) * 1000:.0f} ms"
    )
    print(f"ratio (median): {l_ / b:.2f}x   target: <= 1.50x")


if __name__ == "__main__":
    main()

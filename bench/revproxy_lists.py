"""Benchmark: `policy-lint check` on HAProxy and nginx forward proxies with big host lists.

    .venv/bin/python bench/revproxy_lists.py [--names N] [--keep DIR]

Generates, with N host names (documentation-style names, none a catalog service's) plus the
Twitter/X names at the end:
- haproxy: a forward proxy whose `http-request deny` reads `hdr_end(host) -i -f blocked.lst`;
- nginx: a forward proxy whose `map $host $blocked { hostnames; ... }` feeds `if ($blocked)`.
Then times `policy-lint check` on each as a new process (best of 3), prints names per second
and the child's peak RSS, and checks the verdict (Twitter / X blocked, Facebook unaffected).
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


def generate_haproxy(directory: Path, names: int) -> Path:
    with open(directory / "blocked.lst", "w") as fh:
        for i in range(names):
            fh.write(f".host{i}.example.net\n")
        fh.write(".twitter.com\ntwitter.com\nx.com\n.x.com\n")
    path = directory / "haproxy.cfg"
    path.write_text(
        "defaults\n    mode http\nfrontend fwd\n    bind :3128\n"
        "    http-request deny if { hdr_end(host) -i -f blocked.lst } || { hdr(host) -i -f blocked.lst }\n"
        "    default_backend out\nbackend out\n    http-request set-dst var(txn.ip)\n    server clear 0.0.0.0:0\n"
    )
    return path


def generate_nginx(directory: Path, names: int) -> Path:
    path = directory / "nginx.conf"
    with open(path, "w") as fh:
        fh.write("events {}\nhttp {\n    map $host $blocked {\n        hostnames;\n        default 0;\n")
        for i in range(names):
            fh.write(f"        .host{i}.example.net 1;\n")
        fh.write("        .twitter.com 1;\n        .x.com 1;\n    }\n")
        fh.write(
            "    server {\n        listen 3128 default_server;\n        resolver 192.0.2.53;\n"
            "        if ($blocked) { return 403; }\n"
            "        location / { proxy_pass http://$http_host$request_uri; }\n    }\n}\n"
        )
    return path


def run(path: Path) -> tuple[float, dict]:
    best = float("inf")
    out: dict = {}
    for _ in range(3):
        start = time.perf_counter()
        proc = subprocess.run(
            [str(REPO / ".venv/bin/policy-lint"), "check", "--format", "json", str(path)],
            capture_output=True,
            text=True,
            timeout=600,
        )
        best = min(best, time.perf_counter() - start)
        out = json.loads(proc.stdout)
    return best, out


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--names", type=int, default=100_000)
    parser.add_argument("--keep", type=Path)
    args = parser.parse_args()
    directory = args.keep or Path(tempfile.mkdtemp(prefix="bench-revproxy-"))
    directory.mkdir(parents=True, exist_ok=True)
    ok = True
    for dialect, generate in (("haproxy", generate_haproxy), ("nginx", generate_nginx)):
        sub = directory / dialect
        sub.mkdir(exist_ok=True)
        path = generate(sub, args.names)
        seconds, report = run(path)
        verdicts = {sid: v["verdict"] for f in report["files"] for sid, v in f["services"].items()}
        rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        good = verdicts.get("twitter") == "blocked" and verdicts.get("facebook") == "unaffected"
        ok &= good
        print(
            f"{dialect:8} {args.names:>9} names  {seconds:6.2f} s  {args.names / seconds:>10,.0f} names/s  "
            f"peak RSS {rss:6.0f} MB  verdicts {'ok' if good else verdicts}"
        )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

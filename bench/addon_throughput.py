"""What the live addon costs: mitmdump throughput with and without it, and memory over 100k flows.

    .venv/bin/python bench/addon_throughput.py [--requests 2000] [--rounds 3] [--flows 100000]

Throughput: a real mitmdump on 127.0.0.1 in reverse mode in front of a local keep-alive origin,
`keep_host_header` on so every request carries a catalog Host (www.facebook.com, twitter.com, ...)
and the addon does its full work (record, classify, count) on each. N sequential keep-alive
requests on one connection: no addon, an empty `-s` addon, `-s addons/te_compliance.py`; rotating
(noise on 2 cores is ~20%, more when other jobs run). Printed: wall req/s (median round)
and mitmdump's own CPU time per request from /proc, which other load barely moves. Target: >= 95%.
Nothing is resolved: the client connects to an IP literal, mitmdump's target is an IP literal.

Memory: the addon in-process (`taddons.context`), fed synthetic flows with many distinct hosts,
clients and all outcome kinds; RSS growth between a warm-up and the end. Target: <= 10 MB.
Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import http.client
import importlib.util
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
ADDON = REPO / "addons" / "te_compliance.py"
MITMDUMP = Path(sys.executable).parent / "mitmdump"
LOOPBACK = "127.0.0.1"
HOSTS = [
    "www.facebook.com",
    "static.xx.fbcdn.net",
    "twitter.com",
    "pbs.twimg.com",
    "www.linkedin.com",
    "static.licdn.com",
    "www.ning.com",
    "www.example.com",
    "intranet.example.org",
]


# ------------------------------------------------------------------ throughput


class _Origin(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive
    disable_nagle_algorithm = True  # else each answer waits ~40 ms for a delayed ACK

    def do_GET(self) -> None:
        body = b"hello\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Content-Type", "text/plain")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@contextlib.contextmanager
def origin() -> Iterator[int]:
    server = ThreadingHTTPServer((LOOPBACK, 0), _Origin)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def mitmdump(origin_port: int, workdir: Path, variant: str) -> Iterator[tuple[int, int]]:
    port = free_port()
    cmd = [
        str(MITMDUMP),
        "-q",
        "--listen-host",
        LOOPBACK,
        "-p",
        str(port),
        "--mode",
        f"reverse:http://{LOOPBACK}:{origin_port}",
        "--set",
        "keep_host_header=true",
        "--set",
        f"confdir={workdir / 'mitmconf'}",
    ]
    if variant == "addon":
        cmd += [
            "-s",
            str(ADDON),
            "--set",
            f"te_report={workdir / 'report.json'}",
            "--set",
            "te_report_interval=1",
        ]
    elif variant == "empty":
        # The same hooks doing nothing: what any `-s` script costs in mitmproxy's dispatch.
        empty = workdir / "empty_addon.py"
        empty.write_text(
            "class Empty:\n    def response(self, flow): pass\n    def error(self, flow): pass\n"
            "addons = [Empty()]\n"
        )
        cmd += ["-s", str(empty)]
    with open(workdir / "mitmdump.err", "ab") as err:  # the child keeps its own copy of the fd
        proc = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err, start_new_session=True
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"mitmdump exited: {(workdir / 'mitmdump.err').read_text()[-2000:]}")
            try:
                socket.create_connection((LOOPBACK, port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield port, proc.pid
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process: unlike wall time, barely moved by other load on the box."""
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_requests(port: int, pid: int, n: int) -> tuple[float, float]:
    """n sequential keep-alive GETs on one connection: (requests/s, mitmdump CPU us/request)."""
    conn = http.client.HTTPConnection(LOOPBACK, port, timeout=10)
    try:
        for i in range(50):  # warm-up: connection, caches, the addon's first report write
            conn.request("GET", "/", headers={"Host": HOSTS[i % len(HOSTS)]})
            conn.getresponse().read()
        cpu = cpu_seconds(pid)
        t = time.perf_counter()
        for i in range(n):
            conn.request("GET", f"/p{i}", headers={"Host": HOSTS[i % len(HOSTS)]})
            r = conn.getresponse()
            r.read()
            if r.status != 200:
                raise RuntimeError(f"unexpected status {r.status}")
        wall = time.perf_counter() - t
        return n / wall, (cpu_seconds(pid) - cpu) / n * 1e6
    finally:
        conn.close()


VARIANTS = {"none": "no addon", "empty": "empty -s addon", "addon": "te_compliance"}


def throughput(n: int, rounds: int) -> None:
    rates: dict[str, list[float]] = {v: [] for v in VARIANTS}
    cpus: dict[str, list[float]] = {v: [] for v in VARIANTS}
    order = list(VARIANTS)
    with tempfile.TemporaryDirectory(prefix="te-bench-") as tmp, origin() as origin_port:
        work = Path(tmp)
        for r in range(rounds):
            # rotate the order: a load spike from elsewhere hits every variant alike
            for variant in order[r % 3 :] + order[: r % 3]:
                with mitmdump(origin_port, work, variant) as (port, pid):
                    rate, cpu = run_requests(port, pid, n)
                rates[variant].append(rate)
                cpus[variant].append(cpu)
                print(f"  round {r + 1}: {VARIANTS[variant]:15} {rate:6.0f} req/s  {cpu:6.0f} us CPU/request")
        report = work / "report.json"
        written = report.exists() and '"facebook"' in report.read_text()
    print(f"mitmdump {_mitm_version()} reverse mode, {n} keep-alive requests x {rounds} rounds (medians):")
    med = {v: (statistics.median(rates[v]), statistics.median(cpus[v])) for v in VARIANTS}
    for v, (rate, cpu) in med.items():
        print(f"  {VARIANTS[v]:15} {rate:6.0f} req/s  {cpu:6.0f} us CPU/request")
    for ref in ("none", "empty"):
        print(
            f"  te_compliance vs {VARIANTS[ref]:15}: wall ratio {med['addon'][0] / med[ref][0]:6.1%}, "
            f"CPU-bound ratio {med[ref][1] / med['addon'][1]:6.1%}  (target >= 95%)"
        )
    print(f"  report written by the addon: {written}")


# ------------------------------------------------------------------ memory


def rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def memory(n: int) -> None:
    warnings.simplefilter("ignore", DeprecationWarning)
    from mitmproxy import flow as mflow
    from mitmproxy import http
    from mitmproxy.test import taddons, tflow

    spec = importlib.util.spec_from_file_location("te_compliance_bench", ADDON)
    assert spec is not None and spec.loader is not None, ADDON
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    addon = module.TeCompliance()
    kinds = [
        (200, {}, None, "157.240.1.35"),
        (403, {"X-Squid-Error": "ERR_ACCESS_DENIED 0"}, None, "127.0.0.1"),
        (None, {}, "Upstream proxy 127.0.0.1:3128 refused HTTP CONNECT request: 403 Forbidden", None),
        (None, {}, "connection closed", None),
        (200, {}, None, "0.0.0.0"),
        (None, {}, "[Errno 111] Connect call failed ('127.0.0.1', 3128)", None),
    ]
    bases = ["fbcdn.net", "facebook.com", "twimg.com", "licdn.com", "ning.com", "example.org"]

    def make(i: int) -> http.HTTPFlow:
        f = tflow.tflow(resp=False)
        # many distinct hosts (the report caps its host table) and clients (pseudonym caps)
        f.request.host = f"h{i % 20000}.{bases[i % len(bases)]}"
        f.client_conn.peername = (f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}", 40000)
        status, headers, error, ip = kinds[i % len(kinds)]
        f.server_conn.peername = (ip, 443) if ip else None
        if status is not None:
            f.response = http.Response.make(status, b"x" * 512, headers)
        if error:
            f.error = mflow.Error(error)
        return f

    with taddons.context(addon) as tctx, tempfile.TemporaryDirectory(prefix="te-mem-") as tmp:
        tctx.configure(addon, te_report=str(Path(tmp) / "r.json"), te_report_interval=1)
        for i in range(2000):  # warm-up: imports, classifier cache, first report writes
            (addon.response if i % 2 else addon.error)(make(i))
        gc.collect()
        before = rss_mb()
        spent = 0.0
        t0 = time.perf_counter()
        for i in range(2000, 2000 + n):
            f = make(i)
            t = time.perf_counter()
            if f.error:
                addon.error(f)
            else:
                addon.response(f)
            spent += time.perf_counter() - t
        total = time.perf_counter() - t0
        addon.done()
        gc.collect()
        after = rss_mb()
    print(
        f"in-process: {n} synthetic flows ({len(kinds)} outcome kinds, 20000 hosts, {n} clients) "
        f"in {total:.1f} s; addon hooks {spent / n * 1e6:.1f} us/flow"
    )
    print(
        f"  RSS {before:.1f} MB -> {after:.1f} MB: growth {after - before:+.1f} MB  (target <= 10 MB); "
        f"observed {addon.observed}, addon errors {addon._errors}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--flows", type=int, default=100_000)
    args = ap.parse_args()
    print(f"python {sys.version.split()[0]}, mitmproxy {_mitm_version()}, {os.cpu_count()} cpus")
    throughput(args.requests, args.rounds)
    memory(args.flows)


def _mitm_version() -> str:
    from mitmproxy.version import VERSION

    return VERSION


if __name__ == "__main__":
    main()

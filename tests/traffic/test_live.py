"""`policy-lint live` end to end: a real mitmproxy master, a real origin, real HTTP, on 127.0.0.1.

    client (this test) -> policy-lint live (mitmproxy's DumpMaster + the addon in-process,
        reverse mode, keep_host_header) -> origin on 127.0.0.1

The origin plays the filter: for a Facebook Host it answers squid's 403 block page with
`X-Squid-Error: ERR_ACCESS_DENIED 0`, for anything else 200. Nothing is resolved and no packet
leaves 127.0.0.1 (the client connects to an IP literal, the reverse target is an IP literal).
Checked: the client gets exactly the origin's answers (the addon only observes), the report is
rewritten while the proxy runs and once more on SIGTERM, it holds no path or client address,
and the exit code says a required service was blocked (1), as `policy-lint traffic` does.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

LOOPBACK = "127.0.0.1"
START_TIMEOUT = 60.0  # importing mitmproxy takes 1-2 s; a loaded box gets more
SECRET_PATH = "/inbox/private?token=LIVESECRET"
SQUID_PAGE = b"<html><title>ERROR: The requested URL could not be retrieved</title>ERR_ACCESS_DENIED</html>"


class _Origin(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def do_GET(self) -> None:
        host = (self.headers.get("Host") or "").split(":")[0]
        if host.endswith("facebook.com"):
            status, body, extra = 403, SQUID_PAGE, [("X-Squid-Error", "ERR_ACCESS_DENIED 0")]
        else:
            status, body, extra = 200, b"hello " + host.encode() + b"\n", []
        self.send_response(status)
        for name, value in [*extra, ("Content-Type", "text/html"), ("Content-Length", str(len(body)))]:
            self.send_header(name, value)
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


def _live_command(port: int, origin_port: int, tmp: Path, *options: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "policy_lint",
        "live",
        *options,
        "--",
        "--listen-host",
        LOOPBACK,
        "-p",
        str(port),
        "--mode",
        f"reverse:http://{LOOPBACK}:{origin_port}",
        "--set",
        "keep_host_header=true",
        "--set",
        f"confdir={tmp / 'mitmconf'}",
    ]


def _wait_listening(port: int, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"policy-lint live exited with {process.returncode}:\n{log.read_text()}")
        with contextlib.suppress(OSError):
            socket.create_connection((LOOPBACK, port), timeout=0.5).close()
            return
        time.sleep(0.1)
    raise AssertionError(f"not listening after {START_TIMEOUT:.0f} s:\n{log.read_text()}")


def get(port: int, host: str) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection(LOOPBACK, port, timeout=10)
    try:
        conn.request("GET", SECRET_PATH, headers={"Host": host, "Cookie": "s=LIVECOOKIE"})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def test_live_runs_mitmproxy_with_the_addon_in_process(tmp_path):
    report = tmp_path / "report.json"
    log = tmp_path / "live.log"
    port = free_port()
    with origin() as origin_port, open(log, "wb") as out:
        cmd = _live_command(port, origin_port, tmp_path, "--report", str(report), "--interval", "1")
        process = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            _wait_listening(port, process, log)
            answers = {h: get(port, h) for h in ("www.facebook.com", "www.linkedin.com", "www.example.com")}
            # The proxy passed the origin's answers through untouched.
            assert answers["www.facebook.com"] == (403, SQUID_PAGE)
            assert answers["www.linkedin.com"] == (200, b"hello www.linkedin.com\n")
            deadline = time.monotonic() + 20
            running = None
            while time.monotonic() < deadline:  # the periodic rewrite, while the proxy runs
                with contextlib.suppress(OSError, ValueError):
                    running = json.loads(report.read_text())
                    if running["services"]["linkedin"]["requests"] == 1:
                        break
                time.sleep(0.2)
            assert running is not None, log.read_text()
            assert process.poll() is None
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
            try:
                code = process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                raise
    output = log.read_text(errors="replace")
    assert running["services"]["facebook"]["verdict"] == "blocked", output
    final = json.loads(report.read_text())
    verdicts = {sid: s["verdict"] for sid, s in final["services"].items()}
    assert verdicts["facebook"] == "blocked" and verdicts["linkedin"] == "compliant", output
    assert [e["how"] for e in final["services"]["facebook"]["evidence"]] == ["block-page:squid"]
    assert final["control"]["reachable"] == 1
    assert "LIVESECRET" not in report.read_text() and "/inbox" not in report.read_text()
    assert "LIVECOOKIE" not in report.read_text()
    assert "127.0.0.1" not in json.dumps(final["audiences"])  # pseudonymised by default
    assert code == 1, output  # facebook, required by the strict policy, was blocked
    assert "blocked or degraded: facebook" in output
    assert "te_compliance: facebook is now blocked" in output  # the addon logs through mitmproxy
    assert "internal error" not in output and "Traceback" not in output
    assert os.listdir(tmp_path).count("report.json") == 1
    assert not [f for f in os.listdir(tmp_path) if f.startswith(".report.json")]  # no temp file left


def test_live_clean_run_exits_0(tmp_path):
    log = tmp_path / "live.log"
    port = free_port()
    with origin() as origin_port, open(log, "wb") as out:
        cmd = _live_command(port, origin_port, tmp_path, "--report", str(tmp_path / "r"), "-q")
        process = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            _wait_listening(port, process, log)
            assert get(port, "twitter.com")[0] == 200
        finally:
            process.send_signal(signal.SIGTERM)
            code = process.wait(timeout=30)
    assert code == 0, log.read_text()
    assert sorted(p.name for p in tmp_path.glob("r.*")) == ["r.html", "r.json", "r.md"]
    assert json.loads((tmp_path / "r.json").read_text())["services"]["twitter"]["verdict"] == "compliant"


@pytest.mark.parametrize(
    "options,message",
    [
        (["--report", "/nonexistent-dir-for-te/r.json"], "does not exist"),
        (["--policy", "/nonexistent-policy.yaml"], "te_policy"),
    ],
)
def test_live_refused_options_exit_2(tmp_path, options, message):
    # Refused before anything listens (and it would listen on loopback only, port 0).
    result = subprocess.run(
        _live_command(0, 9, tmp_path, *options),
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert message in result.stdout + result.stderr
    assert "Traceback" not in result.stderr

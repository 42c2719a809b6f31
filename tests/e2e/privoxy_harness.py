"""A real Privoxy on 127.0.0.1 for end-to-end tests.

Two small servers, each a context manager that stops what it started:

- `parent_proxy()`: a threaded HTTP proxy on 127.0.0.1 that answers `200 hello <Host>` to any
  absolute-form request and `200 Connection established` to any CONNECT (then closes: no TLS is
  spoken). Privoxy forwards everything to it (`forward / 127.0.0.1:<port>`), so Privoxy never
  resolves a name and no packet leaves 127.0.0.1;
- `running_privoxy(lines, tmpdir, parent_port=...)`: Debian's privoxy in the foreground
  (`privoxy --no-daemon CONFIG`) with a fixed loopback-only preamble and the test's own config
  lines (`actionsfile`, `forward`, `trustfile` ...). The preamble's catch-all `forward` comes
  first, so a test's own `forward` lines (later: the last match wins) override it.

`fetch(port, probe_url)` asks Privoxy for one URL: a plain GET in absolute form for `http://`,
a CONNECT to `host:443` for `https://`, and returns an `Answer` (status, Location, whether the
parent proxy answered). Every wait is bounded.

    with parent_proxy() as parent:
        with running_privoxy(["actionsfile /abs/user.action"], tmp, parent_port=parent.port) as p:
            fetch(p.port, "https://www.facebook.com/")   # Answer(403, ...), Answer(200, ...)

Privoxy must not be asked to connect anywhere but 127.0.0.1: test configs forward to
127.0.0.1 only, and use `forward-socks4a/5/5t` (remote DNS), never `forward-socks4` or `.`
(both resolve the name locally).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

LOOPBACK = "127.0.0.1"
START_TIMEOUT = 10.0  # seconds until a started privoxy must accept connections
STOP_TIMEOUT = 5.0
FETCH_TIMEOUT = 5.0
TEMPLATE_DIRS = ("/etc/privoxy/templates", "/usr/share/privoxy/templates")
PARENT_BANNER = "policy-lint-parent"


def find_privoxy() -> str | None:
    """The privoxy binary: on PATH, or Debian's /usr/sbin/privoxy (not on a non-root PATH)."""
    found = shutil.which("privoxy")
    if found:
        return found
    if os.access("/usr/sbin/privoxy", os.X_OK):
        return "/usr/sbin/privoxy"
    return None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


# ------------------------------------------------------------------ the parent proxy


class _ParentHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server_version = PARENT_BANNER

    def _answer(self, with_body: bool) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(min(length, 1 << 20))
        body = f"hello {self.headers.get('Host', '')}\n".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Policy-Lint-Parent", "1")
        self.end_headers()
        if with_body:
            self.wfile.write(body)

    def do_GET(self) -> None:
        self._answer(True)

    def do_POST(self) -> None:
        self._answer(True)

    def do_HEAD(self) -> None:
        self._answer(False)

    def do_CONNECT(self) -> None:
        self.send_response(200, "Connection established")
        self.send_header("X-Policy-Lint-Parent", "1")
        self.end_headers()
        self.close_connection = True

    def log_message(self, format: str, *args: object) -> None:
        pass


class _ParentServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64


@dataclass
class Parent:
    host: str
    port: int


@contextlib.contextmanager
def parent_proxy() -> Iterator[Parent]:
    server = _ParentServer((LOOPBACK, 0), _ParentHandler)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.1}, name="privoxy-parent", daemon=True
    )
    thread.start()
    try:
        yield Parent(LOOPBACK, server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=2)


# ------------------------------------------------------------------ privoxy


def _templdir() -> str | None:
    return next((d for d in TEMPLATE_DIRS if os.path.isdir(d)), None)


def harness_forward_line(parent_port: int) -> str:
    return f"forward / {LOOPBACK}:{parent_port}"


def privoxy_config(lines: list[str], *, port: int, state_dir: Path, parent_port: int) -> str:
    """The loopback-only preamble, then the test's lines (whole-line comments only)."""
    templ = _templdir()
    preamble = [
        f"confdir {state_dir}",
        *([f"templdir {templ}"] if templ else []),
        f"listen-address {LOOPBACK}:{port}",
        "toggle 1",
        "enable-remote-toggle 0",
        "enable-edit-actions 0",
        "accept-intercepted-requests 0",
        "keep-alive-timeout 0",
        "socket-timeout 5",
        "forwarded-connect-retries 0",
        "debug 1",
        "debug 1024",
        "debug 4096",
        harness_forward_line(parent_port),
    ]
    return "\n".join(preamble + [line.strip() for line in lines]) + "\n"


@dataclass
class Privoxy:
    port: int
    dir: Path
    conf: Path
    process: subprocess.Popen

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = (self.dir / "privoxy.log").read_text(errors="replace")
        except OSError:
            return ""
        return "--- privoxy.log\n" + "\n".join(text.splitlines()[-lines:]) + "\n"


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, STOP_TIMEOUT), (signal.SIGKILL, 5.0)):
        try:
            if sig == signal.SIGKILL:
                os.killpg(process.pid, sig)
            else:
                process.send_signal(sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def _wait_ready(p: Privoxy, deadline: float) -> None:
    while time.monotonic() < deadline:
        if p.process.poll() is not None:
            raise RuntimeError(
                f"privoxy exited with status {p.process.returncode} while starting\n" + p.log_tail()
            )
        try:
            with socket.create_connection((LOOPBACK, p.port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(
        f"privoxy did not listen on 127.0.0.1:{p.port} within {START_TIMEOUT:.0f} s\n" + p.log_tail()
    )


@contextlib.contextmanager
def running_privoxy(
    lines: list[str],
    tmpdir: str | os.PathLike | None = None,
    *,
    parent_port: int,
    files: dict[str, str] | None = None,
    keep_dir: bool = False,
) -> Iterator[Privoxy]:
    """Privoxy running the preamble + `lines` on 127.0.0.1:<free port>; stopped on exit.

    `files` (name -> text) are written into the state directory first (Privoxy's confdir), so
    `actionsfile user.action` in `lines` finds them.
    """
    binary = find_privoxy()
    if binary is None:
        raise RuntimeError("privoxy is not installed (apt-get install privoxy)")
    with contextlib.ExitStack() as stack:
        base = Path(tmpdir) if tmpdir is not None else Path(tempfile.gettempdir())
        state = Path(tempfile.mkdtemp(prefix="policy-lint-privoxy-", dir=base))
        if not keep_dir:
            stack.callback(shutil.rmtree, state, True)
        for name, text in (files or {}).items():
            target = state / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
        port = free_port()
        conf = state / "config"
        conf.write_text(privoxy_config(lines, port=port, state_dir=state, parent_port=parent_port))
        log = open(state / "privoxy.log", "wb")  # noqa: SIM115 (closed by the stack)
        stack.callback(log.close)
        process = subprocess.Popen(
            [binary, "--no-daemon", str(conf)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            cwd=state,
            start_new_session=True,
        )
        stack.callback(_stop, process)
        p = Privoxy(port, state, conf, process)
        _wait_ready(p, time.monotonic() + START_TIMEOUT)
        yield p


# ------------------------------------------------------------------ client


@dataclass(frozen=True)
class Answer:
    status: int
    reason: str
    location: str = ""
    from_parent: bool = False  # the request went through to the parent proxy ("the internet")

    def __str__(self) -> str:
        where = f" -> {self.location}" if self.location else ""
        return f"{self.status} {self.reason}{where}" + (" (parent)" if self.from_parent else "")


def fetch(proxy_port: int, url: str, timeout: float = FETCH_TIMEOUT) -> Answer:
    """Ask Privoxy for `url`: GET in absolute form (http://) or CONNECT host:443 (https://)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.scheme == "https":
        request = f"CONNECT {host}:{parts.port or 443} HTTP/1.1\r\nHost: {host}:{parts.port or 443}\r\n\r\n"
    elif parts.scheme == "http":
        request = (
            f"GET {url} HTTP/1.1\r\nHost: {parts.netloc}\r\nConnection: close\r\n"
            "Accept: */*\r\nUser-Agent: policy-lint-e2e\r\n\r\n"
        )
    else:
        raise ValueError(f"not an http(s) URL: {url!r}")
    data = b""
    with socket.create_connection((LOOPBACK, proxy_port), timeout=timeout) as s:
        s.sendall(request.encode())
        deadline = time.monotonic() + timeout
        while b"\r\n\r\n" not in data and time.monotonic() < deadline:
            try:
                chunk = s.recv(65536)
            except TimeoutError:
                break
            if not chunk:
                break
            data += chunk
    head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1")
    lines = head.split("\r\n")
    if not lines or not lines[0].startswith("HTTP/"):
        raise RuntimeError(f"no HTTP answer from privoxy for {url}: {data[:200]!r}")
    _version, status, *reason = lines[0].split(" ", 2)
    headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in lines[1:])}
    return Answer(
        int(status),
        reason[0] if reason else "",
        headers.get("location", ""),
        headers.get("x-policy-lint-parent") == "1",
    )

"""Real HAProxy and nginx on 127.0.0.1 for end-to-end tests, with a loopback origin.

- `origin()`: a threaded TCP server on 127.0.0.1 that stands for every web site: whatever it
  is sent first (an HTTP request, a CONNECT, a TLS client hello) it answers with one HTTP 200
  carrying `X-Policy-Lint-Origin: 1`, then closes. A probe "reached the site" when that header
  comes back to the client.
- `running_haproxy(text, tmpdir)` / `running_nginx(text, tmpdir)`: Debian's program in the
  foreground with the test's config in its own temporary directory, stopped on exit (SIGTERM,
  then SIGKILL of its process group); `haproxy -c` / `nginx -t` as `check_*`.
- `ask_http(port, url)`: a GET in absolute form (http://) or a CONNECT host:443 (https://), as
  a browser asks a proxy; `ask_tls(port, host)`: a TLS client hello with that SNI, as an
  intercepted HTTPS connection reaches an SNI proxy. Both say whether the origin answered.

The programs must never connect beyond 127.0.0.1: the test configs route the forward path to
the loopback origin (HAProxy: the `server 0.0.0.0` line replaced by the origin's address;
nginx: an `upstream` named after every probe host, which nginx consults before any resolver,
and every `resolver` pointed at a closed loopback port). Every wait is bounded.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

LOOPBACK = "127.0.0.1"
START_TIMEOUT = 10.0
STOP_TIMEOUT = 5.0
ASK_TIMEOUT = 5.0
ORIGIN_HEADER = b"X-Policy-Lint-Origin: 1"
NGINX_STREAM_MODULE = "/usr/lib/nginx/modules/ngx_stream_module.so"


def find_program(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    for d in ("/usr/sbin", "/usr/bin"):
        if os.access(f"{d}/{name}", os.X_OK):
            return f"{d}/{name}"
    return None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


# ------------------------------------------------------------------ the origin


@dataclass
class Origin:
    port: int


def _serve_one(conn: socket.socket) -> None:
    with conn:
        conn.settimeout(ASK_TIMEOUT)
        try:
            data = conn.recv(65536)
            if not data:
                return
            body = b"origin\n"
            conn.sendall(
                b"HTTP/1.1 200 OK\r\n" + ORIGIN_HEADER + b"\r\nContent-Type: text/plain\r\n"
                b"Content-Length: " + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n" + body
            )
        except OSError:
            return


@contextlib.contextmanager
def origin() -> Iterator[Origin]:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((LOOPBACK, 0))
    listener.listen(128)
    listener.settimeout(0.2)
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            try:
                conn, _addr = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=_serve_one, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=loop, name="revproxy-origin", daemon=True)
    thread.start()
    try:
        yield Origin(listener.getsockname()[1])
    finally:
        stop.set()
        thread.join(timeout=2)
        listener.close()


@contextlib.contextmanager
def loopback_dns() -> Iterator[int]:
    """A DNS server on 127.0.0.1 (UDP) that answers every A query with 127.0.0.1 and nothing
    else, so a program resolving the requested name (HAProxy's do-resolve) connects to the
    loopback origin; yields its port."""
    import dns.flags
    import dns.message
    import dns.rdatatype
    import dns.rrset

    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((LOOPBACK, 0))
    sock.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                data, peer = sock.recvfrom(4096)
            except (TimeoutError, OSError):
                continue
            try:
                query = dns.message.from_wire(data)
            except Exception:
                continue
            response = dns.message.make_response(query)
            response.flags |= dns.flags.RA
            for q in query.question:
                if q.rdtype == dns.rdatatype.A:
                    response.answer.append(dns.rrset.from_text(q.name, 60, "IN", "A", LOOPBACK))
            with contextlib.suppress(OSError):
                sock.sendto(response.to_wire(), peer)

    thread = threading.Thread(target=serve, name="revproxy-dns", daemon=True)
    thread.start()
    try:
        yield sock.getsockname()[1]
    finally:
        stop.set()
        thread.join(timeout=2)
        sock.close()


# ------------------------------------------------------------------ the programs


@dataclass
class Running:
    dir: Path
    process: subprocess.Popen

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = (self.dir / "program.log").read_text(errors="replace")
        except OSError:
            return ""
        return "--- log\n" + "\n".join(text.splitlines()[-lines:]) + "\n"


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, STOP_TIMEOUT), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def _wait_ready(run: Running, ports: list[int]) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    pending = list(ports)
    while pending and time.monotonic() < deadline:
        if run.process.poll() is not None:
            raise RuntimeError(
                f"exited with status {run.process.returncode} while starting\n" + run.log_tail()
            )
        try:
            with socket.create_connection((LOOPBACK, pending[0]), timeout=0.5):
                pending.pop(0)
        except OSError:
            time.sleep(0.05)
    if pending:
        raise RuntimeError(f"did not listen on 127.0.0.1:{pending[0]} in time\n" + run.log_tail())


@contextlib.contextmanager
def _running(argv: list[str], state: Path, ports: list[int]) -> Iterator[Running]:
    with contextlib.ExitStack() as stack:
        log = open(state / "program.log", "wb")  # noqa: SIM115 (closed by the stack)
        stack.callback(log.close)
        process = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log, cwd=state, start_new_session=True
        )
        stack.callback(_stop, process)
        run = Running(state, process)
        _wait_ready(run, ports)
        yield run


def _state_dir(tmpdir: str | os.PathLike, prefix: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=prefix, dir=tmpdir))


def check_haproxy(text: str, tmpdir: str | os.PathLike) -> subprocess.CompletedProcess:
    binary = find_program("haproxy")
    assert binary
    state = _state_dir(tmpdir, "haproxy-check-")
    (state / "haproxy.cfg").write_text(text)
    return subprocess.run(
        [binary, "-c", "-f", str(state / "haproxy.cfg")],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=state,
    )


@contextlib.contextmanager
def running_haproxy(
    text: str, tmpdir: str | os.PathLike, ports: list[int], files: dict[str, str] | None = None
) -> Iterator[Running]:
    """HAProxy in the foreground (-db) on `text`, its listening `ports` awaited; `files` (ACL
    pattern files) are written beside the config, its working directory."""
    binary = find_program("haproxy")
    if binary is None:
        raise RuntimeError("haproxy is not installed (apt-get install haproxy)")
    state = _state_dir(tmpdir, "haproxy-")
    (state / "haproxy.cfg").write_text(text)
    for name, body in (files or {}).items():
        (state / name).write_text(body)
    with _running([binary, "-db", "-f", str(state / "haproxy.cfg")], state, ports) as run:
        yield run


def nginx_preamble(state: Path, stream: bool) -> str:
    """What makes nginx run unprivileged in its own directory: no daemon, pid, logs and temp
    files in `state` (the master runs as whoever runs the tests)."""
    lines = [f"load_module {NGINX_STREAM_MODULE};"] if stream else []
    lines += [
        "daemon off;",
        "master_process off;",
        f"pid {state}/nginx.pid;",
        "error_log stderr notice;",
    ]
    return "\n".join(lines) + "\n"


def nginx_http_preamble(state: Path) -> str:
    names = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    return "\n".join([f"    {n}_temp_path {state}/{n};" for n in names] + ["    access_log off;"]) + "\n"


def check_nginx(text: str, tmpdir: str | os.PathLike) -> subprocess.CompletedProcess:
    binary = find_program("nginx")
    assert binary
    state = _state_dir(tmpdir, "nginx-check-")
    (state / "nginx.conf").write_text(text)
    return subprocess.run(
        [binary, "-t", "-p", str(state), "-c", str(state / "nginx.conf"), "-g", f"pid {state}/nginx.pid;"],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=state,
    )


@contextlib.contextmanager
def running_nginx(
    text: str, tmpdir: str | os.PathLike, ports: list[int], files: dict[str, str] | None = None
) -> Iterator[Running]:
    """nginx in the foreground on `text` (which must start with `nginx_preamble`); `files`
    (included snippets) are written beside it, where relative includes look."""
    binary = find_program("nginx")
    if binary is None:
        raise RuntimeError("nginx is not installed (apt-get install nginx)")
    state = _state_dir(tmpdir, "nginx-")
    conf = state / "nginx.conf"
    conf.write_text(text)
    for name, body in (files or {}).items():
        (state / name).parent.mkdir(parents=True, exist_ok=True)
        (state / name).write_text(body)
    with _running([binary, "-p", str(state), "-c", str(conf)], state, ports) as run:
        yield run


def state_of(tmpdir: str | os.PathLike, prefix: str) -> Path:
    """A fresh directory for one program run (the preamble needs its path before the run)."""
    return _state_dir(tmpdir, prefix)


# ------------------------------------------------------------------ clients


@dataclass(frozen=True)
class Answer:
    status: int | None  # None: the connection was closed or reset without an HTTP answer
    reached_origin: bool

    def __str__(self) -> str:
        return ("origin" if self.reached_origin else "blocked") + f" ({self.status})"


def _read(s: socket.socket, timeout: float) -> bytes:
    data = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and b"\r\n\r\n" not in data:
        try:
            chunk = s.recv(65536)
        except (TimeoutError, ConnectionResetError):
            break
        if not chunk:
            break
        data += chunk
    return data


def _answer(data: bytes) -> Answer:
    head = data.split(b"\r\n\r\n", 1)[0]
    first = head.split(b"\r\n", 1)[0].decode("latin-1")
    status = int(first.split(" ")[1]) if first.startswith("HTTP/") and len(first.split(" ")) > 1 else None
    return Answer(status, ORIGIN_HEADER.lower() in head.lower())


def ask_http(port: int, url: str, timeout: float = ASK_TIMEOUT) -> Answer:
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.scheme == "https":
        authority = f"{host}:{parts.port or 443}"
        request = f"CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n\r\n"
    else:
        request = (
            f"GET {url} HTTP/1.1\r\nHost: {parts.netloc}\r\nConnection: close\r\n"
            "Accept: */*\r\nUser-Agent: policy-lint-e2e\r\n\r\n"
        )
    with socket.create_connection((LOOPBACK, port), timeout=timeout) as s:
        s.sendall(request.encode())
        return _answer(_read(s, timeout))


def client_hello(host: str) -> bytes:
    """The bytes of a TLS client hello with `host` as SNI (made by Python's ssl, never sent to
    any real server)."""
    ctx = ssl.create_default_context()
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(incoming, outgoing, server_hostname=host)
    with contextlib.suppress(ssl.SSLWantReadError):
        obj.do_handshake()
    return outgoing.read()


def ask_tls(port: int, host: str, timeout: float = ASK_TIMEOUT) -> Answer:
    with socket.create_connection((LOOPBACK, port), timeout=timeout) as s:
        s.sendall(client_hello(host))
        return _answer(_read(s, timeout))

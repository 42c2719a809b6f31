"""A real Squid on 127.0.0.1 for end-to-end tests (see ../shared/recipes/e2e-squid-mitmproxy.md).

Three small servers, each a context manager that stops what it started:

- `stub_dns()`: a UDP DNS server on a loopback address, port 53 (Squid's `dns_nameservers`
  takes no port), answering NXDOMAIN to every query, so Squid never asks the machine's resolver;
- `origin_server()`: a threaded HTTP server on 127.0.0.1 answering `200 hello <Host>` for any
  Host; Squid reaches it as an `originserver` parent for every request (`never_direct`);
- `running_squid(access_rules, tmpdir)`: Debian's squid in the foreground (`squid -N`) with a
  fixed loopback-only preamble plus the test's `acl`/`http_access`/`deny_info` lines.

`fetch_via_proxy(port, url)` sends one plain-HTTP request in absolute form to the proxy and
returns the status code, or `"reset"` when the proxy drops the connection without an answer
(`deny_info TCP_RESET`). Only `http://` URLs: no name is ever resolved, no TLS is spoken and no
packet leaves 127.0.0.1. Every wait is bounded.

    with origin_server() as origin, stub_dns() as dns:
        with running_squid(rules, origin_port=origin.port, dns_address=dns.address) as squid:
            fetch_via_proxy(squid.port, "http://www.facebook.com/")   # 403, 200 or "reset"
"""

from __future__ import annotations

import contextlib
import http.client
import os
import pwd
import shutil
import signal
import socket
import stat
import struct
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
SQUID_USER = "proxy"
START_TIMEOUT = 15.0  # seconds until a started squid must answer
STOP_TIMEOUT = 5.0  # seconds a squid gets to exit after SIGINT, then SIGTERM, then SIGKILL
FETCH_TIMEOUT = 10.0  # one request through the proxy (squid's own timeouts are shorter)
# Loopback addresses tried, in order, for the stub DNS server (port 53 may be taken on one).
DNS_ADDRESSES = ("127.0.0.2",) + tuple(f"127.0.53.{i}" for i in range(1, 9))


def find_squid() -> str | None:
    """The squid binary: on PATH, or Debian's /usr/sbin/squid (not on a non-root PATH)."""
    found = shutil.which("squid")
    if found:
        return found
    if os.access("/usr/sbin/squid", os.X_OK):
        return "/usr/sbin/squid"
    return None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


# ------------------------------------------------------------------ stub DNS


def _nxdomain(query: bytes) -> bytes | None:
    """The NXDOMAIN answer to a DNS query: same id and question, no records."""
    if len(query) < 12:
        return None
    qid, flags, qdcount = struct.unpack("!HHH", query[:6])
    if flags & 0x8000:  # a response, not a query
        return None
    end = 12
    if qdcount == 1:
        try:
            while query[end]:
                if query[end] & 0xC0:  # no compression in a question we answer
                    raise IndexError
                end += 1 + query[end]
            end += 1 + 4  # the root label, QTYPE and QCLASS
        except IndexError:
            end, qdcount = 12, 0
        if end > len(query):
            end, qdcount = 12, 0
    else:
        qdcount = 0
    # QR=1, the query's opcode and RD, RA=1, RCODE=3 (NXDOMAIN); FORMERR when unreadable.
    rflags = 0x8000 | (flags & 0x7900) | 0x0080 | (3 if qdcount else 1)
    return struct.pack("!HHHHHH", qid, rflags, qdcount, 0, 0, 0) + query[12:end]


@dataclass
class StubDNS:
    address: str
    port: int
    queries: int = 0


@contextlib.contextmanager
def stub_dns(addresses: tuple[str, ...] = DNS_ADDRESSES) -> Iterator[StubDNS]:
    """A UDP DNS server on the first free loopback address (port 53) answering NXDOMAIN.

    Without the privilege to bind port 53 it listens on a high port instead (useless to Squid,
    which then gets "port unreachable" from the address and fails its lookups at once: still
    nothing leaves the machine).
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    bound = False
    for address in addresses:
        try:
            sock.bind((address, 53))
            bound = True
            break
        except PermissionError:
            break
        except OSError:
            continue
    if not bound:
        sock.bind((addresses[0], 0))
    sock.settimeout(0.2)
    address, port = sock.getsockname()
    dns = StubDNS(address, port)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                data, peer = sock.recvfrom(4096)
            except (TimeoutError, OSError):
                continue
            answer = _nxdomain(data)
            if answer is not None:
                dns.queries += 1
                with contextlib.suppress(OSError):
                    sock.sendto(answer, peer)

    thread = threading.Thread(target=serve, name="stub-dns", daemon=True)
    thread.start()
    try:
        yield dns
    finally:
        stop.set()
        thread.join(timeout=2)
        sock.close()


# ------------------------------------------------------------------ origin


class _OriginHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # else every answer waits ~40 ms for a delayed ACK
    server_version = "policy-lint-origin"

    def _answer(self, with_body: bool) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(min(length, 1 << 20))
        body = f"hello {self.headers.get('Host', '')}\n".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if with_body:
            self.wfile.write(body)

    def do_GET(self) -> None:
        self._answer(True)

    def do_POST(self) -> None:
        self._answer(True)

    def do_HEAD(self) -> None:
        self._answer(False)

    def log_message(self, format: str, *args: object) -> None:
        pass


class _OriginServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64


@dataclass
class Origin:
    host: str
    port: int


@contextlib.contextmanager
def origin_server() -> Iterator[Origin]:
    """An HTTP server on 127.0.0.1 (free port) answering `200 hello <Host>` for any Host."""
    server = _OriginServer((LOOPBACK, 0), _OriginHandler)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.1}, name="origin-http", daemon=True
    )
    thread.start()
    try:
        yield Origin(LOOPBACK, server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=2)


# ------------------------------------------------------------------ squid

PREAMBLE = """\
http_port {listen}:{port}
visible_hostname test-squid
cache_effective_user {user}
pid_filename {dir}/squid.pid
cache_log {dir}/cache.log
access_log stdio:{dir}/access.log squid
coredump_dir {dir}
cache deny all
cache_mem 8 MB
pinger_enable off
dns_nameservers {dns}
dns_timeout 2 seconds
udp_incoming_address 127.0.0.1
udp_outgoing_address 127.0.0.1
forward_timeout 5 seconds
connect_timeout 3 seconds
shutdown_lifetime 1 seconds
cache_peer {origin_host} parent {origin_port} 0 no-query no-digest originserver name=origin_http
never_direct allow all
"""


@dataclass
class Squid:
    port: int
    dir: Path
    conf: Path
    process: subprocess.Popen

    def log_tail(self, lines: int = 30) -> str:
        return _tail(self.dir / "cache.log", lines) + _tail(self.dir / "squid.stderr", lines)

    def access_log(self) -> str:
        with contextlib.suppress(OSError):
            return (self.dir / "access.log").read_text(errors="replace")
        return ""


def _tail(path: Path, lines: int) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return f"--- {path.name}\n" + "\n".join(text.splitlines()[-lines:]) + "\n"


def _world_traversable(path: Path) -> bool:
    for p in (path, *path.parents):
        try:
            if not p.stat().st_mode & stat.S_IXOTH:
                return False
        except OSError:
            return False
    return True


def _state_dir(tmpdir: str | os.PathLike | None) -> Path:
    """A fresh directory squid (user `proxy` once it drops root) can write, and reach."""
    base = Path(tmpdir) if tmpdir is not None else Path(tempfile.gettempdir())
    if not (base.is_dir() and _world_traversable(base)):
        # e.g. pytest's tmp_path: /tmp/pytest-of-root is 0700
        base = Path(tempfile.gettempdir())
        if not _world_traversable(base):
            base = Path("/tmp")
    path = Path(tempfile.mkdtemp(prefix="policy-lint-squid-", dir=base))
    path.chmod(0o755)
    if os.geteuid() == 0:
        pw = pwd.getpwnam(SQUID_USER)
        os.chown(path, pw.pw_uid, pw.pw_gid)
    return path


def squid_config(access_rules: str, *, port: int, state_dir: Path, origin_port: int, dns_address: str) -> str:
    """The fixed loopback-only preamble followed by the test's own lines.

    Squid allows no comment after a directive on the same line: `access_rules` should hold
    whole-line comments only.
    """
    user = SQUID_USER
    if os.geteuid() == 0:
        pwd.getpwnam(user)  # fail early and clearly when Debian's squid user is missing
    preamble = PREAMBLE.format(
        listen=LOOPBACK,
        port=port,
        user=user,
        dir=state_dir,
        dns=dns_address,
        origin_host=LOOPBACK,
        origin_port=origin_port,
    )
    rules = "\n".join(line.strip() for line in access_rules.strip().splitlines())
    return preamble + "\n" + rules + "\n"


def _stop(process: subprocess.Popen) -> None:
    """SIGINT (Squid's immediate shutdown), then SIGTERM, then SIGKILL; always reaped."""
    if process.poll() is not None:
        return
    for sig, wait in ((signal.SIGINT, STOP_TIMEOUT), (signal.SIGTERM, 2.0), (signal.SIGKILL, 5.0)):
        try:
            if sig == signal.SIGKILL:
                # The process group we created for it: squid and any helper it forked.
                os.killpg(process.pid, sig)
            else:
                process.send_signal(sig)
        except ProcessLookupError:
            pass
        try:
            process.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def _wait_ready(squid: Squid, deadline: float) -> None:
    """Until squid answers an HTTP request (any answer: the rules may deny it)."""
    last: BaseException | None = None
    while time.monotonic() < deadline:
        if squid.process.poll() is not None:
            raise RuntimeError(
                f"squid exited with status {squid.process.returncode} while starting\n" + squid.log_tail()
            )
        try:
            fetch_via_proxy(squid.port, "http://harness-ready.invalid/", timeout=2.0)
            return
        except (ConnectionRefusedError, TimeoutError) as exc:
            last = exc
            time.sleep(0.05)
    raise RuntimeError(
        f"squid did not answer on 127.0.0.1:{squid.port} within {START_TIMEOUT:.0f} s "
        f"({last!r})\n" + squid.log_tail()
    )


@contextlib.contextmanager
def running_squid(
    access_rules: str,
    tmpdir: str | os.PathLike | None = None,
    *,
    origin_port: int | None = None,
    dns_address: str | None = None,
    keep_dir: bool = False,
) -> Iterator[Squid]:
    """Squid running `access_rules` on 127.0.0.1:<free port>; stopped and reaped on exit.

    `tmpdir` is where its state directory goes (a fresh subdirectory, world-traversable and
    owned by `proxy`; a non-traversable base such as pytest's tmp_path is replaced by the
    system temp dir). Without `origin_port`/`dns_address` the harness starts its own origin
    and stub DNS for this squid, and stops them too. The state directory (config, logs) is
    removed afterwards unless `keep_dir`.
    """
    binary = find_squid()
    if binary is None:
        raise RuntimeError("squid is not installed (apt-get install squid)")
    with contextlib.ExitStack() as stack:
        if origin_port is None:
            origin_port = stack.enter_context(origin_server()).port
        if dns_address is None:
            dns_address = stack.enter_context(stub_dns()).address
        state = _state_dir(tmpdir)
        if not keep_dir:
            stack.callback(shutil.rmtree, state, True)
        port = free_port()
        conf = state / "squid.conf"
        conf.write_text(
            squid_config(
                access_rules, port=port, state_dir=state, origin_port=origin_port, dns_address=dns_address
            )
        )
        conf.chmod(0o644)
        stderr = open(state / "squid.stderr", "wb")  # noqa: SIM115 (closed by the stack)
        stack.callback(stderr.close)
        process = subprocess.Popen(
            [binary, "-N", "-f", str(conf)],
            stdin=subprocess.DEVNULL,
            stdout=stderr,
            stderr=stderr,
            cwd=state,
            start_new_session=True,
        )
        stack.callback(_stop, process)  # runs before the directory is removed
        squid = Squid(port, state, conf, process)
        _wait_ready(squid, time.monotonic() + START_TIMEOUT)
        yield squid


# ------------------------------------------------------------------ client


def fetch_via_proxy(proxy_port: int, url: str, timeout: float = FETCH_TIMEOUT) -> int | str:
    """GET `url` (plain http://) through the proxy at 127.0.0.1:`proxy_port`, in absolute form.

    Returns the status code, or "reset" when the proxy closes or resets the connection
    without answering. Connection refused and timeouts are raised: the harness is broken.
    """
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise ValueError(f"only plain http:// URLs go through this harness: {url!r}")
    conn = http.client.HTTPConnection(LOOPBACK, proxy_port, timeout=timeout)
    try:
        conn.request(
            "GET",
            url,
            headers={
                "Host": parts.netloc,
                "Connection": "close",
                "Accept": "*/*",
                "User-Agent": "policy-lint-e2e",
            },
        )
        response = conn.getresponse()
        response.read()
        return response.status
    except (ConnectionResetError, BrokenPipeError, http.client.RemoteDisconnected):
        # RemoteDisconnected: closed before any status line, what TCP_RESET looks like when
        # the RST arrives after our request went out.
        return "reset"
    finally:
        conn.close()

"""Runs Debian's e2guardian (5.3.x) in the foreground on 127.0.0.1 with a generated config.

- the configuration starts from the package's own files (/etc/e2guardian: e2guardian.conf,
  e2guardianf1.conf, the storyboards and every list), copied into a temporary directory with
  every path rewritten to point there, so a test changes only the lists it cares about;
- e2guardian listens on a free loopback port and forwards whatever it allows to a local
  upstream (`proxyip`/`proxyport`) that answers 200 to any GET or CONNECT: no DNS, no network;
- `fetch(host, path, https)` sends one plain-HTTP GET (absolute form) or one CONNECT; the
  access log says what e2guardian decided (`*DENIED*` or not), keyed by the URL it logs.

Needs the `e2guardian` package (`apt-get install e2guardian`; scripts/test.sh can install it).
"""

from __future__ import annotations

import contextlib
import grp
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

PACKAGE_CONF = Path("/etc/e2guardian")
LANGUAGES = Path("/usr/share/e2guardian/languages")


def find_e2guardian() -> str | None:
    exe = shutil.which("e2guardian") or (
        "/usr/sbin/e2guardian" if Path("/usr/sbin/e2guardian").exists() else None
    )
    if exe is None or not (PACKAGE_CONF / "e2guardianf1.conf").is_file() or not LANGUAGES.is_dir():
        return None
    return exe


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Upstream(BaseHTTPRequestHandler):
    def _ok(self) -> None:
        # A page that names the site it is for, as real pages do (phrase filtering sees it).
        body = f"<html><body>{self.path}</body></html>".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "CONNECT":
            self.wfile.write(body)

    do_GET = do_POST = do_HEAD = do_CONNECT = _ok

    def log_message(self, *args) -> None:  # quiet
        pass


@contextlib.contextmanager
def upstream() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Upstream)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


_DROP_MAIN = re.compile(
    r"^(filterip|filterports|transparenthttpsport|nodaemon|pidfilename|loglocation|"
    r"logfileformat|loglevel|daemonuser|daemongroup|proxyip|proxyport|httpworkers|"
    r"logsyslog|dstatlocation|icapport|languagedir)\b"
)


class E2guardian:
    def __init__(self, exe: str, workdir: Path):
        self.exe = exe
        self.dir = workdir
        self.port = 0
        self.proc: subprocess.Popen | None = None

    # ---- configuration
    def prepare(self) -> None:
        for item in PACKAGE_CONF.iterdir():
            target = self.dir / item.name
            if item.is_dir():
                shutil.copytree(
                    item,
                    target,
                    symlinks=False,
                    dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("private", "languages"),
                )
            elif item.is_file():
                shutil.copy(item, target)
        for path in self.dir.rglob("*"):
            if path.is_file() and (path.suffix in (".conf", ".story") or path.parent.name == "lists"):
                try:
                    text = path.read_text(encoding="utf-8", errors="surrogateescape")
                except OSError:
                    continue
                path.write_text(
                    text.replace("/etc/e2guardian/", f"{self.dir}/"),
                    encoding="utf-8",
                    errors="surrogateescape",
                )

    def write(self, relative: str, text: str) -> Path:
        path = self.dir / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text.replace("/etc/e2guardian/", f"{self.dir}/"))
        return path

    def _main_conf(self, upstream_port: int) -> None:
        conf = self.dir / "e2guardian.conf"
        kept = [
            line
            for line in conf.read_text().splitlines()
            if line.strip() and not line.lstrip().startswith("#") and not _DROP_MAIN.match(line.strip())
        ]
        user = pwd.getpwuid(os.getuid())
        group = grp.getgrgid(user.pw_gid).gr_name
        kept += [
            "filterip = 127.0.0.1",
            f"filterports = {self.port}",
            f"transparenthttpsport = {free_port()}",
            "proxyip = 127.0.0.1",
            f"proxyport = {upstream_port}",
            "nodaemon = on",
            f"pidfilename = '{self.dir}/e2guardian.pid'",
            f"loglocation = '{self.dir}/access.log'",
            "logfileformat = 1",
            "loglevel = 3",
            "logsyslog = off",
            "httpworkers = 20",
            f"daemonuser = '{user.pw_name}'",
            f"daemongroup = '{group}'",
            f"languagedir = '{LANGUAGES}'",
        ]
        conf.write_text("\n".join(kept) + "\n")

    # ---- running
    def start(self, upstream_port: int) -> None:
        self.port = free_port()
        self._main_conf(upstream_port)
        (self.dir / "access.log").write_text("")
        self.proc = subprocess.Popen(
            [self.exe, "-N", "-c", str(self.dir / "e2guardian.conf")],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            cwd=self.dir,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                out = self.proc.stdout.read().decode(errors="replace") if self.proc.stdout else ""
                raise RuntimeError(f"e2guardian exited ({self.proc.returncode}): {out[-2000:]}")
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2),
            ):
                return
            time.sleep(0.1)
        raise RuntimeError("e2guardian did not start listening within 20 s")

    def stop(self) -> None:
        if self.proc is None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=3)
        except subprocess.TimeoutExpired:
            self.proc.kill()  # it may wait on idle workers; it is ours to end
            self.proc.wait(timeout=5)
        if self.proc.stdout:
            self.proc.stdout.close()
        self.proc = None

    def fetch(self, host: str, path: str, https: bool) -> int:
        if https:
            request = f"CONNECT {host}:443 HTTP/1.1\r\nHost: {host}:443\r\n\r\n"
        else:
            request = f"GET http://{host}{path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
        with socket.create_connection(("127.0.0.1", self.port), timeout=10) as s:
            s.sendall(request.encode())
            data = b""
            while b"\r\n" not in data and len(data) < 4096:
                chunk = s.recv(1024)
                if not chunk:
                    break
                data += chunk
        m = re.match(rb"HTTP/\d\.\d (\d{3})", data)
        return int(m.group(1)) if m else 0

    def decisions(self, expected: int, timeout: float = 10) -> dict[str, str]:
        """Logged URL -> "deny" | "allow", waiting until `expected` lines are logged."""
        log = self.dir / "access.log"
        deadline = time.monotonic() + timeout
        lines: list[str] = []
        while time.monotonic() < deadline:
            lines = [line for line in log.read_text(errors="replace").splitlines() if line.strip()]
            if len(lines) >= expected:
                break
            time.sleep(0.1)
        out = {}
        for line in lines:
            fields = line.split()
            if len(fields) < 5:
                continue
            url = fields[4]
            out[url] = "deny" if "*DENIED*" in line else "allow"
        return out


@contextlib.contextmanager
def running_e2guardian(exe: str, lists: dict[str, str]) -> Iterator[E2guardian]:
    """e2guardian with the package's config, the given files replaced (paths relative to the
    config directory, e.g. "lists/bannedsitelist", "examplef1.story")."""
    with tempfile.TemporaryDirectory(prefix="e2g-") as tmp, upstream() as up:
        e2g = E2guardian(exe, Path(tmp))
        e2g.prepare()
        for rel, text in lists.items():
            e2g.write(rel, text)
        e2g.start(up)
        try:
            yield e2g
        finally:
            e2g.stop()

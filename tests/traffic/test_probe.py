"""`policy-lint probe`: real requests, only ever to 127.0.0.1.

Two kinds of proxy stand in for a network:
- a scripted fake proxy (a few lines of socket code below) answering each request the way a
  filter would: squid's 403 page, a refused CONNECT, a reset, a tarpit, TLS that is not TLS;
- Debian's real squid (tests/e2e/squid_harness.py, marked e2e) denying Facebook, resetting Ning
  and allowing the rest: plain HTTP goes to the harness's origin, CONNECT to a parent on
  loopback that answers "200 Connection established" and then speaks TLS itself with a
  certificate from a throw-away test CA. The probe trusts that CA (`--ca-file`), so HTTPS is
  verified for real; without it, what an interceptor looks like is tested too.

No test resolves a service name or connects anywhere but loopback: in-process tests run under
`loopback_only`, which refuses (and records) any other lookup or connect; the subprocess runs
install the same guard before policy-lint starts. Through a proxy the probe never resolves a
service name at all (the proxy does); the direct mode is tested with an injected resolver and
connector that map the catalog's names onto loopback servers.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import json
import socket
import ssl
import struct
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from click.testing import CliRunner

from policy_lint.cli import cli
from policy_lint.traffic.classify import Classifier
from policy_lint.traffic.compliance import ComplianceReport
from policy_lint.traffic.prober import (
    Prober,
    ProbeSettings,
    ProxyAddress,
    parse_proxy,
    plan_probes,
    selected_catalog,
)
from tests.conftest import REPO, skip_or_fail
from tests.e2e.squid_harness import find_squid, origin_server, running_squid, stub_dns

SECRET = b"BODY-MUST-NOT-BE-PRINTED"  # in every fake answer; must never reach a report


# ------------------------------------------------------------------ loopback-only guard


def _loopback(host: object) -> bool:
    if host is None or host == "localhost":
        return True
    if isinstance(host, bytes):
        host = host.decode()
    try:
        return ipaddress.ip_address(str(host).split("%")[0]).is_loopback
    except ValueError:
        return False


@pytest.fixture
def loopback_only(monkeypatch) -> Iterator[list[str]]:
    """Refuse and record any name lookup or connect that is not loopback, in this process."""
    violations: list[str] = []
    real_gai, real_connect = socket.getaddrinfo, socket.socket.connect

    def getaddrinfo(host, *args, **kwargs):
        if not _loopback(host):
            violations.append(f"resolve {host!r}")
            raise OSError("test guard: only loopback may be resolved")
        return real_gai(host, *args, **kwargs)

    def connect(self, address):
        if self.family in (socket.AF_INET, socket.AF_INET6) and not _loopback(address[0]):
            violations.append(f"connect {address!r}")
            raise OSError("test guard: only loopback may be connected to")
        return real_connect(self, address)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket.socket, "connect", connect)
    yield violations
    assert not violations, violations


# The same guard for a subprocess: installed before policy-lint's own code runs.
GUARDED_MAIN = textwrap.dedent("""
    import ipaddress, socket, sys
    def _loopback(host):
        if host is None or host == "localhost":
            return True
        if isinstance(host, bytes):
            host = host.decode()
        try:
            return ipaddress.ip_address(str(host).split("%")[0]).is_loopback
        except ValueError:
            return False
    _gai, _connect = socket.getaddrinfo, socket.socket.connect
    def getaddrinfo(host, *a, **k):
        if not _loopback(host):
            print(f"NETGUARD: resolve {host!r}", file=sys.stderr)
            raise OSError("netguard")
        return _gai(host, *a, **k)
    def connect(self, address):
        if self.family in (socket.AF_INET, socket.AF_INET6) and not _loopback(address[0]):
            print(f"NETGUARD: connect {address!r}", file=sys.stderr)
            raise OSError("netguard")
        return _connect(self, address)
    socket.getaddrinfo, socket.socket.connect = getaddrinfo, connect
    sys.argv = ["policy-lint", *sys.argv[1:]]
    from policy_lint.cli import main
    main()
""")


def run_guarded(*args: object, timeout: float = 120) -> subprocess.CompletedProcess:
    r = subprocess.run(
        [sys.executable, "-c", GUARDED_MAIN, "probe", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
    )
    assert "NETGUARD" not in r.stderr, r.stderr
    return r


def invoke(*args: object):
    """policy-lint probe in this process (coverage); stdout and stderr kept apart."""
    return CliRunner().invoke(cli, ["probe", *map(str, args)], catch_exceptions=False)


# ------------------------------------------------------------------ test PKI


@dataclass(frozen=True)
class Pki:
    ca_file: Path
    cert_file: Path
    key_file: Path

    def server_context(self) -> ssl.SSLContext:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.cert_file, self.key_file)
        return ctx


@pytest.fixture(scope="session")
def pki(tmp_path_factory, catalog) -> Pki:
    """A throw-away CA and one server certificate naming every catalog probe host."""
    # A declared test dependency (pyproject's `test` extra): missing, the fixture fails.
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    names = sorted({p.host for s in catalog.services.values() for p in s.probes()} | {catalog.control_host})
    now = dt.datetime.now(dt.UTC)

    def usage(ca: bool) -> x509.KeyUsage:
        return x509.KeyUsage(
            digital_signature=True,
            content_commitment=False,
            key_encipherment=False,
            data_encipherment=False,
            key_agreement=False,
            key_cert_sign=ca,
            crl_sign=ca,
            encipher_only=False,
            decipher_only=False,
        )

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "policy-lint test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(usage(True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(usage(False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    d = tmp_path_factory.mktemp("pki")
    pem = serialization.Encoding.PEM
    (d / "ca.pem").write_bytes(ca.public_bytes(pem))
    (d / "server.pem").write_bytes(cert.public_bytes(pem))
    (d / "server.key").write_bytes(
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return Pki(d / "ca.pem", d / "server.pem", d / "server.key")


# ------------------------------------------------------------------ loopback servers


class LoopServer:
    """A TCP server on 127.0.0.1: each connection goes to `handle(conn, server)` in a thread."""

    def __init__(self, handle: Callable[[socket.socket, LoopServer], None]) -> None:
        self.handle = handle
        self.stop = threading.Event()
        self.conns: list[socket.socket] = []
        self.lock = threading.Lock()
        self.listener = socket.create_server(("127.0.0.1", 0), backlog=64)
        self.listener.settimeout(0.1)
        self.port = self.listener.getsockname()[1]
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except (TimeoutError, OSError):
                continue
            with self.lock:
                self.conns.append(conn)
            threading.Thread(target=self._run, args=(conn,), daemon=True).start()

    def _run(self, conn: socket.socket) -> None:
        try:
            self.handle(conn, self)
        except OSError:
            pass
        finally:
            conn.close()

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=2)
        self.listener.close()
        with self.lock:
            for c in self.conns:
                with contextlib.suppress(OSError):
                    c.shutdown(socket.SHUT_RDWR)


@contextlib.contextmanager
def serving(handle: Callable[[socket.socket, LoopServer], None]) -> Iterator[LoopServer]:
    server = LoopServer(handle)
    try:
        yield server
    finally:
        server.close()


def read_head(conn: socket.socket) -> tuple[str, str, dict[str, str]] | None:
    conn.settimeout(10)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(4096)
        if not chunk or len(data) > 65536:
            return None
        data += chunk
    first, *lines = data.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    method, target, _ = first.split(" ", 2)
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
    return method, target, headers


def reply(
    conn: socket.socket, status: int, reason: str, headers: dict[str, str] | None = None, body: bytes = SECRET
) -> None:
    head = f"HTTP/1.1 {status} {reason}\r\nContent-Length: {len(body)}\r\nConnection: close\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
    conn.sendall(head.encode() + b"\r\n" + body)


def serve_tls_hello(conn: socket.socket, ctx: ssl.SSLContext) -> None:
    """TLS as the site: read the request, answer 200."""
    try:
        tls = ctx.wrap_socket(conn, server_side=True)
    except (ssl.SSLError, OSError):
        return  # the client gave up (did not trust us): that is its business
    with tls:
        got = read_head(tls)
        if got:
            reply(tls, 200, "OK", {"Content-Type": "text/plain"}, b"hello " + got[2].get("host", "").encode())


# What the fake proxy does with one request:
@dataclass(frozen=True)
class Reply:
    status: int
    reason: str
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Reset:
    """RST instead of an answer (squid's deny_info TCP_RESET)."""


@dataclass(frozen=True)
class Tunnel:
    """CONNECT 200, then TLS as the site with `ctx`; None: answer the ClientHello in plain text."""

    ctx: ssl.SSLContext | None
    close_at_hello: bool = False  # close on seeing the ClientHello (an SNI filter)


@dataclass(frozen=True)
class Hang:
    """Accept and say nothing (a tarpit)."""


Action = Reply | Reset | Tunnel | Hang
SQUID_DENIED = Reply(403, "Forbidden", {"X-Squid-Error": "ERR_ACCESS_DENIED 0", "Content-Type": "text/html"})


@dataclass
class FakeProxy:
    port: int
    seen: list[tuple[str, str, dict[str, str]]]


@contextlib.contextmanager
def fake_proxy(script: Callable[[str, str], Action]) -> Iterator[FakeProxy]:
    """An HTTP proxy on loopback that answers per `script(method, host)`; it never connects out."""
    seen: list[tuple[str, str, dict[str, str]]] = []

    def handle(conn: socket.socket, server: LoopServer) -> None:
        got = read_head(conn)
        if got is None:
            return
        method, target, _headers = got
        seen.append(got)
        host = target.rpartition(":")[0] if method == "CONNECT" else urlsplit(target).hostname or ""
        action = script(method, host)
        if isinstance(action, Reply):
            reply(conn, action.status, action.reason, action.headers)
        elif isinstance(action, Reset):
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        elif isinstance(action, Tunnel):
            conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            if action.close_at_hello:
                conn.recv(4096)
            elif action.ctx is None:
                conn.recv(4096)
                reply(conn, 403, "Forbidden")  # plain HTTP where TLS was expected
            else:
                serve_tls_hello(conn, action.ctx)
        elif isinstance(action, Hang):
            while not server.stop.is_set():
                try:
                    if not conn.recv(4096):
                        return
                except TimeoutError:
                    continue

    with serving(handle) as server:
        yield FakeProxy(server.port, seen)


def allow_all(ctx: ssl.SSLContext | None) -> Callable[[str, str], Action]:
    def script(method: str, host: str) -> Action:
        return Tunnel(ctx) if method == "CONNECT" else Reply(200, "OK", {"Content-Type": "text/plain"})

    return script


def social_filter(ctx: ssl.SSLContext | None) -> Callable[[str, str], Action]:
    """Like the e2e squid: Facebook denied, Ning reset, everything else allowed."""

    def script(method: str, host: str) -> Action:
        if host.endswith(("facebook.com", "fbcdn.net", "messenger.com", "fb.me")):
            return SQUID_DENIED
        if host.endswith("ning.com"):
            return Reset()
        return allow_all(ctx)(method, host)

    return script


def report_of(result) -> dict:
    assert result.exit_code in (0, 1), (result.exit_code, result.stderr)
    return json.loads(result.stdout)


def hows(data: dict, service: str) -> set[str]:
    return {e["how"] for e in data["services"][service]["evidence"]}


# ------------------------------------------------------------------ planning and options


def test_plan_control_first_primaries_first_no_hygiene(catalog):
    probes = plan_probes(catalog)
    assert [p.host for p in probes[:2]] == [catalog.control_host] * 2
    assert all(p.service is None for p in probes[:2])
    # every service's first request is a primary one, before any supporting host
    first: dict[str | None, str] = {}
    for p in probes[2:]:
        first.setdefault(p.service, p.role)
    assert set(first) == set(catalog.services) and set(first.values()) == {"primary"}
    assert not any(p.role in ("ads", "analytics", "tracking", "widget") for p in probes)
    assert {p.scheme for p in probes} == {"https", "http"}
    assert "www.linkedin.com" in {p.host for p in probes}


def test_selected_catalog(catalog):
    assert list(selected_catalog(catalog, ("ning", "ning")).services) == ["ning"]
    assert selected_catalog(catalog, ()) is catalog
    with pytest.raises(KeyError, match="myspace"):
        selected_catalog(catalog, ("myspace",))


def test_parse_proxy():
    assert parse_proxy("http://127.0.0.1:3128") == ProxyAddress("127.0.0.1", 3128)
    p = parse_proxy("http://au%40dit:s3cret@[::1]:8080/")
    assert p.host == "::1" and p.port == 8080
    assert p.authorization is not None and p.authorization.startswith("Basic ")
    assert p.shown == "http://[::1]:8080" and "s3cret" not in p.shown
    for bad in (
        "127.0.0.1:3128",
        "https://127.0.0.1:3128",
        "http://127.0.0.1",
        "http://h:99999",
        "http://127.0.0.1:3128/path",
    ):
        with pytest.raises(ValueError):
            parse_proxy(bad)


@pytest.mark.parametrize(
    "args, message",
    [
        (("--proxy", "http://127.0.0.1"), "needs a host and a port"),
        (("--proxy", "socks5://127.0.0.1:1080"), "http:// URL"),
        (("--proxy", "http://127.0.0.1:9", "--service", "myspace"), "unknown service 'myspace'"),
    ],
)
def test_usage_errors_exit_2_one_line(args, message, loopback_only):
    r = invoke(*args)
    assert r.exit_code == 2
    assert message in r.stderr and len(r.stderr.strip().splitlines()) == 1 and not r.stdout


def test_dead_proxy_exits_2_with_one_line():
    with socket.create_server(("127.0.0.1", 0)) as s:
        port = s.getsockname()[1]
    # nothing listens on `port` now: the audit path is down, which is never "blocked"
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "policy_lint",
            "probe",
            "--proxy",
            f"http://127.0.0.1:{port}",
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
    )
    assert r.returncode == 2, r.stdout + r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("policy-lint: error: proxy http://127.0.0.1:")
    assert "unreachable" in lines[0] and r.stdout == ""


# ------------------------------------------------------------------ through a scripted proxy


def test_fake_filter_verdicts_and_evidence(pki, loopback_only):
    with fake_proxy(social_filter(pki.server_context())) as proxy:
        r = invoke("--proxy", f"http://127.0.0.1:{proxy.port}", "--ca-file", pki.ca_file, "--format", "json")
    assert r.exit_code == 1, r.stderr
    d = report_of(r)
    verdicts = {sid: s["verdict"] for sid, s in d["services"].items()}
    assert verdicts == {
        "facebook": "blocked",
        "twitter": "compliant",
        "linkedin": "compliant",
        "ning": "blocked",
    }
    assert hows(d, "facebook") == {"block-page:squid", "connect-refused"}
    assert hows(d, "ning") == {"reset"}
    # ning's messaging host (ningim.com) is not under ning.com: the fake lets it through
    assert d["services"]["ning"]["hosts"]["chat01.ningim.com"]["reachable"] == 2
    assert d["services"]["linkedin"]["outcomes"]["reachable"] == d["services"]["linkedin"]["requests"] == 12
    assert d["control"]["reachable"] == 2
    assert d["probe"]["mode"] == "proxy" and d["probe"]["sent"] == d["probe"]["completed"] == 62
    # the proxy, not this machine, got the names: CONNECT host:443 and absolute-form GETs
    targets = {(m, t) for m, t, _ in proxy.seen}
    assert ("CONNECT", "www.linkedin.com:443") in targets and ("GET", "http://www.linkedin.com/") in targets
    assert SECRET.decode() not in r.stdout + r.stderr


def test_text_md_html_and_output_file(pki, loopback_only, tmp_path):
    with fake_proxy(social_filter(pki.server_context())) as proxy:
        url = f"http://127.0.0.1:{proxy.port}"
        text = invoke("--proxy", url, "--ca-file", pki.ca_file, "--service", "facebook")
        md = invoke("--proxy", url, "--ca-file", pki.ca_file, "--service", "linkedin", "--format", "md")
        out = tmp_path / "report.html"
        html = invoke("--proxy", url, "--ca-file", pki.ca_file, "--service", "facebook", "--output-file", out)
    assert text.exit_code == 1 and "facebook   BLOCKED" in text.stdout
    assert f"through {url}" in text.stdout and "TLS verified" in text.stdout
    assert "linkedin" not in text.stdout  # --service narrows the report too
    assert md.exit_code == 0 and "| linkedin | **compliant** |" in md.stdout
    assert html.exit_code == 1 and html.stdout == "" and out.read_text().startswith("<!doctype html>")
    for output in (text.stdout, md.stdout, out.read_text()):
        assert SECRET.decode() not in output


def test_policy_decides_which_blocks_fail(pki, loopback_only, tmp_path):
    policy = tmp_path / "policy.yaml"
    policy.write_text("version: 1\nname: only-linkedin\nservices:\n  linkedin: {severity: error}\n")
    with fake_proxy(social_filter(pki.server_context())) as proxy:
        r = invoke(
            "--proxy",
            f"http://127.0.0.1:{proxy.port}",
            "--ca-file",
            pki.ca_file,
            "--policy",
            policy,
            "--service",
            "facebook",
            "--service",
            "linkedin",
            "--format",
            "json",
        )
    d = report_of(r)
    assert d["services"]["facebook"]["verdict"] == "blocked"
    assert r.exit_code == 0  # facebook is blocked, but this policy does not require it


def test_untrusted_certificate_is_interception_not_block(pki, loopback_only):
    with fake_proxy(allow_all(pki.server_context())) as proxy:
        url = f"http://127.0.0.1:{proxy.port}"
        strict = invoke("--proxy", url, "--service", "linkedin", "--format", "json")
        insecure = invoke("--proxy", url, "--service", "linkedin", "--insecure", "--format", "json")
    d = report_of(strict)
    li = d["services"]["linkedin"]
    # HTTPS: something we do not trust answered for the site; HTTP went through
    assert li["outcomes"] == {"reachable": 6, "blocked": 0, "failed": 0, "inconclusive": 6}
    assert li["verdict"] == "compliant" and strict.exit_code == 0
    assert any("certificate verify failed" in e["evidence"] for e in li["evidence"])
    d = report_of(insecure)
    assert d["services"]["linkedin"]["outcomes"]["reachable"] == 12 and d["probe"]["tls_verified"] is False


@pytest.mark.parametrize(
    "tunnel, outcome, how",
    [
        (Tunnel(None), "inconclusive", "audit-path"),  # plain text where TLS was expected
        (Tunnel(None, close_at_hello=True), "blocked", "reset"),  # closed on seeing the SNI
        (Reply(503, "Service Unavailable", {"X-Squid-Error": "ERR_DNS_FAIL 0"}), "failed", "error"),
        (Reply(503, "Service Unavailable"), "failed", "proxy-error"),  # could not reach, no filter named
        (Reply(403, "Forbidden"), "blocked", "connect-refused"),
        (Reset(), "blocked", "reset"),
    ],
)
def test_https_outcomes(tunnel, outcome, how, loopback_only):
    plain_ok = Reply(200, "OK")  # plain HTTP gets through: only the HTTPS request tells
    with fake_proxy(lambda m, h: tunnel if m == "CONNECT" else plain_ok) as proxy:
        r = invoke("--proxy", f"http://127.0.0.1:{proxy.port}", "--service", "twitter", "--format", "json")
    d = report_of(r)
    host = d["services"]["twitter"]["hosts"]["x.com"]
    assert host[outcome] == 1 and host["reachable"] == 1, d["services"]["twitter"]
    assert how in hows(d, "twitter")


def test_squid_upstream_failure_over_http_is_not_a_block(loopback_only):
    error = Reply(503, "Service Unavailable", {"X-Squid-Error": "ERR_CONNECT_FAIL 111"})
    with fake_proxy(lambda m, h: error) as proxy:
        r = invoke("--proxy", f"http://127.0.0.1:{proxy.port}", "--service", "ning", "--format", "json")
    d = report_of(r)
    assert r.exit_code == 0 and d["services"]["ning"]["verdict"] == "inconclusive"
    assert d["services"]["ning"]["outcomes"]["failed"] == 12
    assert "not enough evidence for: ning" in r.stderr
    assert "control host www.example.com was not reachable" in r.stderr


def test_proxy_authentication(loopback_only):
    def script(method: str, host: str) -> Action:
        return Reply(407, "Proxy Authentication Required", {"Proxy-Authenticate": 'Basic realm="x"'})

    with fake_proxy(script) as proxy:
        r = invoke("--proxy", f"http://127.0.0.1:{proxy.port}", "--service", "ning")
        assert r.exit_code == 2 and "requires authentication (407)" in r.stderr
        assert len(r.stderr.strip().splitlines()) == 1 and r.stdout == ""
        r = invoke("--proxy", f"http://auditor:pa55word@127.0.0.1:{proxy.port}", "--service", "ning")
        assert r.exit_code == 2 and "rejected the credentials" in r.stderr and "pa55word" not in r.stderr
        assert proxy.seen[-1][2]["proxy-authorization"] == "Basic YXVkaXRvcjpwYTU1d29yZA=="


def test_max_requests_bounds_and_keeps_the_best(pki, loopback_only):
    with fake_proxy(social_filter(pki.server_context())) as proxy:
        r = invoke(
            "--proxy",
            f"http://127.0.0.1:{proxy.port}",
            "--ca-file",
            pki.ca_file,
            "--max-requests",
            "6",
            "--format",
            "json",
        )
    d = report_of(r)
    assert len(proxy.seen) == 6 and d["probe"]["sent"] == 6 and d["probe"]["planned"] == 62
    assert "--max-requests 6: sent 6 of 62" in r.stderr
    # control (2), then each service's first primary request
    assert {sid: s["requests"] for sid, s in d["services"].items()} == {
        "facebook": 1,
        "twitter": 1,
        "linkedin": 1,
        "ning": 1,
    }
    assert d["services"]["facebook"]["verdict"] == "blocked" and r.exit_code == 1


def test_tarpit_times_out_per_request(loopback_only):
    with fake_proxy(lambda m, h: Hang()) as proxy:
        t = time.monotonic()
        r = invoke(
            "--proxy",
            f"http://127.0.0.1:{proxy.port}",
            "--service",
            "linkedin",
            "--timeout",
            "0.3",
            "--format",
            "json",
        )
        took = time.monotonic() - t
    d = report_of(r)
    li = d["services"]["linkedin"]
    assert li["outcomes"]["failed"] == 12 and li["verdict"] == "inconclusive" and r.exit_code == 0
    assert {e["evidence"] for e in li["evidence"]} == {"timed out after 0.3 s"}
    assert took < 5, took  # 14 requests, 8 at a time, 0.3 s each


def test_total_deadline_cuts_the_run(loopback_only):
    with fake_proxy(lambda m, h: Hang()) as proxy:
        t = time.monotonic()
        r = invoke(
            "--proxy",
            f"http://127.0.0.1:{proxy.port}",
            "--timeout",
            "30",
            "--deadline",
            "1",
            "--workers",
            "4",
            "--format",
            "json",
        )
        took = time.monotonic() - t
    d = report_of(r)
    assert took < 4, took
    assert d["probe"]["completed"] == 0 and d["probe"]["unfinished"] == 62
    assert all(s["requests"] == 0 for s in d["services"].values())  # cut requests prove nothing
    assert "62 requests unfinished at the 1 s deadline" in r.stderr and r.exit_code == 0


# ------------------------------------------------------------------ directly, with a fake DNS


def test_direct_mode_sinkholes_and_real_answers(pki, catalog, loopback_only):
    """No proxy: this machine resolves. The resolver and connector are injected: catalog names
    map onto documentation addresses (RFC 5737) that the connector routes to loopback servers,
    so the code path is the real one and no packet leaves 127.0.0.1."""
    with (
        origin_server() as http_origin,
        serving(lambda c, s: serve_tls_hello(c, pki.server_context())) as tls,
    ):
        site = "192.0.2.10"  # TEST-NET-1: a "real" answer for linkedin and the control host
        routes = {(site, 80): http_origin.port, (site, 443): tls.port}
        connected: list[tuple[str, int]] = []

        def resolve(host: str, port: int) -> str:
            if host.endswith(("linkedin.com", "licdn.com", "lnkd.in")) or host == catalog.control_host:
                return site
            if "facebook" in host or host.endswith(("fbcdn.net", "messenger.com", "fb.me")):
                return "0.0.0.0"  # a sinkhole answer that means "this machine"
            if "twi" in host or host in ("x.com", "api.x.com", "t.co"):
                return "10.0.0.1"  # a private sinkhole (nothing listens: connect refused)
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")  # ning: NXDOMAIN

        def connect(address: tuple[str, int], timeout: float) -> socket.socket:
            connected.append(address)
            if address not in routes:
                raise ConnectionRefusedError(111, "Connection refused")
            return socket.create_connection(("127.0.0.1", routes[address]), timeout=timeout)

        settings = ProbeSettings(timeout=5, deadline=30, ca_file=pki.ca_file)
        classifier = Classifier(catalog)
        prober = Prober(
            settings,
            classifier.fp,
            control_addresses=catalog.control_addresses,
            resolve=resolve,
            connect=connect,
        )
        prober.preflight()
        run = prober.run(plan_probes(catalog))
    assert not run.unfinished and len(run.records) == 62
    assert not any(ip == "0.0.0.0" for ip, _ in connected)  # "this machine" is never asked
    report = ComplianceReport(catalog)
    for _, rec in run.records:
        assert rec.via_upstream is False
        obs = classifier.classify(rec)
        assert obs is not None, rec.host
        report.add(obs)
    d = report.to_dict()
    verdicts = {sid: s["verdict"] for sid, s in d["services"].items()}
    assert verdicts == {
        "facebook": "blocked",
        "twitter": "blocked",
        "linkedin": "compliant",
        "ning": "inconclusive",
    }
    assert hows(d, "facebook") == hows(d, "twitter") == {"dns-sinkhole"}
    assert d["services"]["linkedin"]["outcomes"]["reachable"] == 12
    assert d["services"]["ning"]["outcomes"]["failed"] == 12
    assert d["control"]["reachable"] == 2


# ------------------------------------------------------------------ Debian's real squid

SQUID_RULES = """
acl social dstdomain .facebook.com .fbcdn.net .messenger.com fb.me
acl resetme dstdomain .ning.com
acl CONNECT method CONNECT
deny_info TCP_RESET resetme
http_access deny social
http_access deny resetme
http_access allow localhost
http_access deny all
cache_peer 127.0.0.1 parent {tunnel_port} 0 no-query no-digest name=tunnel
cache_peer_access tunnel allow CONNECT
cache_peer_access tunnel deny all
cache_peer_access origin_http deny CONNECT
"""


@dataclass(frozen=True)
class SquidLab:
    url: str
    access_log: Callable[[], str]
    tunnel: FakeProxy


@pytest.fixture(scope="module")
def squid_lab(pki) -> Iterator[SquidLab]:
    """squid denying Facebook, resetting Ning; HTTP to the harness origin, CONNECT to a parent
    on loopback that speaks TLS for every name with the test CA's certificate."""
    if find_squid() is None:
        skip_or_fail("Debian squid not installed (apt-get install squid; scripts/test.sh does it)")
    with contextlib.ExitStack() as stack:
        origin = stack.enter_context(origin_server())
        dns = stack.enter_context(stub_dns())
        tunnel = stack.enter_context(fake_proxy(allow_all(pki.server_context())))
        try:
            squid = stack.enter_context(
                running_squid(
                    SQUID_RULES.format(tunnel_port=tunnel.port),
                    origin_port=origin.port,
                    dns_address=dns.address,
                )
            )
        except (RuntimeError, KeyError, PermissionError) as exc:
            skip_or_fail(f"squid could not start: {str(exc).splitlines()[0]}")
        yield SquidLab(f"http://127.0.0.1:{squid.port}", squid.access_log, tunnel)


EXPECTED = {"facebook": "blocked", "twitter": "compliant", "linkedin": "compliant", "ning": "blocked"}


@pytest.mark.e2e
def test_squid_subprocess_verified_tls(squid_lab, pki):
    r = run_guarded("--proxy", squid_lab.url, "--ca-file", pki.ca_file, "--format", "json")
    assert r.returncode == 1, r.stderr
    d = json.loads(r.stdout)
    assert {sid: s["verdict"] for sid, s in d["services"].items()} == EXPECTED, d["services"]
    assert hows(d, "facebook") == {"block-page:squid", "connect-refused"}
    assert hows(d, "ning") == {"reset"}
    for sid in ("twitter", "linkedin"):
        s = d["services"][sid]
        assert s["outcomes"]["reachable"] == s["requests"] > 0, s
    assert d["services"]["facebook"]["outcomes"]["blocked"] == d["services"]["facebook"]["requests"] == 16
    assert d["control"]["reachable"] == 2
    log = squid_lab.access_log()
    assert "TCP_DENIED/403" in log and "CONNECT www.facebook.com:443" in log
    assert "CONNECT www.linkedin.com:443" in log
    # squid relayed the CONNECT for allowed names to its parent, names unresolved
    assert ("CONNECT", "twitter.com:443") in {(m, t) for m, t, _ in squid_lab.tunnel.seen}
    assert "hello" not in r.stdout and r.stderr.strip() == ""


@pytest.mark.e2e
def test_squid_in_process_interception_and_insecure(squid_lab, loopback_only):
    strict = invoke(
        "--proxy", squid_lab.url, "--service", "linkedin", "--service", "ning", "--format", "json"
    )
    d = report_of(strict)
    assert d["services"]["linkedin"]["outcomes"]["inconclusive"] == 6  # untrusted cert: interception
    assert d["services"]["ning"]["verdict"] == "blocked" and strict.exit_code == 1
    loose = invoke("--proxy", squid_lab.url, "--service", "linkedin", "--insecure", "--format", "json")
    d = report_of(loose)
    assert d["services"]["linkedin"]["outcomes"]["reachable"] == 12 and loose.exit_code == 0


@pytest.mark.e2e
def test_squid_text_report(squid_lab, pki, loopback_only):
    r = invoke("--proxy", squid_lab.url, "--ca-file", pki.ca_file, "--service", "facebook")
    assert r.exit_code == 1
    assert "facebook   BLOCKED" in r.stdout and "connect-refused" in r.stdout
    assert f"through {squid_lab.url}" in r.stdout

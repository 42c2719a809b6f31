"""The machinery of `policy-lint probe`: request each service's probe URLs now, as FlowRecords.

The auditor's quick check: instead of waiting for users' traffic, send the catalog's own probe
requests (each probe host over HTTPS and plain HTTP, plus the neutral control host) through a
proxy, or directly, and feed every answer to the same Classifier and ComplianceReport that
`policy-lint traffic` and the mitmproxy addon use.

How each request turns into a FlowRecord (the Classifier decides what it means):

- Through a proxy the client never resolves a service name: plain HTTP is sent to the proxy in
  absolute form, HTTPS as `CONNECT host:443` followed by TLS inside the tunnel. The peer is the
  proxy, so records carry `via_upstream=True` and no `server_ip` (a proxy's private address is
  not a DNS answer).
- A refused CONNECT (403, 503, ...) becomes the error "proxy refused HTTP CONNECT request" (a
  block); a proxy that says it could not *reach* the host (squid's ERR_DNS_FAIL,
  ERR_CONNECT_FAIL, ...) becomes a plain failure, since an outage is not a filter.
- A reset or a connection closed before any answer is a reset (a block: squid's TCP_RESET).
- TLS that fails after CONNECT 200 means something in the path speaks for the site
  (interception): inconclusive, unless the user trusts the interceptor's CA (`--ca-file`) or
  skips verification (`--insecure`), when a block page inside the tunnel is fingerprinted.
- Directly (no proxy) the client resolves the name and keeps the answer as `server_ip`, so a
  DNS sinkhole is recognised; 0.0.0.0/:: answers are not connected to (that is this machine).
- The proxy itself unreachable, or asking for credentials we lack, is an audit-path failure:
  the command stops with exit 2 instead of reporting anything as blocked.

Bounds: at most `max_requests` requests, a few at a time in daemon threads, each cut off after
`timeout` seconds (a watchdog shuts the socket down, so even a slow drip cannot stretch it) and
the whole run after `deadline` seconds. At most BODY_PREFIX_LIMIT bytes of a body are read, for
fingerprints only; no body is ever printed.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import ipaddress
import queue
import socket
import ssl
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from policy_lint import __version__
from policy_lint.catalog import HYGIENE_ROLES, PRIMARY, Catalog
from policy_lint.model import Probe
from policy_lint.traffic.fingerprints import Fingerprints
from policy_lint.traffic.record import BODY_PREFIX_LIMIT, FlowRecord

USER_AGENT = f"policy-lint-probe/{__version__}"
MAX_HEADERS = 64  # as in mitm.py: a hostile answer can send thousands, fingerprints need few
MAX_HEADER_VALUE = 256
GRACE = 1.0  # seconds the run waits for workers after the total deadline cut their sockets
WATCH_INTERVAL = 0.05  # how often the watchdog looks for requests past their own timeout

Resolver = Callable[[str, int], str]
Connector = Callable[[tuple[str, int], float], socket.socket]


class AuditPathError(Exception):
    """Our own path to the network failed (proxy down, proxy wants credentials): exit 2."""


@dataclass(frozen=True)
class ProxyAddress:
    host: str  # as given (a name is resolved by us: finding the proxy is the client's job)
    port: int
    authorization: str | None = None  # "Basic ..." from user:password in the URL

    @property
    def shown(self) -> str:
        """The proxy for reports and messages: never its credentials."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"


def parse_proxy(url: str) -> ProxyAddress:
    """`http://[user:password@]host:port` -> ProxyAddress; ValueError with a one-line reason."""
    parts = urlsplit(url.strip())
    if parts.scheme.lower() != "http":
        raise ValueError(f"--proxy must be an http:// URL (got {url!r})")
    try:
        port = parts.port
    except ValueError:
        raise ValueError(f"--proxy has an invalid port: {url!r}") from None
    if not parts.hostname or port is None:
        # No guessing: proxies listen on 3128, 8080, 80, ... and a wrong guess looks like "down".
        raise ValueError(f"--proxy needs a host and a port, e.g. http://127.0.0.1:3128 (got {url!r})")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError(f"--proxy takes no path or query: {url!r}")
    auth = None
    if parts.username is not None:
        pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
        auth = "Basic " + base64.b64encode(pair.encode()).decode("ascii")
    return ProxyAddress(parts.hostname, port, auth)


# ------------------------------------------------------------------ what to request


def selected_catalog(catalog: Catalog, services: Sequence[str]) -> Catalog:
    """The catalog narrowed to `services` (all when empty); KeyError names an unknown one."""
    if not services:
        return catalog
    unknown = [s for s in services if s not in catalog.services]
    if unknown:
        raise KeyError(f"unknown service {unknown[0]!r} (known: {', '.join(catalog.services)})")
    return replace(catalog, services={sid: catalog.services[sid] for sid in dict.fromkeys(services)})


def plan_probes(catalog: Catalog) -> list[Probe]:
    """Every request to send, most telling first, so that a --max-requests cut keeps the best.

    The control host comes first (without it no block is attributable to social media), then
    the services take turns, each primary hosts before supporting ones. Hygiene hosts (ads,
    trackers, widgets) are left out: blocking them is privacy hygiene, not a block of the
    service, and a probe that reported them would turn every ad blocker into a finding.
    """
    queues = []
    for svc in catalog.services.values():
        probes = [p for p in svc.probes() if p.role not in HYGIENE_ROLES]
        probes.sort(key=lambda p: p.role != PRIMARY)  # stable: catalog order within a role
        queues.append(probes)
    ordered: list[Probe] = list(catalog.control_probes())
    for i in range(max((len(q) for q in queues), default=0)):
        ordered.extend(q[i] for q in queues if i < len(q))
    return ordered


# ------------------------------------------------------------------ time bounds


@dataclass(eq=False)
class _Guard:
    """One request's own deadline and a duplicate of its socket the watchdog can shut down."""

    deadline: float
    sock: socket.socket | None = None
    cut: str | None = None  # "timeout" (its own) or "deadline" (the run's), once shut down


class _Watch:
    """The requests in flight. shutdown() on a dup'd descriptor reaches the same connection, so
    a worker blocked in recv (plain or TLS) returns at once; the worker's socket object is never
    touched from another thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._guards: set[_Guard] = set()

    def add(self, guard: _Guard) -> None:
        with self._lock:
            self._guards.add(guard)

    def attach(self, guard: _Guard, sock: socket.socket) -> None:
        with self._lock:
            if guard.cut:
                raise TimeoutError("cut before the connection was made")
            guard.sock = sock.dup()

    def remove(self, guard: _Guard) -> None:
        with self._lock:
            self._guards.discard(guard)
            if guard.sock is not None:
                guard.sock.close()
                guard.sock = None

    def expire(self, now: float, *, everything: bool = False) -> None:
        with self._lock:
            for g in self._guards:
                if g.cut is None and (everything or now >= g.deadline):
                    g.cut = "deadline" if everything else "timeout"
                    if g.sock is not None:
                        with contextlib.suppress(OSError):  # already closed by its owner
                            g.sock.shutdown(socket.SHUT_RDWR)


# ------------------------------------------------------------------ one request


@dataclass(frozen=True)
class _Answer:
    status: int
    reason: str
    headers: tuple[tuple[str, str], ...]
    body_prefix: bytes


class _Refused(Exception):
    """The proxy answered a CONNECT with something other than 2xx."""

    def __init__(self, answer: _Answer) -> None:
        super().__init__(f"{answer.status} {answer.reason}")
        self.answer = answer


def _read_answer(sock: socket.socket, method: str) -> _Answer:
    """Status, headers and at most BODY_PREFIX_LIMIT bytes of body (fingerprints only)."""
    resp = http.client.HTTPResponse(sock, method=method)
    try:
        resp.begin()
        headers = tuple((k.lower(), v[:MAX_HEADER_VALUE]) for k, v in resp.getheaders()[:MAX_HEADERS])
        body = b""
        if method != "CONNECT" or resp.status >= 300:
            try:
                body = resp.read(BODY_PREFIX_LIMIT)
            except http.client.IncompleteRead as exc:
                body = exc.partial[:BODY_PREFIX_LIMIT]
            except (OSError, http.client.HTTPException):
                body = b""  # the status and headers are the evidence; a short body is not
        return _Answer(resp.status, resp.reason or "", headers, body)
    finally:
        if method != "CONNECT":
            resp.close()
        # For CONNECT the socket stays usable for TLS: HTTPResponse buffered only the head
        # (the tunnel's far end says nothing before our ClientHello).


def _header(headers: tuple[tuple[str, str], ...], name: str) -> str:
    for k, v in headers:
        if k == name:
            return v
    return ""


def _squid_code(answer: _Answer) -> str:
    value = _header(answer.headers, "x-squid-error")
    return value.split()[0] if value.split() else ""


def _oserror(exc: BaseException) -> str:
    """An OSError as words, without errno numbers (the fingerprints read some as audit-path)."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


def _hostport(probe: Probe) -> str:
    default = 443 if probe.scheme == "https" else 80
    return probe.host if probe.port == default else f"{probe.host}:{probe.port}"


@dataclass(frozen=True)
class ProbeSettings:
    proxy: ProxyAddress | None = None
    timeout: float = 5.0  # per request: connect, CONNECT, TLS, answer and body prefix together
    deadline: float = 60.0  # the whole run
    workers: int = 8
    verify: bool = True  # TLS verification; off only with --insecure
    ca_file: Path | None = None  # trusted besides the system store (an interception CA)


@dataclass
class ProbeRun:
    records: list[tuple[Probe, FlowRecord]] = field(default_factory=list)
    unfinished: list[Probe] = field(default_factory=list)  # cut by the total deadline
    elapsed: float = 0.0


def _default_resolve(host: str, port: int) -> str:
    return str(socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][4][0])


def _default_connect(address: tuple[str, int], timeout: float) -> socket.socket:
    sock = socket.create_connection(address, timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


class Prober:
    """Sends the probe requests. `resolve` and `connect` are the only ways out to the network
    (tests pass loopback-only ones); with a proxy, `resolve` is used for the proxy alone."""

    def __init__(
        self,
        settings: ProbeSettings,
        fingerprints: Fingerprints,
        *,
        control_addresses: tuple[str, ...] = (),
        resolve: Resolver = _default_resolve,
        connect: Connector = _default_connect,
    ) -> None:
        self.settings = settings
        self.fp = fingerprints
        self.control_addresses = control_addresses
        self._resolve = resolve
        self._connect = connect
        self._proxy_ip: str | None = None
        self._tls = self._tls_context()

    def _tls_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context()
        if self.settings.ca_file is not None:
            ctx.load_verify_locations(cafile=str(self.settings.ca_file))
        if not self.settings.verify:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        return ctx

    # -------------------------------------------------------------- the audit path

    def preflight(self) -> None:
        """Resolve and reach the proxy once: if this fails nothing below would mean anything."""
        proxy = self.settings.proxy
        if proxy is None:
            return
        try:
            self._proxy_ip = self._resolve(proxy.host, proxy.port)
        except OSError as exc:
            raise AuditPathError(
                f"proxy {proxy.shown}: cannot resolve {proxy.host}: {_oserror(exc)}"
            ) from None
        try:
            self._connect((self._proxy_ip, proxy.port), self.settings.timeout).close()
        except OSError as exc:
            raise AuditPathError(f"proxy {proxy.shown} unreachable: {_oserror(exc)}") from None

    # -------------------------------------------------------------- the run

    def run(self, probes: Sequence[Probe]) -> ProbeRun:
        """All `probes` through a few daemon threads, within the total deadline.

        Daemon threads, not a ThreadPoolExecutor: its workers are joined at interpreter exit,
        so a request stuck where no socket can be cut (a slow resolver) would outlive the
        deadline; a daemon thread dies with the process.
        """
        started = time.monotonic()
        run = ProbeRun()
        if not probes:
            return run
        jobs: queue.SimpleQueue[tuple[int, Probe]] = queue.SimpleQueue()
        for item in enumerate(probes):
            jobs.put(item)
        results: dict[int, FlowRecord] = {}
        fatal: list[AuditPathError] = []
        lock = threading.Lock()
        stop = threading.Event()
        all_done = threading.Event()
        watch = _Watch()
        n_workers = max(1, min(self.settings.workers, len(probes)))
        running = [n_workers]

        def worker() -> None:
            try:
                work()
            finally:
                with lock:
                    running[0] -= 1
                    if not running[0]:
                        all_done.set()

        def work() -> None:
            while not stop.is_set():
                try:
                    index, probe = jobs.get_nowait()
                except queue.Empty:
                    return
                guard = _Guard(time.monotonic() + self.settings.timeout)
                watch.add(guard)
                try:
                    record = self.fetch(probe, guard, watch)
                except AuditPathError as exc:
                    with lock:
                        fatal.append(exc)
                    stop.set()
                    return
                except Exception as exc:  # a bug must not hang or kill the run: one failed probe
                    record = self._record(probe, error=f"probe error: {type(exc).__name__}")
                finally:
                    watch.remove(guard)
                if guard.cut == "deadline":
                    continue  # the run's deadline, not the network, ended it: no evidence
                with lock:
                    results[index] = record

        threads = [
            threading.Thread(target=worker, name=f"policy-lint-probe-{n}", daemon=True)
            for n in range(n_workers)
        ]
        for t in threads:
            t.start()
        end = started + self.settings.deadline
        # This thread is the watchdog: it cuts requests past their own timeout, and all of
        # them at the run's deadline (then waits GRACE for the workers to notice).
        while not all_done.wait(timeout=WATCH_INTERVAL):
            now = time.monotonic()
            if now >= end:
                stop.set()
                watch.expire(now, everything=True)
                all_done.wait(timeout=GRACE)
                break
            watch.expire(now)
        if fatal:
            raise fatal[0]
        with lock:
            done = dict(results)
        for index, probe in enumerate(probes):
            if index in done:
                run.records.append((probe, done[index]))
            else:
                run.unfinished.append(probe)
        run.elapsed = time.monotonic() - started
        return run

    # -------------------------------------------------------------- one probe

    def _record(self, probe: Probe, **fields: Any) -> FlowRecord:
        base: dict[str, object] = {
            "timestamp": time.time(),
            "host": probe.host,
            "port": probe.port,
            "scheme": probe.scheme,
            "method": "GET",
            "via_upstream": self.settings.proxy is not None,
        }
        base.update(fields)
        return FlowRecord(**base)  # type: ignore[arg-type]

    def fetch(self, probe: Probe, guard: _Guard, watch: _Watch) -> FlowRecord:
        """One probe -> one FlowRecord; network trouble becomes the record's error text."""
        if self.settings.proxy is not None:
            return self._via_proxy(probe, guard, watch)
        return self._direct(probe, guard, watch)

    def _timed_out(self, probe: Probe, guard: _Guard, **fields: Any) -> FlowRecord:
        # Worded without "reset"/"closed": a timeout is no evidence of a filter (-> failed).
        return self._record(probe, error=f"timed out after {self.settings.timeout:g} s", **fields)

    def _via_proxy(self, probe: Probe, guard: _Guard, watch: _Watch) -> FlowRecord:
        proxy = self.settings.proxy
        assert proxy is not None and self._proxy_ip is not None, "preflight() first"
        try:
            sock = self._connect((self._proxy_ip, proxy.port), self.settings.timeout)
        except OSError as exc:
            # The proxy went away mid-run: our path failed, not the service ("connect call
            # failed" is an audit-path fingerprint -> inconclusive).
            return self._record(probe, error=f"proxy connect call failed: {_oserror(exc)}")
        try:
            try:
                watch.attach(guard, sock)
            except TimeoutError:
                return self._timed_out(probe, guard)
            sock.settimeout(self.settings.timeout)
            auth = f"Proxy-Authorization: {proxy.authorization}\r\n" if proxy.authorization else ""
            target = _hostport(probe)
            if probe.scheme == "http":
                head = (
                    f"GET http://{target}{probe.path} HTTP/1.1\r\nHost: {target}\r\n{auth}"
                    f"User-Agent: {USER_AGENT}\r\nAccept: */*\r\nConnection: close\r\n\r\n"
                )
                return self._answered(probe, guard, sock, head, "the proxy", from_proxy=True)
            connect_target = f"{probe.host}:{probe.port}"
            head = (
                f"CONNECT {connect_target} HTTP/1.1\r\nHost: {connect_target}\r\n{auth}"
                f"User-Agent: {USER_AGENT}\r\n\r\n"
            )
            try:
                sock.sendall(head.encode("ascii"))
                answer = _read_answer(sock, "CONNECT")
            except Exception as exc:
                return self._failure(probe, guard, exc, "the proxy before answering CONNECT")
            if not 200 <= answer.status < 300:
                return self._refused(probe, answer)
            return self._tls_exchange(probe, guard, sock, " after CONNECT 200")
        finally:
            sock.close()

    def _refused(self, probe: Probe, answer: _Answer) -> FlowRecord:
        if answer.status == 407:
            raise AuditPathError(self._auth_message())
        code = _squid_code(answer)
        vendor = (self.fp.header_vendor(answer.headers) or (None,))[0] or self.fp.body_vendor(
            answer.body_prefix
        )
        named = f" ({vendor}{': ' + code if code else ''})" if vendor else ""
        # squid's page names for "could not reach the site" (fingerprints.yaml): an outage
        # upstream is no evidence of a filter, so no "refused CONNECT" wording for those.
        if code in self.fp.squid_failed:
            return self._record(probe, error=f"proxy could not reach {probe.host}: {answer.status} {code}")
        return self._record(
            probe, error=f"proxy refused HTTP CONNECT request: {answer.status} {answer.reason}{named}"[:120]
        )

    def _auth_message(self) -> str:
        shown = self.settings.proxy.shown if self.settings.proxy else "the proxy"
        if self.settings.proxy is not None and self.settings.proxy.authorization:
            return f"proxy {shown} rejected the credentials in --proxy (407)"
        return f"proxy {shown} requires authentication (407): give http://user:password@host:port"

    def _direct(self, probe: Probe, guard: _Guard, watch: _Watch) -> FlowRecord:
        try:
            address = self._resolve(probe.host, probe.port)
        except OSError as exc:
            # NXDOMAIN can be a DNS filter or a typo'd catalog; the classifier calls it failed.
            return self._record(probe, error=f"DNS lookup failed: {_oserror(exc)}")
        try:
            if ipaddress.ip_address(address).is_unspecified:
                # 0.0.0.0 / :: is this machine: a sinkhole answer, nothing to connect to.
                return self._record(probe, server_ip=address)
        except ValueError:
            pass
        try:
            sock = self._connect((address, probe.port), self.settings.timeout)
        except OSError as exc:
            # Worded without "reset": a refused or unanswered SYN is no proof of a filter.
            return self._record(
                probe, server_ip=address, error=f"TCP connect to {probe.port} failed: {_oserror(exc)}"
            )
        try:
            try:
                watch.attach(guard, sock)
            except TimeoutError:
                return self._timed_out(probe, guard, server_ip=address)
            sock.settimeout(self.settings.timeout)
            if probe.scheme == "https":
                return self._tls_exchange(probe, guard, sock, "", server_ip=address)
            head = (
                f"GET {probe.path} HTTP/1.1\r\nHost: {_hostport(probe)}\r\n"
                f"User-Agent: {USER_AGENT}\r\nAccept: */*\r\nConnection: close\r\n\r\n"
            )
            return self._answered(probe, guard, sock, head, "the server", server_ip=address)
        finally:
            sock.close()

    def _tls_exchange(
        self, probe: Probe, guard: _Guard, sock: socket.socket, after: str, **fields: Any
    ) -> FlowRecord:
        try:
            tls = self._tls.wrap_socket(sock, server_hostname=probe.host)
        except ssl.SSLCertVerificationError as exc:
            # Something in the path answered for the site with a certificate we do not trust:
            # interception. Contains "certificate" (an audit-path fingerprint -> inconclusive).
            return self._record(
                probe,
                error=f"TLS certificate verify failed{after} ({exc.verify_message}): interception suspected",
                **fields,
            )
        except (ssl.SSLEOFError, ssl.SSLZeroReturnError, ConnectionResetError, BrokenPipeError) as exc:
            if guard.cut:
                return self._timed_out(probe, guard, **fields)
            # Closed on seeing our SNI: what SNI filters do (-> reset, a block).
            return self._record(
                probe, error=f"connection closed during the TLS handshake{after} ({_oserror(exc)})", **fields
            )
        except ssl.SSLError as exc:
            # Not TLS, or TLS we cannot agree on: someone other than the site answered.
            return self._record(
                probe,
                error=f"TLS failed{after} ({exc.reason or exc}): interception "
                "suspected, server certificate not verified",
                **fields,
            )
        except OSError as exc:
            return self._failure(probe, guard, exc, "the server during TLS", **fields)
        try:
            head = (
                f"GET {probe.path} HTTP/1.1\r\nHost: {_hostport(probe)}\r\n"
                f"User-Agent: {USER_AGENT}\r\nAccept: */*\r\nConnection: close\r\n\r\n"
            )
            return self._answered(probe, guard, tls, head, "the server", **fields)
        finally:
            tls.close()

    def _answered(
        self,
        probe: Probe,
        guard: _Guard,
        sock: socket.socket,
        head: str,
        peer: str,
        *,
        from_proxy: bool = False,
        **fields: Any,
    ) -> FlowRecord:
        """Send `head`, read the answer. `from_proxy`: a plain-HTTP answer relayed (or made) by
        the proxy, whose own error pages are told apart from the site's answers."""
        try:
            sock.sendall(head.encode("ascii"))
            answer = _read_answer(sock, "GET")
        except Exception as exc:
            return self._failure(probe, guard, exc, peer, **fields)
        if from_proxy and answer.status == 407:
            raise AuditPathError(self._auth_message())
        # squid's own page for an upstream it could not reach (ERR_DNS_FAIL, ...) is kept as
        # the answer: the Classifier reads its X-Squid-Error name as "failed", not a block.
        return self._record(
            probe,
            status=answer.status,
            reason=answer.reason[:80],
            headers=answer.headers,
            body_prefix=answer.body_prefix,
            **fields,
        )

    def _failure(
        self, probe: Probe, guard: _Guard, exc: BaseException, peer: str, **fields: Any
    ) -> FlowRecord:
        if guard.cut:
            return self._timed_out(probe, guard, **fields)
        if isinstance(exc, (socket.timeout, TimeoutError)):
            return self._timed_out(probe, guard, **fields)
        if isinstance(exc, ConnectionResetError):
            return self._record(probe, error=f"Connection reset by {peer}", **fields)
        if isinstance(exc, (http.client.RemoteDisconnected, BrokenPipeError, ConnectionAbortedError)):
            return self._record(probe, error=f"connection closed by {peer} without an answer", **fields)
        if isinstance(exc, http.client.HTTPException):
            return self._record(probe, error=f"unreadable answer from {peer}: {type(exc).__name__}", **fields)
        return self._record(probe, error=f"network error: {_oserror(exc)}"[:120], **fields)

"""Shared test helpers.

End-to-end and corpus tests need things outside the repo (Debian's squid, ../shared/corpus).
Locally they skip with a visible reason when those are missing; CI sets
POLICY_LINT_REQUIRE_E2E=1 so that a skip becomes a failure. Every test that reads the corpus
finds it with `corpus_dir()` (POLICY_LINT_CORPUS, else ../shared/corpus/cases).

The test run stays on this machine: a session-wide guard (`network_guard` below) refuses, in
the pytest process, every connection to and every name lookup of anything that is not loopback,
and fails the test during which one was attempted. What it covers:

- in-process: `socket.socket.connect`/`connect_ex`/`sendto` (so `socket.create_connection`,
  `http.client`, `ssl`, asyncio's `sock_connect` and datagram transports, and mitmproxy or the
  prober when they run inside pytest), and `socket.getaddrinfo`/`gethostbyname`/
  `gethostbyname_ex`/`gethostbyaddr` of anything but `localhost` and IP literals (asyncio's
  `getaddrinfo` runs `socket.getaddrinfo` in a thread: covered);
- subprocesses are outside it. They are kept offline by how the tests start them, each
  documented where it is started: squid resolves through a loopback stub (tests/e2e/
  squid_harness.py) and forwards every request to a loopback origin (`never_direct`); unbound
  and dnsmasq forward to a loopback stub (tests/e2e/dns_stub.py); squidGuard, Privoxy and
  e2guardian are run on 127.0.0.1 with loopback upstreams; HAProxy and nginx forward only to a
  loopback origin (a loopback DNS answering 127.0.0.1, nginx upstreams named after the probe
  hosts and its resolver on a closed loopback port: tests/e2e/revproxy_harness.py); `nft -c` only talks netlink, and the
  nft JSON test loads its ruleset into an empty private network namespace (`unshare -n`, no
  address configured, nothing connects there); mitmdump is in upstream mode to a loopback squid;
  `policy-lint probe` subprocesses run under the same guard (tests/traffic/test_probe.py's
  `run_guarded`); Chromium runs with host-resolver rules that resolve nothing but localhost and
  a proxy on a closed loopback port (tests/traffic/test_render.py); pre-commit's pip runs with
  PIP_NO_INDEX and a local wheelhouse (tests/e2e/test_precommit.py).

No test today gives a network namespace addresses of its own (no `ip netns add`, no veth): so
`NAMESPACE_ADDRESSES`, the documentation-range addresses a test may put in a namespace it made
and then reach, is empty. A test that builds such a namespace adds exactly its addresses there.
"""

from __future__ import annotations

import errno
import functools
import ipaddress
import os
import shutil
import socket
import subprocess
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from policy_lint import dialects
from policy_lint.catalog import load_catalog
from policy_lint.engine import Options, Report, lint_paths
from policy_lint.policy import strict_policy

REPO = Path(__file__).resolve().parent.parent


def corpus_dir() -> Path:
    """The shared corpus's cases folder: $POLICY_LINT_CORPUS when set, else ../shared/corpus/cases
    beside the repository (where CI puts its copy of shared/)."""
    override = os.environ.get("POLICY_LINT_CORPUS")
    return Path(override) if override else REPO.parent / "shared" / "corpus" / "cases"


def skip_or_fail(reason: str) -> None:
    if os.environ.get("POLICY_LINT_REQUIRE_E2E") == "1":
        pytest.fail(f"required by CI but unavailable: {reason}")
    pytest.skip(reason)


# ------------------------------------------------------------------ the network guard

# Documentation-range addresses (RFC 5737 / RFC 3849) that a test assigned inside a network
# namespace it created itself, and so may connect to. None today (see the module docstring).
NAMESPACE_ADDRESSES: frozenset[ipaddress.IPv4Address | ipaddress.IPv6Address] = frozenset()
# Names resolved without the network: /etc/hosts' loopback names.
LOCAL_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"})


class OutsideNetworkError(OSError):
    """Raised in place of a connection or lookup that would leave this machine."""


_violations: list[str] = []


def take_network_violations() -> list[str]:
    """What the guard refused since the last call (and forget it): for tests of the guard."""
    out = list(_violations)
    _violations.clear()
    return out


def _local_address(host: object) -> bool | None:
    """True for a loopback or unspecified IP literal (or one of NAMESPACE_ADDRESSES), False for
    any other IP literal, None when `host` is not an IP literal."""
    if isinstance(host, bytes):
        host = host.decode(errors="replace")
    if not isinstance(host, str):
        return None
    try:
        ip = ipaddress.ip_address(host.split("%")[0])
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback or ip.is_unspecified or ip in NAMESPACE_ADDRESSES


def _local_name(host: object) -> bool:
    if host is None:
        return True  # getaddrinfo(None, port): the local wildcard / loopback address
    if isinstance(host, bytes):
        host = host.decode(errors="replace")
    if not isinstance(host, str):
        return False
    local = _local_address(host)
    if local is not None:
        return True  # an IP literal is not looked up; connecting to it is checked on connect
    return host.rstrip(".").lower() in LOCAL_NAMES


def _refuse(what: str) -> OutsideNetworkError:
    _violations.append(what)
    return OutsideNetworkError(
        errno.ENETUNREACH, f"test-run network guard (tests/conftest.py): {what} would leave this machine"
    )


def _check_destination(sock: socket.socket, address: object, action: str) -> None:
    if sock.family not in (socket.AF_INET, socket.AF_INET6) or not isinstance(address, tuple):
        return  # AF_UNIX, netlink, ...: local by nature
    host = address[0]
    local = _local_address(host)
    if local is None:
        local = _local_name(host)
    if not local:
        raise _refuse(f"{action} {address!r}")


@pytest.fixture(scope="session", autouse=True)
def network_guard() -> Iterator[None]:
    """Wrap the socket module for the whole run: see the module docstring."""
    methods = ("connect", "connect_ex", "sendto")
    lookups = ("getaddrinfo", "gethostbyname", "gethostbyname_ex", "gethostbyaddr")
    real: dict[str, Callable[..., Any]] = {name: getattr(socket.socket, name) for name in methods}
    real_lookup: dict[str, Callable[..., Any]] = {name: getattr(socket, name) for name in lookups}

    def connect(self: socket.socket, address: Any) -> None:
        _check_destination(self, address, "connect to")
        return real["connect"](self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        _check_destination(self, address, "connect to")
        return real["connect_ex"](self, address)

    def sendto(self: socket.socket, data: Any, *args: Any) -> int:
        _check_destination(self, args[-1], "send to")
        return real["sendto"](self, data, *args)

    def lookup(name: str) -> Callable[..., Any]:
        original = real_lookup[name]

        def guarded(host: Any, *args: Any, **kwargs: Any) -> Any:
            if not _local_name(host) or (name == "gethostbyaddr" and _local_address(host) is False):
                raise _refuse(f"{name}({host!r})")
            return original(host, *args, **kwargs)

        return guarded

    for name, wrapper in (("connect", connect), ("connect_ex", connect_ex), ("sendto", sendto)):
        setattr(socket.socket, name, wrapper)
    for name in lookups:
        setattr(socket, name, lookup(name))
    try:
        yield
    finally:
        for name, original in real.items():
            setattr(socket.socket, name, original)
        for name, original in real_lookup.items():
            setattr(socket, name, original)


@pytest.fixture(autouse=True)
def _no_outside_connections(network_guard) -> Iterator[None]:
    """Fail the test during which the guard refused anything (its code may have caught the error)."""
    yield  # attempts in a session fixture this test set up are counted against this test
    seen = take_network_violations()
    if seen:
        pytest.fail("this test tried to leave the machine:\n  " + "\n  ".join(seen))


@functools.cache
def no_network_prefix() -> tuple[str, ...]:
    """`unshare -n` where it works here (root, util-linux): a command run after it has a private
    network namespace with no interface up (not even loopback), so it cannot reach any network.
    Empty where it does not work (an unprivileged user): the command then runs as it is."""
    unshare = shutil.which("unshare")
    if unshare is None:
        return ()
    try:
        ok = subprocess.run([unshare, "-n", "true"], capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        ok = False
    return (unshare, "-n") if ok else ()


@pytest.fixture(scope="session")
def catalog():
    return load_catalog()


@pytest.fixture
def lint(tmp_path, catalog):
    """Write files (name -> text) under tmp_path and lint the first one; returns the Report."""

    def run(files: dict[str, str], policy=None, dialect: str | None = None) -> Report:
        paths = []
        for name, text in files.items():
            p = tmp_path / name
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(textwrap.dedent(text))
            paths.append(p)
        policy = policy or strict_policy(catalog)
        extended = catalog.extended(policy.extra_domains, policy.custom_services)
        return lint_paths([paths[0]], extended, policy, Options(root=tmp_path, dialect=dialect))

    return run


def detected_dialect(path: Path, head: str) -> str | None:
    """NAME of the dialect `dialects.detect` picks for `path` with content `head`; None if none."""
    module = dialects.detect(path, head)
    return None if module is None else module.NAME


def verdicts(report: Report) -> dict[str, str]:
    assert report.files, report.errors
    return {sid: r.verdict.value for sid, r in report.files[0].services.items()}

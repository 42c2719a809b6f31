"""The test run's network guard (tests/conftest.py): loopback passes, anything else is refused
in-process before a packet is sent, and the attempt is recorded so that the test fails."""

from __future__ import annotations

import http.client
import socket

import pytest

from tests.conftest import OutsideNetworkError, take_network_violations


def test_loopback_connections_pass():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        port = server.getsockname()[1]
        with socket.create_connection(("localhost", port), timeout=5):
            pass
        with socket.socket() as s:
            assert s.connect_ex(("127.0.0.1", port)) == 0
    assert socket.getaddrinfo("localhost", 80)
    assert take_network_violations() == []


@pytest.mark.parametrize("address", [("192.0.2.1", 80), ("2001:db8::1", 443, 0, 0), ("10.0.0.1", 443)])
def test_a_connect_elsewhere_is_refused_before_any_packet(address):
    family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
    with socket.socket(family) as s, pytest.raises(OutsideNetworkError):
        s.connect(address)
    assert take_network_violations() == [f"connect to {address!r}"]


def test_connect_ex_create_connection_sendto_and_http_client_are_covered():
    with socket.socket() as s, pytest.raises(OutsideNetworkError):
        s.connect_ex(("198.51.100.7", 80))
    with pytest.raises(OutsideNetworkError):
        socket.create_connection(("203.0.113.7", 443), timeout=1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u, pytest.raises(OutsideNetworkError):
        u.sendto(b"x", ("192.0.2.53", 53))
    with pytest.raises(OutsideNetworkError):
        http.client.HTTPConnection("192.0.2.80", timeout=1).request("GET", "/")
    assert len(take_network_violations()) == 4


@pytest.mark.parametrize("name", ["getaddrinfo", "gethostbyname", "gethostbyname_ex", "gethostbyaddr"])
def test_a_lookup_of_anything_not_local_is_refused(name):
    host = "192.0.2.1" if name == "gethostbyaddr" else "www.facebook.com"
    with pytest.raises(OutsideNetworkError):
        getattr(socket, name)(host, *([443] if name == "getaddrinfo" else []))
    assert take_network_violations() == [f"{name}({host!r})"]


def test_a_caught_refusal_still_fails_the_test(pytester):
    """The code under test may swallow the OSError: the guard's record fails the test anyway."""
    pytester.makeconftest("from tests.conftest import network_guard, _no_outside_connections\n")
    pytester.makepyfile(
        """
        import socket
        def test_swallows():
            try:
                socket.create_connection(("192.0.2.1", 80), timeout=1)
            except OSError:
                pass
        """
    )
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(errors=1, passed=1)
    result.stdout.fnmatch_lines(["*this test tried to leave the machine:", "*connect to ('192.0.2.1', 80)"])
    take_network_violations()

"""mitmproxy flow -> FlowRecord. Importing this imports mitmproxy; `check` must never import it."""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from typing import Any

from mitmproxy import http
from mitmproxy.net.http import url
from mitmproxy.proxy.mode_specs import ProxyMode

from policy_lint.traffic.record import BODY_PREFIX_LIMIT, FlowRecord

MAX_HEADERS = 64  # a hostile response can send thousands; fingerprints need few
MAX_HEADER_VALUE = 256


def _host(flow: http.HTTPFlow) -> str | None:
    try:
        host = flow.request.pretty_host
    except (UnicodeError, ValueError):
        return None
    return _normal_host(host)


def _normal_host(host: object) -> str | None:
    if not isinstance(host, str) or not host:  # undecodable hosts come back as bytes
        return None
    try:
        host = host.encode("idna").decode("ascii") if not host.isascii() else host
    except UnicodeError:
        return None
    return host.lower().rstrip(".")


def _server_ip(flow: http.HTTPFlow) -> str | None:
    conn = flow.server_conn
    # peername is the address actually connected to; older releases call it ip_address (an
    # alias that newer ones keep but deprecate: asked only where peername does not exist).
    addr = conn.peername if hasattr(conn, "peername") else getattr(conn, "ip_address", None)
    return str(addr[0]) if addr else None


# Modes in which the server connection goes to a configured address, not to a DNS answer for
# the request's host: the upstream proxy, or the reverse proxy's target. A private or loopback
# peer there is no sinkhole, and a refused connection is our own path failing.
CONFIGURED_PEER_MODES = frozenset({"upstream", "reverse"})


def _upstream(flow: http.HTTPFlow) -> bool:
    # mitmproxy 11/12: client_conn.proxy_mode is a ProxyMode with a type_name.
    mode = getattr(flow.client_conn, "proxy_mode", None)
    if mode is not None and getattr(mode, "type_name", "") in CONFIGURED_PEER_MODES:
        return True
    via = getattr(flow.server_conn, "via", None)
    return via is not None


def flow_host(flow: http.HTTPFlow) -> str | None:
    """`Request.pretty_host`, normalised (IDNA, lower case, no trailing dot), as record_from_flow
    has it, but computed from the request's raw bytes through a bounded cache: a live proxy sees
    the same few Host headers over and over, and pretty_host parses and decodes on every call
    (about 9 us on mitmproxy 11, most of the addon's cost per flow). None when undecodable."""
    data = flow.request.data
    values = tuple(v for k, v in data.headers.fields if k.lower() == b"host")
    # The authority is read for HTTP/2 and HTTP/3 only (as Request.host_header does).
    authority = data.authority if data.http_version in (b"HTTP/2.0", b"HTTP/3") else b""
    return _host_from_raw(data.http_version, authority, values, data.host)


@lru_cache(maxsize=4096)  # pure; bounded: hostile traffic can carry unlimited Host values
def _host_from_raw(http_version: bytes, authority: bytes, values: tuple[bytes, ...], host: str) -> str | None:
    state = {"headers": [(b"host", v) for v in values], "http_version": http_version}
    state.update(authority=authority, host=host)
    try:
        return _normal_host(_state_host(state))
    except (UnicodeError, ValueError):
        return None


def record_from_flow(
    flow: http.HTTPFlow, *, host: str | None = None, header_names: frozenset[bytes] | None = None
) -> FlowRecord | None:
    """What the audit needs from one flow; never mutates it, never decodes the whole body.

    `host`: flow_host(flow), when the caller already has it. `header_names`: keep only these
    response headers (lower-case bytes; of the first MAX_HEADERS, as without it), e.g. the ones
    a Classifier reads (Classifier.header_names): the live addon decodes no other header.
    """
    if not isinstance(flow, http.HTTPFlow):
        return None
    if host is None:
        host = _host(flow)
    if not host:
        return None
    req = flow.request
    resp = flow.response
    status = reason = None
    headers: tuple[tuple[str, str], ...] = ()
    body = b""
    if resp is not None:
        status = resp.status_code
        reason = resp.reason or ""
        if header_names is None:
            headers = tuple(
                (k.lower(), v[:MAX_HEADER_VALUE])
                for k, v in list(resp.headers.items(multi=True))[:MAX_HEADERS]
            )
        else:
            headers = tuple(
                (_native(k).lower(), _native(v)[:MAX_HEADER_VALUE])
                for k, v in resp.headers.fields[:MAX_HEADERS]
                if k.lower() in header_names
            )
        raw = resp.raw_content
        body = bytes(raw[:BODY_PREFIX_LIMIT]) if raw else b""
    peer = flow.client_conn.peername
    return FlowRecord(
        timestamp=float(req.timestamp_start or 0.0),
        host=host,
        port=int(req.port),
        scheme=req.scheme or "http",
        method=req.method,
        client=str(peer[0]) if peer else None,
        status=status,
        reason=reason or "",
        headers=headers,
        body_prefix=body,
        error=flow.error.msg if flow.error else None,
        server_ip=_server_ip(flow),
        via_upstream=_upstream(flow),
    )


# ------------------------------------------------------------------ from a flow's saved state


def _native(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")  # how mitmproxy's Headers decode


@lru_cache(maxsize=64)  # pure: a capture holds one or a few mode specs
def _mode_type(spec: str) -> str:
    try:
        return ProxyMode.parse(spec).type_name
    except ValueError:
        return ""


def _state_host(req: dict[str, Any]) -> str | None:
    """Request.pretty_host, computed on the state (mitmproxy 11: http.Request.host_header)."""
    fields = req["headers"]
    values = [_native(v) for k, v in fields if k.lower() == b"host"]
    host_header = ", ".join(values) if values else None
    if req["http_version"] in (b"HTTP/2.0", b"HTTP/3"):
        raw = req["authority"]
        try:
            authority = raw.decode("idna")
        except UnicodeError:
            authority = raw.decode("utf8", "surrogateescape")
        host_header = authority or host_header
    if host_header:
        return url.parse_authority(host_header, check=False)[0]
    return req["host"]


def record_from_state(
    req: dict[str, Any],
    resp: dict[str, Any] | None,
    error: dict[str, Any] | None,
    client: dict[str, Any],
    server: dict[str, Any],
    response_headers: Iterable[tuple[bytes, bytes]] = (),
    body_prefix: bytes = b"",
) -> FlowRecord | None:
    """record_from_flow on a current-format HTTP flow state, without building the flow.

    The offline reader (sources.py) parses only what this needs: `req`, `resp`, `client`,
    `server` hold those keys of the state's request, response, client_conn and server_conn;
    the response headers (at most MAX_HEADERS wanted) and at most BODY_PREFIX_LIMIT bytes of
    the body come separately, so that a huge body or header list is never copied. Must give
    exactly what record_from_flow gives for the same flow (tests/traffic/test_sources.py).
    """
    try:
        host = _normal_host(_state_host(req))
    except (UnicodeError, ValueError):
        host = None
    if not host:
        return None
    status = reason = None
    headers: tuple[tuple[str, str], ...] = ()
    if resp is not None:
        status = resp["status_code"]
        reason = resp["reason"].decode("ISO-8859-1")
        headers = tuple(
            (_native(k).lower(), _native(v)[:MAX_HEADER_VALUE])
            for k, v in list(response_headers)[:MAX_HEADERS]
        )
    peer = client["peername"]
    addr = server["peername"]
    upstream = _mode_type(client["proxy_mode"]) in CONFIGURED_PEER_MODES or server["via"] is not None
    return FlowRecord(
        timestamp=float(req["timestamp_start"] or 0.0),
        host=host,
        port=int(req["port"]),
        scheme=_native(req["scheme"]) or "http",
        method=_native(req["method"]).upper(),
        client=str(peer[0]) if peer else None,
        status=status,
        reason=reason or "",
        headers=headers,
        body_prefix=bytes(body_prefix[:BODY_PREFIX_LIMIT]) if resp is not None else b"",
        error=error["msg"] if error else None,
        server_ip=str(addr[0]) if addr else None,
        via_upstream=upstream,
    )

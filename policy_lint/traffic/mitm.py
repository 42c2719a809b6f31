"""mitmproxy flow -> FlowRecord. Importing this imports mitmproxy; `check` must never import it."""

from __future__ import annotations

from mitmproxy import http

from policy_lint.traffic.record import BODY_PREFIX_LIMIT, FlowRecord

MAX_HEADERS = 64  # a hostile response can send thousands; fingerprints need few
MAX_HEADER_VALUE = 256


def _host(flow: http.HTTPFlow) -> str | None:
    try:
        host = flow.request.pretty_host
    except (UnicodeError, ValueError):
        return None
    if not isinstance(host, str) or not host:  # undecodable hosts come back as bytes
        return None
    try:
        host = host.encode("idna").decode("ascii") if not host.isascii() else host
    except UnicodeError:
        return None
    return host.lower().rstrip(".")


def _server_ip(flow: http.HTTPFlow) -> str | None:
    conn = flow.server_conn
    # peername is the address actually connected to; ip_address exists on older releases.
    for attr in ("peername", "ip_address"):
        addr = getattr(conn, attr, None)
        if addr:
            return str(addr[0])
    return None


def _upstream(flow: http.HTTPFlow) -> bool:
    # mitmproxy 11/12: client_conn.proxy_mode is a ProxyMode; its type_name is "upstream".
    mode = getattr(flow.client_conn, "proxy_mode", None)
    if mode is not None and getattr(mode, "type_name", "") == "upstream":
        return True
    via = getattr(flow.server_conn, "via", None)
    return via is not None


def record_from_flow(flow: http.HTTPFlow) -> FlowRecord | None:
    """What the audit needs from one flow; never mutates it, never decodes the whole body."""
    if not isinstance(flow, http.HTTPFlow):
        return None
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
        headers = tuple(
            (k.lower(), v[:MAX_HEADER_VALUE])
            for k, v in list(resp.headers.items(multi=True))[:MAX_HEADERS]
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

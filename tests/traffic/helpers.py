"""Real mitmproxy flows for the traffic tests (no mocks: tflow + http.Response.make)."""

from __future__ import annotations

from mitmproxy import flow as mflow
from mitmproxy import http
from mitmproxy.test import tflow


def make_flow(
    host: str,
    *,
    status: int | None = 200,
    body: bytes = b"ok",
    headers=None,
    error: str | None = None,
    server_ip: str = "157.240.1.35",
    client: str = "10.1.2.3",
    scheme: str = "https",
    path: str = "/secret/path?q=token",
) -> http.HTTPFlow:
    f = tflow.tflow(resp=False)
    f.request.host = host
    f.request.scheme = scheme
    f.request.port = 443 if scheme == "https" else 80
    f.request.path = path
    f.request.headers["cookie"] = "session=COOKIEVALUE"
    f.client_conn.peername = (client, 50000)
    f.server_conn.peername = (server_ip, f.request.port)
    if status is not None:
        f.response = http.Response.make(status, body, headers or {})
    if error is not None:
        f.error = mflow.Error(error)
    return f

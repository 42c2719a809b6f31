"""The records traffic analysis works on: what was seen of one request, and what it means.

Both are small and carry no user content: never a path, query, cookie or body beyond a short
prefix of the response body that block-page fingerprints need (and that never reaches a report).
"""

from __future__ import annotations

from dataclasses import dataclass

BODY_PREFIX_LIMIT = 4096  # bytes of a response body kept for block-page fingerprints

# What one request's fate was:
#   reachable    the service answered (any status it sends itself, even 404)
#   blocked      something on the path refused it, with evidence (block page, 403 from a filter,
#                refused CONNECT, reset, DNS sinkhole, TLS interception failure)
#   failed       it did not get through, but nothing shows a filter did it (timeout, 5xx)
#   inconclusive the audit path itself failed (upstream proxy down, our own TLS trust)
OUTCOMES = ("reachable", "blocked", "failed", "inconclusive")


@dataclass(frozen=True, slots=True)
class FlowRecord:
    """One request as seen by an observer, from any source."""

    timestamp: float  # epoch seconds of the request
    host: str  # Host / SNI / CONNECT target, lower-case, no port; "" when unknown
    port: int
    scheme: str  # "https" or "http"
    method: str = "GET"
    client: str | None = None  # client address as the observer saw it (pseudonymised later)
    status: int | None = None  # response status; None when there was no response
    reason: str = ""
    headers: tuple[tuple[str, str], ...] = ()  # response headers, names lower-case
    body_prefix: bytes = b""  # at most BODY_PREFIX_LIMIT bytes of the response body
    error: str | None = None  # error text (mitmproxy flow.error.msg, a proxy's result code)
    server_ip: str | None = None  # address the connection went to (the DNS answer), if known
    proxy_tag: str | None = None  # a proxy's own result code, e.g. squid's TCP_DENIED
    via_upstream: bool = False  # went through an upstream proxy: connect errors may be the proxy's
    # An organisation log's own statement about the request, where it has one (logio readers):
    #   "denied"   the filter that wrote the log says it blocked it (Zscaler Blocked, Pi-hole
    #              gravity, PAN-OS block-url, FortiGate blocked/deny, Umbrella Blocked, ...)
    #   "allowed"  the filter says it let it through, and the log has no answer to show
    #   "answered" the server answered (DNS answer, TLS ServerHello, session with bytes back)
    #   "unknown"  the log states an action this reader does not model -> inconclusive
    verdict: str | None = None
    # Who, where the log names a person: Zscaler login, PAN-OS Source User, FortiGate user,
    # an Umbrella identity of a user type, squid's user column. Never in a report unless
    # pseudonymised (or the auditor opts in); `group` only where the log carries one (FortiGate).
    user: str | None = None
    group: str | None = None


@dataclass(frozen=True, slots=True)
class Observation:
    """What one record means for one catalog service (or the control host)."""

    timestamp: float
    service: str | None  # catalog service id; None for the control host
    role: str  # the host's role in the catalog (primary, cdn, api, ... or "control")
    host: str
    outcome: str  # one of OUTCOMES
    how: str  # the mechanism: "block-page:squid", "http-403", "connect-refused", "reset", ...
    evidence: str  # a short, content-free description ("X-Squid-Error: ERR_ACCESS_DENIED")
    client: str | None = None
    user: str | None = None  # the record's user and group (FlowRecord's): its audience, --by-user
    group: str | None = None

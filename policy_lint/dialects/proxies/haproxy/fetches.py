"""HAProxy's sample fetches and pattern matching (configuration manual 7.1-7.4): what one
fetch returns for a probe as a frontend sees it, and whether an ACL's patterns match it."""

from __future__ import annotations

from dataclasses import dataclass

from policy_lint.dialects.proxies.haproxy.model import AclDef, Proxy
from policy_lint.dialects.proxies.haproxy.parse import default_method
from policy_lint.model import Probe, Span

# Predefined ACLs (configuration manual 7.4) that depend on the request line only.
METHOD_ACLS = {
    f"METH_{m}": m for m in ("CONNECT", "DELETE", "GET", "HEAD", "OPTIONS", "POST", "PUT", "TRACE")
}
CLIENT_FETCHES = ("src",)


@dataclass(frozen=True)
class View:
    """The request as one frontend sees it: an HTTP request (http mode, or plain HTTP in tcp
    mode) or the TLS client hello (tcp mode)."""

    http: bool | None  # True: parsed as HTTP; False: not HTTP (a TLS hello); None: not modelled
    host_header: str | None
    method: str | None
    url: str | None
    path: str | None
    sni: str | None
    hello: bool
    tls_bind: bool
    waits: bool = True  # tcp-request inspect-delay: content rules wait for the client hello
    # Variables a `do-resolve` of the requested name has filled (site names resolve), and
    # every variable some rule may set (the rest are never found).
    resolved: frozenset[str] = frozenset()
    settable: frozenset[str] = frozenset()
    allowed_by: Span | None = None  # an `allow`/`accept` whose condition names the site


def view_for(probe: Probe, proxy: Proxy) -> View:
    host = probe.host.lower()
    if proxy.mode == "http":
        if probe.scheme == "https":
            # Browsers ask a proxy for HTTPS with `CONNECT host:443` and `Host: host:443`;
            # HAProxy 2.6 drops the default port from the Host header (checked against
            # Debian's haproxy in tests/e2e), so hdr(host) is the bare name, url the authority,
            # base the name and path empty.
            authority = f"{host}:{probe.port}"
            header = host if probe.port == 443 else authority
            return View(True, header, "CONNECT", authority, None, None, False, proxy.tls_bind)
        return View(True, host, "GET", f"http://{host}{probe.path}", probe.path, None, False, proxy.tls_bind)
    if probe.scheme == "https":
        return View(False, None, None, None, None, host, True, proxy.tls_bind, proxy.inspect_delay)
    # Plain HTTP through a tcp-mode frontend: HTTP fetches on the raw buffer are not modelled.
    return View(None, None, None, None, None, None, False, proxy.tls_bind)


def fetch_arg(fetch: str) -> tuple[str, str]:
    base, _, arg = fetch.partition("(")
    return base, arg.rstrip(")").split(",", 1)[0].strip().lower()


def sample(fetch: str, view: View) -> tuple[bool, str | int | None]:
    """(modelled, value) of a fetch; value None = not found in this request."""
    base, arg = fetch_arg(fetch)
    for suffix in ("_beg", "_end", "_sub", "_dom", "_reg", "_dir", "_len", "_cnt"):
        if base.endswith(suffix) and base not in ("req.ssl_sni",):
            base = base[: -len(suffix)]
            break
    if base in ("hdr", "req.hdr", "req.fhdr", "fhdr"):
        if arg != "host":
            return False, None
        if view.http is None:
            return False, None
        return True, view.host_header
    if base in ("req.ssl_sni", "req_ssl_sni", "req.ssl_hello_type", "req_ssl_hello_type") and not view.waits:
        # Without an inspect-delay the rules run on whatever the first read brought: the
        # hello may or may not be complete (configuration manual, req.ssl_sni).
        return False, None
    if base in ("req.ssl_sni", "req_ssl_sni"):
        return True, view.sni
    if base in ("req.ssl_hello_type", "req_ssl_hello_type"):
        return True, 1 if view.hello else None
    if base in ("ssl_fc_sni", "ssl_fc"):
        if view.tls_bind:
            return False, None  # TLS terminated by HAProxy itself: not a forward proxy's view
        return True, (0 if base == "ssl_fc" else None)
    if base in ("url_ip", "url_port"):
        if view.http is None:
            return False, None
        if not view.http or view.url is None:
            return True, None
        authority = view.url.split("://", 1)[-1].split("/", 1)[0]
        host, _sep, port = authority.rpartition(":") if ":" in authority else (authority, "", "")
        if base == "url_ip":
            return True, host if _is_ip(host) else None
        return True, int(port) if port.isdigit() else (443 if view.method == "CONNECT" else 80)
    if base in ("base", "path", "url", "method", "req.method"):
        if view.http is None:
            return False, None
        if not view.http:
            return True, None
        if base == "method" or base == "req.method":
            return True, view.method
        if base == "url":
            return True, view.url
        if view.method == "CONNECT":
            # An authority-form request has no path: path is empty and base the Host header.
            return True, ("" if base == "path" else view.host_header)
        if base == "path":
            return True, view.path
        return True, f"{view.host_header}{view.path}"
    if base in ("always_true", "always_false"):
        return True, 1 if base == "always_true" else 0
    return False, None


def _int_match(value: int, pattern: str) -> bool | None:
    p = pattern.strip()
    for op, fn in (
        ("ge", int.__ge__),
        ("gt", int.__gt__),
        ("le", int.__le__),
        ("lt", int.__lt__),
        ("eq", int.__eq__),
    ):
        if p.startswith(op + " "):
            try:
                return bool(fn(value, int(p[3:])))
            except ValueError:
                return None
    try:
        if ":" in p:
            lo, hi = p.split(":", 1)
            return (not lo or value >= int(lo)) and (not hi or value <= int(hi))
        return value == int(p)
    except ValueError:
        return None


_DOM_DELIMS = "./:?"


def match_acl(acl: AclDef, view: View) -> bool | None:
    """Whether one ACL definition matches (None: cannot tell)."""
    if acl.broken or acl.missing:
        return None  # a bad regex (HAProxy refuses it) or a pattern file we cannot read
    base, arg = fetch_arg(acl.fetch)
    if base == "var":
        # Only whether a variable is set is modelled: by a do-resolve of the requested name
        # (found), by a rule not evaluated (unknown), by nothing (not found).
        if (acl.method or "") != "found":
            return None
        return True if arg in view.resolved else (None if arg in view.settable else False)
    modelled, value = sample(acl.fetch, view)
    if not modelled:
        return None
    method = acl.method or default_method(acl.fetch)
    if method == "found":
        return value is not None
    if value is None:
        return False
    if method in ("int", "bool") or isinstance(value, int):
        if not isinstance(value, int):
            return None
        if method == "bool":
            return value != 0
        answers = [_int_match(value, p) for p, _s in acl.patterns]
        if any(answers):
            return True
        return None if None in answers else False
    text = str(value)
    if method == "len":
        answers = [_int_match(len(text), p) for p, _s in acl.patterns]
        return True if any(answers) else (None if None in answers else False)
    if method == "reg":
        results = [rx.search(text) for rx, _s in acl.regexes]
        if any(results):
            return True
        return None if None in results else False
    if method not in ("str", "beg", "end", "sub", "dom", "dir"):
        return None
    subject = text.lower() if acl.ignore_case else text
    if acl.index is None:
        # One set per ACL: each method then asks it about the few parts of the subject that
        # could equal a pattern, so a pattern file of 10^6 names costs no scan per request.
        delims = _DOM_DELIMS if method == "dom" else "/" if method == "dir" else ""
        acl.index = frozenset(
            (p.lower() if acl.ignore_case else p).strip(delims)
            if delims
            else (p.lower() if acl.ignore_case else p)
            for p, _s in acl.patterns
        )
    return _indexed_match(method, subject, acl.index)


def _indexed_match(method: str, subject: str, index: frozenset[str]) -> bool:
    n = len(subject)
    if method == "str":
        return subject in index
    if method == "beg":
        return any(subject[:k] in index for k in range(n + 1))
    if method == "end":
        return any(subject[k:] in index for k in range(n + 1))
    if method == "sub":
        return "" in index or any(subject[a:b] in index for a in range(n) for b in range(a + 1, n + 1))
    # dom / dir: a pattern (its own leading and trailing delimiters ignored) equal to a part
    # of the subject that delimiters (or the ends) enclose (configuration manual 7.1.3).
    delims = _DOM_DELIMS if method == "dom" else "/"
    cuts = [-1, *(k for k, c in enumerate(subject) if c in delims), n]
    return any(
        subject[cuts[a] + 1 : cuts[b]] in index
        for a in range(len(cuts))
        for b in range(a + 1, len(cuts))
        if cuts[b] > cuts[a] + 1
    )


def is_client_acl(defs: list[AclDef]) -> bool:
    return bool(defs) and all(fetch_arg(d.fetch)[0] in CLIENT_FETCHES for d in defs)


PREDEFINED = {
    "TRUE",
    "FALSE",
    "HTTP",
    "HTTP_1.0",
    "HTTP_1.1",
    "HTTP_CONTENT",
    "HTTP_URL_ABS",
    "HTTP_URL_SLASH",
    "HTTP_URL_STAR",
    "LOCALHOST",
    "RDP_COOKIE",
    "REQ_CONTENT",
    "WAIT_END",
    *METHOD_ACLS,
}


def predefined(name: str, view: View) -> bool | None:
    if name == "TRUE" or name == "WAIT_END" or name == "REQ_CONTENT":
        return True
    if name == "FALSE":
        return False
    if view.http is None:
        return None
    if name in METHOD_ACLS:
        return view.method == METHOD_ACLS[name]
    if name in ("HTTP", "HTTP_1.1"):
        return bool(view.http)
    if name == "HTTP_URL_ABS":
        return bool(view.url and "://" in view.url)
    if name == "HTTP_URL_SLASH":
        return bool(view.url and view.url.startswith("/"))
    return None


def _is_ip(host: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(host.strip("[]"))
        return True
    except ValueError:
        return False


def resolves_requested_name(rule_args: tuple[str, ...]) -> bool:
    """Whether a do-resolve's expression is the requested name (Host header or SNI)."""
    expr = rule_args[0].lower() if rule_args else ""
    return expr.startswith(
        ("hdr(host)", "req.hdr(host)", "req.ssl_sni", "req_ssl_sni", "ssl_fc_sni", "hdr(host,")
    )


def variable_of(action: str) -> str:
    """`do-resolve(txn.ip,dns,ipv4)` / `set-var(txn.ip)` -> `txn.ip`."""
    return action.partition("(")[2].split(",", 1)[0].rstrip(")").strip().lower()

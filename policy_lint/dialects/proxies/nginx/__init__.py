"""nginx as a forward or SNI proxy, evaluated the way nginx 1.2x decides.

An HTTP request reaches the `server` that listens on its port and whose `server_name` fits
the requested host best: an exact name, then the longest `*.example.com` (or `.example.com`,
which is both), then the longest `www.example.*`, then the first `~regex` in file order, else
the port's `default_server` (else its first server). There, the rewrite directives of the
server level run in order (`return`, `rewrite`, `set`, `if (...) { ... }`, `break`), then the
location is chosen (`= exact`, the longest prefix, `^~` stops there, else the first `~`/`~*`
regex in order, else the longest prefix), its own rewrite directives run, then `allow`/`deny`
(the innermost level that has any), then the content: `proxy_pass`, or nginx's own files.

    map $host $blocked { hostnames; default 0; .facebook.com 1; }   # strings ignore case
    server {
        listen 3128 default_server;
        resolver 192.0.2.53;                    # needed: proxy_pass with a variable host
        if ($blocked) { return 403; }           # Facebook: blocked (403)
        location / { proxy_pass http://$http_host$request_uri; }
    }

A server whose `proxy_pass` sends the request to the host the client asked for (`$host`,
`$http_host`, or a `map`/`set` variable that can carry them) is a forward proxy. nginx does not
tunnel CONNECT (a 400; the third-party `proxy_connect` is not evaluated: `unknown`), so HTTPS
through an nginx forward proxy is its `stream` SNI proxy: `ssl_preread on` with `proxy_pass
$ssl_preread_server_name:443` (or a map of it), `return` or `deny` in the server, a map value
naming an `upstream` of fixed servers (not the site asked for: a block; on a proxy port an
upstream proxy decides: `unknown`, TE907). nginx looks a variable host up among `upstream`
blocks first, then asks `resolver`: without one it reaches only the names its upstreams define
(502 for the rest), so such a server is no forward proxy either. `if` conditions: `($var)`,
`= / !=`, `~ ~* !~ !~*`; variables: `$host`, `$http_host`, `$server_name`, `$uri`,
`$request_uri`, `$scheme`, `$ssl_preread_server_name`, map and set variables. `return 444`
closes the connection; a redirect to another site is a block, to https on the same host is
not. `allow`/`deny ADDRESS` tell clients apart (audiences).

A reverse proxy for the company's own sites only governs those sites: with no forward server
(http) and no SNI forwarder (stream), every verdict is `unaffected`, the trace naming the
servers and the reason. `include` is read inside --root (globs too); a missing one is TE903
and, when no forward proxy is seen otherwise, leaves the verdicts `unknown`, except nginx's and
Debian's stock files of settings (`mime.types`, `*_params`, `fastcgi.conf`, `snippets/
fastcgi-php.conf`, `modules-enabled/*`), assumed to hold no server (the TE903 says so); a glob
whose folder the repository holds but where nothing matches includes nothing, as in nginx. Syntax nginx
refuses (unbalanced braces, a directive without `;`) is TE901.

A `map` of the host whose variable nothing reads is never evaluated: one that gives a
service's host a value of its own is TE202.

Not modelled (`unknown`): `-f`/`-d`/`-e` conditions, `$remote_addr`, `geo` and other variables,
internal rewrites, `auth_request` and Lua/njs/perl handlers (TE907), `limit_except`.
"""

from __future__ import annotations

import re
from fnmatch import fnmatch
from pathlib import Path

from policy_lint.dialects.proxies.nginx.evaluate import NginxRuleset
from policy_lint.dialects.proxies.nginx.model import (
    NAME,
    Context,
    Server,
    compile_map,
    listen_port,
)
from policy_lint.dialects.proxies.nginx.syntax import Directive, Loader, tokenize
from policy_lint.dialects.semantics.base import ParseContext
from policy_lint.dialects.semantics.detection import statement_hits
from policy_lint.model import Problem

__all__ = ["FILE_PATTERNS", "NAME", "NginxRuleset", "detect", "parse", "tokenize"]

FILE_PATTERNS = ("nginx.conf", "nginx*.conf", "*.nginx", "*.nginx.conf")
# Debian's and the upstream packages' include folders for server snippets.
SNIPPET_DIRS = ("sites-enabled", "sites-available", "conf.d", "stream.d", "streams-enabled")
_STATEMENT = re.compile(
    r"^\s*(server\s*\{|location\s+[=~^]*\s*\S+\s*\{|listen\s+[\w.:\[\]]+.*;|server_name\s+[^;]+;"
    r"|proxy_pass\s+\S+;|http\s*\{|stream\s*\{|events\s*\{|worker_processes\s+\S+;|ssl_preread\s+on;"
    r"|map\s+\$\w+\s+\$\w+\s*\{|upstream\s+\S+\s*\{|return\s+\d{3}\b)",
    re.M,
)
KNOWN = {
    "http",
    "stream",
    "events",
    "server",
    "location",
    "listen",
    "server_name",
    "proxy_pass",
    "return",
    "map",
    "upstream",
    "resolver",
    "if",
    "set",
    "rewrite",
    "allow",
    "deny",
    "ssl_preread",
    "worker_processes",
    "user",
    "pid",
    "error_log",
    "access_log",
    "root",
    "index",
    "include",
    "proxy_set_header",
    "ssl_certificate",
    "ssl_certificate_key",
    "default_type",
    "sendfile",
    "keepalive_timeout",
    "worker_connections",
    "load_module",
    "types",
    "try_files",
    "add_header",
    "client_max_body_size",
    "gzip",
    "break",
}


def detect(path: Path, head: str) -> float:
    name = path.name.lower()
    hits = statement_hits(path, head, _STATEMENT)
    if any(fnmatch(name, p) for p in FILE_PATTERNS):
        return 0.95 if hits or not head.strip() else 0.6
    if path.parent.name in SNIPPET_DIRS and hits:
        return 0.9
    if hits >= 2 and re.search(r"^\s*(server|http|stream|location\b[^{]*)\s*\{", head, re.M):
        return min(0.85, 0.4 + 0.1 * hits)
    return 0.0


def parse(path: Path, context: ParseContext) -> NginxRuleset:
    loader = Loader(context)
    tree = loader.load(path)
    contexts: dict[str, Context] = {"http": Context("http"), "stream": Context("stream")}
    problems = loader.problems
    servers = [d for d in tree if d.name == "server" and d.block is not None]
    stream_snippet = path.parent.name.startswith("stream") or any(
        x.name == "ssl_preread" or (x.name == "proxy_pass" and x.args and "://" not in x.args[0])
        for srv in servers
        for x in srv.block or []
    )
    for d in tree:
        if d.name in ("http", "stream") and d.block is not None:
            _fill(contexts[d.name], d.block, problems)
        elif d.name in ("server", "map", "upstream", "resolver", "allow", "deny"):
            # A snippet (sites-enabled/*, conf.d/*.conf) is included inside `http`; one whose
            # servers read the SNI or pass to a bare host:port (streams-enabled/*) in `stream`.
            _fill(contexts["stream" if stream_snippet else "http"], [d], problems)
    for span, outer in loader.missing_includes:
        # A missing include counts against the context it stood in (stream, else http).
        contexts["stream" if outer[:1] == ("stream",) else "http"].missing.append(span)
    understood = sum(1 for d in _all(tree) if d.name in KNOWN)
    first = tree[0].span if tree else None
    return NginxRuleset(
        context.resolver.display(path),
        contexts,
        problems,
        loader.statements,
        understood,
        first,
        loader.included,
    )


def _fill(ctx: Context, block: list[Directive], problems: list[Problem]) -> None:
    for d in block:
        ctx.directives.append(d)
        if d.name == "server" and d.block is not None:
            ports = [p for x in d.block if x.name == "listen" for p in [listen_port(x.args)] if p]
            if not ports:
                ports = [(80, False)]
            names = [a for x in d.block if x.name == "server_name" for a in x.args]
            ctx.servers.append(Server(ctx.kind, d.span, d.block, ports, names))
        elif d.name == "map":
            compiled = compile_map(d, problems)
            if compiled:
                ctx.maps[compiled[0]] = compiled[1]
        elif d.name == "upstream" and d.args and d.block is not None:
            ctx.upstreams[d.args[0]] = d


def _all(block: list[Directive]):
    for d in block:
        yield d
        if d.block:
            yield from _all(d.block)

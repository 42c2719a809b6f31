"""HAProxy (haproxy.cfg) as a forward or SNI proxy, evaluated the way HAProxy 2.x decides.

A request enters a `frontend` (or `listen`) section; its rules run in order, phase by phase:
`tcp-request connection`, `tcp-request content` and, in `mode http`, `http-request`. In each
phase the first rule whose condition holds and whose action is final decides (`accept` and
`allow` end the phase and let the request go on; `reject`, `deny`, `tarpit`, `return`,
`redirect`, `silent-drop` answer it). Then the first `use_backend` whose condition holds picks
the backend, else `default_backend`, else HAProxy answers 503; the backend's own rules run,
and a backend with no server, or only `disabled` ones, answers 503. So in

    frontend proxy                          # mode http, bind :3128
        acl social hdr_dom(host) -i facebook.com
        http-request deny if social         # GET with Host: www.facebook.com, and its CONNECT
        default_backend origin
    backend origin
        http-request set-dst var(txn.ip)    # after a do-resolve of hdr(host): a forward proxy
        server clear 0.0.0.0:0

Facebook is blocked (403). Conditions: `if`/`unless`, terms AND-ed, `||`/`or` between groups
(AND binds tighter), `!` negates, `{ fetch [flags] patterns }` anonymous ACLs; lines of one
ACL name are OR-ed. Flags: `-i`, `-m str|beg|end|sub|dom|dir|reg|len|int|found`, `-f FILE`
(resolved inside --root; missing -> TE903, the ACL undecided). Fetches evaluated: `hdr(host)`,
`req.hdr(host)` and `hdr_beg|end|sub|dom|reg|len(host)`, `req.ssl_sni`/`req_ssl_sni`,
`req.ssl_hello_type`, `base*`, `path*`, `url*`, `url_ip`, `url_port`, `method`, `var(x) -m found`
(set when a `do-resolve` of the requested name filled it: the sites' names resolve; unknown
when another rule may set it), predefined ACLs (`TRUE`, `FALSE`,
`METH_*`, `HTTP`, `HTTP_URL_ABS`, ...); `src` ACLs tell clients apart (audiences). A browser
asks a proxy for HTTPS with `CONNECT host:443` and `Host: host:443`; HAProxy 2.6 drops the
default port from the Host header (as it does `:80` of a GET), so `hdr(host) -i
www.facebook.com` catches both, while `url` keeps `www.facebook.com:443`. In `mode tcp`
the request is a TLS client hello: only the SNI fetches see it (`req.ssl_sni` needs `tcp-request
inspect-delay`, else the hello may not be there yet: `unknown`).

Forward or reverse: a reverse proxy for the company's own sites only governs those sites and
leaves what clients reach on the web unaffected. A frontend is a forward proxy when it, or a
backend it routes to, sends requests to the origin the client asked for: `http-request
set-dst`/`do-resolve` (or the tcp-request forms), a `server` at `0.0.0.0` (the destination the
client asked for), `option http_proxy` (HAProxy < 2.5; TE901 since) or `option transparent`. Only forward
frontends are evaluated (HTTPS probes by tcp-mode frontends first, plain HTTP by http-mode
ones; several for one scheme must agree, else the deny is partial). Without one, every verdict
is `unaffected` and the trace names the frontends with the reason. In a forward frontend, a
request routed to a backend of fixed servers does not reach the site it asked for (a block),
unless those servers listen on a proxy port (semantics/tunnels.py): then an upstream proxy
decides (`unknown`, TE907).

A site let through by an `allow`/`accept` whose condition looks at the Host, SNI or URL is
`allowed` (named and let through), not only `unaffected`. An `acl` no rule or route of its
section uses is inert: one that names a service is TE202.

Not modelled (the decisions they touch are `unknown`, TE908): other fetches (`req.payload`,
`var()`, maps, `ssl_fc_sni` behind an `ssl` bind), `auth`, `use-service`, Lua actions,
computed backend names `%[...]`, HTTP fetches on plain HTTP in a tcp-mode frontend. Keywords removed in HAProxy 2.1 (`block`, `reqdeny`, ...) are TE901.
"""

from __future__ import annotations

from pathlib import Path

from policy_lint.dialects.proxies.haproxy.evaluate import HaproxyRuleset
from policy_lint.dialects.proxies.haproxy.model import FILE_PATTERNS, NAME
from policy_lint.dialects.proxies.haproxy.parse import Parser, detect, split_words
from policy_lint.dialects.semantics.base import ParseContext

__all__ = ["FILE_PATTERNS", "NAME", "HaproxyRuleset", "detect", "parse", "split_words"]


def parse(path: Path, context: ParseContext) -> HaproxyRuleset:
    parser = Parser(path, context)
    parser.read()
    return HaproxyRuleset(
        context.resolver.display(path),
        parser.proxies,
        parser.problems,
        parser.statements,
        parser.understood,
        parser.first_statement,
        parser.included,
    )

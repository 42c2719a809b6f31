"""What nginx does with one probe: the server chosen by port and name, its rewrite directives in
order, the location, access rules and content (proxy_pass, return, static files); the stream
module's SNI proxy for HTTPS."""

from __future__ import annotations

import ipaddress
import itertools
from dataclasses import dataclass, field

from policy_lint.dialects.proxies.nginx.model import (
    NAME,
    VARIABLE,
    Context,
    Map,
    Server,
    Unknown,
    condition_words,
    derived_from_request,
    find_location,
    host_part,
    map_lookup,
    server_name_matches,
)
from policy_lint.dialects.proxies.nginx.syntax import Directive
from policy_lint.dialects.semantics.patterns import BoundedPattern, PatternError
from policy_lint.dialects.semantics.tunnels import LOCAL_PROXY_PORTS
from policy_lint.model import EVERYONE, Audience, Decision, Outcome, Probe, Problem, Span

MAX_CLIENT_DIMENSIONS = 6
# Variables evaluated per request (the rest: TE908).
KNOWN_VARIABLES = frozenset(
    {
        "host",
        "http_host",
        "uri",
        "document_uri",
        "request_uri",
        "scheme",
        "args",
        "query_string",
        "is_args",
        "server_name",
        "server_port",
        "request_method",
        "ssl_preread_server_name",
    }
)
# Directives that hand the decision to something this config does not describe.
EXTERNAL_DECIDERS = {
    "auth_request",
    "access_by_lua",
    "access_by_lua_block",
    "access_by_lua_file",
    "rewrite_by_lua",
    "rewrite_by_lua_block",
    "rewrite_by_lua_file",
    "content_by_lua",
    "content_by_lua_block",
    "content_by_lua_file",
    "js_access",
    "js_content",
    "perl",
}


@dataclass
class Request:
    probe: Probe
    server: Server
    audience: Audience
    path: str
    port: int = 80
    vars: dict[str, str] = field(default_factory=dict)


class NginxRuleset:
    dialect = NAME

    def __init__(
        self,
        path: str,
        contexts: dict[str, Context],
        problems: list[Problem],
        statements: int,
        understood: int,
        first_statement: Span | None,
        included: list[str],
    ):
        self.path = path
        self.contexts = contexts
        self.problems = problems
        self.statements = statements
        self.understood = understood
        self.first_statement = first_statement
        self.included = included
        self._mark_forward()
        self._drop_unresolved()
        self._check_unmodelled()
        self._dims = self._client_dimensions()
        self._cache: dict[tuple[Probe, Audience], Decision] = {}
        self._used: dict[str, set[str]] = {}

    # ------------------------------------------------------------ structure

    def _mark_forward(self) -> None:
        for ctx in self.contexts.values():
            for server in ctx.servers:
                sets: dict[str, list[str]] = {}
                for d in _walk(server.block):
                    if d.name == "set" and len(d.args) == 2:
                        sets.setdefault(d.args[0].lstrip("$"), []).append(d.args[1])
                for d in _walk(server.block):
                    if d.name == "proxy_pass" and d.args:
                        host = host_part(d.args[0])
                        if "$" in host and derived_from_request(host, ctx.maps, sets):
                            server.forward.append(d.span)
                    elif d.name == "proxy_connect":
                        server.forward.append(d.span)
                        self.problems.append(
                            Problem(
                                "TE908",
                                d.span,
                                "proxy_connect (a third-party CONNECT module) is not evaluated: HTTPS through "
                                "this server is 'unknown'",
                            )
                        )

    def _drop_unresolved(self) -> None:
        for ctx in self.contexts.values():
            for server in ctx.servers:
                connect = any("proxy_connect" in f.text for f in server.forward)
                if server.forward and not connect and not self._has_resolver(server, ctx.kind):
                    server.unresolved, server.forward = server.forward, []

    def _check_unmodelled(self) -> None:
        """What decides but is not evaluated, at its line: TE907 for handlers outside the
        config (auth_request, Lua, njs, perl), TE908 for conditions, variables and internal
        rewrites."""
        for ctx in self.contexts.values():
            known = KNOWN_VARIABLES | set(ctx.maps)
            known |= {d.args[0].lstrip("$") for d in _walk(ctx.directives) if d.name == "set" and d.args}
            for d in _walk(ctx.directives):
                if d.name in EXTERNAL_DECIDERS:
                    self.problems.append(
                        Problem(
                            "TE907",
                            d.span,
                            f"{d.name} decides outside this config: its requests are 'unknown'",
                        )
                    )
                elif d.name == "if":
                    words = condition_words(d.args)
                    form_ok = (len(words) == 1 and words[0].startswith("$")) or (
                        len(words) == 3
                        and words[0].startswith("$")
                        and words[1] in ("=", "!=", "~", "~*", "!~", "!~*")
                    )
                    names = {m.group(1) or m.group(2) for w in words[:1] for m in VARIABLE.finditer(w)}
                    if not form_ok:
                        self.problems.append(Problem("TE908", d.span, "this if condition is not evaluated"))
                    elif names - known:
                        missing = ", ".join(sorted("$" + n for n in names - known))
                        self.problems.append(Problem("TE908", d.span, f"{missing} is not evaluated"))
                elif d.name == "rewrite" and len(d.args) >= 2:
                    target, flag = d.args[1], d.args[2] if len(d.args) > 2 else ""
                    if not target.startswith(("http://", "https://", "$scheme")) and flag not in (
                        "redirect",
                        "permanent",
                    ):
                        self.problems.append(Problem("TE908", d.span, "an internal rewrite is not evaluated"))
                elif d.name == "limit_except":
                    self.problems.append(Problem("TE908", d.span, "limit_except is not evaluated"))

    def _client_dimensions(self) -> list[str]:
        dims: list[str] = []
        for ctx in self.contexts.values():
            for d in _walk(ctx.directives):
                new = d.name in ("allow", "deny") and d.args and d.args[0] not in ("all", *dims)
                if new and len(dims) < MAX_CLIENT_DIMENSIONS:
                    dims.append(d.args[0])
        return dims

    def audiences(self) -> list[Audience]:
        if not self._dims:
            return [EVERYONE]
        out = []
        for values in itertools.product((True, False), repeat=len(self._dims)):
            conds = tuple(f"{'' if v else 'not '}from {a}" for a, v in zip(self._dims, values, strict=True))
            out.append(Audience(key=tuple(zip(self._dims, values, strict=True)), conditions=conds))
        return out

    def inert_mentions(self, probe: Probe) -> list[Span]:
        """`map` blocks that give `probe`'s host a value of its own but whose variable nothing
        uses (nginx evaluates a map only when its variable is read)."""
        out: list[Span] = []
        for ctx in self.contexts.values():
            used = self._used_variables(ctx)
            for name, m in ctx.maps.items():
                if name in used or m.source.lstrip("$") not in (
                    "host",
                    "http_host",
                    "ssl_preread_server_name",
                ):
                    continue
                value = map_lookup(m, probe.host)
                if value is not None and value != m.default:
                    out.append(m.span)
        return out

    def _used_variables(self, ctx: Context) -> set[str]:
        if ctx.kind not in self._used:
            names: set[str] = set()
            for d in _walk(ctx.directives):
                if d.name == "map" and d.block is not None:
                    names.update(
                        mt.group(1) or mt.group(2) for mt in VARIABLE.finditer(d.args[0] if d.args else "")
                    )
                    for entry in d.block:
                        for text in entry.args:
                            names.update(mt.group(1) or mt.group(2) for mt in VARIABLE.finditer(text))
                    continue
                for text in d.args:
                    names.update(mt.group(1) or mt.group(2) for mt in VARIABLE.finditer(text))
            self._used[ctx.kind] = names
        return self._used[ctx.kind]

    # ------------------------------------------------------------ evaluation

    def evaluate(self, probe: Probe, audience: Audience) -> Decision:
        key = (probe, audience)
        hit = self._cache.get(key)
        if hit is None:
            try:
                hit = self._evaluate(probe, audience)
            except Unknown as exc:
                trace = (exc.span,) if exc.span else ()
                hit = Decision(Outcome.UNKNOWN, exc.span, trace, note=str(exc))
            self._cache[key] = hit
        return hit

    def _forward_servers(self, kind: str) -> list[Server]:
        ctx = self.contexts.get(kind)
        return [s for s in ctx.servers if s.forward] if ctx else []

    def _evaluate(self, probe: Probe, audience: Audience) -> Decision:
        http_fwd = self._forward_servers("http")
        stream_fwd = self._forward_servers("stream")
        missing = [s for ctx in self.contexts.values() for s in ctx.missing]
        if probe.scheme == "https" and stream_fwd:
            return self._combine([self._stream(s, probe, audience) for s in stream_fwd])
        if http_fwd and (probe.scheme == "http" or not stream_fwd):
            if probe.scheme == "https":
                return self._connect(http_fwd)
            return self._http(probe, audience, http_fwd)
        if missing:
            return Decision(
                Outcome.UNKNOWN,
                missing[0],
                tuple(missing[:8]),
                note="an included file is missing: whether it makes nginx a forward proxy is unknown",
            )
        servers = [s.span for ctx in self.contexts.values() for s in ctx.servers]
        unresolved = [u for ctx in self.contexts.values() for s in ctx.servers for u in s.unresolved]
        what = "plain HTTP" if stream_fwd else "requests"
        why = (
            " (its proxy_pass to the requested host has no resolver: only upstream{} names are reached)"
            if unresolved
            else ""
        )
        return Decision(
            Outcome.ALLOW,
            None,
            tuple((unresolved + servers)[:8]),
            note=(
                f"a reverse proxy for its own sites: no server passes {what} to the origin the client "
                "asked for (proxy_pass to $host, $http_host or $ssl_preread_server_name, with a resolver)"
                f"{why}, so clients do not reach the web through it"
            ),
        )

    def _combine(self, decisions: list[Decision]) -> Decision:
        if len(decisions) == 1:
            return decisions[0]
        outcomes = {d.outcome for d in decisions}
        if Outcome.UNKNOWN in outcomes:
            return next(d for d in decisions if d.outcome == Outcome.UNKNOWN)
        if outcomes == {Outcome.ALLOW, Outcome.DENY}:
            deny = next(d for d in decisions if d.outcome == Outcome.DENY)
            return Decision(
                Outcome.DENY,
                deny.rule,
                deny.trace,
                deny.specific,
                deny.how,
                "denied on some listening ports only",
                partial=True,
            )
        return decisions[0]

    def _connect(self, http_fwd: list[Server]) -> Decision:
        connect = [s for s in http_fwd if any("proxy_connect" in f.text for f in s.forward)]
        if connect:
            return Decision(
                Outcome.UNKNOWN, connect[0].span, (connect[0].span,), note="proxy_connect is not evaluated"
            )
        return Decision(
            Outcome.DENY,
            http_fwd[0].span,
            (http_fwd[0].span,),
            False,
            "400: nginx does not tunnel CONNECT",
        )

    # ------------------------------------------------------------ http

    def _http(self, probe: Probe, audience: Audience, http_fwd: list[Server]) -> Decision:
        ctx = self.contexts["http"]
        ports = sorted({p for s in http_fwd for p, _d in s.ports})
        decisions = []
        for port in ports:
            on_port = [s for s in ctx.servers if any(p == port for p, _d in s.ports)]
            server = self._select(on_port, port, probe.host)
            decisions.append(self._run_http(server, probe, audience, port))
        return self._combine(decisions)

    @staticmethod
    def _select(servers: list[Server], port: int, host: str) -> Server:
        ranked = [(r, i, s) for i, s in enumerate(servers) if (r := server_name_matches(s, host)) is not None]
        if ranked:
            return min(ranked, key=lambda x: (x[0], x[1]))[2]
        defaults = [s for s in servers if any(p == port and d for p, d in s.ports)]
        return (defaults or servers)[0]

    def _run_http(self, server: Server, probe: Probe, audience: Audience, port: int) -> Decision:
        req = Request(probe, server, audience, probe.path, port)
        trace: list[Span] = [server.span]
        specific = not server.forward  # a server chosen by the requested name
        decided = self._rewrite(server.block, req, trace, specific)
        if isinstance(decided, Decision):
            return decided
        chain = find_location(server.block, req.path)
        content: Directive | None = None
        access_blocks: list[list[Directive]] = [self.contexts["http"].directives, server.block]
        for loc in chain:
            trace.append(loc.span)
            assert loc.block is not None
            access_blocks.append(loc.block)
            decided = self._rewrite(loc.block, req, trace, specific)
            if isinstance(decided, Decision):
                return decided
            if isinstance(decided, Directive):
                content = decided
        denied = self._access(access_blocks, audience, trace, specific)
        if denied is not None:
            return denied
        if content is None and chain:
            content = next((d for d in chain[-1].block or [] if d.name == "proxy_pass"), None)
        for d in [*(chain[-1].block or [] if chain else []), *server.block]:
            if d.name in EXTERNAL_DECIDERS:
                trace.append(d.span)
                return Decision(
                    Outcome.UNKNOWN,
                    d.span,
                    tuple(trace),
                    note=f"{d.name} decides outside this config (TE907)",
                )
        if content is None:
            where = chain[-1].span if chain else server.span
            return Decision(
                Outcome.DENY, where, tuple(trace), specific, "served by nginx itself, not the requested site"
            )
        trace.append(content.span)
        return self._proxy(content, req, trace, specific, "http")

    def _rewrite(
        self, block: list[Directive], req: Request, trace: list[Span], specific: bool
    ) -> Decision | Directive | None:
        """Run one level's rewrite-module directives in order; a Decision ends the request, a
        `proxy_pass` Directive (from an `if` block) becomes the content handler."""
        content: Directive | None = None
        for d in block:
            if d.name == "return":
                trace.append(d.span)
                return self._return(d, req, trace, specific)
            if d.name == "break":
                break
            if d.name == "set" and len(d.args) == 2:
                try:
                    req.vars[d.args[0].lstrip("$")] = self._interp(d.args[1], req)
                except Unknown:
                    req.vars.pop(d.args[0].lstrip("$"), None)
                    req.vars["!" + d.args[0].lstrip("$")] = ""
                continue
            if d.name == "rewrite" and len(d.args) >= 2:
                out = self._rewrite_line(d, req, trace, specific)
                if out == "break":
                    break
                if isinstance(out, Decision):
                    return out
                continue
            if d.name == "if" and d.block is not None:
                holds = self._if(d.args, req, d.span)
                if holds is None:
                    trace.append(d.span)
                    return Decision(
                        Outcome.UNKNOWN, d.span, tuple(trace), note="this if condition is not evaluated"
                    )
                if holds:
                    trace.append(d.span)
                    inner = self._rewrite(d.block, req, trace, True)
                    if isinstance(inner, Decision):
                        return inner
                    pp = next((x for x in d.block if x.name == "proxy_pass"), None)
                    content = pp or (inner if isinstance(inner, Directive) else content)
                    denied = self._access([d.block], req.audience, trace, True)
                    if denied is not None:
                        return denied
        return content

    def _rewrite_line(
        self, d: Directive, req: Request, trace: list[Span], specific: bool
    ) -> Decision | str | None:
        try:
            rx = BoundedPattern.compile(d.args[0])
        except PatternError as exc:
            raise Unknown(f"rewrite: {exc}", d.span) from None
        hit = rx.search(req.path)
        if hit is None:
            raise Unknown("the rewrite regex ran out of time", d.span)
        if not hit:
            return None
        trace.append(d.span)
        target = d.args[1]
        flag = d.args[2] if len(d.args) > 2 else ""
        if target.startswith(("http://", "https://", "$scheme")) or flag in ("redirect", "permanent"):
            return self._redirect(target, req, d, trace, specific)
        return Decision(Outcome.UNKNOWN, d.span, tuple(trace), note="an internal rewrite is not evaluated")

    def _return(self, d: Directive, req: Request, trace: list[Span], specific: bool) -> Decision:
        args = d.args
        if not args:
            return Decision(Outcome.UNKNOWN, d.span, tuple(trace), note="return without a code")
        if not args[0].isdigit():
            return self._redirect(args[0], req, d, trace, specific)
        code = int(args[0])
        if code in (301, 302, 303, 307, 308) and len(args) > 1:
            return self._redirect(args[1], req, d, trace, specific)
        how = "444: connection closed" if code == 444 else str(code)
        return Decision(Outcome.DENY, d.span, tuple(trace), specific, how)

    def _redirect(
        self, target: str, req: Request, d: Directive, trace: list[Span], specific: bool
    ) -> Decision:
        try:
            url = self._interp(target, req)
        except Unknown:
            return Decision(
                Outcome.UNKNOWN, d.span, tuple(trace), note="the redirect target is computed per request"
            )
        host = host_part(url).split(":")[0].lower()
        if url.startswith("https://") and host == req.probe.host.lower() and req.probe.scheme == "http":
            return Decision(Outcome.ALLOW, d.span, tuple(trace), False, "redirect to https")
        return Decision(Outcome.DENY, d.span, tuple(trace), specific, "redirect")

    def _access(
        self, blocks: list[list[Directive]], audience: Audience, trace: list[Span], specific: bool
    ) -> Decision | None:
        """allow/deny of the innermost level that has any (nginx does not merge levels)."""
        rules: list[Directive] = []
        for block in blocks:
            own = [d for d in block if d.name in ("allow", "deny") and d.args]
            if own:
                rules = own
        values = dict(audience.key) if self._dims else {}
        for d in rules:
            who = d.args[0]
            if who != "all":
                if who not in values:
                    raise Unknown(f"{d.name} {who}: clients not told apart", d.span)
                if not values[who]:
                    continue
            if d.name == "deny":
                trace.append(d.span)
                return Decision(Outcome.DENY, d.span, tuple(trace), False, "403", scope=f"clients {who}")
            return None
        return None

    def _proxy(
        self,
        d: Directive,
        req: Request | None,
        trace: list[Span],
        specific: bool,
        kind: str,
        conn: tuple[str, int] = ("", 0),
        server: Server | None = None,
    ) -> Decision:
        try:
            url = self._interp(d.args[0], req) if req is not None else self._interp_stream(d.args[0], conn)
        except Unknown as exc:
            return Decision(Outcome.UNKNOWN, d.span, tuple(trace), note=str(exc))
        hostport = host_part(url)
        if not hostport or hostport.startswith(":"):  # an empty name: nginx cannot connect
            return Decision(Outcome.DENY, d.span, tuple(trace), specific, "no upstream: connection closed")
        host = hostport.rsplit(":", 1)[0] if hostport.count(":") == 1 else hostport
        ctx = self.contexts[kind]
        wanted = (req.probe.host if req is not None else conn[0]).lower()
        if hostport in ctx.upstreams or host in ctx.upstreams:
            up = ctx.upstreams.get(hostport) or ctx.upstreams[host]
            return self._fixed(
                up, [s.args[0] for s in up.block or [] if s.name == "server" and s.args], d, trace, specific
            )
        if host.lower() == wanted:
            if not self._has_resolver(req.server if req else server, kind) and not _is_ip(host):
                return Decision(
                    Outcome.DENY,
                    d.span,
                    tuple(trace),
                    False,
                    "502: no resolver to look up the requested name",
                )
            return Decision(Outcome.ALLOW, None, tuple(trace), False, "forwarded to the origin")
        return self._fixed(d, [hostport], d, trace, specific)

    def _fixed(
        self, where: Directive, addresses: list[str], d: Directive, trace: list[Span], specific: bool
    ) -> Decision:
        ports = set()
        for a in addresses:
            tail = a.rsplit(":", 1)[1] if ":" in a else "80"
            ports.add(int(tail) if tail.isdigit() else None)
        if not addresses:
            return Decision(Outcome.DENY, d.span, tuple(trace), specific, "502: upstream has no server")
        if ports & (LOCAL_PROXY_PORTS | {None}):
            note = f"passed to {', '.join(addresses)}: an upstream proxy whose configuration is not this one"
            problem = Problem("TE907", where.span, note + ": what it reaches is 'unknown'")
            if problem not in self.problems:  # found while evaluating: reported once
                self.problems.append(problem)
            return Decision(Outcome.UNKNOWN, d.span, tuple(trace), note=note + " (TE907)")
        return Decision(
            Outcome.DENY,
            d.span,
            tuple(trace),
            specific,
            f"passed to {', '.join(addresses[:2])}, not the requested site",
        )

    def _has_resolver(self, server: Server | None, kind: str) -> bool:
        ctx = self.contexts[kind]
        scopes = [ctx.directives] + ([list(_walk(server.block))] if server else [])
        return any(d.name == "resolver" for scope in scopes for d in scope)

    # ------------------------------------------------------------ stream (SNI)

    def _stream(self, server: Server, probe: Probe, audience: Audience) -> Decision:
        ctx = self.contexts["stream"]
        trace = [server.span]
        preread = any(
            d.name == "ssl_preread" and d.args[:1] == ["on"] for d in [*ctx.directives, *server.block]
        )
        sni = probe.host if preread else ""
        denied = self._access([ctx.directives, server.block], audience, trace, False)
        if denied is not None:
            return denied
        for d in server.block:
            if d.name == "return":
                trace.append(d.span)
                return Decision(Outcome.DENY, d.span, tuple(trace), True, "return: connection closed")
            if d.name == "proxy_pass" and d.args:
                trace.append(d.span)
                port = server.ports[0][0] if server.ports else 443
                return self._proxy(d, None, trace, True, "stream", (sni, port), server)
        return Decision(
            Outcome.UNKNOWN, server.span, tuple(trace), note="no proxy_pass or return in this server"
        )

    # ------------------------------------------------------------ variables and conditions

    def _var(self, name: str, req: Request | None, conn: tuple[str, int] = ("", 0), depth: int = 0) -> str:
        """A variable's value for an HTTP request (`req`) or a stream connection (`conn`: the
        SNI read by ssl_preread and the port it arrived on)."""
        if req is None:
            if name == "ssl_preread_server_name":
                return conn[0]
            if name == "server_port":
                return str(conn[1])
            if name in self.contexts["stream"].maps and depth < 8:
                return self._map(
                    self.contexts["stream"].maps[name], lambda s: self._interp_stream(s, conn, depth + 1)
                )
            raise Unknown(f"${name} is not evaluated")
        probe = req.probe
        if "!" + name in req.vars:
            raise Unknown(f"${name} is set from a value not evaluated")
        if name in req.vars:
            return req.vars[name]
        if name == "host":
            return probe.host.lower()
        if name == "http_host":
            return probe.host if probe.port in (80, 443) else f"{probe.host}:{probe.port}"
        if name in ("uri", "document_uri"):
            return req.path
        if name == "request_uri":
            return probe.path
        if name == "scheme":
            return "http"
        if name in ("args", "query_string", "is_args"):
            return ""
        if name == "server_name":
            return req.server.names[0] if req.server.names else ""
        if name == "request_method":
            return probe.method
        if name == "server_port":
            return str(req.port)
        if name in self.contexts["http"].maps and depth < 8:
            return self._map(self.contexts["http"].maps[name], lambda s: self._interp(s, req, depth + 1))
        raise Unknown(f"${name} is not evaluated")

    def _map(self, m: Map, interp) -> str:
        source = interp(m.source)
        raw = map_lookup(m, source)
        if raw is None:
            raise Unknown(f"map at {m.span.where()} could not be decided")
        return interp(raw)

    def _interp(self, text: str, req: Request | None, depth: int = 0) -> str:
        return VARIABLE.sub(lambda m: self._var(m.group(1) or m.group(2), req, depth=depth), text)

    def _interp_stream(self, text: str, conn: tuple[str, int], depth: int = 0) -> str:
        return VARIABLE.sub(lambda m: self._var(m.group(1) or m.group(2), None, conn, depth), text)

    def _if(self, args: list[str], req: Request, span: Span) -> bool | None:
        words = condition_words(args)
        if not words:
            return None
        try:
            if len(words) == 1 and words[0].startswith("$"):
                value = self._interp(words[0], req)
                return value not in ("", "0")
            if len(words) == 3 and words[0].startswith("$"):
                value = self._interp(words[0], req)
                op, operand = words[1], words[2]
                if op in ("=", "!="):
                    return (value == self._interp(operand, req)) == (op == "=")
                if op in ("~", "~*", "!~", "!~*"):
                    rx = BoundedPattern.compile(operand, ignore_case=op.endswith("*"))
                    hit = rx.search(value)
                    if hit is None:
                        return None
                    return hit != op.startswith("!")
        except (Unknown, PatternError):
            return None
        return None  # -f, -d, -e, -x and other forms: not evaluated


def _walk(block: list[Directive]):
    for d in block:
        yield d
        if d.block:
            yield from _walk(d.block)


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
        return True
    except ValueError:
        return False

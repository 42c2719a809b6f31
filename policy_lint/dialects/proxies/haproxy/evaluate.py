"""What HAProxy does with one probe: which frontend takes it, its rules in order, the backend
it is routed to, and whether that backend reaches the origin the client asked for."""

from __future__ import annotations

import itertools
from dataclasses import replace

from policy_lint.dialects.proxies.haproxy.fetches import (
    CLIENT_FETCHES,
    PREDEFINED,
    View,
    fetch_arg,
    is_client_acl,
    match_acl,
    predefined,
    resolves_requested_name,
    sample,
    variable_of,
    view_for,
)
from policy_lint.dialects.proxies.haproxy.model import NAME, AclDef, Cond, Proxy, Rule, Term
from policy_lint.dialects.semantics.tunnels import LOCAL_PROXY_PORTS
from policy_lint.model import EVERYONE, Audience, Decision, Outcome, Probe, Problem, Span

MAX_CLIENT_DIMENSIONS = 6
# Final actions evaluated (the rest of http-request / tcp-request's list is not).
DECIDING = {
    "accept",
    "allow",
    "deny",
    "reject",
    "tarpit",
    "return",
    "redirect",
    "silent-drop",
}  # 2**6 audiences; further client ACLs are undecided (unknown)

# Actions that change nothing about which site is reached (configuration manual 4.2,
# http-request / tcp-request): evaluation goes on past them.
NON_TERMINAL = {
    "add-acl",
    "add-header",
    "cache-use",
    "capture",
    "del-acl",
    "del-header",
    "del-map",
    "disable-l7-retry",
    "do-resolve",
    "early-hint",
    "normalize-uri",
    "replace-header",
    "replace-path",
    "replace-pathq",
    "replace-uri",
    "replace-value",
    "sc-add-gpc",
    "sc-inc-gpc",
    "sc-inc-gpc0",
    "sc-inc-gpc1",
    "sc-set-gpt",
    "sc-set-gpt0",
    "send-spoe-group",
    "set-dst",
    "set-dst-port",
    "set-header",
    "set-log-level",
    "set-map",
    "set-mark",
    "set-method",
    "set-nice",
    "set-path",
    "set-pathq",
    "set-priority-class",
    "set-priority-offset",
    "set-query",
    "set-src",
    "set-src-port",
    "set-timeout",
    "set-tos",
    "set-uri",
    "set-var",
    "set-var-fmt",
    "strict-mode",
    "track-sc0",
    "track-sc1",
    "track-sc2",
    "unset-var",
    "wait-for-body",
    "wait-for-handshake",
    "expect-proxy",
    "expect-netscaler-cip",
    "set-fc-mark",
    "set-fc-tos",
    "set-bc-mark",
    "set-bc-tos",
}


class HaproxyRuleset:
    dialect = NAME

    def __init__(
        self,
        path: str,
        proxies: list[Proxy],
        problems: list[Problem],
        statements: int,
        understood: int,
        first_statement: Span | None,
        included: list[str],
    ):
        self.path = path
        self.proxies = proxies
        self.problems = problems
        self.statements = statements
        self.understood = understood
        self.first_statement = first_statement
        self.included = included
        self.backends = {p.name: p for p in proxies if p.is_backend}
        # A `disabled` frontend does not listen; a disabled backend answers 503.
        self.frontends = [p for p in proxies if p.is_frontend and p.disabled is None]
        self._check_references()
        self._check_actions()
        self.forward = [f for f in self.frontends if self._forward_reasons(f)]
        self._settable = frozenset(
            variable_of(r.action)
            for p in proxies
            for r in p.rules
            if r.action.startswith(("do-resolve(", "set-var"))
        )
        self._dims = self._client_dimensions()
        self._cache: dict[tuple[Probe, Audience], Decision] = {}

    # ------------------------------------------------------------ structure

    def _check_references(self) -> None:
        seen: set[Span] = set()
        for proxy in self.proxies:
            for route in [*proxy.routes, *([proxy.default_backend] if proxy.default_backend else [])]:
                if "%[" in route.backend:
                    self.problems.append(
                        Problem(
                            "TE908",
                            route.span,
                            f"the backend name {route.backend!r} is computed per request: not evaluated",
                        )
                    )
                if (
                    "%[" not in route.backend
                    and route.backend not in self.backends
                    and route.span not in seen
                ):
                    seen.add(route.span)
                    self.problems.append(
                        Problem(
                            "TE901", route.span, f"no backend named {route.backend!r}: HAProxy refuses this"
                        )
                    )
            for acl in (a for defs in proxy.acls.values() for a in defs):
                self._check_fetch(acl)
            conditioned: list[tuple[Cond | None, Span]] = [(r.cond, r.span) for r in proxy.rules]
            conditioned += [(r.cond, r.span) for r in proxy.routes]
            for cond, span in conditioned:
                if cond and proxy.mode == "tcp" and not proxy.inspect_delay:
                    defs = [
                        a
                        for g in cond.groups
                        for t in g
                        for a in ([t.anonymous] if t.anonymous else proxy.acls.get(t.name, []))
                    ]
                    if any(fetch_arg(a.fetch)[0].startswith(("req.ssl", "req_ssl")) for a in defs):
                        self.problems.append(
                            Problem(
                                "TE908",
                                span,
                                "no 'tcp-request inspect-delay': the TLS client hello may not have arrived "
                                "when this rule runs, so what it sees is not evaluated",
                            )
                        )
                if cond:
                    for term in (t for g in cond.groups for t in g):
                        if term.anonymous:
                            self._check_fetch(term.anonymous)
                        elif term.name not in proxy.acls and term.name not in PREDEFINED:
                            self.problems.append(
                                Problem("TE901", span, f"unknown ACL {term.name!r}: HAProxy refuses this")
                            )

    def _check_actions(self) -> None:
        """Final actions this dialect does not evaluate: TE908 (TE907 when a script decides)."""
        for proxy in self.proxies:
            for rule in proxy.rules:
                action = rule.action.split("(", 1)[0]
                if action in NON_TERMINAL or action in DECIDING:
                    continue
                if action.startswith("lua.") or action == "use-service":
                    code, what = "TE907", "a Lua script or service outside this config decides"
                else:
                    code, what = "TE908", f"the action {action!r} is not evaluated"
                self.problems.append(Problem(code, rule.span, f"{what}: requests reaching it are 'unknown'"))

    def _check_fetch(self, acl: AclDef) -> None:
        base = fetch_arg(acl.fetch)[0]
        if base == "var" and acl.method == "found":
            return  # whether it is set: modelled (match_acl)
        probe_view = View(True, "x", "GET", "http://x/", "/", None, False, False)
        if base in CLIENT_FETCHES:
            return
        modelled, _ = sample(acl.fetch, probe_view)
        tls_modelled, _ = sample(acl.fetch, View(False, None, None, None, None, "x", True, False))
        if not (modelled or tls_modelled):
            problem = Problem(
                "TE908", acl.span, f"sample fetch {acl.fetch!r} is not evaluated: its rules decide 'unknown'"
            )
            if problem not in self.problems:
                self.problems.append(problem)

    def _routes_of(self, frontend: Proxy) -> list[Proxy]:
        names = [r.backend for r in frontend.routes]
        if frontend.default_backend:
            names.append(frontend.default_backend.backend)
        out = [self.backends[n] for n in names if n in self.backends]
        if frontend.kind == "listen":
            out.append(frontend)
        return out

    def _reaches_origin(self, backend: Proxy, frontend: Proxy) -> list[Span]:
        """Why `backend` connects to the destination the client asked for (empty: it does not)."""
        reasons = [s for s in backend.forward if s in {sv.span for sv in backend.servers}]
        reasons += [s for s in [*backend.forward, *frontend.forward] if "option" in s.text]
        return reasons

    def _forward_reasons(self, frontend: Proxy) -> list[Span]:
        reasons = list(frontend.forward)
        for backend in self._routes_of(frontend):
            reasons += backend.forward
        return reasons

    def _client_dimensions(self) -> list[tuple[str, str]]:
        """(proxy name, ACL name or anonymous ACL) of ACLs that only look at the client (src):
        audiences."""
        dims: list[tuple[str, str]] = []
        for proxy in self.proxies:
            terms = [
                t
                for cond in [*(r.cond for r in proxy.rules), *(r.cond for r in proxy.routes)]
                if cond
                for g in cond.groups
                for t in g
            ]
            names = sorted({t.name for t in terms if t.name and is_client_acl(proxy.acls.get(t.name, []))})
            anonymous = [t.anonymous.key() for t in terms if t.anonymous and is_client_acl([t.anonymous])]
            for name in [*names, *dict.fromkeys(anonymous)]:
                if len(dims) < MAX_CLIENT_DIMENSIONS and (proxy.name, name) not in dims:
                    dims.append((proxy.name, name))
        return dims

    def audiences(self) -> list[Audience]:
        if not self._dims:
            return [EVERYONE]
        out = []
        for values in itertools.product((True, False), repeat=len(self._dims)):
            conds = tuple(
                f"{'' if v else '!'}{name}" for (_p, name), v in zip(self._dims, values, strict=True)
            )
            out.append(Audience(key=tuple(zip(self._dims, values, strict=True)), conditions=conds))
        return out

    def inert_mentions(self, probe: Probe) -> list[Span]:
        """`acl` lines that would match `probe` but that no rule or route of their section uses."""
        out: list[Span] = []
        for proxy in self.proxies:
            used = {
                t.name
                for cond in [*(r.cond for r in proxy.rules), *(r.cond for r in proxy.routes)]
                if cond
                for g in cond.groups
                for t in g
            }
            view = view_for(probe, proxy)
            for name, defs in proxy.acls.items():
                if name not in used and not is_client_acl(defs):
                    out += [d.span for d in defs if match_acl(d, view) is True]
        return out

    # ------------------------------------------------------------ evaluation

    def evaluate(self, probe: Probe, audience: Audience) -> Decision:
        key = (probe, audience)
        hit = self._cache.get(key)
        if hit is None:
            hit = self._cache[key] = self._evaluate(probe, audience)
        return hit

    def _entries(self, probe: Probe) -> list[Proxy]:
        http = [f for f in self.forward if f.mode == "http"]
        tcp = [f for f in self.forward if f.mode != "http"]
        if probe.scheme == "https":
            return tcp or http
        return http or tcp

    def _evaluate(self, probe: Probe, audience: Audience) -> Decision:
        if not self.forward:
            trace = tuple(f.span for f in self.frontends[:8])
            return Decision(
                Outcome.ALLOW,
                None,
                trace,
                note=(
                    "a reverse proxy for its own sites: no frontend forwards requests to the origin the "
                    "client asks for (no set-dst/do-resolve, server 0.0.0.0, option http_proxy or "
                    "transparent), so clients do not reach the web through it"
                ),
            )
        decisions = [(f, self._through(f, probe, audience)) for f in self._entries(probe)]
        if len(decisions) == 1:
            return decisions[0][1]
        outcomes = {d.outcome for _f, d in decisions}
        if Outcome.UNKNOWN in outcomes:
            return next(d for _f, d in decisions if d.outcome == Outcome.UNKNOWN)
        if outcomes == {Outcome.DENY, Outcome.ALLOW}:
            deny = next(d for _f, d in decisions if d.outcome == Outcome.DENY)
            others = ", ".join(f.name for f, d in decisions if d.outcome == Outcome.ALLOW)
            return Decision(
                Outcome.DENY,
                deny.rule,
                deny.trace,
                deny.specific,
                deny.how,
                f"denied on some frontends only: {others} let it through",
                partial=True,
            )
        return decisions[0][1]

    def _through(self, frontend: Proxy, probe: Probe, audience: Audience) -> Decision:
        view = replace(view_for(probe, frontend), settable=self._settable)
        trace: list[Span] = [frontend.span]
        phases = ["tcp-connection", "tcp-content"] + (["http"] if frontend.mode == "http" else [])
        for phase in phases:
            out, view = self._phase(frontend, phase, view, audience, trace)
            if out is not None:
                return out
        if frontend.kind == "listen" and not frontend.routes and not frontend.default_backend:
            backend: Proxy | None = frontend
        else:
            chosen = self._route(frontend, view, audience, trace)
            if isinstance(chosen, Decision):
                return chosen
            backend = chosen
        assert backend is not None
        if backend is not frontend:
            trace.append(backend.span)
            for phase in ["tcp-content"] + (["http"] if frontend.mode == "http" else []):
                out, view = self._phase(backend, phase, view, audience, trace)
                if out is not None:
                    return out
        return self._serve(frontend, backend, trace, view.allowed_by)

    def _phase(
        self, proxy: Proxy, phase: str, view: View, audience: Audience, trace: list[Span]
    ) -> tuple[Decision | None, View]:
        """The phase's rules in order: a Decision when one answers the request, and the view
        as the rules left it (variables a do-resolve of the requested name filled)."""
        for rule in (r for r in proxy.rules if r.kind == phase):
            action = rule.action.split("(", 1)[0]
            if action == "do-resolve" and resolves_requested_name(rule.args):
                if self._cond(proxy, rule.cond, view, audience) is True:
                    view = replace(view, resolved=view.resolved | {variable_of(rule.action)})
                continue
            if action in NON_TERMINAL:
                continue
            applies = self._cond(proxy, rule.cond, view, audience)
            if applies is False:
                continue
            if applies is None:
                trace.append(rule.span)
                return (
                    Decision(
                        Outcome.UNKNOWN,
                        rule.span,
                        tuple(trace),
                        how=action,
                        note="whether this rule's condition holds is not evaluated",
                    ),
                    view,
                )
            trace.append(rule.span)
            if action in ("accept", "allow") and _specific_cond(rule.cond, proxy):
                view = replace(view, allowed_by=rule.span)
            return self._action(proxy, rule, action, view, trace), view  # None: accept/allow end the phase
        return None, view

    def _action(
        self, proxy: Proxy, rule: Rule, action: str, view: View, trace: list[Span]
    ) -> Decision | None:
        specific = _specific_cond(rule.cond, proxy)
        if action in ("accept", "allow"):
            return None  # ends this phase's rules; routing goes on
        if action == "deny" or action == "tarpit":
            status = _status(rule.args, 403 if action == "deny" else 500)
            how = f"{status}" if action == "deny" else f"tarpit {status}"
            return Decision(Outcome.DENY, rule.span, tuple(trace), specific, how)
        if action in ("reject", "silent-drop"):
            return Decision(
                Outcome.DENY, rule.span, tuple(trace), specific, "reset" if action == "reject" else action
            )
        if action == "return":
            return Decision(
                Outcome.DENY, rule.span, tuple(trace), specific, f"return {_status(rule.args, 200)}"
            )
        if action == "redirect":
            args = list(rule.args)
            if args[:2] == ["scheme", "https"] and view.method != "CONNECT":
                # An upgrade of plain HTTP to the same site over HTTPS (judged on its own).
                return Decision(Outcome.ALLOW, rule.span, tuple(trace), False, "redirect to https")
            return Decision(Outcome.DENY, rule.span, tuple(trace), specific, "redirect")
        if action.startswith("lua."):
            return Decision(
                Outcome.UNKNOWN, rule.span, tuple(trace), how="lua", note="a Lua action decides (TE907)"
            )
        return Decision(
            Outcome.UNKNOWN,
            rule.span,
            tuple(trace),
            how=action,
            note=f"the action {action!r} is not evaluated",
        )

    def _route(self, frontend: Proxy, view: View, audience: Audience, trace: list[Span]) -> Proxy | Decision:
        for route in frontend.routes:
            applies = self._cond(frontend, route.cond, view, audience)
            if applies is False:
                continue
            trace.append(route.span)
            if applies is None:
                return Decision(
                    Outcome.UNKNOWN,
                    route.span,
                    tuple(trace),
                    note="whether this route's condition holds is not evaluated",
                )
            return self._backend(route.backend, route.span, trace, _specific_cond(route.cond, frontend))
        if frontend.default_backend:
            trace.append(frontend.default_backend.span)
            return self._backend(
                frontend.default_backend.backend, frontend.default_backend.span, trace, False
            )
        if frontend.kind == "listen":
            return frontend
        return Decision(Outcome.DENY, frontend.span, tuple(trace), False, "503 (no backend)")

    def _backend(self, name: str, span: Span, trace: list[Span], specific: bool) -> Proxy | Decision:
        if "%[" in name:
            return Decision(
                Outcome.UNKNOWN,
                span,
                tuple(trace),
                note=f"backend name {name!r} is computed per request (not evaluated)",
            )
        backend = self.backends.get(name)
        if backend is None:
            return Decision(Outcome.UNKNOWN, span, tuple(trace), note=f"no backend named {name!r}")
        return backend

    def _serve(self, frontend: Proxy, backend: Proxy, trace: list[Span], allowed_by: Span | None) -> Decision:
        decisive = trace[-1]
        specific = any(
            s.text.startswith("use_backend") and ("if" in s.text or "unless" in s.text) for s in trace
        )
        if backend.disabled is not None:
            trace.append(backend.disabled)
            return Decision(Outcome.DENY, decisive, tuple(trace), specific, "503 (backend disabled)")
        if not backend.servers:
            return Decision(Outcome.DENY, decisive, tuple(trace), specific, "503 (backend has no server)")
        if all(s.disabled for s in backend.servers):
            return Decision(Outcome.DENY, decisive, tuple(trace), specific, "503 (all servers disabled)")
        if self._reaches_origin(backend, frontend):
            # Allowed by a rule that names the site: an explicit allow (verdict `allowed`).
            return Decision(
                Outcome.ALLOW, allowed_by, tuple(trace), allowed_by is not None, "forwarded to the origin"
            )
        ports = {_port(s.address) for s in backend.servers if not s.disabled}
        if ports & (LOCAL_PROXY_PORTS | {None}):
            note = f"backend {backend.name} sends it to an upstream proxy whose configuration is not this one"
            problem = Problem("TE907", backend.servers[0].span, note + ": what it reaches is 'unknown'")
            if problem not in self.problems:  # found while evaluating: reported once
                self.problems.append(problem)
            return Decision(Outcome.UNKNOWN, decisive, tuple(trace), note=note + " (TE907)")
        return Decision(
            Outcome.DENY,
            decisive,
            tuple(trace),
            specific,
            f"served by backend {backend.name}, not the requested site",
        )

    # ------------------------------------------------------------ conditions

    def _cond(self, proxy: Proxy, cond: Cond | None, view: View, audience: Audience) -> bool | None:
        if cond is None:
            return True
        result: bool | None = False
        for group in cond.groups:
            g: bool | None = True
            for term in group:
                t = self._term(proxy, term, view, audience)
                if t is False:
                    g = False
                    break
                if t is None:
                    g = None
            if g is True:
                result = True
                break
            if g is None:
                result = None
        if result is None:
            return None
        return (not result) if cond.unless else result

    def _term(self, proxy: Proxy, term: Term, view: View, audience: Audience) -> bool | None:
        value: bool | None
        if term.anonymous is not None:
            value = self._acl_value([term.anonymous], view, audience, (proxy.name, term.anonymous.key()))
        elif term.name in proxy.acls:
            value = self._acl_value(proxy.acls[term.name], view, audience, (proxy.name, term.name))
        else:
            value = predefined(term.name, view)
        if value is None:
            return None
        return (not value) if term.negated else value

    def _acl_value(
        self, defs: list[AclDef], view: View, audience: Audience, key: tuple[str, str]
    ) -> bool | None:
        if is_client_acl(defs):
            for dim, v in audience.key:
                if dim == key:
                    return bool(v)
            return None
        answers = [match_acl(d, view) for d in defs]  # lines of one ACL name are OR-ed
        if any(answers):
            return True
        return None if None in answers else False


def _status(args: tuple[str, ...], default: int) -> int:
    for i, a in enumerate(args[:-1]):
        if a in ("status", "deny_status"):
            try:
                return int(args[i + 1])
            except ValueError:
                return default
    return default


def _port(address: str) -> int | None:
    _host, sep, port = address.rpartition(":")
    if not sep:
        return 0  # no port: the client's destination port
    try:
        return int(port)
    except ValueError:
        return None


# Fetches that carry what was requested (the site), as opposed to who asks or how.
_SITE_FETCHES = (
    "hdr",
    "req.hdr",
    "req.fhdr",
    "fhdr",
    "req.ssl_sni",
    "req_ssl_sni",
    "ssl_fc_sni",
    "base",
    "url",
    "path",
)


def _names_site(acl: AclDef) -> bool:
    base = fetch_arg(acl.fetch)[0]
    return any(base == f or base.startswith(f + "_") for f in _SITE_FETCHES)


def _specific_cond(cond: Cond | None, proxy: Proxy | None = None) -> bool:
    """A condition that looks at the requested site (Host, SNI, URL): the decision is about
    the site, not only about who asks."""
    if cond is None:
        return False
    for g in cond.groups:
        for t in g:
            defs = [t.anonymous] if t.anonymous else (proxy.acls.get(t.name, []) if proxy else [])
            if any(_names_site(d) for d in defs):
                return True
    return False

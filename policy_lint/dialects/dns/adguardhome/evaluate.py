"""AdGuard Home's answer to a query, per client and per state of the blocked-services schedule.

The order is AdGuard Home's `DNSFilter.CheckHost` (internal/filtering/filtering.go): access
settings (`dns.blocked_hosts`: the query is dropped), then, with protection on and filtering
enabled for the client, the legacy rewrites, the allowlists (`whitelist_filters`), the rule
engine (enabled `filters` and `user_rules`; a matching `@@` exception ends the check), then the
blocked services of the client, and last the upstream the query is forwarded to.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, replace
from pathlib import Path

import yaml

from policy_lint.catalog import Catalog
from policy_lint.dialects.dns import adblock
from policy_lint.dialects.dns.adguardhome.config import BlockedServices, Client, Config
from policy_lint.dialects.semantics.answers import address_decision, parse_address
from policy_lint.dialects.semantics.base import ParseContext
from policy_lint.dialects.semantics.listnames import classify_list_name
from policy_lint.dialects.semantics.names import NOT_LISTED, suffixes
from policy_lint.inputs import read_source
from policy_lint.model import EVERYONE, Audience, Decision, Outcome, Probe, Problem, Span

# The modifiers AdGuard Home's DNS engine reads; a rule with any other is ignored by it
# (AdGuard DNS filtering syntax: only host-level rules with these modifiers apply).
DNS_MODIFIERS = frozenset({"important", "badfilter", "client", "ctag", "denyallow", "dnstype", "dnsrewrite"})
SERVICES_FILE = Path(__file__).resolve().parents[3] / "catalog" / "adguard_services.yaml"


def load_services() -> dict[str, list[str]]:
    """AdGuard's service ID -> the domains of its `||domain^` rules (catalog/adguard_services.yaml)."""
    data = yaml.safe_load(SERVICES_FILE.read_text(encoding="utf-8")) or {}
    out: dict[str, list[str]] = {}
    for sid, svc in (data.get("services") or {}).items():
        out[str(sid)] = [
            r[2:].split("^", 1)[0].lower() for r in svc.get("rules") or [] if str(r).startswith("||")
        ]
    return out


@dataclass(frozen=True)
class Who:
    """A kind of client: a persistent client, a `$client` value no persistent client has, or
    every other client (no name, no tags)."""

    kind: str  # persistent | value | other
    name: str
    ids: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()


def _values(option: str) -> tuple[bool, list[str]]:
    """`client=a|'b c'|~d` -> (negated, values)."""
    raw = option.split("=", 1)[1] if "=" in option else ""
    vals = [v.strip().strip("'\"") for v in re.split(r"\|", raw) if v.strip()]
    negated = bool(vals) and all(v.startswith("~") for v in vals)
    return negated, [v.lstrip("~").lower() for v in vals]


def _client_matches(value: str, who: Who) -> bool:
    if who.kind == "other":
        return False
    if value == who.name.lower():
        return True
    for ident in who.ids:
        ident = ident.lower()
        if value == ident:
            return True
        try:
            if "/" in value and ipaddress.ip_address(ident) in ipaddress.ip_network(value, strict=False):
                return True
        except ValueError:
            continue
    return False


def _options(text: str) -> list[str]:
    body = text[2:] if text.startswith("@@") else text
    return body.rpartition("$")[2].split(",") if "$" in body else []


def applies(c: adblock.Candidate, who: Who) -> bool:
    """Whether a rule's `$client`/`$ctag` let it apply to this kind of client."""
    for o in _options(c.text):
        key = o.split("=", 1)[0].strip().lower()
        if key not in ("client", "ctag"):
            continue
        negated, vals = _values(o)
        if key == "client":
            hit = any(_client_matches(v, who) for v in vals)
        else:
            hit = any(v in (t.lower() for t in who.tags) for v in vals)
        if hit == negated:
            return False
    return True


def _strip(c: adblock.Candidate) -> adblock.Candidate:
    """The rule as it applies to a client it names: without `$client`/`$ctag` (and without a
    `$dnstype` that names both A and AAAA: a browser's queries all match it)."""
    if not c.options & {"client", "ctag", "dnstype"}:
        return c
    prefix = "@@" if c.text.startswith("@@") else ""
    body = c.text[len(prefix) :]
    head, _, opts = body.rpartition("$")
    kept = []
    for o in opts.split(","):
        key = o.split("=", 1)[0].strip().lower()
        if key in ("client", "ctag"):
            continue
        if key == "dnstype":
            negated, vals = _values(o)
            if not negated and {"a", "aaaa"} <= set(vals):
                continue
        kept.append(o)
    keys = frozenset(o.split("=", 1)[0].strip().lower() for o in kept)
    text = prefix + head + ("$" + ",".join(kept) if kept else "")
    return replace(c, text=text, options=keys)


def _with_document(c: adblock.Candidate) -> list[adblock.Candidate]:
    """A DNS rule has no request types: a generic pattern that the browser engine applies to
    subrequests only also answers the page's own name, so it gets a `$document` twin."""
    body = c.text[2:] if c.exception else c.text
    if body.startswith("||") or "dnsrewrite" in c.options:
        return [c]
    return [c, replace(c, text=c.text + (",document" if "$" in body and c.options else "$document"))]


@dataclass
class Route:
    domains: tuple[str, ...]  # "" = unqualified names; "*.x" = subdomains only
    upstreams: tuple[str, ...]
    span: Span


def parse_routes(lines: list[tuple[str, Span]]) -> list[Route]:
    out = []
    for text, span in lines:
        t = text.strip()
        if not t or t.startswith("#"):
            continue
        m = re.match(r"^\[/(.*)/\](.*)$", t)
        if m:
            out.append(
                Route(
                    tuple(d.lower().rstrip(".") for d in m.group(1).split("/")),
                    tuple(m.group(2).split()),
                    span,
                )
            )
    return out


def _domain_covers(d: str, host: str) -> bool:
    """`[/d/]`: d and its subdomains; `[/*.d/]`: the subdomains only; `[//]`: unqualified names."""
    if d.startswith("*."):
        return host.endswith(d[1:])
    return bool(d) and (host == d or host.endswith("." + d))


class AdGuardHomeRuleset:
    def __init__(self, cfg: Config, context: ParseContext, config_path: Path):
        self.cfg = cfg
        self.path = cfg.path
        self.dialect = "adguardhome"
        self.catalog: Catalog = context.catalog
        self.problems: list[Problem] = cfg.problems
        self.statements = cfg.statements
        self.understood = cfg.statements
        self.included: list[str] = []
        self._context = context
        self._config_path = config_path
        self._urls = "\n".join(adblock.probe_urls(context.catalog))
        self._services = load_services()
        self._engines: dict[frozenset[str], adblock.AdblockRuleset] = {}
        self._cache: dict[tuple, Decision] = {}
        self._undecided_ids: dict[str, tuple[str, Span]] = {}  # catalog service -> (ID, span)
        self._read_rules()
        self._read_routes()
        self._check_service_ids()
        self._whos = self._build_whos()

    # ------------------------------------------------------------------ reading
    def _candidates(self, lines: list[tuple[str, Span]]) -> list[adblock.Candidate]:
        out = []
        for text, span in lines:
            for c in adblock.parse_line(text, lambda span=span: span, self._urls):
                if c.options - DNS_MODIFIERS:
                    extra = ", ".join(sorted("$" + o for o in c.options - DNS_MODIFIERS))
                    self.problems.append(
                        Problem(
                            "TE905", span, f"AdGuard Home ignores DNS rules with {extra} (not a DNS modifier)"
                        )
                    )
                    continue
                out.append(c)
        return out

    def _read_rules(self) -> None:
        cfg = self.cfg
        self.block: list[adblock.Candidate] = self._candidates(cfg.user_rules)
        self.allow: list[adblock.Candidate] = []
        self.missing: list[adblock.Missing] = []
        self.missing_allow: list[adblock.Missing] = []
        keywords = {sid: svc.keywords for sid, svc in self.catalog.services.items()}
        for f in cfg.filters:
            if not f.enabled:
                continue
            remote = "://" in f.url and not f.url.lower().startswith("file://")
            target = None
            if remote and f.id:
                target = self._context.resolver.resolve(f"data/filters/{f.id}.txt", self._config_path)
            elif not remote:
                target = self._context.resolver.resolve(f.url.removeprefix("file://"), self._config_path)
            if target is None:
                kind, services = classify_list_name(f"{f.name} {f.url}", keywords)
                named = {"social": services, "other-topic": set()}.get(kind, set(keywords))
                (self.missing_allow if f.allow else self.missing).append(
                    adblock.Missing(f.span, f.url, named)
                )
                what = "an allowlist" if f.allow else "a blocklist"
                where = "a remote list, not in the repository" if remote else "not found under --root"
                how = (
                    "its name says it holds another topic: assumed not to name the services"
                    if kind == "other-topic"
                    else "the verdicts it could decide are unknown"
                )
                self.problems.append(
                    Problem("TE903", f.span, f"{what} '{f.name or f.url}' is {where}; {how}")
                )
                continue
            listing = adblock.read_list(target, self._context)
            self.included.append(str(target.resolve()))
            self.problems.extend(listing.problems)
            cands = [c for c in listing.candidates.values() if not c.options - DNS_MODIFIERS]
            if f.allow:
                # An allowlist's rules allow what they match, whatever their own syntax.
                self.allow.extend(
                    replace(c, text=c.text[2:], exception=False) if c.exception else c for c in cands
                )
            else:
                self.block.extend(cands)
        self.access = self._ruleset(self._candidates(self.cfg.blocked_hosts), [])
        self.allow_rs = self._ruleset(self.allow, []) if self.allow else None

    def _read_routes(self) -> None:
        cfg = self.cfg
        lines = cfg.upstreams
        self.routes_unknown: Span | None = None
        if cfg.upstream_file is not None:
            ref, span = cfg.upstream_file
            target = self._context.resolver.resolve(ref, self._config_path)
            if target is None:
                self.routes_unknown = span
                self.problems.append(
                    Problem(
                        "TE903",
                        span,
                        f"upstream_dns_file {ref} is not in the repository: where names go is unknown",
                    )
                )
                lines = []
            else:
                src = read_source(target, self._context.resolver.display(target))
                self.problems.extend(src.problems)
                shown = self._context.resolver.display(target)
                lines = [(t, Span(shown, i, 1, t.strip())) for i, t in enumerate(src.lines, 1)]
        self.routes = parse_routes(lines)
        self.client_routes = {c.name: parse_routes(c.upstreams) for c in cfg.clients if c.upstreams}
        hosts = {p.host.lower() for svc in self.catalog.services.values() for p in svc.probes()}
        for r in [*self.routes, *(x for rs in self.client_routes.values() for x in rs)]:
            if "local" in (self._upstream(u) for u in r.upstreams) and any(self._covers(r, h) for h in hosts):
                self.problems.append(
                    Problem(
                        "TE907", r.span, "names of the services are forwarded to a resolver that decides them"
                    )
                )

    def _check_service_ids(self) -> None:
        """IDs outside the excerpt: another service of AdGuard's list (assumed not to block
        the catalog's services, said once), or one whose ID names a catalog service (undecided)."""
        lists = [self.cfg.blocked_services] + [c.blocked_services for c in self.cfg.clients]
        others: dict[str, Span] = {}
        for bs in lists:
            for sid, span in bs.ids:
                if sid.lower() in self._services:
                    continue
                named = [
                    k
                    for k, svc in self.catalog.services.items()
                    if any(w in sid.lower() for w in svc.keywords)
                ]
                if named:
                    self._undecided_ids.setdefault(named[0], (sid, span))
                    self.problems.append(
                        Problem(
                            "TE908",
                            span,
                            f"blocked service {sid} is not in the linter's copy of AdGuard's service list "
                            f"(catalog/adguard_services.yaml): what it blocks is unknown",
                        )
                    )
                else:
                    others.setdefault(sid, span)
        if others:
            first = min(others.values())
            self.problems.append(
                Problem(
                    "TE903",
                    first,
                    f"blocked services {', '.join(sorted(others))} are other services of AdGuard's list "
                    f"(not in catalog/adguard_services.yaml): assumed not to block the catalog's services",
                )
            )

    def _ruleset(
        self, cands: list[adblock.Candidate], missing: list[adblock.Missing]
    ) -> adblock.AdblockRuleset:
        listing = adblock.AdblockList(self.path)
        for c in cands:
            for v in _with_document(c):
                listing.candidates.setdefault(v.text, v)
        listing.missing = list(missing)
        rs = adblock.AdblockRuleset(listing, self.catalog, self.dialect)
        seen = {(p.code, p.span, p.message) for p in self.problems}
        for p in listing.problems:
            if (p.code, p.span, p.message) not in seen:
                self.problems.append(p)
                seen.add((p.code, p.span, p.message))
        return rs

    # ------------------------------------------------------------------ audiences
    def _build_whos(self) -> list[tuple[Who, bool]]:
        whos = [Who("other", "other clients")]
        whos += [Who("persistent", c.name, tuple(c.ids), tuple(c.tags)) for c in self.cfg.clients]
        named = [w for w in whos if w.kind == "persistent"]
        for c in self.block:
            for o in _options(c.text):
                if o.split("=", 1)[0].strip().lower() != "client":
                    continue
                for v in _values(o)[1]:
                    if not any(_client_matches(v, w) for w in named) and all(w.name != v for w in whos):
                        whos.append(Who("value", v, (v,)))
        out = []
        for w in whos:
            sched = self._services_of(w).schedule
            if sched is None:
                out.append((w, False))
            elif sched.always_paused:
                out.append((w, True))
            else:
                out += [(w, False), (w, True)]
        return out

    def _client(self, who: Who) -> Client | None:
        return next((c for c in self.cfg.clients if who.kind == "persistent" and c.name == who.name), None)

    def _services_of(self, who: Who) -> BlockedServices:
        c = self._client(who)
        if c is not None and not c.use_global_blocked_services:
            return c.blocked_services
        return self.cfg.blocked_services

    def audiences(self) -> list[Audience]:
        if len(self._whos) == 1:
            return [EVERYONE]
        out = []
        for who, paused in self._whos:
            if who.kind == "other":
                cond = (
                    "clients not in clients.persistent"
                    if len(self.cfg.clients) or len(self._whos) > 2
                    else ""
                )
            elif who.kind == "persistent":
                cond = f"client {who.name}" + (f" (tags {', '.join(who.tags)})" if who.tags else "")
            else:
                cond = f"client {who.name}"
            conds = [cond] if cond else []
            sched = self._services_of(who).schedule
            if sched is not None:
                conds.append(
                    f"blocked services paused ({sched.describe()})"
                    if paused
                    else "outside the pause schedule"
                )
            attrs = tuple(("src", i) for i in who.ids[:1] if parse_address(i.split("/")[0]) is not None)
            out.append(Audience((who.kind, who.name, paused), tuple(conds), attrs))
        return out

    def inert_mentions(self, probe: Probe) -> list[Span]:
        return []

    # ------------------------------------------------------------------ decisions
    def evaluate(self, probe: Probe, audience: Audience) -> Decision:
        key = (probe.url, probe.role, probe.service, audience.key)
        hit = self._cache.get(key)
        if hit is None:
            who, paused = self._whos[0]
            if audience.key:
                who, paused = next((w, p) for w, p in self._whos if (w.kind, w.name, p) == audience.key)
            hit = self._cache[key] = self._decide(probe, who, paused)
        return hit

    def _engine(self, who: Who) -> adblock.AdblockRuleset:
        cands = [_strip(c) for c in self.block if applies(c, who)]
        k = frozenset(c.text for c in cands)
        rs = self._engines.get(k)
        if rs is None:
            rs = self._engines[k] = self._ruleset(cands, self.missing)
        return rs

    def _filtering(self, who: Who) -> bool:
        c = self._client(who)
        if c is not None and not c.use_global_settings:
            return c.filtering_enabled
        return self.cfg.filtering

    def _decide(self, probe: Probe, who: Who, paused: bool) -> Decision:
        cfg = self.cfg
        host = probe.host.lower()
        dropped = self.access.evaluate(probe, EVERYONE)
        if dropped.outcome == Outcome.DENY:
            return replace(dropped, how="dropped (access settings: blocked_hosts)")
        if not cfg.protection:
            return Decision(Outcome.ALLOW, cfg.protection_span, (), False, "", "protection is disabled")
        if cfg.paused_until is not None:
            return Decision(
                Outcome.UNKNOWN,
                cfg.paused_until,
                (cfg.paused_until,),
                True,
                "",
                "protection paused until a time",
            )
        pending: Decision | None = None
        if self._filtering(who):
            rw = self._rewrite(host)
            if rw is not None:
                return rw
            if self.allow_rs is not None:
                a = self.allow_rs.evaluate(probe, EVERYONE)
                if a.outcome == Outcome.DENY:
                    return Decision(Outcome.ALLOW, a.rule, a.trace, True, "allowlist", "whitelist_filters")
            d = self._engine(who).evaluate(probe, EVERYONE)
            if d.outcome == Outcome.ALLOW and d.specific:
                return d  # an exception: AdGuard Home stops here (blocked services too)
            if d.outcome == Outcome.DENY:
                return self._allowlist_may_lift(self._blocking_mode(d, host), probe)
            if d.outcome == Outcome.UNKNOWN:
                pending = d
        svc = self._blocked_service(probe, who, paused)
        if svc is not None:
            return self._allowlist_may_lift(svc, probe)
        if pending is not None:
            return pending
        return self._route(host, who) or NOT_LISTED

    def _allowlist_may_lift(self, d: Decision, probe: Probe) -> Decision:
        if d.outcome != Outcome.DENY or probe.service is None:
            return d
        for m in self.missing_allow:
            if probe.service in m.services:
                return Decision(
                    Outcome.UNKNOWN,
                    m.span,
                    (*d.trace, m.span),
                    True,
                    "",
                    f"the allowlist '{m.reference}' is not in the repository and may allow it",
                )
        return d

    def _blocking_mode(self, d: Decision, host: str) -> Decision:
        if self.cfg.blocking_mode == "custom_ip" and self.cfg.blocking_ipv4 and "dnsrewrite" not in d.how:
            a = address_decision(self.cfg.blocking_ipv4, host, self.catalog, d.rule, d.trace, "custom_ip")
            return replace(a, note=a.note or d.note)
        return d

    def _rewrite(self, host: str) -> Decision | None:
        exact = [r for r in self.cfg.rewrites if r.domain == host]
        wild = [r for r in self.cfg.rewrites if r.domain.startswith("*.") and host.endswith(r.domain[1:])]
        rws = exact or sorted(wild, key=lambda r: -len(r.domain))[:1]
        for r in rws:
            ans = r.answer.strip()
            if ans.upper() in ("A", "AAAA"):
                return None  # "A"/"AAAA": keep the upstream's answer
            if parse_address(ans.split("%", 1)[0]) is not None:
                return address_decision(ans, host, self.catalog, r.span, (r.span,), "rewrite")
            if ans:
                return adblock.cname_decision(ans, host, self.catalog, r.span)
        return None

    def _blocked_service(self, probe: Probe, who: Who, paused: bool) -> Decision | None:
        bs = self._services_of(who)
        if paused or not bs.ids:
            return None
        for sid, span in bs.ids:
            domains = self._services.get(sid.lower())
            if domains is None:
                undecided = self._undecided_ids.get(probe.service or "")
                if undecided is not None and undecided[0] == sid:
                    return Decision(
                        Outcome.UNKNOWN, span, (span,), True, "", f"blocked service {sid} is not modelled"
                    )
                continue
            for name in suffixes(probe.host):
                if name in domains:
                    d = Decision(Outcome.DENY, span, (span,), True, f"blocked service {sid} (||{name}^)")
                    return self._blocking_mode(d, probe.host.lower())
        return None

    def _route(self, host: str, who: Who) -> Decision | None:
        c = self._client(who)
        routes = self.client_routes.get(c.name, self.routes) if c is not None else self.routes
        if self.routes_unknown is not None and not (c is not None and c.name in self.client_routes):
            span = self.routes_unknown
            return Decision(
                Outcome.UNKNOWN, span, (span,), True, "", "the upstream file is not in the repository"
            )
        best: tuple[int, Route] | None = None
        for r in routes:
            for d in r.domains:
                if _domain_covers(d, host) and (best is None or len(d) > best[0]):
                    best = (len(d), r)
        if best is None:
            return None
        return self.upstream_decision(best[1])

    @staticmethod
    def _covers(r: Route, host: str) -> bool:
        return any(_domain_covers(d, host) for d in r.domains)

    def upstream_decision(self, r: Route) -> Decision | None:
        verdicts = [self._upstream(u) for u in r.upstreams]
        if not verdicts or "default" in verdicts:
            return None  # `#`: the default upstreams answer
        if all(v == "self" for v in verdicts):
            return Decision(
                Outcome.DENY,
                r.span,
                (r.span,),
                True,
                "upstream loops back to AdGuard Home",
                "the upstream is AdGuard Home's own address: the query never gets an answer",
            )
        if any(v in ("local", "self") for v in verdicts):
            return Decision(
                Outcome.UNKNOWN,
                r.span,
                (r.span,),
                True,
                "",
                "the name is forwarded to another resolver on this machine or network, which decides",
            )
        return Decision(Outcome.ALLOW, r.span, (r.span,), False, "forwarded", "an ordinary upstream resolver")

    def _upstream(self, u: str) -> str:
        """default (`#`), self (AdGuard Home's own listening address), local (another resolver
        on a loopback or private address), public (an ordinary resolver)."""
        if u == "#":
            return "default"
        m = re.match(r"^(?:[a-z0-9]+://)?(\[[^\]]+\]|[^/:\s]+)(?::(\d+))?", u, re.I)
        if not m or u.lower().startswith("sdns://"):
            return "public"
        host, port = m.group(1).strip("[]"), int(m.group(2) or 53)
        ip = parse_address(host)
        if ip is None:
            return "public"
        if ip.is_loopback or ip.is_unspecified:
            binds = set(self.cfg.bind_hosts) or {"0.0.0.0"}
            listens = binds & {"0.0.0.0", "::", host} or (
                ip.is_loopback and any(b.startswith("127.") for b in binds)
            )
            return "self" if listens and port == self.cfg.port else "local"
        return "local" if ip.is_private or ip.is_link_local else "public"

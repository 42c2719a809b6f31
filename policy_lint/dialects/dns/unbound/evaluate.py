"""unbound's answer to a query: the local zones first (views, tags, overrides), then the rpz:
clauses in order, then response-ip, auth-zone and forward-zone notes; the clients that differ
(views, tags, overrides, rpz-client-ip) are the audiences."""

from __future__ import annotations

import ipaddress
from dataclasses import replace
from pathlib import Path

from dns.rdtypes.ANY.CNAME import CNAME
from dns.rdtypes.IN.A import A

from policy_lint.dialects.dns import rpz as rpzmod
from policy_lint.dialects.dns.hosts import address_decision
from policy_lint.dialects.dns.unbound.model import Ctx, Data, RpzClause, View, Zone, ZoneSet
from policy_lint.dialects.dns.unbound.parse import (
    NAME,
    ZONE_TYPES,
    Block,
    Missing,
    Reader,
    Stmt,
    norm_name,
    service_keywords,
)
from policy_lint.dialects.semantics.base import ParseContext
from policy_lint.dialects.semantics.listnames import classify_list_name
from policy_lint.dialects.semantics.names import suffixes
from policy_lint.inputs import InputError
from policy_lint.model import EVERYONE, Audience, Decision, Outcome, Probe, Problem, Span

MAX_CNAME_CHAIN = 8
OTHER_CLIENT = "198.51.100.77"  # a documentation address outside every netblock
RESPIP_BLOCKING = frozenset(
    {
        "deny",
        "redirect",
        "inform_deny",
        "always_refuse",
        "always_nxdomain",
        "always_nodata",
        "always_deny",
        "always_null",
    }
)


class UnboundRuleset:
    dialect = NAME

    def __init__(self, path: str, reader: Reader, context: ParseContext):
        self.path = path
        self.catalog = context.catalog
        self.context = context
        self.problems = reader.problems
        self.included = [str(p.resolve()) for p in reader.included]
        self.missing = reader.missing
        self._cache: dict[tuple[str, Ctx], Decision] = {}
        server = reader.server
        self.tag_names = {v for s in server.values("define-tag") for v in s.args[0].split()}
        zone_tags = {
            norm_name(s.args[0]): (frozenset(s.args[1].split()), s.span)
            for s in server.values("local-zone-tag")
        }
        self.global_zones = ZoneSet()
        self.global_zones.add(server.values("local-zone") + server.values("local-data"), zone_tags)
        self.problems.extend(self.global_zones.problems)
        self.views: dict[str, View] = {}
        self.rpz: list[RpzClause] = []
        self.forwards: list[tuple[str, Stmt, Block]] = []
        self.auth: list[tuple[str, Stmt]] = []
        module_config = server.values("module-config")
        modules = module_config[-1] if module_config else None  # the last one counts
        self._check_tags(reader.order)
        for block in reader.blocks[1:]:
            if block.kind == "view":
                self._view(block)
            elif block.kind == "rpz":
                self._rpz(block, reader, modules)
            elif block.kind in ("forward-zone", "stub-zone"):
                n = block.first("name")
                if n is not None:
                    self.forwards.append((norm_name(n.args[0]), n, block))
            elif block.kind == "auth-zone":
                n = block.first("name")
                if n is not None:
                    self.auth.append((norm_name(n.args[0]), n))
        self.response_ip = []
        for s in server.values("response-ip"):
            try:
                self.response_ip.append((ipaddress.ip_network(s.args[0], strict=False), s.args[1], s))
            except ValueError:
                self.problems.append(Problem("TE901", s.span, f"response-ip '{s.args[0]}' is not a netblock"))
        self._acl = self._acl_nodes(server)
        self._overrides: dict[str, list[tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, str, Span]]] = {}
        for s in server.values("local-zone-override"):
            try:
                net = ipaddress.ip_network(s.args[1], strict=False)
            except ValueError:
                self.problems.append(
                    Problem("TE901", s.span, f"local-zone-override: '{s.args[1]}' is not a netblock")
                )
                continue
            self._overrides.setdefault(norm_name(s.args[0]), []).append((net, s.args[2], s.span))
        self._audiences: list[Audience] | None = None
        self._ctx: dict[tuple, Ctx] = {}

    # ---- set-up
    def _check_tags(self, order: list[Stmt]) -> None:
        """Tags must be defined (define-tag:) before a statement uses them."""
        defined: set[str] = set()
        for s in order:
            if s.keyword == "define-tag":
                defined.update(s.args[0].split())
                continue
            used = {
                "local-zone-tag": lambda a: a[1].split(),
                "access-control-tag": lambda a: a[1].split(),
                "access-control-tag-action": lambda a: [a[1]],
                "tags": lambda a: a[0].split(),
            }.get(s.keyword)
            if used is None:
                continue
            unknown = [t for t in used(s.args) if t not in defined]
            if unknown:
                self.problems.append(
                    Problem(
                        "TE901",
                        s.span,
                        f"{s.keyword}: tag '{unknown[0]}' is not defined "
                        f"(define-tag: before it); unbound refuses this",
                    )
                )
            if s.keyword == "access-control-tag-action" and s.args[2] not in ZONE_TYPES:
                self.problems.append(
                    Problem(
                        "TE901",
                        s.span,
                        f"access-control-tag-action: '{s.args[2]}' is not "
                        f"a local-zone type; unbound refuses this",
                    )
                )

    def _view(self, block: Block) -> None:
        assert block.span is not None  # only the implicit server: block has no span
        n = block.first("name")
        if n is None:
            self.problems.append(Problem("TE901", block.span, "view: without a name; unbound refuses this"))
            return
        zs = ZoneSet()
        zs.add(block.values("local-zone") + block.values("local-data"), {})
        self.problems.extend(zs.problems)
        vf = block.first("view-first")
        self.views[n.args[0]] = View(n.args[0], n.span, zs, bool(vf and vf.args[0].lower() == "yes"))

    def _rpz(self, block: Block, reader: Reader, modules: Stmt | None) -> None:
        assert block.span is not None  # only the implicit server: block has no span
        n = block.first("name")
        if n is None:
            self.problems.append(Problem("TE901", block.span, "rpz: without a name; unbound refuses this"))
            return
        if modules is None or "respip" not in modules.args[0].split():
            where = modules.span if modules is not None else block.span
            self.problems.append(
                Problem(
                    "TE901",
                    where,
                    "rpz: needs the respip module in module-config "
                    '(e.g. "respip validator iterator"); unbound refuses '
                    "to start without it",
                )
            )
        origin = norm_name(n.args[0])
        tags_stmt = block.first("tags")
        tags = frozenset(tags_stmt.args[0].split()) if tags_stmt else None
        zf = block.first("zonefile")
        remote = block.values("url") + block.values("primary") + block.values("master")
        zone = None
        missing = None
        if zf is not None:
            ref = zf.args[0]
            refs = (
                [ref]
                if ref.startswith("/") or not reader.directory
                else [reader.directory.rstrip("/") + "/" + ref, ref]
            )
            base = reader.paths.get(zf.span.path, Path(self.path))
            target = next((t for t in (self.context.resolver.resolve(r, base) for r in refs) if t), None)
            if target is not None:
                try:
                    zone = rpzmod.load_zone(target, self.context, origin=origin, flavour="unbound")
                except InputError as exc:
                    self.problems.append(Problem("TE902", zf.span, str(exc)))
                if zone is not None:
                    self.problems.extend(zone.problems)
                    self.included += [str(target.resolve())] + [str(p.resolve()) for p in zone.included]
                    ov = block.first("rpz-action-override")
                    if ov is not None:
                        zone.override = rpzmod.policy_word(ov.args[0].replace("_", "-"))
                        zone.override_span = ov.span
                        cn = block.first("rpz-cname-override")
                        zone.override_cname = cn.args[0] if cn else ""
            elif not remote:
                self.problems.append(
                    Problem(
                        "TE903",
                        zf.span,
                        f"rpz zone file not found: {ref} (without url: or primary: unbound refuses to start)",
                    )
                )
                missing = self._remote_missing(origin, ref, zf.span)
        if zone is None and remote and missing is None:
            where = remote[0].span
            missing = self._remote_missing(origin, remote[0].args[0], where)
            self.problems.append(
                Problem(
                    "TE903",
                    where,
                    f"rpz zone '{origin}' is fetched at run time "
                    f"({remote[0].args[0]}): its policies are not in the repository"
                    + ("" if missing else "; its name says it holds another topic"),
                )
            )
        self.rpz.append(RpzClause(origin, n.span, zone, tags, missing))

    def _remote_missing(self, origin: str, ref: str, span: Span) -> Missing | None:
        kind, named = classify_list_name(f"{origin} {ref}", service_keywords(self.catalog))
        if kind == "other-topic":
            return None
        return Missing(ref, span, "rpz", named or None)

    def _acl_nodes(self, server: Block) -> dict:
        nodes: dict = {}
        for kw in (
            "access-control",
            "access-control-view",
            "access-control-tag",
            "access-control-tag-action",
        ):
            for s in server.values(kw):
                try:
                    net = ipaddress.ip_network(s.args[0], strict=False)
                except ValueError:
                    self.problems.append(Problem("TE901", s.span, f"{kw}: '{s.args[0]}' is not a netblock"))
                    continue
                node = nodes.setdefault(net, {"view": None, "tags": frozenset(), "actions": [], "spans": []})
                if kw == "access-control-view":
                    if s.args[1] not in self.views:
                        self.problems.append(
                            Problem(
                                "TE901",
                                s.span,
                                f"access-control-view: no view named '{s.args[1]}'; unbound refuses this",
                            )
                        )
                    node["view"] = s.args[1]
                    node["spans"].append(s)
                elif kw == "access-control-tag":
                    node["tags"] = frozenset(s.args[1].split())
                    node["spans"].append(s)
                elif kw == "access-control-tag-action":
                    node["actions"].append((s.args[1], s.args[2], s.span))
                    node["spans"].append(s)
        return nodes

    # ---- audiences
    def _ctx_for(self, ip: str) -> tuple[Ctx, tuple[str, ...]]:
        addr = ipaddress.ip_address(ip)
        best = None
        for net, node in self._acl.items():
            if (
                addr.version == net.version
                and addr in net
                and (best is None or net.prefixlen > best[0].prefixlen)
            ):
                best = (net, node)
        words: list[str] = []
        view: str | None = None
        tags: frozenset[str] = frozenset()
        actions: tuple[tuple[str, str, Span], ...] = ()
        if best is not None:
            net, node = best
            view, tags, actions = node["view"], node["tags"], tuple(node["actions"])
            for s in node["spans"]:
                words.append(f"{s.keyword} {' '.join(s.args)}")
        overrides = []
        for zone, entries in self._overrides.items():
            hit = None
            for net, typ, span in entries:
                if (
                    addr.version == net.version
                    and addr in net
                    and (hit is None or net.prefixlen > hit[0].prefixlen)
                ):
                    hit = (net, typ, span)
            if hit is not None:
                overrides.append((zone, hit[1], hit[2]))
                words.append(f"local-zone-override {zone} {hit[0]} {hit[1]}")
        client = []
        for clause in self.rpz:
            if clause.zone is None:
                continue
            for net, t in rpzmod.client_netblocks(clause.zone):
                if addr.version == net.version and addr in net:
                    client.append((clause.name, t.name))
                    words.append(f"rpz-client-ip {net} ({clause.name})")
        return Ctx(view, tags, actions, tuple(overrides), tuple(client), " & ".join(words)), tuple(words)

    def audiences(self) -> list[Audience]:
        if self._audiences is not None:
            return self._audiences
        nets = [n for n, node in self._acl.items() if node["view"] or node["tags"] or node["actions"]]
        nets += [net for entries in self._overrides.values() for net, _t, _s in entries]
        nets += [net for c in self.rpz if c.zone is not None for net, _t in rpzmod.client_netblocks(c.zone)]
        if not nets:
            self._audiences = [EVERYONE]
            self._ctx[()] = Ctx()
            return self._audiences
        seen: dict[Ctx, Audience] = {}
        for ip in [rpzmod.representative(n) for n in nets] + [OTHER_CLIENT]:
            ctx, words = self._ctx_for(ip)
            if ctx in seen:
                continue
            key = (("client", ip),)
            seen[ctx] = Audience(
                key=key,
                conditions=words or ("clients outside every view, tag and override netblock",),
                attributes=(("src", ip),),
            )
            self._ctx[key] = ctx
        self._audiences = list(seen.values())
        return self._audiences

    def audience_of_client(self, ip: str) -> Audience:
        """The audience a client at ip is in: the one whose views, tags and overrides are the
        ones unbound applies to that address (what a live test from 127.0.0.1 sees)."""
        ctx, _words = self._ctx_for(ip)
        for audience in self.audiences():
            if self._ctx.get(audience.key) == ctx:
                return audience
        raise LookupError(ip)  # every context of an address is one of audiences()'s

    # ---- evaluation
    def evaluate(self, probe: Probe, audience: Audience) -> Decision:
        if audience.key not in self._ctx:
            self.audiences()
        ctx = self._ctx.get(audience.key, Ctx())
        host = probe.host.lower().rstrip(".")
        hit = self._cache.get((host, ctx))
        if hit is None:
            hit = self._cache[(host, ctx)] = self._decide(host, ctx, 0) or NOT_LISTED
        return hit

    def _decide(self, host: str, ctx: Ctx, depth: int) -> Decision | None:
        local, exception = self._local(host, ctx, depth)
        if local is not None:
            return self._unknown_if_missing(host, local) or local
        for clause in self.rpz:
            if clause.tags is not None and not (clause.tags & ctx.tags):
                continue
            if clause.zone is None:
                if clause.remote is not None and self._may_name(host, clause.remote):
                    return Decision(
                        Outcome.UNKNOWN,
                        clause.remote.span,
                        (clause.span, clause.remote.span),
                        False,
                        "",
                        f"rpz zone '{clause.name}' is fetched at run time ({clause.remote.ref}): it "
                        f"may rewrite {host}",
                    )
                continue
            client = dict(ctx.client_rpz).get(clause.name)
            trig = next((t for t in clause.zone.others if t.name == client), None) if client else None
            if trig is None:
                trig = clause.zone.lookup(host)
            if trig is not None:
                d = rpzmod.trigger_decision(clause.zone, trig, host, self.catalog, (clause.span,))
                if client:
                    d = Decision(d.outcome, d.rule, d.trace, False, d.how, d.note, ctx.who)
                elif clause.tags is not None:
                    d = replace(d, scope=ctx.who)
                if d.outcome == Outcome.ALLOW and d.how == "passthru" and exception is None:
                    later = self._later_rpz_block(host, clause, ctx)
                    if later is not None:
                        d = Decision(
                            d.outcome,
                            d.rule,
                            (later.rule,) + d.trace if later.rule else d.trace,
                            True,
                            d.how,
                            f"an exception to '{later.rule.text if later.rule else ''}'",
                        )
                return self._unknown_if_missing(host, d) or d
            absent = rpzmod.missing_include(clause.zone, host, self.catalog, (clause.span,))
            if absent is not None:
                return absent
            other = rpzmod.other_trigger_note(clause.zone, host, self.catalog, (clause.span,))
            if other is not None:
                return other
        for net, typ, s in self.response_ip:
            respip = self._response_ip(host, net, typ, s)
            if respip is not None:
                return respip
        for name, stmt in self.auth:
            owner = self.catalog.service_for_host(host)
            if (
                owner
                and name
                and (host == name or host.endswith("." + name))
                and (held := self.catalog.service_for_host(name))
                and held[0] == owner[0]
            ):
                return Decision(
                    Outcome.UNKNOWN,
                    stmt.span,
                    (stmt.span,),
                    True,
                    "",
                    f"auth-zone '{name}' answers {host} from its own zone data (not evaluated)",
                )
        if exception is not None and exception.specific:
            return exception  # an explicit exception here stands, whatever a missing file says
        missing = self._unknown_if_missing(host, None)
        if missing is not None:
            return missing
        if exception is not None:
            return exception
        for name, stmt, block in self.forwards:
            owner = self.catalog.service_for_host(host)
            if owner and name and (host == name or host.endswith("." + name)):
                to = (
                    block.first("forward-addr")
                    or block.first("forward-host")
                    or block.first("stub-addr")
                    or block.first("stub-host")
                )
                return Decision(
                    Outcome.ALLOW,
                    stmt.span,
                    (stmt.span,),
                    False,
                    f"{block.kind} to {to.args[0] if to else 'another server'}",
                    "a forward to another resolver is not a block (it may filter on its own)",
                )
        return None

    def _later_rpz_block(self, host: str, clause: RpzClause, ctx: Ctx) -> Decision | None:
        after = False
        for c in self.rpz:
            if c is clause:
                after = True
                continue
            if not after or c.zone is None or (c.tags is not None and not (c.tags & ctx.tags)):
                continue
            t = c.zone.lookup(host)
            if t is not None:
                d = rpzmod.trigger_decision(c.zone, t, host, self.catalog, (c.span,))
                return d if d.outcome == Outcome.DENY else None
        return None

    def _may_name(self, host: str, missing: Missing) -> bool:
        owner = self.catalog.service_for_host(host)
        return owner is not None and (missing.services is None or owner[0] in missing.services)

    def _unknown_if_missing(self, host: str, decision: Decision | None) -> Decision | None:
        if decision is not None and decision.specific:
            return None
        for m in self.missing:
            if self._may_name(host, m):
                return Decision(
                    Outcome.UNKNOWN,
                    m.span,
                    (m.span,),
                    False,
                    "",
                    f"{m.what} {m.ref} is missing: it may decide {host}",
                )
        return None

    def _response_ip(self, host: str, net, typ: str, s: Stmt) -> Decision | None:
        if typ not in RESPIP_BLOCKING:
            return None
        owner = self.catalog.service_for_host(host)
        if owner is None:
            return None
        svc = self.catalog.services[owner[0]]
        if any(net.version == n.version and net.overlaps(n) for n in svc.networks):
            return Decision(
                Outcome.UNKNOWN,
                s.span,
                (s.span,),
                True,
                "",
                f"answers holding {net} (addresses of {svc.name}) get {typ}; whether {host} does "
                f"depends on the address it resolves to",
            )
        return None

    # ---- local zones
    def _zone_sets(self, ctx: Ctx) -> list[tuple[ZoneSet, bool]]:
        """The zone sets to consult in order, and whether a 'resolve normally' answer in each
        moves on to the next (unbound's view-first)."""
        view = self.views.get(ctx.view) if ctx.view else None
        if view is None or not view.zones.any_zone:
            return [(self.global_zones, False)]
        if view.view_first:
            return [(view.zones, True), (self.global_zones, False)]
        return [(view.zones, False)]

    def _local(self, host: str, ctx: Ctx, depth: int) -> tuple[Decision | None, Decision | None]:
        """(the local zones' answer, or None to resolve normally; an ALLOW exception to note)."""
        sets = self._zone_sets(ctx)
        for zs, fall_through in sets:
            zone = zs.find(host, ctx.tags)
            if zone is None:
                if fall_through:
                    continue
                return None, None
            typ, why = self._type(zone, ctx)
            if typ == "noview" and zs is not self.global_zones:
                if fall_through:
                    continue
                return None, None
            dependent = zs is not self.global_zones or zone.tags is not None or bool(why)
            d = self._zone_answer(zs, zone, typ, why, host, ctx, depth)
            if d is not None:
                return (replace(d, scope=ctx.who) if dependent else d), None
            if fall_through:
                continue
            exc = self._exception(zs, zone, typ, host, ctx, depth)
            return None, (replace(exc, scope=ctx.who) if dependent and exc is not None else exc)
        return None, None

    def _type(self, zone: Zone, ctx: Ctx) -> tuple[str, tuple[Span, ...]]:
        for name, typ, span in ctx.overrides:
            if name == zone.name:
                return typ, (span,)
        if zone.tags and ctx.actions:
            for tag, typ, span in ctx.actions:
                if tag in zone.tags and tag in ctx.tags:
                    return typ, (span,)
        return zone.type, ()

    def _exception(
        self, zs: ZoneSet, zone: Zone, typ: str, host: str, ctx: Ctx, depth: int
    ) -> Decision | None:
        """A resolve-normally zone below a blocking one: an explicit exception."""
        if zone.implicit or not zone.name:
            return None
        names = list(suffixes(host)) + [""]
        parent = zs.find(host, ctx.tags, names.index(zone.name) + 1) if zone.name in names else None
        how = f"local-zone {typ}"
        if parent is not None:
            ptyp, why = self._type(parent, ctx)
            pd = self._zone_answer(zs, parent, ptyp, why, host, ctx, depth, exact_data=False)
            if pd is not None and pd.outcome == Outcome.DENY:
                return Decision(
                    Outcome.ALLOW,
                    zone.span,
                    (parent.span, zone.span),
                    True,
                    how,
                    f"an exception to '{parent.span.text}'",
                )
        note = "queries are logged" if typ.startswith("inform") else ""
        return Decision(Outcome.ALLOW, zone.span, (zone.span,), False, how, note)

    def _zone_answer(
        self,
        zs: ZoneSet,
        zone: Zone,
        typ: str,
        why: tuple[Span, ...],
        host: str,
        ctx: Ctx,
        depth: int,
        exact_data: bool = True,
    ) -> Decision | None:
        trace = tuple(zone.earlier[-1:]) + why + (zone.span,)
        specific = zone.name.count(".") >= 1
        note = f"overrides the earlier '{zone.earlier[-1].text}' (the last line wins)" if zone.earlier else ""

        def deny(how: str, extra: str = "") -> Decision:
            return Decision(
                Outcome.DENY, zone.span, trace, specific, how, "; ".join(x for x in (note, extra) if x)
            )

        if typ in ("always_transparent",):
            return None
        if typ == "always_refuse":
            return deny("REFUSED")
        if typ == "always_nxdomain":
            return deny("NXDOMAIN")
        if typ == "always_nodata":
            return deny("NODATA")
        if typ == "always_deny":
            return deny("dropped (no answer)")
        redirect = typ in ("redirect", "inform_redirect")
        data = zs.data_for(zone.name if redirect else host, zone) if exact_data or redirect else []
        usable = [d for d in data if d.rdtype in ("A", "CNAME")]
        if usable:
            return self._data_answer(usable, host, trace, ctx, depth, note)
        if typ == "always_null":
            return deny("sinkhole 0.0.0.0")
        if redirect:
            return deny(
                "NODATA",
                f"the redirect zone has no address for {zone.name}"
                if not data
                else "the redirect zone's data has no A record",
            )
        if typ in ("deny", "inform_deny"):
            return deny("dropped (no answer)")
        if typ == "refuse":
            return deny("REFUSED")
        if typ == "static":
            return deny("NODATA" if data else "NXDOMAIN")
        if typ in ("transparent", "inform", "noview", "ipset") and data:
            return deny("NODATA", f"local data for {host} has no A record")
        return None  # typetransparent, transparent, inform, noview, ipset: resolved normally

    def _data_answer(
        self, data: list[Data], host: str, trace: tuple[Span, ...], ctx: Ctx, depth: int, note: str
    ) -> Decision:
        first = data[0]
        spans = tuple(dict.fromkeys(trace + (first.span,)))
        if first.rdtype == "A":
            assert isinstance(first.rdata, A)  # dnspython's type for every A record it parses
            d = address_decision(
                str(first.rdata.address), host, self.catalog, first.span, spans, "local-data"
            )
            return Decision(
                d.outcome, d.rule, d.trace, True, d.how, "; ".join(x for x in (note, d.note) if x)
            )
        assert isinstance(first.rdata, CNAME)  # the data is A or CNAME (_zone_answer's `usable`)
        target = first.rdata.target.to_text().rstrip(".").lower()
        owner = self.catalog.service_for_host(host)
        held = self.catalog.service_for_host(target)
        if owner and held and owner[0] == held[0] and depth < MAX_CNAME_CHAIN:
            inner = self._decide(target, ctx, depth + 1)
            if inner is not None and inner.outcome == Outcome.DENY:
                return Decision(
                    Outcome.DENY,
                    first.span,
                    spans + inner.trace,
                    True,
                    f"CNAME {target}: {inner.how}",
                    inner.note,
                )
            return Decision(
                Outcome.ALLOW,
                first.span,
                spans,
                True,
                f"CNAME {target}",
                f"pointed at {target}, a name of {self.catalog.services[owner[0]].name} itself",
            )
        return Decision(
            Outcome.DENY,
            first.span,
            spans,
            True,
            f"redirected to {target}",
            "a CNAME to another name (a block page or walled garden)",
        )

    def inert_mentions(self, probe: Probe) -> list[Span]:
        return []


NOT_LISTED = Decision(Outcome.ALLOW, None, (), False, "", "unbound's configuration does not name this host")

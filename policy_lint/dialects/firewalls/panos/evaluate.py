"""A PAN-OS policy evaluated for one request from one kind of client (package docstring).

The walk is a three-valued first match: each rule matches (`yes`), does not (`no`) or may
(`maybe`: an App-ID, category, user group or object whose extent is not known). A rule that
may match decides only when the rest of the rulebase would do the same; otherwise the request
is `unknown`, naming the rule and why.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass, replace

from policy_lint.catalog import Catalog
from policy_lint.dialects.firewalls.panos import urlfilter
from policy_lint.dialects.firewalls.panos.apps import GENERIC, UNLISTED, AppCatalog
from policy_lint.dialects.firewalls.panos.match import (
    MAYBE,
    NO,
    USER_KEYWORDS,
    YES,
    Client,
    Matcher,
    all_of,
    any_of,
    computed,
    tri,
)
from policy_lint.dialects.firewalls.panos.model import ANY, PanosConfig, Scope, SecurityRule
from policy_lint.dialects.semantics.addressing import Target, decide_by_address
from policy_lint.model import Audience, Decision, Outcome, Probe, Span

MAX_AUDIENCES = 64
ACTION_HOW = {
    "deny": "deny",
    "drop": "drop",
    "reset-client": "reset",
    "reset-server": "reset",
    "reset-both": "reset",
}

IPNet = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass
class Match:
    value: str
    why: str = ""


class PanosRuleset:
    dialect = "panos"

    def __init__(self, config: PanosConfig, catalog: Catalog, apps: AppCatalog):
        self.config = config
        self.path = config.path
        self.problems = config.problems
        self.catalog = catalog
        self.apps = apps
        self.statements = config.statements
        self.understood = config.understood
        self.first_statement: Span | None = None
        # Per-ruleset memo tables (the walk repeats the same questions for every probe): the
        # rules a client can reach at all, and what a rule's application criterion says of an
        # App-ID (the Matcher keeps those of names and groups).
        self._reachable: dict[Client, list[tuple[int, dict[str, str]]]] = {}
        self._app_memo: dict[tuple[int, int, str], str] = {}
        self.match = Matcher(catalog, apps)
        self._clients = self._make_clients()
        self._by_key = {self._audience(c).key: c for c in self._clients}

    # ------------------------------------------------------------------ audiences
    def _zone_pairs(self, scope: Scope) -> list[tuple[str | None, str | None]]:
        named = set(scope.zones)
        for r in scope.rules:
            named.update(z for z in (*r.from_zones, *r.to_zones) if z != ANY)
        if not named:
            return [(None, None)]
        egress = {scope.zone_interfaces[i] for i in scope.egress_interfaces if i in scope.zone_interfaces}
        egress = egress or {z for z in scope.nat_egress_zones if z in named}
        zones = sorted(named)
        if len(zones) == 1:
            return [(zones[0], zones[0])]
        if egress:
            return [(s, e) for e in sorted(egress) for s in zones if s not in egress]
        # Which zone faces the internet is not in the config (no default route, no source
        # NAT): every zone-to-zone path is a way out; paths with no web access are no audience.
        return [(s, d) for s in zones for d in zones if s != d]

    def _make_clients(self) -> list[Client]:
        out: list[Client] = []
        for index, scope in enumerate(self.config.scopes):
            enabled = [r for r in scope.rules if not r.disabled]
            schedules = sorted({r.schedule for r in enabled if r.schedule})[:3]
            for from_zone, to_zone in self._zone_pairs(scope):
                # The sources and users that rules for this zone name tell its clients apart.
                here = [
                    r
                    for r in enabled
                    if from_zone is None or ANY in r.from_zones or from_zone in r.from_zones
                ]
                sources = sorted({s for r in here for s in r.sources if s != ANY})[:6]
                users = sorted({u for r in here for u in r.users if u != ANY and u not in USER_KEYWORDS})[:4]
                for source in [*sources, None]:
                    for user in [*users, None]:
                        for schedule in [*schedules, None]:
                            out.append(Client(index, from_zone, to_zone, source, user, schedule))
                            if len(out) >= MAX_AUDIENCES:
                                return out
        return out or [Client(0, None, None, None, None, None)]

    def _audience(self, client: Client) -> Audience:
        scope = self.config.scopes[client.scope] if self.config.scopes else None
        words: list[str] = []
        if scope is not None and len(self.config.scopes) > 1:
            words.append(scope.name)
        if client.from_zone is not None:
            words.append(f"zone {client.from_zone}" + (f" to {client.to_zone}" if client.to_zone else ""))
        enabled = [
            r
            for r in (scope.rules if scope else [])
            if not r.disabled
            and (client.from_zone is None or ANY in r.from_zones or client.from_zone in r.from_zones)
        ]
        if client.source is not None:
            words.append(f"source {client.source}")
        elif any(s != ANY for r in enabled for s in r.sources):
            words.append("other sources")
        if client.user is not None:
            words.append(f"user {client.user}")
        elif any(u != ANY for r in enabled for u in r.users):
            words.append("other users")
        if client.schedule is not None:
            words.append(f"during schedule {client.schedule}")
        elif any(r.schedule for r in enabled):
            words.append("outside schedules")
        attributes = []
        if client.from_zone:
            attributes.append(("zone", client.from_zone))
        if client.user:
            attributes.append(("user", client.user))
        return Audience(
            key=(client.scope, client.from_zone, client.to_zone, client.source, client.user, client.schedule),
            conditions=tuple(words),
            attributes=tuple(attributes),
        )

    def audiences(self) -> Sequence[Audience]:
        return [self._audience(c) for c in self._clients]

    # ------------------------------------------------------------------ evaluation
    def evaluate(self, probe: Probe, audience: Audience) -> Decision:
        client = self._by_key.get(audience.key) or self._clients[0]
        if not self.config.scopes:
            return Decision(Outcome.UNKNOWN, note="no policy was read")
        scope = self.config.scopes[client.scope]
        if not scope.rules and not scope.complete:
            # A part of a configuration with no security rule (objects, interfaces): the
            # rules that decide are elsewhere.
            return Decision(
                Outcome.UNKNOWN,
                scope.span,
                (scope.span,),
                note="this file holds no security rules; the policy that applies is elsewhere",
            )
        decision = self._evaluate(scope, client, probe)
        if scope.managed_by is not None:
            # Panorama's pushed pre-rules come first and may decide anything: the local
            # answer is reported, but it is not the device's final one.
            local = f"{decision.outcome.value} ({_rule_name(decision)})"
            return Decision(
                Outcome.UNKNOWN,
                decision.rule or scope.managed_by,
                (*decision.trace, scope.managed_by),
                note=f"the local rules say {local}, but Panorama ({scope.managed_by.text}) pushes "
                "pre- and post-rules around them that are not in this file",
            )
        return decision

    def _evaluate(self, scope: Scope, client: Client, probe: Probe) -> Decision:
        # The rules whose destination criterion can decide for this client and request: those
        # the client reaches whose application criterion may match one of the App-IDs the walk
        # asks about (the request's, its sub-apps', its use-applications').
        apps = (
            set(self.candidates(probe))
            | set(self.apps.subs.get(probe.service or "", ()))
            | set(GENERIC.values())
        )
        by_address = []
        for index, _parts in self._reachable_rules(scope, client):
            rule = scope.rules[index]
            if rule.destinations == (ANY,):
                continue
            if any(self._app_part(scope, index, rule, app) != NO for app in apps):
                by_address.append(rule)
        if not by_address:
            return self._decide(scope, client, probe, None)
        cache: dict[tuple[str, ...], Decision] = {}

        def decide_one(target: Target) -> Decision:
            # Hundreds of sample addresses, few distinct answers: the walk depends on the
            # address only through the destination criteria, so it is done once per pattern.
            pattern = tuple(self.match.destinations(scope, r, probe, target) for r in by_address)
            if pattern not in cache:
                cache[pattern] = self._decide(scope, client, probe, target)
            return cache[pattern]

        return decide_by_address(probe, self.catalog, decide_one)

    def candidates(self, probe: Probe) -> list[str]:
        """The App-IDs the firewall may identify this request as (apps.py)."""
        generic = GENERIC.get(probe.scheme, "ssl")
        if probe.is_control:
            return [generic]
        base = self.apps.base.get(probe.service or "")
        if base is None:
            return [generic, UNLISTED]
        if probe.role == "primary":
            return [base]
        return [base, generic]

    def _decide(self, scope: Scope, client: Client, probe: Probe, target: Target | None) -> Decision:
        decisions = [
            (app, self._walk(scope, client, probe, app, target, 0)) for app in self.candidates(probe)
        ]
        outcomes = {d.outcome for _a, d in decisions}
        if len(outcomes) > 1:
            first = next(d for _a, d in decisions if d.outcome != Outcome.ALLOW) if decisions else None
            apps = " or ".join(a for a, _d in decisions)
            parts = "; ".join(f"as {a}: {d.outcome.value} ({_rule_name(d)})" for a, d in decisions)
            return Decision(
                Outcome.UNKNOWN,
                first.rule if first else None,
                tuple(dict.fromkeys(s for _a, d in decisions for s in d.trace)),
                note=f"PAN-OS may identify {probe.host} as {apps}, which the rules treat differently: {parts}",
            )
        decision = decisions[0][1]
        if decision.outcome == Outcome.ALLOW and probe.role == "primary" and probe.service:
            return self._functions(scope, client, probe, target, decision)
        return decision

    def _functions(
        self, scope: Scope, client: Client, probe: Probe, target: Target | None, base: Decision
    ) -> Decision:
        """The site opens (its base App-ID is allowed): its sub-apps and dependencies decide
        whether all of it works."""
        service = probe.service or ""
        base_app = self.apps.base.get(service, "")
        for sub in self.apps.subs.get(service, ()):
            d = self._walk(scope, client, probe, sub, target, 0)
            if d.outcome == Outcome.DENY:
                return replace(
                    d,
                    partial=True,
                    trace=tuple(dict.fromkeys((*base.trace, *d.trace))),
                    note=f"App-ID {sub} (a function of the site) denied; {base_app} allowed by "
                    f"{_rule_name(base)}: the site opens without it",
                )
            if d.outcome == Outcome.UNKNOWN:
                return replace(d, note=f"App-ID {sub} (a function of the site): {d.note}")
        attrs = self.apps.attributes.get(base_app)
        generic = GENERIC.get(probe.scheme, "ssl")
        if attrs and generic in attrs.use_applications:
            d = self._walk(scope, client, probe, generic, target, 0)
            # Only a rule that denies the dependency counts; the default deny of an App-ID
            # nobody allowed is what PAN-OS's commit warning is about, not a block.
            defaults = {r.span for r in scope.defaults.values()}
            if d.outcome == Outcome.DENY and d.rule is not None and d.rule not in defaults:
                return replace(
                    d,
                    partial=True,
                    trace=tuple(dict.fromkeys((*base.trace, *d.trace))),
                    note=f"{base_app} depends on {generic} (its use-applications), which "
                    f"{_rule_name(d)} denies: parts of the site that run over it fail",
                )
        return base

    def _walk(
        self, scope: Scope, client: Client, probe: Probe, app: str, target: Target | None, start: int
    ) -> Decision:
        """First match, three-valued: rules that may match are set aside until a rule that
        certainly matches (or the default) decides, then folded back from the last one (a loop,
        not recursion: rulebases hold thousands of rules)."""
        pending: list[tuple[SecurityRule, Decision, Match]] = []
        final: Decision | None = None
        local = scope.local_missing is not None and scope.local_index >= start
        for index, client_parts in self._reachable_rules(scope, client):
            if index < start:
                continue
            if local and index >= scope.local_index:
                break
            rule = scope.rules[index]
            match = self._match(scope, index, rule, client_parts, probe, app, target)
            if match.value == NO:
                continue
            decided = self._act(scope, rule, probe, app, match)
            if match.value == YES:
                final = decided
                break
            pending.append((rule, decided, match))
        if final is None and local and scope.local_missing is not None:
            final = Decision(
                Outcome.UNKNOWN,
                scope.local_missing,
                (scope.local_missing,),
                note="the managed firewall's local rules (not in a Panorama export) decide what "
                "the pre-rules leave",
            )
        rest = final or self._default(scope, client, probe, app)
        for rule, decided, match in reversed(pending):
            if rest.outcome == decided.outcome and decided.outcome != Outcome.UNKNOWN:
                note = f"{match.why}; if it does not, {_rule_name(rest)} does the same"
                rest = replace(decided, trace=(*decided.trace, *rest.trace), note=note)
            else:
                rest = Decision(
                    Outcome.UNKNOWN,
                    rule.span,
                    (rule.span, *rest.trace),
                    note=f"{match.why}: {decided.outcome.value} if it does, {rest.outcome.value} "
                    f"({_rule_name(rest)}) if not",
                )
        return rest

    def _default(self, scope: Scope, client: Client, probe: Probe, app: str) -> Decision:
        intrazone = client.from_zone is not None and client.from_zone == client.to_zone
        name = "intrazone-default" if intrazone else "interzone-default"
        rule = scope.defaults.get(name)
        if rule is None:
            action = "allow" if intrazone else "deny"
            outcome = Outcome.ALLOW if intrazone else Outcome.DENY
            return Decision(
                outcome,
                None,
                (),
                how=_how(ACTION_HOW.get(action, ""), app),
                note=f"predefined {name} ({action})",
            )
        return self._act(scope, rule, probe, app, Match(YES))

    def _act(self, scope: Scope, rule: SecurityRule, probe: Probe, app: str, match: Match) -> Decision:
        specific = rule.applications != (ANY,) or rule.categories != (ANY,) or rule.destinations != (ANY,)
        what = f"App-ID {app}" if app != UNLISTED else "an App-ID the catalog does not list"
        if rule.action == "unknown":
            return Decision(Outcome.UNKNOWN, rule.span, (rule.span,), note="the rule's action is not known")
        if rule.action != "allow":
            return Decision(
                Outcome.DENY,
                rule.span,
                (rule.span,),
                specific=specific,
                how=_how(ACTION_HOW.get(rule.action, rule.action), app),
                note=f"{what} matched {_name(rule)} ({rule.action})",
            )
        allowed = Decision(
            Outcome.ALLOW, rule.span, (rule.span,), specific=specific, note=f"{what} matched {_name(rule)}"
        )
        return self._profiles(scope, rule, probe, allowed)

    def _profiles(self, scope: Scope, rule: SecurityRule, probe: Probe, allowed: Decision) -> Decision:
        names = list(rule.url_profiles)
        trace = [rule.span]
        for group in rule.profile_groups:
            pg = scope.profile_groups.get(group)
            if pg is None:
                if group == "default" and not scope.profile_groups:
                    continue
                return Decision(
                    Outcome.UNKNOWN,
                    rule.span,
                    (rule.span,),
                    note=f"profile group {group!r} is not defined in this file",
                )
            trace.append(pg.span)
            names.extend(pg.url_filtering)
        for name in names:
            profile = scope.url_profiles.get(name)
            if profile is None:
                if name == "default":
                    # The predefined `default` profile's actions are the vendor's and change
                    # with content updates: not modelled.
                    return Decision(
                        Outcome.UNKNOWN,
                        rule.span,
                        tuple(trace),
                        note="the predefined url-filtering profile 'default' is not modelled",
                    )
                return Decision(
                    Outcome.UNKNOWN,
                    rule.span,
                    tuple(trace),
                    note=f"url-filtering profile {name!r} is not defined in this file",
                )
            verdict = urlfilter.decide(profile, probe, scope.custom_categories, self.apps.url_categories)
            chain = [*trace, profile.span]
            if verdict.category in scope.custom_categories:
                chain.append(scope.custom_categories[verdict.category].span)
            where = f"url-filtering profile '{profile.name}'" + (
                f" category {verdict.category}" if verdict.category else ""
            )
            if verdict.action == "unknown":
                return Decision(Outcome.UNKNOWN, profile.span, tuple(chain), note=verdict.reason)
            if verdict.action in ("block", "override"):
                how = (
                    "url block page"
                    if verdict.action == "block"
                    else "override page (needs the override password)"
                )
                return Decision(
                    Outcome.DENY,
                    profile.span,
                    tuple(chain),
                    specific=True,
                    how=f"{how}, {_category(verdict.category)}",
                    note=f"{_name(rule)} allows it; {where}: {verdict.action}",
                )
            if verdict.action == "continue":
                return Decision(
                    Outcome.DENY,
                    profile.span,
                    tuple(chain),
                    specific=True,
                    how=f"continue page: a warning the user can click through, {_category(verdict.category)}",
                    partial=True,
                    note=f"{_name(rule)} allows it; {where}: continue (a warning page the user can click through)",
                )
        return allowed

    # ------------------------------------------------------------------ matching
    def _reachable_rules(self, scope: Scope, client: Client) -> list[tuple[int, dict[str, str]]]:
        """The enabled rules whose zone, source, user and schedule criteria do not exclude the
        client, with what those criteria say."""
        found = self._reachable.get(client)
        if found is None:
            found = []
            for index, rule in enumerate(scope.rules):
                if rule.disabled:
                    continue
                parts = {
                    "zone": self.match.zones(rule, client),
                    "source": self.match.sources(scope, rule, client),
                    "user": self.match.users(rule, client),
                    "schedule": self.match.schedule(rule, client),
                }
                for part, values in (
                    ("zone", (*rule.from_zones, *rule.to_zones)),
                    ("source", rule.sources),
                    ("user", rule.users),
                ):
                    if parts[part] != YES and computed(values):
                        parts[part] = MAYBE
                if NO not in parts.values():
                    found.append((index, parts))
            self._reachable[client] = found
        return found

    def _app_part(self, scope: Scope, index: int, rule: SecurityRule, app: str) -> str:
        key = (id(scope), index, app)
        if key not in self._app_memo:
            value = self.match.applications(scope, rule.applications, app, 0)
            self._app_memo[key] = MAYBE if value != YES and computed(rule.applications) else value
        return self._app_memo[key]

    def _match(
        self,
        scope: Scope,
        index: int,
        rule: SecurityRule,
        client_parts: dict[str, str],
        probe: Probe,
        app: str,
        target: Target | None,
    ) -> Match:
        parts = dict(client_parts)
        parts["application"] = self._app_part(scope, index, rule, app)
        if parts["application"] == NO:
            return Match(NO)
        criteria = (
            ("service", rule.services, lambda: self.match.services(scope, rule, probe, app)),
            (
                "category",
                rule.categories,
                lambda: any_of(
                    [
                        tri(
                            urlfilter.category_matches(
                                c, probe, scope.custom_categories, self.apps.url_categories
                            )
                        )
                        for c in rule.categories
                    ]
                ),
            ),
            ("destination", rule.destinations, lambda: self.match.destinations(scope, rule, probe, target)),
        )
        for part, values, judge in criteria:
            value = judge()
            # A value Terraform computes (`${...}`): the criterion may match anything.
            parts[part] = MAYBE if value != YES and computed(values) else value
            if parts[part] == NO:
                return Match(NO)
        if rule.not_modelled:
            parts["not-modelled"] = MAYBE
        value = all_of(list(parts.values()))
        why = ""
        if value == MAYBE:
            unsure = [k for k, v in parts.items() if v == MAYBE]
            why = f"whether {_name(rule)} matches ({', '.join(unsure)}) is not known"
            if "application" in unsure:
                why += f": {', '.join(rule.applications)} may or may not identify {app}"
            if "not-modelled" in unsure:
                why += f" ({', '.join(rule.not_modelled)} not evaluated)"
        return Match(value, why)

    # ------------------------------------------------------------------ inert definitions
    def inert_mentions(self, probe: Probe) -> list[Span]:
        """URL profiles, custom categories and application groups that would act on the
        service but that no rule (or profile group, or default rule) uses."""
        if probe.service is None:
            return []
        out: list[Span] = []
        for scope in self.config.scopes:
            rules = [*scope.rules, *scope.defaults.values()]
            used_groups = {g for r in rules for g in r.profile_groups}
            used_profiles = {p for r in rules for p in r.url_profiles}
            used_profiles |= {
                p
                for name, pg in scope.profile_groups.items()
                if name in used_groups
                for p in pg.url_filtering
            }
            for name, profile in scope.url_profiles.items():
                if name in used_profiles:
                    continue
                verdict = urlfilter.decide(profile, probe, scope.custom_categories, self.apps.url_categories)
                if verdict.action in ("block", "override", "continue"):
                    out.append(profile.span)
            used_categories = {c for r in rules for c in r.categories}
            used_categories |= {c for p in scope.url_profiles.values() for c, _a in p.actions}
            for name, cat in scope.custom_categories.items():
                if name not in used_categories and urlfilter.custom(cat, probe, ()) is True:
                    out.append(cat.span)
            used_apps = {a for r in rules for a in r.applications}
            used_apps |= {m for g in scope.app_groups.values() for m in g.members}
            for name, group in scope.app_groups.items():
                if name in used_apps:
                    continue
                if any(self.apps.service_of(m) == probe.service for m in group.members):
                    out.append(group.span)
        return sorted(set(out))


def _category(name: str) -> str:
    return name if name in ("block-list", "allow-list") else f"category {name}"


def _how(action: str, app: str) -> str:
    """How the device refuses, and the App-ID it identified (what the finding names)."""
    return f"{action}, App-ID {app}" if app != UNLISTED else action


def _name(rule: SecurityRule) -> str:
    return f"rule '{rule.name}'"


def _rule_name(decision: Decision) -> str:
    if decision.rule is None:
        return decision.note.split(" (")[0] if decision.note.startswith("predefined") else "the default"
    return f"'{decision.rule.text}'" if decision.rule.text else f"line {decision.rule.line}"

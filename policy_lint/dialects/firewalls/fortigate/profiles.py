"""The security profiles of an accepting FortiGate policy, judged for one request: the web
filter (static URL filter, then FortiGuard categories), the application list and the DNS filter
(the package docstring states their semantics)."""

from __future__ import annotations

from dataclasses import replace
from fnmatch import fnmatchcase

from policy_lint.catalog import PRIMARY, Catalog
from policy_lint.dialects.firewalls.fortigate.model import (
    BLOCKING,
    AppList,
    DnsProfile,
    FtgdFilter,
    Policy,
    UrlEntry,
    Vdom,
    WebProfile,
)
from policy_lint.dialects.semantics.patterns import BoundedPattern, PatternError
from policy_lint.model import Decision, Outcome, Probe, Problem, Span

Tri = bool | None

SOCIAL_NETWORKING = "37"  # FortiGuard category 37 (catalog/vendor_names.yaml, confidence high)
# FortiGuard categories whose published names (data/sources/fortiguard-webfilter-categories.yaml)
# can take in a social service's CDN, API, login, short-link, messaging, ad or analytics host,
# whose own rating the catalog does not hold: a block of one of these is `unknown` for such a
# host. The other published categories (adult, drugs, gambling, malware, ...) are another topic;
# an ID outside the published list has no known meaning and counts as "may take it in".
MAY_RATE_SUPPORTING = frozenset(
    str(n)
    for n in (0, 17, 24, 25, 28, 34, 36, 37, 41, 49, 52, 54, 56, 68, 69, 70, 76, 80, 81, 82, 84, 94, 95)
)
# Published ids: 0-95 but for the numbers the list skips.
# Local categories (`webfilter ftgd-local-cat`, IDs 140-191 per the FortiOS CLI reference) hold
# only the URLs the config's own `ftgd-local-rating` puts there: a host none of them rates is in none.
LOCAL_CATEGORIES = frozenset(str(n) for n in range(140, 192))
PUBLISHED = frozenset(str(n) for n in range(96) if n not in (10, 21, 22, 27, 32, 45, 60, 73, 74))


class Profiles:
    """Judges profiles against probes; regexes compiled once, problems reported once."""

    def __init__(self, catalog: Catalog, problems: list[Problem]) -> None:
        self.catalog = catalog
        self.problems = problems
        self._patterns: dict[str, BoundedPattern | None] = {}

    def problem(self, code: str, span: Span, message: str) -> None:
        p = Problem(code, span, message)
        if p not in self.problems:
            self.problems.append(p)

    def rating(self, v: Vdom, probe: Probe) -> tuple[str, tuple[str, ...], Span | None]:
        """("known", categories, local-rating span) | ("neutral", (), None) | ("unknown", (), None)."""
        host = probe.host.lower()
        for name, (rating, span) in v.local_ratings.items():
            url = name.split("://")[-1]
            rhost, _, rpath = url.partition("/")
            if (host == rhost or host.endswith("." + rhost)) and (
                not rpath or probe.path.lstrip("/").startswith(rpath)
            ):
                return "known", rating, span
        if probe.service is None:
            return "neutral", (), None
        svc = self.catalog.services.get(probe.service)
        if probe.role == PRIMARY and svc is not None and any(d.source != "policy" for d in svc.domains):
            return "known", (SOCIAL_NETWORKING,), None
        return "unknown", (), None

    def ftgd(
        self,
        v: Vdom,
        filters: list[FtgdFilter],
        probe: Probe,
        owner: Span,
        label: str,
        quotas: list[tuple[tuple[str, ...], Span, str]] | None = None,
    ) -> Decision | None:
        kind, rating, local = self.rating(v, probe)
        extra = (local,) if local else ()
        if kind == "known":
            for f in filters:
                if f.category in rating:
                    text = _category_text(f.category)
                    span = replace(f.span, text=f"{label} -> category {text}, action {f.action}")
                    trace = (owner, *extra, span)
                    if f.action == "block":
                        return Decision(Outcome.DENY, span, trace, specific=True, how="FortiGuard category")
                    if f.action == "warning":
                        return Decision(
                            Outcome.DENY,
                            span,
                            trace,
                            specific=True,
                            how="warning page",
                            partial=True,
                            note="action warning: a click-through page; users who click Proceed get through",
                        )
                    if f.action == "authenticate":
                        groups = " ".join(f.groups) or "the override groups"
                        return Decision(
                            Outcome.DENY,
                            span,
                            trace,
                            specific=True,
                            how="authenticate",
                            partial=True,
                            note=f"action authenticate: users of {groups} who log in get through",
                        )
                    for categories, qspan, amount in quotas or []:
                        if f.category in categories:
                            # A quota lets each user in for so long (or so much), then blocks.
                            qtext = f"{label} -> category {text} quota {amount}"
                            quota_span = replace(qspan, text=qtext)
                            return Decision(
                                Outcome.DENY,
                                quota_span,
                                (*trace, quota_span),
                                specific=True,
                                how="quota",
                                partial=True,
                                note=f"a FortiGuard quota ({amount}): blocked once a user has used it up",
                            )
                    return Decision(Outcome.ALLOW, span, trace, specific=False)
            return None
        if kind == "neutral":
            return None
        unsure = [
            f
            for f in filters
            if f.action in ("block", "warning", "authenticate")
            and (f.category in MAY_RATE_SUPPORTING or f.category not in PUBLISHED)
            and f.category not in LOCAL_CATEGORIES
        ]
        if unsure:
            f = unsure[0]
            span = replace(
                f.span, text=f"{label} -> category {_category_text(f.category)}, action {f.action}"
            )
            return Decision(
                Outcome.UNKNOWN,
                span,
                (owner, span),
                note=f"the FortiGuard rating of {probe.host} is not in the catalog; category "
                f"{_category_text(f.category)} may hold it",
            )
        return None

    def ssl_sight(self, v: Vdom, p: Policy, probe: Probe) -> str:
        """What the device sees of the request: url (whole), host, host-at-least (a custom profile
        that does not say how it inspects HTTPS), or unknown."""
        if probe.scheme == "http":
            return "url"
        mode = v.ssl_mode(p.ssl.name) if p.ssl else "none"
        return {"deep": "url", "certificate": "host", "host-at-least": "host-at-least"}.get(
            mode or "", "unknown"
        )

    def webfilter(self, v: Vdom, p: Policy, probe: Probe) -> Decision | None:
        assert p.webfilter is not None
        prof = v.webfilters.get(p.webfilter.name)
        if prof is None:
            return Decision(
                Outcome.UNKNOWN,
                p.webfilter.span,
                (p.webfilter.span,),
                note=f"webfilter profile {p.webfilter.name!r} is not in this file",
            )
        label = f"{p.label()} (line {p.span.line}) -> webfilter-profile {prof.name!r}"
        sight = self.ssl_sight(v, p, probe)
        d = self.webfilter_decision(v, prof, probe, sight, p.inspection_mode or "flow", label)
        if sight == "unknown" and d is not None and d.outcome != Outcome.ALLOW:
            why = f"ssl-ssh-profile {p.ssl.name!r}" if p.ssl else "no ssl-ssh-profile"
            return Decision(
                Outcome.UNKNOWN,
                d.rule,
                d.trace,
                note=f"{why}: whether the web filter sees this HTTPS request is not modelled",
            )
        return d

    def webfilter_decision(
        self, v: Vdom, prof: WebProfile, probe: Probe, sight: str, mode: str, label: str
    ) -> Decision | None:
        trace: tuple[Span, ...] = (prof.span,)
        if prof.urltable is not None:
            table = v.urltables.get(prof.urltable.name)
            if table is None:
                return Decision(
                    Outcome.UNKNOWN,
                    prof.urltable.span,
                    (prof.span, prof.urltable.span),
                    note="URL filter not defined",
                )
            proxy = (prof.inspection_mode or mode) == "proxy"
            for e in table.entries:
                if not e.enabled:
                    continue
                hit = self.url_match(e, probe, sight, proxy, table.include_subdomains)
                if hit is False:
                    continue
                span = replace(
                    e.span,
                    text=f"{label} -> urlfilter {table.id} entry {e.url!r} ({e.kind}), action {e.action}",
                )
                if hit is None:
                    return Decision(
                        Outcome.UNKNOWN,
                        span,
                        (*trace, table.span, span),
                        note=f"whether URL filter entry {e.url!r} matches is unknown"
                        + (" (referrer-host)" if e.referrer else " (pattern ran out of time)"),
                    )
                if e.action == "block":
                    return Decision(
                        Outcome.DENY, span, (*trace, table.span, span), specific=True, how="URL filter"
                    )
                if e.action == "exempt":
                    return Decision(Outcome.ALLOW, span, (*trace, table.span, span), specific=True)
                # allow/monitor: let through to the FortiGuard category check
                trace = (*trace, table.span, span)
                break
        d = self.ftgd(v, prof.filters, probe, prof.span, label, prof.quotas)
        if d is not None:
            return replace(d, trace=(*trace, *d.trace[1:]))
        if len(trace) > 1:
            return Decision(Outcome.ALLOW, trace[-1], trace, specific=True)
        return None

    def url_match(self, e: UrlEntry, probe: Probe, sight: str, proxy: bool, subdomains: bool) -> Tri:
        if e.referrer:
            return None
        host = probe.host.lower()
        path = probe.path if sight == "url" else "/"
        url = e.url.lower().split("://")[-1]
        if e.kind == "regex":
            pattern = self.pattern(e)
            if pattern is None:
                return None
            return pattern.search(host + path)
        ehost, slash, epath = url.partition("/")
        epath = slash + epath
        if epath not in ("", "/") and sight == "host-at-least":
            return None  # a path, and whether the profile decrypts enough to see it is unknown
        if epath not in ("", "/") and sight != "url":
            return False  # a path the device does not see (HTTPS without deep inspection)
        if e.kind == "wildcard":
            seen = host + path if epath not in ("", "/") else host
            glob = url if epath not in ("", "/") else ehost
            return fnmatchcase(seen, glob)
        if proxy:
            hosted = host == ehost or (subdomains and host.endswith("." + ehost))
            return hosted and (epath in ("", "/") or epath in path)
        return url.rstrip("/") in (host + path)

    def pattern(self, e: UrlEntry) -> BoundedPattern | None:
        if e.url not in self._patterns:
            try:
                self._patterns[e.url] = BoundedPattern.compile(e.url, ignore_case=True)
            except PatternError as exc:
                self.problem("TE905", e.span, str(exc))
                self._patterns[e.url] = None
        return self._patterns[e.url]

    def applist(self, v: Vdom, p: Policy, probe: Probe) -> Decision | None:
        assert p.applist is not None
        app = v.applists.get(p.applist.name)
        if app is None:
            return Decision(
                Outcome.UNKNOWN,
                p.applist.span,
                (p.applist.span,),
                note=f"application list {p.applist.name!r} is not in this file",
            )
        return self.applist_decision(app, p)

    def applist_decision(self, app: AppList, p: Policy) -> Decision | None:
        label = f"{p.label()} (line {p.span.line}) -> application-list {app.name!r}"
        for e in app.entries:
            if e.action in BLOCKING:
                span = replace(e.span, text=f"{label} -> entry {e.what}, action {e.action}")
                self.problem(
                    "TE908",
                    e.span,
                    f"application list {app.name!r} entry ({e.what}) {e.action}s application IDs with no cited "
                    "meaning: whether they cover a service is unknown",
                )
                return Decision(
                    Outcome.UNKNOWN,
                    span,
                    (app.span, span),
                    note="FortiGuard application and category IDs are not in the catalog (none verified)",
                )
        if app.other_action in BLOCKING:
            span = replace(
                app.other_span or app.span, text=f"{label} -> other-application-action {app.other_action}"
            )
            return Decision(
                Outcome.UNKNOWN,
                span,
                (app.span, span),
                note="applications the list does not name are blocked; which IDs it names is not known",
            )
        return None

    def dns_profile(self, v: Vdom, prof: DnsProfile, p: Policy, probe: Probe) -> Decision | None:
        label = f"{p.label()} (line {p.span.line}) -> dnsfilter-profile {prof.name!r}"
        trace: tuple[Span, ...] = (p.span, prof.span)
        if prof.domaintable is not None:
            for e in v.domaintables.get(prof.domaintable.name, []):
                if not e.enabled:
                    continue
                hit: Tri
                host = probe.host.lower()
                dom = e.domain.lower().rstrip(".")
                if e.kind == "regex":
                    pat = self.pattern(UrlEntry(e.domain, "regex", e.action, e.span))
                    hit = pat.search(host) if pat else None
                elif e.kind == "wildcard":
                    hit = fnmatchcase(host, dom)
                else:
                    hit = host == dom or host.endswith("." + dom)
                if hit is False:
                    continue
                span = replace(
                    e.span, text=f"{label} -> domain-filter {e.domain!r} ({e.kind}), action {e.action}"
                )
                if hit is None:
                    return Decision(Outcome.UNKNOWN, span, (*trace, span), note="pattern ran out of time")
                if e.action == "block":
                    return Decision(Outcome.DENY, span, (*trace, span), specific=True, how="DNS filter")
                if e.action == "allow":
                    return None  # allowed: exempt from the category check
                break
        d = self.ftgd(v, prof.filters, probe, prof.span, label)
        if d is None or d.outcome == Outcome.ALLOW:
            return None
        how = "DNS filter" if d.outcome == Outcome.DENY and not d.partial else d.how
        return replace(d, trace=(p.span, *d.trace), how=how)


def _category_text(category: str) -> str:
    return f"{category} (Social Networking)" if category == SOCIAL_NETWORKING else category

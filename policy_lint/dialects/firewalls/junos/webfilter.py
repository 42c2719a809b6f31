"""Junos UTM (Content Security) web filtering, as a permitting policy applies it through
`application-services utm-policy NAME` -> `web-filtering http-profile PROFILE`.

The order: the global `url-blacklist` (block), the `url-whitelist` (permit), the profile's
`category NAME action ACTION` in order (a custom-url-category by its `custom-objects
url-pattern` values; a predefined category only as the vendor table cites it), the
`site-reputation-action` levels (Websense's rating of the site: unknown), then the profile's
`default` (permit when unset). `block` denies (a block page), `permit` and
`log-and-permit` pass, `quarantine` warns with a page the user may click through (partial).
`websense-redirect` (and SurfControl) profiles ask an external server: unknown. The profile
reads the URL of plain HTTP; of HTTPS only through an SSL forward proxy (`ssl-proxy`).

    url-pattern fbp { value [ "*.facebook.com" ]; }   custom-url-category social { value fbp; }
    juniper-local { profile wfp { category { social { action block; } } default permit; } }
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from fnmatch import fnmatchcase

from policy_lint.dialects.firewalls.junos.firstmatch import Step, Tri
from policy_lint.dialects.firewalls.junos.model import Policy, Utm, WebProfile
from policy_lint.dialects.firewalls.junos.vendor import VendorNames
from policy_lint.model import Decision, Outcome, Probe, Span


def _action(word: str, span: Span | None, trace: tuple[Span, ...], note: str) -> Decision:
    """A web-filtering action as a decision."""
    if word == "block":
        return Decision(Outcome.DENY, span, trace, True, "block page", note)
    if word in ("permit", "log-and-permit"):
        return Decision(Outcome.ALLOW, span, trace, True, note=note)
    if word == "quarantine":
        # The user sees a warning page and may click through: blocked for those who do not.
        return Decision(Outcome.DENY, span, trace, True, "click-through", note, partial=True)
    return Decision(Outcome.UNKNOWN, span, trace, False, note=f"action {word} is not evaluated")


@dataclass
class WebFilter:
    utm: Utm
    vendor: VendorNames

    def for_policy(self, pol: Policy, probe: Probe, trace: tuple[Span, ...], note: str) -> Decision | None:
        utm = self.utm
        bound = utm.policies.get(pol.utm_policy)
        if bound is None:
            return Decision(
                Outcome.UNKNOWN, pol.span, trace, note=f"{note}: utm-policy {pol.utm_policy} is not defined"
            )
        name, bind = bound
        if not name:
            return None  # the UTM policy filters no web traffic
        prof = utm.profile(name)
        trace = (*trace, bind)
        if prof is None:
            return Decision(
                Outcome.UNKNOWN, bind, trace, note=f"{note}: web-filtering profile {name} is not in this file"
            )
        seen = self._profile(prof, probe, trace, note)
        if probe.scheme == "http" or pol.ssl_proxy or seen.outcome == Outcome.ALLOW:
            return seen
        return replace(
            seen,
            outcome=Outcome.UNKNOWN,
            partial=False,
            note=f"{seen.note}; HTTPS without an SSL forward proxy (application-services ssl-proxy): what the "
            f"{prof.engine} profile sees of it (the server name, its address or nothing) is not documented alike "
            "for every release, so whether it applies is unknown",
        )

    def _profile(self, prof: WebProfile, probe: Probe, trace: tuple[Span, ...], note: str) -> Decision:
        """What the web-filtering profile does with the request when it sees its URL: the
        blocklist, then the allowlist, then the profile's categories in order, then its default."""
        utm = self.utm
        here = f"{note}, web-filtering {prof.engine} profile {prof.name}"
        if prof.engine in ("websense-redirect", "surf-control-integrated"):
            return Decision(
                Outcome.UNKNOWN,
                prof.span,
                (*trace, prof.span),
                note=f"{here}: the external Websense server decides",
            )
        step = Step()
        for cat, span in utm.blacklist:
            m, hit = self.custom_category(cat, probe)
            d = _action(
                "block", span, (*trace, span, *((hit,) if hit else ())), f"{here}: url-blacklist {cat}"
            )
            if m:
                return step.settle(d)
            if m is None:
                step.passed.append(d)
        for cat, span in utm.whitelist:
            m, hit = self.custom_category(cat, probe)
            d = _action(
                "permit", span, (*trace, span, *((hit,) if hit else ())), f"{here}: url-whitelist {cat}"
            )
            if m:
                return step.settle(d)
            if m is None:
                step.passed.append(d)
        for cat, action, span in prof.categories:
            if cat in utm.categories:
                m, hit = self.custom_category(cat, probe)
            else:
                hit = None
                m = (probe.service is not None) if self.vendor.is_social_category(cat) else None
                if prof.engine == "juniper-local":
                    m = False  # a local profile has only the custom categories
            d = _action(
                action,
                span,
                (*trace, span, *((hit,) if hit else ())),
                f"{here}: category {cat} action {action}",
            )
            if m:
                return step.settle(d)
            if m is None:
                step.passed.append(
                    replace(d, note=f"{d.note} (which sites Juniper puts in {cat} is not in the catalog)")
                )
        for level, action, span in prof.reputation:
            # The site's reputation level comes from Websense with the category: not in the catalog.
            d = _action(action, span, (*trace, span), f"{here}: site-reputation-action {level} {action}")
            step.passed.append(replace(d, note=f"{d.note} (the site's reputation is Websense's data)"))
        if prof.default is not None:
            word, span = prof.default
            # The default action applies to whatever no list or category named: not service-specific.
            return step.settle(
                replace(_action(word, span, (*trace, span), f"{here}: default {word}"), specific=False)
            )
        return step.settle(
            Decision(
                Outcome.ALLOW,
                prof.span,
                (*trace, prof.span),
                note=f"{here}: no category names it; no default action set (permit)",
            )
        )

    def custom_category(self, cat: str, probe: Probe) -> tuple[Tri, Span | None]:
        """Does a custom-url-category hold the request's URL (and the pattern value that does)?"""
        utm = self.utm
        entry = utm.categories.get(cat)
        if entry is None:
            return None, None
        unsure = False
        for member in entry[0]:
            pat = utm.patterns.get(member)
            if pat is None:
                unsure = True
                continue
            for value, span in pat.values:
                m = _url_matches(value, probe)
                if m:
                    return True, span
                unsure = unsure or m is None
        return (None if unsure else False), None


def host_of(value: str) -> str:
    v = value.strip().lower()
    if "://" in v:
        v = v.split("://", 1)[1]
    return v.split("/", 1)[0].split(":", 1)[0]


def unsupported_wildcard(value: str) -> str:
    """Why Junos refuses a url-pattern's wildcard form ("" when it accepts it). Juniper's Web
    Filtering documentation (J-Web "Configuring Web Filtering Custom Objects", Junos 10.2 to
    15.1X49): wildcards need the `http://` prefix; `*` only at the start of the host, followed by
    a period; `?` only at the end. `http://*.juniper.net`, `http://www.juniper.ne?` are valid;
    `*.juniper.net`, `www.juniper.ne?`, `http://*juniper.net`, `http://*` are not."""
    v = value.strip().lower()
    if not any(c in v for c in "*?"):
        return ""
    if not v.startswith("http://"):
        return "a wildcard pattern must start with http://"
    rest = v[len("http://") :]
    if "*" in rest and (not rest.startswith("*.") or "*" in rest[1:]):
        return "'*' is allowed only at the start of the host, followed by a period"
    if "?" in rest.rstrip("?"):
        return "'?' is allowed only at the end"
    return ""


def _url_matches(value: str, probe: Probe) -> Tri:
    """A url-pattern value against the request: `http://www.x.com`, `http://*.x.com` (the names
    below x.com, not x.com itself), `http://www.x.co?`, `x.com/path`. The `http://` prefix is the
    documented syntax of a pattern, not a scheme test: the pattern applies to whatever URL the
    profile sees (HTTPS through an SSL forward proxy too). A form Junos refuses matches nothing
    certain (None)."""
    if unsupported_wildcard(value):
        return None
    v = value.strip().lower()
    if "://" in v:
        v = v.split("://", 1)[1]
    host, _slash, path = v.partition("/")
    host = host.split(":", 1)[0]
    target = probe.host.lower()
    hit = fnmatchcase(target, host) if any(c in host for c in "*?[") else target == host
    if hit and path and not probe.path.lstrip("/").startswith(path):
        hit = False
    return hit

"""Composition: one verdict per segment and service from the layers on the segment's path.

Each file on the path gives a layer verdict for the segment: the statuses of the file's
audiences that the segment's clients fall into (an audience whose representative client
address lies in one of the segment's CIDRs, or whose interface / zone / group is one the
segment names). When none does, the file's verdict still holds if every audience has the same
status; otherwise the layer is `unknown` for the segment (it tells clients apart and we cannot
tell which of them the segment's clients are).

Then, in path order (endpoint -> DNS -> proxy -> firewall):

- a DNS layer is void (`bypassed`) for a segment whose resolver is elsewhere (`resolver:` an
  address, or another file) and for a service it reaches by pinned address (`pinned:`); a
  firewall rule that matched a set filled by such a void DNS layer (dnsmasq `ipset=`) decides
  nothing certain for the segment: the set then holds only what other clients looked up, so
  that layer is `unknown`;
- a tunnel skips the layers it names for the services routed into it;
- blocked on any remaining layer -> blocked (the first such layer decides); otherwise partial
  blocks and undecided layers: `unknown` if any layer is undecided (it may block), else
  `blocked-partial`; degraded on one layer and throttled on another is `degraded` (users see
  broken pages, slowly); `allowed` when a layer names the service and lets it through;
  `unaffected` otherwise. A service routed into a tunnel whose remaining layers are clean is
  `allowed`, with a TE111 finding saying through which path.

Example: Pi-hole blocks facebook.com; the guest segment's DHCP hands out 9.9.9.9. The file
verdict stays `blocked`; the guest segment's network verdict is `unaffected`, and TE111 says
the Pi-hole rule does not apply to it.

Not modelled: a segment that only partly overlaps a config's client list (it takes the
audiences whose representative address it contains); the order of several firewalls (every
one on the path applies); NAT between layers beyond what the path says.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from pathlib import Path

from policy_lint.catalog import Catalog
from policy_lint.engine import AudienceResult, FileReport, Report, verdict_of
from policy_lint.model import Audience, Finding, Severity, Span, Verdict
from policy_lint.network.segments import Segment
from policy_lint.policy import Policy
from policy_lint.rules import CODES

ENDPOINT_DIALECTS = {"pac", "browser-policy", "firefox-policy", "hosts", "windows-batch"}
ROLE_ORDER = {"endpoint": 0, "dns": 1, "proxy": 2, "firewall": 3}
NAME_ATTRIBUTES = ("interface", "zone", "group", "user", "vlan", "iif")
BYPASSED = "bypassed"
CLEAN = {Verdict.UNAFFECTED, Verdict.ALLOWED}


def role_of(dialect: str) -> str:
    """endpoint | dns | proxy | firewall, from the dialect's package."""
    from policy_lint.dialects import HINTS

    if dialect in ENDPOINT_DIALECTS:
        return "endpoint"
    for module, (name, _patterns) in HINTS.items():
        if name == dialect:
            kind = module.split(".")[0]
            return {"dns": "dns", "proxies": "proxy", "firewalls": "firewall"}.get(kind, "proxy")
    return "proxy"


@dataclass(frozen=True)
class Layer:
    path: str  # the file as the report names it
    role: str
    verdict: str  # a Verdict value, or "bypassed"
    rule: Span | None = None
    note: str = ""


@dataclass
class ServiceOutcome:
    verdict: Verdict
    decided_by: Span | None
    layers: list[Layer]
    decided_layer: Layer | None = None


@dataclass
class SegmentResult:
    segment: Segment
    files: list[str]  # the path's files as the report names them, in order
    services: dict[str, ServiceOutcome] = field(default_factory=dict)


@dataclass
class Network:
    segments: list[SegmentResult]
    findings: list[Finding]


# ------------------------------------------------------------------ which audiences


def _inside(audience: Audience, segment: Segment) -> bool:
    src = audience.attribute("src")
    if src and segment.networks:
        try:
            ip = ipaddress.ip_address(src.split("/")[0])
        except ValueError:
            ip = None
        if ip is not None and any(ip.version == n.version and ip in n for n in segment.networks):
            return True
    names = {n.lower() for n in segment.names}
    if any(k in NAME_ATTRIBUTES and v.lower() in names for k, v in audience.attributes):
        return True
    # Dialects that name the input interface only in their words ("in eth1", iptables -i).
    return any(
        len(words := c.split()) == 2 and words[0] in ("in", "iif", "iifname") and words[1].lower() in names
        for c in audience.conditions
    )


def pick(results: list[AudienceResult], segment: Segment) -> tuple[list[AudienceResult], str]:
    """The audiences the segment's clients fall into, or ([], why) when that cannot be told."""
    inside = [r for r in results if _inside(r.audience, segment)]
    if inside:
        return inside, ""
    if len({r.status for r in results}) <= 1:
        return results, ""  # the file treats every client alike for this service
    told = sorted({r.audience.describe() for r in results})
    shown = ", ".join(told[:4]) + (f" and {len(told) - 4} more" if len(told) > 4 else "")
    return (
        [],
        f"the file tells clients apart ({shown}) and none of them is known to hold {segment.describe_clients()}",
    )


# ------------------------------------------------------------------ one layer


def _first_rule(results: list[AudienceResult], verdict: Verdict) -> tuple[Span | None, tuple[Span, ...]]:
    wanted = {
        Verdict.BLOCKED: ("blocked", "no-web"),
        Verdict.BLOCKED_PARTIAL: ("blocked", "partial", "no-web"),
        Verdict.UNKNOWN: ("unknown",),
        Verdict.THROTTLED: ("throttled",),
        Verdict.DEGRADED: ("degraded",),
        Verdict.ALLOWED: ("allowed",),
    }.get(verdict, ())
    for status in wanted:
        for r in results:
            if r.status == status:
                return r.rule, r.trace
    return None, ()


def _layer(
    fr: FileReport | None,
    shown: str,
    role: str,
    sid: str,
    segment: Segment,
    void: dict[str, str],
) -> tuple[Layer, Layer | None]:
    """(the layer for the segment, the layer as it would be without voiding) for one file."""
    if fr is None:
        return Layer(shown, role, Verdict.UNKNOWN.value, None, "no linted file at this end of the link"), None
    unsure = dict(segment.unsure).get(Path(fr.path).resolve())
    if unsure:
        return Layer(shown, role, Verdict.UNKNOWN.value, None, unsure), None
    results = fr.audience_results.get(sid, [])
    if not results:
        return Layer(shown, role, Verdict.UNKNOWN.value, None, "the file gave no verdict"), None
    if role == "dns" and not segment.resolver_resolved:
        note = f"the segment's resolver {segment.resolver} is no DNS server of this repository"
        return Layer(shown, role, Verdict.UNKNOWN.value, None, note), None
    picked, why = pick(results, segment)
    if not picked:
        return Layer(shown, role, Verdict.UNKNOWN.value, None, why), None
    # An interception rule left undecided by the firewall's dialect ("the proxy decides") is
    # decided here when it links to a proxy on the segment's path: that proxy is its own layer.
    handed = {span for span, _proxy, _https in segment.links}
    picked = [
        AudienceResult(r.audience, "ok", None, ()) if r.status == "unknown" and r.rule in handed else r
        for r in picked
    ]
    verdict = verdict_of(r.status for r in picked)
    rule, trace = _first_rule(picked, verdict)
    note = ""
    resolved_path = Path(fr.path).resolve()
    taken = [https for _span, proxy, https in segment.links if proxy == resolved_path]
    if taken and not any(taken) and verdict in (Verdict.BLOCKED, Verdict.BLOCKED_PARTIAL):
        # Only port 80 is intercepted: HTTPS passes the proxy by, so its block holds for plain
        # HTTP only (browsers reach these sites over HTTPS).
        verdict = Verdict.BLOCKED_PARTIAL
        note = "only plain HTTP is intercepted to this proxy: HTTPS passes it by"
    own = Layer(shown, role, verdict.value, rule, note)
    resolved = str(Path(fr.path).resolve())
    if resolved in void and segment.resolver_resolved:
        return Layer(shown, role, BYPASSED, rule, void[resolved]), own
    # A rule matching a set that a void DNS layer fills holds only others' lookups.
    fed = [s for s in (rule, *trace) if s and str(Path(s.path).resolve()) in void]
    if fed and verdict not in CLEAN:
        note = f"the set is filled by {fed[0].where()}, which this segment's lookups may not pass"
        return Layer(shown, role, Verdict.UNKNOWN.value, fed[0], note), own
    return own, None


def combine(layers: list[Layer]) -> tuple[Verdict, Layer | None]:
    live = [x for x in layers if x.verdict != BYPASSED]
    for wanted, verdict in (
        ({Verdict.BLOCKED.value}, Verdict.BLOCKED),
        ({Verdict.UNKNOWN.value}, Verdict.UNKNOWN),
        ({Verdict.BLOCKED_PARTIAL.value}, Verdict.BLOCKED_PARTIAL),
        ({Verdict.DEGRADED.value}, Verdict.DEGRADED),
        ({Verdict.THROTTLED.value}, Verdict.THROTTLED),
        ({Verdict.ALLOWED.value}, Verdict.ALLOWED),
    ):
        hit = next((x for x in live if x.verdict in wanted), None)
        if hit is not None:
            return verdict, hit
    return Verdict.UNAFFECTED, None


# ------------------------------------------------------------------ the network


def _files_on(entry: Path, files: list[FileReport]) -> list[FileReport]:
    out = []
    for fr in files:
        p = Path(fr.path).resolve()
        if p == entry or entry in p.parents:
            out.append(fr)
    return sorted(out, key=lambda fr: (ROLE_ORDER[role_of(fr.dialect)], fr.path)) if len(out) > 1 else out


def _void_dns(segment: Segment, sid: str, layers: list[tuple[FileReport, str]]) -> dict[str, str]:
    void: dict[str, str] = {}
    for fr, role in layers:
        if role != "dns":
            continue
        p = Path(fr.path).resolve()
        if not segment.resolver_resolved:
            # Which resolver the clients ask is unknown: the DNS layer itself is unknown (see
            # _layer); marked here so that a set it fills counts as unsure too.
            void[str(p)] = f"the segment's resolver {segment.resolver} is no DNS server of this repository"
            continue
        if sid in segment.pinned:
            void[str(p)] = "the segment reaches this service by pinned address (no DNS lookup)"
        elif segment.resolver and not segment.resolver.startswith("/"):
            void[str(p)] = f"the segment's resolver is {segment.resolver}, not this file"
        elif segment.resolver:
            r = Path(segment.resolver)
            if not (p == r or r in p.parents):
                void[str(p)] = f"the segment's resolver is {segment.resolver}, not this file"
    return void


def compose(report: Report, segments: list[Segment], catalog: Catalog, policy: Policy) -> Network:
    findings: list[Finding] = []
    results: list[SegmentResult] = []
    for seg in segments:
        on_path: list[tuple[FileReport | None, str, str]] = []  # (file, shown, role)
        for i, entry in enumerate(seg.path):
            found = _files_on(entry, report.files)
            span = seg.path_spans[i] if i < len(seg.path_spans) else seg.span
            if not found:
                findings.append(
                    Finding(
                        "TE903",
                        CODES["TE903"].severity,
                        span,
                        f"segment {seg.name!r}: its path names {span.text or entry}, which is no linted "
                        f"file: the link from {span.where()} to {entry} is unresolved, so the verdicts "
                        f"of the segment that this layer could decide are unknown",
                        None,
                        (seg.name,),
                    )
                )
                on_path.append((None, span.text or str(entry), "unknown"))
            for fr in found:
                on_path.append((fr, fr.path, role_of(fr.dialect)))
        for rule, target in seg.dangling:
            findings.append(
                Finding(
                    "TE903",
                    CODES["TE903"].severity,
                    rule,
                    f"segment {seg.name!r}: this rule sends its web traffic to {target}, where no "
                    f"linted proxy listens with intercept (a portal or proxy outside the repository): "
                    f"the link is unresolved, so its verdicts are unknown",
                    None,
                    (seg.name,),
                )
            )
            on_path.append((None, f"{target} (from {rule.where()})", "proxy"))
        if not seg.resolver_resolved:
            span = seg.resolver_span or seg.span
            findings.append(
                Finding(
                    "TE903",
                    CODES["TE903"].severity,
                    span,
                    f"segment {seg.name!r}: the resolver {seg.resolver} handed out at {span.where()} is "
                    f"no DNS server of this repository (no linted config listens on it): the link is "
                    f"unresolved, so its DNS layers are unknown",
                    None,
                    (seg.name,),
                )
            )
        elif seg.resolver.startswith("/") and not any(
            fr is not None and Path(fr.path).resolve().is_relative_to(seg.resolver) for fr, _s, _r in on_path
        ):
            span = seg.resolver_span or seg.span
            findings.append(
                Finding(
                    "TE903",
                    CODES["TE903"].severity,
                    span,
                    f"segment {seg.name!r}: its resolver {seg.resolver} is no linted file on its path: the "
                    f"link from {span.where()} is unresolved; its DNS layers count as void",
                    None,
                    (seg.name,),
                )
            )
        result = SegmentResult(seg, [shown for _fr, shown, _r in on_path])
        for sid in catalog.services:
            real = [(f, role) for f, _s, role in on_path if f is not None]
            void = _void_dns(seg, sid, real)
            layers: list[Layer] = []
            tunnels = [t for t in (seg.tunnel, *seg.routes) if t is not None and sid in t.services]
            skips = {p for t in tunnels for p in t.skips}
            for linted, shown, role in on_path:
                layer, own = _layer(linted, shown, role, sid, seg, void)
                if linted is not None and any(
                    Path(linted.path).resolve() == s or s in Path(linted.path).resolve().parents
                    for s in skips
                ):
                    via = next(t.via for t in tunnels if t.skips)
                    own = own or layer
                    layer = Layer(shown, role, BYPASSED, layer.rule, f"routed into {via}, which skips it")
                layers.append(layer)
                if own is not None and Verdict(own.verdict) not in CLEAN and policy.required(sid):
                    findings.append(_bypass_finding(catalog, sid, seg, own, layer))
            for t in tunnels:
                if t.unresolved:
                    layers.append(
                        Layer(
                            f"tunnel from {t.span.where()}",
                            "tunnel",
                            Verdict.UNKNOWN.value,
                            t.span,
                            t.unresolved,
                        )
                    )
                    if policy.required(sid):
                        findings.append(
                            Finding(
                                "TE903",
                                CODES["TE903"].severity,
                                t.span,
                                f"segment {seg.name!r}: {catalog.services[sid].name} is policy-routed: {t.unresolved}: "
                                f"the link is unresolved, so its verdict is unknown",
                                sid,
                                (seg.name,),
                            )
                        )
            verdict, decided = combine(layers)
            resolved_tunnels = [t for t in tunnels if not t.unresolved]
            if resolved_tunnels and verdict in CLEAN:
                verdict = Verdict.ALLOWED
                t = resolved_tunnels[0]
                if policy.required(sid):
                    skipped = ", ".join(x.path for x in layers if x.verdict == BYPASSED) or "no layer"
                    how = f" ({t.path})" if t.path else ""
                    findings.append(
                        Finding(
                            "TE111",
                            CODES["TE111"].severity,
                            t.span,
                            f"{catalog.services[sid].name} is reachable for segment {seg.name!r} through "
                            f"{t.via}{how} (policy routing), past {skipped}",
                            sid,
                            (seg.name,),
                        )
                    )
            outcome = ServiceOutcome(verdict, decided.rule if decided else None, layers, decided)
            result.services[sid] = outcome
            if verdict not in CLEAN and policy.required(sid):
                findings.append(_verdict_finding(catalog, policy, sid, seg, outcome))
        results.append(result)
    return Network(results, list(dict.fromkeys(findings)))


def _bypass_finding(catalog: Catalog, sid: str, seg: Segment, own: Layer, layer: Layer) -> Finding:
    name = catalog.services[sid].name
    where = own.rule or Span(own.path, 1, 1)
    return Finding(
        "TE111",
        CODES["TE111"].severity,
        where,
        f"{name} {own.verdict} by {own.path} does not hold for segment {seg.name!r}: {layer.note}",
        sid,
        (seg.name,),
        (where,),
    )


def _verdict_finding(catalog: Catalog, policy: Policy, sid: str, seg: Segment, o: ServiceOutcome) -> Finding:
    name = catalog.services[sid].name
    layer = o.decided_layer
    at = f"the {layer.role} layer {layer.path}" if layer else "its path"
    rule = f" by '{o.decided_by.text}'" if o.decided_by and o.decided_by.text else ""
    note = f" ({layer.note})" if layer and layer.note else ""
    if o.verdict in (Verdict.BLOCKED, Verdict.BLOCKED_PARTIAL):
        severity = policy.severities.get(sid, CODES["TE110"].severity)
    else:
        severity = Severity.WARNING
    span = o.decided_by or (seg.path_spans[0] if seg.path_spans else seg.span)
    trace = tuple(x.rule for x in o.layers if x.rule)
    return Finding(
        "TE110",
        severity,
        span,
        f"network: {name} {o.verdict.value} for segment {seg.name!r} ({seg.describe_clients()}), "
        f"decided at {at}{rule}{note}",
        sid,
        (seg.name,),
        trace,
    )

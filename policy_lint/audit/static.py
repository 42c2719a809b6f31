"""The static side of an audit: what the configs of CONFIG_DIR say, per audience and service.

The config directory is linted as `policy-lint check CONFIG_DIR` lints it (same settings file,
policy, exceptions, suppressions), then its verdicts are read per audience:

- with a network view (segments declared under `network:` in `.policy-lint.yaml`, or inferred
  from the configs): each segment is an audience, its verdict the network verdict along its
  path (network/compose.py). A policy audience given by networks takes the path of the one
  segment whose CIDRs hold all of its networks; one given by users/groups takes the path of
  the only segment when there is exactly one. Otherwise its static verdict is `unknown` (which
  path its traffic takes is not known);
- without one, every linted file is taken as a layer every client passes (the assumption
  `check`'s findings make): "everyone" is the files' verdicts combined in layer order
  (endpoint -> DNS -> proxy -> firewall; the first block decides, an undecided layer makes it
  unknown), and each policy audience the same over the files' audiences its clients fall into
  (network/compose.py's `pick`: an audience whose representative address lies in the
  audience's networks, or whose user/group attribute is one the policy lists; a file that tells
  clients apart in a way none of these match is `unknown` for it).

A user seen in the logs is an audience of its own (`--by-user`), matched to the configs' user
and group conditions (squid proxy_auth, squidGuard users, ...) the same way.

Example: squid.conf denies facebook.com to `acl guests src 10.50.0.0/16`; the policy's
`guest-wifi: {networks: [10.50.0.0/16]}` -> static `blocked` for guest-wifi, `unaffected` for
`staff: {networks: [10.10.0.0/16]}`.

Not modelled: the order of several firewalls beyond compose's; a segment named only by
interface or zone (no CIDR) is an audience whose log clients cannot be told (see observe.py).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field, replace
from pathlib import Path

from policy_lint.catalog import Catalog
from policy_lint.engine import FileReport, Options, Report, lint_paths
from policy_lint.identity import bare_user
from policy_lint.inputs import InputError
from policy_lint.model import Finding, Span, Verdict
from policy_lint.network.compose import ROLE_ORDER, Layer, Network, combine, compose, role_of
from policy_lint.network.segments import Segment
from policy_lint.policy import NamedAudience, Policy

EVERYONE = "everyone"
AddrNet = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class AuditAudience:
    """A set of clients both sides can name: by addresses (CIDRs), users or groups."""

    name: str
    kind: str  # everyone | segment | policy | user
    networks: tuple[AddrNet, ...] = ()
    users: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    names: tuple[str, ...] = ()  # a segment's interface / zone names: not in any log
    description: str = ""

    def clients(self) -> list[str]:
        return (
            [str(n) for n in self.networks]
            + [f"user {u}" for u in self.users]
            + [f"group {g}" for g in self.groups]
            + [f"interface/zone {n}" for n in self.names]
        )


@dataclass(frozen=True)
class StaticVerdict:
    verdict: str  # a Verdict value
    decided_by: str = ""  # file:line:col: rule text
    note: str = ""


@dataclass
class StaticSide:
    report: Report
    audiences: list[AuditAudience]
    verdicts: dict[str, dict[str, StaticVerdict]]  # audience name -> service -> verdict
    network_view: bool
    findings: list[Finding] = field(default_factory=list)  # error/warning findings of the check
    _segment_for_users: Segment | None = None
    _root: Path | None = None

    def for_user(
        self, user: str, catalog: Catalog, policy: Policy, shown: str | None = None
    ) -> dict[str, StaticVerdict]:
        """The configs' verdicts for one user (the plain name). With `shown` (the user's
        pseudonym) the name is replaced by it in the notes, and a deciding rule is given by
        its place only (its text may name the user)."""
        seg = self._segment_for_users
        if seg is None:
            note = "which segment's path this user's traffic takes is not known"
            return {sid: StaticVerdict(Verdict.UNKNOWN.value, "", note) for sid in catalog.services}
        names = tuple(dict.fromkeys((user, bare_user(user))))
        synthetic = replace(seg, name=f"user {user}", clients=names, networks=(), names=names)
        out = _composed(self.report, synthetic, catalog, policy)
        if shown is None:
            return out
        redacted = {}
        for sid, v in out.items():
            note = v.note
            for name in sorted(names, key=len, reverse=True):
                note = note.replace(name, shown)
            redacted[sid] = StaticVerdict(v.verdict, v.decided_by.split(": ", 1)[0], note)
        return redacted


def _where(span: Span | None) -> str:
    if span is None:
        return ""
    return f"{span.where()}: {span.text}" if span.text else span.where()


def _composed(report: Report, segment: Segment, catalog: Catalog, policy: Policy) -> dict[str, StaticVerdict]:
    network: Network = compose(report, [segment], catalog, policy)
    out = {}
    for sid, o in network.segments[0].services.items():
        layer = o.decided_layer
        out[sid] = StaticVerdict(o.verdict.value, _where(o.decided_by), layer.note if layer else "")
    return out


def _first_rule(fr: FileReport, sid: str) -> Span | None:
    svc = fr.services.get(sid)
    return svc.rules[0] if svc is not None and svc.rules else None


def _everyone(files: list[FileReport], catalog: Catalog) -> dict[str, StaticVerdict]:
    ordered = sorted(files, key=lambda fr: (ROLE_ORDER[role_of(fr.dialect)], fr.path))
    out = {}
    for sid in catalog.services:
        layers = [
            Layer(fr.path, role_of(fr.dialect), fr.services[sid].verdict.value, _first_rule(fr, sid))
            for fr in ordered
            if sid in fr.services
        ]
        if not layers:
            out[sid] = StaticVerdict(Verdict.UNKNOWN.value, "", "no linted config gave a verdict")
            continue
        verdict, decided = combine(layers)
        out[sid] = StaticVerdict(
            verdict.value,
            _where(decided.rule) if decided else "",
            f"decided by {decided.path}" if decided else "",
        )
    return out


def _synthetic(name: str, aud: NamedAudience, path: tuple[Path, ...], where: Span) -> Segment:
    names = tuple(dict.fromkeys((*aud.users, *(bare_user(u) for u in aud.users), *aud.groups)))
    return Segment(
        name=name,
        clients=tuple(str(n) for n in aud.networks) + names,
        networks=tuple(aud.networks),
        names=names,
        path=path,
        span=where,
    )


def _holding_segment(aud: NamedAudience, segments: list[Segment]) -> Segment | None:
    if aud.networks:
        holding = [
            s
            for s in segments
            if s.networks
            and all(any(n.version == x.version and n.subnet_of(x) for x in s.networks) for n in aud.networks)
        ]
        return holding[0] if len(holding) == 1 else None
    return segments[0] if len(segments) == 1 else None


def lint_config(
    config_dir: Path, catalog: Catalog, policy: Policy, root: Path | None, settings_source: str
) -> Report:
    """`check CONFIG_DIR` without its output: the report with the network view attached."""
    from policy_lint import config
    from policy_lint.engine import usable_cores
    from policy_lint.network import attach
    from policy_lint.refine import refine

    settings = config.discover(config_dir)
    report = lint_paths(
        [config_dir], catalog, policy, Options(root=root or settings.root, jobs=usable_cores())
    )
    if report.errors:
        raise InputError(report.errors[0])
    attach(report, settings_source or settings.source, root or settings.root, catalog, policy)
    return refine(report, lambda p: config.discover(p), settings.baseline)


def static_side(config_dir: Path, catalog: Catalog, policy: Policy, root: Path | None = None) -> StaticSide:
    from policy_lint import config

    if not config_dir.is_dir():
        raise InputError(f"{config_dir}: not a directory")
    report = lint_config(config_dir, catalog, policy, root, config.discover(config_dir).source)
    if not report.files:
        raise InputError(f"{config_dir}: no config policy-lint can read")
    where = Span(str(config_dir), 1, 1)
    audiences: list[AuditAudience] = []
    verdicts: dict[str, dict[str, StaticVerdict]] = {}
    serious = [f for f in report.findings if f.severity.value in ("error", "warning")]
    policy_auds = [a for n, a in policy.audiences.items() if n != EVERYONE]
    network = report.network
    if network is None:
        everything = Segment(EVERYONE, (), (), (), (config_dir.resolve(),), where)
        audiences.append(AuditAudience(EVERYONE, "everyone", description="every client in the logs"))
        verdicts[EVERYONE] = _everyone(report.files, catalog)
        for aud in policy_auds:
            audiences.append(_policy_audience(aud))
            seg = _synthetic(aud.name, aud, (config_dir.resolve(),), where)
            verdicts[aud.name] = _composed(report, seg, catalog, policy)
        return StaticSide(report, audiences, verdicts, False, serious, everything)
    segments = [r.segment for r in network.segments]
    for r in network.segments:
        s = r.segment
        audiences.append(
            AuditAudience(s.name, "segment", tuple(s.networks), names=tuple(s.names), description=s.origin)
        )
        verdicts[s.name] = {
            sid: StaticVerdict(
                o.verdict.value,
                _where(o.decided_by),
                o.decided_layer.note if o.decided_layer else "",
            )
            for sid, o in r.services.items()
        }
    for aud in policy_auds:
        name = aud.name if aud.name not in verdicts else f"policy:{aud.name}"
        audiences.append(replace(_policy_audience(aud), name=name))
        holder = _holding_segment(aud, segments)
        if holder is None:
            note = (
                "its networks are not all inside one segment: which path their traffic takes is not known"
                if aud.networks
                else "it names users/groups and there are several segments: which path their traffic takes is not known"
            )
            verdicts[name] = {sid: StaticVerdict(Verdict.UNKNOWN.value, "", note) for sid in catalog.services}
            continue
        synthetic = replace(_synthetic(name, aud, holder.path, holder.span), **_path_facts(holder))
        verdicts[name] = _composed(report, synthetic, catalog, policy)
    only = segments[0] if len(segments) == 1 else None
    return StaticSide(report, audiences, verdicts, True, serious, only)


def _path_facts(seg: Segment) -> dict:
    """What of a segment besides its clients decides its path's layers."""
    return {
        "path_spans": seg.path_spans,
        "resolver": seg.resolver,
        "resolver_span": seg.resolver_span,
        "pinned": seg.pinned,
        "tunnel": seg.tunnel,
        "routes": seg.routes,
        "resolver_resolved": seg.resolver_resolved,
        "unsure": seg.unsure,
        "dangling": seg.dangling,
        "links": seg.links,
    }


def _policy_audience(aud: NamedAudience) -> AuditAudience:
    return AuditAudience(
        aud.name, "policy", tuple(aud.networks), tuple(aud.users), tuple(aud.groups), (), aud.description
    )

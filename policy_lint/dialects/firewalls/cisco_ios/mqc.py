"""MQC as IOS evaluates it: class-maps (NBAR2 `match protocol`, HTTP host/url, categories,
access lists, nested classes, `match not`, match-any/match-all) and policy-maps (the first
class that matches decides; its actions drop, police, shape or do nothing; nested policies).
Shared by QoS policies (`service-policy input|output`) and zone-firewall inspect policies."""

from __future__ import annotations

import fnmatch
from dataclasses import replace

from policy_lint.dialects.firewalls.cisco_common.acl import CachedLists, Packet
from policy_lint.dialects.firewalls.cisco_common.stages import combine
from policy_lint.dialects.firewalls.cisco_common.vocab import (
    ALL_HTTP,
    ALL_TLS,
    OTHER_APPLICATIONS,
    Vocabulary,
)
from policy_lint.dialects.firewalls.cisco_ios.model import ClassMap, Config, Match, PolicyMap
from policy_lint.model import Decision, Outcome, Probe, Span


class Classifier:
    """Class-maps and policy-maps of one configuration, evaluated for a probe's packet."""

    def __init__(self, cfg: Config, vocab: Vocabulary, lists: CachedLists):
        self.cfg = cfg
        self.vocab = vocab
        self.lists = lists

    def known_protocol(self, name: str, inspect: bool) -> bool:
        n = name.lower()
        return bool(
            self.vocab.services_for(n)
            or n in ALL_HTTP
            or n in ALL_TLS
            or n in OTHER_APPLICATIONS
            or (inspect and n in ("tcp", "udp", "icmp"))
        )

    def _match(self, m: Match, probe: Probe, pkt: Packet, depth: int) -> bool | None:
        r = self._match_raw(m, probe, pkt, depth)
        return (not r if r is not None else None) if m.negate else r

    def _match_raw(self, m: Match, probe: Probe, pkt: Packet, depth: int) -> bool | None:
        if m.what == "any":
            return True
        if m.what == "protocol":
            n = m.value
            names = self.vocab.services_for(n)
            if names:
                return probe.service in {v.service for v in names}
            if n in ALL_HTTP:
                return probe.scheme == "http"
            if n in ALL_TLS:
                return probe.scheme == "https"
            if n == "tcp":
                return True
            if n in OTHER_APPLICATIONS or n in ("udp", "icmp"):
                return False
            return None
        if m.what == "protocol-http-host":
            # NBAR's HTTP host match reads the Host header of plain HTTP; `*` is any text.
            return probe.scheme == "http" and fnmatch.fnmatchcase(probe.host.lower(), m.pattern.lower())
        if m.what == "protocol-http-url":
            return probe.scheme == "http" and fnmatch.fnmatchcase(
                probe.path.lstrip("/").lower(), m.pattern.lstrip("/").lower()
            )
        if m.what == "category":
            if m.value not in self.vocab.categories:
                return None
            if probe.service is None:
                return False
            return True if probe.service in self.vocab.category_services() else None
        if m.what == "acl":
            acl = self.cfg.acls.get(m.value)
            if acl is None or pkt.version != 4:
                return None if acl is None else False
            res = self.lists.first_match(acl, pkt, probe.host)
            return {"permit": True, "deny": False}.get(res.verdict)
        if m.what == "class":
            cm = self.cfg.class_maps.get(m.value)
            return None if cm is None or depth > 8 else self._class(cm, probe, pkt, depth + 1)
        return None

    def _class(self, cm: ClassMap, probe: Probe, pkt: Packet, depth: int) -> bool | None:
        results = [self._match(m, probe, pkt, depth) for m in cm.matches]
        if not results:
            return False
        if cm.match_all:
            return False if False in results else (None if None in results else True)
        return True if True in results else (None if None in results else False)

    def policy(self, pm: PolicyMap, probe: Probe, pkt: Packet, depth: int) -> Decision:
        """The first class whose class-map matches decides (class-default: everything else)."""
        pending: list[Decision] = []
        for pc in pm.classes:
            cm = None
            if pc.name == "class-default":
                hit: bool | None = True
                trace: tuple[Span, ...] = (pc.span,)
            else:
                cm = self.cfg.class_maps.get(pc.name)
                hit = None if cm is None else self._class(cm, probe, pkt, depth)
                trace = (pc.span,) + ((cm.span,) if cm else ())
                if cm is not None and hit:
                    trace += tuple(m.span for m in cm.matches if self._match(m, probe, pkt, depth))
            if hit is False:
                continue
            named = (
                cm is not None
                and hit is True
                and any(
                    self._names_service(m, probe) and self._match(m, probe, pkt, depth) for m in cm.matches
                )
                if pc.name != "class-default"
                else False
            )
            d = self._actions(pm, pc.actions, pc.span, trace, probe, pkt, depth, named)
            if named and cm is not None and not d.note:
                d = replace(d, note=self._vendor_note(cm, probe))
            if hit is None:
                pending.append(d)
                continue
            if any(p.outcome != d.outcome for p in pending):
                p = next(p for p in pending if p.outcome != d.outcome)
                return Decision(
                    Outcome.UNKNOWN,
                    p.rule,
                    p.trace,
                    note=f"whether class {p.trace[0].text} matches is unknown",
                )
            return d
        default = self._default(pm)
        if any(p.outcome != default.outcome for p in pending):
            p = next(p for p in pending if p.outcome != default.outcome)
            return Decision(Outcome.UNKNOWN, p.rule, p.trace, note="whether the class matches is unknown")
        return default

    def _default(self, pm: PolicyMap) -> Decision:
        if pm.inspect:
            return Decision(
                Outcome.DENY,
                pm.span,
                (pm.span,),
                how="zone drop",
                note="class-default of an inspect policy drops",
            )
        return Decision(Outcome.ALLOW, None, ())

    def _actions(self, pm, actions, span, trace, probe, pkt, depth, specific) -> Decision:
        if not actions:
            if pm.inspect:
                return Decision(
                    Outcome.DENY,
                    span,
                    trace,
                    specific,
                    how="zone drop",
                    note="an inspect class without an action drops",
                )
            return Decision(Outcome.ALLOW, span, trace, specific)
        results = []
        for a in actions:
            t = (*trace, a.span)
            if a.kind in ("drop", "police-drop"):
                results.append(
                    Decision(
                        Outcome.DENY,
                        a.span,
                        t,
                        specific,
                        how="qos drop" if not pm.inspect else "zone drop",
                        note=a.note,
                    )
                )
            elif a.kind in ("police", "shape"):
                results.append(Decision(Outcome.THROTTLE, a.span, t, specific, how=a.kind))
            elif a.kind == "unknown":
                results.append(Decision(Outcome.UNKNOWN, a.span, t, note=a.note))
            elif a.kind == "child":
                child = self.cfg.policy_maps.get(a.child)
                if child is None or depth > 8:
                    results.append(
                        Decision(Outcome.UNKNOWN, a.span, t, note=f"policy-map {a.child} is not in the file")
                    )
                else:
                    d = self.policy(child, probe, pkt, depth + 1)
                    results.append(Decision(d.outcome, d.rule, (*t, *d.trace), d.specific, d.how, d.note))
            elif a.kind in ("pass", "inspect"):
                results.append(Decision(Outcome.ALLOW, a.span, t, specific, how=f"zone {a.kind}"))
            else:
                # bandwidth, priority, set: a guarantee or a marking, no statement about access.
                results.append(Decision(Outcome.ALLOW, a.span, t))
        return combine(results)

    def _vendor_note(self, cm: ClassMap, probe: Probe) -> str:
        """Which vendor name identified the service, with its source and confidence."""
        for m in cm.matches:
            for v in self.vocab.services_for(m.value) if m.what == "protocol" else ():
                if v.service == probe.service:
                    return (
                        f"NBAR2 protocol `{v.name}` classifies {probe.service} traffic "
                        f"(vendor_names.yaml: {v.confidence} confidence, {v.source})"
                    )
        return ""

    def _names_service(self, m: Match, probe: Probe) -> bool:
        """The match line names the probe's service (its NBAR name, a Host pattern)."""
        if m.what == "protocol":
            return bool(probe.service) and probe.service in {
                v.service for v in self.vocab.services_for(m.value)
            }
        return m.what == "protocol-http-host"

"""Junos firewall filters (`firewall family inet|inet6 filter`, `firewall filter`) applied to one
packet: the terms in order, the first whose `from` matches decides (`accept`, `discard`,
`reject`; no terminating action accepts; `next term` goes on); past the last term of the last
filter of an input-list, the implicit discard. Address lists follow Junos: the most specific
prefix holding the address decides, and an `except` one excludes it.

    filter no-social { term fb { from { destination-address { 157.240.0.0/16; } } then discard; }
                       term rest { then accept; } }
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from policy_lint.dialects.firewalls.junos.firstmatch import Step, Tri, all3
from policy_lint.dialects.firewalls.junos.model import Address, Config, Filter, FilterTerm, Net
from policy_lint.model import Decision, Outcome, Span


@dataclass
class FilterWalk:
    cfg: Config

    def walk(
        self,
        bound: list[tuple[str, str, Span]],
        src: Address,
        dst: Address,
        dport: int,
        sport: int,
        where: str,
    ) -> Decision | None:
        """The filters (an input-list) of the packet's family applied to one packet: first
        matching term; past the last term of the last filter, the implicit discard. An inet
        filter never sees IPv6 packets, nor an inet6 filter IPv4 ones."""
        family = "inet" if dst.version == 4 else "inet6"
        names = [(n, b) for f, n, b in bound if f == family]
        if not names:
            return None
        step = Step()
        for name, bind in names:
            flt = self.cfg.filters.get((family, name))
            if flt is None:
                return Decision(Outcome.UNKNOWN, bind, (bind,), note=f"filter {name} is not defined")
            for term in flt.terms:
                m = self._term_matches(term, src, dst, dport, sport)
                if m is False:
                    continue
                if term.action == "next" and not term.unknown:
                    continue
                d = self._term_decision(flt, term, bind, where)
                if m is None or term.unknown:
                    step.passed.append(replace(d, note=f"filter {flt.name} term {term.name} not evaluated"))
                    if m is None:
                        continue
                    return step.settle(replace(d, outcome=Outcome.UNKNOWN))
                return step.settle(d)
        last = names[-1][1]
        return step.settle(
            Decision(
                Outcome.DENY,
                last,
                (last,),
                False,
                "discard",
                f"no term of the {where} filter matches: the implicit discard",
            )
        )

    def _term_decision(self, flt: Filter, term: FilterTerm, bind: Span, where: str) -> Decision:
        specific = bool(term.dst or term.dst_lists) if where != "reply" else bool(term.src or term.src_lists)
        note = f"filter {flt.name} term {term.name} ({where})"
        if term.action in ("discard", "reject"):
            if where == "reply":
                note += ": drops the server's replies, matched as the source"
            return Decision(Outcome.DENY, term.span, (bind, term.span), specific, term.action, note)
        return Decision(Outcome.ALLOW, term.span, (bind, term.span), specific, note=note)

    def _term_matches(self, term: FilterTerm, src: Address, dst: Address, dport: int, sport: int) -> Tri:
        checks: list[Tri] = []
        if term.src:
            checks.append(_longest(term.src, src))
        if term.dst:
            checks.append(_longest(term.dst, dst))
        if term.any_addr:
            checks.append(_longest(term.any_addr, src) or _longest(term.any_addr, dst))
        for names, addr in ((term.src_lists, src), (term.dst_lists, dst)):
            if names:
                lists = [self.cfg.prefix_lists.get(n) for n in names]
                if any(lst is None for lst in lists):
                    checks.append(None)
                else:
                    checks.append(
                        any(addr in n for lst in lists if lst for n in lst[0] if n.version == addr.version)
                    )
        if term.protocols:
            checks.append(any(p in ("tcp", "6") for p in term.protocols))
        if term.dports:
            checks.append(any(lo <= dport <= hi for lo, hi in term.dports))
        if term.sports:
            checks.append(any(lo <= sport <= hi for lo, hi in term.sports))
        if term.ports:
            checks.append(any(lo <= p <= hi for lo, hi in term.ports for p in (dport, sport)))
        if [u for u in term.unknown if not u.startswith("then ")]:
            checks.append(None)
        return all3(checks)


def _longest(entries: list[tuple[Net, bool]], addr: Address) -> bool:
    """Junos address lists: the most specific prefix holding the address decides; `except` excludes."""
    best: tuple[int, bool] | None = None
    for net, exc in entries:
        if net.version == addr.version and addr in net and (best is None or net.prefixlen > best[0]):
            best = (net.prefixlen, exc)
    return best is not None and not best[1]

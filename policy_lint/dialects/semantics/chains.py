"""What walking a firewall chain yields, shared by the chain-based packet filters (iptables,
nftables, MikroTik): each walks its own chains its own way, but they report alike."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from policy_lint.dialects.semantics.addressing import IPAddress
from policy_lint.model import Audience, Decision, Outcome, Probe, Span


@dataclass
class ChainResult:
    """The outcome of a packet's walk through a chain (and the chains it jumped to)."""

    verdict: str  # accept | drop | unknown | fall (the chain ended) | return
    rule: Span | None = None  # the deciding rule
    trace: tuple[Span, ...] = ()  # the rules that led to it (jumps, lists, the rule itself)
    specific: bool = False  # the rule names destinations (networks, hosts, strings), not "all"
    note: str = ""
    how: str = ""  # drop | reject ...
    scope: str = ""  # the conditions that made it apply ("from 10.0.0.5 & time ...")
    uncertain: tuple[Span, ...] = ()  # rules passed over that might have matched
    # Destination NAT's rewrite (kind, address as written or "", new port or None): set by
    # `redirected`, so the dialect can walk the rewritten connection on through the filter hooks.
    sent: tuple[str, str, int | None] | None = None


# What a rule (or a called chain) may do with a packet, as the caller sees it.
ACCEPT, DROP, GO_ON, UNKNOWN = "accept", "drop", "go on", "unknown"


def outcome_of(res: ChainResult) -> str:
    """`res` as one of ACCEPT, DROP, GO_ON (the chain ended or returned), UNKNOWN; a result that
    is "go on, or accept" (rules passed over that might have accepted) is GO_ON here: see
    `FirstMatch.passed`."""
    return {"accept": ACCEPT, "drop": DROP, "fall": GO_ON, "return": GO_ON}.get(res.verdict, UNKNOWN)


@dataclass
class FirstMatch:
    """Three-valued first match over one chain. A rule whose match cannot be told (a matcher not
    modelled, a set filled at run time) is passed over and what it would have done is kept: the
    verdict the chain reaches later is certain only if every rule passed over would have led to
    the same. An ACCEPT passed over before a DROP makes the drop `unknown` (the ACCEPT may let
    the packet through); before the end of the chain it gives "go on, or accept", which the caller
    (the policy, the calling rule) settles."""

    passed: list[tuple[str, ChainResult]] = field(default_factory=list)

    def pass_over(self, outcome: str, res: ChainResult) -> None:
        """A rule that may or may not match, and would have ended the chain with `outcome`."""
        self.passed.append((outcome, res))

    def pass_over_result(self, res: ChainResult) -> None:
        """A rule that may or may not match and would have led to `res` (a called chain's result)."""
        if res.verdict in ("fall", "return"):
            for span in res.uncertain:
                self.passed.append((ACCEPT, ChainResult("accept", span, res.trace, note=res.note)))
            return
        self.passed.append((outcome_of(res), res))

    def merge(self, res: ChainResult) -> None:
        """A called chain ended "go on, or accept": the ACCEPTs it passed over are this chain's too."""
        for span in res.uncertain:
            self.passed.append((ACCEPT, ChainResult("accept", span, res.trace, note=res.note)))

    def settle(self, res: ChainResult) -> ChainResult:
        """The chain ends with `res` (reached for certain): what it yields, given the rules passed over."""
        if res.verdict == "unknown":
            return res
        outcomes = {o for o, _ in self.passed} | {outcome_of(res)}
        if res.verdict in ("fall", "return") and res.uncertain:
            outcomes.add(ACCEPT)
        if len(outcomes) == 1:
            return res
        if outcomes <= {ACCEPT, GO_ON}:
            # Go on, or accept: the caller decides (its later rules, its policy).
            spans = [r.rule for o, r in self.passed if o == ACCEPT and r.rule is not None]
            if res.verdict == "accept" and res.rule is not None:
                spans.append(res.rule)  # a RETURN passed over may skip it
            spans += list(res.uncertain)
            first = next((r for _o, r in self.passed), res)
            return ChainResult(
                "fall", None, res.trace, note=first.note, uncertain=tuple(dict.fromkeys(spans))
            )
        # A drop, or an unknown, against anything else: unknown, naming the first rule passed over.
        o, first = next(
            ((o, r) for o, r in self.passed if o in (DROP, UNKNOWN)),
            self.passed[0] if self.passed else ("", res),
        )
        if o in (DROP, UNKNOWN):
            return ChainResult(
                "unknown", first.rule, first.trace, first.specific, first.note, scope=first.scope
            )
        assert first.rule is not None
        return ChainResult(
            "unknown",
            first.rule,
            res.trace,
            False,
            f"an earlier rule may {'return' if o == GO_ON else 'let it through'} (line {first.rule.line}) "
            f"before {res.note or 'the ' + (res.how or 'drop')}" + (f" ({first.note})" if first.note else ""),
            scope=res.scope,
        )


# The documented default ports of the transparent proxies policy-lint knows (squid.conf
# `http_port 3128`, Privoxy `listen-address 127.0.0.1:8118`, e2guardian/DansGuardian
# `filterport = 8080`, tinyproxy `Port 8888`): named in findings, never used to decide.
PROXY_PORTS = {3128: "Squid", 8118: "Privoxy", 8080: "e2guardian/DansGuardian", 8888: "tinyproxy"}


def nat_target(value: str) -> tuple[str, int | None]:
    """`ADDR[:PORT]`, `[V6ADDR]:PORT`, `:PORT` or `ADDR-ADDR:PORT-PORT` (a DNAT/REDIRECT/TPROXY
    destination) as (address text, first port or None)."""
    value = value.strip()
    if value.startswith("["):
        addr, _sep, rest = value[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    elif value.count(":") == 1:
        addr, port = value.split(":")
    elif value.isdigit() or (value[:1].isdigit() and "-" in value and "." not in value and ":" not in value):
        addr, port = "", value
    else:
        addr, port = value, ""
    first = port.split("-")[0].strip()
    return addr, int(first) if first.isdigit() else None


def redirected(
    kind: str, where: str, port: int | None, probe_port: int, rule: Span, trace: tuple[Span, ...]
) -> ChainResult:
    """A connection that destination NAT (DNAT, REDIRECT, TPROXY, nft `dnat`/`redirect`/`tproxy`)
    sends elsewhere. To another port (or by TPROXY): a transparent proxy listens there and
    decides: `unknown` (how="proxy"). To another host (or this one) on the same port: that host
    answers instead of the service (a block page, a captive portal): the service is not reached,
    a block (how="redirect")."""
    place = where or "this host"
    if kind.lower() == "tproxy" or (port is not None and port != probe_port):
        name = PROXY_PORTS.get(port or 0)
        at = f"{place}:{port}" if port is not None else place
        who = f"a transparent proxy at {at}" + (f" (port {port} is {name}'s default)" if name else "")
        return ChainResult(
            "unknown",
            rule,
            trace,
            False,
            f"{kind} sends the connection to {who}: that proxy decides",
            how="proxy",
            sent=(kind, where, port),
        )
    return ChainResult(
        "drop",
        rule,
        trace,
        False,
        f"{kind} sends the connection to {place} instead of the service (a block page or captive "
        "portal answers there): the service is not reached",
        "redirect",
        sent=(kind, where, port),
    )


def nat_places(kind: str, where: str, original: IPAddress) -> list[tuple[IPAddress | None, bool]]:
    """Where the routing decision after the nat hook delivers a connection that destination NAT
    rewrote, as (new destination address or None when it is not known, delivered to this host):
    REDIRECT/`redirect` to this host (its address on the incoming interface, 127.0.0.1 for its
    own traffic: not known here); TPROXY/`tproxy` to a local socket, the destination address
    unchanged; DNAT/`dnat` without an address keeps the original one (another host); to a
    loopback address, this host. To any other address: whether it is one of this host's own
    addresses (INPUT) or another host's (FORWARD) is the interfaces' business, which a ruleset
    does not say, so both are returned."""
    k = kind.lower()
    if k == "redirect":
        return [(None, True)]
    if k == "tproxy":
        return [(_address(where, original) or original, True)]
    if not where:
        return [(original, False)]
    addr = _address(where, original)
    if addr is not None and addr.is_loopback:
        return [(addr, True)]
    return [(addr, False), (addr, True)]


def _address(where: str, original: IPAddress) -> IPAddress | None:
    """The first address of `where` (`ADDR` or `ADDR-ADDR`), if it is of the original's family."""
    text = where.split("-")[0].strip().strip("[]")
    try:
        addr = ipaddress.ip_address(text)
    except ValueError:
        return None
    return addr if addr.version == original.version else None


def after_nat(nat: ChainResult, places: list[tuple[str, bool, ChainResult]], where: str) -> ChainResult:
    """What a connection destination NAT rewrote meets on the filter hooks (`places`: one walk per
    place it may be delivered to, as (words for the place, to this host, the walk's result)).
    A drop on the way blocks it, whatever the proxy would do; what passes every filter hook is the
    proxy's to decide (`nat`, unknown with TE907), or, for a block page, not the service (`nat`,
    a redirect). When the place decides (another host: FORWARD; this host: INPUT) and the rules
    do not say which it is, `unknown`."""
    outs = []
    for words, _local, res in places:
        if res.verdict == "accept":
            outs.append(nat)
        elif res.verdict == "drop":
            note = f"after {nat.sent[0] if nat.sent else 'NAT'} to {words}: " + (
                res.note or f"line {res.rule.line if res.rule else '?'} {res.how or 'drop'}s it"
            )
            outs.append(replace(res, trace=nat.trace + res.trace, note=note))
        else:
            outs.append(replace(res, trace=nat.trace + res.trace))
    if len({o.verdict for o in outs}) == 1:
        return outs[0]

    def said(o: ChainResult) -> str:
        if o is nat:
            return "nothing stops it before " + ("the proxy" if nat.how == "proxy" else "that host")
        if o.verdict == "drop":
            return f"line {o.rule.line if o.rule else '?'} {o.how or 'drop'}s it"
        return f"undecided ({o.note})" if o.note else "undecided"

    parts = "; ".join(f"as {words}, {said(o)}" for (words, _l, _r), o in zip(places, outs, strict=True))
    return ChainResult(
        "unknown",
        nat.rule,
        nat.trace,
        False,
        f"whether {where} is one of this host's own addresses decides it (a ruleset does not say): {parts}",
        how=nat.how,
    )


def clients_only(
    audiences: list[Audience],
    evaluate: Callable[[Probe, Audience], Decision],
    controls: Sequence[Probe],
    forward_word: str,
) -> list[Audience]:
    """The audiences that are users, for a chain-based filter whose audiences are keyed by path
    first (`forward`, `output`). On a router (some forwarded clients have web access, or
    destination NAT sends it elsewhere) the router's own traffic is not a population of users:
    it never turns a block of the clients into a partial one, so only the forwarded audiences
    remain, without the path word (`forward_word`) that told them apart. On a host whose
    forward path carries no web traffic, its own traffic is the user's: all audiences stay."""
    forward = [a for a in audiences if a.key[0] == "forward"]
    if not forward or len(forward) == len(audiences):
        return audiences
    for a in forward:
        if all(
            (d := evaluate(c, a)).outcome == Outcome.ALLOW or d.how in ("redirect", "proxy") for c in controls
        ):
            return [
                replace(a, conditions=a.conditions[1:]) if a.conditions[:1] == (forward_word,) else a
                for a in forward
            ]
    return audiences

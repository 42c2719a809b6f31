"""What walking a firewall chain yields, shared by the chain-based packet filters (iptables,
nftables, MikroTik): each walks its own chains its own way, but they report alike."""

from __future__ import annotations

from dataclasses import dataclass, field

from policy_lint.model import Span


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
        )
    return ChainResult(
        "drop",
        rule,
        trace,
        False,
        f"{kind} sends the connection to {place} instead of the service (a block page or captive "
        "portal answers there): the service is not reached",
        "redirect",
    )

"""What walking a firewall chain yields, shared by the chain-based packet filters (iptables,
nftables, MikroTik): each walks its own chains its own way, but they report alike."""

from __future__ import annotations

from dataclasses import dataclass

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

"""Which of an ordered list of policies can hold a destination address, without scanning them all.

A zone pair may hold thousands of policies, each tested against every sample address of a
service. Policies whose destination is a plain set of prefixes are indexed by prefix: for an
address, one dictionary look-up per prefix length in use gives the first such policy holding it.
The others (any destination, `*-excluded`, ranges, wildcards, DNS names, a match that cannot be
told) are kept aside and always walked. The walk then visits, in order, the kept-aside ones and
the first indexed hit: every policy that can decide the address, and no other."""

from __future__ import annotations

from dataclasses import dataclass, field

from policy_lint.dialects.firewalls.junos.model import Address


@dataclass
class FirstHolding:
    by_prefix: dict[tuple[int, int], dict[int, int]] = field(default_factory=dict)
    always: list[int] = field(default_factory=list)

    def add(self, position: int, prefixes: list[tuple[int, int, int]]) -> None:
        """Index `position` by its prefixes (version, prefix length, network as int)."""
        for version, plen, net in prefixes:
            slot = self.by_prefix.setdefault((version, plen), {})
            if net not in slot:
                slot[net] = position  # positions arrive in order: the first one stays

    def keep(self, position: int) -> None:
        self.always.append(position)

    def positions(self, addr: Address) -> list[int]:
        """The positions to walk for `addr`, in order."""
        value, bits, version = int(addr), addr.max_prefixlen, addr.version
        best: int | None = None
        for (v, plen), slot in self.by_prefix.items():
            if v != version:
                continue
            hit = slot.get(value >> (bits - plen) << (bits - plen) if plen else 0)
            if hit is not None and (best is None or hit < best):
                best = hit
        if best is None:
            return self.always
        return sorted({*self.always, best})

"""Shared machinery for filters that decide by the requested name alone.

DNS blocklists, hosts files, dnsmasq, unbound, RPZ zones, Pi-hole and adblock lists answer one
question per host name, the same for every client, every port and every scheme. A dialect for
such a filter parses its text into its own lookup structure and hands this module a
`decide(host) -> Decision | None` function (None: the filter says nothing about the name, so
the name resolves normally). `NameRuleset` turns that into the Ruleset the engine evaluates.

`DomainIndex` is the lookup most of them need: exact names and whole subtrees (a name and
every name below it), answered with one dictionary lookup per label of the host.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from policy_lint.catalog import Catalog
from policy_lint.model import EVERYONE, Audience, Decision, Outcome, Probe, Problem, Span

T = TypeVar("T")

NOT_LISTED = Decision(Outcome.ALLOW, None, (), False, "", "the filter does not name this host")


def probe_hosts(catalog: Catalog) -> frozenset[str]:
    """Every host name the engine will ask a ruleset about: the services' probe hosts and the
    control host, lower-cased. A rule that can match none of them cannot change a verdict."""
    names = {p.host.lower().rstrip(".") for svc in catalog.services.values() for p in svc.probes()}
    names.add(catalog.control_host.lower().rstrip("."))
    return frozenset(names)


def suffixes(host: str) -> Iterator[str]:
    """www.facebook.com, facebook.com, com: the name and each parent, most specific first."""
    labels = host.lower().rstrip(".").split(".")
    for i in range(len(labels)):
        yield ".".join(labels[i:])


@dataclass
class DomainIndex(Generic[T]):
    """Entries for exact names and for subtrees (the name and everything below it)."""

    exact: dict[str, T] = field(default_factory=dict)
    subtree: dict[str, T] = field(default_factory=dict)

    def add_exact(self, name: str, entry: T, replace: bool = False) -> None:
        key = name.lower().rstrip(".")
        if replace or key not in self.exact:
            self.exact[key] = entry

    def add_subtree(self, name: str, entry: T, replace: bool = False) -> None:
        key = name.lower().rstrip(".").lstrip(".")
        if replace or key not in self.subtree:
            self.subtree[key] = entry

    def lookup_exact(self, host: str) -> T | None:
        return self.exact.get(host.lower().rstrip("."))

    def lookup_subtree(self, host: str) -> tuple[str, T] | None:
        """The most specific subtree entry covering `host` (and the name it is for)."""
        for name in suffixes(host):
            entry = self.subtree.get(name)
            if entry is not None:
                return name, entry
        return None

    def __len__(self) -> int:
        return len(self.exact) + len(self.subtree)


class NameRuleset:
    """The Ruleset of a name-based filter: one audience (everyone), one decision per host."""

    def __init__(
        self,
        path: str,
        dialect: str,
        decide: Callable[[str], Decision | None],
        problems: list[Problem],
        included: list[str] | None = None,
    ):
        self.path = path
        self.dialect = dialect
        self.problems = problems
        self.included = included or []
        self._decide = decide
        self._cache: dict[str, Decision] = {}

    def audiences(self) -> list[Audience]:
        return [EVERYONE]

    def evaluate(self, probe: Probe, audience: Audience) -> Decision:
        host = probe.host.lower()
        hit = self._cache.get(host)
        if hit is None:
            hit = self._cache[host] = self._decide(host) or NOT_LISTED
        return hit

    def inert_mentions(self, probe: Probe) -> list[Span]:
        return []

"""Who a log record is, in the policy's words: the ONE place `traffic` and `audit` match a
record's client address, user and group to the policy's audiences.

A policy audience (policy.NamedAudience) holds a record when
- its `networks:` hold the record's client address, or
- one of its `users:` names the record's user, ignoring case: a policy name without a domain
  (`asmith`) also matches the account of any domain (`CORP\\asmith`, `asmith@corp.example`); a
  qualified one (`CORP\\asmith`, `asmith@corp.example`) only that account, or
- one of its `groups:` equals the record's group, ignoring case (FortiGate's `group=` is the only
  log that carries one).
A record without a user (a log with no user column, squid's `-`) is matched by its address only.

`audit` counts a record in every audience holding it (TrafficSide.audiences_of); `traffic` puts
it in ONE: the first audience holding it in the policy's order (AudienceMatcher.first), whatever
made it match -- so an audience of users listed before a network audience takes the users'
records from that network, and one listed after it takes only their records from elsewhere.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

MAX_CACHE = 4096  # distinct clients / users / groups whose answer is kept


def bare_user(user: str) -> str:
    """`CORP\\asmith` and `asmith@corp.example` -> `asmith`: the account without its domain."""
    return user.rsplit("\\", 1)[-1].split("@", 1)[0]


def user_matches(log_user: str, wanted: str) -> bool:
    """Whether the policy's user `wanted` names the log's `log_user` (see the module docstring)."""
    a, b = log_user.casefold(), wanted.casefold()
    if a == b:
        return True
    if "\\" in b or "@" in b:
        return False  # a qualified name in the policy means that account only
    return bare_user(a) == b


def group_matches(log_group: str, wanted: str) -> bool:
    return log_group.casefold() == wanted.casefold()


def in_networks(client: str | None, networks: Iterable) -> bool:
    """Whether the address `client` (possibly in [brackets]) lies in one of `networks`."""
    if not client:
        return False
    try:
        ip = ipaddress.ip_address(client.strip("[]"))
    except ValueError:
        return False
    return any(ip.version == n.version and ip in n for n in networks)


class Member(Protocol):
    """What names an audience's clients: policy.NamedAudience and audit's AuditAudience."""

    @property
    def name(self) -> str: ...
    @property
    def networks(self) -> tuple: ...
    @property
    def users(self) -> tuple[str, ...]: ...
    @property
    def groups(self) -> tuple[str, ...]: ...


def any_user(user: str, wanted: Iterable[str]) -> bool:
    return any(user_matches(user, u) for u in wanted)


def any_group(group: str, wanted: Iterable[str]) -> bool:
    return any(group_matches(group, g) for g in wanted)


def holds(audience: Member, client: str | None, user: str | None, group: str | None) -> bool:
    """Whether `audience` holds a record of this client address, user and group."""
    return (
        in_networks(client, audience.networks)
        or bool(user and any_user(user, audience.users))
        or bool(group and any_group(group, audience.groups))
    )


@dataclass
class AudienceMatcher:
    """The first of `audiences` (in order) holding a record, by address, user or group; answers
    kept per distinct client, user and group (at most MAX_CACHE of each)."""

    audiences: Sequence[Member]
    _by_client: dict[str, int] = field(default_factory=dict)
    _by_user: dict[str, int] = field(default_factory=dict)
    _by_group: dict[str, int] = field(default_factory=dict)
    # whether any audience is given by users or groups (else the address alone decides)
    names_people: bool = field(init=False)

    def __post_init__(self) -> None:
        self.names_people = any(a.users or a.groups for a in self.audiences)

    def first(self, client: str | None, user: str | None = None, group: str | None = None) -> str | None:
        """The name of the first audience holding the record; None when none does."""
        n = len(self.audiences)
        if not n:
            return None
        best = n
        if client:  # the cache hit inline: this runs once per record on the Python path
            hit = self._by_client.get(client)
            best = hit if hit is not None else self._index(self._by_client, client, "networks", in_networks)
        if self.names_people:  # else the address alone decides
            if user:
                best = min(best, self._index(self._by_user, user, "users", any_user))
            if group:
                best = min(best, self._index(self._by_group, group, "groups", any_group))
        return self.audiences[best].name if best < n else None

    def _index(self, cache: dict[str, int], key: str, attr: str, match: Callable[[str, tuple], bool]) -> int:
        """The first audience whose `attr` (networks, users, groups) `match`es `key`, cached."""
        hit = cache.get(key)
        if hit is None:
            hit = next(
                (i for i, a in enumerate(self.audiences) if match(key, getattr(a, attr))), len(self.audiences)
            )
            if len(cache) < MAX_CACHE:
                cache[key] = hit
        return hit

"""The per-user tally beside a report (`traffic --by-user`, `audit --by-user`), the same on every
engine: a record with a user and a catalog service counts for that user, shown under `shown`
(a keyed pseudonym, "user-" and 12 hex digits, with the key of the client pseudonyms; or the
name itself when the auditor opts in). The first `max_users` users, in the order of their first
such record, are kept; the rest are counted together under `other`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from policy_lint.traffic.compliance import ComplianceReport
from policy_lint.traffic.record import Observation

MAX_USERS = 200
OTHER_USERS = "(other users)"


@dataclass
class ByUser:
    """A per-user report beside the main one: its audiences are the users' shown names."""

    report: ComplianceReport
    shown: Callable[[str], str]
    max_users: int = MAX_USERS
    other: str = OTHER_USERS
    names: dict[str, str] = field(default_factory=dict)  # shown name -> the plain name

    def name(self, user: str) -> str:
        """The name `user`'s records are counted under (called in the order users first appear)."""
        shown = self.shown(user)
        if shown not in self.names and len(self.names) >= self.max_users:
            return self.other
        self.names.setdefault(shown, user)
        return shown

    def add(self, obs: Observation) -> None:
        """The Python path: one observation, counted for its user when it has one."""
        if obs.user and obs.service is not None:
            self.report.add(obs, audience=self.name(obs.user))

"""The traffic side of an audit: the logs, classified as `policy-lint traffic` classifies them,
tallied per audit audience (and per user), in bounded memory.

How a record is matched to the static side's audiences (both sides must mean the same clients):
- by client address: the record's client (the address the log names: squid's remotehost,
  Zscaler cip, PAN-OS/FortiGate source address, Umbrella InternalIp, DNS client) is in the
  audience's CIDRs: a segment's `clients:` or a policy audience's `networks:`. A record falls in
  every audience holding its address (overlapping segments each count it). Addresses the log
  shows after NAT, or a proxy that logs its own address, match the translated address only;
- by user or group: the record's user or group (record.FlowRecord) is one a policy audience's
  `users:` / `groups:` name, as identity.py matches them (the same rule `traffic` follows);
- "everyone" (no network view): every record. With a network view, records whose client is in
  no segment are tallied as "(clients in no segment)": their static side is unknown;
- a segment named only by interface or zone has no address to match: its traffic side is
  `inconclusive` (no records), never a guess.

Users (`by_user`) are tallied by byuser.ByUser (as `traffic --by-user`) under a pseudonym
(compliance.keyed_pseudonym, prefix "user-", the same key as the client pseudonyms) unless the
auditor opts into plain names; at most byuser.MAX_USERS users are kept, the rest under
"(other users)".

Firewall records without a host name are attributed by destination address
(classify.Classifier(by_address=True)): the evidence says "matched by destination address".
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from policy_lint.audit.static import EVERYONE, AuditAudience
from policy_lint.identity import holds, in_networks
from policy_lint.traffic.byuser import ByUser
from policy_lint.traffic.classify import Classifier
from policy_lint.traffic.compliance import ComplianceReport, keyed_pseudonym
from policy_lint.traffic.record import FlowRecord
from policy_lint.traffic.sources import SkipCounter, read_records

NO_SEGMENT = "(clients in no segment)"
MAX_CACHE = 4096


@dataclass
class TrafficSide:
    catalog: object
    audiences: list[AuditAudience]
    network_view: bool
    pseudonymise: bool = True
    key: bytes = field(default_factory=lambda: os.urandom(32))
    by_user: bool = False

    def __post_init__(self) -> None:
        self.overall = ComplianceReport(self.catalog, None, pseudonymise=self.pseudonymise, key=self.key)
        self.grouped = ComplianceReport(self.catalog, None, pseudonymise=self.pseudonymise, key=self.key)
        self.users = ByUser(
            ComplianceReport(self.catalog, None, pseudonymise=self.pseudonymise, key=self.key),
            self.shown_user,
        )
        self.matched: dict[str, int] = {}
        self._by_address: dict[str, tuple[str, ...]] = {}
        self.classifier = Classifier(self.catalog, by_address=True)

    def shown_user(self, user: str) -> str:
        return keyed_pseudonym(self.key, user, "user-") if self.pseudonymise else user

    def _address_audiences(self, client: str | None) -> tuple[str, ...]:
        if not client:
            return ()
        hit = self._by_address.get(client)
        if hit is not None:
            return hit
        names = tuple(a.name for a in self.audiences if in_networks(client, a.networks))
        if len(self._by_address) < MAX_CACHE:
            self._by_address[client] = names
        return names

    def audiences_of(self, rec: FlowRecord) -> list[str]:
        names = list(self._address_audiences(rec.client))
        for a in self.audiences:
            if a.name in names:
                continue
            if a.kind == "everyone" or holds(a, None, rec.user, rec.group):
                names.append(a.name)
        if self.network_view and not any(a.kind == "segment" for a in self.audiences if a.name in names):
            names.append(NO_SEGMENT)
        return names

    def add(self, rec: FlowRecord) -> None:
        obs = self.classifier.classify(rec)
        if obs is None:
            return
        self.overall.add(obs, audience=EVERYONE)
        for name in self.audiences_of(rec):
            self.matched[name] = self.matched.get(name, 0) + 1
            self.grouped.add(obs, audience=name)
        if self.by_user:
            self.users.add(obs)

    def read(self, paths: Iterable[Path]) -> None:
        for path in paths:
            skipped = SkipCounter()
            for rec in read_records(path, skipped, keep_addressed=True):
                self.add(rec)
            for reason, n in skipped.reasons.items():
                self.overall.note_skipped(n, f"{path.name}: {reason}")

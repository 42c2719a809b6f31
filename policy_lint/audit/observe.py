"""The traffic side of an audit: the logs, classified as `policy-lint traffic` classifies them,
tallied per audit audience (and per user), in bounded memory.

How a record is matched to the static side's audiences (both sides must mean the same clients):
- by client address: the record's client (the address the log names: squid's remotehost,
  Zscaler cip, PAN-OS/FortiGate source address, Umbrella InternalIp, DNS client) is in the
  audience's CIDRs: a segment's `clients:` or a policy audience's `networks:`. A record falls in
  every audience holding its address (overlapping segments each count it). Addresses the log
  shows after NAT, or a proxy that logs its own address, match the translated address only;
- by user: the record's user (see record.FlowRecord.user) equals one of a policy audience's
  `users:` ignoring case; a policy name without a domain (`asmith`) also matches the account of
  any domain (`CORP\\asmith`, `asmith@corp.example`); a qualified one only itself;
- by group: the record's group (FortiGate `group=` only: the other logs carry none) equals
  one of a policy audience's `groups:` ignoring case;
- "everyone" (no network view): every record. With a network view, records whose client is in
  no segment are tallied as "(clients in no segment)": their static side is unknown;
- a segment named only by interface or zone has no address to match: its traffic side is
  `inconclusive` (no records), never a guess.

Users (`by_user`) are tallied under a pseudonym (compliance.keyed_pseudonym, prefix "user-",
the same key as the client pseudonyms) unless the auditor opts into plain names; at most
MAX_USERS users are kept, the rest under "(other users)".

Firewall records without a host name are attributed by destination address
(classify.Classifier(by_address=True)): the evidence says "matched by destination address".
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from policy_lint.audit.static import EVERYONE, AuditAudience, bare_user
from policy_lint.traffic.classify import Classifier
from policy_lint.traffic.compliance import ComplianceReport, keyed_pseudonym
from policy_lint.traffic.record import FlowRecord
from policy_lint.traffic.sources import SkipCounter, read_records

NO_SEGMENT = "(clients in no segment)"
OTHER_USERS = "(other users)"
MAX_USERS = 200
MAX_CACHE = 4096


def user_matches(log_user: str, wanted: str) -> bool:
    a, b = log_user.casefold(), wanted.casefold()
    if a == b:
        return True
    if "\\" in b or "@" in b:
        return False  # a qualified name in the policy means that account only
    return bare_user(a) == b


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
        self.users = ComplianceReport(self.catalog, None, pseudonymise=self.pseudonymise, key=self.key)
        self.user_names: dict[str, str] = {}  # shown name -> the plain name (static lookup)
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
        try:
            ip = ipaddress.ip_address(client.strip("[]"))
        except ValueError:
            names: tuple[str, ...] = ()
        else:
            names = tuple(
                a.name for a in self.audiences if any(ip.version == n.version and ip in n for n in a.networks)
            )
        if len(self._by_address) < MAX_CACHE:
            self._by_address[client] = names
        return names

    def audiences_of(self, rec: FlowRecord) -> list[str]:
        names = list(self._address_audiences(rec.client))
        for a in self.audiences:
            if a.name in names:
                continue
            if (
                a.kind == "everyone"
                or (rec.user and any(user_matches(rec.user, u) for u in a.users))
                or (rec.group and any(rec.group.casefold() == g.casefold() for g in a.groups))
            ):
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
        if self.by_user and rec.user and obs.service is not None:
            shown = self.shown_user(rec.user)
            if shown not in self.user_names and len(self.user_names) >= MAX_USERS:
                shown = OTHER_USERS
            else:
                self.user_names.setdefault(shown, rec.user)
            self.users.add(obs, audience=shown)

    def read(self, paths: Iterable[Path]) -> None:
        for path in paths:
            skipped = SkipCounter()
            for rec in read_records(path, skipped, keep_addressed=True):
                self.add(rec)
            for reason, n in skipped.reasons.items():
                self.overall.note_skipped(n, f"{path.name}: {reason}")

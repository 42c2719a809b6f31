"""Observations -> the Technology Enablement compliance report, in bounded memory.

Verdicts per service (and per service within each audience):
  blocked      a primary-host request was blocked
  degraded     the primary was reachable but a supporting host (cdn/api/auth/...) was blocked
               (a blocked hygiene host -- ads, analytics, tracking, widget -- is privacy hygiene,
               not a degradation: counted in outcomes and hosts, never towards "degraded")
  compliant    the primary was reachable and nothing was blocked
  inconclusive no primary evidence, or only failed / audit-path outcomes
Memory: counters only; evidence capped per service, the host table capped per service
(further hosts are counted under "(other hosts)"), client pseudonyms are not stored.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import os
from dataclasses import dataclass, field

from policy_lint.catalog import HYGIENE_ROLES
from policy_lint.identity import AudienceMatcher
from policy_lint.traffic.record import OUTCOMES, Observation
from policy_lint.traffic.trend import Trend

MAX_EVIDENCE = 5
MAX_HOSTS = 50
MAX_CLIENTS_LISTED = 10
OTHER_HOSTS = "(other hosts)"
OTHER_CLIENTS = "other clients"


def _counts() -> dict[str, int]:
    return dict.fromkeys(OUTCOMES, 0)


@dataclass
class _Tally:
    requests: int = 0
    outcomes: dict[str, int] = field(default_factory=_counts)
    primary: dict[str, int] = field(default_factory=_counts)
    support_blocked: int = 0

    def add(self, obs: Observation, n: int = 1) -> None:
        self.requests += n
        self.outcomes[obs.outcome] += n
        if obs.role == "primary":
            self.primary[obs.outcome] += n
        elif obs.outcome == "blocked" and obs.role not in HYGIENE_ROLES:
            self.support_blocked += n

    def verdict(self) -> str:
        if self.primary["blocked"]:
            return "blocked"
        if self.primary["reachable"]:
            return "degraded" if self.support_blocked else "compliant"
        if self.support_blocked:
            return "degraded"  # supporting host blocked, primary never seen: still a finding
        return "inconclusive"


@dataclass
class _Service:
    tally: _Tally = field(default_factory=_Tally)
    hosts: dict[str, dict[str, int]] = field(default_factory=dict)
    evidence: list[dict] = field(default_factory=list)
    evidence_keys: set = field(default_factory=set)


class ComplianceReport:
    def __init__(
        self,
        catalog,
        policy=None,
        *,
        pseudonymise: bool = True,
        key: bytes | None = None,
        period: str | None = None,
    ) -> None:
        self.catalog = catalog
        # per-day/week verdicts (trend.py), when asked for
        self.trend = Trend(period, _Tally) if period else None
        self.pseudonymise = pseudonymise
        self._key = key if key is not None else os.urandom(32)  # per run: pseudonyms not linkable across runs
        self.policy = policy
        # the policy's audiences, in its order: a record belongs to the first that holds it
        self._matcher = AudienceMatcher(
            [a for a in policy.audiences.values() if a.networks or a.users or a.groups] if policy else []
        )
        self._services: dict[str, _Service] = {sid: _Service() for sid in catalog.services}
        self._by_audience: dict[str, dict[str, _Tally]] = {}
        self._control = _counts()
        self._clients: dict[str, dict[str, str]] = {}  # audience -> first few clients -> pseudonym
        self.start: float | None = None
        self.end: float | None = None
        self.skipped = 0
        self.skipped_reasons: dict[str, int] = {}

    def note_skipped(self, n: int, reason: str) -> None:
        if n:
            self.skipped += n
            key = reason[:80]
            if key in self.skipped_reasons or len(self.skipped_reasons) < 20:
                self.skipped_reasons[key] = self.skipped_reasons.get(key, 0) + n

    def pseudonym(self, value: str, prefix: str = "client-") -> str:
        """A client address (or, with prefix "user-", a user name) as the report shows it."""
        if not self.pseudonymise:
            return value
        return keyed_pseudonym(self._key, value, prefix)

    @property
    def audiences_name_people(self) -> bool:
        """Whether the policy has audiences given by users or groups (identity.AudienceMatcher)."""
        return self._matcher.names_people

    def audience_of(self, client: str | None, user: str | None = None, group: str | None = None) -> str:
        """The policy audience a record of this client address, user and group belongs to: the
        first in the policy's order that holds it (identity.py); "other clients" when none does."""
        return self._matcher.first(client, user, group) or OTHER_CLIENTS

    def note_client(self, audience: str, client: str) -> None:
        """A client seen in `audience` (the sample lists the first few, pseudonymised)."""
        seen = self._clients.setdefault(audience, {})
        if len(seen) < MAX_CLIENTS_LISTED and client not in seen:
            seen[client] = self.pseudonym(client)

    def add(
        self,
        obs: Observation,
        n: int = 1,
        span: tuple[float, float] | None = None,
        audience: str | None = None,
    ) -> None:
        """One observation, or `n` identical ones (the DuckDB engine's groups, fed in the order
        their first record came: obs.timestamp is the first one's time, `span` the group's
        earliest and latest non-zero times, `audience` the clients' audience, their sample
        given by note_client)."""
        ts = obs.timestamp
        for t in span or (ts, ts):
            if t:
                self.start = t if self.start is None else min(self.start, t)
                self.end = t if self.end is None else max(self.end, t)
        period = self.trend.key(ts, n) if self.trend is not None else None
        if obs.service is None:
            self._control[obs.outcome] += n
            return
        # get-then-create, not setdefault(key, new()): this runs once per live flow, and
        # setdefault would build (and drop) a fresh dict or _Tally every time.
        svc = self._services.get(obs.service)
        if svc is None:
            svc = self._services[obs.service] = _Service()
        svc.tally.add(obs, n)
        counts = svc.hosts.get(obs.host)
        if counts is None:
            host = obs.host if len(svc.hosts) < MAX_HOSTS else OTHER_HOSTS
            counts = svc.hosts.get(host)
            if counts is None:
                counts = svc.hosts[host] = _counts()
        counts[obs.outcome] += n
        if obs.outcome != "reachable" and len(svc.evidence) < MAX_EVIDENCE:
            key = (obs.host, obs.outcome, obs.how)
            if key not in svc.evidence_keys:
                svc.evidence_keys.add(key)
                svc.evidence.append(
                    {
                        "host": obs.host,
                        "role": obs.role,
                        "outcome": obs.outcome,
                        "how": obs.how,
                        "evidence": obs.evidence,
                        "time": _iso(ts),
                    }
                )
        aud = audience if audience is not None else self.audience_of(obs.client, obs.user, obs.group)
        if obs.client:
            self.note_client(aud, obs.client)
        tallies = self._by_audience.get(aud)
        if tallies is None:
            tallies = self._by_audience[aud] = {}
        tally = tallies.get(obs.service)
        if tally is None:
            tally = tallies[obs.service] = _Tally()
        tally.add(obs, n)
        if period is not None and self.trend is not None:
            self.trend.tally(aud, obs.service, period).add(obs, n)  # type: ignore[attr-defined]

    def verdict(self, service: str) -> str:
        return self._services[service].tally.verdict()

    def to_dict(self) -> dict:
        services: dict[str, dict[str, object]] = {}
        for sid, svc in self._services.items():
            services[sid] = {
                "verdict": svc.tally.verdict(),
                "requests": svc.tally.requests,
                "outcomes": dict(svc.tally.outcomes),
                "hosts": {h: dict(c) for h, c in sorted(svc.hosts.items())},
                "evidence": list(svc.evidence),
            }
        audiences = {
            aud: {
                "clients": sorted(self._clients.get(aud, {}).values()),  # a sample, capped
                "services": {
                    sid: {"verdict": t.verdict(), "requests": t.requests, "outcomes": dict(t.outcomes)}
                    for sid, t in sorted(tallies.items())
                },
            }
            for aud, tallies in sorted(self._by_audience.items())
        }
        for sid, entry in services.items():
            entry["accepted"] = self._accepted(sid, audiences)
        extra = {}
        if self.trend is not None:
            accepted = {sid: list(entry["accepted"]) for sid, entry in services.items()}  # type: ignore[call-overload]
            extra["trend"] = self.trend.to_dict(lambda t: t.verdict(), accepted)  # type: ignore[attr-defined]
        return {
            **extra,
            "version": 1,
            "window": {"start": _iso(self.start), "end": _iso(self.end)},
            "services": services,
            "audiences": audiences,
            "control": dict(self._control),
            "skipped": self.skipped,
            "skipped_reasons": dict(self.skipped_reasons),
            "pseudonymised": self.pseudonymise,
        }

    def _accepted(self, sid: str, audiences: dict) -> list[str]:
        """The audiences whose block of `sid` an unexpired policy exception covers (the same
        exceptions `check` honours): evidence stays in the report, the run does not fail on it."""
        if self.policy is None:
            return []
        today = dt.date.today()
        covered = {e.audience for e in self.policy.exceptions if e.service == sid and not e.expired(today)}
        return sorted(
            aud
            for aud, data in audiences.items()
            if data["services"].get(sid, {}).get("verdict") in FAILING
            and (aud in covered or "everyone" in covered)
        )

    def summary_lines(self) -> list[str]:
        lines = []
        for sid, svc in self._services.items():
            o = svc.tally.outcomes
            lines.append(
                f"{sid}: {svc.tally.verdict()} ({svc.tally.requests} requests: "
                f"{o['reachable']} reachable, {o['blocked']} blocked, {o['failed']} failed, "
                f"{o['inconclusive']} inconclusive)"
            )
        return lines


FAILING = ("blocked", "degraded")


def failing_services(report: dict, policy) -> list[str]:
    """Services the run fails on: blocked or degraded, required by the policy (all when there is
    none), and not only in audiences an unexpired exception accepts."""
    out = []
    for sid, svc in report["services"].items():
        if svc["verdict"] not in FAILING or (policy is not None and not policy.required(sid)):
            continue
        failing_audiences = [
            aud
            for aud, data in report["audiences"].items()
            if data["services"].get(sid, {}).get("verdict") in FAILING
        ]
        if failing_audiences and set(failing_audiences) <= set(svc.get("accepted", ())):
            continue
        out.append(sid)
    return out


def keyed_pseudonym(key: bytes, value: str, prefix: str = "client-") -> str:
    """The keyed hash a report shows instead of a client address or user name: the same value
    and key give the same pseudonym, in any run; without the key it cannot be reversed."""
    return prefix + hmac.new(key, value.encode(), hashlib.sha256).hexdigest()[:12]


def _iso(ts: float | None) -> str | None:
    if not ts:
        return None
    try:
        return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat(timespec="seconds")
    except (ValueError, OverflowError, OSError):  # a log's time past year 9999: shown as unknown
        return None

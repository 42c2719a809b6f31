"""Verdicts per day or ISO week, per audience and service: the trend an audit asks for
("facebook blocked for guests on 14 of 30 days").

A period's verdict is the same rule as the report's (compliance._Tally) over that period's
observations only. The denominator is every period of the input that has any observation (of any
service, audience or the control host): a day with no traffic at all is not counted, a day with
traffic but none for the service counts as "no evidence" for it. Observations without a time
(ts 0, or past year 9999) take no part in the trend. Memory: at most MAX_PERIODS periods are kept (about a year of
days); later ones are counted in "periods_dropped".

Example: ``policy-lint traffic logs/ --by day`` adds to the report
``trend: {period: day, periods: [...], audiences: {guests: {facebook: {"2022-06-20": "blocked"}}},
summary: ["facebook: blocked for guests on 1 of 1 days", ...]}``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

PERIODS = ("day", "week")
MAX_PERIODS = 400


def period_key(ts: float, period: str) -> str:
    d = dt.datetime.fromtimestamp(ts, dt.UTC).date()
    if period == "day":
        return d.isoformat()
    year, week, _ = d.isocalendar()
    return f"{year}-W{week:02d}"


@dataclass
class Trend:
    period: str
    new_tally: Callable[[], object]  # compliance._Tally's constructor (kept there: one rule)
    periods: set[str] = field(default_factory=set)
    dropped: int = 0
    tallies: dict[tuple[str, str, str], object] = field(default_factory=dict)  # (aud, sid, key)

    def key(self, ts: float, n: int = 1) -> str | None:
        """The period of `n` observations at `ts` (None: no time, or past MAX_PERIODS)."""
        if not ts:
            return None
        try:
            key = period_key(ts, self.period)
        except (ValueError, OverflowError, OSError):  # a time past year 9999: no period
            return None
        if key not in self.periods:
            if len(self.periods) >= MAX_PERIODS:
                self.dropped += n
                return None
            self.periods.add(key)
        return key

    def tally(self, audience: str, service: str, key: str) -> object:
        return self.tallies.setdefault((audience, service, key), self.new_tally())

    def to_dict(self, verdict_of: Callable[[object], str], accepted: dict[str, list[str]]) -> dict:
        periods = sorted(self.periods)
        audiences: dict[str, dict[str, dict[str, str]]] = {}
        for (aud, sid, key), t in sorted(self.tallies.items()):
            audiences.setdefault(aud, {}).setdefault(sid, {})[key] = verdict_of(t)
        summary = []
        unit = "days" if self.period == "day" else "weeks"
        for aud, services in sorted(audiences.items()):
            for sid, by_period in sorted(services.items()):
                for verdict in ("blocked", "degraded"):
                    n = sum(1 for v in by_period.values() if v == verdict)
                    if n:
                        note = " (accepted by a policy exception)" if aud in accepted.get(sid, ()) else ""
                        summary.append(f"{sid}: {verdict} for {aud} on {n} of {len(periods)} {unit}{note}")
        return {
            "period": self.period,
            "periods": periods,
            "observations_past_max_periods": self.dropped,
            "audiences": audiences,
            "summary": summary,
        }

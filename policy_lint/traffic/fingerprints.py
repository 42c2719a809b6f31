"""Block-page, header, error-text and DNS-sinkhole fingerprints, loaded from fingerprints.yaml."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from importlib import resources

import yaml

MAX_SINKHOLE_CACHE = 4096  # addresses remembered by is_sinkhole; hostile traffic has unlimited ones
SQUID_ERROR_HEADER = "x-squid-error"


@dataclass(frozen=True)
class Fingerprints:
    body: tuple[tuple[str, bytes], ...]  # (vendor, lower-case substring)
    headers: tuple[tuple[str, str, str], ...]  # (vendor, header name, value substring)
    statuses: frozenset[int]
    errors: tuple[tuple[str, str], ...]  # (how, lower-case substring)
    audit_path: tuple[str, ...]  # lower-case substrings meaning our own path failed
    sinkholes: tuple  # ip networks
    refused: tuple[str, ...] = ()  # lower-case substrings meaning "TCP connection refused"
    squid_failed: frozenset[str] = frozenset()  # squid page names: it could not reach the site
    squid_audit: frozenset[str] = frozenset()  # squid page names: it wants credentials
    # A pure cache (address -> answer), capped: every flow asks, few addresses recur often.
    _sinkhole_cache: dict[str, bool] = field(default_factory=dict, compare=False, repr=False)

    @property
    def header_names(self) -> frozenset[str]:
        """Every response header name (lower case) a fingerprint reads: the others never matter."""
        return frozenset({SQUID_ERROR_HEADER, *(name for _, name, _ in self.headers)})

    def body_vendor(self, prefix: bytes) -> str | None:
        low = prefix.lower()
        for vendor, needle in self.body:
            if needle in low:
                return vendor
        return None

    def header_vendor(self, headers: tuple[tuple[str, str], ...]) -> tuple[str, str] | None:
        for name, value in headers:
            for vendor, hname, hval in self.headers:
                if name == hname and hval.lower() in value.lower():
                    return vendor, f"{name}: {value[:60]}"
        return None

    def squid_non_block(self, headers: tuple[tuple[str, str], ...]) -> tuple[str, str] | None:
        """(outcome, evidence) when squid's error page says it could not reach the site (failed)
        or wants credentials (inconclusive); None when there is no such page (a block, if any)."""
        for name, value in headers:
            if name == SQUID_ERROR_HEADER:
                words = value.split()
                code = words[0].upper() if words else ""
                if code in self.squid_failed:
                    return "failed", f"X-Squid-Error: {code}"
                if code in self.squid_audit:
                    return "inconclusive", f"X-Squid-Error: {code}"
                return None
        return None

    def is_sinkhole(self, address: str) -> bool:
        hit = self._sinkhole_cache.get(address)
        if hit is not None:
            return hit
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            hit = False
        else:
            hit = any(ip.version == n.version and ip in n for n in self.sinkholes)
        if len(self._sinkhole_cache) < MAX_SINKHOLE_CACHE:
            self._sinkhole_cache[address] = hit
        return hit


def load_fingerprints() -> Fingerprints:
    raw = yaml.safe_load(resources.files(__package__).joinpath("fingerprints.yaml").read_text())
    squid = raw.get("squid-errors") or {}
    return Fingerprints(
        body=tuple((v, s.lower().encode()) for v, subs in raw["body"].items() for s in subs),
        headers=tuple((v, n.lower(), val) for v, pairs in raw["headers"].items() for n, val in pairs),
        statuses=frozenset(raw["statuses"]),
        errors=tuple((how, s.lower()) for how, subs in raw["errors"].items() for s in subs),
        audit_path=tuple(s.lower() for s in raw["audit-path"]),
        sinkholes=tuple(ipaddress.ip_network(s, strict=False) for s in raw["sinkholes"]),
        refused=tuple(s.lower() for s in raw.get("refused") or ()),
        squid_failed=frozenset(s.upper() for s in squid.get("failed") or ()),
        squid_audit=frozenset(s.upper() for s in squid.get("audit-path") or ()),
    )

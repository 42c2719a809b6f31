"""Block-page, header, error-text and DNS-sinkhole fingerprints, loaded from fingerprints.yaml."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from importlib import resources

import yaml


@dataclass(frozen=True)
class Fingerprints:
    body: tuple[tuple[str, bytes], ...]  # (vendor, lower-case substring)
    headers: tuple[tuple[str, str, str], ...]  # (vendor, header name, value substring)
    statuses: frozenset[int]
    errors: tuple[tuple[str, str], ...]  # (how, lower-case substring)
    audit_path: tuple[str, ...]  # lower-case substrings meaning our own path failed
    sinkholes: tuple  # ip networks

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

    def is_sinkhole(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip.version == n.version and ip in n for n in self.sinkholes)


def load_fingerprints() -> Fingerprints:
    raw = yaml.safe_load(resources.files(__package__).joinpath("fingerprints.yaml").read_text())
    return Fingerprints(
        body=tuple((v, s.lower().encode()) for v, subs in raw["body"].items() for s in subs),
        headers=tuple((v, n.lower(), val) for v, pairs in raw["headers"].items() for n, val in pairs),
        statuses=frozenset(raw["statuses"]),
        errors=tuple((how, s.lower()) for how, subs in raw["errors"].items() for s in subs),
        audit_path=tuple(s.lower() for s in raw["audit-path"]),
        sinkholes=tuple(ipaddress.ip_network(s, strict=False) for s in raw["sinkholes"]),
    )

"""Juniper's application (AppID) and URL-category names from the catalog's vendor table
(`policy_lint/catalog/vendor_names.yaml`, vendor `juniper_srx`), with their confidence.

A name decides a match only when the table lists it with a source at high or medium
confidence; any other name (and every name while the table has none) leaves the match unknown,
since which traffic Juniper's signatures and Websense's categories put under it is Juniper's data,
not the configuration's."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

import policy_lint.catalog

VENDOR = "juniper_srx"
DECIDING = {"high", "high-medium", "medium"}


@dataclass
class VendorNames:
    apps: dict[str, str] = field(default_factory=dict)  # upper-case name -> service id
    categories: set[str] = field(default_factory=set)  # social-networking category names (upper case)

    def app_service(self, name: str) -> str | None:
        return self.apps.get(name.upper())

    def is_social_category(self, name: str) -> bool:
        return name.upper() in self.categories


def load() -> VendorNames:
    path = Path(policy_lint.catalog.__file__).parent / "vendor_names.yaml"
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        return VendorNames()
    out = VendorNames()
    for entry in data.get("categories") or []:
        if entry.get("vendor") == VENDOR and str(entry.get("confidence", "")) in DECIDING:
            out.categories.update(str(n).upper() for n in entry.get("names") or [])
    for service, entries in (data.get("apps") or {}).items():
        for entry in entries or []:
            if entry.get("vendor") == VENDOR and str(entry.get("confidence", "")) in DECIDING:
                for n in entry.get("names") or []:
                    out.apps[str(n).upper()] = service
    return out

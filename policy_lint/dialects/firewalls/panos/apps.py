"""What the linter knows of PAN-OS App-IDs and URL categories, all from the catalog's
`vendor_names.yaml` (each name with its source and confidence); nothing here is guessed.

- A service's **base App-ID** is its table name ending in `-base` (facebook-base,
  twitter-base, linkedin-base): PAN-OS identifies the service's site as that App-ID. Its other
  names of confidence above `low` are **sub-apps** (facebook-chat, facebook-mail, ...): functions
  inside the site, identified on top of the base (PAN-OS 8.1 admin guide: facebook-base is
  required to control the other Facebook apps). Names the notes list as unverified (`low`)
  are known to exist only as claims: a rule naming one has an unknown effect.
- `also_seen` names are container App-IDs (`twitter`) that hold the base and its sub-apps.
- A name not in the table *ties* to a service when its first word is the service's id, name
  or alias (`linkedin`, `facebook-posting`): it may identify that service's traffic.
- Attributes (category, subcategory, default ports, use-applications) come from the table's
  `app_attributes`; an attribute not listed is unknown.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import yaml

from policy_lint.catalog import Catalog

VENDOR = "palo_alto_panos"
# The generic App-IDs of web traffic that no more specific App-ID claims (facebook-base's
# use-applications in PAN KB kA10g000000ClirCAC): TLS and plain HTTP.
GENERIC = {"https": "ssl", "http": "web-browsing"}
# A stand-in for "some App-ID the table does not list" (a service with no known App-ID).
UNLISTED = "<unlisted App-ID>"


@dataclass(frozen=True)
class AppName:
    name: str
    service: str
    confidence: str
    source: str
    kind: str  # base | sub | container | unverified


@dataclass(frozen=True)
class Attributes:
    category: str = ""
    subcategory: str = ""
    default_ports: tuple[str, ...] = ()
    use_applications: tuple[str, ...] = ()
    source: str = ""


@dataclass(frozen=True)
class AppCatalog:
    names: dict[str, AppName] = field(default_factory=dict)
    base: dict[str, str] = field(default_factory=dict)  # service -> base App-ID
    subs: dict[str, tuple[str, ...]] = field(default_factory=dict)  # service -> verified sub-apps
    attributes: dict[str, Attributes] = field(default_factory=dict)
    url_categories: tuple[str, ...] = ()  # PAN-DB names for social networking
    words: dict[str, str] = field(default_factory=dict)  # service word -> service id

    def service_of(self, name: str) -> str | None:
        """The service a name not in the table ties to by its first word, if any."""
        known = self.names.get(name)
        if known:
            return known.service
        first = re.split(r"[-_.\s]", name.lower(), maxsplit=1)[0]
        return self.words.get(first)

    def known(self, name: str) -> bool:
        return name in self.names or name in GENERIC.values() or name in self.attributes


@cache
def _table() -> dict:
    path = Path(__file__).resolve().parents[3] / "catalog" / "vendor_names.yaml"
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return yaml.load(path.read_text(encoding="utf-8"), Loader=loader) or {}


def load(catalog: Catalog) -> AppCatalog:
    table = _table()
    names: dict[str, AppName] = {}
    base: dict[str, str] = {}
    subs: dict[str, list[str]] = {}
    for service, entries in (table.get("apps") or {}).items():
        for entry in entries or []:
            if entry.get("vendor") != VENDOR:
                continue
            confidence = str(entry.get("confidence", "low"))
            source = str(entry.get("source", ""))
            for name in entry.get("names") or []:
                if confidence == "low":
                    kind = "unverified"
                elif str(name).endswith("-base"):
                    kind = "base"
                    base[service] = str(name)
                else:
                    kind = "sub"
                    subs.setdefault(service, []).append(str(name))
                names[str(name)] = AppName(str(name), service, confidence, source, kind)
            for name in entry.get("also_seen") or []:
                names[str(name)] = AppName(str(name), service, confidence, source, "container")
    attributes = {}
    for entry in table.get("app_attributes") or []:
        if entry.get("vendor") != VENDOR:
            continue
        attributes[str(entry["app"])] = Attributes(
            str(entry.get("category", "")),
            str(entry.get("subcategory", "")),
            tuple(str(p) for p in entry.get("default_ports") or ()),
            tuple(str(a) for a in entry.get("use_applications") or ()),
            str(entry.get("source", "")),
        )
    words: dict[str, str] = {}
    for svc in catalog.services.values():
        for word in (svc.id, svc.name, *svc.aliases):
            key = re.split(r"[-_.\s/]", word.lower().strip(), maxsplit=1)[0]
            if len(key) >= 3:  # `x` alone is too short to tie a name to Twitter
                words[key] = svc.id
    return AppCatalog(
        names,
        base,
        {s: tuple(v) for s, v in subs.items()},
        attributes,
        tuple(catalog.category_names.get(VENDOR, ())),
        words,
    )

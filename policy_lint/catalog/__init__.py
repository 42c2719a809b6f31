"""The service catalog: services, their domains and roles, probes, and address prefixes.

Shipped as YAML next to this file (`services.yaml`, `addresses.yaml`, `vendor_names.yaml`);
a policy can add services and domains (`Catalog.extended`).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path

from policy_lint.catalog.cache import load_parsed
from policy_lint.model import Probe
from policy_lint.records import FrozenRecord

PRIMARY = "primary"
SUPPORTING_ROLES = frozenset({"cdn", "api", "auth", "short-link", "messaging"})
HYGIENE_ROLES = frozenset({"ads", "analytics", "tracking", "widget"})
ROLES = frozenset({PRIMARY}) | SUPPORTING_ROLES | HYGIENE_ROLES


@dataclass(frozen=True, eq=False, repr=False)
class DomainFact(FrozenRecord):
    domain: str
    role: str
    confidence: str = "high"
    source: str = ""


@dataclass(frozen=True, eq=False, repr=False)
class ProbeHost(FrozenRecord):
    host: str
    role: str
    path: str = "/"


@dataclass(frozen=True, eq=False, repr=False)
class AsnPrefixes(FrozenRecord):
    asn: int
    name: str
    source: str
    date: str
    confidence: str
    networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]


@dataclass(frozen=True, eq=False, repr=False)
class Service(FrozenRecord):
    id: str
    name: str
    domains: tuple[DomainFact, ...]
    probe_hosts: tuple[ProbeHost, ...]
    hygiene: tuple[ProbeHost, ...]
    keywords: tuple[str, ...]
    asns: tuple[AsnPrefixes, ...] = ()
    addresses: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()  # other names users type for it (`x` for Twitter / X)

    def probes(self) -> list[Probe]:
        """Every request a user makes: each probe host over HTTPS and plain HTTP."""
        out: list[Probe] = []
        for ph in (*self.probe_hosts, *self.hygiene):
            for scheme, port in (("https", 443), ("http", 80)):
                out.append(Probe(self.id, ph.host, ph.role, scheme, port, ph.path, self.addresses))
        return out

    @cached_property
    def networks(self) -> tuple:
        return tuple(n for a in self.asns for n in a.networks)


@dataclass(frozen=True, eq=False, repr=False)
class Catalog(FrozenRecord):
    services: dict[str, Service]
    control_host: str
    control_addresses: tuple[str, ...]
    addresses_version: str = ""
    category_names: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def control_probes(self) -> list[Probe]:
        return [
            Probe(None, self.control_host, "control", s, p, "/", self.control_addresses)
            for s, p in (("https", 443), ("http", 80))
        ]

    def service_for_host(self, host: str) -> tuple[str, str] | None:
        """(service id, role) of the longest catalog domain that `host` is or is under."""
        host = host.lower().rstrip(".")
        best: tuple[int, str, str] | None = None
        for svc in self.services.values():
            for d in svc.domains:
                if (host == d.domain or host.endswith("." + d.domain)) and (
                    best is None or len(d.domain) > best[0]
                ):
                    best = (len(d.domain), svc.id, d.role)
            for h in svc.hygiene:
                if host == h.host and h.path == "/":
                    return svc.id, h.role
        return (best[1], best[2]) if best else None

    def lookup(self, name: str) -> str | None:
        """The id of the service a user means by `name`: its id, its display name or one of its
        aliases, ignoring case, spaces and punctuation ("x", "X", "Twitter / X" -> twitter)."""
        wanted = _name_key(name)
        if not wanted:
            return None
        for svc in self.services.values():
            if wanted in {_name_key(n) for n in (svc.id, svc.name, *svc.aliases)}:
                return svc.id
        return None

    def service_for_ip(self, address: str) -> str | None:
        ip = ipaddress.ip_address(address)
        for svc in self.services.values():
            if any(ip.version == n.version and ip in n for n in svc.networks):
                return svc.id
        return None

    def extended(self, extra_domains: dict[str, list[str]], new_services: dict[str, dict]) -> Catalog:
        """A copy with a policy's additions: extra primary domains, and whole new services."""
        services = dict(self.services)
        for sid, spec in new_services.items():
            domains = tuple(DomainFact(d.lower(), PRIMARY, "user", "policy") for d in spec["domains"])
            hosts = tuple(ProbeHost(h, PRIMARY) for d in spec["domains"] for h in (d, f"www.{d}"))
            services[sid] = Service(sid, spec.get("name", sid), domains, hosts, (), (sid,))
        for sid, extra in extra_domains.items():
            svc = services[sid]
            services[sid] = replace(
                svc,
                domains=svc.domains + tuple(DomainFact(d.lower(), PRIMARY, "user", "policy") for d in extra),
                probe_hosts=svc.probe_hosts + tuple(ProbeHost(d.lower(), PRIMARY) for d in extra),
            )
        return replace(self, services=services)


def _name_key(name: str) -> str:
    return "".join(c for c in name.casefold() if c.isalnum())


CATALOG_FILES = ("services.yaml", "addresses.yaml", "vendor_names.yaml")


def _parse(files: dict[str, bytes]) -> dict[str, dict]:
    """Each YAML file's data, by file name. PyYAML is imported here only: a run that finds the
    parse in the cache (catalog/cache.py) never imports it."""
    import yaml

    # libyaml's parser when PyYAML has it.
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return {name: yaml.load(data.decode("utf-8"), Loader=loader) or {} for name, data in files.items()}


def _read_all() -> dict[str, dict]:
    # Plain paths, not importlib.resources: the package ships as files, and importing
    # resources (and tempfile behind it) costs start-up time on every run.
    files = {}
    for name in CATALOG_FILES:
        try:
            files[name] = (Path(__file__).parent / name).read_bytes()
        except FileNotFoundError:
            if name == "services.yaml":
                raise
    parsed: dict[str, dict] = load_parsed(files, _parse)
    return parsed


def _asns(raw: list[dict]) -> tuple[AsnPrefixes, ...]:
    out = []
    for a in raw or []:
        nets = tuple(ipaddress.ip_network(p) for p in (a.get("ipv4") or []) + (a.get("ipv6") or []))
        out.append(
            AsnPrefixes(
                int(a["asn"]),
                str(a.get("name", "")),
                str(a.get("source", "")),
                str(a.get("date", "")),
                str(a.get("confidence", "")),
                nets,
            )
        )
    return tuple(out)


def load_catalog() -> Catalog:
    parsed = _read_all()
    data = parsed["services.yaml"]
    addresses = parsed.get("addresses.yaml") or {}
    vendor = parsed.get("vendor_names.yaml") or {}
    addr_services = addresses.get("services") or {}
    services: dict[str, Service] = {}
    for sid, s in data["services"].items():
        a = addr_services.get(sid) or {}
        rep = a.get("representative_addresses") or {}
        services[sid] = Service(
            id=sid,
            name=s["name"],
            domains=tuple(DomainFact(**d) for d in s["domains"]),
            probe_hosts=tuple(ProbeHost(**p) for p in s["probes"]),
            hygiene=tuple(ProbeHost(**p) for p in s.get("hygiene") or ()),
            keywords=tuple(s.get("keywords") or (sid,)),
            asns=_asns(a.get("asns") or []),
            addresses=tuple((rep.get("ipv4") or []) + (rep.get("ipv6") or [])),
            aliases=tuple(str(x) for x in s.get("aliases") or ()),
        )
    categories = {c["vendor"]: tuple(c.get("names") or ()) for c in (vendor.get("categories") or [])}
    control = data["control"]
    return Catalog(
        services=services,
        control_host=control["host"],
        control_addresses=tuple(control.get("addresses") or ()),
        addresses_version=str(addresses.get("version", "")),
        category_names=categories,
    )

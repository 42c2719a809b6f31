"""The policy: which services must stay reachable, for whom, and which exceptions are accepted.

    version: 1
    services:                      # services that must stay reachable, and how loudly to say so
      facebook: {severity: error}
      ning: {severity: warning, extra_domains: [community.example.org]}
    custom_services:               # platforms the catalog does not know
      mastodon: {name: Mastodon, domains: [mastodon.social]}
    audiences:                     # named groups of clients
      guest-wifi: {networks: [10.50.0.0/16], description: Visitors}
    exceptions:                    # blocks the organisation accepts, for a time
      - {service: facebook, audience: guest-wifi, reason: "...", expires: 2027-06-30}

Loaded with safe YAML (no aliases, bounded size); any unknown key or wrong type is an error
naming file:line.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from policy_lint.catalog import Catalog, load_catalog
from policy_lint.inputs import InputError
from policy_lint.model import Audience, Severity, Span
from policy_lint.records import FrozenRecord, Record

if TYPE_CHECKING:
    import yaml

MAX_POLICY_BYTES = 1024 * 1024
SEVERITIES = {s.value for s in Severity}


@dataclass(frozen=True, eq=False, repr=False)
class NamedAudience(FrozenRecord):
    name: str
    networks: tuple = ()
    users: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    description: str = ""

    def covers(self, audience: Audience) -> bool:
        if self.name == "everyone":
            return True
        src = audience.attribute("src")
        if src and self.networks:
            ip = ipaddress.ip_address(src)
            if any(ip.version == n.version and ip in n for n in self.networks):
                return True
        user = audience.attribute("user")
        if user and user in self.users:
            return True
        groups = {v for k, v in audience.attributes if k == "group"}
        return bool(groups & set(self.groups))


@dataclass(frozen=True, eq=False, repr=False)
class Exception_(FrozenRecord):
    service: str
    audience: str
    reason: str
    expires: dt.date | None
    span: Span

    def expired(self, today: dt.date) -> bool:
        return self.expires is not None and self.expires < today


@dataclass(eq=False, repr=False)
class Policy(Record):
    name: str
    path: str
    severities: dict[str, Severity]
    extra_domains: dict[str, list[str]] = field(default_factory=dict)
    custom_services: dict[str, dict] = field(default_factory=dict)
    audiences: dict[str, NamedAudience] = field(default_factory=dict)
    exceptions: list[Exception_] = field(default_factory=list)

    def required(self, service: str) -> bool:
        return service in self.severities


def strict_policy(catalog: Catalog) -> Policy:
    """The default: every catalog service reachable for everyone, no exceptions."""
    return Policy(
        "technology-enablement (built-in strict)",
        "<built-in>",
        dict.fromkeys(catalog.services, Severity.ERROR),
    )


# ------------------------------------------------------------------ validation with line numbers


class _Bad(Exception):
    def __init__(self, node: yaml.Node, message: str):
        super().__init__(f"{node.start_mark.line + 1}: {message}")


def _mapping(node: yaml.Node, what: str, allowed: set[str] | None) -> dict[str, yaml.Node]:
    import yaml  # imported by the functions reading a policy file: the built-in policy needs none

    if not isinstance(node, yaml.MappingNode):
        raise _Bad(node, f"{what} must be a mapping")
    out: dict[str, yaml.Node] = {}
    for k, v in node.value:
        if not isinstance(k, yaml.ScalarNode):
            raise _Bad(k, f"{what}: keys must be plain names")
        if allowed is not None and k.value not in allowed:
            raise _Bad(k, f"{what}: unknown key {k.value!r} (expected one of {', '.join(sorted(allowed))})")
        if k.value in out:
            raise _Bad(k, f"{what}: key {k.value!r} given twice")
        out[k.value] = v
    return out


def _string(node: yaml.Node, what: str) -> str:
    import yaml  # imported by the functions reading a policy file: the built-in policy needs none

    if not isinstance(node, yaml.ScalarNode) or node.tag.endswith((":map", ":seq")):
        raise _Bad(node, f"{what} must be a string")
    return str(node.value)


def _strings(node: yaml.Node, what: str) -> list[str]:
    import yaml  # imported by the functions reading a policy file: the built-in policy needs none

    if not isinstance(node, yaml.SequenceNode):
        raise _Bad(node, f"{what} must be a list")
    return [_string(n, what) for n in node.value]


def load_policy(path: Path, catalog: Catalog) -> Policy:
    import yaml  # imported by the functions reading a policy file: the built-in policy needs none

    shown = str(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{shown}: cannot read policy: {exc.strerror or exc}") from None
    if len(data) > MAX_POLICY_BYTES:
        raise InputError(f"{shown}: policy too large ({len(data)} bytes)")
    try:
        text = data.decode("utf-8")
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, yaml.AliasEvent):
                raise InputError(
                    f"{shown}:{event.start_mark.line + 1 if event.start_mark else '?'}: "
                    "YAML aliases are not allowed in a policy"
                )
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except UnicodeDecodeError:
        raise InputError(f"{shown}: policy is not UTF-8 text") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark else ""
        raise InputError(f"{shown}{where}: invalid YAML: {getattr(exc, 'problem', exc)}") from None
    if root is None:
        raise InputError(f"{shown}: policy is empty")
    try:
        return _build(root, shown, catalog)
    except _Bad as exc:
        raise InputError(f"{shown}:{exc}") from None


def _build(root: yaml.Node, shown: str, catalog: Catalog) -> Policy:
    import yaml  # imported by the functions reading a policy file: the built-in policy needs none

    top = _mapping(
        root,
        "policy",
        {"version", "name", "description", "services", "custom_services", "audiences", "exceptions"},
    )
    if "version" in top and _string(top["version"], "version") != "1":
        raise _Bad(top["version"], "only policy version 1 is known")
    custom: dict[str, dict] = {}
    for sid, node in _mapping(
        top.get("custom_services", yaml.MappingNode("", [])), "custom_services", None
    ).items():
        spec = _mapping(node, f"custom_services.{sid}", {"name", "domains"})
        if "domains" not in spec:
            raise _Bad(node, f"custom_services.{sid}: 'domains' is required")
        custom[sid] = {
            "name": _string(spec.get("name", spec["domains"]), "name") if "name" in spec else sid,
            "domains": _strings(spec["domains"], f"custom_services.{sid}.domains"),
        }
    known = set(catalog.services) | set(custom)
    severities: dict[str, Severity] = {}
    extra: dict[str, list[str]] = {}
    services_node = top.get("services")
    if services_node is None:
        severities = dict.fromkeys(known, Severity.ERROR)
    else:
        for sid, node in _mapping(services_node, "services", None).items():
            if sid not in known:
                raise _Bad(node, f"services: unknown service {sid!r} (known: {', '.join(sorted(known))})")
            spec = (
                _mapping(node, f"services.{sid}", {"severity", "extra_domains"})
                if not (isinstance(node, yaml.ScalarNode) and node.value in ("", "null", "~"))
                else {}
            )
            sev = _string(spec["severity"], "severity") if "severity" in spec else "error"
            if sev not in SEVERITIES:
                raise _Bad(spec["severity"], f"severity must be one of {', '.join(sorted(SEVERITIES))}")
            severities[sid] = Severity(sev)
            if "extra_domains" in spec:
                extra[sid] = _strings(spec["extra_domains"], f"services.{sid}.extra_domains")
    audiences: dict[str, NamedAudience] = {"everyone": NamedAudience("everyone")}
    for name, node in _mapping(top.get("audiences", yaml.MappingNode("", [])), "audiences", None).items():
        spec = _mapping(node, f"audiences.{name}", {"networks", "users", "groups", "description"})
        nets = []
        for n in spec.get("networks", yaml.SequenceNode("", [])).value if "networks" in spec else []:
            try:
                nets.append(ipaddress.ip_network(_string(n, "network"), strict=False))
            except ValueError:
                raise _Bad(n, f"audiences.{name}: {n.value!r} is not a network") from None
        audiences[name] = NamedAudience(
            name,
            tuple(nets),
            tuple(_strings(spec["users"], "users")) if "users" in spec else (),
            tuple(_strings(spec["groups"], "groups")) if "groups" in spec else (),
            _string(spec["description"], "description") if "description" in spec else "",
        )
    exceptions: list[Exception_] = []
    exc_node = top.get("exceptions")
    if exc_node is not None:
        if not isinstance(exc_node, yaml.SequenceNode):
            raise _Bad(exc_node, "exceptions must be a list")
        for node in exc_node.value:
            spec = _mapping(node, "exception", {"service", "audience", "reason", "expires"})
            for key in ("service", "audience", "reason"):
                if key not in spec:
                    raise _Bad(node, f"exception: {key!r} is required")
            service = _string(spec["service"], "service")
            if service not in known:
                raise _Bad(spec["service"], f"exception: unknown service {service!r}")
            audience = _string(spec["audience"], "audience")
            if audience not in audiences:
                raise _Bad(
                    spec["audience"], f"exception: audience {audience!r} is not defined under audiences"
                )
            expires = None
            if "expires" in spec:
                try:
                    expires = dt.date.fromisoformat(_string(spec["expires"], "expires"))
                except ValueError:
                    raise _Bad(spec["expires"], "expires must be a date (YYYY-MM-DD)") from None
            exceptions.append(
                Exception_(
                    service,
                    audience,
                    _string(spec["reason"], "reason"),
                    expires,
                    Span(shown, node.start_mark.line + 1, node.start_mark.column + 1),
                )
            )
    name = _string(top["name"], "name") if "name" in top else Path(shown).stem
    return Policy(name, shown, severities, extra, custom, audiences, exceptions)


def catalog_and_policy(policy_path: Path | None) -> tuple[Catalog, Policy]:
    """The service catalog and the policy to lint against: the file's, extended with the
    services and domains it adds, or the strict built-in policy when none is named."""
    catalog = load_catalog()
    if policy_path is None:
        return catalog, strict_policy(catalog)
    policy = load_policy(policy_path, catalog)
    return catalog.extended(policy.extra_domains, policy.custom_services), policy

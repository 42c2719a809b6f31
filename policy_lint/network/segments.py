"""Segments: sets of clients and the ordered layers their traffic passes, from the settings.

Declared under `network:` in `.policy-lint.yaml` (paths relative to that file):

    network:
      segments:
        - name: guest                      # required, unique
          clients: [10.50.0.0/24]          # CIDRs, or zone / interface / VLAN / group names
          path:                            # ordered: endpoint -> DNS -> proxy -> firewall(s)
            - pihole/                      # a directory: every linted file under it
            - squid/squid.conf
            - router/iptables.rules
          resolver: pihole/                # optional: the DNS server the clients ask: a path
                                           # on the repo, or an address (a resolver elsewhere:
                                           # the DNS layers on the path are void for them)
          pinned: [facebook]               # optional: services reached by pinned address
                                           # (the DNS layers are void for those)
          tunnel:                          # optional: policy routing into a tunnel
            services: [twitter]            # the destinations routed into it
            via: wg0                       # its name, for the finding
            skips: [router/iptables.rules] # the layers the tunnelled traffic does not pass

Every key is checked: an unknown key, a wrong type, a bad CIDR or a duplicate name is an
error naming file:line (`InputError`, exit 2). A path that names no linted file is not an
error but an unresolved link: a TE903 finding naming both ends, and the layer is `unknown`.

Segments may also be inferred from the configs (see `links.py`); a declared segment of the
same name wins, so the user corrects an inference by declaring it.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from policy_lint.inputs import InputError
from policy_lint.model import Span

if TYPE_CHECKING:
    import yaml

SEGMENT_KEYS = {"name", "clients", "path", "resolver", "pinned", "tunnel", "description"}
TUNNEL_KEYS = {"services", "via", "skips"}
MAX_SETTINGS_BYTES = 1024 * 1024

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class Tunnel:
    services: tuple[str, ...]
    via: str
    skips: tuple[Path, ...]  # resolved paths of the layers the tunnel skips
    span: Span
    path: str = ""  # how traffic gets there (inferred policy routing: mark -> rule -> route)
    unresolved: str = ""  # why the tunnel's far end is not known (an unresolved link)


@dataclass(frozen=True)
class Segment:
    name: str
    clients: tuple[str, ...]  # as written
    networks: tuple[Network, ...]  # the clients that are CIDRs
    names: tuple[str, ...]  # the clients that are zone / interface / VLAN / group names
    path: tuple[Path, ...]  # resolved, in order
    span: Span  # where it is declared (or inferred)
    path_spans: tuple[Span, ...] = ()  # one per path entry
    resolver: str = ""  # "" = the DNS layers on the path; a resolved path; or an address
    resolver_span: Span | None = None
    pinned: tuple[str, ...] = ()
    tunnel: Tunnel | None = None
    routes: tuple[Tunnel, ...] = ()  # policy routing found in the configs (routing.py)
    # False when the resolver is an address that is neither in the repository nor clearly
    # elsewhere (a private address no linted DNS server listens on): an unresolved link.
    resolver_resolved: bool = True
    # Files on the path whose place no config states (a proxy no intercept rule sends this
    # segment to): their layer is unknown, with the note.
    unsure: tuple[tuple[Path, str], ...] = ()
    # Links that lead nowhere the repository holds (a DNAT to a portal or proxy not linted):
    # (the rule, what it names); each is an unknown layer and a TE903 finding.
    dangling: tuple[tuple[Span, str], ...] = ()
    # Interception rules that send this segment's web traffic to a proxy on its path:
    # (the rule, the proxy's resolved path, whether HTTPS is taken too).
    links: tuple[tuple[Span, Path, bool], ...] = ()
    origin: str = "settings"  # settings | inferred
    notes: tuple[str, ...] = field(default_factory=tuple)

    def describe_clients(self) -> str:
        return ", ".join(self.clients) or "(no clients named)"


class _Bad(Exception):
    def __init__(self, node: yaml.Node, message: str):
        super().__init__(f"{node.start_mark.line + 1}: {message}")


def _span(where: str, node: yaml.Node) -> Span:
    return Span(
        where, node.start_mark.line + 1, node.start_mark.column + 1, str(getattr(node, "value", ""))[:200]
    )


def _mapping(node: yaml.Node, what: str, allowed: set[str]) -> dict[str, yaml.Node]:
    import yaml  # PyYAML only when this is read: importing it costs every start-up

    if not isinstance(node, yaml.MappingNode):
        raise _Bad(node, f"{what} must be a mapping")
    out: dict[str, yaml.Node] = {}
    for k, v in node.value:
        if not isinstance(k, yaml.ScalarNode) or k.value not in allowed:
            raise _Bad(
                k,
                f"{what}: unknown key {getattr(k, 'value', k)!r} (expected one of {', '.join(sorted(allowed))})",
            )
        if k.value in out:
            raise _Bad(k, f"{what}: key {k.value!r} given twice")
        out[k.value] = v
    return out


def _string(node: yaml.Node, what: str) -> str:
    import yaml  # PyYAML only when this is read: importing it costs every start-up

    if not isinstance(node, yaml.ScalarNode) or node.tag.endswith((":map", ":seq")) or not str(node.value):
        raise _Bad(node, f"{what} must be a non-empty string")
    return str(node.value)


def _strings(node: yaml.Node, what: str) -> list[tuple[str, yaml.Node]]:
    import yaml  # PyYAML only when this is read: importing it costs every start-up

    if isinstance(node, yaml.ScalarNode):
        return [(_string(node, what), node)]
    if not isinstance(node, yaml.SequenceNode):
        raise _Bad(node, f"{what} must be a list of strings")
    return [(_string(item, what), item) for item in node.value]


def _segment(node: yaml.Node, where: str, base: Path) -> Segment:
    m = _mapping(node, "a segment", SEGMENT_KEYS)
    if "name" not in m:
        raise _Bad(node, "a segment needs a name")
    name = _string(m["name"], "name")
    what = f"segment {name!r}"
    if "path" not in m:
        raise _Bad(node, f"{what} needs a path (the files its traffic passes, in order)")
    clients: list[str] = []
    networks: list[Network] = []
    names: list[str] = []
    for text, item in _strings(m["clients"], f"{what}: clients") if "clients" in m else []:
        clients.append(text)
        if any(c.isdigit() for c in text.split("/")[0][:1]) or ":" in text:
            try:
                networks.append(ipaddress.ip_network(text, strict=False))
            except ValueError:
                raise _Bad(item, f"{what}: {text!r} is not an address or CIDR") from None
        else:
            names.append(text)
    path = _strings(m["path"], f"{what}: path")
    if not path:
        raise _Bad(m["path"], f"{what}: path must name at least one file")
    resolver, resolver_span = "", None
    if "resolver" in m:
        text = _string(m["resolver"], f"{what}: resolver")
        resolver_span = _span(where, m["resolver"])
        try:
            resolver = str(ipaddress.ip_address(text))
        except ValueError:
            resolver = str((base / text).resolve())
    pinned = tuple(t.lower() for t, _n in _strings(m["pinned"], f"{what}: pinned")) if "pinned" in m else ()
    tunnel = None
    if "tunnel" in m:
        t = _mapping(m["tunnel"], f"{what}: tunnel", TUNNEL_KEYS)
        if "services" not in t:
            raise _Bad(m["tunnel"], f"{what}: tunnel needs services (the destinations routed into it)")
        tunnel = Tunnel(
            tuple(s.lower() for s, _n in _strings(t["services"], f"{what}: tunnel services")),
            _string(t["via"], f"{what}: tunnel via") if "via" in t else "a tunnel",
            tuple((base / s).resolve() for s, _n in _strings(t["skips"], f"{what}: tunnel skips"))
            if "skips" in t
            else (),
            _span(where, m["tunnel"]),
        )
    if "description" in m:
        _string(m["description"], f"{what}: description")
    return Segment(
        name=name,
        clients=tuple(clients),
        networks=tuple(networks),
        names=tuple(names),
        path=tuple((base / p).resolve() for p, _n in path),
        span=_span(where, m["name"]),
        path_spans=tuple(_span(where, n) for _p, n in path),
        resolver=resolver,
        resolver_span=resolver_span,
        pinned=pinned,
        tunnel=tunnel,
    )


def parse_network(node: yaml.Node, where: str, base: Path) -> list[Segment]:
    """The segments of a `network:` node (paths relative to `base`); raises _Bad."""
    import yaml  # PyYAML only when this is read: importing it costs every start-up

    m = _mapping(node, "network", {"segments"})
    segs = m.get("segments")
    if segs is None:
        return []
    if not isinstance(segs, yaml.SequenceNode):
        raise _Bad(segs, "network: segments must be a list of segments")
    out: list[Segment] = []
    for item in segs.value:
        seg = _segment(item, where, base)
        if any(s.name == seg.name for s in out):
            raise _Bad(item, f"segment {seg.name!r} declared twice")
        out.append(seg)
    return out


def declares_network(tree: Path) -> bool:
    """Whether a `.policy-lint.yaml` under `tree` has a `network:` section (then every file's
    lint can change a segment's verdict: `policy-lint diff` lints them all)."""
    for settings in tree.rglob(".policy-lint.yaml"):
        try:
            if any(line.startswith("network:") for line in settings.read_text(encoding="utf-8").splitlines()):
                return True
        except (OSError, UnicodeDecodeError):
            continue
    return False


def _shown(path: Path) -> str:
    """The settings file as the report names files: relative to the working directory when
    inside it (as `check .` names the configs), else absolute."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def load_segments(settings_file: str) -> list[Segment]:
    """The segments declared in a `.policy-lint.yaml` (none for pyproject settings or none)."""
    path = Path(settings_file)
    if not settings_file or path.name != ".policy-lint.yaml" or not path.is_file():
        return []
    import yaml  # PyYAML only when a settings file is read: importing it costs every start-up

    try:
        if path.stat().st_size > MAX_SETTINGS_BYTES:
            raise InputError(f"{path}: settings file too large")
        root = yaml.compose(path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read settings: {exc}") from None
    except yaml.YAMLError:
        raise InputError(f"{path}: invalid YAML") from None
    if not isinstance(root, yaml.MappingNode):
        return []
    for key, value in root.value:
        if isinstance(key, yaml.ScalarNode) and key.value == "network":
            try:
                return parse_network(value, _shown(path), path.parent)
            except _Bad as exc:
                raise InputError(f"{path}:{exc}") from None
    return []

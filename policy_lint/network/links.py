"""Links between files that imply segments: DHCP servers hand a client range its resolver.

    # dnsmasq.conf
    dhcp-range=set:guest,10.50.0.10,10.50.0.200,255.255.255.0,12h
    dhcp-option=tag:guest,option:dns-server,9.9.9.9     # or dhcp-option=tag:guest,6,9.9.9.9

makes a segment `guest` (10.50.0.0/24) whose resolver is 9.9.9.9: not this repository's DNS
filter, so the DNS layers' blocks are void for it. A range without its own dns-server option
gets the general `dhcp-option=6,...` or, by dnsmasq's default, dnsmasq itself (its DNS rules
are on the path). A resolver address a linted dnsmasq listens on (`listen-address=`) is that
file; a public address is a resolver elsewhere (its own filtering is not modelled: declare
the segment with that resolver's config on its path if you have it); a private address no
linted server listens on is an unresolved link (TE903, and the DNS layers are `unknown`). The inferred path is every linted file of the repository (declare the
segment in `.policy-lint.yaml` to correct it: a declared segment of the same name wins).

Interception rules (intercept.py) imply segments too, and put the proxy they send a segment's
web traffic to on its path; a proxy or endpoint policy no rule links to a segment is an
`unknown` layer for it (whether its clients are configured to use it is not in the configs).

ISC dhcpd (`dhcpd*.conf`: `subnet ... { option domain-name-servers ...; }`) and Kea
(`kea-dhcp4*.conf`/`.json`: `subnet4` with `option-data` `domain-name-servers`) imply
segments the same way (their files are not linted: the scan lists them as skipped). A range
handed no resolver at all has an unknown one.

Pi-hole's DHCP server (setupVars.conf `DHCP_ACTIVE=true`/`DHCP_START=`, or pihole.toml
`[dhcp] active = true`/`start =`) implies a /24 segment whose resolver is that Pi-hole;
RouterOS `/ip dhcp-server network add address=CIDR dns-server=X` one per network (no
dns-server: the router itself, not a linted DNS layer: unknown).

Not modelled yet (declare such segments in the settings): pfSense's DHCP server.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import replace
from pathlib import Path

from policy_lint.engine import Report
from policy_lint.model import Span
from policy_lint.network.intercept import Intercept, find_intercepts
from policy_lint.network.segments import Segment

MAX_BYTES = 4 * 1024 * 1024
MAX_LINE = 4096  # longer lines are no NAT, routing or DHCP statement: skipped unread
Net = ipaddress.IPv4Network | ipaddress.IPv6Network


def _lines(path: Path) -> list[tuple[int, str]]:
    try:
        if path.stat().st_size > MAX_BYTES:
            return []
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    out = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if line and len(line) <= MAX_LINE:
            out.append((number, line))
    return out


def _tags(fields: list[str]) -> tuple[list[str], list[str]]:
    """(tags set or matched, the remaining fields) of a dhcp-range / dhcp-option value."""
    tags: list[str] = []
    rest: list[str] = []
    for f in fields:
        f = f.strip()
        if f.startswith(("set:", "tag:", "net:")):
            tags.append(f.split(":", 1)[1])
        elif not rest and f.startswith("interface:"):
            continue
        else:
            rest.append(f)
    return tags, rest


def _dns_servers(rest: list[str]) -> list[str] | None:
    if not rest:
        return None
    opt = rest[0].lower()
    if opt in ("6", "option:dns-server", "option6:dns-server", "option6:23"):
        return [v.strip() for v in rest[1:] if v.strip()]
    return None


def range_networks(start: str, end: str, mask: str | None) -> tuple[Net, ...]:
    """The clients a DHCP range serves: its subnet when the netmask is given, else exactly the
    addresses from start to end (the subnet is the interface's, which the config does not say)."""
    try:
        first = ipaddress.ip_address(start.strip())
    except ValueError:
        return ()
    if mask:
        try:
            return (ipaddress.ip_network(f"{first}/{mask}", strict=False),)
        except ValueError:
            pass
    try:
        last = ipaddress.ip_address(end.strip())
    except ValueError:
        last = first
    if last.version != first.version:
        last = first
    low, high = sorted((first, last))
    return tuple(ipaddress.summarize_address_range(low, high))


def _listen_addresses(fr_path: str) -> list[str]:
    out = []
    for _number, line in _lines(Path(fr_path)):
        key, sep, value = line.partition("=")
        if sep and key.strip() == "listen-address":
            out += [v.strip() for v in value.split(",") if v.strip()]
    return out


def _dnsmasq_segments(fr_path: str) -> list[Segment]:
    path = Path(fr_path)
    ranges: list[tuple[str, tuple[Net, ...], Span]] = []
    servers: dict[str, list[str]] = {}
    for number, line in _lines(path):
        key, sep, value = line.partition("=")
        key = key.strip()
        if not sep or key not in ("dhcp-range", "dhcp-option", "dhcp-option-force"):
            continue
        tags, rest = _tags(value.split(","))
        span = Span(fr_path, number, 1, line)
        if key == "dhcp-range" and rest:
            mask = next((r for r in rest[2:] if r.count(".") == 3), None)
            nets = range_networks(rest[0], rest[1] if len(rest) > 1 else "", mask)
            if nets:
                ranges.append((tags[0] if tags else "", nets, span))
        elif key.startswith("dhcp-option"):
            dns = _dns_servers(rest)
            if dns is not None:
                servers[tags[0] if tags else ""] = dns
    out = []
    for tag, nets, span in ranges:
        dns = servers.get(tag, servers.get("", []))
        # 0.0.0.0 in dnsmasq's dns-server option means "this machine": dnsmasq itself.
        own = not dns or all(d in ("0.0.0.0", "[::]") for d in dns)
        out.append(
            Segment(
                name=tag or f"dhcp {nets[0]}",
                clients=tuple(str(n) for n in nets),
                networks=nets,
                names=(tag,) if tag else (),
                path=(),
                span=span,
                resolver=str(path.resolve()) if own else dns[0],
                origin="inferred",
                notes=(f"inferred from {span.where()}",),
            )
        )
    return out


NO_RESOLVER = "(none handed out)"


def _dhcp_segment(name: str, net: Net, span: Span, servers: list[str]) -> Segment:
    return Segment(
        name=name,
        clients=(str(net),),
        networks=(net,),
        names=(),
        path=(),
        span=span,
        resolver=servers[0] if servers else NO_RESOLVER,
        origin="inferred",
        notes=(f"inferred from {span.where()}",),
    )


def _isc_segments(path: Path, shown: str) -> list[Segment]:
    """ISC dhcpd: `subnet A netmask M { option domain-name-servers X, Y; }`, the global option
    applying to subnets that do not set their own."""
    text = "\n".join(line for _n, line in _lines(path))
    if "subnet" not in text:
        return []
    numbered = _lines(path)
    global_dns: list[str] = []
    out: list[tuple[str, Net, Span, list[str] | None]] = []
    depth = 0
    current: list | None = None
    for number, line in numbered:
        m = re.match(r"subnet6?\s+([0-9a-fA-F.:]+)(?:\s+netmask\s+([0-9.]+))?", line)
        if m and current is None:
            try:
                net = ipaddress.ip_network(f"{m.group(1)}/{m.group(2) or 64}", strict=False)
            except ValueError:
                net = None
            if net is not None:
                current = [f"dhcp {net}", net, Span(shown, number, 1, line), None]
                depth = 0
        d = re.search(r"option\s+(?:dhcp6\.name-servers|domain-name-servers)\s+([^;]+);", line)
        if d:
            servers = [v.strip() for v in d.group(1).split(",") if v.strip()]
            if current is not None:
                current[3] = servers
            else:
                global_dns = servers
        depth += line.count("{") - line.count("}")
        if current is not None and depth <= 0 and "}" in line:
            out.append((current[0], current[1], current[2], current[3]))
            current = None
    return [_dhcp_segment(n, net, span, dns if dns is not None else global_dns) for n, net, span, dns in out]


def _kea_segments(path: Path, shown: str) -> list[Segment]:
    """Kea: `subnet4`/`subnet6` entries with `option-data` `domain-name-servers` (or the
    global `option-data`). Kea's JSON allows comments; lines are kept for the spans."""
    import json

    lines = _lines(path)
    raw = "\n".join(re.sub(r"//.*$", "", line) for _n, line in lines)
    try:
        doc = json.loads(re.sub(r"/\*.*?\*/", "", raw, flags=re.S))
    except ValueError:
        return []
    if not isinstance(doc, dict):
        return []

    def servers(options: object) -> list[str] | None:
        for o in options if isinstance(options, list) else []:
            if isinstance(o, dict) and o.get("name") in ("domain-name-servers", "dns-servers"):
                return [v.strip() for v in str(o.get("data", "")).split(",") if v.strip()]
        return None

    out = []
    for key in ("Dhcp4", "Dhcp6"):
        section = doc.get(key)
        if not isinstance(section, dict):
            continue
        global_dns = servers(section.get("option-data")) or []
        subnets = list(section.get("subnet4" if key == "Dhcp4" else "subnet6", []) or [])
        for shared in section.get("shared-networks", []) or []:
            if isinstance(shared, dict):
                subnets += shared.get("subnet4" if key == "Dhcp4" else "subnet6", []) or []
        for sub in subnets:
            if not isinstance(sub, dict) or "subnet" not in sub:
                continue
            try:
                net = ipaddress.ip_network(str(sub["subnet"]), strict=False)
            except ValueError:
                continue
            number = next((n for n, line in lines if str(sub["subnet"]) in line), 1)
            span = Span(shown, number, 1, next((line for n, line in lines if n == number), ""))
            dns = servers(sub.get("option-data"))
            out.append(_dhcp_segment(f"dhcp {net}", net, span, dns if dns is not None else global_dns))
    return out


def _pihole_segments(fr_path: str) -> list[Segment]:
    """Pi-hole's own DHCP server (setupVars.conf `DHCP_ACTIVE=true`, `DHCP_START=`; pihole.toml
    `[dhcp] active = true`, `start = "..."`): it hands out the Pi-hole as the resolver."""
    import tomllib

    directory = Path(fr_path).parent
    own = str(Path(fr_path).resolve())
    setup = directory / "setupVars.conf"
    values = {}
    for number, line in _lines(setup) if setup.is_file() else []:
        key, sep, value = line.partition("=")
        if sep:
            values[key.strip()] = (value.strip().strip('"'), Span(str(setup), number, 1, line))
    start = None
    end = ""
    if values.get("DHCP_ACTIVE", ("",))[0].lower() == "true" and "DHCP_START" in values:
        start = values["DHCP_START"]
        end = values.get("DHCP_END", ("", start[1]))[0]
    toml = directory / "pihole.toml"
    mask: str | None = None
    if start is None and toml.is_file():
        try:
            data = tomllib.loads(toml.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
            data = {}
        dhcp = data.get("dhcp") if isinstance(data, dict) else None
        if isinstance(dhcp, dict) and dhcp.get("active") is True and isinstance(dhcp.get("start"), str):
            number = next((n for n, line in _lines(toml) if line.startswith("start")), 1)
            start = (dhcp["start"], Span(str(toml), number, 1, f"start = {dhcp['start']}"))
            end = str(dhcp.get("end", ""))
            mask = str(dhcp.get("netmask", "")) or None
    if start is None:
        return []
    nets = range_networks(start[0], end, mask)
    if not nets:
        return []
    seg = _dhcp_segment(f"dhcp {nets[0]}", nets[0], start[1], [])
    return [replace(seg, clients=tuple(str(n) for n in nets), networks=nets, resolver=own)]


def _mikrotik_segments(fr_path: str) -> list[Segment]:
    """RouterOS `/ip dhcp-server network add address=CIDR dns-server=X` (no dns-server: the
    router itself, whose DNS is not a linted layer here: unknown)."""
    out = []
    section = ""
    for number, line in _lines(Path(fr_path)):
        if line.startswith("/"):
            section = line.split(" add")[0].strip()
        if "address=" not in line or not (
            section == "/ip dhcp-server network" or "dhcp-server network" in line
        ):
            continue
        kv = dict(re.findall(r"([\w-]+)=(\"[^\"]*\"|\S+)", line))
        try:
            net = ipaddress.ip_network(kv["address"].strip('"'), strict=False)
        except (KeyError, ValueError):
            continue
        servers = [v for v in kv.get("dns-server", "").strip('"').split(",") if v]
        out.append(_dhcp_segment(f"dhcp {net}", net, Span(fr_path, number, 1, line), servers))
    return out


def _dhcp_files(report: Report) -> list[Segment]:
    """Segments from DHCP servers' configs the scan met but no dialect lints (dhcpd, Kea)."""
    out: list[Segment] = []
    for skipped in report.skipped:
        path = Path(skipped.path)
        name = path.name.lower()
        if name.startswith("dhcpd") and name.endswith(".conf"):
            out += _isc_segments(path, skipped.path)
        elif name.startswith("kea-dhcp") and name.endswith((".conf", ".json")):
            out += _kea_segments(path, skipped.path)
    return out


def _elsewhere(address: str) -> bool:
    """A public resolver: certainly not a DNS filter of this repository's network."""
    try:
        return ipaddress.ip_address(address).is_global
    except ValueError:
        return False


def with_intercepts(segment: Segment, report: Report) -> Segment:
    """A declared segment with the interception rules that cover it: a rule sending its web
    traffic to a proxy on its declared path settles the firewall's "the proxy decides"; one
    sending it to no linted proxy is a dangling link (TE903, unknown)."""
    covering = [r for r in find_intercepts(report) if r.covers(segment.networks, segment.names)]
    on_path = set(segment.path)
    links = tuple(
        (r.span, Path(r.proxy), r.https())
        for r in covering
        if r.proxy and any(Path(r.proxy) == p or p in Path(r.proxy).parents for p in on_path)
    )
    dangling = tuple(
        (r.span, f"{r.address or 'this router'}:{r.port or '?'}") for r in covering if not r.proxy
    )
    if not links and not dangling:
        return segment
    return replace(segment, links=links, dangling=dangling)


def routed_segment(report: Report, sources: tuple, interfaces: tuple[str, ...], span: Span) -> Segment:
    """A segment implied by a policy-routing rule alone: its clients, on the path of every
    linted file (DNS, proxies and endpoints unsure: nothing says which its clients use)."""
    from policy_lint.network.compose import ROLE_ORDER, role_of

    clients = tuple(str(n) for n in sources) + interfaces
    live = sorted(
        (fr for fr in report.files if not fr.unread), key=lambda fr: ROLE_ORDER[role_of(fr.dialect)]
    )
    every = tuple(Path(fr.path).resolve() for fr in live)
    unsure = tuple(
        (
            Path(fr.path).resolve(),
            "no config says this segment's clients use it (no DHCP range, no interception)",
        )
        for fr in live
        if role_of(fr.dialect) != "firewall"
    )
    return Segment(
        name=f"routed {', '.join(clients)}",
        clients=clients,
        networks=tuple(sources),
        names=interfaces,
        path=every,
        span=span,
        path_spans=tuple(span for _ in every),
        unsure=unsure,
        origin="inferred",
    )


INTERCEPT_NOTE = "implied by an interception rule"


def _from_intercept(rule: Intercept) -> Segment:
    clients = tuple(str(n) for n in rule.sources) + rule.interfaces
    return Segment(
        name=f"intercepted {', '.join(clients) or 'clients'}",
        clients=clients,
        networks=rule.sources,
        names=rule.interfaces,
        path=(),
        span=rule.span,
        origin="inferred",
        notes=(INTERCEPT_NOTE,),
    )


def infer_segments(report: Report, root: Path | None) -> list[Segment]:
    """Segments the linted configs imply: DHCP ranges (with the resolver they hand out) and
    interception rules (with the proxy they send web traffic to)."""
    segments: list[Segment] = []
    listening: dict[str, str] = {}  # address -> the DNS server's file (resolved)
    segments += _dhcp_files(report)
    for fr in report.files:
        if fr.dialect == "pihole":
            segments += _pihole_segments(fr.path)
        elif fr.dialect == "mikrotik":
            segments += _mikrotik_segments(fr.path)
        if fr.dialect == "dnsmasq":
            segments += _dnsmasq_segments(fr.path)
            for address in _listen_addresses(fr.path):
                listening.setdefault(address, str(Path(fr.path).resolve()))
        elif fr.dialect == "unbound":
            for _n, line in _lines(Path(fr.path)):
                if line.startswith("interface:"):
                    address = line.split(":", 1)[1].strip().strip('"').split("@")[0]
                    listening.setdefault(address, str(Path(fr.path).resolve()))
    intercepts = find_intercepts(report)
    for rule in intercepts:
        if (rule.sources or rule.interfaces) and not any(rule.covers(s.networks, s.names) for s in segments):
            segments.append(_from_intercept(rule))
    if not segments:
        return []
    from policy_lint.network.compose import ROLE_ORDER, role_of

    # The layers in the order traffic meets them: endpoint, DNS, proxy, firewall.
    live = sorted(
        (fr for fr in report.files if not fr.unread), key=lambda fr: ROLE_ORDER[role_of(fr.dialect)]
    )
    out = []
    seen: set[str] = set()
    for s in segments:
        if s.name in seen:
            continue
        seen.add(s.name)
        resolver, resolved = s.resolver, True
        if resolver in listening:
            resolver = listening[resolver]  # a DNS server of this repository
        elif resolver == NO_RESOLVER or (
            resolver and not resolver.startswith("/") and not _elsewhere(resolver)
        ):
            resolved = False  # a private address no linted DNS server listens on
        covering = [r for r in intercepts if r.covers(s.networks, s.names)]
        linked = {r.proxy for r in covering if r.proxy}
        dangling = tuple(
            (r.span, f"{r.address or 'this router'}:{r.port or '?'}") for r in covering if not r.proxy
        )
        unsure = tuple(
            (
                Path(fr.path).resolve(),
                "no config says this segment's clients use it (no interception rule sends them to it); "
                "declare the segment's path in .policy-lint.yaml",
            )
            for fr in live
            if role_of(fr.dialect) in ("proxy", "endpoint") and str(Path(fr.path).resolve()) not in linked
        )
        if s.notes == (INTERCEPT_NOTE,):  # no DHCP statement names its resolver
            unsure += tuple(
                (Path(fr.path).resolve(), "no config says which resolver this segment asks (no DHCP range)")
                for fr in live
                if role_of(fr.dialect) == "dns"
            )
        every = tuple(Path(fr.path).resolve() for fr in live)
        out.append(
            Segment(
                name=s.name,
                clients=s.clients,
                networks=s.networks,
                names=s.names,
                path=every,
                span=s.span,
                path_spans=tuple(s.span for _ in every),
                resolver=resolver,
                resolver_span=s.span,
                resolver_resolved=resolved,
                unsure=unsure,
                dangling=dangling,
                links=tuple((r.span, Path(r.proxy), r.https()) for r in covering if r.proxy),
                origin="inferred",
                notes=s.notes,
            )
        )
    return out

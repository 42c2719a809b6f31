"""What the tree means: zones, address books, applications, security policies, UTM web
filtering, firewall filters and where they are applied. Data and small predicates; the tree is
read in `build`, evaluation lives in `evaluate`."""

from __future__ import annotations

import contextlib
import ipaddress
from dataclasses import dataclass, field, replace

from policy_lint.dialects.firewalls.junos.tree import Node, Tree
from policy_lint.model import Problem, Span

NAME = "junos"

Net = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address

# Predefined Junos applications a web connection can meet, with the protocol and destination
# port Junos documents for them (`show configuration groups junos-defaults applications`). Any
# other `junos-*` name is predefined too but not listed here: its match is unknown (TE908).
PREDEFINED_APPS: dict[str, tuple[str, int | None]] = {
    "junos-http": ("tcp", 80),
    "junos-https": ("tcp", 443),
    "junos-ftp": ("tcp", 21),
    "junos-ssh": ("tcp", 22),
    "junos-telnet": ("tcp", 23),
    "junos-smtp": ("tcp", 25),
    "junos-dns-tcp": ("tcp", 53),
    "junos-dns-udp": ("udp", 53),
    "junos-pop3": ("tcp", 110),
    "junos-imap": ("tcp", 143),
    "junos-imaps": ("tcp", 993),
    "junos-ntp": ("udp", 123),
    "junos-ping": ("icmp", None),
    "junos-icmp-all": ("icmp", None),
    "junos-icmp-ping": ("icmp", None),
}
# Service names a firewall filter's port match accepts, as numbers.
PORT_NAMES = {"http": 80, "https": 443, "ftp": 21, "ssh": 22, "telnet": 23, "smtp": 25, "domain": 53}
WAN_WORDS = ("untrust", "internet", "outside", "wan", "external", "isp", "public")


@dataclass
class AddressEntry:
    """An address-book `address` or `address-set`."""

    name: str
    span: Span
    nets: tuple[Net, ...] = ()
    ranges: tuple[tuple[int, int, int], ...] = ()  # (version, low, high)
    wildcards: tuple[tuple[int, int], ...] = ()  # IPv4 (value, mask)
    dns: str = ""
    members: tuple[str, ...] = ()  # address-set: member names
    is_set: bool = False

    def __post_init__(self) -> None:
        # Prefixes as integer ranges: holds() runs for every sample address of every policy.
        self.spans = tuple(
            (n.version, int(n.network_address), int(n.broadcast_address)) for n in self.nets
        ) + tuple(self.ranges)

    def holds(self, addr: Address) -> bool:
        a, version = int(addr), addr.version
        return any(v == version and lo <= a <= hi for v, lo, hi in self.spans) or any(
            version == 4 and a & m == v & m for v, m in self.wildcards
        )


@dataclass
class AppSpec:
    """A custom application (its terms) or application-set (its members)."""

    name: str
    span: Span
    terms: list[tuple[str, tuple[int, int] | None]] = field(default_factory=list)  # (protocol, dport range)
    members: tuple[str, ...] = ()
    unknown: str = ""


@dataclass
class Policy:
    name: str
    span: Span
    from_zone: str  # "" for a global policy
    to_zone: str
    src: tuple[str, ...] = ("any",)
    dst: tuple[str, ...] = ("any",)
    src_excluded: bool = False
    dst_excluded: bool = False
    apps: tuple[str, ...] = ("any",)
    dyn_apps: tuple[str, ...] = ()
    url_categories: tuple[str, ...] = ()
    identities: tuple[str, ...] = ()
    from_zones: tuple[str, ...] = ()  # global policies: `match from-zone`
    to_zones: tuple[str, ...] = ()
    action: str = ""  # permit | deny | reject
    utm_policy: str = ""
    ssl_proxy: bool = False
    services: tuple[str, ...] = ()  # other application-services (not evaluated)
    scheduler: str = ""
    unknown: tuple[str, ...] = ()  # match criteria not modelled

    @property
    def where(self) -> str:
        if not self.from_zone:
            return f"global policy {self.name}"
        return f"from-zone {self.from_zone} to-zone {self.to_zone} policy {self.name}"


@dataclass
class UrlPattern:
    name: str
    span: Span
    values: list[tuple[str, Span]] = field(default_factory=list)


@dataclass
class WebProfile:
    engine: str  # juniper-local | juniper-enhanced | websense-redirect | surf-control-integrated
    name: str
    span: Span
    categories: list[tuple[str, str, Span]] = field(default_factory=list)  # (category, action, span)
    default: tuple[str, Span] | None = None
    # `site-reputation-action LEVEL ACTION`: Websense's reputation of the site decides (not in the config).
    reputation: list[tuple[str, str, Span]] = field(default_factory=list)


@dataclass
class Utm:
    patterns: dict[str, UrlPattern] = field(default_factory=dict)
    categories: dict[str, tuple[list[str], Span]] = field(default_factory=dict)  # custom-url-category
    profiles: list[WebProfile] = field(default_factory=list)
    engine: str = ""  # `web-filtering type`
    whitelist: list[tuple[str, Span]] = field(default_factory=list)
    blacklist: list[tuple[str, Span]] = field(default_factory=list)
    policies: dict[str, tuple[str, Span]] = field(default_factory=dict)  # utm-policy -> (http-profile, span)

    def profile(self, name: str) -> WebProfile | None:
        hits = [p for p in self.profiles if p.name == name]
        return next((p for p in hits if p.engine == self.engine), hits[0] if hits else None)


@dataclass
class FilterTerm:
    name: str
    span: Span
    src: list[tuple[Net, bool]] = field(default_factory=list)  # (prefix, except)
    dst: list[tuple[Net, bool]] = field(default_factory=list)
    any_addr: list[tuple[Net, bool]] = field(default_factory=list)  # `address`
    src_lists: list[str] = field(default_factory=list)
    dst_lists: list[str] = field(default_factory=list)
    protocols: list[str] = field(default_factory=list)
    dports: list[tuple[int, int]] = field(default_factory=list)
    sports: list[tuple[int, int]] = field(default_factory=list)
    ports: list[tuple[int, int]] = field(default_factory=list)
    action: str = ""  # accept | discard | reject | next | "" (no terminating action: accept)
    unknown: list[str] = field(default_factory=list)


@dataclass
class Filter:
    name: str
    span: Span
    family: str
    terms: list[FilterTerm] = field(default_factory=list)


@dataclass
class Interface:
    name: str  # ge-0/0/1.0
    span: Span
    addresses: list[ipaddress.IPv4Interface | ipaddress.IPv6Interface] = field(default_factory=list)
    dhcp: bool = False
    inputs: list[tuple[str, str, Span]] = field(default_factory=list)  # (family, filter, binding), in order
    outputs: list[tuple[str, str, Span]] = field(default_factory=list)


@dataclass
class Zone:
    name: str
    span: Span
    interfaces: list[str] = field(default_factory=list)


@dataclass
class Config:
    path: str
    zones: dict[str, Zone] = field(default_factory=dict)
    books: dict[str, dict[str, AddressEntry]] = field(default_factory=dict)  # zone | "global" -> entries
    apps: dict[str, AppSpec] = field(default_factory=dict)
    policies: dict[tuple[str, str], list[Policy]] = field(default_factory=dict)
    global_policies: list[Policy] = field(default_factory=list)
    default_policy: tuple[str, Span | None] = ("deny-all", None)
    has_security: bool = False
    # A whole configuration (`version`, `system`) rather than a fragment of one: what it leaves
    # out is absent from the device, not merely from the file.
    whole: bool = False
    utm: Utm = field(default_factory=Utm)
    filters: dict[tuple[str, str], Filter] = field(default_factory=dict)  # (family, name)
    prefix_lists: dict[str, tuple[list[Net], Span]] = field(default_factory=dict)
    interfaces: dict[str, Interface] = field(default_factory=dict)
    default_routes: list[tuple[str, Span]] = field(default_factory=list)  # next-hop words
    problems: list[Problem] = field(default_factory=list)
    dynamic_addresses: set[str] = field(default_factory=set)  # `security dynamic-address` (feeds)
    # `security nat destination` rule-sets by the zone their traffic comes from (the first rule's span).
    dnat_from: dict[str, Span] = field(default_factory=dict)
    # A hierarchy holding policies or filters this dialect does not walk (logical systems, tenants).
    unsure: Problem | None = None

    def zone_of(self, iface: str) -> str | None:
        return next((z.name for z in self.zones.values() if iface in z.interfaces), None)


def unit_name(name: str) -> str:
    """`ge-0/0/1` in a zone means unit 0."""
    return name if "." in name else f"{name}.0"


def network(word: str) -> Net | None:
    try:
        return ipaddress.ip_network(word, strict=False)
    except ValueError:
        return None


def _span(node: Node | None, fallback: Span) -> Span:
    return node.span if node is not None and node.span is not None else fallback


def leaves(node: Node, prefix: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Span | None]]:
    """Every active path from `node` to a leaf (the words of each leaf statement)."""
    out: list[tuple[tuple[str, ...], Span | None]] = []
    for c in node.active():
        if c.children:
            out.extend(leaves(c, (*prefix, c.word)))
        else:
            out.append(((*prefix, c.word), c.span))
    return out


def build(tree: Tree) -> Config:
    cfg = Config(tree.path, problems=tree.problems)
    root = tree.root
    top = Span(tree.path, 1)
    cfg.whole = root.has("version") or root.has("system")
    for word in ("logical-systems", "tenants"):
        for system in root.under(word):
            if system.has("security") or system.has("firewall"):
                cfg.unsure = cfg.unsure or Problem(
                    "TE908",
                    _span(system, top),
                    f"{word} {system.word}: its security policies and filters are not evaluated",
                )
                cfg.problems.append(cfg.unsure)
    sec = root.child("security")
    if sec is not None:
        cfg.has_security = True
        cfg.dynamic_addresses = set(sec.names("dynamic-address", "address-name"))
        for rs in sec.under("nat", "destination", "rule-set"):
            rules = rs.under("rule")
            for zone in rs.names("from", "zone"):
                if rules:
                    cfg.dnat_from.setdefault(zone, _span(rules[0], top))
        _zones(cfg, sec, top)
        _books(cfg, sec, top)
        _policies(cfg, sec, top)
        for word in ("utm", "content-security"):
            utm = sec.child(word)
            if utm is not None:
                _utm(cfg, utm, top)
    apps = root.child("applications")
    if apps is not None:
        _applications(cfg, apps, top)
    _interfaces(cfg, root, top)
    _filters(cfg, root, top)
    ropts = root.child("routing-options", "static")
    if ropts is not None:
        for prefix in ("0.0.0.0/0", "::/0"):
            route = ropts.child("route", prefix)
            if route is not None:
                for path, span in leaves(route):
                    if path[0] in ("next-hop", "qualified-next-hop") and len(path) > 1:
                        cfg.default_routes.append((path[1], span or top))
    return cfg


def _zones(cfg: Config, sec: Node, top: Span) -> None:
    zones = sec.child("zones", "security-zone")
    if zones is None:
        return
    for z in zones.active():
        zone = cfg.zones[z.word] = Zone(z.word, _span(z, top))
        zone.interfaces = [unit_name(i) for i in z.names("interfaces")]
        book = z.child("address-book")
        if book is not None:
            _book_entries(cfg.books.setdefault(z.word, {}), book, top)


def _books(cfg: Config, sec: Node, top: Span) -> None:
    books = sec.child("address-book")
    if books is None:
        return
    for b in books.active():
        attached = b.names("attach", "zone")
        entries: dict[str, AddressEntry] = {}
        _book_entries(entries, b, top)
        for zone in attached or (["global"] if b.word == "global" else []):
            cfg.books.setdefault(zone, {}).update(entries)
        if b.word != "global" and not attached:
            cfg.problems.append(
                Problem("TE908", _span(b, top), f"address-book {b.word} is attached to no zone: not used")
            )


def _book_entries(entries: dict[str, AddressEntry], book: Node, top: Span) -> None:
    for a in book.under("address"):
        nets: list[Net] = []
        ranges: list[tuple[int, int, int]] = []
        wildcards: list[tuple[int, int]] = []
        dns = ""
        for path, _where in leaves(a):
            net = network(path[0])
            if net is not None:
                nets.append(net)
            elif path[0] == "ip-prefix" and len(path) > 1 and (inner := network(path[1])) is not None:
                nets.append(inner)
            elif path[0] == "dns-name" and len(path) > 1:
                dns = path[1].lower().rstrip(".")
            elif path[0] == "range-address" and len(path) > 3 and path[2] == "to":
                try:
                    lo, hi = ipaddress.ip_address(path[1]), ipaddress.ip_address(path[3])
                    ranges.append((lo.version, int(lo), int(hi)))
                except ValueError:
                    pass
            elif path[0] == "wildcard-address" and len(path) > 1 and "/" in path[1]:
                value, _slash, mask = path[1].partition("/")
                with contextlib.suppress(ValueError):
                    wildcards.append((int(ipaddress.IPv4Address(value)), int(ipaddress.IPv4Address(mask))))
        entries[a.word] = AddressEntry(
            a.word, _span(a, top), tuple(nets), tuple(ranges), tuple(wildcards), dns
        )
    for s in book.under("address-set"):
        members = tuple(s.names("address") + s.names("address-set"))
        entries[s.word] = AddressEntry(s.word, _span(s, top), members=members, is_set=True)


MATCH_KEYS = {
    "source-address",
    "destination-address",
    "application",
    "dynamic-application",
    "url-category",
    "source-identity",
    "source-address-excluded",
    "destination-address-excluded",
    "from-zone",
    "to-zone",
}


def _policy(node: Node, from_zone: str, to_zone: str, top: Span, problems: list[Problem]) -> Policy:
    p = Policy(node.word, _span(node, top), from_zone, to_zone)
    # The finding quotes the span's text: the policy's place in the hierarchy, whichever form wrote it.
    span = p.span = replace(p.span, text=p.where)
    match = node.child("match")
    if match is not None:
        unknown = [c.word for c in match.active() if c.word not in MATCH_KEYS]
        p.src = tuple(match.names("source-address")) or p.src
        p.dst = tuple(match.names("destination-address")) or p.dst
        p.src_excluded = match.has("source-address-excluded")
        p.dst_excluded = match.has("destination-address-excluded")
        p.apps = tuple(match.names("application")) or p.apps
        p.dyn_apps = tuple(match.names("dynamic-application"))
        p.url_categories = tuple(match.names("url-category"))
        p.identities = tuple(match.names("source-identity"))
        p.from_zones = tuple(match.names("from-zone"))
        p.to_zones = tuple(match.names("to-zone"))
        p.unknown = tuple(unknown)
    then = node.child("then")
    if then is not None:
        for action in ("permit", "deny", "reject"):
            a = then.child(action)
            if a is not None:
                p.action = action
                services = a.child("application-services")
                if services is not None:
                    p.utm_policy = (
                        services.value("utm-policy") or services.value("content-security-policy") or ""
                    )
                    p.ssl_proxy = services.has("ssl-proxy")
                    p.services = tuple(
                        c.word
                        for c in services.active()
                        if c.word not in ("utm-policy", "content-security-policy", "ssl-proxy")
                    )
                if action == "permit" and any(c.word != "application-services" for c in a.active()):
                    p.services += tuple(c.word for c in a.active() if c.word != "application-services")
                break
    if not p.action:
        problems.append(Problem("TE901", span, f"policy {node.word} has no action (then permit|deny|reject)"))
    p.scheduler = node.value("scheduler-name") or ""
    return p


def _policies(cfg: Config, sec: Node, top: Span) -> None:
    pols = sec.child("policies")
    if pols is None:
        return
    fz = pols.child("from-zone")
    for src in fz.active() if fz is not None else []:
        tz = src.child("to-zone")
        for dst in tz.active() if tz is not None else []:
            plist = dst.child("policy")
            found = [
                _policy(p, src.word, dst.word, top, cfg.problems) for p in (plist.active() if plist else [])
            ]
            cfg.policies[(src.word, dst.word)] = found
    glob = pols.child("global", "policy")
    for p in glob.active() if glob is not None else []:
        cfg.global_policies.append(_policy(p, "", "", top, cfg.problems))
    default = pols.child("default-policy")
    if default is not None:
        value = next(iter(default.active()), None)
        if value is not None:
            cfg.default_policy = (value.word, _span(value, top))


def _applications(cfg: Config, apps: Node, top: Span) -> None:
    for a in apps.under("application"):
        spec = AppSpec(a.word, _span(a, top))
        terms = a.child("term")
        bodies = [(t, leaves(t)) for t in terms.active()] if terms is not None else [(a, leaves(a))]
        for _t, paths in bodies:
            words = [w for path, _s in paths for w in path]
            kv = dict(zip(words[::2], words[1::2], strict=False))
            proto = kv.get("protocol", "")
            port = kv.get("destination-port")
            rng = _port_range(port) if port else None
            if port and rng is None:
                spec.unknown = f"destination-port {port}"
            if words and proto:
                spec.terms.append((proto, rng))
            elif words and not spec.unknown and "application-protocol" in kv:
                spec.unknown = f"application-protocol {kv['application-protocol']}"
        cfg.apps[a.word] = spec
    for s in apps.under("application-set"):
        members = tuple(s.names("application") + s.names("application-set"))
        cfg.apps[s.word] = AppSpec(s.word, _span(s, top), members=members)


def _port_range(word: str) -> tuple[int, int] | None:
    word = word.lower()
    if word in PORT_NAMES:
        return PORT_NAMES[word], PORT_NAMES[word]
    lo, _dash, hi = word.partition("-")
    if lo.isdigit() and (not hi or hi.isdigit()):
        return int(lo), int(hi or lo)
    return None


def _utm(cfg: Config, utm: Node, top: Span) -> None:
    u = cfg.utm
    objs = utm.child("custom-objects")
    if objs is not None:
        for p in objs.under("url-pattern"):
            pattern = UrlPattern(p.word, _span(p, top))
            v = p.child("value")
            for item in v.active() if v is not None else []:
                pattern.values.append((item.word, _span(item, top)))
            u.patterns[p.word] = pattern
        for c in objs.under("custom-url-category"):
            u.categories[c.word] = (c.names("value"), _span(c, top))
    for base in (("feature-profile", "web-filtering"), ("default-configuration", "web-filtering")):
        wf = utm.child(*base)
        if wf is None:
            continue
        u.engine = wf.value("type") or u.engine
        for word, bucket in (("url-whitelist", u.whitelist), ("url-blacklist", u.blacklist)):
            node = wf.child(word)
            for item in node.active() if node is not None else []:
                bucket.append((item.word, _span(item, top)))
        for engine in ("juniper-local", "juniper-enhanced", "websense-redirect", "surf-control-integrated"):
            eng = wf.child(engine)
            if eng is None:
                continue
            profiles = eng.child("profile")
            for prof in profiles.active() if profiles is not None else []:
                wp = WebProfile(engine, prof.word, _span(prof, top))
                cats = prof.child("category")
                for cat in cats.active() if cats is not None else []:
                    action = cat.value("action")
                    if action:
                        wp.categories.append((cat.word, action, _span(cat.child("action"), top)))
                for level in prof.under("site-reputation-action"):
                    said = level.value()
                    if said is not None:
                        wp.reputation.append((level.word, said, _span(level, top)))
                default = prof.child("default")
                first = next(iter(default.active()), None) if default is not None else None
                if first is not None:
                    wp.default = (first.word, _span(first, top))
                u.profiles.append(wp)
    pols = utm.child("utm-policy")
    for p in pols.active() if pols is not None else []:
        bound = p.under("web-filtering", "http-profile")
        name = bound[0] if bound else None
        if name is not None:
            u.policies[p.word] = (name.word, _span(name, top))
        else:
            u.policies[p.word] = ("", _span(p, top))


def _nets(node: Node | None) -> list[tuple[Net, bool]]:
    out: list[tuple[Net, bool]] = []
    for c in node.active() if node is not None else []:
        net = network(c.word)
        if net is not None:
            out.append((net, c.has("except")))
    return out


TERM_FROM = {
    "source-address",
    "destination-address",
    "address",
    "source-prefix-list",
    "destination-prefix-list",
    "protocol",
    "destination-port",
    "source-port",
    "port",
}
TERM_NONTERMINATING = {"count", "log", "syslog", "sample", "forwarding-class", "loss-priority", "dscp"}


def _filters(cfg: Config, root: Node, top: Span) -> None:
    fw = root.child("firewall")
    if fw is None:
        return
    places: list[tuple[str, Node]] = []
    plain = fw.child("filter")
    if plain is not None:
        places.append(("inet", plain))
    fam = fw.child("family")
    for f in fam.active() if fam is not None else []:
        flt_node = f.child("filter")
        if flt_node is not None:
            places.append((f.word, flt_node))
    for family, node in places:
        for f in node.active():
            flt = Filter(f.word, _span(f, top), family)
            terms = f.child("term")
            for t in terms.active() if terms is not None else []:
                term = FilterTerm(t.word, _span(t, top))
                frm = t.child("from")
                for c in frm.active() if frm is not None else []:
                    if c.word not in TERM_FROM:
                        term.unknown.append(c.word)
                    elif c.word in ("source-address", "destination-address", "address"):
                        target = {"source-address": term.src, "destination-address": term.dst}.get(
                            c.word, term.any_addr
                        )
                        target.extend(_nets(c))
                    elif c.word.endswith("prefix-list"):
                        (term.src_lists if c.word.startswith("source") else term.dst_lists).extend(
                            x.word for x in c.active()
                        )
                    elif c.word == "protocol":
                        term.protocols.extend(x.word for x in c.active())
                    else:
                        rngs = [_port_range(x.word) for x in c.active()]
                        if any(r is None for r in rngs):
                            term.unknown.append(c.word)
                        bucket = {"destination-port": term.dports, "source-port": term.sports}.get(
                            c.word, term.ports
                        )
                        bucket.extend(r for r in rngs if r is not None)
                then = t.child("then")
                for c in then.active() if then is not None else []:
                    if c.word in ("accept", "discard", "reject"):
                        term.action = c.word
                    elif c.word == "next" and c.has("term"):
                        term.action = "next"
                    elif c.word not in TERM_NONTERMINATING:
                        term.unknown.append(f"then {c.word}")
                flt.terms.append(term)
            cfg.filters[(family, f.word)] = flt
    pl = root.child("policy-options", "prefix-list")
    for p in pl.active() if pl is not None else []:
        if p.has("apply-path"):
            continue  # filled from other statements when the device commits: left undefined (unknown)
        cfg.prefix_lists[p.word] = ([n for n, _e in _nets(p)], _span(p, top))


def _interfaces(cfg: Config, root: Node, top: Span) -> None:
    ifs = root.child("interfaces")
    for i in ifs.active() if ifs is not None else []:
        units = i.child("unit")
        for u in units.active() if units is not None else []:
            name = f"{i.word}.{u.word}"
            iface = cfg.interfaces[name] = Interface(name, _span(u, top))
            for family in ("inet", "inet6"):
                fam = u.child("family", family)
                if fam is None:
                    continue
                for a in fam.names("address"):
                    with contextlib.suppress(ValueError):
                        iface.addresses.append(ipaddress.ip_interface(a))
                # An address the provider assigns (DHCP, PPPoE negotiation): the way out.
                iface.dhcp = iface.dhcp or any(
                    fam.has(w) for w in ("dhcp", "dhcp-client", "dhcpv6-client", "negotiate-address")
                )
                for word, bucket in (
                    ("input", iface.inputs),
                    ("input-list", iface.inputs),
                    ("output", iface.outputs),
                    ("output-list", iface.outputs),
                ):
                    for f in fam.under("filter", word):
                        bucket.append((family, f.word, _span(f, top)))

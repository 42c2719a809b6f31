"""Who the clients are: the audiences a RouterOS export tells apart (source addresses and
lists, interfaces, MACs, time windows, scheduler states, proxy use), each with the concrete
values (`Who`) the evaluation puts in its packets."""

from __future__ import annotations

import ipaddress
import re
from bisect import bisect_left
from dataclasses import dataclass
from itertools import product
from typing import Any

from policy_lint.dialects.firewalls.mikrotik.model import (
    EPHEMERAL,
    OTHER_CLIENTS,
    TERMINAL,
    Addr,
    ChainRule,
    Config,
    DstRule,
    NetIndex,
    TimeWindow,
    is_tcp,
    reachable,
)
from policy_lint.dialects.firewalls.reach import either
from policy_lint.model import Audience, Problem, Span

MAX_AUDIENCES = 64  # every combination up to this many; else one condition at a time
MAX_SAMPLED = 160
MAX_REPS = 40  # representatives per audience dimension
DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
WAN_WORDS = re.compile(r"wan|internet|isp|uplink|outside|external|pppoe-out|lte|gateway", re.I)
LAN_WORDS = re.compile(r"lan|local|inside|internal|bridge", re.I)
NEUTRAL_IFACE = "(another interface)"


@dataclass(frozen=True)
class Who:
    """An audience's concrete values."""

    variant: int = 0
    src: str = ""
    lists: tuple[str, ...] = ()
    iif: str = ""
    oif: str = ""
    mac: str = ""
    proxy: bool = False
    day: int = -1
    minute: int = -1


def _web(r: ChainRule) -> bool:
    """Could this rule match a web connection's packets at all (protocol and ports)?"""
    if r.protocol and is_tcp(r.protocol[0]) == r.protocol[1]:
        return False

    def ok(spec, port: int) -> bool:
        return spec is None or any(lo <= port <= hi for lo, hi in spec[0]) != spec[1]

    ways = ((80, EPHEMERAL), (443, EPHEMERAL), (EPHEMERAL, 80), (EPHEMERAL, 443))
    return any(
        ok(r.dports, d) and ok(r.sports, s) and (ok(r.anyports, d) or ok(r.anyports, s)) for d, s in ways
    )


def build_audiences(
    variants: list[tuple[Config, str]], path: str, problems: list[Problem]
) -> tuple[list[Audience], dict[tuple, Who], str]:
    """The audiences of the variants, the concrete values of each by its key, and the client
    address no source condition names (problems get TE906 when they are sampled)."""
    # A DstRule tests no client condition: it tells no clients apart (every dimension below, and
    # the combination of its conditions, is the client who meets none).
    rules = [
        r
        for cfg, _ in variants
        for fam in (4, 6)
        for r in reachable(cfg, fam)
        if not isinstance(r, DstRule) and _web(r) and r.action in TERMINAL
    ]
    # Mangle rules that route some clients elsewhere (policy routing) tell clients apart too.
    rules += [r for cfg, _ in variants for r in cfg.mangle if _web(r)]
    cfg0 = variants[0][0]
    src_specs: list[Addr] = []
    lists: list[str] = []
    iifs: list[str] = []
    oifs: list[str] = []
    macs: list[str] = []
    times: list[TimeWindow] = []
    # First occurrences in rule order; the sets only make "seen before?" cheap.
    seen_src: set[tuple] = set()
    seen: dict[int, set] = {id(d): set() for d in (lists, iifs, oifs, macs, times)}

    def first(dim: list, value, key=None) -> None:
        key = value if key is None else key
        if key not in seen[id(dim)]:
            seen[id(dim)].add(key)
            dim.append(value)

    for r in rules:
        if r.src and r.src.key not in seen_src:
            seen_src.add(r.src.key)
            src_specs.append(r.src)
        if r.src_list:
            first(lists, r.src_list[0])
        for val, dim in ((r.iif, iifs), (r.oif, oifs)):
            if val:
                first(dim, val[0])
        for val, dim in ((r.iif_list, iifs), (r.oif_list, oifs)):
            if val and val[0] not in ("all", "none"):
                first(dim, "@" + val[0])
        if r.mac:
            first(macs, r.mac[0])
        if r.time:
            first(times, r.time, r.time.text)
    # Clients: an address in each source condition, each list that may hold them, and one in none.
    src_reps: list[tuple[str, tuple[str, ...]]] = []
    for spec in src_specs[:MAX_REPS]:
        for n in spec.networks()[:2]:
            if n.version == 4:
                src_reps.append(
                    (
                        str(
                            n.network_address + 1 if n.prefixlen < n.max_prefixlen - 1 else n.network_address
                        ),
                        (),
                    )
                )
        for v, lo, _hi in spec.ranges[:2]:
            if v == 4:
                src_reps.append((str(ipaddress.IPv4Address(lo)), ()))
    for name in lists[:MAX_REPS]:
        lst = cfg0.lists.get((4, name))
        static = [e for e, _s in lst.entries if e.nets and e.nets[0][0] == 4] if lst else []
        if static:
            n = static[0].networks()[0]
            src_reps.append(
                (str(n.network_address + 1 if n.prefixlen < n.max_prefixlen - 1 else n.network_address), ())
            )
    other = next(
        (
            a
            for a in OTHER_CLIENTS
            if not any(s.has(ipaddress.ip_address(a)) for s in src_specs)
            and not any(
                e.has(ipaddress.ip_address(a))
                for name in lists
                for e, _ in (cfg0.lists[(4, name)].entries if (4, name) in cfg0.lists else [])
            )
        ),
        OTHER_CLIENTS[0],
    )
    # Members added at run time (PPP, DHCP, add-src-to-address-list) may be any client.
    src_reps += [(other, (name,)) for name in lists[:MAX_REPS]]
    baseline_src = (other, ())
    src_reps = [baseline_src] + list(dict.fromkeys(r for r in src_reps if r != baseline_src))
    # Clients arrive on the LAN side: the members of a LAN-like interface list when the
    # export defines one, else any interface the rules name, or another one.
    lan_members = sorted({m for lst, ms in cfg0.iface_lists.items() if LAN_WORDS.search(lst) for m in ms})
    lan_iifs = [i for i in iifs if not _wanlike(cfg0, i)]
    if lan_members:
        iif_reps = (
            lan_members[:MAX_REPS]
            + [
                i
                for i in lan_iifs
                if i not in lan_members and not (i.startswith("@") and LAN_WORDS.search(i))
            ][:MAX_REPS]
        )
    else:
        iif_reps = [NEUTRAL_IFACE] + lan_iifs[:MAX_REPS]
    # Their traffic leaves on the WAN side: a WAN-like interface the rules name, else another.
    wan = [i for i in oifs if _wanlike(cfg0, i)]
    oif_base = wan[0] if wan else NEUTRAL_IFACE
    oif_reps = [oif_base] + [i for i in oifs if i != oif_base][:MAX_REPS]
    mac_reps = [""] + macs[:MAX_REPS] if macs else [""]
    time_reps = _time_reps(times)
    proxy_reps = (
        [False, True]
        if any(
            cfg.proxy and cfg.proxy_redirect is None and any(p.action == "deny" for p in cfg.proxy)
            for cfg, _ in variants
        )
        else [False]
    )
    variant_ids = list(range(len(variants)))
    # One value per dimension, each dimension its own type: Any, as product() over mixed lists gives.
    dims: list[list[Any]] = [src_reps, iif_reps, oif_reps, mac_reps]
    size = len(src_reps) * len(iif_reps) * len(oif_reps) * len(mac_reps)
    fixed = len(variant_ids) * len(time_reps) * len(proxy_reps)
    if size * fixed <= MAX_AUDIENCES:
        combos = list(product(*dims))
    else:
        # Too many to combine: a client who meets no condition, each condition on its own,
        # and for each rule a client who meets all of its conditions at once.
        base = tuple(d[0] for d in dims)
        combos = [base]
        for k, d in enumerate(dims):
            for v in d[1:]:
                combos.append(base[:k] + (v,) + base[k + 1 :])
        for r in rules:
            combo = list(base)
            if r.src and not r.src.neg and r.src.nets and r.src.nets[0][0] == 4:
                n = r.src.networks()[0]
                combo[0] = (
                    str(n.network_address + 1 if n.prefixlen < n.max_prefixlen - 1 else n.network_address),
                    (),
                )
            elif r.src_list and not r.src_list[1]:
                combo[0] = (other, (r.src_list[0],))
            if r.iif and not r.iif[1]:
                combo[1] = r.iif[0]
            elif r.iif_list and not r.iif_list[1] and "@" + r.iif_list[0] in iif_reps:
                combo[1] = "@" + r.iif_list[0]
            if r.oif and not r.oif[1]:
                combo[2] = r.oif[0]
            if r.mac and not r.mac[1]:
                combo[3] = r.mac[0]
            combos.append(tuple(combo))
        combos = list(dict.fromkeys(combos))
        problems.append(
            Problem(
                "TE906",
                Span(path, 1, 1),
                f"{size * fixed} client combinations: each condition is evaluated "
                "on its own and with the others of its rule, not every combination",
            )
        )
    describe_src = _source_words(src_specs, lists, cfg0)
    iface_names = [_iface_text(i) for i in iif_reps if i != NEUTRAL_IFACE]
    oface_names = [_iface_text(i) for i in oif_reps if i != NEUTRAL_IFACE]
    mac_names = [m for m in mac_reps if m]
    out: list[Audience] = []
    who_by_key: dict[tuple, Who] = {}
    for variant, (day, minute), proxy, ((src, memb), iif, oif, mac) in product(
        variant_ids, time_reps, proxy_reps, combos
    ):
        who = Who(variant, src, memb, iif, oif, mac, proxy, day, minute)
        conds: list[str] = []
        attrs: list[tuple[str, str]] = [("path", "forward")]
        if len(variants) > 1:
            conds.append(variants[variant][1])
        # Described by the conditions that tell the clients apart, in the export's words (in or
        # not in each source address, list, interface, MAC and time window the rules use), never
        # by the sample values the evaluation puts in its packets.
        if len(src_reps) > 1 and not memb:
            conds.append(describe_src(src))
        if src:
            attrs.append(("src", src))
        for name in memb:
            conds.append(f"clients in address-list {name}")
            attrs.append(("address-list", name))
        if len(iif_reps) > 1 or iif != NEUTRAL_IFACE:
            conds.append(
                "in " + _iface_text(iif)
                if iif != NEUTRAL_IFACE
                else "in an interface other than " + either(iface_names)
            )
            attrs.append(("interface", iif))
        if len(oif_reps) > 1:
            conds.append(
                "out " + _iface_text(oif)
                if oif != NEUTRAL_IFACE
                else "out an interface other than " + either(oface_names)
            )
        if mac:
            conds.append(f"src-mac-address={mac}")
            attrs.append(("mac", mac))
        elif len(mac_reps) > 1:
            conds.append("src-mac-address other than " + either(mac_names))
        if proxy:
            conds.append("using the router's web proxy")
        if day >= 0:
            conds.extend(f"{'within' if t.contains(day, minute) else 'outside'} time={t.text}" for t in times)
            attrs.append(("time", f"{DAYS[day]} {minute // 60:02d}:{minute % 60:02d}"))
        key = (variant, src, memb, iif, oif, mac, proxy, day, minute)
        who_by_key[key] = who
        out.append(Audience(key=key, conditions=tuple(conds), attributes=tuple(attrs)))
    if len(out) > MAX_SAMPLED:
        stride = -(-len(out) // MAX_SAMPLED)
        problems.append(
            Problem("TE906", Span(path, 1, 1), f"{len(out)} audiences: every {stride}th is evaluated")
        )
        out = out[::stride]
    return out, who_by_key, other


def _addr_words(spec: Addr) -> str:
    """`src-address=` as written, without its `!` (membership is said with in / not in)."""
    parts = [str(n) if n.prefixlen < n.max_prefixlen else str(n.network_address) for n in spec.networks()]
    parts += [f"{ipaddress.ip_address(lo)}-{ipaddress.ip_address(hi)}" for _v, lo, hi in spec.ranges]
    return "src-address=" + ",".join(parts)


def _source_words(src_specs: list[Addr], lists: list[str], cfg: Config):
    """How a client address is told apart: the source conditions of the rules holding it.

    An export can name thousands of source addresses; a scan of every condition for each
    audience (and of every pair for the nested ones) took seconds at 20,000. Conditions are
    indexed instead: by their networks (NetIndex) for "which hold this client", and by the first
    and last address of their networks (sorted) for "which overlap one that holds it"."""
    conds: list[tuple[str, Any]] = []
    texts: set[str] = set()
    held_by = NetIndex()  # source-address conditions by their networks
    for spec in src_specs:
        text = _addr_words(spec)
        if text not in texts:
            texts.add(text)
            held_by.add(len(conds), spec)
            conds.append((text, spec))
    first_list = len(conds)
    for name in lists:
        conds.append((f"address-list {name}", cfg.lists.get((4, name))))
    # (version, address, condition) for the first and last address of every network of a
    # source-address condition: `c` overlaps `h` when `h` holds one of them.
    ends = sorted(
        (v, edge, k)
        for k, (_t, c) in enumerate(conds[:first_list])
        for v, first, plen in c.nets
        for edge in (first, first + (1 << ((32 if v == 4 else 128) - plen)) - 1)
    )

    def holding(address) -> list[int]:
        hits = held_by.holding(address)
        hits.update(
            k
            for k in range(first_list, len(conds))
            if conds[k][1] is not None and conds[k][1].first(address) is not None
        )
        return sorted(hits)

    def intervals(cond: Any) -> list[tuple[int, int, int]]:
        """The (version, first, last) address spans a condition holds (`!` aside, as Addr.has)."""
        specs = [cond] if isinstance(cond, Addr) else [e for e, _span in cond.entries]
        out = []
        for spec in specs:
            for v, first, plen in spec.nets:
                size = 1 << ((32 if v == 4 else 128) - plen)
                start = first // size * size
                out.append((v, start, start + size - 1))
            out.extend(spec.ranges)
        return out

    def overlapping(held: list[int]) -> set[int]:
        out: set[int] = set()
        for k in held:
            for v, lo, hi in intervals(conds[k][1]):
                i = bisect_left(ends, (v, lo, -1))
                while i < len(ends) and ends[i][0] == v and ends[i][1] <= hi:
                    out.add(ends[i][2])
                    i += 1
        return out

    def describe(src: str) -> str:
        held = holding(ipaddress.ip_address(src))
        if not held:
            names = [t for t, _ in conds]
            if len(names) > 4:
                return (
                    f"clients in none of the {len(names)} source addresses and address-lists the rules name"
                )
            return "clients not in " + either(names)
        # Nested conditions this client is not in tell it apart from the clients that are.
        near = overlapping(held) - set(held)
        but = [conds[k][0] for k in sorted(near)]
        text = "clients in " + " and ".join(conds[k][0] for k in held)
        return text + (f" but not in {either(but)}" if but else "")

    return describe


def _iface_text(name: str) -> str:
    if name.startswith("@"):
        return f"an interface of list {name[1:]}"
    return name


def _wanlike(cfg: Config, name: str) -> bool:
    if name.startswith("@"):
        return bool(WAN_WORDS.search(name[1:]))
    return bool(WAN_WORDS.search(name)) or any(
        name in members and WAN_WORDS.search(lst) for lst, members in cfg.iface_lists.items()
    )


def _time_reps(times: list[TimeWindow]) -> list[tuple[int, int]]:
    if not times:
        return [(-1, -1)]
    cands = [(min(t.days), (t.start + 1) % 1440) for t in times]
    cands += [(day, minute) for day in (2, 6) for minute in (3 * 60, 12 * 60, 20 * 60)]
    reps, sigs = [], set()
    for c in cands:
        sig = tuple(t.contains(*c) for t in times)
        if sig not in sigs:
            sigs.add(sig)
            reps.append(c)
    return reps

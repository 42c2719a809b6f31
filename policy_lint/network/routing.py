"""Policy routing: marks and routing rules that send named destinations into a tunnel.

    # iptables-save (mangle)                                   # routing script
    -A PREROUTING -s 10.1.0.0/24 -m set --match-set vpn dst -j MARK --set-mark 0x1
                                                               ip rule add fwmark 0x1 table 100
    # dnsmasq: ipset=/twitter.com/x.com/vpn                    ip route add default dev wg0 table 100

Connections from 10.1.0.0/24 to the addresses dnsmasq put in `vpn` (Twitter's) are marked,
looked up in table 100 and leave through wg0. The service is reachable through that tunnel:
its network verdict is `allowed` when no layer blocks it, with a TE111 finding naming the
path (the mark rule, the ip rule, the route). Read: iptables `MARK --set-mark`/`--set-xmark`
in mangle, nftables `meta mark set`, MikroTik `action=mark-routing new-routing-mark=`; the
destinations a mark names by set (filled by a DNS server, see setfills), by address, or by
MikroTik address list of domains; `ip rule ... fwmark M ... table|lookup T` and
`ip route ... dev D ... table T` in any text file under the root (a routing script), and
MikroTik routes `routing-mark=`/`routing-table=` with `gateway=`.

An inferred tunnel skips no layer (the router that marks the traffic still filters it; what
it avoids downstream is for `tunnel: skips:` in the settings). A mark an ip rule routes into
a table no route of the repository fills is an unresolved link: TE903 naming both ends, and
the services it carries are `unknown` for the segment.

Not modelled: masks on marks (compared as written), connmark restore, rule priorities and
`suppress_prefixlength`, pf `route-to` (declare `tunnel:`).
"""

from __future__ import annotations

import ipaddress
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from policy_lint.catalog import Catalog
from policy_lint.engine import Report
from policy_lint.inputs import Resolver
from policy_lint.model import Span

if TYPE_CHECKING:
    from policy_lint.dialects.semantics.setfills import SetFill

MAX_BYTES = 4 * 1024 * 1024
MAX_LINE = 4096  # longer lines are no NAT, routing or DHCP statement: skipped unread
SKIP_DIRS = {".git", ".hg", ".svn", ".venv", "venv", "node_modules", "__pycache__", ".tox"}
Net = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class Route:
    """Traffic for `services` from `sources`/`interfaces` leaves through `via` (or nowhere known)."""

    services: tuple[str, ...]
    sources: tuple[Net, ...]
    interfaces: tuple[str, ...]
    via: str  # the device, or "" when the link is unresolved
    span: Span  # the mark rule
    path: str  # "mark rule -> ip rule -> route", for the finding
    unresolved: str = ""

    def covers(self, networks: tuple[Net, ...], names: tuple[str, ...]) -> bool:
        if self.interfaces:
            return bool(set(self.interfaces) & set(names))
        if not self.sources:
            return True
        return any(n.version == s.version and n.subnet_of(s) for n in networks for s in self.sources)  # type: ignore[arg-type]


@dataclass(frozen=True)
class _Mark:
    mark: str
    sets: tuple[str, ...]
    nets: tuple[Net, ...]
    sources: tuple[Net, ...]
    interfaces: tuple[str, ...]
    span: Span


def _lines(path: Path) -> list[tuple[int, str]]:
    try:
        if path.stat().st_size > MAX_BYTES:
            return []
        data = path.read_bytes()
    except OSError:
        return []
    if b"\x00" in data[:4096]:
        return []
    out = []
    for n, raw in enumerate(data.decode("utf-8", "replace").splitlines(), 1):
        line = raw.strip()
        if line and not line.startswith("#") and len(line) <= MAX_LINE:
            out.append((n, line))
    return out


def _net(text: str) -> Net | None:
    try:
        return ipaddress.ip_network(text.strip('"'), strict=False)
    except ValueError:
        return None


def _mark_value(text: str) -> str:
    value = text.split("/")[0].lower()
    try:
        return str(int(value, 0))
    except ValueError:
        return value


def _opt(words: list[str], *names: str) -> str:
    for i, w in enumerate(words[:-1]):
        if w in names:
            return words[i + 1]
    return ""


def _iptables_marks(path: Path, shown: str) -> list[_Mark]:
    out = []
    table = "filter"
    for n, line in _lines(path):
        if line.startswith("*"):
            table = line[1:]
            continue
        words = line.split()
        if "-t" in words:
            table = _opt(words, "-t")
        if table != "mangle" or "MARK" not in words:
            continue
        mark = _opt(words, "--set-mark", "--set-xmark")
        if not mark:
            continue
        sets = tuple(
            words[i + 1] for i, w in enumerate(words[:-2]) if w == "--match-set" and words[i + 2] == "dst"
        )
        dst = _net(_opt(words, "-d", "--destination"))
        src = _net(_opt(words, "-s", "--source"))
        iface = _opt(words, "-i", "--in-interface")
        out.append(
            _Mark(
                _mark_value(mark),
                sets,
                (dst,) if dst else (),
                (src,) if src else (),
                (iface,) if iface else (),
                Span(shown, n, 1, line),
            )
        )
    return out


def _nft_marks(path: Path, shown: str) -> list[_Mark]:
    out = []
    for n, line in _lines(path):
        m = re.search(r"\bmark\s+set\s+(\S+)", line)
        if not m or "ct mark set" in line:
            continue
        sets = tuple(re.findall(r"daddr\s+@(\w+)", line))
        dst = re.search(r"daddr\s+([0-9a-fA-F.:]+/\d+|[0-9.]+)\b", line)
        src = re.search(r"saddr\s+([0-9a-fA-F.:]+(?:/\d+)?)", line)
        iface = re.search(r"iifname\s+\"?([\w.-]+)", line)
        dnet = _net(dst.group(1)) if dst else None
        snet = _net(src.group(1)) if src else None
        out.append(
            _Mark(
                _mark_value(m.group(1)),
                sets,
                (dnet,) if dnet else (),
                (snet,) if snet else (),
                (iface.group(1),) if iface else (),
                Span(shown, n, 1, line),
            )
        )
    return out


def _kv(line: str) -> dict[str, str]:
    return {k: v.strip('"') for k, v in re.findall(r"([\w-]+)=(\"[^\"]*\"|\S+)", line)}


def _mikrotik_marks(path: Path, shown: str) -> list[_Mark]:
    out = []
    for n, line in _lines(path):
        kv = _kv(line)
        if kv.get("action") != "mark-routing" or "new-routing-mark" not in kv:
            continue
        dst = _net(kv.get("dst-address", ""))
        src = _net(kv.get("src-address", ""))
        sets = (kv["dst-address-list"],) if "dst-address-list" in kv else ()
        iface = kv.get("in-interface", "")
        out.append(
            _Mark(
                kv["new-routing-mark"],
                sets,
                (dst,) if dst else (),
                (src,) if src else (),
                (iface,) if iface else (),
                Span(shown, n, 1, line),
            )
        )
    return out


MARKERS = {"iptables": _iptables_marks, "nftables": _nft_marks, "mikrotik": _mikrotik_marks}


def _routing_lines(root: Path) -> tuple[dict[str, tuple[str, Span]], dict[str, tuple[str, Span]]]:
    """(mark -> (table, ip rule span), table -> (device, route span)) from text files under root."""
    rules: dict[str, tuple[str, Span]] = {}
    routes: dict[str, tuple[str, Span]] = {}
    for directory, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and not d.startswith("."))
        for name in sorted(names):
            path = Path(directory) / name
            if path.is_symlink():
                continue
            try:
                if path.stat().st_size > MAX_BYTES:
                    continue
                data = path.read_bytes()
            except OSError:
                continue
            if b"rule" not in data and b"route" not in data and b"routing-mark" not in data:
                continue
            shown = os.path.relpath(path) if path.is_relative_to(Path.cwd()) else str(path)
            for n, line in _lines(path):
                words = line.replace("sudo ", "").split()
                span = Span(shown, n, 1, line)
                if words[:1] == ["ip"] and "rule" in words[1:4] and "fwmark" in words:
                    table = _opt(words, "table", "lookup")
                    if table:
                        rules.setdefault(_mark_value(_opt(words, "fwmark")), (table, span))
                elif words[:1] == ["ip"] and "route" in words[1:4] and "table" in words and "dev" in words:
                    routes.setdefault(_opt(words, "table"), (_opt(words, "dev"), span))
                elif "routing-mark=" in line or "routing-table=" in line:
                    kv = _kv(line)
                    mark = kv.get("routing-mark") or kv.get("routing-table")
                    if mark and "gateway" in kv and "new-routing-mark" not in kv:
                        # MikroTik: the routing mark is its own table.
                        rules.setdefault(mark, (mark, span))
                        routes.setdefault(mark, (kv["gateway"], span))
    return rules, routes


def _services(mark: _Mark, fills: list[SetFill], catalog: Catalog) -> tuple[str, ...]:
    out = []
    for sid, svc in catalog.services.items():
        domains = [d.domain for d in svc.domains]
        by_set = any(f.set_name in mark.sets and any(f.holds(d) for d in domains) for f in fills)
        by_net = any(n.version == m.version and n.overlaps(m) for n in svc.networks for m in mark.nets)
        if by_set or by_net:
            out.append(sid)
    return tuple(out)


def find_routes(report: Report, root: Path | None, catalog: Catalog) -> list[Route]:
    """Every policy-routing path of the linted firewalls that carries a catalog service."""
    marks = [
        m for fr in report.files if fr.dialect in MARKERS for m in MARKERS[fr.dialect](Path(fr.path), fr.path)
    ]
    if not marks:
        return []
    # setfills is imported only for firewall marks: a lint without them (most) skips its import.
    from policy_lint.dialects.semantics.setfills import find_fills

    base = (root or Path.cwd()).resolve()
    rules, routes = _routing_lines(base)
    fills = find_fills(base, Resolver(base)) if any(m.sets for m in marks) else []
    out = []
    for mark in marks:
        if mark.mark not in rules:
            continue  # a mark no routing rule reads: QoS or accounting, not policy routing
        services = _services(mark, fills, catalog)
        if not services:
            continue
        table, rule_span = rules[mark.mark]
        if table in routes:
            device, route_span = routes[table]
            path = f"{mark.span.where()} -> {rule_span.where()} -> {route_span.where()} (dev {device})"
            out.append(Route(services, mark.sources, mark.interfaces, device, mark.span, path))
        else:
            note = (
                f"{mark.span.where()} marks it {mark.mark} and {rule_span.where()} routes that mark by table "
                f"{table}, but no route of the repository fills table {table}"
            )
            out.append(Route(services, mark.sources, mark.interfaces, "", mark.span, note, unresolved=note))
    return out

"""Interception links: NAT rules that send a segment's web traffic to a proxy or portal.

    # iptables-save                                     # squid.conf
    *nat
    -A PREROUTING -s 10.50.0.0/24 -p tcp --dport 80 -j REDIRECT --to-ports 3129
                                                        http_port 3129 intercept

The router hands the guests' port-80 connections to squid, which listens for them with
`intercept` (or `transparent`/`tproxy`): squid is on the guest segment's path whatever the
browsers are told. Read here: iptables `-j REDIRECT --to-ports`/`-j DNAT --to-destination`
(iptables-save and `iptables -t nat` script lines), nftables `redirect to :N`/`dnat to A:N`,
pf `rdr ... -> A port N`, MikroTik `chain=dstnat action=redirect|dst-nat to-ports=`. Only
rules for web ports (80, 443, or no port) count. A rule whose target no linted proxy listens
on with intercept is an unresolved link (TE903 naming both ends): a captive portal or a proxy
outside the repository decides, and the segment's verdicts become `unknown`.

Not modelled: the rule's place among other NAT rules (an earlier ACCEPT/RETURN exempting
some clients), marks, and interception by WCCP or policy routing to a proxy host.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from pathlib import Path

from policy_lint.engine import Report
from policy_lint.model import Span

MAX_BYTES = 4 * 1024 * 1024
MAX_LINE = 4096  # longer lines are no NAT, routing or DHCP statement: skipped unread
WEB_PORTS = {"80", "443", "http", "https", "www"}
Net = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class Intercept:
    span: Span
    sources: tuple[Net, ...]  # empty: every client
    interfaces: tuple[str, ...]
    address: str  # "" = the router itself (REDIRECT)
    port: str
    proxy: str = ""  # resolved path of the proxy file that listens, "" = unresolved
    dport: str = ""  # the web port the rule matches ("" = every port)

    def https(self) -> bool:
        """Whether the rule takes HTTPS too (no port, or 443 among its ports)."""
        return not self.dport or bool({"443", "https"} & set(self.dport.split(",")))

    def covers(self, networks: tuple[Net, ...], names: tuple[str, ...]) -> bool:
        if self.interfaces:
            return bool(set(self.interfaces) & set(names))
        if not self.sources:
            return True
        return any(n.version == s.version and n.subnet_of(s) for n in networks for s in self.sources)  # type: ignore[arg-type]


def _lines(path: Path) -> list[tuple[int, str]]:
    try:
        if path.stat().st_size > MAX_BYTES:
            return []
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    return [
        (n, line.strip())
        for n, line in enumerate(text.splitlines(), 1)
        if line.strip() and not line.strip().startswith("#") and len(line) <= MAX_LINE
    ]


def _net(text: str) -> Net | None:
    try:
        return ipaddress.ip_network(text.strip('"'), strict=False)
    except ValueError:
        return None


def _target(text: str) -> tuple[str, str]:
    """'10.0.0.1:3128' -> ('10.0.0.1', '3128'); '3128' -> ('', '3128')."""
    if ":" in text and text.count(":") == 1:
        a, p = text.split(":")
        return a, p.split("-")[0]
    if "." in text:
        return text, ""
    return "", text.split("-")[0]


def _opt(words: list[str], *names: str) -> str:
    for i, w in enumerate(words[:-1]):
        if w in names:
            return words[i + 1]
    return ""


def _iptables(path: Path, shown: str) -> list[Intercept]:
    out = []
    table = "filter"
    for n, line in _lines(path):
        if line.startswith("*"):
            table = line[1:]
            continue
        words = line.split()
        if "-t" in words:
            table = _opt(words, "-t")
        if table != "nat" or "PREROUTING" not in words or not {"REDIRECT", "DNAT"} & set(words):
            continue
        port = _opt(words, "--dport", "--destination-port")
        if port and port not in WEB_PORTS:
            continue
        if "REDIRECT" in words:
            address, to = "", _opt(words, "--to-ports", "--to-port")
        else:
            address, to = _target(_opt(words, "--to-destination", "--to"))
        src = _net(_opt(words, "-s", "--source"))
        iface = _opt(words, "-i", "--in-interface")
        out.append(
            Intercept(
                Span(shown, n, 1, line),
                (src,) if src else (),
                (iface,) if iface else (),
                address,
                to or port,
                dport=port,
            )
        )
    return out


_NFT = re.compile(r"\b(redirect\s+to\s+:?(?P<rport>\d+)|dnat\s+(?:ip\s+)?to\s+(?P<dnat>[0-9a-fA-F.:\[\]]+))")


def _nft(path: Path, shown: str) -> list[Intercept]:
    out = []
    for n, line in _lines(path):
        m = _NFT.search(line)
        if not m:
            continue
        port = re.search(r"dport\s+(\{[^}]*\}|\S+)", line)
        if port and not set(re.findall(r"\w+", port.group(1))) & WEB_PORTS:
            continue
        if m.group("rport"):
            address, to = "", m.group("rport")
        else:
            address, to = _target(m.group("dnat"))
        src = re.search(r"saddr\s+(\S+)", line)
        iface = re.search(r"iifname\s+\"?([\w.-]+)", line)
        net = _net(src.group(1)) if src else None
        out.append(
            Intercept(
                Span(shown, n, 1, line),
                (net,) if net else (),
                (iface.group(1),) if iface else (),
                address,
                to,
                dport=",".join(sorted(set(re.findall(r"\w+", port.group(1))) & WEB_PORTS)) if port else "",
            )
        )
    return out


_PF = re.compile(
    r"^rdr\b.*?(?:\bon\s+(?P<iface>\S+))?.*?\bfrom\s+(?P<src>\S+).*?->\s*(?P<addr>\S+)(?:\s+port\s+(?P<port>\d+))?"
)


def _pf(path: Path, shown: str) -> list[Intercept]:
    out = []
    for n, line in _lines(path):
        m = _PF.search(line)
        if not m:
            continue
        port = re.search(r"\bto\s+\S+\s+port\s+(\S+)", line)
        if port and port.group(1) not in WEB_PORTS:
            continue
        iface = re.search(r"\bon\s+(\S+)", line)
        net = _net(m.group("src")) if m.group("src") != "any" else None
        addr = m.group("addr")
        address = "" if addr.startswith(("127.", "::1", "lo")) else addr
        out.append(
            Intercept(
                Span(shown, n, 1, line),
                (net,) if net else (),
                (iface.group(1),) if iface else (),
                address,
                m.group("port") or "",
                dport=port.group(1) if port else "",
            )
        )
    return out


def _mikrotik(path: Path, shown: str) -> list[Intercept]:
    out = []
    for n, line in _lines(path):
        if "chain=dstnat" not in line or not re.search(r"action=(redirect|dst-nat)", line):
            continue
        kv = dict(re.findall(r"([\w-]+)=(\"[^\"]*\"|\S+)", line))
        if kv.get("dst-port") and kv["dst-port"] not in WEB_PORTS:
            continue
        net = _net(kv.get("src-address", ""))
        iface = kv.get("in-interface", "")
        address = kv.get("to-addresses", "") if kv.get("action") == "dst-nat" else ""
        out.append(
            Intercept(
                Span(shown, n, 1, line),
                (net,) if net else (),
                (iface,) if iface else (),
                address,
                kv.get("to-ports", ""),
                dport=kv.get("dst-port", ""),
            )
        )
    return out


SCANNERS = {"iptables": _iptables, "nftables": _nft, "pf": _pf, "pfsense": _pf, "mikrotik": _mikrotik}


def _listeners(report: Report) -> list[tuple[str, str, str]]:
    """(address or "", port, resolved path) of every proxy port that accepts intercepted traffic."""
    out = []
    for fr in report.files:
        if fr.dialect != "squid":
            continue
        for _n, line in _lines(Path(fr.path)):
            words = line.split()
            if (
                len(words) >= 3
                and words[0] in ("http_port", "https_port")
                and {"intercept", "transparent", "tproxy"} & set(words)
            ):
                address, port = _target(words[1])
                out.append((address, port, str(Path(fr.path).resolve())))
    return out


def find_intercepts(report: Report) -> list[Intercept]:
    """Every web interception rule of the linted firewalls, linked to the proxy that takes it."""
    listeners = _listeners(report)
    out = []
    for fr in report.files:
        scan = SCANNERS.get(fr.dialect)
        if scan is None:
            continue
        for rule in scan(Path(fr.path), fr.path):
            proxy = next(
                (
                    p
                    for a, port, p in listeners
                    if port == rule.port and (not a or not rule.address or a == rule.address)
                ),
                "",
            )
            out.append(
                Intercept(
                    rule.span, rule.sources, rule.interfaces, rule.address, rule.port, proxy, rule.dport
                )
            )
    return out

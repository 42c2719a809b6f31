"""Firewall sets that a DNS forwarder fills with the addresses of the names it resolves.

    # dnsmasq.conf                                   # iptables
    ipset=/facebook.com/fbcdn.net/blocked            -A FORWARD -m set --match-set blocked dst -j DROP
    nftset=/facebook.com/4#inet#filter#blocked       # nft: ip daddr @blocked drop

dnsmasq adds every address it answers for the listed domains, and for their subdomains, to the
named ipsets (`ipset=`) or nftables sets (`nftset=/dom/[4|6]#family#table#set`). unbound's ipset
module does the same for `local-zone: "facebook.com" ipset` into the sets named by
`ipset: name-v4:`/`name-v6:`. A rule matching such a set matches a connection to one of those
names, once a client has resolved it through that forwarder: the set holds the service's
addresses, so the firewall dialects match it by domain instead of calling it an unknown set.

`find_fills(root, resolver)` scans the files under the lint root (not following links out of
it) for such lines; the firewall dialects call it only for a set nothing else loads.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from policy_lint.inputs import Resolver
from policy_lint.model import Span

SKIP_DIRS = {".git", ".hg", ".svn", ".venv", "venv", "node_modules", "__pycache__", ".tox"}
MAX_SCAN_BYTES = 64 * 1024 * 1024
_MARKERS = (b"ipset", b"nftset", b"name-v4", b"name-v6")


@dataclass(frozen=True)
class SetFill:
    set_name: str
    table: str  # nftset's "family#table" ("inet#filter"); "" for an ipset (one namespace)
    domains: tuple[str, ...]
    span: Span

    def holds(self, host: str) -> str | None:
        """The domain whose resolution puts `host`'s addresses in the set, if any."""
        host = host.lower().rstrip(".")
        for domain in self.domains:
            if host == domain or host.endswith("." + domain):
                return domain
        return None


def _dnsmasq_fill(option: str, value: str, span: Span) -> list[SetFill]:
    # ipset=/d1/d2/set1,set2 ; nftset=/d1/4#inet#filter#set1,6#inet#filter#set6
    parts = value.split("/")
    if len(parts) < 3 or parts[0] != "":
        return []
    domains = tuple(d.strip().lower().strip(".") for d in parts[1:-1] if d.strip() and d.strip() != "#")
    if not domains:
        return []
    fills = []
    for target in parts[-1].split(","):
        target = target.strip()
        if not target:
            continue
        if option == "ipset":
            fills.append(SetFill(target, "", domains, span))
            continue
        fields = target.split("#")
        if fields and fields[0] in ("4", "6"):
            fields = fields[1:]
        if len(fields) == 3:
            fills.append(SetFill(fields[2], f"{fields[0]}#{fields[1]}", domains, span))
    return fills


def _scan(path: Path, shown: str) -> list[SetFill]:
    try:
        if path.stat().st_size > MAX_SCAN_BYTES:
            return []
        data = path.read_bytes()
    except OSError:
        return []
    if b"\x00" in data[:8192] or not any(m in data for m in _MARKERS):
        return []
    fills: list[SetFill] = []
    unbound_zones: list[tuple[str, Span]] = []
    unbound_sets: list[str] = []
    for number, raw in enumerate(data.decode("utf-8", "replace").splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        span = Span(shown, number, raw.find(line[0]) + 1, line)
        key, sep, value = line.partition("=")
        if sep and key.strip() in ("ipset", "nftset"):
            fills += _dnsmasq_fill(key.strip(), value, span)
            continue
        words = line.replace('"', " ").split()
        if len(words) == 3 and words[0] == "local-zone:" and words[2] == "ipset":
            unbound_zones.append((words[1].lower().strip("."), span))
        elif len(words) == 2 and words[0] in ("name-v4:", "name-v6:"):
            unbound_sets.append(words[1])
    for name in unbound_sets:
        for domain, span in unbound_zones:
            fills.append(SetFill(name, "", (domain,), span))
    return fills


def find_fills(root: Path, resolver: Resolver) -> list[SetFill]:
    """Every set fill declared in a file under `root` (sorted by file, then line)."""
    fills: list[SetFill] = []
    real_root = root.resolve()
    for directory, dirs, names in os.walk(real_root):
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and not d.startswith("."))
        for name in sorted(names):
            path = Path(directory) / name
            if path.is_symlink() and not resolver.inside(path, real_root):
                continue
            fills += _scan(path, resolver.display(path))
    return fills

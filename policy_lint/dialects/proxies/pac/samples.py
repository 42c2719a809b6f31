"""The clients a PAC file is tried for: the addresses `myIpAddress()` answers and the local
times the clock functions see, chosen from what the script tests; and how a group of samples
that got the same answers is described as an audience."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

MAX_SAMPLES = 256
DEFAULT_CLIENT = "192.168.1.10"
DEFAULT_TIME = (2026, 3, 11, 10, 30)  # a Wednesday mid-morning
SAMPLE_WEEK = [(2026, 3, 9 + i) for i in range(7)]  # Monday 9 to Sunday 15 March 2026
DEFAULT_HOURS = (3, 10, 14, 20)
DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_TIME_HINT = re.compile(r"\b(weekdayRange|dateRange|timeRange|Date)\b")
_CLIENT_HINT = re.compile(r"\bmyIpAddress(Ex)?\b")
IS_IN_NET = re.compile(
    r"""isInNet\s*\([^,()]*(?:\([^()]*\))?[^,()]*,\s*(["'])([\d.]+)\1\s*,\s*(["'])([\d.]+)\3"""
)
IP_GLOB = re.compile(r"""shExpMatch\s*\([^,]*,\s*(["'])(\d{1,3}(?:\.(?:\d{1,3}|\*)){0,3}\.?\*?)\1""")
_TIME_RANGE_ARGS = re.compile(r"timeRange\s*\(([^)]*)\)")


@dataclass(frozen=True)
class Sample:
    """One client: its address (what myIpAddress() answers) and local time."""

    ip: str
    when: tuple[int, int, int, int, int]

    def day(self) -> str:
        import datetime as dt

        return DAY_NAMES[dt.date(*self.when[:3]).weekday()]

    def clock(self) -> str:
        return f"{self.when[3]:02d}:{self.when[4]:02d}"


def networks_named_in(source: str) -> list[ipaddress.IPv4Network]:
    nets: list[ipaddress.IPv4Network] = []
    for m in IS_IN_NET.finditer(source):
        try:
            net = ipaddress.IPv4Network(f"{m.group(2)}/{m.group(4)}", strict=False)
        except ValueError:
            continue
        if net not in nets:
            nets.append(net)
    for m in IP_GLOB.finditer(source):
        octets = [o for o in m.group(2).rstrip(".*").split(".") if o and o != "*"]
        if not octets or any(not o.isdigit() or int(o) > 255 for o in octets):
            continue
        net = ipaddress.IPv4Network(
            ".".join(octets + ["0"] * (4 - len(octets))) + f"/{8 * len(octets)}", strict=False
        )
        if net not in nets:
            nets.append(net)
    return nets


def client_addresses(source: str) -> list[str]:
    """Addresses to try for myIpAddress(): inside and at the edges of every network the script
    tests, and one outside them all."""
    if not _CLIENT_HINT.search(source):
        return [DEFAULT_CLIENT]
    nets = networks_named_in(source)
    out: list[str] = []
    for net in nets:
        for addr in (net[1], net[-2]) if net.num_addresses > 2 else (net[0],):
            if str(addr) not in out:
                out.append(str(addr))
    for candidate in (DEFAULT_CLIENT, "172.20.30.40", "10.200.30.40", "100.64.30.40", "198.18.30.40"):
        ip = ipaddress.IPv4Address(candidate)
        if not any(ip in n for n in nets):
            out.append(candidate)
            break
    return out or [DEFAULT_CLIENT]


def sample_times(source: str) -> list[tuple[int, int, int, int, int]]:
    if not _TIME_HINT.search(source):
        return [DEFAULT_TIME]
    hours = set(DEFAULT_HOURS)
    for m in _TIME_RANGE_ARGS.finditer(source):
        for num in re.findall(r"\b\d{1,2}\b", m.group(1)):
            h = int(num)
            if h < 24:
                hours.update({(h - 1) % 24, h, (h + 1) % 24})
    out = [(y, mo, d, h, 30) for (y, mo, d) in SAMPLE_WEEK for h in sorted(hours)]
    if "dateRange" in source:
        out += [(2026, mo, 15, 10, 30) for mo in range(1, 13) if mo != 3]
    return out


def client_samples(source: str) -> tuple[list[Sample], bool]:
    ips = client_addresses(source)
    times = sample_times(source)
    if len(ips) * len(times) > MAX_SAMPLES and len(times) > len(DEFAULT_HOURS) * 7:
        times = [(y, mo, d, h, 30) for (y, mo, d) in SAMPLE_WEEK for h in DEFAULT_HOURS]
    samples = [Sample(ip, t) for ip in ips for t in times]
    return samples[:MAX_SAMPLES], len(samples) > MAX_SAMPLES


# --------------------------------------------------------------------------- the ruleset


def describe_group(group: list[Sample], all_ips: list[str], all_times: list[tuple]) -> tuple[str, ...]:
    ips = list(dict.fromkeys(s.ip for s in group))
    times = list(dict.fromkeys(s.when for s in group))
    conds: list[str] = []
    product = len(group) == len(ips) * len(times)
    if product:
        if len(ips) < len(all_ips):
            conds.append(
                "client " + ", ".join(ips[:3]) + (f" and {len(ips) - 3} more" if len(ips) > 3 else "")
            )
        if len(times) < len(all_times):
            conds.append(_describe_times([s for s in group if s.ip == ips[0]]))
        return tuple(conds)
    parts = [
        f"client {s.ip} {s.day()} {s.clock()}" if len(all_ips) > 1 else f"{s.day()} {s.clock()}"
        for s in group
    ]
    return (", ".join(parts[:3]) + (f" and {len(parts) - 3} more" if len(parts) > 3 else ""),)


def _describe_times(samples: list[Sample]) -> str:
    week = [s for s in samples if (s.when[0], s.when[1], s.when[2]) in SAMPLE_WEEK]
    other = [s for s in samples if s not in week]
    days = sorted({SAMPLE_WEEK.index(s.when[:3]) for s in week})
    clocks = sorted({s.clock() for s in week})
    out = []
    if week and len(week) == len(days) * len(clocks):
        out.append(f"{_day_ranges(days)} at {', '.join(clocks)}")
    elif week:
        out.append(", ".join(f"{s.day()} {s.clock()}" for s in week[:4]) + (" ..." if len(week) > 4 else ""))
    if other:
        out.append(
            ", ".join(f"{s.when[0]}-{s.when[1]:02d}-{s.when[2]:02d} {s.clock()}" for s in other[:3])
            + (" ..." if len(other) > 3 else "")
        )
    return "time " + "; ".join(out)


def _day_ranges(days: list[int]) -> str:
    runs: list[list[int]] = []
    for d in days:
        if runs and d == runs[-1][-1] + 1:
            runs[-1].append(d)
        else:
            runs.append([d])
    return ", ".join(
        DAY_NAMES[r[0]] if len(r) == 1 else f"{DAY_NAMES[r[0]]}-{DAY_NAMES[r[-1]]}" for r in runs
    )

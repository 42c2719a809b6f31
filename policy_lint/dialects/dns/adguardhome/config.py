"""AdGuardHome.yaml (schema versions 20 to 29+) read into the settings that decide DNS answers.

Settings moved between schema versions: up to schema 25 the filtering settings live under
`dns:` (protection_enabled, filtering_enabled, blocked_services, rewrites, blocking_mode ...),
from schema 26 under `filtering:`; up to schema 20 `blocked_services` is a list of IDs, from
21 a mapping `{ids: [...], schedule: {time_zone, mon: {start, end}, ...}}`. Both places and
both forms are read (the newer place wins when both are present).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from policy_lint.dialects.dns.adguardhome.yamlnodes import Item
from policy_lint.model import Problem, Span

DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_DURATION = re.compile(r"^(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m(?!s))?(?:(\d+(?:\.\d+)?)s)?(?:(\d+)ms)?$")


@dataclass
class Schedule:
    """Pause windows of blocked services (AdGuard Home: "pause service blocking")."""

    time_zone: str
    windows: list[tuple[str, int, int]]  # (day, start minute, end minute), end > start
    span: Span

    def describe(self) -> str:
        days = ", ".join(
            f"{d} {s // 60:02d}:{s % 60:02d}-{e // 60:02d}:{e % 60:02d}" for d, s, e in self.windows
        )
        return f"{days} ({self.time_zone})"

    @property
    def always_paused(self) -> bool:
        return {d for d, s, e in self.windows if s == 0 and e >= 1440} == set(DAYS)


@dataclass
class BlockedServices:
    ids: list[tuple[str, Span]] = field(default_factory=list)
    schedule: Schedule | None = None
    span: Span | None = None


@dataclass
class Client:
    name: str
    span: Span
    ids: list[str]
    tags: list[str]
    use_global_settings: bool
    filtering_enabled: bool
    use_global_blocked_services: bool
    blocked_services: BlockedServices
    upstreams: list[tuple[str, Span]]


@dataclass
class FilterRef:
    url: str
    name: str
    enabled: bool
    id: str | None
    span: Span
    allow: bool  # from whitelist_filters


@dataclass
class Rewrite:
    domain: str
    answer: str
    span: Span


@dataclass
class Config:
    path: str
    schema: int | None = None
    protection: bool = True
    protection_span: Span | None = None
    paused_until: Span | None = None
    filtering: bool = True
    filtering_span: Span | None = None
    blocking_mode: str = "default"
    blocking_ipv4: str = ""
    blocked_services: BlockedServices = field(default_factory=BlockedServices)
    filters: list[FilterRef] = field(default_factory=list)
    user_rules: list[tuple[str, Span]] = field(default_factory=list)
    rewrites: list[Rewrite] = field(default_factory=list)
    blocked_hosts: list[tuple[str, Span]] = field(default_factory=list)
    upstreams: list[tuple[str, Span]] = field(default_factory=list)
    upstream_file: tuple[str, Span] | None = None
    bind_hosts: list[str] = field(default_factory=list)
    port: int = 53
    clients: list[Client] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    statements: int = 0


def _span(path: str, item: Item, text: str = "") -> Span:
    return Span(path, item.line, item.col, text)


def _bool(item: Item | None, default: bool) -> bool:
    if item is None or item.value is None:
        return default
    if isinstance(item.value, bool):
        return item.value
    return str(item.value).strip().lower() in ("true", "yes", "on", "1")


def _strings(path: str, item: Item | None) -> list[tuple[str, Span]]:
    if item is None:
        return []
    if isinstance(item.value, str):  # a single value where a list is expected
        return [(item.value, _span(path, item, item.value))]
    return [(x.text(), _span(path, x, x.text())) for x in item.items() if x.text()]


def minutes(value: object) -> int | None:
    """A Go duration (`0s`, `17h30m`, `24h`) or milliseconds as a number, in minutes."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return int(value // 60000)
    m = _DURATION.match(str(value).strip())
    if not m or not any(m.groups()):
        return None
    h, mi, s, ms = (float(g) if g else 0.0 for g in m.groups())
    return int(h * 60 + mi + s / 60 + ms / 60000)


def _schedule(path: str, item: Item | None, problems: list[Problem]) -> Schedule | None:
    if item is None or not isinstance(item.value, dict):
        return None
    tz = (item.get("time_zone") or Item("Local", item.line, item.col)).text() or "Local"
    windows = []
    for day in DAYS:
        d = item.get(day)
        if d is None:
            continue
        start, end = (
            minutes((d.get("start") or Item(0, 0, 0)).value),
            minutes((d.get("end") or Item(0, 0, 0)).value),
        )
        if start is None or end is None:
            problems.append(
                Problem("TE901", _span(path, d, day), f"schedule {day}: start/end are not durations")
            )
            continue
        if end > start:
            windows.append((day, start, min(end, 1440)))
    return Schedule(tz, windows, _span(path, item, "schedule")) if windows else None


def blocked_services(path: str, item: Item | None, problems: list[Problem]) -> BlockedServices:
    """The old list form (schema <= 20) or `{ids, schedule}` (schema >= 21)."""
    if item is None:
        return BlockedServices()
    if isinstance(item.value, dict):
        return BlockedServices(
            _strings(path, item.get("ids")),
            _schedule(path, item.get("schedule"), problems),
            _span(path, item),
        )
    return BlockedServices(_strings(path, item), None, _span(path, item))


def _setting(root: Item, key: str) -> Item | None:
    """`filtering.<key>` (schema >= 26) or `dns.<key>` (older)."""
    return root.get("filtering", key) or root.get("dns", key)


def read(root: Item, path: str) -> Config:
    cfg = Config(path)
    p = cfg.problems
    schema = root.get("schema_version")
    if schema is not None and isinstance(schema.value, int):
        cfg.schema = schema.value
    prot = _setting(root, "protection_enabled")
    cfg.protection = _bool(prot, True)
    cfg.protection_span = _span(path, prot, f"protection_enabled: {prot.text()}") if prot else None
    until = _setting(root, "protection_disabled_until")
    if until is not None and until.value not in (None, "", "null"):
        cfg.paused_until = _span(path, until, f"protection_disabled_until: {until.text()}")
    filt = _setting(root, "filtering_enabled")
    cfg.filtering = _bool(filt, True)
    cfg.filtering_span = _span(path, filt, f"filtering_enabled: {filt.text()}") if filt else None
    mode = _setting(root, "blocking_mode")
    cfg.blocking_mode = mode.text().lower() if mode is not None and mode.text() else "default"
    ipv4 = _setting(root, "blocking_ipv4")
    cfg.blocking_ipv4 = ipv4.text() if ipv4 is not None else ""
    cfg.blocked_services = blocked_services(path, _setting(root, "blocked_services"), p)

    for key, allow in (("filters", False), ("whitelist_filters", True)):
        for f in (root.get(key) or Item([], 0, 0)).items():
            url = (f.get("url") or Item("", 0, 0)).text()
            if not url:
                continue
            fid = f.get("id")
            cfg.filters.append(
                FilterRef(
                    url,
                    (f.get("name") or Item("", 0, 0)).text(),
                    _bool(f.get("enabled"), False),
                    fid.text() if fid is not None else None,
                    _span(path, f.get("url") or f, url),
                    allow,
                )
            )
    cfg.user_rules = _strings(path, root.get("user_rules"))
    for rw in (_setting(root, "rewrites") or Item([], 0, 0)).items():
        if not _bool(rw.get("enabled"), True):
            continue
        domain, answer = (
            (rw.get("domain") or Item("", 0, 0)).text(),
            (rw.get("answer") or Item("", 0, 0)).text(),
        )
        if domain:
            cfg.rewrites.append(
                Rewrite(domain.lower().rstrip("."), answer, _span(path, rw, f"{domain} -> {answer}"))
            )
    cfg.blocked_hosts = _strings(path, root.get("dns", "blocked_hosts"))
    cfg.upstreams = _strings(path, root.get("dns", "upstream_dns"))
    up_file = root.get("dns", "upstream_dns_file")
    if up_file is not None and up_file.text():
        cfg.upstream_file = (up_file.text(), _span(path, up_file, up_file.text()))
    cfg.bind_hosts = [h for h, _s in _strings(path, root.get("dns", "bind_hosts"))]
    if not cfg.bind_hosts and root.get("dns", "bind_host") is not None:
        cfg.bind_hosts = [(root.get("dns", "bind_host") or Item("", 0, 0)).text()]
    port = root.get("dns", "port")
    if port is not None and isinstance(port.value, int):
        cfg.port = port.value
    for c in (root.get("clients", "persistent") or Item([], 0, 0)).items():
        name = (c.get("name") or Item("", 0, 0)).text()
        cfg.clients.append(
            Client(
                name or f"client at line {c.line}",
                _span(path, c, f"client {name}"),
                [x for x, _s in _strings(path, c.get("ids"))],
                [x for x, _s in _strings(path, c.get("tags"))],
                _bool(c.get("use_global_settings"), True),
                _bool(c.get("filtering_enabled"), False),
                _bool(c.get("use_global_blocked_services"), True),
                blocked_services(path, c.get("blocked_services"), p),
                _strings(path, c.get("upstreams")),
            )
        )
    cfg.statements = len(root.value) if isinstance(root.value, dict) else 0
    return cfg

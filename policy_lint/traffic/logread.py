"""Which organisation log a file is, and its records, streamed.

Detection is by content (the decompressed head: gzip/zstd are recognised by magic bytes), never
by file name: a SQLite header -> Pi-hole FTL database; ``#separator``/``#fields`` -> Zeek TSV; a
JSON object line -> AdGuard Home (``QH``), Suricata eve (``event_type``) or Zeek JSON (by its
fields), decided again for every line (eve.json and Zeek JSON mix record kinds); the first text
line matching Zscaler's default web feed, PAN-OS syslog CSV, FortiGate key=value or an Umbrella
CSV row fixes the format of a text file; a compressed squid access.log is read by squid's parser.
A file none of these recognise returns None (the caller's own readers -- flow file, HAR, squid
-- then decide). In a file of one format, a line of another is skipped and counted with the
reason, as is every line its parser refuses: one bad line never stops a file.

Example: ``policy-lint traffic /var/log/nss/ pihole-FTL.db eve.json.gz`` reads a directory of
Zscaler logs, a Pi-hole database and a compressed Suricata log into one report.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path

from policy_lint.traffic import dnslogs, weblogs
from policy_lint.traffic.logio import Skips, compression, head, lines
from policy_lint.traffic.record import FlowRecord

SQLITE_MAGIC = b"SQLite format 3\x00"
_SQUID = re.compile(r"^(?:\d+(?:\.\d+)?\s+-?\d+\s|\S+ \S+ \S+ \[)")

LINE_FORMATS: dict[str, tuple[re.Pattern[str], Callable[[str], FlowRecord | None]]] = {
    "zscaler": (weblogs.ZSCALER_LINE, weblogs.zscaler),
    "panos": (weblogs.PANOS_START, weblogs.panos),
    "fortigate": (weblogs.FORTIGATE_LINE, weblogs.fortigate),
    "umbrella": (weblogs.UMBRELLA_LINE, weblogs.umbrella),
}
NAMES = {
    "zscaler": "Zscaler NSS web",
    "panos": "PAN-OS syslog CSV",
    "fortigate": "FortiGate key=value",
    "umbrella": "Cisco Umbrella CSV",
    "jsonl": "JSON-lines (AdGuard Home / Suricata eve / Zeek JSON)",
    "zeek-tsv": "Zeek TSV",
    "pihole-db": "Pi-hole FTL database",
    "squid": "squid access.log",
}


def detect(path: Path) -> str | None:
    """A format name of NAMES, or None when this is none of the organisation logs."""
    data = head(path)
    if data.startswith(SQLITE_MAGIC):
        return "pihole-db"
    for raw in data.splitlines()[:20]:
        line = raw.decode("utf-8", "replace").strip()
        if not line:
            continue
        if line.startswith(("#separator", "#fields", "#path")):
            return "zeek-tsv"
        if line.startswith("{"):
            return "jsonl" if _json_kind(line) else None
        for name, (pattern, _) in LINE_FORMATS.items():
            if pattern.search(line):
                return name
        if line.startswith("#"):
            continue
        if _SQUID.match(line) and compression(path):
            return "squid"
        return None
    return None


def _json_kind(line: str) -> str | None:
    try:
        obj = json.loads(line)
    except ValueError:
        return None
    if not isinstance(obj, dict):
        return None
    if "QH" in obj and "T" in obj:
        return "adguard"
    if "event_type" in obj and "timestamp" in obj:
        return "suricata"
    kind = dnslogs.zeek_kind(obj)
    return f"zeek-{kind}" if kind and "ts" in obj else None


def read(path: Path, fmt: str, skipped: Skips, *, keep_addressed: bool = False) -> Iterator[FlowRecord]:
    if fmt == "pihole-db":
        yield from dnslogs.pihole_db(path, skipped)
    elif fmt == "zeek-tsv":
        yield from _zeek_tsv(path, skipped)
    elif fmt == "jsonl":
        yield from _jsonl(path, skipped)
    elif fmt == "squid":
        yield from _squid(path, skipped)
    else:
        yield from _lines(path, fmt, skipped, keep_addressed)


def _lines(path: Path, fmt: str, skipped: Skips, keep_addressed: bool = False) -> Iterator[FlowRecord]:
    _, parse = LINE_FORMATS[fmt]
    reason = f"line not in {NAMES[fmt]} format"
    for line in lines(path, skipped):
        if line.startswith("#"):
            continue
        try:
            rec = parse(line)
        except (ValueError, KeyError, IndexError, TypeError, csv.Error):
            skipped.skip(reason)
            continue
        if rec is None:
            continue
        if not rec.host and not (keep_addressed and rec.server_ip):
            skipped.skip(f"{NAMES[fmt]} record without a host name")
            continue
        yield rec


def _jsonl(path: Path, skipped: Skips) -> Iterator[FlowRecord]:
    for line in lines(path, skipped):
        try:
            obj = dnslogs.json_object(line)
            kind = _json_kind(line) if not ("QH" in obj or "event_type" in obj) else None
            if "QH" in obj:
                rec = dnslogs.adguard(obj)
            elif "event_type" in obj:
                rec = dnslogs.suricata(obj)
            elif kind:
                rec = dnslogs.zeek(kind.removeprefix("zeek-"), obj)
            else:
                skipped.skip("JSON line of no known log")
                continue
        except (ValueError, KeyError, IndexError, TypeError, AttributeError):
            skipped.skip("JSON log line unreadable")
            continue
        if rec is None:
            continue
        if not rec.host:
            skipped.skip("JSON log record without a host name")
            continue
        yield rec


def _zeek_tsv(path: Path, skipped: Skips) -> Iterator[FlowRecord]:
    fields: list[str] | None = None
    kind: str | None = None
    unset, empty = "-", "(empty)"
    for line in lines(path, skipped):
        if line.startswith("#"):
            key, _, value = line[1:].partition("\t")
            if key == "fields":
                fields = value.split("\t")
                kind = dnslogs.zeek_kind(set(fields))
            elif key == "unset_field":
                unset = value
            elif key == "empty_field":
                empty = value
            continue
        if fields is None or kind is None:
            skipped.skip("Zeek TSV row before a #fields header of a dns/ssl/http log")
            continue
        try:
            rec = dnslogs.zeek(kind, dnslogs.zeek_tsv_row(fields, line, unset, empty))
        except (ValueError, KeyError, TypeError):
            skipped.skip("Zeek TSV row unreadable")
            continue
        if rec is not None and rec.host:
            yield rec


def _squid(path: Path, skipped: Skips) -> Iterator[FlowRecord]:
    from policy_lint.traffic.sources import squid_line

    for line in lines(path, skipped):
        if line.lstrip().startswith("#"):
            continue
        rec = squid_line(line.strip())
        if rec is None:
            skipped.skip("access.log line not in squid native/common format")
            continue
        yield rec

"""Streaming readers: mitmproxy flow files, HAR, squid access.log -> FlowRecord.

Bad input never crashes and never hangs: unreadable records are counted in a SkipCounter and
skipped; a corrupt/truncated flow file stops at the corruption (what came before is kept).
Only a file that cannot be read at all, or a HAR that is not JSON, raises SourceError.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from policy_lint.traffic.record import BODY_PREFIX_LIMIT, FlowRecord

MAX_HAR_BYTES = 512 * 1024 * 1024  # HAR is one JSON document: bound what we load
MAX_LINE = 64 * 1024  # an access.log line longer than this is garbage


class SourceError(Exception):
    """The file cannot be analysed at all (unreadable, HAR not JSON)."""


@dataclass
class SkipCounter:
    count: int = 0
    reasons: dict[str, int] = field(default_factory=dict)

    def skip(self, reason: str, n: int = 1) -> None:
        self.count += n
        if reason in self.reasons or len(self.reasons) < 20:
            self.reasons[reason] = self.reasons.get(reason, 0) + n


def sniff(path: Path) -> str:
    """'mitm', 'har' or 'squid', by content first (suffixes lie), then by suffix."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(512)
    except OSError as exc:
        raise SourceError(f"{path}: cannot read: {exc.strerror or exc}") from None
    stripped = head.lstrip()
    if stripped.startswith(b"{"):
        return "har"
    if re.match(rb"\d+:", head):
        return "mitm"
    if re.match(rb"\d+(\.\d+)?\s+-?\d+\s", stripped) or re.match(rb"\S+ \S+ \S+ \[", stripped):
        return "squid"
    suffix = path.suffix.lower()
    if suffix == ".har":
        return "har"
    if suffix in (".mitm", ".flows", ".flow"):
        return "mitm"
    return "squid"


def read_records(path: Path, skipped: SkipCounter | None = None) -> Iterator[FlowRecord]:
    path = Path(path)
    skipped = skipped if skipped is not None else SkipCounter()
    kind = sniff(path)
    if kind == "har":
        yield from _har(path, skipped)
    elif kind == "mitm":
        yield from _mitm(path, skipped)
    else:
        yield from _squid(path, skipped)


# ------------------------------------------------------------------ mitmproxy flow files

def _mitm(path: Path, skipped: SkipCounter) -> Iterator[FlowRecord]:
    from mitmproxy import http, io  # only here: `check` never pays for importing mitmproxy

    from policy_lint.traffic.mitm import record_from_flow

    with open(path, "rb") as fh:
        stream = io.FlowReader(fh).stream()
        while True:
            try:
                flow = next(stream)
            except StopIteration:
                return
            except Exception as exc:  # FlowReadException, ValueError, ... from a corrupt file
                skipped.skip(f"flow file corrupt or truncated: {type(exc).__name__}")
                return
            if not isinstance(flow, http.HTTPFlow):
                continue  # TCP/UDP/DNS flows carry no HTTP verdict
            try:
                rec = record_from_flow(flow)
            except Exception as exc:
                skipped.skip(f"unreadable flow: {type(exc).__name__}")
                continue
            if rec is None:
                skipped.skip("flow without a usable host")
                continue
            yield rec


# ------------------------------------------------------------------ HAR

def _har(path: Path, skipped: SkipCounter) -> Iterator[FlowRecord]:
    if path.stat().st_size > MAX_HAR_BYTES:
        raise SourceError(f"{path}: HAR larger than {MAX_HAR_BYTES >> 20} MB")
    try:
        with open(path, "rb") as fh:
            doc = json.load(fh)
    except (ValueError, UnicodeError) as exc:
        raise SourceError(f"{path}: not a HAR file (not JSON: {str(exc)[:80]})") from None
    entries = doc.get("log", {}).get("entries") if isinstance(doc, dict) else None
    if not isinstance(entries, list):
        raise SourceError(f"{path}: not a HAR file (no log.entries)")
    for entry in entries:
        try:
            rec = _har_entry(entry)
        except (KeyError, TypeError, ValueError, AttributeError, UnicodeError):
            rec = None
        if rec is None:
            skipped.skip("HAR entry without a usable request")
            continue
        yield rec


def _har_entry(entry: dict) -> FlowRecord | None:
    req = entry["request"]
    parts = urlsplit(req["url"])
    host = (parts.hostname or "").encode("idna").decode("ascii").lower()
    if not host:
        return None
    resp = entry.get("response") or {}
    status = int(resp.get("status") or 0) or None
    error = resp.get("_error") or (None if status else "no response")
    headers = tuple((str(h["name"]).lower(), str(h["value"])[:256])
                    for h in (resp.get("headers") or [])[:64])
    text = (resp.get("content") or {}).get("text") or ""
    started = entry.get("startedDateTime")
    ts = dt.datetime.fromisoformat(started.replace("Z", "+00:00")).timestamp() if started else 0.0
    return FlowRecord(
        timestamp=ts, host=host, port=parts.port or (443 if parts.scheme == "https" else 80),
        scheme=parts.scheme or "http", method=str(req.get("method", "GET")),
        client=None, status=status, reason=str(resp.get("statusText", "")), headers=headers,
        body_prefix=text[:BODY_PREFIX_LIMIT].encode("utf-8", "replace")[:BODY_PREFIX_LIMIT],
        error=error, server_ip=(entry.get("serverIPAddress") or "").strip("[]") or None,
    )


# ------------------------------------------------------------------ squid access.log

_NATIVE = re.compile(r"^(\d+(?:\.\d+)?)\s+-?\d+\s+(\S+)\s+([A-Z_]+)/(\d{1,3})\s+\d+\s+(\S+)\s+(\S+)")
_COMMON = re.compile(r'^(\S+) \S+ \S+ \[([^\]]+)\] "(\S+) (\S+)(?: \S+)?" (\d{1,3}) \S+(?: "[^"]*" "[^"]*")?(?: ([A-Z_]+):)?')


def _squid(path: Path, skipped: SkipCounter) -> Iterator[FlowRecord]:
    with open(path, "rb") as fh:
        for raw in fh:
            if len(raw) > MAX_LINE:
                skipped.skip("access.log line too long")
                continue
            line = raw.decode("utf-8", "replace").strip()
            if not line or line.startswith("#"):
                continue
            rec = _squid_line(line)
            if rec is None:
                skipped.skip("access.log line not in squid native/common format")
                continue
            yield rec


def _squid_line(line: str) -> FlowRecord | None:
    m = _NATIVE.match(line)
    if m:
        ts, client, tag, code, method, url = float(m[1]), m[2], m[3], int(m[4]), m[5], m[6]
    else:
        m = _COMMON.match(line)
        if not m:
            return None
        try:
            ts = dt.datetime.strptime(m[2], "%d/%b/%Y:%H:%M:%S %z").timestamp()
        except ValueError:
            return None
        client, method, url, code, tag = m[1], m[3], m[4], int(m[5]), m[6]
    try:
        host, port, scheme = _target(method, url)
    except ValueError:
        return None
    if not host:
        return None
    status: int | None = code or None
    error = None
    if tag and tag.startswith("TAG_NONE") or code == 0 or (code >= 500 and tag and "DENIED" not in tag):
        # squid could not reach the origin (or gave up): its own status, not the site's answer
        error = f"squid {tag or '-'}/{code}"
        status = None
    return FlowRecord(timestamp=ts, host=host, port=port, scheme=scheme, method=method,
                      client=client, status=status, error=error, proxy_tag=tag or None,
                      via_upstream=True)


def _target(method: str, url: str) -> tuple[str, int, str]:
    if method == "CONNECT" or "://" not in url:
        host, _, port = url.rpartition(":") if ":" in url else (url, "", "443")
        host = host.strip("[]").lower()
        return host.encode("idna").decode("ascii") if host else "", int(port or 443), "https"
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    return host.encode("idna").decode("ascii") if host else "", parts.port or (443 if parts.scheme == "https" else 80), parts.scheme

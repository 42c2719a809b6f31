"""Streaming readers: mitmproxy flow files, HAR, squid access.log -> FlowRecord.

Organisation logs (Zscaler, PAN-OS, FortiGate, Umbrella, Pi-hole, AdGuard Home, Suricata, Zeek,
and gzip/zstd-compressed squid logs) are recognised and read by logread first.

Bad input never crashes and never hangs: unreadable records are counted in a SkipCounter and
skipped; a corrupt/truncated flow file stops at the corruption (what came before is kept), a
well-framed flow whose content cannot be read is skipped alone. Flow files are read by a fast
path (see _mitm) that gives the same records as mitmproxy's own reader.
Only a file that cannot be read at all, or a HAR that is not JSON, raises SourceError.
"""

from __future__ import annotations

import datetime as dt
import json
import mmap
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO
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


def read_records(
    path: Path, skipped: SkipCounter | None = None, *, keep_addressed: bool = False
) -> Iterator[FlowRecord]:
    """`keep_addressed`: firewall records without a host name but with a destination address
    (PAN-OS TRAFFIC, FortiGate traffic) are yielded for attribution by address (`audit`)
    instead of being counted as records without a host name."""
    path = Path(path)
    skipped = skipped if skipped is not None else SkipCounter()
    from policy_lint.traffic.logread import detect, read

    try:
        org_log = detect(path)
    except OSError as exc:
        raise SourceError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except ValueError as exc:  # logio.LogInputError: a .zst without zstandard
        raise SourceError(str(exc)) from None
    if org_log is not None:  # an organisation log (Zscaler, PAN-OS, ..., compressed squid)
        try:
            yield from read(path, org_log, skipped, keep_addressed=keep_addressed)
        except ValueError as exc:
            raise SourceError(f"{path}: {exc}") from None
        return
    kind = sniff(path)
    if kind == "har":
        yield from _har(path, skipped)
    elif kind == "mitm":
        yield from _mitm(path, skipped)
    else:
        yield from _squid(path, skipped)


# ------------------------------------------------------------------ mitmproxy flow files

CORRUPT = "flow file corrupt or truncated: FlowReadException"  # mitmproxy's reader's wording
MAX_LENGTH_DIGITS = 12  # as mitmproxy's tnetstring.load: a longer length prefix is garbage
_COMMA, _SEMI, _HASH, _CARET, _BANG, _TILDE, _RBRACKET, _RBRACE = b",;#^!~]}"


def _mitm(path: Path, skipped: SkipCounter) -> Iterator[FlowRecord]:
    """mitmproxy flow file -> records, by the fast path where the file can be mapped.

    mitmproxy's own reader builds every flow (Flow.from_state) after parsing all of its
    tnetstring; together ~90% of the time, for a record that needs a dozen values. The fast
    path maps the file and walks the tnetstring framing itself, decoding only the values a
    FlowRecord needs: never a body beyond BODY_PREFIX_LIMIT (a 10 MB body is not copied), never
    a header past MAX_HEADERS. Records of another flow format version (older captures need
    compat's migrations) and records the fast path cannot read go through mitmproxy's reader.
    """
    with open(path, "rb") as fh:
        first = fh.peek(1)[:1]  # peek, not read: a pipe cannot seek back
        try:
            # An empty file, a pipe or a file starting with anything but a length prefix (a
            # BOM, a HAR) cannot or should not be mapped: mitmproxy's reader handles those.
            buf = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) if first.isdigit() else None
        except (OSError, ValueError):
            buf = None
        if buf is None:
            yield from mitm_slow(fh, skipped)
            return
        with buf:
            yield from _mitm_mapped(buf, skipped, fh.fileno())


def mitm_slow(fh: BinaryIO, skipped: SkipCounter) -> Iterator[FlowRecord]:
    """mitmproxy's own reader: every flow format version mitmproxy can migrate."""
    from mitmproxy import io  # only here: `check` never pays for importing mitmproxy

    stream = iter(io.FlowReader(fh).stream())
    while True:
        try:
            flow = next(stream)
        except StopIteration:
            return
        except Exception as exc:  # FlowReadException, ValueError, ... from a corrupt file
            skipped.skip(f"flow file corrupt or truncated: {type(exc).__name__}")
            return
        rec = _from_flow(flow, skipped)
        if rec is not None:
            yield rec


def _from_flow(flow: object, skipped: SkipCounter) -> FlowRecord | None:
    from mitmproxy import http

    from policy_lint.traffic.mitm import record_from_flow

    if not isinstance(flow, http.HTTPFlow):
        return None  # TCP/UDP/DNS flows carry no HTTP verdict
    try:
        rec = record_from_flow(flow)
    except Exception as exc:
        skipped.skip(f"unreadable flow: {type(exc).__name__}")
        return None
    if rec is None:
        skipped.skip("flow without a usable host")
    return rec


def _mitm_mapped(buf: mmap.mmap, skipped: SkipCounter, fd: int) -> Iterator[FlowRecord]:
    from mitmproxy.version import FLOW_FORMAT_VERSION

    from policy_lint.traffic.mitm import record_from_state

    pos, end = 0, len(buf)
    while pos < end:
        # Touching mapped bytes beyond the end of a file that another process has truncated
        # kills the process (SIGBUS): check the size before each record. What was read stays.
        if os.fstat(fd).st_size < end:
            skipped.skip("flow file truncated while being read")
            return
        try:
            start, stop, tag = _frame(buf, pos, end)
            if tag != _RBRACE:
                raise ValueError("a flow is a dict")
        except ValueError:
            # The framing is broken: where the next record starts is unknown. What came before
            # is kept (as mitmproxy's reader does).
            skipped.skip(CORRUPT)
            return
        record_at, pos = (pos, stop + 1), stop + 1  # the whole record, length prefix included
        try:
            top = _fields(buf, start, stop)
            if _value(buf, *top[b"version"]) != FLOW_FORMAT_VERSION:
                raise LookupError("another flow format version: migrate it")
            if _value(buf, *top[b"type"]) != "http":
                continue  # TCP/UDP/DNS flows carry no HTTP verdict
            rec = _fast_record(buf, top, record_from_state)
        except (LookupError, ValueError, TypeError, AttributeError, IndexError, UnicodeError):
            # Not a state the fast path knows (older version, a key missing): mitmproxy's way,
            # for this record only; the framing is intact, so the next record is still found.
            rec = slow_record(buf, record_at, skipped)
            if rec is not None:
                yield rec
            continue
        if rec is None:
            skipped.skip("flow without a usable host")
            continue
        yield rec


def slow_record(buf: mmap.mmap, record_at: tuple[int, int], skipped: SkipCounter) -> FlowRecord | None:
    from mitmproxy import flow as mflow
    from mitmproxy.io import compat, tnetstring

    start, stop = record_at
    try:
        state = tnetstring.loads(buf[start:stop])
        flow = mflow.Flow.from_state(compat.migrate_flow(state))  # type: ignore[arg-type]  # not a dict: raises, caught below
    except Exception as exc:
        skipped.skip(f"unreadable flow: {type(exc).__name__}")
        return None
    return _from_flow(flow, skipped)


def _frame(buf: mmap.mmap, pos: int, end: int) -> tuple[int, int, int]:
    """The tnetstring at `pos` (within `end`): (data start, data stop, type tag byte)."""
    colon = buf.find(b":", pos, pos + MAX_LENGTH_DIGITS + 1)
    if colon <= pos:
        raise ValueError("not a tnetstring: missing or invalid length prefix")
    start = colon + 1
    stop = start + int(buf[pos:colon])  # ValueError when not a number, as mitmproxy's parser
    if not start <= stop < end:
        raise ValueError("not a tnetstring: invalid length or truncated")
    return start, stop, buf[stop]


def _fields(
    buf: mmap.mmap, start: int, stop: int, want: frozenset[bytes] | None = None
) -> dict[bytes, tuple[int, int, int]]:
    """A tnetstring dict's keys -> where their values are; no value is decoded. With `want`,
    the walk stops once those keys are found (a connection's state has ~18 keys, we need 2).

    _frame inlined twice: this loop is most of the fast path's time (~160 frames a flow).
    """
    out: dict[bytes, tuple[int, int, int]] = {}
    missing = len(want) if want is not None else -1
    find = buf.find
    span = MAX_LENGTH_DIGITS + 1
    pos = start
    while pos < stop:
        colon = find(b":", pos, pos + span)
        if colon <= pos:
            raise ValueError("not a tnetstring: missing or invalid length prefix")
        ks = colon + 1
        ke = ks + int(buf[pos:colon])
        if not ks <= ke < stop:
            raise ValueError("not a tnetstring: invalid length or truncated")
        pos = ke + 1
        colon = find(b":", pos, pos + span)
        if colon <= pos:
            raise ValueError("not a tnetstring: missing or invalid length prefix")
        vs = colon + 1
        ve = vs + int(buf[pos:colon])
        if not vs <= ve < stop:
            raise ValueError("not a tnetstring: invalid length or truncated")
        key = buf[ks:ke]
        out[key] = (vs, ve, buf[ve])
        pos = ve + 1
        if missing > 0 and key in want:  # type: ignore[operator]
            missing -= 1
            if not missing:
                break
    return out


def _items(buf: mmap.mmap, start: int, stop: int) -> Iterator[tuple[int, int, int]]:
    """A tnetstring list's elements, lazily (a caller may want only the first few)."""
    pos = start
    while pos < stop:
        item = _frame(buf, pos, stop)
        yield item
        pos = item[1] + 1


def _value(buf: mmap.mmap, start: int, stop: int, tag: int) -> Any:
    """One tnetstring value, decoded as mitmproxy's tnetstring.parse does (small values only)."""
    if tag == _COMMA:
        return buf[start:stop]
    if tag == _SEMI:
        return buf[start:stop].decode("utf8")
    if tag == _HASH:
        return int(buf[start:stop])
    if tag == _CARET:
        return float(buf[start:stop])
    if tag == _TILDE:
        if stop != start:
            raise ValueError("not a tnetstring: invalid null literal")
        return None
    if tag == _BANG:
        raw = buf[start:stop]
        if raw not in (b"true", b"false"):
            raise ValueError("not a tnetstring: invalid boolean literal")
        return raw == b"true"
    if tag == _RBRACKET:
        return [_value(buf, *item) for item in _items(buf, start, stop)]
    if tag == _RBRACE:
        return {buf[ks:ke].decode("utf8"): _value(buf, *v) for (ks, ke, _), v in _pairs(buf, start, stop)}
    raise ValueError(f"unknown type tag: {tag}")


def _pairs(
    buf: mmap.mmap, start: int, stop: int
) -> Iterator[tuple[tuple[int, int, int], tuple[int, int, int]]]:
    items = _items(buf, start, stop)
    for key in items:
        yield key, next(items)


_REQUEST_KEYS = (
    b"host",
    b"port",
    b"scheme",
    b"method",
    b"http_version",
    b"authority",
    b"headers",
    b"timestamp_start",
)
_RESPONSE_KEYS = (b"status_code", b"reason")
_CLIENT_KEYS = (b"peername", b"proxy_mode")
_SERVER_KEYS = (b"peername", b"via")
_WANT = {
    b"request": frozenset(_REQUEST_KEYS),
    b"response": frozenset(_RESPONSE_KEYS + (b"headers", b"content")),
    b"client_conn": frozenset(_CLIENT_KEYS),
    b"server_conn": frozenset(_SERVER_KEYS),
}


def _pick(
    buf: mmap.mmap, fields: dict[bytes, tuple[int, int, int]], keys: tuple[bytes, ...]
) -> dict[str, Any]:
    return {k.decode(): _value(buf, *fields[k]) for k in keys}  # KeyError -> the slow path


def _section(
    buf: mmap.mmap, top: dict[bytes, tuple[int, int, int]], key: bytes
) -> dict[bytes, tuple[int, int, int]] | None:
    start, stop, tag = top[key]
    if tag == _TILDE:
        return None
    if tag != _RBRACE:
        raise TypeError(f"{key!r} is not a dict")
    return _fields(buf, start, stop, _WANT[key])


def _fast_record(
    buf: mmap.mmap, top: dict[bytes, tuple[int, int, int]], record_from_state: Any
) -> FlowRecord | None:
    from policy_lint.traffic.mitm import MAX_HEADERS

    request = _section(buf, top, b"request")
    if request is None:
        raise LookupError("no request")
    response = _section(buf, top, b"response")
    resp = None
    headers: list[tuple[Any, Any]] | None = None
    body = b""
    if response is not None:
        resp = _pick(buf, response, _RESPONSE_KEYS)
        hs, he, ht = response[b"headers"]
        if ht != _RBRACKET:
            raise TypeError("response headers are not a list")
        headers = []
        for item in _items(buf, hs, he):  # only the few the record keeps are decoded
            if len(headers) == MAX_HEADERS:
                break
            pair = _value(buf, *item)
            headers.append((pair[0], pair[1]))
        cs, ce, ct = response[b"content"]
        if ct == _COMMA:
            body = buf[cs : min(ce, cs + BODY_PREFIX_LIMIT)]  # the prefix only, never the body
        elif ct != _TILDE:
            raise TypeError("response content is not bytes")
    err_start, err_stop, err_tag = top[b"error"]
    error = _value(buf, err_start, err_stop, err_tag) if err_tag != _TILDE else None
    client = _section(buf, top, b"client_conn")
    server = _section(buf, top, b"server_conn")
    if client is None or server is None:
        raise LookupError("no connection state")
    return record_from_state(
        _pick(buf, request, _REQUEST_KEYS),
        resp,
        error,
        _pick(buf, client, _CLIENT_KEYS),
        _pick(buf, server, _SERVER_KEYS),
        headers or (),
        body,
    )


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
    headers = tuple((str(h["name"]).lower(), str(h["value"])[:256]) for h in (resp.get("headers") or [])[:64])
    text = (resp.get("content") or {}).get("text") or ""
    started = entry.get("startedDateTime")
    ts = dt.datetime.fromisoformat(started.replace("Z", "+00:00")).timestamp() if started else 0.0
    return FlowRecord(
        timestamp=ts,
        host=host,
        port=parts.port or (443 if parts.scheme == "https" else 80),
        scheme=parts.scheme or "http",
        method=str(req.get("method", "GET")),
        client=None,
        status=status,
        reason=str(resp.get("statusText", "")),
        headers=headers,
        body_prefix=text[:BODY_PREFIX_LIMIT].encode("utf-8", "replace")[:BODY_PREFIX_LIMIT],
        error=error,
        server_ip=(entry.get("serverIPAddress") or "").strip("[]") or None,
    )


# ------------------------------------------------------------------ squid access.log

# native: time elapsed remotehost code/status bytes method URL user hierarchy/peer type; the user
# column (squid's %un: authenticated, ident, TLS or external-ACL user; "-" when none) is optional
# here as before. common: remotehost ident user [time] "request" status bytes [squid tag].
_NATIVE = re.compile(
    r"^(\d+(?:\.\d+)?)\s+-?\d+\s+(\S+)\s+([A-Z_]+)/(\d{1,3})\s+\d+\s+(\S+)\s+(\S+)(?:\s+(\S+))?"
)
_COMMON = re.compile(
    r'^(\S+) (\S+) (\S+) \[([^\]]+)\] "(\S+) (\S+)(?: \S+)?" (\d{1,3}) \S+(?: "[^"]*" "[^"]*")?(?: ([A-Z_]+):)?'
)


def _squid(path: Path, skipped: SkipCounter) -> Iterator[FlowRecord]:
    with open(path, "rb") as fh:
        for raw in fh:
            if len(raw) > MAX_LINE:
                skipped.skip("access.log line too long")
                continue
            line = raw.decode("utf-8", "replace").strip()
            if not line or line.startswith("#"):
                continue
            rec = squid_line(line)
            if rec is None:
                skipped.skip("access.log line not in squid native/common format")
                continue
            yield rec


def _squid_line(line: str) -> FlowRecord | None:
    m = _NATIVE.match(line)
    if m:
        ts, client, tag, code, method, url = float(m[1]), m[2], m[3], int(m[4]), m[5], m[6]
        user = m[7]
    else:
        m = _COMMON.match(line)
        if not m:
            return None
        try:
            ts = dt.datetime.strptime(m[4], "%d/%b/%Y:%H:%M:%S %z").timestamp()
        except ValueError:
            return None
        client, method, url, code, tag = m[1], m[5], m[6], int(m[7]), m[8]
        user = m[3] if m[3] != "-" else m[2]
    try:
        host, port, scheme = _target(method, url)
    except ValueError:
        return None
    if not host:
        return None
    status: int | None = code or None
    error = None
    if (tag and tag.startswith("TAG_NONE")) or code == 0 or (code >= 500 and tag and "DENIED" not in tag):
        # squid could not reach the origin (or gave up): its own status, not the site's answer
        error = f"squid {tag or '-'}/{code}"
        status = None
    return FlowRecord(
        timestamp=ts,
        host=host,
        port=port,
        scheme=scheme,
        method=method,
        client=client,
        status=status,
        error=error,
        proxy_tag=tag or None,
        via_upstream=True,
        user=user if user and user != "-" else None,
    )


def squid_line(line: str) -> FlowRecord | None:
    """One squid access.log line (native, common or combined logformat) -> a record, or None."""
    try:
        return _squid_line(line)
    except ValueError:  # an IDNA-invalid host name, an out-of-range port
        return None


def _target(method: str, url: str) -> tuple[str, int, str]:
    if method == "CONNECT" or "://" not in url:
        host, _, port = url.rpartition(":") if ":" in url else (url, "", "443")
        host = host.strip("[]").lower()
        return host.encode("idna").decode("ascii") if host else "", int(port or 443), "https"
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    return (
        host.encode("idna").decode("ascii") if host else "",
        parts.port or (443 if parts.scheme == "https" else 80),
        parts.scheme,
    )

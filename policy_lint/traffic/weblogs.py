"""Web-proxy and firewall logs -> FlowRecord, one line at a time.

Each parser takes one line and returns a FlowRecord, None for a record that carries no request to
judge (another log type, a session without a host name), or raises ValueError for a line that is
not in its format (the caller counts it as skipped with the reason). Times without a zone in the
log are read as UTC (the devices' documented default for their feeds; a device logging local time
shifts the day boundaries, never the verdicts).

Zscaler NSS web log, the documented default feed output format ("NSS Feed Output Format: Web
Logs", help.zscaler.com; fields in this order, tab-separated):
    time login proto eurl action appname appclass reqsize respsize urlclass urlsupercat urlcat
    malwarecat threatname riskscore dlpeng dlpdict location dept cip sip reqmethod respcode ...
  e.g. ``Mon Jun 20 15:29:11 2022<TAB>jdoe@example.com<TAB>HTTPS<TAB>www.facebook.com/<TAB>Blocked...``
  action Blocked -> denied; Allowed with a response code -> that status; Allowed without one
  (CONNECT not inspected) -> allowed. login (field 2) is the record's user. A feed with a
  custom output format is not this layout: its lines are skipped and counted ("not a Zscaler
  default web feed line").

PAN-OS syslog CSV (docs.paloaltonetworks.com, "Syslog Field Descriptions": Threat Log Fields /
URL Filtering, Traffic Log Fields). Common prefix: FUTURE_USE, Receive Time, Serial, Type,
Threat/Content Type (subtype), FUTURE_USE, Generated Time, Source Address, Destination Address,
NAT src, NAT dst, Rule, Source User, ...; Action is field 30; for THREAT/url, URL/Filename is
field 31. A syslog header before the first field is skipped.
  url actions: block-url, block-override, override-lockout, drop, reset-* -> denied;
  alert, allow, continue (the user clicked through), override -> allowed;
  block-continue (a continue page: blocked until the user confirms) -> denied. Other -> unknown.
  TRAFFIC logs (Action field 30, Bytes Received field 33) carry addresses and App-ID but no host
  name: the Destination Address is kept (server_ip) so that `audit` can attribute the session to
  the service whose published prefixes hold it (classify.Classifier(by_address=True)); elsewhere
  they are counted as "no host name". allow with bytes received -> answered, allow without ->
  allowed; deny, drop, drop-icmp, reset-* -> denied; other -> unknown.
  Source User (field 12) is the record's user (``corp\\asmith``).

FortiGate key=value logs (FortiOS Log Message Reference: type="traffic" / type="utm"
subtype="webfilter"): ``date=2024-05-10 time=11:50:48 ... type="utm" subtype="webfilter"
action="blocked" hostname="www.facebook.com" srcip=10.1.2.3``. eventtime (s/ms/us/ns since the
epoch by its magnitude) wins over date+time+tz.
  webfilter: blocked -> denied; passthrough -> allowed; other -> unknown.
  traffic: deny -> denied; accept/close with received bytes -> answered; timeout, server-rst,
  client-rst -> failed (an error, not a filter's verdict); records without hostname keep dstip
  (server_ip) for attribution by address, as PAN-OS TRAFFIC. ``user=`` / ``group=`` (FSSO or
  firewall authentication) are the record's user and group.

Cisco Umbrella CSV exports (docs.umbrella.com, "Log Formats and Versioning"; columns in order):
  DNS:   Timestamp, Most Granular Identity, Identities, InternalIp, ExternalIp, Action,
         QueryType, ResponseCode, Domain, Categories, ...
  Proxy: Timestamp, Identities, Internal IP, External IP, Destination IP, Content Type,
         Verdict, URL, Referer, userAgent, statusCode, ...
  Action/Verdict Blocked -> denied; DNS Allowed -> answered (the resolver answered:
  ResponseCode NOERROR) or failed (NXDOMAIN, SERVFAIL ...); proxy Allowed -> its statusCode.
  The user is the identity whose type names users ("AD Users", "Directory Users"...: DNS Most
  Granular Identity (column 2) with its type (column 11); proxy Identities (column 2) with
  Identity Types (column 22)); a network, site or device identity is no user, and an export
  without the type column gives none (never guessed from the identity's text).

Not modelled (-> skipped with a reason, or inconclusive): custom Zscaler feed formats, PAN-OS
CEF/LEEF forms, FortiGate CEF, Umbrella firewall logs; attribution by destination address
outside `audit`.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from typing import Any
from urllib.parse import urlsplit

from policy_lint.traffic.record import FlowRecord


def host_of(target: str) -> tuple[str, int, str]:
    """(host, port, scheme) of a URL, a host/path or host:port; host "" when there is none."""
    target = target.strip().strip('"')
    if "://" in target:
        parts = urlsplit(target)
        scheme = parts.scheme.lower() or "http"
        host = parts.hostname or ""
        port = parts.port or (443 if scheme == "https" else 80)
    else:
        hostport = target.split("/", 1)[0]
        host, _, port_s = hostport.rpartition(":") if hostport.count(":") == 1 else (hostport, "", "")
        port = int(port_s) if port_s.isdigit() else 443
        scheme = "https" if port == 443 else "http"
    host = host.strip("[]").rstrip(".").lower()
    if host and not host.isascii():
        host = host.encode("idna").decode("ascii")
    return host, port, scheme


def _utc(text: str, fmt: str) -> float:
    return dt.datetime.strptime(text.strip(), fmt).replace(tzinfo=dt.UTC).timestamp()


def _who(text: str) -> str | None:
    """A log's user column: None for the empty and "-"/"none" placeholders."""
    text = text.strip().strip('"')
    return text if text and text.lower() not in ("-", "none", "unknown") else None


def _status(text: str) -> int | None:
    text = text.strip()
    return int(text) if text.isdigit() and 100 <= int(text) <= 599 else None


# ------------------------------------------------------------------ Zscaler NSS (default web feed)

_ZS_TIME = "%a %b %d %H:%M:%S %Y"
ZSCALER_LINE = re.compile(r"^\w{3} \w{3} +\d{1,2} \d\d:\d\d:\d\d \d{4}\t")


_DAYS = frozenset(("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"))
_MONTHS = {
    m: i
    for i, m in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1
    )
}


def _zscaler_time(text: str) -> float:
    """``Mon Jun 20 15:29:11 2022`` (_ZS_TIME) as UTC, by hand: strptime is most of a line's cost."""
    parts = text.split()
    if len(parts) != 5 or parts[0] not in _DAYS or parts[1] not in _MONTHS:
        return _utc(text, _ZS_TIME)  # the same answer, or strptime's own ValueError
    clock = parts[3].split(":")
    numbers = [parts[2], *clock, parts[4]]
    if len(clock) != 3 or not all(n.isascii() and n.isdigit() and len(n) <= 4 for n in numbers):
        return _utc(text, _ZS_TIME)
    hh, mm, ss = clock
    return dt.datetime(
        int(parts[4]), _MONTHS[parts[1]], int(parts[2]), int(hh), int(mm), int(ss), tzinfo=dt.UTC
    ).timestamp()


def zscaler(line: str) -> FlowRecord | None:
    f = line.split("\t")
    if len(f) < 23:
        raise ValueError("not a Zscaler default web feed line")
    ts = _zscaler_time(f[0])
    host, port, scheme = host_of(f[3])
    if f[2].strip().upper() in ("HTTPS", "SSL"):
        scheme = "https"
    action = f[4].strip().lower()
    status = _status(f[22])
    verdict = {"blocked": "denied", "allowed": None if status else "allowed"}.get(action, "unknown")
    return FlowRecord(
        timestamp=ts,
        host=host,
        port=port,
        scheme=scheme,
        method=f[21].strip() or "GET",
        client=f[19].strip() or f[1].strip() or None,
        status=status if action == "allowed" else None,
        proxy_tag=f"Zscaler {f[4].strip()}" + (f" ({f[11].strip()})" if f[11].strip() else ""),
        verdict=verdict,
        via_upstream=True,  # the address a cloud proxy connects to is not the client's DNS answer
        user=_who(f[1]),
    )


# ------------------------------------------------------------------ PAN-OS syslog CSV

PANOS_START = re.compile(r"(?:^|\s)(\d+,\d{4}/\d\d/\d\d \d\d:\d\d:\d\d,[^,]*,(?:THREAT|TRAFFIC|URL),)")
_PAN_DENY = ("block-url", "block-override", "override-lockout", "block-continue", "drop", "deny")
_PAN_ALLOW = ("alert", "allow", "continue", "override")


def panos(line: str) -> FlowRecord | None:
    m = PANOS_START.search(line)
    if not m:
        raise ValueError("not a PAN-OS syslog CSV line")
    f = next(csv.reader([line[m.start(1) :]]))
    if len(f) < 32:
        raise ValueError("PAN-OS line with too few fields")
    kind, subtype, action = f[3], f[4].lower(), f[30].strip().lower()
    ts = _utc(f[6] or f[1], "%Y/%m/%d %H:%M:%S")
    if kind == "TRAFFIC":  # addresses and App-ID only: no host name, the destination kept
        return _panos_traffic(ts, f, action)
    if not (kind == "URL" or subtype == "url"):
        return None  # virus, spyware, ... logs say nothing about reachability
    host, port, scheme = host_of(f[31])
    if action in _PAN_DENY or action.startswith("reset"):
        verdict = "denied"
    elif action in _PAN_ALLOW:
        verdict = "allowed"
    else:
        verdict = "unknown"
    return FlowRecord(
        timestamp=ts,
        host=host,
        port=port,
        scheme=scheme,
        client=f[7] or None,
        server_ip=f[8] or None,
        proxy_tag=f"PAN-OS url {action}" + (f" ({f[33]})" if len(f) > 33 and f[33] else ""),
        verdict=verdict,
        via_upstream=True,  # the destination is the firewall's session peer, not a DNS answer
        user=_who(f[12]),
    )


_PAN_TRAFFIC_DENY = ("deny", "drop", "drop-icmp", "drop icmp")


def _panos_traffic(ts: float, f: list[str], action: str) -> FlowRecord:
    port = int(f[25]) if f[25].isdigit() else 0
    rcvd = f[33] if len(f) > 33 else ""
    if action in _PAN_TRAFFIC_DENY or action.startswith("reset"):
        verdict = "denied"
    elif action == "allow":
        verdict = "answered" if rcvd.isdigit() and int(rcvd) > 0 else "allowed"
    else:
        verdict = "unknown"
    return FlowRecord(
        timestamp=ts,
        host="",
        port=port,
        scheme="https" if port == 443 else "http",
        client=f[7] or None,
        server_ip=f[8] or None,
        proxy_tag=f"PAN-OS traffic {action} ({f[14] or 'no App-ID'})",
        verdict=verdict,
        reason=f"session {action}, {rcvd or 0} bytes received",
        via_upstream=True,
        user=_who(f[12]),
    )


# ------------------------------------------------------------------ FortiGate key=value

_KV = re.compile(r'(\w+)=("(?:[^"\\]|\\.)*"|\S*)')
FORTIGATE_LINE = re.compile(r'(?:^|\s)(?:date=\d{4}-\d\d-\d\d|logid="?\d+"?)\s')


def fortigate(line: str) -> FlowRecord | None:
    kv = {k: v.strip('"') for k, v in _KV.findall(line)}
    if "type" not in kv or ("date" not in kv and "eventtime" not in kv):
        raise ValueError("not a FortiGate key=value line")
    ts = _forti_time(kv)
    kind, sub, action = kv.get("type", ""), kv.get("subtype", ""), kv.get("action", "").lower()
    host = (kv.get("hostname") or "").rstrip(".").lower()  # "" -> counted: no host name
    port = int(kv["dstport"]) if kv.get("dstport", "").isdigit() else 443
    common: dict[str, Any] = {
        "timestamp": ts,
        "host": host,
        "port": port,
        "scheme": "https" if port == 443 else "http",
        "client": kv.get("srcip") or kv.get("user") or None,
        "proxy_tag": f"FortiGate {kind}/{sub} {action}".strip(),
        "via_upstream": True,
        "user": _who(kv.get("user", "")),
        "group": _who(kv.get("group", "")),
    }
    if not host:  # kept for attribution by address (audit); counted as "no host name" elsewhere
        common["server_ip"] = kv.get("dstip") or None
    if kind == "utm" and sub == "webfilter":
        verdict = {"blocked": "denied", "passthrough": "allowed"}.get(action, "unknown")
        return FlowRecord(**common, verdict=verdict)
    if kind != "traffic":
        return None
    if action == "deny":
        return FlowRecord(**common, verdict="denied")
    if action in ("accept", "close"):
        rcvd = kv.get("rcvdbyte", "")
        answered = rcvd.isdigit() and int(rcvd) > 0
        return FlowRecord(
            **common,
            verdict="answered" if answered else "allowed",
            reason=f"session {action}, {rcvd or 0} bytes received",
        )
    if action in ("timeout", "server-rst", "client-rst", "ip-conn"):
        return FlowRecord(**common, error=f"FortiGate session {action}")
    return FlowRecord(**common, verdict="unknown")


def _forti_time(kv: dict[str, str]) -> float:
    et = kv.get("eventtime", "")
    if et.isdigit():
        n = int(et)
        for scale in (1, 1_000, 1_000_000, 1_000_000_000):  # s, ms, us, ns by magnitude
            if n / scale < 10_000_000_000:
                return n / scale
    stamp = f"{kv['date']} {kv.get('time', '00:00:00')}"
    tz = kv.get("tz", "+0000")
    return dt.datetime.strptime(f"{stamp} {tz}", "%Y-%m-%d %H:%M:%S %z").timestamp()


# ------------------------------------------------------------------ Cisco Umbrella CSV

UMBRELLA_LINE = re.compile(r'^"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d",')
_UMB_TIME = "%Y-%m-%d %H:%M:%S"


def umbrella(line: str) -> FlowRecord | None:
    f = next(csv.reader([line]))
    if len(f) < 9:
        raise ValueError("not a Cisco Umbrella CSV line")
    ts = _utc(f[0], _UMB_TIME)
    if f[5] in ("Allowed", "Blocked") and len(f) >= 9 and "/" not in f[8]:
        return _umbrella_dns(ts, f)
    if len(f) >= 11 and f[6].upper() in ("ALLOWED", "BLOCKED"):
        return _umbrella_proxy(ts, f)
    raise ValueError("Umbrella CSV line that is neither a DNS nor a proxy log")


def _umbrella_dns(ts: float, f: list[str]) -> FlowRecord:
    host = f[8].rstrip(".").lower()
    rcode = f[7].strip().upper()
    common: dict[str, Any] = {
        "timestamp": ts,
        "host": host,
        "port": 53,
        "scheme": "dns",
        "client": f[3] or None,
        "proxy_tag": f"Umbrella DNS {f[5]}" + (f" ({f[9]})" if len(f) > 9 and f[9] else ""),
        "user": _umbrella_user(f, 1, 10),
    }
    if f[5] == "Blocked":
        return FlowRecord(**common, verdict="denied")
    if rcode == "NOERROR":
        return FlowRecord(**common, verdict="answered", reason=f"DNS {f[6]} NOERROR")
    return FlowRecord(**common, error=f"dns {rcode or 'no answer'}")


def _umbrella_proxy(ts: float, f: list[str]) -> FlowRecord:
    host, port, scheme = host_of(f[7])
    blocked = f[6].upper() == "BLOCKED"
    status = _status(f[10])
    return FlowRecord(
        timestamp=ts,
        host=host,
        port=port,
        scheme=scheme,
        client=f[2] or None,
        status=None if blocked else status,
        proxy_tag=f"Umbrella proxy {f[6]}",
        verdict="denied" if blocked else (None if status else "allowed"),
        via_upstream=True,
        user=_umbrella_user(f, 1, 21),
    )


def _umbrella_user(f: list[str], identity: int, types: int) -> str | None:
    """The identity at `identity` when the type column at `types` says it is a user (a list of
    identities pairs with a list of types, comma-separated, in the same order)."""
    if len(f) <= types:
        return None
    names = [n.strip() for n in f[identity].split(",")]
    kinds = [k.strip().lower() for k in f[types].split(",")]
    for name, kind in zip(names, kinds, strict=False):
        if "user" in kind and name:
            return name
    return None

"""DNS filters' and network monitors' logs -> FlowRecord.

A DNS record becomes a FlowRecord with scheme "dns", port 53, the query name as host and the
first address answer as server_ip; the classifier then decides as for any record: an answer that
is a sinkhole (0.0.0.0, ::, private, vendor block-page addresses) -> blocked/dns-sinkhole; the
filter's own "blocked" -> blocked/filter-denied; another answer -> reachable/answered (the name
resolved: it proves nothing past DNS); NXDOMAIN/SERVFAIL/... without a filter verdict -> failed.

Pi-hole FTL long-term database (pihole-FTL.db, SQLite; FTL docs "Query database": table/view
``queries`` with id, timestamp, type, status, domain, client, forward, additional_info,
reply_type, ...). Status codes (FTL docs "Query status"): 1 gravity, 4 regex, 5 exact denylist,
6 upstream blocked by IP, 7 upstream NULL, 8 upstream NXDOMAIN with RA, 9/10/11 blocked during
CNAME inspection, 15 blocked while the database was busy, 16 special domain, 18 upstream EDE 15
-> denied; 2 forwarded, 3 cached, 12/13 retried, 14 already forwarded, 17 stale cache -> answered;
0 unknown and any other -> unknown. The database is opened read-only (``mode=ro``), rows are
streamed by a cursor, never fetched all at once.

AdGuard Home querylog.json (JSON lines; AdGuard Home's querylog package: ``T`` time (RFC 3339),
``QH`` host, ``QT`` type, ``IP`` client, ``Result.IsFiltered``, ``Result.Reason``). IsFiltered
true -> denied (blocklist, blocked service, parental, safe browsing); otherwise -> answered
(Reason "rewritten" answers are the filter's, too: a rewrite to a sinkhole address is caught by
the sinkhole rule only when the answer is known, which the log keeps base64-packed: not decoded).

Suricata eve.json (Suricata docs "Eve JSON Format"): event_type dns (``dns.rrname`` or
``dns.queries[0].rrname``, ``dns.rcode``, ``dns.answers[].rdata`` / ``dns.grouped.A``; query
records carry no answer and are ignored), tls (``tls.sni``; a server certificate seen
(subject/fingerprint/ja3s) -> answered, else no evidence -> failed/no-response), http
(``http.hostname``, ``http.status``). Other event types are ignored.

Zeek dns/ssl/http logs (Zeek docs "Log Files": dns.log query, rcode_name, answers; ssl.log
server_name, established; http.log host, status_code), in the TSV form (``#fields`` header) or
the JSON form (one object a line, the log kind told by its fields). ssl established T ->
answered, F -> failed ("TLS not established").

Not modelled: Pi-hole's pihole.log text log (read the database), AdGuard's packed answers,
Suricata ``drop``/``alert`` records (an IPS verdict without the host in most rules), Zeek conn.log.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from policy_lint.traffic.record import FlowRecord
from policy_lint.traffic.weblogs import host_of

_PIHOLE_DENIED = frozenset({1, 4, 5, 6, 7, 8, 9, 10, 11, 15, 16, 18})
_PIHOLE_ANSWERED = frozenset({2, 3, 12, 13, 14, 17})


def _dns(ts: float, host: str, client: str | None, **kw: Any) -> FlowRecord:
    return FlowRecord(timestamp=ts, host=host.rstrip(".").lower(), port=53, scheme="dns", client=client, **kw)


def _iso(text: str) -> float:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


# ------------------------------------------------------------------ Pi-hole FTL database


def pihole_db(path: Path, skipped: Any) -> Iterator[FlowRecord]:
    try:
        con = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise ValueError(f"cannot open as SQLite: {exc}") from None
    try:
        cur = con.execute("SELECT timestamp, status, domain, client FROM queries")
        while True:
            try:
                rows = cur.fetchmany(4096)
            except sqlite3.DatabaseError:
                skipped.skip("Pi-hole database corrupt or truncated")
                return
            if not rows:
                return
            for ts, status, domain, client in rows:
                if not isinstance(domain, str) or not isinstance(ts, int | float):
                    skipped.skip("Pi-hole row without a domain or time")
                    continue
                yield _pihole_row(float(ts), status, domain, client if isinstance(client, str) else None)
    except sqlite3.DatabaseError as exc:
        raise ValueError(f"not a Pi-hole FTL database ({exc})") from None
    finally:
        con.close()


def _pihole_row(ts: float, status: object, domain: str, client: str | None) -> FlowRecord:
    tag = f"Pi-hole status {status}"
    if status in _PIHOLE_DENIED:
        return _dns(ts, domain, client, proxy_tag=tag, verdict="denied")
    if status in _PIHOLE_ANSWERED:
        return _dns(ts, domain, client, proxy_tag=tag, verdict="answered", reason=tag)
    return _dns(ts, domain, client, proxy_tag=tag, verdict="unknown")


# ------------------------------------------------------------------ AdGuard Home querylog


def adguard(obj: dict) -> FlowRecord | None:
    host = obj["QH"]
    if not isinstance(host, str) or not host:
        raise ValueError("AdGuard Home record without QH")
    ts = _iso(obj["T"])
    result = obj.get("Result") or {}
    client = obj.get("IP") if isinstance(obj.get("IP"), str) else None
    if result.get("IsFiltered"):
        return _dns(
            ts,
            host,
            client,
            proxy_tag=f"AdGuard Home filtered (reason {result.get('Reason')})",
            verdict="denied",
        )
    return _dns(
        ts,
        host,
        client,
        proxy_tag="AdGuard Home not filtered",
        verdict="answered",
        reason=f"DNS {obj.get('QT', '')} answered",
    )


# ------------------------------------------------------------------ Suricata eve.json


def suricata(obj: dict) -> FlowRecord | None:
    kind = obj.get("event_type")
    if kind not in ("dns", "tls", "http"):
        return None
    ts = _iso(obj["timestamp"])
    client = obj.get("src_ip")
    if kind == "dns":
        d = obj["dns"]
        if d.get("type") in ("query", "request"):
            return None  # the answer record decides
        name = d.get("rrname") or ((d.get("queries") or [{}])[0].get("rrname"))
        if not isinstance(name, str) or not name:
            raise ValueError("Suricata dns record without rrname")
        answers = [a.get("rdata") for a in d.get("answers") or [] if a.get("rrtype") in ("A", "AAAA")]
        grouped = d.get("grouped") or {}
        answers += [*grouped.get("A", []), *grouped.get("AAAA", [])]
        if d.get("rdata") and d.get("rrtype") in ("A", "AAAA"):
            answers.append(d["rdata"])
        rcode = str(d.get("rcode", "NOERROR")).upper()
        if rcode != "NOERROR":
            return _dns(ts, name, client, error=f"dns {rcode}")
        if not answers:
            return _dns(ts, name, client, error="dns no address answer")
        return _dns(
            ts, name, client, server_ip=str(answers[0]), verdict="answered", reason=f"DNS answer {answers[0]}"
        )
    dport = int(obj.get("dest_port") or 443)
    if kind == "tls":
        t = obj["tls"]
        sni = t.get("sni")
        if not isinstance(sni, str) or not sni:
            return None  # no SNI: no host to judge
        seen = any(t.get(k) for k in ("subject", "fingerprint", "ja3s", "serial"))
        return FlowRecord(
            timestamp=ts,
            host=sni.lower().rstrip("."),
            port=dport,
            scheme="https",
            client=client,
            verdict="answered" if seen else None,
            reason="TLS server certificate/ServerHello seen" if seen else "",
            via_upstream=True,
        )
    h = obj["http"]
    host, _, _ = host_of(str(h.get("hostname") or ""))
    status = h.get("status")
    return FlowRecord(
        timestamp=ts,
        host=host,
        port=dport,
        scheme="http",
        method=str(h.get("http_method") or "GET"),
        client=client,
        status=int(status) if isinstance(status, int) or str(status).isdigit() else None,
        server_ip=obj.get("dest_ip"),
    )


# ------------------------------------------------------------------ Zeek


def zeek_kind(fields: set[str] | dict) -> str | None:
    if "query" in fields and ("rcode_name" in fields or "answers" in fields):
        return "dns"
    if "server_name" in fields and "established" in fields:
        return "ssl"
    if "status_code" in fields and "host" in fields and "method" in fields:
        return "http"
    return None


def _zeek_ts(value: object) -> float:
    if isinstance(value, int | float):
        return float(value)
    text = str(value)
    try:
        return float(text)
    except ValueError:
        return _iso(text)


def zeek(kind: str, rec: dict[str, Any]) -> FlowRecord | None:
    """One Zeek record (TSV row zipped with #fields, or a JSON object); unset fields are None."""
    ts = _zeek_ts(rec["ts"])
    client = rec.get("id.orig_h") or None
    if kind == "dns":
        name = rec.get("query")
        if not name:
            return None
        rcode = str(rec.get("rcode_name") or "").upper()
        answers = rec.get("answers") or []
        if isinstance(answers, str):
            answers = answers.split(",")
        addresses = [a for a in answers if _is_address(a)]
        if rcode and rcode != "NOERROR":
            return _dns(ts, name, client, error=f"dns {rcode}")
        if not addresses:
            return None if not rcode else _dns(ts, name, client, error="dns no address answer")
        return _dns(
            ts, name, client, server_ip=addresses[0], verdict="answered", reason=f"DNS answer {addresses[0]}"
        )
    port = int(rec.get("id.resp_p") or 443)
    if kind == "ssl":
        sni = rec.get("server_name")
        if not sni:
            return None
        est = rec.get("established")
        ok = est is True or str(est) == "T"
        return FlowRecord(
            timestamp=ts,
            host=str(sni).lower().rstrip("."),
            port=port,
            scheme="https",
            client=client,
            verdict="answered" if ok else None,
            reason="TLS established" if ok else "",
            error=None if ok else "TLS not established",
            via_upstream=True,
        )
    host, _, _ = host_of(str(rec.get("host") or ""))
    code = rec.get("status_code")
    return FlowRecord(
        timestamp=ts,
        host=host,
        port=port,
        scheme="http",
        method=str(rec.get("method") or "GET"),
        client=client,
        status=int(code) if code not in (None, "") and str(code).isdigit() else None,
        server_ip=rec.get("id.resp_h") or None,
    )


def _is_address(text: object) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(str(text))
    except ValueError:
        return False
    return True


def zeek_tsv_row(fields: list[str], line: str, unset: str = "-", empty: str = "(empty)") -> dict[str, Any]:
    values = line.split("\t")
    if len(values) != len(fields):
        raise ValueError("Zeek TSV row whose column count differs from #fields")
    return {k: (None if v in (unset, empty) else v) for k, v in zip(fields, values, strict=True)}


def json_object(line: str) -> dict:
    obj = json.loads(line)
    if not isinstance(obj, dict):
        raise ValueError("JSON line that is not an object")
    return obj

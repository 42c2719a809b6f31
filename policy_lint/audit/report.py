"""The audit report: a dict (the JSON form, version 1) and its Markdown and HTML renderings.

    {"version": 1, "config": DIR, "logs": [...], "network_view": bool, "pseudonymised": bool,
     "matching": [how audiences are matched, one sentence each],
     "audiences": [{"name", "kind", "clients": [...], "records": n}],
     "rows": [{"audience", "kind", "service", "status", "why", "accepted" (a policy exception covers it),
               "static": {"verdict", "decided_by", "note"},
               "traffic": {"verdict", "requests", "outcomes": {...}}}],
     "users": [...rows of the same shape, audience = a user's pseudonym...]  (--by-user),
     "summary": {"agree": n, "config-blocks-traffic-passes": n, ...},
     "static_findings": [{"code", "severity", "where", "message"}],
     "traffic": {"window", "skipped", "skipped_reasons", "evidence": {service: [...]}}}

The HTML is one self-contained file (inline CSS, no script, no external resource); its table
rows carry data-audience, data-service and data-status for tools (and the browser test).
"""

from __future__ import annotations

import html
import json

from policy_lint.audit.compare import AGREE, DISAGREEMENTS, STATUSES, compare
from policy_lint.audit.observe import NO_SEGMENT, TrafficSide
from policy_lint.audit.static import EVERYONE, StaticSide, StaticVerdict
from policy_lint.model import Verdict

MATCHING = [
    "Segments and policy audiences are matched to log records by the client address the log names "
    "(inside the segment's clients / the audience's networks); every audience holding the address counts it.",
    "Policy audiences with users match the log's user ignoring case; a name without a domain matches that "
    "account in any domain (CORP\\name, name@domain).",
    "Policy audiences with groups match the log's group (FortiGate group= only).",
    "Without a network view, 'everyone' is every record, and every linted config is taken as a layer every "
    "client passes.",
    "Firewall records without a host name are attributed by destination address to the service whose "
    "published prefixes hold it (evidence: 'matched by destination address').",
]


def _traffic_cell(data: dict | None) -> dict:
    if not data:
        return {"verdict": "inconclusive", "requests": 0, "outcomes": {}}
    return {"verdict": data["verdict"], "requests": data["requests"], "outcomes": dict(data["outcomes"])}


def _row(audience: str, kind: str, sid: str, static: StaticVerdict, traffic: dict) -> dict:
    status, why = compare(static.verdict, traffic["verdict"], traffic["requests"])
    return {
        "audience": audience,
        "kind": kind,
        "service": sid,
        "status": status,
        "why": why,
        "static": {"verdict": static.verdict, "decided_by": static.decided_by, "note": static.note},
        "traffic": traffic,
    }


def _accepted(policy, rows: list[dict]) -> None:
    """Mark the rows an unexpired policy exception covers (the exception's audience, or
    everyone): the comparison stands, the block is one the organisation accepts."""
    import datetime as dt

    today = dt.date.today()
    active = [e for e in policy.exceptions if not e.expired(today)]
    for r in rows:
        r["accepted"] = any(
            e.service == r["service"] and e.audience in (r["audience"], EVERYONE) for e in active
        )


def build(config: str, logs: list[str], static: StaticSide, side: TrafficSide, catalog, policy) -> dict:
    grouped = side.grouped.to_dict()["audiences"]
    overall = side.overall.to_dict()
    rows = []
    audiences = []
    for aud in static.audiences:
        audiences.append(
            {
                "name": aud.name,
                "kind": aud.kind,
                "clients": aud.clients(),
                "records": side.matched.get(aud.name, 0),
            }
        )
        services = grouped.get(aud.name, {}).get("services", {})
        for sid in catalog.services:
            stat = static.verdicts[aud.name].get(sid, StaticVerdict(Verdict.UNKNOWN.value))
            if aud.kind == "segment" and not aud.networks:
                stat = StaticVerdict(
                    stat.verdict,
                    stat.decided_by,
                    (stat.note + "; " if stat.note else "") + "no CIDR: no log record can be matched to it",
                )
            rows.append(_row(aud.name, aud.kind, sid, stat, _traffic_cell(services.get(sid))))
    if NO_SEGMENT in grouped:
        audiences.append(
            {
                "name": NO_SEGMENT,
                "kind": "unmatched",
                "clients": [],
                "records": side.matched.get(NO_SEGMENT, 0),
            }
        )
        note = "no segment of the network view holds these clients"
        for sid, data in grouped[NO_SEGMENT]["services"].items():
            rows.append(
                _row(
                    NO_SEGMENT,
                    "unmatched",
                    sid,
                    StaticVerdict(Verdict.UNKNOWN.value, "", note),
                    _traffic_cell(data),
                )
            )
    users = []
    if side.by_user:
        for shown, data in side.users.report.to_dict()["audiences"].items():
            plain = side.users.names.get(shown)
            per_user = (
                static.for_user(plain, catalog, policy, shown if side.pseudonymise else None)
                if plain is not None and shown != side.users.other
                else {}
            )
            for sid, tdata in data["services"].items():
                stat = per_user.get(
                    sid, StaticVerdict(Verdict.UNKNOWN.value, "", "more users than the report keeps")
                )
                users.append(_row(shown, "user", sid, stat, _traffic_cell(tdata)))
    _accepted(policy, rows + users)
    summary = dict.fromkeys(STATUSES, 0)
    for r in rows + users:
        summary[r["status"]] += 1
    return {
        "version": 1,
        "config": config,
        "logs": logs,
        "policy": policy.name,
        "network_view": static.network_view,
        "pseudonymised": side.pseudonymise,
        "matching": MATCHING,
        "audiences": audiences,
        "rows": rows,
        "users": users,
        "summary": summary,
        "static_findings": [
            {"code": f.code, "severity": f.severity.value, "where": f.span.where(), "message": f.message}
            for f in static.findings
        ],
        "traffic": {
            "window": overall["window"],
            "skipped": overall["skipped"],
            "skipped_reasons": overall["skipped_reasons"],
            "evidence": {sid: s["evidence"] for sid, s in overall["services"].items() if s["evidence"]},
        },
    }


def disagreements(report: dict) -> list[dict]:
    return [r for r in report["rows"] + report["users"] if r["status"] in DISAGREEMENTS]


# ------------------------------------------------------------------ renderings


def render(report: dict, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(report, indent=2, sort_keys=True) + "\n"
    if fmt == "md":
        return _md(report)
    if fmt == "html":
        return _html(report)
    raise ValueError(f"unknown format {fmt!r}")


def _md_cell(value: object) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ").replace("<", "&lt;")


def _static_text(s: dict, accepted: bool = False) -> str:
    extra = "; ".join(x for x in (s["decided_by"], s["note"]) if x)
    return (
        s["verdict"]
        + (f" ({extra})" if extra else "")
        + ("; accepted by a policy exception" if accepted else "")
    )


def _traffic_text(t: dict) -> str:
    o = t["outcomes"]
    counts = ", ".join(f"{n} {k}" for k, n in o.items() if n)
    return f"{t['verdict']} ({t['requests']} requests" + (f": {counts})" if counts else ")")


def _headline(report: dict) -> str:
    s = report["summary"]
    return ", ".join(f"{s[k]} {k}" for k in STATUSES)


def _md(report: dict) -> str:
    out = [
        "# Technology Enablement audit: configs against traffic",
        "",
        f"Config: `{_md_cell(report['config'])}`; logs: {_md_cell(', '.join(report['logs']))}; "
        f"window {_md_cell(report['traffic']['window'].get('start'))} .. {_md_cell(report['traffic']['window'].get('end'))}",
        "",
        f"**{_md_cell(_headline(report))}**",
        "",
    ]
    for title, rows in (("Per audience", report["rows"]), ("Per user", report["users"])):
        if not rows:
            continue
        out += [
            f"## {title}",
            "",
            "| Audience | Service | Status | Config says | Logs show | Why |",
            "|---|---|---|---|---|---|",
        ]
        for r in rows:
            status = r["status"] if r["status"] == AGREE else f"**{r['status']}**"
            out.append(
                f"| {_md_cell(r['audience'])} | {_md_cell(r['service'])} | {_md_cell(status)} | "
                f"{_md_cell(_static_text(r['static'], r.get('accepted', False)))} | {_md_cell(_traffic_text(r['traffic']))} | {_md_cell(r['why'])} |"
            )
        out.append("")
    out += ["## Audiences", ""]
    for a in report["audiences"]:
        out.append(
            f"- {_md_cell(a['name'])} ({_md_cell(a['kind'])}): {_md_cell(', '.join(a['clients']) or '-')}; "
            f"{a['records']} log records matched"
        )
    out += ["", "## How audiences are matched", ""] + [f"- {_md_cell(m)}" for m in report["matching"]]
    if report["static_findings"]:
        out += ["", "## Findings of the static check", ""]
        out += [
            f"- {_md_cell(f['code'])} {_md_cell(f['severity'])} {_md_cell(f['where'])}: {_md_cell(f['message'])}"
            for f in report["static_findings"]
        ]
    if report["traffic"]["evidence"]:
        out += ["", "## Traffic evidence", ""]
        for sid, evs in report["traffic"]["evidence"].items():
            out += [
                f"- {_md_cell(sid)}: {_md_cell(e['outcome'])} `{_md_cell(e['host'])}` {_md_cell(e['how'])}: {_md_cell(e['evidence'])}"
                for e in evs
            ]
    if report["traffic"]["skipped"]:
        out += ["", f"Skipped {report['traffic']['skipped']} unreadable log records."]
    who = "pseudonymised (keyed hash)" if report["pseudonymised"] else "shown as seen (--no-pseudonymise)"
    out += ["", f"Client addresses and users {who}."]
    return "\n".join(out) + "\n"


STATUS_COLOURS = {
    AGREE: "#2e7d32",
    "config-blocks-traffic-passes": "#c62828",
    "traffic-blocked-config-allows": "#6a1b9a",
    "unknown": "#757575",
}
CSS = """body{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:1200px}
h1{font-size:1.5em}table{border-collapse:collapse;width:100%;margin-bottom:1.5em}
td,th{padding:.35em .5em;border-bottom:1px solid #ddd;text-align:left;vertical-align:top}
.s{color:#fff;padding:.1em .5em;border-radius:.7em;font-weight:bold;font-size:.85em;white-space:nowrap}
small,.why{color:#555;font-size:.9em}"""


def _html_rows(rows: list[dict]) -> str:
    e = html.escape
    out = []
    for r in rows:
        colour = STATUS_COLOURS.get(r["status"], "#757575")
        out.append(
            f'<tr data-audience="{e(r["audience"])}" data-service="{e(r["service"])}" data-status="{e(r["status"])}">'
            f"<td>{e(r['audience'])}</td><td><b>{e(r['service'])}</b></td>"
            f'<td><span class=s style="background:{colour}">{e(r["status"])}</span></td>'
            f"<td>{e(_static_text(r['static'], r.get('accepted', False)))}</td><td>{e(_traffic_text(r['traffic']))}</td>"
            f"<td class=why>{e(r['why'])}</td></tr>"
        )
    head = "<tr><th>Audience</th><th>Service</th><th>Status</th><th>Config says</th><th>Logs show</th><th>Why</th></tr>"
    return head + "".join(out)


def _html(report: dict) -> str:
    e = html.escape
    w = report["traffic"]["window"]
    auds = "".join(
        f"<li>{e(a['name'])} ({e(a['kind'])}): {e(', '.join(a['clients']) or '-')}; {int(a['records'])} log records matched</li>"
        for a in report["audiences"]
    )
    findings = "".join(
        f"<li>{e(f['code'])} {e(f['severity'])} {e(f['where'])}: {e(f['message'])}</li>"
        for f in report["static_findings"]
    )
    evidence = "".join(
        f"<li>{e(sid)}: {e(x['outcome'])} <code>{e(x['host'])}</code> {e(x['how'])}: {e(str(x['evidence']))}</li>"
        for sid, evs in report["traffic"]["evidence"].items()
        for x in evs
    )
    users = (
        f"<h2>Per user</h2><table id=users>{_html_rows(report['users'])}</table>" if report["users"] else ""
    )
    who = "pseudonymised (keyed hash)" if report["pseudonymised"] else "shown as seen"
    skipped = int(report["traffic"]["skipped"])
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        "<title>Technology Enablement audit</title>"
        f"<style>{CSS}</style></head><body><h1>Technology Enablement audit: configs against traffic</h1>"
        f"<p>Config <code>{e(report['config'])}</code>, logs {e(', '.join(report['logs']))}, "
        f"window {e(str(w.get('start')))} .. {e(str(w.get('end')))}.</p>"
        f"<p id=summary><b>{e(_headline(report))}</b></p>"
        "<p><small>config-blocks-traffic-passes: the repository blocks it but the logs show it reached "
        "(a bypass, or the deployed config differs). traffic-blocked-config-allows: the logs show it blocked "
        "where the repository lets it through (a layer the repository does not hold). unknown: either side "
        "cannot tell; never counted as agreement.</small></p>"
        f"<h2>Per audience</h2><table id=audit>{_html_rows(report['rows'])}</table>{users}"
        f"<h2>Audiences</h2><ul>{auds}</ul>"
        "<h2>How audiences are matched</h2><ul>"
        + "".join(f"<li>{e(m)}</li>" for m in report["matching"])
        + "</ul>"
        + (f"<h2>Findings of the static check</h2><ul>{findings}</ul>" if findings else "")
        + (f"<h2>Traffic evidence</h2><ul>{evidence}</ul>" if evidence else "")
        + (f"<p><small>Skipped {skipped} unreadable log records.</small></p>" if skipped else "")
        + f"<p><small>Hosts and outcomes only. Client addresses and users {who}.</small></p></body></html>\n"
    )


__all__ = ["EVERYONE", "build", "disagreements", "render"]

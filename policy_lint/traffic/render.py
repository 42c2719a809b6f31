"""Compliance report dict -> text / json / md / html, and atomic writes (the addon rewrites live)."""

from __future__ import annotations

import contextlib
import html
import json
import os
import tempfile
from pathlib import Path

FORMATS = ("text", "json", "md", "html")
SUFFIX_FORMATS = {".json": "json", ".md": "md", ".html": "html"}
COLOURS = {"reachable": "#2e7d32", "blocked": "#c62828", "failed": "#ef6c00", "inconclusive": "#757575"}
VERDICT_COLOURS = {
    "compliant": "#2e7d32",
    "blocked": "#c62828",
    "degraded": "#ef6c00",
    "inconclusive": "#757575",
}


def render(report: dict, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(report, indent=2, sort_keys=True) + "\n"
    if fmt == "text":
        return _text(report)
    if fmt == "md":
        return _md(report)
    if fmt == "html":
        return _html(report)
    raise ValueError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")


def write_report_atomic(path: Path, report: dict, fmt: str | None = None) -> list[Path]:
    """Write via a temp file in the same directory + os.replace: a reader never sees half a file."""
    path = Path(path)
    if fmt is None:
        fmt = SUFFIX_FORMATS.get(path.suffix.lower())
    targets = (
        [(path, fmt)] if fmt else [(path.with_name(path.name + s), f) for s, f in SUFFIX_FORMATS.items()]
    )
    written = []
    for target, f in targets:
        write_text_atomic(target, render(report, f))
        written.append(target)
    return written


def write_text_atomic(target: Path, text: str) -> None:
    """text into target via a temp file in the same directory + os.replace (removed on failure)."""
    fd, tmp = tempfile.mkstemp(prefix="." + target.name + ".", dir=target.parent or ".")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _window(report: dict) -> str:
    w = report.get("window", {})
    return f"{w.get('start') or '-'} .. {w.get('end') or '-'}"


def _text(report: dict) -> str:
    lines = [f"Traffic compliance report, window {_window(report)}"]
    for sid, s in report["services"].items():
        o = s["outcomes"]
        lines.append(
            f"  {sid:10} {s['verdict'].upper():12} {s['requests']} requests "
            f"({o['reachable']} reachable, {o['blocked']} blocked, {o['failed']} failed, "
            f"{o['inconclusive']} inconclusive)"
        )
        for e in s["evidence"]:
            lines.append(f"      {e['outcome']}: {e['host']} ({e['role']}) {e['how']} {e['evidence']}")
        if s.get("accepted"):
            lines.append(f"      accepted by a policy exception for: {', '.join(s['accepted'])}")
    for kind, key in (("audience", "audiences"), ("user", "users")):
        for aud, a in report.get(key, {}).items():
            verdicts = ", ".join(f"{sid} {v['verdict']}" for sid, v in a["services"].items())
            lines.append(f"  {kind} {aud}: {verdicts}")
    for line in (report.get("trend") or {}).get("summary", []):
        lines.append(f"  trend: {line}")
    if report.get("skipped"):
        lines.append(f"  skipped {report['skipped']} unreadable records")
    return "\n".join(lines) + "\n"


def _md_cell(value: object) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ").replace("<", "&lt;")


def _md(report: dict) -> str:
    out = [
        "# Technology Enablement: traffic compliance",
        "",
        f"Window: {_md_cell(_window(report))}",
        "",
        "| Service | Verdict | Requests | Reachable | Blocked | Failed | Inconclusive |",
        "|---|---|---|---|---|---|---|",
    ]
    for sid, s in report["services"].items():
        o = s["outcomes"]
        out.append(
            f"| {_md_cell(sid)} | **{s['verdict']}** | {s['requests']} | {o['reachable']} | "
            f"{o['blocked']} | {o['failed']} | {o['inconclusive']} |"
        )
    out.append("")
    for sid, s in report["services"].items():
        if s["evidence"]:
            out.append(f"## {_md_cell(sid)}: evidence")
            out += [
                f"- {_md_cell(e['outcome'])}: `{_md_cell(e['host'])}` ({_md_cell(e['role'])}), "
                f"{_md_cell(e['how'])}: {_md_cell(e['evidence'])}"
                for e in s["evidence"]
            ]
            out.append("")
    for title, key in (("Audiences", "audiences"), ("Users", "users")):
        if report.get(key):
            out.append(f"## {title}")
            for aud, a in report[key].items():
                verdicts = ", ".join(f"{_md_cell(sid)} {v['verdict']}" for sid, v in a["services"].items())
                out.append(f"- {_md_cell(aud)}: {verdicts}")
            out.append("")
    trend = report.get("trend") or {}
    if trend.get("summary"):
        out.append(f"## Trend (per {_md_cell(trend['period'])})")
        out += [f"- {_md_cell(line)}" for line in trend["summary"]]
        out.append("")
    if report.get("skipped"):
        out.append(f"Skipped {report['skipped']} unreadable records.")
    return "\n".join(out) + "\n"


def _bar(outcomes: dict[str, int]) -> str:
    total = sum(outcomes.values()) or 1
    x = 0.0
    parts = []
    for name, colour in COLOURS.items():
        w = 400 * outcomes.get(name, 0) / total
        if w:
            parts.append(
                f'<rect x="{x:.1f}" y="0" width="{w:.1f}" height="18" fill="{colour}">'
                f"<title>{name}: {outcomes[name]}</title></rect>"
            )
        x += w
    if not parts:
        parts.append('<rect x="0" y="0" width="400" height="18" fill="#e0e0e0"/>')
    return f'<svg width="400" height="18" role="img" aria-label="outcomes">{"".join(parts)}</svg>'


CSS = """body{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:1100px}
h1{font-size:1.5em}table{border-collapse:collapse;width:100%}td,th{padding:.4em .6em;border-bottom:1px solid #ddd;text-align:left}
.v{color:#fff;padding:.15em .6em;border-radius:.8em;font-weight:bold;font-size:.9em}
.legend span{display:inline-block;margin-right:1em}.sw{display:inline-block;width:.9em;height:.9em;margin-right:.3em;vertical-align:middle}
.ev{font-size:.9em;color:#444}small{color:#666}"""


def _html(report: dict) -> str:
    e = html.escape
    rows = []
    for sid, s in report["services"].items():
        colour = VERDICT_COLOURS.get(s["verdict"], "#757575")
        ev = "".join(
            f"<li>{e(x['outcome'])}: <code>{e(x['host'])}</code> ({e(x['role'])}) "
            f"{e(x['how'])}: {e(str(x['evidence']))}</li>"
            for x in s["evidence"]
        )
        rows.append(
            f'<tr><td><b>{e(sid)}</b></td><td><span class=v style="background:{colour}">'
            f"{e(s['verdict'])}</span></td><td>{s['requests']}</td><td>{_bar(s['outcomes'])} <small>"
            + ", ".join(f"{n} {k}" for k, n in s["outcomes"].items() if n)
            + "</small></td></tr>"
            + (f"<tr><td></td><td colspan=3 class=ev><ul>{ev}</ul></td></tr>" if ev else "")
        )
    counts: dict[str, int] = {}
    for sv in report["services"].values():
        counts[sv["verdict"]] = counts.get(sv["verdict"], 0) + 1
    headline = ", ".join(f"{n} {e(v)}" for v, n in sorted(counts.items()))
    intro = (
        f"<p><b>{len(report['services'])} services: {headline}.</b> Compliant = reachable as "
        "required; degraded = the site loads but a supporting host (CDN, API, login) is blocked; "
        "inconclusive = not enough traffic, or the audit path itself failed.</p>"
    )
    legend = "".join(f'<span><i class=sw style="background:{c}"></i>{n}</span>' for n, c in COLOURS.items())
    auds, users = (
        "".join(
            f"<tr><td>{e(aud)}</td><td>"
            + ", ".join(f"{e(sid)}: {e(v['verdict'])}" for sid, v in a["services"].items())
            + "</td></tr>"
            for aud, a in report.get(key, {}).items()
        )
        for key in ("audiences", "users")
    )
    skipped = (
        f"<p><small>Skipped {int(report.get('skipped', 0))} unreadable records.</small></p>"
        if report.get("skipped")
        else ""
    )
    return (
        f"<!doctype html><html lang=en><head><meta charset=utf-8><title>Traffic compliance</title>"
        f"<style>{CSS}</style></head><body><h1>Technology Enablement: traffic compliance</h1>"
        f"{intro}<p>Observed window: {e(_window(report))}</p><p class=legend>{legend}</p>"
        f"<table><tr><th>Service</th><th>Verdict</th><th>Requests</th><th>Outcomes</th></tr>{''.join(rows)}</table>"
        + (f"<h2>Audiences</h2><table>{auds}</table>" if auds else "")
        + (f"<h2>Users</h2><table>{users}</table>" if users else "")
        + f"{skipped}<p><small>Hosts and outcomes only: no paths, queries, cookies or bodies. "
        f"Client addresses{' and users' if users else ''} "
        f"{'pseudonymised' if report.get('pseudonymised', True) else 'shown as seen'}."
        f"</small></p></body></html>\n"
    )

"""What a change does: per file and service, the verdict before and after, and the findings the
change introduces or resolves (matched by what they say about which rule, not by line number,
so that a line moved by an edit above it is no change)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace

from policy_lint.engine import FileReport, Report
from policy_lint.model import Finding, ServiceResult, Severity, Span, Verdict

CLEAN = {Verdict.UNAFFECTED.value, Verdict.ALLOWED.value}
# How much of a service a verdict takes away: '+' marks a change up this scale, '-' one down.
WEIGHT = {
    None: 0,
    Verdict.UNAFFECTED.value: 0,
    Verdict.ALLOWED.value: 0,
    Verdict.UNKNOWN.value: 1,
    Verdict.THROTTLED.value: 2,
    Verdict.DEGRADED.value: 2,
    Verdict.BLOCKED_PARTIAL.value: 3,
    Verdict.BLOCKED.value: 4,
}


@dataclass(frozen=True)
class Change:
    kind: str  # verdict | introduced | resolved
    path: str
    service: str | None
    audience: str
    before: str | None  # a verdict (None: no such file), or for findings "" / the code
    after: str | None
    rule: Span | None  # on the new side; the removed rule on the old side
    code: str | None
    message: str
    marker: str  # "+" takes more away, "-" gives back, "~" changes what is taken
    segment: str | None = None  # the network view's segment (None: a file's own verdict)


@dataclass
class Comparison:
    base: str
    head: str
    changes: list[Change] = field(default_factory=list)
    introduced: list[Finding] = field(default_factory=list)
    resolved: list[Finding] = field(default_factory=list)
    new_errors: list[str] = field(default_factory=list)
    old_errors: list[str] = field(default_factory=list)
    files: int = 0
    reused: int = 0

    def fails(self) -> bool:
        """The change introduces a finding of error or warning severity the policy does not accept."""
        return any(f.severity in (Severity.ERROR, Severity.WARNING) for f in self.introduced)


def _key(f: Finding) -> tuple:
    return (f.span.path, f.code, f.service, f.span.text.strip(), f.audiences)


def _marker(before: str | None, after: str | None) -> str:
    if WEIGHT[after] > WEIGHT[before]:
        return "+"
    if WEIGHT[after] < WEIGHT[before]:
        return "-"
    return "~"


def _renamed(report: Report, moved: dict[str, str]) -> Report:
    """The base report with renamed files under their new names (findings and their traces too)."""
    if not moved:
        return report

    def span(s: Span) -> Span:
        return replace(s, path=moved.get(s.path, s.path))

    def finding(f: Finding) -> Finding:
        return replace(f, span=span(f.span), trace=tuple(span(t) for t in f.trace))

    files = [
        replace(
            fr,
            path=moved.get(fr.path, fr.path),
            services={sid: replace(r, rules=[span(s) for s in r.rules]) for sid, r in fr.services.items()},
        )
        for fr in report.files
    ]
    return replace(report, files=files, findings=[finding(f) for f in report.findings])


def compare(before: Report, after: Report, moved: dict[str, str], base: str, head: str) -> Comparison:
    before = _renamed(before, moved)
    result = Comparison(base, head, files=len(after.files))
    old = Counter(_key(f) for f in before.findings)
    new = Counter(_key(f) for f in after.findings)
    seen: Counter = Counter()
    for f in after.findings:
        seen[_key(f)] += 1
        if seen[_key(f)] > old[_key(f)]:
            result.introduced.append(f)
    seen.clear()
    for f in before.findings:
        seen[_key(f)] += 1
        if seen[_key(f)] > new[_key(f)]:
            result.resolved.append(f)
    result.changes = _verdict_changes(before.files, after.files, result)
    result.changes += _network_changes(before, after)
    result.changes += [_finding_change(f, "introduced") for f in result.introduced]
    result.changes += [_finding_change(f, "resolved") for f in result.resolved]
    old_errors = set(before.errors)
    result.new_errors = [e for e in after.errors if e not in old_errors]
    result.old_errors = [e for e in after.errors if e in old_errors]
    return result


def _verdict_changes(before: list[FileReport], after: list[FileReport], result: Comparison) -> list[Change]:
    old = {fr.path: fr for fr in before}
    new = {fr.path: fr for fr in after}
    changes: list[Change] = []
    for path in sorted(old.keys() | new.keys()):
        was, now = old.get(path), new.get(path)
        for service in sorted((was.services if was else {}).keys() | (now.services if now else {}).keys()):
            b = was.services.get(service) if was else None
            a = now.services.get(service) if now else None
            bv, av = (b.verdict.value if b else None), (a.verdict.value if a else None)
            if bv == av and (b.audiences if b else []) == (a.audiences if a else []):
                continue
            if bv in CLEAN | {None} and av in CLEAN | {None}:
                continue  # a file appearing or going that never touched the service
            changes.append(_verdict_change(path, service, b, a, result))
    return changes


def _verdict_change(
    path: str, service: str, b: ServiceResult | None, a: ServiceResult | None, result: Comparison
) -> Change:
    bv, av = (b.verdict.value if b else None), (a.verdict.value if a else None)
    takes = a if a and av not in CLEAN else b
    rule = takes.rules[0] if takes and takes.rules else None
    matching = [
        f
        for f in (result.introduced if takes is a else result.resolved)
        if f.span.path == path and f.service == service and f.code.startswith("TE1")
    ]
    audiences = (a.audiences if a and a.audiences else None) or (b.audiences if b else []) or []
    return Change(
        kind="verdict",
        path=path,
        service=service,
        audience=", ".join(audiences) or "everyone",
        before=bv,
        after=av,
        rule=rule,
        code=matching[0].code if matching else None,
        message=f"{service}: {bv or '(no file)'} -> {av or '(no file)'}",
        marker=_marker(bv, av),
    )


def _finding_change(f: Finding, kind: str) -> Change:
    return Change(
        kind=kind,
        path=f.span.path,
        service=f.service,
        audience=", ".join(f.audiences),
        before="" if kind == "introduced" else f.code,
        after=f.code if kind == "introduced" else "",
        rule=f.span,
        code=f.code,
        message=f.message,
        marker="+" if kind == "introduced" else "-",
    )


def _network_changes(before: Report, after: Report) -> list[Change]:
    """Per segment and service, a network verdict that differs between the sides."""

    def verdicts(report: Report) -> dict[tuple[str, str], tuple[str, Span | None, str]]:
        out: dict[tuple[str, str], tuple[str, Span | None, str]] = {}
        if report.network is None:
            return out
        for seg in report.network.segments:
            where = seg.segment.span.path
            for sid, o in seg.services.items():
                out[(seg.segment.name, sid)] = (o.verdict.value, o.decided_by, where)
        return out

    old, new = verdicts(before), verdicts(after)
    changes = []
    for name, sid in sorted(old.keys() | new.keys()):
        bv, brule, bwhere = old.get((name, sid), (None, None, ""))
        av, arule, awhere = new.get((name, sid), (None, None, ""))
        if bv == av or (bv in CLEAN | {None} and av in CLEAN | {None}):
            continue
        rule = arule if av not in CLEAN | {None} else brule
        changes.append(
            Change(
                kind="verdict",
                path=rule.path if rule else (awhere or bwhere),
                service=sid,
                audience=name,
                before=bv,
                after=av,
                rule=rule,
                code="TE110" if av not in CLEAN | {None} else None,
                message=f"{sid} for segment {name}: {bv or '(no segment)'} -> {av or '(no segment)'}",
                marker=_marker(bv, av),
                segment=name,
            )
        )
    return changes

"""Paths + policy + catalog -> verdicts and findings.

For each config: parse it with its dialect, evaluate every probe (the services' and the neutral
control's) for every audience the device tells apart, then decide per service:

- a probe only counts against a service when the control probe over the same scheme gets
  through for that audience (an audience denied the control has no web access at all);
- primary probes all denied -> `blocked` (for that audience), some -> partial; supporting
  probes denied -> `degraded`; delay pools -> `throttled`; undecidable -> `unknown`;
  allowed by a rule that names the service -> `allowed`;
- across audiences: blocked for all of them -> `blocked`, for some -> `blocked-partial`.
"""

from __future__ import annotations

import datetime as dt
import os
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from policy_lint import dialects
from policy_lint.catalog import HYGIENE_ROLES, PRIMARY, Catalog
from policy_lint.dialects.semantics.base import ParseContext, Ruleset
from policy_lint.inputs import InputError, Resolver, find_root
from policy_lint.model import (
    Audience,
    Decision,
    Finding,
    Outcome,
    Probe,
    ServiceResult,
    Severity,
    Span,
    Verdict,
)
from policy_lint.policy import Policy
from policy_lint.rules import CODES

SKIP_DIRS = {".git", ".hg", ".svn", ".venv", "venv", "node_modules", "__pycache__", ".tox"}
HEAD_BYTES = 16384


@dataclass
class FileReport:
    path: str
    dialect: str
    services: dict[str, ServiceResult]
    findings: list[Finding]
    included: list[str] = field(default_factory=list)


@dataclass
class Report:
    files: list[FileReport] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    accepted: list[Finding] = field(default_factory=list)  # covered by a policy exception
    suppressed: list[Finding] = field(default_factory=list)  # by a comment or the baseline
    errors: list[str] = field(default_factory=list)


@dataclass
class Options:
    root: Path | None = None
    dialect: str | None = None
    today: dt.date = field(default_factory=dt.date.today)
    log: Any = None  # a structlog logger for diagnostics (-v), or None
    progress: Callable[[list], Iterable] | None = None  # wraps the file list (a progress bar)
    skip_undetected: bool = False  # named files of no known dialect are skipped, not errors


# ------------------------------------------------------------------ per-audience assessment


@dataclass
class _Status:
    audience: Audience
    status: str  # blocked | partial | unknown | throttled | degraded | allowed | ok
    against: list[tuple[Probe, Decision]]  # the decisions that make the status
    hygiene: list[tuple[Probe, Decision]]
    spared: list[Probe] = field(default_factory=list)  # primary probes that get through


_ORDER = ["blocked", "partial", "unknown", "throttled", "degraded", "allowed", "ok"]


def _assess_audience(
    service_probes: list[Probe],
    decisions: dict[Probe, Decision],
    control: dict[str, Decision],
    audience: Audience,
) -> _Status | None:
    usable = {s for s, d in control.items() if d.outcome != Outcome.DENY}
    primary = [p for p in service_probes if p.role == PRIMARY]
    if not usable:
        allowed = [
            (p, decisions[p])
            for p in primary
            if decisions[p].outcome == Outcome.ALLOW and decisions[p].specific
        ]
        if not allowed:
            return None
        # An allow-list names this service although everything else is denied: a supporting
        # host it leaves out (static.licdn.com) is denied with everything else.
        for status, outcome in (("degraded", Outcome.DENY), ("unknown", Outcome.UNKNOWN)):
            hits = [
                (p, decisions[p])
                for p in service_probes
                if p.role != PRIMARY and p.role not in HYGIENE_ROLES and decisions[p].outcome == outcome
            ]
            if hits:
                return _Status(audience, status, hits, [])
        return _Status(audience, "allowed", allowed, [])
    considered = [p for p in service_probes if p.scheme in usable]
    prim = [p for p in considered if p.role == PRIMARY]
    supporting = [p for p in considered if p.role != PRIMARY and p.role not in HYGIENE_ROLES]
    hygiene = [
        (p, decisions[p])
        for p in considered
        if p.role in HYGIENE_ROLES and decisions[p].outcome == Outcome.DENY
    ]

    def with_outcome(probes: list[Probe], outcome: Outcome) -> list[tuple[Probe, Decision]]:
        out = [(p, decisions[p]) for p in probes if decisions[p].outcome == outcome]
        if outcome == Outcome.THROTTLE:  # throttling everyone's traffic is not service-specific
            out = [(p, d) for p, d in out if control[p.scheme].outcome != Outcome.THROTTLE]
        return out

    denied = with_outcome(prim, Outcome.DENY)
    if denied:
        # Browsers reach these sites over HTTPS (plain HTTP only redirects there), so a service
        # whose every HTTPS entry point is denied is blocked, whatever happens on port 80.
        main = [p for p in prim if p.scheme == "https"] or prim
        blocked = all(decisions[p].outcome == Outcome.DENY and not decisions[p].partial for p in main)
        spared = [p for p in main if decisions[p].outcome == Outcome.ALLOW]
        return _Status(audience, "blocked" if blocked else "partial", denied, hygiene, spared)
    for status, probes, outcome in (
        ("unknown", prim, Outcome.UNKNOWN),
        ("throttled", prim, Outcome.THROTTLE),
        ("degraded", supporting, Outcome.DENY),
        ("unknown", supporting, Outcome.UNKNOWN),
        ("throttled", supporting, Outcome.THROTTLE),
    ):
        hits = with_outcome(probes, outcome)
        if hits:
            return _Status(audience, status, hits, hygiene)
    allowed = [(p, decisions[p]) for p in prim if decisions[p].specific]
    return _Status(audience, "allowed" if allowed else "ok", allowed, hygiene)


@dataclass
class _ServiceAssessment:
    verdict: Verdict
    statuses: list[_Status]
    all_web_denied: bool


def _verdict(statuses: list[_Status]) -> Verdict:
    kinds = {s.status for s in statuses}
    if not statuses:
        return Verdict.BLOCKED  # nobody has web access at all
    if kinds == {"blocked"}:
        return Verdict.BLOCKED
    if kinds & {"blocked", "partial"}:
        return Verdict.BLOCKED_PARTIAL
    for kind, verdict in (
        ("unknown", Verdict.UNKNOWN),
        ("throttled", Verdict.THROTTLED),
        ("degraded", Verdict.DEGRADED),
        ("allowed", Verdict.ALLOWED),
    ):
        if kind in kinds:
            return verdict
    return Verdict.UNAFFECTED


def assess(
    ruleset: Ruleset, catalog: Catalog
) -> tuple[dict[str, _ServiceAssessment], list[tuple[Audience, dict[str, Decision]]]]:
    audiences = list(ruleset.audiences()) or [Audience(key=())]
    controls = catalog.control_probes()
    per_audience_control: list[tuple[Audience, dict[str, Decision]]] = []
    service_probes = {sid: svc.probes() for sid, svc in catalog.services.items()}
    statuses: dict[str, list[_Status]] = defaultdict(list)
    for audience in audiences:
        control = {p.scheme: ruleset.evaluate(p, audience) for p in controls}
        per_audience_control.append((audience, control))
        for sid, probes in service_probes.items():
            decisions = {p: ruleset.evaluate(p, audience) for p in probes}
            st = _assess_audience(probes, decisions, control, audience)
            if st is not None:
                statuses[sid].append(st)
    all_denied = all(all(d.outcome == Outcome.DENY for d in c.values()) for _, c in per_audience_control)
    # Everything is denied but some sites are allowed (an allow-list): a service not on it is
    # blocked by the rule that denies it, not by "all web access is denied".
    allow_list = all_denied and any(statuses.get(sid) for sid in catalog.services)
    out = {}
    for sid in catalog.services:
        sts = statuses.get(sid, [])
        if allow_list and not sts:
            primary = [p for p in service_probes[sid] if p.role == PRIMARY]
            for audience in audiences:
                decided = [(p, ruleset.evaluate(p, audience)) for p in primary]
                unknown = [(p, d) for p, d in decided if d.outcome == Outcome.UNKNOWN]
                denied = [(p, d) for p, d in decided if d.outcome == Outcome.DENY]
                sts.append(
                    _Status(audience, "unknown", unknown, [])
                    if unknown
                    else _Status(audience, "blocked", denied, [])
                )
        out[sid] = _ServiceAssessment(_verdict(sts), sts, all_denied and not sts)
    return out, per_audience_control


# ------------------------------------------------------------------ findings


def _quote(span: Span | None) -> str:
    return f"'{span.text}'" if span and span.text else "the device's default"


def _hosts(pairs: list[tuple[Probe, Decision]]) -> list[str]:
    return sorted({p.host + (p.path if p.path != "/" else "") for p, _ in pairs})


def _some(items: list[str], most: int = 4) -> str:
    return ", ".join(items[:most]) + (f" and {len(items) - most} more" if len(items) > most else "")


def _findings_for_service(
    sid: str, name: str, a: _ServiceAssessment, path: str, n_scoped: int, severity: Severity
) -> list[Finding]:
    out: list[Finding] = []
    by_rule: dict[tuple[str, Span | None], list[_Status]] = defaultdict(list)
    for st in a.statuses:
        if st.status in ("ok", "allowed"):
            continue
        for _p, d in st.against:
            key = (st.status, d.rule)
            if st not in by_rule[key]:
                by_rule[key].append(st)
    for (status, rule), sts in sorted(by_rule.items(), key=lambda kv: (kv[0][1] or Span(path, 0), kv[0][0])):
        pairs = [(p, d) for st in sts for p, d in st.against if d.rule == rule]
        trace = tuple(dict.fromkeys(s for _p, d in pairs for s in d.trace))
        span = rule or (trace[-1] if trace else Span(path, 1, 1))
        scopes = sorted({d.scope for _p, d in pairs})
        if scopes == [""] and len({s.audience for s in sts}) >= n_scoped:
            who = "everyone"
        elif scopes == [""]:
            who = "everyone reaching this rule"
        else:
            who = " or ".join(s or "anyone" for s in scopes)
        hosts = _hosts(pairs)
        spared = sorted({p.host for st in sts for p in st.spared} - set(hosts))
        how = sorted({d.how for _p, d in pairs if d.how and d.how != "403"})
        how_text = f" ({', '.join(how)})" if how else ""
        if status in ("blocked", "partial"):
            code = "TE101" if a.verdict == Verdict.BLOCKED else "TE102"
            # A deny that covers only some of the service's addresses says how much it covers.
            coverage = sorted({d.note for _p, d in pairs if d.partial and d.note})
            if status == "blocked" or coverage:
                scope = ""
            elif all(p.scheme == "http" for p, _d in pairs):
                scope = " over plain HTTP only"
            else:
                scope = f" on {_some(hosts)} only" + (f" ({_some(spared)} still reachable)" if spared else "")
            msg = f"{name} blocked for {who}{scope} by {_quote(rule)}{how_text}"
            if coverage:
                msg = f"{name} partly blocked for {who} by {_quote(rule)}{how_text}: {coverage[0]}"
        elif status == "degraded":
            code = "TE103"
            msg = f"{name} degraded for {who}: {_some(hosts)} blocked by {_quote(rule)}{how_text}"
        elif status == "throttled":
            code = "TE104"
            msg = f"{name} throttled for {who} by {_quote(rule)}"
        else:
            code = "TE106"
            notes = sorted({d.note for _p, d in pairs if d.note})
            msg = f"{name}: cannot decide for {who} at {_quote(rule)}" + (f": {notes[0]}" if notes else "")
        level = severity if code in ("TE101", "TE102") else CODES[code].severity
        out.append(
            Finding(code, level, span, msg, sid, tuple(sorted({s.audience.describe() for s in sts})), trace)
        )
    if a.verdict in (Verdict.UNAFFECTED, Verdict.ALLOWED):
        hyg = [(p, d) for st in a.statuses for p, d in st.hygiene]
        for rule in sorted({d.rule for _p, d in hyg if d.rule}):
            hosts = _hosts([(p, d) for p, d in hyg if d.rule == rule])
            out.append(
                Finding(
                    "TE201",
                    Severity.INFO,
                    rule,
                    f"only {name}'s ad/analytics/widget endpoints blocked ({', '.join(hosts[:3])}); the site works",
                    sid,
                    (),
                    (rule,),
                )
            )
    return out


def _summary(a: _ServiceAssessment) -> list[str]:
    return sorted({s.audience.describe() for s in a.statuses if s.status not in ("ok",)})


def lint_ruleset(ruleset: Ruleset, catalog: Catalog, policy: Policy) -> FileReport:
    assessments, controls = assess(ruleset, catalog)
    findings: list[Finding] = []
    services: dict[str, ServiceResult] = {}
    n_scoped = len({s.audience for a in assessments.values() for s in a.statuses})
    any_all_denied = False
    for sid, a in assessments.items():
        rules = sorted({d.rule for st in a.statuses for _p, d in st.against if d.rule})
        services[sid] = ServiceResult(a.verdict, _summary(a), rules)
        if a.all_web_denied:
            any_all_denied = True
            continue
        if policy.required(sid):
            findings += _findings_for_service(
                sid, catalog.services[sid].name, a, ruleset.path, n_scoped, policy.severities[sid]
            )
    if any_all_denied:
        decisions = [d for _a, c in controls for d in c.values()]
        rule = next((d.rule for d in decisions if d.rule), None) or Span(ruleset.path, 1, 1)
        names = [
            catalog.services[s].name
            for s, a in assessments.items()
            if a.all_web_denied and policy.required(s)
        ]
        if names:
            findings.append(
                Finding(
                    "TE105",
                    CODES["TE105"].severity,
                    rule,
                    f"all web access is denied to everyone by {_quote(rule)}: "
                    f"{', '.join(names)} are blocked with everything else",
                    None,
                    ("everyone",),
                    tuple(dict.fromkeys(s for d in decisions for s in d.trace)),
                )
            )
        for sid in assessments:
            if assessments[sid].all_web_denied:
                services[sid].rules = [rule]
                services[sid].audiences = ["everyone"]
    for sid, svc in catalog.services.items():
        if not policy.required(sid):
            continue
        inert: dict[Span, list[str]] = defaultdict(list)
        for probe in svc.probes():
            if probe.role in HYGIENE_ROLES:
                continue
            for span in ruleset.inert_mentions(probe):
                if probe.host not in inert[span]:
                    inert[span].append(probe.host)
        for span, hosts in inert.items():
            findings.append(
                Finding(
                    "TE202",
                    CODES["TE202"].severity,
                    span,
                    f"unused definition names {svc.name} ({_some(hosts, 3)}): no rule uses it",
                    sid,
                    (),
                    (span,),
                )
            )
    for problem in ruleset.problems:
        findings.append(Finding(problem.code, CODES[problem.code].severity, problem.span, problem.message))
    return FileReport(
        ruleset.path, ruleset.dialect, services, _dedupe(findings), list(getattr(ruleset, "included", []))
    )


def _dedupe(findings: list[Finding]) -> list[Finding]:
    return list(dict.fromkeys(findings))


# ------------------------------------------------------------------ policy exceptions


def apply_policy(
    report: Report, policy: Policy, file_audiences: dict[str, list[Audience]], today: dt.date
) -> None:
    """Move findings covered by an active exception to `accepted`; report expired ones."""
    expired = [e for e in policy.exceptions if e.expired(today)]
    active = [e for e in policy.exceptions if not e.expired(today)]
    for e in expired:
        assert e.expires is not None  # expired() says so
        report.findings.append(
            Finding(
                "TE203",
                CODES["TE203"].severity,
                e.span,
                f"exception for {e.service} ({e.audience}) expired on {e.expires.isoformat()}: {e.reason}",
                e.service,
            )
        )
    kept = []
    for f in report.findings:
        if f.code.startswith("TE1") and f.service:
            covering = [policy.audiences[e.audience] for e in active if e.service == f.service]
            auds = [a for a in file_audiences.get(f.span.path, []) if a.describe() in f.audiences] or [
                a for aud_list in file_audiences.values() for a in aud_list if a.describe() in f.audiences
            ]
            if (
                covering
                and f.audiences
                and (
                    any(c.name == "everyone" for c in covering)
                    or (auds and all(any(c.covers(a) for c in covering) for a in auds))
                )
            ):
                report.accepted.append(f)
                continue
        kept.append(f)
    report.findings = kept


# ------------------------------------------------------------------ paths


def read_head(path: Path) -> str:
    try:
        with open(path, "rb") as fh:
            return fh.read(HEAD_BYTES).decode("utf-8", "replace")
    except OSError:
        return ""


def discover(paths: list[Path]) -> tuple[list[tuple[Path, bool]], list[str]]:
    """Files to lint: (path, named explicitly). Directories are walked, skipping VCS and venvs."""
    files: list[tuple[Path, bool]] = []
    errors: list[str] = []
    for p in paths:
        if p.is_dir():
            for root, dirs, names in os.walk(p):
                dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and not d.startswith("."))
                for n in sorted(names):
                    files.append((Path(root) / n, False))
        elif p.exists():
            files.append((p, True))
        else:
            errors.append(f"{p}: no such file or directory")
    return files, errors


def lint_paths(paths: list[Path], catalog: Catalog, policy: Policy, options: Options) -> Report:
    report = Report()
    files, report.errors = discover(paths)
    forced: ModuleType | None = dialects.DIALECTS.get(options.dialect) if options.dialect else None
    file_audiences: dict[str, list[Audience]] = {}
    for path, explicit in options.progress(files) if options.progress else files:
        module = forced or dialects.detect(path, read_head(path))
        if module is None:
            if options.log:
                options.log.debug("skipped: no dialect recognised", path=str(path))
            if explicit and not options.skip_undetected:
                report.errors.append(f"{path}: cannot tell which kind of config this is (use --dialect)")
            continue
        root = options.root or find_root(path)
        context = ParseContext(Resolver(root.resolve()), catalog)
        try:
            ruleset = module.parse(path, context)
            file_report = lint_ruleset(ruleset, catalog, policy)
        except InputError as exc:
            report.errors.append(str(exc))
            continue
        except RecursionError:
            report.errors.append(f"{path}: config nests too deeply to evaluate")
            continue
        if options.log:
            options.log.debug(
                "linted",
                path=str(path),
                dialect=module.NAME,
                audiences=len(ruleset.audiences()),
                problems=len(ruleset.problems),
            )
        file_audiences[file_report.path] = list(ruleset.audiences())
        report.files.append(file_report)
    # A file pulled in by another's include is linted as part of it, not again on its own.
    included = {i for f in report.files for i in f.included}
    report.files = [f for f in report.files if str(Path(f.path).resolve()) not in included]
    report.findings = [x for f in report.files for x in f.findings]
    apply_policy(report, policy, file_audiences, options.today)
    return report

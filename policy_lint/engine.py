"""Paths + policy + catalog -> verdicts and findings.

For each config: parse it with its dialect, evaluate every probe (the services' and the neutral
control's) for every audience the device tells apart, then decide per service:

- a probe only counts against a service when the control probe over the same scheme gets
  through for that audience; an audience denied the control AND every service's site (all
  primary probes) has no web access at all (TE105 when that is everyone), while one denied the
  control but let through to some service's site is behind an allow-list: each service is
  judged on its own probes (allowed, degraded, blocked by the allow-list's final deny);
- primary probes all denied -> `blocked` (for that audience), some -> partial; supporting
  probes denied -> `degraded`; delay pools -> `throttled`; undecidable -> `unknown`;
  allowed by a rule that names the service -> `allowed`;
- across audiences: blocked for all of them -> `blocked`, for some -> `blocked-partial` (for some
  and undecided for the rest -> `unknown`: it may be blocked for all).

Never a silent pass: a file of which its dialect understood no statement is no verdict at all
(TE902 and an input error, see `reading`); files a directory scan cannot identify are listed in
`Report.skipped`.
"""

from __future__ import annotations

import datetime as dt
import os
from collections import defaultdict
from collections.abc import Callable, Generator, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol

from policy_lint import dialects, extract
from policy_lint.catalog import HYGIENE_ROLES, PRIMARY, Catalog
from policy_lint.dialects.semantics.base import ParseContext, Ruleset
from policy_lint.inputs import InputError, Resolver, find_root, read_source
from policy_lint.model import (
    EVERYONE,
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
from policy_lint.records import FrozenRecord, Record
from policy_lint.rules import CODES

SKIP_DIRS = {".git", ".hg", ".svn", ".venv", "venv", "node_modules", "__pycache__", ".tox"}
HEAD_BYTES = 16384


@dataclass(eq=False, repr=False)
class FileReport(Record):
    path: str
    dialect: str
    services: dict[str, ServiceResult]
    findings: list[Finding]
    included: list[str] = field(default_factory=list)
    # Why nothing of the file was understood ("" when something was): an input error.
    unread: str = ""
    # Per service, each audience's status as the file decides it (the network view picks the
    # audiences a segment's clients fall into); empty for a file that was not read.
    audience_results: dict[str, list[AudienceResult]] = field(default_factory=dict)
    # Who gets this rendering when a container renders the file differently per target
    # (Ansible: "host p1", "hosts p2, p3"); "" for a file that has one reading.
    rendering: str = ""


@dataclass(frozen=True, eq=False, repr=False)
class AudienceResult(FrozenRecord):
    """One audience's status for one service in one file: blocked | partial | unknown |
    throttled | degraded | allowed | ok, or `no-web` (denied all web access, the service too);
    `rule` decided it (None: the device's default), `trace` the spans consulted."""

    audience: Audience
    status: str
    rule: Span | None = None
    trace: tuple[Span, ...] = ()


@dataclass(frozen=True, eq=False, repr=False)
class Skipped(FrozenRecord):
    """A file a directory scan (or --skip-undetected) did not lint, and why."""

    path: str
    reason: str


@dataclass(eq=False, repr=False)
class Report(Record):
    files: list[FileReport] = field(default_factory=list)
    # The network view (policy_lint.network.Network) when the repository declares or implies
    # segments; None keeps every output exactly as per file.
    network: Any = None
    findings: list[Finding] = field(default_factory=list)
    accepted: list[Finding] = field(default_factory=list)  # covered by a policy exception
    suppressed: list[Finding] = field(default_factory=list)  # by a comment or the baseline
    errors: list[str] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)


@dataclass(frozen=True, eq=False, repr=False)
class LintedFile(FrozenRecord):
    """One file's lint as the engine made it, kept for reuse while nothing it read changes."""

    report: FileReport
    audiences: list[Audience]
    read: frozenset[str]  # the files the config pulled in (resolved paths)


class LintCache(Protocol):
    """Lints of files already made elsewhere (`policy-lint diff` reuses a revision's lints of
    the files a change leaves alone)."""

    def get(self, path: Path) -> LintedFile | None: ...

    def put(self, path: Path, linted: LintedFile) -> None: ...


@dataclass(eq=False, repr=False)
class Options(Record):
    root: Path | None = None
    dialect: str | None = None
    today: dt.date = field(default_factory=dt.date.today)
    log: Any = None  # a structlog logger for diagnostics (-v), or None
    progress: Callable[[list], Iterable] | None = None  # wraps the file list (a progress bar)
    skip_undetected: bool = False  # named files of no known dialect are skipped, not errors
    cache: LintCache | None = None
    jobs: int = 1  # worker processes, used only from `parallel_min_files` files to lint up
    # Fewer files to lint than this are linted in this process whatever `jobs` says: starting
    # a worker (a fork that then imports its dialect modules on its own) costs about one small
    # file's lint, so a handful of files is faster here.
    parallel_min_files: int = 16
    # Ansible extra vars templates are rendered with (name, value): extract/plays.py.
    extra_vars: tuple[tuple[str, Any], ...] = ()


# ------------------------------------------------------------------ per-audience assessment


@dataclass(eq=False, repr=False)
class _Status(Record):
    audience: Audience
    status: str  # blocked | partial | unknown | throttled | degraded | allowed | ok
    against: list[tuple[Probe, Decision]]  # the decisions that make the status
    hygiene: list[tuple[Probe, Decision]]
    spared: list[Probe] = field(default_factory=list)  # primary probes that get through
    allow_list: bool = False  # the audience is denied the control: only what the config names passes


_ORDER = ["blocked", "partial", "unknown", "throttled", "degraded", "allowed", "ok"]


def _assess_audience(
    service_probes: list[Probe],
    decisions: dict[Probe, Decision],
    control: dict[str, Decision],
    audience: Audience,
    allow_listed: bool = False,
) -> _Status | None:
    usable = {s for s, d in control.items() if d.outcome != Outcome.DENY}
    control_usable = bool(usable)
    if not usable:
        if not allow_listed:
            return None  # no web access at all: not a block of this service
        # An allow-list: the control is denied, but some service probes get through. Every
        # probe counts, so a service the list names is allowed (or degraded when the list
        # forgets a supporting domain), and one it does not name is blocked by its final deny.
        usable = set(control)
    status = _assess_usable(service_probes, decisions, control, audience, usable)
    if not control_usable:
        status.allow_list = True
    return status


def _assess_usable(
    service_probes: list[Probe],
    decisions: dict[Probe, Decision],
    control: dict[str, Decision],
    audience: Audience,
    usable: set[str],
) -> _Status:
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


@dataclass(eq=False, repr=False)
class _ServiceAssessment(Record):
    verdict: Verdict
    statuses: list[_Status]
    all_web_denied: bool


def verdict_of(statuses: Iterable[str]) -> Verdict:
    """The verdict over audiences with these statuses (as for a file's audiences); `no-web`
    counts as blocked (the service is denied with everything else)."""
    kinds = ["blocked" if k == "no-web" else k for k in statuses]
    return _verdict([_Status(EVERYONE, k, [], []) for k in kinds])


def _audience_results(
    a: _ServiceAssessment, audiences: list[Audience], no_web_rule: Span | None
) -> list[AudienceResult]:
    by_audience = {st.audience: st for st in a.statuses}
    out = []
    for audience in audiences:
        st = by_audience.get(audience)
        if st is None:
            out.append(AudienceResult(audience, "no-web", no_web_rule, (no_web_rule,) if no_web_rule else ()))
            continue
        rule = next((d.rule for _p, d in st.against if d.rule), None)
        trace = tuple(dict.fromkeys(s for _p, d in st.against for s in d.trace))
        out.append(AudienceResult(audience, st.status, rule, trace))
    return out


def _verdict(statuses: list[_Status]) -> Verdict:
    kinds = {s.status for s in statuses}
    if not statuses:
        return Verdict.BLOCKED  # nobody has web access at all
    if kinds == {"blocked"}:
        return Verdict.BLOCKED
    if kinds == {"blocked", "unknown"}:
        # Blocked for some audiences, undecided for the others: it may be blocked for all, so
        # "partly blocked" would be a guess (the findings still name the certain blocks).
        return Verdict.UNKNOWN
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
    ruleset: Ruleset, catalog: Catalog, consulted: set[Span] | None = None
) -> tuple[dict[str, _ServiceAssessment], list[tuple[Audience, dict[str, Decision]]]]:
    """Verdicts per service; `consulted`, when given, receives every span a decision named."""
    audiences = list(ruleset.audiences()) or [Audience(key=())]
    controls = catalog.control_probes()
    per_audience_control: list[tuple[Audience, dict[str, Decision]]] = []
    service_probes = {sid: svc.probes() for sid, svc in catalog.services.items()}
    statuses: dict[str, list[_Status]] = defaultdict(list)
    noted: dict[int, Decision] = {}  # decisions whose spans are in `consulted`, by id
    for audience in audiences:
        control = {p.scheme: ruleset.evaluate(p, audience) for p in controls}
        per_audience_control.append((audience, control))
        decisions = {
            sid: {p: ruleset.evaluate(p, audience) for p in probes} for sid, probes in service_probes.items()
        }
        if consulted is not None:
            for d in (*control.values(), *(d for ds in decisions.values() for d in ds.values())):
                # A dialect's cached decision comes back for many probes and audiences: its
                # spans are added once (held in `noted`, so no other object takes its id).
                if id(d) in noted:
                    continue
                noted[id(d)] = d
                consulted.update(d.trace)
                if d.rule:
                    consulted.add(d.rule)
        # Denied the control: an allow-list when some service's site still opens (one of its
        # primary probes is not denied), else no web access at all. Supporting hosts let through
        # on their own (a CDN, an API: an adblock `*$document` denies every page but not its
        # subresources) open no site.
        allow_listed = any(
            d.outcome != Outcome.DENY for ds in decisions.values() for p, d in ds.items() if p.role == PRIMARY
        )
        for sid, probes in service_probes.items():
            st = _assess_audience(probes, decisions[sid], control, audience, allow_listed)
            if st is not None:
                statuses[sid].append(st)
    # An audience denied the control and every service's site has no web access: it gives no
    # status, so a service with none anywhere is blocked with everything else (TE105). An
    # allow-listed audience gives every service a status, so then no service is in that case.
    all_denied = all(all(d.outcome == Outcome.DENY for d in c.values()) for _, c in per_audience_control)
    out = {}
    for sid in catalog.services:
        sts = statuses.get(sid, [])
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
            # The rule names nobody, but earlier rules let some clients past it: name the ones
            # it reaches, in the device's words, rather than a vague "everyone reaching it".
            reached = sorted({st.audience.describe() for st in sts} - {"everyone"})
            who = " or ".join(reached) if 0 < len(reached) <= 4 else "everyone reaching this rule"
        else:
            who = " or ".join(s or "anyone" for s in scopes)
        hosts = _hosts(pairs)
        spared = sorted({p.host for st in sts for p in st.spared} - set(hosts))
        how = sorted({d.how for _p, d in pairs if d.how and d.how != "403"})
        how_text = f" ({', '.join(how)})" if how else ""
        if all(st.allow_list for st in sts):
            how_text += " (an allow-list: the neutral control site is denied too)"
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


# ------------------------------------------------------------------ was anything read?

# Problems that say a statement was NOT understood: they are no evidence of reading.
_UNREAD_CODES = frozenset({"TE901", "TE902"})


def _content_lines(path: str) -> list[tuple[int, str]]:
    """Non-blank lines not starting with '#' (1-based numbers), for a dialect that counts nothing."""
    try:
        source = read_source(path)
    except InputError:
        return []
    out = []
    for i, line in enumerate(source.lines, start=1):
        text = line.strip()
        if text and not text.startswith("#"):
            out.append((i, text))
    return out


def reading(ruleset: Ruleset, consulted: set[Span], claimed: bool = False) -> tuple[int, Span] | None:
    """(statements, first statement) when the dialect understood none of the file's statements.

    A dialect reports what it read through two optional Ruleset attributes: `statements` (how
    many non-comment statements the file holds, in the device's comment syntax) and `understood`
    (how many of them it parsed into its model, including directives that decide nothing).
    `understood == 0 < statements` means the file is not this dialect's, or is written in syntax
    it cannot read.

    A dialect that does not count cannot tell, and then must not claim success: the file counts
    as read only when something came of it: a rule or trace span a decision named, a definition
    `inert_mentions` names (on a line the device does not refuse, TE901), or a problem other than
    "not understood" (TE901/TE902) on a line no TE901/TE902 marks. Otherwise
    its non-blank lines not starting with '#' are statements nobody understood. That judgement
    applies to a file the dialect does not claim (named with --dialect, its content not
    recognised by the dialect's own `detect`); a file it `claimed` counts as unread only when the
    dialect says it could not read it (TE902).
    """
    statements = getattr(ruleset, "statements", None)
    understood = getattr(ruleset, "understood", None)
    if isinstance(statements, int) and isinstance(understood, int):
        if understood or not statements:
            return None
        first = getattr(ruleset, "first_statement", None)
        return statements, first if isinstance(first, Span) else Span(ruleset.path, 1, 1)
    # A line the device refuses (TE901) was not understood; one partly unreadable (TE902) may
    # still hold a rule a decision names, but a note pinned to it is no evidence of reading.
    refused = {(p.span.path, p.span.line) for p in ruleset.problems if p.code == "TE901"}
    unreadable = refused | {(p.span.path, p.span.line) for p in ruleset.problems if p.code == "TE902"}
    if any((s.path, s.line) not in refused for s in consulted) or any(
        (p.span.path, p.span.line) not in unreadable for p in ruleset.problems if p.code not in _UNREAD_CODES
    ):
        return None
    if claimed and not any(p.code == "TE902" for p in ruleset.problems):
        return None
    lines = _content_lines(ruleset.path)
    if not lines:
        return None
    return len(lines), Span(ruleset.path, lines[0][0], 1, lines[0][1][:200])


def _unread_report(ruleset: Ruleset, catalog: Catalog, statements: int, first: Span) -> FileReport:
    """No verdict for a file nothing of which was understood: every service `unknown`, one TE902."""
    own = [p.message for p in ruleset.problems if p.code == "TE902"]
    if own:
        message = f"the {ruleset.dialect} dialect could not read this file ({own[0]}): no verdict for it"
    else:
        message = (
            f"the {ruleset.dialect} dialect understood none of the {statements} statement"
            f"{'s' if statements != 1 else ''} in this file (not a config of this kind, or written in "
            f"syntax policy-lint does not read): no verdict for it"
        )
    findings = [Finding("TE902", CODES["TE902"].severity, first, message)]
    findings += [
        Finding(p.code, CODES[p.code].severity, p.span, p.message)
        for p in ruleset.problems
        if p.code != "TE902"
    ]
    services = {sid: ServiceResult(Verdict.UNKNOWN) for sid in catalog.services}
    hint = "" if own else "; if it is another kind of config, name that kind with --dialect"
    return FileReport(
        ruleset.path,
        ruleset.dialect,
        services,
        _dedupe(findings),
        list(getattr(ruleset, "included", [])),
        unread=f"{ruleset.path}: {message}{hint}",
    )


def lint_ruleset(ruleset: Ruleset, catalog: Catalog, policy: Policy, claimed: bool = False) -> FileReport:
    """Verdicts and findings for one parsed file; `claimed`: its dialect's detect recognised it."""
    consulted: set[Span] = set()
    counts = isinstance(getattr(ruleset, "understood", None), int)
    assessments, controls = assess(ruleset, catalog, None if counts else consulted)
    if not counts and not consulted:
        consulted.update(
            s for svc in catalog.services.values() for p in svc.probes() for s in ruleset.inert_mentions(p)
        )
    unread = reading(ruleset, consulted, claimed)
    if unread is not None:
        return _unread_report(ruleset, catalog, *unread)
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
    audiences = [aud for aud, _c in controls]
    no_web = next((d.rule for _a, c in controls for d in c.values() if d.rule), None)
    return FileReport(
        ruleset.path,
        ruleset.dialect,
        services,
        _dedupe(findings),
        list(getattr(ruleset, "included", [])),
        audience_results={sid: _audience_results(a, audiences, no_web) for sid, a in assessments.items()},
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


def recognises(module: ModuleType, path: Path) -> bool:
    """Whether a dialect's detect sees its own statements in the file's content, its name aside
    (the name is replaced, the suffix kept: some dialects claim files by name alone)."""
    return (
        module.detect(path.with_name("content" + path.suffix), read_head(path)) >= dialects.DETECT_THRESHOLD
    )


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


def _escapes(path: Path, root: Path) -> str:
    """Why `path` must not be read: it lies in the lint root (or the current directory) but a
    symbolic link takes it outside both; "" when it may be read."""
    inside = [base.resolve() for base in (root, Path.cwd())]
    absolute = Path(os.path.abspath(path))
    real = path.resolve()
    if any(absolute.is_relative_to(base) for base in inside) and not any(
        real.is_relative_to(base) for base in inside
    ):
        return f"a symbolic link to {real}, outside the repository: not read"
    return ""


def _lint_container(
    path: Path,
    head: str,
    root: Path,
    catalog: Catalog,
    policy: Policy,
    report: Report,
    pulled_in: set[str],
    log: Any = None,
    extra_vars: tuple[tuple[str, Any], ...] = (),
) -> extract.Extraction | None:
    """Lint the configs `path` holds when it is a container (policy_lint/extract), adding their
    reports to `report` and the files they read to `pulled_in`; None when it is no container."""
    context = ParseContext(Resolver(root.resolve(), pulled_in), catalog, extra_vars)
    try:
        held = extract.extract(path, head, context)
        if held is None:
            return None
        files, skipped = extract.lint_extraction(
            held, path, context, lambda rs, claimed: lint_ruleset(rs, catalog, policy, claimed)
        )
    except InputError as exc:
        report.errors.append(str(exc))
        return extract.Extraction([], failed=True)
    except RecursionError:
        report.errors.append(f"{path}: config nests too deeply to evaluate")
        return extract.Extraction([], failed=True)
    for where, why in skipped:
        report.skipped.append(Skipped(where, why))
    shown = context.resolver.display(path)
    for code, line, message in held.unread:
        finding = Finding(code, CODES[code].severity, Span(shown, line, 1), message)
        if files:
            files[0].findings.append(finding)
        else:
            unknown = {sid: ServiceResult(Verdict.UNKNOWN) for sid in catalog.services}
            files.append(FileReport(shown, held.kind, unknown, [finding]))
    if log:
        log.debug("container", path=str(path), configs=len(files), skipped=len(skipped))
    report.files += files
    return held


def usable_cores() -> int:
    """The CPUs this process may run on (its affinity mask, not the machine's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not Linux
        return max(1, os.cpu_count() or 1)


@dataclass(frozen=True, eq=False, repr=False)
class FileOutcome(FrozenRecord):
    """What linting one path gave: a lint, reports of the configs it holds (a container), skips
    or errors, and the files it read."""

    linted: LintedFile | None = None
    contained: tuple[FileReport, ...] = ()  # configs inside a container (policy_lint/extract)
    skipped: tuple[Skipped, ...] = ()
    errors: tuple[str, ...] = ()
    read: frozenset[str] = frozenset()  # files pulled in, even when the lint then failed
    log: tuple[tuple[str, Any], ...] = ()  # the diagnostic line's fields (the parent logs it)


def lint_file(path: Path, explicit: bool, catalog: Catalog, policy: Policy, options: Options) -> FileOutcome:
    """One path's lint (containers' configs, then the file itself), independent of every other
    path: the unit a worker process runs. Cross-file steps (included files, policy exceptions)
    are lint_paths'."""
    forced: ModuleType | None = dialects.DIALECTS.get(options.dialect) if options.dialect else None
    root = options.root or find_root(path)
    escape = _escapes(path, root)
    if escape:
        # A link in the repository to a file outside it (/etc/passwd): never read.
        if explicit and not options.skip_undetected:
            return FileOutcome(errors=(f"{path}: {escape}",))
        return FileOutcome(skipped=(Skipped(str(path), escape),))
    head = read_head(path)
    held_report, held_read = Report(), set[str]()
    held = (
        _lint_container(
            path, head, root, catalog, policy, held_report, held_read, options.log, options.extra_vars
        )
        if forced is None
        else None
    )
    contained = FileOutcome(
        contained=tuple(held_report.files),
        skipped=tuple(held_report.skipped),
        errors=tuple(held_report.errors),
        read=frozenset(held_read),
    )
    if held is not None and held.failed:
        return contained  # its one-line error is reported
    held_any = held is not None and bool(held.pieces or held.unread)
    if held is not None and held_any and not held.whole:
        return contained  # a document, a template, Terraform: only what it holds is a config
    if options.log and forced is None:
        options.log.debug("detection", path=str(path), scores=dialects.scores(path, head))
    module = forced or dialects.detect(path, head)
    if held is not None and held_any and (module is None or module.NAME not in held.whole):
        return contained  # a script whose own commands are no config: what it writes was linted
    if module is None:
        if explicit and not options.skip_undetected:
            error = f"{path}: cannot tell which kind of config this is (use --dialect)"
            return replace(contained, errors=contained.errors + (error,))
        return replace(contained, skipped=contained.skipped + (Skipped(str(path), "unknown kind"),))
    context = ParseContext(Resolver(root.resolve()), catalog)
    try:
        ruleset = module.parse(path, context)
    except InputError as exc:
        return replace(contained, errors=contained.errors + (str(exc),))
    except RecursionError:
        return replace(contained, errors=contained.errors + (f"{path}: config nests too deeply to evaluate",))
    read = frozenset(context.resolver.found) | contained.read
    try:
        file_report = lint_ruleset(ruleset, catalog, policy, forced is None or recognises(module, path))
    except InputError as exc:
        return replace(contained, errors=contained.errors + (str(exc),), read=read)
    except RecursionError:
        error = f"{path}: config nests too deeply to evaluate"
        return replace(contained, errors=contained.errors + (error,), read=read)
    audiences = list(ruleset.audiences())
    log = (
        ("path", str(path)),
        ("dialect", module.NAME),
        ("audiences", len(audiences)),
        ("problems", len(ruleset.problems)),
    )
    return replace(contained, linted=LintedFile(file_report, audiences, read), read=read, log=log)


def _outcomes(
    todo: list[tuple[Path, bool]], catalog: Catalog, policy: Policy, options: Options
) -> Generator[FileOutcome, None, None]:
    """Each file's outcome, in the order of `todo`: in worker processes (policy_lint/parallel.py)
    when there are enough files to pay for them, else here."""
    jobs = min(options.jobs, len(todo))
    if jobs <= 1 or len(todo) < options.parallel_min_files:
        for path, explicit in todo:
            yield lint_file(path, explicit, catalog, policy, options)
        return
    from policy_lint.parallel import lint_in_workers

    # Workers get neither the progress bar nor the logger (both write to the parent's stderr)
    # nor the cache (the parent consults and fills it).
    yield from lint_in_workers(
        todo, catalog, policy, replace(options, log=None, progress=None, cache=None), jobs
    )


def lint_paths(paths: list[Path], catalog: Catalog, policy: Policy, options: Options) -> Report:
    report = Report()
    files, report.errors = discover(paths)
    file_audiences: dict[str, list[Audience]] = {}
    pulled_in: set[str] = set()  # files a config read through a reference (a list, an include)
    cached = {path: options.cache.get(path) for path, _e in files} if options.cache else {}
    outcomes = _outcomes([f for f in files if cached.get(f[0]) is None], catalog, policy, options)
    try:
        for path, _explicit in options.progress(files) if options.progress else files:
            hit = cached.get(path)
            if hit is not None:
                pulled_in |= hit.read
                file_audiences[hit.report.path] = hit.audiences
                report.files.append(hit.report)
                continue
            outcome = next(outcomes)
            pulled_in |= outcome.read
            report.errors += outcome.errors
            report.skipped += outcome.skipped
            report.files += outcome.contained
            if options.log and any(s.reason == "unknown kind" for s in outcome.skipped):
                options.log.debug("skipped: no dialect recognised", path=str(path))
            linted = outcome.linted
            if linted is None:
                continue
            if options.log:
                options.log.debug("linted", **dict(outcome.log))
            file_audiences[linted.report.path] = linted.audiences
            report.files.append(linted.report)
            if options.cache and not outcome.contained:
                options.cache.put(path, linted)
    finally:
        outcomes.close()  # shuts the worker pool down (every outcome is consumed by now)
    # A file pulled in by another's include is linted as part of it, not again on its own.
    included = {i for f in report.files for i in f.included}
    report.files = [f for f in report.files if str(Path(f.path).resolve()) not in included]
    report.skipped = [s for s in report.skipped if str(Path(s.path).resolve()) not in included | pulled_in]
    report.errors += [f.unread for f in report.files if f.unread]
    report.findings = [x for f in report.files for x in f.findings]
    apply_policy(report, policy, file_audiences, options.today)
    return report

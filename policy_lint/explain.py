"""`policy-lint explain SERVICE PATH`: every decision for one service, with its full trace.

Per audience the device tells apart: the control probe's fate, then the service's probes
grouped by identical decisions (outcome, deciding rule, mechanism), each group with its trace.
PATH may be a directory: every config in it of a kind policy-lint knows is explained in turn,
and the files it cannot identify are named.
"""

from __future__ import annotations

from pathlib import Path

from policy_lint import dialects
from policy_lint.catalog import Catalog
from policy_lint.dialects.semantics.base import ParseContext
from policy_lint.engine import assess, discover, read_head, reading, recognises
from policy_lint.inputs import InputError, Resolver, find_root
from policy_lint.model import Decision, Span


def _decision_line(d: Decision) -> str:
    where = f" by {d.rule.where()} '{d.rule.text}'" if d.rule else " (device default)"
    how = f" [{d.how}]" if d.how else ""
    return f"{d.outcome.value}{how}{where}"


def explain_service(
    service: str, path: Path, catalog: Catalog, root: Path | None, dialect: str | None
) -> str:
    module = dialects.DIALECTS.get(dialect) if dialect else dialects.detect(path, read_head(path))
    if module is None:
        raise InputError(f"{path}: cannot tell which kind of config this is (use --dialect)")
    ruleset = module.parse(path, ParseContext(Resolver((root or find_root(path)).resolve()), catalog))
    consulted: set[Span] = set()
    assessments, controls = assess(ruleset, catalog, consulted)
    if not consulted:
        consulted.update(s for p in catalog.services[service].probes() for s in ruleset.inert_mentions(p))
    unread = reading(ruleset, consulted, claimed=dialect is None or recognises(module, path))
    a = assessments[service]
    svc = catalog.services[service]
    verdict = "unknown (nothing in the file was understood)" if unread else a.verdict.value
    out = [
        f"{ruleset.path} ({module.NAME}): {svc.name} is {verdict}",
        f"{len(controls)} audience(s); probes: {', '.join(sorted({p.host for p in svc.probes()}))}",
    ]
    if unread:
        n, first = unread
        out.append(
            f"{first.where()}: TE902 the {module.NAME} dialect understood none of the {n} statement(s) "
            f"in this file: no verdict for it (name its kind with --dialect)"
        )
    for audience, control in controls:
        out.append(f"\nfor {audience.describe()}:")
        for scheme, d in sorted(control.items()):
            out.append(f"  control {scheme}://{catalog.control_host}: {_decision_line(d)}")
        groups: dict[Decision, dict[str, list[str]]] = {}
        for probe in svc.probes():
            d = ruleset.evaluate(probe, audience)
            name = f"{probe.host}{probe.path if probe.path != '/' else ''} ({probe.role})"
            groups.setdefault(d, {}).setdefault(name, []).append(probe.scheme)
        for d, hosts in groups.items():
            out.append(f"  {_decision_line(d)}:")
            labels = [h if len(schemes) == 2 else f"{h} [{schemes[0]} only]" for h, schemes in hosts.items()]
            out.append(f"      {', '.join(labels)}")
            if d.note:
                out.append(f"      note: {d.note}")
            for s in d.trace:
                out.append(f"      - {s.where()}: {s.text}")
    for p in ruleset.problems:
        out.append(f"{p.span.where()}: {p.code} {p.message}")
    return "\n".join(out) + "\n"


def explain_path(service: str, path: Path, catalog: Catalog, root: Path | None, dialect: str | None) -> str:
    """explain_service for a file, or for every config of a known kind under a directory."""
    if not path.is_dir():
        return explain_service(service, path, catalog, root, dialect)
    files, _errors = discover([path])
    parts, unknown = [], []
    for f, _explicit in files:
        if dialect is None and dialects.detect(f, read_head(f)) is None:
            unknown.append(str(f))
            continue
        try:
            parts.append(explain_service(service, f, catalog, root, dialect))
        except InputError as exc:
            parts.append(f"{exc}\n")
    if not parts:
        raise InputError(
            f"{path}: no config of a kind policy-lint knows in this directory; "
            f"name a file, or its kind with --dialect"
        )
    if unknown:
        shown = ", ".join(unknown[:5]) + (f" and {len(unknown) - 5} more" if len(unknown) > 5 else "")
        parts.append(f"skipped {len(unknown)} file(s) of unknown kind: {shown} (use --dialect)\n")
    return "\n".join(parts)

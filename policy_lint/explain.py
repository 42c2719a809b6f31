"""`policy-lint explain SERVICE PATH`: every decision for one service, with its full trace.

Per audience the device tells apart: the control probe's fate, then the service's probes
grouped by identical decisions (outcome, deciding rule, mechanism), each group with its trace.
"""

from __future__ import annotations

from pathlib import Path

from policy_lint import dialects
from policy_lint.catalog import Catalog
from policy_lint.dialects.semantics.base import ParseContext
from policy_lint.engine import assess, read_head
from policy_lint.inputs import InputError, Resolver, find_root
from policy_lint.model import Decision


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
    assessments, controls = assess(ruleset, catalog)
    a = assessments[service]
    svc = catalog.services[service]
    out = [
        f"{ruleset.path} ({module.NAME}): {svc.name} is {a.verdict.value}",
        f"{len(controls)} audience(s); probes: {', '.join(sorted({p.host for p in svc.probes()}))}",
    ]
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

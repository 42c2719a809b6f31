"""`policy-lint explain SERVICE PATH`: every decision for one service, with its full trace."""

from __future__ import annotations

from pathlib import Path

from policy_lint import dialects
from policy_lint.catalog import Catalog
from policy_lint.dialects.base import ParseContext
from policy_lint.engine import _head, assess
from policy_lint.inputs import InputError, Resolver, find_root


def explain_service(service: str, path: Path, catalog: Catalog, root: Path | None,
                    dialect: str | None) -> str:
    module = dialects.DIALECTS.get(dialect) if dialect else dialects.detect(path, _head(path))
    if module is None:
        raise InputError(f"{path}: cannot tell which kind of config this is (use --dialect)")
    ruleset = module.parse(path, ParseContext(Resolver((root or find_root(path)).resolve()), catalog))
    assessments, controls = assess(ruleset, catalog)
    a = assessments[service]
    svc = catalog.services[service]
    out = [f"{ruleset.path} ({module.NAME}): {svc.name} is {a.verdict.value}"]
    for audience, control in controls:
        out.append(f"\nfor {audience.describe()}:")
        for scheme, d in sorted(control.items()):
            out.append(f"  control {scheme}://{catalog.control_host}: {d.outcome.value}"
                       + (f" at {d.rule.where()}" if d.rule else ""))
        for probe in svc.probes():
            d = ruleset.evaluate(probe, audience)
            where = f" at {d.rule.where()} '{d.rule.text}'" if d.rule else ""
            how = f" ({d.how})" if d.how else ""
            out.append(f"  [{probe.role}] {probe.label()}: {d.outcome.value}{how}{where}")
            if d.note:
                out.append(f"      note: {d.note}")
            for s in d.trace:
                out.append(f"      - {s.where()}: {s.text}")
    for p in ruleset.problems:
        out.append(f"{p.span.where()}: {p.code} {p.message}")
    return "\n".join(out) + "\n"

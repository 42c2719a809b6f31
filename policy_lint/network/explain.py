"""`policy-lint explain SERVICE DIR --segment NAME`: one segment's whole path for one service,
layer by layer (role, file, its verdict for the segment, the rule, why a layer is bypassed or
unknown), then the network verdict and the rule that decided it."""

from __future__ import annotations

from pathlib import Path

from policy_lint import config
from policy_lint.catalog import Catalog
from policy_lint.engine import Options, lint_paths
from policy_lint.inputs import InputError
from policy_lint.network import attach
from policy_lint.network.render import walk
from policy_lint.policy import Policy


def explain_segment(
    sid: str,
    path: Path,
    catalog: Catalog,
    policy: Policy,
    root: Path | None,
    dialect: str | None,
    segment: str,
) -> str:
    settings = config.discover(path)
    report = lint_paths([path], catalog, policy, Options(root=root or settings.root, dialect=dialect))
    attach(report, settings.source, root or settings.root, catalog, policy)
    if report.network is None:
        raise InputError(
            f"{path}: no segments (declare them under network: in .policy-lint.yaml, or lint a "
            f"repository whose DHCP or interception rules imply them)"
        )
    try:
        text = walk(report.network, segment, sid, catalog.services[sid].name)
    except KeyError as exc:
        raise InputError(f"{path}: {exc.args[0]}") from None
    lines = [text.rstrip("\n")]
    for f in report.network.findings:
        if f.service in (sid, None) and segment in f.audiences and f.code != "TE110":
            lines.append(f"  note: {f.span.where()}: {f.code} {f.message}")
    lines.append(f"  (each file's own decisions: policy-lint explain {sid} FILE)")
    return "\n".join(lines) + "\n"

"""After evaluation: what the user asked to see. Code selection and severity overrides (per
file, from the nearest settings), suppression comments, then the baseline."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from policy_lint import suppress
from policy_lint.config import Settings
from policy_lint.engine import Report
from policy_lint.model import Finding
from policy_lint.selection import is_selected, with_severity


def refine(report: Report, settings_for: Callable[[Path], Settings], baseline: Path | None) -> Report:
    def visible(f: Finding) -> Finding | None:
        s = settings_for(Path(f.span.path))
        if not is_selected(f.code, s.select, s.extend_select, s.ignore):
            return None
        return with_severity(f, s.severity)

    chosen = [v for f in report.findings if (v := visible(f)) is not None]
    kept, silenced = suppress.apply(chosen)
    kept = [v for f in kept if (v := visible(f)) is not None]  # TE204 is selectable too
    if baseline is not None:
        from policy_lint import baseline as baselines  # json with it: only when a baseline is used

        kept, known = baselines.apply(kept, baseline)
        kept = [v for f in kept if (v := visible(f)) is not None]
        silenced += known
    return replace(report, findings=kept, suppressed=report.suppressed + silenced)

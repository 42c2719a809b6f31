"""The explicit registry of dialects: one module per configuration language."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

from policy_lint.dialects import squid

DIALECTS: dict[str, ModuleType] = {
    squid.NAME: squid,
}

DETECT_THRESHOLD = 0.5


def detect(path: Path, head: str) -> ModuleType | None:
    """The dialect most confident that `path` is its own, if any is confident enough."""
    scored = sorted(((m.detect(path, head), name) for name, m in DIALECTS.items()), reverse=True)
    if scored and scored[0][0] >= DETECT_THRESHOLD:
        return DIALECTS[scored[0][1]]
    return None

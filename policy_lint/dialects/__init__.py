"""The explicit registry of dialects: one module per configuration language.

Each module's docstring documents its device's matching semantics; `base.py` says what a
dialect module provides. Add a dialect by adding its module name to `MODULES`.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType

MODULES: tuple[str, ...] = (
    "squid",
    "squidguard",
    "hosts",
    "dnsmasq",
    "windows_hosts",
    "domainlist",
    "e2guardian",
    "dansguardian",
)

DETECT_THRESHOLD = 0.5


def _load() -> dict[str, ModuleType]:
    out = {}
    for name in MODULES:
        module = importlib.import_module(f"policy_lint.dialects.{name}")
        out[module.NAME] = module
    return out


DIALECTS: dict[str, ModuleType] = _load()


def detect(path: Path, head: str) -> ModuleType | None:
    """The dialect most confident that `path` is its own, if any is confident enough."""
    scored = sorted(((m.detect(path, head), name) for name, m in DIALECTS.items()), reverse=True)
    if scored and scored[0][0] >= DETECT_THRESHOLD:
        return DIALECTS[scored[0][1]]
    return None

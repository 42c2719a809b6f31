"""What every dialect provides (the role pre-commit's `lang_base.py` plays for languages).

A dialect module exposes `NAME`, `FILE_PATTERNS` (fnmatch patterns of its usual file names),
`detect(path, head) -> float` (0.0 = not mine, 1.0 = certainly mine) and
`parse(path, context) -> Ruleset`. The Ruleset knows how its device decides.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from policy_lint.catalog import Catalog
from policy_lint.inputs import Resolver
from policy_lint.model import Audience, Decision, Probe, Problem, Span
from policy_lint.records import FrozenRecord


@dataclass(frozen=True, eq=False, repr=False)
class ParseContext(FrozenRecord):
    resolver: Resolver
    catalog: Catalog
    # Ansible extra vars (`--extra-vars`, `ansible-extra-vars`): the highest-precedence
    # variables templates are rendered with (extract/plays.py). (name, value) pairs.
    extra_vars: tuple[tuple[str, Any], ...] = field(default=(), compare=False)


class Ruleset(Protocol):
    path: str
    dialect: str
    problems: list[Problem]

    def audiences(self) -> Sequence[Audience]:
        """The kinds of client this device tells apart (at least one)."""

    def evaluate(self, probe: Probe, audience: Audience) -> Decision:
        """What the device does with `probe` from `audience`."""

    def inert_mentions(self, probe: Probe) -> list[Span]:
        """Definitions that would match `probe` but that no rule uses (e.g. an unused ACL)."""


class Dialect(Protocol):
    NAME: str
    FILE_PATTERNS: tuple[str, ...]

    def detect(self, path: Path, head: str) -> float: ...

    def parse(self, path: Path, context: ParseContext) -> Ruleset: ...

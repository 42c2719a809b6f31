"""An embedded config presented to its dialect as a file of its own, and its findings mapped back.

The dialect reads the embedded text exactly as it reads any config (`read_source`, its
`context.resolver`): the text is written to a private temporary directory under the name the
config would have on the device (`squid.conf`), and references inside it (`include`, a list
file) resolve from the container's directory and the lint root, as they would for a config
standing next to the container. Every span the dialect reports in that virtual file is then
mapped to the container's file and line (`Embedded.line_map`); spans in files the config pulled
in keep their own place.

Values the container could not resolve (extract/symbolic) make the decisions they may change
`unknown`: a decision whose rule or trace touches such a line, and any decision that lets a
probe through while such a line stands in the config (the value might have denied it). A deny
by rules that touch no unknown value stands.
"""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from policy_lint import dialects
from policy_lint.dialects.semantics.base import ParseContext, Ruleset
from policy_lint.extract import symbolic
from policy_lint.extract.model import Embedded
from policy_lint.inputs import Resolver
from policy_lint.model import Audience, Decision, Finding, Outcome, Probe, Problem, Span

HEAD_CHARS = 16384


@dataclass(frozen=True)
class EmbeddedResolver(Resolver):
    """Resolves references of a config in `virtual_dir` as if it stood where its container is."""

    container: Path = Path()
    virtual_dir: Path = Path()

    def candidates(self, reference: str, config: Path) -> list[Path]:
        if config.parent == self.virtual_dir:
            config = self.container
        return super().candidates(reference, config)

    def glob(self, pattern: str, config: Path) -> list[Path]:
        if config.parent == self.virtual_dir:
            config = self.container
        return super().glob(pattern, config)


@dataclass
class WithUnknowns:
    """A dialect's Ruleset over text holding values nobody knows until the template is rendered."""

    inner: Any
    unknown: dict[int, str]  # 1-based line of the virtual file -> the expression standing there
    # Unknowns that wrote no line (a template's `{% if %}` on an undefined value that left its
    # block out), at their place in the container.
    outside: list[Span] = field(default_factory=list)
    path: str = ""
    dialect: str = ""
    problems: list[Problem] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.path, self.dialect = self.inner.path, self.inner.dialect
        # What the dialect says of the placeholder's own text (`acl {{ is used but never
        # defined`) is no finding about the config: the TE907 below says what is unknown there.
        kept = [p for p in self.inner.problems if not (p.code == "TE901" and p.span.line in self.unknown)]
        self.problems = kept + [
            Problem(
                "TE907",
                Span(self.path, line, 1, expression),
                f"{expression} is known only when the template is rendered: what it decides is unknown",
            )
            for line, expression in sorted(self.unknown.items())
        ]
        self.problems += [
            Problem(
                "TE907",
                s,
                f"{s.text} tests a value known only when the template is rendered: what it writes is unknown",
            )
            for s in self.outside
        ]

    def __getattr__(self, name: str) -> Any:  # statements, understood, included, ...
        return getattr(self.inner, name)

    def audiences(self) -> Sequence[Audience]:
        return self.inner.audiences()

    def inert_mentions(self, probe: Probe) -> list[Span]:
        return self.inner.inert_mentions(probe)

    def evaluate(self, probe: Probe, audience: Audience) -> Decision:
        d = self.inner.evaluate(probe, audience)
        touched = [s for s in (*d.trace, *((d.rule,) if d.rule else ())) if s.path == self.path]
        hit = next((s.line for s in touched if s.line in self.unknown), None)
        if hit is None and d.outcome == Outcome.DENY:
            return d
        if hit is None and not self.unknown:
            span = self.outside[0]
            expression = span.text
        else:
            if hit is None:
                hit = min(self.unknown)
            expression = self.unknown[hit]
            span = Span(self.path, hit, 1, expression)
        return Decision(
            Outcome.UNKNOWN,
            span,
            (*d.trace, span),
            note=f"depends on {expression}, known only when the template is rendered",
            scope=d.scope,
        )


def _module_for(piece: Embedded, virtual: Path) -> Any:
    if piece.dialect:
        return dialects.DIALECTS.get(piece.dialect)
    return dialects.detect(virtual, "\n".join(piece.lines)[:HEAD_CHARS])


def lint_piece(
    piece: Embedded,
    context: ParseContext,
    container: Path,
    lint: Callable[[Ruleset, bool], Any],
) -> tuple[Any, str] | None:
    """(the dialect's FileReport mapped into the container, dialect NAME), or None when no
    dialect recognises the text."""
    resolved = symbolic.resolve(piece.lines)
    with tempfile.TemporaryDirectory(prefix="policy-lint-embedded-") as tmp:
        virtual_dir = Path(tmp)
        virtual = virtual_dir / (Path(piece.name).name or "embedded.conf")
        virtual.write_text("\n".join(resolved.lines) + "\n", encoding="utf-8")
        module = _module_for(piece, virtual)
        if module is None:
            return None
        resolver = EmbeddedResolver(
            context.resolver.root, context.resolver.found, container=container, virtual_dir=virtual_dir
        )
        ruleset: Any = module.parse(virtual, ParseContext(resolver, context.catalog))
        shown = ruleset.path
        unknown = {i + 1: e for i, e in reversed(resolved.unknown)}
        for i, line in enumerate(piece.line_map):
            for first, last, expression in piece.conditional:
                if first <= line <= last:
                    unknown.setdefault(i + 1, expression)
        for index, expression in piece.line_conditions.items():
            unknown.setdefault(index, expression)
        outside = [
            Span(piece.origin, first, 1, expression)
            for first, last, expression in piece.conditional
            if not any(first <= line <= last for line in piece.line_map)
        ]
        if unknown or outside:
            ruleset = WithUnknowns(ruleset, unknown, outside)
        report = lint(ruleset, True)
    return _remap(report, piece, shown, resolved.stand_ins), module.NAME


def _remap(report: Any, piece: Embedded, shown: str, stand_ins: dict[str, str]) -> Any:
    def span(s: Span) -> Span:
        if s.path != shown:
            return s
        index = min(max(s.line, 1), len(piece.line_map)) - 1
        line = piece.line_map[index] if piece.line_map else 1
        origin = piece.line_origin[index] if piece.line_origin and index >= 0 else piece.origin
        return Span(origin, line, s.col, words(s.text))

    def words(text: str) -> str:
        text = text.replace(shown, piece.origin)
        for expression, value in stand_ins.items():
            text = text.replace(value, expression)
        return text

    def audiences(names: Sequence[str]) -> list[str]:
        if not piece.audience:
            return [words(a) for a in names]
        return [f"{piece.audience}: {words(a)}" for a in names] or [piece.audience]

    def finding(f: Finding) -> Finding:
        return dataclasses.replace(
            f,
            span=span(f.span),
            message=words(f.message) + f" (in {piece.label})",
            audiences=tuple(audiences(f.audiences)) if f.service else tuple(words(a) for a in f.audiences),
            trace=tuple(span(s) for s in f.trace),
        )

    for result in report.services.values():
        result.rules = [span(s) for s in result.rules]
        result.audiences = (
            audiences(result.audiences) if result.rules else [words(a) for a in result.audiences]
        )
    extra = [
        Finding(code, _severity(code), Span(piece.origin, line, 1), f"{message} (in {piece.label})")
        for code, line, message in piece.problems
    ]
    return dataclasses.replace(
        report,
        path=piece.origin,
        findings=[finding(f) for f in report.findings] + extra,
        unread=words(report.unread),
        included=sorted({*report.included, *piece.pulls_in}),
        rendering=piece.audience,
    )


def _severity(code: str) -> Any:
    from policy_lint.rules import CODES

    return CODES[code].severity

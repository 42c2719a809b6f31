"""Terraform (HCL) files read with python-hcl2, the field's HCL parser, for every dialect that
reads a provider's resources (panos, fortios, cloudflare, ...).

`load(lines)` gives the file's top-level blocks with their line ranges, its variables' literal
defaults and its locals. Values stay as python-hcl2 gives them: strings with quotes stripped,
lists, and nested blocks as lists of dicts; an interpolation stays a string holding `${...}`.
`resolve` substitutes `var.X`/`local.X` where the file gives a literal value and reports
whatever else is computed (a reference, a function call) as `Symbolic`, so that a dialect can
say `unknown` for exactly the value it cannot know.

    resource "panos_security_rule_group" "office" {   # Block("resource",
      rule { name = "deny fb" ... }                    #   ("panos_security_rule_group", "office"),
    }                                                  #   {"rule": [{...}]}, line=1, end_line=3)
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import hcl2
from lark.exceptions import LarkError

_META_KEYS = frozenset({"__start_line__", "__end_line__"})
_INTERPOLATION = re.compile(r"\$\{([^{}]*)\}")
_REFERENCE = re.compile(r"^(var|local)\.([A-Za-z_][\w-]*)$")


class TerraformError(ValueError):
    """Text that is not HCL python-hcl2 can read (message names the line where it knows it)."""


@dataclass(frozen=True)
class Symbolic:
    """A value known only when Terraform runs (the expression as written)."""

    expression: str


@dataclass(frozen=True)
class Block:
    kind: str  # resource, data, module, variable, locals, provider, ...
    labels: tuple[str, ...]
    body: Mapping[str, Any]
    line: int
    end_line: int


@dataclass
class TerraformFile:
    blocks: list[Block]
    lines: list[str]
    variables: dict[str, Any] = field(default_factory=dict)  # literal defaults only
    locals: dict[str, Any] = field(default_factory=dict)

    def resources(self, *types: str) -> Iterator[Block]:
        """The `resource` blocks of the given types (all of them when none is given), in file order."""
        for block in self.blocks:
            if block.kind == "resource" and (not types or block.labels[0] in types):
                yield block

    def attribute_line(self, body: Mapping[str, Any], name: str, fallback: int) -> int:
        """The line of `name = ...` inside a block body (python-hcl2 gives only block lines)."""
        start = int(body.get("__start_line__", fallback))
        end = int(body.get("__end_line__", start))
        pattern = re.compile(rf"^\s*{re.escape(name)}\s*=")
        for number in range(start, min(end, len(self.lines)) + 1):
            if pattern.match(self.lines[number - 1]):
                return number
        return start

    def resolve(self, value: Any) -> Any:
        """`value` with `${var.X}`/`${local.X}` replaced by literal defaults; what stays
        computed becomes a `Symbolic` (a whole string or a list element)."""
        if isinstance(value, list):
            return [self.resolve(item) for item in value]
        if not isinstance(value, str) or "${" not in value:
            return value
        whole = _INTERPOLATION.fullmatch(value)
        if whole:
            known = self._lookup(whole.group(1).strip())
            return known if not isinstance(known, Symbolic) else Symbolic(value)
        unresolved = False

        def substitute(match: re.Match[str]) -> str:
            nonlocal unresolved
            known = self._lookup(match.group(1).strip())
            if isinstance(known, Symbolic) or not isinstance(known, str | int | float):
                unresolved = True
                return match.group(0)
            return str(known)

        text = _INTERPOLATION.sub(substitute, value)
        return Symbolic(value) if unresolved else text

    def _lookup(self, expression: str) -> Any:
        reference = _REFERENCE.match(expression)
        if not reference:
            return Symbolic(expression)
        table = self.variables if reference.group(1) == "var" else self.locals
        if reference.group(2) not in table:
            return Symbolic(expression)
        return self.resolve(table[reference.group(2)])


def strip_meta(body: Mapping[str, Any]) -> dict[str, Any]:
    """A block body without python-hcl2's line keys."""
    return {key: value for key, value in body.items() if key not in _META_KEYS}


def nested(body: Mapping[str, Any], name: str) -> list[Mapping[str, Any]]:
    """The nested blocks called `name` (python-hcl2 gives a list of bodies, or one body)."""
    value = body.get(name)
    if isinstance(value, list):
        return [item for item in value if isinstance(item, Mapping)]
    if isinstance(value, Mapping):
        return [value]
    return []


def load(lines: list[str]) -> TerraformFile:
    """Parse a Terraform file; raise TerraformError if it is not HCL."""
    try:
        document = hcl2.loads("\n".join(lines) + "\n", with_meta=True)
    except (LarkError, ValueError, TypeError, RecursionError) as exc:
        # Lark's messages name line and column, but span several lines with a caret picture.
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise TerraformError(f"not HCL that Terraform reads: {first}") from None
    blocks: list[Block] = []
    for kind, entries in document.items():
        for entry in entries if isinstance(entries, list) else [entries]:
            if isinstance(entry, Mapping):
                blocks.extend(_labelled(kind, (), entry))
    blocks.sort(key=lambda block: block.line)
    variables: dict[str, Any] = {}
    local_values: dict[str, Any] = {}
    for block in blocks:
        if block.kind == "variable" and block.labels and "default" in block.body:
            variables[block.labels[0]] = block.body["default"]
        elif block.kind == "locals":
            local_values.update(strip_meta(block.body))
    return TerraformFile(blocks, lines, variables, local_values)


def _labelled(kind: str, labels: tuple[str, ...], entry: Mapping[str, Any]) -> Iterator[Block]:
    """python-hcl2 nests one dict level per block label; the level holding line keys is the body."""
    if "__start_line__" in entry or kind in ("locals", "terraform"):
        start = int(entry.get("__start_line__", 0))
        yield Block(kind, labels, entry, start, int(entry.get("__end_line__", start)))
        return
    for label, inner in entry.items():
        if isinstance(inner, Mapping):
            yield from _labelled(kind, (*labels, label), inner)

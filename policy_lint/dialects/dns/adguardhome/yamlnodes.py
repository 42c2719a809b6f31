"""AdGuardHome.yaml read with the line of every value (PyYAML's safe composer, bounded).

`load(text, display)` gives an `Item` tree: mappings as `dict[str, Item]`, sequences as
`list[Item]`, scalars as Python values (bool, int, str, None), each with its 1-based line and
column. Aliases are expanded, but the tree is capped (a "billion laughs" file is an input
error, not a hang); malformed YAML is an InputError with its line.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

from policy_lint.inputs import InputError

MAX_NODES = 200_000


@dataclass(frozen=True)
class Item:
    value: Any  # dict[str, Item] | list[Item] | scalar
    line: int
    col: int

    def get(self, *keys: str) -> Item | None:
        """The item under the path of mapping keys, or None."""
        cur: Item | None = self
        for k in keys:
            if cur is None or not isinstance(cur.value, dict):
                return None
            cur = cur.value.get(k)
        return cur

    def items(self) -> list[Item]:
        return self.value if isinstance(self.value, list) else []

    def text(self) -> str:
        return "" if self.value is None or isinstance(self.value, dict | list) else str(self.value)


def load(text: str, display: str) -> Item:
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "syntax error"
        raise InputError(f"{display}: not valid YAML: {problem}{where}") from None
    if node is None:
        return Item({}, 1, 1)
    constructor = yaml.constructor.SafeConstructor()
    count = [0]

    def walk(n: yaml.Node) -> Item:
        count[0] += 1
        if count[0] > MAX_NODES:
            raise InputError(f"{display}: more than {MAX_NODES} YAML values (aliases expanding?)")
        line, col = n.start_mark.line + 1, n.start_mark.column + 1
        if isinstance(n, yaml.MappingNode):
            out: dict[str, Item] = {}
            for k, v in n.value:
                key = k.value if isinstance(k, yaml.ScalarNode) else str(k.start_mark)
                out[str(key)] = walk(v)
            return Item(out, line, col)
        if isinstance(n, yaml.SequenceNode):
            return Item([walk(v) for v in n.value], line, col)
        try:
            value = constructor.construct_object(n, deep=True)
        except (yaml.YAMLError, ValueError, TypeError):
            value = n.value
        return Item(value, line, col)

    try:
        return walk(node)
    except RecursionError:
        raise InputError(f"{display}: YAML nested too deeply") from None

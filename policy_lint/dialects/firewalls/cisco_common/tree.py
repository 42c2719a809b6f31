"""Cisco configuration text as a tree of indented lines, the way IOS, IOS-XE and ASA print it.

    hostname edge1
    !
    banner motd ^C
     Authorised use only ^C
    interface GigabitEthernet0/1
     ip access-group BLOCK in

A line starting in column 1 opens a section; more deeply indented lines below it are its
children (class-map > match, policy-map > class > police > conform-action). `!` lines (and
RANCID's `!Chassis type:` headers), ASA's `:` lines and blank lines are comments. A banner
(`banner motd ^C ... ^C`, any delimiter character or the two characters `^C`) is skipped up to
its closing delimiter, so its text never reads as commands. A Markdown note (`.md`) is read
from its fenced code blocks only (the other lines kept blank so line numbers stay those of the
file): a snippet pasted into documentation is a fragment of a config.

Why not ciscoconfparse2: it reads the same hierarchy, but installs thirteen packages with it
(hypothesis, rich, loguru, hier-config, typeguard, libpass, ...) for what is a sixty-line job.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from policy_lint.inputs import read_source
from policy_lint.model import Problem, Span

MARKDOWN_SUFFIXES = (".md", ".markdown")
_FENCE = re.compile(r"^\s*(```|~~~)")
_BANNER = re.compile(r"^banner\s+\S+\s*(\^C|\S)(.*)$", re.IGNORECASE)


@dataclass
class Node:
    """One configuration line, its words and the lines indented below it."""

    text: str
    span: Span
    indent: int
    children: list[Node] = field(default_factory=list)

    @property
    def words(self) -> list[str]:
        return self.text.split()

    def starts(self, *prefix: str) -> bool:
        """Whether the line's first words are `prefix` (case-insensitive)."""
        w = [x.lower() for x in self.words[: len(prefix)]]
        return w == [p.lower() for p in prefix]

    def walk(self) -> Iterator[Node]:
        """Every line below this one, in file order (iterative: a hostile file may nest deep)."""
        stack = list(reversed(self.children))
        while stack:
            node = stack.pop()
            yield node
            stack.extend(reversed(node.children))


@dataclass
class Tree:
    path: str
    roots: list[Node]
    problems: list[Problem]
    statements: int  # non-comment lines
    first: Span | None = None


def markdown_lines(lines: list[str]) -> list[str]:
    """Only the lines inside fenced code blocks, others blanked (line numbers kept)."""
    out: list[str] = []
    inside = False
    for line in lines:
        if _FENCE.match(line):
            inside = not inside
            out.append("")
        else:
            out.append(line if inside else "")
    return out


def is_comment(stripped: str) -> bool:
    return not stripped or stripped.startswith(("!", ":", "#"))


def read_tree(path: Path, shown: str | None = None) -> Tree:
    source = read_source(path, shown)
    lines = source.lines
    if path.suffix.lower() in MARKDOWN_SUFFIXES:
        lines = markdown_lines(lines)
    return build_tree(source.path, lines, list(source.problems))


def build_tree(shown: str, lines: list[str], problems: list[Problem]) -> Tree:
    roots: list[Node] = []
    stack: list[Node] = []
    statements = 0
    first: Span | None = None
    banner_end: str | None = None
    for number, raw in enumerate(lines, start=1):
        line = raw.replace("\t", " ").rstrip()
        stripped = line.strip()
        if banner_end is not None:
            if banner_end in stripped:
                banner_end = None
            continue
        if is_comment(stripped):
            continue
        indent = len(line) - len(line.lstrip(" "))
        span = Span(shown, number, indent + 1, stripped[:200])
        statements += 1
        if first is None:
            first = span
        m = _BANNER.match(stripped) if indent == 0 else None
        if m:
            # The delimiter opens the banner; its text runs to the next occurrence (maybe this line).
            delim, rest = m.group(1), m.group(2)
            if delim not in rest:
                banner_end = delim
            roots.append(Node(stripped, span, indent))
            stack = []
            continue
        node = Node(stripped, span, indent)
        while stack and stack[-1].indent >= indent:
            stack.pop()
        if stack:
            stack[-1].children.append(node)
        else:
            roots.append(node)
        stack.append(node)
    return Tree(shown, roots, problems, statements, first)

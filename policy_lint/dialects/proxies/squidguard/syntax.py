"""squidGuard.conf as text: statements (the words of one line) and `{ ... }` blocks.

The grammar only: what the statements mean is parse.py's job. A syntax error squidGuard refuses
is collected in `Parser.fatal` (TE901: squidGuard would run in emergency mode).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from policy_lint.model import Problem, Span
from policy_lint.records import FrozenRecord, Record

_BLOCK_WORDS = frozenset({"dest", "destination", "src", "source", "time", "rew", "rewrite", "acl"})


@dataclass(frozen=True, eq=False, repr=False)
class Stmt(FrozenRecord):
    words: tuple[str, ...]
    span: Span


@dataclass(eq=False, repr=False)
class Block(Record):
    head: Stmt  # e.g. ("dest", "social") or ("kids", "within", "work")
    body: list[Stmt] = field(default_factory=list)
    children: list[Block] = field(default_factory=list)  # acl entries inside `acl { }`
    else_body: list[Stmt] | None = None
    else_span: Span | None = None


_TOKEN = re.compile(r'"((?:[^"\\]|\\.)*)"|([{}])|([^\s{}"]+)')


def _tokens(lines: list[str]) -> Iterator[tuple[str, int, int, str]]:
    """(kind, line, col, text) with kind word|{|}|eol; `#` starts a comment anywhere outside
    a quoted string."""
    for n, raw in enumerate(lines, start=1):
        text = raw
        if "#" in text:
            quoted = False
            for i, c in enumerate(text):
                if c == '"':
                    quoted = not quoted
                elif c == "#" and not quoted:
                    text = text[:i]
                    break
        for m in _TOKEN.finditer(text):
            col = m.start() + 1
            if m.group(1) is not None:
                yield "word", n, col, m.group(1)
            elif m.group(2):
                yield m.group(2), n, col, m.group(2)
            else:
                yield "word", n, col, m.group(3)
        yield "eol", n, len(raw) + 1, ""


class Parser:
    """Statements are the words of one line; `{ ... }` opens a block (also mid-line, as in
    `src lan { ip 10.0.0.0/8 }`)."""

    def __init__(self, lines: list[str], display: str):
        self.lines = lines
        self.display = display
        self.toks = list(_tokens(lines))
        self.i = 0
        self.fatal: list[Problem] = []

    def _stmt(self, openers: frozenset[str] | None = frozenset()) -> tuple[Stmt | None, str]:
        """Words up to the end of the line, a `{` or a `}`; returns the statement and what ended
        it. A statement whose first word is in `openers` (None: any word) may have its `{` on
        the next line."""
        words: list[str] = []
        start = None
        while self.i < len(self.toks):
            kind, line, col, text = self.toks[self.i]
            if kind in ("eol", "{", "}"):
                self.i += 1
                if kind == "eol" and words and (openers is None or words[0].lower() in openers):
                    j = self.i
                    while j < len(self.toks) and self.toks[j][0] == "eol":
                        j += 1
                    if j < len(self.toks) and self.toks[j][0] == "{":
                        self.i = j + 1
                        kind = "{"
                if words:
                    return Stmt(tuple(words), self._span(start)), kind
                return None, kind
            if start is None:
                start = (line, col)
            words.append(text)
            self.i += 1
        return (Stmt(tuple(words), self._span(start)), "eof") if words else (None, "eof")

    def _span(self, start: tuple[int, int] | None) -> Span:
        line, col = start or (1, 1)
        text = self.lines[line - 1].strip() if 0 < line <= len(self.lines) else ""
        return Span(self.display, line, col, text)

    def _error(self, span: Span, message: str) -> None:
        self.fatal.append(Problem("TE901", span, message))

    def _body(self, opener: Stmt) -> list[Stmt]:
        body: list[Stmt] = []
        while True:
            stmt, end = self._stmt()
            if stmt is not None:
                body.append(stmt)
            if end == "}":
                return body
            if end == "{":
                self._error(
                    stmt.span if stmt else opener.span,
                    "a block opened inside a "
                    f"'{opener.words[0]}' block: squidGuard refuses this (syntax error)",
                )
                self._body(opener)
            if end == "eof":
                self._error(opener.span, f"block '{' '.join(opener.words)}' is never closed")
                return body

    def _else(self, block: Block) -> None:
        """An optional `else { ... }` right after a closed block (possibly on the next lines)."""
        j = self.i
        while j < len(self.toks) and self.toks[j][0] == "eol":
            j += 1
        if j + 1 < len(self.toks) and self.toks[j][3] == "else" and self.toks[j + 1][0] == "{":
            line, col = self.toks[j][1], self.toks[j][2]
            self.i = j + 2
            block.else_span = self._span((line, col))
            block.else_body = self._body(block.head)

    def parse(self) -> tuple[list[Stmt], list[Block]]:
        settings: list[Stmt] = []
        blocks: list[Block] = []
        while self.i < len(self.toks):
            stmt, end = self._stmt(_BLOCK_WORDS)
            if end == "{":
                if stmt is None:
                    self._error(self._span((self.toks[self.i - 1][1], 1)), "a block without a name")
                    self._body(Stmt(("?",), self._span(None)))
                    continue
                block = Block(stmt)
                if stmt.words[0] == "acl":
                    block.children = self._acl_entries(stmt)
                else:
                    block.body = self._body(stmt)
                    self._else(block)
                blocks.append(block)
            elif end == "}":
                span = stmt.span if stmt else self._span((self.toks[self.i - 1][1], 1))
                self._error(span, "a '}' without a block: squidGuard refuses this (syntax error)")
            elif stmt is not None:
                settings.append(stmt)
        return settings, blocks

    def _acl_entries(self, opener: Stmt) -> list[Block]:
        entries: list[Block] = []
        while True:
            stmt, end = self._stmt(None)
            if end == "{":
                if stmt is None:
                    self._error(opener.span, "an acl entry without a name")
                    self._body(opener)
                    continue
                entry = Block(stmt, self._body(stmt))
                self._else(entry)
                entries.append(entry)
            elif end == "}":
                if stmt is not None:
                    self._error(stmt.span, f"'{' '.join(stmt.words)}' inside acl without a block")
                return entries
            elif end == "eof":
                self._error(opener.span, "the acl block is never closed")
                return entries
            elif stmt is not None:
                self._error(stmt.span, f"'{' '.join(stmt.words)}' inside acl without a block")

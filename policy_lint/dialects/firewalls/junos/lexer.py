"""Junos configuration text as tokens: words, quoted strings, `{ } ; [ ]`, with `#` comments
(to the end of the line, where a word would start: `## Last commit: ...`, RANCID's and
Oxidized's `#` headers, `## SECRET-DATA`) and `/* ... */` annotations (possibly over several
lines) skipped. A quoted string is one word, its quotes and backslash escapes removed."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

PUNCT = "{};[]"


class LexError(ValueError):
    def __init__(self, message: str, line: int) -> None:
        super().__init__(message)
        self.line = line


@dataclass(frozen=True)
class Token:
    text: str
    line: int
    col: int
    quoted: bool = False

    @property
    def punct(self) -> bool:
        return not self.quoted and self.text in PUNCT


def tokens(lines: list[str], first_line: int = 1) -> Iterator[Token]:
    """The tokens of `lines` (numbered from `first_line`)."""
    in_comment = False
    for n, line in enumerate(lines, start=first_line):
        i, end = 0, len(line)
        while i < end:
            if in_comment:
                close = line.find("*/", i)
                if close < 0:
                    break
                in_comment, i = False, close + 2
                continue
            c = line[i]
            if c.isspace():
                i += 1
            elif c == "#":
                break
            elif line.startswith("/*", i):
                in_comment, i = True, i + 2
            elif c in PUNCT:
                yield Token(c, n, i + 1)
                i += 1
            elif c == '"':
                j, out = i + 1, []
                while j < end and line[j] != '"':
                    if line[j] == "\\" and j + 1 < end:
                        j += 1
                    out.append(line[j])
                    j += 1
                if j >= end:
                    raise LexError("unterminated quoted string", n)
                yield Token("".join(out), n, i + 1, quoted=True)
                i = j + 1
            else:
                j = i
                while j < end and not line[j].isspace() and line[j] not in PUNCT and line[j] != '"':
                    j += 1
                yield Token(line[i:j], n, i + 1)
                i = j
    if in_comment:
        raise LexError("unterminated /* comment", first_line + max(len(lines) - 1, 0))

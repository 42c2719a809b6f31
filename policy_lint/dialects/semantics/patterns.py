"""Regular expressions from untrusted configs, evaluated with a time bound.

The standard `re` module cannot be interrupted, so a catastrophic pattern in a config could
hang the linter. The `regex` module accepts a timeout per call; a pattern that runs out of
time answers `None` ("could not decide"), which the caller turns into an `unknown` verdict
and a TE9xx finding.

A pattern that is a plain string (letters, digits, `_ - /`, escaped `\\. \\- \\/ \\: \\@`, with
an optional `^` first and `$` last), the usual word list of a url_regex or dstdom_regex ACL,
is searched for as a string in ASCII text, with the same answers (`$` also matches before a
final newline, as in `re`); its regex is compiled only when something asks for it (other text,
or `.compiled`). A config of such patterns does not import `regex` at all (start-up time).

A simple pattern, the same characters and `.`, each optionally followed by one of `* + ?`
(squidGuard's `s@.*\\.exe*@...@i` rewrites), is a valid regex in any engine, so it too is
compiled only on use. Its matches are those of `re` on ASCII text: a pattern without groups,
alternatives, classes or flags other than case is read alike by `re` and `regex`'s VERSION0,
and on ASCII text ignoring case folds only ASCII letters in both. With no group to nest, a
backtracking search takes at most (atoms + n + 1) * 2**optional * (n + 1)**(repeats + 1) steps
on a text of n characters: when that is small (as on the few dozen characters of a request
line), `re` runs it, and no time bound is needed; else `regex` does, with its time-out. Such a
pattern also names a string every match contains (its longest run of plain characters): a
text without it has no match, and no engine is asked at all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from policy_lint.records import FrozenRecord

SEARCH_TIMEOUT_SECONDS = 0.25

_LITERAL = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-/")
_ESCAPED = frozenset(".-/:@")  # `\` + one of these is that character, in every regex dialect
_REPEATS = frozenset("*+?")
# The most backtracking steps a simple pattern may take in `re` (no time-out there): a few ms.
MAX_UNBOUNDED_STEPS = 1_000_000


class PatternError(ValueError):
    pass


def literal_form(pattern: str) -> tuple[str, bool, bool] | None:
    """(the string, anchored at the start, anchored at the end) when `pattern` matches just
    that string; None for any other pattern."""
    start = pattern.startswith("^")
    body = pattern[1:] if start else pattern
    end = False
    out: list[str] = []
    i, n = 0, len(body)
    while i < n:
        ch = body[i]
        if ch == "\\" and i + 1 < n and body[i + 1] in _ESCAPED:
            out.append(body[i + 1])
            i += 2
        elif ch == "$" and i == n - 1:
            end = True
            i += 1
        elif ch in _LITERAL:
            out.append(ch)
            i += 1
        else:
            return None
    return ("".join(out), start, end) if out else None


def simple_form(pattern: str, ignore_case: bool) -> tuple[str, bool, int, int, int] | None:
    """For a simple pattern (see the module docstring): (a string every match contains, lowercase
    when ignoring case, or ""; ignore case; its atoms, `*`/`+` repeats, and 2**optional atoms:
    the terms of its step bound); None for any other pattern."""
    body = pattern[1:] if pattern.startswith("^") else pattern
    if body.endswith("$") and not body.endswith("\\$"):
        body = body[:-1]
    atoms: list[tuple[str | None, str]] = []  # (the character, None for `.`; its repeat or "")
    i, n = 0, len(body)
    while i < n:
        ch = body[i]
        if ch == "\\" and i + 1 < n and body[i + 1] in _ESCAPED:
            atom: str | None = body[i + 1]
            i += 2
        elif ch in _LITERAL:
            atom = ch
            i += 1
        elif ch == ".":
            atom = None
            i += 1
        else:
            return None
        repeat = body[i] if i < n and body[i] in _REPEATS else ""
        i += len(repeat)
        atoms.append((atom, repeat))
    if not atoms:
        return None
    best, run = "", ""
    for atom, repeat in atoms:
        if atom is not None and not repeat:
            run += atom
            best = max(best, run, key=len)
        else:
            run = ""
    repeats = sum(1 for _a, r in atoms if r in ("*", "+"))
    optional = sum(1 for _a, r in atoms if r == "?")
    return (best.lower() if ignore_case else best), ignore_case, len(atoms), repeats, 2**optional


class _LazyCompiled:
    """A regex compiled when first used (a plain-string pattern rarely needs it)."""

    __slots__ = ("_compiled", "_ignore_case", "_pattern")

    def __init__(self, pattern: str, ignore_case: bool) -> None:
        self._pattern, self._ignore_case = pattern, ignore_case
        self._compiled: Any = None

    def _get(self) -> Any:
        if self._compiled is None:
            import regex

            flags = regex.IGNORECASE if self._ignore_case else 0
            self._compiled = regex.compile(self._pattern, flags | regex.VERSION0)
        return self._compiled

    def __getattr__(self, name: str) -> Any:
        return getattr(self._get(), name)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, _LazyCompiled):
            return NotImplemented
        return (self._pattern, self._ignore_case) == (other._pattern, other._ignore_case)

    def __hash__(self) -> int:
        return hash((self._pattern, self._ignore_case))


@dataclass(frozen=True, repr=False)
class BoundedPattern(FrozenRecord):
    source: str
    compiled: Any  # a regex.Pattern (for a plain-string or simple pattern, one compiled on first use)
    # (string, ^, $, ignore case) of a plain-string pattern; the string lowercased when ignoring case
    literal: tuple[str, bool, bool, bool] | None = field(default=None, compare=False)
    simple: tuple[str, bool, int, int, int] | None = field(default=None, compare=False)  # simple_form

    @classmethod
    def compile(cls, pattern: str, ignore_case: bool = False) -> BoundedPattern:
        plain = literal_form(pattern)
        simple = simple_form(pattern, ignore_case)
        if plain is not None:
            text, start, end = plain
            return cls(
                pattern,
                _LazyCompiled(pattern, ignore_case),
                (text.lower() if ignore_case else text, start, end, ignore_case),
                simple,
            )
        if simple is not None:
            return cls(pattern, _LazyCompiled(pattern, ignore_case), None, simple)
        import regex  # imported on first use: most configs have no patterns (start-up time)

        flags = regex.IGNORECASE if ignore_case else 0
        try:
            return cls(pattern, regex.compile(pattern, flags | regex.VERSION0))
        except (regex.error, OverflowError, RecursionError) as exc:
            raise PatternError(f"invalid regular expression {pattern!r}: {exc}") from None

    def search(self, text: str) -> bool | None:
        """True/False, or None when the pattern ran out of time on this text."""
        if self.literal is not None and text.isascii():
            # ASCII text: case folding and `$` are those of the string methods below.
            lit, start, end, ignore_case = self.literal
            subject = text.lower() if ignore_case else text
            if start and end:
                return subject in (lit, lit + "\n")
            if start:
                return subject.startswith(lit)
            if end:
                return subject.endswith((lit, lit + "\n"))
            return lit in subject
        try:
            return self.find(text) is not None
        except TimeoutError:
            return None

    def find(self, text: str) -> Any:
        """The first match in `text` (a match object: start(), end(), group(n)) or None; raises
        TimeoutError when the pattern ran out of time on this text."""
        if self.simple is not None:
            required, ignore_case, atoms, repeats, optional = self.simple
            ascii_text = text.isascii()
            # Ignoring case, ASCII text folds as str.lower() does (see the module docstring).
            if (
                required
                and (ascii_text or not ignore_case)
                and required not in (text.lower() if ignore_case else text)
            ):
                return None
            n = len(text)
            if ascii_text and (atoms + n + 1) * optional * (n + 1) ** (repeats + 1) <= MAX_UNBOUNDED_STEPS:
                return re.compile(self.source, re.IGNORECASE if ignore_case else 0).search(text)
        return self.compiled.search(text, timeout=SEARCH_TIMEOUT_SECONDS)

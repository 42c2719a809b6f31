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
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SEARCH_TIMEOUT_SECONDS = 0.25

_LITERAL = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-/")
_ESCAPED = frozenset(".-/:@")  # `\` + one of these is that character, in every regex dialect


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


@dataclass(frozen=True)
class BoundedPattern:
    source: str
    compiled: Any  # a regex.Pattern (for a plain-string pattern, one compiled on first use)
    # (string, ^, $, ignore case) of a plain-string pattern; the string lowercased when ignoring case
    literal: tuple[str, bool, bool, bool] | None = field(default=None, compare=False)

    @classmethod
    def compile(cls, pattern: str, ignore_case: bool = False) -> BoundedPattern:
        plain = literal_form(pattern)
        if plain is not None:
            text, start, end = plain
            return cls(
                pattern,
                _LazyCompiled(pattern, ignore_case),
                (text.lower() if ignore_case else text, start, end, ignore_case),
            )
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
            return self.compiled.search(text, timeout=SEARCH_TIMEOUT_SECONDS) is not None
        except TimeoutError:
            return None

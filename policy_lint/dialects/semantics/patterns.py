"""Regular expressions from untrusted configs, evaluated with a time bound.

The standard `re` module cannot be interrupted, so a catastrophic pattern in a config could
hang the linter. The `regex` module accepts a timeout per call; a pattern that runs out of
time answers `None` ("could not decide"), which the caller turns into an `unknown` verdict
and a TE9xx finding.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

SEARCH_TIMEOUT_SECONDS = 0.25


class PatternError(ValueError):
    pass


@dataclass(frozen=True)
class BoundedPattern:
    source: str
    compiled: Any  # a regex.Pattern

    @classmethod
    def compile(cls, pattern: str, ignore_case: bool = False) -> BoundedPattern:
        import regex  # imported on first use: most configs have no patterns (start-up time)

        flags = regex.IGNORECASE if ignore_case else 0
        try:
            return cls(pattern, regex.compile(pattern, flags | regex.VERSION0))
        except (regex.error, OverflowError, RecursionError) as exc:
            raise PatternError(f"invalid regular expression {pattern!r}: {exc}") from None

    def search(self, text: str) -> bool | None:
        """True/False, or None when the pattern ran out of time on this text."""
        try:
            return self.compiled.search(text, timeout=SEARCH_TIMEOUT_SECONDS) is not None
        except TimeoutError:
            return None

"""Helpers for `detect(path, head)`: how sure a dialect may be that a file is its own."""

from __future__ import annotations

import re
from pathlib import Path

# Files of these kinds quote configurations (documentation, code, structured data): a line that
# looks like a rule there is an example, not a rule. Dialects that read such formats on purpose
# (pfSense XML, nft JSON, browser-policy JSON) do not use this check.
QUOTING_SUFFIXES = (".md", ".html", ".py", ".json", ".yaml", ".yml", ".xml")


def statement_hits(path: Path, head: str, statement: re.Pattern[str]) -> int:
    """How many lines of `head` are statements of the dialect (0 for a quoting file kind)."""
    if path.suffix.lower() in QUOTING_SUFFIXES:
        return 0
    return len(statement.findall(head))

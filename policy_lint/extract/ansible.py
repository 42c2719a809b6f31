"""stub"""

from __future__ import annotations

from pathlib import Path

from policy_lint.dialects.semantics.base import ParseContext
from policy_lint.extract.model import Extraction
from policy_lint.inputs import SourceText


def claims(path: Path, head: str) -> bool:
    return False


def extract(path: Path, source: SourceText, context: ParseContext) -> Extraction:
    return Extraction([])

"""The base revision's lints, offered to the head revision for the files a change leaves alone.

A file's lint is reused only when the file's blob is the same on both sides, every file it
pulled in (an include, a list) has the same blob on both sides, and no file was added or
removed anywhere: an added file may be a list a config names but did not find before, a
removed one a list it found. Anything else is linted again.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from policy_lint.engine import LintedFile


@dataclass
class RevisionCache:
    base_root: Path
    base_blobs: dict[str, str]  # repository-relative path -> blob id
    head_root: Path | None = None
    head_blobs: dict[str, str] = field(default_factory=dict)
    lints: dict[str, LintedFile] = field(default_factory=dict)
    reused: int = 0

    def __post_init__(self) -> None:
        self.base_root = self.base_root.resolve()

    def offer_to(self, head_root: Path, head_blobs: dict[str, str]) -> None:
        """Stop recording the base; answer the head revision's look-ups from now on."""
        self.head_root = head_root.resolve()
        self.head_blobs = head_blobs

    def put(self, path: Path, linted: LintedFile) -> None:
        if self.head_root is None:
            relative = self._relative(path, self.base_root)
            if relative is not None:
                self.lints[relative] = linted

    def get(self, path: Path) -> LintedFile | None:
        if self.head_root is None or set(self.base_blobs) != set(self.head_blobs):
            return None
        relative = self._relative(path, self.head_root)
        linted = self.lints.get(relative) if relative is not None else None
        if linted is None or not self._same(relative):
            return None
        read = [self._relative(Path(p), self.base_root) for p in (*linted.read, *linted.report.included)]
        if any(r is None or not self._same(r) for r in read):
            return None
        self.reused += 1
        return LintedFile(
            replace(linted.report, included=[self._moved(p) for p in linted.report.included]),
            linted.audiences,
            frozenset(self._moved(p) for p in linted.read),
        )

    def _same(self, relative: str | None) -> bool:
        return relative is not None and self.base_blobs.get(relative) == self.head_blobs.get(relative)

    def _moved(self, absolute: str) -> str:
        assert self.head_root is not None  # only called while answering the head's look-ups
        relative = self._relative(Path(absolute), self.base_root)
        return str(self.head_root / relative) if relative is not None else absolute

    @staticmethod
    def _relative(path: Path, root: Path) -> str | None:
        resolved = path.resolve()
        if resolved != root and root not in resolved.parents:
            return None
        return resolved.relative_to(root).as_posix()

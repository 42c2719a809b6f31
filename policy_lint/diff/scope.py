"""Which files a change can affect, so that a one-line change to one file of a large repository
costs about one file's lint on each side rather than two whole-repository lints.

A file's lint depends on its own text, on the files it reads, and on the settings and policy.
A config names a file it reads by a path that ends in the file's name (the resolver tries ever
shorter tails of a path, down to the name), or by a glob whose literal part names one of the
file's directories, or by a bare glob (`*.conf`) next to the config or at the root. So an
unchanged file that mentions none of a changed file's name and directory names, and holds no
glob beside it, lints the same on both sides and need not be linted at all. A changed settings
file or policy changes every verdict: then everything is linted.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from policy_lint.config import SETTINGS_FILES

_GLOB = (b"*", b"?", b"[")


def changed_paths(base: dict[str, str], head: dict[str, str]) -> set[str]:
    """Paths (on either side) whose blob differs, or that exist on one side only."""
    return {p for p in base.keys() | head.keys() if base.get(p) != head.get(p)}


def affected(tree: Path, candidates: list[str], changed: set[str], policies: set[str]) -> list[str] | None:
    """The candidates (repository-relative files of `tree`) the change can affect, or None when
    it can affect every file (settings or policy changed)."""
    if any(PurePosixPath(p).name in SETTINGS_FILES for p in changed) or changed & policies:
        return None
    names: set[bytes] = set()
    directories: set[str] = set()
    for path in changed:
        pure = PurePosixPath(path)
        names.add(pure.name.encode())
        names.update(part.encode() for part in pure.parent.parts)
        directories.add(pure.parent.as_posix())
    chosen = []
    for candidate in candidates:
        if candidate in changed:
            chosen.append(candidate)
            continue
        try:
            text = (tree / candidate).read_bytes()
        except OSError:
            chosen.append(candidate)  # unreadable here: let the lint say why
            continue
        beside = PurePosixPath(candidate).parent.as_posix() in directories or "." in directories
        if any(name in text for name in names) or (beside and any(g in text for g in _GLOB)):
            chosen.append(candidate)
    return chosen

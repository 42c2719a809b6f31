"""`policy-lint diff`: what a change does to the verdicts, for pull requests and pre-commit.

Both sides are read from git (a commit's tree, the index, or the working tree's tracked and
untracked files) into a private directory, never by checking anything out; the head side
reuses the base side's lint of every file the change leaves alone (see `reuse`).

- `revisions`: the sides and their files, from git's objects.
- `sides`: lint one side as `check` lints a repository.
- `reuse`: the base's lints offered to the head for unchanged files.
- `compare`: verdict changes and findings introduced or resolved.
- `render`: text, JSON, SARIF, GitHub annotations, Markdown.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from policy_lint.diff.compare import Comparison, compare
from policy_lint.diff.reuse import RevisionCache
from policy_lint.diff.revisions import (
    INDEX,
    WORKTREE,
    Side,
    commit_side,
    entries,
    renames,
    top_level,
    write_tree,
)
from policy_lint.diff.scope import affected, changed_paths
from policy_lint.diff.sides import Request, lint_side, lintable, policy_paths
from policy_lint.inputs import InputError
from policy_lint.network.segments import declares_network

# git's empty tree: the base of a repository's first commit.
EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"

__all__ = ["Comparison", "review"]


def review(
    start: Path,
    revisions: tuple[str, ...],
    staged: bool,
    paths: tuple[Path, ...],
    policy: Path | None,
    dialect: str | None,
    log: Any = None,
) -> Comparison:
    """Compare REV1 (default HEAD) with REV2, the index (`staged`) or the working tree."""
    repo = top_level(start).resolve()
    if len(revisions) > 2:
        raise InputError("diff takes at most two revisions")
    if staged and len(revisions) == 2:
        raise InputError("--staged compares a revision with the index: give at most one revision")
    if revisions:
        base = commit_side(repo, revisions[0])
    else:
        try:
            base = commit_side(repo, "HEAD")
        except InputError:
            base = Side(EMPTY_TREE, "(no commits)")
    if len(revisions) == 2:
        head = commit_side(repo, revisions[1])
    else:
        head = Side(INDEX, "index") if staged else Side(WORKTREE, "working tree")
    relative = tuple(_inside(repo, p) for p in paths)
    moved = renames(repo, base, head)
    base_files, head_files = entries(repo, base), entries(repo, head)
    base_blobs = {p: e.blob for p, e in base_files.items()}
    head_blobs = {p: e.blob for p, e in head_files.items()}
    changed = changed_paths(base_blobs, head_blobs)
    with tempfile.TemporaryDirectory(prefix="policy-lint-diff-") as tmp:
        base_tree = Path(tmp) / "base"
        write_tree(repo, base, base_files, base_tree)
        # The working tree is linted where it is (read, never written); other sides are written out.
        head_tree = repo if head.ref == WORKTREE else Path(tmp) / "head"
        if head_tree != repo:
            write_tree(repo, head, head_files, head_tree)
        policies = policy_paths(base_tree) | policy_paths(head_tree)
        cache = RevisionCache(base_tree, base_blobs)
        scopes: list[list[str]] = []
        for tree in (base_tree, head_tree):
            candidates = lintable(
                tree, relative + tuple(old for old, new in moved.items() if new in relative)
            )
            chosen = affected(tree, candidates, changed, policies)
            if declares_network(tree):
                chosen = None  # a segment's verdict depends on every file on its path
            scopes.append(candidates if chosen is None else chosen)
        before = lint_side(base_tree, scopes[0], Request(policy, dialect, log), cache)
        cache.offer_to(head_tree, head_blobs)
        after = lint_side(head_tree, scopes[1], Request(policy, dialect, log), cache)
    result = compare(before, after, moved, base.label, head.label)
    result.reused = cache.reused
    return result


def _inside(repo: Path, path: Path) -> str:
    absolute = path.resolve()
    if absolute != repo and repo not in absolute.parents:
        raise InputError(f"{path}: outside the repository {repo}")
    return absolute.relative_to(repo).as_posix() if absolute != repo else "."

"""Two states of a git repository, read from git's objects without touching the working tree.

A side is a commit (any revision git names), the index (`--staged`: what a commit would hold,
what pre-commit sees) or the working tree (tracked and untracked files, `.gitignore` obeyed).
Each side is listed with the blob id of every file, so that files unchanged between the sides
are known without reading them, and written out into a private directory to be linted there.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from policy_lint.inputs import InputError

INDEX = ":index"
WORKTREE = ":worktree"
_SYMLINK, _GITLINK = "120000", "160000"
_GIT_TIMEOUT = 300


@dataclass(frozen=True)
class Entry:
    path: str  # repository-relative, '/'-separated
    mode: str
    blob: str


@dataclass(frozen=True)
class Side:
    """One state of the repository: a commit id, INDEX or WORKTREE, and how the user named it."""

    ref: str
    label: str

    @property
    def is_commit(self) -> bool:
        return self.ref not in (INDEX, WORKTREE)


def _git(repo: Path, *args: str, stdin: bytes | None = None) -> bytes:
    try:
        done = subprocess.run(
            ["git", "-C", str(repo), *args],
            input=stdin,
            capture_output=True,
            timeout=_GIT_TIMEOUT,
            # Reading must not take the index lock a concurrent `git commit` (pre-commit) holds.
            env={**os.environ, "GIT_OPTIONAL_LOCKS": "0"},
        )
    except FileNotFoundError:
        raise InputError("git is not installed") from None
    except subprocess.TimeoutExpired:
        raise InputError(f"git {args[0]} took longer than {_GIT_TIMEOUT} s") from None
    if done.returncode != 0:
        message = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise InputError(f"git {args[0]}: {message[-1] if message else 'failed'}")
    return done.stdout


def top_level(path: Path) -> Path:
    """The work tree holding `path`, or InputError when it is not in a git repository."""
    start = path if path.is_dir() else path.parent
    try:
        return Path(_git(start, "rev-parse", "--show-toplevel").decode().strip())
    except InputError:
        raise InputError(f"{path}: not inside a git repository") from None


def commit_side(repo: Path, revision: str) -> Side:
    try:
        sha = _git(repo, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{revision}^{{commit}}")
    except InputError:
        raise InputError(f"{revision}: unknown revision") from None
    return Side(sha.decode().strip(), revision)


def _split_z(data: bytes) -> Iterator[str]:
    for item in data.split(b"\0"):
        if item:
            yield item.decode("utf-8", "surrogateescape")


def entries(repo: Path, side: Side) -> dict[str, Entry]:
    """Every file of `side` with its mode and blob id (submodules left out: they are not files)."""
    found: dict[str, Entry] = {}
    if side.is_commit:
        for record in _split_z(_git(repo, "ls-tree", "-r", "-z", "--full-tree", side.ref)):
            meta, path = record.split("\t", 1)
            mode, kind, blob = meta.split()
            if kind == "blob":
                found[path] = Entry(path, mode, blob)
    elif side.ref == INDEX:
        for record in _split_z(_git(repo, "ls-files", "-s", "-z")):
            meta, path = record.split("\t", 1)
            mode, blob, stage = meta.split()
            if stage != "0":
                raise InputError(f"{path}: unmerged in the index; resolve the conflict first")
            if mode != _GITLINK:
                found[path] = Entry(path, mode, blob)
    else:
        paths = [
            p
            for p in _split_z(_git(repo, "ls-files", "-z", "-c", "-o", "--exclude-standard", "--deduplicate"))
            if (repo / p).is_file() or (repo / p).is_symlink()
        ]
        files = [p for p in paths if not (repo / p).is_symlink()]
        blobs = _git(repo, "hash-object", "--no-filters", "--stdin-paths", stdin="\n".join(files).encode())
        for path, blob in zip(files, blobs.decode().split(), strict=True):
            found[path] = Entry(path, "100644", blob)
        for path in paths:
            if (repo / path).is_symlink():
                # A link's blob is its target's text, so it compares with the link in a commit.
                target = os.readlink(repo / path).encode("utf-8", "surrogateescape")
                found[path] = Entry(
                    path, _SYMLINK, _git(repo, "hash-object", "--stdin", stdin=target).decode().strip()
                )
    return found


def renames(repo: Path, base: Side, head: Side) -> dict[str, str]:
    """Files renamed from `base` to `head` (old path -> new path), as git's rename detection sees them."""
    if head.ref == INDEX:
        args = ["diff", "--cached", "-M", "--name-status", "-z", base.ref]
    elif head.ref == WORKTREE:
        args = ["diff", "-M", "--name-status", "-z", base.ref]
    else:
        args = ["diff", "-M", "--name-status", "-z", base.ref, head.ref]
    fields = list(_split_z(_git(repo, *args)))
    moved: dict[str, str] = {}
    i = 0
    while i < len(fields):
        status = fields[i]
        if status.startswith(("R", "C")):
            if status.startswith("R"):
                moved[fields[i + 1]] = fields[i + 2]
            i += 3
        else:
            i += 2
    return moved


def write_tree(repo: Path, side: Side, files: dict[str, Entry], dest: Path) -> None:
    """Write `files` of a commit or the index under `dest` (blobs from git's object store). A
    symbolic link is kept only when it points inside the tree."""
    assert side.ref != WORKTREE, "the working tree is linted in place"
    dest.mkdir(parents=True, exist_ok=True)
    made: set[Path] = {dest}
    links = {p: e for p, e in files.items() if e.mode == _SYMLINK}
    plain = {p: e for p, e in files.items() if e.mode != _SYMLINK}
    _write_blobs(repo, plain, dest, made)
    for path, entry in links.items():
        pointed = _git(repo, "cat-file", "blob", entry.blob).decode("utf-8", "surrogateescape")
        target = _target(dest, path, made)
        resolved = (target.parent / pointed).resolve()
        if resolved == dest.resolve() or dest.resolve() in resolved.parents:
            target.symlink_to(pointed)


def _target(dest: Path, path: str, made: set[Path]) -> Path:
    parts = PurePosixPath(path).parts
    if not parts or any(p in ("..", "") for p in parts) or PurePosixPath(path).is_absolute():
        raise InputError(f"{path}: not a path inside the repository")
    target = dest.joinpath(*parts)
    if target.parent not in made:
        target.parent.mkdir(parents=True, exist_ok=True)
        made.add(target.parent)
    return target


def _write_blobs(repo: Path, files: dict[str, Entry], dest: Path, made: set[Path]) -> None:
    """Stream every blob through one `git cat-file --batch` (one process, not one per file)."""
    if not files:
        return
    process = subprocess.Popen(
        ["git", "-C", str(repo), "cat-file", "--batch"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "GIT_OPTIONAL_LOCKS": "0"},
    )
    assert process.stdin is not None and process.stdout is not None  # both are pipes
    try:
        # One id at a time, its answer read before the next: neither pipe can fill up while the
        # other side waits.
        out = process.stdout
        for path in files:
            process.stdin.write((files[path].blob + "\n").encode())
            process.stdin.flush()
            header = out.readline().split()
            if len(header) != 3:
                raise InputError(f"{path}: blob {files[path].blob} missing from the repository")
            size = int(header[2])
            with open(_target(dest, path, made), "wb") as fh:
                remaining = size
                while remaining:
                    chunk = out.read(min(remaining, 1 << 20))
                    if not chunk:
                        raise InputError(f"{path}: git stopped while reading the blob")
                    fh.write(chunk)
                    remaining -= len(chunk)
            out.read(1)  # the newline after each object
    finally:
        process.stdin.close()
        process.wait(timeout=_GIT_TIMEOUT)

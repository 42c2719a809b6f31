"""Reading untrusted config files safely, and resolving the files they reference.

Configs come from repositories we do not trust: sizes are bounded, binary files refused,
non-UTF-8 text read as Latin-1 with a problem recorded, overlong lines skipped, and referenced
paths resolved only inside the lint root (never escaping it through `..` or symlinks).
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from policy_lint.model import Problem, Span
from policy_lint.records import FrozenRecord, Record

MAX_FILE_BYTES = 256 * 1024 * 1024
MAX_LINE_CHARS = 1024 * 1024
BINARY_SNIFF_BYTES = 8192


class InputError(Exception):
    """Input that cannot be linted at all: reported as one line, exit status 2."""


@dataclass(eq=False, repr=False)
class SourceText(Record):
    path: str
    lines: list[str]
    problems: list[Problem] = field(default_factory=list)


def _looks_binary(head: bytes) -> bool:
    if b"\x00" in head:
        return True
    if not head:
        return False
    controls = sum(1 for b in head if b < 9 or 13 < b < 32)
    return controls / len(head) > 0.1


def read_source(path: str | os.PathLike, display: str | None = None) -> SourceText:
    """Read a config file as lines, or raise InputError with a one-line reason."""
    shown = display or str(path)
    p = Path(path)
    try:
        size = p.stat().st_size
        if size > MAX_FILE_BYTES:
            raise InputError(f"{shown}: file too large ({size} bytes; limit {MAX_FILE_BYTES})")
        data = p.read_bytes()
    except InputError:
        raise
    except IsADirectoryError:
        raise InputError(f"{shown}: is a directory") from None
    except OSError as exc:
        raise InputError(f"{shown}: cannot read: {exc.strerror or exc}") from None
    if _looks_binary(data[:BINARY_SNIFF_BYTES]):
        raise InputError(f"{shown}: binary file, not a configuration")
    problems: list[Problem] = []
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        bad_line = data[: exc.start].count(b"\n") + 1
        problems.append(Problem("TE902", Span(shown, bad_line, 1), "not valid UTF-8; read as Latin-1"))
        text = data.decode("latin-1")
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if len(line) > MAX_LINE_CHARS:
            problems.append(
                Problem(
                    "TE902",
                    Span(shown, i + 1, 1),
                    f"line of {len(line)} characters skipped (limit {MAX_LINE_CHARS})",
                )
            )
            lines[i] = ""
    return SourceText(shown, lines, problems)


def find_root(config: Path) -> Path:
    """The git work tree holding `config`, else the current directory."""
    for parent in [config.resolve().parent, *config.resolve().parents]:
        if (parent / ".git").exists():
            return parent
    return Path.cwd().resolve()


@dataclass(frozen=True, eq=False, repr=False)
class Resolver(FrozenRecord):
    """Resolves paths named inside configs: absolute ones under `root`, then next to the
    config (by ever shorter tails of the path, down to the basename); relative ones next to
    the config, then under `root`."""

    root: Path
    # Every file resolve() or glob() found (resolved paths): what the configs pulled in, so a
    # directory scan does not call such a file skipped.
    found: set[str] = field(default_factory=set, compare=False, hash=False)
    # The root's and config directories' resolved paths: `inside` runs for every candidate of
    # every reference, and resolving costs a system call per path component.
    _bases: dict[Path, Path] = field(default_factory=dict, init=False, compare=False, hash=False, repr=False)
    # Resolved directories by absolute path (see _real): the candidates of one reference share
    # most of their directories, and resolving each path anew cost ~1,300 lstat calls for a
    # squidGuard config of 28 lists (issue #20).
    _reals: dict[str, str] = field(default_factory=dict, init=False, compare=False, hash=False, repr=False)

    def _real_dir(self, directory: Path) -> Path:
        real = self._bases.get(directory)
        if real is None:
            real = self._bases[directory] = directory.resolve()
        return real

    def _real(self, path: str) -> str:
        """os.path.realpath of an absolute path without `..`, component by component with each
        directory's answer remembered: a component that is no symbolic link (or does not
        exist) is appended as it is, as realpath does; a link is resolved by Path.resolve
        (which raises as it would for a loop)."""
        real = self._reals.get(path)
        if real is None:
            parent, name = os.path.split(path)
            if not name:
                real = os.path.realpath(path)  # the file system's root
            else:
                joined = os.path.join(self._real(parent), name)
                try:
                    link = stat.S_ISLNK(os.lstat(joined).st_mode)
                except OSError:
                    link = False
                real = str(Path(joined).resolve()) if link else joined
            self._reals[path] = real
        return real

    def inside(self, candidate: Path, config_dir: Path) -> bool:
        """Whether `candidate` (links resolved) lies under the root or the config's directory."""
        if ".." in candidate.parts:
            real = candidate.resolve()  # `..` after a link is the link target's parent: realpath's walk
        else:
            real = Path(self._real(os.path.abspath(candidate)))
        # `real == base or base in real.parents`, without a Path made for each parent.
        parts = real.parts
        return any(
            parts[: len(base.parts)] == base.parts
            for base in (self._real_dir(self.root), self._real_dir(config_dir))
        )

    def candidates(self, reference: str, config: Path) -> list[Path]:
        config_dir = config.parent
        ref = reference.strip()
        if ref.startswith("/"):
            # Repos hold the contents of /etc/squid (or /etc) rather than the whole tree: after
            # the root, try ever shorter tails of the path next to the config, down to the name.
            parts = Path(ref).parts[1:]
            first = [self.root / ref.lstrip("/")] + [
                config_dir.joinpath(*parts[k:]) for k in range(len(parts))
            ]
        else:
            first = [config_dir / ref, self.root / ref, config_dir / Path(ref).name]
        return [c for c in first if self.inside(c, config_dir)]

    def resolve(self, reference: str, config: Path) -> Path | None:
        for c in self.candidates(reference, config):
            if c.is_file():
                self.found.add(str(c.resolve()))
                return c
        return None

    def glob(self, pattern: str, config: Path) -> list[Path]:
        """Expand a glob reference (squid `include /etc/squid/conf.d/*.conf`)."""
        ref = pattern.strip()
        if ref.startswith("/"):
            parts = Path(ref).parts[1:]
            tries = [(self.root, "/".join(parts))] + [
                (config.parent, "/".join(parts[k:])) for k in range(len(parts))
            ]
        else:
            tries = [(config.parent, ref), (self.root, ref)]
        for base, rel in tries:
            hits = sorted(p for p in base.glob(rel) if p.is_file() and self.inside(p, config.parent))
            if hits:
                self.found.update(str(h.resolve()) for h in hits)
                return hits
        return []

    def display(self, path: Path) -> str:
        """A path as users see it: relative to the current directory when below it."""
        real = Path(os.path.abspath(path))
        cwd = Path.cwd()
        return str(real.relative_to(cwd)) if real.is_relative_to(cwd) else str(real)

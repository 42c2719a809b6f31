"""Which dialect claimed a file no dialect's file-name patterns matched, remembered on disk.

A file whose name no dialect's FILE_PATTERNS match (`refresh_patterns.conf`, `acl.rules`) is
offered to every dialect, and asking every dialect imports every dialect module: about half a
second, ten times the lint of a small file. The answer depends only on the dialects' code, the
path as given and the file's head, so it is kept under

    $XDG_CACHE_HOME/policy-lint/detect-<code>/<sha256 of path and head>

where <code> is the sha256 of every source file of `policy_lint.dialects` (a new version, or
any edit of a dialect, is another directory: an answer of other code is never read), and each
entry holds its full key too, checked on reading. The entry is the winning module's name, or ""
when none was confident enough. No cache directory (no home, read-only, POLICY_LINT_NO_CACHE)
means detection as if there were no cache. Creating a directory for new code removes the
directories of other code unused for a month (catalog.cache.prune); a used directory's
modification time is refreshed at most once a day.

Only this fallback is cached: a file a name pattern points to is decided by the few dialects
the pattern names, which is cheap.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from functools import cache
from pathlib import Path

from policy_lint.catalog.cache import cache_dir, mark_used, prune

_PACKAGE = Path(__file__).resolve().parent


@cache
def code_key() -> str:
    """sha256 over the dialect package's source files (names and bytes): about 2 ms."""
    h = hashlib.sha256(b"policy-lint detect cache 1\n")
    for root, dirs, names in os.walk(_PACKAGE):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(names):
            if name.endswith(".py"):
                file = Path(root) / name
                data = file.read_bytes()
                h.update(f"{file.relative_to(_PACKAGE)}\0{len(data)}\0".encode())
                h.update(data)
    return h.hexdigest()


def _entry(path: Path, head: str) -> tuple[Path, str] | None:
    base = cache_dir()
    if base is None:
        return None
    raw = str(path).encode("utf-8", "surrogateescape")
    body = head.encode("utf-8", "surrogateescape")
    key = hashlib.sha256(b"%d\0%s\0%s" % (len(raw), raw, body)).hexdigest()
    return base / f"detect-{code_key()[:32]}" / key[:40], f"{code_key()}:{key}"


def lookup(path: Path, head: str) -> str | None:
    """The remembered module name ("" for none), or None when there is no valid entry."""
    entry = _entry(path, head)
    if entry is None:
        return None
    file, key = entry
    try:
        stored_key, _sep, module = file.read_text(encoding="ascii").partition("\n")
    except (OSError, ValueError):
        return None
    if stored_key != key:
        return None
    mark_used(file.parent)
    return module


def remember(path: Path, head: str, module: str) -> None:
    entry = _entry(path, head)
    if entry is None:
        return
    file, key = entry
    tmp = file.with_name(f"{file.name}.{os.getpid()}.tmp")
    new_code = not file.parent.is_dir()
    try:
        file.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(f"{key}\n{module}", encoding="ascii")
        os.replace(tmp, file)  # atomic: parallel workers may write the same entry
    except OSError:
        with contextlib.suppress(OSError):
            tmp.unlink()
    if new_code:
        prune(file.parent.parent, "detect-*", keep=file.parent)

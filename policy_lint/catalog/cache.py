"""The parsed catalog YAML, kept as a marshal file under the user's cache directory.

Parsing the catalog's YAML (and importing PyYAML to do it) is a large share of a small lint's
start-up. The parsed data (plain dicts, lists, strings and numbers) is written with `marshal`,
which loads it in well under a millisecond, to

    $XDG_CACHE_HOME/policy-lint/catalog-<key>.marshal   (XDG_CACHE_HOME defaults to ~/.cache)

where <key> is the sha256 of the YAML files' names and bytes. The file holds its key too, and a
file whose stored key is not the key of the YAML read now is never used: editing a catalog file
(an install of a newer version, a local change) makes a new key, so a stale cache cannot be
read. A cache that cannot be read or written (no home, a read-only or full disk, a corrupt
file) is no error: the YAML is parsed as if there were no cache. POLICY_LINT_NO_CACHE=1 turns
the cache off.

Pruning: each write of a new cache entry removes the entries of other keys (other catalog
versions, other dialect code) not used for STALE_AFTER seconds. A used entry's modification time
is refreshed at most once a day, so "not used" is measured without a write per run, and two
installed versions sharing one cache directory do not remove each other's live entries.
"""

from __future__ import annotations

import contextlib
import importlib
import marshal
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

FORMAT = 1  # bumped when the shape of the cached data changes
STALE_AFTER = 30 * 86400  # seconds without use after which another key's entry is removed
_REFRESH_AFTER = 86400  # a used entry's mtime is refreshed when older than this


def cache_dir() -> Path | None:
    """Where policy-lint keeps caches, or None when caching is off or there is no home."""
    if os.environ.get("POLICY_LINT_NO_CACHE"):
        return None
    base = os.environ.get("XDG_CACHE_HOME") or ""
    if not base:
        home = os.environ.get("HOME") or ""
        if not home:
            return None
        base = os.path.join(home, ".cache")
    return Path(base) / "policy-lint"


def _sha256() -> Any:
    """The interpreter's built-in sha256 (the same digest): importing hashlib loads OpenSSL,
    which was ~3 ms of every start-up (issue #20). hashlib's when the built-in is absent (a
    build without it, or a Python naming it otherwise)."""
    try:
        return importlib.import_module("_sha256").sha256
    except (ImportError, AttributeError):
        import hashlib

        return hashlib.sha256


def content_key(files: dict[str, bytes]) -> str:
    """sha256 over the files' names and bytes (length-prefixed, so no two sets collide)."""
    h = _sha256()(f"policy-lint catalog cache {FORMAT}\n".encode())
    for name in sorted(files):
        data = files[name]
        h.update(f"{name}\0{len(data)}\0".encode())
        h.update(data)
    return h.hexdigest()


def load_parsed(files: dict[str, bytes], parse: Callable[[dict[str, bytes]], Any]) -> Any:
    """`parse(files)`, from the cache when it holds the parse of exactly these bytes."""
    key = content_key(files)
    directory = cache_dir()
    target = directory / f"catalog-{key[:32]}.marshal" if directory else None
    if target is not None:
        try:
            stored_key, data = marshal.loads(target.read_bytes())
            if stored_key == key:
                mark_used(target)
                return data
        except (OSError, EOFError, ValueError, TypeError):
            pass  # absent, unreadable or corrupt: parse and (re)write
    data = parse(files)
    if target is not None:
        _write(target, key, data)
        prune(target.parent, "catalog-*.marshal", keep=target)
    return data


def mark_used(entry: Path) -> None:
    """Refresh entry's mtime when it is older than a day: the age prune() reads."""
    with contextlib.suppress(OSError):
        if time.time() - entry.stat().st_mtime > _REFRESH_AFTER:
            os.utime(entry)


def prune(directory: Path, pattern: str, keep: Path, now: float | None = None) -> None:
    """Remove the entries matching pattern in directory, other than keep, unused for
    STALE_AFTER seconds (files, or directories with their files). Errors are ignored: a
    concurrent process may be removing the same entry."""
    cutoff = (time.time() if now is None else now) - STALE_AFTER
    with contextlib.suppress(OSError):
        for entry in directory.glob(pattern):
            with contextlib.suppress(OSError):
                if entry == keep or entry.stat().st_mtime > cutoff:
                    continue
                if entry.is_dir():
                    import shutil  # only to prune: its import (with bz2, lzma) costs each start-up

                    shutil.rmtree(entry, ignore_errors=True)
                else:
                    entry.unlink()


def _write(target: Path, key: str, data: Any) -> None:
    try:
        blob = marshal.dumps((key, data))
    except ValueError:
        return  # something marshal cannot hold (a YAML date, say): no cache, still correct
    tmp = target.with_name(f"{target.name}.{os.getpid()}.tmp")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_bytes(blob)
        os.replace(tmp, target)  # atomic: a concurrent reader sees the old file or the new one
    except OSError:
        with contextlib.suppress(OSError):
            tmp.unlink()

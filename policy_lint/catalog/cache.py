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
"""

from __future__ import annotations

import contextlib
import hashlib
import marshal
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

FORMAT = 1  # bumped when the shape of the cached data changes


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


def content_key(files: dict[str, bytes]) -> str:
    """sha256 over the files' names and bytes (length-prefixed, so no two sets collide)."""
    h = hashlib.sha256(f"policy-lint catalog cache {FORMAT}\n".encode())
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
                return data
        except (OSError, EOFError, ValueError, TypeError):
            pass  # absent, unreadable or corrupt: parse and (re)write
    data = parse(files)
    if target is not None:
        _write(target, key, data)
    return data


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

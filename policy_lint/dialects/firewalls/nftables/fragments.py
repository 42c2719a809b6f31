"""Element files loaded after the ruleset: the elements they add to a set this ruleset declares.

    # ruleset.nft (nft -f ruleset.nft)             # social.nft (nft -f social.nft, later)
    table inet filter {                            add element inet filter social { 157.240.0.0/16 }
        set social { type ipv4_addr; flags interval; }
        chain forward { type filter hook forward priority 0; ip daddr @social drop; }
    }

A file of `add element FAMILY TABLE SET { ... }` lines for a table it does not declare is
written to be loaded after the ruleset that declares it (nft refuses it before). Its elements
are the set's as the firewall runs, so a set of this ruleset takes the elements that every such
file under the lint root adds to it (matched by family, table and set name, like the DNS
forwarder fills of semantics/setfills); the file is then read as part of this ruleset and not
reported on its own. A fragment nothing in the lint declares stays `unknown` (TE903, the
ruleset is not here): nftables/evaluate.

Not modelled: the order files are loaded in (any such file is taken to be loaded after the
ruleset), `delete element` files, element files a script builds at run time.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from policy_lint.dialects.semantics.base import ParseContext
from policy_lint.inputs import InputError

SKIP_DIRS = {".git", ".hg", ".svn", ".venv", "venv", "node_modules", "__pycache__", ".tox"}
MAX_SCAN_BYTES = 8 * 1024 * 1024
_MARKER = b"element"


@dataclass(frozen=True)
class ElementFile:
    path: Path  # resolved
    shown: str
    fragments: tuple  # model.Fragment of kind "element"


def _candidates(root: Path, context: ParseContext, own: set[str]) -> list[Path]:
    out: list[Path] = []
    resolver = context.resolver
    for directory, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and not d.startswith("."))
        for name in sorted(names):
            path = Path(directory) / name
            if path.is_symlink() and not resolver.inside(path, root):
                continue
            if str(path.resolve()) in own:
                continue
            try:
                if path.stat().st_size > MAX_SCAN_BYTES:
                    continue
                with path.open("rb") as fh:
                    head = fh.read(65536)
            except OSError:
                continue
            if b"\x00" in head[:8192] or _MARKER not in head:
                continue
            out.append(path)
    return out


def find_element_files(context: ParseContext, own: set[str]) -> list[ElementFile]:
    """Files under the lint root (not `own`: the ruleset and what it includes) that nftables
    detection recognises and that add elements to tables they do not declare."""
    from policy_lint.dialects import DETECT_THRESHOLD
    from policy_lint.dialects.firewalls.nftables.parse import Parser
    from policy_lint.dialects.firewalls.nftables.syntax import detect

    root = context.resolver.root.resolve()
    found: list[ElementFile] = []
    for path in _candidates(root, context, own):
        try:
            head = path.read_text(encoding="utf-8", errors="replace")[:16384]
        except OSError:
            continue
        if detect(path, head) < DETECT_THRESHOLD:
            continue
        shown = context.resolver.display(path)
        parser = Parser(context, shown)
        try:
            parser.parse_file(path, shown)
        except (InputError, RecursionError):
            continue
        fragments = tuple(f for f in parser.fragments if f.kind == "element")
        if fragments:
            found.append(ElementFile(path.resolve(), shown, fragments))
    return found

"""Reading a large dnsmasq file (10^6 `address=/d/...` lines) without looking at every line.

dnsmasq.py's reader skips, line by line, a blocklist line `address=/d/...`, `server=/d/...` or
`local=/d/...` (no `#`, no `"`) whose domains no probe name can be under (`relevant`: the
probe names and their parents) and that does not start with `*`: it only counts its domains.
This module finds the same lines with regular expressions over raw blocks (linestream.py) and
returns every OTHER line (a superset of what the reader keeps: it applies its own test again),
with the number of domains on the lines it left out:

- every line that does not have that form (`(address|server|local)=/.../`, at the line start);
- every line holding `#`, `"`, a control character or non-ASCII text;
- every line with `/` followed by `*`, or by dots and a relevant name and then `/`.

A file linestream cannot read exactly as read_source does raises NotStreamable.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from policy_lint.dialects.semantics.linestream import blocks, label_trie, other_break

_NOT_BLOCKLIST_FORM = re.compile(rb"\n(?!(?:address|server|local)=/[^\n]*/)")
_SPECIAL = re.compile(rb'[#"\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\xff]')
_SLASH_STAR = re.compile(rb"/\*")
# The bytes _SPECIAL looks for, deleted in one C pass: if none is there, the search is skipped
# (a character-class search costs several times a plain scan).
_SPECIAL_BYTES = bytes([*b'#"', *range(9), 11, 12, *range(14, 32), *range(127, 256)])


def relevant_pattern(relevant: Iterable[str]) -> re.Pattern[bytes]:
    """`/`, dots and `*`s, then one of the names, then `/` (over lower-cased text)."""
    trie = label_trie(sorted({name for name in relevant if name}))
    return re.compile(rb"/\.*\**(?:" + (trie or "(?!)").encode() + rb")(?=/)")


def lines_to_read(path: Path, relevant: re.Pattern[bytes]) -> tuple[list[tuple[int, str]], int]:
    """(line number, text) of the lines the reader must see, and the domains on the others."""
    out: list[tuple[int, str]] = []
    skipped_domains = 0
    before = 0  # lines in earlier blocks
    for text in blocks(path):
        starts = {m.start() + 1 for m in _NOT_BLOCKLIST_FORM.finditer(text)}
        if len(text.translate(None, _SPECIAL_BYTES)) != len(text):
            for m in _SPECIAL.finditer(text):
                other_break(text[m.start()])
                starts.add(text.rfind(b"\n", 0, m.start()) + 1)
        for m in _SLASH_STAR.finditer(text):
            starts.add(text.rfind(b"\n", 0, m.start()) + 1)
        for m in relevant.finditer(text.lower()):
            starts.add(text.rfind(b"\n", 0, m.start()) + 1)
        lines = text.count(b"\n") - 1
        slashes = text.count(b"/")
        pos, number = 1, before + 1
        taken = 0
        for s in sorted(starts):
            if s >= len(text):
                continue
            number += text.count(b"\n", pos, s)
            e = text.find(b"\n", s)
            raw = text[s:e]
            slashes -= raw.count(b"/")
            taken += 1
            out.append((number, (raw[:-1] if raw.endswith(b"\r") else raw).decode("utf-8")))
            pos, number = e + 1, number + 1
        # Each line left out is `option=/d1/.../dn/target`: n domains, n + 1 slashes.
        skipped_domains += slashes - (lines - taken)
        before += lines
    return out, skipped_domains

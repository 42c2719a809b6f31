"""Reading a big e2guardian/DansGuardian site or URL list (10^6 lines) without parsing every line.

The list reader (e2guardian.py) turns each line of a site or URL list into an entry keyed by its
host: lower-cased, a trailing `/` and an `ftp://` removed, leading dots stripped, and in a URL
list the part before the first `/` with a `:port` removed. Evaluation only ever looks up the
probe hosts and their parent domains. A *plain* line -- an ASCII letter, digit, `_` or `-`
first, then only printable ASCII without white space or `#` -- is one such entry and nothing
else (no comment, `#time:` tag, blanket marker, `.Include<>`, trailing comment, nor a line the
reader reports), so a plain line whose host is no probe name nor a parent of one decides
nothing. This module returns every OTHER line, with its number:

- every line that does not start like a plain line (comments, `#time:` tags, `*`/`**` markers,
  `.Include<...>`, leading dots or white space), and every line starting with `ftp://`;
- every line holding white space, `#`, a control character or non-ASCII text;
- every line starting with a relevant name followed by `/`, `:` or its end (a superset of
  the plain lines whose host is relevant);
- the file's first plain line whatever it names, so the list still holds an entry: an empty
  list and a full one of other sites are told apart, and a `#time:` tag still makes its audience.

The reader parses the returned lines exactly as before (a superset of what can decide), and
counts the lines left out as entries it read (blank and one-character lines are returned, so
every line left out is one). A file linestream cannot read
exactly as read_source does (binary start, not UTF-8, other line breaks, an overlong line)
raises NotStreamable: the caller then reads it the ordinary way.

    facebook.com          returned (a probe host)
    ads1.example.com      left out (plain, names no probe host)
    # a comment           returned (the reader decides what a comment means)
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from policy_lint.dialects.semantics.linestream import blocks, label_trie, other_break

_SPECIAL = re.compile(rb"[\x00-\x09\x0b\x0c\x0e-\x20#\x7f-\xff]")
# The bytes _SPECIAL looks for, deleted in one C pass: if none is there, the search is skipped.
_SPECIAL_BYTES = bytes([*range(10), 11, 12, *range(14, 33), ord("#"), *range(127, 256)])
_FIRST_PLAIN = re.compile(rb"\n[A-Za-z0-9_\-][\x21\x22\x24-\x7e]+(?=\r?\n)")


def relevant_pattern(names: Iterable[str]) -> re.Pattern[bytes]:
    """At a line start, over lower-cased text: a character no plain line starts with, or
    `ftp://`, or one of `names` followed by `/`, `:` or the line end, or a line of at most one
    character (so that every line left out is an entry). One alternation after
    the newline: an optional `(?:ftp://)?\\.*` prefix or a second pass would cost the scan
    three times as much."""
    trie = label_trie(sorted({n.lower() for n in names if n}))
    return re.compile(
        rb"\n(?:[^a-z0-9_\-\r\n]|ftp://|(?:"
        + (trie or "(?!)").encode()
        + rb")(?=[/:\r\n])|[a-z0-9_\-]?(?=\r?\n))"
    )


def lines_to_read(path: Path, relevant: re.Pattern[bytes]) -> tuple[list[tuple[int, str]], int]:
    """(line number, text) of the lines of a site/URL list the reader must see, and how many
    lines were left out (each a plain entry naming no probe host)."""
    out: list[tuple[int, str]] = []
    skipped = 0
    before = 0  # lines in earlier blocks
    need_first = True
    for text in blocks(path):
        starts = {m.start() + 1 for m in relevant.finditer(text.lower())}
        if len(text.translate(None, _SPECIAL_BYTES)) != len(text):
            for m in _SPECIAL.finditer(text):
                other_break(text[m.start()])
                starts.add(text.rfind(b"\n", 0, m.start()) + 1)
        if need_first:
            first = _FIRST_PLAIN.search(text)
            if first is not None:
                starts.add(first.start() + 1)
                need_first = False
        pos, number = 1, before + 1
        lines = text.count(b"\n") - 1
        taken = 0
        for s in sorted(starts):
            if s >= len(text):
                continue
            number += text.count(b"\n", pos, s)
            e = text.find(b"\n", s)
            raw = text[s:e]
            out.append((number, (raw[:-1] if raw.endswith(b"\r") else raw).decode("utf-8")))
            pos, number = e + 1, number + 1
            taken += 1
        skipped += lines - taken
        before += lines
    return out, skipped

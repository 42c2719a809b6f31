"""Reading a large Privoxy action file without parsing every line (10^6-pattern block lists).

Most lines of such a file are plain host patterns (`.ads.example.com`, `tracker.example.net`):
no glob, and their labels must equal a probe host's labels to match it (urlmatch.py). A plain
pattern holding a label that no probe host has can never match a probe, and it never makes
Privoxy refuse the file, so it cannot change a verdict or a finding. This module hands the
parser every physical line EXCEPT those, found with a few regular expressions over the raw
text, read in blocks:

- lines holding `{ # \\ * ? [ <`, a control character or non-ASCII text (headers, comments,
  continuations, globs, IPv6 hosts, text whose case folding could differ);
- lines whose path part has a regex metacharacter `( ) | + ^ $ ] }` (an invalid path regex
  is refused by Privoxy even in a pattern that matches no probe);
- lines whose host labels are all probe labels (or that have no host part: `/ads/`, `:443`);
- every line while the parser is outside a section (special sections, before the first
  header), and the line after a `\\` continuation.

A file it cannot read exactly as `read_source` would (not UTF-8, a line over the length limit,
line breaks other than LF/CRLF, control characters at the start) raises `NotStreamable`: the
caller then reads it the ordinary way.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from policy_lint.dialects.semantics.linestream import NotStreamable, blocks, label_trie

# Bytes that make a line worth parsing whatever its labels (see the module docstring), and
# (after the first `/` of a line) the regex metacharacters. Searched in one pass: hits are rare.
_SPECIAL = re.compile(rb"[{#\\*?\[<()|+^$\]}\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\xff]")
_ALWAYS = frozenset(b"{#\\*?[<") | frozenset(range(32)) | frozenset(range(127, 256))
# Line breaks str.splitlines() knows besides \n and \r\n: such files take the ordinary way.
_OTHER_BREAKS = frozenset(b"\x0b\x0c\x1c\x1d\x1e")


def relevant_line_pattern(labels: Iterable[str]) -> tuple[re.Pattern[bytes], re.Pattern[bytes]]:
    """Two regexes over lower-cased text: a newline followed by a first host label among
    `labels` (or no host label), then the whole line: a host part made only of `labels`, an
    optional port or path, and the end of the line. The first is the fast sieve, the second
    decides."""
    trie = label_trie(sorted({label for label in labels if label}))
    label = f"(?:{trie})" if trie else "(?!)"
    first = rf"\n[ \t]*\.*(?:{label}(?=[.:/ \t\r\n])|(?=[:/ \t\r\n]))"
    whole = rf"[ \t]*\.*(?:{label}\.+)*(?:{label})?(?:[:/][^\n]*)?[ \t\r]*(?=\n)"
    return re.compile(first.encode()), re.compile(whole.encode())


def _starts(text: bytes, relevant: tuple[re.Pattern[bytes], re.Pattern[bytes]]) -> list[int]:
    """Offsets of the lines of `text` (which starts and ends with a newline) to parse."""
    low = text.lower()  # ASCII letters only: offsets stay
    first, whole = relevant
    found = {m.start() + 1 for m in first.finditer(low) if whole.match(low, m.start() + 1)}
    for m in _SPECIAL.finditer(text):
        at = m.start()
        byte = text[at]
        start = text.rfind(b"\n", 0, at) + 1
        if byte in _OTHER_BREAKS:
            raise NotStreamable("line breaks other than LF and CRLF")
        if byte in _ALWAYS or text.find(b"/", start, at) >= 0:
            found.add(start)
    return sorted(found)


def lines_to_parse(
    path: Path, relevant: tuple[re.Pattern[bytes], re.Pattern[bytes]], reads_every_line: Callable[[], bool]
) -> Iterator[tuple[int, str]]:
    """(line number, text without its line break) of every line the parser needs, in order.
    `reads_every_line()` is asked before each line: True means the next line is needed whatever
    it holds (a continuation, a special section)."""
    before = 0  # lines in earlier blocks
    for text in blocks(path):
        starts = _starts(text, relevant)
        k = 0
        pos, number = 1, before + 1
        end = len(text)
        while pos < end:
            if reads_every_line():
                s = pos
            else:
                while k < len(starts) and starts[k] < pos:
                    k += 1
                if k == len(starts):
                    break
                s = starts[k]
            number += text.count(b"\n", pos, s)
            e = text.find(b"\n", s)
            raw = text[s:e]
            yield number, (raw[:-1] if raw.endswith(b"\r") else raw).decode("utf-8")
            pos, number = e + 1, number + 1
        before += text.count(b"\n") - 1

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

from policy_lint.inputs import BINARY_SNIFF_BYTES, MAX_LINE_CHARS

CHUNK_BYTES = 2 * 1024 * 1024

# Bytes that make a line worth parsing whatever its labels (see the module docstring), and
# (after the first `/` of a line) the regex metacharacters. Searched in one pass: hits are rare.
_SPECIAL = re.compile(rb"[{#\\*?\[<()|+^$\]}\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\xff]")
_ALWAYS = frozenset(b"{#\\*?[<") | frozenset(range(32)) | frozenset(range(127, 256))
# Line breaks str.splitlines() knows besides \n and \r\n: such files take the ordinary way.
_OTHER_BREAKS = frozenset(b"\x0b\x0c\x1c\x1d\x1e")
_OTHER_BREAKS_UTF8 = re.compile(rb"\xc2\x85|\xe2\x80[\xa8\xa9]")


class NotStreamable(Exception):
    """The file needs the ordinary reader (read_source) to be read exactly."""


def label_trie(words: Iterable[str]) -> str:
    """A regex alternation of `words` as a trie (`f(?:acebook|bcdn)`): a line that starts with
    none of them fails at its first character, not after trying each word."""
    tree: dict[str, dict] = {}
    for w in words:
        node = tree
        for ch in w:
            node = node.setdefault(ch, {})
        node[""] = {}

    def emit(node: dict[str, dict]) -> str:
        alts = [re.escape(ch) + emit(child) if ch else "" for ch, child in sorted(node.items())]
        end = "" in node
        alts = [a for a in alts if a]
        if not alts:
            return ""
        body = alts[0] if len(alts) == 1 else "(?:" + "|".join(alts) + ")"
        return f"(?:{body})?" if end else body

    return emit(tree)


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


def _blocks(path: Path) -> Iterator[bytes]:
    """The file's text in blocks of whole lines, each starting and ending with a newline."""
    with open(path, "rb") as fh:
        carry = b""
        first = True
        while True:
            block = fh.read(CHUNK_BYTES)
            if first:
                head = block[:BINARY_SNIFF_BYTES]
                if any(b < 9 or 13 < b < 32 for b in head):
                    raise NotStreamable("control characters at the start")
                if block.startswith(b"\xef\xbb\xbf"):
                    block = block[3:]
                first = False
            if not block:
                if carry:
                    yield _checked(b"\n" + carry + b"\n")
                return
            data = carry + block
            # A line over the limit holds a whole window of half the limit without a newline.
            half = MAX_LINE_CHARS // 2
            if any(data.find(b"\n", o, o + half) < 0 for o in range(0, len(data) - half + 1, half)):
                raise NotStreamable("a line over the length limit")
            cut = data.rfind(b"\n")
            if cut < 0:
                carry = data
            else:
                yield _checked(b"\n" + data[: cut + 1])
                carry = data[cut + 1 :]


def _checked(text: bytes) -> bytes:
    """`text`, if read_source would read it the same way (UTF-8, LF or CRLF line ends)."""
    if not text.isascii():
        try:
            text.decode("utf-8")
        except UnicodeDecodeError:
            raise NotStreamable("not UTF-8") from None
        if _OTHER_BREAKS_UTF8.search(text):
            raise NotStreamable("line breaks other than LF and CRLF")
    if b"\r" in text and text.count(b"\r") != text.count(b"\r\n"):
        raise NotStreamable("a CR without LF")
    return text


def lines_to_parse(
    path: Path, relevant: tuple[re.Pattern[bytes], re.Pattern[bytes]], reads_every_line: Callable[[], bool]
) -> Iterator[tuple[int, str]]:
    """(line number, text without its line break) of every line the parser needs, in order.
    `reads_every_line()` is asked before each line: True means the next line is needed whatever
    it holds (a continuation, a special section)."""
    before = 0  # lines in earlier blocks
    for text in _blocks(path):
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

"""Plain domain lists (one domain per line) that say they are block lists.

Many tools read such lists (dnsmasq via a script, AdGuard Home, Pi-hole's gravity, squid's
`dstdomain "/file"`, DansGuardian's bannedsitelist), each with its own matching: the list's
meaning comes from the config that references it, and a list met through such a config is
read by that config's dialect. Alone, a list is only claimed when its file name or its header
says it blocks (`blocklist`, `blacklist`, `banned`, `deny`, `# Title: Twitter Block List`);
then each domain is taken to block itself and its subdomains (dnsmasq, AdGuard Home, squid
with a leading dot, DansGuardian), and a TE903 finding says that the consuming tool is
unknown (Pi-hole's gravity and hosts-style consumers match exact names only). A list that
does not say so is not claimed (`policy-lint` says it cannot tell what the file is).

    # Title: Social block list
    facebook.com          # blocks facebook.com and www.facebook.com
    *.twitter.com         # `*.` and a leading `.` are read as the same subtree

DansGuardian's `.Include<path>` lines are followed (inside --root, loop-safe). A list over
1 MiB is streamed: regular expressions over raw blocks (semantics/linestream.py) pick every line
that is not a plain domain no probe can meet; only those are read as above, the others counted.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from itertools import chain, islice
from pathlib import Path

from policy_lint.dialects.dns.hosts import wanted_names
from policy_lint.dialects.semantics.base import ParseContext
from policy_lint.dialects.semantics.linestream import (
    NotStreamable,
    blocks,
    check_whole,
    label_trie,
    other_break,
)
from policy_lint.dialects.semantics.listnames import classify_list_name
from policy_lint.dialects.semantics.names import DomainIndex, NameRuleset, suffixes
from policy_lint.inputs import MAX_FILE_BYTES, InputError, read_source
from policy_lint.model import Decision, Outcome, Problem, Span

NAME = "domain-list"
FILE_PATTERNS = ("*block*", "*black*list*", "*banned*", "*deny*", "*denylist*", "*reject*")
MAX_INCLUDE_DEPTH = 16
MAX_EXAMPLES = 3

_DOMAIN = re.compile(r"^(?:\*\.|\.)?(?:[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?\.)+[a-z][a-z0-9-]{0,62}\.?$")
_BLOCK_WORDS = re.compile(r"block|black|banned|\bban\b|deny|denied|reject|sinkhole", re.I)
_ALLOW_WORDS = re.compile(r"allow|white|exception|except|pass|safe|trust|unblock|exclu", re.I)
_INCLUDE = re.compile(r"^\.include<([^>]+)>", re.I)

# Files from this size on are streamed: lines of this form (over lower-cased text) are plain
# domains `_line` only counts, unless a relevant name starts them; every other line is read.
STREAM_FROM_BYTES = 1 << 20
# Lines a streamed list hands the reader that are collected before the first is read (see
# _stream_lines): a list of 10^6 lines of other forms is not held in memory whole.
BUFFERED_LINES = 100_000
_NOT_PLAIN = re.compile(
    rb"\n(?![ \t]*(?:\*\.|\.)?(?:[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?\.)+[a-z][a-z0-9-]{0,62}\.?"
    rb"[ \t]*(?:#[^\n]*)?\r?\n)"
)
# A cheaper test first (a regex costs per character it looks at, and _NOT_PLAIN looks at labels
# twice as it backtracks): a line of labels (no `-` at either end: the lookbehind) and a
# top-level domain, without blanks, comment, leading `*.`/`.` or trailing dot, is plain. The
# lines it leaves (a superset of the lines that are not plain) are read; when a block has many
# of them (a list written with comments or blanks), _NOT_PLAIN picks that block's lines exactly.
# Reading a plain line gives what skipping it does: `_line` counts it as an entry.
_NOT_SIMPLE = re.compile(rb"\n(?!(?:[a-z0-9_][a-z0-9_-]{0,62}+(?<!-)\.)++[a-z][a-z0-9-]{0,62}+\r?\n)")
SIMPLE_MISSES = 1000  # lines per block the cheaper test may leave before _NOT_PLAIN is used
# Control characters (strip() and splitlines() treat some as white space or breaks) and
# non-ASCII text (str.lower() differs from bytes.lower()): such lines are always read.
_SPECIAL = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\xff]")
_SPECIAL_BYTES = bytes([*range(9), 11, 12, *range(14, 32), *range(127, 256)])


def _content(head: str) -> tuple[list[str], list[str]]:
    comments, content = [], []
    for raw in head.splitlines()[:400]:
        line = raw.strip()
        if not line:
            continue
        if line.startswith(("#", "!", ";", "//")):
            comments.append(line)
        else:
            content.append(line.split("#", 1)[0].strip().lower())
    return comments, content


def detect(path: Path, head: str) -> float:
    name = path.name.lower()
    comments, content = _content(head)
    domains = [c for c in content if _DOMAIN.match(c) or _INCLUDE.match(c)]
    if len(domains) < 3 or len(domains) < 0.8 * len(content):
        return 0.0
    if _ALLOW_WORDS.search(name):
        return 0.0
    if _BLOCK_WORDS.search(name):
        return 0.6
    header = " ".join(comments[:20])
    blocks, allows = len(_BLOCK_WORDS.findall(header)), len(_ALLOW_WORDS.findall(header))
    return 0.6 if blocks > allows else 0.0


def _not_plain(low: bytes) -> set[int]:
    """Starts of the lines of a lower-cased block that may not be plain (a superset)."""
    picked = {m.start() + 1 for m in _NOT_SIMPLE.finditer(low)}
    if len(picked) > SIMPLE_MISSES:
        return {m.start() + 1 for m in _NOT_PLAIN.finditer(low)}
    return picked


class _Reader:
    def __init__(self, context: ParseContext):
        self.context = context
        self.index: DomainIndex[Span] = DomainIndex()
        self.relevant = frozenset(s for host in wanted_names(context.catalog) for s in suffixes(host))
        self.problems: list[Problem] = []
        self.included: list[Path] = []
        self.entries = 0
        self.bad: list[tuple[Span, str]] = []
        self.bad_count = 0
        self.relevant_re: re.Pattern[bytes] | None = None  # a relevant name starting a line

    def read(self, path: Path, stack: tuple[Path, ...]) -> None:
        display = self.context.resolver.display(path)
        try:  # big lists: plain domains no probe can meet are only counted (_stream_lines)
            if STREAM_FROM_BYTES < path.stat().st_size <= MAX_FILE_BYTES:
                plain = [0]
                for i, raw in self._stream_lines(path, plain):  # NotStreamable before any line
                    self._line(i, raw, display, path, stack)
                self.entries += plain[0]
                return
        except (NotStreamable, OSError):
            pass  # read the ordinary way: the same lines, or the same error
        src = read_source(path, display)
        self.problems.extend(src.problems)
        for i, raw in enumerate(src.lines, start=1):
            self._line(i, raw, src.path, path, stack)

    def _stream_lines(self, path: Path, plain: list[int]) -> Iterable[tuple[int, str]]:
        """(number, text) of every line but the plain domains (_PLAIN_LINE) no probe can meet,
        which are counted in `plain[0]` (entries, as `_line` counts them). A file linestream
        cannot read raises NotStreamable here, before any line is handed out: the lines are
        collected first (one read of the file); only a file with over BUFFERED_LINES of them
        is checked whole (a second read) and then handed out as it is read, so memory stays
        bounded."""
        lines = self._scan(path, plain)
        head = list(islice(lines, BUFFERED_LINES))
        if len(head) < BUFFERED_LINES:
            return head  # the whole file was read: nothing can raise any more
        check_whole(path)
        return chain(head, lines)

    def _scan(self, path: Path, plain: list[int]) -> Iterator[tuple[int, str]]:
        if self.relevant_re is None:
            trie = label_trie(sorted(name for name in self.relevant if name))
            self.relevant_re = re.compile(
                rb"\n[ \t]*[*.]*(?:"
                + (trie or "(?!)").encode()
                + rb")\.*(?=[ \t\r\n#])"  # not consuming the next line's newline
            )
        before = 0
        for text in blocks(path):
            low = text.lower()
            picked = _not_plain(low)
            if len(text.translate(None, _SPECIAL_BYTES)) != len(text):
                for m in _SPECIAL.finditer(text):
                    other_break(text[m.start()])
                    picked.add(text.rfind(b"\n", 0, m.start()) + 1)
            picked.update(m.start() + 1 for m in self.relevant_re.finditer(low))
            starts = sorted(s for s in picked if s < len(text))
            plain[0] += text.count(b"\n") - 1 - len(starts)
            pos, number = 1, before + 1
            for s in starts:
                number += text.count(b"\n", pos, s)
                end = text.find(b"\n", s)
                raw = text[s:end]
                yield number, (raw[:-1] if raw.endswith(b"\r") else raw).decode("utf-8")
                pos, number = end + 1, number + 1
            before += text.count(b"\n") - 1

    def _line(self, i: int, raw: str, display: str, path: Path, stack: tuple[Path, ...]) -> None:
        line = raw.split("#", 1)[0].strip().lower()
        if not line or line.startswith(("!", ";", "//")):
            return
        key = line.lstrip("*").lstrip(".").rstrip(".")
        if key in self.relevant:
            self.entries += 1
            self.index.add_subtree(key, Span(display, i, raw.find(line[:1]) + 1, raw.strip()))
            return
        m = _INCLUDE.match(line)
        if m:
            self._include(m.group(1).strip(), Span(display, i, 1, raw.strip()), path, stack)
        elif _DOMAIN.match(line):
            self.entries += 1
        else:
            self.bad_count += 1
            if len(self.bad) < MAX_EXAMPLES:
                self.bad.append((Span(display, i, 1, raw.strip()), raw.strip()[:120]))

    def _include(self, ref: str, span: Span, path: Path, stack: tuple[Path, ...]) -> None:
        target = self.context.resolver.resolve(ref, path)
        if target is None:
            keywords = {sid: s.keywords for sid, s in self.context.catalog.services.items()}
            kind, _named = classify_list_name(ref, keywords)
            if kind == "other-topic":
                self.problems.append(
                    Problem(
                        "TE903",
                        span,
                        f"included list {ref} not found; its name "
                        f"suggests another topic, so it is assumed "
                        f"not to name the catalog services",
                    )
                )
            else:
                self.problems.append(
                    Problem(
                        "TE903",
                        span,
                        f"included list {ref} not found; verdicts that depend on it are unknown",
                    )
                )
                self.index.add_subtree("\x00missing", span)
            return
        real = target.resolve()
        if real in stack or len(stack) >= MAX_INCLUDE_DEPTH:
            self.problems.append(Problem("TE904", span, f"include loop or nesting too deep at {ref}"))
            return
        self.included.append(target)
        try:
            self.read(target, stack + (real,))
        except InputError as exc:
            self.problems.append(Problem("TE902", span, str(exc)))


class DomainListRuleset(NameRuleset):
    def __init__(self, path: str, reader: _Reader):
        self.reader = reader
        self.catalog = reader.context.catalog
        missing = reader.index.subtree.pop("\x00missing", None)
        self.missing = missing
        super().__init__(
            path, NAME, self.decide, reader.problems, [str(p.resolve()) for p in reader.included]
        )

    def decide(self, host: str) -> Decision | None:
        hit = self.reader.index.lookup_subtree(host)
        if hit is not None:
            name, span = hit
            return Decision(
                Outcome.DENY,
                span,
                (span,),
                True,
                "listed",
                f"{name} and its subdomains, assuming the consuming tool matches subdomains",
            )
        if self.missing is not None and self.catalog.service_for_host(host):
            return Decision(
                Outcome.UNKNOWN, self.missing, (self.missing,), False, "", "an included list is missing"
            )
        return None


def parse(path: Path, context: ParseContext) -> DomainListRuleset:
    reader = _Reader(context)
    reader.read(path, (path.resolve(),))
    shown = context.resolver.display(path)
    reader.problems.insert(
        0,
        Problem(
            "TE903",
            Span(shown, 1, 1),
            "no config here says which tool reads this block list: each domain is assumed to block "
            "itself and its subdomains (dnsmasq, AdGuard Home, squid's dstdomain with a leading dot); "
            "Pi-hole's gravity and hosts-style tools match exact names only",
        ),
    )
    if reader.bad_count:
        first, text = reader.bad[0]
        reader.problems.append(
            Problem(
                "TE902",
                first,
                f"{reader.bad_count} lines are not domain names and are ignored (first: '{text}')",
            )
        )
    return DomainListRuleset(shown, reader)

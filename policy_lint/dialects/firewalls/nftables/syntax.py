"""What nftables text looks like: which files are rulesets (`detect`), and the lexer: lines to
tokens, `{ ... }` to nested groups, groups to statements."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from fnmatch import fnmatch
from pathlib import Path
from typing import NamedTuple

from policy_lint.model import Problem, Span

NAME = "nftables"
FILE_PATTERNS = (
    "nftables.conf",
    "*.nft",
    "nftables*.conf",
    "*nftables*.rules",
    "*.nft.json",
    "nftables*.json",
)
MAX_NESTING = 32
DOC_SUFFIXES = (".md", ".rst", ".html", ".htm", ".py", ".yml", ".yaml", ".txt", ".sh")
# json_commands writes this word (then what it is) where nft JSON holds an expression we cannot
# read; the rule parser makes it an `unknown` match.
JSON_UNKNOWN = "\x00unknown"

_HEAD = re.compile(
    r"^\s*(?:table\s+(?:(?:inet|ip6?|bridge|netdev|arp)\s+)?[\w.-]+\s*\{|add\s+(?:rule|table|chain|element|set|map)\s+"
    r"(?:inet|ip6?|bridge|netdev|arp)\s|#!\s*/\S*nft\b|flush\s+ruleset\b)"
    r"|\btype\s+(?:filter|nat|route)\s+hook\s+\w+",
    re.M,
)
JSON_HEAD = re.compile(r'^\s*\{\s*"nftables"\s*:\s*\[')
# Fragments loaded with a ruleset (nftables/fragments): `add element [family] table set {`
# lines, and set/map declarations written to be included inside a `table { }` block, whose
# body says their nft type.
_FRAGMENT = re.compile(
    r"^\s*(?:add|create)\s+element\s+(?:(?:inet|ip6?|bridge|netdev|arp)\s+)?[\w.-]+\s+[\w.-]+\s*\{"
    r"|^\s*(?:set|map)\s+[\w.-]+\s*\{\s*(?:$|type\b|typeof\b)"
    r"|^\s*(?:type|typeof)\s+(?:ipv4_addr|ipv6_addr|inet_service|ether_addr|ifname|inet_proto|mark)\b"
    r"|^\s*elements\s*=\s*\{",
    re.M,
)
_INCLUDE_ONLY = re.compile(r'^\s*(?:include\s+"[^"]+"|define\s+\w+\s*=)', re.M)
_WORD = re.compile(r'[^\s{};,"#\\]+|\\(?!\n)')
# A line with no quote, comment, backslash or square bracket is only words and separators:
# read in one findall (the character walk below took most of the time of a 200,000-rule file).
_PLAIN_LINE_TOKENS = re.compile(r'[{};,]|[^\s{};,"#\\]+')
_NOT_PLAIN = re.compile(r'["#\\\[\]]')
# A plain line that is one address rule and nothing else (lex(..., rule_lines=True)): most lines
# of a large chain. Anything more (sets, `@set`, ranges, names, `;`, other statements) is lexed
# as usual; `counter` only counts.
_RULE_LINE = re.compile(
    r"\s*(ip6?)\s+(saddr|daddr)\s+(!=\s+)?([0-9A-Fa-f:.]+(?:/[0-9]+)?)\s+(?:counter\s+)?(accept|drop|reject)\s*"
)
_VERDICTS = {"accept": "accept", "drop": "drop", "reject": "reject"}  # one string each, shared


def detect(path: Path, head: str) -> float:
    name = path.name.lower()
    if JSON_HEAD.match(head):
        return 0.95
    if path.suffix.lower() in DOC_SUFFIXES and path.suffix.lower() != ".txt":
        return 0.0  # documentation or a shell script quoting nft commands is not a ruleset
    hits = len(_HEAD.findall(head)) or min(len(_FRAGMENT.findall(head)), 2)
    if not hits and any(fnmatch(name, p) for p in FILE_PATTERNS) and _INCLUDE_ONLY.search(head):
        return 0.6  # a top file that only includes and defines (`include "/etc/nftables.d/*.nft"`)
    if not hits or (path.suffix.lower() == ".txt" and hits < 2):
        return 0.0
    if hits >= 2 or name.endswith(".nft") or "nft" in name:
        return 0.95
    return 0.6


# ----------------------------------------------------------------------------- lexing


@dataclass(frozen=True, slots=True)
class Tok:
    text: str  # a word, or one of "\n" ; { } ,
    span: Span
    quoted: bool = False


class RuleLine(NamedTuple):
    """A line holding one plain address rule (`ip daddr 192.0.2.0/24 drop`, see `_RULE_LINE`),
    kept as one item instead of six tokens (its newline too): a 200,000-rule chain is mostly
    such lines. Only a chain body reads it as a rule (matches.RuleParser.line_rule); everywhere
    else, and whenever that declines, it is `tokens()`, exactly what the lexer would have made
    of the line. (A named tuple: the cheapest object to make 10^5 times.)"""

    span: Span  # the line's, its text the rule as written
    version: int  # 4 (ip) | 6 (ip6)
    source: bool  # saddr (else daddr)
    neg: bool
    address: str
    verdict: str  # accept | drop | reject

    def words(self) -> list[Tok]:
        """The line's statement: its words as tokens."""
        return [Tok(w, self.span) for w in _PLAIN_LINE_TOKENS.findall(self.span.text)]

    def tokens(self) -> list[Tok]:
        """What `lex` makes of the line: its words, then its newline."""
        return [*self.words(), Tok("\n", self.span)]


@dataclass
class Group:
    """`{ ... }`: a block of statements or an anonymous set; `raw` keeps the separators and may
    hold `RuleLine`s (read by a chain body), `items` is the same as tokens only."""

    open: Tok
    raw: list = field(default_factory=list)

    @property
    def items(self) -> list:
        return unfold(self.raw)

    @property
    def span(self) -> Span:
        """Where the block opens: a statement may begin with one (`{{` typed for `{`)."""
        return self.open.span


def unfold(items: list) -> list:
    """`items` with each `RuleLine` as its tokens (the list itself when it holds none)."""
    if not any(isinstance(it, RuleLine) for it in items):
        return items
    out: list = []
    for it in items:
        if isinstance(it, RuleLine):
            out.extend(it.tokens())
        else:
            out.append(it)
    return out


# nft's scanner (scanner.l, token `ip6addr_rfc2732`) reads `[` IPv6-address `]` as one word, so
# that a port can follow (`dnat to [fd00::1]:53`); a bracket anywhere else is a character the
# grammar has no place for ("syntax error, unexpected '['"). Variables expand in the parser,
# after scanning: `[$PI_IP6]:53` is refused (Debian's nft 1.0.6; upstream's scanner has the same
# rule). The portable forms are `dnat ip6 to $PI_IP6` or a literal `[fd00::1]:53`.
_RFC2732 = re.compile(r"\[([0-9A-Fa-f:.]+)\]")


def _bracket_error(word: str) -> int:
    """The offset of the first bracket nft's scanner refuses in `word`, or -1."""
    i = 0
    while i < len(word):
        if word[i] == "[":
            m = _RFC2732.match(word, i)
            if m is None or ":" not in m.group(1):
                return i
            try:
                ipaddress.IPv6Address(m.group(1))
            except ValueError:
                return i
            i = m.end()
            continue
        if word[i] == "]":
            return i
        i += 1
    return -1


def lex(lines: list[str], shown: str, problems: list[Problem], rule_lines: bool = False) -> list:
    """Tokens of `lines`; with `rule_lines`, a plain one-rule line that starts a statement is
    one `RuleLine` (its newline included), for the caller to read as a rule in a chain body or
    `unfold`."""
    out: list = []
    joined = False  # the line before ended in a continuation: this one goes on its statement
    for n, line in enumerate(lines, start=1):
        # A rule line is a plain line (its pattern has no quote, `#`, backslash or bracket).
        m = _RULE_LINE.fullmatch(line) if rule_lines and not joined else None
        if m is not None:
            span = Span(shown, n, len(line) - len(line.lstrip()) + 1, line.strip())
            fam, fld, neg, address, verdict = m.groups()
            # Small words as numbers and shared strings (200,000 lines would hold copies).
            version, source = (4 if fam == "ip" else 6), fld == "saddr"
            out.append(RuleLine(span, version, source, neg is not None, address, _VERDICTS[verdict]))
            continue
        if _NOT_PLAIN.search(line) is None:
            joined = False
            span = Span(shown, n, len(line) - len(line.lstrip()) + 1, line.strip())
            out.extend(Tok(w, span) for w in _PLAIN_LINE_TOKENS.findall(line))
            out.append(Tok("\n", span))
            continue
        i, size, cont, end = 0, len(line), False, len(line)
        words: list[tuple[str, bool]] = []
        while i < size:
            ch = line[i]
            if ch in " \t\r\f\v":
                i += 1
            elif ch == "#":
                end = i
                break
            elif ch == "\\" and line[i + 1 :].strip() == "":
                cont, end = True, i  # a continuation: this newline is not a separator
                break
            elif ch == '"':
                j = line.find('"', i + 1)
                if j < 0:
                    problems.append(
                        Problem("TE901", Span(shown, n, i + 1, line.strip()), "unterminated quoted string")
                    )
                    j = size
                words.append((line[i + 1 : j], True))
                i = j + 1
            elif ch in "{};,":
                words.append((ch, False))
                i += 1
            else:
                m = _WORD.match(line, i)
                if m is None:
                    i += 1
                    continue
                word = m.group(0)
                if "[" in word or "]" in word:
                    bad = _bracket_error(word)
                    if bad >= 0:
                        problems.append(
                            Problem(
                                "TE901",
                                Span(shown, n, i + bad + 1, line.strip()),
                                "syntax error, unexpected '"
                                + word[bad]
                                + "': nft reads square brackets only "
                                "around a literal IPv6 address ([fd00::1]:53), never around a $variable "
                                "or anything else",
                            )
                        )
                words.append((word, False))
                i = m.end()
        # One span per line, its text without the comment (tokens of a line share it:
        # rulesets run to 10^5 lines).
        span = Span(shown, n, size - len(line.lstrip()) + 1, line[:end].strip())
        out.extend(Tok(w, span, q) for w, q in words)
        joined = cont
        if not cont:
            out.append(Tok("\n", span))
    return out


def group_braces(tokens: list, shown: str, problems: list[Problem]) -> list:
    root: list = []
    stack: list[Group] = []
    ignored = 0  # braces nested deeper than MAX_NESTING (reported once, then skipped)
    for t in tokens:
        here = stack[-1].raw if stack else root
        if isinstance(t, RuleLine):
            here.append(t)  # holds no brace
        elif t.text == "{" and not t.quoted:
            if len(stack) >= MAX_NESTING:
                if not ignored:
                    problems.append(Problem("TE901", t.span, f"braces nest deeper than {MAX_NESTING}"))
                ignored += 1
                continue
            g = Group(t)
            here.append(g)
            stack.append(g)
        elif t.text == "}" and not t.quoted:
            if ignored:
                ignored -= 1
                continue
            if not stack:
                problems.append(Problem("TE901", t.span, "`}` without a matching `{`"))
                continue
            stack.pop()
        else:
            here.append(t)
    if stack:
        problems.append(Problem("TE901", stack[-1].open.span, "`{` is never closed"))
    return root


def split_statements(items: list) -> Iterator[list | RuleLine]:
    """A block's items as statements, one at a time (a chain holds 10^5): separated by newlines
    and `;`; a `RuleLine`, a line, is a statement of its own (given as it is: `words()` are its
    tokens)."""
    cur: list = []
    for it in items:
        if isinstance(it, RuleLine):
            if cur:
                yield cur
            yield it
            cur = []
        elif isinstance(it, Tok) and not it.quoted and it.text in ("\n", ";"):
            if cur:
                yield cur
            cur = []
        else:
            cur.append(it)
    if cur:
        yield cur


def flatten(items: list) -> list[Tok]:
    out: list[Tok] = []
    for it in items:
        if isinstance(it, Group):
            out.append(Tok("{", it.open.span))
            out.extend(flatten(it.items))
            out.append(Tok("}", it.open.span))
        elif it.quoted or it.text != "\n":
            out.append(it)
    return out


def items_text(items: list) -> str:
    parts = []
    for t in flatten(items):
        parts.append(f'"{t.text}"' if t.quoted else t.text)
    return " ".join(parts).replace(" ,", ",")


def word_of(it) -> str:
    return it.text if isinstance(it, Tok) else ""

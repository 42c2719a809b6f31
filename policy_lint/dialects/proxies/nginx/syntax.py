"""nginx's configuration syntax: a tokenizer that follows ngx_conf_read_token, directives as a
tree, and `include` resolved inside --root.

Why not crossplane: the Python crossplane (nginx inc.) has had no release since 0.5.8 (2022),
nginx inc. maintains only its Go port now, and it opens included files itself (outside
`--root` and our size/binary checks) and gives lines without columns. The grammar is small:

- words are separated by blanks; `;` ends a directive, `{` opens its block, `}` closes it
  (a `}` inside a word is part of the word, as in nginx);
- `#` at the start of a word comments out the rest of the line;
- "double" and 'single' quotes keep blanks; inside them `\\"`, `\\'`, `\\\\` and `\\t \\r \\n`
  are escapes, any other backslash stays (so a regex's `\\.` reaches PCRE), in words too;
- `${name}` keeps its braces inside a word; a `)` right after a closing quote starts a word
  (so `if ($host ~* "x")` gives `($host`, `~*`, `x`, `)`).
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field
from pathlib import Path

from policy_lint.dialects.semantics.base import ParseContext
from policy_lint.inputs import InputError, read_source
from policy_lint.model import Problem, Span

MAX_INCLUDE_DEPTH = 16
MAX_DIRECTIVES = 1_000_000  # a map of 10^6 names still reads (about 1 GB); more is refused
# Files nginx and Debian's nginx-common ship that only set parameters (no server, no proxy_pass).
STOCK_PARAMETER_FILES = frozenset(
    {
        "mime.types",
        "fastcgi.conf",
        "fastcgi-php.conf",
        "snakeoil.conf",
        "koi-utf",
        "koi-win",
        "win-utf",
        "proxy_params",
        "fastcgi_params",
        "scgi_params",
        "uwsgi_params",
    }
)


@dataclass
class Directive:
    name: str
    args: list[str]
    span: Span
    block: list[Directive] | None = None


@dataclass
class Token:
    text: str
    line: int
    col: int
    quoted: bool = False


class SyntaxProblem(Exception):
    def __init__(self, line: int, col: int, message: str):
        super().__init__(message)
        self.line, self.col = line, col


_ESCAPES = {'"': '"', "'": "'", "\\": "\\", "t": "\t", "r": "\r", "n": "\n"}


_TOKEN = re.compile(
    r"""(?P<ws>[ \t\r\n]+)
      | (?P<comment>\#[^\n]*)
      | (?P<struct>[;{}])
      | (?P<dq>"(?:[^"\\]|\\.)*")
      | (?P<sq>'(?:[^'\\]|\\.)*')
      | (?P<word>(?:\\.|\$\{|[^\s;{\\]|\\$)+)""",
    re.X | re.S,
)
_ESCAPE = re.compile(r"\\(.)", re.S)


def _unescape(text: str) -> str:
    return _ESCAPE.sub(lambda m: _ESCAPES.get(m.group(1), "\\" + m.group(1)), text)


def tokenize(text: str) -> list[Token]:
    """Words and the three structural characters `;`, `{`, `}` (as unquoted tokens)."""
    tokens: list[Token] = []
    newlines = [m.start() for m in re.finditer("\n", text)]

    def where(pos: int) -> tuple[int, int]:
        k = bisect.bisect_left(newlines, pos)
        return k + 1, pos - (newlines[k - 1] if k else -1)

    pos, n = 0, len(text)
    while pos < n:
        m = _TOKEN.match(text, pos)
        if m is None or (m.lastgroup == "word" and text[pos] in "\"'"):
            line, col = where(pos)
            raise SyntaxProblem(line, col, "unexpected end of file, expecting a closing quote")
        kind = m.lastgroup
        if kind in ("dq", "sq"):
            line, col = where(pos)
            tokens.append(Token(_unescape(m.group(kind)[1:-1]), line, col, quoted=True))
            nxt = text[m.end()] if m.end() < n else " "
            if nxt not in " \t\r\n;{)":
                line, col = where(m.end())
                raise SyntaxProblem(line, col, f"unexpected {nxt!r} after a quoted string")
        elif kind in ("struct", "word"):
            line, col = where(pos)
            value = m.group(kind)
            tokens.append(Token(value if kind == "struct" else _unescape(value), line, col))
        pos = m.end()
    return tokens


def build(tokens: list[Token], path: str, lines: list[str]) -> list[Directive]:
    """Directives from tokens; raises SyntaxProblem where nginx would refuse the file."""
    root: list[Directive] = []
    stack: list[list[Directive]] = [root]
    words: list[Token] = []
    for tok in tokens:
        structural = not tok.quoted and tok.text in (";", "{", "}")
        if not structural:
            words.append(tok)
            continue
        if tok.text == "}":
            if words:
                raise SyntaxProblem(tok.line, tok.col, 'unexpected "}"')
            if len(stack) == 1:
                raise SyntaxProblem(tok.line, tok.col, 'unexpected "}"')
            stack.pop()
            continue
        if not words:
            raise SyntaxProblem(tok.line, tok.col, f'unexpected "{tok.text}"')
        first = words[0]
        text = lines[first.line - 1].strip() if 0 < first.line <= len(lines) else first.text
        d = Directive(first.text, [w.text for w in words[1:]], Span(path, first.line, first.col, text))
        stack[-1].append(d)
        words = []
        if tok.text == "{":
            d.block = []
            stack.append(d.block)
    if words:
        raise SyntaxProblem(words[0].line, words[0].col, 'unexpected end of file, expecting ";" or "}"')
    if len(stack) > 1:
        last = tokens[-1] if tokens else Token("", 1, 1)
        raise SyntaxProblem(last.line, last.col, 'unexpected end of file, expecting "}"')
    return root


@dataclass
class Loader:
    """Reads a config and its includes (inside --root) into one directive tree."""

    context: ParseContext
    problems: list[Problem] = field(default_factory=list)
    included: list[str] = field(default_factory=list)
    statements: int = 0
    # Includes not found, with the blocks they stood in (("http", "server") ...).
    missing_includes: list[tuple[Span, tuple[str, ...]]] = field(default_factory=list)

    def load(self, path: Path, stack: tuple[Path, ...] = (), outer: tuple[str, ...] = ()) -> list[Directive]:
        display = self.context.resolver.display(path)
        src = read_source(path, display)
        self.problems.extend(src.problems)
        try:
            tree = build(tokenize("\n".join(src.lines)), display, src.lines)
        except SyntaxProblem as exc:
            # Nothing of a file nginx refuses is read: its lines are statements not understood.
            self.statements += sum(1 for x in src.lines if x.strip() and not x.lstrip().startswith("#"))
            self.problems.append(
                Problem(
                    "TE901",
                    Span(display, exc.line, exc.col, _line(src.lines, exc.line)),
                    f"{exc}: nginx refuses this",
                )
            )
            return []
        return self._expand(tree, path, stack + (path.resolve(),), outer)

    def _expand(
        self, tree: list[Directive], path: Path, stack: tuple[Path, ...], outer: tuple[str, ...]
    ) -> list[Directive]:
        out: list[Directive] = []
        for d in tree:
            self.statements += 1
            if self.statements > MAX_DIRECTIVES:
                raise InputError(f"{path}: more than {MAX_DIRECTIVES} directives")
            if d.name == "include" and d.block is None and len(d.args) == 1:
                out.extend(self._include(d, path, stack, outer))
                continue
            if d.block is not None:
                d.block = self._expand(d.block, path, stack, (*outer, d.name))
            out.append(d)
        return out

    def _include(
        self, d: Directive, path: Path, stack: tuple[Path, ...], outer: tuple[str, ...]
    ) -> list[Directive]:
        ref = d.args[0]
        resolver = self.context.resolver
        if any(c in ref for c in "*?["):
            targets = resolver.glob(ref, path)
            # The resolver also tries the pattern's bare last part next to the config: keep
            # only files in a directory of the pattern's name (sites-enabled/* is not *).
            parent = Path(ref).parent.name
            if parent and parent not in ("", "."):
                targets = [t for t in targets if t.parent.name == parent]
        else:
            one = resolver.resolve(ref, path)
            targets = [one] if one else []
        if not targets:
            self._missing(d, ref, path, outer)
            return []
        out: list[Directive] = []
        for target in targets:
            real = target.resolve()
            if real in stack:
                self.problems.append(Problem("TE904", d.span, f"include loop: {ref} includes itself"))
                continue
            if len(stack) >= MAX_INCLUDE_DEPTH:
                self.problems.append(
                    Problem("TE904", d.span, f"includes nested deeper than {MAX_INCLUDE_DEPTH}")
                )
                continue
            self.included.append(str(real))
            try:
                out.extend(self.load(target, stack, outer))
            except InputError as exc:
                self.problems.append(Problem("TE902", d.span, str(exc)))
        return out

    def _missing(self, d: Directive, ref: str, path: Path, outer: tuple[str, ...]) -> None:
        """An include that finds nothing. A glob whose directory the repository holds matches
        nothing there either: nginx includes nothing, and so do we. Debian's and nginx's stock
        parameter files (mime.types, proxy_params, fastcgi snippets, module loaders) hold no
        server: TE903, assumed harmless. Anything else may hold a forward proxy: TE903, and
        the verdicts it could touch are unknown."""
        if any(c in ref for c in "*?["):
            folder = str(Path(ref).parent)
            if any(c.is_dir() for c in self.context.resolver.candidates(folder, path)):
                return
        name = Path(ref).name
        stock = (
            name in STOCK_PARAMETER_FILES
            or name.endswith(("_params", ".types"))
            or Path(ref).parent.name in ("modules-enabled", "modules-available", "modules")
            or "types" in outer
        )
        if stock:
            self.problems.append(
                Problem(
                    "TE903",
                    d.span,
                    f"included file not found: {ref} (a stock nginx file of settings: assumed to hold no server)",
                )
            )
            return
        self.missing_includes.append((d.span, outer))
        self.problems.append(
            Problem("TE903", d.span, f"included file not found: {ref} (what it configures is unknown)")
        )


def _line(lines: list[str], n: int) -> str:
    return lines[n - 1].strip() if 0 < n <= len(lines) else ""

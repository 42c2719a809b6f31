"""The shell's syntax, as far as firewall scripts need it: a command's words (quotes, literal
variables; text computed at run time marked with DYN), statements split at `;`, `&&`, `|` ...,
logical lines (continuations, multi-line quotes, here-documents set aside). No command runs here."""

from __future__ import annotations

import re
from collections.abc import Callable

from policy_lint.dialects.firewalls.iptables.model import DYN
from policy_lint.model import Problem, Span


def lex(
    text: str, env: dict[str, str], substitute: Callable[[str], str | None] | None = None
) -> tuple[list[str], str]:
    """Split one shell command into words, expanding literal variables. Returns (words, error).

    Text computed at run time is marked with DYN, unless `substitute` knows what a command
    substitution `$(...)` / backquote prints (semantics/runtime: an ASN or name look-up the
    catalog answers); unquoted expansions are word-split."""
    words: list[str] = []
    cur: list[str] = []
    have = False
    i, n = 0, len(text)
    quote = ""

    def expand(j: int) -> tuple[str, int]:
        if j + 1 < n and text[j + 1] == "(":
            depth, k = 0, j + 1
            while k < n:
                depth += text[k] == "("
                depth -= text[k] == ")"
                if depth == 0:
                    break
                k += 1
            known = substitute(text[j + 2 : k]) if substitute else None
            return (DYN if known is None else known), k + 1
        m = re.match(r"\$(?:\{([A-Za-z_]\w*)(?::?[-=]([^}]*))?\}|([A-Za-z_]\w*)|([0-9#@*?!$-]))", text[j:])
        if not m:
            if j + 1 < n and text[j + 1] == "{":
                k = text.find("}", j)
                return DYN, (k + 1 if k >= 0 else n)
            return "$", j + 1
        name = m.group(1) or m.group(3)
        if name is None:
            # A function's positional parameter ($1 ... $9) is what the call passed (Script
            # binds them); the others ($#, $@, $?, ...) are run-time values.
            special = m.group(4)
            return (env[special] if special.isdigit() and special in env else DYN), j + m.end()
        if name in env:
            return env[name], j + m.end()
        if m.group(2) is not None:
            return m.group(2), j + m.end()
        return DYN, j + m.end()

    while i < n:
        c = text[i]
        if quote == "'":
            if c == "'":
                quote = ""
            else:
                cur.append(c)
            i += 1
            continue
        if quote == '"':
            if c == '"':
                quote = ""
                i += 1
            elif c == "\\" and i + 1 < n and text[i + 1] in '"\\$`\n':
                cur.append(text[i + 1])
                i += 2
            elif c == "$":
                val, i = expand(i)
                cur.append(val)
            elif c == "`":
                k = text.find("`", i + 1)
                known = substitute(text[i + 1 : k]) if substitute and k > i else None
                cur.append(DYN if known is None else known)
                i = k + 1 if k >= 0 else n
            else:
                cur.append(c)
                i += 1
            continue
        if c in " \t\n":
            if have or cur:
                words.append("".join(cur))
            cur, have = [], False
            i += 1
        elif c in "'\"":
            quote, have = c, True
            i += 1
        elif c == "\\" and i + 1 < n:
            cur.append(text[i + 1])
            i += 2
        elif c == "$":
            val, i = expand(i)
            parts = val.split() if val.strip() else ([] if not val else [val])
            if len(parts) > 1:
                cur.append(parts[0])
                words.append("".join(cur))
                words.extend(parts[1:-1])
                cur = [parts[-1]]
            elif parts:
                cur.append(parts[0])
        elif c == "`":
            k = text.find("`", i + 1)
            known = substitute(text[i + 1 : k]) if substitute and k > i else None
            if known is None:
                cur.append(DYN)
            else:  # unquoted: the output is split into words
                parts = known.split()
                cur.extend(parts[:1])
                if len(parts) > 1:
                    words.append("".join(cur))
                    words.extend(parts[1:-1])
                    cur = [parts[-1]]
            i = k + 1 if k >= 0 else n
        else:
            cur.append(c)
            i += 1
    if quote:
        return words, f"unterminated {quote} quote"
    if have or cur:
        words.append("".join(cur))
    return words, ""


class Cmd(str):
    """A statement's text, with the list operator before it (`&&`, `||`, or "" after `;`, `|`,
    `&` or a line's start) and the text of the and-or list it is guarded by (`iptables -C X`
    in `iptables -C X || iptables -A X`)."""

    op: str = ""
    guard: str = ""

    @classmethod
    def of(cls, text: str, op: str = "", guard: str = "") -> Cmd:
        c = cls(text)
        c.op, c.guard = op, guard
        return c


def split_statements(text: str) -> list[Cmd]:
    """Split a logical line at unquoted `;`, `&&`, `||`, `|`, `&` (pipes and lists: each part
    runs); a part after `&&`/`||` remembers the operator and what guards it (Cmd)."""
    out: list[tuple[str, str]] = []  # (text, operator before it)
    cur: list[str] = []
    quote, i = "", 0
    depth = 0
    op = ""
    while i < len(text):
        c = text[i]
        if quote:
            if c == "\\" and quote == '"' and i + 1 < len(text):
                cur.append(text[i : i + 2])
                i += 2
                continue
            if c == quote:
                quote = ""
        elif c in "'\"":
            quote = c
        elif c == "$" and text[i + 1 : i + 2] == "(":
            depth += 1
        elif c == ")" and depth:
            depth -= 1
        elif c == "#" and depth == 0 and (not cur or cur[-1][-1:] in (" ", "\t", ";")):
            break
        elif depth == 0 and c in ";|&":
            if c == ";" and text[i + 1 : i + 2] == ";":
                out.append(("".join(cur), op))
                out.append((";;", ""))
                cur, op = [], ""
                i += 2
                continue
            out.append(("".join(cur), op))
            cur = []
            double = text[i + 1 : i + 2] == c
            op = c * 2 if double and c in "&|" else ""
            i += 2 if double else 1
            continue
        cur.append(c)
        i += 1
    out.append(("".join(cur), op))
    result: list[Cmd] = []
    chain: list[str] = []  # the and-or list so far
    for part, before in out:
        part = part.strip()
        if not part:
            continue
        if before in ("&&", "||") and chain:
            result.append(Cmd.of(part, before, " ".join(chain)))
            chain += [before, part]
        else:
            result.append(Cmd.of(part))
            chain = [part]
    return result


def logical_lines(
    lines: list[str], shown: str, heredocs: dict[int, tuple[int, list[str], bool]] | None = None
) -> tuple[list[tuple[str, Span]], list[Problem]]:
    """Join continuations and multi-line quotes; drop comments. Here-document bodies are data,
    not commands: they go to `heredocs` (line of the command -> first body line, body lines,
    whether `$VAR`s expand in it)."""
    out: list[tuple[str, Span]] = []
    problems: list[Problem] = []
    i = 0
    while i < len(lines):
        start = i
        text = lines[i]
        while True:
            quote = _open_quote(text)
            if text.endswith("\\") and not quote:
                text = text[:-1] + " "
            elif not quote:
                break
            else:
                text += "\n"
            i += 1
            if i >= len(lines):
                if quote:
                    problems.append(
                        Problem(
                            "TE901",
                            Span(shown, start + 1, 1, lines[start].strip()),
                            f"unterminated {quote} quote: the shell would refuse the script",
                        )
                    )
                    text = ""
                break
            text += lines[i]
        i += 1
        m = re.search(r"<<-?\s*(['\"]?)(\w+)['\"]?", text)
        if m and not text.lstrip().startswith("#"):
            end, body_start = m.group(2), i
            while i < len(lines) and lines[i].strip() != end:
                i += 1
            if heredocs is not None:
                heredocs[start + 1] = (body_start + 1, lines[body_start:i], not m.group(1))
            i += 1
        if text.strip():
            out.append(
                (text, Span(shown, start + 1, len(text) - len(text.lstrip()) + 1, lines[start].strip()))
            )
    return out, problems


def _open_quote(text: str) -> str:
    quote, i = "", 0
    while i < len(text):
        c = text[i]
        if quote:
            if c == "\\" and quote == '"':
                i += 2
                continue
            if c == quote:
                quote = ""
        elif c == "\\":
            i += 2
            continue
        elif c == "#" and (i == 0 or text[i - 1] in " \t;"):
            return ""
        elif c in "'\"":
            quote = c
        i += 1
    return quote

"""The PAC file as JavaScript text: recognising it, decoding it, splitting it into lines the way
JavaScript counts them, and marking its return statements so the engine can say which one
answered."""

from __future__ import annotations

import re
from fnmatch import fnmatch
from pathlib import Path

NAME = "pac"
FILE_PATTERNS = ("*.pac", "wpad.dat", "*.pac.js")

JS_LINE_BREAK = re.compile(r"\r\n|[\n\r\u2028\u2029]")


def detect(path: Path, head: str) -> float:
    name = path.name.lower()
    named = any(fnmatch(name, p) for p in FILE_PATTERNS)
    if not named and "." in name and not name.endswith((".js", ".dat", ".txt")):
        return 0.0  # a README or a web page that shows a PAC file is not one
    if re.search(r"\bfunction\s+FindProxyForURL(Ex)?\s*\(|\bFindProxyForURL(Ex)?\s*=\s*function", head):
        return 0.95 if named else 0.9
    if named:
        return 0.6
    return 0.0


# --------------------------------------------------------------------------- source handling


def decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("latin-1")  # Chrome's default for PAC bodies is ISO-8859-1


def split_lines(text: str) -> list[str]:
    return JS_LINE_BREAK.split(text)


def short(text: str, most: int = 160) -> str:
    text = text.strip()
    return text if len(text) <= most else text[: most - 1] + "\u2026"


_REGEX_AFTER = set("(,=:[!&|?{};+-*%<>~^")
_REGEX_AFTER_WORDS = {
    "return",
    "typeof",
    "case",
    "do",
    "else",
    "in",
    "instanceof",
    "new",
    "delete",
    "void",
    "throw",
    "yield",
    "await",
}


def find_returns(src: str) -> list[tuple[int, int, int]]:
    """`return EXPR` statements of a script as (offset just after the keyword, line, column).

    A small JavaScript scanner: strings, template literals, comments and regular expression
    literals are skipped, so a `return` inside them is not taken. Bare returns (`return;`,
    `return` before a line break) are left out: they return undefined.
    """
    out: list[tuple[int, int, int]] = []
    n = len(src)
    i = 0
    line, line_start = 1, 0
    prev = ""
    braces = 0
    templates: list[int] = []  # brace depth at each open `${`

    def newline_at(k: int) -> int:
        """Length of the line break at k (0 if none)."""
        if src.startswith("\r\n", k):
            return 2
        return 1 if k < n and src[k] in "\n\r\u2028\u2029" else 0

    def scan_template(k: int) -> int:
        """From inside a template literal at k, to just after its end or its next `${`."""
        nonlocal line, line_start, braces
        while k < n:
            c = src[k]
            if c == "\\":
                k += 2
                continue
            if c == "`":
                return k + 1
            if c == "$" and src.startswith("${", k):
                templates.append(braces)
                return k + 2
            nl = newline_at(k)
            if nl:
                k += nl
                line, line_start = line + 1, k
                continue
            k += 1
        return k

    while i < n:
        c = src[i]
        nl = newline_at(i)
        if nl:
            i += nl
            line, line_start = line + 1, i
            continue
        if c.isspace() or c == "\ufeff":
            i += 1
            continue
        if src.startswith("//", i):
            while i < n and not newline_at(i):
                i += 1
            continue
        if src.startswith("/*", i):
            end = src.find("*/", i + 2)
            end = n if end < 0 else end + 2
            for m in JS_LINE_BREAK.finditer(src, i, end):
                line, line_start = line + 1, m.end()
            i = end
            continue
        if c in "'\"":
            i += 1
            while i < n and src[i] != c and not newline_at(i):
                i += 2 if src[i] == "\\" else 1
            i += 1
            prev = "str"
            continue
        if c == "`":
            i = scan_template(i + 1)
            prev = "str"
            continue
        if c == "/":
            if prev == "" or prev in _REGEX_AFTER or prev in _REGEX_AFTER_WORDS:
                i += 1
                in_class = False
                while i < n and not newline_at(i):
                    ch = src[i]
                    if ch == "\\":
                        i += 2
                        continue
                    if ch == "[":
                        in_class = True
                    elif ch == "]":
                        in_class = False
                    elif ch == "/" and not in_class:
                        break
                    i += 1
                i += 1
                while i < n and (src[i].isalnum() or src[i] in "_$"):
                    i += 1
                prev = "regex"
            else:
                prev = "/"
                i += 1
            continue
        if c.isalpha() or c in "_$" or (ord(c) > 127 and c.isidentifier()):
            j = i + 1
            while j < n and (
                src[j].isalnum() or src[j] in "_$" or (ord(src[j]) > 127 and src[j].isidentifier())
            ):
                j += 1
            word = src[i:j]
            if word == "return" and prev != ".":
                k = j
                while k < n and src[k] in " \t\v\f\u00a0\ufeff":
                    k += 1
                bare = (
                    k >= n
                    or src[k] in ";}:,)]"
                    or newline_at(k)
                    or src.startswith("//", k)
                    or src.startswith("/*", k)
                )
                if not bare:
                    out.append((j, line, i - line_start + 1))
            prev = word
            i = j
            continue
        if c.isdigit():
            j = i + 1
            while j < n and (src[j].isalnum() or src[j] in "._"):
                j += 1
            i = j
            prev = "num"
            continue
        if c == "{":
            braces += 1
        elif c == "}":
            if templates and templates[-1] == braces:
                templates.pop()
                i = scan_template(i + 1)
                prev = "str"
                continue
            braces -= 1
        prev = c
        i += 1
    return out


def instrument(src: str, marker: str = "__policyLintAt") -> str:
    """The script with each `return EXPR` turned into `return __policyLintAt(L,C), EXPR`: the
    same value, and the engine learns which return statement answered."""
    parts: list[str] = []
    last = 0
    for offset, line, col in find_returns(src):
        parts.append(src[last:offset])
        parts.append(f" {marker}({line},{col}),")
        last = offset
    parts.append(src[last:])
    return "".join(parts)

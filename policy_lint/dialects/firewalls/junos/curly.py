"""The curly-brace hierarchy (`show configuration`, RANCID/Oxidized backups) into the tree.

    security {
        inactive: policies { ... }       # `inactive:` marks the statement's last word
        replace: zones { ... }           # `replace:`, `protect:`, `unprotect:` tags change nothing here
    }

A statement ends with `;` (a leaf: its words, a `[ a b ]` list giving one leaf per element) or
opens a block with `{`; `}` closes it. Unbalanced braces are a TE901 (the device's own loader
refuses the file)."""

from __future__ import annotations

from policy_lint.dialects.firewalls.junos.lexer import LexError, Token, tokens
from policy_lint.dialects.firewalls.junos.tree import TOP_LEVEL, Tree
from policy_lint.model import Span

TAGS = ("replace:", "protect:", "unprotect:", "active:")
# Junos hierarchies are a dozen levels deep; far deeper nesting is no configuration (and the
# tree's walks recurse once per level).
MAX_DEPTH = 64


def read(tree: Tree, lines: list[str]) -> None:
    stack: list[list[str]] = []
    words: list[Token] = []
    lists: list[list[Token]] | None = None
    try:
        for tok in tokens(lines):
            if not tok.punct:
                if lists is not None:
                    lists[-1].append(tok)
                else:
                    words.append(tok)
                continue
            if tok.text == "[":
                lists = [[]]
            elif tok.text == "]":
                if lists is None:
                    raise LexError("']' without '['", tok.line)
                words.append(Token("\x00list", tok.line, tok.col))
                words.extend(lists[0])
                lists = None
            elif tok.text in "{;":
                if not words:
                    if tok.text == "{":
                        raise LexError("'{' without a statement", tok.line)
                    continue
                head, inactive, span = _statement(tree, words)
                path = [w for frame in stack for w in frame]
                if (path or head)[:1] and (path or head)[0] in TOP_LEVEL:
                    tree.understood += 1
                if len(path) + len(head) > MAX_DEPTH + 1 and "\x00list" not in head:
                    raise LexError(f"a statement deeper than {MAX_DEPTH} levels", tok.line)
                if tok.text == "{":
                    if head:
                        tree.add(path + head, span, inactive)
                    stack.append(head)
                    if len(stack) > MAX_DEPTH or len(path) + len(head) > MAX_DEPTH:
                        raise LexError(f"nesting deeper than {MAX_DEPTH} levels", tok.line)
                else:
                    for leaf in _expand(head):
                        tree.add(path + leaf, span, inactive)
                words = []
            elif tok.text == "}":
                if words:
                    raise LexError(f"missing ';' after {' '.join(w.text for w in words)!r}", tok.line)
                if not stack:
                    raise LexError("'}' without '{'", tok.line)
                stack.pop()
        if stack or words:
            raise LexError("the configuration ends inside a block (missing '}')", len(lines))
    except LexError as exc:
        if words:
            tree.statements += 1  # the statement it stopped in: read as nothing
        tree.syntax_error(exc.line, str(exc))


def _statement(tree: Tree, words: list[Token]) -> tuple[list[str], bool, Span]:
    first = words[0]
    span = Span(tree.path, first.line, first.col, " ".join(w.text for w in words if w.text != "\x00list"))
    inactive = False
    texts = [w.text for w in words]
    while texts and texts[0] in (*TAGS, "inactive:"):
        inactive = inactive or texts[0] == "inactive:"
        texts = texts[1:]
    tree.statements += 1
    return texts, inactive, span


def _expand(words: list[str]) -> list[list[str]]:
    """`application [ a b ]` -> [[application, a], [application, b]]."""
    if "\x00list" not in words:
        return [words]
    k = words.index("\x00list")
    return [[*words[:k], item] for item in words[k + 1 :]] or [words[:k]]

"""Cloudflare Gateway's policy expressions: a tokenizer, a recursive-descent parser (no eval)
and three-valued logic.

Gateway expressions are wirefilter-based (Cloudflare docs, "Gateway policy expressions"):
`<field> <operator> <value>` comparisons joined by `and`/`or`/`xor` (also `&&`, `||`, `^^`),
negated by `not`/`!`, grouped by parentheses; array fields are tested with `any(f[*] op v)`
(or `all(...)`); values are quoted strings, numbers, IP addresses and CIDRs, sets `{a b c}`
and list references `$<list-uuid>`. Operators: `==` `!=` (`eq` `ne`), `<` `<=` `>` `>=`,
`in`, `not in`, `matches` (`~`, a regular expression searched in the value), `contains`.
Binding, tightest first: `not`, `and`, `xor`, `or`.

    any(dns.domains[*] == "facebook.com") and not(identity.email == "boss@example.com")

Terraform interpolations that could not be resolved reach this parser as placeholders
(`\\x00N\\x00`, see terraform.py): a string or set holding one is symbolic, so that only the
comparisons they take part in become unknown. A function other than `any`/`all` is parsed
as an opaque term (its arguments kept as text): it evaluates to unknown.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

MAX_EXPRESSION_CHARS = 100_000
MAX_DEPTH = 200


class ExpressionError(ValueError):
    """Text that is not a Gateway expression (Cloudflare's API refuses such a policy)."""


# ------------------------------------------------------------------ tokens


@dataclass(frozen=True)
class Token:
    kind: str  # punct, string, bare, word, list, symbol, op
    text: str
    symbolic: bool = False  # a string holding an unresolved Terraform value


_PUNCT = "(){}[],*"
_OPS = ("==", "!=", "<=", ">=", "&&", "||", "^^", "<", ">", "~", "!")
_WORD = re.compile(r"\.?[A-Za-z_][A-Za-z0-9_.\-]*")
_BARE = re.compile(r"[0-9][0-9A-Za-z.:/_\-]*")
_IPV6 = re.compile(r"(?:[0-9A-Fa-f]{0,4}:){2,}[0-9A-Fa-f.:]*(?:/[0-9]+)?")  # fe80::/10 starts with a letter
_LIST = re.compile(r"\$[A-Za-z0-9_:.\-]+")
_SYMBOL = re.compile(r"\x00(\d+)\x00")


def tokenize(text: str) -> list[Token]:
    if len(text) > MAX_EXPRESSION_CHARS:
        raise ExpressionError(f"expression of {len(text)} characters (limit {MAX_EXPRESSION_CHARS})")
    tokens: list[Token] = []
    i = 0
    while i < len(text):
        c = text[i]
        if c.isspace():
            i += 1
            continue
        symbol = _SYMBOL.match(text, i)
        if symbol:
            tokens.append(Token("symbol", symbol.group(0), True))
            i = symbol.end()
            continue
        if c == '"' or (c == "r" and text.startswith(('r"', "r#"), i)):
            token, i = _string(text, i)
            tokens.append(token)
            continue
        if c in _PUNCT:
            tokens.append(Token("punct", c))
            i += 1
            continue
        op = next((o for o in _OPS if text.startswith(o, i)), None)
        if op:
            tokens.append(Token("op", op))
            i += len(op)
            continue
        for kind, pattern in (("list", _LIST), ("bare", _IPV6), ("bare", _BARE), ("word", _WORD)):
            m = pattern.match(text, i)
            if m:
                tokens.append(Token(kind, m.group(0)))
                i = m.end()
                break
        else:
            raise ExpressionError(f"unexpected character {c!r} at offset {i}")
    return tokens


def _string(text: str, start: int) -> tuple[Token, int]:
    """A quoted string (backslash escapes) or a wirefilter raw string r"..." / r#"..."#."""
    if text[start] == "r":
        hashes = 0
        i = start + 1
        while i < len(text) and text[i] == "#":
            hashes += 1
            i += 1
        if i >= len(text) or text[i] != '"':
            raise ExpressionError(f"bad raw string at offset {start}")
        close = '"' + "#" * hashes
        end = text.find(close, i + 1)
        if end < 0:
            raise ExpressionError(f"unterminated string at offset {start}")
        body = text[i + 1 : end]
        return Token("string", body, bool(_SYMBOL.search(body))), end + len(close)
    out: list[str] = []
    i = start + 1
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text):
            # `\"` and `\\` are the escapes; any other backslash stays (it belongs to a regex).
            out.append(text[i + 1] if text[i + 1] in '"\\' else text[i : i + 2])
            i += 2
            continue
        if c == '"':
            body = "".join(out)
            return Token("string", body, bool(_SYMBOL.search(body))), i + 1
        out.append(c)
        i += 1
    raise ExpressionError(f"unterminated string at offset {start}")


# ------------------------------------------------------------------ syntax tree


@dataclass(frozen=True)
class FieldRef:
    """`dns.domains[*]` -> name `dns.domains`, each; `identity.groups[*].name` ->
    `identity.groups.name`; a keyed index (`["x"]`) stays in the name (not modelled)."""

    name: str
    each: bool = False


@dataclass(frozen=True)
class Literal:
    kind: str  # string, number, ip, bool, symbolic
    text: str


@dataclass(frozen=True)
class SetValue:
    items: tuple[Literal, ...]

    @property
    def symbolic(self) -> bool:
        return any(item.kind == "symbolic" for item in self.items)


@dataclass(frozen=True)
class ListRef:
    name: str  # the text after `$` (a UUID, or `tf:<resource type>.<name>` from terraform.py)


Value = Literal | SetValue | ListRef


@dataclass(frozen=True)
class Compare:
    field: FieldRef
    op: str | None  # None: a bare (boolean) field
    value: Value | None
    negated: bool = False  # `not in`


@dataclass(frozen=True)
class Quantified:
    quantifier: str  # any | all
    inner: Node


@dataclass(frozen=True)
class Not:
    item: Node


@dataclass(frozen=True)
class Logic:
    op: str  # and | or | xor
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Opaque:
    """A function this dialect does not evaluate (`lower(...)`, `len(...)`)."""

    name: str
    text: str


Node = Compare | Quantified | Not | Logic | Opaque

_OPERATOR_WORDS = {"eq": "==", "ne": "!=", "lt": "<", "le": "<=", "gt": ">", "ge": ">=", "~": "matches"}
_COMPARISONS = {"==", "!=", "<", "<=", ">", ">=", "in", "matches", "contains", "~"}
_LOGIC_WORDS = {"and": "and", "&&": "and", "or": "or", "||": "or", "xor": "xor", "^^": "xor"}


class _Parser:
    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.i = 0
        self.depth = 0

    def peek(self, offset: int = 0) -> Token | None:
        j = self.i + offset
        return self.tokens[j] if j < len(self.tokens) else None

    def take(self) -> Token:
        token = self.peek()
        if token is None:
            raise ExpressionError("expression ends too early")
        self.i += 1
        return token

    def expect(self, text: str) -> None:
        token = self.take()
        if token.text != text or token.kind not in ("punct", "op"):
            raise ExpressionError(f"expected {text!r}, found {token.text!r}")

    def logic_word(self) -> str | None:
        token = self.peek()
        if token is None or token.kind not in ("word", "op"):
            return None
        return _LOGIC_WORDS.get(token.text.lower() if token.kind == "word" else token.text)

    def parse(self) -> Node:
        node = self.binary(("or", "xor", "and"))
        if self.peek() is not None:
            raise ExpressionError(f"unexpected {self.take().text!r}")
        return node

    def binary(self, levels: tuple[str, ...]) -> Node:
        if not levels:
            return self.unary()
        op, rest = levels[0], levels[1:]
        items = [self.binary(rest)]
        while self.logic_word() == op:
            self.take()
            items.append(self.binary(rest))
        return items[0] if len(items) == 1 else Logic(op, tuple(items))

    def unary(self) -> Node:
        token = self.peek()
        if token is not None and (
            (token.kind == "word" and token.text.lower() == "not")
            or (token.kind == "op" and token.text == "!")
        ):
            self.take()
            return Not(self.nested(self.unary))
        return self.atom()

    def nested(self, parse: Callable[[], Node]) -> Node:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ExpressionError("expression nests too deeply")
        try:
            return parse()
        finally:
            self.depth -= 1

    def atom(self) -> Node:
        token = self.take()
        if token.kind == "punct" and token.text == "(":
            node = self.nested(lambda: self.binary(("or", "xor", "and")))
            self.expect(")")
            return node
        if token.kind != "word" or token.text.startswith("."):
            raise ExpressionError(f"expected a field or function, found {token.text!r}")
        following = self.peek()
        if following is not None and following.kind == "punct" and following.text == "(":
            self.take()
            name = token.text.lower()
            if name in ("any", "all"):
                inner = self.nested(lambda: self.binary(("or", "xor", "and")))
                self.expect(")")
                return Quantified(name, inner)
            opaque = Opaque(token.text, f"{token.text}({self.balanced()})")
            compared = self.comparison(FieldRef(opaque.text))
            if compared.op is None:
                return opaque
            # `lower(http.request.host) == "x"`: the comparison of an unevaluated function.
            return Opaque(token.text, f"{opaque.text} {compared.op} ...")
        return self.comparison(self.field(token))

    def balanced(self) -> str:
        """The tokens of a function's arguments up to its closing parenthesis, as text."""
        depth = 1
        parts: list[str] = []
        while True:
            token = self.take()
            if token.kind == "punct" and token.text == "(":
                depth += 1
            elif token.kind == "punct" and token.text == ")":
                depth -= 1
                if depth == 0:
                    return " ".join(parts)
            parts.append(f'"{token.text}"' if token.kind == "string" else token.text)

    def field(self, first: Token) -> FieldRef:
        name = first.text
        each = False
        while True:
            token = self.peek()
            if token is not None and token.kind == "punct" and token.text == "[":
                self.take()
                index = self.take()
                self.expect("]")
                if index.kind == "punct" and index.text == "*":
                    each = True
                else:
                    name += f'["{index.text}"]' if index.kind == "string" else f"[{index.text}]"
                continue
            if token is not None and token.kind == "word" and token.text.startswith("."):
                self.take()
                name += token.text
                continue
            return FieldRef(name, each)

    def comparison(self, field: FieldRef) -> Compare:
        token = self.peek()
        if token is None or token.kind not in ("word", "op"):
            return Compare(field, None, None)
        text = token.text.lower() if token.kind == "word" else token.text
        negated = False
        if text == "not":
            following = self.peek(1)
            if following is None or following.kind != "word" or following.text.lower() != "in":
                return Compare(field, None, None)
            self.take()
            text, negated = "in", True
        text = _OPERATOR_WORDS.get(text, text)
        if text not in _COMPARISONS:
            return Compare(field, None, None)
        self.take()
        return Compare(field, text, self.value(), negated)

    def value(self) -> Value:
        token = self.take()
        if token.kind == "punct" and token.text == "{":
            items: list[Literal] = []
            while True:
                inner = self.take()
                if inner.kind == "punct" and inner.text == "}":
                    return SetValue(tuple(items))
                if inner.kind == "punct" and inner.text == ",":
                    continue
                items.append(self.literal(inner))
        if token.kind == "list":
            return ListRef(token.text[1:])
        return self.literal(token)

    def literal(self, token: Token) -> Literal:
        if token.kind == "symbol" or token.symbolic:
            return Literal("symbolic", token.text)
        if token.kind == "string":
            return Literal("string", token.text)
        if token.kind == "bare":
            return Literal("number" if token.text.isdigit() else "ip", token.text)
        if token.kind == "word" and token.text.lower() in ("true", "false"):
            return Literal("bool", token.text.lower())
        raise ExpressionError(f"expected a value, found {token.text!r}")


def parse(text: str) -> Node | None:
    """The expression's tree; None for an empty expression (it matches everything)."""
    tokens = tokenize(text)
    if not tokens:
        return None
    return _Parser(tokens).parse()


def walk(node: Node | None) -> Iterable[Node]:
    """Every node of the tree, parents first."""
    if node is None:
        return
    yield node
    if isinstance(node, Quantified):
        yield from walk(node.inner)
    elif isinstance(node, Not):
        yield from walk(node.item)
    elif isinstance(node, Logic):
        for item in node.items:
            yield from walk(item)


# ------------------------------------------------------------------ three-valued logic


@dataclass(frozen=True)
class Truth:
    """True, False, or None (unknown, with the reasons why)."""

    value: bool | None
    notes: frozenset[str] = field(default_factory=frozenset)


TRUE = Truth(True)
FALSE = Truth(False)


def unknown(note: str) -> Truth:
    return Truth(None, frozenset({note}))


def both(items: Iterable[Truth]) -> Truth:
    notes: set[str] = set()
    undecided = False
    for item in items:
        if item.value is False:
            return FALSE
        if item.value is None:
            undecided = True
            notes |= item.notes
    return Truth(None, frozenset(notes)) if undecided else TRUE


def either(items: Iterable[Truth]) -> Truth:
    notes: set[str] = set()
    undecided = False
    for item in items:
        if item.value is True:
            return TRUE
        if item.value is None:
            undecided = True
            notes |= item.notes
    return Truth(None, frozenset(notes)) if undecided else FALSE


def negate(item: Truth) -> Truth:
    return item if item.value is None else Truth(not item.value)


def exclusive(items: Iterable[Truth]) -> Truth:
    result: bool = False
    for item in items:
        if item.value is None:
            return item
        result ^= item.value
    return Truth(result)

"""nftables text (files, includes, defines, `table { }` blocks and `add|insert|delete ...`
commands) and `nft -j` JSON to tables of chains and sets: the model `evaluate` walks."""

from __future__ import annotations

import json
import re
from pathlib import Path

from policy_lint.dialects.firewalls.nftables.json_commands import json_command, json_offsets
from policy_lint.dialects.firewalls.nftables.matches import RuleParser
from policy_lint.dialects.firewalls.nftables.model import Chain, Fragment, NamedSet, Table
from policy_lint.dialects.firewalls.nftables.syntax import (
    JSON_HEAD,
    Group,
    RuleLine,
    Tok,
    group_braces,
    items_text,
    lex,
    split_statements,
    word_of,
)
from policy_lint.dialects.semantics.base import ParseContext
from policy_lint.inputs import InputError, read_source
from policy_lint.model import Span

FAMILIES = ("ip", "ip6", "inet", "arp", "bridge", "netdev")
MAX_INCLUDE_DEPTH = 16
MAX_DEFINE_ROUNDS = 32
PRIORITIES = {
    "raw": -300,
    "mangle": -150,
    "dstnat": -100,
    "filter": 0,
    "security": 50,
    "srcnat": 100,
    "out": 100,
    "conntrack": -200,
}


class Parser(RuleParser):
    """Reads a file and what it includes into `tables`; `RuleParser` reads the rules and elements."""

    def __init__(self, context: ParseContext, shown: str):
        super().__init__(context, shown)
        self.defines: dict[str, list] = {}
        self.tables: dict[tuple[str, str], Table] = {}
        self.active: list[Path] = []
        self.missing: list[tuple[str, Span]] = []
        self.order = 0
        # Statements for a ruleset loaded elsewhere (an `add element` file, a table's body).
        self.fragments: list[Fragment] = []
        self.included: list[str] = []  # files read through `include` (resolved paths)
        self.files: list[str] = []  # every file read (resolved), this one first
        # Whether the file being read may hold a `$VAR` (expand is the identity on one without).
        self.expanding = True

    # ---------------------------------------------------------------- files and statements

    def parse_file(self, path: Path, shown: str, depth: int = 0, ctx: tuple | None = None) -> None:
        resolved = path.resolve()
        if resolved in self.active:
            self.problem("TE904", Span(shown, 1, 1), f"{shown} includes itself (loop)")
            return
        try:
            src = read_source(path, shown)
        except InputError as exc:
            if depth == 0:
                raise
            self.problem("TE902", Span(shown, 1, 1), str(exc))
            return
        self.problems.extend(src.problems)
        self.files.append(str(resolved))
        if depth and str(resolved) != self.files[0]:
            self.included.append(str(resolved))
        self.active.append(resolved)
        expanding = self.expanding
        try:
            self.expanding = any("$" in line for line in src.lines)
            if JSON_HEAD.match("\n".join(src.lines[:5])) or (
                src.lines and src.lines[0].lstrip().startswith("{") and path.suffix.lower() == ".json"
            ):
                self.expanding = True
                self.parse_json("\n".join(src.lines), shown, path, depth)
            else:
                items = group_braces(
                    lex(src.lines, shown, self.problems, rule_lines=True), shown, self.problems
                )
                del src  # its lines are in the items now: not kept while the rules are built
                self.block(items, ctx, path, depth)
        finally:
            self.active.pop()
            self.expanding = expanding

    def block(self, items: list, ctx: tuple | None, path: Path, depth: int) -> None:
        """Statements of the top level (ctx None), of a table (ctx ('table', t)) or a chain."""
        for st in split_statements(items):
            if isinstance(st, RuleLine):
                if ctx is not None and ctx[0] == "chain":
                    rule = self.line_rule(st)
                    if rule is not None:
                        ctx[2].rules.append(rule)
                        continue
                st = st.words()
            if self.expanding:
                st = self.expand(st)
            if not st:
                continue
            head = word_of(st[0])
            if head == "include":
                self.include(st, ctx, path, depth)
            elif head in ("define", "redefine"):
                self.define(st)
            elif head == "undefine":
                if len(st) > 1:
                    self.defines.pop(word_of(st[1]), None)
            elif ctx is None:
                self.command(st, path, depth)
            elif ctx[0] == "table":
                self.table_statement(ctx[1], st, path, depth)
            elif ctx[0] == "chain":
                self.chain_statement(ctx[1], ctx[2], st)

    def expand(self, st: list, rounds: int = 0) -> list:
        """`$VAR` replaced by its definition (also inside anonymous sets)."""
        if rounds > MAX_DEFINE_ROUNDS:
            return st
        if word_of(st[0]) in ("define", "redefine") if st else False:
            # The name being defined stays; its value is expanded.
            return st[:3] + self.expand(st[3:], rounds) if len(st) > 3 else st
        out: list = []
        for it in st:
            if isinstance(it, RuleLine):
                out.append(it)  # holds no `$`
            elif isinstance(it, Group):
                out.append(Group(it.open, self.expand(it.raw, rounds)))
            elif not it.quoted and "$" in it.text:
                name = it.text[1:] if it.text.startswith("$") else ""
                if name in self.defines:
                    out.extend(self.expand(self.defines[name], rounds + 1))
                    continue

                def sub(m: re.Match, span: Span = it.span) -> str:
                    val = self.defines.get(m.group(1))
                    if val is None:
                        self.problem("TE901", span, f"${m.group(1)} is not defined")
                        return "__undefined__"
                    return items_text(val)

                out.append(Tok(re.sub(r"\$([A-Za-z_][\w-]*)", sub, it.text), it.span))
            else:
                out.append(it)
        return out

    def define(self, st: list) -> None:
        if len(st) < 4 or word_of(st[2]) != "=":
            self.problem("TE901", st[0].span, "define needs `NAME = value`")
            return
        self.defines[word_of(st[1])] = st[3:]

    def include(self, st: list, ctx: tuple | None, path: Path, depth: int) -> None:
        span = st[0].span
        if len(st) < 2 or not isinstance(st[1], Tok):
            self.problem("TE901", span, "include needs a quoted file name")
            return
        ref = st[1].text
        if depth >= MAX_INCLUDE_DEPTH:
            self.problem("TE904", span, f"includes nest deeper than {MAX_INCLUDE_DEPTH}")
            return
        resolver = self.context.resolver
        if any(c in ref for c in "*?["):
            # nft: a wildcard include that matches nothing is not an error.
            targets = resolver.glob(ref, path)
        else:
            hit = resolver.resolve(ref, path)
            if hit is None:
                self.problem("TE903", span, f"included file {ref!r} not found")
                self.missing.append((ref, span))
                return
            targets = [hit]
        for target in targets:
            self.parse_file(target, resolver.display(target), depth + 1, ctx)

    def _family_table(self, words: list, span: Span) -> tuple[str, str, int] | None:
        """`[family] table` at the start of `words`: (family, table, words used)."""
        ws = [word_of(w) for w in words]
        if ws and ws[0] in FAMILIES:
            if len(ws) < 2 or not ws[1]:
                self.problem("TE901", span, "a table name is missing")
                return None
            return ws[0], ws[1], 2
        if ws and ws[0]:
            return "ip", ws[0], 1
        self.problem("TE901", span, "a table name is missing")
        return None

    def table(self, family: str, name: str, span: Span) -> Table:
        t = self.tables.get((family, name))
        if t is None:
            t = self.tables[(family, name)] = Table(family, name, span)
        return t

    def command(self, st: list, path: Path, depth: int) -> None:
        span = st[0].span
        words = [word_of(w) for w in st]
        verb = words[0]
        if verb in (
            "add",
            "create",
            "insert",
            "replace",
            "delete",
            "destroy",
            "flush",
            "list",
            "reset",
            "rename",
        ):
            obj, rest = (words[1] if len(words) > 1 else ""), st[2:]
        elif verb in ("chain", "set", "map") and len(st) == 3 and isinstance(st[2], Group):
            # `set NAME { type ...; elements = ... }` at the top: a table's body, written to be
            # included inside `table inet filter { include "sets.nft" }` (alone nft refuses it).
            self.body_fragment(verb, word_of(st[1]), span, st[2], path, depth)
            return
        elif verb in ("table", "chain", "rule", "set", "map", "element"):
            verb, obj, rest = "add", verb, st[1:]
        else:
            self.problem("TE901", span, f"nft does not know the command {verb!r}")
            return
        if verb in ("list", "reset", "rename"):
            return
        if obj == "ruleset":
            if verb == "flush":
                self.tables.clear()
            return
        if obj not in (
            "table",
            "chain",
            "rule",
            "set",
            "map",
            "element",
            "counter",
            "quota",
            "limit",
            "flowtable",
            "ct",
            "secmark",
            "synproxy",
        ):
            self.problem("TE901", span, f"nft does not know {verb} {obj!r}")
            return
        ft = self._family_table(rest, span)
        if ft is None:
            return
        family, tname, used = ft
        rest = rest[used:]
        # What the command is about: created here, or looked up (None: not declared).
        t: Table | None
        c: Chain | None
        if obj == "table":
            if verb in ("delete", "destroy"):
                self.tables.pop((family, tname), None)
                return
            t = self.table(family, tname, span)
            if verb == "flush":
                for c in t.chains.values():
                    c.rules.clear()
                return
            if rest and isinstance(rest[-1], Group):
                self.block(rest[-1].items, ("table", t), path, depth)
            return
        t = self.tables.get((family, tname))
        if t is None and obj == "element" and verb in ("add", "create") and len(rest) > 1:
            # Elements for a table declared by a ruleset loaded before this file (`nft -f
            # ruleset.nft; nft -f social.nft`): a fragment, decided where the set is used.
            detached = Table(family, tname, span)
            g = rest[1] if isinstance(rest[1], Group) else None
            elems = self.elements(detached, g, False) if g is not None else []
            self.fragments.append(Fragment("element", family, tname, word_of(rest[0]), span, elems))
            return
        if t is None:
            if verb not in ("delete", "destroy", "flush"):
                # nft refuses to add to a table that was never declared.
                self.problem("TE901", span, f"table {family} {tname} does not exist")
            return
        if not rest:
            self.problem("TE901", span, f"{obj} name missing")
            return
        oname = word_of(rest[0])
        if obj == "chain":
            if verb in ("delete", "destroy"):
                t.chains.pop(oname, None)
            elif verb == "flush":
                if oname in t.chains:
                    t.chains[oname].rules.clear()
            else:
                c = self.chain(t, oname, span)
                if len(rest) > 1 and isinstance(rest[1], Group):
                    self.chain_body(t, c, rest[1], path, depth)
        elif obj == "rule":
            if verb in ("delete", "destroy", "replace"):
                return  # by handle: handles are not in the file
            c = t.chains.get(oname)
            if c is None:
                self.problem("TE901", span, f"chain {oname!r} does not exist in table {family} {tname}")
                return
            body = rest[1:]
            if len(body) >= 2 and word_of(body[0]) in ("position", "handle", "index"):
                body = body[2:]  # a handle is not in the file: where it points is unknown
            rule = self.rule(t, body, span)
            if rule is None:
                return
            if verb == "insert":
                # `insert` puts the rule first (after a handle we cannot know: first as well).
                c.rules.insert(0, rule)
            else:
                c.rules.append(rule)
        elif obj in ("set", "map"):
            if verb in ("delete", "destroy"):
                t.sets.pop(oname, None)
            elif verb == "flush":
                if oname in t.sets:
                    t.sets[oname].elements.clear()
            else:
                self.set_declaration(
                    t, obj, oname, span, rest[1] if len(rest) > 1 and isinstance(rest[1], Group) else None
                )
        elif obj == "element":
            s = t.sets.get(oname)
            if s is None:
                self.problem("TE901", span, f"set {oname!r} does not exist in table {family} {tname}")
                return
            if len(rest) > 1 and isinstance(rest[1], Group):
                elems = self.elements(t, rest[1], s.is_map)
                if verb in ("delete", "destroy"):
                    gone = {repr(v) for v, _a, _b, _s in elems}
                    s.elements = [e for e in s.elements if repr(e[0]) not in gone]
                else:
                    s.elements.extend(elems)

    def body_fragment(self, kind: str, name: str, span: Span, body: Group, path: Path, depth: int) -> None:
        """A table's statement outside any table: read into a detached table (its own errors
        are reported) and kept as a fragment of the ruleset that includes it."""
        detached = Table("", "", span)
        if kind == "chain":
            self.chain_body(detached, self.chain(detached, name, span), body, path, depth)
        else:
            self.set_declaration(detached, kind, name, span, body)
        s = detached.sets.get(name)
        self.fragments.append(Fragment("body", "", "", name, span, list(s.elements) if s else []))

    def chain_body(self, t: Table, c: Chain, body: Group, path: Path, depth: int) -> None:
        last = body.raw[-1] if body.raw else None
        ended = isinstance(last, RuleLine) or (
            isinstance(last, Tok) and not last.quoted and last.text in ("\n", ";")
        )
        if last is not None and not ended:
            # nft's grammar: each statement of a chain ends with a newline or `;`, also the last
            # one before `}` (`chain c { counter }` is refused).
            self.problem("TE901", body.open.span, "the last statement of the chain needs `;` before `}`")
        self.block(body.raw, ("chain", t, c), path, depth)

    def chain(self, t: Table, name: str, span: Span) -> Chain:
        c = t.chains.get(name)
        if c is None:
            self.order += 1
            c = t.chains[name] = Chain(name, span, order=self.order)
        return c

    def table_statement(self, t: Table, st: list, path: Path, depth: int) -> None:
        span = st[0].span
        head = word_of(st[0])
        if head in ("chain", "set", "map") and len(st) >= 2:
            name = word_of(st[1])
            body = st[2] if len(st) > 2 and isinstance(st[2], Group) else None
            if head == "chain":
                c = self.chain(t, name, span)
                if body is not None:
                    self.chain_body(t, c, body, path, depth)
            else:
                self.set_declaration(t, head, name, span, body)
        elif head == "flags":
            t.dormant = "dormant" in [word_of(w) for w in st[1:]]
        elif head in ("comment", "flowtable", "counter", "quota", "limit", "ct", "secmark", "synproxy"):
            return
        else:
            self.problem("TE901", span, f"nft does not know {head!r} inside a table")

    def chain_statement(self, t: Table, c: Chain, st: list) -> None:
        span = st[0].span
        words = [word_of(w) for w in st]
        head = words[0]
        if head == "type":
            if len(words) < 4 or words[2] != "hook":
                self.problem("TE901", span, "base chain needs `type T hook H priority P`")
                return
            c.type, c.hook = words[1], words[3]
            if "priority" in words:
                c.priority = self.priority(words[words.index("priority") + 1 :], span)
            else:
                self.problem("TE901", span, "base chain without a priority")
            if "policy" in words:  # `type ... priority 0; policy drop;` written without the `;`
                self.policy(c, words[words.index("policy") :], span)
            return
        if head == "policy":
            self.policy(c, words, span)
            return
        if head in ("comment", "devices", "device"):
            return
        rule = self.rule(t, st, span)
        if rule is not None:
            c.rules.append(rule)

    def policy(self, c: Chain, words: list[str], span: Span) -> None:
        if len(words) < 2 or words[1] not in ("accept", "drop"):
            self.problem("TE901", span, "policy must be accept or drop")
            return
        c.policy, c.policy_span = words[1], span

    def priority(self, words: list[str], span: Span) -> int:
        total, sign = 0, 1
        ok = False
        for w in words:
            if w in ("+", "-"):
                sign = 1 if w == "+" else -1
                continue
            try:
                total += sign * int(w)
                ok = True
            except ValueError:
                if w in PRIORITIES:
                    total += sign * PRIORITIES[w]
                    ok = True
                else:
                    break
            sign = 1
        if not ok:
            self.problem("TE901", span, "priority must be a number or a standard name (filter, raw, ...)")
        return total

    def set_declaration(self, t: Table, kind: str, name: str, span: Span, body: Group | None) -> None:
        """`set|map NAME { ... }` (a table statement or an `add` command): created or added to."""
        s = t.sets.get(name) or NamedSet(name, span, kind == "map")
        t.sets[name] = s
        if body is not None:
            self.set_body(t, s, body.items)
        if not s.datatype:
            self.problem("TE901", span, f"{kind} {name} does not say its type (`type ...` or `typeof ...`)")

    def set_body(self, t: Table, s: NamedSet, items: list) -> None:
        for st in split_statements(self.expand(items)):
            if isinstance(st, RuleLine):  # never here (a set's items are tokens): its words if so
                st = st.words()
            words = [word_of(w) for w in st]
            head = words[0]
            if head == "elements":
                g = next((x for x in st if isinstance(x, Group)), None)
                if g is None:
                    self.problem("TE901", st[0].span, "elements need `= { ... }`")
                    continue
                s.elements.extend(self.elements(t, g, s.is_map))
            elif head in ("type", "typeof"):
                s.datatype = " ".join(words[1:])
            elif head == "flags":
                if any(w in ("dynamic", "timeout") for w in words):
                    s.dynamic = True
            elif head in (
                "timeout",
                "gc-interval",
                "size",
                "policy",
                "auto-merge",
                "counter",
                "comment",
                "quota",
            ):
                if head == "timeout":
                    s.dynamic = True
            else:
                self.problem("TE901", st[0].span, f"nft does not know {head!r} inside a set")

    # ---------------------------------------------------------------- JSON

    def parse_json(self, text: str, shown: str, path: Path, depth: int) -> None:
        try:
            doc = json.loads(text)
        except (ValueError, RecursionError) as exc:
            line = getattr(exc, "lineno", 1)
            self.problem("TE901", Span(shown, line, getattr(exc, "colno", 1)), f"not valid JSON: {exc}")
            return
        if not isinstance(doc, dict) or not isinstance(doc.get("nftables"), list):
            self.problem("TE901", Span(shown, 1, 1), 'nft JSON needs {"nftables": [ ... ]}')
            return
        offsets = json_offsets(text)
        for k, obj in enumerate(doc["nftables"]):
            line = text.count("\n", 0, offsets[k]) + 1 if k < len(offsets) else 1
            span = Span(shown, line, 1)
            if not isinstance(obj, dict) or len(obj) != 1:
                self.problem("TE901", span, "each nftables entry is one object with one key")
                continue
            try:
                command = json_command(obj)
            except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
                self.problem("TE901", span, f"nft JSON entry not understood: {exc!s}"[:200])
                continue
            if not command:
                continue
            span = Span(shown, line, 1, command[:200])
            # Every token of the entry points at the entry's line in the JSON file.
            toks = [Tok(x.text, span, x.quoted) for x in lex([command], shown, self.problems)]
            items = group_braces(toks, shown, self.problems)
            self.block(items, None, path, depth)

"""FortiOS CLI text (`show`, `show full-configuration`, backups, scripts) read as the device
reads it: a tree of `config` tables, `edit` entries and `set` attributes, with lines.

    config firewall policy          # Table("firewall policy", line 1)
        edit 3                      #   Node("3", line 2)
            set srcintf "port1"     #     settings["srcintf"] = Setting(["port1"], line 3)
        next
        move 3 before 1             #   reorders the entries read so far
    end

Statements end at a newline outside double quotes (`set buffer "..."` may span many lines);
`\\"` and `\\\\` escape inside quotes (single quotes also quote); a line starting with `#` is a comment (the
`#config-version=FG...` header). `end` closes the current table (and an open entry with it);
`next` closes an entry. A table still open at the end of the file, a verb FortiOS does not
have, or a `next`/`end` with nothing to close, is a TE901 problem at its line: the device would
refuse the script there; what was read before stays.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from policy_lint.model import Problem, Span

# The verbs of a CLI script besides config/edit/set/next/end; `get`/`show`/`execute`/`diagnose`
# are commands in a pasted session, not configuration.
_EDIT_VERBS = {"unset", "append", "select", "unselect", "delete", "purge", "move", "rename", "clone"}
_SESSION_VERBS = {"get", "show", "execute", "exec", "diagnose", "diag", "sudo", "abort"}


@dataclass
class Setting:
    values: list[str]
    span: Span


@dataclass
class Node:
    """A table body or an entry: its attributes, nested tables and (for a table) its entries."""

    name: str
    span: Span
    settings: dict[str, Setting] = field(default_factory=dict)
    tables: list[Table] = field(default_factory=list)

    def value(self, key: str, default: str = "") -> str:
        s = self.settings.get(key)
        return s.values[0] if s and s.values else default

    def values(self, key: str) -> list[str]:
        s = self.settings.get(key)
        return list(s.values) if s else []

    def line_of(self, key: str) -> Span:
        s = self.settings.get(key)
        return s.span if s else self.span

    def table(self, path: str) -> Table | None:
        """The nested table `path` (several blocks of the same path are merged by `tables`)."""
        found = [t for t in self.tables if t.path == path]
        if not found:
            return None
        if len(found) == 1:
            return found[0]
        merged = Table(path, found[0].span)
        for t in found:
            merged.settings.update(t.settings)
            merged.tables.extend(t.tables)
            for e in t.entries:
                merged.put(e)
        return merged


class Table(Node):
    """A `config` block: a Node whose entries (`edit`) keep the device's order."""

    def __init__(self, path: str, span: Span) -> None:
        super().__init__(path, span)
        self.path = path
        self.entries: list[Node] = []

    def put(self, entry: Node) -> None:
        """An `edit` of an existing name continues that entry in place (the CLI's semantics)."""
        for i, e in enumerate(self.entries):
            if e.name == entry.name:
                if e is not entry:
                    e.settings.update(entry.settings)
                    e.tables.extend(entry.tables)
                    self.entries[i] = e
                return
        self.entries.append(entry)

    def entry(self, name: str) -> Node | None:
        return next((e for e in self.entries if e.name == name), None)


@dataclass(frozen=True)
class Statement:
    words: tuple[str, ...]
    span: Span
    unterminated: bool = False  # a quote still open at the end of the file


def statements(lines: list[str], path: str) -> Iterator[Statement]:
    """The file's statements: words (quotes removed, escapes applied) and where they start."""
    i = 0
    n = len(lines)
    while i < n:
        line = lines[i]
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            i += 1
            continue
        start = i
        col = len(line) - len(line.lstrip()) + 1
        words: list[str] = []
        raw_lines = [line]
        pos = 0
        current: list[str] | None = None  # the word being read
        quoted = ""  # the quote character of the value being read, "" outside quotes
        while True:
            if pos >= len(line):
                if quoted and i + 1 < n:  # a quoted value goes on on the next line
                    current = (current or []) + ["\n"]
                    i += 1
                    line = lines[i]
                    raw_lines.append(line)
                    pos = 0
                    continue
                break
            ch = line[pos]
            if quoted:
                if ch == "\\" and pos + 1 < len(line):
                    assert current is not None
                    current.append(line[pos + 1])
                    pos += 2
                    continue
                if ch == quoted:
                    quoted = ""
                else:
                    assert current is not None
                    current.append(ch)
                pos += 1
                continue
            if ch in " \t":
                if current is not None:
                    words.append("".join(current))
                    current = None
                pos += 1
                continue
            if ch in "\"'":
                quoted = ch
                current = current if current is not None else []
                pos += 1
                continue
            if ch == "\\" and pos + 1 < len(line):
                current = (current or []) + [line[pos + 1]]
                pos += 2
                continue
            current = (current or []) + [ch]
            pos += 1
        if current is not None:
            words.append("".join(current))
        i += 1
        if words:
            text = raw_lines[0].strip()[:200]
            yield Statement(tuple(words), Span(path, start + 1, col, text), bool(quoted))


class Reader:
    """Builds the tree from statements; problems go to `problems`."""

    def __init__(self, path: str, problems: list[Problem]) -> None:
        self.root = Node("", Span(path, 1, 1))
        self.problems = problems
        self.statements = 0
        self.understood = 0
        # The stack: (table, entry being edited or None)
        self._stack: list[tuple[Table, Node | None]] = []

    def _body(self) -> Node:
        if not self._stack:
            return self.root
        table, entry = self._stack[-1]
        return entry if entry is not None else table

    def _error(self, span: Span, message: str) -> None:
        self.problems.append(Problem("TE901", span, message))

    def read(self, stmts: Iterator[Statement]) -> None:
        for st in stmts:
            self.statements += 1
            if self._one(st):
                self.understood += 1
        for table, _entry in reversed(self._stack):
            self._error(table.span, f"'config {table.path}' has no 'end': FortiOS does not apply it")
        self._stack.clear()

    def _one(self, st: Statement) -> bool:
        if st.unterminated:
            self._error(st.span, "a quote opened here is never closed: FortiOS refuses the rest of the file")
            return False
        verb, args = st.words[0].lower(), list(st.words[1:])
        if verb == "config":
            if not args:
                self._error(st.span, "'config' without a table name")
                return False
            table = Table(" ".join(args), st.span)
            self._body().tables.append(table)
            self._stack.append((table, None))
            return True
        if verb == "edit":
            if not self._stack or not args:
                self._error(st.span, "'edit' outside a 'config' table")
                return False
            table, entry = self._stack[-1]
            if entry is not None:
                # `edit` inside an entry: the CLI has no such nesting; the entry ends here.
                self._error(st.span, f"'edit {args[0]}' before 'next' closes entry {entry.name!r}")
            name = args[0]
            if name == "0":
                # `edit 0` in a table of numbered entries makes a new entry with the next free ID.
                numbers = [int(e.name) for e in table.entries if e.name.isdigit()]
                name = str(max(numbers, default=0) + 1)
            node = table.entry(name) or Node(name, st.span)
            table.put(node)
            self._stack[-1] = (table, node)
            return True
        if verb == "next":
            if not self._stack or self._stack[-1][1] is None:
                self._error(st.span, "'next' with no 'edit' open")
                return False
            self._stack[-1] = (self._stack[-1][0], None)
            return True
        if verb == "end":
            if not self._stack:
                self._error(st.span, "'end' with no 'config' open")
                return False
            self._stack.pop()
            return True
        if verb in ("set", "append", "select", "unselect", "unset"):
            if not args:
                self._error(st.span, f"'{verb}' without an attribute")
                return False
            body = self._body()
            key = args[0].lower()
            if verb == "unset":
                body.settings.pop(key, None)
            elif verb in ("append", "select") and key in body.settings:
                body.settings[key] = Setting(body.settings[key].values + args[1:], st.span)
            elif verb == "unselect" and key in body.settings:
                gone = set(args[1:])
                body.settings[key] = Setting([v for v in body.settings[key].values if v not in gone], st.span)
            else:
                body.settings[key] = Setting(args[1:], st.span)
            return True
        if verb in _EDIT_VERBS:
            return self._edit_verb(verb, args, st)
        if verb in _SESSION_VERBS:
            return True  # a pasted session's command: changes no configuration
        if verb.endswith(("#", "$", ")")):
            return True  # a prompt (`FGT60F #`) copied with a session
        self._error(st.span, f"unknown command {st.words[0]!r}: FortiOS refuses it")
        return False

    def _edit_verb(self, verb: str, args: list[str], st: Statement) -> bool:
        if not self._stack or self._stack[-1][1] is not None:
            self._error(st.span, f"'{verb}' outside a table")
            return False
        table = self._stack[-1][0]
        if verb == "delete" and args:
            table.entries = [e for e in table.entries if e.name != args[0]]
            return True
        if verb == "purge":
            table.entries = []
            return True
        if verb == "move" and len(args) == 3 and args[1] in ("before", "after"):
            moving, anchor = table.entry(args[0]), table.entry(args[2])
            if moving is None or anchor is None:
                self._error(st.span, f"'move' names an entry the table does not have: {' '.join(args)}")
                return False
            table.entries.remove(moving)
            at = table.entries.index(anchor) + (1 if args[1] == "after" else 0)
            table.entries.insert(at, moving)
            return True
        if verb in ("rename", "clone") and len(args) == 3 and args[1] == "to":
            source = table.entry(args[0])
            if source is None:
                self._error(st.span, f"'{verb}' names an entry the table does not have: {args[0]}")
                return False
            if verb == "rename":
                source.name = args[2]
            else:
                table.put(Node(args[2], st.span, dict(source.settings), list(source.tables)))
            return True
        self._error(st.span, f"malformed '{verb}' command")
        return False

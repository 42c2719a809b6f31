"""Windows scripts that write the hosts file (batch .bat/.cmd, PowerShell .ps1).

Pushed by GPO or run once by hand, such scripts append sinkhole lines to
`%WINDIR%\\System32\\drivers\\etc\\hosts`. They are never run: the commands that touch files are
read the way cmd.exe or PowerShell would carry them out, on a model of the hosts file that
starts as Windows' default one (comments only), and the resulting hosts file is judged with
hosts-file semantics (exact names, first line wins; see hosts.py). Batch:

    SET NEWLINE=^& echo.
    FIND /C /I "app.facebook.com" %WINDIR%\\system32\\drivers\\etc\\hosts
    IF %ERRORLEVEL% NEQ 0 ECHO %NEWLINE%^127.0.0.1 app.facebook.com>>%WINDIR%\\System32\\drivers\\etc\\hosts
    FIND /C /I "facebook.com" %WINDIR%\\system32\\drivers\\etc\\hosts
    IF %ERRORLEVEL% NEQ 0 ECHO %NEWLINE%^127.0.0.1 facebook.com>>%WINDIR%\\System32\\drivers\\etc\\hosts

`%VAR%` expands when a line is read (so `%NEWLINE%` brings a real `&`: the line runs `ECHO`
then `echo.127.0.0.1 ...>>hosts`, and the IF governs both); `^` escapes the next character;
`FIND` matches substrings (case-insensitively with /I) and sets ERRORLEVEL 0 when it finds
one. So the second FIND finds "facebook.com" inside the line written for app.facebook.com and
facebook.com itself is never written. Also modelled: `>`/`>>` anywhere in a command, `echo.`,
`type`, `copy`/`move`/`del` between files (a file in the repository is read through --root),
`find`/`findstr` (also /V filters), `set`, `if [not] errorlevel`, `if ... ==/EQU/NEQ ...`,
`&`, `&&`, `||`, `for %%X in (list) do`. Conditions that cannot be decided are taken as met.

PowerShell: `$var = "..."`/`@(...)` literals, `Add-Content`, `Set-Content`, `Out-File
[-Append]`, `>>`/`>`, `foreach ($x in ...) { ... }` and `... | ForEach-Object { ... $_ ... }`
over literal lists. Lines computed from values that are not literal (downloaded lists, user
input) cannot be known: those names are `unknown` (TE907).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from policy_lint.catalog import Catalog
from policy_lint.dialects.dns.hosts import address_decision, parse_address
from policy_lint.dialects.semantics import batch
from policy_lint.dialects.semantics.base import ParseContext
from policy_lint.dialects.semantics.names import NameRuleset
from policy_lint.inputs import InputError, read_source
from policy_lint.model import Decision, Outcome, Problem, Span

NAME = "windows-batch"
FILE_PATTERNS = ("*.bat", "*.cmd", "*.ps1")
HOSTS = "<hosts>"
_HOSTS_PATH = re.compile(r"drivers[\\/]+etc[\\/]+hosts(?![\w.])", re.I)

# Windows' own hosts file as shipped (comments only): FIND/Select-String see it too.
DEFAULT_HOSTS = """# Copyright (c) 1993-2009 Microsoft Corp.
#
# This is a sample HOSTS file used by Microsoft TCP/IP for Windows.
#
# This file contains the mappings of IP addresses to host names. Each
# entry should be kept on an individual line. The IP address should
# be placed in the first column followed by the corresponding host name.
# The IP address and the host name should be separated by at least one
# space.
#
# Additionally, comments (such as these) may be inserted on individual
# lines or following the machine name denoted by a '#' symbol.
#
# For example:
#
#      102.54.94.97     rhino.acme.com          # source server
#       38.25.63.10     x.acme.com              # x client host

# localhost name resolution is handled within DNS itself.
#	127.0.0.1       localhost
#	::1             localhost
""".splitlines()

ENVIRONMENT = {
    "WINDIR": r"C:\Windows",
    "SYSTEMROOT": r"C:\Windows",
    "SYSTEMDRIVE": "C:",
    "PROGRAMFILES": r"C:\Program Files",
    "TEMP": r"C:\Temp",
    "TMP": r"C:\Temp",
}


def detect(path: Path, head: str) -> float:
    if path.suffix.lower() not in (".bat", ".cmd", ".ps1"):
        return 0.0
    return 0.9 if _HOSTS_PATH.search(head) else 0.0


# --------------------------------------------------------------------------- the file model


@dataclass
class VFile:
    """A file as the script leaves it: known lines (each with the command that wrote it) and
    whether earlier content is unknown (copied from a file we cannot read)."""

    lines: list[tuple[str, Span | None]] = field(default_factory=list)
    unknown: Span | None = None


@dataclass
class _Machine:
    path: Path
    shown: str
    context: ParseContext
    files: dict[str, VFile] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    computed: list[Span] = field(default_factory=list)  # hosts lines we could not compute

    def __post_init__(self) -> None:
        self.files[HOSTS] = VFile([(line, None) for line in DEFAULT_HOSTS])

    def key(self, target: str) -> str:
        t = target.strip().strip('"').strip("'").replace("/", "\\")
        if _HOSTS_PATH.search(t):
            return HOSTS
        return re.sub(r"\\+", r"\\", t).lower()

    def read(self, source: str, span: Span) -> VFile:
        """A file's content: one the script wrote, else one in the repository, else unknown."""
        k = self.key(source)
        if k in self.files:
            f = self.files[k]
            return VFile(list(f.lines), f.unknown)
        name = source.strip().strip('"').replace("\\", "/")
        target = self.context.resolver.resolve(name, self.path) if name else None
        if target is None and "/" in name:
            target = self.context.resolver.resolve(name.rsplit("/", 1)[1], self.path)
        if target is not None:
            try:
                src = read_source(target, self.context.resolver.display(target))
            except InputError:
                src = None
            if src is not None:
                return VFile(
                    [(line, Span(src.path, i, 1, line.strip())) for i, line in enumerate(src.lines, start=1)]
                )
        return VFile([], span)

    def write(self, target: str, lines: list[str] | VFile, span: Span, append: bool) -> None:
        k = self.key(target)
        new = lines if isinstance(lines, VFile) else VFile([(text, span) for text in lines])
        if append and k in self.files:
            old = self.files[k]
            self.files[k] = VFile(
                old.lines + new.lines, old.unknown or (new.unknown if not old.lines else None)
            )
            if new.unknown and k == HOSTS:
                self.computed.append(span)
        else:
            self.files[k] = new
            if new.unknown and k == HOSTS:
                self.computed.append(span)

    def delete(self, target: str) -> None:
        self.files.pop(self.key(target), None)


# --------------------------------------------------------------------------- batch

UNKNOWN_VALUE = "\x02"  # %ERRORLEVEL% after a FIND on content we do not know


def _split_operators(text: str) -> list[tuple[str, str]]:
    """cmd's phase 2 on an expanded line: (command, operator after it), honouring quotes and
    `^` escapes (which are removed)."""
    out: list[tuple[str, str]] = []
    buf: list[str] = []
    quoted = False
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == '"':
            quoted = not quoted
            buf.append(ch)
        elif ch == "^" and not quoted and i + 1 < len(text):
            buf.append("\x01" + text[i + 1])  # escaped: never an operator or redirection
            i += 1
        elif not quoted and ch in "&|":
            op = text[i : i + 2] if text[i : i + 2] in ("&&", "||") else ch
            if (ch == "&" and buf and buf[-1] in (">", "<")) or (
                ch == "&" and "".join(buf).rstrip().endswith(("2>", "1>"))
            ):
                buf.append(ch)  # 2>&1
            else:
                out.append(("".join(buf), op))
                buf = []
                i += len(op)
                continue
        else:
            buf.append(ch)
        i += 1
    out.append(("".join(buf), ""))
    return out


def _unescape(text: str) -> str:
    return text.replace("\x01", "")


_REDIRECT = re.compile(r'(?<![\x01\d])(>>?)\s*("[^"]*"|[^\s"]+)|(?<!\x01)\d>>?\s*&?\s*\S+')


def _redirection(command: str) -> tuple[str, tuple[str, bool] | None]:
    """Remove `>`/`>>` (and `2>nul`) from a command: (command, (target, append) or None)."""
    target = None
    out = []
    last = 0
    for m in _REDIRECT.finditer(command):
        out.append(command[last : m.start()])
        last = m.end()
        if m.group(1):
            target = (_unescape(m.group(2)).strip('"'), m.group(1) == ">>")
    out.append(command[last:])
    return "".join(out), target


def _words(text: str) -> list[str]:
    return re.findall(r'"[^"]*"|\S+', text)


class _Batch:
    def __init__(self, machine: _Machine):
        self.m = machine
        self.vars = dict(ENVIRONMENT)
        self.expanded = False  # inside a line whose variables were expanded already
        self.errorlevel: int | None = 0
        self.stopped = False

    def run(self, lines: list[str]) -> None:
        block: list[tuple[str, Span]] | None = None
        head = ""
        depth = 0
        for start, line in batch.logical_lines(lines):
            if self.stopped:
                return
            body = batch.command_text(line)
            if batch.is_comment(body) or body.startswith(":"):  # a label: nothing to run
                continue
            span = Span(self.m.shown, start, len(line) - len(line.lstrip()) + 1, line.strip())
            # A parenthesised block over several lines: cmd reads (and %-expands) it whole;
            # a redirection after its `)` applies to all of it.
            if block is not None:
                depth += body.count("(") - body.count(")")
                if depth <= 0 and body.startswith(")"):
                    self._block(head, block, body, span)
                    block, depth = None, 0
                else:
                    block.append((body, span))
                continue
            if body.endswith("(") and body.count("(") > body.count(")"):
                head, block, depth = body[:-1].strip(), [], 1
                continue
            self.line(body, span)

    def _block(self, head: str, block: list[tuple[str, Span]], closing: str, span: Span) -> None:
        lines = [(self.expand(b), s) for b, s in block]
        head = self.expand(head)
        m = re.match(r"if\s+(.*)$", head, re.I)
        if m:
            holds, _rest = self._condition(re.findall(r'"[^"]*"\S*|\S+', m.group(1)))
            if holds is False:
                return
        loop = re.match(r"for\s+(%%?\w)\s+in\s*\(([^)]*)\)\s*do\s*$", head, re.I)
        rounds = (
            [(loop.group(1), word.strip('"')) for word in _words(loop.group(2).replace(",", " "))]
            if loop
            else [("", "")]
        )
        _command, target = _redirection(self.expand(closing[1:]))
        collected: list[str] = []
        for var, item in rounds:
            for body, s in lines:
                text = body.replace(var, item) if var else body
                collected += self._literal_line(text, s, capture=target is not None)
        if target is not None:
            self.m.write(target[0], collected, span, target[1])

    def expand(self, text: str) -> str:
        if self.expanded:  # the text was expanded once already: no second expansion
            return text

        def sub(m: re.Match) -> str:
            name = m.group(1)
            if name.upper() == "ERRORLEVEL":
                return UNKNOWN_VALUE if self.errorlevel is None else str(self.errorlevel)
            return self.vars.get(name.upper(), "")

        text = re.sub(r"%([A-Za-z_][\w#$.-]*)%", sub, text)
        return re.sub(r"%~?[0-9*]", "", text)

    def _condition(self, words: list[str]) -> tuple[bool | None, list[str]]:
        """Evaluate an IF condition; (True/False/None = undecidable, words after it)."""
        negate = False
        if words and words[0].lower() == "/i":
            words = words[1:]
        if words and words[0].lower() == "not":
            negate, words = True, words[1:]
        if not words:
            return None, []
        first = words[0].lower()
        result: bool | None
        if first == "errorlevel" and len(words) >= 2:
            try:
                n = int(words[1])
                result = None if self.errorlevel is None else self.errorlevel >= n
            except ValueError:
                result = None
            rest = words[2:]
        elif first in ("exist", "defined") and len(words) >= 2:
            result = None if first == "exist" else words[1].upper() in self.vars
            if first == "exist" and self.m.key(words[1]) == HOSTS:
                result = True
            rest = words[2:]
        elif "==" in words[0]:
            left, _, right = words[0].partition("==")
            if right == "" and len(words) >= 2:
                right, rest = words[1], words[2:]
            else:
                rest = words[1:]
            result = left.strip('"').lower() == right.strip('"').lower()
        elif len(words) >= 3 and words[1].lower() in ("==", "equ", "neq", "lss", "leq", "gtr", "geq"):
            a, op, b = words[0].strip('"'), words[1].lower(), words[2].strip('"')
            rest = words[3:]
            try:
                x, y = int(a), int(b)
            except ValueError:
                x, y = a.lower(), b.lower()  # type: ignore[assignment]
            if a == "" or b == "" or UNKNOWN_VALUE in a + b:
                result = None
            else:
                result = {
                    "==": x == y,
                    "equ": x == y,
                    "neq": x != y,
                    "lss": x < y,
                    "leq": x <= y,
                    "gtr": x > y,
                    "geq": x >= y,
                }[op]
        else:
            return None, words[1:]
        if result is not None and negate:
            result = not result
        return result, rest

    def line(self, text: str, span: Span, capture: bool = False) -> list[str]:
        """Run one logical line (after %-expansion); returns echoed text when capturing."""
        expanded = self.expand(text)
        m = re.match(r"\s*@?\s*if\s+(.*)$", expanded, re.I | re.S)
        if m:
            return self._if(m.group(1), span, capture)
        out: list[str] = []
        parts = _split_operators(expanded)
        run_next = True
        for command, op in parts:
            if run_next:
                stripped = command.strip()
                if stripped.startswith("(") and stripped.endswith(")") and stripped.count("(") == 1:
                    stripped = stripped[1:-1]
                out += self.command(stripped, span, capture)
            if op == "&&":
                run_next = self.errorlevel in (0, None)
            elif op == "||":
                run_next = self.errorlevel != 0
            else:
                run_next = True
        return out

    def _if(self, rest: str, span: Span, capture: bool) -> list[str]:
        # Conditions are words before the command; the command is the rest of the line (cmd
        # makes every `&`-joined command on it part of the IF).
        words = re.findall(r'"[^"]*"\S*|\S+', rest)
        holds, after = self._condition(words)
        consumed = len(words) - len(after)
        pos = 0
        for _ in range(consumed):
            m = re.compile(r'\s*("[^"]*"\S*|\S+)').match(rest, pos)
            pos = m.end() if m else pos
        body = rest[pos:].strip()
        split = re.match(r"^\((.*)\)\s*else\s*(.*)$", body, re.I | re.S)
        then, otherwise = (split.group(1), split.group(2)) if split else (body, "")
        if then.startswith("(") and then.endswith(")"):
            then = then[1:-1]
        if otherwise.startswith("(") and otherwise.endswith(")"):
            otherwise = otherwise[1:-1]
        if holds is False:
            return self._literal_line(otherwise, span, capture) if otherwise else []
        return self._literal_line(then, span, capture)

    def _literal_line(self, text: str, span: Span, capture: bool) -> list[str]:
        # Already expanded: protect remaining % from a second expansion.
        saved, self.expanded = self.expanded, True
        try:
            return self.line(text, span, capture)
        finally:
            self.expanded = saved

    def command(self, command: str, span: Span, capture: bool) -> list[str]:
        loop = re.match(r"\s*@?for\s(.*)$", command, re.I | re.S)
        if loop:
            return self._for(loop.group(1), span, capture)
        command, target = _redirection(command)
        text = command.strip()
        if not text:
            return []
        word = re.match(r"[^\s(.:/\x01]+", text.lstrip("@"))
        verb = (word.group(0) if word else text.split()[0]).lower().lstrip("@")
        rest = text.lstrip("@")[len(verb) :] if word else ""
        output: list[str] | VFile | None = None
        if verb == "echo":
            output = self._echo(rest)
        elif verb == "set":
            self._set(_unescape(rest).strip())
        elif verb in ("type",):
            args = [w.strip('"') for w in _words(_unescape(rest))]
            if args:
                output = self.m.read(args[0], span)
        elif verb in ("copy", "xcopy", "move"):
            args = [w.strip('"') for w in _words(_unescape(rest)) if not w.startswith("/")]
            if len(args) >= 2 and "+" not in args[0]:
                content = self.m.read(args[0], span)
                self.m.write(args[1], content, span, False)
                if verb == "move":
                    self.m.delete(args[0])
            self.errorlevel = 0
        elif verb in ("del", "erase"):
            for a in _words(_unescape(rest)):
                if not a.startswith("/"):
                    self.m.delete(a)
        elif verb in ("find", "findstr"):
            output = self._find(verb, _unescape(rest), span)
        elif verb in ("exit",) and not capture:
            self.stopped = True
        if output is None:
            return []
        if target is not None:
            self.m.write(target[0], output, span, target[1])
            return []
        if capture:
            return [t for t, _ in output.lines] if isinstance(output, VFile) else output
        return []

    def _echo(self, rest: str) -> list[str] | None:
        if rest[:1] in (".", "(", ":", "/", "\\", ",", ";", "=", "+", "[", "]"):
            return [_unescape(rest[1:])]
        text = _unescape(rest[1:] if rest[:1] in (" ", "\t") else rest)
        if text.strip().lower() in ("", "on", "off"):
            return None if text.strip() else ["ECHO is off."]
        return [text]

    def _set(self, rest: str) -> None:
        if rest.lower().startswith(("/a", "/p")):
            m = re.match(r"/p\s+\"?(\w+)=", rest, re.I)
            if m:
                self.vars[m.group(1).upper()] = ""  # user input: unknown
            return
        rest = rest.strip()
        if rest.startswith('"') and '"' in rest[1:]:
            rest = rest[1 : rest.rindex('"')]
        name, eq, value = rest.partition("=")
        if eq:
            self.vars[name.strip().upper()] = value

    def _find(self, verb: str, rest: str, span: Span) -> list[str]:
        words = _words(rest)
        opts = [w.lower() for w in words if w.startswith("/") and not w.lower().startswith("/c:")]
        literal = [w[3:].strip('"') for w in words if w.lower().startswith("/c:")]
        plain = [w for w in words if not w.startswith("/")]
        if verb == "find":
            needles = [plain[0].strip('"')] if plain else []
            files = plain[1:]
        else:
            if literal:
                needles, files = literal, plain
            else:
                needles = plain[0].strip('"').split() if plain else []
                files = plain[1:]
        ignore = "/i" in opts
        invert = "/v" in opts
        found: list[str] = []
        unknown = False
        for f in files:
            content = self.m.read(f, span)
            unknown = unknown or content.unknown is not None
            for text, _s in content.lines:
                hay = text.lower() if ignore else text
                hit = any((n.lower() if ignore else n) in hay for n in needles)
                if hit != invert:
                    found.append(text)
        self.errorlevel = 0 if found else (None if unknown else 1)
        return found

    def _for(self, rest: str, span: Span, capture: bool) -> list[str]:
        m = re.match(r"\s*(%%?\w)\s+in\s*\(([^)]*)\)\s*do\s+(.*)$", rest, re.I | re.S)
        if not m:
            self.m.problems.append(
                Problem(
                    "TE907", span, "FOR loop over computed values is not evaluated; what it writes is unknown"
                )
            )
            self.m.computed.append(span)
            return []
        var, items, body = m.groups()
        out: list[str] = []
        for item in _words(items.replace(",", " ")):
            out += self._literal_line(body.replace(var, item.strip('"')), span, capture)
        return out


# --------------------------------------------------------------------------- PowerShell

_PS_ASSIGN = re.compile(r"^\s*\$(\w+)\s*=\s*(.+)$")
_PS_STRING = re.compile(r'"((?:[^"`]|`.)*)"|\'((?:[^\']|\'\')*)\'')


class _PowerShell:
    def __init__(self, machine: _Machine):
        self.m = machine
        self.vars: dict[str, list[str] | None] = {}

    def string(self, text: str, scope: dict[str, str]) -> str | None:
        """A double-quoted string with $var, $env:X, $(...) and `n expanded (None: unknown)."""
        unknown = False

        def var(m: re.Match) -> str:
            nonlocal unknown
            name = m.group(1) or m.group(2) or m.group(3)
            if name.lower().startswith("env:"):
                return ENVIRONMENT.get(name[4:].upper(), "")
            if name in scope:
                return scope[name]
            value = self.vars.get(name.lower())
            if value is None or len(value) != 1:
                unknown = True
                return ""
            return value[0]

        out = re.sub(r"\$\{([^}]+)\}|\$\((?:\$)?([\w:]+)\)|\$([\w:]+)", var, text)
        out = out.replace("`r`n", "\n").replace("`n", "\n").replace("`r", "").replace("`t", "\t")
        out = re.sub(r"`(.)", r"\1", out)
        return None if unknown else out

    def values(self, expr: str, scope: dict[str, str]) -> list[str] | None:
        """The strings an expression stands for: literals, arrays of them, variables."""
        expr = expr.strip().rstrip(";")
        if expr.startswith("@(") and expr.endswith(")"):
            expr = expr[2:-1]
        m = re.fullmatch(r"\$(\w+)", expr)
        if m:
            if m.group(1) in scope:
                return [scope[m.group(1)]]
            v = self.vars.get(m.group(1).lower())
            return list(v) if v is not None else None
        items = [i.strip() for i in re.split(r",(?=(?:[^\"']|\"[^\"]*\"|'[^']*')*$)", expr) if i.strip()]
        out: list[str] = []
        for item in items:
            s = _PS_STRING.fullmatch(item)
            if not s:
                return None
            if s.group(2) is not None:
                out.append(s.group(2).replace("''", "'"))
            else:
                text = self.string(s.group(1), scope)
                if text is None:
                    return None
                out.append(text)
        return out

    def run(self, lines: list[str]) -> None:
        text_lines = []
        in_block_comment = False
        for raw in lines:
            line = raw.rstrip("\r")
            if in_block_comment:
                if "#>" in line:
                    in_block_comment = False
                    line = line.split("#>", 1)[1]
                else:
                    line = ""
            if "<#" in line:
                line, _, tail = line.partition("<#")
                in_block_comment = "#>" not in tail
            text_lines.append(_strip_ps_comment(line))
        i = 0
        while i < len(text_lines):
            line = text_lines[i]
            span = Span(self.m.shown, i + 1, len(line) - len(line.lstrip()) + 1, line.strip())
            stripped = line.strip()
            # foreach ($x in EXPR) { ... } and EXPR | ForEach-Object { ... }
            fm = re.match(r"foreach\s*\(\s*\$(\w+)\s+in\s+(.+?)\)\s*(\{.*)?$", stripped, re.I)
            pm = re.match(r"(.+?)\|\s*(?:ForEach-Object|%)\s*(\{.*)?$", stripped, re.I)
            if fm or pm:
                if fm:
                    var, expr, tail = fm.group(1), fm.group(2), fm.group(3)
                else:
                    assert pm is not None  # (fm or pm)
                    var, expr, tail = "_", pm.group(1), pm.group(2)
                body, i = _brace_body(text_lines, i, tail or "")
                items = self.values(expr, {})
                if items is None:
                    if any(_HOSTS_PATH.search(b) or self._mentions_hosts_var(b) for b in body):
                        self.m.problems.append(
                            Problem(
                                "TE907",
                                span,
                                "loop over values that are not literal: what it writes to hosts is unknown",
                            )
                        )
                        self.m.computed.append(span)
                    continue
                for item in items:
                    for b in body:
                        self.statement(b, span, {var: item})
                continue
            self.statement(stripped, span, {})
            i += 1

    def _mentions_hosts_var(self, text: str) -> bool:
        return any(
            v and len(v) == 1 and _HOSTS_PATH.search(v[0]) and f"${k}" in text.lower()
            for k, v in self.vars.items()
        )

    def statement(self, stmt: str, span: Span, scope: dict[str, str]) -> None:
        stmt = stmt.strip().rstrip(";")
        if not stmt or stmt in ("{", "}"):
            return
        if stmt.lower().startswith(("if", "elseif", "else")):
            m = re.search(r"\{(.*)\}?\s*$", stmt)
            if m:
                self.statement(m.group(1).rstrip("}"), span, scope)
            return
        am = _PS_ASSIGN.match(stmt)
        if am and not re.match(r"\s*\$\w+\s*=\s*(Get-Content|Invoke|iwr|curl|wget)", stmt, re.I):
            self.vars[am.group(1).lower()] = self.values(am.group(2), scope)
            return
        if am:
            self.vars[am.group(1).lower()] = None
            return
        # "line" | Add-Content PATH ; Add-Content -Path P -Value V ; "line" >> P
        pipe_input = None
        if "|" in stmt:
            left, _, right = stmt.rpartition("|")
            pipe_input, stmt = left.strip(), right.strip()
        cm = re.match(r"(Add-Content|Set-Content|Out-File|ac|sc)\b(.*)$", stmt, re.I)
        rm = re.match(r"(.+?)\s*(>>?)\s*(\S+)\s*$", stmt)
        if cm:
            verb, args = cm.group(1).lower(), cm.group(2)
            params, positional = _ps_params(args)
            path = params.get("path") or params.get("filepath") or params.get("literalpath")
            value = params.get("value") or params.get("inputobject")
            if path is None and positional:
                path = positional.pop(0)
            if value is None and positional and verb not in ("out-file",):
                value = positional.pop(0)
            if value is None:
                value = pipe_input
            append = verb in ("add-content", "ac") or "append" in params
            self._write(path, value, span, scope, append)
        elif rm and not stmt.lower().startswith(("write-host",)):
            expr = re.sub(r"^(echo|Write-Output)\s+", "", rm.group(1), flags=re.I)
            self._write(rm.group(3), expr, span, scope, rm.group(2) == ">>")

    def _write(
        self, path: str | None, value: str | None, span: Span, scope: dict[str, str], append: bool
    ) -> None:
        if path is None:
            return
        paths = self.values(path, scope)
        target = paths[0] if paths and len(paths) == 1 else None
        if target is None or self.m.key(target) != HOSTS:
            if target is None and (_HOSTS_PATH.search(path) or "host" in path.lower()):
                self.m.problems.append(
                    Problem(
                        "TE907", span, f"writes to {path.strip()}, a path that is not literal: not evaluated"
                    )
                )
            return
        lines = self.values(value, scope) if value is not None else None
        if lines is None:
            self.m.problems.append(
                Problem(
                    "TE907", span, "writes hosts lines that are not literal (computed at run time): unknown"
                )
            )
            self.m.computed.append(span)
            return
        self.m.write(target, [part for v in lines for part in v.split("\n")], span, append)


def _strip_ps_comment(line: str) -> str:
    quoted = None
    for i, ch in enumerate(line):
        if quoted:
            if ch == quoted:
                quoted = None
        elif ch in "\"'":
            quoted = ch
        elif ch == "#" and (i == 0 or line[i - 1] in " \t;"):
            return line[:i]
    return line


def _brace_body(lines: list[str], i: int, tail: str) -> tuple[list[str], int]:
    """The statements inside `{ ... }` starting on line i (after `tail`); the next line index."""
    text = tail
    j = i
    while text.count("{") > text.count("}") or "{" not in text:
        j += 1
        if j >= len(lines):
            break
        text += "\n" + lines[j]
        if "{" not in text and j > i + 1:
            break
    inner = text[text.find("{") + 1 : text.rfind("}")] if "{" in text else ""
    return [s for part in inner.split("\n") for s in part.split(";") if s.strip()], j + 1


def _ps_params(args: str) -> tuple[dict[str, str], list[str]]:
    tokens = re.findall(r'"(?:[^"`]|`.)*"|\'(?:[^\']|\'\')*\'|@\([^)]*\)|\S+', args)
    params: dict[str, str] = {}
    positional: list[str] = []
    k = 0
    while k < len(tokens):
        t = tokens[k]
        if t.startswith("-") and len(t) > 1 and not t[1].isdigit():
            name = t[1:].lower().rstrip(":")
            if name in ("append", "force", "nonewline", "encoding") and name != "encoding":
                params[name] = "true"
            elif k + 1 < len(tokens):
                params[name] = tokens[k + 1]
                k += 1
        else:
            positional.append(t)
        k += 1
    return params, positional


# --------------------------------------------------------------------------- verdicts


class WindowsHostsRuleset(NameRuleset):
    def __init__(self, shown: str, machine: _Machine, catalog: Catalog):
        self.machine = machine
        self.catalog = catalog
        hosts = machine.files.get(HOSTS, VFile())
        self.entries: dict[str, tuple[str, Span]] = {}
        for text, span in hosts.lines:
            if span is None:
                continue
            words = text.split("#", 1)[0].split()
            if len(words) < 2 or parse_address(words[0].split("%", 1)[0]) is None:
                continue
            for name in words[1:]:
                self.entries.setdefault(name.lower(), (words[0], span))
        self.unknown = hosts.unknown or (machine.computed[0] if machine.computed else None)
        super().__init__(shown, NAME, self.decide, machine.problems)

    def decide(self, host: str) -> Decision | None:
        hit = self.entries.get(host.lower())
        if hit is not None:
            address, span = hit
            d = address_decision(address, host, self.catalog, span, (span,))
            return Decision(
                d.outcome,
                d.rule,
                d.trace,
                d.specific,
                d.how,
                (d.note + "; " if d.note else "") + "written to the Windows hosts file",
                d.scope,
            )
        if self.unknown is not None and self.catalog.service_for_host(host):
            return Decision(
                Outcome.UNKNOWN,
                self.unknown,
                (self.unknown,),
                False,
                "",
                "the script writes hosts content this linter cannot know",
            )
        return None


def parse(path: Path, context: ParseContext) -> WindowsHostsRuleset:
    shown = context.resolver.display(path)
    src = read_source(path, shown)
    machine = _Machine(path, shown, context, problems=list(src.problems))
    if path.suffix.lower() == ".ps1":
        _PowerShell(machine).run(src.lines)
    else:
        _Batch(machine).run(src.lines)
    return WindowsHostsRuleset(shown, machine, context.catalog)

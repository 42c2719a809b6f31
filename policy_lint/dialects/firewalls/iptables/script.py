"""A firewall shell script run as a model of the shell: variables, loops over literal words,
functions, `if` (every branch), `case` (one arm per run when its subject is a run-time value),
redirections and here-documents; each iptables, iptables-restore and ipset command goes to a
State. Nothing is executed."""

from __future__ import annotations

import re
from collections.abc import Callable

from policy_lint.dialects.firewalls.iptables.model import DYN
from policy_lint.dialects.firewalls.iptables.shell import lex
from policy_lint.dialects.firewalls.iptables.tables import State
from policy_lint.inputs import InputError, read_source
from policy_lint.model import Span

_BIN = re.compile(r"(?:^|/)(ip6?tables)(?:-legacy|-nft)?$")
_RESTORE = re.compile(r"(?:^|/)(ip6?tables)(?:-legacy|-nft)?-restore$")
_REDIRECT = re.compile(r"(?<![<\d&])(>>?)\s*([^\s;|&<>]+)")
MAX_STEPS = 1_000_000  # shell commands run by the script model (loops multiply them)


class Script:
    """One run of a script: its variables, and the `case` arms this run takes."""

    def __init__(
        self,
        state: State,
        choices: tuple[int, ...] = (),
        substitute: Callable[[str], str | None] | None = None,
        other: Callable[[Script, str, Span], bool] | None = None,
    ):
        self.state = state
        # What a `$(...)` prints when its meaning is plain (semantics/runtime), else None.
        self.substitute = substitute
        # Commands other than iptables/ipset (policy_lint/extract/shell: heredocs written to
        # config files, nft): called first with each command's text; True when it took it.
        self.other = other
        self.env: dict[str, str] = {}
        self.choices = choices  # the arm taken at each `case` on a run-time value, in order met
        self.seen_cases: list[int] = []  # how many arms each such `case` had
        # The exit status of the last simple command, as far as the model knows (None: decided
        # at run time), for `&&`/`||`; and the guard of a command that may or may not run.
        self.status: bool | None = True
        self.maybe = ""
        # Files this run wrote from a here-document (`cat > /etc/iptables/rules.v4 <<EOF`):
        # path -> (first body line, body lines, whether $VARs expand), for iptables-restore.
        self.written: dict[str, tuple[int, list[str], bool]] = {}

    def run(self, statements: list[tuple[str, Span]]) -> None:
        i = 0
        while i < len(statements):
            i = self.step(statements, i)

    def _block(self, statements: list[tuple[str, Span]], i: int, closer: str) -> int:
        """Index of the statement closing the block that starts at statements[i]."""
        depth = 0
        openers = (
            {"for", "while", "until", "select"}
            if closer == "done"
            else ({"if"} if closer == "fi" else {"case"})
        )
        for k in range(i, len(statements)):
            first = statements[k][0].split(None, 1)[0] if statements[k][0].split() else ""
            if first in openers:
                depth += 1
            if first == closer or (statements[k][0].rstrip().endswith(" " + closer) and first not in openers):
                depth -= 1
                if depth == 0:
                    return k
        return len(statements)

    def step(self, st: list[tuple[str, Span]], i: int) -> int:
        text, span = st[i]
        words = text.split()
        first = words[0] if words else ""
        if first in ("for", "select"):
            end = self._block(st, i, "done")
            words_l, _err = lex(text, self.env, self.substitute)
            var = words_l[1] if len(words_l) > 1 else "_"
            items = words_l[3:] if len(words_l) > 2 and words_l[2] == "in" else [DYN]
            body: list[tuple[str, Span]] = []
            for t, sp in st[i + 1 : end]:
                body.append((t[3:].strip(), sp) if t.startswith("do ") or t == "do" else (t, sp))
            body = [(t, sp) for t, sp in body if t and t != "do"]
            if not items or any(DYN in w for w in items):
                items = [DYN]
                listed = text.split(" in ", 1)[1].split("; do")[0].strip() if " in " in text else var
                self.state.problem("TE907", span, f"loop over values computed at run time: {listed[:120]}")
            old = self.env.get(var)
            for item in items[:5000]:
                self.env[var] = item
                self.run(body)
            if old is None:
                self.env.pop(var, None)
            else:
                self.env[var] = old
            return end + 1
        if first in ("while", "until"):
            end = self._block(st, i, "done")
            body = [
                ((t[3:].strip() if t.startswith("do ") else t), sp) for t, sp in st[i + 1 : end] if t != "do"
            ]
            # `while read x` loops read data at run time: the names they bind are dynamic.
            m = re.match(r"while\s+read\s+(?:-\w+\s+)*([\w ]+)", text)
            for v in m.group(1).split() if m else []:
                self.env[v] = DYN
            self.run([(t, sp) for t, sp in body if t])
            return end + 1
        if re.match(r"^(?:function\s+)?[\w-]+\s*\(\)\s*\{?$", text) or re.match(
            r"^function\s+[\w-]+\s*\{?$", text
        ):
            name = re.sub(r"^function\s+", "", text).split("(")[0].split("{")[0].strip()
            depth, k = 0, i
            body = []
            for k in range(i, len(st)):
                t = st[k][0]
                depth += t.count("{") - t.count("}")
                if k > i:
                    if depth <= 0 and t.strip() == "}":
                        break
                    body.append(st[k])
                if depth <= 0 and k > i:
                    break
            self.state.functions[name] = [(t, sp) for t, sp in body if t not in ("{", "}")]
            return k + 1
        if first == "case":
            return self._case(st, i)
        if first in ("if", "elif", "then", "else", "fi", "do", "done", "{", "}", "esac", ";;"):
            rest = text.split(None, 1)[1] if len(words) > 1 and first in ("then", "else", "do") else ""
            if rest:
                self.simple(rest, span)
            return i + 1
        self.simple(text, span)
        return i + 1

    def _case(self, st: list[tuple[str, Span]], i: int) -> int:
        end = self._block(st, i, "esac")
        subject = lex(st[i][0], self.env, self.substitute)[0][1:2]
        arms: list[tuple[str, list[tuple[str, Span]]]] = []
        expect_pattern = True  # at the start and after each `;;`
        for t, sp in st[i + 1 : end]:
            if t == ";;":
                expect_pattern = True
                continue
            m = re.match(r"^\(?([^()]+)\)\s*(.*)$", t) if expect_pattern else None
            if m:
                arms.append((m.group(1).strip(), []))
                if m.group(2).strip():
                    arms[-1][1].append((m.group(2).strip(), sp))
                expect_pattern = False
            elif arms:
                arms[-1][1].append((t, sp))
        subj = subject[0] if subject else DYN
        chosen = None
        if DYN not in subj:
            for pats, body in arms:
                if any(_glob(p.strip().strip("\"'"), subj) for p in pats.split("|")):
                    chosen = body
                    break
        elif arms:
            # The subject is given at run time (`$1`, a menu's `read`): every arm is a way the
            # script may run. Run k of the script takes arm choices[k] here; the first run takes
            # the `start` arm (init scripts are started) or the first one.
            order = sorted(
                range(len(arms)),
                key=lambda k: "start" not in [p.strip().strip("\"'") for p in arms[k][0].split("|")],
            )
            n = len(self.seen_cases)
            self.seen_cases.append(len(arms))
            pick = self.choices[n] if n < len(self.choices) else 0
            chosen = arms[order[min(pick, len(arms) - 1)]][1]
        if chosen:
            self.run(chosen)
        return end + 1

    def simple(self, text: str, span: Span) -> None:
        """One command; after `&&`/`||` it runs as the exit status before it says: when the
        model knows that status (an iptables call it ran, `iptables -C` against the rules built
        so far, `true`/`false`) the shell's choice is followed; when a run-time test decides it
        (`[ -f x ]`, `grep -q`, `ping`), what the command adds is a maybe (`maybe`): its rules'
        matches are unknown and its other changes make the verdicts they touch unknown (TE907
        naming the guard)."""
        op = getattr(text, "op", "")
        if op in ("&&", "||"):
            if self.status is (op == "||"):
                return  # `true || cmd`, `false && cmd`: cmd does not run; the status stays
            if self.status is None:
                guard = re.sub(r"^(?:do|then|else|if|!)\s+", "", getattr(text, "guard", ""))
                saved, saved_state = self.maybe, self.state.maybe
                why = f"`{text.strip()[:80]}` runs only when `{guard[:80]}` {'succeeds' if op == '&&' else 'fails'}"
                self.maybe = self.state.maybe = why
                try:
                    self._simple(text, span)
                finally:
                    self.maybe, self.state.maybe = saved, saved_state
                self.status = None
                return
        self._simple(text, span)

    def _simple(self, text: str, span: Span) -> None:
        self.status = None  # what the model does not run is decided at run time
        self.state.steps += 1
        if self.state.steps > MAX_STEPS:
            if self.state.steps == MAX_STEPS + 1:
                self.state.mark_dynamic(span, f"stopped after {MAX_STEPS} commands (nested loops)")
            return
        words, err = lex(text, self.env, self.substitute)
        if err:
            self.state.problem("TE901", span, err)
            return
        self._note_write(text, words, span)
        if self.other is not None and self.other(self, text, span):
            self.status = True
            return
        # redirections do not matter for iptables calls; `< file` does for iptables-restore
        redirect_in = None
        clean = []
        k = 0
        while k < len(words):
            w = words[k]
            if w == "<" and k + 1 < len(words):
                redirect_in = words[k + 1]
                k += 2
                continue
            if w.startswith("<") and len(w) > 1 and not w.startswith("<<"):
                redirect_in = w[1:]
                k += 1
                continue
            if re.fullmatch(r"\d?>>?|&>|\d>&\d", w):
                k += 2 if re.fullmatch(r"\d?>>?|&>", w) else 1
                continue
            if re.match(r"\d?>>?\S", w) or re.match(r"\d>&\d", w):
                k += 1
                continue
            clean.append(w)
            k += 1
        words = clean
        if len(words) == 1 and words[0] in ("true", ":", "false"):
            self.status = words[0] != "false"
            return
        while words and re.fullmatch(r"[A-Za-z_]\w*=.*", words[0], re.S):
            name, _, value = words[0].partition("=")
            if len(words) == 1:
                self.env[name] = value
                self.status = True
            words = words[1:]
        while words and words[0] in (
            "sudo",
            "command",
            "exec",
            "nohup",
            "time",
            "export",
            "readonly",
            "local",
            "declare",
            "typeset",
            "then",
            "do",
            "else",
            "!",
        ):
            if words[0] in ("export", "readonly", "local", "declare", "typeset"):
                for w in words[1:]:
                    if "=" in w and not w.startswith("-"):
                        n, _, v = w.partition("=")
                        self.env[n] = v
                return
            words = words[1:]
        if not words:
            return
        cmd = words[0]
        if cmd in ("read", "mapfile", "readarray", "select"):
            # Values typed in or read at run time.
            skip = False
            for w in words[1:]:
                if skip:
                    skip = False
                elif w in ("-p", "-t", "-n", "-N", "-d", "-u", "-a", "-i"):
                    skip = True
                elif not w.startswith("-"):
                    self.env[w] = DYN
            return
        if cmd in self.state.functions and self.state.depth < 8:
            self.state.depth += 1
            saved = dict(self.env)
            for pos, a in enumerate(words[1:10], start=1):
                self.env[str(pos)] = a
            self.run(self.state.functions[cmd])
            for pos in range(1, 10):
                self.env.pop(str(pos), None)
            self.env.update({k: v for k, v in saved.items() if k not in self.env})
            self.state.depth -= 1
            return
        m = _BIN.search(cmd)
        if m:
            family, args = (6 if m.group(1) == "ip6tables" else 4), _global_options(words[1:])
            if any(a in ("-C", "--check") for a in args):
                # `iptables -C RULE` succeeds when the rule is there: in the rules built so far.
                self.status = self.state.has_rule(family, args, span)
                return
            self.state.command(family, args, span)
            self.status = True
            return
        heredoc = self.state.heredocs.get(span.line) if any(w.startswith("<<") for w in words) else None
        m = _RESTORE.search(cmd)
        if m and heredoc is not None:
            # iptables-restore <<EOF ... EOF: the rules are in the script itself.
            first, body, expands = heredoc
            noflush = any(w in ("-n", "--noflush") for w in words[1:])
            self.state.restore(
                [self._expand_line(b) if expands else b for b in body],
                self.state.shown,
                6 if m.group(1) == "ip6tables" else 4,
                noflush,
                first_line=first,
            )
            return
        if m:
            family = 6 if m.group(1) == "ip6tables" else 4
            args = [w for w in words[1:] if not w.startswith("-")]
            ref = redirect_in or (args[0] if args else "")
            noflush = any(
                w in ("-n", "--noflush") or (w.startswith("-") and not w.startswith("--") and "n" in w)
                for w in words[1:]
            )
            self._restore_file(ref, span, family, noflush)
            return
        if cmd == "ipset" or cmd.endswith("/ipset"):
            if ("restore" in words[1:3] or "-R" in words[1:3]) and heredoc is not None:
                first, body, expands = heredoc
                for k, b in enumerate(body):
                    ws = (self._expand_line(b) if expands else b).split()
                    if ws and not ws[0].startswith("#"):
                        self.state.ipset(ws, Span(self.state.shown, first + k, 1, b.strip()))
                return
            if "restore" in words[1:3] or "-R" in words[1:3]:
                flag = next((w for w in ("-file", "-f") if w in words[:-1]), None)
                ref = words[words.index(flag) + 1] if flag else (redirect_in or "")
                self.state.read_ipset_file(ref, span)
                return
            self.state.ipset(words[1:], span)
            return
        if DYN in cmd and re.search(r"\$\{?\w*(?:IPT|ipt|IPTABLES|iptables)\w*", text):
            self.state.mark_dynamic(span, "the iptables command is computed at run time")

    def _note_write(self, text: str, words: list[str], span: Span) -> None:
        """Remember `cat > FILE <<EOF` / `tee [-a] FILE <<EOF` bodies (`>>`, `-a` append)."""
        heredoc = self.state.heredocs.get(span.line)
        if heredoc is None or not words or words[0].rsplit("/", 1)[-1] not in ("cat", "tee"):
            return
        if words[0].endswith("tee"):
            targets = [w for w in words[1:] if not w.startswith(("-", "<", ">"))]
            append = any(w in ("-a", "--append") for w in words[1:])
        else:
            m = _REDIRECT.search(text)
            if m is None:
                return
            targets, append = [lex(m.group(2), self.env)[0][0]], m.group(1) == ">>"
        for target in targets:
            if DYN in target:
                continue
            first, body, expands = heredoc
            if append and target in self.written:
                old_first, old_body, old_expands = self.written[target]
                self.written[target] = (old_first, old_body + body, old_expands and expands)
            else:
                self.written[target] = (first, list(body), expands)

    def _expand_line(self, text: str) -> str:
        """`$VAR`/`${VAR}` in an unquoted here-document (run-time values stay marked)."""
        return re.sub(r"\$\{?([A-Za-z_]\w*)\}?", lambda m: self.env.get(m.group(1), DYN), text)

    def _restore_file(self, ref: str, span: Span, family: int, noflush: bool) -> None:
        if not ref or DYN in ref:
            self.state.mark_dynamic(span, "iptables-restore reads rules the script builds at run time")
            return
        if ref in self.written:
            # A file this script wrote from a here-document: its lines are in the script.
            first, body, expands = self.written[ref]
            lines = [self._expand_line(b) if expands else b for b in body]
            self.state.restore(lines, self.state.shown, family, noflush, first_line=first)
            return
        target = self.state.context.resolver.resolve(ref, self.state.path)
        if target is None:
            self.state.problem("TE903", span, f"{ref} is not in the repository")
            self.state.dynamic_spans.append(span)
            return
        try:
            src = read_source(target, self.state.context.resolver.display(target))
        except InputError as exc:
            self.state.problem("TE903", span, str(exc))
            self.state.dynamic_spans.append(span)
            return
        self.state.restore(src.lines, src.path, family, noflush)


def _global_options(args: list[str]) -> list[str]:
    """Drop options that change how iptables runs, not the rule: -w [secs], -W usecs, -v, -n."""
    out: list[str] = []
    k = 0
    while k < len(args):
        w = args[k]
        if w in ("-w", "--wait", "-W", "--wait-interval"):
            k += 2 if k + 1 < len(args) and args[k + 1].replace(".", "").isdigit() else 1
            continue
        if w.startswith(("--wait=", "--wait-interval=")) or w in ("-v", "-n", "--verbose", "--numeric", "-x"):
            k += 1
            continue
        out.append(w)
        k += 1
    return out


def _glob(pattern: str, text: str) -> bool:
    from fnmatch import fnmatchcase

    return fnmatchcase(text, pattern)

"""Configs a shell script writes, and the nft commands it runs, read as the script would run.

The script is run through the iptables dialect's model of the shell (iptables/script.py:
literal variables, loops over literal words, functions, `if` branches, the first arm of a
`case` on a run-time value; nothing executes), which hands every command that is not an
iptables/ipset call to this module first:

    cat > /etc/squid/squid.conf <<EOF        # the body is a squid.conf (its lines map here)
    acl lan src $LAN                         # $LAN unset: a stand-in network (extract/symbolic)
    EOF
    echo "0.0.0.0 facebook.com" >> /etc/hosts        # a line of /etc/hosts
    for ip in 157.240.0.0/16 31.13.24.0/21; do
        nft add rule inet filter forward ip daddr $ip drop   # nft commands: one nftables script
    done
    pfctl -f - <<EOF ... EOF                  # a pf ruleset given on stdin

Writes: `cat`/`tee` of a here-document (`>` replaces, `>>`/`tee -a` appends, `cat <<EOF |
tee FILE`), `echo`/`printf` redirected into a file. The file's dialect comes from its path
(`/etc/squid/...`, `/etc/hosts`, `/etc/dnsmasq.d/...`), else from its name and text. `$(...)`
whose meaning is plain is answered from the catalog (semantics/runtime); any other run-time
value in a written line is a symbolic value (extract/symbolic). The script's own iptables
calls are the iptables dialect's (the file is also linted as a whole). Not modelled: `uci`
(OpenWrt's firewall, TE908), `pfctl -t TABLE -T add` (recognised, TE907: the pf.conf rules
using the table decide, and the script alone says nothing of them), `sed -i` edits (not
applied: a file the script wrote is unknown after one, an edit of another file is TE907 at the
sed). `nft -f FILE`, `pfctl -f FILE` (and the iptables dialect's `iptables-restore < FILE`)
load a file the script wrote before (read as nftables / pf), else one in the repository (under
the lint root only), else TE903 with unknown verdicts.
A write inside `if ... fi` or `case ... esac` depends on a run-time test: its lines are
unknown (TE907), whichever branch it is in. After `&&`/`||` a command runs as the exit status
before it says (iptables/script): `iptables -C RULE || iptables -A RULE` leaves the rule there
either way, `true`/`false` decide, and a run-time test (`[ -f x ] && cat > FILE <<EOF`) makes
what the command writes or adds a maybe: its lines unknown, with TE907 naming the guard.
"""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from policy_lint.dialects.semantics import runtime
from policy_lint.dialects.semantics.base import ParseContext
from policy_lint.extract.model import Embedded, Extraction, mark
from policy_lint.inputs import InputError, SourceText, read_source
from policy_lint.model import Span

if TYPE_CHECKING:
    from policy_lint.dialects.firewalls.iptables.script import Script

# The iptables dialect's shell model is imported when a script is read, not with the engine
# (importing a dialect costs more than linting a small config).
DYN = "\x00"  # iptables/model.DYN: text computed at run time (checked equal in the tests)

SUFFIXES = (".sh", ".bash", ".ksh", ".zsh")
# The dialects that read a shell script itself (its own commands); any other dialect that
# recognises a script only sees the configs the script writes.
WHOLE = ("iptables",)
_SHEBANG = re.compile(r"^#!\s*\S*/(?:env\s+)?(?:ba|k|z|da)?sh\b")
_PREFIXES = ("sudo", "command", "exec", "nohup", "doas")
_VAR = re.compile(r"\$\{?([A-Za-z_]\w*)\}?|\$\(([^()]*)\)")
# Where a path puts a file: the dialect reading it (None: by its name and text).
_PLACES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^/etc/hosts$"), "hosts"),
    (re.compile(r"/squid3?/[^/]+\.conf$"), "squid"),
    (re.compile(r"/dnsmasq(?:\.d)?/|dnsmasq[^/]*\.conf$"), "dnsmasq"),
    (re.compile(r"/unbound(?:\.conf\.d)?/[^/]+\.conf$"), "unbound"),
    (re.compile(r"/nftables(?:\.conf|\.d/.*)$|\.nft$"), "nftables"),
    (re.compile(r"(?:^|/)pf\.conf$"), "pf"),
)


_PF_TABLE = re.compile(r"(?:^|/)pf[^/]*tables?(?:/|$)|\.table$|/pf/[^/]*table")


def claims(path: Path, head: str) -> bool:
    if path.suffix.lower() in SUFFIXES:
        return True
    first = head.split("\n", 1)[0]
    return bool(_SHEBANG.match(first))


def place(target: str) -> str | None:
    for pattern, dialect in _PLACES:
        if pattern.search(target):
            return dialect
    return None


class _Writes:
    """The files and nft commands one run of the script produces."""

    def __init__(self, source: SourceText, context: ParseContext, path: Path):
        self.source = source
        self.path = path  # the container on disk: where relative files resolve from
        self.context = context
        self.files: dict[str, Embedded] = {}
        self.nft: Embedded | None = None
        self.unread: list[tuple[str, int, str]] = []

    def _file(self, target: str, append: bool, span: Span) -> Embedded:
        if _PF_TABLE.search(target):
            # A pf table's persist file (`table <social> persist file "/etc/pf.tables/social"`):
            # addresses only, whose effect is pf.conf's rules using the table.
            self.unread.append(
                (
                    "TE907",
                    span.line,
                    f"the script writes addresses to the pf table file {target}: what they block depends "
                    "on the pf rules using the table (pf.conf, linted on its own)",
                )
            )
            return Embedded(self.source.path, [], [], PurePosixPath(target).name, "a pf table file")
        piece = self.files.get(target)
        if piece is None or not append:
            piece = Embedded(
                self.source.path,
                [],
                [],
                PurePosixPath(target).name,
                f"the file {target} the script writes at line {span.line}",
                place(target),
            )
            self.files[target] = piece
        return piece

    def _expand(self, script: Script, text: str) -> str:
        def one(m: re.Match[str]) -> str:
            if m.group(2) is not None:
                known = script.substitute(m.group(2)) if script.substitute else None
                return known if known is not None else mark(m.group(0))
            value = script.env.get(m.group(1))
            return value if value is not None and DYN not in value else mark(m.group(0))

        return _VAR.sub(one, text)

    def _word(self, word: str, original: str) -> str:
        """A lexed word; run-time parts become a symbolic value named by the original text."""
        return word if DYN not in word else mark(original)

    def command(self, script: Script, text: str, span: Span) -> bool:
        took = self._command(script, text, span)
        if took and script.maybe:
            # `[ -d /etc/squid ] && cat > ... <<EOF`: written only when a run-time test says so.
            heredoc = script.state.heredocs.get(span.line)
            last = heredoc[0] + len(heredoc[1]) if heredoc else span.line
            for piece in self.pieces():
                if any(span.line <= n <= last for n in piece.line_map):
                    piece.conditional.append((span.line, last, script.maybe))
        return took

    def _command(self, script: Script, text: str, span: Span) -> bool:
        from policy_lint.dialects.firewalls.iptables.shell import lex

        words, _err = lex(text, script.env, script.substitute)
        while words and words[0] in _PREFIXES:
            words = words[1:]
        if not words:
            return False
        cmd = words[0].rsplit("/", 1)[-1]
        # `cat <<EOF | tee FILE` is two statements of one line: tee takes the line's heredoc.
        line_heredoc = script.state.heredocs.get(span.line)
        heredoc = line_heredoc if "<<" in text else None
        redirect = re.search(r"(?<![<\d&])(>>?)\s*([^\s;|&<>]+)", text)
        if cmd == "tee" and line_heredoc is not None:
            heredoc = line_heredoc
        if cmd in ("cat", "tee") and heredoc is not None:
            if cmd == "tee":
                targets = [w for w in words[1:] if not w.startswith("-") and not w.startswith("<<")]
                append = any(w in ("-a", "--append") for w in words[1:])
            elif redirect:
                targets, append = [lex(redirect.group(2), script.env)[0][0]], redirect.group(1) == ">>"
            else:
                return False  # `cat <<EOF | tee FILE`: the tee statement takes it
            first, body, expands = heredoc
            for target in targets:
                if DYN in target or target == "/dev/null":
                    continue
                piece = self._file(target, append, span)
                for k, b in enumerate(body):
                    piece.add(self._expand(script, b) if expands else b, first + k)
            return True
        if cmd in ("echo", "printf") and redirect and redirect.group(2) != "/dev/null":
            target = lex(redirect.group(2), script.env)[0][0]
            if DYN in target:
                return False
            before = text[: redirect.start()]
            args = lex(before, script.env, script.substitute)[0][1:]
            while args and args[0].startswith("-") and cmd == "echo":
                args = args[1:]
            if cmd == "printf" and args:
                args = args[1:] if "%" in args[0] else args
            written = " ".join(args).replace("\\n", "\n")
            if DYN in written:
                written = self._expand(script, " ".join(_raw_args(before)))
            piece = self._file(target, redirect.group(1) == ">>", span)
            for part in written.split("\n"):
                if part:
                    piece.add(part, span.line)
            return True
        if cmd == "nft":
            return self._nft(script, words, text, span, heredoc)
        if cmd == "pfctl" and heredoc is not None and "-f" in words:
            first, body, expands = heredoc
            piece = self._file(f"pf ruleset loaded at line {span.line}", False, span)
            piece.name, piece.dialect = "pf.conf", "pf"
            for k, b in enumerate(body):
                piece.add(self._expand(script, b) if expands else b, first + k)
            return True
        if cmd == "pfctl" and heredoc is None and "-f" in words[:-1] and "-T" not in words:
            return self._load(script, words[words.index("-f") + 1], "pf", span)
        if cmd == "pfctl" and "-T" in words and "-t" in words[:-1]:
            table = words[words.index("-t") + 1]
            self.unread.append(
                (
                    "TE907",
                    span.line,
                    f"pfctl changes pf table <{table}> at run time: what it blocks depends on the pf "
                    "rules using the table (pf.conf, linted on its own)",
                )
            )
            return True
        if cmd == "sed" and any(w == "-i" or w.startswith(("-i", "--in-place")) for w in words[1:]):
            # `sed -i` edits a file in place. The edit is not applied here: a file the script
            # wrote is unknown from here on (TE907 at its lines, naming the sed), any other
            # config the script edits is said at this line.
            target = words[-1]
            edited = self.files.get(target)
            why = f"`{text.strip()[:80]}` (line {span.line}) edits it in place"
            if edited is not None and edited.line_map:
                edited.conditional.append((min(edited.line_map), max(edited.line_map), why))
            else:
                self.unread.append(
                    (
                        "TE907",
                        span.line,
                        f"sed -i edits {target} in place: its configuration there is not known",
                    )
                )
            return True
        if cmd == "uci":
            self.unread.append(("TE908", span.line, "uci (OpenWrt's firewall/dhcp settings) is not read"))
            return True
        return False

    def _nft(self, script: Script, words: list[str], text: str, span: Span, heredoc) -> bool:
        if self.nft is None:
            self.nft = Embedded(
                self.source.path, [], [], "commands.nft", "the script's nft commands", "nftables"
            )
        args = words[1:]
        if "-f" in args or "--file" in args:
            if heredoc is None:
                flag = "-f" if "-f" in args else "--file"
                k = args.index(flag)
                return self._load(script, args[k + 1] if k + 1 < len(args) else "", "nftables", span)
            first, body, expands = heredoc
            for k, b in enumerate(body):
                self.nft.add(self._expand(script, b) if expands else b, first + k)
            return True
        args = [a for a in args if a not in ("-a", "-e", "--", "-n", "-nn", "-s")]
        raw = _raw_args(text)[1:]
        line = " ".join(self._word(w, raw[k] if k < len(raw) else w) for k, w in enumerate(args))
        if line:
            self.nft.add(line, span.line)
        return True

    def _load(self, script: Script, ref: str, dialect: str, span: Span) -> bool:
        """`nft -f FILE` / `pfctl -f FILE`: a file the script wrote before (its piece is read as
        `dialect`), else one in the repository (never outside the lint root), else TE903."""
        if not ref or ref == "-" or DYN in ref:
            self.unread.append(("TE907", span.line, f"{dialect} loads a file named at run time: {ref!r}"))
            return True
        written = self.files.get(ref)
        if written is not None:
            written.dialect = written.dialect or dialect
            return True
        resolver = self.context.resolver
        target = resolver.resolve(ref, self.path)
        if target is None:
            # Read as the dialect's own `include` of a file that is not here: TE903 at this
            # line, and what the file would decide is unknown.
            piece = Embedded(
                self.source.path,
                [f'include "{ref}"'],
                [span.line],
                f"loads-{PurePosixPath(ref).name or 'file'}",
                f"the file {ref} the script loads at line {span.line}",
                dialect,
            )
            piece.conditional.append((span.line, span.line, f"{ref} (not in the repository)"))
            self.files[f"{ref} loaded at line {span.line}"] = piece
            return True
        try:
            loaded = read_source(target, resolver.display(target))
        except InputError as exc:
            self.unread.append(("TE903", span.line, str(exc)))
            return True
        piece = Embedded(
            loaded.path,
            list(loaded.lines),
            list(range(1, len(loaded.lines) + 1)),
            target.name,
            f"the file {ref} the script loads at line {span.line}",
            dialect,
        )
        self.files[f"{ref} loaded at line {span.line}"] = piece
        return True

    def pieces(self) -> list[Embedded]:
        out = [p for p in self.files.values() if p.lines]
        if self.nft is not None and self.nft.lines:
            out.append(self.nft)
        return out


def _raw_args(text: str) -> list[str]:
    """The words of a command as written (quotes removed, variables not expanded)."""
    words = re.findall(r"\"[^\"]*\"|'[^']*'|\S+", text)
    out = [w[1:-1] if w[:1] in "\"'" and w[-1:] == w[:1] else w for w in words]
    while out and out[0] in _PREFIXES:
        out = out[1:]
    return out


def extract(path: Path, source: SourceText, context: ParseContext) -> Extraction:
    from policy_lint.dialects.firewalls.iptables.script import Script
    from policy_lint.dialects.firewalls.iptables.shell import logical_lines, split_statements
    from policy_lint.dialects.firewalls.iptables.tables import State

    heredocs: dict[int, tuple[int, list[str], bool]] = {}
    logical, _problems = logical_lines(source.lines, source.path, heredocs)
    statements: list[tuple[str, Span]] = [(s, span) for text, span in logical for s in split_statements(text)]
    writes = _Writes(source, context, path)
    state = State(path, source.path, context, heredocs=heredocs)
    Script(state, (), runtime.substitution(context.catalog), writes.command).run(statements)
    pieces = writes.pieces()
    for first, last, why in _branches(statements):
        for piece in pieces:
            if any(first <= line <= last for line in piece.line_map):
                piece.conditional.append((first, last, why))
    return Extraction(pieces, whole=WHOLE, unread=writes.unread)


def _branches(statements: list[tuple[str, Span]]) -> list[tuple[int, int, str]]:
    """Line ranges of `if ... fi` and `case ... esac`: what is written there depends on a test
    made at run time (the shell model takes the branches, so the lines are marked unknown)."""
    out: list[tuple[int, int, str]] = []
    stack: list[tuple[str, int, str]] = []
    for text, span in statements:
        first = text.split(None, 1)[0] if text.split() else ""
        if first in ("if", "case"):
            stack.append(("fi" if first == "if" else "esac", span.line, text.strip()[:80]))
        elif stack and (first == stack[-1][0] or text.rstrip().endswith(" " + stack[-1][0])):
            _closer, start, test = stack.pop()
            out.append((start, span.line, f"the shell's `{test}`"))
    return out


def with_writes(path: Path, piece: Embedded, context: ParseContext) -> list[Embedded]:
    """A script embedded elsewhere (a ```bash fence, Terraform `user_data`), and the configs its
    commands write, their lines mapped through the script's own line map. The script itself is
    read by the iptables dialect when it runs iptables; one that only writes configs is not a
    config itself (its here-document bodies would otherwise be detected as one, with the shell
    lines around them as errors)."""
    from policy_lint.dialects import DETECT_THRESHOLD
    from policy_lint.dialects.firewalls.iptables import detect as iptables_detect

    inner = extract(path, SourceText(piece.origin, piece.lines), context)
    for p in inner.pieces:
        if p.origin != piece.origin:
            continue  # a repository file the script loads (nft -f): its own lines
        if piece.line_origin:  # lines of several files (NixOS imports): each keeps its own
            p.line_origin = [piece.line_origin[min(n, len(piece.line_origin)) - 1] for n in p.line_map]
            p.line_conditions = {
                k + 1: piece.line_conditions[n]
                for k, n in enumerate(p.line_map)
                if n in piece.line_conditions
            }
            p.pulls_in = piece.pulls_in
        p.line_map = [piece.line_map[min(n, len(piece.line_map)) - 1] for n in p.line_map]
        p.conditional += piece.conditional
        p.label = f"{p.label.rsplit(' at line', 1)[0]} in {piece.label}"
    if iptables_detect(Path("script.sh"), "\n".join(piece.lines)) >= DETECT_THRESHOLD:
        piece.dialect = piece.dialect or "iptables"
        return [piece, *inner.pieces]
    return inner.pieces if inner.pieces else [piece]

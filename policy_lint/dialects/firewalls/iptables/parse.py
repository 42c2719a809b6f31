"""Detection, and the entry point: an iptables-save file is restored into one set of tables, a
shell script is run (once per combination of `case` arms on run-time values, at most MAX_RUNS)."""

from __future__ import annotations

import re
from pathlib import Path

from policy_lint.dialects.firewalls.iptables.evaluate import AlternativeRuns, IptablesRuleset
from policy_lint.dialects.firewalls.iptables.script import Script
from policy_lint.dialects.firewalls.iptables.shell import logical_lines, split_statements
from policy_lint.dialects.firewalls.iptables.tables import State
from policy_lint.dialects.semantics import runtime
from policy_lint.dialects.semantics.base import ParseContext
from policy_lint.dialects.semantics.gcpause import without_cycle_collection
from policy_lint.inputs import read_source
from policy_lint.model import Span

FILE_PATTERNS = (
    "iptables",
    "ip6tables",
    "*.iptables",
    "iptables*.rules",
    "ip6tables*.rules",
    "rules.v4",
    "rules.v6",
    "iptables-save*",
    "*iptables*.sh",
    "*firewall*.sh",
    "*iptables*.txt",
    "ipset*.conf",
    "*.ipset",
    "iptables.conf",
    "iptables*.save",
)
DOC_SUFFIXES = (".md", ".rst", ".html", ".htm", ".adoc", ".tex", ".py", ".yml", ".yaml", ".json")
_HEAD = re.compile(
    # A command starts a line or follows `;`, `&&`, `||`, `do`, `then`, `else` (one-line loops,
    # `iptables -C RULE || iptables -A RULE`).
    r"(?:^\s*|(?:;|&&|\|\||\bdo|\bthen|\belse)\s+)(?:sudo\s+)?"
    r"(?:\$\{?IPT6?\w*\}?|\S*ip6?tables(?:-legacy|-nft)?)\s+(?:-t\s+\w+\s+)?"
    r"(?:-[AIDPNFRX]|--append|--insert|--policy)\b|^\*(?:filter|mangle|raw|nat)\s*$|^:[A-Z]+ (?:ACCEPT|DROP)"
    r"|^\s*-[AI] (?:INPUT|OUTPUT|FORWARD|PREROUTING|POSTROUTING) |\bip6?tables(?:-legacy|-nft)?-restore\b",
    re.M,
)


def detect(path: Path, head: str) -> float:
    if path.suffix.lower() in DOC_SUFFIXES:
        return 0.0  # documentation quoting iptables commands is not a ruleset
    hits = len(_HEAD.findall(head))
    if not hits:
        return 0.0
    if path.suffix.lower() in (".bat", ".cmd", ".ps1", ".conf") and hits < 3:
        return 0.3
    return 0.95 if hits >= 2 else 0.8


MAX_RUNS = 16


@without_cycle_collection
def parse(path: Path, context: ParseContext) -> IptablesRuleset | AlternativeRuns:
    shown = context.resolver.display(path)
    src = read_source(path, shown)
    lines = src.lines
    # iptables-save output: the first statement is a `*table`, a `:CHAIN` or a bare option line.
    first = next((ln.strip() for ln in lines if ln.strip() and not ln.lstrip().startswith("#")), "")
    if first.startswith(("*", ":", "-A ", "-I ", "--append ")):
        state = State(path, shown, context, problems=list(src.problems))
        state.restore(lines, shown, 6 if "ip6tables" in path.name else 4)
        return IptablesRuleset(state)
    heredocs: dict[int, tuple[int, list[str], bool]] = {}
    logical, problems = logical_lines(lines, shown, heredocs)
    statements: list[tuple[str, Span]] = [(s, span) for text, span in logical for s in split_statements(text)]
    runs: list[IptablesRuleset] = []
    queue: list[tuple[int, ...]] = [()]
    while queue and len(runs) < (MAX_RUNS if len(statements) < 20000 else 1):
        choices = queue.pop(0)
        state = State(path, shown, context, problems=list(src.problems) + problems, heredocs=heredocs)
        script = Script(state, choices, runtime.substitution(context.catalog))
        script.run(statements)
        runs.append(IptablesRuleset(state))
        # Every other arm of each run-time `case` this run met after the ones it was told.
        for j in range(len(choices), len(script.seen_cases)):
            for k in range(1, script.seen_cases[j]):
                queue.append(choices + (0,) * (j - len(choices)) + (k,))
    return runs[0] if len(runs) == 1 else AlternativeRuns(runs)

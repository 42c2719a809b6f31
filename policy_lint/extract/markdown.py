"""Configs quoted in documents: Markdown fenced code blocks and reStructuredText literal blocks.

A runbook that says how to configure the proxy is the configuration as people apply it:

    ```squid                         <- the language tag names the dialect
    acl social dstdomain .facebook.com
    http_access deny social
    ```

A fence's tag (` ```squid `, ` ```nginx `, `~~~ nftables`, `.. code-block:: squid`) names the
dialect when one reads that language (aliases: `nft` -> nftables, `routeros` -> mikrotik, `sh`/
`bash`/`shell`/`console` -> detected as a script); otherwise, and for a plain `::` literal
block, the dialect is detected from the text. `$ ` / `% ` prompts of console blocks are
removed. Template placeholders `{{ name }}` and `__NAME__` are symbolic values
(extract/symbolic). Not read: indented (four-space) Markdown code blocks, HTML `<pre>`,
fences nested in lists deeper than their indentation. A shell fence is a script (extract/shell,
its line map kept): the configs its here-documents write and its nft/iptables commands are read.
"""

from __future__ import annotations

import re
from pathlib import Path

from policy_lint.dialects.semantics.base import ParseContext
from policy_lint.extract import shell
from policy_lint.extract.model import Embedded, Extraction, mark
from policy_lint.inputs import SourceText

SUFFIXES = (".md", ".markdown", ".mdown", ".rst", ".txt.md")

# Tag -> (dialect NAME or None to detect, file name for detection).
_TAGS: dict[str, tuple[str | None, str]] = {
    "squid": ("squid", "squid.conf"),
    "squidguard": ("squidguard", "squidGuard.conf"),
    "dnsmasq": ("dnsmasq", "dnsmasq.conf"),
    "unbound": ("unbound", "unbound.conf"),
    "privoxy": ("privoxy", "user.action"),
    "nftables": ("nftables", "nftables.conf"),
    "nft": ("nftables", "nftables.conf"),
    "iptables": ("iptables", "firewall.sh"),
    "pf": ("pf", "pf.conf"),
    "pfctl": ("pf", "pf.conf"),
    "hosts": ("hosts", "hosts"),
    "mikrotik": ("mikrotik", "export.rsc"),
    "routeros": ("mikrotik", "export.rsc"),
    "rsc": ("mikrotik", "export.rsc"),
    "e2guardian": (None, "e2guardian.conf"),
    "pac": ("pac", "proxy.pac"),
    "adblock": ("abp", "filters.txt"),
    "sh": (None, "script.sh"),
    "bash": (None, "script.sh"),
    "shell": (None, "script.sh"),
    "console": (None, "script.sh"),
    "shell-session": (None, "script.sh"),
    "zsh": (None, "script.sh"),
}
_FENCE = re.compile(r"^(\s{0,3})(`{3,}|~{3,})\s*\{?\.?([\w+-]*)")
_RST_DIRECTIVE = re.compile(r"^(\s*)\.\.\s+(?:code-block|code|sourcecode|highlight)::\s*([\w+-]*)")
_PLACEHOLDER = re.compile(r"\{\{\s*[^{}]+?\s*\}\}|__[A-Z][A-Z0-9_]*__")
# `$ ` and `% ` prompts; not `# `: in a script a commented-out command must stay a comment.
_PROMPT = re.compile(r"^\s*[$%]\s+(?=\S)")


def claims(path: Path, head: str) -> bool:
    return path.name.lower().endswith(SUFFIXES)


def _piece(origin: str, tag: str, line: int, kind: str) -> Embedded:
    dialect, name = _TAGS.get(tag.lower(), (None, tag.lower() or "embedded"))
    label = f"{kind} '{tag}' at line {line}" if tag else f"{kind} at line {line}"
    return Embedded(origin, [], [], name, label, dialect)


def _text(line: str, shell: bool) -> str:
    if shell:
        line = _PROMPT.sub("", line, count=1)
    return _PLACEHOLDER.sub(lambda m: mark(m.group(0)), line)


def extract(path: Path, source: SourceText, context: ParseContext) -> Extraction:
    lines = source.lines
    pieces: list[Embedded] = []
    i = 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if m:
            indent, fence, tag = len(m.group(1)), m.group(2), m.group(3)
            piece = _piece(source.path, tag, i + 1, "code fence")
            is_shell = piece.name == "script.sh"
            i += 1
            while i < len(lines) and not lines[i].strip().startswith(fence[0] * len(fence)):
                text = lines[i][indent:] if lines[i][:indent].strip() == "" else lines[i]
                piece.add(_text(text, is_shell), i + 1)
                i += 1
            pieces.append(piece)
            i += 1
            continue
        r = _RST_DIRECTIVE.match(lines[i])
        literal = lines[i].rstrip().endswith("::") and not lines[i].lstrip().startswith("..")
        if r or literal:
            base = len(lines[i]) - len(lines[i].lstrip())
            piece = _piece(source.path, r.group(2) if r else "", i + 1, "literal block")
            is_shell = piece.name == "script.sh"
            i += 1
            while i < len(lines) and (lines[i].strip().startswith(":") and r is not None):
                i += 1  # directive options (:linenos:)
            block: list[tuple[int, str]] = []
            while i < len(lines) and (not lines[i].strip() or len(lines[i]) - len(lines[i].lstrip()) > base):
                block.append((i + 1, lines[i]))
                i += 1
            while block and not block[-1][1].strip():
                block.pop()
            texts = [t for _n, t in block if t.strip()]
            cut = min((len(t) - len(t.lstrip()) for t in texts), default=0)
            for n, t in block:
                if piece.lines or t.strip():
                    piece.add(_text(t[cut:], is_shell), n)
            if piece.lines:
                pieces.append(piece)
            continue
        i += 1
    return Extraction(
        [
            p
            for piece in pieces
            for p in (shell.with_writes(path, piece, context) if piece.name == "script.sh" else [piece])
        ]
    )

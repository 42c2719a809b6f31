"""What a container yields: an embedded config, where each of its lines stands in the container."""

from __future__ import annotations

from dataclasses import dataclass, field

from policy_lint.records import Record

# Unresolved values inside embedded text are wrapped in these private-use characters by the
# container that met them (`\ue000{{ lan_cidr }}\ue001`), so that semantics/symbolic decides what
# each one stands for by its position, whatever the container's own placeholder syntax was.
OPEN, CLOSE = "\ue000", "\ue001"


def mark(expression: str) -> str:
    """An unresolved value as written (`{{ lan }}`, `${var.x}`, `$IFACE`), marked."""
    return f"{OPEN}{expression}{CLOSE}"


@dataclass(eq=False, repr=False)
class Embedded(Record):
    """One config inside a container file.

    `lines` are the text the device would read; `line_map[i]` is the 1-based line of `origin`
    (the container, or the template file a `templatefile()` renders) that `lines[i]` came from.
    `dialect` is the NAME when the container says which (a fence's language tag, a config path),
    else None (detected from `name` and the text). `inert` says why the config is not in effect
    (NixOS `enable = false`): it is then reported as skipped, not linted.
    """

    origin: str  # the file the lines map to, as shown to users
    lines: list[str]
    line_map: list[int]
    name: str  # the file name it would have on the device (squid.conf): detection, temp file
    label: str  # where it is, in the container's words ("```squid fence", "heredoc to /etc/hosts")
    dialect: str | None = None
    inert: str = ""
    # Problems the container found at its own lines (code, line, message): a Jinja error, a
    # template file that is not in the repository.
    problems: list[tuple[str, int, str]] = field(default_factory=list)
    # Ranges of `origin` lines (first, last, expression) whose output depends on a value nobody
    # knows (a template's `{% if %}` on an undefined variable): their lines are unknown, and so
    # is any probe the config lets through (the block might have denied it).
    conditional: list[tuple[int, int, str]] = field(default_factory=list)
    # Who gets this config when the container renders it differently for different targets
    # (Ansible: "host proxy1"): shown before each audience of its findings.
    audience: str = ""
    # When the lines come from several files (NixOS modules an import merges): the file of
    # each line, shown (parallel to `lines`); empty: every line is `origin`'s.
    line_origin: list[str] = field(default_factory=list)
    # 1-based index into `lines` -> the condition (not evaluated) deciding whether that line
    # is in effect: those lines are unknown (as `conditional`, for lines of several files).
    line_conditions: dict[int, str] = field(default_factory=dict)
    # Files (resolved) read as part of this config: not reported again on their own.
    pulls_in: list[str] = field(default_factory=list)

    def add(self, text: str, line: int) -> None:
        self.lines.append(text)
        self.line_map.append(line)


@dataclass(eq=False, repr=False)
class Extraction(Record):
    """The configs a container holds, and whether the file is (also) a config in itself."""

    pieces: list[Embedded]
    # The dialects that may read the file itself as a whole: a shell script is both a container
    # (its heredocs) and the iptables dialect's script; a document or a template is only a container;
    # Terraform is also its provider dialects' (panos, fortios, cloudflare).
    whole: tuple[str, ...] = ()
    # Problems of the container itself, outside any config it holds: (code, line, message), e.g.
    # TE908 for `uci` commands nothing here reads, TE903 for a template not in the repository.
    unread: list[tuple[str, int, str]] = field(default_factory=list)
    kind: str = ""  # the container module's name (markdown, shell, ...)
    failed: bool = False  # the container could not be read at all (the error is reported)

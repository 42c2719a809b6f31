"""Windows batch files (cmd.exe) as the interpreter reads them, for the dialects that read
scripts written for it (hosts-file writers, netsh firewall scripts).

cmd.exe joins a line that ends in a single caret with the next one (the caret is dropped;
`^^` is an escaped caret and ends the line). `@` before a command only hides its echo, and
`rem` and `::` start comments.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator


def logical_lines(lines: Iterable[str]) -> Iterator[tuple[int, str]]:
    """(number of the first physical line, the joined line) for each logical line. A
    continuation still open at the end of the file is dropped, as cmd.exe drops it."""
    pending, start = "", 1
    for number, raw in enumerate(lines, start=1):
        line = raw.rstrip("\r")
        if not pending:
            start = number
        if line.endswith("^") and not line.endswith("^^"):
            pending += line[:-1]
            continue
        yield start, pending + line
        pending = ""


def command_text(line: str) -> str:
    """The command on a logical line, without indentation and the echo-hiding `@`."""
    return line.strip().lstrip("@").strip()


def is_comment(command: str) -> bool:
    """An empty line, `rem ...` or `:: ...` (a label that cannot be reached)."""
    low = command.lower()
    return not command or low == "rem" or low.startswith(("rem ", "::"))

"""Configs a Python script sends to devices or writes to files, read with `ast` (never run).

    net_connect.send_config_set([                         # Netmiko: each string is one command
        "/ip firewall address-list add list=social address=157.240.0.0/16",
        "/ip firewall filter add chain=forward dst-address-list=social action=drop",
    ])
    with open("/etc/hosts", "a") as f:                    # a literal line written to a config file
        f.write("0.0.0.0 facebook.com\\n")

Read: Netmiko `send_config_set([...])` / `send_command("...")`, Paramiko `exec_command("...")`
and channel `send("...\\n")`, with string literals or a list literal bound once to a name at
module level; `open(PATH, "w"|"a")` (also in `with ... as f`) followed by `f.write(...)` /
`f.writelines([...])`, and `Path(PATH).write_text(...)`, for a literal PATH. The commands go to
the dialect their text is in (detected: MikroTik `/ip firewall ...`, iptables commands);
written files to the dialect of their path (extract/shell.place) or name. An f-string's `{...}`
is a symbolic value (extract/symbolic); any other computed string is unknown (TE907).
PowerShell scripts that write hosts lines are the `windows-batch` dialect's.
"""

from __future__ import annotations

import ast
from pathlib import Path, PurePosixPath

from policy_lint.dialects.semantics.base import ParseContext
from policy_lint.extract import shell
from policy_lint.extract.model import Embedded, Extraction, mark
from policy_lint.inputs import SourceText

_SEND = {"send_config_set", "send_command", "send_command_timing", "exec_command", "send", "sendline"}


def claims(path: Path, head: str) -> bool:
    if path.suffix.lower() != ".py":
        return False
    return any(word in head for word in (*_SEND, "open(", "write_text"))


def _text(node: ast.AST | None) -> str | None:
    """A string expression's text: literal, or an f-string with symbolic `{...}`; else None."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        out = []
        for part in node.values:
            if isinstance(part, ast.Constant):
                out.append(str(part.value))
            elif isinstance(part, ast.FormattedValue):
                out.append(mark("{" + ast.unparse(part.value) + "}"))
        return "".join(out)
    return None


def _strings(node: ast.AST | None, names: dict[str, ast.AST]) -> list[tuple[str, int]] | None:
    if isinstance(node, ast.Name) and node.id in names:
        node = names[node.id]
    if isinstance(node, ast.List | ast.Tuple):
        out: list[tuple[str, int]] = []
        for element in node.elts:
            text = _text(element)
            out.append((text if text is not None else mark(ast.unparse(element)), element.lineno))
        return out
    text = _text(node)
    if text is not None and node is not None:
        return [(text, getattr(node, "lineno", 1))]
    if node is not None:
        return [(mark(ast.unparse(node)), getattr(node, "lineno", 1))]
    return None


def _open_target(node: ast.AST) -> str | None:
    """The literal path of `open(PATH, "w"|"a")` / `Path(PATH)`, if `node` is one."""
    if not isinstance(node, ast.Call):
        return None
    func = node.func
    name = func.id if isinstance(func, ast.Name) else (func.attr if isinstance(func, ast.Attribute) else "")
    if name not in ("open", "Path", "PurePath", "PosixPath") or not node.args:
        return None
    path = _text(node.args[0])
    if path is None or "\ue000" in path:
        return None
    if name == "open":
        mode = _text(node.args[1]) if len(node.args) > 1 else None
        mode = mode or next((_text(k.value) for k in node.keywords if k.arg == "mode"), None) or "r"
        if not any(c in mode for c in "wa"):
            return None
    return path


def extract(path: Path, source: SourceText, context: ParseContext) -> Extraction:
    try:
        tree = ast.parse("\n".join(source.lines))
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        return Extraction([], unread=[("TE901", getattr(exc, "lineno", None) or 1, f"not Python: {exc}")])
    names: dict[str, ast.AST] = {}
    for statement in tree.body:
        if isinstance(statement, ast.Assign) and len(statement.targets) == 1:
            bound = statement.targets[0]
            if isinstance(bound, ast.Name):
                names[bound.id] = statement.value
    handles: dict[str, str] = {}  # file object name -> path
    for node in ast.walk(tree):
        if isinstance(node, ast.withitem) and isinstance(node.optional_vars, ast.Name):
            target = _open_target(node.context_expr)
            if target:
                handles[node.optional_vars.id] = target
        elif (
            isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)
        ):
            target = _open_target(node.value)
            if target:
                handles[node.targets[0].id] = target
    commands = Embedded(source.path, [], [], "commands.txt", "the commands the script sends")
    files: dict[str, Embedded] = {}
    calls = sorted(
        (n for n in ast.walk(tree) if isinstance(n, ast.Call)), key=lambda n: (n.lineno, n.col_offset)
    )
    for call in calls:
        if not isinstance(call.func, ast.Attribute):
            continue
        method = call.func.attr
        owner = call.func.value
        if method in _SEND and call.args:
            for text, line in _strings(call.args[0], names) or []:
                for part in text.replace("\r", "").split("\n"):
                    if part.strip():
                        commands.add(part, line)
            continue
        target = None
        if method in ("write", "writelines") and isinstance(owner, ast.Name):
            target = handles.get(owner.id)
        elif (method in ("write", "writelines") and isinstance(owner, ast.Call)) or method == "write_text":
            target = _open_target(owner)
        if target is None or not call.args:
            continue
        piece = files.get(target)
        if piece is None:
            name = PurePosixPath(target).name
            label = f"{target} as the script writes it"
            piece = files[target] = Embedded(source.path, [], [], name, label, shell.place(target))
        for text, line in _strings(call.args[0], names) or []:
            for part in text.split("\n"):
                if part.strip():
                    piece.add(part, line)
    if any(c.lstrip().startswith("/") for c in commands.lines):
        commands.name = "commands.rsc"
    elif any("iptables" in c for c in commands.lines):
        commands.name = "commands.sh"
    pieces = [p for p in files.values() if p.lines]
    if commands.lines:
        pieces.append(commands)
    return Extraction(pieces)

"""Configs inside Terraform: heredoc strings and `templatefile()` renderings.

    resource "local_file" "squid" {
      filename = "/etc/squid/squid.conf"         # names the config (its dialect, by path)
      content  = <<-EOT                          # the body is the config; lines map here
        acl lan src ${var.lan_cidr}              # a literal default of var.lan_cidr, else symbolic
        http_access deny facebook lan
      EOT
    }
    user_data = templatefile("${path.module}/squid.conf.tftpl", { lan = "10.0.0.0/8", sites = ["a", "b"] })

Variables and locals with literal values are substituted (semantics/terraform); any other
interpolation is a symbolic value (extract/symbolic). A `templatefile()` whose path and variable
map are literal is rendered: `${name}` from the map, `%{ for x in list }` ... `%{ endfor }` (on
lines of their own) over a literal list; its findings point into the template file. A heredoc
starting with `#!` or given to `user_data`/`custom_data`/`inline` is a shell script (its
writes: extract/shell). Provider resources (panos, fortios, cloudflare) are their own dialects':
those (PROVIDER_DIALECTS) read the .tf file whole as well.
Not modelled (symbolic, so unknown where it matters): `%{ if }` (every line of its block is
unknown), inline directives, functions
other than `templatefile`, `file()`; templates outside the repository (TE903).
"""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from policy_lint.dialects.semantics.base import ParseContext
from policy_lint.extract import shell
from policy_lint.extract.model import Embedded, Extraction, mark
from policy_lint.inputs import InputError, SourceText, read_source

if TYPE_CHECKING:
    from policy_lint.dialects.semantics import terraform as tf

_HEREDOC = re.compile(r"^\s*\"?([\w-]+)\"?\s*=\s*<<(-?)([A-Za-z_]\w*)\s*$")
_INTERP = re.compile(r"(?<!\$)\$\{([^{}]*)\}")
_TEMPLATEFILE = re.compile(r"templatefile\(\s*\"([^\"]+)\"\s*,\s*(\{[^()]*\})\s*\)")
_MAP_ITEM = re.compile(r"\"?(\w+)\"?\s*[=:]\s*(\"[^\"]*\"|\[[^\]]*\]|[\w.]+)")
_FOR = re.compile(r"^\s*%\{~?\s*for\s+(\w+)\s+in\s+(\w+)\s*~?\}\s*$")
_ENDFOR = re.compile(r"^\s*%\{~?\s*endfor\s*~?\}\s*$")
_DIRECTIVE = re.compile(r"%\{[^}]*\}")
_IF_OPEN = re.compile(r"%\{~?\s*if\b")
_IF_CLOSE = re.compile(r"%\{~?\s*endif\b")
_SCRIPT_ATTRS = ("user_data", "custom_data", "inline", "script", "startup_script", "metadata_startup_script")
_NAME_ATTRS = ("filename", "destination", "path", "dest", "target")
# The dialects that read a .tf file's provider resources themselves (#14, #16): they may read the
# file whole as well; any other dialect recognising a heredoc's text in it must not.
PROVIDER_DIALECTS = ("panos", "fortigate", "cloudflare-gateway")
# Resource type prefixes of those providers (panos_, fortios_, cloudflare_).
PROVIDER_PREFIXES = ("panos_", "fortios_", "cloudflare_")


def claims(path: Path, head: str) -> bool:
    return path.suffix.lower() == ".tf"


def _literal(raw: str) -> Any:
    raw = raw.strip()
    if raw.startswith('"'):
        return raw[1:-1]
    if raw.startswith("["):
        return list(re.findall(r"\"([^\"]*)\"", raw))
    return None  # a reference or a call: symbolic


def _interpolate(text: str, lookup: Any) -> str:
    def one(m: re.Match[str]) -> str:
        value = lookup(m.group(1).strip())
        return str(value) if isinstance(value, str | int | float) else mark(m.group(0))

    text = _DIRECTIVE.sub(lambda m: mark(m.group(0)), _INTERP.sub(one, text))
    return text.replace("$${", "${").replace("%%{", "%{")


def _block_name(model: tf.TerraformFile | None, line: int) -> str | None:
    """The path a file resource writes (`filename = ...`), for the heredoc at `line`."""
    if model is None:
        return None
    for block in model.blocks:
        if block.line <= line <= block.end_line:
            for attr in _NAME_ATTRS:
                value = model.resolve(block.body.get(attr))
                if isinstance(value, str) and ("/" in value or "." in value):
                    return value
    return None


def _piece(origin: str, target: str | None, attr: str, line: int, first: str) -> Embedded:
    if first.startswith("#!") or attr in _SCRIPT_ATTRS:
        return Embedded(origin, [], [], "script.sh", f"the script in {attr} at line {line}")
    if target:
        return Embedded(
            origin,
            [],
            [],
            PurePosixPath(target).name,
            f"{target} ({attr} at line {line})",
            shell.place(target),
        )
    return Embedded(origin, [], [], f"{attr}.conf", f"the heredoc {attr} at line {line}")


def _inside_ifs(lines: list[str]) -> list[bool]:
    """Whether each line is inside (or opens/closes) a `%{ if }` block: a condition Terraform
    decides, not modelled, so those lines are unknown rather than written unconditionally."""
    out, depth = [], 0
    for text in lines:
        opened, closed = len(_IF_OPEN.findall(text)), len(_IF_CLOSE.findall(text))
        out.append(bool(depth or opened or closed))
        depth = max(0, depth + opened - closed)
    return out


def _render(lines: list[tuple[int, str]], values: dict[str, Any], piece: Embedded) -> None:
    """Template lines (number, text) with `${name}` and line-level `%{ for }` loops; lines in
    `%{ if }` blocks are unknown (marked whole)."""
    inside = _inside_ifs([text for _n, text in lines])
    i = 0
    while i < len(lines):
        number, text = lines[i]
        if inside[i]:
            piece.add(mark(text), number)
            i += 1
            continue
        loop = _FOR.match(text)
        if loop:
            depth, j = 1, i + 1
            while j < len(lines) and depth:
                depth += bool(_FOR.match(lines[j][1])) - bool(_ENDFOR.match(lines[j][1]))
                j += 1
            body = lines[i + 1 : j - 1]
            items = values.get(loop.group(2))
            if isinstance(items, list):
                for item in items:
                    _render(body, {**values, loop.group(1): item}, piece)
            else:
                piece.add(mark(text.strip()), number)
                piece.problems.append(("TE907", number, f"loop over {loop.group(2)}, not a literal list"))
            i = j
            continue
        piece.add(_interpolate(text, lambda e: values.get(e)), number)
        i += 1


def extract(path: Path, source: SourceText, context: ParseContext) -> Extraction:
    from policy_lint.dialects.semantics import terraform as tf  # python-hcl2: only for .tf files

    try:
        model: tf.TerraformFile | None = tf.load(source.lines)
    except tf.TerraformError as exc:
        if any(f'resource "{prefix}' in "\n".join(source.lines) for prefix in PROVIDER_PREFIXES):
            # A provider dialect's own file: it reports the unreadable module (one input error).
            return Extraction([], whole=PROVIDER_DIALECTS)
        # Terraform refuses the whole module: nothing of it is deployed, so nothing is known.
        line = re.search(r"line (\d+)", str(exc))
        return Extraction([], unread=[("TE901", int(line.group(1)) if line else 1, str(exc))])

    def lookup(expression: str) -> Any:
        if model is None:
            return None
        value = model.resolve("${" + expression + "}")
        return None if isinstance(value, tf.Symbolic) else value

    pieces: list[Embedded] = []
    lines = source.lines
    i = 0
    while i < len(lines):
        m = _HEREDOC.match(lines[i])
        if m:
            attr, indent, end = m.group(1), m.group(2), m.group(3)
            j = i + 1
            while j < len(lines) and lines[j].strip() != end:
                j += 1
            body = lines[i + 1 : j]
            if indent:
                cut = min((len(b) - len(b.lstrip()) for b in body if b.strip()), default=0)
                body = [b[cut:] for b in body]
            first = next((b for b in body if b.strip()), "")
            inside = _inside_ifs(body)
            piece = _piece(source.path, _block_name(model, i + 1), attr, i + 1, first)
            for k, b in enumerate(body):
                piece.add(mark(b) if inside[k] else _interpolate(b, lookup), i + 2 + k)
            pieces.append(piece)
            i = j + 1
            continue
        for call in _TEMPLATEFILE.finditer(lines[i]):
            pieces += _templatefile(path, source, context, call, i + 1, lookup)
        i += 1
    out: list[Embedded] = []
    for piece in pieces:
        out += shell.with_writes(path, piece, context) if piece.name == "script.sh" else [piece]
    return Extraction(out, whole=PROVIDER_DIALECTS)


def _templatefile(
    path: Path, source: SourceText, context: ParseContext, call: re.Match[str], line: int, lookup: Any
) -> list[Embedded]:
    ref = call.group(1).replace("${path.module}", ".").replace("${path.root}", ".")
    values: dict[str, Any] = {}
    for item in _MAP_ITEM.finditer(call.group(2)):
        value = _literal(item.group(2))
        if value is None:
            value = lookup(item.group(2).strip())
        if value is not None:
            values[item.group(1)] = value
    target = context.resolver.resolve(ref, path) if "${" not in ref else None
    if target is None:
        piece = Embedded(source.path, [], [], "template", f"templatefile at line {line}")
        piece.problems.append(("TE903", line, f"template {call.group(1)} is not in the repository"))
        return [piece]
    try:
        template = read_source(target, context.resolver.display(target))
    except InputError as exc:
        piece = Embedded(source.path, [], [], "template", f"templatefile at line {line}")
        piece.problems.append(("TE903", line, str(exc)))
        return [piece]
    name = re.sub(r"\.(tftpl|tpl|tmpl)$", "", target.name)
    piece = Embedded(template.path, [], [], name, f"templatefile() at {source.path}:{line}")
    _render(list(enumerate(template.lines, start=1)), values, piece)
    return [piece]

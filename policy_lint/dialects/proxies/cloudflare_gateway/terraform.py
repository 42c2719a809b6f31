"""The cloudflare provider's Gateway resources, read from a Terraform file.

Policies are `cloudflare_zero_trust_gateway_policy` (provider v4.40+ and v5) or
`cloudflare_teams_rule` (older v4); lists are `cloudflare_zero_trust_list` or
`cloudflare_teams_list`. v4 writes nested blocks (`rule_settings { ... }`,
`items_with_description { value = ... }`), v5 attributes (`rule_settings = { ... }`,
`items = [{ value = ... }]`); python-hcl2 gives both as dicts, so both read the same.

A policy references a list by its UUID (`$<uuid>`), which Terraform knows only after the list
is created, so configs splice the ID in:

    traffic = "any(dns.domains[*] in ${"$"}${cloudflare_zero_trust_list.social.id})"
    traffic = "http.request.uri in ${"$"}${replace(cloudflare_teams_list.urls.id, "-", "")}"
    traffic = format("any(dns.domains[*] in $%s)", cloudflare_teams_list.social.id)

All three become the list reference `$tf:<type>.<name>`, resolved against the lists in the
same file. `var.X`/`local.X` with a literal value are substituted as Terraform would; every
other interpolation (a variable without default, `join(...)` over computed lists) becomes a
placeholder the expression parser reads as an unknown value (TE907). `$${` is Terraform's
escape for a literal `${`: Cloudflare then receives the reference as text, and refuses it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from policy_lint.dialects.proxies.cloudflare_gateway import expression
from policy_lint.dialects.proxies.cloudflare_gateway.model import (
    LAYERS,
    LIST_TYPES,
    POLICY_TYPES,
    SETTINGS_TYPES,
    Condition,
    GatewayList,
    Policy,
)
from policy_lint.dialects.semantics import terraform as hcl
from policy_lint.model import Problem, Span

_LIST_ID = re.compile(
    r"^\s*(?:replace\(\s*)?(" + "|".join(LIST_TYPES) + r")\.([A-Za-z_][\w-]*)\.id"
    r'(?:\s*,\s*"-"\s*,\s*""\s*\))?\s*$'
)
_STRING_LITERAL = re.compile(r'^\s*"((?:[^"\\]|\\.)*)"\s*$')
_FORMAT = re.compile(r"^\$\{\s*format\((.*)\)\s*\}$", re.S)
_HCL_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\"}


def _unescape(text: str) -> str:
    """An HCL string literal's body as Terraform reads it (python-hcl2 leaves the text inside
    `${...}` as written)."""
    return re.sub(r"\\(.)", lambda m: _HCL_ESCAPES.get(m.group(1), m.group(0)), text)


def _interpolations(text: str) -> list[tuple[int, int]]:
    """(start, end) of every `${...}` (braces balanced, quoted strings skipped); `$${` is an
    escape, not an interpolation."""
    spans: list[tuple[int, int]] = []
    i = 0
    while i < len(text):
        if text.startswith("$${", i):
            i += 3
            continue
        if not text.startswith("${", i):
            i += 1
            continue
        depth, j, quoted = 0, i + 1, False
        while j < len(text):
            c = text[j]
            if quoted:
                if c == "\\":
                    j += 1
                elif c == '"':
                    quoted = False
            elif c == '"':
                quoted = True
            elif c == "{":
                depth += 1
            elif c == "}":
                depth -= 1
                if depth == 0:
                    break
            j += 1
        spans.append((i, j + 1))
        i = j + 1
    return spans


def _split_arguments(text: str) -> list[str]:
    """Top-level comma-separated arguments of a function call."""
    parts: list[str] = []
    depth, quoted, start, i = 0, False, 0, 0
    while i < len(text):
        c = text[i]
        if quoted:
            if c == "\\":
                i += 1
            elif c == '"':
                quoted = False
        elif c == '"':
            quoted = True
        elif c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
        elif c == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
        i += 1
    parts.append(text[start:])
    return [p.strip() for p in parts]


class Splicer:
    """Turns a policy attribute as python-hcl2 gives it into Gateway expression text."""

    def __init__(self, tf: hcl.TerraformFile) -> None:
        self.tf = tf
        self.symbols: list[str] = []  # placeholder N -> the Terraform expression

    def _placeholder(self, expression_text: str) -> str:
        self.symbols.append(expression_text)
        return f"\x00{len(self.symbols) - 1}\x00"

    def _term(self, inner: str) -> str:
        """One interpolated term (without `${}`) as expression text."""
        listed = _LIST_ID.match(inner)
        if listed:
            return f"tf:{listed.group(1)}.{listed.group(2)}"
        literal = _STRING_LITERAL.match(inner)
        if literal:
            return _unescape(literal.group(1))
        value = self.tf.resolve("${" + inner + "}")
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, str | int | float):
            return str(value)
        return self._placeholder("${" + inner.strip() + "}")

    def splice(self, raw: Any) -> str:
        if isinstance(raw, bool | int | float):
            return str(raw)
        if not isinstance(raw, str):
            return self._placeholder(str(raw))
        whole = _FORMAT.match(raw.strip())
        if whole and len(_interpolations(raw.strip())) == 1:
            return self._format(whole.group(1))
        out: list[str] = []
        last = 0
        for start, end in _interpolations(raw):
            out.append(raw[last:start])
            out.append(self._term(raw[start + 2 : end - 1]))
            last = end
        out.append(raw[last:])
        return "".join(out).replace("$${", "${")

    def _format(self, arguments: str) -> str:
        """Terraform's format() with %s/%d/%v verbs over literals, list IDs and variables."""
        args = _split_arguments(arguments)
        template = _STRING_LITERAL.match(args[0]) if args else None
        if template is None:
            return self._placeholder("${format(" + arguments + ")}")
        values = [self._term(a) for a in args[1:]]
        body = _unescape(template.group(1))
        out: list[str] = []
        i = used = 0
        while i < len(body):
            if body[i] == "%" and i + 1 < len(body):
                verb = body[i + 1]
                if verb == "%":
                    out.append("%")
                elif verb in "sdv" and used < len(values):
                    out.append(values[used])
                    used += 1
                else:
                    return self._placeholder("${format(" + arguments + ")}")
                i += 2
                continue
            out.append(body[i])
            i += 1
        return "".join(out)


def _condition(
    tf: hcl.TerraformFile,
    body: Mapping[str, Any],
    attribute: str,
    line: int,
    problems: list[Problem],
    path: str,
) -> Condition:
    raw = body.get(attribute)
    if raw is None or raw == "":
        return Condition(attribute, "", line)
    splicer = Splicer(tf)
    text = splicer.splice(raw)
    shown = text
    for number, symbol in enumerate(splicer.symbols):
        shown = shown.replace(f"\x00{number}\x00", symbol)
    for symbol in splicer.symbols:
        problems.append(
            Problem(
                "TE907",
                Span(path, line, 1),
                f"the {attribute} expression uses {symbol}, known only when Terraform runs: "
                f"what it decides in `{shown[:160]}` is unknown",
            )
        )
    try:
        tree = expression.parse(text)
    except expression.ExpressionError as exc:
        if splicer.symbols:
            # Text Terraform computes may be any expression: unknown (TE907 above), not refused.
            return Condition(attribute, shown, line, None, f"built when Terraform runs ({exc})")
        hint = ""
        if "${" in text:
            hint = " (Terraform's `$${` writes a literal `${`: Cloudflare receives the text, not a list ID)"
        problems.append(
            Problem(
                "TE901",
                Span(path, line, 1),
                f"Cloudflare refuses the {attribute} expression `{shown[:160]}`: {exc}{hint}",
            )
        )
        return Condition(attribute, shown, line, None, str(exc))
    return Condition(attribute, shown, line, tree)


def _scalar(tf: hcl.TerraformFile, value: Any) -> Any:
    resolved = tf.resolve(value)
    return None if isinstance(resolved, hcl.Symbolic) else resolved


def _bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return None


def read_policy(tf: hcl.TerraformFile, block: hcl.Block, path: str, problems: list[Problem]) -> Policy:
    body = block.body
    address = ".".join(block.labels[:2])
    uncertain: list[str] = []
    name = _scalar(tf, body.get("name", block.labels[1]))
    action = _scalar(tf, body.get("action"))
    if action is None and body.get("action") is not None:
        uncertain.append("action")
    if isinstance(action, str):
        action = action.lower()
    filters_raw = tf.resolve(body.get("filters", []))
    filters: list[str] = []
    if isinstance(filters_raw, hcl.Symbolic) or (
        isinstance(filters_raw, list) and any(isinstance(f, hcl.Symbolic) for f in filters_raw)
    ):
        uncertain.append("filters")
    elif isinstance(filters_raw, list) and filters_raw:
        filters = [str(f).lower() for f in filters_raw]
    else:
        # No builder named (or not as a list): which builder Cloudflare files it under is not
        # evaluated, so the policy is tried in each and what it decides there stays unknown.
        problems.append(
            Problem(
                "TE908",
                Span(path, tf.attribute_line(body, "filters", block.line), 1),
                f"{address} names no filters list (dns, http, l4): which policies it joins is not "
                "evaluated, so what it decides is unknown",
            )
        )
        filters = list(LAYERS)
        uncertain.append("builder")
    precedence_raw = _scalar(tf, body.get("precedence"))
    precedence: int | None = None
    if isinstance(precedence_raw, int | float) or (
        isinstance(precedence_raw, str) and precedence_raw.isdigit()
    ):
        precedence = int(precedence_raw)
    elif body.get("precedence") is not None:
        uncertain.append("precedence")
    # Not set, `enabled` is false in both provider generations: v4 sends the Go zero value of an
    # optional bool (`Enabled: d.Get("enabled").(bool)`), v5 declares `booldefault.StaticBool(false)`
    # (terraform-provider-cloudflare, sdkv2provider/resource_cloudflare_teams_rules.go and
    # services/zero_trust_gateway_policy/schema.go). Such a policy exists but decides nothing.
    enabled: bool | None = False
    if "enabled" in body:
        enabled = _bool(_scalar(tf, body["enabled"]))
        if enabled is None:
            uncertain.append("enabled")
    if "count" in body:  # `count = var.on ? 1 : 0`: whether the policy exists at all
        count = _scalar(tf, body["count"])
        if isinstance(count, int) and not isinstance(count, bool):
            enabled = enabled if count > 0 else False
        else:
            enabled = None
            uncertain.append("count")
    settings: dict[str, object] = {}
    for nested in hcl.nested(body, "rule_settings"):
        for key, value in hcl.strip_meta(nested).items():
            resolved = tf.resolve(value)  # literal var/local defaults; a computed value keeps its text
            settings[key] = value if isinstance(resolved, hcl.Symbolic) else resolved
    line = block.line
    conditions = {
        attribute: _condition(tf, body, attribute, tf.attribute_line(body, attribute, line), problems, path)
        for attribute in ("traffic", "identity", "device_posture")
    }
    for attribute in (a for a in uncertain if a != "builder"):
        problems.append(
            Problem(
                "TE907",
                Span(path, tf.attribute_line(body, attribute, line), 1),
                f"{address}: {attribute} is known only when Terraform runs ({body.get(attribute)}): "
                "what this policy decides is unknown",
            )
        )
    timed = next((a for a in ("schedule", "expiration") if hcl.nested(body, a)), "")
    if timed:
        problems.append(
            Problem(
                "TE908",
                Span(path, tf.attribute_line(body, timed, line), 1),
                f"{address}: its {timed} makes it act only at some times, which policy-lint does not "
                "evaluate: what it decides is unknown",
            )
        )
    text = f'{address} "{name}": {action or "?"} {conditions["traffic"].text}'.strip()
    if "enabled" not in body:
        text = f"{text} [disabled: `enabled` is not set, and the provider's default is false]"
    return Policy(
        span=Span(path, line, 1, text[:200]),
        address=address,
        name=str(name),
        action=action if isinstance(action, str) else None,
        filters=tuple(filters),
        precedence=precedence,
        enabled=enabled,
        traffic=conditions["traffic"],
        identity=conditions["identity"],
        posture=conditions["device_posture"],
        settings=settings,
        uncertain=uncertain,
        timed=timed,
    )


def read_list(tf: hcl.TerraformFile, block: hcl.Block, path: str) -> GatewayList:
    body = block.body
    address = ".".join(block.labels[:2])
    raw_items = tf.resolve(body.get("items", []))
    symbolic = isinstance(raw_items, hcl.Symbolic)
    values: list[tuple[Any, int]] = []
    for item in raw_items if isinstance(raw_items, list) else []:
        if isinstance(item, Mapping):  # v5: items = [{ value = ..., description = ... }]
            values.append((item.get("value"), tf.attribute_line(body, "items", block.line)))
        else:
            values.append((item, tf.attribute_line(body, "items", block.line)))
    described = body.get("items_with_description")
    if isinstance(described, str):  # `items_with_description = var.users`
        described = tf.resolve(described)
        symbolic = symbolic or isinstance(described, hcl.Symbolic)
    for nested in hcl.nested({"items": described}, "items"):  # v4 blocks, or a list of objects
        line = int(
            nested.get("__start_line__", tf.attribute_line(body, "items_with_description", block.line))
        )
        values.append((nested.get("value"), line))
    items: list[str] = []
    lines: dict[str, int] = {}
    for value, line in values:
        resolved = tf.resolve(value)
        if isinstance(resolved, str | int | float) and not isinstance(resolved, bool):
            items.append(str(resolved))
            lines.setdefault(str(resolved).lower(), line)
        else:
            symbolic = True
    kind = _scalar(tf, body.get("type", ""))
    name = _scalar(tf, body.get("name", block.labels[1]))
    return GatewayList(
        Span(path, block.line, 1, f'{address} "{name}"'),
        address,
        str(name),
        str(kind or "").upper(),
        tuple(items),
        symbolic or kind is None,
        lines,
    )


def tls_decryption(tf: hcl.TerraformFile) -> bool | None:
    """Whether the file's account settings turn TLS decryption on (None: not said here)."""
    for block in tf.resources(*SETTINGS_TYPES):
        if "tls_decrypt_enabled" in block.body:  # v4 cloudflare_teams_account
            return _bool(_scalar(tf, block.body["tls_decrypt_enabled"]))
        for settings in hcl.nested(block.body, "settings"):  # v5
            for decrypt in hcl.nested(settings, "tls_decrypt"):
                if "enabled" in decrypt:
                    return _bool(_scalar(tf, decrypt["enabled"]))
        for decrypt in hcl.nested(block.body, "tls_decrypt"):
            if "enabled" in decrypt:
                return _bool(_scalar(tf, decrypt["enabled"]))
    return None


def read(tf: hcl.TerraformFile, path: str) -> tuple[list[Policy], list[GatewayList], list[Problem]]:
    problems: list[Problem] = []
    policies = [read_policy(tf, block, path, problems) for block in tf.resources(*POLICY_TYPES)]
    lists = [read_list(tf, block, path) for block in tf.resources(*LIST_TYPES)]
    return policies, lists, problems

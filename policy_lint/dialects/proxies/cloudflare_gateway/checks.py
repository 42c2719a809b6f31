"""What reading a policy already tells: unmodelled fields and functions, undocumented
categories and application IDs, lists outside the module, actions and filters Cloudflare refuses."""

from __future__ import annotations

from collections.abc import Sequence

from policy_lint.dialects.proxies.cloudflare_gateway import categories
from policy_lint.dialects.proxies.cloudflare_gateway.expression import Compare, ListRef, Node, Opaque, walk
from policy_lint.dialects.proxies.cloudflare_gateway.model import ACTIONS, GatewayList, Policy
from policy_lint.dialects.proxies.cloudflare_gateway.selectors import (
    APPLICATION_FIELDS,
    CATEGORY_FIELDS,
    MODELLED_FIELDS,
    category_ids,
)
from policy_lint.model import Problem, Span


def static_problems(policies: Sequence[Policy], lists: dict[str, GatewayList], path: str) -> list[Problem]:
    """What the parse can already tell: unmodelled fields and functions, undocumented
    categories, missing lists, actions Cloudflare refuses."""
    problems: list[Problem] = []
    for policy in policies:
        if policy.action is not None and policy.action not in ACTIONS:
            problems.append(
                Problem(
                    "TE901", policy.span, f"{policy.address}: Cloudflare refuses the action {policy.action!r}"
                )
            )
        for bad in sorted(set(policy.filters) - {"dns", "http", "l4", "egress", "resolver", "dns_resolver"}):
            problems.append(
                Problem("TE901", policy.span, f"{policy.address}: Cloudflare refuses the filter {bad!r}")
            )
        if policy.posture.tree is not None:
            problems.append(
                Problem(
                    "TE908",
                    Span(path, policy.posture.line, 1),
                    f"{policy.address}: device posture checks are not evaluated: its matches are unknown",
                )
            )
        for condition in (policy.traffic, policy.identity):
            span = Span(path, condition.line, 1)
            for node in walk(condition.tree):
                message = _static(node, lists)
                if message:
                    code, text = message
                    problems.append(Problem(code, span, f"{policy.address}: {text}"))
    return list(dict.fromkeys(problems))


def _static(node: Node, lists: dict[str, GatewayList]) -> tuple[str, str] | None:
    if isinstance(node, Opaque):
        return "TE908", f"the function {node.name}() is not evaluated: what it decides is unknown"
    if not isinstance(node, Compare):
        return None
    name = node.field.name
    if node.op is None:
        return "TE908", f"the field {name} is not evaluated: what it decides is unknown"
    if isinstance(node.value, ListRef) and node.value.name not in lists:
        return (
            "TE903",
            f"the list ${node.value.name} is not defined in this Terraform module (this file and the .tf files beside it): what it decides is unknown",
        )
    if name in APPLICATION_FIELDS:
        numbers = category_ids(node.value) if node.value is not None else None
        missing = [n for n in numbers or [] if n not in categories.APPLICATIONS]
        if numbers is None or missing:
            ids = ", ".join(map(str, missing)) if missing else "these"
            return "TE908", f"Cloudflare application ID {ids} has no cited source: what it decides is unknown"
        return None
    if name in CATEGORY_FIELDS:
        numbers = category_ids(node.value) if node.value is not None else None
        if numbers is None:
            return "TE908", f"{name} compared with this value is not evaluated"
        found = [categories.category(n) for n in numbers]
        undocumented = [str(c.id) for c in found if c.name is None]
        if undocumented:
            return (
                "TE908",
                f"Cloudflare category {', '.join(undocumented)} has no documented name: what it decides is unknown",
            )
        holding = [c.describe() for c in found if c.may_hold_services]
        if holding:
            return (
                "TE907",
                f"Cloudflare's categorisation decides which hosts category {', '.join(holding)} holds: "
                "the services' verdicts under it are unknown",
            )
        return None
    if name not in MODELLED_FIELDS:
        return "TE908", f"the field {name} is not evaluated: what it decides is unknown"
    return None

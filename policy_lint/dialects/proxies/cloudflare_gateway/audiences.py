"""Who Gateway tells apart: WARP users by the identities the expressions name, and clients of
DNS locations (no identity)."""

from __future__ import annotations

from collections.abc import Sequence

from policy_lint.dialects.proxies.cloudflare_gateway.expression import Compare, Literal, SetValue, walk
from policy_lint.dialects.proxies.cloudflare_gateway.model import Policy
from policy_lint.dialects.proxies.cloudflare_gateway.selectors import IDENTITY_FIELDS, Client
from policy_lint.model import Audience

MAX_IDENTITIES = 64


def identities(policies: Sequence[Policy]) -> tuple[list[Client], int]:
    """Representative WARP users: one per group, email or user name the expressions name (the
    first MAX_IDENTITIES of them), and one named by none of them; and how many were named."""
    seen: dict[tuple[str, str], None] = {}
    for policy in policies:
        for condition in (policy.traffic, policy.identity):
            for node in walk(condition.tree):
                if not isinstance(node, Compare) or node.field.name not in IDENTITY_FIELDS:
                    continue
                value = node.value
                items = (
                    value.items
                    if isinstance(value, SetValue)
                    else (value,)
                    if isinstance(value, Literal)
                    else ()
                )
                for item in items:
                    if item.kind == "string" and node.op in ("==", "!=", "in", "matches"):
                        seen.setdefault(
                            (node.field.name if node.op != "matches" else f"~{node.field.name}", item.text),
                            None,
                        )
    clients: list[Client] = []
    for name, text in list(seen)[:MAX_IDENTITIES]:
        if name.startswith("~"):
            clients.append(Client("warp", matches=((name[1:], text),)))
        elif name == "identity.email":
            clients.append(Client("warp", email=text))
        elif name == "identity.name":
            clients.append(Client("warp", name=text))
        else:
            clients.append(Client("warp", groups=(text,)))
    clients.append(Client("warp", email="someone-else@invalid.example"))
    return clients, len(seen)


def describe(client: Client, several_kinds: bool, named: bool) -> tuple[str, ...]:
    if client.kind == "location":
        return ("DNS location clients (no user identity)",)
    who: tuple[str, ...] = ()
    if client.matches:
        field, pattern = client.matches[0]
        who = (f"users whose {field.split('.', 1)[1]} matches '{pattern}'",)
    elif client.groups:
        who = (f"users in group {client.groups[0]}",)
    elif client.name:
        who = (f"user {client.name}",)
    elif client.email and not client.email.endswith("@invalid.example"):
        who = (f"user {client.email}",)
    elif named:
        who = ("users none of the policies name",)
    kind = ("WARP clients",) if several_kinds else ()
    return kind + who


def audiences_for(clients: list[Client], several_kinds: bool, named: bool) -> list[tuple[Audience, Client]]:
    out: list[tuple[Audience, Client]] = []
    for client in clients:
        conditions = describe(client, several_kinds, named)
        attributes = tuple(
            (k, v)
            for k, v in (("user", client.email or client.name), ("group", ",".join(client.groups)))
            if v
        )
        out.append(
            (
                Audience(
                    key=(client.kind, client.email, client.name, client.groups, client.matches),
                    conditions=conditions,
                    attributes=attributes,
                ),
                client,
            )
        )
    return out

"""Gateway's selectors (fields) as this dialect evaluates them, and who sends a request.

Fields by builder (Cloudflare docs: DNS, HTTP and network policy selectors): host and domain
fields of each builder, the HTTP URL fields, the network port/protocol/destination IP, the
identity fields, the category and application fields (categories.py). Any other field is not
evaluated: a condition on it is unknown (TE908).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from policy_lint.dialects.proxies.cloudflare_gateway.expression import ListRef, Literal, SetValue

HOST_FIELDS = {
    "dns.fqdn": "dns",
    "http.request.host": "http",
    "http.conn.hostname": "http",
    "net.sni.host": "l4",
}
DOMAIN_FIELDS = {
    "dns.domains": "dns",
    "http.request.domains": "http",
    "http.conn.domains": "http",
    "net.sni.domains": "l4",
}
URL_FIELDS = {
    "http.request.uri",
    "http.request.uri.path",
    "http.request.uri.path_and_query",
    "http.request.method",
}
NETWORK_FIELDS = {"net.dst.port", "net.protocol", "net.dst.ip"}
IDENTITY_FIELDS = {
    "identity.email",
    "identity.name",
    "identity.groups.name",
    "identity.groups.id",
    "identity.groups.email",
}
CATEGORY_FIELDS = {
    "dns.content_category",
    "dns.security_category",
    "http.request.uri.content_category",
    "http.request.uri.security_category",
    "http.conn.content_category",
    "http.conn.security_category",
}
APPLICATION_FIELDS = {"app.ids", "app.type.ids"}
MODELLED_FIELDS = (
    set(HOST_FIELDS) | set(DOMAIN_FIELDS) | URL_FIELDS | NETWORK_FIELDS | IDENTITY_FIELDS | CATEGORY_FIELDS
)


@dataclass(frozen=True)
class Client:
    """Who sends the probe: a WARP client (every layer, a user identity) or a client of a DNS
    location (DNS policies only, no identity: identity selectors need WARP)."""

    kind: str  # warp | location
    email: str = ""
    name: str = ""
    groups: tuple[str, ...] = ()  # group names, IDs and emails alike
    # (field, regular expression) this user's identity matches by construction: a user named by
    # a pattern (`identity.email matches ".*@contractor.com"`) has no one value to stand for it
    matches: tuple[tuple[str, str], ...] = ()

    def values(self, name: str) -> list[str]:
        if self.kind != "warp":
            return []
        if name == "identity.email":
            return [self.email] if self.email else []
        if name == "identity.name":
            return [self.name] if self.name else []
        return list(self.groups)


def suffixes(host: str) -> list[str]:
    labels = host.lower().rstrip(".").split(".")
    return [".".join(labels[i:]) for i in range(len(labels))]


def category_ids(value: Literal | SetValue | ListRef) -> list[int] | None:
    items = value.items if isinstance(value, SetValue) else (value,) if isinstance(value, Literal) else ()
    if not items or any(i.kind != "number" for i in items):
        return None
    return [int(i.text) for i in items]


def is_ip(text: str) -> bool:
    try:
        ipaddress.ip_network(text, strict=False)
    except ValueError:
        return False
    return True

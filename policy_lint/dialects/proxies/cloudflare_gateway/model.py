"""The Gateway objects a Terraform file declares: policies (rules) and lists."""

from __future__ import annotations

from dataclasses import dataclass, field

from policy_lint.dialects.proxies.cloudflare_gateway.expression import Node
from policy_lint.model import Span

NAME = "cloudflare-gateway"
FILE_PATTERNS = ("*.tf",)

POLICY_TYPES = ("cloudflare_zero_trust_gateway_policy", "cloudflare_teams_rule")
LIST_TYPES = ("cloudflare_zero_trust_list", "cloudflare_teams_list")
# Account settings that say whether Gateway decrypts TLS (v4 and v5 names).
SETTINGS_TYPES = ("cloudflare_zero_trust_gateway_settings", "cloudflare_teams_account")

# Filters (policy builders) and the order Gateway applies them in: DNS, then HTTP, then network
# (Cloudflare docs, "Order of enforcement").
LAYERS = ("dns", "http", "l4")

# Actions each builder knows (the provider's enum); anything else the API refuses.
ACTIONS = frozenset(
    {
        "on",
        "off",
        "allow",
        "block",
        "scan",
        "noscan",
        "safesearch",
        "ytrestricted",
        "isolate",
        "noisolate",
        "override",
        "l4_override",
        "egress",
        "resolve",
        "quarantine",
        "redirect",
        "audit_ssh",
    }
)


@dataclass(frozen=True)
class Condition:
    """One of a policy's expressions (traffic, identity, device posture) as written and parsed.

    `tree` is None for an empty expression (no condition). `error` says why it could not be
    read (then the policy's matches are unknown)."""

    attribute: str
    text: str
    line: int
    tree: Node | None = None
    error: str = ""


@dataclass
class Policy:
    span: Span  # the resource block, its text naming the resource and action
    address: str  # resource type.name
    name: str
    action: str | None  # None: not known before Terraform runs
    filters: tuple[str, ...]
    precedence: int | None
    enabled: bool | None  # None: computed
    traffic: Condition
    identity: Condition
    posture: Condition
    settings: dict[str, object] = field(default_factory=dict)
    uncertain: list[str] = field(default_factory=list)  # attributes known only at apply time
    timed: str = ""  # `schedule` or `expiration`: active only at some times (not evaluated)

    @property
    def audience_free(self) -> bool:
        return self.identity.tree is None and not self.identity.error


@dataclass
class GatewayList:
    span: Span
    address: str  # resource type.name: what `$tf:<address>` references name
    name: str
    kind: str  # DOMAIN, HOST, URL, IP, EMAIL, SERIAL, DEVICE, ...
    items: tuple[str, ...]
    symbolic: bool = False  # some items are computed at apply time
    item_lines: dict[str, int] = field(default_factory=dict)

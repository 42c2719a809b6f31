"""Cloudflare Zero Trust Gateway policies written as Terraform (the cloudflare provider).

Gateway is a secure web gateway in Cloudflare's network. Its policies are resources
`cloudflare_zero_trust_gateway_policy` (provider v4.40+ and v5) or `cloudflare_teams_rule`
(older v4), each with `filters` (its builder: `dns`, `http` or `l4` for network), an `action`,
a `precedence` (lower runs first), `enabled` (false unless set: both provider generations
default it to false, so a policy without `enabled = true` exists but decides nothing), and
expressions: `traffic` (what is requested),
`identity` (who asks) and `device_posture`. Lists (`cloudflare_zero_trust_list`,
`cloudflare_teams_list`) are referenced from expressions as `$<list-uuid>`.

    resource "cloudflare_zero_trust_gateway_policy" "marketing" {
      enabled    = true
      filters    = ["dns"]
      action     = "allow"
      precedence = 1
      traffic    = "any(dns.domains[*] == \\"facebook.com\\")"
      identity   = "any(identity.groups.name[*] in {\\"marketing\\"})"
    }
    resource "cloudflare_zero_trust_gateway_policy" "no_social" {
      enabled    = true
      filters    = ["dns"]
      action     = "block"
      precedence = 2
      traffic    = "any(dns.domains[*] == \\"facebook.com\\")"
    }

Facebook is blocked for everyone but the marketing group (first match within the DNS builder).
Gateway applies the builders in the order DNS, HTTP, network, and each acts on its own: a DNS
block stops resolution; HTTP policies see only traffic proxied through Gateway (WARP in Traffic
and DNS mode, PAC files), with Do Not Inspect policies first, Isolate next, then
Allow/Block/Do Not Scan by precedence; network policies then see the connection
(evaluate.py; Cloudflare docs "Order of enforcement", "Gateway policy expressions").

Audiences: identity selectors need WARP-enrolled users, so the users the expressions name
(groups, emails, user names) and one user they do not name are WARP clients; when the file
also has HTTP or network policies, or identity conditions, clients of a DNS location (DNS
policies only, no identity: a policy with an identity condition does not apply to them) are
an audience of their own. Clients that use Gateway's proxy without its DNS are not modelled.

HTTP policies see HTTPS requests only when Gateway decrypts TLS (docs, "TLS decryption"): the
account setting (`cloudflare_zero_trust_gateway_settings` `tls_decrypt`, v4
`cloudflare_teams_account` `tls_decrypt_enabled`) decides; where the module does not set it, an
HTTP block of an HTTPS request is `unknown`, of plain HTTP a block. Terraform reads a directory
as one module: lists, variables and locals of the `.tf` files beside the linted one count.
Destination addresses (`net.dst.ip`) are judged over every catalog prefix of the service
(semantics/addressing), as the packet filters judge them.

Not modelled (-> `unknown`, with a finding at the expression's line): device posture (TE908),
fields other than host/domain/URL/path/SNI/port/destination IP/identity (TE908), functions
other than `any`/`all` (TE908), content and security categories whose members Cloudflare
decides (TE907; categories.py says which count, with the source of the IDs), application IDs
(TE908: no cited source), lists referenced by a literal UUID (not in the file: TE903),
Terraform values known only at apply time (TE907), schedules and expirations (TE908), a `count`
Terraform computes (TE907). Policies without `precedence` keep file order
(TE908 says Cloudflare chooses). Egress and resolver policies do not allow or block.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path

from policy_lint.catalog import Catalog
from policy_lint.dialects.proxies.cloudflare_gateway import audiences as people
from policy_lint.dialects.proxies.cloudflare_gateway import checks, evaluate
from policy_lint.dialects.proxies.cloudflare_gateway import terraform as reader
from policy_lint.dialects.proxies.cloudflare_gateway.expression import Compare, ListRef, walk
from policy_lint.dialects.proxies.cloudflare_gateway.model import (
    FILE_PATTERNS,
    LAYERS,
    LIST_TYPES,
    NAME,
    SETTINGS_TYPES,
    GatewayList,
    Policy,
)
from policy_lint.dialects.proxies.cloudflare_gateway.selectors import IDENTITY_FIELDS, Client, suffixes
from policy_lint.dialects.semantics import terraform as hcl
from policy_lint.dialects.semantics.addressing import decide_by_address
from policy_lint.dialects.semantics.base import ParseContext
from policy_lint.dialects.semantics.detection import QUOTING_SUFFIXES
from policy_lint.inputs import InputError, read_source
from policy_lint.model import EVERYONE, Audience, Decision, Probe, Problem, Span

__all__ = ["FILE_PATTERNS", "NAME", "GatewayRuleset", "detect", "parse"]

_POLICY_RESOURCE = re.compile(
    r'^\s*resource\s+"(?:cloudflare_zero_trust_gateway_policy|cloudflare_teams_rule)"', re.M
)
_LIST_RESOURCE = re.compile(r'^\s*resource\s+"(?:cloudflare_zero_trust_list|cloudflare_teams_list)"', re.M)


def detect(path: Path, head: str) -> float:
    """Sure when the file declares Gateway policies (more of them, surer: a file holding several
    providers' resources goes to the dialect with the most); a file of lists only is a weak
    claim; any other `.tf` is not ours."""
    if path.suffix.lower() in QUOTING_SUFFIXES:
        return 0.0
    policies = len(_POLICY_RESOURCE.findall(head))
    if policies:
        return min(0.95, 0.7 + 0.05 * policies)
    if _LIST_RESOURCE.search(head):
        return 0.55 if path.suffix.lower() == ".tf" else 0.3
    return 0.0


@dataclass
class GatewayRuleset:
    path: str
    catalog: Catalog
    policies: list[Policy]
    lists: dict[str, GatewayList]
    tls_decrypt: bool | None
    problems: list[Problem] = field(default_factory=list)
    dialect: str = NAME
    statements: int = 0
    understood: int = 0
    first_statement: Span | None = None
    referenced_elsewhere: set[str] = field(default_factory=set)
    own_lists: frozenset[str] = frozenset()
    _audiences: list[tuple[Audience, Client]] = field(default_factory=list)
    _memo: evaluate.Memo = field(default_factory=evaluate.Memo)

    def __post_init__(self) -> None:
        active = [p for p in self.policies if p.enabled is not False]
        self._layers: dict[str, list[Policy]] = {
            layer: sorted(
                (p for p in active if layer in p.filters or "filters" in p.uncertain),
                key=lambda p: (p.precedence if p.precedence is not None else float("inf"), p.span.line),
            )
            for layer in LAYERS
        }
        self._by_address = any(
            isinstance(node, Compare) and node.field.name == "net.dst.ip"
            for p in active
            for node in walk(p.traffic.tree)
        )
        has_dns = bool(self._layers["dns"])
        has_proxy = bool(self._layers["http"] or self._layers["l4"])
        named = any(
            isinstance(node, Compare) and node.field.name in IDENTITY_FIELDS
            for p in active
            for condition in (p.traffic, p.identity)
            for node in walk(condition.tree)
        ) or any(p.identity.tree is not None for p in active)
        locations = has_dns and (has_proxy or named)
        if not named and not locations:
            self._audiences = [(EVERYONE, Client("warp"))]
            return
        clients = [Client("warp")]
        if named:
            clients, count = people.identities(active)
            if count > people.MAX_IDENTITIES:
                self.problems.append(
                    Problem(
                        "TE906",
                        Span(self.path, 1, 1),
                        f"the policies name {count} users and groups: verdicts rest on the first "
                        f"{people.MAX_IDENTITIES} of them and one user none of them names",
                    )
                )
        if locations:
            clients.append(Client("location"))
        self._audiences = people.audiences_for(clients, locations, named)

    def audiences(self) -> list[Audience]:
        return [audience for audience, _client in self._audiences]

    def _client(self, audience: Audience) -> Client:
        for known, client in self._audiences:
            if known.key == audience.key:
                return client
        return Client("warp")

    def evaluate(self, probe: Probe, audience: Audience) -> Decision:
        client = self._client(audience)

        def at(target: Probe) -> Decision:
            return evaluate.decide(
                self._layers, target, client, self.lists, self.tls_decrypt, self.catalog, self._memo
            )

        if not self._by_address:
            return at(probe)
        # A network policy on destination addresses sees one of the service's addresses: judged
        # over every catalog prefix of the service, as the packet filters judge it.
        return decide_by_address(
            probe, self.catalog, lambda t: at(replace(probe, addresses=(str(t.address),)))
        )

    def inert_mentions(self, probe: Probe) -> list[Span]:
        """Disabled policies that would match the probe, and lists no policy references that
        name its host."""
        spans: list[Span] = []
        client = Client("warp")
        for policy in self.policies:
            if policy.enabled is not False:
                continue
            for layer in policy.filters:
                if layer not in LAYERS or policy.traffic.tree is None:
                    continue
                ctx = evaluate.Context(
                    probe, client, layer, self.tls_decrypt, self.lists, self._memo, self.catalog
                )
                if evaluate.evaluate_node(policy.traffic.tree, ctx).value is True:
                    spans.append(policy.span)
                    break
        referenced = {
            node.value.name
            for p in self.policies
            for condition in (p.traffic, p.identity)
            for node in walk(condition.tree)
            if isinstance(node, Compare) and isinstance(node.value, ListRef)
        }
        host = probe.host.lower()
        for key, gateway_list in self.lists.items():
            if key in referenced or key in self.referenced_elsewhere or key not in self.own_lists:
                continue
            items = {item.lower().rstrip(".") for item in gateway_list.items}
            if host in items or (gateway_list.kind == "DOMAIN" and items & set(suffixes(host))):
                spans.append(gateway_list.span)
        return spans


def _order_problems(policies: list[Policy], path: str) -> list[Problem]:
    problems: list[Problem] = []
    for layer in LAYERS:
        members = [p for p in policies if layer in p.filters and p.enabled is not False]
        if len(members) > 1:
            for policy in members:
                if policy.precedence is None and "precedence" not in policy.uncertain:
                    problems.append(
                        Problem(
                            "TE908",
                            policy.span,
                            f"{policy.address} has no precedence: Cloudflare places it; "
                            "policy-lint takes the file's order, which may not be Gateway's",
                        )
                    )
            seen: dict[int, Policy] = {}
            for policy in members:
                if policy.precedence is None:
                    continue
                first = seen.setdefault(policy.precedence, policy)
                if first is not policy:
                    problems.append(
                        Problem(
                            "TE908",
                            policy.span,
                            f"{policy.address} shares precedence {policy.precedence} with {first.address}: "
                            "which runs first is Cloudflare's choice; policy-lint takes the file's order",
                        )
                    )
    return problems


MAX_MODULE_FILES = 200
MAX_MODULE_FILE_BYTES = 1024 * 1024
# python-hcl2's parser takes about a minute for 2 MiB on this project's machines: a Terraform
# file past this size is refused rather than left to run (Gateway configs are kilobytes).
MAX_HCL_BYTES = 4 * 1024 * 1024
_LIST_MENTION = re.compile(r"\b((?:cloudflare_zero_trust_list|cloudflare_teams_list)\.[A-Za-z_][\w-]*)\.id\b")
# What makes a file of the module worth parsing: declarations a policy here may use.
_MODULE_DECLARATION = re.compile(
    r'^\s*(?:variable\s|locals\s*\{|resource\s+"(?:' + "|".join((*LIST_TYPES, *SETTINGS_TYPES)) + r')")',
    re.M,
)


@dataclass
class Module:
    """What the other `.tf` files of the same directory add: Terraform reads a directory as one
    module, so a policy may use a list, variable or local declared beside it."""

    lists: list[GatewayList] = field(default_factory=list)
    referenced: set[str] = field(default_factory=set)  # `tf:<list address>` the other files use
    tls_decrypt: bool | None = None  # the account setting, where another file of the module sets it


def _module(path: Path, context: ParseContext, tf: hcl.TerraformFile) -> Module:
    """The module's other files: each read as text (list references), and parsed only when it
    declares variables, locals, lists or account settings."""
    module = Module()
    siblings = sorted(p for p in path.parent.glob("*.tf") if p.name != path.name)[:MAX_MODULE_FILES]
    others: list[tuple[str, hcl.TerraformFile]] = []
    for sibling in siblings:
        try:
            if (
                not context.resolver.inside(sibling, path.parent)
                or sibling.stat().st_size > MAX_MODULE_FILE_BYTES
            ):
                continue
            source = read_source(sibling, context.resolver.display(sibling))
            text = "\n".join(source.lines)
            module.referenced |= {f"tf:{m}" for m in _LIST_MENTION.findall(text)}
            if not _MODULE_DECLARATION.search(text):
                continue
            other = hcl.load(source.lines)
        except (OSError, InputError, hcl.TerraformError):
            continue  # linted on its own, where its errors are reported
        for name, value in other.variables.items():
            tf.variables.setdefault(name, value)
        for name, value in other.locals.items():
            tf.locals.setdefault(name, value)
        others.append((context.resolver.display(sibling), other))
    for shown, other in others:  # values resolve module-wide, as Terraform resolves them
        other.variables.update(tf.variables)
        other.locals.update(tf.locals)
        module.lists += [reader.read_list(other, block, shown) for block in other.resources(*LIST_TYPES)]
        if module.tls_decrypt is None:
            module.tls_decrypt = reader.tls_decryption(other)
    return module


def parse(path: Path, context: ParseContext) -> GatewayRuleset:
    shown = context.resolver.display(path)
    size = path.stat().st_size if path.is_file() else 0
    if size > MAX_HCL_BYTES:
        raise InputError(
            f"{shown}: Terraform file of {size} bytes is too large to parse (limit {MAX_HCL_BYTES})"
        )
    source = read_source(path, shown)
    try:
        tf = hcl.load(source.lines)
    except hcl.TerraformError as exc:
        raise InputError(f"{shown}: {exc}") from None
    module = _module(path, context, tf)
    policies, lists, problems = reader.read(tf, shown)
    by_reference = {f"tf:{gateway_list.address}": gateway_list for gateway_list in module.lists}
    by_reference.update({f"tf:{gateway_list.address}": gateway_list for gateway_list in lists})
    problems += checks.static_problems(policies, by_reference, shown)
    problems += _order_problems(policies, shown)
    tls_decrypt = own if (own := reader.tls_decryption(tf)) is not None else module.tls_decrypt
    http = [p for p in policies if "http" in p.filters and p.enabled is not False]
    if http and tls_decrypt is None:
        problems.append(
            Problem(
                "TE907",
                http[0].span,
                "whether HTTP policies see HTTPS requests is the account's TLS decryption setting, which "
                "this Terraform module does not set: what they decide for HTTPS is unknown",
            )
        )
    blocks = [b for b in tf.blocks if b.kind == "resource"] or tf.blocks
    ruleset = GatewayRuleset(
        path=shown,
        catalog=context.catalog,
        policies=policies,
        lists=by_reference,
        tls_decrypt=tls_decrypt,
        problems=source.problems + list(dict.fromkeys(problems)),
        statements=len(blocks),
        understood=len(policies) + len(lists),
        first_statement=Span(shown, blocks[0].line, 1) if blocks else None,
        referenced_elsewhere=module.referenced,
        own_lists=frozenset(f"tf:{gateway_list.address}" for gateway_list in lists),
    )
    return ruleset

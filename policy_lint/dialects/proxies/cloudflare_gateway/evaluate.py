"""Gateway's decisions for one probe: DNS, then HTTP, then network policies, each by precedence.

Per layer (Cloudflare docs, "Order of enforcement"):
- DNS policies in precedence order (lowest first), first match: `block` stops resolution,
  `override` answers another name/IP (a block unless it points at the same service), `allow`,
  `safesearch`, `ytrestricted` let the query resolve.
- HTTP policies: all Do Not Inspect (`off`) / Do Inspect (`on`) policies first, in precedence
  order (a Do Not Inspect match lets the request through every other HTTP policy); Isolate
  policies next (they reroute to a remote browser, blocking nothing); then Allow, Block,
  Do Not Scan, Redirect ... in precedence order, first match.
- Network (`l4`) policies in precedence order, first match: `block` or `allow`.
A later layer still acts after an earlier one allowed: an HTTP allow does not exempt the
connection from network policies, a DNS allow not from HTTP ones.

A condition that cannot be decided (a symbolic value, an unmodelled field, a category whose
members Cloudflare decides) makes the policy's match unknown; the probe's outcome is then
unknown unless every way the match could go ends the same.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from policy_lint.catalog import Catalog
from policy_lint.dialects.proxies.cloudflare_gateway import categories
from policy_lint.dialects.proxies.cloudflare_gateway.expression import (
    FALSE,
    TRUE,
    Compare,
    ListRef,
    Literal,
    Logic,
    Node,
    Not,
    Opaque,
    Quantified,
    SetValue,
    Truth,
    both,
    either,
    exclusive,
    negate,
    unknown,
    walk,
)
from policy_lint.dialects.proxies.cloudflare_gateway.model import LAYERS, GatewayList, Policy
from policy_lint.dialects.proxies.cloudflare_gateway.selectors import (
    APPLICATION_FIELDS,
    CATEGORY_FIELDS,
    DOMAIN_FIELDS,
    HOST_FIELDS,
    IDENTITY_FIELDS,
    NETWORK_FIELDS,
    URL_FIELDS,
    Client,
    category_ids,
    is_ip,
    suffixes,
)
from policy_lint.dialects.semantics.patterns import BoundedPattern, PatternError
from policy_lint.model import Decision, Outcome, Probe, Span


@dataclass
class LayerResult:
    kind: str  # deny | pass | unknown
    policy: Policy | None = None
    how: str = ""
    notes: tuple[str, ...] = ()


@dataclass
class Memo:
    """What one ruleset's evaluations share: compiled patterns, and a policy's truths that do not
    depend on everything (a traffic expression naming no identity is the same for every user; an
    identity expression the same for every request)."""

    patterns: dict[str, BoundedPattern | None] = field(default_factory=dict)
    truths: dict[tuple, Truth] = field(default_factory=dict)
    personal: dict[Span, bool] = field(default_factory=dict)


@dataclass
class Context:
    probe: Probe
    client: Client
    layer: str
    tls_decrypt: bool | None
    lists: dict[str, GatewayList]
    memo: Memo
    catalog: Catalog
    quantifier: str = "any"

    def values(self, name: str) -> list[str] | Truth:
        """The field's values for this probe, or why they are unknown."""
        probe = self.probe
        if name in IDENTITY_FIELDS:
            return self.client.values(name)
        layer = HOST_FIELDS.get(name) or DOMAIN_FIELDS.get(name)
        if layer is None and name in URL_FIELDS:
            layer = "http"
        if layer is None and name in NETWORK_FIELDS:
            layer = "l4"
        if layer is None:
            return unknown(f"the field {name} is not evaluated by policy-lint")
        if layer != self.layer:
            return unknown(f"the field {name} is not one of {self.layer} policies' selectors")
        if layer == "l4" and name.startswith("net.sni") and probe.scheme != "https":
            return []  # plain HTTP has no SNI
        if name in HOST_FIELDS:
            return [probe.host.lower()]
        if name in DOMAIN_FIELDS:
            return suffixes(probe.host)
        if name == "http.request.uri":
            return [probe.url]
        if name in ("http.request.uri.path", "http.request.uri.path_and_query"):
            return [probe.path]
        if name == "http.request.method":
            return ["GET"]
        if name == "net.dst.port":
            return [str(probe.port)]
        if name == "net.protocol":
            return ["tcp"]
        if name == "net.dst.ip":
            return list(probe.addresses) or unknown("the probe's addresses are not known")
        return unknown(f"the field {name} is not evaluated by policy-lint")


# ------------------------------------------------------------------ expressions


def evaluate_node(node: Node | None, ctx: Context) -> Truth:
    if node is None:
        return TRUE
    if isinstance(node, Logic):
        items = [evaluate_node(item, ctx) for item in node.items]
        return both(items) if node.op == "and" else either(items) if node.op == "or" else exclusive(items)
    if isinstance(node, Not):
        return negate(evaluate_node(node.item, ctx))
    if isinstance(node, Quantified):
        previous = ctx.quantifier
        ctx.quantifier = node.quantifier
        try:
            return evaluate_node(node.inner, ctx)
        finally:
            ctx.quantifier = previous
    if isinstance(node, Opaque):
        return unknown(f"the function {node.name}() is not evaluated by policy-lint")
    return _compare(node, ctx)


def _compare(node: Compare, ctx: Context) -> Truth:
    name = node.field.name
    if node.op is None or node.value is None:
        return unknown(f"the field {name} is not evaluated by policy-lint")
    if name in CATEGORY_FIELDS or name in APPLICATION_FIELDS:
        result = _categories(node, ctx)
        return negate(result) if node.op == "!=" or node.negated else result
    if (
        node.op == "matches"
        and isinstance(node.value, Literal)
        and (name, node.value.text) in ctx.client.matches
    ):
        return TRUE
    values = ctx.values(name)
    if isinstance(values, Truth):
        return values
    results = [_test(value, node, ctx) for value in values]
    if ctx.quantifier == "all" and node.field.each:
        return both(results)
    return either(results)


def _categories(node: Compare, ctx: Context) -> Truth:
    """A category or application condition (see categories.py)."""
    numbers = category_ids(node.value) if node.value is not None else None
    if numbers is None or node.op not in ("==", "!=", "in"):
        return unknown(f"{node.field.name} compared with {node.op} is not evaluated by policy-lint")
    if node.field.name in APPLICATION_FIELDS:
        if all(n in categories.APPLICATIONS for n in numbers):
            return FALSE  # documented applications that are no catalog service
        missing = sorted(n for n in numbers if n not in categories.APPLICATIONS)
        return unknown(
            f"Cloudflare application ID {', '.join(map(str, missing))} has no cited source: "
            "which applications it names is unknown"
        )
    found = [categories.category(n) for n in numbers]
    undocumented = [c for c in found if c.name is None]
    if undocumented:
        return unknown(
            f"Cloudflare category {', '.join(str(c.id) for c in undocumented)} has no documented "
            "name: what it holds is unknown"
        )
    holding = [c for c in found if c.may_hold_services]
    if not holding or ctx.probe.is_control:
        return FALSE
    return unknown(
        f"Cloudflare category {', '.join(c.describe() for c in holding)}: whether it holds "
        f"{ctx.probe.host} is Cloudflare's own categorisation"
    )


def _equal(actual: str, expected: Literal, name: str) -> Truth:
    if expected.kind == "symbolic":
        return unknown(f"a value of {name} is known only when Terraform runs")
    if expected.kind == "ip" or (name == "net.dst.ip" and is_ip(expected.text)):
        try:
            return Truth(ipaddress.ip_address(actual) in ipaddress.ip_network(expected.text, strict=False))
        except ValueError:
            return FALSE
    want = (
        expected.text.lower().rstrip(".") if name in HOST_FIELDS or name in DOMAIN_FIELDS else expected.text
    )
    have = actual.lower() if name in HOST_FIELDS or name in DOMAIN_FIELDS else actual
    if name == "http.request.uri":
        return Truth(want.lower() in _url_forms_text(actual))
    if name in IDENTITY_FIELDS:
        return Truth(have.lower() == want.lower())
    return Truth(have == want)


def _url_forms_text(url: str) -> set[str]:
    lowered = url.lower()
    bare = lowered.split("://", 1)[-1]
    forms = {lowered, bare}
    if bare.endswith("/") and bare.count("/") == 1:
        forms |= {lowered.rstrip("/"), bare.rstrip("/")}
    return forms


def _in_list(actual: str, ref: ListRef, name: str, ctx: Context) -> Truth:
    gateway_list = ctx.lists.get(ref.name)
    if gateway_list is None:
        return unknown(f"the list ${ref.name} is not defined in this Terraform module: its items are unknown")
    items = {item.lower().rstrip(".") for item in gateway_list.items}
    if name == "http.request.uri" or gateway_list.kind == "URL":
        hit = bool(
            _url_forms_text(actual) & {i.rstrip("/") for i in items} | (_url_forms_text(actual) & items)
        )
    elif gateway_list.kind == "IP" or name == "net.dst.ip":
        hit = any(
            _equal(actual, Literal("ip", item), name).value for item in gateway_list.items if is_ip(item)
        )
    else:
        hit = actual.lower().rstrip(".") in items
    if hit:
        return TRUE
    if gateway_list.symbolic:
        return unknown(f"the list {gateway_list.address} has items known only when Terraform runs")
    return FALSE


def _test(actual: str, node: Compare, ctx: Context) -> Truth:
    name, value = node.field.name, node.value
    op = node.op
    if op in ("==", "!=") and isinstance(value, Literal):
        result = _equal(actual, value, name)
        return negate(result) if op == "!=" else result
    if op == "in":
        if isinstance(value, SetValue):
            result = either(_equal(actual, item, name) for item in value.items)
        elif isinstance(value, ListRef):
            result = _in_list(actual, value, name, ctx)
        else:
            result = _equal(actual, value, name) if isinstance(value, Literal) else FALSE
        return negate(result) if node.negated else result
    if isinstance(value, Literal) and value.kind == "symbolic":
        return unknown(f"a value of {name} is known only when Terraform runs")
    if op == "matches" and isinstance(value, Literal):
        if value.text not in ctx.memo.patterns:
            try:
                ctx.memo.patterns[value.text] = BoundedPattern.compile(value.text)
            except PatternError:
                ctx.memo.patterns[value.text] = None
        pattern = ctx.memo.patterns[value.text]
        if pattern is None:
            return unknown(f"the regular expression {value.text!r} is invalid")
        found = pattern.search(actual)
        return (
            unknown(f"the regular expression {value.text!r} ran out of time")
            if found is None
            else Truth(found)
        )
    if op == "contains" and isinstance(value, Literal):
        return Truth(value.text.lower() in actual.lower())
    if (
        op in ("<", "<=", ">", ">=")
        and isinstance(value, Literal)
        and value.kind == "number"
        and actual.isdigit()
    ):
        a, b = int(actual), int(value.text)
        return Truth({"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op])
    return unknown(f"{name} {op} is not evaluated by policy-lint")


# ------------------------------------------------------------------ policies and layers


def _same_service(target: str, probe: Probe, catalog: Catalog) -> bool:
    host = target.split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0].lower()
    if not host or probe.service is None:
        return False
    if is_ip(host):
        return catalog.service_for_ip(host) == probe.service
    owner = catalog.service_for_host(host)
    return owner is not None and owner[0] == probe.service


def effect(policy: Policy, layer: str, probe: Probe, catalog: Catalog) -> tuple[str, str]:
    """(deny | pass | continue | next | unknown, how) of a matching policy in `layer`."""
    action = policy.action
    if action is None:
        return "unknown", "an action known only when Terraform runs"
    if action == "block":
        return "deny", f"{layer if layer != 'l4' else 'network'} block"
    if layer == "dns":
        if action in ("allow", "safesearch", "ytrestricted"):
            return "pass", ""
        if action == "override":
            targets = [str(policy.settings.get("override_host") or "")]
            ips = policy.settings.get("override_ips")
            targets += [str(ip) for ip in ips] if isinstance(ips, list) else []
            targets = [t for t in targets if t]
            if any("${" in t for t in targets):
                return "unknown", f"a DNS override to {', '.join(targets)}, known only when Terraform runs"
            if targets and all(_same_service(t, probe, catalog) for t in targets):
                return "pass", ""
            return "deny", f"DNS override to {', '.join(targets) or 'another answer'}"
    if layer == "http":
        if action in ("off", "allow", "noscan", "scan"):
            return "pass", ""
        if action == "on":
            return "next", ""
        if action in ("isolate", "noisolate", "quarantine"):
            return "continue", ""
        if action == "redirect":
            redirect = policy.settings.get("redirect")
            target = str(redirect.get("target_uri", "")) if isinstance(redirect, dict) else ""
            if "${" in target:
                return "unknown", f"a redirect to {target}, known only when Terraform runs"
            if target and _same_service(target, probe, catalog):
                return "pass", ""
            return "deny", f"redirect to {target or 'another site'}"
    if layer == "l4":
        if action == "allow":
            return "pass", ""
        if action == "audit_ssh":
            return "continue", ""
    return "unknown", f"the action {action!r} in a {layer} policy is not evaluated by policy-lint"


@dataclass
class Walk:
    """A first-match walk over policies whose matches may be unknown."""

    pending: list[tuple[Policy, LayerResult]] = field(default_factory=list)
    trace: list[Span] = field(default_factory=list)

    def settle(self, final: LayerResult) -> LayerResult:
        """`final` if every pending (unknown) match would have ended the same way."""
        for policy, result in self.pending:
            if result.kind != final.kind or final.kind == "unknown":
                notes = result.notes or final.notes
                return LayerResult("unknown", policy, "", notes)
        return final


def _match(policy: Policy, ctx: Context) -> Truth:
    for condition in (policy.traffic, policy.identity, policy.posture):
        if condition.error:
            why = (
                "is built when Terraform runs"
                if condition.error.startswith("built")
                else "is refused by Cloudflare"
            )
            return unknown(f"{policy.address}: its {condition.attribute} expression {why}")
    if policy.posture.tree is not None:
        return unknown(f"{policy.address}: device posture checks are not evaluated by policy-lint")
    if ctx.client.kind == "location" and policy.identity.tree is not None:
        return FALSE  # identity selectors need a WARP-enrolled user
    parts = [_traffic(policy, ctx), _identity(policy, ctx)]
    if policy.enabled is None:
        parts.append(unknown(f"{policy.address}: whether it is enabled is known only when Terraform runs"))
    if policy.timed:
        parts.append(unknown(f"{policy.address}: its {policy.timed} makes it act only at some times"))
    if "builder" in policy.uncertain or "filters" in policy.uncertain:
        parts.append(
            unknown(f"{policy.address}: which builder (DNS, HTTP, network) it belongs to is not known")
        )
    return both(parts)


def _traffic(policy: Policy, ctx: Context) -> Truth:
    memo = ctx.memo
    if policy.span not in memo.personal:
        memo.personal[policy.span] = any(
            isinstance(node, Compare) and node.field.name in IDENTITY_FIELDS
            for node in walk(policy.traffic.tree)
        )
    if memo.personal[policy.span]:
        return evaluate_node(policy.traffic.tree, ctx)
    probe = ctx.probe
    key = (
        policy.span,
        ctx.layer,
        probe.host,
        probe.scheme,
        probe.port,
        probe.path,
        probe.addresses,
        probe.is_control,
        probe.service,
    )
    if key not in memo.truths:
        memo.truths[key] = evaluate_node(policy.traffic.tree, ctx)
    return memo.truths[key]


def _identity(policy: Policy, ctx: Context) -> Truth:
    key = (policy.span, "identity", ctx.client)
    if key not in ctx.memo.truths:
        ctx.memo.truths[key] = evaluate_node(policy.identity.tree, ctx)
    return ctx.memo.truths[key]


def walk_layer(policies: Sequence[Policy], ctx: Context) -> tuple[LayerResult, list[Span]]:
    """The layer's result for the probe, and the policies that matched (or might have)."""
    walk = Walk()
    phases: Iterable[Sequence[Policy]] = [policies]
    if ctx.layer == "http":
        inspect = [p for p in policies if p.action in ("on", "off")]
        isolate = [p for p in policies if p.action in ("isolate", "noisolate")]
        rest = [p for p in policies if p not in inspect and p not in isolate]
        phases = [inspect, isolate, rest]
    for phase in phases:
        for policy in phase:
            truth = _match(policy, ctx)
            if truth.value is False:
                continue
            walk.trace.append(policy.span)
            kind, how = effect(policy, ctx.layer, ctx.probe, ctx.catalog)
            if kind == "continue":
                continue
            if kind == "next":
                if truth.value is True:
                    break  # Do Inspect: on to the next phase
                continue
            result = LayerResult(kind, policy, how, tuple(sorted(truth.notes)) or ((how,) if how else ()))
            if truth.value is None:
                walk.pending.append((policy, LayerResult(kind, policy, how, tuple(sorted(truth.notes)))))
                continue
            return walk.settle(result), walk.trace
    return walk.settle(LayerResult("pass")), walk.trace


def decide(
    layers: dict[str, list[Policy]],
    probe: Probe,
    client: Client,
    lists: dict[str, GatewayList],
    tls_decrypt: bool | None,
    catalog: Catalog,
    memo: Memo,
) -> Decision:
    trace: list[Span] = []
    undecided: LayerResult | None = None
    allowed_by: Policy | None = None
    wanted = ("dns",) if client.kind == "location" else LAYERS
    for layer in wanted:
        if not layers.get(layer):
            continue
        sealed = layer == "http" and probe.scheme == "https"
        if sealed and tls_decrypt is False:
            continue  # HTTP policies see HTTPS only when Gateway decrypts it (docs: TLS decryption)
        ctx = Context(probe, client, layer, tls_decrypt, lists, memo, catalog)
        result, consulted = walk_layer(layers[layer], ctx)
        trace += consulted
        if sealed and tls_decrypt is None:
            if result.kind == "deny":
                note = (
                    f"{result.how} applies to HTTPS only when TLS decryption is on, "
                    "which this Terraform module does not set"
                )
                result = LayerResult("unknown", result.policy, result.how, (note,))
            elif result.kind == "pass":
                result = LayerResult("pass")  # an allow that may not apply names nothing
        if result.kind == "deny":
            assert result.policy is not None
            return Decision(
                Outcome.DENY,
                result.policy.span,
                tuple(trace),
                specific=result.policy.traffic.tree is not None,
                how=result.how,
                scope=_scope(result.policy),
            )
        if result.kind == "unknown" and undecided is None:
            undecided = result
        if result.kind == "pass" and result.policy is not None and allowed_by is None:
            allowed_by = result.policy
    if undecided is not None:
        return Decision(
            Outcome.UNKNOWN,
            undecided.policy.span if undecided.policy else None,
            tuple(trace),
            note="; ".join(undecided.notes),
            scope=_scope(undecided.policy) if undecided.policy else "",
        )
    if allowed_by is not None:
        return Decision(
            Outcome.ALLOW,
            allowed_by.span,
            tuple(trace),
            specific=allowed_by.traffic.tree is not None,
            scope=_scope(allowed_by),
        )
    return Decision(Outcome.ALLOW, None, tuple(trace))


def _scope(policy: Policy) -> str:
    return f"identity {policy.identity.text}" if policy.identity.text else ""

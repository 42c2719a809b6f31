"""Cloudflare Zero Trust Gateway policies in Terraform, one documented rule per test.

Semantics from Cloudflare's docs: "Order of enforcement" (DNS, then HTTP, then network;
precedence lowest first, first match; Do Not Inspect before every other HTTP policy),
"Gateway policy expressions" (operators, any(), lists), "Identity-based policies" (identity
selectors need WARP), "Domain categories" (category IDs).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from policy_lint.dialects.proxies.cloudflare_gateway import expression
from tests.conftest import detected_dialect, verdicts

V5 = "cloudflare_zero_trust_gateway_policy"
V4 = "cloudflare_teams_rule"


def policy(
    label: str,
    traffic: str,
    action: str = "block",
    filters: str = "dns",
    precedence: int | None = 10,
    extra: str = "",
    kind: str = V5,
) -> str:
    order = f"  precedence = {precedence}\n" if precedence is not None else ""
    if "enabled" not in extra:
        extra = "  enabled    = true\n" + extra
    return (
        f'resource "{kind}" "{label}" {{\n'
        f'  account_id = "0123"\n'
        f'  name       = "{label}"\n'
        f'  action     = "{action}"\n'
        f'  filters    = ["{filters}"]\n'
        f"{order}"
        f"  traffic    = {traffic}\n"
        f"{extra}"
        "}\n"
    )


def q(expression_text: str) -> str:
    """An expression as a Terraform string literal."""
    return '"' + expression_text.replace("\\", "\\\\").replace('"', '\\"') + '"'


# Gateway's account settings with TLS decryption on: HTTP policies then see HTTPS requests.
DECRYPT = (
    'resource "cloudflare_zero_trust_gateway_settings" "account" {\n  account_id = "0123"\n'
    "  settings = {\n    tls_decrypt = { enabled = true }\n  }\n}\n"
)


def gateway(lint, *blocks: str):
    return lint({"gateway.tf": "".join(blocks)})


def finding(report, code: str, service: str | None = None):
    return next(f for f in report.findings if f.code == code and (service is None or f.service == service))


# ------------------------------------------------------------------ the expression language


def test_operators_and_binding_follow_wirefilter():
    tree = expression.parse('not a == "1" and b == "2" or c in {"3" "4"}')
    assert isinstance(tree, expression.Logic) and tree.op == "or"
    left = tree.items[0]
    assert isinstance(left, expression.Logic) and left.op == "and"
    assert isinstance(left.items[0], expression.Not)
    negated_in = expression.parse("http.conn.hostname not in $0123-abcd")
    assert isinstance(negated_in, expression.Compare) and negated_in.negated
    assert isinstance(negated_in.value, expression.ListRef) and negated_in.value.name == "0123-abcd"


def test_group_fields_in_both_spellings_mean_the_same_field():
    old = expression.parse('any(identity.groups.name[*] in {"x"})')
    new = expression.parse('any(identity.groups[*].name in {"x"})')
    assert isinstance(old, expression.Quantified) and isinstance(new, expression.Quantified)
    assert old.inner == new.inner


def test_text_that_is_no_expression_is_an_error():
    with pytest.raises(expression.ExpressionError):
        expression.parse('dns.fqdn == "a.com" and')
    with pytest.raises(expression.ExpressionError):
        expression.parse('dns.fqdn == "unterminated')


# ------------------------------------------------------------------ DNS selectors


def test_the_domain_selector_covers_the_domain_and_its_subdomains(lint):
    report = gateway(lint, policy("social", q('any(dns.domains[*] == "facebook.com")')))
    assert verdicts(report)["facebook"] == "blocked"
    f = finding(report, "TE101", "facebook")
    assert f.span.line == 1 and "dns block" in f.message
    assert verdicts(report)["twitter"] == "unaffected"


def test_the_host_selector_is_that_name_only(lint):
    report = gateway(lint, policy("social", q('dns.fqdn == "linkedin.com"')))
    assert verdicts(report)["linkedin"] == "blocked-partial"
    assert "www.linkedin.com still reachable" in finding(report, "TE102", "linkedin").message


def test_a_set_blocks_each_name_it_holds(lint):
    report = gateway(lint, policy("set", q('dns.fqdn in {"linkedin.com" "www.linkedin.com"}')))
    assert verdicts(report)["linkedin"] == "blocked"


def test_matches_searches_a_regular_expression(lint):
    report = gateway(lint, policy("re", q('dns.fqdn matches "(^|\\.)twitter\\.com$" or dns.fqdn == "x.com"')))
    assert verdicts(report)["twitter"] == "blocked"
    assert verdicts(report)["facebook"] == "unaffected"


# ------------------------------------------------------------------ order of precedence


def test_lower_precedence_runs_first_whatever_the_file_order(lint):
    block = policy("block", q('any(dns.domains[*] == "facebook.com")'), precedence=20)
    allow = policy("allow", q('any(dns.domains[*] == "facebook.com")'), action="allow", precedence=5)
    assert verdicts(gateway(lint, block, allow))["facebook"] == "allowed"
    later = policy("block", q('any(dns.domains[*] == "facebook.com")'), precedence=1)
    report = gateway(lint, later, allow)
    assert verdicts(report)["facebook"] == "blocked"
    assert finding(report, "TE101", "facebook").span.line == 1


def test_a_dns_allow_does_not_exempt_proxied_traffic_from_an_http_block(lint):
    allow = policy("dns_allow", q('any(dns.domains[*] == "facebook.com")'), action="allow", precedence=1)
    block = policy("http_block", q('any(http.request.domains[*] == "facebook.com")'), filters="http")
    report = gateway(lint, allow, block, DECRYPT)
    # WARP clients are proxied: the HTTP block acts; DNS-location clients see DNS policies only.
    assert verdicts(report)["facebook"] == "blocked-partial"
    f = finding(report, "TE102", "facebook")
    assert f.span.line == 10 and "WARP clients" in f.message


def test_a_dns_block_blocks_resolution_for_every_dns_filtered_client(lint):
    dns = policy("dns_block", q('any(dns.domains[*] == "twitter.com")'))
    http = policy("http_allow", q('http.request.host == "twitter.com"'), action="allow", filters="http")
    report = gateway(lint, dns, http)
    f = finding(report, "TE102", "twitter")
    assert f.span.line == 1 and "dns block" in f.message
    assert set(f.audiences) == {"DNS location clients (no user identity)", "WARP clients"}


def test_do_not_inspect_is_evaluated_before_any_block_and_bypasses_them(lint):
    block = policy("block", q('any(http.request.domains[*] == "facebook.com")'), filters="http", precedence=1)
    bypass = policy(
        "dni", q('any(http.conn.domains[*] == "facebook.com")'), action="off", filters="http", precedence=90
    )
    assert verdicts(gateway(lint, block, bypass, DECRYPT))["facebook"] == "allowed"
    assert verdicts(gateway(lint, block, DECRYPT))["facebook"] == "blocked"


def test_network_policies_still_act_after_do_not_inspect(lint):
    bypass = policy("dni", q('any(http.conn.domains[*] == "facebook.com")'), action="off", filters="http")
    network = policy("sni", q('any(net.sni.domains[*] == "facebook.com")'), filters="l4")
    report = gateway(lint, bypass, network)
    assert verdicts(report)["facebook"] == "blocked"
    assert "network block" in finding(report, "TE101", "facebook").message


def test_isolate_blocks_nothing_and_a_later_block_still_applies(lint):
    isolate = policy(
        "iso", q('any(http.request.domains[*] == "linkedin.com")'), action="isolate", filters="http"
    )
    block = policy(
        "block", q('any(http.request.domains[*] == "linkedin.com")'), filters="http", precedence=50
    )
    assert verdicts(gateway(lint, isolate, DECRYPT))["linkedin"] == "unaffected"
    assert verdicts(gateway(lint, isolate, block, DECRYPT))["linkedin"] == "blocked"


def test_a_policy_without_precedence_is_ordered_by_the_file_and_says_so(lint):
    first = policy("a", q('dns.fqdn == "x.com"'), precedence=None)
    second = policy("b", q('dns.fqdn == "x.com"'), action="allow", precedence=None)
    report = gateway(lint, first, second)
    assert finding(report, "TE908").span.line == 1


# ------------------------------------------------------------------ actions and enabled


def test_a_policy_that_does_not_set_enabled_is_created_disabled(lint):
    # Both provider generations default `enabled` to false (v4: the Go zero value; v5: an
    # explicit default of false in the resource schema).
    text = policy("quiet", q('any(dns.domains[*] == "facebook.com")')).replace("  enabled    = true\n", "")
    report = gateway(lint, text)
    assert verdicts(report)["facebook"] == "unaffected"
    f = finding(report, "TE202", "facebook")
    assert f.span.line == 1 and "default is false" in f.span.text


def test_a_disabled_policy_decides_nothing_and_is_reported_as_unused(lint):
    report = gateway(
        lint,
        policy("off", q('any(dns.domains[*] == "ning.com")'), extra="  enabled    = false\n"),
    )
    assert verdicts(report)["ning"] == "unaffected"
    assert finding(report, "TE202", "ning").span.line == 1


def test_a_dns_override_to_another_host_is_a_block(lint):
    settings = '  rule_settings = {\n    override_host = "blocked.example.org"\n  }\n'
    report = gateway(
        lint, policy("ovr", q('any(dns.domains[*] == "ning.com")'), action="override", extra=settings)
    )
    assert verdicts(report)["ning"] == "blocked"
    assert "override to blocked.example.org" in finding(report, "TE101", "ning").message


def test_a_dns_override_within_the_service_is_no_block(lint):
    settings = '  rule_settings = {\n    override_host = "www.ning.com"\n  }\n'
    report = gateway(lint, policy("ovr", q('dns.fqdn == "ning.com"'), action="override", extra=settings))
    assert verdicts(report)["ning"] == "allowed"  # an answer of the service itself: reachable


def test_an_action_cloudflare_refuses_is_a_config_error_and_decides_unknown(lint):
    report = gateway(lint, policy("bad", q('any(dns.domains[*] == "facebook.com")'), action="bypass"))
    assert finding(report, "TE901").span.line == 1
    assert verdicts(report)["facebook"] == "unknown"


# ------------------------------------------------------------------ identity audiences


def test_identity_groups_are_audiences(lint):
    guests = '  identity   = "any(identity.groups.name[*] in {\\"guests\\"})"\n'
    report = gateway(lint, policy("guests", q('any(dns.domains[*] == "facebook.com")'), extra=guests))
    assert verdicts(report)["facebook"] == "blocked-partial"
    f = finding(report, "TE102", "facebook")
    # A DNS policy with an identity condition: DNS-location clients have no identity.
    assert f.audiences == ("WARP clients & users in group guests",)


def test_an_allow_for_a_group_before_a_block_for_everyone_else(lint):
    marketing = '  identity   = "any(identity.groups[*].name in {\\"marketing\\"})"\n'
    allow = policy(
        "mkt", q('any(dns.domains[*] == "linkedin.com")'), action="allow", precedence=1, extra=marketing
    )
    block = policy("rest", q('any(dns.domains[*] == "linkedin.com")'), precedence=2)
    report = gateway(lint, allow, block)
    assert verdicts(report)["linkedin"] == "blocked-partial"
    f = finding(report, "TE102", "linkedin")
    assert "users in group marketing" not in f.audiences
    assert "DNS location clients (no user identity)" in f.audiences


def test_a_negated_email_condition_exempts_that_user(lint):
    boss = '  identity   = "not(identity.email == \\"boss@example.com\\")"\n'
    report = gateway(
        lint,
        policy("all_but_boss", q('any(dns.domains[*] == "twitter.com" or dns.fqdn == "x.com")'), extra=boss),
    )
    f = finding(report, "TE102", "twitter")
    assert "user boss@example.com" not in f.audiences and f.audiences


# ------------------------------------------------------------------ lists


def test_a_v4_list_spliced_in_by_its_id_is_evaluated(lint):
    lists = (
        'resource "cloudflare_teams_list" "social" {\n'
        '  account_id = "0123"\n  name = "social"\n  type = "DOMAIN"\n'
        '  items = ["facebook.com", "fbcdn.net"]\n}\n'
    )
    rule = policy("lst", '"any(dns.domains[*] in ${"$"}${cloudflare_teams_list.social.id})"', kind=V4)
    report = gateway(lint, lists, rule)
    assert verdicts(report)["facebook"] == "blocked"
    assert finding(report, "TE101", "facebook").span.line == 7


def test_a_v5_list_through_format_is_evaluated(lint):
    lists = (
        'resource "cloudflare_zero_trust_list" "social" {\n'
        '  account_id = "0123"\n  name = "social"\n  type = "DOMAIN"\n'
        '  items = [{ value = "linkedin.com", description = "li" }]\n}\n'
    )
    rule = policy("lst", 'format("any(dns.domains[*] in $%s)", cloudflare_zero_trust_list.social.id)')
    assert verdicts(gateway(lint, lists, rule))["linkedin"] == "blocked"


def test_a_list_by_literal_uuid_is_not_in_the_file(lint):
    rule = policy("uuid", q("any(dns.domains[*] in $01302951-49f9-47c9-a400-0297e60b6a10)"))
    report = gateway(lint, rule)
    assert set(verdicts(report).values()) == {"unknown"}
    assert finding(report, "TE903").span.line == 7


def test_an_unreferenced_list_naming_a_service_is_inert(lint):
    lists = (
        'resource "cloudflare_teams_list" "spare" {\n'
        '  name = "spare"\n  type = "DOMAIN"\n'
        '  items_with_description {\n    value = "ning.com"\n  }\n}\n'
    )
    rule = policy("other", q('dns.fqdn == "example.org"'))
    report = gateway(lint, lists, rule)
    assert verdicts(report)["ning"] == "unaffected"
    assert finding(report, "TE202", "ning").span.line == 1


def test_the_escaped_interpolation_sends_text_cloudflare_refuses(lint):
    lists = 'resource "cloudflare_zero_trust_list" "l" {\n  name = "l"\n  type = "DOMAIN"\n  items = []\n}\n'
    rule = policy("esc", '"any(dns.domains[*] in $${cloudflare_zero_trust_list.l.id})"')
    report = gateway(lint, lists, rule)
    assert "literal `${`" in finding(report, "TE901").message
    assert set(verdicts(report).values()) == {"unknown"}


# ------------------------------------------------------------------ categories and applications


def test_the_social_networks_category_is_decided_by_cloudflare(lint):
    report = gateway(lint, policy("cat", q("any(dns.content_category[*] in {149})")))
    assert set(verdicts(report).values()) == {"unknown"}
    f = finding(report, "TE907")
    assert f.span.line == 7 and "149 (Social Networks)" in f.message


def test_an_undocumented_category_id_is_unknown(lint):
    report = gateway(lint, policy("cat", q("any(dns.content_category[*] in {999})")))
    assert verdicts(report)["facebook"] == "unknown"
    assert "999" in finding(report, "TE908").message


def test_a_documented_category_of_another_topic_leaves_the_services_alone(lint):
    report = gateway(lint, policy("gambling", q("any(dns.content_category[*] in {99})")))
    assert set(verdicts(report).values()) == {"unaffected"}


def test_application_ids_have_no_cited_source(lint):
    report = gateway(lint, policy("apps", q("any(app.ids[*] in {1234})"), filters="http"))
    assert verdicts(report)["twitter"] == "unknown"
    assert "1234" in finding(report, "TE908").message


# ------------------------------------------------------------------ Terraform values and v4/v5


def test_a_variable_without_default_is_unknown_for_what_it_touches(lint):
    variables = 'variable "blocked" {}\n'
    rule = policy("var", '"dns.fqdn == \\"${var.blocked}\\" or any(dns.domains[*] == \\"facebook.com\\")"')
    report = gateway(lint, variables, rule)
    assert verdicts(report)["facebook"] == "blocked"  # the other branch decides
    assert verdicts(report)["linkedin"] == "unknown"
    f = finding(report, "TE907")
    assert f.span.line == 8 and "var.blocked" in f.message


def test_a_variable_with_a_default_is_substituted(lint):
    variables = 'variable "site" {\n  default = "ning.com"\n}\n'
    rule = policy("var", '"any(dns.domains[*] == \\"${var.site}\\")"')
    assert verdicts(gateway(lint, variables, rule))["ning"] == "blocked"


V4_RULE = """
resource "cloudflare_teams_rule" "social" {
  account_id  = "0123"
  name        = "social"
  description = "no social"
  precedence  = 100
  enabled     = true
  action      = "block"
  filters     = ["http"]
  traffic     = "any(http.request.domains[*] in {\\"facebook.com\\" \\"x.com\\" \\"twitter.com\\"})"
  rule_settings {
    block_page_enabled = true
    block_page_reason  = "access not permitted"
  }
}
"""


def test_v4_blocks_and_v5_attributes_give_identical_verdicts(lint, tmp_path):
    v4 = lint({"v4/gateway.tf": V4_RULE, "v4/settings.tf": DECRYPT})
    v5_text = V4_RULE.replace("cloudflare_teams_rule", V5).replace("rule_settings {", "rule_settings = {")
    v5 = lint({"v5/gateway.tf": v5_text, "v5/settings.tf": DECRYPT})
    assert verdicts(v4) == verdicts(v5)
    assert verdicts(v4)["facebook"] == "blocked" and verdicts(v4)["twitter"] == "blocked"
    assert [(f.code, f.span.line, f.service) for f in v4.findings] == [
        (f.code, f.span.line, f.service) for f in v5.findings
    ]


# ------------------------------------------------------------------ HTTP specifics


def test_http_policies_see_https_only_with_tls_decryption(lint):
    rule = policy("url", q('http.request.uri matches "facebook\\.com"'), filters="http")
    assert verdicts(gateway(lint, DECRYPT, rule))["facebook"] == "blocked"
    off = DECRYPT.replace("enabled = true", "enabled = false")
    report = gateway(lint, off, rule)
    # Plain HTTP is seen whole; an HTTPS request only once Gateway decrypts it.
    assert verdicts(report)["facebook"] == "blocked-partial"
    assert "over plain HTTP only" in finding(report, "TE102", "facebook").message


def test_without_the_account_setting_an_https_block_is_unknown(tmp_path, catalog):
    from policy_lint.dialects.proxies import cloudflare_gateway
    from policy_lint.dialects.semantics.base import ParseContext
    from policy_lint.inputs import Resolver
    from policy_lint.model import Outcome, Probe

    path = tmp_path / "gateway.tf"
    path.write_text(policy("host", q('http.request.host == "linkedin.com"'), filters="http"))
    ruleset = cloudflare_gateway.parse(path, ParseContext(Resolver(tmp_path), catalog))
    [everyone] = ruleset.audiences()
    https = Probe("linkedin", "linkedin.com", "primary", "https", 443)
    decision = ruleset.evaluate(https, everyone)
    assert decision.outcome == Outcome.UNKNOWN and "TLS decryption" in decision.note
    assert [p.code for p in ruleset.problems] == ["TE907"]
    plain = Probe("linkedin", "linkedin.com", "primary", "http", 80)
    assert ruleset.evaluate(plain, everyone).outcome == Outcome.DENY
    (tmp_path / "account.tf").write_text(
        'resource "cloudflare_teams_account" "a" {\n  tls_decrypt_enabled = true\n}\n'
    )
    ruleset = cloudflare_gateway.parse(path, ParseContext(Resolver(tmp_path), catalog))
    assert ruleset.evaluate(https, everyone).outcome == Outcome.DENY  # set in another file of the module


def test_an_unmodelled_field_or_function_is_unknown(lint):
    report = gateway(lint, policy("geo", q('http.dst_ip.geo.country == "US"'), filters="http"))
    assert set(verdicts(report).values()) == {"unknown"}
    assert finding(report, "TE908").span.line == 7
    report = gateway(lint, policy("fn", q('lower(http.request.host) == "x.com"'), filters="http"))
    assert verdicts(report)["twitter"] == "unknown"


def test_an_unreadable_expression_is_a_config_error(lint):
    report = gateway(lint, policy("broken", q('dns.fqdn == "facebook.com" and')))
    assert finding(report, "TE901").span.line == 7
    assert verdicts(report)["facebook"] == "unknown"


# ------------------------------------------------------------------ detection and bad input


def test_detection_by_content_and_by_name():
    text = V4_RULE
    assert detected_dialect(Path("main.tf"), text) == "cloudflare-gateway"
    assert detected_dialect(Path("policies.hcl"), text) == "cloudflare-gateway"
    assert detected_dialect(Path("README.md"), text) is None
    other = 'resource "aws_instance" "a" {\n  ami = "x"\n}\n'
    assert detected_dialect(Path("main.tf"), other) is None


def test_a_file_that_is_not_hcl_is_one_input_error(lint):
    report = lint({"gateway.tf": 'resource "cloudflare_teams_rule" "x" {\n  traffic = "\n'})
    assert not report.files and len(report.errors) == 1
    assert "gateway.tf" in report.errors[0] and "\n" not in report.errors[0]


def test_a_binary_file_is_refused(tmp_path, catalog):
    from policy_lint.engine import Options, lint_paths
    from policy_lint.policy import strict_policy

    path = tmp_path / "gateway.tf"
    path.write_bytes(b"\x00\x01resource" * 100)
    report = lint_paths(
        [path], catalog, strict_policy(catalog), Options(root=tmp_path, dialect="cloudflare-gateway")
    )
    assert report.errors and "binary" in report.errors[0]


def test_a_terraform_file_of_another_provider_named_with_the_dialect_gets_no_verdict(lint):
    report = lint(
        {"main.tf": 'resource "aws_instance" "a" {\n  ami = "x"\n}\n'}, dialect="cloudflare-gateway"
    )
    assert report.errors and "understood none" in report.errors[0]


def test_a_scheduled_policy_acts_only_at_some_times(lint):
    schedule = '  schedule = {\n    mon = "08:00-12:30"\n    time_zone = "Europe/Berlin"\n  }\n'
    report = gateway(lint, policy("office_hours", q('any(dns.domains[*] == "facebook.com")'), extra=schedule))
    assert verdicts(report)["facebook"] == "unknown"
    assert finding(report, "TE908").span.line == 9


def test_list_items_from_a_variable_without_default_are_unknown(lint):
    lists = (
        'variable "users" {}\n'
        'resource "cloudflare_teams_list" "people" {\n  name = "people"\n  type = "DOMAIN"\n'
        "  items_with_description = var.users\n}\n"
    )
    rule = policy("lst", '"any(dns.domains[*] in ${"$"}${cloudflare_teams_list.people.id})"', kind=V4)
    assert set(verdicts(gateway(lint, lists, rule)).values()) == {"unknown"}


def test_a_policy_whose_count_is_computed_may_not_exist(lint):
    variables = 'variable "strict" {}\n'
    rule = policy(
        "maybe", q('any(dns.domains[*] == "facebook.com")'), extra="  count      = var.strict ? 1 : 0\n"
    )
    report = gateway(lint, variables, rule)
    assert verdicts(report)["facebook"] == "unknown"
    assert any(f.code == "TE907" and "count" in f.message for f in report.findings)
    absent = policy("never", q('any(dns.domains[*] == "facebook.com")'), extra="  count      = 0\n")
    assert verdicts(gateway(lint, absent))["facebook"] == "unaffected"


def test_an_expression_built_by_terraform_is_unknown_not_refused(lint):
    text = (
        "locals {\n"
        '  traffic = join(" or ", [for l in cloudflare_teams_list.chunks : "any(dns.domains[*] in ${"$"}${l.id})"])\n'
        "}\n"
    )
    rule = policy("built", "local.traffic", kind=V4)
    report = gateway(lint, text, rule)
    assert set(verdicts(report).values()) == {"unknown"}
    assert [f.span.line for f in report.findings if f.code == "TE907"] == [10]
    assert not any(f.code == "TE901" for f in report.findings)


MODULE_LISTS = (
    'resource "cloudflare_zero_trust_list" "social" {\n'
    '  name  = "social"\n  type  = "DOMAIN"\n  items = [{ value = var.site }]\n}\n'
)


def test_lists_and_variables_of_the_same_module_directory_are_used(lint):
    main = policy("mod", '"any(dns.domains[*] in ${"$"}${cloudflare_zero_trust_list.social.id})"')
    variables = 'variable "site" {\n  default = "ning.com"\n}\n'
    report = lint({"mod/main.tf": main, "mod/lists.tf": MODULE_LISTS, "mod/variables.tf": variables})
    assert verdicts(report)["ning"] == "blocked"
    assert not any(f.code == "TE903" for f in report.findings)


def test_a_list_used_by_another_file_of_the_module_is_not_unused(lint):
    main = policy("mod", '"any(dns.domains[*] in ${"$"}${cloudflare_zero_trust_list.social.id})"')
    variables = 'variable "site" {\n  default = "ning.com"\n}\n'
    report = lint({"mod/lists.tf": MODULE_LISTS, "mod/main.tf": main, "mod/variables.tf": variables})
    assert set(verdicts(report).values()) == {"unaffected"}  # the lists alone decide nothing
    assert not any(f.code == "TE202" for f in report.findings)


def test_a_terraform_file_too_large_to_parse_is_refused_in_one_line(lint):
    report = lint({"huge.tf": "# padding\n" * 450_000}, dialect="cloudflare-gateway")
    assert not report.files and "too large to parse" in report.errors[0]


def test_more_named_groups_than_audiences_are_sampled_and_said(lint):
    groups = " ".join(f'\\"g{n}\\"' for n in range(70))
    many = f'  identity   = "any(identity.groups.name[*] in {{{groups}}})"\n'
    report = gateway(lint, policy("many", q('any(dns.domains[*] == "ning.com")'), extra=many))
    assert finding(report, "TE906").span.line == 1
    assert verdicts(report)["ning"] == "blocked-partial"


def test_users_named_by_a_pattern_are_an_audience(lint):
    contractors = '  identity   = "identity.email matches \\".*@contractor\\\\\\\\.example$\\""\n'
    report = gateway(
        lint, policy("contractors", q('any(dns.domains[*] == "linkedin.com")'), extra=contractors)
    )
    assert verdicts(report)["linkedin"] == "blocked-partial"
    f = finding(report, "TE102", "linkedin")
    assert f.audiences == ("WARP clients & users whose email matches '.*@contractor\\.example$'",)


def test_a_network_block_of_some_of_a_services_prefixes_is_partial(lint):
    rule = policy("ips", q("net.dst.ip in {157.240.0.0/16}"), filters="l4")
    report = gateway(lint, rule)
    assert verdicts(report)["facebook"] == "blocked-partial"
    assert "Facebook IPv4 prefixes" in finding(report, "TE102", "facebook").message
    assert verdicts(report)["twitter"] == "unaffected"


def test_an_override_target_terraform_computes_is_unknown(lint):
    variables = 'variable "sinkhole" {}\nvariable "ning" {\n  default = "ning.com"\n}\n'
    computed = "  rule_settings = {\n    override_host = var.sinkhole\n  }\n"
    report = gateway(
        lint,
        variables,
        policy("ovr", q('any(dns.domains[*] == "ning.com")'), action="override", extra=computed),
    )
    assert verdicts(report)["ning"] == "unknown"
    literal = "  rule_settings = {\n    override_host = var.ning\n  }\n"
    report = gateway(
        lint, variables, policy("ovr", q('dns.fqdn == "ning.com"'), action="override", extra=literal)
    )
    assert verdicts(report)["ning"] == "allowed"


def test_address_literals_of_both_families_are_values():
    tree = expression.parse("net.dst.ip in {fe80::/10 2001:db8::1 10.0.0.0/8}")
    assert isinstance(tree, expression.Compare) and isinstance(tree.value, expression.SetValue)
    assert [item.kind for item in tree.value.items] == ["ip", "ip", "ip"]


def test_a_policy_naming_no_builder_is_unknown_not_ignored(lint):
    text = (
        'resource "cloudflare_zero_trust_gateway_policy" "nofilters" {\n'
        '  name    = "x"\n  enabled = true\n  action  = "block"\n  traffic = "any(dns.domains[*] == \\"ning.com\\")"\n}\n'
    )
    report = lint({"gateway.tf": text})
    assert verdicts(report)["ning"] == "unknown"
    assert finding(report, "TE908").span.line == 1


def test_two_policies_of_one_builder_sharing_a_precedence_are_reported(lint):
    first = policy("a", q('dns.fqdn == "x.com"'), precedence=5)
    second = policy("b", q('dns.fqdn == "x.com"'), action="allow", precedence=5)
    report = gateway(lint, first, second)
    f = finding(report, "TE908")
    assert f.span.line == 10 and "shares precedence 5" in f.message

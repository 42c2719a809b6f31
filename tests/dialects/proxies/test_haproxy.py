"""HAProxy semantics (configuration manual 2.6, sections 4.2 and 7), one rule per test."""

from __future__ import annotations

from pathlib import Path

import pytest

from policy_lint.dialects.proxies import haproxy
from tests.conftest import detected_dialect, verdicts

# A forward proxy: the backend connects to the destination the client asked for.
FORWARD_BACKEND = """
backend origin
    mode http
    http-request set-dst var(txn.ip)
    server clear 0.0.0.0:0
"""


def proxy(rules: str, mode: str = "http", backend: str = FORWARD_BACKEND) -> str:
    return f"defaults\n    mode {mode}\nfrontend fwd\n    bind :3128\n{rules}\n    default_backend origin\n{backend}"


def codes(report) -> list[tuple[str, int]]:
    return [(f.code, f.span.line) for f in report.findings]


def test_http_request_deny_with_a_domain_acl_blocks(lint):
    report = lint(
        {"haproxy.cfg": proxy("    acl fb hdr_dom(host) -i facebook.com\n    http-request deny if fb")}
    )
    assert verdicts(report)["facebook"] == "blocked"
    assert verdicts(report)["twitter"] == "unaffected"
    assert ("TE101", 6) in codes(report)


def test_connect_host_header_loses_its_default_port(lint):
    # HAProxy 2.6 normalises `Host: x.com:443` of a CONNECT to `x.com`: an exact match catches
    # HTTPS too, while `url` keeps the authority with its port.
    report = lint({"haproxy.cfg": proxy("    http-request deny if { hdr(host) -i x.com twitter.com }")})
    assert verdicts(report)["twitter"] == "blocked-partial"  # www.twitter.com, mobile. pass
    by_url = lint(
        {"haproxy.cfg": proxy("    http-request deny if { url_end -i .linkedin.com:443 linkedin.com:443 }")}
    )
    assert verdicts(by_url)["linkedin"] == "blocked"  # the HTTPS entry points decide


def test_hdr_end_and_hdr_dom(lint):
    end = lint({"haproxy.cfg": proxy("    http-request deny if { hdr_end(host) -i .linkedin.com }")})
    assert verdicts(end)["linkedin"] == "blocked-partial"  # linkedin.com itself passes
    dom = lint(
        {"haproxy.cfg": proxy("    http-request deny if { hdr(host) -i -m dom linkedin.com licdn.com }")}
    )
    assert verdicts(dom)["linkedin"] == "blocked"


def test_patterns_are_case_sensitive_without_dash_i(lint):
    report = lint({"haproxy.cfg": proxy("    http-request deny if { hdr_dom(host) FACEBOOK.COM }")})
    assert verdicts(report)["facebook"] == "unaffected"


def test_first_final_rule_wins_allow_ends_the_phase(lint):
    rules = "    http-request allow if { hdr_dom(host) -i facebook.com }\n    http-request deny if { hdr_dom(host) -i facebook.com }"
    assert verdicts(lint({"haproxy.cfg": proxy(rules)}))["facebook"] == "allowed"  # named and let through


def test_unless_and_negation(lint):
    rules = "    acl fb hdr_dom(host) -i facebook.com\n    http-request deny unless !fb"
    assert verdicts(lint({"haproxy.cfg": proxy(rules)}))["facebook"] == "blocked"


def test_and_binds_tighter_than_or(lint):
    # (FALSE AND fb) OR tw: Facebook passes, Twitter is denied.
    rules = (
        "    acl fb hdr_dom(host) -i facebook.com\n    acl tw hdr_dom(host) -i twitter.com x.com\n"
        "    http-request deny if FALSE fb or tw"
    )
    v = verdicts(lint({"haproxy.cfg": proxy(rules)}))
    assert v["facebook"] == "unaffected"
    assert v["twitter"] == "blocked"


def test_several_lines_of_one_acl_are_ored(lint):
    rules = (
        "    acl social hdr_dom(host) -i facebook.com\n    acl social hdr_dom(host) -i linkedin.com licdn.com\n"
        "    http-request deny if social"
    )
    v = verdicts(lint({"haproxy.cfg": proxy(rules)}))
    assert v["facebook"] == "blocked" and v["linkedin"] == "blocked"


def test_reject_tarpit_return_and_redirect_answer_the_request(lint):
    for action, how in (
        ("reject", "reset"),
        ("tarpit", "tarpit 500"),
        ("return status 451", "return 451"),
        ("redirect location http://intranet/blocked", "redirect"),
        ("deny deny_status 429", "429"),
    ):
        report = lint(
            {"haproxy.cfg": proxy(f"    http-request {action} if {{ hdr_dom(host) -i facebook.com }}")}
        )
        assert verdicts(report)["facebook"] == "blocked", action
        finding = next(f for f in report.findings if f.code == "TE101")
        assert how in finding.message


def test_redirect_scheme_https_is_an_upgrade_of_plain_http_not_a_block(lint):
    cond = "{ hdr_dom(host) -i facebook.com } !METH_CONNECT"
    report = lint({"haproxy.cfg": proxy(f"    http-request redirect scheme https if {cond}")})
    assert verdicts(report)["facebook"] == "unaffected"
    # A CONNECT answered with a redirect never reaches the site.
    report = lint(
        {"haproxy.cfg": proxy("    http-request redirect scheme https if { hdr_dom(host) -i facebook.com }")}
    )
    assert verdicts(report)["facebook"] == "blocked"


def test_use_backend_to_a_backend_without_servers_is_a_503(lint):
    rules = "    use_backend sorry if { hdr_dom(host) -i twitter.com x.com }"
    text = proxy(rules) + "backend sorry\n    mode http\n"
    report = lint({"haproxy.cfg": text})
    assert verdicts(report)["twitter"] == "blocked"
    assert "503" in next(f.message for f in report.findings if f.code == "TE101")


def test_use_backend_to_all_disabled_servers_is_a_503(lint):
    rules = "    use_backend dead if { hdr_dom(host) -i twitter.com x.com }"
    text = proxy(rules) + "backend dead\n    mode http\n    server a 0.0.0.0:0 disabled\n"
    assert verdicts(lint({"haproxy.cfg": text}))["twitter"] == "blocked"


def test_default_backend_down_blocks_everything_all_web_denied(lint):
    report = lint({"haproxy.cfg": proxy("", backend=FORWARD_BACKEND.replace("server clear 0.0.0.0:0", ""))})
    assert "TE105" not in [f.code for f in report.findings] or verdicts(report)["facebook"] == "blocked"


def test_use_backend_first_match_wins(lint):
    rules = (
        "    use_backend origin if { hdr_dom(host) -i facebook.com }\n"
        "    use_backend sorry if { hdr_dom(host) -i facebook.com twitter.com x.com }"
    )
    text = proxy(rules) + "backend sorry\n    mode http\n"
    v = verdicts(lint({"haproxy.cfg": text}))
    assert v["facebook"] == "unaffected"
    assert v["twitter"] == "blocked"


def test_sni_proxy_in_tcp_mode_rejects_by_req_ssl_sni(lint):
    rules = (
        "    tcp-request inspect-delay 5s\n"
        "    tcp-request content reject if { req.ssl_sni -m end .facebook.com } || { req_ssl_sni facebook.com }"
    )
    backend = "backend origin\n    mode tcp\n    server pass 0.0.0.0:443\n"
    report = lint({"haproxy.cfg": proxy(rules, mode="tcp", backend=backend)})
    assert verdicts(report)["facebook"] == "blocked"


def test_sni_rules_without_inspect_delay_are_unknown(lint):
    rules = "    tcp-request content reject if { req.ssl_sni -m end .facebook.com }"
    backend = "backend origin\n    mode tcp\n    server pass 0.0.0.0:443\n"
    report = lint({"haproxy.cfg": proxy(rules, mode="tcp", backend=backend)})
    assert verdicts(report)["facebook"] == "unknown"
    assert ("TE908", 5) in codes(report)


def test_accept_on_the_client_hello_ends_the_content_rules(lint):
    # The documentation's own example order: accept first, so the reject after it never runs.
    rules = (
        "    tcp-request inspect-delay 5s\n"
        "    tcp-request content accept if { req.ssl_hello_type 1 }\n"
        "    tcp-request content reject if { req.ssl_sni -m end facebook.com }"
    )
    backend = "backend origin\n    mode tcp\n    server pass 0.0.0.0:443\n"
    assert (
        verdicts(lint({"haproxy.cfg": proxy(rules, mode="tcp", backend=backend)}))["facebook"] == "unaffected"
    )


def test_pattern_file_is_read_and_missing_one_is_te903_unknown(lint):
    rules = "    http-request deny if { hdr_dom(host) -i -f /etc/haproxy/social.lst }"
    report = lint({"haproxy.cfg": proxy(rules), "social.lst": "# social\nfacebook.com\n\nlinkedin.com\n"})
    v = verdicts(report)
    assert v["facebook"] == "blocked" and v["linkedin"] == "blocked"
    missing = lint({"haproxy.cfg": proxy("    http-request deny if { hdr_dom(host) -i -f absent.lst }")})
    assert verdicts(missing)["facebook"] == "unknown"
    assert ("TE903", 5) in codes(missing)


def test_unknown_fetch_is_te908_unknown(lint):
    report = lint({"haproxy.cfg": proxy("    http-request deny if { req.payload(0,10) -m sub facebook }")})
    assert verdicts(report)["facebook"] == "unknown"
    assert "TE908" in [c for c, _l in codes(report)]


def test_src_acls_make_audiences(lint):
    rules = "    acl staff src 10.1.0.0/16\n    http-request deny if { hdr_dom(host) -i facebook.com } !staff"
    report = lint({"haproxy.cfg": proxy(rules)})
    assert verdicts(report)["facebook"] == "blocked-partial"
    assert any("!staff" in a for f in report.findings for a in f.audiences)


def test_reverse_proxy_for_own_sites_is_unaffected_with_the_reason(lint, tmp_path, catalog):
    text = """
    defaults
        mode http
    frontend www
        bind :443 ssl crt /etc/haproxy/site.pem
        acl own hdr(host) -i www.example.org
        http-request deny unless own
        default_backend web
    backend web
        server web1 10.0.0.5:8080
    """
    report = lint({"haproxy.cfg": text})
    assert set(verdicts(report).values()) == {"unaffected"}
    assert not [f for f in report.findings if f.code.startswith("TE1")]
    from policy_lint.explain import explain_service

    out = explain_service("facebook", tmp_path / "haproxy.cfg", catalog, tmp_path, None)
    assert "reverse proxy for its own sites" in out


def test_forward_frontend_routing_a_site_to_a_fixed_web_server_is_a_block(lint):
    rules = "    use_backend blockpage if { hdr_dom(host) -i facebook.com }"
    text = proxy(rules) + "backend blockpage\n    mode http\n    server page 10.0.0.9:80\n"
    assert verdicts(lint({"haproxy.cfg": text}))["facebook"] == "blocked"


def test_routing_to_an_upstream_proxy_port_is_unknown(lint):
    rules = "    use_backend parent if { hdr_dom(host) -i facebook.com }"
    text = proxy(rules) + "backend parent\n    mode http\n    server squid 10.0.0.9:3128\n"
    report = lint({"haproxy.cfg": text})
    assert verdicts(report)["facebook"] == "unknown"
    assert ("TE907", 14) in codes(report)


def test_option_http_proxy_marks_a_forward_proxy(lint):
    text = """
    listen fwd
        mode http
        bind :8080
        option http_proxy
        http-request deny if { hdr_dom(host) -i linkedin.com }
    """
    report = lint({"haproxy.cfg": text})
    assert verdicts(report)["linkedin"] == "blocked"
    assert ("TE901", 5) in codes(report)  # HAProxy 2.5+ refuses it


def test_unknown_backend_is_a_config_error(lint):
    report = lint({"haproxy.cfg": proxy("    use_backend nowhere if { hdr_dom(host) -i facebook.com }")})
    assert ("TE901", 5) in codes(report)
    assert verdicts(report)["facebook"] == "unknown"


def test_removed_keyword_is_te901(lint):
    report = lint({"haproxy.cfg": proxy("    reqdeny ^Host:\\ .*facebook")})
    assert ("TE901", 5) in codes(report)


def test_tokenizer_quotes_escapes_and_comments():
    assert haproxy.split_words("acl a hdr(host) -i \"a b\" 'c\\d' e\\ f # comment") == [
        "acl",
        "a",
        "hdr(host)",
        "-i",
        "a b",
        "c\\d",
        "e f",
    ]


def test_detection_by_name_and_by_content():
    assert detected_dialect(Path("haproxy.cfg"), "global\n") == "haproxy"
    body = "frontend fe\n    bind :80\n    mode http\n    default_backend be\nbackend be\n    server s 1.2.3.4:80\n"
    assert detected_dialect(Path("lb.cfg"), body) == "haproxy"
    assert detected_dialect(Path("README.md"), body) is None
    acls = "frontend fe\n    acl lan src 10.0.0.0/8\n    acl ssl dst_port 443\n    acl m method CONNECT\n"
    assert detected_dialect(Path("lb.cfg"), acls + "    default_backend be\n") == "haproxy"
    assert detected_dialect(Path("squid.conf"), "acl lan src 10.0.0.0/8\nhttp_access allow lan\n") == "squid"


def test_binary_input_is_an_input_error(lint, tmp_path):
    p = tmp_path / "haproxy.cfg"
    p.write_bytes(b"\x00\x01\x02" * 100)
    from policy_lint.catalog import load_catalog
    from policy_lint.engine import Options, lint_paths
    from policy_lint.policy import strict_policy

    catalog = load_catalog()
    report = lint_paths([p], catalog, strict_policy(catalog), Options(root=tmp_path))
    assert report.errors and "binary" in report.errors[0]


def test_anonymous_src_acls_make_audiences_too(lint):
    rules = "    http-request deny if { hdr_dom(host) -i facebook.com } !{ src 10.1.0.0/16 }"
    report = lint({"haproxy.cfg": proxy(rules)})
    assert verdicts(report)["facebook"] == "blocked-partial"


def test_sni_routing_without_inspect_delay_is_unknown(lint):
    rules = "    use_backend down if { req.ssl_sni -m dom facebook.com }"
    backend = "backend origin\n    mode tcp\n    server pass 0.0.0.0:443\nbackend down\n    mode tcp\n"
    report = lint({"haproxy.cfg": proxy(rules, mode="tcp", backend=backend)})
    assert verdicts(report)["facebook"] == "unknown"
    assert ("TE908", 5) in codes(report)


def test_a_large_pattern_file_is_matched_by_lookup(lint):
    names = "\n".join(f"site{i}.example.net" for i in range(50000))
    report = lint(
        {
            "haproxy.cfg": proxy("    http-request deny if { hdr(host) -i -f big.lst }"),
            "big.lst": names + "\nx.com\n",
        }
    )
    assert verdicts(report)["twitter"] == "blocked-partial"


def test_an_unused_acl_naming_a_service_is_te202(lint):
    rules = "    acl fb hdr_dom(host) -i facebook.com\n    acl tw hdr_dom(host) -i twitter.com\n    http-request deny if tw"
    report = lint({"haproxy.cfg": proxy(rules)})
    assert verdicts(report)["facebook"] == "unaffected"
    assert ("TE202", 5) in codes(report)


def test_unevaluated_actions_are_te908_or_te907(lint):
    report = lint(
        {"haproxy.cfg": proxy("    http-request auth realm corp if { hdr_dom(host) -i facebook.com }")}
    )
    assert verdicts(report)["facebook"] == "unknown"
    assert ("TE908", 5) in codes(report)
    lua = lint({"haproxy.cfg": proxy("    http-request lua.check_site if { hdr_dom(host) -i facebook.com }")})
    assert ("TE907", 5) in codes(lua)


def test_a_computed_backend_name_is_te908_unknown(lint):
    rules = "    tcp-request inspect-delay 5s\n    use_backend %[req.ssl_sni,lower,map_dom(sni.map,origin)]"
    backend = "backend origin\n    mode tcp\n    server pass 0.0.0.0:443\n"
    report = lint({"haproxy.cfg": proxy(rules, mode="tcp", backend=backend)})
    assert verdicts(report)["facebook"] == "unknown"
    assert ("TE908", 6) in codes(report)


# The usual HAProxy forward proxy: resolve the Host header, 503 when it does not resolve.
RESOLVING = """
frontend proxy
    bind :3128
    mode http
    http-request do-resolve(txn.myip,mydns,ipv4) hdr(Host),lower unless { url_ip -m found }
    http-request set-var(txn.myip) url_ip if { url_ip -m found }
    http-request set-var(txn.myport) url_port
    {rules}
    use_backend b_503 unless { var(txn.myip) -m found }
    use_backend forwardproxy
resolvers mydns
    nameserver dns1 192.0.2.53:53
backend b_503
    mode http
backend forwardproxy
    mode http
    http-request set-dst var(txn.myip)
    http-request set-dst-port int(80)
    http-request set-dst-port var(txn.myport) if { var(txn.myport) -m found }
    server clear 0.0.0.0:0
"""


def test_the_usual_resolving_forward_proxy_is_evaluated(lint):
    plain = lint({"haproxy.cfg": RESOLVING.replace("{rules}", "")})
    assert set(verdicts(plain).values()) == {"unaffected"}
    assert not [f for f in plain.findings if f.code.startswith("TE9")]
    blocking = lint(
        {"haproxy.cfg": RESOLVING.replace("{rules}", "http-request deny if { hdr_dom(host) -i x.com }")}
    )
    assert verdicts(blocking)["twitter"] == "blocked-partial"


def test_a_disabled_backend_is_a_503_and_a_disabled_frontend_does_not_run(lint):
    rules = "    use_backend off if { hdr_dom(host) -i twitter.com x.com }"
    text = proxy(rules) + "backend off\n    mode http\n    disabled\n    server s 0.0.0.0:0\n"
    assert verdicts(lint({"haproxy.cfg": text}))["twitter"] == "blocked"
    off = proxy("    disabled\n    http-request deny if { hdr_dom(host) -i twitter.com x.com }")
    assert verdicts(lint({"haproxy.cfg": off}))["twitter"] == "unaffected"


@pytest.mark.parametrize(
    "pattern,matches",
    [
        *((p, True) for p in ("http", "www1", ".www1", "dc-eu", "example", "com", "80", "dc-eu.example")),
        *((p, True) for p in ("blah", ":www1:")),
        ("eu", False),
        ("dc", False),
        # The manual lists this one as matching too, but Debian's haproxy 2.6 does not match it
        # (nor "dc-eu.example:8080" on a :8080 URL): a pattern is one enclosed part of the text.
        ("dc-eu.example:80", False),
    ],
)
def test_domain_match_follows_the_manuals_example(pattern, matches):
    # Configuration manual 7.1.3, "-m dom", on "http://www1.dc-eu.example.com:80/blah"
    # (checked against the real haproxy with a non-default port, since it drops ":80").
    from policy_lint.dialects.proxies.haproxy.fetches import View, match_acl
    from policy_lint.dialects.proxies.haproxy.model import AclDef
    from policy_lint.model import Span

    url = "http://www1.dc-eu.example.com:80/blah"
    view = View(True, "www1.dc-eu.example.com", "GET", url, "/blah", None, False, False)
    acl = AclDef("url", Span("haproxy.cfg", 1), method="dom", patterns=[(pattern, Span("haproxy.cfg", 1))])
    assert match_acl(acl, view) is matches


def test_huge_suffix_pattern_file_is_indexed(lint):
    names = "\n".join(f".site{i}.example.net" for i in range(200000))
    rules = "    http-request deny if { hdr_end(host) -i -f big.lst }"
    report = lint({"haproxy.cfg": proxy(rules), "big.lst": names + "\n.twitter.com\nx.com\n"})
    assert verdicts(report)["twitter"] == "blocked-partial"  # twitter.com itself passes

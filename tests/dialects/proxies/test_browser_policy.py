"""Chrome/Edge URLBlocklist/URLAllowlist and Firefox WebsiteFilter, one rule per test."""

from __future__ import annotations

from pathlib import Path

import pytest

from policy_lint.catalog import load_catalog
from policy_lint.dialects.proxies import browser_policy as bp
from policy_lint.engine import Options, lint_paths
from policy_lint.model import Probe, Span
from policy_lint.policy import strict_policy
from tests.conftest import verdicts


def codes(report) -> list[str]:
    return [f.code for f in report.findings]


def chrome(lint, block=(), allow=(), extra: str = ""):
    import json

    body = {"URLBlocklist": list(block)}
    if allow:
        body["URLAllowlist"] = list(allow)
    return lint({"managed_policies.json": json.dumps(body, indent=2) + extra})


def test_a_bare_domain_covers_the_domain_and_its_subdomains(lint):
    report = chrome(lint, ["facebook.com"])
    v = verdicts(report)
    assert v["facebook"] == "blocked"  # facebook.com, www. and m.: every page of the site
    f = next(f for f in report.findings if f.service == "facebook")
    assert f.code == "TE101" and '"facebook.com"' in f.span.text
    assert f.span.line == 3


def test_a_leading_dot_is_that_host_only(lint):
    report = chrome(lint, [".linkedin.com"])
    assert verdicts(report)["linkedin"] == "blocked-partial"
    assert "www.linkedin.com still reachable" in next(f.message for f in report.findings if f.code == "TE102")


def test_every_host_of_a_service_blocked(lint):
    report = chrome(lint, ["twitter.com", "x.com", "t.co", "twimg.com"])
    assert verdicts(report)["twitter"] == "blocked"
    assert verdicts(report)["facebook"] == "unaffected"


def test_a_blocked_cdn_degrades_nothing_the_lists_check_page_loads_only(lint):
    report = chrome(lint, ["fbcdn.net", "licdn.com", "api.x.com"])
    assert set(verdicts(report).values()) == {"unaffected"}


def test_the_allowlist_wins_at_equal_specificity(lint):
    report = chrome(lint, ["linkedin.com"], ["linkedin.com"])
    assert verdicts(report)["linkedin"] == "allowed"


def test_the_more_specific_filter_wins_whichever_list_it_is_in(lint):
    # a block of www.facebook.com beats an allow of facebook.com (longer host)
    report = chrome(lint, ["www.facebook.com", "m.facebook.com"], ["facebook.com"])
    assert verdicts(report)["facebook"] == "blocked-partial"
    # an allow of the exact host beats a block of the domain
    report = chrome(lint, ["linkedin.com"], [".www.linkedin.com", ".linkedin.com"])
    assert verdicts(report)["linkedin"] == "allowed"


def test_star_blocks_everything_and_the_allowlist_opens_exceptions(lint):
    report = chrome(lint, ["*"], ["linkedin.com", "lnkd.in"])
    v = verdicts(report)
    assert v["linkedin"] == "allowed"
    assert v["facebook"] == "blocked" and v["twitter"] == "blocked"
    # Some sites are allowed: not "all web access is denied" (TE105), a block of each service.
    assert "TE105" not in codes(report)
    assert codes(report).count("TE101") == 3


def test_a_scheme_narrows_a_filter(lint):
    report = chrome(lint, ["http://facebook.com", "http://fb.com", "http://messenger.com"])
    assert verdicts(report)["facebook"] == "blocked-partial"
    assert "over plain HTTP only" in next(f.message for f in report.findings if f.code == "TE102")


def test_a_path_narrows_a_filter(lint):
    report = chrome(lint, ["facebook.com/plugins"])
    assert verdicts(report)["facebook"] == "unaffected"
    assert "TE201" in codes(report)  # only the like button (a frame) is blocked


def test_a_wildcard_inside_the_host_matches_nothing(lint):
    report = chrome(lint, ["*.facebook.com", "*.twitter.com"])
    assert verdicts(report)["facebook"] == "unaffected"
    assert "matches nothing" in next(f.message for f in report.findings if f.code == "TE901")
    assert "TE202" in codes(report)  # names Facebook but blocks nothing


def test_an_invalid_port_is_skipped(lint):
    report = chrome(lint, ["facebook.com:99999", "linkedin.com:abc"])
    assert set(verdicts(report).values()) == {"unaffected"}
    assert codes(report).count("TE901") == 2


def test_legacy_names_count_when_the_new_one_is_absent(lint):
    report = lint({"managed_policies.json": '{"URLBlacklist": ["linkedin.com", "lnkd.in"]}'})
    assert verdicts(report)["linkedin"] == "blocked"


def test_a_legacy_name_beside_the_new_one_is_ignored(lint):
    report = lint(
        {"managed_policies.json": '{"URLBlocklist": ["example.org"], "URLBlacklist": ["linkedin.com"]}'}
    )
    assert verdicts(report)["linkedin"] == "unaffected"
    assert "TE202" in codes(report)


def test_a_chrome_policy_export_with_value_wrappers(lint):
    report = lint(
        {
            "policies.json": """
        {"policyValues": {"chrome": {"policies": {
            "URLBlocklist": {"value": ["linkedin.com", "lnkd.in"], "level": "mandatory", "scope": "machine"}}}}}
    """
        }
    )
    assert verdicts(report)["linkedin"] == "blocked"


def test_invalid_json_is_one_clear_error(lint):
    report = lint({"managed_policies.json": '{\n  "URLBlocklist": ["facebook.com" "fb.com"]\n}\n'})
    assert not report.files
    assert len(report.errors) == 1
    assert "managed_policies.json:2:" in report.errors[0] and "invalid JSON" in report.errors[0]


def test_chrome_accepts_trailing_commas_firefox_does_not(lint):
    # Chrome reads policy files with JSON_ALLOW_TRAILING_COMMAS; Firefox uses JSON.parse
    report = lint({"managed_policies.json": '{"URLBlocklist": ["linkedin.com", "lnkd.in",],}'})
    assert verdicts(report)["linkedin"] == "blocked"
    report = lint({"policies.json": '{"policies": {"WebsiteFilter": {"Block": ["<all_urls>",]}}}'})
    assert not report.files and "invalid JSON" in report.errors[0]


def test_a_list_of_the_wrong_type_is_ignored_by_the_browser(lint):
    report = lint({"managed_policies.json": '{"URLBlocklist": "facebook.com"}'})
    assert verdicts(report)["facebook"] == "unaffected"
    assert "must be a list of strings" in next(f.message for f in report.findings if f.code == "TE901")


def test_a_registry_export_in_utf16(tmp_path, catalog):
    text = (
        "Windows Registry Editor Version 5.00\r\n\r\n"
        "[HKEY_LOCAL_MACHINE\\SOFTWARE\\Policies\\Microsoft\\Edge\\URLBlocklist]\r\n"
        '"1"="twitter.com"\r\n"2"="x.com"\r\n"3"="t.co"\r\n\r\n'
        "[HKEY_LOCAL_MACHINE\\SOFTWARE\\Policies\\Microsoft\\Edge\\URLAllowlist]\r\n"
        '"1"="x.com"\r\n'
    )
    path = tmp_path / "edge-policies.reg"
    path.write_bytes(b"\xff\xfe" + text.encode("utf-16-le"))
    report = lint_paths([path], catalog, strict_policy(catalog), Options(root=tmp_path))
    assert not report.errors, report.errors
    assert report.files[0].dialect == "chrome-policy"
    assert verdicts(report)["twitter"] == "blocked-partial"  # x.com allowed again
    f = next(f for f in report.findings if f.service == "twitter")
    assert f.span.line == 4


def test_a_macos_plist(lint):
    report = lint(
        {
            "com.google.Chrome.plist": """
        <?xml version="1.0" encoding="UTF-8"?>
        <plist version="1.0"><dict>
          <key>URLBlocklist</key>
          <array>
            <string>ning.com</string>
            <string>ningim.com</string>
          </array>
        </dict></plist>
    """
        }
    )
    assert verdicts(report)["ning"] == "blocked"
    assert next(f for f in report.findings if f.service == "ning").span.line == 6


# --------------------------------------------------------------------------- Firefox


def firefox(lint, block=(), exceptions=()):
    import json

    body = {"policies": {"WebsiteFilter": {"Block": list(block), "Exceptions": list(exceptions)}}}
    return lint({"policies.json": json.dumps(body, indent=2)})


def test_firefox_match_patterns(lint):
    report = firefox(lint, ["*://*.facebook.com/*", "*://*.fb.com/*", "*://*.messenger.com/*", "*://fb.me/*"])
    assert report.files[0].dialect == "firefox-policy"
    assert verdicts(report)["facebook"] == "blocked"


def test_firefox_exact_host_pattern_misses_subdomains(lint):
    report = firefox(lint, ["https://linkedin.com/*"])
    assert verdicts(report)["linkedin"] == "blocked-partial"


def test_firefox_exceptions_override_blocks(lint):
    report = firefox(lint, ["<all_urls>"], ["*://*.linkedin.com/*", "*://lnkd.in/*"])
    v = verdicts(report)
    assert v["linkedin"] == "allowed"
    assert v["twitter"] == "blocked"
    assert "TE105" not in codes(report) and "TE101" in codes(report)


def test_firefox_invalid_pattern_is_skipped(lint):
    report = firefox(lint, ["facebook.com", "*://*.facebook.com"])  # no scheme; no path
    assert verdicts(report)["facebook"] == "unaffected"
    assert codes(report).count("TE901") == 2


def test_firefox_registry_export(tmp_path, catalog):
    path = tmp_path / "firefox.reg"
    path.write_text(
        "Windows Registry Editor Version 5.00\n\n"
        "[HKEY_LOCAL_MACHINE\\SOFTWARE\\Policies\\Mozilla\\Firefox\\WebsiteFilter\\Block]\n"
        '"1"="*://*.ning.com/*"\n"2"="*://*.ningim.com/*"\n'
    )
    report = lint_paths([path], catalog, strict_policy(catalog), Options(root=tmp_path))
    assert not report.errors, report.errors
    assert verdicts(report)["ning"] == "blocked"


# --------------------------------------------------------------------------- details

SPAN = Span("x", 1)


@pytest.mark.parametrize(
    "text, host, subdomains, port, path",
    [
        ("example.com", "example.com", True, 0, ""),
        (".example.com", "example.com", False, 0, ""),
        ("https://example.com:8443/a/b?x=1", "example.com", True, 8443, "/a/b"),
        ("user:pw@example.com/", "example.com", True, 0, "/"),
        ("192.168.1.1", "192.168.1.1", False, 0, ""),
        ("example.com.", "example.com", True, 0, ""),
    ],
)
def test_filter_parts(text, host, subdomains, port, path):
    f = bp.parse_filter(text, False, SPAN)
    assert isinstance(f, bp.UrlFilter)
    assert (f.host, f.subdomains, f.port, f.path) == (host, subdomains, port, path)


def test_precedence_order():
    probe = Probe("facebook", "www.facebook.com", "primary", "https", 443)
    star = bp.parse_filter("*", False, SPAN)
    domain = bp.parse_filter("facebook.com", True, SPAN)
    exact = bp.parse_filter(".www.facebook.com", False, SPAN)
    with_path = bp.parse_filter("facebook.com/", False, SPAN)
    assert (
        isinstance(star, bp.UrlFilter)
        and isinstance(domain, bp.UrlFilter)
        and isinstance(exact, bp.UrlFilter)
        and isinstance(with_path, bp.UrlFilter)
    )
    assert all(f.matches(probe) for f in (star, domain, exact, with_path))
    assert max([star, domain], key=bp.UrlFilter.rank) is domain
    assert max([domain, exact], key=bp.UrlFilter.rank) is exact
    assert max([domain, with_path], key=bp.UrlFilter.rank) is with_path


def test_detection():
    assert bp.detect(Path("managed_policies.json"), '{"URLBlocklist": []}') > 0.5
    assert bp.detect(Path("settings.json"), '{"editor.fontSize": 12}') == 0.0
    assert bp.detect_firefox(Path("policies.json"), '{"policies": {"WebsiteFilter": {}}}') > 0.5
    assert bp.detect(Path("policies.json"), '{"policies": {"WebsiteFilter": {}}}') == 0.0


def test_catalog_probe_roles_cover_the_subresource_rule():
    roles = {p.role for s in load_catalog().services.values() for p in s.probes()}
    assert bp.SUBRESOURCE_ROLES & roles == {"cdn", "api", "ads", "analytics", "tracking"}


# ------------------------------------------------------------------ policies not evaluated
# Item 1 of #13: a policy the dialect does not evaluate that decides where requests go (a
# proxy: Chrome ProxyMode fixed_servers/pac_script, ProxyServer, ProxyPacUrl; Firefox Proxy Mode
# manual/autoConfig: the proxy decides with its own configuration) leaves what the URL lists
# deny denied and makes the rest unknown. Force-installed extensions are not read.


@pytest.mark.parametrize(
    "name, extra, code",
    [
        ("policy.json", {"ProxyMode": "fixed_servers", "ProxyServer": "proxy.corp.example:3128"}, "TE907"),
        ("policy.json", {"ProxyPacUrl": "http://wpad.corp.example/proxy.pac"}, "TE907"),
    ],
)
def test_chrome_policies_that_decide_elsewhere_make_the_rest_unknown(lint, name, extra, code):
    import json

    body = {"URLBlocklist": ["twitter.com", "x.com"], **extra}
    report = lint({name: json.dumps(body, indent=2)}, dialect="chrome-policy")
    v = verdicts(report)
    assert v["twitter"] == "blocked"  # the browser refuses the navigation itself
    assert v["facebook"] == "unknown"  # never unaffected
    assert code in codes(report)


def test_firefox_proxy_policy_makes_the_rest_unknown(lint):
    report = lint(
        {
            "policies.json": """{"policies": {
  "WebsiteFilter": {"Block": ["*://*.facebook.com/*", "*://facebook.com/*"]},
  "Proxy": {"Mode": "autoConfig", "AutoConfigURL": "http://wpad.corp.example/proxy.pac"}
}}"""
        }
    )
    v = verdicts(report)
    assert v["linkedin"] == "unknown"
    f = next(f for f in report.findings if f.code == "TE907")
    assert f.span.line == 3 and "Proxy" in f.message

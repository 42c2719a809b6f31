"""nginx semantics (nginx.org documentation: server names, location, map, rewrite, access,
stream ssl_preread), one rule per test."""

from __future__ import annotations

from pathlib import Path

import pytest

from policy_lint.dialects.proxies import nginx
from tests.conftest import detected_dialect, verdicts

FORWARD = """
        location / {
            proxy_pass http://$http_host$request_uri;
        }
"""


def http(server_body: str, extra: str = "", listen: str = "listen 3128 default_server;") -> str:
    return f"""events {{}}
http {{
{extra}
    server {{
        {listen}
        resolver 192.0.2.53;
{server_body}
{FORWARD}
    }}
}}
"""


def codes(report) -> list[tuple[str, int]]:
    return [(f.code, f.span.line) for f in report.findings]


def test_if_host_regex_return_403_blocks_plain_http_and_connect_is_refused(lint):
    report = lint({"nginx.conf": http('        if ($host ~* "(^|\\.)facebook\\.com$") { return 403; }')})
    v = verdicts(report)
    # nginx answers CONNECT with 400 for every site: HTTPS has no path through it at all,
    # so only plain HTTP is judged, and that is blocked.
    assert v["facebook"] == "blocked"
    assert v["twitter"] == "unaffected"
    assert ("TE101", 7) in codes(report)


def test_quoted_regex_with_blanks_in_if(lint):
    report = lint({"nginx.conf": http('        if ($host ~* "facebook\\.com$|a b") { return 403; }')})
    assert verdicts(report)["facebook"] == "blocked"
    assert not [c for c, _l in codes(report) if c.startswith("TE9")]


def test_if_regex_is_case_sensitive_with_tilde(lint):
    report = lint({"nginx.conf": http('        if ($host ~ "FACEBOOK") { return 403; }')})
    assert verdicts(report)["facebook"] == "unaffected"


def test_map_hostnames_leading_dot_covers_the_domain_and_subdomains(lint):
    extra = "    map $host $blocked { hostnames; default 0; .facebook.com 1; fbcdn.net 1; }"
    report = lint({"nginx.conf": http("        if ($blocked) { return 403; }", extra)})
    assert verdicts(report)["facebook"] == "blocked"


def test_map_without_hostnames_takes_keys_literally(lint):
    extra = "    map $host $blocked { default 0; .facebook.com 1; *.linkedin.com 1; }"
    v = verdicts(lint({"nginx.conf": http("        if ($blocked) { return 403; }", extra)}))
    assert v["facebook"] == "unaffected" and v["linkedin"] == "unaffected"


def test_map_strings_ignore_case_and_zero_is_false(lint):
    extra = "    map $http_host $blocked { default 0; WWW.LINKEDIN.COM 1; linkedin.com 0; }"
    v = verdicts(lint({"nginx.conf": http("        if ($blocked) { return 403; }", extra)}))
    assert v["linkedin"] == "blocked-partial"  # www. only; linkedin.com maps to "0"


def test_server_name_block_returning_444_wins_over_the_default_server(lint):
    extra = """
    server {
        listen 3128;
        server_name .twitter.com x.com;
        return 444;
    }"""
    report = lint({"nginx.conf": http("", extra)})
    assert verdicts(report)["twitter"] == "blocked"
    assert any("444" in f.message for f in report.findings)


def test_server_name_exact_beats_wildcard_and_wildcard_beats_regex(lint):
    extra = """
    resolver 192.0.2.53;
    server { listen 3128; server_name ~facebook; return 403; }
    server { listen 3128; server_name *.facebook.com; location / { proxy_pass http://$host; } }
    server { listen 3128; server_name facebook.com; location / { proxy_pass http://$host; } }"""
    v = verdicts(lint({"nginx.conf": http("", extra)}))
    assert v["facebook"] == "unaffected"


def test_server_on_another_port_does_not_see_the_proxy_traffic(lint):
    extra = "    server { listen 8443; server_name .facebook.com; return 403; }"
    assert verdicts(lint({"nginx.conf": http("", extra)}))["facebook"] == "unaffected"


def test_location_regex_and_prefix_order(lint):
    body = "        location ~ ^/plugins/ { return 403; }\n        location ^~ /tr { return 403; }"
    report = lint({"nginx.conf": http(body)})
    assert verdicts(report)["facebook"] == "unaffected"  # only widget/tracking paths: hygiene
    assert "TE201" in [c for c, _l in codes(report)]


def test_deny_all_in_the_location_and_allow_makes_audiences(lint):
    body = "        allow 10.1.0.0/16;\n        deny all;"
    report = lint({"nginx.conf": http(body)})
    # everyone outside 10.1/16 is denied all web access, the others get everything
    assert verdicts(report)["facebook"] == "unaffected"


def test_redirect_to_another_site_is_a_block_https_upgrade_is_not(lint):
    block = lint(
        {"nginx.conf": http('        if ($host = "www.linkedin.com") { return 302 http://intranet/; }')}
    )
    assert verdicts(block)["linkedin"] == "blocked-partial"
    upgrade = lint(
        {"nginx.conf": http("        if ($host ~ linkedin) { return 301 https://$host$request_uri; }")}
    )
    assert verdicts(upgrade)["linkedin"] == "unaffected"


def test_rewrite_to_an_absolute_url_is_a_redirect(lint):
    body = '        if ($host ~ "facebook") { rewrite ^ http://blocked.example/ redirect; }'
    assert verdicts(lint({"nginx.conf": http(body)}))["facebook"] == "blocked"


def test_set_variables_are_followed(lint):
    body = '        set $deny 0;\n        if ($host ~ "facebook") { set $deny 1; }\n        if ($deny = 1) { return 403; }'
    assert verdicts(lint({"nginx.conf": http(body)}))["facebook"] == "blocked"


def test_proxy_pass_to_the_host_without_resolver_reaches_only_upstream_names(lint, tmp_path, catalog):
    # nginx looks a variable host up among upstream{} blocks, then asks the resolver; with
    # none, every other name fails (502): a reverse proxy dispatching to its own upstreams.
    text = http("", "    upstream app.example.org { server 10.0.0.5:8080; }").replace(
        "        resolver 192.0.2.53;\n", ""
    )
    report = lint({"nginx.conf": text})
    assert set(verdicts(report).values()) == {"unaffected"}
    from policy_lint.explain import explain_service

    out = explain_service("facebook", tmp_path / "nginx.conf", catalog, tmp_path, None)
    assert "has no resolver" in out


def test_unmodelled_variable_is_unknown(lint):
    report = lint({"nginx.conf": http('        if ($http_user_agent ~ "x") { return 403; }')})
    assert verdicts(report)["facebook"] == "unknown"
    assert ("TE908", 7) in codes(report)


def test_auth_request_is_an_external_decider(lint):
    report = lint({"nginx.conf": http("        auth_request /check;")})
    assert verdicts(report)["facebook"] == "unknown"
    assert ("TE907", 7) in codes(report)


def test_file_test_condition_is_unknown(lint):
    report = lint({"nginx.conf": http("        if (-f /etc/nginx/blocked) { return 403; }")})
    assert verdicts(report)["twitter"] == "unknown"
    assert ("TE908", 7) in codes(report)


def test_stream_sni_proxy_map_to_a_blackhole_upstream(lint):
    text = """
stream {
    map $ssl_preread_server_name $up {
        hostnames;
        .facebook.com blackhole;
        default $ssl_preread_server_name:443;
    }
    upstream blackhole { server 127.0.0.1:9; }
    server {
        listen 443;
        ssl_preread on;
        resolver 192.0.2.53;
        proxy_pass $up;
    }
}
"""
    report = lint({"nginx.conf": text})
    v = verdicts(report)
    assert v["facebook"] == "blocked"
    assert v["twitter"] == "unaffected"
    assert ("TE101", 13) in codes(report)


def test_stream_without_ssl_preread_sees_no_name(lint):
    text = """
stream {
    server { listen 443; resolver 192.0.2.53; proxy_pass $ssl_preread_server_name:443; }
}
"""
    report = lint({"nginx.conf": text})
    # The SNI variable is empty without ssl_preread: no HTTPS site is reached through it, the
    # neutral control neither, so no service is singled out (plain HTTP does not pass here).
    assert verdicts(report)["facebook"] == "unaffected"
    assert not [c for c, _l in codes(report) if c.startswith("TE10")]


def test_stream_to_an_upstream_proxy_port_is_unknown(lint):
    text = """
stream {
    map $ssl_preread_server_name $up { hostnames; .twitter.com parent; x.com parent; default $ssl_preread_server_name:443; }
    upstream parent { server 10.0.0.2:3128; }
    server { listen 443; ssl_preread on; resolver 192.0.2.53; proxy_pass $up; }
}
"""
    report = lint({"nginx.conf": text})
    assert verdicts(report)["twitter"] == "unknown"
    assert ("TE907", 4) in codes(report)


def test_reverse_proxy_for_own_sites_is_unaffected_with_the_reason(lint, tmp_path, catalog):
    text = """
events {}
http {
    server {
        listen 443 ssl default_server;
        server_name _;
        return 444;
    }
    server {
        listen 443 ssl;
        server_name www.example.org;
        location / { proxy_pass http://127.0.0.1:8080; }
    }
}
"""
    report = lint({"nginx.conf": text})
    assert set(verdicts(report).values()) == {"unaffected"}
    from policy_lint.explain import explain_service

    out = explain_service("facebook", tmp_path / "nginx.conf", catalog, tmp_path, None)
    assert "reverse proxy for its own sites" in out


def test_include_is_read_inside_root_glob_too(lint):
    files = {
        "nginx.conf": "events {}\nhttp {\n    include /etc/nginx/conf.d/*.conf;\n}\n",
        "conf.d/proxy.conf": http("", "").split("http {", 1)[1].rsplit("}", 1)[0],
        "conf.d/block.conf": "server { listen 3128; server_name .linkedin.com licdn.com .licdn.com; return 403; }\n",
    }
    v = verdicts(lint(files))
    assert v["linkedin"] == "blocked"


def test_missing_include_is_te903_and_unknown(lint):
    report = lint({"nginx.conf": "events {}\nhttp {\n    include /etc/nginx/sites-enabled/*;\n}\n"})
    assert ("TE903", 3) in codes(report)
    assert verdicts(report)["facebook"] == "unknown"


def test_unbalanced_braces_are_te901(lint):
    report = lint({"nginx.conf": "events {}\nhttp {\n    server { listen 80;\n"})
    assert "TE901" in [c for c, _l in codes(report)]


@pytest.mark.parametrize(
    "text,words",
    [
        (
            'if ($host ~* "a b") { return 403; }',
            ["if", "($host", "~*", "a b", ")", "{", "return", "403", ";", "}"],
        ),
        ("rewrite ^/x\\.y$ /z; # comment", ["rewrite", "^/x\\.y$", "/z", ";"]),
        ("set $a 'it\\'s';", ["set", "$a", "it's", ";"]),
        ("return 200 ${host}x;", ["return", "200", "${host}x", ";"]),
    ],
)
def test_tokenizer_follows_nginx(text, words):
    assert [t.text for t in nginx.tokenize(text)] == words


def test_detection_by_name_folder_and_content():
    body = "server {\n    listen 80;\n    server_name example.org;\n    location / { proxy_pass http://10.0.0.1; }\n}\n"
    assert detected_dialect(Path("nginx.conf"), "events {}\n") == "nginx"
    assert detected_dialect(Path("sites-enabled/default"), body) == "nginx"
    assert detected_dialect(Path("conf.d/site.conf"), body) == "nginx"
    assert detected_dialect(Path("site.txt"), body) == "nginx"
    assert detected_dialect(Path("notes.md"), body) is None


def test_a_stream_snippet_is_read_in_the_stream_context(lint):
    text = """
map $ssl_preread_server_name $up { hostnames; .linkedin.com 127.0.0.1:1; default $ssl_preread_server_name:443; }
server { listen 443; ssl_preread on; resolver 192.0.2.53; proxy_pass $up; }
"""
    report = lint({"streams-enabled/sni.conf": text}, dialect="nginx")
    assert verdicts(report)["linkedin"] == "blocked"
    assert verdicts(report)["facebook"] == "unaffected"


def test_binary_and_truncated_input(lint, tmp_path):
    from policy_lint.catalog import load_catalog
    from policy_lint.engine import Options, lint_paths
    from policy_lint.policy import strict_policy

    catalog = load_catalog()
    binary = tmp_path / "nginx.conf"
    binary.write_bytes(b"\x00\x01\x02" * 100)
    report = lint_paths([binary], catalog, strict_policy(catalog), Options(root=tmp_path))
    assert report.errors and "binary" in report.errors[0]
    truncated = lint({"nginx.conf": 'http {\n    server {\n        server_name "unterminated;\n'})
    assert truncated.errors  # nothing read: an input error, not a pass
    assert "TE901" in [c for c, _l in codes(truncated)] or "TE902" in [c for c, _l in codes(truncated)]


def test_an_unused_map_naming_a_service_is_te202(lint):
    extra = "    map $host $social { hostnames; default 0; .facebook.com 1; }"
    report = lint({"nginx.conf": http("", extra)})
    assert verdicts(report)["facebook"] == "unaffected"
    assert ("TE202", 3) in codes(report)


def test_stream_proxy_pass_to_the_sni_on_the_same_port(lint):
    text = """
stream {
    server {
        listen 443;
        resolver 192.0.2.53;
        ssl_preread on;
        proxy_pass $ssl_preread_server_name:$server_port;
    }
}
"""
    report = lint({"nginx.conf": text})
    assert set(verdicts(report).values()) == {"unaffected"}
    assert not [c for c, _l in codes(report) if c.startswith("TE9")]


def test_debians_stock_nginx_conf_with_a_default_site_is_unaffected(lint):
    files = {
        "nginx.conf": """
user www-data;
include /etc/nginx/modules-enabled/*.conf;
events { worker_connections 768; }
http {
    include /etc/nginx/mime.types;
    include /etc/nginx/conf.d/*.conf;
    include /etc/nginx/sites-enabled/*;
}
""",
        "conf.d/.keep": "",
        "sites-enabled/default": """
server {
    listen 80 default_server;
    root /var/www/html;
    server_name _;
    location / { try_files $uri $uri/ =404; }
    location ~ \\.php$ { include snippets/fastcgi-php.conf; fastcgi_pass unix:/run/php/php-fpm.sock; }
}
""",
    }
    report = lint(files)
    assert set(verdicts(report).values()) == {"unaffected"}
    # module loaders and stock parameter files are named, but decide nothing; the empty
    # conf.d folder is simply empty
    te903 = sorted((Path(f.span.path).name, f.span.line) for f in report.findings if f.code == "TE903")
    assert te903 == [("default", 7), ("nginx.conf", 3), ("nginx.conf", 6)]
    assert all("assumed to hold no server" in f.message for f in report.findings if f.code == "TE903")


def test_map_longest_leading_mask_wins_then_trailing_mask(lint):
    # www.facebook.com: *.facebook.com (leading mask) beats www.* (trailing mask); the
    # longer leading mask *.m.facebook.com would beat *.facebook.com below m.facebook.com.
    extra = "    map $host $blocked { hostnames; default 0; *.facebook.com 1; www.* 0; facebook.com 1; m.facebook.com 1; }"
    report = lint({"nginx.conf": http("        if ($blocked) { return 403; }", extra)})
    assert verdicts(report)["facebook"] == "blocked"
    extra = "    map $host $blocked { hostnames; default 0; *.com 1; www.facebook.* 0; }"
    report = lint({"nginx.conf": http("        if ($blocked) { return 403; }", extra)})
    assert verdicts(report)["facebook"] == "blocked"  # the leading mask *.com wins over www.facebook.*

"""Differential tests: our static reading of HAProxy and nginx forward/SNI proxies against
Debian's real haproxy and nginx on 127.0.0.1 (tests/e2e/revproxy_harness.py).

For each case the config is parsed by the dialect and evaluated for every catalog probe (all
services, primary to hygiene, and the neutral control); the same config runs in the real
program, with only its way out to "the internet" replaced by a loopback origin that stands for
every site (HAProxy: the `server ... 0.0.0.0` line; nginx: an `upstream` per probe host, which
nginx consults before any resolver, and `resolver` pointed at a closed loopback port; for the
stream proxy the `:443` of `$ssl_preread_server_name:443` is dropped so that the upstream of
that name is the one used). Each probe is then asked of the program as a browser would: a GET
in absolute form (http), a CONNECT (https through an HTTP proxy) or a TLS client hello (https
through an SNI proxy). The static ALLOW must be exactly "the origin answered"; DENY "it did
not" (a 403/451/503/400 answer, a redirect, a reset or a close). Each case also names a few
URLs with the answer its author expects, so the comparison cannot pass vacuously.

A second test checks that the programs refuse the configs we report TE901 for.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from policy_lint.catalog import load_catalog
from policy_lint.dialects.proxies import haproxy as haproxy_dialect
from policy_lint.dialects.proxies import nginx as nginx_dialect
from policy_lint.dialects.semantics.base import ParseContext
from policy_lint.inputs import Resolver
from policy_lint.model import EVERYONE, Outcome, Probe
from tests.conftest import skip_or_fail
from tests.e2e.revproxy_harness import (
    NGINX_STREAM_MODULE,
    Answer,
    ask_http,
    ask_tls,
    check_haproxy,
    check_nginx,
    find_program,
    free_port,
    loopback_dns,
    nginx_http_preamble,
    nginx_preamble,
    origin,
    running_haproxy,
    running_nginx,
    state_of,
)

pytestmark = pytest.mark.e2e


@dataclass(frozen=True)
class Case:
    id: str
    text: str  # with {http}, {tls} (listening ports) and, for nginx, {state} / {preamble}
    files: dict[str, str] = field(default_factory=dict)
    deny: tuple[str, ...] = ()  # URLs the author expects the program to refuse
    allow: tuple[str, ...] = ()  # URLs the author expects to reach the origin


HAPROXY_HEAD = """
global
    log stdout format raw local0 notice
defaults
    mode http
    timeout client 5s
    timeout server 5s
    timeout connect 2s
"""

HAPROXY_CASES = [
    Case(
        "http-forward-rules-in-order",
        HAPROXY_HEAD
        + """
frontend fwd
    bind 127.0.0.1:{http}
    acl fb hdr_dom(host) -i facebook.com
    acl api hdr(host) -i graph.facebook.com
    http-request allow if api
    http-request deny if fb
    http-request deny if { hdr_end(host) -i .linkedin.com } !{ hdr_beg(host) -i static. }
    http-request return status 451 if { hdr(host) -i x.com } || { hdr_reg(host) -i ^(mobile\\.)?twitter\\.com$ }
    http-request redirect location http://127.0.0.1/blocked if { hdr_sub(host) -i messenger }
    use_backend sorry if { hdr_dom(host) -i ning.com }
    default_backend origin
backend sorry
backend origin
    server clear 0.0.0.0:0
""",
        deny=(
            "http://www.facebook.com/",
            "https://www.facebook.com/",
            "https://www.linkedin.com/",
            "https://x.com/",
            "https://twitter.com/",
            "http://www.ning.com/",
        ),
        allow=("https://graph.facebook.com/", "https://linkedin.com/", "https://www.twitter.com/"),
    ),
    Case(
        "http-forward-pattern-file-and-url",
        HAPROXY_HEAD
        + """
frontend fwd
    bind 127.0.0.1:{http}
    http-request deny if { hdr(host) -i -f social.lst }
    http-request deny if { url_beg -i http://www.ning.com/ }
    http-request deny unless { hdr_dom(host) -i -m dom example.com twitter.com x.com twimg.com t.co ning.com }
    default_backend origin
backend origin
    server clear 0.0.0.0:0
""",
        files={"social.lst": "# blocked hosts\nwww.linkedin.com\nlinkedin.com\n"},
        deny=("https://www.linkedin.com/", "http://www.ning.com/", "https://www.facebook.com/"),
        allow=("https://www.ning.com/", "https://twitter.com/", "https://www.example.com/"),
    ),
    Case(
        "resolving-forward-proxy",
        HAPROXY_HEAD
        + """
frontend proxy
    bind 127.0.0.1:{http}
    http-request do-resolve(txn.myip,mydns,ipv4) hdr(Host),lower unless { url_ip -m found }
    http-request set-var(txn.myip) url_ip if { url_ip -m found }
    http-request set-var(txn.myport) url_port
    http-request deny if { hdr_dom(host) -i linkedin.com licdn.com }
    use_backend b_503 unless { var(txn.myip) -m found }
    use_backend forwardproxy
resolvers mydns
    nameserver dns1 192.0.2.53:53
    accepted_payload_size 8192
backend b_503
backend forwardproxy
    http-request set-dst var(txn.myip)
    http-request set-dst-port int(80)
    http-request set-dst-port var(txn.myport) if { var(txn.myport) -m found }
    server clear 0.0.0.0:0
""",
        deny=("https://www.linkedin.com/", "http://static.licdn.com/"),
        allow=("https://www.facebook.com/", "http://x.com/", "https://www.example.com/"),
    ),
    Case(
        "sni-proxy",
        HAPROXY_HEAD
        + """
frontend sni
    mode tcp
    bind 127.0.0.1:{tls}
    tcp-request inspect-delay 3s
    tcp-request content reject if { req.ssl_sni -m end .facebook.com } || { req_ssl_sni -i facebook.com }
    use_backend down if { req.ssl_sni -m dom linkedin.com }
    default_backend pass
backend down
    mode tcp
    server off 0.0.0.0:443 disabled
backend pass
    mode tcp
    server pass 0.0.0.0:443
""",
        deny=("https://www.facebook.com/", "https://facebook.com/", "https://www.linkedin.com/"),
        allow=("https://www.example.com/", "https://static.licdn.com/", "https://x.com/"),
    ),
    Case(
        "sni-accept-first-ends-the-content-rules",
        HAPROXY_HEAD
        + """
frontend sni
    mode tcp
    bind 127.0.0.1:{tls}
    tcp-request inspect-delay 3s
    tcp-request content accept if { req.ssl_hello_type 1 }
    tcp-request content reject if { req.ssl_sni -m sub facebook }
    default_backend pass
backend pass
    mode tcp
    server pass 0.0.0.0:443
""",
        allow=("https://www.facebook.com/", "https://www.example.com/"),
    ),
]


def nginx_text(body: str) -> str:
    return "{preamble}\nevents {}\n" + body


NGINX_CASES = [
    Case(
        "http-forward-map-if-server-names",
        nginx_text(
            """
http {
{http_preamble}
    map $host $blocked {
        hostnames;
        default 0;
        .facebook.com 1;
        www.messenger.com 1;
    }
    server {
        listen 127.0.0.1:{http} default_server;
        resolver 192.0.2.53;
        if ($blocked) { return 403; }
        if ($host ~* "^(www\\.)?linkedin\\.com$") { return 302 http://127.0.0.1/blocked; }
        location ~ ^/plugins/ { return 403; }
        location / { proxy_pass http://$http_host$request_uri; }
    }
    server {
        listen 127.0.0.1:{http};
        server_name .twitter.com x.com;
        return 444;
    }
    server {
        listen 127.0.0.1:{http};
        server_name ~^ning;
        return 403;
    }
    server {
        listen 127.0.0.1:{http};
        server_name *.ning.com;
        resolver 192.0.2.53;
        location / { proxy_pass http://$host$request_uri; }
    }
}
"""
        ),
        deny=(
            "http://www.facebook.com/",
            "http://www.linkedin.com/",
            "http://twitter.com/",
            "http://ning.com/",
            "https://www.example.com/",
        ),
        allow=("http://www.ning.com/", "http://static.licdn.com/", "http://www.example.com/"),
    ),
    Case(
        "http-forward-set-and-locations",
        nginx_text(
            """
http {
{http_preamble}
    resolver 192.0.2.53;
    server {
        listen 127.0.0.1:{http};
        set $deny 0;
        if ($http_host ~ "twimg") { set $deny 1; }
        if ($deny = 1) { return 403; }
        location = /tr { return 403; }
        location ^~ /plugins/ { proxy_pass http://$http_host$request_uri; }
        location ~* like { return 403; }
        location / { proxy_pass http://$http_host$request_uri; }
    }
}
"""
        ),
        deny=("http://pbs.twimg.com/", "http://www.facebook.com/tr"),
        allow=("http://www.facebook.com/plugins/like.php", "http://x.com/"),
    ),
    Case(
        "server-name-precedence",
        nginx_text(
            """
http {
{http_preamble}
    resolver 192.0.2.53;
    server { listen 127.0.0.1:{http}; server_name ~facebook ~^x; return 403; }
    server { listen 127.0.0.1:{http}; server_name *.facebook.com; location / { proxy_pass http://$host; } }
    server { listen 127.0.0.1:{http}; server_name facebook.com; return 444; }
    server { listen 127.0.0.1:{http}; server_name x.*; location / { proxy_pass http://$host; } }
    server { listen 127.0.0.1:{http} default_server; location / { proxy_pass http://$host; } }
}
"""
        ),
        deny=("http://facebook.com/", "http://connect.facebook.net/"),
        allow=("http://www.facebook.com/", "http://x.com/", "http://twitter.com/"),
    ),
    Case(
        "http-forward-split-over-glob-includes",
        nginx_text(
            """
http {
{http_preamble}
    resolver 192.0.2.53;
    include conf.d/*.conf;
}
"""
        ),
        files={
            "conf.d/10-block.conf": (
                "server {\n    listen 127.0.0.1:{http};\n    server_name .linkedin.com licdn.com;\n"
                "    location / { return 403; }\n}\n"
            ),
            "conf.d/20-forward.conf": (
                "server {\n    listen 127.0.0.1:{http} default_server;\n"
                "    location / { proxy_pass http://$host$request_uri; }\n}\n"
            ),
        },
        deny=("http://www.linkedin.com/", "http://linkedin.com/"),
        allow=("http://static.licdn.com/", "http://www.facebook.com/"),
    ),
    Case(
        "stream-sni-proxy",
        nginx_text(
            """
stream {
    map $ssl_preread_server_name $up {
        hostnames;
        .facebook.com blackhole;
        ~^(www\\.)?linkedin\\.com$ blackhole;
        default $ssl_preread_server_name:443;
    }
    upstream blackhole { server 127.0.0.1:9; }
    server {
        listen 127.0.0.1:{tls};
        ssl_preread on;
        resolver 192.0.2.53;
        proxy_pass $up;
    }
}
"""
        ),
        deny=("https://www.facebook.com/", "https://linkedin.com/"),
        allow=("https://static.licdn.com/", "https://x.com/", "https://www.example.com/"),
    ),
]


# ------------------------------------------------------------------ running a case


def probes() -> list[Probe]:
    catalog = load_catalog()
    out = list(catalog.control_probes())
    for svc in catalog.services.values():
        out.extend(svc.probes())
    return out


def _probe_for(url: str, all_probes: list[Probe]) -> Probe:
    for p in all_probes:
        if p.url == url or p.url.rstrip("/") == url.rstrip("/"):
            return p
    scheme, rest = url.split("://", 1)
    host, _, path = rest.partition("/")
    return Probe(None, host, "primary", scheme, 443 if scheme == "https" else 80, "/" + path)


def _static(module, text: str, files: dict[str, str], tmp_path: Path, name: str):
    cfg = tmp_path / "static" / name
    cfg.parent.mkdir(parents=True, exist_ok=True)
    cfg.write_text(text)
    for fname, body in files.items():
        (cfg.parent / fname).parent.mkdir(parents=True, exist_ok=True)
        (cfg.parent / fname).write_text(body)
    catalog = load_catalog()
    return module.parse(cfg, ParseContext(Resolver(cfg.parent), catalog))


def _compare(ruleset, ask, todo: list[Probe], case: Case) -> None:
    mismatches = []
    all_probes = todo
    for url in case.deny + case.allow:
        probe = _probe_for(url, all_probes)
        if probe not in todo:
            todo.append(probe)
    seen: dict[str, Answer] = {}
    for probe in todo:
        answer = ask(probe)
        if answer is None:
            continue
        seen[probe.url] = answer
        decision = ruleset.evaluate(probe, EVERYONE)
        assert decision.outcome != Outcome.UNKNOWN, f"{case.id}: {probe.url} undecided: {decision.note}"
        static_allows = decision.outcome == Outcome.ALLOW
        if static_allows != answer.reached_origin:
            mismatches.append(f"{probe.url}: static {decision.outcome.value} ({decision.how}), real {answer}")
    for url in case.deny:
        assert not seen[url].reached_origin, f"{case.id}: expected {url} refused, got {seen[url]}"
    for url in case.allow:
        assert seen[url].reached_origin, f"{case.id}: expected {url} to reach the origin, got {seen[url]}"
    assert not mismatches, f"{case.id}: static reading and the real program disagree:\n  " + "\n  ".join(
        mismatches
    )


@pytest.mark.parametrize("case", HAPROXY_CASES, ids=lambda c: c.id)
def test_haproxy_agrees_with_static_reading(case: Case, tmp_path: Path) -> None:
    if find_program("haproxy") is None:
        skip_or_fail("haproxy is not installed (apt-get install haproxy)")
    http_port, tls_port = free_port(), free_port()
    text = case.text.replace("{http}", str(http_port)).replace("{tls}", str(tls_port))
    ruleset = _static(haproxy_dialect, text, case.files, tmp_path, "haproxy.cfg")
    assert not [p for p in ruleset.problems if p.code.startswith("TE9")], ruleset.problems
    ports = [p for p, key in ((http_port, "{http}"), (tls_port, "{tls}")) if key in case.text]
    with origin() as o, loopback_dns() as dns_port:
        # The way out: a `do-resolve` proxy asks a loopback DNS that answers 127.0.0.1 and
        # connects to the origin's port; a `server 0.0.0.0` without one goes to the origin.
        run_text = re.sub(r"nameserver\s+(\S+)\s+\S+", rf"nameserver \g<1> 127.0.0.1:{dns_port}", text)
        if "do-resolve" in text:
            run_text = re.sub(r"set-dst-port\s+\S+", f"set-dst-port int({o.port})", run_text)
            run_text = re.sub(r"(server\s+\S+\s+)0\.0\.0\.0(:\d+)?", r"\g<1>0.0.0.0:0", run_text)
        else:
            run_text = re.sub(r"(server\s+\S+\s+)0\.0\.0\.0(:\d+)?", rf"\g<1>127.0.0.1:{o.port}", text)
        with running_haproxy(run_text, tmp_path, ports, case.files):
            ask = _asker("{tls}" in case.text, http_port, tls_port, "{http}" in case.text)
            _compare(ruleset, ask, probes(), case)


def _asker(tls: bool, http_port: int, tls_port: int, http: bool):
    def ask(probe: Probe) -> Answer | None:
        if probe.scheme == "https" and tls:
            return ask_tls(tls_port, probe.host)
        if not http:
            return None
        return ask_http(http_port, probe.url)

    return ask


def _ports(text: str, http_port: int, tls_port: int) -> str:
    return text.replace("{http}", str(http_port)).replace("{tls}", str(tls_port))


def _nginx_run_text(text: str, origin_port: int, closed_port: int, hosts: set[str]) -> str:
    run = re.sub(r"resolver\s+[^;]+;", f"resolver 127.0.0.1:{closed_port};", text)
    run = run.replace("$ssl_preread_server_name:443", "$ssl_preread_server_name")
    ups = "\n".join(f"    upstream {h} {{ server 127.0.0.1:{origin_port}; }}" for h in sorted(hosts))
    run = re.sub(r"^(http|stream) \{", lambda m: m.group(0) + "\n" + ups, run, flags=re.M)
    return run


@pytest.mark.parametrize("case", NGINX_CASES, ids=lambda c: c.id)
def test_nginx_agrees_with_static_reading(case: Case, tmp_path: Path) -> None:
    if find_program("nginx") is None:
        skip_or_fail("nginx is not installed (apt-get install nginx)")
    stream = "stream {" in case.text
    if stream and not Path(NGINX_STREAM_MODULE).exists():
        skip_or_fail("nginx's stream module is not installed (apt-get install libnginx-mod-stream)")
    http_port, tls_port, closed = free_port(), free_port(), free_port()
    state = state_of(tmp_path, "nginx-")
    text = (
        case.text.replace("{preamble}", nginx_preamble(state, stream))
        .replace("{http_preamble}", nginx_http_preamble(state))
        .replace("{http}", str(http_port))
        .replace("{tls}", str(tls_port))
    )
    files = {name: _ports(body, http_port, tls_port) for name, body in case.files.items()}
    ruleset = _static(nginx_dialect, text, files, tmp_path, "nginx.conf")
    assert not [p for p in ruleset.problems if p.code.startswith("TE9")], ruleset.problems
    todo = probes()
    used = case.text + "".join(case.files.values())
    ports = [p for p, key in ((http_port, "{http}"), (tls_port, "{tls}")) if key in used]
    with origin() as o:
        run_text = _nginx_run_text(text, o.port, closed, {p.host for p in todo})
        run_files = {name: _nginx_run_text(body, o.port, closed, set()) for name, body in files.items()}
        with running_nginx(run_text, tmp_path, ports, run_files):
            _compare(ruleset, _asker(stream, http_port, tls_port, "{http}" in used), todo, case)


# ------------------------------------------------------------------ refused configs


@pytest.mark.parametrize(
    "text",
    [
        HAPROXY_HEAD + "frontend f\n    bind 127.0.0.1:1\n    use_backend nowhere\n",
        HAPROXY_HEAD + "frontend f\n    bind 127.0.0.1:1\n    reqdeny ^Host:\\ .*facebook\n",
        HAPROXY_HEAD + "listen f\n    bind 127.0.0.1:1\n    option http_proxy\n",
        HAPROXY_HEAD + "frontend f\n    bind 127.0.0.1:1\n    http-request deny if nosuchacl\n",
    ],
    ids=["unknown-backend", "removed-keyword", "option-http-proxy", "unknown-acl"],
)
def test_haproxy_refuses_what_we_report_te901(text: str, tmp_path: Path) -> None:
    if find_program("haproxy") is None:
        skip_or_fail("haproxy is not installed (apt-get install haproxy)")
    ruleset = _static(haproxy_dialect, text, {}, tmp_path, "haproxy.cfg")
    assert "TE901" in [p.code for p in ruleset.problems]
    assert check_haproxy(text, tmp_path).returncode != 0


@pytest.mark.parametrize(
    "body",
    ["http {\n    server { listen 127.0.0.1:1;\n}\n", "http {\n    server { listen 127.0.0.1:1 }\n}\n"],
    ids=["unclosed-block", "missing-semicolon"],
)
def test_nginx_refuses_what_we_report_te901(body: str, tmp_path: Path) -> None:
    if find_program("nginx") is None:
        skip_or_fail("nginx is not installed (apt-get install nginx)")
    state = state_of(tmp_path, "nginx-")
    text = nginx_preamble(state, False) + "events {}\n" + body
    ruleset = _static(nginx_dialect, text, {}, tmp_path, "nginx.conf")
    assert "TE901" in [p.code for p in ruleset.problems]
    assert check_nginx(text, tmp_path).returncode != 0

"""Symbolic values (extract/symbolic), the Jinja2 sandbox (extract/jinja) and run-time values
the catalog answers (semantics/runtime)."""

from __future__ import annotations

from pathlib import Path

import pytest

from policy_lint.dialects.semantics import runtime
from policy_lint.extract import jinja, symbolic
from policy_lint.extract.model import mark
from tests.extract.helpers import verdict, where


@pytest.mark.parametrize(
    "line",
    [
        "acl lan src {}",
        "iptables -A FORWARD -s {} -j DROP",
        "ip saddr {} drop",
        "block drop from {} to any",
        "/ip firewall filter add src-address={}",
    ],
)
def test_source_position_gets_a_stand_in_network(line):
    out = symbolic.resolve([line.format(mark("{{ lan }}"))])
    assert out.unknown == []
    assert out.lines == [line.format("192.0.2.0/24")]


@pytest.mark.parametrize("line", ["iptables -A FORWARD -i {} -j DROP", "oifname {} drop", "interface={}"])
def test_interface_position_gets_a_stand_in_interface(line):
    out = symbolic.resolve([line.format(mark("$LAN_IF"))])
    assert out.unknown == []
    assert "if_LAN_IF" in out.lines[0]


@pytest.mark.parametrize(
    "line", ["acl x dstdomain {}", "iptables -A FORWARD -d {} -j DROP", "address=/{}/0.0.0.0", "{}"]
)
def test_other_positions_stay_unknown(line):
    out = symbolic.resolve([line.format(mark("{{ site }}"))])
    assert out.unknown == [(0, "{{ site }}")]
    assert out.lines == [line.format("{{ site }}")]


def test_same_expression_same_stand_in_and_distinct_ones_differ():
    out = symbolic.resolve(
        [f"acl a src {mark('$A')}", f"acl b src {mark('$B')}", f"http_access allow a {mark('$A')}"]
    )
    assert out.stand_ins["$A"] != out.stand_ins["$B"]


def test_placeholder_in_a_comment_decides_nothing():
    assert symbolic.resolve([f"# managed by {mark('{{ ansible_managed }}')}"]).unknown == []


def test_lan_placeholder_does_not_change_the_decision(lint):
    # The same config with a literal LAN and with a template LAN: same verdict.
    conf = "acl lan src {}\nacl fb dstdomain .facebook.com\nhttp_access deny fb lan\nhttp_access allow lan\nhttp_access deny all\n"
    literal = lint({"squid.conf": conf.format("10.0.0.0/8")})
    templated = lint({"squid.conf.j2": conf.format("{{ lan_cidr }}")})
    assert literal.files[0].services["facebook"].verdict.value == "blocked"
    assert verdict(templated, "squid", "facebook") == "blocked"


# ------------------------------------------------------------------ the sandbox


def test_jinja_renders_variables_and_loops():
    out = jinja.render(
        "a {{ x }}\n{% for i in items %}\nline {{ i }}\n{% endfor %}\nend", {"x": 1, "items": [1, 2]}
    )
    assert out.lines == ["a 1", "line 1", "line 2", "end"]
    assert out.line_map == [1, 3, 3, 5]


def test_jinja_undefined_and_ansible_filters_stay_symbolic():
    out = jinja.render("{{ lan | ipaddr('network') }} {{ lookup('env', 'HOME') }}", {})
    assert "\ue000" in out.lines[0]
    assert "HOME" not in out.lines[0].replace("'HOME'", "")


@pytest.mark.parametrize(
    "template",
    [
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
        "{{ self._TemplateReference__context.cycler.__init__.__globals__ }}",
        "{{ config.__class__.__init__.__globals__['os'] }}",
        "{% include '/etc/passwd' %}",
        "{% import '/etc/passwd' as p %}",
        "{{ 'x' * 1000000000 }}",
        "{{ 9 ** 9 ** 9 }}",
        "{% for i in range(100000000) %}{% endfor %}",
    ],
)
def test_malicious_templates_neither_run_code_nor_read_files(template):
    out = jinja.render(template, {})
    text = "\n".join(out.lines)
    assert "root:" not in text and "uid=" not in text and "subprocess" not in text.lower()
    assert len(text) < 1_000_000


def test_malicious_template_in_a_repository_runs_nothing(lint, tmp_path: Path):
    marker = tmp_path / "pwned"
    template = (
        "{{ cycler.__init__.__globals__.os.system('touch " + str(marker) + "') }}\n"
        "{{ lipsum.__globals__['os'].popen('touch " + str(marker) + "') }}\n"
        "{% include '" + str(tmp_path / "secret") + "' %}\n"
    )
    (tmp_path / "secret").write_text("acl fb dstdomain .facebook.com\nhttp_access deny fb\n")
    report = lint({"squid.conf.j2": template})
    assert not marker.exists()
    assert not any(f.services["facebook"].verdict.value == "blocked" for f in report.files)
    assert where(report, "TE907") or where(report, "TE901")


# ------------------------------------------------------------------ run-time values


def test_whois_origin_lookup_gives_the_catalogs_prefixes(catalog):
    out = runtime.command_output(
        "whois -h whois.radb.net -- '-i origin AS32934' | grep route: | awk '{print $2}'", catalog
    )
    assert out and all(":" not in n for n in out)
    assert "157.240.0.0/16" in out or any(n.startswith("157.240.") for n in out)


def test_ripestat_and_bgpview_urls(catalog):
    ripe = runtime.command_output(
        "curl -s 'https://stat.ripe.net/data/announced-prefixes/data.json?resource=AS32934' | jq -r '.data.prefixes[].prefix'",
        catalog,
    )
    bgpview = runtime.command_output("curl -s https://api.bgpview.io/asn/32934/prefixes | jq -r .", catalog)
    assert ripe and bgpview and set(ripe) == set(bgpview)


def test_downloads_of_a_services_published_prefix_lists(catalog):
    fb = {str(n) for n in catalog.services["facebook"].networks if n.version == 4}
    lord_alfred = runtime.command_output(
        "curl -s https://raw.githubusercontent.com/lord-alfred/ipranges/main/facebook/ipv4_merged.txt",
        catalog,
    )
    secops = runtime.command_output(
        "wget -qO- https://raw.githubusercontent.com/SecOps-Institute/FacebookIPLists/master/facebook_ipv4_cidr_blocks.lst",
        catalog,
    )
    assert set(lord_alfred or []) == set(secops or []) == fb
    six = runtime.command_output(
        "curl https://raw.githubusercontent.com/SecOps-Institute/TwitterIPLists/master/twitter_ipv6_list.lst",
        catalog,
    )
    assert six and all(":" in n for n in six)
    ipverse = runtime.command_output(
        "curl -s https://raw.githubusercontent.com/ipverse/as-ip-blocks/master/as/32934/ipv4-aggregated.txt",
        catalog,
    )
    whois = runtime.command_output("whois -h whois.radb.net -- '-i origin AS32934'", catalog)
    assert ipverse and set(ipverse) == set(whois or [])
    # A list of another company, or of a service the catalog does not hold: unknown.
    assert (
        runtime.command_output(
            "curl https://raw.githubusercontent.com/lord-alfred/ipranges/main/google/ipv4.txt", catalog
        )
        is None
    )


def test_head_or_unknown_asn_stays_unknown(catalog):
    assert runtime.command_output("whois -h whois.radb.net -- '-i origin AS32934' | head -3", catalog) is None
    assert runtime.command_output("whois -h whois.radb.net -- '-i origin AS64496'", catalog) is None
    assert runtime.command_output("curl https://example.com/list.txt", catalog) is None


def test_dig_of_a_service_name(catalog):
    out = runtime.command_output("dig +short www.facebook.com", catalog)
    assert out == [a for a in catalog.services["facebook"].addresses if ":" not in a]
    assert runtime.command_output("dig +short example.org", catalog) is None


def test_iptables_script_dig_destination(lint):
    report = lint({"fw.sh": "#!/bin/sh\niptables -A OUTPUT -d $(dig +short facebook.com) -j DROP\n"})
    assert report.files[0].services["facebook"].verdict.value != "unknown"
    assert where(report, "TE907") == []


def test_run_time_loop_names_its_expression(lint):
    script = "#!/bin/sh\nfor n in $(curl -s https://example.com/ips); do\n  iptables -A FORWARD -d $n -j DROP\ndone\n"
    report = lint({"fw.sh": script})
    messages = [f.message for f in report.findings if f.code == "TE907"]
    assert any("curl -s https://example.com/ips" in m for m in messages)


def test_nested_loops_writing_nothing_do_not_hang():
    out = jinja.render(
        "{% for i in range(99999) %}{% for j in range(99999) %}{% endfor %}{% endfor %}", {}, 0.5
    )
    assert out.lines == [] and out.problems and out.problems[0][0] == "TE907"


def test_billion_laughs_variables_are_not_used(lint):
    laughs = "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
    for k in "bcdefghi":
        prev = chr(ord(k) - 1)
        laughs += f"{k}: &{k} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"
    report = lint({"roles/r/templates/hosts.j2": "0.0.0.0 {{ i }}\n", "roles/r/defaults/main.yml": laughs})
    assert all(r.verdict.value != "blocked" for f in report.files for r in f.services.values())


CONDITIONAL = "acl fb dstdomain .facebook.com\n{% if block_social %}\nhttp_access deny fb\n{% endif %}\nhttp_access allow all\n"


def test_condition_on_an_undefined_value_is_unknown_not_a_block(lint):
    report = lint({"roles/p/templates/squid.conf.j2": CONDITIONAL})
    assert verdict(report, "squid", "facebook") == "unknown"
    assert ("squid.conf.j2", 3) in where(report, "TE907")


def test_condition_on_a_defined_value_decides(lint):
    report = lint(
        {"roles/p/templates/squid.conf.j2": CONDITIONAL, "roles/p/defaults/main.yml": "block_social: true\n"}
    )
    assert verdict(report, "squid", "facebook") == "blocked"
    assert where(report, "TE101") == [("squid.conf.j2", 3)]


def test_is_defined_branch_left_out_is_still_unknown(lint):
    template = "acl fb dstdomain .facebook.com\n{% if sites is not defined %}\nhttp_access deny fb\n{% endif %}\nhttp_access allow all\n"
    report = lint({"squid.conf.j2": template})
    assert verdict(report, "squid", "facebook") == "unknown"
    assert ("squid.conf.j2", 2) in where(report, "TE907") or ("squid.conf.j2", 3) in where(report, "TE907")


def test_comparison_with_an_undefined_value_is_unknown(lint):
    template = 'acl fb dstdomain .facebook.com\n{% if mode == "strict" %}\nhttp_access deny fb\n{% endif %}\nhttp_access allow all\n'
    report = lint({"squid.conf.j2": template})
    assert verdict(report, "squid", "facebook") == "unknown"

"""Realistic containers: each config inside is linted and its findings point into the container."""

from __future__ import annotations

from tests.extract.helpers import lint_fixture, verdict, where


def test_ansible_role_template_rendered_with_group_vars():
    report = lint_fixture("ansible/roles/proxy/templates/squid.conf.j2")
    assert not report.errors
    # group_vars/all.yml overrides the role default (empty): both groups are rendered; the
    # two deny lines come from one template line inside a loop.
    assert verdict(report, "squid", "facebook") == "blocked"
    assert verdict(report, "squid", "linkedin") == "blocked"
    assert verdict(report, "squid", "twitter") == "unaffected"
    assert where(report, "TE101") == [("squid.conf.j2", 13), ("squid.conf.j2", 13)]
    # `{{ lan_cidr }}` (defined nowhere) is a source: a stand-in that decides nothing and is
    # never shown.
    assert not any("192.0.2" in f.message or "192.0.2" in " ".join(f.audiences) for f in report.findings)
    # `# {{ ansible_managed }}` is a comment and `http_port {{ squid_port }}` decides nothing.
    assert not where(report, "TE907")


def test_ansible_tasks_lineinfile_and_iptables():
    report = lint_fixture("ansible/roles/proxy/tasks/main.yml")
    assert verdict(report, "hosts", "twitter") == "blocked-partial"
    assert where(report, "TE102", "twitter") == [("main.yml", 16)]
    assert verdict(report, "iptables", "facebook") == "blocked-partial"
    assert where(report, "TE102", "facebook") == [("main.yml", 20)]


def test_terraform_heredoc_and_templatefile():
    report = lint_fixture("terraform/main.tf")
    assert verdict(report, "squid", "facebook") == "blocked"
    assert verdict(report, "dnsmasq", "twitter") == "blocked"
    assert where(report, "TE101", "facebook") == [("main.tf", 20)]
    # The template's findings point into the template, at the loop body's line.
    assert where(report, "TE101", "twitter") == [("social.conf.tftpl", 3), ("social.conf.tftpl", 3)]


def test_markdown_runbook():
    report = lint_fixture("docs/runbook.md")
    assert verdict(report, "squid", "linkedin") == "blocked"
    assert verdict(report, "nftables", "facebook") == "blocked-partial"
    assert where(report, "TE101") == [("runbook.md", 10)]
    assert where(report, "TE102") == [("runbook.md", 20)]
    assert not report.errors and not report.skipped  # the Python fence is no config: ignored


def test_nixos_module():
    report = lint_fixture("nixos/configuration.nix")
    assert verdict(report, "squid", "facebook") == "blocked"
    assert verdict(report, "dnsmasq", "twitter") == "blocked"
    assert where(report, "TE101", "facebook") == [("configuration.nix", 11)]
    assert where(report, "TE101", "twitter") == [("configuration.nix", 19), ("configuration.nix", 19)]
    # services.unbound.enable = false: its config is inert.
    assert verdict(report, "unbound", "linkedin") == "unaffected"
    assert where(report, "TE202", "linkedin") == [("configuration.nix", 27)]


def test_bash_firewall_with_loops_functions_and_whois():
    report = lint_fixture("scripts/firewall.sh")
    # AS32934's prefixes come from the catalog; the literal loop gives LinkedIn two prefixes,
    # each through the function's "$1".
    assert verdict(report, "iptables", "facebook") == "blocked-partial"
    assert verdict(report, "iptables", "linkedin") == "blocked-partial"
    assert where(report, "TE102", "facebook") == [("firewall.sh", 8)]
    assert not where(report, "TE907")
    # The heredoc written to /etc/hosts is a hosts file whose lines map into the script.
    assert verdict(report, "hosts", "twitter") == "blocked-partial"
    assert where(report, "TE102", "twitter") == [("firewall.sh", 26), ("firewall.sh", 27)]

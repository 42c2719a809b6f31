"""Shell scripts: one-line loops, and commands after `&&`/`||` run as the exit status before them
says (POSIX sh, "AND-OR lists": `a && b` runs b when a exits 0, `a || b` when it does not).
The model knows the status of what it runs (an iptables call, `iptables -C RULE` against the
rules built so far, `true`/`false`); a run-time test makes what the command adds a maybe."""

from __future__ import annotations

from pathlib import Path

from policy_lint.dialects.firewalls.iptables.shell import split_statements
from tests.conftest import detected_dialect, verdicts
from tests.extract.helpers import verdict, where

FB = "157.240.0.0/16"


def test_split_statements_remembers_the_operator_and_guard():
    parts = split_statements("a && b || c; d")
    assert [(p, p.op, p.guard) for p in parts] == [
        ("a", "", ""),
        ("b", "&&", "a"),
        ("c", "||", "a && b"),
        ("d", "", ""),
    ]


def test_one_line_loop_is_detected_and_evaluated(lint):
    text = f"for h in {FB} 31.13.24.0/21; do iptables -A FORWARD -d $h -j DROP; done\n"
    assert detected_dialect(Path("fw-rules"), text) == "iptables"
    report = lint({"fw.sh": "#!/bin/sh\n" + text})
    assert verdicts(report)["facebook"] == "blocked-partial"
    assert where(report, "TE102") == [("fw.sh", 2)]


def test_check_or_append_means_the_rule_is_there(lint):
    rule = f"FORWARD -d {FB} -j DROP"
    report = lint({"fw.sh": f"#!/bin/sh\niptables -C {rule} 2>/dev/null || iptables -A {rule}\n"})
    assert verdicts(report)["facebook"] == "blocked-partial"
    assert not where(report, "TE907")


def test_check_of_a_rule_already_added_skips_the_second_append(lint):
    # The ACCEPT after `||` does not run: `iptables -C` finds the DROP added just before.
    script = (
        f"#!/bin/sh\niptables -A FORWARD -d {FB} -j DROP\n"
        f"iptables -C FORWARD -d {FB} -j DROP || iptables -I FORWARD -j ACCEPT\n"
    )
    report = lint({"fw.sh": script})
    assert verdicts(report)["facebook"] == "blocked-partial"


def test_run_time_guard_makes_the_rule_a_maybe(lint):
    report = lint({"fw.sh": f"#!/bin/sh\n[ -f /etc/block-social ] && iptables -A FORWARD -d {FB} -j DROP\n"})
    assert verdicts(report)["facebook"] == "unknown"
    assert where(report, "TE907") == [("fw.sh", 2)]
    assert "[ -f /etc/block-social ]" in next(f.message for f in report.findings if f.code == "TE907")


def test_true_and_false_decide(lint):
    script = (
        f"#!/bin/sh\ntrue && iptables -A FORWARD -d {FB} -j DROP\nfalse && iptables -I FORWARD -j ACCEPT\n"
    )
    report = lint({"fw.sh": script})
    assert verdicts(report)["facebook"] == "blocked-partial"
    assert not where(report, "TE907")


def test_guarded_flush_leaves_the_rules_it_removes_unknown(lint):
    script = (
        f"#!/bin/sh\niptables -A FORWARD -d {FB} -j DROP\ngrep -q open /etc/mode || iptables -F FORWARD\n"
    )
    report = lint({"fw.sh": script})
    assert verdicts(report)["facebook"] == "unknown"
    assert verdicts(report)["twitter"] == "unaffected"  # a flush can only remove blocks
    assert where(report, "TE907") == [("fw.sh", 3)]


def test_guarded_policy_makes_passes_unknown(lint):
    report = lint(
        {"fw.sh": '#!/bin/sh\niptables -A FORWARD -j ACCEPT\n[ -n "$STRICT" ] && iptables -P FORWARD DROP\n'}
    )
    assert verdicts(report)["facebook"] == "unknown"


def test_heredoc_written_under_a_run_time_guard_is_unknown(lint):
    script = (
        "#!/bin/sh\n[ -d /etc/squid ] && cat > /etc/squid/squid.conf <<EOF\n"
        "acl fb dstdomain .facebook.com\nhttp_access deny fb\nhttp_access allow all\nEOF\n"
    )
    report = lint({"setup.sh": script})
    assert verdict(report, "squid", "facebook") == "unknown"
    assert where(report, "TE907") == [("setup.sh", 3), ("setup.sh", 4), ("setup.sh", 5)]
    assert all("[ -d /etc/squid ]" in f.message for f in report.findings if f.code == "TE907")


# ------------------------------------------------------------------ files a script loads

NFT_DROP = (
    "table inet filter {\n  chain forward {\n    type filter hook forward priority 0; policy accept;\n"
    f"    ip daddr {FB} drop\n  }}\n}}\n"
)


def test_nft_f_of_a_file_the_script_wrote(lint):
    script = "#!/bin/sh\ncat > /etc/fw/rules <<EOF\n" + NFT_DROP + "EOF\nnft -f /etc/fw/rules\n"
    report = lint({"setup.sh": script})
    assert verdict(report, "nftables", "facebook") == "blocked-partial"
    assert where(report, "TE102") == [("setup.sh", 6)]


def test_nft_f_of_a_repository_file_points_at_that_file(lint):
    report = lint({"setup.sh": "#!/bin/sh\nnft -f fw/repo.rules\n", "fw/repo.rules": NFT_DROP})
    assert verdict(report, "nftables", "facebook") == "blocked-partial"
    assert where(report, "TE102") == [("repo.rules", 4)]


def test_loads_of_files_not_here_are_unknown_with_te903(lint):
    report = lint({"setup.sh": "#!/bin/sh\nnft -f /etc/absent.nft\npfctl -f /etc/pf.conf\n"})
    assert verdict(report, "nftables", "facebook") == "unknown"
    assert verdict(report, "pf", "facebook") == "unknown"
    assert where(report, "TE903") == [("setup.sh", 2), ("setup.sh", 3)]


def test_loads_never_read_outside_the_root(lint, tmp_path):
    outside = tmp_path.parent / "outside-shellx.nft"
    outside.write_text(NFT_DROP)
    try:
        report = lint({"setup.sh": f"#!/bin/sh\nnft -f ../{outside.name}\nnft -f {outside}\n"})
    finally:
        outside.unlink()
    assert {f.services["facebook"].verdict.value for f in report.files} == {"unknown"}
    assert where(report, "TE903") == [("setup.sh", 2), ("setup.sh", 3)]


def test_iptables_restore_of_a_file_the_script_wrote(lint):
    script = (
        "#!/bin/sh\ncat > /etc/iptables/rules.v4 <<EOF\n*filter\n:FORWARD ACCEPT [0:0]\n"
        f"-A FORWARD -d {FB} -j DROP\nCOMMIT\nEOF\niptables-restore < /etc/iptables/rules.v4\n"
    )
    report = lint({"setup.sh": script})
    assert all(f.services["facebook"].verdict.value == "blocked-partial" for f in report.files)
    assert ("setup.sh", 5) in where(report, "TE102")
    assert not where(report, "TE903")


# ------------------------------------------------------------------ markdown shell fences


def test_markdown_sh_fence_heredoc_and_loop_keep_their_lines(lint):
    doc = (
        "# Runbook\n\nText.\n\n```sh\ncat > /etc/squid/squid.conf <<EOF\n"
        "acl fb dstdomain .facebook.com\nhttp_access deny fb\nhttp_access allow all\nEOF\n"
        f"for h in {FB}; do iptables -A FORWARD -d $h -j DROP; done\n```\n"
    )
    report = lint({"run.md": doc})
    assert verdict(report, "squid", "facebook") == "blocked"
    assert verdict(report, "iptables", "facebook") == "blocked-partial"
    assert where(report, "TE101") == [("run.md", 8)]
    assert where(report, "TE102") == [("run.md", 11)]
    assert not where(report, "TE901")  # the shell lines are not read as squid directives


def test_sed_in_place_edit_of_a_written_config_makes_it_unknown(lint):
    script = (
        "#!/bin/sh\ncat > /etc/squid/squid.conf <<EOF\nacl fb dstdomain .facebook.com\n"
        'http_access deny fb\nhttp_access allow all\nEOF\nsed -i "s/deny fb/allow fb/" /etc/squid/squid.conf\n'
    )
    report = lint({"setup.sh": script})
    assert verdict(report, "squid", "facebook") == "unknown"
    assert all("sed -i" in f.message for f in report.findings if f.code == "TE907")
    assert where(report, "TE907") == [("setup.sh", 3), ("setup.sh", 4), ("setup.sh", 5)]


def test_scripts_writing_pf_tables_are_unknown_not_silent(lint):
    script = "#!/bin/sh\necho 157.240.0.0/16 >> /etc/pf.tables/social\npfctl -t social -T add 31.13.24.0/21\n"
    report = lint({"tables.sh": script})
    assert report.files and all(f.services["facebook"].verdict.value == "unknown" for f in report.files)
    assert where(report, "TE907") == [("tables.sh", 2), ("tables.sh", 3)]

"""Linter UX: output formats, colour, selection, suppressions, settings files, baselines, init."""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET

import jsonschema
import pytest

from tests.conftest import REPO
from tests.test_cli import BLOCKING, run, write

SCHEMA = REPO.parent / "shared" / "data" / "schemas" / "sarif-schema-2.1.0.json"
TWO_BLOCKS = """\
acl fb dstdomain .facebook.com
acl tw dstdomain .twitter.com .x.com
http_access deny fb
http_access deny tw
http_access allow all
"""


def codes_of(stdout: str) -> list[str]:
    return [f["code"] for f in json.loads(stdout)["findings"]]


# ----------------------------------------------------------------- formats


def test_sarif_validates_against_the_official_schema(tmp_path):
    if not SCHEMA.is_file():
        from tests.conftest import skip_or_fail

        skip_or_fail(f"SARIF schema not found at {SCHEMA}")
    write(tmp_path / "etc/squid/lists/social.txt", ".linkedin.com\n")
    write(
        tmp_path / "etc/squid/squid.conf",
        """\
        acl social dstdomain "/etc/squid/lists/social.txt"
        acl cdn dstdomain .twimg.com
        http_access deny social
        http_access deny cdn
        http_access allow all
    """,
    )
    p = run("check", "--format", "sarif", "--root", str(tmp_path), "etc/squid/squid.conf", cwd=tmp_path)
    assert p.returncode == 1, p.stderr
    doc = json.loads(p.stdout)
    schema = json.loads(SCHEMA.read_text())
    jsonschema.validators.validator_for(schema)(schema).validate(doc)
    run_ = doc["runs"][0]
    rules = {r["id"]: r for r in run_["tool"]["driver"]["rules"]}
    assert rules["TE101"]["defaultConfiguration"]["level"] == "error"
    assert "How to fix" in rules["TE101"]["help"]["text"]
    by_code = {r["ruleId"]: r for r in run_["results"]}
    blocked = by_code["TE101"]
    region = blocked["locations"][0]["physicalLocation"]["region"]
    assert (region["startLine"], region["startColumn"]) == (3, 1)
    assert blocked["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "etc/squid/squid.conf"
    related = [loc["physicalLocation"]["artifactLocation"]["uri"] for loc in blocked["relatedLocations"]]
    assert "etc/squid/lists/social.txt" in related
    assert by_code["TE103"]["level"] == "warning"
    assert len(blocked["partialFingerprints"]["policyLintFinding/v1"]) == 32


def test_sarif_fingerprint_survives_moving_lines(tmp_path):
    conf = write(tmp_path / "squid.conf", BLOCKING)
    first = json.loads(run("check", "--format", "sarif", "squid.conf", cwd=tmp_path).stdout)
    conf.write_text("# a comment\n\n" + BLOCKING)
    second = json.loads(run("check", "--format", "sarif", "squid.conf", cwd=tmp_path).stdout)
    fp = [r["results"][0]["partialFingerprints"] for r in (first["runs"][0], second["runs"][0])]
    assert fp[0] == fp[1]


def test_junit(tmp_path):
    write(tmp_path / "squid.conf", TWO_BLOCKS)
    write(tmp_path / "clean.squid", "http_access allow all\n")
    p = run("check", "--format", "junit", "squid.conf", "clean.squid", cwd=tmp_path)
    root = ET.fromstring(p.stdout)
    suite = root.find("testsuite")
    assert suite is not None
    assert suite.get("failures") == "2" and suite.get("tests") == "3"
    failures = [f for f in (c.find("failure") for c in suite.iter("testcase")) if f is not None]
    assert {f.get("type") for f in failures} == {"TE101"}
    assert [c.get("classname") for c in suite.iter("testcase") if c.find("failure") is None] == [
        "clean.squid"
    ]


def test_github_annotations_are_chosen_in_actions(tmp_path):
    write(tmp_path / "squid.conf", BLOCKING)
    env = dict(os.environ, GITHUB_ACTIONS="true")
    import subprocess
    import sys

    p = subprocess.run(
        [sys.executable, "-m", "policy_lint", "check", "squid.conf"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert p.stdout.startswith("::error file=squid.conf,line=2,col=1,title=TE101 facebook::Facebook blocked")
    assert "%0A= squid.conf:1:1: acl social dstdomain .facebook.com" in p.stdout


def test_output_file(tmp_path):
    write(tmp_path / "squid.conf", BLOCKING)
    p = run("check", "--format", "json", "--output-file", "out.json", "squid.conf", cwd=tmp_path)
    assert p.returncode == 1 and p.stdout == ""
    assert codes_of((tmp_path / "out.json").read_text()) == ["TE101"]


@pytest.mark.parametrize(
    "args,env,coloured",
    [
        (["--color", "always"], {}, True),
        (["--color", "never"], {}, False),
        (["--color", "auto"], {}, False),  # not a terminal
    ],
)
def test_colour(tmp_path, args, env, coloured):
    write(tmp_path / "squid.conf", BLOCKING)
    p = run("check", *args, "squid.conf", cwd=tmp_path)
    assert ("\x1b[" in p.stdout) is coloured


def test_no_color_is_honoured_on_a_terminal(tmp_path):
    import subprocess
    import sys

    write(tmp_path / "squid.conf", BLOCKING)
    script = (
        "from policy_lint.cli import use_color\n"
        "class Terminal:\n    def isatty(self):\n        return True\n"
        "print(use_color('auto', Terminal()))"
    )
    for env, expected in (({}, "True"), ({"NO_COLOR": "1"}, "False")):
        base = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
        out = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, env={**base, **env}, timeout=60
        ).stdout.strip()
        assert out == expected


def test_quiet_statistics_exit_zero(tmp_path):
    write(tmp_path / "squid.conf", TWO_BLOCKS)
    p = run("check", "--quiet", "squid.conf", cwd=tmp_path)
    assert len(p.stdout.splitlines()) == 2 and "Found" not in p.stdout
    p = run("check", "--statistics", "--quiet", "squid.conf", cwd=tmp_path)
    assert "    2  TE101  service-blocked" in p.stdout
    p = run("check", "--exit-zero", "squid.conf", cwd=tmp_path)
    assert p.returncode == 0 and "TE101" in p.stdout


# ----------------------------------------------------------------- selection


@pytest.mark.parametrize(
    "args,expected",
    [
        ([], ["TE101", "TE101", "TE202"]),
        (["--select", "TE2"], ["TE202"]),
        (["--ignore", "TE2"], ["TE101", "TE101"]),
        (["--select", "TE1", "--extend-select", "TE202"], ["TE101", "TE101", "TE202"]),
        (
            ["--select", "TE", "--ignore", "TE1", "--select", "TE101"],
            ["TE101", "TE101", "TE202"],
        ),  # TE101 more specific
        (["--select", "TE1", "--ignore", "TE10"], []),
    ],
)
def test_select_ignore_by_prefix(tmp_path, args, expected):
    write(tmp_path / "squid.conf", TWO_BLOCKS + "acl unused dstdomain .linkedin.com\n")
    p = run("check", "--format", "json", *args, "squid.conf", cwd=tmp_path)
    assert sorted(codes_of(p.stdout)) == expected


# ----------------------------------------------------------------- suppressions


def test_suppression_on_the_line_before_and_the_line(tmp_path):
    write(
        tmp_path / "squid.conf",
        """\
        acl fb dstdomain .facebook.com
        acl tw dstdomain .twitter.com .x.com
        # policy-lint: disable=TE101 -- approved by the works council (ticket 42)
        http_access deny fb
        http_access deny tw
        http_access allow all
    """,
    )
    p = run("check", "--format", "json", "squid.conf", cwd=tmp_path)
    doc = json.loads(p.stdout)
    assert [(f["code"], f["service"]) for f in doc["findings"]] == [("TE101", "twitter")]
    assert [(f["code"], f["service"]) for f in doc["suppressed"]] == [("TE101", "facebook")]


def test_file_level_suppression_and_unused_suppression(tmp_path):
    write(
        tmp_path / "squid.conf",
        """\
        # policy-lint: disable-file=TE1
        acl fb dstdomain .facebook.com
        http_access deny fb
        # policy-lint: disable=TE103
        http_access allow all
    """,
    )
    p = run("check", "--format", "json", "squid.conf", cwd=tmp_path)
    found = json.loads(p.stdout)["findings"]
    assert [(f["code"], f["line"]) for f in found] == [("TE204", 4)]
    assert p.returncode == 1
    assert (
        codes_of(run("check", "--format", "json", "--ignore", "TE204", "squid.conf", cwd=tmp_path).stdout)
        == []
    )


def test_suppression_found_across_the_blocks_a_big_file_is_searched_in(tmp_path):
    from policy_lint import suppress

    # The marker straddles the first 1 MiB read block: it is still found, on its line.
    pad = "#" + "x" * 98 + "\n"  # 100 bytes
    head = pad * ((1 << 20) // 100) + "#" * ((1 << 20) % 100 - 4) + "\n"
    path = tmp_path / "squid.conf"
    path.write_text(head + "# policy-lint: disable=TE101 -- ok\nhttp_access deny all\n")
    assert path.read_bytes().index(b"policy-lint:") < 1 << 20 < path.read_bytes().index(b"-lint:")
    found = suppress.collect(str(path))
    assert [(s.span.line, s.codes) for s in found] == [(head.count("\n") + 1, ("TE101",))]
    path.write_text(head * 2 + "http_access deny all\n")
    assert suppress.collect(str(path)) == []


# ----------------------------------------------------------------- settings files


def test_settings_discovered_upwards_nearest_wins_cli_wins(tmp_path):
    write(tmp_path / "pyproject.toml", '[tool.policy-lint]\nignore = ["TE1"]\n')
    write(tmp_path / "net/squid.conf", TWO_BLOCKS + "acl unused dstdomain .linkedin.com\n")
    assert codes_of(run("check", "--format", "json", "net/squid.conf", cwd=tmp_path).stdout) == ["TE202"]
    write(tmp_path / "net/.policy-lint.yaml", "select: [TE1]\nseverity: {TE101: warning}\n")
    doc = json.loads(run("check", "--format", "json", "net/squid.conf", cwd=tmp_path).stdout)
    assert [(f["code"], f["severity"]) for f in doc["findings"]] == [("TE101", "warning")] * 2
    assert codes_of(
        run("check", "--format", "json", "--select", "TE2", "net/squid.conf", cwd=tmp_path).stdout
    ) == ["TE202"]


def test_settings_policy_path_is_relative_to_the_settings_file(tmp_path):
    write(tmp_path / "policies/lenient.yaml", "services:\n  linkedin: {severity: error}\n")
    write(tmp_path / ".policy-lint.yaml", "policy: policies/lenient.yaml\n")
    write(tmp_path / "squid.conf", TWO_BLOCKS)
    p = run("check", "squid.conf", cwd=tmp_path)
    assert p.returncode == 0, p.stdout  # facebook and twitter are not required by this policy


@pytest.mark.parametrize("text", ["selct: [TE1]\n", "severity: {TE101: loud}\n", "exit-zero: maybe\n"])
def test_bad_settings_are_a_clean_error(tmp_path, text):
    write(tmp_path / ".policy-lint.yaml", text)
    write(tmp_path / "squid.conf", BLOCKING)
    p = run("check", "squid.conf", cwd=tmp_path)
    assert p.returncode == 2 and "Traceback" not in p.stderr and ".policy-lint.yaml" in p.stderr


def test_init_writes_starter_files_and_refuses_to_overwrite(tmp_path):
    p = run("init", cwd=tmp_path)
    assert p.returncode == 0
    assert (tmp_path / ".policy-lint.yaml").is_file() and (tmp_path / "policy-lint-policy.yaml").is_file()
    write(tmp_path / "squid.conf", BLOCKING)
    assert run("check", "squid.conf", cwd=tmp_path).returncode == 1  # the starter policy is strict
    assert run("init", cwd=tmp_path).returncode == 2


# ----------------------------------------------------------------- baseline


def test_baseline_survives_line_moves_and_reports_new_and_stale(tmp_path):
    conf = write(tmp_path / "squid.conf", TWO_BLOCKS)
    p = run("check", "--write-baseline", "baseline.json", "squid.conf", cwd=tmp_path)
    assert p.returncode == 0 and "wrote 2 baseline entries" in p.stderr
    conf.write_text("# moved down\n\n\n" + TWO_BLOCKS)
    p = run("check", "--baseline", "baseline.json", "squid.conf", cwd=tmp_path)
    assert p.returncode == 0 and "No findings." in p.stdout
    conf.write_text(
        "acl li dstdomain .linkedin.com\nhttp_access deny li\n"
        + TWO_BLOCKS.replace("http_access deny tw\n", "")
    )
    doc = json.loads(
        run("check", "--format", "json", "--baseline", "baseline.json", "squid.conf", cwd=tmp_path).stdout
    )
    assert sorted((f["code"], f["service"]) for f in doc["findings"]) == [
        ("TE101", "linkedin"),
        ("TE202", "twitter"),
        ("TE205", "twitter"),
    ]  # TE202: acl tw is now unused
    stale = next(f for f in doc["findings"] if f["code"] == "TE205")
    assert stale["path"].endswith("baseline.json") and stale["line"] > 1


def test_corrupt_baseline_is_a_clean_error(tmp_path):
    write(tmp_path / "squid.conf", BLOCKING)
    write(tmp_path / "b.json", "{not json")
    p = run("check", "--baseline", "b.json", "squid.conf", cwd=tmp_path)
    assert p.returncode == 2 and "not a policy-lint baseline" in p.stderr


def test_pre_commit_hooks_file_names_the_entry_point():
    import yaml

    staged, every_file = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())
    assert staged["id"] == "policy-lint" and staged["entry"] == "policy-lint diff --staged"
    assert staged["pass_filenames"] is False
    assert every_file["id"] == "policy-lint-check" and every_file["entry"].startswith("policy-lint check")
    assert staged["files"] == every_file["files"]
    hook = every_file
    import re

    pattern = re.compile(hook["files"])
    for name in (
        "etc/squid/squid.conf",
        "squid.conf",
        "etc/hosts",
        "dnsmasq.d/social.conf",
        "etc/unbound/unbound.conf",
        "zones/db.rpz",
        "pihole/whitelist.txt",
        "etc/pf.conf",
        "pf.anchors/social",
        "backup/config-fw1-20260101.xml",
        "conf/config.xml",
        "iptables/rules.v4",
        "scripts/block-fb.ps1",
        "etc/nftables.conf",
        "fw/social.nft",
        "router/export.rsc",
        "etc/haproxy/haproxy.cfg",
        "etc/nginx/nginx.conf",
        "etc/nginx/sites-enabled/default",
    ):
        assert pattern.search(name), name
    for name in ("README.md", "apache2.conf", "setup.py", "pom.xml", "docs/confirm.xml"):
        assert not pattern.search(name), name


def test_skip_undetected(tmp_path):
    write(tmp_path / "notes.txt", "hello\n")
    write(tmp_path / "squid.conf", BLOCKING)
    assert run("check", "notes.txt", "squid.conf", cwd=tmp_path).returncode == 2
    assert run("check", "--skip-undetected", "notes.txt", "squid.conf", cwd=tmp_path).returncode == 1


def test_progress_bar_on_a_terminal_only(tmp_path):
    import pty
    import subprocess
    import sys

    for i in range(12):
        write(tmp_path / f"conf{i}/squid.conf", BLOCKING)
    master, slave = pty.openpty()
    p = subprocess.Popen(
        [sys.executable, "-m", "policy_lint", "check", "."],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=slave,
    )
    os.close(slave)
    assert p.stdout is not None  # stdout=PIPE
    p.stdout.read()
    p.wait(timeout=120)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    assert b"policy-lint" in b"".join(chunks) and b"%" in b"".join(chunks)
    piped = run("check", ".", cwd=tmp_path)
    assert "%" not in piped.stderr


def _scan_with_a_stranger(tmp_path) -> None:
    write(tmp_path / "etc" / "squid.conf", BLOCKING)
    write(tmp_path / "etc" / "notes.txt", "hello\n")


def test_sarif_notes_the_skipped_files_in_the_invocation(tmp_path):
    _scan_with_a_stranger(tmp_path)
    doc = json.loads(run("check", "--format", "sarif", "etc", cwd=tmp_path).stdout)
    [invocation] = doc["runs"][0]["invocations"]
    [note] = invocation["toolExecutionNotifications"]
    assert note["level"] == "note" and "unknown kind" in note["message"]["text"]
    assert note["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "etc/notes.txt"
    if SCHEMA.is_file():
        jsonschema.validate(doc, json.loads(SCHEMA.read_text()))


def test_junit_and_github_name_the_skipped_files(tmp_path):
    _scan_with_a_stranger(tmp_path)
    suite = ET.fromstring(run("check", "--format", "junit", "etc", cwd=tmp_path).stdout).find("testsuite")
    assert suite is not None and suite.get("skipped") == "1"
    [case] = [c for c in suite.iter("testcase") if c.find("skipped") is not None]
    assert case.get("classname") == "etc/notes.txt"
    out = run("check", "--format", "github", "etc", cwd=tmp_path).stdout
    assert "::notice title=policy-lint::skipped 1 file of unknown kind: etc/notes.txt (use --dialect)" in out

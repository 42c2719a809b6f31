"""`policy-lint diff` on real git repositories built by each test (real `git`, no mocks)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from policy_lint.cli import cli

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")

OPEN = "acl lan src 10.0.0.0/8\nhttp_access allow lan\nhttp_access deny all\n"
BLOCKS_FACEBOOK = (
    "acl lan src 10.0.0.0/8\nacl social dstdomain .facebook.com\n"
    "http_access deny social\nhttp_access allow lan\nhttp_access deny all\n"
)
GUESTS = (
    "acl guests src 10.50.0.0/16\nacl staff src 10.10.0.0/16\nacl social dstdomain .facebook.com\n"
    "http_access deny guests social\nhttp_access allow guests\nhttp_access allow staff\nhttp_access deny all\n"
)


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", *args],
        cwd=repo,
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
        env={
            **os.environ,
            "GIT_AUTHOR_NAME": "t",
            "GIT_AUTHOR_EMAIL": "t@example.invalid",
            "GIT_COMMITTER_NAME": "t",
            "GIT_COMMITTER_EMAIL": "t@example.invalid",
        },
    )
    return done.stdout


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "net"
    (root / "squid").mkdir(parents=True)
    (root / "squid" / "squid.conf").write_text(OPEN)
    (root / "README.md").write_text("network configs\n")
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "base")
    monkeypatch.chdir(root)
    return root


def commit(repo: Path, message: str) -> None:
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", message)


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["diff", *args])
    return result.exit_code, result.stdout, result.stderr


def changes(*args: str) -> tuple[int, list[dict]]:
    code, out, _ = run(*args, "--format", "json")
    return code, json.loads(out)["changes"]


def verdicts(found: list[dict]) -> list[tuple[str, str, str | None, str | None]]:
    return [(c["path"], c["service"], c["before"], c["after"]) for c in found if c["kind"] == "verdict"]


def test_a_rule_added_in_the_working_tree_starts_blocking_and_fails(repo: Path) -> None:
    (repo / "squid" / "squid.conf").write_text(BLOCKS_FACEBOOK)
    code, found = changes()
    assert code == 1
    assert verdicts(found) == [("squid/squid.conf", "facebook", "unaffected", "blocked")]
    verdict = found[0]
    assert verdict["rule"] == {"path": "squid/squid.conf", "line": 3, "text": "http_access deny social"}
    assert verdict["marker"] == "+" and verdict["code"] == "TE101"
    introduced = [c for c in found if c["kind"] == "introduced"]
    assert [(c["code"], c["rule"]["line"]) for c in introduced] == [("TE101", 3)]
    code, out, _ = run()
    assert "+ squid/squid.conf:3:1: facebook: unaffected -> blocked" in out


def test_a_removed_block_passes_and_says_what_it_gave_back(repo: Path) -> None:
    (repo / "squid" / "squid.conf").write_text(BLOCKS_FACEBOOK)
    commit(repo, "block")
    (repo / "squid" / "squid.conf").write_text(OPEN)
    code, found = changes()
    assert code == 0
    assert verdicts(found) == [("squid/squid.conf", "facebook", "blocked", "unaffected")]
    assert found[0]["marker"] == "-"
    # The removed rule is named on the old side.
    assert found[0]["rule"]["text"] == "http_access deny social"
    assert [c["kind"] for c in found[1:]] == ["resolved"]


def test_two_revisions_are_compared_without_touching_the_working_tree(repo: Path) -> None:
    (repo / "squid" / "squid.conf").write_text(BLOCKS_FACEBOOK)
    commit(repo, "block")
    (repo / "squid" / "squid.conf").write_text("half-edited, not a config\n")
    code, found = changes("HEAD~1", "HEAD")
    assert code == 1
    assert verdicts(found) == [("squid/squid.conf", "facebook", "unaffected", "blocked")]
    assert (repo / "squid" / "squid.conf").read_text() == "half-edited, not a config\n"
    assert git(repo, "status", "--porcelain") == " M squid/squid.conf\n"


def test_an_allow_moved_above_the_deny_stops_the_block(repo: Path) -> None:
    (repo / "squid" / "squid.conf").write_text(BLOCKS_FACEBOOK)
    commit(repo, "block")
    reordered = (
        "acl lan src 10.0.0.0/8\nacl social dstdomain .facebook.com\n"
        "http_access allow lan\nhttp_access deny social\nhttp_access deny all\n"
    )
    (repo / "squid" / "squid.conf").write_text(reordered)
    code, found = changes()
    assert code == 0
    assert verdicts(found) == [("squid/squid.conf", "facebook", "blocked", "unaffected")]


def test_a_line_moved_by_an_edit_above_it_is_no_change(repo: Path) -> None:
    (repo / "squid" / "squid.conf").write_text(BLOCKS_FACEBOOK)
    commit(repo, "block")
    (repo / "squid" / "squid.conf").write_text("# proxy for the office\n\n" + BLOCKS_FACEBOOK)
    code, found = changes()
    assert (code, found) == (0, [])


def test_an_edited_include_list_changes_the_config_that_reads_it(repo: Path) -> None:
    (repo / "squid" / "social.txt").write_text(".example.org\n")
    (repo / "squid" / "squid.conf").write_text(
        'acl lan src 10.0.0.0/8\nacl social dstdomain "/etc/squid/social.txt"\n'
        "http_access deny social\nhttp_access allow lan\nhttp_access deny all\n"
    )
    commit(repo, "list")
    (repo / "squid" / "social.txt").write_text(".example.org\n.linkedin.com\n")
    code, found = changes()
    assert code == 1
    assert verdicts(found) == [("squid/squid.conf", "linkedin", "unaffected", "blocked")]


def test_a_deleted_list_makes_the_verdict_unknown(repo: Path) -> None:
    (repo / "squid" / "social.txt").write_text(".facebook.com\n")
    (repo / "squid" / "squid.conf").write_text(
        'acl lan src 10.0.0.0/8\nacl social dstdomain "/etc/squid/social.txt"\n'
        "http_access deny social\nhttp_access allow lan\nhttp_access deny all\n"
    )
    commit(repo, "list")
    (repo / "squid" / "social.txt").unlink()
    code, found = changes()
    assert code == 1
    changed = {(c["service"], c["before"], c["after"]) for c in found if c["kind"] == "verdict"}
    assert ("facebook", "blocked", "unknown") in changed
    assert any(c["kind"] == "introduced" and c["code"] == "TE903" for c in found)


def test_a_renamed_file_follows_its_rename(repo: Path) -> None:
    (repo / "squid" / "squid.conf").write_text(BLOCKS_FACEBOOK)
    commit(repo, "block")
    git(repo, "mv", "squid/squid.conf", "squid/office-squid.conf")
    code, found = changes("--staged")
    assert (code, found) == (0, [])
    (repo / "squid" / "office-squid.conf").write_text(OPEN)
    git(repo, "add", "-A")
    code, found = changes("--staged")
    assert code == 0
    assert verdicts(found) == [("squid/office-squid.conf", "facebook", "blocked", "unaffected")]


def test_a_policy_exception_added_with_the_block_is_accepted(repo: Path) -> None:
    (repo / ".policy-lint.yaml").write_text("policy: policy.yaml\n")
    (repo / "policy.yaml").write_text(
        "version: 1\nservices:\n  facebook: {severity: error}\n  twitter: {severity: error}\n"
        "audiences:\n  guests: {networks: [10.50.0.0/16]}\n  staff: {networks: [10.10.0.0/16]}\n"
    )
    commit(repo, "policy")
    (repo / "squid" / "squid.conf").write_text(GUESTS)
    code, found = changes()
    assert code == 1
    assert [c["code"] for c in found if c["kind"] == "introduced"] == ["TE102"]
    with open(repo / "policy.yaml", "a") as fh:
        fh.write(
            "exceptions:\n  - {service: facebook, audience: guests, reason: bandwidth (NET-142), expires: 2099-01-01}\n"
        )
    code, found = changes()
    assert code == 0
    assert verdicts(found) == [("squid/squid.conf", "facebook", "unaffected", "blocked-partial")]
    assert not [c for c in found if c["kind"] == "introduced"]


def test_staged_sees_the_index_not_the_working_tree(repo: Path) -> None:
    (repo / "squid" / "squid.conf").write_text(BLOCKS_FACEBOOK)
    git(repo, "add", "-A")
    (repo / "squid" / "squid.conf").write_text(OPEN)
    assert changes("--staged")[0] == 1
    assert changes() == (0, [])


def test_only_files_the_change_can_affect_are_linted(repo: Path) -> None:
    for n in range(5):
        (repo / "squid" / f"site{n}.conf").write_text(BLOCKS_FACEBOOK)
    # Mentions site0.conf by name: it could read it, so it is linted again (and its lint
    # reused from the base, since neither it nor anything it read changed).
    (repo / "squid" / "site1.conf").write_text("# a copy of site0.conf\n" + BLOCKS_FACEBOOK)
    commit(repo, "sites")
    (repo / "squid" / "site0.conf").write_text(OPEN)
    code, out, _ = run("--format", "json")
    doc = json.loads(out)
    assert code == 0
    assert (doc["files"], doc["reused"]) == (2, 1)
    assert verdicts(doc["changes"]) == [("squid/site0.conf", "facebook", "blocked", "unaffected")]


def test_a_file_read_through_a_glob_include_changes_the_includer(repo: Path) -> None:
    (repo / "squid" / "conf.d").mkdir()
    (repo / "squid" / "conf.d" / "social.conf").write_text("acl social dstdomain .example.org\n")
    (repo / "squid" / "squid.conf").write_text(
        "acl lan src 10.0.0.0/8\ninclude /etc/squid/conf.d/*.conf\n"
        "http_access deny social\nhttp_access allow lan\nhttp_access deny all\n"
    )
    commit(repo, "glob")
    (repo / "squid" / "conf.d" / "social.conf").write_text("acl social dstdomain .twitter.com\n")
    code, found = changes()
    assert code == 1
    assert verdicts(found) == [("squid/squid.conf", "twitter", "unaffected", "blocked-partial")]


def test_a_changed_policy_relints_everything(repo: Path) -> None:
    (repo / ".policy-lint.yaml").write_text("policy: policy.yaml\n")
    (repo / "policy.yaml").write_text("version: 1\nservices:\n  facebook: {severity: error}\n")
    (repo / "squid" / "squid.conf").write_text(BLOCKS_FACEBOOK)
    commit(repo, "policy")
    (repo / "policy.yaml").write_text("version: 1\nservices:\n  facebook: {severity: warning}\n")
    code, out, _ = run("--format", "json")
    assert code == 0
    assert json.loads(out)["files"] == 1  # squid.conf, linted again although unchanged


def test_paths_limit_the_comparison(repo: Path) -> None:
    (repo / "other").mkdir()
    (repo / "other" / "squid.conf").write_text(BLOCKS_FACEBOOK)
    assert changes("squid")[1] == []
    assert changes("HEAD", "other")[0] == 1


def test_formats_for_reviews(repo: Path) -> None:
    (repo / "squid" / "squid.conf").write_text(BLOCKS_FACEBOOK)
    code, markdown, _ = run("--format", "markdown")
    assert code == 1
    assert "| + | facebook |" in markdown and "`squid/squid.conf:3:1`" in markdown
    code, sarif, _ = run("--format", "sarif")
    results = json.loads(sarif)["runs"][0]["results"]
    assert [(r["ruleId"], r["locations"][0]["physicalLocation"]["region"]["startLine"]) for r in results] == [
        ("TE101", 3)
    ]
    code, github, _ = run("--format", "github")
    assert github.startswith("::error file=squid/squid.conf,line=3")


def test_errors_exit_2_with_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, repo: Path) -> None:
    code, _, err = run("no-such-revision", "HEAD")
    assert code == 2 and err.strip() == "policy-lint: error: no-such-revision: unknown revision"
    code, _, err = run("--staged", "HEAD", "HEAD")
    assert code == 2 and "at most one revision" in err
    elsewhere = tmp_path / "plain"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    code, _, err = run()
    assert code == 2 and "not inside a git repository" in err and "Traceback" not in err


def test_first_commit_compares_with_the_empty_tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "fresh"
    root.mkdir()
    git(root, "init", "-q")
    (root / "squid.conf").write_text(BLOCKS_FACEBOOK)
    git(root, "add", "-A")
    monkeypatch.chdir(root)
    code, found = changes("--staged")
    assert code == 1
    assert verdicts(found) == [("squid.conf", "facebook", None, "blocked")]

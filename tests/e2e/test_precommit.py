"""The pre-commit hook with the real `pre-commit`: a network-config repo whose squid.conf
blocks Facebook fails the hook with the finding; after the fix, or with a suppression, it passes.

`pre-commit try-repo` builds the hook from this project's working tree (uncommitted changes
included) into an environment under a temporary PRE_COMMIT_HOME; it needs the package index
for our dependencies, nothing else.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, skip_or_fail

pytestmark = pytest.mark.e2e

BLOCKING = "acl social dstdomain .facebook.com\nhttp_access deny social\nhttp_access allow all\n"


def git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", *args],
        cwd=repo,
        check=True,
        capture_output=True,
        timeout=60,
        env={
            **os.environ,
            "GIT_AUTHOR_NAME": "t",
            "GIT_AUTHOR_EMAIL": "t@example.invalid",
            "GIT_COMMITTER_NAME": "t",
            "GIT_COMMITTER_EMAIL": "t@example.invalid",
        },
    )


def test_pre_commit_try_repo_fails_on_a_block_and_passes_after_the_fix(tmp_path):
    pre_commit = shutil.which("pre-commit", path=str(Path(sys.executable).parent)) or shutil.which(
        "pre-commit"
    )
    if pre_commit is None or shutil.which("git") is None:
        skip_or_fail("pre-commit or git not installed (scripts/test.sh installs the test extras)")
    assert pre_commit is not None  # skip_or_fail raised
    repo = tmp_path / "network-configs"
    conf = repo / "etc" / "squid" / "squid.conf"
    conf.parent.mkdir(parents=True)
    conf.write_text(BLOCKING)
    (repo / "README.md").write_text("not a config\n")
    git(repo, "init", "-q")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "proxy")
    env = {**os.environ, "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home"), "NO_COLOR": "1"}

    def try_repo() -> subprocess.CompletedProcess:
        return subprocess.run(
            [pre_commit, "try-repo", str(REPO), "policy-lint", "--all-files"],
            cwd=repo,
            capture_output=True,
            text=True,
            timeout=900,
            env=env,
        )

    failed = try_repo()
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "etc/squid/squid.conf:2:1: TE101 Facebook blocked for everyone" in failed.stdout, failed.stdout

    conf.write_text(
        BLOCKING.replace(
            "http_access deny social",
            "# policy-lint: disable=TE101 -- approved exception (ticket 7)\nhttp_access deny social",
        )
    )
    git(repo, "commit", "-qam", "suppress")
    suppressed = try_repo()
    assert suppressed.returncode == 0, suppressed.stdout + suppressed.stderr

    conf.write_text("acl social dstdomain .facebook.com\nhttp_access allow all\nhttp_access deny social\n")
    git(repo, "commit", "-qam", "fix")
    fixed = try_repo()
    # The ACL is unused now (TE202, informational), which does not fail the hook.
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr

"""The pre-commit hook with the real `pre-commit`: a network-config repo whose squid.conf
blocks Facebook fails the hook with the finding; after the fix, or with a suppression, it passes.

`pre-commit try-repo` builds the hook from this project's working tree (uncommitted changes
included) into an environment under a temporary PRE_COMMIT_HOME: virtualenv makes it (from the
pip and setuptools wheels it carries) and `pip install .` installs the project into it. That
pip never reaches a package index: PIP_NO_INDEX=1, PIP_CONFIG_FILE=/dev/null (this machine's
pip configuration names indexes), and PIP_FIND_LINKS points at a wheelhouse built from the
test environment itself (tests/e2e/wheelhouse.py: the installed dependencies repacked as
wheels, and virtualenv's setuptools wheel for the build). Where `unshare -n` works (as root:
CI), pre-commit runs in a private network namespace with no interface up, so any attempt to
reach the network fails the hook install, and so the test.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, no_network_prefix, skip_or_fail
from tests.e2e.wheelhouse import build_wheelhouse

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
    wheelhouse = tmp_path / "wheelhouse"
    build_wheelhouse(wheelhouse)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "VIRTUALENV_"))},
        "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home"),
        "NO_COLOR": "1",
        # pip in the hook's environment: no index, this machine's pip config ignored, our wheels.
        "PIP_NO_INDEX": "1",
        "PIP_CONFIG_FILE": os.devnull,
        "PIP_FIND_LINKS": str(wheelhouse),
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        # virtualenv seeds from the wheels it carries and never looks for newer ones.
        "VIRTUALENV_NO_DOWNLOAD": "1",
        "VIRTUALENV_NO_PERIODIC_UPDATE": "1",
    }

    def try_repo(hook: str = "policy-lint-check", *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*no_network_prefix(), pre_commit, "try-repo", str(REPO), hook, *(args or ("--all-files",))],
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

    # The default hook reviews the staged change (`diff --staged`): a staged change that
    # introduces a block fails it, whatever was there before; one that removes a block passes.
    other = repo / "etc" / "squid" / "squid-branch.conf"
    other.write_text(BLOCKING)
    git(repo, "add", "-A")
    introduced = try_repo("policy-lint", "--hook-stage", "pre-commit")
    assert introduced.returncode == 1, introduced.stdout + introduced.stderr
    assert "+ etc/squid/squid-branch.conf:2:1: facebook: (no file) -> blocked" in introduced.stdout
    git(repo, "commit", "-qm", "branch office blocks (legacy)")
    other.write_text("acl social dstdomain .facebook.com\nhttp_access allow all\n")
    git(repo, "add", "-A")
    removed = try_repo("policy-lint", "--hook-stage", "pre-commit", "--verbose")  # output of a pass
    assert removed.returncode == 0, removed.stdout + removed.stderr
    assert "- etc/squid/squid-branch.conf" in removed.stdout, removed.stdout

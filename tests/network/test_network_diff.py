"""`policy-lint diff` fills Change.segment for network verdict changes (real git repositories)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from policy_lint.cli import cli
from tests.network.repos import OFFICE, write_repo
from tests.test_diff import commit, git

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def test_a_change_to_the_proxy_changes_the_guest_segment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = write_repo(tmp_path / "office", OFFICE)
    git(root, "init", "-q")
    commit(root, "base")
    monkeypatch.chdir(root)
    squid = root / "squid" / "squid.conf"
    squid.write_text(squid.read_text().replace("http_access deny guest social\n", ""))
    result = CliRunner().invoke(cli, ["diff", "--format", "json"])
    changes = json.loads(result.stdout)["changes"]
    network = [c for c in changes if c["kind"] == "verdict" and c["segment"]]
    assert [(c["segment"], c["service"], c["before"], c["after"], c["marker"]) for c in network] == [
        ("guest", "linkedin", "blocked", "unaffected", "-")
    ]
    assert network[0]["path"] == "squid/squid.conf"
    # The file's own verdict change is still reported, without a segment.
    assert any(
        c["kind"] == "verdict" and c["segment"] is None and c["service"] == "linkedin" for c in changes
    )

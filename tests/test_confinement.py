"""Confinement (#20 item 8): a symbolic link or `..` in a scanned file, an include, a list path
or a settings file never makes policy-lint read a file outside the repository (tested with a
link to a system file), and settings and policies from the repository cannot execute anything."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SYSTEM_FILE = Path("/etc/passwd")
pytestmark = pytest.mark.skipif(not SYSTEM_FILE.is_file(), reason="needs a system file to link to")
# A line every /etc/passwd holds: if it shows up in any output, the file was read.
LEAK = "root:"


def run(repo: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "policy_lint", *args], capture_output=True, text=True, cwd=repo, timeout=120
    )


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / ".git").mkdir(parents=True)  # the work tree's top, as find_root sees it
    (root / "etc" / "squid").mkdir(parents=True)
    return root


def test_a_scanned_link_to_a_system_file_is_skipped_unread(repo: Path) -> None:
    (repo / "etc" / "squid" / "squid.conf").write_text("http_access allow all\n")
    (repo / "etc" / "squid" / "squid-old.conf").symlink_to(SYSTEM_FILE)
    done = run(repo, "check", "--format", "json", ".")
    assert done.returncode == 0, done.stderr
    assert LEAK not in done.stdout + done.stderr
    assert "outside the repository" in done.stdout  # the skipped entry says why


def test_a_named_link_to_a_system_file_is_one_error(repo: Path) -> None:
    (repo / "etc" / "squid" / "squid.conf").symlink_to(SYSTEM_FILE)
    done = run(repo, "check", "etc/squid/squid.conf")
    assert done.returncode == 2
    assert done.stderr.strip().endswith("outside the repository: not read")
    assert LEAK not in done.stdout + done.stderr


@pytest.mark.parametrize("reference", ['"/etc/squid/list.txt"', '"../../../../../../../../etc/passwd"'])
def test_an_include_that_leaves_the_repository_is_not_read(repo: Path, reference: str) -> None:
    (repo / "etc" / "squid" / "list.txt").symlink_to(SYSTEM_FILE)
    (repo / "etc" / "squid" / "squid.conf").write_text(
        f"acl lan src 10.0.0.0/8\nacl listed dstdomain {reference}\n"
        "http_access deny listed\nhttp_access allow lan\n"
    )
    done = run(repo, "check", "--format", "json", "etc/squid/squid.conf")
    assert LEAK not in done.stdout + done.stderr
    assert '"TE903"' in done.stdout and '"verdict": "unknown"' in done.stdout


def test_settings_cannot_name_a_policy_outside_the_repository(repo: Path) -> None:
    (repo / ".policy-lint.yaml").write_text("policy: ../../../../../../../../etc/passwd\n")
    (repo / "etc" / "squid" / "squid.conf").write_text("http_access allow all\n")
    done = run(repo, "check", "etc/squid/squid.conf")
    assert done.returncode == 2 and "points outside the repository" in done.stderr
    assert LEAK not in done.stdout + done.stderr


def test_settings_and_policies_cannot_execute_anything(repo: Path, tmp_path: Path) -> None:
    marker = tmp_path / "executed"
    payload = f'!!python/object/apply:os.system ["touch {marker}"]'
    (repo / "policy.yaml").write_text(f"version: 1\nname: {payload}\n")
    (repo / ".policy-lint.yaml").write_text(f"policy: policy.yaml\nformat: {payload}\n")
    (repo / "etc" / "squid" / "squid.conf").write_text("http_access allow all\n")
    done = run(repo, "check", "etc/squid/squid.conf")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    (repo / ".policy-lint.yaml").write_text("policy: policy.yaml\n")
    done = run(repo, "check", "etc/squid/squid.conf")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert not marker.exists()


def test_a_linked_directory_is_inside_only_when_its_target_is(repo: Path, tmp_path: Path) -> None:
    """Resolver.inside follows links in any directory of a path (resolved once per directory):
    a link to a folder of the repository stays inside, one to /etc does not, a link loop is
    refused as Path.resolve refuses it, and a path that does not exist is judged by its text."""
    from policy_lint.inputs import Resolver

    conf_dir = repo / "etc" / "squid"
    (repo / "lists").mkdir()
    (repo / "lists" / "a.txt").write_text("x\n")
    (conf_dir / "in").symlink_to(repo / "lists")
    (conf_dir / "out").symlink_to(SYSTEM_FILE.parent)
    (conf_dir / "loop").symlink_to(conf_dir / "loop")
    resolver = Resolver(repo)
    assert resolver.inside(conf_dir / "in" / "a.txt", conf_dir)
    assert not resolver.inside(conf_dir / "out" / SYSTEM_FILE.name, conf_dir)
    assert resolver.inside(conf_dir / "in" / "missing" / "x", conf_dir)
    assert not resolver.inside(tmp_path / "elsewhere" / "x", conf_dir)
    with pytest.raises(RuntimeError):
        (conf_dir / "loop" / "x").resolve()
    with pytest.raises(RuntimeError):
        resolver.inside(conf_dir / "loop" / "x", conf_dir)
    # Asked again (the directories now remembered), the answers stay the same.
    assert resolver.inside(conf_dir / "in" / "a.txt", conf_dir)
    assert not resolver.inside(conf_dir / "out" / SYSTEM_FILE.name, conf_dir)

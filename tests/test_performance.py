"""Start-up and whole-repository performance, by behaviour (no timed assertions):

- the catalog's parse is cached under XDG_CACHE_HOME, keyed by the sha256 of the YAML's bytes,
  and a cache whose key does not match the YAML read now is never used;
- a small lint imports nothing it does not need (PyYAML, tomllib, structlog, mitmproxy);
- `check --jobs N` prints the same bytes, in the same order, as `--jobs 1`.
"""

from __future__ import annotations

import marshal
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from policy_lint.catalog import cache as catalog_cache
from policy_lint.catalog import load_catalog
from policy_lint.engine import LintedFile, Options, lint_paths
from policy_lint.policy import strict_policy
from policy_lint.report import json as json_report
from policy_lint.report import sarif as sarif_report
from policy_lint.report import text as text_report
from tests.conftest import REPO

SQUID = """\
acl lan src 10.0.0.0/8
acl social dstdomain .facebook.com
http_access deny social
http_access allow lan
http_access deny all
"""


class Parser:
    """The parse function handed to the cache: records each call (how a miss shows)."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, files: dict[str, bytes]) -> dict[str, str]:
        self.calls += 1
        return {name: data.decode() for name, data in files.items()}


@pytest.fixture
def xdg(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("POLICY_LINT_NO_CACHE", raising=False)
    return tmp_path / "xdg" / "policy-lint"


# ------------------------------------------------------------------ catalog cache


def test_second_load_of_the_same_bytes_comes_from_the_cache(xdg):
    parse = Parser()
    files = {"services.yaml": b"a: 1\n"}
    assert catalog_cache.load_parsed(files, parse) == {"services.yaml": "a: 1\n"}
    assert catalog_cache.load_parsed(files, parse) == {"services.yaml": "a: 1\n"}
    assert parse.calls == 1
    assert len(list(xdg.glob("catalog-*.marshal"))) == 1


def test_changed_content_is_parsed_again_never_read_from_the_old_cache(xdg):
    parse = Parser()
    assert catalog_cache.load_parsed({"services.yaml": b"old\n"}, parse) == {"services.yaml": "old\n"}
    # Same names, same length, other bytes: a new key.
    assert catalog_cache.load_parsed({"services.yaml": b"new\n"}, parse) == {"services.yaml": "new\n"}
    assert parse.calls == 2
    # And a file added to the set changes the key too.
    both = {"services.yaml": b"new\n", "addresses.yaml": b"x\n"}
    assert catalog_cache.load_parsed(both, parse) == {"services.yaml": "new\n", "addresses.yaml": "x\n"}
    assert parse.calls == 3


def test_a_cache_file_whose_stored_key_does_not_match_is_not_trusted(xdg):
    parse = Parser()
    files = {"services.yaml": b"real\n"}
    catalog_cache.load_parsed(files, parse)
    (target,) = xdg.glob("catalog-*.marshal")
    # Someone (or a crash, or a collision of the file name) left other data under that name.
    target.write_bytes(marshal.dumps(("0" * 64, {"services.yaml": "forged"})))
    assert catalog_cache.load_parsed(files, parse) == {"services.yaml": "real\n"}
    assert parse.calls == 2
    # ... and it was rewritten with the right key.
    assert marshal.loads(target.read_bytes())[0] == catalog_cache.content_key(files)


def test_a_corrupt_cache_file_is_parsed_around(xdg):
    parse = Parser()
    files = {"services.yaml": b"real\n"}
    catalog_cache.load_parsed(files, parse)
    (target,) = xdg.glob("catalog-*.marshal")
    target.write_bytes(b"\x00garbage")
    assert catalog_cache.load_parsed(files, parse) == {"services.yaml": "real\n"}
    assert parse.calls == 2


def test_an_unwritable_cache_dir_means_no_cache_not_an_error(tmp_path, monkeypatch):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the cache directory would go")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    parse = Parser()
    files = {"services.yaml": b"a\n"}
    assert catalog_cache.load_parsed(files, parse) == {"services.yaml": "a\n"}
    assert catalog_cache.load_parsed(files, parse) == {"services.yaml": "a\n"}
    assert parse.calls == 2


def test_policy_lint_no_cache_turns_it_off(xdg, monkeypatch):
    monkeypatch.setenv("POLICY_LINT_NO_CACHE", "1")
    parse = Parser()
    catalog_cache.load_parsed({"services.yaml": b"a\n"}, parse)
    assert not xdg.exists()


def _age(path: Path, days: float) -> None:
    then = time.time() - days * 86400
    os.utime(path, (then, then))


def test_a_new_catalog_entry_prunes_other_keys_unused_for_a_month_and_keeps_recent_ones(xdg):
    catalog_cache.load_parsed({"services.yaml": b"v1\n"}, Parser())
    catalog_cache.load_parsed({"services.yaml": b"v2\n"}, Parser())
    old, recent = sorted(xdg.glob("catalog-*.marshal"), key=lambda p: p.read_bytes().count(b"v2"))
    _age(old, 31)
    _age(recent, 29)
    catalog_cache.load_parsed({"services.yaml": b"v3\n"}, Parser())  # a write: prunes
    left = sorted(xdg.glob("catalog-*.marshal"))
    assert old not in left and recent in left and len(left) == 2


def test_reading_an_entry_marks_it_used_so_it_survives_the_next_prune(xdg):
    files = {"services.yaml": b"kept\n"}
    catalog_cache.load_parsed(files, Parser())
    (entry,) = xdg.glob("catalog-*.marshal")
    _age(entry, 40)
    parse = Parser()
    catalog_cache.load_parsed(files, parse)  # a hit: refreshes the entry's age
    assert parse.calls == 0
    catalog_cache.load_parsed({"services.yaml": b"other\n"}, Parser())  # a write: prunes
    assert entry.exists()


def test_a_detection_directory_of_new_code_prunes_old_code_directories(xdg, tmp_path):
    from policy_lint.dialects import detect_cache

    stale = xdg / "detect-0000"
    stale.mkdir(parents=True)
    (stale / "entry").write_text("k\nproxies.squid")
    _age(stale / "entry", 60)
    _age(stale, 60)
    fresh = xdg / "detect-1111"
    fresh.mkdir()
    conf = tmp_path / "acl.rules"
    conf.write_text(SQUID)
    detect_cache.remember(conf, "head", "proxies.squid")  # creates this code's directory
    assert not stale.exists() and fresh.exists()
    assert detect_cache.lookup(conf, "head") == "proxies.squid"


def test_the_catalog_from_the_cache_equals_the_catalog_from_the_yaml(xdg, monkeypatch):
    first = load_catalog()  # a miss: parses the YAML and writes the cache
    assert list(xdg.glob("catalog-*.marshal"))
    second = load_catalog()  # a hit
    monkeypatch.setenv("POLICY_LINT_NO_CACHE", "1")
    uncached = load_catalog()
    assert first == second == uncached


def test_a_small_lint_with_the_cache_imports_no_yaml_toml_structlog_or_mitmproxy(tmp_path):
    conf = tmp_path / "squid.conf"
    conf.write_text(SQUID)
    code = textwrap.dedent(
        f"""
        import sys
        from policy_lint.cli import main
        sys.argv = ["policy-lint", "check", {str(conf)!r}]
        try:
            main()
        except SystemExit:
            pass
        print("LOADED", sorted(m for m in ("yaml", "tomllib", "structlog", "mitmproxy") if m in sys.modules))
        """
    )
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "xdg")}
    env.pop("POLICY_LINT_NO_CACHE", None)
    runs = [
        subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120, cwd=tmp_path
        )
        for _ in range(2)
    ]
    # The first run parses the catalog (PyYAML) and writes the cache; the second reads it.
    assert "LOADED ['yaml']" in runs[0].stdout, runs[0].stderr
    assert "LOADED []" in runs[1].stdout, runs[1].stderr
    assert runs[0].stdout.split("LOADED")[0] == runs[1].stdout.split("LOADED")[0]


# Modules a `check` of one squid or squidGuard file has no use for: the other commands (their
# modules are imported only when they run, or when help lists them), what only a baseline, an
# --extra-vars word or a worker pool needs, and the heavy libraries behind traffic and audit.
NOT_FOR_A_CHECK = (
    "policy_lint.traffic",
    "policy_lint.audit",
    "policy_lint.diff",
    "policy_lint.baseline",
    "policy_lint.parallel",
    "json",
    "shlex",
    "duckdb",
    "mitmproxy",
    "pyspark",
    "multiprocessing",
)
SQUIDGUARD = """\
dbhome /var/lib/squidguard/db
dest social {
    domainlist social/domains
}
acl {
    default {
        pass !social all
        redirect http://localhost/blocked
    }
}
"""


@pytest.mark.parametrize(("name", "text"), [("squid.conf", SQUID), ("squidGuard.conf", SQUIDGUARD)])
def test_a_check_imports_no_other_command_and_nothing_it_does_not_use(tmp_path, name, text):
    (tmp_path / "var/lib/squidguard/db/social").mkdir(parents=True)
    (tmp_path / "var/lib/squidguard/db/social/domains").write_text("facebook.com\ntwitter.com\n")
    conf = tmp_path / name
    conf.write_text(text)
    code = textwrap.dedent(
        f"""
        import sys
        from policy_lint.cli import main
        sys.argv = ["policy-lint", "check", "--format", "text", "--root", {str(tmp_path)!r}, {str(conf)!r}]
        try:
            main()
        except SystemExit:
            pass
        print("LOADED", sorted({{m.split(".")[0] if not m.startswith("policy_lint") else ".".join(m.split(".")[:2])
                                 for m in sys.modules}}))
        """
    )
    p = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
    loaded = p.stdout.split("LOADED")[1]
    assert "facebook" in p.stdout and "'policy_lint.engine'" in loaded, p.stdout + p.stderr
    assert [m for m in NOT_FOR_A_CHECK if f"'{m}'" in loaded] == []


def test_the_commands_imported_lazily_are_listed_in_help_and_run(tmp_path):
    """The group imports traffic, probe, live and audit on demand: help still lists them all, with
    the same words as their own modules give, and each one's own --help works."""
    from click.testing import CliRunner

    from policy_lint.cli import LAZY_COMMANDS, cli

    listing = CliRunner().invoke(cli, ["--help"]).output.split("Commands:")[1]
    for name in LAZY_COMMANDS:
        assert f"  {name} " in listing
        result = CliRunner().invoke(cli, [name, "--help"])
        assert result.exit_code == 0 and f"Usage: cli {name} [OPTIONS]" in result.output, result.output
    assert "  check " in listing and "  services " in listing


# ------------------------------------------------------------------ --jobs


def _render_all(report) -> tuple[str, str, str]:
    return (
        json_report.render(report),
        text_report.render(report, with_trace=True, summary=True, color=False, statistics=True),
        sarif_report.render(report),
    )


def test_parallel_lint_of_examples_equals_the_sequential_one():
    catalog = load_catalog()
    policy = strict_policy(catalog)
    paths = [REPO / "examples"]
    one = lint_paths(paths, catalog, policy, Options(jobs=1))
    # Below the usual threshold: lowered so that the examples do go through workers.
    two = lint_paths(paths, catalog, policy, Options(jobs=2, parallel_min_files=1))
    assert len(one.files) > 3
    assert _render_all(one) == _render_all(two)
    assert one.errors == two.errors and one.skipped == two.skipped


def _generate_repo(root: Path, files: int) -> None:
    """A repository of several dialects, some blocking, some not, one unreadable, one unknown."""
    (root / "lists").mkdir(parents=True)
    (root / "lists" / "social.txt").write_text(".facebook.com\n.linkedin.com\n")
    for n in range(files):
        site = root / f"site{n:03d}"
        site.mkdir()
        kind = n % 4
        if kind == 0:
            deny = 'acl social dstdomain "/lists/social.txt"\nhttp_access deny social\n' if n % 8 else ""
            (site / "squid.conf").write_text(f"acl lan src 10.{n}.0.0/16\n{deny}http_access allow lan\n")
        elif kind == 1:
            (site / "hosts").write_text(
                f"0.0.0.0 ads{n}.example\n" + ("0.0.0.0 twitter.com\n" if n % 3 else "")
            )
        elif kind == 2:
            (site / "dnsmasq.conf").write_text(f"address=/t{n}.example/0.0.0.0\naddress=/x.com/0.0.0.0\n")
        else:
            (site / "notes.md").write_text("# not a config\n")
    (root / "site000" / "squid-broken.conf").write_bytes(b"\x00\x01\x02binary")


@pytest.mark.parametrize("fmt", ["json", "text", "sarif"])
def test_check_jobs_prints_the_same_bytes_as_jobs_1(tmp_path, fmt):
    repo = tmp_path / "repo"
    _generate_repo(repo, 40)  # over the 16 files from which workers are used
    out = {}
    for jobs in ("1", "2", "3"):
        p = subprocess.run(
            [sys.executable, "-m", "policy_lint", "check", "--format", fmt, "--jobs", jobs, "."],
            capture_output=True,
            text=True,
            cwd=repo,
            timeout=300,
        )
        assert "Traceback" not in p.stderr
        out[jobs] = (p.returncode, p.stdout, p.stderr)
    assert out["1"][1]
    assert out["1"] == out["2"] == out["3"]


def test_jobs_with_a_lint_cache_fills_it_and_reuses_it(tmp_path):
    """The parent consults and fills a LintCache (policy-lint diff's) while workers lint the rest."""
    repo = tmp_path / "repo"
    _generate_repo(repo, 24)
    catalog = load_catalog()
    policy = strict_policy(catalog)

    class DictCache:
        def __init__(self) -> None:
            self.data: dict[Path, LintedFile] = {}

        def get(self, path: Path) -> LintedFile | None:
            return self.data.get(path)

        def put(self, path: Path, linted: LintedFile) -> None:
            self.data[path] = linted

    cache = DictCache()
    reference = lint_paths([repo], catalog, policy, Options(root=repo, jobs=1))
    first = lint_paths([repo], catalog, policy, Options(root=repo, jobs=2, parallel_min_files=1, cache=cache))
    assert len(cache.data) >= len(reference.files) > 10  # every linted file was put
    # Half the files from the cache, the other half through the workers.
    for key in list(cache.data)[::2]:
        del cache.data[key]
    second = lint_paths(
        [repo], catalog, policy, Options(root=repo, jobs=2, parallel_min_files=1, cache=cache)
    )
    assert _render_all(reference) == _render_all(first) == _render_all(second)


def test_check_help_says_when_jobs_run_in_parallel():
    p = subprocess.run(
        [sys.executable, "-m", "policy_lint", "check", "--help"], capture_output=True, text=True, timeout=60
    )
    assert str(Options().parallel_min_files) in p.stdout.split("--jobs")[1].split("--")[0]


# ------------------------------------------------------------------ detection of un-named files


def test_detection_of_an_unnamed_file_is_remembered_and_stays_right(xdg, tmp_path):
    from policy_lint import dialects
    from policy_lint.dialects import detect_cache
    from policy_lint.engine import read_head

    conf = tmp_path / "acl-rules.conf"  # no dialect's file-name pattern matches
    conf.write_text(SQUID)
    first = dialects.detect(conf, read_head(conf))
    assert first is not None and first.NAME == "squid"
    assert detect_cache.lookup(conf, read_head(conf)) == "proxies.squid"
    assert dialects.detect(conf, read_head(conf)) is first
    # Other content under the same name: another key, so a fresh (right) answer.
    conf.write_text("address=/facebook.com/0.0.0.0\nserver=1.1.1.1\n")
    assert detect_cache.lookup(conf, read_head(conf)) is None
    again = dialects.detect(conf, read_head(conf))
    assert again is not None and again.NAME == "dnsmasq"
    # Nothing claims prose, and that answer is remembered too.
    conf.write_text("Dear reader, this is a letter.\n")
    assert dialects.detect(conf, read_head(conf)) is None
    assert detect_cache.lookup(conf, read_head(conf)) == ""


def test_a_detection_entry_of_other_code_or_content_is_not_trusted(xdg, tmp_path):
    from policy_lint import dialects
    from policy_lint.dialects import detect_cache
    from policy_lint.engine import read_head

    conf = tmp_path / "acl-rules.conf"
    conf.write_text(SQUID)
    dialects.detect(conf, read_head(conf))
    (entry,) = [p for p in xdg.glob("detect-*/*") if p.is_file()]
    stored_key, _sep, _module = entry.read_text().partition("\n")
    # An entry written by other dialect code (another code key), pointing elsewhere.
    entry.write_text("0" * 64 + ":" + stored_key.split(":")[1] + "\nfirewalls.pf")
    assert detect_cache.lookup(conf, read_head(conf)) is None
    module = dialects.detect(conf, read_head(conf))
    assert module is not None and module.NAME == "squid"
    # A name that is no dialect module is not imported.
    entry.write_text(stored_key + "\nos")
    module = dialects.detect(conf, read_head(conf))
    assert module is not None and module.NAME == "squid"


def test_diagnostics_with_jobs_come_from_the_parent_one_line_per_file_in_order(tmp_path):
    """Workers get no logger: the parent logs each outcome as it merges them, in file order."""
    repo = tmp_path / "repo"
    _generate_repo(repo, 20)
    lines = {}
    for jobs in ("1", "2"):
        p = subprocess.run(
            [sys.executable, "-m", "policy_lint", "-v", "check", "--format", "json", "--jobs", jobs, "."],
            capture_output=True,
            text=True,
            cwd=repo,
            timeout=300,
        )
        lines[jobs] = [x for x in p.stderr.splitlines() if "event='linted'" in x]
    assert len(lines["1"]) > 10
    assert lines["1"] == lines["2"]

"""Big e2guardian/DansGuardian site and URL lists are read by e2guardian_stream.py (only the
lines that can decide are parsed): the report must be exactly the one the line-by-line reader
gives. Each test lints the same files twice, streamed and with streaming switched off."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from policy_lint.dialects.proxies import e2guardian
from policy_lint.dialects.proxies.e2guardian_stream import lines_to_read, relevant_pattern
from policy_lint.engine import Options, Report, lint_paths
from policy_lint.policy import strict_policy
from tests.conftest import verdicts

PADDING = 40_000  # plain lines naming no catalog host: the file is over STREAM_FROM_BYTES


def padding(n: int = PADDING, start: int = 0) -> str:
    return "".join(f"ads{i}.tracker{i % 97}.example{i % 7}.com\n" for i in range(start, start + n))


def lint_both(
    tmp_path: Path, catalog, files: dict[str, bytes | str], monkeypatch, dialect: str | None = None
) -> tuple[Report, Report]:
    paths = []
    for name, body in files.items():
        p = tmp_path / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(body.encode() if isinstance(body, str) else body)
        paths.append(p)
    assert paths[0].stat().st_size > e2guardian.STREAM_FROM_BYTES
    policy = strict_policy(catalog)

    def run() -> Report:
        return lint_paths([paths[0]], catalog, policy, Options(root=tmp_path, dialect=dialect))

    streamed = run()
    with monkeypatch.context() as m:
        m.setattr(e2guardian, "STREAM_FROM_BYTES", 1 << 40)
        ordinary = run()
    return streamed, ordinary


def test_site_list_with_every_kind_of_line(tmp_path, catalog, monkeypatch):
    text = (
        "# banned sites\n"
        + padding(20_000)
        + "x\n"  # one character: ignored
        + "  facebook.com\n"  # leading white space
        + "twitter.com # a trailing comment\n"
        + "FTP://.LinkedIn.COM/\n"
        + "nofacebook.com\n"
        + "ning.com/\n"
        + "com.example.org\n"
        + "fb.me:8080\n"
        + "bad\x00line.com\n"
        + ".Include<extra>\n"
        + padding(20_000, 20_000)
        + "#time: 9 0 17 0 01234\n"
        + "**s\n"
    )
    streamed, ordinary = lint_both(
        tmp_path,
        catalog,
        {"lists/bannedsitelist": text, "lists/extra": "www.messenger.com\n"},
        monkeypatch,
    )
    assert streamed == ordinary
    assert {f.code for f in streamed.findings} >= {"TE102", "TE902"}


def test_url_list_hosts_ports_and_paths(tmp_path, catalog, monkeypatch):
    text = (
        padding()
        + "www.facebook.com/tr\n"
        + "facebook.com:80/plugins/like.php\n"
        + "ftp://www.facebook.com/plugins/\n"
        + "facebook.com/plugins\n"
        + "twitter.com\n"
        + "x.com:abc/x\n"
        + "ads1.example.com/facebook.com/tr\n"
        + "http://www.linkedin.com/feed\n"
    )
    streamed, ordinary = lint_both(tmp_path, catalog, {"lists/bannedurllist": text}, monkeypatch)
    assert streamed == ordinary


def test_time_limited_list_naming_no_service_keeps_its_audiences(tmp_path, catalog, monkeypatch):
    files = {
        "e2guardianf1.conf": "bannedsitelist = 'lists/bannedsitelist'\n"
        "exceptionsitelist = 'lists/exceptionsitelist'\n",
        "lists/bannedsitelist": "facebook.com\n",
        "lists/exceptionsitelist": "#time: 9 0 17 0 01234\n" + padding(),
    }
    # the big list is the included one: lint the group config
    streamed, ordinary = lint_both_config(tmp_path, catalog, files, monkeypatch)
    assert streamed == ordinary
    assert any("time 09:00-17:00" in a for a in streamed.files[0].services["facebook"].audiences)


def lint_both_config(tmp_path, catalog, files, monkeypatch) -> tuple[Report, Report]:
    for name, body in files.items():
        p = tmp_path / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(body)
    assert (tmp_path / "lists/exceptionsitelist").stat().st_size > e2guardian.STREAM_FROM_BYTES
    policy = strict_policy(catalog)
    conf = tmp_path / "e2guardianf1.conf"

    def run() -> Report:
        return lint_paths([conf], catalog, policy, Options(root=tmp_path))

    streamed = run()
    with monkeypatch.context() as m:
        m.setattr(e2guardian, "STREAM_FROM_BYTES", 1 << 40)
        ordinary = run()
    return streamed, ordinary


@pytest.mark.parametrize("ending", ["\n", "\r\n"])
def test_crlf_and_dansguardian(tmp_path, catalog, monkeypatch, ending):
    text = padding() + "Facebook.com\n" + "**ips\n" + padding(100, PADDING)
    streamed, ordinary = lint_both(
        tmp_path,
        catalog,
        {"dansguardian/bannedsitelist": text.replace("\n", ending)},
        monkeypatch,
        dialect="dansguardian",
    )
    assert streamed == ordinary


def test_a_file_the_stream_cannot_read_exactly_is_read_the_ordinary_way(tmp_path, catalog, monkeypatch):
    latin1 = (padding() + "caf\xe9.example\nfacebook.com\n").encode("latin-1")
    streamed, ordinary = lint_both(tmp_path, catalog, {"lists/bannedsitelist": latin1}, monkeypatch)
    assert streamed == ordinary
    assert any(f.code == "TE902" and "Latin-1" in f.message for f in streamed.findings)


def test_lines_to_read_returns_numbered_lines_of_the_file(tmp_path):
    p = tmp_path / "bannedsitelist"
    lines = ["# head", *padding(30_000).splitlines(), "www.Facebook.com", "", "x", "*ip", "a b", "last"]
    p.write_text("\n".join(lines))  # no final newline
    got, skipped = lines_to_read(p, relevant_pattern({"www.facebook.com", "facebook.com", "com"}))
    assert all(lines[n - 1] == text for n, text in got)
    assert [text for _n, text in got] == ["# head", lines[1], "www.Facebook.com", "", "x", "*ip", "a b"]
    assert skipped == len(lines) - len(got)  # the other padding lines and "last": entries


@pytest.mark.parametrize("pad", [0, PADDING])
def test_url_list_named_with_its_dialect_is_read_though_no_probe_consults_it(lint, pad):
    """e2guardian reads every line of a URL list as an entry: a list whose URLs no probe asks
    for leaves every service unaffected (it is not "a file nothing of which was understood")."""
    report = lint(
        {"lists/bannedurllist": padding(pad) + "facebook.com/groups\ntwitter.com/x/status\n"},
        dialect="e2guardian",
    )
    assert not report.errors
    assert set(verdicts(report).values()) == {"unaffected"}
    assert not [f for f in report.findings if f.code == "TE902"]


# Pieces of lines that change how the reader takes a line (or make the stream give up).
FRAGMENTS = ["#", " #", "*", "**", "**s", "*ip", ".", "ftp://", "FTP://", "/", ":", ":80", "\t", " ",
             "\x00", "\x0b", "é", ".Include<inc>", "#time: 9 0 17 0 01234", "com", "x"]  # fmt: skip


def random_line(r: random.Random, hosts: list[str]) -> str:
    if r.random() < 0.4:
        return f"ads{r.randrange(99)}.example.com"
    parts = [r.choice(hosts)] if r.random() < 0.5 else []
    for _ in range(r.randrange(4)):
        parts.insert(r.randrange(len(parts) + 1), r.choice(FRAGMENTS + hosts))
    return "".join(parts)


def test_random_small_lists_streamed_and_line_by_line_agree(tmp_path, catalog, monkeypatch):
    """A seeded campaign on small lists, streamed from the first byte on (STREAM_FROM_BYTES 0)."""
    hosts = sorted({p.host for s in catalog.services.values() for p in s.probes()})
    policy = strict_policy(catalog)
    for case in range(40):
        r = random.Random(case)
        d = tmp_path / str(case)
        d.mkdir()
        name = r.choice(["bannedsitelist", "bannedurllist", "exceptionsitelist", "greyurllist"])
        eol = r.choice(["\n", "\r\n"])
        (d / name).write_bytes(eol.join(random_line(r, hosts) for _ in range(r.randrange(1, 40))).encode())
        (d / "inc").write_text("www.facebook.com\n")
        dialect = r.choice([None, "e2guardian", "dansguardian"])
        reports = []
        for threshold in (0, 1 << 40):
            monkeypatch.setattr(e2guardian, "STREAM_FROM_BYTES", threshold)
            reports.append(lint_paths([d / name], catalog, policy, Options(root=d, dialect=dialect)))
        assert reports[0] == reports[1], (case, (d / name).read_bytes())

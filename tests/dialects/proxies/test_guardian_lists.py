"""e2guardian/DansGuardian lists under any file name: recognised by content, their role given
by the config that names them (e2guardianf1.conf `bannedphraselist = '...'`, v5
`sitelist = 'name=...,path=...'`), unknown where no config says (#18)."""

from __future__ import annotations

from policy_lint import dialects
from policy_lint.dialects.proxies import guardian_lists

PHRASES = "# words the staff proxy filters\n< facebook >\n< twitter >,< login >\n< poker >\n"
REGEXES = "# patterns\n(^|\\.)facebook\\.com\n^([a-z0-9-]+\\.)*fbcdn\\.net\n"


GIT = {".git/HEAD": "ref: refs/heads/main\n"}  # a repository: detection looks for configs in it


def verdicts(report, dialect: str) -> dict[str, str]:
    f = next(f for f in report.files if f.dialect == dialect)
    return {sid: r.verdict.value for sid, r in f.services.items()}


def codes(report, code: str) -> list[tuple[str, int]]:
    return sorted((f.span.path.rsplit("/", 1)[-1], f.span.line) for f in report.findings if f.code == code)


def test_phrase_list_named_banned_by_its_group_config(lint):
    report = lint(
        {
            "etc/e2guardian/lists/social-words": PHRASES,
            "etc/e2guardian/e2guardianf1.conf": "bannedphraselist = '/etc/e2guardian/lists/social-words'\n",
            **GIT,
        }
    )
    assert verdicts(report, "e2guardian")["facebook"] == "blocked-partial"  # content: HTTP only
    assert codes(report, "TE102") == [("social-words", 2)]
    assert not codes(report, "TE903")


def test_phrase_list_named_exception_by_its_group_config_blocks_nothing(lint):
    report = lint(
        {
            "etc/e2guardian/lists/social-words": PHRASES,
            "etc/e2guardian/e2guardianf1.conf": "exceptionphraselist = '/etc/e2guardian/lists/social-words'\n",
            **GIT,
        }
    )
    assert verdicts(report, "e2guardian")["facebook"] == "unaffected"
    assert not codes(report, "TE102") and not codes(report, "TE903")


def test_unreferenced_phrase_list_role_is_unknown_where_it_matters(lint):
    report = lint({"lists/social-words": PHRASES})
    v = verdicts(report, "e2guardian")
    # Banned it blocks Facebook pages, as an exception it exempts them: unknown. LinkedIn is
    # named by no phrase: unaffected either way.
    assert v["facebook"] == "unknown"
    assert v["linkedin"] == "unaffected"
    assert codes(report, "TE903") == [("social-words", 1)]
    assert not codes(report, "TE101") and not codes(report, "TE102")


def test_weighted_list_referenced_as_weighted(lint):
    report = lint(
        {
            "e2g/lists/scores.txt": "<facebook><60>\n<linkedin><20>\n",
            "e2g/e2guardianf1.conf": "weightedphraselist = '/etc/e2guardian/lists/scores.txt'\nnaughtynesslimit = 50\n",
            **GIT,
        }
    )
    v = verdicts(report, "e2guardian")
    assert v["facebook"] == "blocked-partial" and v["linkedin"] == "unaffected"
    assert codes(report, "TE102") == [("scores.txt", 1)]


def test_regexp_list_named_by_the_config(lint):
    report = lint(
        {
            "etc/e2guardian/lists/patterns.txt": REGEXES,
            "etc/e2guardian/e2guardianf1.conf": "bannedregexpurllist = '/etc/e2guardian/lists/patterns.txt'\n",
            **GIT,
        }
    )
    assert verdicts(report, "e2guardian")["facebook"] == "blocked"
    assert codes(report, "TE101") == [("patterns.txt", 2)]


def test_v5_list_definition_names_the_role(lint):
    report = lint(
        {
            "etc/e2guardian/lists/ok-sites": REGEXES,
            "etc/e2guardian/e2guardianf1.conf": "regexpboollist = 'name=exception,path=/etc/e2guardian/lists/ok-sites'\n",
            **GIT,
        }
    )
    assert verdicts(report, "e2guardian")["facebook"] == "allowed"


def test_dansguardian_config_makes_it_a_dansguardian_list(lint):
    report = lint(
        {
            "dg/lists/words": PHRASES,
            "dg/dansguardianf1.conf": "bannedphraselist = '/etc/dansguardian/lists/words'\n",
            **GIT,
        }
    )
    assert [f.dialect for f in report.files] == ["dansguardian"]


def test_conflicting_roles_are_each_evaluated(lint):
    report = lint(
        {
            "etc/e2guardian/lists/patterns.txt": REGEXES,
            "etc/e2guardian/e2guardianf1.conf": "bannedregexpurllist = '/etc/e2guardian/lists/patterns.txt'\n",
            "etc/e2guardian/e2guardianf2.conf": "exceptionregexpurllist = '/etc/e2guardian/lists/patterns.txt'\n",
            **GIT,
        }
    )
    assert verdicts(report, "e2guardian")["facebook"] == "unknown"
    assert "e2guardianf2.conf:1 (exception)" in next(f.message for f in report.findings if f.code == "TE903")


def test_list_referenced_as_a_rewrite_list_is_not_evaluated_alone(lint):
    report = lint(
        {
            "etc/e2guardian/lists/rewrites": '"(^|\\.)facebook\\.com"->"example.org"\n"x"->"y"\n',
            "etc/e2guardian/e2guardianf1.conf": "urlregexplist = '/etc/e2guardian/lists/rewrites'\n",
            **GIT,
        }
    )
    assert set(verdicts(report, "e2guardian").values()) == {"unknown"}
    assert codes(report, "TE908") == [("rewrites", 1)]


def test_unreferenced_regexp_list_is_not_taken_for_a_guardian_list(tmp_path):
    path = tmp_path / "lists" / "patterns.txt"
    path.parent.mkdir()
    path.write_text(REGEXES)
    scores = dialects.scores(path, REGEXES)
    assert scores.get("e2guardian", 0.0) == 0.0 and scores.get("dansguardian", 0.0) == 0.0


def test_content_shapes():
    assert guardian_lists.looks_like(PHRASES) == "phrase"
    assert guardian_lists.looks_like(REGEXES) == "regex"
    assert guardian_lists.looks_like('"a"->"b"\n"c"->"d"\n') == "regex"
    assert guardian_lists.looks_like("facebook.com\ntwitter.com\n") is None
    assert guardian_lists.looks_like("127.0.0.1 localhost\n0.0.0.0 x.com\n") is None


def test_config_outside_the_root_is_not_read(lint, tmp_path):
    # A config beside the lint root names the list: not read, so the role stays unknown.
    (tmp_path.parent / "e2guardianf1.conf").write_text(f"bannedphraselist = '{tmp_path.name}/words'\n")
    report = lint({"words": PHRASES, **GIT})
    assert verdicts(report, "e2guardian")["facebook"] == "unknown"


def test_regexp_list_read_as_e2guardian_on_request_without_a_config(lint):
    report = lint({"lists/patterns.txt": REGEXES}, dialect="e2guardian")
    assert verdicts(report, "e2guardian")["facebook"] == "unknown"
    assert verdicts(report, "e2guardian")["linkedin"] == "unaffected"
    assert codes(report, "TE903") == [("patterns.txt", 1)]

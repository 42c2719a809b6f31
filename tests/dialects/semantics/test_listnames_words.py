"""listnames.starts_a_word: the regex `(^|[^a-z])word` it stands for, without compiling one."""

from __future__ import annotations

import itertools
import re

from policy_lint.dialects.semantics.listnames import classify_list_name, starts_a_word


def test_starts_a_word_answers_as_the_regex_on_every_short_text():
    alphabet = "ab-A.\n"
    for word in ("a", "ab", "ba", "", "a-"):
        for n in range(6):
            for chars in itertools.product(alphabet, repeat=n):
                text = "".join(chars)
                expected = re.search(rf"(^|[^a-z]){re.escape(word)}", text) is not None
                assert starts_a_word(text, word) == expected, (text, word)


def test_a_service_word_inside_another_word_names_no_service():
    keywords = {"x": ("x",), "facebook": ("facebook", "fb")}
    assert classify_list_name("social-facebook", keywords) == ("social", {"facebook"})
    assert classify_list_name("fbx", keywords)[1] == {"facebook"}  # at the start
    assert "x" not in classify_list_name("proxy", keywords)[1]  # inside "proxy": no X

"""Plain-string patterns are searched as strings: the answers are the regex module's."""

from __future__ import annotations

import random

import regex

from policy_lint.dialects.semantics.patterns import BoundedPattern, literal_form


def test_plain_patterns_are_recognised_and_others_are_not():
    assert literal_form(r"facebook") == ("facebook", False, False)
    assert literal_form(r"^www\.facebook\.com$") == ("www.facebook.com", True, True)
    assert literal_form(r"gstatic\.com") == ("gstatic.com", False, False)
    for other in (r"face.ook", r"a*", r"(a)", r"a|b", r"[ab]", r"\d", r"\w+", r"a$b", r"^", r"", r"a\b"):
        assert literal_form(other) is None


def test_plain_pattern_answers_as_the_regex_module_does():
    rnd = random.Random(20)
    pieces = ["a", "B", "b", "x", "-", "/", "_", "1", r"\.", r"\-", r"\/", r"\:", r"\@", "."]
    texts_alphabet = ["a", "A", "b", "B", "x", ".", "-", "/", "_", "1", ":", "@", "\n", "é", "K"]
    for _ in range(3000):
        body = "".join(rnd.choice(pieces) for _ in range(rnd.randint(1, 4)))
        pattern = ("^" if rnd.random() < 0.3 else "") + body + ("$" if rnd.random() < 0.3 else "")
        ignore_case = rnd.random() < 0.5
        compiled = BoundedPattern.compile(pattern, ignore_case)
        reference = regex.compile(pattern, (regex.IGNORECASE if ignore_case else 0) | regex.VERSION0)
        for _ in range(5):
            text = "".join(rnd.choice(texts_alphabet) for _ in range(rnd.randint(0, 8)))
            assert compiled.search(text) == (reference.search(text) is not None), (pattern, ignore_case, text)
        # The regex itself is still there (compiled on use) for callers that need match objects.
        assert (compiled.compiled.pattern, compiled.compiled.flags) == (reference.pattern, reference.flags)

"""Plain-string patterns are searched as strings: the answers are the regex module's."""

from __future__ import annotations

import random

import regex

from policy_lint.dialects.semantics.patterns import BoundedPattern, literal_form, simple_form


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


def test_simple_patterns_are_recognised_and_others_are_not():
    assert simple_form(r".*\.exe*", True) == (".ex", True, 5, 2, 1)
    assert simple_form(r"^Www\.x?\.COM$", True) == ("www.", True, 9, 0, 2)
    assert simple_form(r"a+b", False) == ("b", False, 2, 1, 1)
    for other in (r"(a)", r"a|b", r"[ab]", r"\d", r"a*?", r"a**", r"*a", r"a{2}", r"^$", r"", r"a\\", r"a\$"):
        assert simple_form(other, False) is None


def test_simple_pattern_matches_as_the_regex_module_does():
    """The first match (and so a rewrite's result) is the regex module's, whichever engine or
    shortcut answers: `re` on short ASCII text, no engine when the required string is absent,
    `regex` (with its time-out) on other text."""
    rnd = random.Random(21)
    pieces = ["a", "B", "b", "x", "e", "-", "/", "_", "1", r"\.", r"\-", r"\/", r"\:", r"\@", "."]
    texts_alphabet = ["a", "A", "b", "B", "x", "e", "E", ".", "-", "/", "_", "1", ":", "@", "\n", "é", "K"]
    for _ in range(3000):
        body = "".join(
            rnd.choice(pieces) + rnd.choice(["", "", "*", "+", "?"]) for _ in range(rnd.randint(1, 5))
        )
        pattern = ("^" if rnd.random() < 0.2 else "") + body + ("$" if rnd.random() < 0.2 else "")
        ignore_case = rnd.random() < 0.5
        compiled = BoundedPattern.compile(pattern, ignore_case)
        assert compiled.simple is not None, pattern
        reference = regex.compile(pattern, (regex.IGNORECASE if ignore_case else 0) | regex.VERSION0)
        for _ in range(5):
            size = rnd.choice([rnd.randint(0, 12), rnd.randint(100, 300)])  # short: `re`; long: regex
            text = "".join(rnd.choice(texts_alphabet) for _ in range(size))
            found, expected = compiled.find(text), reference.search(text)
            assert (found and (found.span(), found.group(0))) == (
                expected and (expected.span(), expected.group(0))
            )
            assert compiled.search(text) == (expected is not None), (pattern, ignore_case, text)
        assert (compiled.compiled.pattern, compiled.compiled.flags) == (reference.pattern, reference.flags)

"""e2guardian/DansGuardian lists under names of their author's choosing: the role comes from the
config that names them.

    # etc/e2guardian/e2guardianf1.conf
    bannedphraselist = '/etc/e2guardian/lists/social-words'
    exceptionregexpurllist = '/etc/e2guardian/lists/allowed-patterns'
    # etc/e2guardian/lists/social-words        (no "phraselist" in its name)
    < facebook >
    < twitter >,< login >

A list's file name is free: the filter only knows it through the group config line that names
it (`bannedphraselist = '...'`, v5 `sitelist = 'name=banned,path=...'`). A file whose content is
a phrase list (every entry `<phrase>` combinations) or a regexp list (entries with regex
syntax, or `"regex"->"replacement"` lines) is therefore given the role and kind of the
e2guardian*.conf / dansguardian*.conf in the repository that names it, the path mapped the way
the dialect maps every list (inputs.Resolver: /etc/e2guardian/lists/x -> a file of the
repository ending in that path). Configs looked at: those in the list's directory and up to
four directories above (within the lint root), and their direct subdirectories: the layout of
/etc/e2guardian with its lists/ folder.

Without a referencing config a phrase list with weights (`<facebook><60>`) is a weighted list
(only that list reads weights); an unweighted phrase list may be a banned or an exception
list: it is evaluated as both and a verdict is given only where the two agree; elsewhere it
is `unknown`, with TE903 at line 1 saying that the config naming the list is not in the
repository. A regexp list is recognised only through a referencing config (Pi-hole regex
lists look the same). Several configs naming one file with different roles are handled the
same way (every role evaluated). A list referenced as one the dialect does not evaluate alone
(header, user-agent, rewrite lists) is unknown (TE908): lint the config instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

from policy_lint.inputs import InputError, Resolver, read_source
from policy_lint.model import Audience, Decision, Outcome, Probe, Problem, Span

CONFIG_PATTERNS = ("e2guardian*.conf", "dansguardian*.conf")
MAX_UP = 4
_SETTING = re.compile(r"^\s*([A-Za-z_][\w-]*)\s*=\s*(.*?)\s*$")
_PHRASE_LINE = re.compile(r"^\s*(?:<[^<>]+>\s*,?\s*)+(?:#.*)?$")
_REPLACE_LINE = re.compile(r'^\s*"(.*)"\s*->\s*"(.*)"\s*$')
_REGEX_SYNTAX = re.compile(r"\\[.dws/]|[\^$|()\[\]]|\.\*|\.\+|\?")


@dataclass(frozen=True)
class Reference:
    """A config line naming a list: which product, the role and kind it gives the list."""

    product: str  # e2guardian | dansguardian
    role: str  # banned | exception | grey | weighted | ... ; the option itself for "opaque"
    kind: str  # site | url | regex | phrase | opaque
    span: Span  # the config line


def entries(head: str) -> list[str]:
    return [
        ln.strip()
        for ln in head.splitlines()[:400]
        if ln.strip() and not ln.lstrip().startswith("#") and not ln.lstrip().lower().startswith(".include<")
    ]


def looks_like(head: str) -> str | None:
    """ "phrase" when every entry is a `<phrase>` combination, "regex" when every entry is a
    regex (regex syntax, no spaces) or a `"regex"->"replacement"` line; else None."""
    lines = entries(head)
    if len(lines) < 2:
        return None
    if all(_PHRASE_LINE.match(ln) for ln in lines):
        return "phrase"
    if all(_REPLACE_LINE.match(ln) for ln in lines):
        return "regex"
    if all(" " not in ln for ln in lines) and sum(bool(_REGEX_SYNTAX.search(ln)) for ln in lines) * 2 > len(
        lines
    ):
        return "regex"
    return None


def _configs(path: Path, root: Path) -> list[Path]:
    """The guardian configs near `path` (see the module docstring), within `root`."""
    out: list[Path] = []
    real_root = root.resolve()
    directory = path.resolve().parent
    for _ in range(MAX_UP + 1):
        if not (directory == real_root or real_root in directory.parents):
            break
        try:
            children = sorted(directory.iterdir())
        except OSError:
            break
        for child in children:
            if child.is_file() and any(fnmatch(child.name.lower(), p) for p in CONFIG_PATTERNS):
                out.append(child)
            elif child.is_dir() and not child.name.startswith("."):
                try:
                    out += sorted(
                        c
                        for c in child.iterdir()
                        if c.is_file() and any(fnmatch(c.name.lower(), p) for p in CONFIG_PATTERNS)
                    )
                except OSError:
                    continue
        if directory == real_root:
            break
        directory = directory.parent
    return list(dict.fromkeys(out))


def _unquote(value: str) -> str:
    value = value.strip()
    m = re.match(r"^'([^']*)'", value) or re.match(r'^"([^"]*)"', value)
    return m.group(1) if m else value.split("#", 1)[0].strip()


def _role_of(key: str, value: str) -> tuple[str, str, str] | None:
    """(role, kind, the path it names) of a config line that names a list."""
    from policy_lint.dialects.proxies import e2guardian as g

    if key in g.PHRASE_KEYS:
        return g.PHRASE_KEYS[key], "phrase", _unquote(value)
    if key in g.LEGACY_KEYS:
        role, kind = g.LEGACY_KEYS[key]
        return role, kind, _unquote(value)
    if key in g.OPAQUE_KEYS:
        return key, "opaque", _unquote(value)
    if "name=" in value:
        fields = dict(part.split("=", 1) for part in _unquote(value).split(",") if "=" in part)
        name, ref = fields.get("name", "").strip().lower(), fields.get("path", "").strip()
        if key in g.V5_TYPES and name in g.V5_ROLES:
            return name, g.V5_TYPES[key], ref
        if name in g.V5_OPAQUE:
            return f"{key} {name}", "opaque", ref
    return None


def references(path: Path, resolver: Resolver) -> list[Reference]:
    """Every config line near `path` that names it as a list."""
    out: list[Reference] = []
    target = path.resolve()
    lookup = Resolver(resolver.root)  # not `resolver`: finding a list here reads nothing
    for conf in _configs(path, resolver.root):
        product = "dansguardian" if conf.name.lower().startswith("dansguardian") else "e2guardian"
        if not resolver.inside(conf, resolver.root):
            continue  # a link to a config elsewhere on the machine: never read
        try:
            src = read_source(conf, resolver.display(conf))
        except InputError:
            continue
        # What the list means depends on this config: a cached lint of the list (policy-lint
        # diff) is reused only while it is unchanged.
        resolver.found.add(str(conf.resolve()))
        for i, raw in enumerate(src.lines, start=1):
            m = _SETTING.match(raw)
            if not m or raw.lstrip().startswith("#"):
                continue
            found = _role_of(m.group(1).lower(), m.group(2))
            if found is None or not found[2]:
                continue
            hit = lookup.resolve(found[2], conf)
            if hit is not None and hit.resolve() == target:
                out.append(Reference(product, found[0], found[1], Span(src.path, i, 1, raw.strip())))
    return out


class AmbiguousRole:
    """A list whose role is not known: evaluated under each possible role; a decision stands
    where they all agree, else it is unknown."""

    def __init__(
        self,
        path: str,
        dialect: str,
        variants: list[tuple[str, Any]],
        why: str,
        code: str = "TE903",
        always: bool = False,
    ):
        self.path, self.dialect = path, dialect
        self.variants = variants  # (role label, GuardianRuleset)
        self.always = always  # unknown whatever the variants say (a list not evaluated alone)
        first = variants[0][1]
        self.problems: list[Problem] = [Problem(code, Span(path, 1, 1), why)]
        seen: set[tuple[str, Span]] = set()
        for _label, ruleset in variants:
            for p in ruleset.problems:
                if (p.code, p.span) not in seen:
                    seen.add((p.code, p.span))
                    self.problems.append(p)
        self.included = first.included
        self._why = why

    def audiences(self) -> list[Audience]:
        audiences: list[Audience] = self.variants[0][1].audiences()
        return audiences

    def inert_mentions(self, probe: Probe) -> list[Span]:
        return []

    def evaluate(self, probe: Probe, audience: Audience) -> Decision:
        decisions = [(label, r.evaluate(probe, audience)) for label, r in self.variants]
        outcomes = {d.outcome for _l, d in decisions}
        if len(outcomes) == 1 and not self.always:
            first: Decision = decisions[0][1]
            return first
        span = Span(self.path, 1, 1)
        if self.always:
            return Decision(Outcome.UNKNOWN, span, (span,), note=self._why)
        differ = "; ".join(f"as {_article(label)} {label} list: {d.outcome.value}" for label, d in decisions)
        trace = tuple(s for _l, d in decisions for s in (*d.trace, *((d.rule,) if d.rule else ())))
        return Decision(Outcome.UNKNOWN, span, (*trace, span), note=f"the list's role is unknown ({differ})")


def _article(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"

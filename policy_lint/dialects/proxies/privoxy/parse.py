"""Reading a Privoxy configuration: the main `config` (action files, trust file, forwarding,
toggle) and its action files, read the way Privoxy reads them, into sections and forwards."""

from __future__ import annotations

import re
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path

from policy_lint.dialects.proxies.privoxy.evaluate import PrivoxyRuleset
from policy_lint.dialects.proxies.privoxy.model import (
    FILE_PATTERNS,
    FORWARD_DIRECTIVES,
    Forward,
    MissingFile,
    Section,
    Trust,
    classify_target,
)
from policy_lint.dialects.proxies.privoxy.stream import NotStreamable, lines_to_parse, relevant_line_pattern
from policy_lint.dialects.proxies.privoxy.urlmatch import (
    TAG_PREFIXES,
    UrlPattern,
    compile_pattern,
    compile_regex,
)
from policy_lint.dialects.semantics.base import ParseContext
from policy_lint.dialects.semantics.listnames import classify_list_name
from policy_lint.dialects.semantics.names import probe_hosts
from policy_lint.dialects.semantics.patterns import BoundedPattern, PatternError
from policy_lint.inputs import MAX_FILE_BYTES, InputError, SourceText, read_source
from policy_lint.model import Problem, Span

MAX_AF_FILES = 100  # Privoxy 3.0.34's MAX_AF_FILES: more `actionsfile` lines are refused

# Privoxy 3.0.34's action names (strings of Debian's binary), by the kind of value they take.
BOOL_ACTIONS = frozenset(
    {
        "crunch-if-none-match",
        "crunch-incoming-cookies",
        "crunch-outgoing-cookies",
        "downgrade-http-version",
        "force-text-mode",
        "handle-as-empty-document",
        "handle-as-image",
        "https-inspection",
        "ignore-certificate-errors",
        "prevent-compression",
        "prevent-keeping-cookies",
        "session-cookies-only",
    }
)
STRING_ACTIONS = frozenset(
    {
        "block",
        "change-x-forwarded-for",
        "content-type-overwrite",
        "crunch-client-header",
        "crunch-server-header",
        "deanimate-gifs",
        "delay-response",
        "fast-redirects",
        "forward-override",
        "hide-accept-language",
        "hide-content-disposition",
        "hide-from-header",
        "hide-if-modified-since",
        "hide-referer",
        "hide-referrer",
        "hide-user-agent",
        "limit-connect",
        "limit-cookie-lifetime",
        "overwrite-last-modified",
        "redirect",
        "set-image-blocker",
    }
)
MULTI_ACTIONS = frozenset(
    {
        "add-header",
        "client-body-filter",
        "client-body-tagger",
        "client-header-filter",
        "client-header-tagger",
        "external-filter",
        "filter",
        "filter-client-headers",
        "filter-server-headers",
        "server-header-filter",
        "server-header-tagger",
        "suppress-tag",
    }
)
# Accepted with an error message and ignored (actions.c: action_used_to_be_valid).
FORMER_ACTIONS = frozenset(
    {
        "inspect-jpegs",
        "kill-popups",
        "send-vanilla-wafer",
        "send-wafer",
        "treat-forbidden-connects-like-blocks",
        "vanilla-wafer",
        "wafer",
    }
)
# The actions that decide whether a request gets through.
DECIDING = (
    "block",
    "redirect",
    "handle-as-image",
    "handle-as-empty-document",
    "set-image-blocker",
    "https-inspection",
    "limit-connect",
    "forward-override",
)

# Privoxy's distribution files, whose content is known: they block no site of the services.
STANDARD_FILES = {
    "match-all.action": "Privoxy's standard match-all.action, which sets default filters and blocks nothing",
    "default.action": "Privoxy's standard default.action, which blocks ad, tracker and widget URLs only",
}

_CONFIG_HINT = re.compile(
    r"^[ \t]*(?:(?:actionsfile|confdir|filterfile|listen-address|forward-socks[45][at]?|enable-edit-actions"
    r"|enforce-blocks|enable-remote-toggle|templdir|trustfile|forward-webserver)[ \t]+\S"
    r"|toggle[ \t]+[01]|forward[ \t]+\S+[ \t]+\S)",
    re.M,
)
_ACTION_HINT = re.compile(r"^\s*\{\s*(\{\s*alias\s*\}|[+-][a-z-]+|[a-z0-9+-]+\s*\})", re.M | re.I)


# Source and documentation files that quote Privoxy syntax are not configs.
NOT_CONFIG_SUFFIXES = frozenset(
    {
        ".py",
        ".md",
        ".rst",
        ".html",
        ".htm",
        ".js",
        ".json",
        ".yaml",
        ".yml",
        ".toml",
        ".c",
        ".h",
        ".sh",
        ".pl",
        ".rb",
        ".go",
        ".rs",
    }
)


def detect(path: Path, head: str) -> float:
    name = path.name.lower()
    if path.suffix.lower() in NOT_CONFIG_SUFFIXES:
        return 0.0
    config_hits = len(_CONFIG_HINT.findall(head))
    action_hits = len(_ACTION_HINT.findall(head))
    if name.endswith(".action"):
        return 0.9 if action_hits or not head.strip() else 0.4
    if any(fnmatch(name, p) for p in FILE_PATTERNS):
        return 0.9
    if re.search(r"^\s*actionsfile\s+\S", head, re.M):
        return 0.9
    if config_hits and "privoxy" in str(path).lower():
        return 0.85
    if config_hits >= 2 and name in ("config", "config.txt"):
        return 0.75
    if config_hits >= 3:
        return 0.7
    if action_hits >= 2 and re.search(r"^\s*\{[^}\n]*[+-](block|redirect)\b", head, re.M):
        return 0.7
    return 0.0


# --------------------------------------------------------------------------- reading lines


@dataclass(frozen=True, slots=True)
class Line:
    """One logical line as Privoxy reads it (comments removed, `\\` continuations joined)."""

    text: str
    span: Span


class LineJoiner:
    """Privoxy's edit_read_line, one physical line at a time: `#` starts a comment anywhere
    unless written `\\#`; a line ending in `\\` continues on the next (`cont`: the next line
    must be fed); leading and trailing white space is dropped."""

    def __init__(self, path: str):
        self.path = path
        self.data = ""
        self.start = 0
        self.col = 1
        self.cont = False

    def feed(self, number: int, raw: str) -> Line | None:
        line = raw
        if not self.cont:
            self.start = number
        self.cont = line.endswith("\\")
        if self.cont:
            line = line[:-1]
        if not self.data:
            stripped = line.lstrip()
            self.col = len(line) - len(stripped) + 1
            line = stripped
        if "#" in line:
            line = _strip_comment(line)
        self.data += line
        if self.cont:
            return None
        text = self.data.rstrip()
        self.data = ""
        return Line(text, Span(self.path, self.start, self.col, text)) if text else None

    def finish(self) -> Line | None:
        text = self.data.strip()
        return Line(text, Span(self.path, self.start, self.col, text)) if text else None


def _logical_lines(src: SourceText) -> list[Line]:
    joiner = LineJoiner(src.path)
    out = [line for i, raw in enumerate(src.lines, start=1) if (line := joiner.feed(i, raw)) is not None]
    last = joiner.finish()
    return [*out, last] if last is not None else out


def _strip_comment(line: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(line):
        c = line[i]
        if c == "#":
            if out and out[-1] == "\\":
                out[-1] = "#"
                i += 1
                continue
            break
        out.append(c)
        i += 1
    return "".join(out)


# --------------------------------------------------------------------------- action files


class _ActionError(ValueError):
    pass


def _action_tokens(text: str) -> list[tuple[str, str | None]]:
    """get_action_token(): `+name{value} -name alias` -> [(name, value)]; the value ends at the
    first `}` not written `\\}`."""
    out: list[tuple[str, str | None]] = []
    i, n = 0, len(text)
    while True:
        while i < n and text[i] in " \t":
            i += 1
        if i >= n:
            return out
        if text[i] == "{":
            raise _ActionError("a value without an action name")
        start = i
        while i < n and text[i] not in " \t{":
            if text[i] == "}":
                raise _ActionError("'}' without '{'")
            i += 1
        name = text[start:i]
        if i < n and text[i] == "{":
            j = i + 1
            value_chars: list[str] = []
            while True:
                if j >= n:
                    raise _ActionError(f"no closing '}}' for the value of {name}")
                if text[j] == "}":
                    if value_chars and value_chars[-1] == "\\":
                        value_chars[-1] = "}"
                        j += 1
                        continue
                    break
                value_chars.append(text[j])
                j += 1
            out.append((name, "".join(value_chars).strip()))
            i = j + 1
        else:
            out.append((name, None))
            i += 1


def _resolve_actions(
    text: str, aliases: dict[str, dict[str, tuple[str, str | None]]]
) -> tuple[dict[str, tuple[str, str | None]], list[str]]:
    """get_actions(): the deciding changes of an action list, and notes (ignored actions).
    Raises _ActionError for what Privoxy refuses (unknown action or alias, bad value)."""
    changes: dict[str, tuple[str, str | None]] = {}
    notes: list[str] = []
    for name, value in _action_tokens(text):
        lowered = name.lower()
        sign, base = lowered[:1], lowered[1:]
        if sign in "+-" and base in BOOL_ACTIONS | STRING_ACTIONS | MULTI_ACTIONS:
            if base in BOOL_ACTIONS and value is not None:
                raise _ActionError(f"action {name} takes no parameter")
            if sign == "+" and base in STRING_ACTIONS | MULTI_ACTIONS and not value and base != "block":
                raise _ActionError(f"action {name} needs a parameter")
            if base in DECIDING:
                changes[base] = (sign, (value or "No reason specified.") if sign == "+" else None)
            continue
        alias = aliases.get(lowered)
        if alias is not None:
            changes.update(alias)  # merge_actions(): the alias's settings win; its value is ignored
            continue
        if sign in "+-" and base in FORMER_ACTIONS:
            notes.append(f"action {name} is no longer valid; Privoxy ignores it")
            continue
        raise _ActionError(f"unknown action or alias: {name}")
    return changes, notes


ORDER = {"start": 0, "settings": 1, "description": 2, "alias": 3, "actions": 4}


class ActionFileParser:
    """load_one_actions_file(), one logical line at a time: {{settings}}, {{description}},
    {{alias}} (in that order, each once, before any section), then sections. Privoxy refuses the
    whole file at the first error; here the error is reported (TE901) and the rest is still read.
    """

    def __init__(self, problems: list[Problem], via: Span | None, regex_cache: dict[str, BoundedPattern]):
        self.problems = problems
        self.via = via
        self.regex_cache = regex_cache
        self.mode = "start"  # start < settings < description < alias < actions
        self.aliases: dict[str, dict[str, tuple[str, str | None]]] = {}
        self.sections: list[Section] = []
        self.current: Section | None = None
        self.refused = False

    @property
    def reads_every_line(self) -> bool:
        """Whether every line counts, not only patterns: outside a section (special sections,
        lines before the first header), a line is a setting, alias or error."""
        return self.mode != "actions" or self.current is None

    def _refuse(self, span: Span, message: str, code: str = "TE901") -> None:
        suffix = "" if self.refused else "; Privoxy refuses to load this file"
        self.refused = True
        self.problems.append(Problem(code, span, message + suffix))

    def feed(self, line: Line) -> None:
        text, span = line.text, line.span
        if text.startswith("{{"):
            name = text[2:-2].strip().lower() if text.endswith("}}") and len(text) >= 5 else ""
            if name not in ORDER or name in ("start", "actions"):
                self._refuse(span, f"invalid special section {text!r}")
                self.mode = "actions" if self.mode == "actions" else "description"
                return
            if ORDER[self.mode] >= ORDER[name]:
                self._refuse(span, f"{{{{{name}}}}} must appear once, before every section")
            self.mode = name
            return
        if text.startswith("{"):
            self.mode = "actions"
            if not text.endswith("}"):
                self._refuse(span, f"section header without its closing '}}': {text}")
                self.current = Section(span, {}, broken=True, via=self.via)
                self.sections.append(self.current)
                return
            try:
                changes, _notes = _resolve_actions(text[1:-1].strip(), self.aliases)
            except _ActionError as exc:
                self._refuse(span, f"cannot parse the section header ({exc}): {text}")
                self.current = Section(span, {}, broken=True, via=self.via)
            else:
                self.current = Section(span, changes, via=self.via)
            self.sections.append(self.current)
            return
        if self.mode == "settings":
            m = re.match(r"for-privoxy-version=(\d+)(?:\.(\d+))?(?:\.(\d+))?", text)
            if m and tuple(int(x or 0) for x in m.groups()) > (3, 0, 34):
                self._refuse(span, f"requires a newer Privoxy: {text}")
            return
        if self.mode == "description":
            return
        if self.mode == "alias":
            name, eq, value = text.partition("=")
            if not eq or not name.strip() or not value.strip():
                self._refuse(span, f"invalid alias line: {text}")
                return
            try:
                changes, _notes = _resolve_actions(value.strip(), self.aliases)
            except _ActionError as exc:
                self._refuse(span, f"invalid alias ({exc}): {text}")
                changes = {"block": ("?", None)}
            self.aliases[name.strip().lower()] = changes
            return
        if self.mode == "start" or self.current is None:
            self._refuse(span, f"a pattern before the first section header: {text}")
            return
        if not self.current.deciding:
            # Nothing here decides reachability; Privoxy still refuses a bad path regex.
            slash = text.find("/")
            if slash >= 0 and text[slash + 1 :] and not text.lower().startswith(TAG_PREFIXES):
                try:
                    compile_regex("^" + text[slash:], self.regex_cache)
                except PatternError as exc:
                    self._refuse(span, f"cannot use the pattern {text!r}: {exc}", "TE905")
            return
        try:
            self.current.patterns.append(compile_pattern(text, span, self.regex_cache))
        except PatternError as exc:
            self._refuse(span, f"cannot use the pattern {text!r}: {exc}", "TE905")
            try:  # its host part still says which requests it was meant for
                host_part = compile_pattern(text.split("/", 1)[0] or "/", span, self.regex_cache)
            except PatternError:
                return
            host_part.invalid = True
            self.current.patterns.append(host_part)


def _parse_action_file(
    lines: list[Line], problems: list[Problem], via: Span | None, regex_cache: dict[str, BoundedPattern]
) -> list[Section]:
    parser = ActionFileParser(problems, via, regex_cache)
    for line in lines:
        parser.feed(line)
    return parser.sections


# --------------------------------------------------------------------------- forwarding
# --------------------------------------------------------------------------- parsing files


def _load_source(path: Path, display: str, span: Span | None, problems: list[Problem]) -> SourceText | None:
    try:
        src = read_source(path, display)
    except InputError as exc:
        if span is None:
            raise
        problems.append(Problem("TE902", span, str(exc)))
        return None
    problems.extend(src.problems)
    return src


def _stream_action_file(
    path: Path, display: str, via: Span | None, regex_cache: dict[str, BoundedPattern], context: ParseContext
) -> tuple[list[Section], list[Problem]] | None:
    """The sections of an action file read by stream.py (only the lines that can matter for a
    probe), or None when the file must be read the ordinary way (see stream.NotStreamable; an
    unreadable file is then reported as read_source reports it)."""
    try:
        if not path.is_file() or path.stat().st_size > MAX_FILE_BYTES:
            return None
        labels = {label for host in probe_hosts(context.catalog) for label in host.split(".")}
        problems: list[Problem] = []
        parser = ActionFileParser(problems, via, regex_cache)
        joiner = LineJoiner(display)
        wanted = lines_to_parse(
            path, relevant_line_pattern(labels), lambda: joiner.cont or parser.reads_every_line
        )
        for number, raw in wanted:
            line = joiner.feed(number, raw)
            if line is not None:
                parser.feed(line)
        last = joiner.finish()
        if last is not None:
            parser.feed(last)
    except (NotStreamable, OSError):
        return None
    return parser.sections, problems


def _is_action_file(lines: list[Line]) -> bool:
    return bool(lines) and lines[0].text.startswith("{")


def _missing_assumption(name: str, context: ParseContext) -> tuple[frozenset[str] | None, str]:
    base = Path(name).name.lower()
    if base in STANDARD_FILES:
        return frozenset(), f"assumed to be {STANDARD_FILES[base]}"
    keywords = {sid: svc.keywords for sid, svc in context.catalog.services.items()}
    kind, named = classify_list_name(Path(name).stem, keywords)
    if kind == "other-topic":
        return frozenset(), "its name says it holds another topic: assumed not to block the services' sites"
    if kind == "social" and named and named != set(keywords):
        return frozenset(named), "what it decides for " + ", ".join(sorted(named)) + " is unknown"
    return None, "what it decides for the services is unknown"


def parse(path: Path, context: ParseContext) -> PrivoxyRuleset:
    display = str(path)
    problems: list[Problem] = []
    regex_cache: dict[str, BoundedPattern] = {}
    if path.name.lower().endswith(".action"):
        streamed = _stream_action_file(path, display, None, regex_cache, context)
        if streamed is not None:
            sections, found = streamed
            problems.extend(found)
            return PrivoxyRuleset(display, list(sections), [], problems, context)
    src = read_source(path, display)
    problems.extend(src.problems)
    lines = _logical_lines(src)
    if _is_action_file(lines) or path.name.lower().endswith(".action"):
        sections = _parse_action_file(lines, problems, None, regex_cache)
        return PrivoxyRuleset(display, list(sections), [], problems, context)
    return _parse_config(path, display, lines, problems, context, regex_cache)


def _parse_config(
    path: Path,
    display: str,
    lines: list[Line],
    problems: list[Problem],
    context: ParseContext,
    regex_cache: dict[str, BoundedPattern],
) -> PrivoxyRuleset:
    confdir: str | None = None
    entries: list[Section | MissingFile] = []
    forwards: list[Forward] = []
    included: list[str] = []
    toggled_off: Span | None = None
    trust: Trust | None = None
    n_files = 0
    for line in lines:
        m = re.match(r"(\S+)[ \t]*(.*)", line.text)
        assert m is not None
        directive, arg = m.group(1).lower(), m.group(2).strip()
        span = line.span
        if directive == "confdir":
            confdir = arg
        elif directive == "actionsfile":
            n_files += 1
            if n_files > MAX_AF_FILES:
                problems.append(
                    Problem(
                        "TE901", span, f"more than {MAX_AF_FILES} actionsfile lines: Privoxy refuses this"
                    )
                )
                continue
            entries.extend(_load_actions(arg, confdir, path, span, problems, context, included, regex_cache))
        elif directive == "trustfile":
            trust = _load_trust(arg, confdir, path, span, problems, context, included, regex_cache)
        elif directive == "toggle":
            toggled_off = span if arg[:1] == "0" else None
        elif directive in FORWARD_DIRECTIVES:
            fwd = _parse_forward(directive, arg, span, problems, regex_cache)
            if fwd is not None:
                forwards.append(fwd)
    ruleset = PrivoxyRuleset(
        display, entries, forwards, problems, context, toggled_off=toggled_off, trust=trust
    )
    ruleset.included = included
    return ruleset


def _reference(name: str, confdir: str | None) -> str:
    """make_path(confdir, name): absolute names stay, others are under confdir."""
    if name.startswith("/") or not confdir:
        return name
    return confdir.rstrip("/") + "/" + name


def _load_actions(
    name: str,
    confdir: str | None,
    config: Path,
    span: Span,
    problems: list[Problem],
    context: ParseContext,
    included: list[str],
    regex_cache: dict[str, BoundedPattern],
) -> list[Section | MissingFile]:
    resolver = context.resolver
    ref = _reference(name, confdir)
    target = resolver.resolve(ref, config)
    if target is None and not name.endswith(".action"):
        target = resolver.resolve(ref + ".action", config)
        if target is not None:
            problems.append(
                Problem(
                    "TE901",
                    span,
                    f"actionsfile {name}: Privoxy 3.0.7 and later need the "
                    f"complete file name ({name}.action)",
                )
            )
    if target is None:
        unknown_for, assumption = _missing_assumption(name, context)
        problems.append(Problem("TE903", span, f"actions file not found: {ref} ({assumption})"))
        return [MissingFile(span, name, unknown_for)] if unknown_for != frozenset() else []
    included.append(str(target.resolve()))
    streamed = _stream_action_file(target, resolver.display(target), span, regex_cache, context)
    if streamed is not None:
        sections, found = streamed
        problems.extend(found)
        return list(sections)
    src = _load_source(target, resolver.display(target), span, problems)
    if src is None:
        return [MissingFile(span, name, None)]
    return list(_parse_action_file(_logical_lines(src), problems, span, regex_cache))


def _load_trust(
    name: str,
    confdir: str | None,
    config: Path,
    span: Span,
    problems: list[Problem],
    context: ParseContext,
    included: list[str],
    regex_cache: dict[str, BoundedPattern],
) -> Trust:
    resolver = context.resolver
    ref = _reference(name, confdir)
    target = resolver.resolve(ref, config)
    if target is None:
        problems.append(
            Problem("TE903", span, f"trust file not found: {ref} (which sites it trusts is unknown)")
        )
        return Trust(span, [], missing=True)
    included.append(str(target.resolve()))
    src = _load_source(target, resolver.display(target), span, problems)
    if src is None:
        return Trust(span, [], missing=True)
    entries: list[tuple[bool, UrlPattern]] = []
    for line in _logical_lines(src):
        text = line.text
        trusted = text[0] in "~+"
        spec = text[1:] if trusted else text
        if not spec:
            continue
        try:
            entries.append((trusted, compile_pattern(spec, line.span, regex_cache)))
        except PatternError as exc:
            problems.append(Problem("TE905", line.span, f"cannot use the trust pattern {spec!r}: {exc}"))
    return Trust(span, entries)


def _parse_forward(
    directive: str, arg: str, span: Span, problems: list[Problem], regex_cache: dict[str, BoundedPattern]
) -> Forward | None:
    words = arg.split()
    want = 2 if directive in ("forward", "forward-webserver") else 3
    if len(words) != want:
        problems.append(
            Problem("TE901", span, f"{directive} takes {want} values, not {len(words)}: Privoxy refuses this")
        )
        return None
    try:
        pattern = compile_pattern(words[0], span, regex_cache)
    except PatternError as exc:
        problems.append(Problem("TE905", span, f"{directive}: cannot use the pattern {words[0]!r}: {exc}"))
        return None
    kind, target = classify_target(directive, words[1:])
    return Forward(directive, kind, target, span, pattern)

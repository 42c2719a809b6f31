"""haproxy.cfg text to `Proxy` sections: words, sections, ACLs, conditions, rules, routes."""

from __future__ import annotations

import re
from pathlib import Path

from policy_lint.dialects.proxies.haproxy.model import (
    FILE_PATTERNS,
    AclDef,
    Cond,
    Line,
    Proxy,
    Route,
    Rule,
    Server,
    Term,
)
from policy_lint.dialects.semantics.base import ParseContext
from policy_lint.dialects.semantics.detection import statement_hits
from policy_lint.dialects.semantics.patterns import BoundedPattern, PatternError
from policy_lint.inputs import InputError, read_source
from policy_lint.model import Problem, Span

# Section keywords (configuration manual, 2.6 "Configuration file format" and section 3/4).
PROXY_SECTIONS = ("frontend", "listen", "backend")
OTHER_SECTIONS = (
    "global",
    "defaults",
    "resolvers",
    "peers",
    "userlist",
    "mailers",
    "program",
    "cache",
    "http-errors",
    "ring",
    "fcgi-app",
    "log-forward",
    "dynamic-update",
)
_STATEMENT = re.compile(
    r"^\s*(frontend\s+\S+|backend\s+\S+|listen\s+\S+|defaults\b|global\b"
    r"|(use_backend|default_backend)\s+\S+|http-request\s+(deny|reject|redirect|return|tarpit|set-dst|allow)"
    r"|tcp-request\s+(content|connection|inspect-delay)|acl\s+\S+\s+\S+|bind\s+\S*:\d+|mode\s+(http|tcp)\b"
    r"|server\s+\S+\s+\S+|timeout\s+(client|server|connect)\b)",
    re.M,
)


def detect(path: Path, head: str) -> float:
    from fnmatch import fnmatch

    name = path.name.lower()
    named = any(fnmatch(name, p) for p in FILE_PATTERNS)
    hits = statement_hits(path, head, _STATEMENT)
    sections = len(re.findall(r"^\s*(frontend|backend|listen)\s+\S+\s*$", head, re.M))
    if named and (hits or not head.strip()):
        return 0.95
    if sections and hits >= 3:
        # Sections named `frontend x` / `backend x` are HAProxy's alone; `acl x src ...` lines
        # also look like squid's, so the sections must outweigh squid's own content score.
        return min(0.95, 0.6 + 0.1 * hits)
    return 0.3 if named else 0.0


def split_words(text: str) -> list[str]:
    """Words of one line as HAProxy 2.x reads them: blanks separate, `#` starts a comment, a
    backslash escapes the next character, "double" quotes keep blanks (and allow escapes),
    'single' quotes keep everything as written."""
    words: list[str] = []
    buf: list[str] = []
    in_word = False
    quote = ""
    i = 0
    while i < len(text):
        c = text[i]
        if quote:
            if c == quote:
                quote = ""
            elif c == "\\" and quote == '"' and i + 1 < len(text):
                i += 1
                buf.append(text[i])
            else:
                buf.append(c)
        elif c in "\"'":
            quote = c
            in_word = True
        elif c == "\\" and i + 1 < len(text):
            i += 1
            buf.append(text[i])
            in_word = True
        elif c == "#":
            break
        elif c in " \t":
            if in_word:
                words.append("".join(buf))
                buf, in_word = [], False
        else:
            buf.append(c)
            in_word = True
        i += 1
    if in_word:
        words.append("".join(buf))
    return words


class Parser:
    """Reads one haproxy.cfg into proxies; `defaults` sections apply to the proxies after them."""

    def __init__(self, path: Path, context: ParseContext):
        self.path = path
        self.context = context
        self.problems: list[Problem] = []
        self.proxies: list[Proxy] = []
        self.statements = 0
        self.understood = 0
        self.first_statement: Span | None = None
        self.included: list[str] = []

    # ---------------------------------------------------------------- reading

    def read(self) -> None:
        src = read_source(self.path, self.context.resolver.display(self.path))
        self.problems.extend(src.problems)
        defaults: dict[str, object] = {"mode": "tcp"}
        current: Proxy | None = None
        in_defaults = False
        in_section = False
        for i, raw in enumerate(src.lines, start=1):
            words = tuple(split_words(raw))
            if not words:
                continue
            col = len(raw) - len(raw.lstrip()) + 1
            span = Span(src.path, i, col, raw.strip())
            self.statements += 1
            if self.first_statement is None:
                self.first_statement = span
            line = Line(span, words)
            key = words[0]
            if key in PROXY_SECTIONS:
                self.understood += 1
                if len(words) < 2:
                    self.problems.append(
                        Problem("TE901", span, f"'{key}' needs a name: HAProxy refuses this")
                    )
                    current = None
                    continue
                in_section = True
                current = Proxy(key, words[1], span, mode=str(defaults["mode"]))
                self._inherit(current, defaults)
                self.proxies.append(current)
                in_defaults = False
                continue
            if key in OTHER_SECTIONS:
                self.understood += 1
                in_section = True
                current = None
                in_defaults = key == "defaults"
                if in_defaults:
                    # A new defaults section starts from HAProxy's built-in defaults again.
                    defaults = {"mode": "tcp"}
                continue
            if in_defaults:
                self._defaults_line(line, defaults)
                continue
            if current is not None:
                self._proxy_line(current, line)
            elif in_section:
                self.understood += 1  # global / resolvers / userlist ... settings: no decision
            else:
                self.problems.append(
                    Problem("TE901", span, f"unknown keyword {key!r} out of section: HAProxy refuses this")
                )

    def _inherit(self, proxy: Proxy, defaults: dict[str, object]) -> None:
        if defaults.get("forward"):
            proxy.forward.extend(defaults["forward"])  # type: ignore[arg-type]  # list[Span]
        if defaults.get("inspect_delay"):
            proxy.inspect_delay = True
        if proxy.is_frontend and isinstance(defaults.get("default_backend"), Route):
            proxy.default_backend = defaults["default_backend"]  # type: ignore[assignment]
        for rule in defaults.get("rules", []):  # type: ignore[attr-defined]  # list[Rule]
            proxy.rules.append(rule)

    def _defaults_line(self, line: Line, defaults: dict[str, object]) -> None:
        words, span = line.words, line.span
        self.understood += 1
        if words[0] == "mode" and len(words) > 1:
            defaults["mode"] = words[1]
        elif words[0] == "default_backend" and len(words) > 1:
            defaults["default_backend"] = Route(words[1], None, span)
        elif words[:2] in (("option", "http_proxy"), ("option", "transparent")):
            defaults.setdefault("forward", []).append(span)  # type: ignore[attr-defined]
            if words[1] == "http_proxy":
                self._http_proxy_removed(span)
        elif words[:2] == ("tcp-request", "inspect-delay"):
            defaults["inspect_delay"] = True
        elif words[0] in ("http-request", "tcp-request") and len(words) > 2:
            # Named defaults may carry rules (2.5+); they apply before the proxy's own.
            proxy = Proxy("defaults", "", span)
            self._rule(proxy, line)
            defaults.setdefault("rules", []).extend(proxy.rules)  # type: ignore[attr-defined]

    # ---------------------------------------------------------------- proxy sections

    def _proxy_line(self, proxy: Proxy, line: Line) -> None:
        words, span = line.words, line.span
        key = words[0]
        self.understood += 1
        if key == "mode" and len(words) > 1:
            proxy.mode = words[1]
        elif key == "disabled" and len(words) == 1:
            proxy.disabled = span
        elif key == "enabled" and len(words) == 1:
            proxy.disabled = None
        elif key == "bind":
            proxy.binds.append(span)
            if "ssl" in words[2:]:
                proxy.tls_bind = True
        elif key == "acl":
            if len(words) < 3:
                self.problems.append(
                    Problem("TE901", span, "acl needs a name and a criterion: HAProxy refuses this")
                )
                return
            acl = self._acl(words[2], words[3:], span)
            proxy.acls.setdefault(words[1], []).append(acl)
        elif key in ("http-request", "tcp-request"):
            self._rule(proxy, line)
        elif key == "use_backend" and len(words) > 1:
            proxy.routes.append(Route(words[1], self._cond(words[2:], span), span))
        elif key == "default_backend" and len(words) > 1:
            proxy.default_backend = Route(words[1], None, span)
        elif key == "server" and len(words) > 2:
            address = words[2]
            proxy.servers.append(Server(words[1], address, "disabled" in words[3:], span))
            host = address.rsplit(":", 1)[0] if address.count(":") == 1 else address
            if host in ("0.0.0.0", "*", "") or "%[" in address:
                proxy.forward.append(span)  # the destination the client asked for
        elif key == "option" and len(words) > 1 and words[1] in ("http_proxy", "transparent"):
            proxy.forward.append(span)
            if words[1] == "http_proxy":
                self._http_proxy_removed(span)
        elif key in ("redirect", "block", "reqdeny", "reqrep", "reqirep", "reqideny", "reqtarpit"):
            if key == "redirect":
                args, cond_words = _split_cond(words[1:])
                proxy.rules.append(Rule("http", "redirect", tuple(args), self._cond(cond_words, span), span))
            else:
                # Removed in HAProxy 2.1+: the configuration is refused (and older releases
                # match header lines by regex, which is not modelled).
                self.problems.append(
                    Problem("TE901", span, f"'{key}' was removed in HAProxy 2.1; HAProxy refuses this config")
                )
        elif key in ("use-server", "force-persist", "http-response", "tcp-response", "stick", "filter"):
            pass  # after the backend is chosen, or response side: no effect on reachability
        else:
            pass  # timeouts, balance, logs, options: no effect on which site is reached

    def _http_proxy_removed(self, span: Span) -> None:
        # Still what makes the section a forward proxy for HAProxy 1.x, but 2.5+ stops there.
        self.problems.append(
            Problem(
                "TE901",
                span,
                "option http_proxy is not supported since HAProxy 2.5 (use http-request set-dst / do-resolve): "
                "HAProxy refuses this config",
            )
        )

    def _rule(self, proxy: Proxy, line: Line) -> None:
        words, span = line.words, line.span
        if words[0] == "tcp-request":
            if len(words) < 2:
                return
            if words[1] == "inspect-delay":
                proxy.inspect_delay = True
                return
            if words[1] not in ("connection", "content", "session") or len(words) < 3:
                return
            kind = {"connection": "tcp-connection", "session": "tcp-connection"}.get(words[1], "tcp-content")
            rest = words[2:]
        else:
            if len(words) < 2:
                return
            kind, rest = "http", words[1:]
        action = rest[0]
        args, cond_words = _split_cond(rest[1:])
        cond = self._cond(cond_words, span) if cond_words else None
        if action.startswith(("set-dst", "do-resolve")) and not action.startswith("set-dst-port"):
            proxy.forward.append(span)
        proxy.rules.append(Rule(kind, action, tuple(args), cond, span))

    # ---------------------------------------------------------------- ACLs and conditions

    def _acl(self, fetch: str, args: tuple[str, ...], span: Span) -> AclDef:
        acl = AclDef(fetch, span)
        rest = list(args)
        files: list[str] = []
        while rest and rest[0].startswith("-") and len(rest[0]) == 2:
            flag = rest.pop(0)
            if flag == "--":
                break
            if flag == "-i":
                acl.ignore_case = True
            elif flag == "-m" and rest:
                acl.method = rest.pop(0)
            elif flag in ("-f", "-M") and rest:
                files.append(rest.pop(0))
            elif flag in ("-u",) and rest:
                rest.pop(0)
            elif flag == "-n":
                pass
            else:
                rest.insert(0, flag)
                break
        for value in rest:
            acl.patterns.append((value, span))
        for ref in files:
            self._load_patterns(acl, ref, span)
        method = acl.method or default_method(fetch)
        if method == "reg":
            for value, vspan in acl.patterns:
                try:
                    acl.regexes.append((BoundedPattern.compile(value, acl.ignore_case), vspan))
                except PatternError as exc:
                    acl.broken = str(exc)
                    self.problems.append(Problem("TE905", vspan, f"acl {fetch}: {exc}; HAProxy refuses this"))
        return acl

    def _load_patterns(self, acl: AclDef, ref: str, span: Span) -> None:
        target = self.context.resolver.resolve(ref, self.path)
        if target is None:
            acl.missing.append(ref)
            self.problems.append(
                Problem("TE903", span, f"ACL pattern file not found: {ref} (what it lists is unknown)")
            )
            return
        try:
            src = read_source(target, self.context.resolver.display(target))
        except InputError as exc:
            acl.missing.append(ref)
            self.problems.append(Problem("TE902", span, str(exc)))
            return
        self.problems.extend(src.problems)
        self.included.append(str(target.resolve()))
        for i, raw in enumerate(src.lines, start=1):
            # Pattern files: one pattern per line, blank lines and lines starting with '#'
            # skipped, leading and trailing blanks part of the pattern (doc 7.1).
            if not raw.strip() or raw.lstrip().startswith("#"):
                continue
            acl.patterns.append((raw, Span(src.path, i, 1, raw)))

    def _cond(self, words: tuple[str, ...] | list[str], span: Span) -> Cond | None:
        words = list(words)
        if not words:
            return None
        if words[0] not in ("if", "unless"):
            return None
        unless = words[0] == "unless"
        groups: list[tuple[Term, ...]] = []
        current: list[Term] = []
        i = 1
        negate = False
        while i < len(words):
            w = words[i]
            if w in ("||", "or"):
                groups.append(tuple(current))
                current, negate = [], False
            elif w == "!":
                negate = not negate
            elif w == "{" or w == "!{":
                negate = negate ^ (w == "!{")
                end = words.index("}", i) if "}" in words[i:] else len(words)
                inner = words[i + 1 : end]
                if not inner:
                    self.problems.append(
                        Problem("TE901", span, "empty anonymous ACL '{ }': HAProxy refuses this")
                    )
                else:
                    current.append(Term(negate, anonymous=self._acl(inner[0], tuple(inner[1:]), span)))
                negate = False
                i = end
            else:
                while w.startswith("!"):
                    negate, w = not negate, w[1:]
                current.append(Term(negate, name=w))
                negate = False
            i += 1
        groups.append(tuple(current))
        return Cond(unless, tuple(g for g in groups if g))


def _split_cond(words: tuple[str, ...]) -> tuple[list[str], list[str]]:
    for i, w in enumerate(words):
        if w in ("if", "unless"):
            return list(words[:i]), list(words[i:])
    return list(words), []


# The matching method each fetch implies (configuration manual 7.3: "ACL derivatives").
_SUFFIX_METHODS = {
    "_beg": "beg",
    "_end": "end",
    "_sub": "sub",
    "_dom": "dom",
    "_reg": "reg",
    "_dir": "dir",
    "_len": "len",
}


def default_method(fetch: str) -> str:
    base = fetch.split("(", 1)[0]
    for suffix, method in _SUFFIX_METHODS.items():
        if base.endswith(suffix):
            return method
    if base in ("src", "dst", "req.ssl_hello_type", "req_ssl_hello_type", "dst_port", "src_port"):
        return "int" if "port" in base or "hello" in base else "ip"
    return "str"

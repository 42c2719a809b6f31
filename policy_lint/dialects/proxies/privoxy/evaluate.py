"""The actions in force for one request, and what Privoxy then does with it: block, trust file,
redirect, forward."""

from __future__ import annotations

from dataclasses import dataclass, field

from policy_lint.dialects.proxies.privoxy.model import (
    FORWARD_DIRECTIVES,
    NAME,
    Forward,
    MissingFile,
    Section,
    Trust,
    classify_target,
)
from policy_lint.dialects.proxies.privoxy.urlmatch import GLOB, UrlPattern, match_portlist
from policy_lint.dialects.semantics.base import ParseContext
from policy_lint.dialects.semantics.patterns import SEARCH_TIMEOUT_SECONDS
from policy_lint.model import EVERYONE, Audience, Decision, Outcome, Probe, Problem, Span

MAX_TRACE = 8  # matched sections shown in a decision's trace


def _pcrs(command: str, subject: str) -> tuple[str | None, bool]:
    """Apply one pcrs command `s<d>pattern<d>replacement<d>flags` (the subset redirects use:
    flags g, i, m, s, x, T; `$1`, `$&`, `` $` ``, `$'`, `$+` in the replacement) to `subject`.
    Returns (result or None when nothing matched, certain)."""
    import regex

    if len(command) < 2 or command[0] != "s":
        return None, True
    delim = command[1]
    parts: list[str] = []
    buf: list[str] = []
    i = 2
    while i < len(command):
        c = command[i]
        if c == "\\" and i + 1 < len(command) and command[i + 1] == delim:
            buf.append(delim)
            i += 2
            continue
        if c == delim:
            parts.append("".join(buf))
            buf = []
            i += 1
            continue
        buf.append(c)
        i += 1
    parts.append("".join(buf))
    if len(parts) < 2:
        return None, True
    pattern, replacement = parts[0], parts[1]
    flags_text = parts[2] if len(parts) > 2 else ""
    flags = regex.VERSION0
    for f, bit in (
        ("i", regex.IGNORECASE),
        ("m", regex.MULTILINE),
        ("s", regex.DOTALL),
        ("x", regex.VERBOSE),
    ):
        if f in flags_text:
            flags |= bit
    try:
        compiled = regex.compile(pattern, flags)
    except (regex.error, OverflowError, RecursionError):
        return None, True
    trivial = "T" in flags_text
    count = 0 if "g" in flags_text else 1

    def expand(m) -> str:
        if trivial:
            return replacement
        out: list[str] = []
        j = 0
        while j < len(replacement):
            c = replacement[j]
            nxt = replacement[j + 1] if j + 1 < len(replacement) else ""
            if c == "\\" and nxt:
                out.append({"n": "\n", "t": "\t", "r": "\r"}.get(nxt, nxt))
                j += 2
            elif c == "$" and nxt.isdigit():
                k = int(nxt)
                out.append((m.group(k) or "") if k <= (compiled.groups or 0) else "")
                j += 2
            elif c == "$" and nxt in "&`'+":
                if nxt == "&":
                    out.append(m.group(0))
                elif nxt == "`":
                    out.append(subject[: m.start()])
                elif nxt == "'":
                    out.append(subject[m.end() :])
                else:
                    last = [g for g in m.groups() if g is not None]
                    out.append(last[-1] if last else "")
                j += 2
            else:
                out.append(c)
                j += 1
        return "".join(out)

    try:
        result, hits = compiled.subn(expand, subject, count=count, timeout=SEARCH_TIMEOUT_SECONDS)
    except TimeoutError:
        return None, False
    return (result if hits else None), True


# --------------------------------------------------------------------------- the ruleset


@dataclass
class _State:
    """The deciding actions in force for one request after every matching section."""

    values: dict[str, tuple[str, str | None]] = field(default_factory=dict)
    by: dict[str, tuple[Section | MissingFile, UrlPattern | None]] = field(default_factory=dict)
    trace: list[Span] = field(default_factory=list)
    uncertain: list[str] = field(default_factory=list)  # why a match could not be decided

    def on(self, name: str) -> bool:
        return self.values.get(name, ("-", None))[0] == "+"

    def value(self, name: str) -> str | None:
        v = self.values.get(name)
        return v[1] if v and v[0] == "+" else None


class PrivoxyRuleset:
    dialect = NAME

    def __init__(
        self,
        path: str,
        entries: list[Section | MissingFile],
        forwards: list[Forward],
        problems: list[Problem],
        context: ParseContext,
        *,
        toggled_off: Span | None = None,
        trust: Trust | None = None,
    ):
        self.path = path
        self.entries = entries
        self.forwards = forwards
        self.problems = problems
        self.catalog = context.catalog
        self.toggled_off = toggled_off
        self.trust = trust
        self.included: list[str] = []
        self._cache: dict[Probe, Decision] = {}
        self._reported: set[Span] = set()
        self._index()

    # ---- indexing: label patterns without wildcards by key, host-less ones by (port, path)
    def _index(self) -> None:
        self._keyed: dict[tuple, list[tuple[int, int]]] = {}
        self._hostless: list[tuple[int, int]] = []  # depend on port and path only
        self._globbed: list[tuple[int, int]] = []  # host labels with * ? [...]
        self._missing: list[int] = []
        self._memo: dict[tuple[int, str], bool | None] = {}
        self._hostless_hits: dict[tuple[int, str], list[tuple[int, int, bool | None]]] = {}
        for ei, entry in enumerate(self.entries):
            if isinstance(entry, MissingFile):
                self._missing.append(ei)
                continue
            for pi, pat in enumerate(entry.patterns):
                if pat.tag:
                    continue
                if not pat.labels:
                    self._hostless.append((ei, pi))
                elif pat.globbed:
                    # Indexed by a literal end label when the pattern is anchored there.
                    if not pat.open_right and not GLOB.search(pat.labels[-1]):
                        self._keyed.setdefault(("last", pat.labels[-1]), []).append((ei, pi))
                    elif not pat.open_left and not GLOB.search(pat.labels[0]):
                        self._keyed.setdefault(("first", pat.labels[0]), []).append((ei, pi))
                    else:
                        self._globbed.append((ei, pi))
                else:
                    kind = (
                        ("R" if pat.open_left else "F")
                        if not pat.open_right
                        else ("U" if pat.open_left else "L")
                    )
                    self._keyed.setdefault((kind, pat.labels), []).append((ei, pi))

    def _matches(self, labels: tuple[str, ...], port: int, path: str) -> list[tuple[int, int, bool | None]]:
        """(entry, pattern, True|None) of every matching pattern, in file order; pattern -1
        stands for a missing file."""
        out: list[tuple[int, int, bool | None]] = []
        keyed = self._keyed
        n = len(labels)
        hits: list[tuple[int, int]] = []
        if keyed and labels:
            hits += keyed.get(("last", labels[-1]), [])
            hits += keyed.get(("first", labels[0]), [])
            hits += keyed.get(("F", labels), [])
            for i in range(n):
                hits += keyed.get(("R", labels[i:]), [])
                hits += keyed.get(("L", labels[: i + 1]), [])
                for j in range(i + 1, n + 1):
                    hits += keyed.get(("U", labels[i:j]), [])
        hits += self._globbed
        for ei, pi in hits:
            pat = self.entries[ei].patterns[pi]  # type: ignore[union-attr]  # only Sections are indexed
            m = pat.matches(labels, port, path, self._memo)
            if m is not False:
                out.append((ei, pi, m))
        key = (port, path)
        hostless = self._hostless_hits.get(key)
        if hostless is None:
            hostless = []
            for ei, pi in self._hostless:
                pat = self.entries[ei].patterns[pi]  # type: ignore[union-attr]  # only Sections are indexed
                m = pat.matches((), port, path, self._memo)
                if m is not False:
                    hostless.append((ei, pi, m))
            self._hostless_hits[key] = hostless
        out += hostless
        out += [(ei, -1, True) for ei in self._missing]
        out.sort(key=lambda t: (t[0], t[1]))
        return out

    def audiences(self) -> list[Audience]:
        return [EVERYONE]

    def inert_mentions(self, probe: Probe) -> list[Span]:
        return []

    # ---- the actions in force for one request
    def _state(self, probe: Probe, port: int, path: str) -> _State:
        host = probe.host.lower().rstrip(".")
        labels = tuple(label for label in host.split(".") if label)
        state = _State()
        applied = -1
        for ei, pi, m in self._matches(labels, port, path):
            entry = self.entries[ei]
            if isinstance(entry, MissingFile):
                if (entry.unknown_for is None and not probe.is_control) or (
                    entry.unknown_for and probe.service in entry.unknown_for
                ):
                    state.values["block"] = ("?", None)
                    state.by["block"] = (entry, None)
                    state.uncertain.append(f"depends on {entry.name}, which is missing")
                    state.trace.append(entry.span)
                continue
            if ei == applied:
                continue  # the section already applied through another of its patterns
            applied = ei
            pat = entry.patterns[pi]
            state.trace.extend(s for s in (entry.via, entry.span, pat.span) if s is not None)
            if m is None:
                self._timeout(pat)
                state.values["block"] = ("?", None)
                state.by["block"] = (entry, pat)
                state.uncertain.append(f"the path pattern {pat.spec!r} ran out of time")
                continue
            if entry.broken or pat.invalid:
                state.values["block"] = ("?", None)
                state.by["block"] = (entry, pat)
                state.uncertain.append(
                    f"Privoxy cannot parse the section header {entry.span.text!r}"
                    if entry.broken
                    else f"the pattern {pat.spec!r} is invalid"
                )
                continue
            for name, change in entry.changes.items():
                state.values[name] = change
                state.by[name] = (entry, pat)
                if change[0] == "?":
                    state.uncertain.append(f"the alias in {entry.span.text!r} cannot be parsed")
        return state

    def _timeout(self, pat: UrlPattern) -> None:
        problem = Problem("TE905", pat.span, f"the path pattern {pat.spec!r} ran out of time on a probe")
        if problem not in self.problems:
            self.problems.append(problem)

    # ---- evaluation
    def evaluate(self, probe: Probe, audience: Audience) -> Decision:
        hit = self._cache.get(probe)
        if hit is None:
            hit = self._cache[probe] = self._evaluate(probe)
        return hit

    def _trace(self, state: _State, *extra: Span | None) -> tuple[Span, ...]:
        spans = list(dict.fromkeys(state.trace))[-2 * MAX_TRACE :]
        spans += [s for s in extra if s is not None and s not in spans]
        return tuple(spans)

    def _evaluate(self, probe: Probe) -> Decision:
        https = probe.scheme == "https"
        if https:
            state = self._state(probe, probe.port, "/")
            inspected = state.on("https-inspection") and not self.toggled_off
            if inspected and probe.path != "/":
                state = self._state(probe, probe.port, probe.path)
        else:
            inspected = False
            state = self._state(probe, probe.port, probe.path)
        if self.toggled_off is not None:
            return self._forward(
                probe, _State(), note="Privoxy starts toggled off (toggle 0): no actions apply"
            )
        connect = https and not inspected
        # 1. limit-connect: a CONNECT to a port outside the list is refused.
        limit = state.value("limit-connect")
        if connect and limit is not None and not match_portlist(limit, probe.port):
            entry, pat = state.by["limit-connect"]
            return Decision(
                Outcome.DENY,
                pat.span if pat else entry.span,
                self._trace(state),
                False,
                "403",
                f"CONNECT to port {probe.port} outside limit-connect{{{limit}}}",
            )
        # 2. block (before trust and redirects: Privoxy's crunchers run in that order).
        block = state.values.get("block")
        if block and block[0] == "?":
            entry, pat = state.by["block"]
            return Decision(
                Outcome.UNKNOWN,
                pat.span if pat else entry.span,
                self._trace(state),
                note=state.uncertain[-1] if state.uncertain else "",
            )
        if block and block[0] == "+":
            entry, pat = state.by["block"]
            # Substitutes (checked against privoxy 3.0.34, CONNECT included): an image (403) or a
            # redirect to set-image-blocker's URL (302), an empty document (403).
            how = "403"
            if state.on("handle-as-image") and state.value("set-image-blocker"):
                blocker = state.value("set-image-blocker") or ""
                how = "redirect" if blocker.lower() not in ("pattern", "blank") else "image"
            elif state.on("handle-as-empty-document"):
                how = "empty-document"
            return Decision(
                Outcome.DENY,
                pat.span if pat else entry.span,
                self._trace(state),
                bool(pat and not pat.catch_all),
                how,
                f"block reason: {block[1]}",
            )
        # 3. trust file: untrusted sites are blocked.
        if self.trust is not None:
            denied = self._untrusted(probe, state)
            if denied is not None:
                return denied
        # 4. redirects.
        redirected = self._redirect(probe, state, connect)
        if redirected is not None:
            return redirected
        # 5. forwarding, then the request goes out.
        allow_rule = None
        if block and block[0] == "-":
            entry, pat = state.by["block"]
            allow_rule = (pat.span if pat else entry.span, bool(pat and not pat.catch_all))
        return self._forward(probe, state, allow_rule)

    def _untrusted(self, probe: Probe, state: _State) -> Decision | None:
        trust = self.trust
        assert trust is not None
        if trust.missing:
            return (
                None
                if probe.is_control
                else Decision(
                    Outcome.UNKNOWN,
                    trust.span,
                    self._trace(state, trust.span),
                    note="the trust file is missing: which sites it trusts is unknown",
                )
            )
        host = probe.host.lower()
        labels = tuple(label for label in host.split(".") if label)
        path = probe.path if probe.scheme == "http" else "/"
        for trusted, pat in reversed(trust.entries):  # Privoxy reads the file into a stack
            m = pat.matches(labels, probe.port, path)
            if m is None:
                return Decision(
                    Outcome.UNKNOWN,
                    pat.span,
                    self._trace(state, trust.span, pat.span),
                    note=f"the trust pattern {pat.spec!r} ran out of time",
                )
            if m:
                if trusted:
                    return None
                return Decision(
                    Outcome.DENY,
                    pat.span,
                    self._trace(state, trust.span, pat.span),
                    not pat.catch_all,
                    "untrusted",
                    "distrusted by the trust file",
                )
        return Decision(
            Outcome.DENY,
            trust.span,
            self._trace(state, trust.span),
            False,
            "untrusted",
            "not in the trust file (only pages linked from a trusted referrer pass)",
        )

    def _redirect(self, probe: Probe, state: _State, connect: bool) -> Decision | None:
        target = state.value("redirect")
        if target is None:
            return None
        entry, pat = state.by["redirect"]
        rule = pat.span if pat else entry.span
        url = f"{probe.host}:{probe.port}" if connect else f"{probe.scheme}://{probe.host}{probe.path}"
        if target.startswith("s"):
            new, certain = _pcrs(target, url)
            if not certain:
                return Decision(
                    Outcome.UNKNOWN, rule, self._trace(state), note=f"the redirect {target!r} ran out of time"
                )
            if new is None or not new.lower().startswith(("http://", "https://")):
                return None
        else:
            new = target
        if new.lower() == url.lower():
            return None  # Privoxy prevents the loop and lets the request pass
        specific = bool(pat and not pat.catch_all)
        if connect:
            return Decision(
                Outcome.DENY,
                rule,
                self._trace(state),
                specific,
                "redirect",
                f"a CONNECT answered with a redirect to {new} fails",
            )
        from urllib.parse import urlsplit  # on first use: most configs have no redirects (start-up time)

        to_host = (urlsplit(new).hostname or "").lower()
        if self._same_site(probe, to_host):
            state.trace.append(rule)
            return self._forward(probe, state, note=f"redirected to {new} (same site)")
        return Decision(Outcome.DENY, rule, self._trace(state), specific, "redirect", f"redirected to {new}")

    def _same_site(self, probe: Probe, host: str) -> bool:
        if host == probe.host.lower():
            return True
        if probe.service is None:
            return False
        hit = self.catalog.service_for_host(host)
        return bool(hit and hit[0] == probe.service)

    def _forward(
        self, probe: Probe, state: _State, allow_rule: tuple[Span, bool] | None = None, note: str = ""
    ) -> Decision:
        fwd = self._forwarder(probe, state)
        rule, specific = allow_rule if allow_rule else (None, False)
        if fwd is not None:
            fspecific = fwd.pattern is not None and not fwd.pattern.catch_all
            if fwd.kind == "black-hole":
                return Decision(
                    Outcome.DENY,
                    fwd.span,
                    self._trace(state, fwd.span),
                    fspecific,
                    "black-hole",
                    f"forwarded to {fwd.target}, where nothing listens (Privoxy answers 503)",
                )
            if fwd.kind in ("unknown", "tunnel"):
                # Another proxy or a tunnel (Tor, a VPN's SOCKS port) decides what happens next,
                # with a configuration that is not this one: unknown, as a DNS answer pinned to
                # an unknown public address is (README "Privoxy semantics evaluated").
                why = (
                    "whether a proxy listens there is unknown (a closed port blocks)"
                    if fwd.kind == "unknown"
                    else "that proxy or tunnel decides what happens next, with a configuration not linted here"
                )
                if fwd.span not in self._reported:
                    self._reported.add(fwd.span)
                    self.problems.append(
                        Problem(
                            "TE907",
                            fwd.span,
                            f"requests forwarded to {fwd.target}: {why}; verdicts are unknown",
                        )
                    )
                return Decision(
                    Outcome.UNKNOWN,
                    fwd.span,
                    self._trace(state, fwd.span),
                    fspecific,
                    note=f"forwarded to {fwd.target}: {why}",
                )
            if fspecific:  # a direct exception that names the host
                return Decision(
                    Outcome.ALLOW,
                    fwd.span,
                    self._trace(state, fwd.span),
                    True,
                    note=f"sent directly by '{fwd.span.text}'",
                )
        return Decision(Outcome.ALLOW, rule, self._trace(state), specific, note=note)

    def _forwarder(self, probe: Probe, state: _State) -> Forward | None:
        override = state.value("forward-override")
        if override is not None and self.toggled_off is None:
            entry, pat = state.by["forward-override"]
            span = pat.span if pat else entry.span
            words = override.split()
            if words and words[0].lower() in FORWARD_DIRECTIVES and len(words) >= 2:
                kind, target = classify_target(words[0].lower(), words[1:])
                return Forward(words[0].lower(), kind, target, span)
            return None
        host = probe.host.lower()
        labels = tuple(label for label in host.split(".") if label)
        path = "/" if probe.scheme == "https" else probe.path
        for fwd in reversed(self.forwards):  # the last matching line wins
            assert fwd.pattern is not None
            if fwd.pattern.matches(labels, probe.port, path):
                return fwd
        return None

"""Probes through the engine: every catalog request run under every client sample, each answer
read as a Decision the way browsers act on it, and samples that answer alike grouped into
audiences. `parse` does all of it up front, so the engine is closed before linting goes on."""

from __future__ import annotations

import contextlib
import ipaddress
import re
import time
from pathlib import Path

from policy_lint.catalog import Catalog
from policy_lint.dialects.proxies.pac.answers import Entry, blackhole_literals, classify_entry
from policy_lint.dialects.proxies.pac.engine import (
    CALL_TIMEOUT,
    MAX_HEAP,
    Engine,
    Loaded,
    PinnedJob,
    Tampered,
)
from policy_lint.dialects.proxies.pac.samples import (
    IP_GLOB,
    IS_IN_NET,
    MAX_SAMPLES,
    Sample,
    client_samples,
    describe_group,
    networks_named_in,
)
from policy_lint.dialects.proxies.pac.script import NAME, decode, instrument, short, split_lines
from policy_lint.dialects.semantics.addressing import Target, coverage_note, targets
from policy_lint.dialects.semantics.base import ParseContext
from policy_lint.inputs import InputError, read_source
from policy_lint.model import EVERYONE, Audience, Decision, Outcome, Probe, Problem, Span

LOOP_TIMEOUT = 0.1  # seconds per call once the file has looped (a real answer takes microseconds)
PER_JOB_ALLOWANCE = 0.002  # seconds per request added to the limit of a call running many requests
TIME_BUDGET = 8.0  # seconds a file may spend in calls that ran out of time, in all
ABANDON_AFTER = 5  # requests that loop before any has answered: the script loops for every request
CHROME_MAX_PAC = 1024 * 1024  # Chrome refuses PAC files of 1 MB or more (net/docs/proxy.md)
MAX_PAC_BYTES = 8 * 1024 * 1024
# Stands for a name the catalog knows but has no address for (Ning): a public address that
# belongs to nobody (RFC 5737 TEST-NET-3), so no isInNet test for a real network matches it.
PLACEHOLDER_ADDRESS = "203.0.113.80"
ADDRESS_CHUNK = 2000  # requests per engine call when a script tests its host's address
_FN_DEF = re.compile(r"\bFindProxyForURL\b")
_HOSTISH = re.compile(r"^[a-z0-9][a-z0-9.-]*\.[a-z]{2,}$")
_STRING_LITERAL = re.compile(r"""(["'])((?:\\.|(?!\1)[^\\\n])*)\1""")


class _Budget:
    def __init__(self) -> None:
        self.spent = 0.0

    @property
    def left(self) -> float:
        return TIME_BUDGET - self.spent


def _probe_key(probe: Probe) -> tuple:
    return (probe.host.lower(), probe.scheme, probe.port, probe.path)


def pac_url(probe: Probe) -> str:
    """The `url` browsers pass: https URLs stripped to scheme://host/ (Chrome 52+)."""
    host = probe.host.lower()
    if probe.scheme == "https":
        return f"https://{host}/" if probe.port == 443 else f"https://{host}:{probe.port}/"
    port = "" if probe.port == 80 else f":{probe.port}"
    return f"http://{host}{port}{probe.path}"


def dns_table(catalog: Catalog, source: str) -> tuple[dict[str, list[str]], set[str]]:
    """What names resolve to inside the engine (catalog facts, never DNS), and which of them
    stand in with a placeholder address."""
    table: dict[str, list[str]] = {}
    filler: set[str] = set()

    def put(name: str, addresses: tuple[str, ...]) -> None:
        name = name.lower()
        if name in table:
            return
        if addresses:
            v4 = [a for a in addresses if ":" not in a]
            table[name] = v4 + [a for a in addresses if ":" in a]
        else:
            table[name] = [PLACEHOLDER_ADDRESS]
            filler.add(name)

    for svc in catalog.services.values():
        for probe in svc.probes():
            put(probe.host, probe.addresses)
    put(catalog.control_host, catalog.control_addresses)
    for m in _STRING_LITERAL.finditer(source):
        word = m.group(2).lower().strip(".")
        if len(word) < 256 and _HOSTISH.match(word):
            hit = catalog.service_for_host(word)
            if hit:
                put(word, catalog.services[hit[0]].addresses)
            elif word == catalog.control_host or word.endswith("example.com"):
                put(word, catalog.control_addresses)
    return table, filler


class PacRuleset:
    """Decisions of one PAC file: every probe evaluated under every client sample at parse time
    (the engine is closed before linting goes on); samples that answer alike are one audience."""

    def __init__(self, path: str, lines: list[str], problems: list[Problem]):
        self.path = path
        self.dialect = NAME
        self.problems = problems
        self._lines = lines
        self._audiences: list[Audience] = [EVERYONE]
        self._by_audience: dict[Audience, dict[tuple, Decision]] = {EVERYONE: {}}
        self._fallback: dict[Audience, Decision] = {}

    def span(self, line: int, col: int = 0) -> Span:
        if line < 1 or line > len(self._lines):
            line = max(1, min(line, len(self._lines) or 1))
        text = self._lines[line - 1] if self._lines else ""
        if col < 1:
            col = len(text) - len(text.lstrip()) + 1
        return Span(self.path, line, col, short(text))

    def audiences(self) -> list[Audience]:
        return self._audiences

    def evaluate(self, probe: Probe, audience: Audience) -> Decision:
        table = self._by_audience.get(audience) or self._by_audience[self._audiences[0]]
        hit = table.get(_probe_key(probe))
        if hit is not None:
            return hit
        return self._fallback.get(audience) or Decision(
            Outcome.UNKNOWN,
            None,
            (),
            False,
            "",
            "this request was not evaluated (the PAC file ran out of time)",
        )

    def inert_mentions(self, probe: Probe) -> list[Span]:
        return []


class _Evaluator:
    def __init__(self, ruleset: PacRuleset, source: str, engine: Engine):
        self.rs = ruleset
        self.source = source
        self.engine = engine
        self.budget = _Budget()
        self.blackholes = blackhole_literals(source)
        self.fn_line = self._find_fn_line()
        self.reported: set[tuple] = set()
        self.timeouts = 0
        self.per_call = CALL_TIMEOUT
        self.answered = 0
        self.looping: dict[tuple[str, str, str], str] = {}
        self.address_classes = literal_networks(source)
        self._targets: dict[str | None, list[Target]] = {}
        self._stand_in: dict[str, str] = {}
        self._class_first: dict[tuple, str] = {}
        self._classes: dict[str | None, tuple[list[tuple[Target, str]], list[str]]] = {}

    def targets(self, probe: Probe, catalog: Catalog) -> list[Target]:
        """Where a service's host may resolve: samples of every IPv4 prefix of the service in
        the catalog (dnsResolve answers IPv4 only, as Chrome's does)."""
        hit = self._targets.get(probe.service)
        if hit is None:
            hit = self._targets[probe.service] = [
                t for t in targets(probe, catalog) if t.version == 4 and t.network is not None
            ]
        return hit

    def classes(self, probe: Probe, catalog: Catalog) -> tuple[list[tuple[Target, str]], list[str]]:
        """Each target of the probe's service with the address run for it, and those addresses."""
        hit = self._classes.get(probe.service)
        if hit is None:
            per_target = [(t, self.stand_in(str(t.address))) for t in self.targets(probe, catalog)]
            hit = self._classes[probe.service] = (per_target, list(dict.fromkeys(a for _t, a in per_target)))
        return hit

    def stand_in(self, addr: str) -> str:
        """The address run for `addr`: the first one in the same networks of the script's
        literal address tests (itself when some test is not a literal)."""
        if self.address_classes is None:
            return addr
        hit = self._stand_in.get(addr)
        if hit is None:
            ip = ipaddress.IPv4Address(addr)
            sig = tuple(ip in net for net in self.address_classes)
            hit = self._stand_in[addr] = self._class_first.setdefault(sig, addr)
        return hit

    def _find_fn_line(self) -> int:
        m = _FN_DEF.search(self.source)
        return self.source.count("\n", 0, m.start()) + 1 if m else 1  # approximate for \r-only files

    def problem(self, code: str, line: int, message: str, key: tuple | None = None) -> None:
        key = (code, line, key or message)
        if key not in self.reported:
            self.reported.add(key)
            self.rs.problems.append(Problem(code, self.rs.span(line), message))

    # ----------------------------------------------------------- running the script

    def results(
        self,
        sample: Sample,
        probes: list[Probe],
        dns: dict[str, list[str]],
        pins: list[str | None] | None = None,
    ) -> list[dict | str]:
        """The engine's answer for every probe under one client sample, or "timeout", "memory"
        or "budget" for those it could not answer. All probes run in one call; when a call is
        cut short, the probe that was running is judged (an endless loop if it had run for the
        whole per-call limit) and the rest continue. Once a file has looped, the limit per
        request drops to LOOP_TIMEOUT; a request that looped under one sample is not run again.
        `pins`: the address each probe's host resolves to instead of the catalog's pick."""
        jobs: list[PinnedJob] = []
        for i, p in enumerate(probes):
            pin = pins[i] if pins else None
            job: PinnedJob = {"url": pac_url(p), "host": p.host.lower(), "addrs": dns.get(p.host.lower(), [])}
            if pin is not None:
                job["pin"] = job["addrs"] = [pin]
            jobs.append(job)
        out: list[dict | str | None] = [
            self.looping.get((j["url"], j["host"], j.get("pin", [""])[0])) for j in jobs
        ]
        todo = [i for i, o in enumerate(out) if o is None]
        if not todo:
            return out  # type: ignore[return-value]  # every job came from `looping`: no None is left
        self.engine.begin(sample, [jobs[i] for i in todo])
        first = 0
        while first < len(todo):
            if self.budget.left <= 0 or (self.answered == 0 and len(self.looping) >= ABANDON_AFTER):
                for k in todo[first:]:
                    out[k] = "budget"
                break
            limit = self.per_call
            start = time.monotonic()
            status = self.engine.run_from(
                first, min(self.budget.left, limit + PER_JOB_ALLOWANCE * (len(todo) - first))
            )
            elapsed = time.monotonic() - start
            if status == "ok":
                got = self.engine.progress(first)
            elif status == "memory":
                self.budget.spent += elapsed
                got = {"current": first, "done": [], "ms": 0}
                # If the isolate is gone, what it had done is lost with it.
                with contextlib.suppress(Exception):
                    got = self.engine.progress(first)
                self.engine.reload()
            else:
                got = self.engine.progress(first)
            for offset, res in enumerate(got["done"]):
                if res is not None:
                    out[todo[first + offset]] = res
                    self.answered += 1
            if status == "ok":
                break
            current = got["current"] if got["current"] >= first else first
            if current >= len(todo):
                break
            if status == "memory" or got["ms"] >= limit * 1000 * 0.9:
                k = todo[current]
                out[k] = status
                self.looping[(jobs[k]["url"], jobs[k]["host"], jobs[k].get("pin", [""])[0])] = status
                self.budget.spent += limit
                self.per_call = LOOP_TIMEOUT
                if status == "memory":
                    self.engine.begin(sample, [jobs[i] for i in todo])
                first = current + 1
            else:  # slow, not stuck: go on from the request that was running
                self.budget.spent += elapsed
                if status == "memory":
                    self.engine.begin(sample, [jobs[i] for i in todo])
                first = current
        return [o if o is not None else "budget" for o in out]

    # ----------------------------------------------------------- reading one answer

    def decision(self, probe: Probe, res: dict | str) -> Decision:
        try:
            return self._decision(probe, res)
        except (KeyError, TypeError, AttributeError, ValueError):
            raise Tampered("the evaluator's answers came back garbled") from None

    def _decision(self, probe: Probe, res: dict | str) -> Decision:
        url = pac_url(probe)
        if res in ("timeout", "memory", "budget"):
            self.timeouts += 1
            what = {
                "timeout": "did not finish in time (an endless loop?)",
                "memory": f"used more than {MAX_HEAP // (1024 * 1024)} MiB",
                "budget": "was not run: the file used up its time budget",
            }[res]
            span = self.rs.span(self.fn_line)
            return Decision(Outcome.UNKNOWN, span, (span,), False, "", f"FindProxyForURL('{url}') {what}")
        assert isinstance(res, dict)
        trail = [t for t in res.get("trail", []) if t.get("line")]
        returns = res.get("returns", [])
        ret_span = None
        if returns:
            outer = min(r["depth"] for r in returns)
            top = [r for r in returns if r["depth"] == outer][-1]
            ret_span = self.rs.span(top["line"], top["col"])
        trace_spans = [self.rs.span(t["line"]) for t in trail]
        trace = tuple(dict.fromkeys(s for s in trace_spans if ret_span is None or s.line != ret_span.line))
        about = any(t.get("req") for t in trail)
        notes = []
        if res.get("unknown"):
            notes.append("assumed unresolvable: " + ", ".join(res["unknown"][:3]))
        if res.get("placeholders"):
            notes.append(
                "no catalog address for "
                + ", ".join(res["placeholders"][:3])
                + f" (a public placeholder, {PLACEHOLDER_ADDRESS}, stood in)"
            )
        if res.get("err"):
            err = res["err"]
            line = err.get("line") or self.fn_line
            self.problem(
                "TE901",
                line,
                f"FindProxyForURL throws {err['name']}: {err['message']} (for {probe.host} "
                "and maybe others); browsers then connect DIRECT",
                key=(err["name"], err["message"]),
            )
            span = self.rs.span(line)
            return Decision(
                Outcome.ALLOW,
                span,
                trace + (span,),
                False,
                "",
                "; ".join([f"the script fails ({err['name']}): browsers connect DIRECT"] + notes),
            )
        answer = res.get("r")
        if res.get("type") != "string":
            if ret_span is not None:
                self.problem(
                    "TE901",
                    ret_span.line,
                    f"FindProxyForURL returns {res.get('type')}, not a string: browsers connect DIRECT",
                )
            return Decision(
                Outcome.ALLOW,
                ret_span,
                trace,
                False,
                "",
                "; ".join([f"a non-string answer ({res.get('type')}): browsers connect DIRECT"] + notes),
            )
        if not isinstance(answer, str):
            # The runner always sends a string here; anything else comes from a script that broke
            # it, and decision() reports it as such (as it would the failing answer.split()).
            raise TypeError("a string answer that is not a string")
        return self._from_answer(answer, ret_span, trace, about, notes)

    def _from_answer(
        self, answer: str, ret_span: Span | None, trace: tuple[Span, ...], about: bool, notes: list[str]
    ) -> Decision:
        entries = [classify_entry(part, self.blackholes) for part in answer.split(";") if part.strip()]
        line = ret_span.line if ret_span else self.fn_line
        for e in entries:
            if e.kind == "invalid":
                self.problem(
                    "TE901",
                    line,
                    f"'{short(e.text, 60)}' is not a proxy browsers can use ({e.why}; PAC "
                    "wants e.g. 'PROXY host:port'): they skip it",
                )
        usable = [e for e in entries if e.kind != "invalid"]
        shown = short(answer, 80)
        if not usable:
            return Decision(
                Outcome.ALLOW,
                ret_span,
                trace,
                False,
                "",
                "; ".join([f"'{shown}' has no usable entry: browsers connect DIRECT"] + notes),
            )
        skipped: list[Entry] = []
        undecided: list[Entry] = []
        for e in usable:
            if e.kind == "black-hole":
                skipped.append(e)
                continue
            if e.kind == "unknown":
                undecided.append(e)
                continue
            if e.kind == "proxy":
                # Another proxy, or a tunnel on the client (Tor, a VPN's SOCKS port), decides
                # what happens next, with a configuration that is not this file: unknown.
                lead = ""
                if skipped or undecided:
                    lead = "after " + ", ".join(f"'{x.text}' ({x.why})" for x in skipped + undecided) + ", "
                self.problem(
                    "TE907",
                    line,
                    f"'{short(e.text, 60)}': requests go {e.why}, which decides what happens to them "
                    "with a configuration not linted here; verdicts are unknown",
                    key=(e.text,),
                )
                return Decision(
                    Outcome.UNKNOWN,
                    ret_span,
                    trace,
                    about,
                    "pac-proxy",
                    "; ".join(
                        [f"'{shown}': {lead}the browser goes {e.why}, which decides for itself"] + notes
                    ),
                )
            # DIRECT: the request gets through (unless an undecided local port before it works).
            if undecided:
                break
            lead = ""
            if skipped:
                lead = "after " + ", ".join(f"'{x.text}' ({x.why})" for x in skipped) + " fails, "
            return Decision(
                Outcome.ALLOW,
                ret_span,
                trace,
                about,  # DIRECT for a host the script tested: explicitly let through
                "pac-direct",
                "; ".join([f"'{shown}': {lead}the browser connects DIRECT"] + notes),
            )
        if undecided:
            self.problem(
                "TE907",
                line,
                f"'{short(undecided[0].text, 60)}': {undecided[0].why}; verdicts are unknown",
                key=(undecided[0].text,),
            )
            return Decision(
                Outcome.UNKNOWN,
                ret_span,
                trace,
                about,
                "pac-proxy",
                "; ".join([f"'{shown}': {undecided[0].why}"] + notes),
            )
        reasons = "; ".join(dict.fromkeys(e.why for e in skipped))
        return Decision(
            Outcome.DENY,
            ret_span,
            trace,
            about,
            "pac-blackhole",
            "; ".join([f"'{shown}' leads nowhere ({reasons}): the request fails"] + notes),
        )


def parse(path: Path, context: ParseContext) -> PacRuleset:
    display = str(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise InputError(f"{display}: cannot read: {exc.strerror or exc}") from None
    if size > MAX_PAC_BYTES:
        raise InputError(
            f"{display}: PAC file of {size} bytes is too large to evaluate (limit {MAX_PAC_BYTES})"
        )
    src = read_source(path, display)  # binary and encoding checks (raises InputError)
    data = path.read_bytes()
    source = decode(data)
    lines = split_lines(source)
    ruleset = PacRuleset(display, lines, list(src.problems))
    if len(data) >= CHROME_MAX_PAC:
        ruleset.problems.append(
            Problem(
                "TE901",
                ruleset.span(1),
                f"PAC file of {len(data)} bytes: Chrome refuses PAC "
                "files of 1 MB or more and connects DIRECT",
            )
        )
    catalog = context.catalog
    # The control first: if even it loops, the script loops for everything (ABANDON_AFTER).
    probes = catalog.control_probes() + [p for svc in catalog.services.values() for p in svc.probes()]
    probes = list({_probe_key(p): p for p in probes}.values())
    dns, filler = dns_table(catalog, source)
    samples, truncated = client_samples(source)
    if truncated:
        ruleset.problems.append(
            Problem(
                "TE906",
                ruleset.span(1),
                f"too many client addresses and times to try: verdicts rest on {MAX_SAMPLES} samples",
            )
        )
    engine = Engine(dns, filler)
    ev = _Evaluator(ruleset, source, engine)
    control = _probe_key(catalog.control_probes()[0])
    per_sample: list[dict[tuple, Decision]] = []
    try:
        instrumented = instrument(source, engine.marker)
        loaded = engine.load(instrumented)
        if loaded.status == "syntax" and instrumented != source:
            loaded = engine.load(source)  # the scanner misread something: run the file as written
        if loaded.status != "ok":
            _not_loaded(ruleset, ev, loaded, probes)
            return ruleset
        all_answers = []
        for sample in samples:
            answers = ev.results(sample, probes, dns)
            all_answers.append(answers)
            per_sample.append(
                {_probe_key(p): ev.decision(p, a) for p, a in zip(probes, answers, strict=True)}
            )
        for i, sample in enumerate(samples):
            per_sample[i].update(_by_address(ev, sample, probes, all_answers[i], dns, catalog))
        per_sample = [_unspecific_defaults(table, control) for table in per_sample]
    except Exception as exc:  # the script broke the evaluator (replaced what it relies on)
        if not (isinstance(exc, Tampered) or type(exc).__module__.startswith("py_mini_racer")):
            raise
        first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
        _not_loaded(ruleset, ev, Loaded("tampered", first), probes)
        return ruleset
    finally:
        engine.close()
    if ev.timeouts:
        ruleset.problems.append(
            Problem(
                "TE905",
                ruleset.span(ev.fn_line),
                f"FindProxyForURL ran out of time or memory for {ev.timeouts} request(s) "
                f"(limits {CALL_TIMEOUT:g} s a call, {MAX_HEAP // (1024 * 1024)} MiB): "
                "those verdicts are unknown",
            )
        )
    _group(ruleset, samples, per_sample, probes)
    return ruleset


_ADDRESS_TEST = re.compile(r"\b(isInNet|isInNetEx|shExpMatch)\s*\(")
_OTHER_ADDRESS_USE = re.compile(r"\b(convert_addr|dnsResolveEx|sortIpAddressList|myIpAddressEx)\b")


def literal_networks(source: str) -> list[ipaddress.IPv4Network] | None:
    """The networks the script's address tests name, when every test names its network as a
    literal (`isInNet(x, "157.240.0.0", "255.255.0.0")`, `shExpMatch(ip, "10.1.*")`): then two
    addresses in the same of these networks get the same answer. None when some test is not a
    literal (a variable, convert_addr ...): every address must be run."""
    calls = _ADDRESS_TEST.findall(source)
    literal = len(IS_IN_NET.findall(source)) + len(IP_GLOB.findall(source))
    host_globs = len(re.findall(r"""\bshExpMatch\s*\([^,]*,\s*(["'])[^"']*[A-Za-z][^"']*\1""", source))
    if _OTHER_ADDRESS_USE.search(source) or literal + host_globs < len(calls):
        return None
    return networks_named_in(source)


def _by_address(
    ev: _Evaluator,
    sample: Sample,
    probes: list[Probe],
    answers: list[dict | str],
    dns: dict[str, list[str]],
    catalog: Catalog,
) -> dict[tuple, Decision]:
    """Requests whose answer looked at the address of their own host (`isInNet(dnsResolve(host),
    ...)`, `isInNet(host, ...)`, `isResolvable(host)`) are run again with the host resolving to
    each sample address of every IPv4 prefix of its service, and judged by coverage as the
    packet filters are (semantics/addressing.py): every prefix sent to a black hole is blocked,
    some is blocked-partial ("blocks 18 of 66 Facebook IPv4 prefixes")."""
    resolved = [
        p
        for p, a in zip(probes, answers, strict=True)
        if isinstance(a, dict) and a.get("resolved") and not p.is_control and ev.targets(p, catalog)
    ]
    if not resolved:
        return {}
    # Addresses inside the same networks of the script's literal tests get the same answer:
    # one address of each such class is run (when every address test is a literal one).
    # HTTPS probes of one host get the same url (https://host/): each request runs once.
    unique: dict[tuple[str, str, str], tuple[Probe, str]] = {}
    for p in resolved:
        url, host = pac_url(p), p.host.lower()
        for addr in ev.classes(p, catalog)[1]:
            unique.setdefault((url, host, addr), (p, addr))
    jobs = list(unique.items())
    decided: dict[tuple[str, str, str], Decision] = {}
    for i in range(0, len(jobs), ADDRESS_CHUNK):
        chunk = jobs[i : i + ADDRESS_CHUNK]
        got = ev.results(sample, [p for _k, (p, _a) in chunk], dns, [a for _k, (_p, a) in chunk])
        decided.update((k, ev.decision(p, a)) for (k, (p, _a)), a in zip(chunk, got, strict=True))
    out: dict[tuple, Decision] = {}
    done: dict[tuple[str, str], Decision] = {}
    for p in resolved:
        url, host = pac_url(p), p.host.lower()
        hit = done.get((url, host))
        if hit is None:
            per_target, _reps = ev.classes(p, catalog)
            at = [(t, decided[(url, host, addr)]) for t, addr in per_target]
            hit = done[(url, host)] = _coverage(p, catalog, at)
        out[_probe_key(p)] = hit
    return out


def _coverage(probe: Probe, catalog: Catalog, at: list[tuple[Target, Decision]]) -> Decision:
    """One decision from the decisions at every target (IPv4 prefixes; see addressing.py)."""
    from dataclasses import replace

    denied = [d for _t, d in at if d.outcome == Outcome.DENY]
    if not denied:
        unknown = [d for _t, d in at if d.outcome == Outcome.UNKNOWN]
        return unknown[0] if unknown else at[0][1]
    per_prefix: dict[object, bool] = {}
    for t, d in at:
        per_prefix[t.network] = per_prefix.get(t.network, True) and d.outcome == Outcome.DENY
    svc = catalog.services.get(probe.service or "")
    note = coverage_note(
        svc.name if svc else (probe.service or ""),
        {4: (sum(per_prefix.values()), len(per_prefix))},
        catalog.addresses_version,
    )
    first = denied[0]
    if len(denied) == len(at):
        return replace(first, note=f"{first.note}; {note}" if first.note else note)
    open_ = [d for _t, d in at if d.outcome != Outcome.DENY]
    if all(d.outcome == Outcome.UNKNOWN for d in open_):
        note = f"{note}; whether the rest is reachable could not be decided"
        return replace(open_[0], note=f"{open_[0].note}; {note}" if open_[0].note else note)
    return replace(first, partial=True, note=f"{first.note}; {note}" if first.note else note)


def _unspecific_defaults(table: dict[tuple, Decision], control: tuple) -> dict[tuple, Decision]:
    """A request answered by the same return statement as the neutral control got the script's
    default answer, whatever host tests it passed on the way: nothing there names the service."""
    from dataclasses import replace

    default = table[control].rule
    if default is None:
        return table
    return {
        k: (replace(d, specific=False) if d.specific and d.rule == default else d) for k, d in table.items()
    }


def _not_loaded(ruleset: PacRuleset, ev: _Evaluator, loaded: Loaded, probes: list[Probe]) -> None:
    if loaded.status == "tampered":
        ruleset.problems.append(
            Problem(
                "TE905",
                ruleset.span(1),
                "the PAC file interferes with the evaluator "
                f"({loaded.message or 'its helpers were replaced'}): verdicts are unknown",
            )
        )
        decision = Decision(
            Outcome.UNKNOWN, ruleset.span(1), (), False, "", "the PAC file could not be evaluated"
        )
    elif loaded.status in ("timeout", "memory"):
        limit = f"{CALL_TIMEOUT:g} s" if loaded.status == "timeout" else f"{MAX_HEAP // (1024 * 1024)} MiB"
        ruleset.problems.append(
            Problem(
                "TE905",
                ruleset.span(1),
                f"the PAC file's top-level code ran out of "
                f"{'time' if loaded.status == 'timeout' else 'memory'} ({limit}): "
                "an endless loop? Verdicts are unknown",
            )
        )
        decision = Decision(
            Outcome.UNKNOWN, ruleset.span(1), (), False, "", "the PAC file could not be run to the end"
        )
    else:
        if loaded.status == "syntax":
            last = max((i + 1 for i, text in enumerate(ruleset._lines) if text.strip()), default=1)
            line, what = min(loaded.line or 1, last), f"does not compile ({loaded.message})"
        elif loaded.status == "error":
            line, what = loaded.line or 1, f"fails while loading ({loaded.message})"
        else:
            line, what = 1, "defines no FindProxyForURL function"
        ruleset.problems.append(
            Problem(
                "TE901",
                ruleset.span(line),
                f"the PAC file {what}: browsers ignore it and connect DIRECT, so nothing it lists is blocked",
            )
        )
        decision = Decision(Outcome.ALLOW, None, (), False, "", f"the PAC file {what}: browsers ignore it")
    ruleset._by_audience = {EVERYONE: {_probe_key(p): decision for p in probes}}
    ruleset._fallback = {EVERYONE: decision}


def _group(
    ruleset: PacRuleset, samples: list[Sample], per_sample: list[dict[tuple, Decision]], probes: list[Probe]
) -> None:
    keys = [_probe_key(p) for p in probes]
    groups: dict[tuple, list[int]] = {}
    for i, table in enumerate(per_sample):
        vector = tuple((table[k].outcome, table[k].rule, table[k].how) for k in keys)
        groups.setdefault(vector, []).append(i)
    if len(groups) == 1:
        ruleset._audiences = [EVERYONE]
        ruleset._by_audience = {EVERYONE: per_sample[0]}
        return
    all_ips = list(dict.fromkeys(s.ip for s in samples))
    all_times = list(dict.fromkeys(s.when for s in samples))
    audiences: list[Audience] = []
    tables: dict[Audience, dict[tuple, Decision]] = {}
    for members in groups.values():
        group = [samples[i] for i in members]
        conds = describe_group(group, all_ips, all_times)
        first = group[0]
        attrs = (("src", first.ip), ("time", f"{first.day()} {first.clock()}"))
        audience = Audience(
            key=("pac", tuple((s.ip, s.when) for s in group)), conditions=conds, attributes=attrs
        )
        scope = audience.describe()
        tables[audience] = {k: _scoped(d, scope) for k, d in per_sample[members[0]].items()}
        audiences.append(audience)
    ruleset._audiences = audiences
    ruleset._by_audience = tables


def _scoped(d: Decision, scope: str) -> Decision:
    from dataclasses import replace

    return replace(d, scope=scope)

"""Differential fuzzing against the real programs (issue #20 item 6): strategies for VALID
configs and one checker per program that runs a generated config through Debian's daemon on
127.0.0.1 (the harnesses of this folder) and through policy-lint, and lists every catalog probe
on which the two disagree.

- squid: `acl` mixes (src, dstdomain, dstdom_regex, port, method, time), `http_access`
  allow/deny in any order with `!`, `deny_info TCP_RESET`/`ERR_ACCESS_DENIED`; every plain-HTTP
  probe is fetched through a fresh squid (about 2 s an example, most of it squid's shutdown);
- squidGuard: `src` (ip, user), `dest` (domainlist, urllist, expressionlist), `time` (weekly,
  date), an `acl` with `within`/`outside` ... `else`, pass lists ending in all/none or not;
  every probe is asked for three clients at three fixed moments (`squidGuard -t`);
- unbound: `local-zone` of every type, `local-data`, `view:` with `view-first` and
  `access-control-view` (one for 127.0.0.0/8, one for a network no query comes from);
- dnsmasq: `address=`, `server=`, `local=` with plain, `*.`, `*d` and `#` domains, NXDOMAIN,
  sinkhole, block-page and forwarding targets (the forwarding one is the loopback stub).

A checker returns its disagreements as text (empty: agreement). The tests (test_daemon_fuzz.py)
fail on the first and let hypothesis shrink it; scripts/fuzz-daemons.sh runs long campaigns and
counts them. Clocks: squid's `time` ACLs are written relative to the moment of the example (the
day letter of today or not, windows an hour or more away from now), and an example whose
window edge falls while it runs is thrown away (`hypothesis.reject`). Nothing leaves 127.0.0.1:
the daemons forward to loopback stubs, as their harnesses document.

Not covered: squid's audience enumeration itself (the test client's audience is built from
which `src` and `time` ACLs 127.0.0.1 matches now), HTTPS probes through squid (the
harness speaks plain HTTP), squidGuard's userlist/iplist files and rewrite rules, unbound's
RPZ and tags (test_unbound_differential.py has handwritten cases), dnsmasq's hosts files.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from hypothesis import reject
from hypothesis import strategies as st

from policy_lint.catalog import Catalog
from policy_lint.dialects.dns import dnsmasq as dnsmasq_dialect
from policy_lint.dialects.dns import unbound as unbound_dialect
from policy_lint.dialects.proxies import squid as squid_dialect
from policy_lint.dialects.proxies import squidguard as sg
from policy_lint.dialects.semantics.base import ParseContext
from policy_lint.inputs import Resolver
from policy_lint.model import EVERYONE, Audience, Decision, Outcome, Probe, Span
from tests.e2e import dnsmasq_harness, unbound_harness
from tests.e2e.dns_stub import STUB_A, STUB_AAAA
from tests.e2e.squid_harness import LOOPBACK, fetch_via_proxy, find_squid, running_squid
from tests.e2e.squidguard_harness import SquidGuardDir, request_line
from tests.e2e.test_squid_differential import compare, describe, key

# Names the configs are built from: the catalog's probe hosts, their parents, and near misses.
DOMAINS = (
    "facebook.com",
    "www.facebook.com",
    "graph.facebook.com",
    "fbcdn.net",
    "xx.fbcdn.net",
    "twitter.com",
    "api.twitter.com",
    "x.com",
    "twimg.com",
    "linkedin.com",
    "www.linkedin.com",
    "ads.linkedin.com",
    "licdn.com",
    "ning.com",
    "ningim.com",
    "t.co",
    "fb.me",
    "lnkd.in",
    "example.com",
    "com",
    "net",
)


def dns_hosts(catalog) -> list[str]:
    return sorted(
        {p.host for svc in catalog.services.values() for p in svc.probes()} | {catalog.control_host}
    )


# ------------------------------------------------------------------ squid


@dataclass(frozen=True)
class TimeSpec:
    """A squid `time` ACL, relative to the moment of the example: `today` says whether today's
    day letter is in the list (None: no day list), `window` where now is in the time range
    (None: none; "around", "before", "after": an hour or more from its edges)."""

    today: bool | None
    window: str | None

    def render(self, now: dt.datetime) -> str:
        today = squid_dialect.DAYS[(now.weekday() + 1) % 7]
        words: list[str] = []
        if self.today is not None:
            days = today if self.today else "".join(d for d in squid_dialect.DAYS if d != today)[:3]
            words.append(days)
        minute = now.hour * 60 + now.minute
        span = {
            "around": (max(0, minute - 60), min(24 * 60 - 1, minute + 60)),
            "before": (0, minute - 60),
            "after": (minute + 60, 24 * 60 - 1),
        }.get(self.window or "")
        if span is not None and span[0] < span[1]:
            words.append(f"{span[0] // 60:02d}:{span[0] % 60:02d}-{span[1] // 60:02d}:{span[1] % 60:02d}")
        return " ".join(words) or "SMTWHFA"


@dataclass(frozen=True)
class SquidAcl:
    type: str
    values: tuple[str, ...] = ()
    time: TimeSpec | None = None
    flag: str = ""  # "-i" for a regex ACL


@dataclass(frozen=True)
class SquidConfig:
    acls: tuple[SquidAcl, ...]
    access: tuple[tuple[str, tuple[tuple[int, bool], ...]], ...]  # (allow|deny, ((acl, negated)...))
    deny_info: tuple[tuple[str, int], ...] = ()  # (page, acl)

    def render(self, now: dt.datetime) -> str:
        lines = []
        for i, acl in enumerate(self.acls):
            if acl.type == "time":
                assert acl.time is not None
                body = acl.time.render(now)
            else:
                body = " ".join(((acl.flag,) if acl.flag else ()) + acl.values)
            lines.append(f"acl a{i} {acl.type} {body}")
        for page, i in self.deny_info:
            lines.append(f"deny_info {page} a{i}")
        for action, literals in self.access:
            words = [("!" if neg else "") + f"a{i}" for i, neg in literals] or ["all"]
            lines.append(f"http_access {action} {' '.join(words)}")
        return "\n".join(lines) + "\n"


SQUID_VALUES = {
    "src": ("127.0.0.1", "127.0.0.0/8", "127.0.0.2", "10.0.0.0/8", "192.0.2.0/24", "::1"),
    "dstdomain": (
        ".facebook.com",
        "facebook.com",
        "www.facebook.com",
        ".fbcdn.net",
        ".twitter.com",
        "twitter.com",
        ".x.com",
        "x.com",
        ".twimg.com",
        ".linkedin.com",
        "www.linkedin.com",
        ".licdn.com",
        ".ning.com",
        "ning.com",
        "t.co",
        "fb.me",
        ".example.com",
        ".com",
        ".net",
    ),
    "dstdom_regex": (
        r"(^|\.)facebook\.com$",
        "twitter",
        r"^www\.",
        r"\.net$",
        "LinkedIn",
        "ning",
        r"^x\.com$",
        "im",
        r"t\.co",
    ),
    "port": ("80", "443", "1-1024", "8080", "1025-65535"),
    "method": ("GET", "POST", "CONNECT", "HEAD"),
}


@st.composite
def squid_acls(draw) -> SquidAcl:
    typ = draw(st.sampled_from(("src", "dstdomain", "dstdomain", "dstdom_regex", "port", "method", "time")))
    if typ == "time":
        spec = TimeSpec(
            draw(st.sampled_from((None, True, False))),
            draw(st.sampled_from((None, "around", "before", "after"))),
        )
        return SquidAcl("time", time=spec)
    values = draw(st.lists(st.sampled_from(SQUID_VALUES[typ]), min_size=1, max_size=3, unique=True))
    flag = draw(st.sampled_from(("", "-i"))) if typ == "dstdom_regex" else ""
    return SquidAcl(typ, tuple(values), flag=flag)


@st.composite
def squid_configs(draw) -> SquidConfig:
    acls = draw(st.lists(squid_acls(), min_size=1, max_size=6))
    n = len(acls)
    literal = st.tuples(st.integers(0, n - 1), st.booleans())
    line = st.tuples(st.sampled_from(("allow", "deny")), st.lists(literal, min_size=0, max_size=3))
    access = draw(st.lists(line, min_size=1, max_size=6))
    pages = draw(
        st.lists(
            st.tuples(st.sampled_from(("TCP_RESET", "ERR_ACCESS_DENIED")), st.integers(0, n - 1)), max_size=2
        )
    )
    return SquidConfig(tuple(acls), tuple((a, tuple(lits)) for a, lits in access), tuple(pages))


def _time_truth(config: SquidConfig, conf: Path, rendered: str, when: dt.datetime) -> dict[str, bool]:
    """Whether each `time` ACL holds at `when`, by the dialect's own reading of its line."""
    out: dict[str, bool] = {}
    day = squid_dialect.DAYS[(when.weekday() + 1) % 7]
    minute = when.hour * 60 + when.minute
    for i, acl in enumerate(config.acls):
        if acl.type != "time":
            continue
        line = next(n for n, text in enumerate(rendered.splitlines(), 1) if text.startswith(f"acl a{i} "))
        words = rendered.splitlines()[line - 1].split()[3:]
        span = Span(str(conf), line, 1)
        out[f"a{i}"] = squid_dialect.in_time(
            squid_dialect.parse_time([(w, span) for w in words]), day, minute
        )
    return out


def _src_truth(config: SquidConfig) -> dict[str, bool]:
    """Whether the test client (127.0.0.1, over IPv4) is in each `src` ACL: the generated
    values are single addresses and CIDR blocks, so this is plain containment."""
    client = ipaddress.ip_address(LOOPBACK)
    return {
        f"a{i}": any(
            client.version == (net := ipaddress.ip_network(v, strict=False)).version and client in net
            for v in acl.values
        )
        for i, acl in enumerate(config.acls)
        if acl.type == "src"
    }


@dataclass
class SquidLab:
    """What the squid checker needs: the loopback origin and stub DNS (kept across examples)."""

    origin_port: int
    dns_address: str
    catalog: Catalog
    probes: list[Probe] = field(default_factory=list)


def squid_refuses(rules: str, catalog) -> list[str] | None:
    """`squid -k parse` on the rules (under a loopback-only preamble): None when squid accepts
    them, else the disagreement with our TE901s (empty when we report one too)."""
    binary = find_squid()
    assert binary is not None
    with scratch("policy-lint-fuzz-squid-") as work:
        conf = work / "squid.conf"
        conf.write_text(f"http_port {LOOPBACK}:3128\n{rules}")
        run = subprocess.run([binary, "-k", "parse", "-f", str(conf)], capture_output=True, timeout=60)
        ruleset = squid_dialect.parse(conf, ParseContext(Resolver(work), catalog))
        ours = [p for p in ruleset.problems if p.code == "TE901"]
        said = run.stderr.decode(errors="replace")
        if run.returncode == 0:
            return [f"squid accepts the config, we report {[p.message for p in ours]}"] if ours else None
        fatal = [line for line in said.splitlines() if "ERROR" in line or "FATAL" in line]
        return [] if ours else [f"squid refuses the config, we report no TE901: {fatal[-3:]}"]


def check_squid(lab: SquidLab, config: SquidConfig) -> list[str]:
    before = dt.datetime.now()
    rules = config.render(before)
    refused = squid_refuses(rules, lab.catalog)
    if refused is not None:
        return refused
    with running_squid(rules, origin_port=lab.origin_port, dns_address=lab.dns_address) as squid:
        real = {key(p): fetch_via_proxy(squid.port, p.url) for p in lab.probes}
        ruleset = squid_dialect.parse(squid.conf, ParseContext(Resolver(squid.dir.resolve()), lab.catalog))
        conf_text = squid.conf.read_text()
        after = dt.datetime.now()
        truth = _time_truth(config, squid.conf, conf_text, before)
        if truth != _time_truth(config, squid.conf, conf_text, after):
            reject()  # a time window opened or closed while squid answered
        truth.update(_src_truth(config))
        values = dict(ruleset.audiences()[0].key)
        values.update(truth)
        client = Audience(key=tuple(sorted(values.items())), conditions=("the test client",))
        wrong = []
        for p in lab.probes:
            for a in (client,):
                d = ruleset.evaluate(p, a)
                why = compare(real[key(p)], d)
                if why:
                    wrong.append(
                        f"http://{key(p)} [{a.describe()}]: {why} ({real[key(p)]}), we: {describe(d)}"
                    )
        problems = [f"{p.code} line {p.span.line}: {p.message}" for p in ruleset.problems if p.code >= "TE9"]
    if wrong and problems:
        wrong.append("problems: " + "; ".join(problems))
    return wrong


# ------------------------------------------------------------------ squidGuard

SG_CLIENTS = (("10.0.0.5", "alice"), ("10.0.0.7", None), ("192.0.2.1", None))
SG_TIMES = (dt.datetime(2030, 1, 7, 10, 0), dt.datetime(2030, 1, 7, 18, 30), dt.datetime(2030, 1, 12, 10, 0))
SG_URLS = ("facebook.com/plugins", "twitter.com/", "linkedin.com", "www.x.com", "t.co/")
SG_EXPRS = (r"ning\.com(:443)?$", "twimg", r"^https?://[^/]*facebook", "licdn")
SG_TIME_BODIES = (
    "weekly mtwhf 08:00 - 17:00",
    "weekly as 00:00-24:00",
    "weekly * 09:00 - 12:00",
    "date *-01-07",
)


@dataclass(frozen=True)
class SgDest:
    domains: tuple[str, ...]
    urls: tuple[str, ...] = ()
    exprs: tuple[str, ...] = ()


@dataclass(frozen=True)
class SgConfig:
    dests: tuple[SgDest, ...]
    times: tuple[str, ...]  # time block bodies, named t0...
    # acl entries: (source or "default", (within|outside|"", time index), pass list, else pass list, redirect)
    acls: tuple[tuple[str, tuple[str, int], tuple[str, ...], tuple[str, ...] | None, bool], ...]

    def files(self) -> dict[str, str]:
        out = {}
        for i, d in enumerate(self.dests):
            out[f"db/d{i}/domains"] = "".join(f"{x}\n" for x in d.domains)
            if d.urls:
                out[f"db/d{i}/urls"] = "".join(f"{x}\n" for x in d.urls)
            if d.exprs:
                out[f"db/d{i}/expr"] = "".join(f"{x}\n" for x in d.exprs)
        return out

    def render(self) -> str:
        parts = ["dbhome @DIR@/db"]
        parts += [f"time t{i} {{\n {body}\n}}" for i, body in enumerate(self.times)]
        parts.append("src boss {\n ip 10.0.0.5\n user alice\n}")
        parts.append("src lan {\n ip 10.0.0.0/24\n}")
        for i, d in enumerate(self.dests):
            lines = [f" domainlist d{i}/domains"]
            lines += [f" urllist d{i}/urls"] if d.urls else []
            lines += [f" expressionlist d{i}/expr"] if d.exprs else []
            parts.append(f"dest d{i} {{\n" + "\n".join(lines) + "\n}")
        body = []
        for name, (cond, t), passes, other, redirect in self.acls:
            head = f"{name} {cond} t{t}" if cond and self.times else name
            redir = "\n redirect http://proxy.lan/blocked?u=%u" if redirect else ""
            block = f"{head} {{\n pass {' '.join(passes)}{redir}\n}}"
            if other is not None and cond and self.times:
                block += f" else {{\n pass {' '.join(other)}{redir}\n}}"
            body.append(block)
        parts.append("acl {\n" + "\n".join(body) + "\n}")
        return "\n".join(parts) + "\n"


@st.composite
def sg_configs(draw) -> SgConfig:
    dests = draw(
        st.lists(
            st.builds(
                SgDest,
                st.lists(st.sampled_from(DOMAINS[:-2]), min_size=1, max_size=5, unique=True).map(tuple),
                st.lists(st.sampled_from(SG_URLS), max_size=2, unique=True).map(tuple),
                st.lists(st.sampled_from(SG_EXPRS), max_size=1).map(tuple),
            ),
            min_size=1,
            max_size=3,
        )
    )
    times = tuple(draw(st.lists(st.sampled_from(SG_TIME_BODIES), max_size=2)))
    names = [f"d{i}" for i in range(len(dests))]
    pass_list = st.tuples(
        st.lists(st.tuples(st.booleans(), st.sampled_from(names)), max_size=3),
        st.sampled_from(("all", "none", "")),
    ).map(
        lambda x: tuple(("!" if neg else "") + n for neg, n in x[0]) + ((x[1],) if x[1] else ()) or ("all",)
    )
    cond = st.tuples(st.sampled_from(("", "within", "outside")), st.integers(0, max(0, len(times) - 1)))
    entry = st.tuples(cond, pass_list, st.none() | pass_list, st.booleans())
    acls = []
    for src in draw(st.lists(st.sampled_from(("boss", "lan")), max_size=2, unique=True)):
        c, p, o, r = draw(entry)
        acls.append((src, c, p, o, r))
    c, p, o, _ = draw(entry)
    acls.append(("default", c, p, o, True))  # a default with a redirect: no emergency mode
    return SgConfig(tuple(dests), times, tuple(acls))


def _sg_probes(catalog) -> list[Probe]:
    out: dict[str, Probe] = {}
    for p in [p for s in catalog.services.values() for p in s.probes()] + list(catalog.control_probes()):
        out.setdefault(f"{p.scheme}://{p.host}{p.path}", p)
    return list(out.values())


def check_squidguard(catalog, config: SgConfig) -> list[str]:
    probes = _sg_probes(catalog)
    wrong: list[str] = []
    with SquidGuardDir() as tmp:
        for rel, text in config.files().items():
            tmp.write(rel, text)
        conf = tmp.write_config(config.render())
        ruleset = sg.parse(conf, ParseContext(Resolver(Path("/")), catalog), lookup="squidguard-1.6")
        try:
            tmp.build(conf)
        except AssertionError as refused:  # a syntax error: squidGuard would run in emergency mode
            return [] if ruleset.emergency else [f"squidGuard refuses the config, we do not: {refused}"]
        if ruleset.emergency:
            return [f"squidGuard accepts the config, we read emergency mode: {ruleset.emergency}"]
        for when in SG_TIMES:
            lines, asked = [], []
            for ip, user in SG_CLIENTS:
                for p in probes:
                    lines.append(request_line(sg.request_line_url(p), ip, user, p.method))
                    asked.append((ip, user, p))
            for (ip, user, p), ans in zip(asked, tmp.ask(conf, lines, when), strict=True):
                d = sg.Client(ip, user, when)
                ours = ruleset.decide(p, d)
                real = Outcome.DENY if ans.blocked else Outcome.ALLOW
                if ours.outcome != real:
                    wrong.append(
                        f"{p.scheme}://{p.host}{p.path} from {ip}/{user or '-'} at {when:%a %H:%M}: "
                        f"squidGuard {ans.raw!r}, we {ours.outcome.value} ({ours.note})"
                    )
    return wrong


# ------------------------------------------------------------------ unbound

UNBOUND_TYPES = tuple(sorted(unbound_dialect.ZONE_TYPES - {"ipset"}))
UNBOUND_DATA = ("A 10.1.1.1", "A 0.0.0.0", "A 192.0.2.55", "TXT hello", "AAAA ::1")


@dataclass(frozen=True)
class UnboundConfig:
    zones: tuple[tuple[str, str], ...]
    data: tuple[tuple[str, str], ...]
    view: tuple[tuple[tuple[str, str], ...], bool, bool] | None = None  # zones, view-first, ours

    def render(self) -> str:
        out = ["server:"]
        out += [f'  local-zone: "{name}" {t}' for name, t in self.zones]
        out += [f'  local-data: "{name} {rr}"' for name, rr in self.data]
        if self.view is not None:
            zones, first, ours = self.view
            out.append(f"  access-control-view: {'127.0.0.0/8' if ours else '10.0.0.0/8'} v")
            out += ["view:", '  name: "v"', f"  view-first: {'yes' if first else 'no'}"]
            out += [f'  local-zone: "{name}" {t}' for name, t in zones]
        return "\n".join(out) + "\n"


@st.composite
def unbound_configs(draw) -> UnboundConfig:
    zone = st.tuples(st.sampled_from(DOMAINS), st.sampled_from(UNBOUND_TYPES))
    zones = draw(st.lists(zone, max_size=4, unique_by=lambda z: z[0]))
    names = [z[0] for z in zones] + ["www.facebook.com", "twitter.com", "x.com", "www.linkedin.com"]
    data = draw(
        st.lists(st.tuples(st.sampled_from(names), st.sampled_from(UNBOUND_DATA)), max_size=3, unique=True)
    )
    view = draw(
        st.none()
        | st.tuples(
            st.lists(zone, min_size=1, max_size=3, unique_by=lambda z: z[0]).map(tuple),
            st.booleans(),
            st.booleans(),
        )
    )
    return UnboundConfig(tuple(zones), tuple(data), view)


def _unbound_blocks(answer: unbound_harness.Answer, host: str, ours: Decision, catalog) -> bool:
    """The daemon's answer read as test_unbound_differential.py reads it."""
    if answer.timed_out or answer.rcode != "NOERROR" or not answer.addresses:
        return True
    if answer.cnames:
        owner, held = catalog.service_for_host(host), catalog.service_for_host(answer.cnames[-1])
        if owner is None or held is None or held[0] != owner[0]:
            return True
    if answer.addresses[0] == STUB_A:
        return False
    ip = ipaddress.ip_address(answer.addresses[0])
    if ip.is_unspecified or ip.is_loopback or not ip.is_global:
        return True
    return ours.outcome != Outcome.ALLOW


def _unbound_audience(ruleset) -> Audience:
    """The audience of a client on 127.0.0.1. The generated configs name two netblocks,
    127.0.0.0/8 (the client's) and 10.0.0.0/8 (not the client's): without an audience for the
    first, the client is among the clients of neither, not in the 10.0.0.0/8 audience (picking
    that one was the first disagreement this fuzzer found: a harness bug)."""
    return ruleset.audience_of_client("127.0.0.1")


@contextmanager
def scratch(prefix: str) -> Iterator[Path]:
    """A directory the daemons can read after dropping privileges (pytest's tmp_path is 0700)."""
    d = Path(tempfile.mkdtemp(prefix=prefix))
    d.chmod(0o755)
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


def check_unbound(catalog, stub_port: int, config: UnboundConfig) -> list[str]:
    with scratch("policy-lint-fuzz-unbound-") as work:
        case_conf = work / "case.conf"
        case_conf.write_text(config.render())
        body = f'server:\n  include: "{case_conf}"\n'
        main = unbound_harness.write_config(work, body, stub_port)
        ok, said = unbound_harness.checkconf(main)
        ruleset = unbound_dialect.parse(case_conf, ParseContext(Resolver(work), catalog))
        refusals = [p for p in ruleset.problems if p.code in ("TE901", "TE903", "TE904")]
        if not ok:
            return [] if refusals else [f"unbound refuses the config, we report no TE901: {said[-300:]}"]
        if refusals:
            return [f"unbound accepts the config, we report {[(p.code, p.message) for p in refusals]}"]
        audience = _unbound_audience(ruleset)
        wrong: list[str] = []
        with unbound_harness.running_unbound(work, body, stub_port) as daemon:
            for host in dns_hosts(catalog):
                ours = ruleset.evaluate(Probe(None, host, "primary", "https", 443), audience)
                answer = unbound_harness.ask(daemon.port, host)
                for _ in range(2):  # a busy machine can be slow: only an expected drop may time out
                    if not answer.timed_out or ours.how.startswith("dropped"):
                        break
                    answer = unbound_harness.ask(daemon.port, host, timeout=3.0)
                if ours.outcome == Outcome.UNKNOWN:
                    wrong.append(f"{host}: we say unknown ({ours.note}); unbound: {answer}")
                elif _unbound_blocks(answer, host, ours, catalog) != (ours.outcome == Outcome.DENY):
                    wrong.append(
                        f"{host}: unbound {answer}, we {ours.outcome.value} ({ours.how}; {ours.note})"
                    )
    return wrong


# ------------------------------------------------------------------ dnsmasq

DNSMASQ_TARGETS = {
    "address": ("", "0.0.0.0", "127.0.0.1", "10.10.10.1", "::", "#"),
    "server": ("", "#", "127.0.0.1#PORT"),
    "local": ("",),
}


@st.composite
def dnsmasq_lines(draw) -> str:
    option = draw(st.sampled_from(("address", "address", "server", "local")))
    domains = draw(st.lists(st.sampled_from(DOMAINS), min_size=1, max_size=2, unique=True))
    shaped = [draw(st.sampled_from(("", "", "*.", ".", "*", "*a"))) + d for d in domains]
    if option == "address" and draw(st.integers(0, 9)) == 0:
        shaped = ["#"]
    target = draw(st.sampled_from(DNSMASQ_TARGETS[option]))
    return f"{option}=/{'/'.join(shaped)}/{target}"


def dnsmasq_configs() -> st.SearchStrategy[tuple[str, ...]]:
    return st.lists(dnsmasq_lines(), min_size=1, max_size=6).map(tuple)


def _dnsmasq_blocks(rcode: str, addrs: list[str]) -> bool:
    if rcode != "NOERROR" or not addrs:
        return True
    ip = ipaddress.ip_address(addrs[0])
    return ip.is_unspecified or ip.is_loopback or (not ip.is_global and str(ip) not in (STUB_A, STUB_AAAA))


def check_dnsmasq(catalog, stub_port: int, lines: tuple[str, ...]) -> list[str]:
    with scratch("policy-lint-fuzz-dnsmasq-") as work:
        main = work / "main.conf"
        text = "\n".join(lines).replace("PORT", str(stub_port)) + f"\nserver=127.0.0.1#{stub_port}\n"
        main.write_text(dnsmasq_harness.loopback_only(text, stub_port))
        main.chmod(0o644)
        ok, said = dnsmasq_harness.syntax_check(main)
        ruleset = dnsmasq_dialect.parse(main, ParseContext(Resolver(work), catalog))
        refusals = [p for p in ruleset.problems if p.code in ("TE901", "TE903", "TE904")]
        if not ok:
            return [] if refusals else [f"dnsmasq refuses the config, we report no TE901: {said[-300:]}"]
        if refusals:
            return [f"dnsmasq accepts the config, we report {[(p.code, p.message) for p in refusals]}"]
        wrong = []
        with dnsmasq_harness.running_dnsmasq(main, None) as daemon:
            for host in dns_hosts(catalog):
                ours = ruleset.evaluate(Probe(None, host, "primary", "https", 443), EVERYONE)
                rcode, addrs = dnsmasq_harness.ask(daemon.port, host, "A")
                if ours.outcome == Outcome.UNKNOWN:
                    wrong.append(f"{host}: we say unknown ({ours.note}); dnsmasq {rcode} {addrs}")
                elif _dnsmasq_blocks(rcode, addrs) != (ours.outcome == Outcome.DENY):
                    wrong.append(f"{host}: dnsmasq {rcode} {addrs}, we {ours.outcome.value} ({ours.how})")
    return wrong


# ------------------------------------------------------------------ campaigns (scripts/fuzz-daemons.sh)

DAEMONS = ("squid", "squidguard", "unbound", "dnsmasq")


@dataclass
class Tally:
    daemon: str
    examples: int = 0
    disagreements: int = 0
    saved: list[Path] = field(default_factory=list)


def campaign(daemon: str, examples: int, seed: int, catalog: Catalog, out: Path) -> Tally:
    """`examples` generated configs for one daemon, seeded, without shrinking: every
    disagreement is counted and its config and probes saved under `out` (to be shrunk by the
    test, `@example` by hand, once understood)."""
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as fixed_seed

    from tests.e2e.dns_stub import stub_upstream
    from tests.e2e.squid_harness import origin_server, stub_dns
    from tests.e2e.test_squid_differential import http_probes

    tally = Tally(daemon)
    strategy, check, render = {
        "squid": (squid_configs(), None, lambda c: c.render(dt.datetime.now())),
        "squidguard": (sg_configs(), lambda c: check_squidguard(catalog, c), lambda c: c.render()),
        "unbound": (unbound_configs(), None, lambda c: c.render()),
        "dnsmasq": (dnsmasq_configs(), None, lambda c: "\n".join(c)),
    }[daemon]

    def run(config, checker) -> None:
        tally.examples += 1
        wrong = checker(config)
        if wrong:
            tally.disagreements += 1
            out.mkdir(parents=True, exist_ok=True)
            path = out / f"{daemon}-{seed}-{tally.examples}.txt"
            path.write_text(f"{config!r}\n\n{render(config)}\n" + "\n".join(wrong) + "\n")
            tally.saved.append(path)

    def go(checker) -> None:
        @fixed_seed(seed)
        @settings(
            max_examples=examples,
            deadline=None,
            database=None,
            phases=[Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(strategy)
        def body(config) -> None:
            run(config, checker)

        body()

    if daemon == "squid":
        with origin_server() as origin, stub_dns() as dns:
            lab = SquidLab(origin.port, dns.address, catalog, http_probes(catalog))
            go(lambda c: check_squid(lab, c))
    elif daemon in ("unbound", "dnsmasq"):
        with stub_upstream() as stub:
            go(
                (lambda c: check_unbound(catalog, stub.port, c))
                if daemon == "unbound"
                else (lambda c: check_dnsmasq(catalog, stub.port, c))
            )
    else:
        go(check)
    return tally

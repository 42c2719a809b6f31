"""Differential test: our static reading of unbound configs against Debian's real unbound.

Needs Debian's unbound (`apt-get install unbound`; scripts/test.sh installs it) and runs it in
the foreground on 127.0.0.1:<free port> (see unbound_harness.py) with a stub upstream on
127.0.0.1 answering every A query with 192.0.2.1: a name unbound resolves normally shows as
exactly that answer. Nothing is resolved anywhere else.

For each config (generated ones: every local-zone type with and without local-data, views,
tags, overrides, RPZ zones through the `rpz:` clause with the respip module, includes; and the
corpus' unbound cases), the same file is parsed by `policy_lint.dialects.dns.unbound`, every catalog
probe host and the control host are asked for their A record, and:

- NXDOMAIN, REFUSED, NODATA, no answer (dropped), a sinkhole, a non-public address, or a
  CNAME to a name of no/another service <=> our DENY;
- the stub's 192.0.2.1 (or an address we judged to be the service's own) <=> our ALLOW;
- where our decision names the mechanism (NXDOMAIN, REFUSED, NODATA, dropped, 0.0.0.0), the
  daemon's answer must be exactly that.

Each case names a few hosts its author expects blocked and resolved, so that the comparison
cannot pass vacuously; and `unbound-checkconf` refusing a config <=> our TE901/TE903.
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from policy_lint.dialects.dns import unbound
from policy_lint.dialects.semantics.base import ParseContext
from policy_lint.inputs import Resolver
from policy_lint.model import Decision, Outcome, Probe
from tests.conftest import corpus_dir, skip_or_fail
from tests.e2e.dns_stub import STUB_A, stub_upstream
from tests.e2e.unbound_harness import (
    Answer,
    ask,
    checkconf,
    find_checkconf,
    find_unbound,
    neutralise,
    running_unbound,
    write_config,
)

pytestmark = pytest.mark.e2e

CORPUS = corpus_dir()

RESPIP = 'server:\n  module-config: "respip iterator"\n'
RPZ_SOA = "@ SOA ns.invalid. hostmaster.invalid. 1 3600 600 86400 60\n@ NS ns.invalid.\n"


@dataclass(frozen=True)
class Case:
    id: str
    files: dict[str, str]  # path -> text; "case.conf" is the config under test
    blocked: tuple[str, ...] = ()
    resolved: tuple[str, ...] = ()
    refused: bool = False  # unbound refuses it (and we report TE901/TE903)
    modules: str = "respip iterator"  # module-config of the wrapper (the last one counts)
    may_refuse: bool = False  # a corpus config: refused or not, we must agree with unbound


def case(
    id: str,
    conf: str,
    blocked: str = "",
    resolved: str = "",
    refused: bool = False,
    modules: str = "respip iterator",
    **files: str,
) -> Case:
    return Case(
        id,
        {"case.conf": conf, **{k.replace("__", "/").replace("_DOT_", "."): v for k, v in files.items()}},
        tuple(blocked.split()),
        tuple(resolved.split()),
        refused,
        modules,
    )


def zone_type(t: str, data: bool) -> Case:
    conf = f'server:\n  local-zone: "facebook.com" {t}\n'
    if data:
        if t in ("redirect", "inform_redirect"):
            conf += '  local-data: "facebook.com A 10.1.1.1"\n'
        else:
            conf += '  local-data: "facebook.com A 10.1.1.1"\n  local-data: "www.facebook.com TXT hello"\n'
    resolved = "fb.me twitter.com" + (" m.facebook.com" if t in unbound.RESOLVE_TYPES else "")
    resolved += " www.facebook.com" if t in unbound.RESOLVE_TYPES and not data else ""
    blocked = "" if t in unbound.RESOLVE_TYPES else "m.facebook.com graph.facebook.com"
    return case(f"type-{t}{'-data' if data else ''}", conf, blocked=blocked, resolved=resolved)


TYPES = sorted(unbound.ZONE_TYPES - {"ipset", "nodefault"})

CASES = [zone_type(t, d) for t in TYPES for d in (False, True)] + [
    case(
        "nodefault-creates-no-zone",
        'server:\n  local-zone: "com" always_nxdomain\n  local-zone: "facebook.com" nodefault\n',
        blocked="www.facebook.com twitter.com",
        resolved="t.co",
    ),
    case(
        "transparent-exception",
        'server:\n  local-zone: "com" static\n  local-zone: "linkedin.com" transparent\n',
        blocked="www.facebook.com twitter.com",
        resolved="www.linkedin.com lnkd.in",
    ),
    case(
        "typetransparent-exception-with-data",
        'server:\n  local-zone: "com" refuse\n'
        '  local-zone: "x.com" typetransparent\n'
        '  local-data: "x.com AAAA ::1"\n',
        blocked="twitter.com",
        resolved="x.com api.x.com",
    ),
    case(
        "last-zone-line-wins",
        'server:\n  local-zone: "facebook.com" static\n  local-zone: "facebook.com" transparent\n'
        '  local-zone: "twitter.com" transparent\n  local-zone: "twitter.com" always_refuse\n',
        blocked="twitter.com",
        resolved="www.facebook.com",
    ),
    case(
        "orphan-local-data",
        'server:\n  local-data: "facebook.com A 0.0.0.0"\n  local-data: "x.com A 127.0.0.1"\n'
        '  local-data: "www.linkedin.com A 192.168.1.1"\n  local-data: "twitter.com AAAA ::"\n',
        blocked="facebook.com x.com www.linkedin.com twitter.com",
        resolved="www.facebook.com api.x.com",
    ),
    case(
        "redirect-cname-elsewhere",
        'server:\n  local-zone: "facebook.com" redirect\n'
        '  local-data: "facebook.com CNAME walled.example."\n',
        blocked="www.facebook.com graph.facebook.com",
        resolved="twitter.com",
    ),
    case(
        "transparent-cname",
        'server:\n  local-zone: "twitter.com" transparent\n'
        '  local-data: "www.twitter.com CNAME blocked.example."\n',
        blocked="www.twitter.com",
        resolved="twitter.com mobile.twitter.com",
    ),
    case(
        "static-with-aaaa-only",
        'server:\n  local-zone: "facebook.com" static\n  local-data: "facebook.com AAAA ::1"\n',
        blocked="facebook.com www.facebook.com",
    ),
    case(
        "sinkhole-list",
        "server:\n"
        + "".join(
            f'  local-zone: "{d}" always_null\n' for d in ("facebook.com", "fbcdn.net", "x.com", "twimg.com")
        ),
        blocked="www.facebook.com scontent.xx.fbcdn.net x.com abs.twimg.com",
        resolved="twitter.com",
    ),
    case(
        "view-first-no",
        'server:\n  local-zone: "x.com" always_nxdomain\n  local-zone: "twitter.com" always_nxdomain\n'
        "  access-control-view: 127.0.0.0/8 kids\n"
        'view:\n  name: "kids"\n  local-zone: "facebook.com" always_nxdomain\n'
        '  local-zone: "twitter.com" transparent\n',
        blocked="www.facebook.com",
        resolved="x.com twitter.com",
    ),
    case(
        "view-first-yes",
        'server:\n  local-zone: "x.com" always_nxdomain\n  local-zone: "twitter.com" always_nxdomain\n'
        "  access-control-view: 127.0.0.0/8 kids\n"
        'view:\n  name: "kids"\n  view-first: yes\n  local-zone: "facebook.com" always_nxdomain\n'
        '  local-zone: "twitter.com" transparent\n',
        blocked="www.facebook.com x.com twitter.com",
    ),
    case(
        "view-noview",
        'server:\n  local-zone: "twitter.com" always_nxdomain\n  access-control-view: 127.0.0.0/8 kids\n'
        'view:\n  name: "kids"\n  local-zone: "facebook.com" always_nxdomain\n'
        '  local-zone: "twitter.com" noview\n',
        blocked="www.facebook.com",
        resolved="twitter.com",
    ),
    case(
        "view-with-only-data",
        'server:\n  local-zone: "x.com" always_nxdomain\n  access-control-view: 127.0.0.0/8 kids\n'
        'view:\n  name: "kids"\n  local-data: "facebook.com A 0.0.0.0"\n',
        blocked="facebook.com",
        resolved="x.com www.facebook.com",
    ),
    case(
        "tags",
        'server:\n  define-tag: "social other"\n  access-control-tag: 127.0.0.0/8 "social"\n'
        '  local-zone: "facebook.com" always_nxdomain\n  local-zone-tag: "facebook.com" "social"\n'
        '  local-zone: "com" always_nxdomain\n  local-zone: "twitter.com" transparent\n'
        '  local-zone-tag: "twitter.com" "social"\n  local-zone: "linkedin.com" transparent\n'
        '  local-zone-tag: "linkedin.com" "other"\n',
        blocked="www.facebook.com x.com www.linkedin.com",
        resolved="twitter.com",
    ),
    case(
        "tag-action",
        'server:\n  define-tag: "social"\n  access-control-tag: 127.0.0.0/8 "social"\n'
        "  access-control-tag-action: 127.0.0.0/8 social always_refuse\n"
        '  local-zone: "facebook.com" transparent\n  local-zone-tag: "facebook.com" "social"\n',
        blocked="www.facebook.com",
        resolved="x.com",
    ),
    case(
        "zone-override",
        'server:\n  local-zone: "facebook.com" always_nxdomain\n'
        '  local-zone-override: "facebook.com" 127.0.0.0/8 transparent\n'
        '  local-zone: "x.com" always_nxdomain\n  local-zone-override: "x.com" 10.0.0.0/8 transparent\n',
        blocked="x.com",
        resolved="www.facebook.com",
    ),
    case(
        "includes-and-globs",
        'server:\n  include: "social.conf"\n  include: "conf.d/*.conf"\n  include: "conf.d/*.nothing"\n',
        social_DOT_conf='local-zone: "facebook.com" always_nxdomain\n',
        conf_DOT_d__a_DOT_conf='local-zone: "twitter.com" static\n',
        conf_DOT_d__b_DOT_conf='local-zone: "linkedin.com" deny\n',
        conf_DOT_d__skip_DOT_txt='local-zone: "ning.com" deny\n',
        blocked="www.facebook.com twitter.com www.linkedin.com",
        resolved="www.ning.com x.com",
    ),
    case(
        "include-toplevel",
        'server:\n  verbosity: 1\ninclude-toplevel: "extra.conf"\n',
        extra_DOT_conf='server:\n  local-zone: "ning.com" always_nxdomain\n',
        blocked="www.ning.com",
        resolved="www.facebook.com",
    ),
    case(
        "rpz-actions",
        RESPIP + 'rpz:\n  name: "rpz.test"\n  zonefile: "z.rpz"\n',
        z_DOT_rpz=(
            "$ORIGIN rpz.test.\n"
            + RPZ_SOA
            + "facebook.com CNAME .\n*.facebook.com CNAME .\nm.facebook.com CNAME rpz-passthru.\n"
            "twitter.com CNAME rpz-passthru.\ntwitter.com CNAME .\n*.twitter.com A 10.9.9.9\n*.twitter.com CNAME .\n"
            "x.com CNAME walled.example.\nt.co CNAME rpz-drop.\nlinkedin.com CNAME rpz-tcp-only.\n"
            "www.linkedin.com CNAME rpz-foo.\nwww.ning.com CNAME *.\napi.x.com A 0.0.0.0\n"
            "fb.me CNAME www.facebook.com.\n*.fbcdn.net CNAME *.walled.example.\n"
        ),
        blocked="facebook.com www.facebook.com graph.facebook.com www.twitter.com x.com t.co www.ning.com api.x.com "
        "scontent.xx.fbcdn.net",
        resolved="m.facebook.com twitter.com linkedin.com www.linkedin.com fb.me",
    ),
    case(
        "rpz-wildcard-hidden-by-existing-name",
        RESPIP + 'rpz:\n  name: "rpz.test"\n  zonefile: "z.rpz"\n',
        z_DOT_rpz=(
            "$ORIGIN rpz.test.\n" + RPZ_SOA + "*.facebook.com CNAME .\nxx.fbcdn.net CNAME rpz-passthru.\n"
            "*.fbcdn.net CNAME .\nwww.facebook.com CNAME rpz-passthru.\nz.xx.fbcdn.net CNAME .\n"
        ),
        blocked="m.facebook.com graph.facebook.com",
        resolved="www.facebook.com facebook.com static.xx.fbcdn.net",
    ),
    case(
        "rpz-order-and-override",
        RESPIP + 'rpz:\n  name: "allow.test"\n  zonefile: "a.rpz"\n'
        'rpz:\n  name: "rpz.test"\n  zonefile: "z.rpz"\n  rpz-action-override: nodata\n',
        a_DOT_rpz="$ORIGIN allow.test.\n" + RPZ_SOA + "www.facebook.com CNAME rpz-passthru.\n",
        z_DOT_rpz="$ORIGIN rpz.test.\n"
        + RPZ_SOA
        + "facebook.com CNAME .\n*.facebook.com CNAME rpz-passthru.\n",
        blocked="facebook.com m.facebook.com",
        resolved="www.facebook.com twitter.com",
    ),
    case(
        "rpz-after-local-zones",
        'server:\n  local-zone: "facebook.com" transparent\n  local-zone: "x.com" static\n'
        '  local-data: "x.com A 10.2.2.2"\n' + RESPIP + 'rpz:\n  name: "rpz.test"\n  zonefile: "z.rpz"\n',
        z_DOT_rpz=(
            "@ SOA ns.invalid. h.invalid. 1 1 1 1 1\n@ NS ns.invalid.\nfacebook.com CNAME .\n"
            "x.com CNAME rpz-passthru.\n*.x.com CNAME rpz-passthru.\n"
        ),
        blocked="facebook.com x.com api.x.com",
        resolved="www.facebook.com",
    ),
    case(
        "refused-tag-defined-after-use",
        'server:\n  local-zone: "facebook.com" static\n'
        '  local-zone-tag: "facebook.com" "kids"\n  define-tag: "kids"\n',
        refused=True,
    ),
    case("refused-glob-folder-missing", 'server:\n  include: "nothing-here/*.conf"\n', refused=True),
    case(
        "refused-rpz-without-respip",
        'server:\n  module-config: "iterator"\nrpz:\n  name: "rpz.test"\n  zonefile: "z.rpz"\n',
        z_DOT_rpz="$ORIGIN rpz.test.\n" + RPZ_SOA + "facebook.com CNAME .\n",
        refused=True,
        modules="iterator",
    ),
    case("refused-bad-type", 'server:\n  local-zone: "facebook.com" block\n', refused=True),
    case("refused-missing-include", 'server:\n  include: "nope.conf"\n', refused=True),
    case("refused-unterminated-include", 'server:\n  include: "x.conf\n', refused=True),
    case("refused-bad-local-data", 'server:\n  local-data: "facebook.com A 1.2.3"\n', refused=True),
    case(
        "refused-data-below-redirect",
        'server:\n  local-zone: "facebook.com" redirect\n  local-data: "www.facebook.com A 0.0.0.0"\n',
        refused=True,
    ),
]


def _random_rpz(seed: int) -> Case:
    """Triggers scattered around the probe names (siblings before and after them, wildcards at
    every level, names higher up): unbound's wildcard lookup depends on the name that sorts
    just before the query, so these check that part of the model."""
    import random

    rnd = random.Random(seed)
    bases = [
        "facebook.com",
        "xx.fbcdn.net",
        "twitter.com",
        "x.com",
        "twimg.com",
        "linkedin.com",
        "licdn.com",
        "ning.com",
        "fb.me",
        "t.co",
        "com",
        "net",
    ]
    labels = [
        "a",
        "aa",
        "ab",
        "abs",
        "api",
        "b",
        "m",
        "mobile",
        "n",
        "pbs",
        "s",
        "static",
        "t",
        "w",
        "www",
        "wz",
        "z",
        "zz",
        "*",
        "0",
        "-x",
    ]
    actions = ["CNAME .", "CNAME rpz-passthru.", "CNAME *.", "A 0.0.0.0"]
    names = set()
    for _ in range(rnd.randint(25, 60)):
        base = rnd.choice(bases)
        depth = rnd.choice([0, 1, 1, 1, 2])
        parts = [rnd.choice(labels[:-3] if d else labels) for d in range(depth)]
        if "*" in parts[1:]:
            continue
        names.add(".".join(parts + [base]))
    if rnd.random() < 0.3:
        names.add("*")
    body = "".join(f"{n} {rnd.choice(actions)}\n" for n in sorted(names))
    return case(
        f"rpz-random-{seed}",
        RESPIP + 'rpz:\n  name: "rpz.test"\n  zonefile: "z.rpz"\n',
        z_DOT_rpz="$ORIGIN rpz.test.\n" + RPZ_SOA + body,
    )


CASES += [_random_rpz(seed) for seed in range(int(os.environ.get("RPZ_SEEDS", "8")))]


def _corpus_cases() -> list[Case]:
    out: list[Case] = []
    if not CORPUS.is_dir():
        return out
    hosts = {
        "facebook": "www.facebook.com",
        "twitter": "twitter.com",
        "linkedin": "www.linkedin.com",
        "ning": "www.ning.com",
    }
    for d in sorted(CORPUS.iterdir()):
        exp_file = d / "expected.yaml"
        if not exp_file.is_file():
            continue
        exp = yaml.safe_load(exp_file.read_text())
        if exp.get("dialect") != "unbound":
            continue
        text = (d / "tree" / exp["main"]).read_text()
        blocked = tuple(hosts[s] for s, v in exp["expected"].items() if v == "blocked")
        resolved = tuple(hosts[s] for s, v in exp["expected"].items() if v in ("none", "unaffected"))
        if "server:" in text:
            files = {"case.conf": neutralise(text)}
        else:  # an include fragment: as its unbound.conf would include it
            files = {"case.conf": 'server:\n  include: "fragment.conf"\n', "fragment.conf": neutralise(text)}
        # A config unbound refuses (missing includes, broken quotes) is compared by refusal.
        out.append(Case(f"corpus-{d.name}", files, blocked, resolved, may_refuse=True))
    return out


def _daemon_blocks(answer: Answer, host: str, ours: Decision, catalog) -> bool:
    if answer.timed_out or answer.rcode != "NOERROR" or not answer.addresses:
        return True
    if answer.cnames:
        owner = catalog.service_for_host(host)
        held = catalog.service_for_host(answer.cnames[-1])
        if owner is None or held is None or held[0] != owner[0]:
            return True
    ip = ipaddress.ip_address(answer.addresses[0])
    if answer.addresses[0] == STUB_A:
        return False
    if ip.is_unspecified or ip.is_loopback or not ip.is_global:
        return True
    return ours.outcome != Outcome.ALLOW  # a public address: a pin we confirmed, or a redirect


def _mechanism_matches(answer: Answer, how: str) -> bool:
    if how == "NXDOMAIN":
        return answer.rcode == "NXDOMAIN"
    if how == "REFUSED":
        return answer.rcode == "REFUSED"
    if how == "NODATA":
        return answer.rcode == "NOERROR" and not answer.addresses and not answer.cnames
    if how.startswith("dropped"):
        return answer.timed_out
    if how.startswith("sinkhole 0.0.0.0"):
        return answer.addresses[:1] == ["0.0.0.0"]
    if how == "tcp-only":
        return answer.truncated
    return True


@pytest.fixture(scope="module")
def unbound_binary() -> str:
    binary = find_unbound()
    if binary is None or find_checkconf() is None:
        skip_or_fail("Debian's unbound is not installed (apt-get install unbound)")
    assert binary is not None  # skip_or_fail never returns (it skips or fails the test)
    return binary


@pytest.fixture(scope="module")
def stub():
    with stub_upstream() as s:
        yield s


@pytest.fixture
def workdir():
    d = Path(tempfile.mkdtemp(prefix="policy-lint-unbound-"))
    d.chmod(0o755)
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


def _loopback_audience(ruleset):
    """The audience a client on 127.0.0.1 belongs to (the daemon only sees that one)."""
    return ruleset.audience_of_client("127.0.0.1")


@pytest.mark.parametrize("c", CASES + _corpus_cases(), ids=lambda c: c.id)
def test_static_decisions_match_real_unbound(c, unbound_binary, stub, catalog, workdir):
    for name, text in c.files.items():
        p = workdir / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    case_conf = workdir / "case.conf"
    body = f'server:\n  include: "{case_conf}"\n'
    main = write_config(workdir, body, stub.port, modules=c.modules)
    ok, said = checkconf(main)
    if ok and c.refused:  # some refusals come only when the daemon sets up (RPZ without respip)
        try:
            with running_unbound(workdir, body, stub.port, c.modules, unbound_binary):
                pass
        except RuntimeError as exc:
            ok, said = False, str(exc)
    ruleset = unbound.parse(case_conf, ParseContext(Resolver(workdir), catalog))
    refusals = [p for p in ruleset.problems if p.code in ("TE901", "TE903", "TE904")]
    if c.refused or (c.may_refuse and not ok):
        assert not ok, f"unbound accepts what we expected it to refuse: {said}"
        assert refusals, f"unbound refuses the config but we report no TE901/TE903: {said}"
        return
    assert ok, f"unbound refuses the config: {said}"
    assert not refusals, f"unbound accepts the config but we report {refusals}"
    audience = _loopback_audience(ruleset)
    hosts = sorted(
        {p.host for svc in catalog.services.values() for p in svc.probes()} | {catalog.control_host}
    )
    wrong: list[str] = []
    seen_blocked: set[str] = set()
    seen_resolved: set[str] = set()
    with running_unbound(workdir, body, stub.port, c.modules, unbound_binary) as daemon:
        for host in hosts:
            ours = ruleset.evaluate(Probe(None, host, "primary", "https", 443), audience)
            answer = ask(daemon.port, host)
            for _ in range(2):  # a busy machine can be slow: only an expected drop may time out
                if not answer.timed_out or ours.how.startswith("dropped"):
                    break
                answer = ask(daemon.port, host, timeout=3.0)
            if ours.outcome == Outcome.UNKNOWN:
                wrong.append(f"{host}: we say unknown ({ours.note}); unbound: {answer}")
                continue
            blocked = _daemon_blocks(answer, host, ours, catalog)
            (seen_blocked if blocked else seen_resolved).add(host)
            if blocked != (ours.outcome == Outcome.DENY):
                wrong.append(f"{host}: unbound {answer}, we {ours.outcome.value} ({ours.how}; {ours.note})")
            elif not _mechanism_matches(answer, ours.how):
                wrong.append(f"{host}: unbound {answer}, our mechanism: {ours.how!r}")
    assert not wrong, "\n".join(wrong)
    assert set(c.blocked) <= seen_blocked, f"expected blocked: {set(c.blocked) - seen_blocked}"
    assert set(c.resolved) <= seen_resolved, f"expected resolved: {set(c.resolved) - seen_resolved}"

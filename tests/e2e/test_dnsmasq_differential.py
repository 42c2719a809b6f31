"""Differential test: our static reading of dnsmasq configs against Debian's real dnsmasq.

Needs Debian's dnsmasq (`apt-get install dnsmasq`; scripts/test.sh installs it) and runs it
unprivileged in the foreground on 127.0.0.1:<free port> (see dnsmasq_harness.py), with a stub
upstream on 127.0.0.1 that answers every A query with 192.0.2.1 and every AAAA with
2001:db8::1: a forwarded name shows as exactly that answer. Nothing is resolved anywhere else.

For each config (generated snippets, and the corpus' dnsmasq cases wrapped in a config that
includes them), the same file is parsed by `policy_lint.dialects.dns.dnsmasq`, every catalog probe
host and the control host are asked for their A record, and:

- NXDOMAIN, REFUSED, an empty answer, a sinkhole or a non-public address <=> our DENY;
- the stub's answer or a public address <=> our ALLOW;
- our "(IPv4 only)" note <=> the AAAA query being forwarded while the A query is not.

Each case also names a few hosts its author expects blocked and resolved, so that the
comparison cannot pass vacuously.
"""

from __future__ import annotations

import ipaddress
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from policy_lint.dialects.dns import dnsmasq
from policy_lint.dialects.semantics.base import ParseContext
from policy_lint.inputs import Resolver
from policy_lint.model import EVERYONE, Outcome, Probe
from tests.conftest import corpus_dir, skip_or_fail
from tests.e2e.dns_stub import STUB_A, STUB_AAAA, stub_upstream
from tests.e2e.dnsmasq_harness import (
    ask,
    find_dnsmasq,
    loopback_only,
    running_dnsmasq,
    syntax_check,
)

pytestmark = pytest.mark.e2e

CORPUS = corpus_dir()


@dataclass(frozen=True)
class Case:
    id: str
    files: dict[str, str]  # path -> text; "main.conf" is the config; PORT = the stub's port
    blocked: tuple[str, ...] = ()
    resolved: tuple[str, ...] = ()
    upstream: bool = True  # a default `server=` to the stub (dnsmasq's usual resolv.conf servers)


def case(
    id: str, main: str, blocked: str = "", resolved: str = "", upstream: bool = True, **files: str
) -> Case:
    return Case(
        id,
        {"main.conf": main, **{k.replace("__", "/").replace("_DOT_", "."): v for k, v in files.items()}},
        tuple(blocked.split()),
        tuple(resolved.split()),
        upstream,
    )


CASES = [
    case(
        "address-nxdomain",
        "address=/facebook.com/\n",
        blocked="facebook.com www.facebook.com graph.facebook.com",
        resolved="fb.me twitter.com",
    ),
    case(
        "server-local-only",
        "server=/twitter.com/\nlocal=/x.com/\n",
        blocked="twitter.com mobile.twitter.com api.x.com",
        resolved="pbs.twimg.com t.co",
    ),
    case(
        "sinkholes",
        "address=/linkedin.com/0.0.0.0\naddress=/licdn.com/127.0.0.1\naddress=/lnkd.in/#\n"
        "address=/ning.com/::\n",
        blocked="www.linkedin.com static.licdn.com lnkd.in",
        resolved="www.ning.com",
    ),
    case("private-block-page", "address=/facebook.com/10.10.10.1\n", blocked="www.facebook.com"),
    case("forward-elsewhere", "server=/facebook.com/127.0.0.1#PORT\n", resolved="www.facebook.com"),
    case(
        "most-specific-wins",
        "address=/facebook.com/\nserver=/www.facebook.com/#\n"
        "address=/twitter.com/\nserver=/api.twitter.com/127.0.0.1#PORT\n",
        blocked="facebook.com m.facebook.com twitter.com",
        resolved="www.facebook.com api.twitter.com",
    ),
    case(
        "same-domain-precedence",
        "address=/facebook.com/\nserver=/facebook.com/127.0.0.1#PORT\n"
        "server=/x.com/127.0.0.1#PORT\naddress=/x.com/0.0.0.0\n",
        blocked="x.com api.x.com",
        resolved="facebook.com",
    ),
    case(
        "wildcards",
        "address=/*.linkedin.com/\naddress=/*witter.com/\naddress=/.ning.com/\n",
        blocked="www.linkedin.com twitter.com mobile.twitter.com ning.com www.ning.com",
        resolved="linkedin.com x.com",
    ),
    case(
        "hash-void-with-upstreams",
        "address=/#/\naddress=/t.co/\n",
        blocked="t.co",
        resolved="www.facebook.com www.example.com",
    ),
    case(
        "hash-without-upstreams",
        "no-resolv\naddress=/#/\nserver=/linkedin.com/127.0.0.1#PORT\n",
        blocked="www.facebook.com www.example.com",
        resolved="www.linkedin.com",
        upstream=False,
    ),
    case(
        "hash-sinkhole-with-exception",
        "address=/#/0.0.0.0\nserver=/twitter.com/#\n",
        blocked="www.facebook.com www.example.com",
        resolved="twitter.com",
    ),
    case(
        "v6-only-falls-through",
        "address=/facebook.com/::\naddress=/com/\n",
        blocked="www.facebook.com www.linkedin.com x.com",
        resolved="fb.me t.co",
    ),
    case(
        "includes-and-hosts",
        # addn-hosts is read after dnsmasq has changed to /: an absolute path
        "conf-file=extra.conf\nconf-dir=conf.d,*.conf\naddn-hosts=DIR/block.hosts\n",
        extra_DOT_conf="address=/ning.com/\n",
        conf_DOT_d__social_DOT_conf="server=/linkedin.com/\n",
        conf_DOT_d__skip_DOT_bak="server=/facebook.com/\n",
        block_DOT_hosts="0.0.0.0 www.facebook.com\n::1 twitter.com\n",
        blocked="www.ning.com www.linkedin.com www.facebook.com",
        resolved="facebook.com twitter.com",
    ),
    case("ipset-is-not-a-block", "ipset=/facebook.com/social\n", resolved="www.facebook.com"),
]


def _corpus_cases() -> list[Case]:
    out: list[Case] = []
    if not CORPUS.is_dir():
        return out
    for d in sorted(CORPUS.iterdir()):
        exp_file = d / "expected.yaml"
        if not exp_file.is_file():
            continue
        exp = yaml.safe_load(exp_file.read_text())
        if exp.get("dialect") != "dnsmasq":
            continue
        text = (d / "tree" / exp["main"]).read_text()
        blocked = [s for s, v in exp["expected"].items() if v == "blocked"]
        hosts = {
            "facebook": "www.facebook.com",
            "twitter": "twitter.com",
            "linkedin": "www.linkedin.com",
            "ning": "www.ning.com",
        }
        out.append(
            Case(
                f"corpus-{d.name}",
                {"main.conf": "conf-file=case.conf\n", "case.conf": text},
                tuple(hosts[s] for s in blocked),
                tuple(hosts[s] for s, v in exp["expected"].items() if v in ("none", "unaffected")),
            )
        )
    return out


def _daemon_blocks(rcode: str, addrs: list[str]) -> bool:
    if rcode != "NOERROR" or not addrs:
        return True
    ip = ipaddress.ip_address(addrs[0])
    return ip.is_unspecified or ip.is_loopback or (not ip.is_global and str(ip) not in (STUB_A, STUB_AAAA))


@pytest.fixture(scope="module")
def dnsmasq_binary() -> str:
    binary = find_dnsmasq()
    if binary is None:
        skip_or_fail("Debian's dnsmasq is not installed (apt-get install dnsmasq)")
    assert binary is not None  # skip_or_fail raised
    return binary


@pytest.fixture(scope="module")
def stub():
    with stub_upstream() as s:
        yield s


@pytest.fixture
def readable_dir():
    """A directory dnsmasq can still read after dropping root to `nobody` (it reads hosts files
    then; pytest's tmp_path is private to its user)."""
    d = Path(tempfile.mkdtemp(prefix="policy-lint-dnsmasq-"))
    d.chmod(0o755)
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


@pytest.mark.parametrize("c", CASES + _corpus_cases(), ids=lambda c: c.id)
def test_static_decisions_match_real_dnsmasq(c, dnsmasq_binary, stub, catalog, readable_dir):
    tmp_path = readable_dir
    for name, text in c.files.items():
        p = tmp_path / name
        p.parent.mkdir(parents=True, exist_ok=True)
        text = loopback_only(text.replace("PORT", str(stub.port)).replace("DIR", str(tmp_path)), stub.port)
        if name == "main.conf" and c.upstream:
            text += f"\nserver=127.0.0.1#{stub.port}\n"
        p.write_text(text)
        p.chmod(0o644)
        p.parent.chmod(0o755)
    main = tmp_path / "main.conf"
    ok, said = syntax_check(main, dnsmasq_binary)
    assert ok, f"dnsmasq refuses the config: {said}"
    ruleset = dnsmasq.parse(main, ParseContext(Resolver(tmp_path), catalog))
    assert not [p for p in ruleset.problems if p.code in ("TE901", "TE903", "TE904")], ruleset.problems
    hosts = sorted(
        {p.host for svc in catalog.services.values() for p in svc.probes()} | {catalog.control_host}
    )
    wrong = []
    seen_blocked: set[str] = set()
    seen_resolved: set[str] = set()
    with running_dnsmasq(main, None, dnsmasq_binary) as daemon:
        for host in hosts:
            ours = ruleset.evaluate(Probe(None, host, "primary", "https", 443), EVERYONE)
            if ours.outcome == Outcome.UNKNOWN:
                wrong.append(f"{host}: we say unknown")
                continue
            rcode, addrs = ask(daemon.port, host, "A")
            blocked = _daemon_blocks(rcode, addrs)
            (seen_blocked if blocked else seen_resolved).add(host)
            if blocked != (ours.outcome == Outcome.DENY):
                wrong.append(f"{host}: dnsmasq {rcode} {addrs}, we {ours.outcome.value} ({ours.how})")
            elif blocked:
                rcode6, addrs6 = ask(daemon.port, host, "AAAA")
                forwarded6 = rcode6 == "NOERROR" and addrs6 == [STUB_AAAA]
                if forwarded6 != ("IPv4 only" in ours.how):
                    wrong.append(f"{host}: AAAA {rcode6} {addrs6}, our how: {ours.how!r}")
    assert not wrong, "\n".join(wrong)
    assert set(c.blocked) <= seen_blocked, f"expected blocked: {set(c.blocked) - seen_blocked}"
    assert set(c.resolved) <= seen_resolved, f"expected resolved: {set(c.resolved) - seen_resolved}"


def test_dnsmasq_refuses_what_we_call_a_config_error(dnsmasq_binary, catalog, tmp_path):
    main = tmp_path / "main.conf"
    main.write_text("domain-needed\nadress=/facebook.com/\n")
    ok, said = syntax_check(main, dnsmasq_binary)
    assert not ok and "bad option" in said
    ruleset = dnsmasq.parse(main, ParseContext(Resolver(tmp_path), catalog))
    assert [p.span.line for p in ruleset.problems if p.code == "TE901"] == [2]

"""Differential test: our static reading of Privoxy configs against Debian's real privoxy.

Needs Debian's privoxy (`apt-get install privoxy`; scripts/test.sh does it) and runs it on
127.0.0.1 only (see privoxy_harness.py): Privoxy forwards every request to a local parent proxy
that answers 200 to any absolute-form GET and to any CONNECT, so no name is resolved and
nothing leaves the machine.

For each case (the shared corpus's Privoxy cases and the small generated configs below) one
privoxy runs the action files, every catalog probe (all services, primary to hygiene, and the
neutral control) is requested through it, over plain HTTP (a GET) and over HTTPS (a CONNECT),
and the same config is parsed by `policy_lint.dialects.proxies.privoxy` and evaluated. The config we
parse is the one privoxy runs minus the harness's own `forward / 127.0.0.1:<parent>` line,
which stands for "the internet": Privoxy's block page (403), a redirect to another site (302)
or a failed forward (503) must be our DENY (`how` redirect / black-hole for the last two), a
pass to the parent (or a redirect to the same site, e.g. an HTTPS upgrade) our ALLOW.

Each generated case also says what its author expects privoxy to do with a few URLs, so the
comparison cannot pass vacuously. A second test checks that privoxy refuses to start on the
broken action files for which we report TE901/TE905.
"""

from __future__ import annotations

import subprocess
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from policy_lint.dialects.proxies import privoxy as privoxy_dialect
from policy_lint.dialects.semantics.base import ParseContext
from policy_lint.engine import Options, lint_paths
from policy_lint.inputs import Resolver
from policy_lint.model import Decision, Outcome, Probe
from policy_lint.policy import strict_policy
from tests.conftest import corpus_dir, skip_or_fail
from tests.e2e.privoxy_harness import (
    Answer,
    fetch,
    find_privoxy,
    free_port,
    harness_forward_line,
    parent_proxy,
    privoxy_config,
    running_privoxy,
)

pytestmark = pytest.mark.e2e

CORPUS = corpus_dir()


@dataclass(frozen=True)
class Case:
    id: str
    files: dict[str, str]  # action files (and trust files), loaded in this order
    config: tuple[str, ...] = ()  # extra config lines (forward, trustfile, toggle ...)
    expect: dict[str, frozenset[str]] = field(default_factory=dict)  # class -> probe labels


def case(
    id: str, actions: str = "", config: str = "", extra_files: dict[str, str] | None = None, **expect: str
) -> Case:
    files = {"user.action": textwrap.dedent(actions).strip() + "\n"} if actions else {}
    files.update({k: textwrap.dedent(v).strip() + "\n" for k, v in (extra_files or {}).items()})
    lines = tuple(line.strip() for line in textwrap.dedent(config).strip().splitlines() if line.strip())
    # Keyword names cannot hold a dash: `black_hole=` stands for the class "black-hole".
    return Case(id, files, lines, {k.replace("_", "-"): frozenset(v.split()) for k, v in expect.items()})


# Expectation classes: deny (403 block page), redirect (302 elsewhere), black-hole (503), allow.
CASES = [
    case(
        "host-pattern-forms",
        """
        { +block{Host pattern forms.} }
        .FaceBook.
        .twitter.com
        linkedin.com
        www.ning.
        """,
        deny="http://www.facebook.com https://www.facebook.com https://graph.facebook.com "
        "http://twitter.com https://mobile.twitter.com https://linkedin.com https://www.ning.com",
        allow="https://x.com https://www.linkedin.com https://ning.com https://yournetwork.ning.com "
        "https://static.xx.fbcdn.net https://www.example.com",
    ),
    case(
        "label-wildcards",
        """
        { +block{Wildcards.} }
        .fb*.
        .[a-m]*cdn.com
        api.?.com
        t.c?
        """,
        deny="https://static.xx.fbcdn.net https://fb.me https://static.licdn.com https://api.x.com https://t.co",
        allow="https://www.facebook.com https://pbs.twimg.com https://api.linkedin.com https://x.com",
    ),
    case(
        "path-patterns-never-see-https",
        r"""
        { +block{Paths.} }
        /.*plugins
        .ning.com/.+
        .twitter.com/$
        .linkedin.com/.*
        /tr$
        """,
        deny="http://www.facebook.com/plugins/like.php http://www.facebook.com/tr "
        "http://twitter.com https://twitter.com http://www.linkedin.com https://www.linkedin.com",
        allow="https://www.facebook.com/plugins/like.php https://www.facebook.com/tr http://www.ning.com "
        "https://www.ning.com https://x.com",
    ),
    case(
        "later-sections-and-exceptions",
        """
        {{alias}}
        Unblock = -block -redirect
        +social = +block{Social.}
        { +block{Everything.} }
        /
        { unblock{any value is ignored} }
        .example.com
        .linkedin.com
        .licdn.com
        { -block }
        .twimg.com
        { +SOCIAL }
        api.linkedin.com
        """,
        deny="https://www.facebook.com https://twitter.com https://api.linkedin.com https://www.ning.com",
        allow="https://www.example.com https://www.linkedin.com https://static.licdn.com https://pbs.twimg.com",
    ),
    case(
        "later-file-overrides",
        "",
        extra_files={
            "01-block.action": """
            { +block{Social.} }
            .facebook.com
            .fbcdn.net
            .twitter.com
            """,
            "02-user.action": """
            { -block }
            .fbcdn.net
            twitter.com
            """,
        },
        deny="https://www.facebook.com https://www.twitter.com",
        allow="https://static.xx.fbcdn.net https://twitter.com",
    ),
    case(
        "block-substitutes",
        """
        { +block{Image.} +handle-as-image }
        .twimg.com
        { +block{Image, pattern.} +handle-as-image +set-image-blocker{pattern} }
        video.twimg.com
        { +block{Image, redirect.} +handle-as-image +set-image-blocker{http://blocked.invalid/x.gif} }
        .licdn.com
        { +block{Empty.} +handle-as-empty-document }
        t.co
        lnkd.in
        """,
        deny="http://pbs.twimg.com https://pbs.twimg.com http://t.co https://lnkd.in",
        redirect="http://static.licdn.com https://static.licdn.com",
        allow="https://twitter.com https://www.linkedin.com",
    ),
    case(
        "redirects",
        r"""
        { +redirect{http://blocked.invalid/} }
        .ning.com
        { +redirect{s@^http://@https://@} }
        .twitter.com
        { +redirect{s@^http://[^/]*@http://www.example.com@} }
        .linkedin.com
        { +redirect{s@nomatch@x@} }
        .facebook.com
        { +block{Block wins over redirect.} +redirect{http://www.example.com/} }
        x.com
        """,
        redirect="http://www.ning.com https://www.ning.com http://www.linkedin.com",
        deny="http://x.com https://x.com",
        allow="http://twitter.com https://twitter.com https://www.linkedin.com http://www.facebook.com "
        "https://www.facebook.com",
    ),
    case(
        "ports-and-limit-connect",
        """
        { +block{Plain HTTP only.} }
        .facebook.com:80
        { +limit-connect{80,8000-8080} }
        .twitter.com
        { +block{TLS only.} }
        .linkedin.com:443
        """,
        deny="http://www.facebook.com https://twitter.com https://www.linkedin.com",
        allow="https://www.facebook.com http://twitter.com http://www.linkedin.com",
    ),
    case(
        "forward-black-holes",
        """
        { +block{Nothing here.} }
        nothing.invalid
        """,
        config="""
        forward .facebook.com 127.0.0.1:1
        forward-socks5t .twimg.com 127.0.0.1:1 .
        forward-socks4a .linkedin.com 127.0.0.1:9 .
        """,
        black_hole="http://www.facebook.com https://www.facebook.com https://pbs.twimg.com "
        "https://www.linkedin.com",
        allow="https://twitter.com https://static.licdn.com",
    ),
    case(
        "forward-override",
        """
        { +forward-override{forward 127.0.0.1:1} }
        .ning.com
        { -forward-override }
        www.ning.com
        """,
        black_hole="https://ning.com https://yournetwork.ning.com",
        allow="https://www.ning.com",
    ),
    case(
        "trust-file",
        "",
        config="trustfile trust",
        extra_files={
            "trust": """
            ~.linkedin.com
            +.example.com
            .facebook.com
            ~www.facebook.com
            ~.twitter.com
            twitter.com
            """
        },
        deny="https://facebook.com https://m.facebook.com https://twitter.com https://www.ning.com",
        allow="https://www.linkedin.com https://www.example.com https://www.facebook.com "
        "https://mobile.twitter.com",
    ),
    case(
        "toggled-off",
        """
        { +block{Off.} }
        /
        """,
        config="toggle 0",
        allow="https://www.facebook.com https://www.example.com http://twitter.com",
    ),
]


def _corpus_cases() -> list[Case]:
    """The shared corpus's Privoxy cases: the action files a case's main file loads."""
    out: list[Case] = []
    if not CORPUS.is_dir():
        return out
    for d in sorted(CORPUS.iterdir()):
        exp_file = d / "expected.yaml"
        if not exp_file.is_file():
            continue
        exp = yaml.safe_load(exp_file.read_text())
        if exp.get("dialect") != privoxy_dialect.NAME:
            continue
        tree = d / "tree"
        main = tree / exp["main"]
        if main.name.endswith(".action"):
            paths = [main]
        else:
            from policy_lint.catalog import load_catalog

            ruleset = privoxy_dialect.parse(main, ParseContext(Resolver(tree.resolve()), load_catalog()))
            paths = [Path(p) for p in ruleset.included if p.endswith(".action")]
        files = {f"{i:02d}-{p.name}": p.read_text(errors="replace") for i, p in enumerate(paths)}
        out.append(Case(f"corpus-{d.name}", files))
    return out


def probes(catalog) -> list[Probe]:
    out: dict[str, Probe] = {}
    for p in [p for svc in catalog.services.values() for p in svc.probes()] + catalog.control_probes():
        out.setdefault(p.label(), p)
    return list(out.values())


def same_site(catalog, probe: Probe, host: str) -> bool:
    if host == probe.host:
        return True
    hit = catalog.service_for_host(host)
    return probe.service is not None and bool(hit and hit[0] == probe.service)


def real_class(catalog, probe: Probe, answer: Answer) -> str:
    """What privoxy did, in the classes the expectations use."""
    if answer.status == 200:
        if probe.scheme == "http" and not answer.from_parent:
            return "deny"  # a substitute (image, empty document) from privoxy itself
        return "allow"
    if answer.status == 302:
        host = (urlsplit(answer.location).hostname or "").lower()
        if probe.scheme == "http" and same_site(catalog, probe, host):
            return "allow"
        return "redirect"
    if answer.status == 403:
        return "deny"
    if answer.status == 503:
        return "black-hole"
    return f"unexpected {answer}"


def our_class(d: Decision) -> str:
    if d.outcome == Outcome.ALLOW:
        return "allow"
    if d.outcome == Outcome.DENY:
        return {"redirect": "redirect", "black-hole": "black-hole"}.get(d.how, "deny")
    return d.outcome.value


def describe(d: Decision) -> str:
    where = f"{Path(d.rule.path).name}:{d.rule.line} '{d.rule.text}'" if d.rule else "no rule"
    return (
        f"{d.outcome.value}"
        + (f"/{d.how}" if d.how else "")
        + f" by {where}"
        + (f" ({d.note})" if d.note else "")
    )


@pytest.fixture(scope="module")
def parent():
    if find_privoxy() is None:
        skip_or_fail("Debian privoxy not installed (apt-get install privoxy; scripts/test.sh does it)")
    with parent_proxy() as p:
        yield p


def _config_lines(c: Case) -> list[str]:
    return [f"actionsfile {name}" for name in c.files if name.endswith(".action")] + list(c.config)


@pytest.mark.parametrize("case", CASES + _corpus_cases(), ids=lambda c: c.id)
def test_static_privoxy_evaluation_agrees_with_real_privoxy(case: Case, parent, catalog, tmp_path):
    all_probes = probes(catalog)
    lines = _config_lines(case)
    with running_privoxy(lines, tmp_path, parent_port=parent.port, files=case.files) as px:
        real = {p.label(): fetch(px.port, p.url) for p in all_probes}
        # What we lint: the same config without the harness's own forward line.
        static_conf = px.dir / "config.static"
        static_conf.write_text(
            "\n".join(
                line for line in px.conf.read_text().splitlines() if line != harness_forward_line(parent.port)
            )
            + "\n"
        )
        ruleset = privoxy_dialect.parse(static_conf, ParseContext(Resolver(px.dir.resolve()), catalog))
        ours = {p.label(): ruleset.evaluate(p, ruleset.audiences()[0]) for p in all_probes}
        log_tail = px.log_tail(10)
    assert not [p for p in ruleset.problems if p.code in ("TE901", "TE903", "TE905")], ruleset.problems

    # 1. Privoxy did what the case's author expects (else the comparison proves little).
    surprises = []
    for expected, labels in case.expect.items():
        for label in sorted(labels):
            assert label in real, f"{label} is not a catalog probe"
            got = real_class(catalog, next(p for p in all_probes if p.label() == label), real[label])
            if got != expected:
                surprises.append(f"  {label}: expected privoxy to {expected}, got {real[label]} ({got})")
    assert not surprises, (
        "real privoxy did not behave as this case expects:\n" + "\n".join(surprises) + "\n" + log_tail
    )

    # 2. Our static decision agrees with privoxy for every probe.
    mismatches = []
    for p in all_probes:
        want, got = real_class(catalog, p, real[p.label()]), our_class(ours[p.label()])
        if want != got:
            mismatches.append(
                f"  {p.label()}: privoxy {real[p.label()]} ({want}); "
                f"policy-lint says {describe(ours[p.label()])}"
            )
    assert not mismatches, (
        f"{len(mismatches)} of {len(all_probes)} probes disagree with privoxy:\n"
        + "\n".join(mismatches)
        + "\n"
        + log_tail
    )


BROKEN = [
    ("unterminated-section", "{ +block{Facebook.}\n.facebook.com\n", "TE901"),
    ("unknown-action", "{ +block{x} +blokc }\n.facebook.com\n", "TE901"),
    ("pattern-before-section", ".facebook.com\n{ +block{x} }\n.twitter.com\n", "TE901"),
    ("alias-after-sections", "{ +block{x} }\n.x.com\n{{alias}}\na = -block\n", "TE901"),
    ("bad-path-regex", "{ +block{x} }\n.facebook.com/(\n", "TE905"),
    ("bool-with-value", "{ +handle-as-image{yes} }\n.facebook.com\n", "TE901"),
]


@pytest.mark.parametrize("name,text,code", BROKEN, ids=[b[0] for b in BROKEN])
def test_privoxy_refuses_what_we_report_as_refused(name, text, code, parent, catalog, tmp_path):
    state = tmp_path / name
    state.mkdir()
    (state / "user.action").write_text(text)
    conf = state / "config"
    conf.write_text(
        privoxy_config(
            ["actionsfile user.action"], port=free_port(), state_dir=state, parent_port=parent.port
        )
    )
    privoxy = find_privoxy()
    assert privoxy is not None  # the parent fixture skips the test without it
    try:
        run = subprocess.run(
            [privoxy, "--no-daemon", str(conf)],
            capture_output=True,
            text=True,
            timeout=5,
            stdin=subprocess.DEVNULL,
            cwd=state,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"privoxy accepted {name!r} and kept running")
    assert run.returncode != 0 and "Fatal error" in run.stdout + run.stderr, run.stdout + run.stderr
    report = lint_paths([state / "user.action"], catalog, strict_policy(catalog), Options(root=state))
    assert code in {f.code for f in report.findings}, [f"{f.code} {f.message}" for f in report.findings]
    assert "refuses" in " ".join(f.message for f in report.findings if f.code == code)

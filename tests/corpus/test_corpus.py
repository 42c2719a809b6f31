"""The shared real-world corpus (../shared/corpus): expected verdicts per case and the score.

Every case of a dialect we implement must give its expected verdicts exactly (mapped the way
../shared/tools/score_corpus.py maps them); the overall score must never drop below the floor
recorded in score_floor.json (raise it as dialects land). The corpus path can be overridden
with POLICY_LINT_CORPUS.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from policy_lint import dialects
from policy_lint.engine import Options, lint_paths
from policy_lint.policy import strict_policy
from tests.conftest import REPO, skip_or_fail

pytestmark = pytest.mark.corpus

CORPUS = Path(os.environ.get("POLICY_LINT_CORPUS", REPO.parent / "shared" / "corpus" / "cases"))
SCORER = CORPUS.parent.parent / "tools" / "score_corpus.py"
FLOOR = json.loads((Path(__file__).parent / "score_floor.json").read_text())
SERVICES = ("facebook", "twitter", "linkedin", "ning")


def _cases() -> list[Path]:
    return sorted(p for p in CORPUS.iterdir() if (p / "expected.yaml").is_file()) if CORPUS.is_dir() else []


def _bucket(label: str) -> str:
    """The scorer's classes: blocked | partial | neg | unknown."""
    if label == "blocked":
        return "blocked"
    if label in ("blocked-partial", "degraded", "throttled"):
        return "partial"
    if label in ("allowed", "unaffected", "none"):
        return "neg"
    return "unknown"


# Cases whose expectation we believe is wrong. The expectation stays as the corpus has it (it
# is reviewed by others); the case is an xfail(strict) here, so a change either way shows.
DISPUTED = {
    "20-privoxy-b4dg0y4-path-patterns": "path patterns /.*facebook.* and /.*linkedin.* only match URLs whose path names the "
    "service (share widgets on other sites); real Privoxy 3.0.34 running this file lets every "
    "catalog request to Facebook and LinkedIn through, over HTTP and HTTPS "
    "(tests/e2e/test_privoxy_differential.py): we say unaffected (+TE201), the label says "
    "blocked-partial",
    "14-pf-drduh-pf-blocklist-table": "the table covers Facebook's and Twitter's IPv4 space (blocked) but only 8 of LinkedIn's 14 catalog "
    "IPv4 prefixes, and of 103.20.92.0/22, where the catalog's LinkedIn address is, only one /24: "
    "144.2.16.0/24, 144.2.180.0/22 and four more stay reachable; we say linkedin blocked-partial, the "
    "label says blocked",
    "76-iptables-save-firemanxbr-string-facebook-insert": "L11-12 DNAT the LAN's (-i eth1) ports 80 and 443 to "
    "172.16.0.2:3128, a transparent proxy whose configuration is not in the case: that proxy decides "
    "what LAN clients reach (TE907), so twitter, linkedin and ning are unknown, not none; facebook is "
    "blocked by the FORWARD string drop for clients on other interfaces and decided by the proxy for "
    "eth1 (if squid runs on this box its upstream request meets the OUTPUT string drop, but the "
    "iptables file does not say where 172.16.0.2 is): we say blocked-partial, the label says blocked",
    "42-iptables-br-forward-fb-ranges": "six FORWARD -d <x>/16 DROPs cover 31.13/16, 69.171/16, 173.252/16, 66.220/16, 179.60/16 and "
    "157.240/16 only: Meta's 57.144.0.0/14 (where www.facebook.com's catalog address is), 129.134/16, "
    "102.132/16 and 163.70/16 stay reachable, as the case's own notes say; with the address-coverage "
    "rule (addressing.py: a deny covering some IPv4 prefixes is partial) we say blocked-partial, "
    "the label says blocked",
}


# The corpus labels some cases by the file's form rather than by our dialect's name.
DIALECT_OF_LABEL = {"iptables-save": "iptables", "windows-netsh": "windows-firewall"}


def _implemented_cases() -> list:
    out = []
    for case in _cases():
        exp = yaml.safe_load((case / "expected.yaml").read_text())
        if DIALECT_OF_LABEL.get(exp["dialect"], exp["dialect"]) in dialects.DIALECTS:
            marks = (
                [pytest.mark.xfail(strict=True, reason=DISPUTED[case.name])] if case.name in DISPUTED else []
            )
            out.append(pytest.param(case, id=case.name, marks=marks))
    return out


def test_corpus_is_present():
    if not _cases():
        skip_or_fail(f"corpus not found at {CORPUS} (set POLICY_LINT_CORPUS)")


@pytest.mark.parametrize("case", _implemented_cases())
def test_case_verdicts(case, catalog):
    exp = yaml.safe_load((case / "expected.yaml").read_text())
    tree = case / "tree"
    report = lint_paths([tree / exp["main"]], catalog, strict_policy(catalog), Options(root=tree))
    assert not report.errors, report.errors
    got = {sid: r.verdict.value for sid, r in report.files[0].services.items()}
    # A URL rewriter we cannot evaluate (not squidGuard, or its config unreadable) may leave a
    # verdict undecided.
    rewriter = any(f.code == "TE907" for f in report.findings)
    wrong = {}
    for svc in SERVICES:
        want = exp["expected"][svc]
        if _bucket(want) == "unknown":
            continue
        if _bucket(got[svc]) != _bucket(want) and not (rewriter and got[svc] == "unknown"):
            wrong[svc] = (want, got[svc])
    assert not wrong, f"{case.name}: expected vs got {wrong}\nnotes: {exp.get('notes')}"


def test_score_never_drops_below_the_recorded_floor():
    if not _cases():
        skip_or_fail(f"corpus not found at {CORPUS}")
    cmd = f"{sys.executable} -m policy_lint"
    out = subprocess.run(
        [sys.executable, str(SCORER), str(CORPUS), "--cmd", cmd],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=REPO,
    )
    line = out.stdout.strip().splitlines()[-1]
    score = dict(part.split("=") for part in line.split())
    for key, floor in FLOOR.items():
        assert float(score[key]) >= floor, f"{key} fell below {floor}: {line}"

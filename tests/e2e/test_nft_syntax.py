"""Differential tests against Debian's `nft` (nftables 1.0.x): syntax authority and JSON form.

Needs `nft` (`apt-get install nftables`) and CAP_NET_ADMIN: `nft -c -f FILE` parses the ruleset
and has the kernel validate it over netlink without committing anything: no firewall change,
no packet sent (as a non-root user it fails with "Operation not permitted": skipped, or failed
under POLICY_LINT_REQUIRE_E2E=1). For each ruleset (valid
and broken, and the corpus' nftables files): nft refuses it <=> we report TE901; it accepts it
<=> we parse it without an input problem. Rulesets naming hostnames are left out (nft would
resolve them through DNS).

The corpus files are held to the same rule, exactly: CORPUS_REFUSED lists every corpus file
nft refuses, with the line and message it gives (test_nft_refuses_exactly_the_recorded_corpus_files
fails when nft refuses another or accepts one of them), and for each of them we must report
TE901 at that line. Where the dialect does not do so yet, the case is an xfail(strict=True)
naming what is missing (DIALECT_PENDING), so that it turns red the day it is fixed.

The JSON test loads a ruleset into a *private, empty network namespace* (`unshare -n`) and
reads it back with `nft -j list ruleset`: the real JSON form, never touching the host's
firewall. Our reading of the JSON must decide every service as our reading of the text does.
"""

from __future__ import annotations

import functools
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from policy_lint.catalog import load_catalog
from policy_lint.dialects.firewalls import nftables
from policy_lint.dialects.semantics.base import ParseContext
from policy_lint.engine import Options, lint_paths
from policy_lint.inputs import Resolver
from policy_lint.policy import strict_policy
from tests.conftest import corpus_dir, skip_or_fail

pytestmark = pytest.mark.e2e

CORPUS = corpus_dir()
FB = load_catalog().services["facebook"]
FB_V4 = ", ".join(str(n) for n in FB.networks if n.version == 4)
FB_V6 = ", ".join(str(n) for n in FB.networks if n.version == 6)


def _table(body: str, extra: str = "") -> str:
    return (
        "table inet filter {\n" + extra + "  chain forward {\n"
        "    type filter hook forward priority 0; policy accept;\n" + body + "\n  }\n}\n"
    )


SETS = (
    f"  set fb {{ type ipv4_addr; flags interval; elements = {{ {FB_V4} }} }}\n"
    f"  set fb6 {{ type ipv6_addr; flags interval; elements = {{ {FB_V6} }} }}\n"
)
VALID = {
    "named-sets": _table("    ip daddr @fb drop\n    ip6 daddr @fb6 reject", SETS),
    "anonymous-set-ports": _table(
        "    ip daddr { 31.13.24.0/21, 157.240.0.0/16 } tcp dport { 80, 443 } drop"
    ),
    "ct-state-quic": _table('    ct state established,related accept\n    udp dport 443 drop comment "QUIC"'),
    "define-and-iifname": "define LAN = eth1\ndefine SOC = { 31.13.24.0/21 }\n"
    + _table('    iifname $LAN ip daddr $SOC counter log prefix "fb: " drop'),
    "jump-goto-return": _table(
        "    jump social\n    goto social",
        "  chain social {\n    ip saddr 10.0.0.5 return\n    ip daddr @fb drop\n  }\n" + SETS,
    ),
    "vmap": _table(
        "    ct state vmap { established : accept, related : accept, invalid : drop }\n"
        "    ip daddr vmap { 31.13.24.0/21 : drop, 192.0.2.1 : accept }"
    ),
    "add-commands": "add table ip f\nadd chain ip f fw { type filter hook forward priority 0; policy drop; }\n"
    "add set ip f s { type ipv4_addr; flags interval; }\nadd element ip f s { 31.13.24.0/21 }\n"
    "add rule ip f fw ip daddr @s drop\ninsert rule ip f fw ct state established accept\n",
    "flush-and-priorities": "flush ruleset\ntable inet a {\n  chain fw { type filter hook forward priority filter - 5; "
    "policy accept; accept; }\n}\ntable ip b {\n  chain out { type filter hook output "
    "priority 10; policy accept; ip daddr 31.13.24.0/21 drop; }\n}\n",
    "limit-over-and-icmp": _table(
        "    ct state new limit rate over 100/minute burst 200 packets drop\n"
        "    ip protocol icmp icmp type echo-request limit rate 5/second accept\n"
        "    meta l4proto { tcp, udp } th dport 53 accept"
    ),
    "interval-range": _table(
        "    ip saddr @z jump soc",
        "  set z { type ipv4_addr; flags interval; elements = { 192.168.4.10-192.168.4.49 } }\n"
        "  chain soc { ip daddr 31.13.24.0/21 drop; }\n",
    ),
    "bridge-family": "table bridge br {\n  chain fw { type filter hook forward priority 0; policy accept; "
    "ip daddr 31.13.24.0/21 drop; }\n}\n",
    "dormant": "table inet t {\n  flags dormant\n  chain fw { type filter hook forward priority 0; policy drop; }\n}\n",
}
# One rule each, as real rulesets write them (nft accepts every one; we must read them all).
RULES = (
    "tcp flags & (fin|syn|rst|ack) == syn ct state new accept",
    "tcp flags != syn ct state new drop",
    "ip6 nexthdr icmpv6 icmpv6 type { nd-neighbor-solicit, nd-router-advert } accept",
    "meta l4proto ipv6-icmp accept",
    'iifname != "lo" ip daddr 127.0.0.0/8 drop',
    "fib daddr type local accept",
    "ct status dnat accept",
    "tcp dport ssh ct state new limit rate 15/minute accept",
    "reject with icmpx type port-unreachable",
    "reject with icmp type host-prohibited",
    "meta nfproto ipv4 tcp dport 443 drop",
    "ip saddr 10.0.0.0/8 counter packets 0 bytes 0 accept",
    'log prefix "x " level info drop',
    "meter flood size 128000 { ip saddr timeout 10s limit rate over 10/second } drop",
    "ip daddr != { 10.0.0.0/8, 192.168.0.0/16 } tcp dport 443 drop",
    "udp dport { 67, 68 } udp sport { 67, 68 } accept",
    "icmp type echo-request accept",
    "ip protocol { tcp, udp } accept",
    "ether saddr 00:11:22:33:44:55 drop",
    "meta skuid 1000 drop",
    'iifname "eth*" accept',
    "tcp dport { http, https } drop",
    "tcp dport 1024-65535 accept",
    'ct state invalid log prefix "invalid: " level warn drop',
    'meta iifname "lo" accept',
    "quota over 10 mbytes drop",
    "ip6 daddr fe80::/64 accept",
    "ct state established,related counter accept",
    "ip daddr 31.13.24.0/21 tcp dport 443 counter reject with tcp reset",
    "meta mark set 0x1 accept",
    "ct mark set 7",
    "ip dscp cs1 accept",
    "ip ttl 1 drop",
    "th dport 443 drop",
    "meta l4proto { tcp, udp } th dport 53 accept",
    "tcp dport 22 ct state new add @bl { ip saddr timeout 1m limit rate over 10/minute } drop",
    "ip saddr @bl drop",
    'udp dport 443 drop comment "QUIC"',
    'ip daddr 31.13.24.0/21 drop comment "facebook"',
    "iif lo accept",
    "meta pkttype broadcast drop",
    "ip saddr 192.168.1.0/24 ip daddr != 192.168.1.0/24 jump sub",
    "goto sub",
    "ip daddr vmap { 31.13.24.0/21 : drop, 192.0.2.0/24 : jump sub }",
    "tcp dport vmap @svc",
    "ct state vmap { established : accept, related : accept, invalid : drop }",
    "ip saddr . tcp dport { 10.0.0.1 . 22 } accept",
    "ip daddr 31.13.24.0/21 log flags all counter drop",
    "limit rate 10/second burst 20 packets accept",
    "ip frag-off & 0x1fff != 0 drop",
    "ip6 hoplimit 1 drop",
    "tcp option maxseg size 1460 accept",
    "tcp dport 443 meta priority set 1:1",
    "icmpv6 type echo-request limit rate 5/second accept",
    "ip length > 1000 drop",
    "udp length < 20 drop",
    "ip daddr 31.13.24.1-31.13.24.200 drop",
    "ip daddr { 31.13.24.1-31.13.24.200, 8.8.8.8 } drop",
    "ct count over 20 drop",
    "socket transparent 1 accept",
    'meta hour "09:00"-"17:00" drop',
    'meta day "Monday" drop',
    "numgen random mod 2 0 drop",
    "ip saddr 10.0.0.5 return",
    "continue",
    'oifname { "eth0", "wlan0" } accept',
    "notrack",
)
RULE_CONTEXT = (
    "  set bl { type ipv4_addr; flags dynamic,timeout; timeout 5m; }\n"
    "  map svc { type inet_service : verdict; elements = { 22 : accept, 80 : drop } }\n"
    "  chain sub { counter; }\n"
)
VALID.update({f"rule-{k}": _table("    " + rule, RULE_CONTEXT) for k, rule in enumerate(RULES)})
BROKEN = {
    "unknown-verdict": _table("    ip daddr 31.13.24.0/21 dorp"),
    "unclosed-brace": "table inet f {\n  chain fw { type filter hook forward priority 0; policy accept;\n",
    "stray-brace": _table("    accept") + "}\n",
    "unterminated-quote": _table('    tcp dport 443 drop comment "QUIC'),
    "undefined-variable": _table("    ip daddr $NOPE drop"),
    "undefined-set": _table("    ip daddr @nope drop"),
    "jump-to-nowhere": _table("    jump nowhere"),
    "bad-address": _table("    ip daddr 1.2.3.4.5 drop"),
    "bad-prefix": _table("    ip daddr 31.13.24.0/33 drop"),
    "bad-policy": "table inet f {\n  chain fw { type filter hook forward priority 0; policy maybe; }\n}\n",
    "unknown-statement": _table("    frobnicate 42"),
    "rule-without-table": "add rule inet nowhere fw drop\n",
    "missing-include": 'include "/definitely/not/here.nft"\n',
    "no-terminator-before-brace": _table("    jump sub", "  chain sub { counter }\n"),
    "set-without-type": _table("    accept", "  set s { elements = { 1.2.3.4 } }\n"),
}


@functools.lru_cache(maxsize=1)
def _probe_nft() -> tuple[str | None, str]:
    """The nft binary if `nft -c` works here, else why not. `nft -c` hands the ruleset to the
    kernel's netlink for validation without committing it: it needs CAP_NET_ADMIN (as a
    non-root user it fails with "cache initialization failed: Operation not permitted")."""
    path = shutil.which("nft") or ("/usr/sbin/nft" if Path("/usr/sbin/nft").exists() else None)
    if path is None:
        return None, "nft not installed (apt-get install nftables)"
    with tempfile.TemporaryDirectory() as d:
        f = Path(d) / "probe.nft"
        f.write_text(VALID["named-sets"])
        try:
            run = subprocess.run([path, "-c", "-f", str(f)], capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return None, f"nft -c could not run: {exc}"
    if run.returncode != 0:
        return (
            None,
            f"nft -c does not work here (needs netlink and CAP_NET_ADMIN): {run.stderr.strip()[:200]}",
        )
    return path, ""


def _nft() -> str:
    path, why = _probe_nft()
    if path is None:
        skip_or_fail(why)
    return path  # type: ignore[return-value]


# Every corpus file `nft -c` (Debian 12's nftables 1.0.6) refuses: case/path-in-tree -> (line, error).
CORPUS_REFUSED = {
    # `dnat to [$PI_IP6]:53`: nft's scanner reads `[` IPv6-address `]` (RFC 2732) as one token
    # only around a literal address; around a variable the `[` is a syntax error. The literal
    # `dnat to [fd00::1]:53` and the bare `dnat to $PI_IP6:53` are accepted. nft loads nothing
    # from a file with a syntax error: the whole ruleset (every table in it) is refused.
    "41-nftables-privacyguardian-quic-comment/etc/nftables.conf": (350, "syntax error, unexpected '['"),
}
# Corpus files nft refuses for which the nftables dialect does not report TE901 at that line yet.
# Corpus files nft refuses that the dialect does not yet report as TE901 (xfail strict, naming
# what is missing). None today: case 41's `dnat to [$PI_IP6]:53` is TE901 at nft's line.
DIALECT_PENDING: dict[str, str] = {}


def _corpus_files() -> dict[str, Path]:
    """The corpus' nftables files, by case/path-in-tree."""
    out = {}
    if CORPUS.is_dir():
        for f in sorted(CORPUS.glob("*nftables*/tree/**/*")):
            if f.is_file() and nftables.detect(f, f.read_text(errors="replace")[:4096]) >= 0.5:
                case = f.relative_to(CORPUS).parts[0]
                out[f"{case}/{f.relative_to(CORPUS / case / 'tree').as_posix()}"] = f
    return out


def _cases() -> list:
    out = [pytest.param(text, True, None, id=f"valid-{k}") for k, text in VALID.items()]
    out += [pytest.param(text, False, None, id=f"broken-{k}") for k, text in BROKEN.items()]
    for key, f in _corpus_files().items():
        refused = CORPUS_REFUSED.get(key)
        marks = (
            [pytest.mark.xfail(strict=True, reason=DIALECT_PENDING[key])] if key in DIALECT_PENDING else []
        )
        out.append(
            pytest.param(
                f.read_text(), refused is None, refused and refused[0], id=f"corpus-{key}", marks=marks
            )
        )
    return out


def _refusal(stderr: str) -> tuple[int, str] | None:
    """(line, message) of nft's first error, as `FILE:LINE:COL-COL: Error: MESSAGE`."""
    m = re.search(r":(\d+):\d+(?:-\d+)?: Error: (.*)", stderr)
    return (int(m.group(1)), m.group(2).strip()) if m else None


def _check(nft: str, f: Path) -> subprocess.CompletedProcess:
    return subprocess.run([nft, "-c", "-f", str(f)], capture_output=True, text=True, timeout=60)


def test_nft_check_works_here():
    _nft()


def test_nft_refuses_exactly_the_recorded_corpus_files():
    """Which corpus files nft refuses, where and why, is recorded in CORPUS_REFUSED: a change (a
    new corpus file, another nft) shows here rather than as a silently different xfail."""
    nft = _nft()
    files = _corpus_files()
    if not files:
        skip_or_fail(f"no nftables corpus files under {CORPUS} (set POLICY_LINT_CORPUS)")
    refused = {}
    for key, f in files.items():
        run = _check(nft, f)
        if run.returncode != 0:
            refused[key] = _refusal(run.stderr) or (0, run.stderr.strip())
    assert refused == CORPUS_REFUSED


@pytest.mark.parametrize("text,expect_ok,line", _cases())
def test_we_refuse_what_nft_refuses(text, expect_ok, line, tmp_path):
    nft = _nft()
    f = tmp_path / "nftables.conf"
    f.write_text(text)
    run = _check(nft, f)
    accepted = run.returncode == 0
    assert accepted == expect_ok, f"nft changed its mind: {run.stderr}"
    rs = nftables.parse(f, ParseContext(Resolver(tmp_path), load_catalog()))
    ours = [p for p in rs.problems if p.code.startswith("TE9")]
    if accepted:
        assert not ours, ours
    elif line is not None:
        # A corpus file: TE901 exactly where nft's error is.
        assert [p for p in ours if p.code == "TE901" and p.span.line == line], (
            f"nft refuses line {line} ({run.stderr.strip()}) but we report {ours or 'no input problem'}"
        )
    else:
        assert ours, f"nft refuses it ({run.stderr.strip()}) but we report no input problem"


def _json_of(nft: str, text: str, tmp_path: Path) -> str:
    """Load `text` into a fresh, private network namespace and list it as JSON."""
    unshare = shutil.which("unshare")
    if unshare is None:
        skip_or_fail("unshare not installed (util-linux)")
    assert unshare is not None  # skip_or_fail raised (it is not annotated NoReturn)
    src = tmp_path / "in.nft"
    src.write_text(text)
    run = subprocess.run([unshare, "-n", nft, "-f", str(src)], capture_output=True, text=True, timeout=60)
    if run.returncode != 0:
        skip_or_fail(f"cannot load a ruleset in a private network namespace here: {run.stderr.strip()}")
    # A second namespace would be empty: load and list inside one shell in one namespace.
    run = subprocess.run(
        [unshare, "-n", "sh", "-c", f'"{nft}" -f "{src}" && "{nft}" -j list ruleset'],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    return run.stdout


@pytest.mark.parametrize(
    "name",
    [
        "named-sets",
        "anonymous-set-ports",
        "ct-state-quic",
        "jump-goto-return",
        "vmap",
        "add-commands",
        "flush-and-priorities",
        "limit-over-and-icmp",
        "interval-range",
    ],
)
def test_json_listing_decides_like_the_text(name, tmp_path):
    nft = _nft()
    text = VALID[name]
    js = _json_of(nft, text, tmp_path)
    catalog = load_catalog()
    policy = strict_policy(catalog)
    results = []
    for fname, body in (("nftables.conf", text), ("ruleset.nft.json", js)):
        d = tmp_path / fname.replace(".", "_")
        d.mkdir()
        (d / fname).write_text(body)
        report = lint_paths([d / fname], catalog, policy, Options(root=d))
        assert report.files, report.errors
        assert not [f for f in report.findings if f.code.startswith("TE9")], report.findings
        results.append({s: r.verdict.value for s, r in report.files[0].services.items()})
    assert results[0] == results[1]

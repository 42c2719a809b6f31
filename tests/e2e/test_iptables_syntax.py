"""Differential syntax test: our iptables-save reader against Debian's `iptables-restore --test`.

Needs Debian's iptables (`apt-get install iptables`; scripts/test.sh installs it).
`--test` parses a ruleset and builds it without committing anything: no privileges, no change
to any firewall, no packet sent. Rulesets naming hostnames are left out (the real tool would
resolve them through DNS), and so are `-m set` rules (the tool checks the set exists in the
running kernel: a fact about the machine, not the file; we report those as TE903).

For each ruleset (the corpus' iptables-save files and generated ones, valid and broken):
the tool refuses it <=> we report TE901; it accepts it <=> we parse it without an input problem.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from policy_lint.dialects.firewalls import iptables
from policy_lint.dialects.semantics.base import ParseContext
from policy_lint.inputs import Resolver
from tests.conftest import corpus_dir, skip_or_fail

pytestmark = pytest.mark.e2e

CORPUS = corpus_dir()

HEAD = "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
VALID = {
    "jump-return-policy": "*filter\n:FORWARD DROP [0:0]\n:SOCIAL - [0:0]\n-A FORWARD -j SOCIAL\n"
    "-A SOCIAL -s 10.0.0.5/32 -j RETURN\n"
    '-A SOCIAL -m string --string "facebook.com" --algo bm -j DROP\nCOMMIT\n',
    "multiport-time-reject": HEAD
    + "-A FORWARD -p tcp -m multiport --dports 80,443 -m time --timestart 09:00 "
    "--timestop 17:00 --weekdays Mon,Tue -j REJECT --reject-with tcp-reset\nCOMMIT\n",
    "iprange-mac-comment": HEAD + "-A FORWARD -m iprange --dst-range 31.13.24.1-31.13.31.254 -m mac "
    '--mac-source 00:11:22:33:44:55 -m comment --comment "fb" -j DROP\nCOMMIT\n',
    "hex-string": HEAD + '-A FORWARD -p tcp --dport 443 -m string --hex-string "|66616365|book" --algo kmp '
    "-j DROP\nCOMMIT\n",
    "insert-delete": HEAD + "-I FORWARD 1 -d 31.13.24.0/21 -j DROP\n-D FORWARD 1\nCOMMIT\n",
    "mangle": "*mangle\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -d 31.13.24.0/21 -j DROP\nCOMMIT\n",
    "dotted-mask": HEAD + "-A FORWARD -d 31.13.24.0/255.255.248.0 -j DROP\nCOMMIT\n",
    "service-port": HEAD + "-A FORWARD -p tcp --dport https -j DROP\n-A OUTPUT -p tcp -m tcp --sport 1024: "
    "-m state --state NEW,ESTABLISHED -j ACCEPT\nCOMMIT\n",
    "policy-in-file": HEAD + '-P INPUT DROP\n-A INPUT -j LOG --log-prefix "in: "\n'
    "-A FORWARD ! -s 10.0.0.0/8 -o eth0 -j DROP\nCOMMIT\n",
    "two-tables": "*nat\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -i eth1 -p tcp --dport 80 -j DNAT "
    "--to 172.16.0.2:3128\nCOMMIT\n" + HEAD + "-A FORWARD -i eth1 -j ACCEPT\nCOMMIT\n",
    "unterminated-quote-to-eol": HEAD + '-A FORWARD -m comment --comment "abc -j DROP\nCOMMIT\n',
}
BROKEN = {
    "no-commit": HEAD + "-A FORWARD -j DROP\n",
    "bad-mask": HEAD + "-A FORWARD -d 1.2.3.0/33 -j DROP\nCOMMIT\n",
    "bad-address": HEAD + "-A FORWARD -s 1.2.3.4.5 -j DROP\nCOMMIT\n",
    "unknown-match": HEAD + "-A FORWARD -m bogus -j DROP\nCOMMIT\n",
    "bad-weekday": HEAD + "-A FORWARD -m time --weekdays Funday -j DROP\nCOMMIT\n",
    "string-without-algo": HEAD + "-A FORWARD -m string --string facebook -j DROP\nCOMMIT\n",
    "dport-without-proto": HEAD + "-A FORWARD --dport 443 -j DROP\nCOMMIT\n",
    "port-out-of-range": HEAD + "-A FORWARD -p tcp -m tcp --dport 99999 -j DROP\nCOMMIT\n",
    "bad-state": HEAD + "-A FORWARD -m state --state NEW,BOGUS -j DROP\nCOMMIT\n",
    "extra-word": HEAD + "-A FORWARD -j DROP extra\nCOMMIT\n",
    "bad-table": "*bogus\nCOMMIT\n",
}


def _tool(name: str) -> str:
    path = shutil.which(name) or (f"/usr/sbin/{name}" if Path(f"/usr/sbin/{name}").exists() else None)
    if path is None:
        skip_or_fail(f"{name} not installed (apt-get install iptables)")
    return path  # type: ignore[return-value]


def _cases() -> list:
    out = [pytest.param(text, True, id=f"valid-{k}") for k, text in VALID.items()]
    out += [pytest.param(text, False, id=f"broken-{k}") for k, text in BROKEN.items()]
    if CORPUS.is_dir():
        for f in sorted(CORPUS.glob("*iptables*/tree/**/*")):
            if (
                f.is_file()
                and f.read_text(errors="replace").lstrip().startswith(("*", "#"))
                and "\n*" in "\n" + f.read_text(errors="replace")
            ):
                out.append(pytest.param(f.read_text(), None, id=f"corpus-{f.parent.name}-{f.name}"))
    return out


@pytest.mark.parametrize("text,expect_ok", _cases())
def test_we_refuse_what_iptables_restore_refuses(text, expect_ok, tmp_path, catalog):
    binary = _tool("ip6tables-restore" if "ip6tables" in text.split("\n", 1)[0] else "iptables-restore")
    f = tmp_path / "rules.v4"
    f.write_text(text)
    run = subprocess.run([binary, "--test", str(f)], capture_output=True, text=True, timeout=60)
    accepted = run.returncode == 0
    if expect_ok is not None:
        assert accepted == expect_ok, f"iptables-restore changed its mind: {run.stderr}"
    rs = iptables.parse(f, ParseContext(Resolver(tmp_path), catalog))
    ours = [p for p in rs.problems if p.code == "TE901"]
    if accepted:
        assert not ours, ours
    else:
        assert ours, f"iptables-restore refuses it ({run.stderr.strip()}) but we report no TE901"


def test_ip6tables_restore_agrees_on_ipv6(tmp_path, catalog):
    binary = _tool("ip6tables-restore")
    text = HEAD + "-A FORWARD -d 2a03:2880::/32 -j DROP\n-A OUTPUT -d 2a03:2880::/129 -j DROP\nCOMMIT\n"
    f = tmp_path / "rules.v6"
    for body, ok in ((text.replace("-A OUTPUT -d 2a03:2880::/129 -j DROP\n", ""), True), (text, False)):
        f.write_text("# Generated by ip6tables-save\n" + body)
        run = subprocess.run([binary, "--test", str(f)], capture_output=True, text=True, timeout=60)
        assert (run.returncode == 0) == ok
        rs = iptables.parse(f, ParseContext(Resolver(tmp_path), catalog))
        assert bool([p for p in rs.problems if p.code == "TE901"]) != ok

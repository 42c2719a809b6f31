"""Sets a DNS forwarder fills with the addresses of the names it resolves (dnsmasq ipset=/
nftset=, unbound's ipset module), and the firewall rules that match them by name."""

from __future__ import annotations

from pathlib import Path

from policy_lint.dialects.semantics.setfills import find_fills
from policy_lint.inputs import Resolver
from tests.conftest import verdicts

IPTABLES = "*filter\n:FORWARD ACCEPT [0:0]\n-A FORWARD -m set --match-set {name} dst -j DROP\nCOMMIT\n"
NFT = """table inet filter {
  set blocked { type ipv4_addr; }
  set blocked6 { type ipv6_addr; }
  chain forward {
    type filter hook forward priority 0; policy accept;
    ip daddr @blocked drop
    ip6 daddr @blocked6 drop
  }
}
"""


def fills_in(tmp_path: Path, files: dict[str, str]):
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    return find_fills(tmp_path, Resolver(tmp_path.resolve()))


def test_dnsmasq_ipset_and_nftset_lines(tmp_path: Path) -> None:
    fills = fills_in(
        tmp_path,
        {
            "dnsmasq.d/social.conf": "# ipset=/commented.com/x\nipset=/facebook.com/fbcdn.net/blocked,blocked6\n"
            "nftset=/twitter.com/4#inet#filter#tw4,6#inet#filter#tw6\n",
        },
    )
    assert [(f.set_name, f.table, f.domains, f.span.line) for f in fills] == [
        ("blocked", "", ("facebook.com", "fbcdn.net"), 2),
        ("blocked6", "", ("facebook.com", "fbcdn.net"), 2),
        ("tw4", "inet#filter", ("twitter.com",), 3),
        ("tw6", "inet#filter", ("twitter.com",), 3),
    ]
    assert fills[0].holds("www.facebook.com") == "facebook.com"
    assert fills[0].holds("notfacebook.com") is None


def test_unbound_ipset_module(tmp_path: Path) -> None:
    fills = fills_in(
        tmp_path,
        {"unbound.conf": 'server:\n  local-zone: "linkedin.com" ipset\nipset:\n  name-v4: "social4"\n'},
    )
    assert [(f.set_name, f.domains, f.span.line) for f in fills] == [("social4", ("linkedin.com",), 2)]


def test_iptables_set_filled_by_dnsmasq_blocks_by_name_with_both_ends_in_the_trace(lint) -> None:
    report = lint(
        {
            "rules.v4": IPTABLES.format(name="blocked"),
            "dnsmasq.conf": "ipset=/facebook.com/fbcdn.net/blocked\n",
        }
    )
    assert verdicts(report)["facebook"] == "blocked"
    assert verdicts(report)["twitter"] == "unaffected"
    finding = next(f for f in report.findings if f.code == "TE101")
    assert finding.span.line == 3
    assert ("dnsmasq.conf", 1) in [(s.path.rsplit("/", 1)[-1], s.line) for s in finding.trace]


def test_iptables_set_no_forwarder_fills_stays_unknown(lint) -> None:
    report = lint(
        {"rules.v4": IPTABLES.format(name="blocked"), "dnsmasq.conf": "ipset=/facebook.com/other\n"}
    )
    assert verdicts(report)["facebook"] == "unknown"
    assert any(f.code == "TE903" and "no ipset= of a DNS forwarder" in f.message for f in report.findings)


def test_nft_set_filled_by_nftset_of_its_own_table(lint) -> None:
    report = lint(
        {
            "fw.nft": NFT,
            "dnsmasq.conf": "nftset=/facebook.com/4#inet#filter#blocked,6#inet#filter#blocked6\n",
        }
    )
    assert verdicts(report)["facebook"] == "blocked"
    assert verdicts(report)["linkedin"] == "unaffected"


def test_nftset_of_another_table_does_not_fill(lint) -> None:
    report = lint({"fw.nft": NFT, "dnsmasq.conf": "nftset=/facebook.com/4#ip#other#blocked\n"})
    assert verdicts(report)["facebook"] == "unaffected"  # an empty set as nft loads it

"""Benchmark: every list-shaped input at 1,000,000 lines, `policy-lint check` against a bare
Python line count of the same file.

    .venv/bin/python bench/big_lists.py [--lines N] [--runs 3] [--only NAME[,NAME...]] [--keep DIR]

Inputs (each ends with, or holds near its end, one rule about facebook.com; the rest names
generated hosts `adsN.trackerM.exampleK.com` that are no catalog service's):

    hosts           0.0.0.0 NAME                                  hosts
    dnsmasq         address=/NAME/0.0.0.0, server=/NAME/, local=/NAME/
    unbound-zone    server: / local-zone: "NAME" always_nxdomain
    unbound-data    server: / local-data: "NAME A 0.0.0.0"
    rpz             db.rpz: NAME CNAME .
    squidguard-dom  squidGuard.conf with a 1M-line domainlist
    squidguard-url  squidGuard.conf with a 1M-line urllist
    e2g-sites       e2guardian bannedsitelist (the list file alone)
    e2g-urls        e2guardian bannedurllist (the list file alone)
    dansguardian    DansGuardian bannedsitelist (the list file alone)
    privoxy         an action file: { +block } then host and host/path patterns
    abp             an AdBlock list (mostly ||NAME^, options, exceptions, cosmetic, regex)
    adguard         the same list read as AdGuard
    pihole          a Pi-hole gravity list (bare names, some hosts lines)
    domain-list     a plain domain blocklist

For each input, the line count and the check run alternately (count, check, count, check ...),
each as a new process, `--runs` times; the figures are the median with the spread (min-max) of
the check's wall time, the ratio of the median check to the median count (target: at most 8x),
the largest peak RSS of the check child (os.wait4: that child's own resource usage; target: at
most 250 MB), and the verdicts line of the check. The machine's load average is printed before
and after: other work on the machine widens the spread.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TARGET_RATIO = 8.0
TARGET_RSS_MB = 250.0


def _name(i: int) -> str:
    return f"ads{i}.tracker{i % 997}.example{i % 31}.com"


def _lines(path: Path, head: str, body: Callable[[int], str], n: int, tail: str) -> None:
    with open(path, "w") as fh:
        fh.write(head)
        fh.writelines(body(i) for i in range(n))
        fh.write(tail)


def gen_hosts(d: Path, n: int) -> tuple[Path, str]:
    p = d / "hosts"
    _lines(
        p, "# generated hosts blocklist\n", lambda i: f"0.0.0.0 {_name(i)}\n", n - 2, "0.0.0.0 facebook.com\n"
    )
    return p, "hosts"


def gen_dnsmasq(d: Path, n: int) -> tuple[Path, str]:
    p = d / "blocklist-dnsmasq.conf"

    def line(i: int) -> str:
        k = i % 10
        if k < 8:
            return f"address=/{_name(i)}/0.0.0.0\n"
        return f"server=/{_name(i)}/\n" if k == 8 else f"local=/{_name(i)}/\n"

    _lines(p, "# generated dnsmasq blocklist\n", line, n - 2, "address=/facebook.com/0.0.0.0\n")
    return p, "dnsmasq"


def gen_unbound_zone(d: Path, n: int) -> tuple[Path, str]:
    p = d / "unbound-zones.conf"
    _lines(
        p,
        "server:\n",
        lambda i: f'    local-zone: "{_name(i)}" always_nxdomain\n',
        n - 2,
        '    local-zone: "facebook.com" always_nxdomain\n',
    )
    return p, "unbound"


def gen_unbound_data(d: Path, n: int) -> tuple[Path, str]:
    p = d / "unbound-data.conf"
    _lines(
        p,
        "server:\n",
        lambda i: f'    local-data: "{_name(i)} A 0.0.0.0"\n',
        n - 2,
        '    local-data: "facebook.com A 0.0.0.0"\n',
    )
    return p, "unbound"


def gen_rpz(d: Path, n: int) -> tuple[Path, str]:
    p = d / "db.rpz"
    head = "$TTL 300\n@ IN SOA localhost. root.localhost. 1 3600 600 86400 300\n  IN NS localhost.\n"
    _lines(
        p, head, lambda i: f"{_name(i)} CNAME .\n", n - 5, "facebook.com CNAME .\n*.facebook.com CNAME .\n"
    )
    return p, "rpz"


def _squidguard(d: Path, kind: str) -> Path:
    conf = d / "squidGuard.conf"
    conf.write_text(
        "dbhome " + str(d / "db") + "\nlogdir /var/log/squidguard\n"
        f"dest ads {{\n    {kind} ads/{'domains' if kind == 'domainlist' else 'urls'}\n}}\n"
        "acl {\n    default {\n        pass !ads all\n        redirect http://localhost/blocked.html\n    }\n}\n"
    )
    (d / "db" / "ads").mkdir(parents=True, exist_ok=True)
    return conf


def gen_squidguard_domains(d: Path, n: int) -> tuple[Path, str]:
    conf = _squidguard(d, "domainlist")
    _lines(d / "db" / "ads" / "domains", "", lambda i: f"{_name(i)}\n", n - 1, "facebook.com\n")
    return conf, "squidguard"


def gen_squidguard_urls(d: Path, n: int) -> tuple[Path, str]:
    conf = _squidguard(d, "urllist")
    _lines(
        d / "db" / "ads" / "urls",
        "",
        lambda i: f"{_name(i)}/banner/{i % 100}\n",
        n - 1,
        "facebook.com/groups\n",
    )
    return conf, "squidguard"


def gen_e2g_sites(d: Path, n: int) -> tuple[Path, str]:
    p = d / "bannedsitelist"
    _lines(p, "# generated banned site list\n", lambda i: f"{_name(i)}\n", n - 2, "facebook.com\n")
    return p, "e2guardian"


def gen_e2g_urls(d: Path, n: int) -> tuple[Path, str]:
    p = d / "bannedurllist"
    _lines(
        p,
        "# generated banned URL list\n",
        lambda i: f"{_name(i)}/banner/{i % 100}\n",
        n - 2,
        "facebook.com/groups\n",
    )
    return p, "e2guardian"


def gen_dansguardian(d: Path, n: int) -> tuple[Path, str]:
    p = d / "bannedsitelist"
    _lines(p, "# generated banned site list\n", lambda i: f"{_name(i)}\n", n - 2, "facebook.com\n")
    return p, "dansguardian"


def gen_privoxy(d: Path, n: int) -> tuple[Path, str]:
    p = d / "blocklist.action"

    def line(i: int) -> str:
        k = i % 20
        if k == 0:
            return f"{_name(i)}/ads/\n"
        if k == 1:
            return f"{_name(i)}:8080\n"
        return f".{_name(i)}\n" if k % 2 else f"{_name(i)}\n"

    _lines(p, "{ +block{generated list} }\n", line, n - 2, ".facebook.com\n")
    return p, "privoxy"


def gen_abp(d: Path, n: int, seed: int = 1) -> tuple[Path, str]:
    p = d / "adblock-list.txt"
    rnd = random.Random(seed)
    with open(p, "w") as fh:
        fh.write("[Adblock Plus 2.0]\n! Title: generated list (bench/big_lists.py)\n")
        for i in range(n - 3):
            r = rnd.random()
            k, m = rnd.randrange(100_000), rnd.randrange(1000)
            if r < 0.93:
                fh.write(f"||ads{i}.tracker{m}.example{k}.com^\n")
            elif r < 0.95:
                fh.write(f"||ads{i}.tracker{m}.example{k}.com^$third-party\n")
            elif r < 0.96:
                fh.write(f"@@||cdn{i}.example{k}.com^$script\n")
            elif r < 0.97:
                fh.write(f"site{k}.example##.ad-banner-{i}\n")
            elif r < 0.98:
                fh.write(f"0.0.0.0 ads{i}.tracker{m}.example{k}.net\n")
            elif r < 0.99:
                fh.write(f"ads{i}.example{k}.org\n")
            elif r < 0.995:
                fh.write(f"/banner{i}/ads*$image\n")
            elif r < 0.999:
                fh.write(f"! section {i}\n")
            else:
                fh.write(f"/^https?:\\/\\/ads{i}\\.[a-z]+\\.com\\//$script\n")
        fh.write("||facebook.com^\n")
    return p, "abp"


def gen_adguard(d: Path, n: int) -> tuple[Path, str]:
    p, _ = gen_abp(d, n)
    return p, "adguard"


def gen_pihole(d: Path, n: int, seed: int = 2) -> tuple[Path, str]:
    p = d / "gravity.list"
    rnd = random.Random(seed)
    with open(p, "w") as fh:
        for i in range(n - 1):
            k, m = rnd.randrange(100_000), rnd.randrange(1000)
            fh.write(
                f"ads{i}.tracker{m}.example{k}.com\n"
                if i % 10
                else f"0.0.0.0 ads{i}.tracker{m}.example{k}.net\n"
            )
        fh.write("facebook.com\n")
    return p, "pihole"


def gen_domain_list(d: Path, n: int) -> tuple[Path, str]:
    p = d / "blocklist.txt"
    _lines(p, "# generated domain blocklist\n", lambda i: f"{_name(i)}\n", n - 2, "facebook.com\n")
    return p, "domain-list"


INPUTS: dict[str, Callable[[Path, int], tuple[Path, str]]] = {
    "hosts": gen_hosts,
    "dnsmasq": gen_dnsmasq,
    "unbound-zone": gen_unbound_zone,
    "unbound-data": gen_unbound_data,
    "rpz": gen_rpz,
    "squidguard-dom": gen_squidguard_domains,
    "squidguard-url": gen_squidguard_urls,
    "e2g-sites": gen_e2g_sites,
    "e2g-urls": gen_e2g_urls,
    "dansguardian": gen_dansguardian,
    "privoxy": gen_privoxy,
    "abp": gen_abp,
    "adguard": gen_adguard,
    "pihole": gen_pihole,
    "domain-list": gen_domain_list,
}


def run(argv: list[str]) -> tuple[float, float, str]:
    """Wall time, peak RSS (MB) of the child itself, stdout."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=REPO)
    assert proc.stdout is not None  # stdout=PIPE
    out = proc.stdout.read()
    _pid, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return time.perf_counter() - start, usage.ru_maxrss / 1024, out.decode("utf-8", "replace")


def biggest(path: Path) -> Path:
    """The largest file next to `path` or below its folder: the list the lines are counted in."""
    files = [p for p in path.parent.rglob("*") if p.is_file()]
    return max(files, key=lambda p: p.stat().st_size)


def measure(label: str, path: Path, dialect: str, runs: int) -> bool:
    py = sys.executable
    listed = biggest(path)
    count_argv = [py, "-c", f"print(sum(1 for _ in open({str(listed)!r})))"]
    lint_argv = [
        py,
        "-m",
        "policy_lint",
        "check",
        "--dialect",
        dialect,
        "--root",
        str(path.parent),
        str(path),
    ]
    counts: list[float] = []
    lints: list[float] = []
    rss = 0.0
    out = lines = ""
    for _ in range(runs):
        t, _, lines = run(count_argv)
        counts.append(t)
        t, r, out = run(lint_argv)
        lints.append(t)
        rss = max(rss, r)
    count_t, lint_t = statistics.median(counts), statistics.median(lints)
    ratio = lint_t / count_t
    ok = ratio <= TARGET_RATIO and rss <= TARGET_RSS_MB
    verdict = next((ln for ln in out.splitlines() if f"({dialect})" in ln), out.strip()[-200:]).split(
        ": ", 1
    )[-1]
    print(
        f"{label:15} {int(lines.strip() or 0):>9,} lines  check {lint_t:6.2f} s ({min(lints):.2f}-{max(lints):.2f})"
        f"  count {count_t:5.3f} s  ratio {ratio:5.1f}x  RSS {rss:6.1f} MB  {'OK    ' if ok else 'MISSED'}  {verdict}",
        flush=True,
    )
    return ok


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--only", help="comma-separated input names: " + ", ".join(INPUTS))
    ap.add_argument("--keep", type=Path, help="write the generated files here and keep them")
    a = ap.parse_args()
    # A user's install has its .pyc files: measure that, not a recompile of every module per
    # run (this workplace sets PYTHONDONTWRITEBYTECODE, which adds ~0.1 s to every child).
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    names = a.only.split(",") if a.only else list(INPUTS)
    unknown = [n for n in names if n not in INPUTS]
    if unknown:
        ap.error(f"unknown input(s): {', '.join(unknown)}")
    tmp = tempfile.TemporaryDirectory()
    base = a.keep or Path(tmp.name)
    print(
        f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}; {a.runs} alternating runs each"
    )
    print(f"targets: check <= {TARGET_RATIO:.0f}x the line count, peak RSS <= {TARGET_RSS_MB:.0f} MB")
    ok = True
    for name in names:
        d = base / name
        d.mkdir(parents=True, exist_ok=True)
        path, dialect = INPUTS[name](d, a.lines)
        ok = measure(name, path, dialect, a.runs) and ok
        if not a.keep:
            for p in sorted(d.rglob("*"), reverse=True):
                p.unlink() if p.is_file() else p.rmdir()
    print(f"load average after:  {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    tmp.cleanup()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark: `policy-lint check` on a big PAN-OS security rulebase.

    .venv/bin/python bench/panos_rulebase.py [--rules N] [--keep DIR]

Generates a running config in the shape big real ones have: zones trust/untrust with a default
route, N rules allowing or denying App-IDs (dns, ssl, office apps; some names the catalog does
not know, which a full config treats as other predefined App-IDs) from source /24s to
destination /24s (none a catalog service's), every tenth with a URL profile, and near the end
one deny of facebook-base for everyone. Times `policy-lint check` as a new process (best of 3),
prints rules per second and the child's peak RSS, and checks the verdict (Facebook blocked).
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
APPS = ("dns", "ssl", "web-browsing", "ms-office365", "google-base", "ntp", "smtp", "salesforce-base")


def _rule(i: int) -> str:
    a, b = (i >> 8) % 200 + 10, i & 255
    action = "deny" if i % 3 == 0 else "allow"
    profile = (
        "<profile-setting><profiles><url-filtering><member>office</member></url-filtering></profiles>"
        "</profile-setting>"
        if i % 10 == 0 and action == "allow"
        else ""
    )
    return (
        f'<entry name="rule-{i}"><from><member>trust</member></from><to><member>untrust</member></to>'
        f"<source><member>10.{a}.{b}.0/24</member></source>"
        f"<destination><member>192.0.2.0/24</member><member>198.51.{b}.0/24</member></destination>"
        f"<application><member>{APPS[i % len(APPS)]}</member></application>"
        f"<service><member>application-default</member></service><action>{action}</action>{profile}</entry>\n"
    )


def generate(directory: Path, rules: int) -> Path:
    path = directory / "running-config.xml"
    with open(path, "w") as fh:
        fh.write(
            '<?xml version="1.0"?>\n<config version="10.1.0"><devices><entry name="localhost.localdomain">\n'
        )
        fh.write(
            '<network><virtual-router><entry name="default"><routing-table><ip><static-route>'
            '<entry name="d"><destination>0.0.0.0/0</destination><interface>ethernet1/1</interface></entry>'
            "</static-route></ip></routing-table></entry></virtual-router></network>\n"
        )
        fh.write('<vsys><entry name="vsys1"><zone>')
        fh.write(
            '<entry name="untrust"><network><layer3><member>ethernet1/1</member></layer3></network></entry>'
        )
        fh.write(
            '<entry name="trust"><network><layer3><member>ethernet1/2</member></layer3></network></entry>'
        )
        fh.write('</zone>\n<profiles><url-filtering><entry name="office"><block><member>gambling</member>')
        fh.write("</block></entry></url-filtering></profiles>\n<rulebase><security><rules>\n")
        for i in range(rules - 2):
            fh.write(_rule(i))
        fh.write(
            '<entry name="no-facebook"><from><member>any</member></from><to><member>any</member></to>'
            "<source><member>any</member></source><destination><member>any</member></destination>"
            "<application><member>facebook-base</member></application><service><member>any</member>"
            "</service><action>deny</action></entry>\n"
            '<entry name="web"><from><member>trust</member></from><to><member>untrust</member></to>'
            "<source><member>any</member></source><destination><member>any</member></destination>"
            "<application><member>any</member></application><service><member>any</member></service>"
            "<action>allow</action></entry>\n"
        )
        fh.write("</rules></security></rulebase></entry></vsys></entry></devices></config>\n")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rules", type=int, default=20_000)
    parser.add_argument("--keep", type=Path)
    args = parser.parse_args()
    directory = args.keep or Path(tempfile.mkdtemp(prefix="panos-bench-"))
    directory.mkdir(parents=True, exist_ok=True)
    path = generate(directory, args.rules)
    cmd = [sys.executable, "-m", "policy_lint", "check", "--format", "json", str(path)]
    best = float("inf")
    out = ""
    for _ in range(3):
        start = time.perf_counter()
        done = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
        best = min(best, time.perf_counter() - start)
        out = done.stdout
    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    verdict = '"facebook": {"verdict": "blocked"' in out.replace("\n", "").replace("  ", "")
    print(
        f"panos: {args.rules} rules in {best:.2f}s ({args.rules / best:,.0f} rules/s), peak RSS {rss:.0f} MiB"
    )
    print(f"facebook blocked: {'yes' if verdict else 'NO (check the output)'}")


if __name__ == "__main__":
    main()

"""Benchmark: a Terraform file of N Cloudflare Gateway policies, `policy-lint check` on it.

    .venv/bin/python bench/cloudflare_gateway.py [--policies 500] [--groups 10] [--runs 3]

Generates DNS and HTTP policies alternately (domain and regex conditions, an identity group
each out of --groups, allows and blocks), plus one policy blocking facebook.com, and times
`policy-lint check` on the file as a new process, best of --runs: policies per second, and the
verdict it must give (facebook blocked-partial: the block is for one group). python-hcl2 reads
the file; each policy is then evaluated for every probe and audience (the groups, one user no
policy names, DNS-location clients).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

POLICY = """resource "cloudflare_zero_trust_gateway_policy" "p{n}" {{
  account_id = "0123"
  name       = "p{n}"
  precedence = {n}
  enabled    = true
  action     = "{action}"
  filters    = ["{layer}"]
  traffic    = "any({domains}[*] == \\"site{n}.example\\") or {host} matches \\"^x{n}\\\\\\\\.\\""
  identity   = "any(identity.groups.name[*] in {{\\"group{group}\\"}})"
}}
"""


def generate(path: Path, policies: int, groups: int) -> None:
    with open(path, "w") as fh:
        for n in range(policies):
            dns = n % 2 == 0
            fh.write(
                POLICY.format(
                    n=n,
                    action="block" if n % 3 else "allow",
                    layer="dns" if dns else "http",
                    domains="dns.domains" if dns else "http.request.domains",
                    host="dns.fqdn" if dns else "http.request.host",
                    group=n % groups,
                )
            )
        fh.write(
            POLICY.format(
                n=policies, action="block", layer="dns", domains="dns.domains", host="dns.fqdn", group=0
            ).replace(f"site{policies}.example", "facebook.com")
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--policies", type=int, default=500)
    parser.add_argument("--groups", type=int, default=10)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "gateway.tf"
        generate(path, args.policies, args.groups)
        best = float("inf")
        output = ""
        for _ in range(args.runs):
            start = time.perf_counter()
            run = subprocess.run(
                [sys.executable, "-m", "policy_lint", "check", "--format", "text", str(path)],
                capture_output=True,
                text=True,
                cwd=REPO,
            )
            best = min(best, time.perf_counter() - start)
            output = run.stdout
        verdict = next((line for line in output.splitlines() if "(cloudflare-gateway)" in line), "")
        print(f"{args.policies + 1} policies, {args.groups} groups: best {best:.2f} s")
        print(f"{(args.policies + 1) / best:,.0f} policies/s (process start to exit)")
        print(verdict)
        return 0 if "facebook=blocked-partial" in verdict else 1


if __name__ == "__main__":
    sys.exit(main())

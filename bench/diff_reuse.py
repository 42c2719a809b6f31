"""Benchmark: `policy-lint diff` after a one-line change to one file of a 200-file repository,
against `policy-lint check` of that one file and of the whole repository.

    .venv/bin/python bench/diff_reuse.py [--files 200] [--lines 2000] [--runs 7]

Generates a git repository of --files configs (squid.conf variants reading a shared list,
hosts files and dnsmasq files of --lines lines), commits it, edits one line of one squid.conf in the
working tree, then times, each as a new process, alternating the commands run after run:

- `policy-lint check FILE` on the edited file alone (the reference: one file's lint);
- `policy-lint diff` (HEAD against the working tree; the head side reuses the base's lints);
- `policy-lint check .` on the whole repository (what diff would cost without reuse, once).

Prints the median and spread of each and the ratio diff / one file. The target (issue #19):
about one file's lint, not two repository lints. diff lints, on each side, only the files the
change can affect (the edited file, and files that name it), and writes the base revision's
files out of git's object store: those fixed costs come on top of the two small lints.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CLI = [str(Path(sys.executable).parent / "policy-lint")]


def git(repo: Path, *args: str) -> None:
    env = {**os.environ, "GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@example.invalid"}
    env |= {"GIT_COMMITTER_NAME": "b", "GIT_COMMITTER_EMAIL": "b@example.invalid"}
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, env=env)


def generate(repo: Path, files: int, lines: int) -> Path:
    (repo / "lists").mkdir(parents=True)
    (repo / "lists" / "blocked.txt").write_text("".join(f".ads{i}.example.net\n" for i in range(500)))
    edited = None
    for n in range(files):
        site = repo / f"site{n:03d}"
        site.mkdir()
        kind = n % 3
        if kind == 0:
            path = site / "squid.conf"
            path.write_text(
                f"acl lan src 10.{n % 250}.0.0/16\n"
                'acl ads dstdomain "/lists/blocked.txt"\n'
                "http_access deny ads\nhttp_access allow lan\nhttp_access deny all\n"
            )
            edited = edited or path
        elif kind == 1:
            (site / "hosts").write_text("".join(f"0.0.0.0 t{i}.site{n}.example\n" for i in range(lines)))
        else:
            (site / "dnsmasq.conf").write_text(
                "".join(f"address=/ads{i}.site{n}.example/0.0.0.0\n" for i in range(lines))
            )
    git(repo, "init", "-q")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "configs")
    assert edited is not None
    edited.write_text(edited.read_text().replace("http_access deny ads", "http_access deny ads\n# reviewed"))
    return edited


def timed(command: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=cwd, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--lines", type=int, default=2000, help="lines per hosts and dnsmasq file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        repo = Path(tmp) / "repo"
        edited = generate(repo, args.files, args.lines)
        commands = {
            "check one file": [*CLI, "check", str(edited.relative_to(repo))],
            "diff (HEAD -> working tree)": [*CLI, "diff"],
        }
        times: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(args.runs):
            for name, command in commands.items():  # alternating, run after run
                times[name].append(timed(command, repo))
        whole = timed([*CLI, "check", "."], repo)
        report = subprocess.run([*CLI, "diff", "--format", "json"], cwd=repo, capture_output=True, text=True)
    for name, values in times.items():
        print(
            f"{name:32s} median {statistics.median(values):6.3f} s  "
            f"min {min(values):6.3f}  max {max(values):6.3f}  (runs {len(values)})"
        )
    print(f"{'check . (whole repository, once)':32s} {whole:6.3f} s")
    one = statistics.median(times["check one file"])
    diff = statistics.median(times["diff (HEAD -> working tree)"])
    print(f"diff / one file: {diff / one:.2f}x; diff / (whole check + one file): {diff / (whole + one):.2f}x")
    print("diff report tail:", report.stdout.strip().splitlines()[-3:])


if __name__ == "__main__":
    main()

"""Debian's squidGuard as an oracle for end-to-end tests: no daemon, no network.

squidGuard is squid's URL rewriter: it reads one request per line on stdin, in squid 3.4+'s
helper format without channel IDs (`URL client-ip/fqdn user method`; squidGuard 1.6 does not
support `concurrency=`), and answers each with `ERR` (no change: the request passes) or
`OK rewrite-url="..."` (a redirect: the request is blocked). `-t yyyy-mm-ddTHH:MM:SS` makes it
believe it is that moment (for `time` rules).

    with SquidGuardDir() as sgd:
        conf = sgd.write_config(text)            # lists written with sgd.write("db/x/domains", ...)
        sgd.build(conf)                          # squidGuard -C all  (and sgd.update(conf): -u)
        answers = sgd.ask(conf, ["http://www.facebook.com/ 10.0.0.1/- - GET"], when=...)

Every run is bounded by a timeout; files live in a world-readable directory under /tmp (the
pytest tmp_path of root is 0700), removed afterwards.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import stat
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

RUN_TIMEOUT = 60.0  # seconds for one squidGuard run (building a DB or answering a batch)
_ANSWER = re.compile(r'^OK (?:status=\d+ )?(?:rewrite-url|url)="([^"]*)"$')


def find_squidguard() -> str | None:
    found = shutil.which("squidGuard")
    if found:
        return found
    for candidate in ("/usr/bin/squidGuard", "/usr/sbin/squidGuard"):
        if os.access(candidate, os.X_OK):
            return candidate
    return None


@dataclass(frozen=True)
class Answer:
    raw: str
    redirect: str | None  # None: the request passes

    @property
    def blocked(self) -> bool:
        return self.redirect is not None


def parse_answer(line: str) -> Answer:
    line = line.strip()
    if line in ("", "ERR", "OK"):
        return Answer(line, None)
    m = _ANSWER.match(line)
    if not m:
        raise AssertionError(f"squidGuard answered something this harness does not know: {line!r}")
    return Answer(line, m.group(1))


class SquidGuardDir:
    """A scratch directory holding a squidGuard.conf, its db and its log dir."""

    def __init__(self) -> None:
        self.binary = find_squidguard()
        self.path: Path | None = None

    def __enter__(self) -> SquidGuardDir:
        self.path = Path(tempfile.mkdtemp(prefix="policy-lint-sg-", dir="/tmp"))
        os.chmod(self.path, 0o755)
        (self.path / "log").mkdir()
        return self

    def __exit__(self, *exc) -> None:
        if self.path is not None:
            shutil.rmtree(self.path, ignore_errors=True)

    def write(self, relative: str, text: str) -> Path:
        assert self.path is not None, "SquidGuardDir is used as a context manager"
        target = self.path / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        for p in [target, *target.parents]:
            if p == self.path.parent:
                break
            mode = p.stat().st_mode
            os.chmod(
                p, mode | stat.S_IRGRP | stat.S_IROTH | (stat.S_IXGRP | stat.S_IXOTH if p.is_dir() else 0)
            )
        return target

    def write_config(self, text: str, name: str = "squidGuard.conf") -> Path:
        """The config with `@DIR@` replaced by this directory, logdir set to its log/."""
        body = text.replace("@DIR@", str(self.path))
        if not re.search(r"^\s*logdir\b", body, re.M):
            body = f"logdir {self.path}/log\n" + body
        return self.write(name, body)

    def _run(self, args: list[str], stdin: str = "") -> subprocess.CompletedProcess:
        assert self.binary, "squidGuard not installed"
        return subprocess.run(
            [self.binary, *args],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT,
            cwd=self.path,
        )

    def build(self, conf: Path) -> None:
        """squidGuard -C all: build the .db files from the text lists (a .diff is not applied)."""
        out = self._run(["-C", "all", "-c", str(conf)])
        assert out.returncode == 0, f"squidGuard -C all failed: {out.stderr[-2000:]}"

    def update(self, conf: Path) -> None:
        """squidGuard -u: apply the .diff files to the .db files."""
        out = self._run(["-u", "-c", str(conf)])
        assert out.returncode == 0, f"squidGuard -u failed: {out.stderr[-2000:]}"

    def ask(self, conf: Path, lines: list[str], when: dt.datetime | None = None) -> list[Answer]:
        args = ["-d", "-c", str(conf)]
        if when is not None:
            args = ["-t", when.strftime("%Y-%m-%dT%H:%M:%S")] + args
        out = self._run(args, "".join(line + "\n" for line in lines))
        answers = out.stdout.splitlines()
        if "emergency mode" in out.stderr:
            raise AssertionError(f"squidGuard went into emergency mode:\n{out.stderr[-3000:]}")
        assert len(answers) == len(lines), (
            f"{len(lines)} requests but {len(answers)} answers:\n{out.stdout[-2000:]}\n{out.stderr[-2000:]}"
        )
        return [parse_answer(a) for a in answers]


def request_line(url: str, client_ip: str, user: str | None, method: str) -> str:
    """squid's url_rewrite line for squidGuard: URL ip/fqdn user method (fqdn unknown: -)."""
    return f"{url} {client_ip}/- {user or '-'} {method}"

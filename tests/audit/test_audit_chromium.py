"""The audit's HTML in a real browser: Debian's headless Chromium loads the file:// page offline
(no network namespace where possible, every host unresolvable otherwise) and dumps its DOM
once; the table is read back from what the browser built."""

from __future__ import annotations

import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

from tests.audit.samples import ACCESS_LOG, POLICY, write_config
from tests.conftest import no_network_prefix, skip_or_fail
from tests.traffic.test_render import CHROMIUM_OFFLINE


class _Rows(HTMLParser):
    """The rows of <table id=audit> as [cell text...] and their data-status."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[tuple[str, list[str]]] = []
        self._in_table = False
        self._cell: list[str] | None = None
        self._status = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "table":
            self._in_table = a.get("id") == "audit"
        elif self._in_table and tag == "tr" and "data-status" in a:
            self._status = a["data-status"] or ""
            self.rows.append((self._status, []))
        elif self._in_table and tag == "td" and self.rows:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self._cell is not None and self.rows:
            self.rows[-1][1].append("".join(self._cell).strip())
            self._cell = None
        elif tag == "table":
            self._in_table = False

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def test_audit_html_in_chromium(tmp_path: Path) -> None:
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    if not shutil.which(chromium):
        skip_or_fail("Debian chromium not installed")
    cfg = write_config(tmp_path)
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    log = tmp_path / "access.log"
    log.write_text(ACCESS_LOG)
    page = tmp_path / "audit.html"
    made = subprocess.run(
        [
            sys.executable,
            "-m",
            "policy_lint",
            "audit",
            str(cfg),
            str(log),
            "--policy",
            str(policy),
            "-o",
            str(page),
        ],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert made.returncode == 1 and page.exists(), made.stderr
    cmd = [
        *no_network_prefix(),
        chromium,
        *CHROMIUM_OFFLINE,
        f"--user-data-dir={tmp_path / 'profile'}",
        "--dump-dom",
        page.as_uri(),
    ]
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    parser = _Rows()
    parser.feed(run.stdout)
    assert parser.rows, run.stderr[-2000:]
    by_key = {(cells[0], cells[1]): (status, cells) for status, cells in parser.rows}
    status, cells = by_key[("guests", "facebook")]
    assert status == "config-blocks-traffic-passes"
    assert cells[2] == "config-blocks-traffic-passes"
    assert cells[3].startswith("blocked (") and "squid.conf:5" in cells[3]
    assert cells[4].startswith("compliant (1 requests")
    assert by_key[("staff", "linkedin")][0] == "traffic-blocked-config-allows"
    assert by_key[("staff", "facebook")][0] == "agree"
    assert by_key[("guests", "twitter")][0] == "unknown"
    assert '<p id="summary"><b>1 config-blocks-traffic-passes' in run.stdout

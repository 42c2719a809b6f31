"""Windows scripts writing the hosts file (batch and PowerShell): read, never run."""

from __future__ import annotations

from pathlib import Path

from policy_lint.dialects.dns import windows_hosts
from tests.conftest import verdicts

HOSTS = r"%WINDIR%\System32\drivers\etc\hosts"


def codes(report) -> list[str]:
    return [f.code for f in report.findings]


def test_echo_append_lines_are_hosts_lines(lint):
    report = lint(
        {
            "block.bat": f"""
        @echo off
        echo 0.0.0.0 facebook.com >> {HOSTS}
        echo 0.0.0.0 www.facebook.com>>"{HOSTS}"
        >>{HOSTS} echo 0.0.0.0 m.facebook.com
        rem echo 0.0.0.0 twitter.com >> {HOSTS}
        echo 0.0.0.0 x.com > nul
    """
        }
    )
    v = verdicts(report)
    assert v["facebook"] == "blocked"
    assert v["twitter"] == "unaffected"
    f = next(f for f in report.findings if f.code == "TE101")
    assert f.span.path.endswith("block.bat") and "sinkhole 0.0.0.0" in f.message


def test_find_guard_matches_substrings(lint):
    # FIND "facebook.com" finds the line written for www.facebook.com: facebook.com is skipped.
    report = lint(
        {
            "block.bat": f"""
        FIND /C /I "www.facebook.com" {HOSTS}
        IF %ERRORLEVEL% NEQ 0 ECHO 127.0.0.1 www.facebook.com>>{HOSTS}
        FIND /C /I "facebook.com" {HOSTS}
        IF %ERRORLEVEL% NEQ 0 ECHO 127.0.0.1 facebook.com>>{HOSTS}
        FIND /C /I "m.facebook.com" {HOSTS}
        IF %ERRORLEVEL% NEQ 0 ECHO 127.0.0.1 m.facebook.com>>{HOSTS}
    """
        }
    )
    assert verdicts(report)["facebook"] == "blocked-partial"


def test_find_or_echo(lint):
    report = lint(
        {
            "block.cmd": f"""
        find /i "linkedin.com" {HOSTS} >nul || echo 0.0.0.0 linkedin.com>>{HOSTS}
        findstr /c:"www.linkedin.com" {HOSTS} >nul 2>&1 || echo 0.0.0.0 www.linkedin.com>>{HOSTS}
    """
        }
    )
    # find "linkedin.com" on the default hosts file finds nothing, so both are written
    assert verdicts(report)["linkedin"] == "blocked"


def test_set_variable_and_for_loop(lint):
    report = lint(
        {
            "block.bat": f"""
        set HOSTS={HOSTS}
        for %%d in (twitter.com www.twitter.com x.com mobile.twitter.com) do echo 0.0.0.0 %%d>>%HOSTS%
    """
        }
    )
    assert verdicts(report)["twitter"] == "blocked"


def test_parenthesised_block_redirected_once(lint):
    report = lint(
        {
            "block.bat": f"""
        (
          echo 0.0.0.0 linkedin.com
          echo 0.0.0.0 www.linkedin.com
        ) >> {HOSTS}
    """
        }
    )
    assert verdicts(report)["linkedin"] == "blocked"


def test_copy_a_hosts_file_from_the_repository(lint):
    report = lint(
        {
            "install.bat": r"copy /y blocklist.txt %SystemRoot%\System32\drivers\etc\hosts",
            "blocklist.txt": "0.0.0.0 linkedin.com\n0.0.0.0 www.linkedin.com\n",
        }
    )
    assert verdicts(report)["linkedin"] == "blocked"


def test_copy_from_a_file_that_is_not_here_is_unknown(lint):
    report = lint({"restore.bat": r"copy /y C:\backup\hosts.bak %WINDIR%\System32\drivers\etc\hosts"})
    assert set(verdicts(report).values()) == {"unknown"}


def test_powershell_add_content_and_foreach(lint):
    report = lint(
        {
            "block.ps1": r"""
        $hosts = "$env:windir\System32\drivers\etc\hosts"
        $domains = @("facebook.com", "www.facebook.com", 'm.facebook.com')
        foreach ($d in $domains) {
            Add-Content -Path $hosts -Value "0.0.0.0 $d"
        }
        "0.0.0.0 linkedin.com" | Out-File -FilePath $hosts -Append -Encoding ascii
        # Add-Content $hosts "0.0.0.0 twitter.com"
    """
        }
    )
    v = verdicts(report)
    assert v["facebook"] == "blocked"
    assert v["linkedin"] == "blocked-partial"
    assert v["twitter"] == "unaffected"


def test_powershell_computed_lines_are_unknown(lint):
    report = lint(
        {
            "block.ps1": r"""
        $hosts = "C:\Windows\System32\drivers\etc\hosts"
        $list = (Invoke-WebRequest https://example.invalid/list.txt).Content
        Add-Content -Path $hosts -Value $list
    """
        }
    )
    assert "TE907" in codes(report)
    assert set(verdicts(report).values()) == {"unknown"}


def test_detection_needs_the_hosts_path():
    assert (
        windows_hosts.detect(Path("a.bat"), r"echo 0.0.0.0 x >> C:\Windows\System32\drivers\etc\hosts") >= 0.5
    )
    assert windows_hosts.detect(Path("a.bat"), "netsh advfirewall firewall add rule name=x") == 0.0
    assert windows_hosts.detect(Path("a.txt"), r"C:\Windows\System32\drivers\etc\hosts") == 0.0

"""Windows Defender Firewall rules from netsh (batch) and PowerShell scripts: read, never run."""

from __future__ import annotations

from pathlib import Path

from policy_lint.dialects.firewalls import windows_firewall
from tests.conftest import detected_dialect, verdicts

ALL_V4_V6 = "0.0.0.0-255.255.255.255,::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"


def codes(report) -> list[str]:
    return [f.code for f in report.findings]


def test_outbound_block_of_one_prefix_is_partial(lint):
    report = lint(
        {
            "fw.bat": """
        @echo off
        netsh advfirewall firewall add rule name="Block FB" dir=out action=block remoteip=31.13.24.0/21
    """
        }
    )
    assert verdicts(report)["facebook"] == "blocked-partial"
    f = next(f for f in report.findings if f.code == "TE102")
    assert f.span.line == 3


def test_inbound_and_disabled_rules_do_not_block(lint):
    report = lint(
        {
            "fw.bat": """
        netsh advfirewall firewall add rule name="FB in" dir=in action=block remoteip=31.13.24.0/21
        netsh advfirewall firewall add rule name="FB off" dir=out action=block remoteip=31.13.24.0/21 enable=no
        netsh advfirewall firewall add rule name="FB udp" dir=out action=block protocol=UDP remoteip=31.13.24.0/21
    """
        }
    )
    assert verdicts(report)["facebook"] == "unaffected"


def test_delete_rule_undoes_it(lint):
    report = lint(
        {
            "fw.cmd": """
        netsh advfirewall firewall add rule name="Block FB" dir=out action=block remoteip=31.13.24.0/21
        netsh advfirewall firewall delete rule name="Block FB"
    """
        }
    )
    assert verdicts(report)["facebook"] == "unaffected"


def test_block_wins_over_allow(lint):
    report = lint(
        {
            "fw.bat": """
        netsh advfirewall firewall add rule name="allow web" dir=out action=allow remoteip=any
        netsh advfirewall firewall add rule name="Block FB" dir=out action=block remoteip=31.13.24.0/21
    """
        }
    )
    assert verdicts(report)["facebook"] == "blocked-partial"


def test_default_outbound_block_denies_everything(lint):
    report = lint({"fw.bat": "netsh advfirewall set allprofiles firewallpolicy blockinbound,blockoutbound\n"})
    assert verdicts(report)["facebook"] == "blocked"
    assert "TE105" in codes(report)


def test_menu_branch_that_applies_the_block_counts(lint):
    report = lint(
        {
            "menu.bat": """
        @echo off
        choice /C 12 /N /M "1 block, 2 unblock"
        if errorlevel 2 goto :UNDO
        if errorlevel 1 goto :BLOCK
        :BLOCK
        netsh advfirewall firewall add rule name="FB" dir=out action=block remoteip=31.13.24.0/21
        goto :EOF
        :UNDO
        netsh advfirewall firewall delete rule name="FB"
        goto :EOF
    """
        }
    )
    assert verdicts(report)["facebook"] == "blocked-partial"


def test_goto_skips_a_block(lint):
    report = lint(
        {
            "fw.bat": """
        goto :END
        netsh advfirewall firewall add rule name="FB" dir=out action=block remoteip=31.13.24.0/21
        :END
    """
        }
    )
    assert verdicts(report)["facebook"] == "unaffected"


def test_powershell_full_block_and_remove(lint):
    ps = f"""
        $all = "{ALL_V4_V6}"
        New-NetFirewallRule -DisplayName "Block everything" -Direction Outbound -Action Block `
            -RemoteAddress $all
    """
    assert verdicts(lint({"fw.ps1": ps}))["facebook"] == "blocked"
    ps2 = """
        $fb = @("31.13.24.0/21", "31.13.64.0/18")
        New-NetFirewallRule -DisplayName "Block FB" -Direction Outbound -Action Block -RemoteAddress $fb
        New-NetFirewallRule -DisplayName "Block X" -Direction Outbound -Action Block -RemoteAddress 104.244.42.0/24 -Enabled False
    """
    v = verdicts(lint({"fw.ps1": ps2}))
    assert v["facebook"] == "blocked-partial" and v["twitter"] == "unaffected"
    v = verdicts(lint({"fw.ps1": ps2 + 'Remove-NetFirewallRule -DisplayName "Block FB"\n'}))
    assert v["facebook"] == "unaffected"


def test_powershell_default_outbound_block(lint):
    report = lint(
        {"fw.ps1": "Set-NetFirewallProfile -Profile Domain,Public,Private -DefaultOutboundAction Block\n"}
    )
    assert "TE105" in codes(report)


def test_powershell_dynamic_addresses_are_unknown(lint):
    report = lint(
        {
            "fw.ps1": """
        $ips = (Invoke-WebRequest https://example.org/fb.txt).Content
        New-NetFirewallRule -DisplayName "FB" -Direction Outbound -Action Block -RemoteAddress $ips
    """
        }
    )
    assert verdicts(report)["facebook"] == "unknown"


def test_bad_address_is_a_config_error(lint):
    report = lint(
        {
            "fw.bat": 'netsh advfirewall firewall add rule name="x" dir=out action=block remoteip=31.13.24.0/33\n'
        }
    )
    assert "TE901" in codes(report)


def test_detection_does_not_steal_hosts_scripts():
    hosts = r"echo 0.0.0.0 facebook.com >> %WINDIR%\System32\drivers\etc\hosts" + "\n"
    fw = 'netsh advfirewall firewall add rule name="x" dir=out action=block remoteip=1.2.3.4\n'
    assert detected_dialect(Path("a.bat"), hosts) == "windows-batch"
    assert detected_dialect(Path("a.bat"), fw) == "windows-firewall"
    assert windows_firewall.detect(Path("a.bat"), hosts * 3 + fw) < 0.9


def test_batch_for_loop_and_powershell_foreach(lint):
    bat = """
        for %%i in (31.13.24.0/21 31.13.64.0/18) do netsh advfirewall firewall add rule name="FB %%i" dir=out action=block remoteip=%%i
    """
    assert verdicts(lint({"fw.bat": bat}))["facebook"] == "blocked-partial"
    ps = """
        $nets = "31.13.24.0/21", "31.13.64.0/18"
        foreach ($n in $nets) {
            New-NetFirewallRule -DisplayName "FB $n" -Direction Outbound -Action Block -RemoteAddress $n
        }
        "104.244.42.0/24" | ForEach-Object { New-NetFirewallRule -DisplayName "X" -Direction Outbound -Action Block -RemoteAddress $_ }
    """
    v = verdicts(lint({"fw.ps1": ps}))
    assert v["facebook"] == "blocked-partial" and v["twitter"] == "blocked-partial"


def test_override_block_rules_allow_wins(lint):
    report = lint(
        {
            "fw.ps1": """
        New-NetFirewallRule -DisplayName "Block FB" -Direction Outbound -Action Block -RemoteAddress 31.13.24.0/21
        New-NetFirewallRule -DisplayName "FB ok" -Direction Outbound -Action Allow -RemoteAddress 31.13.24.0/21 -OverrideBlockRules $true
    """
        }
    )
    assert verdicts(report)["facebook"] == "allowed"  # the allow rule names Facebook's prefix


def test_batch_variables_computed_at_run_time_are_unknown(lint):
    report = lint(
        {
            "fw.cmd": """
        setlocal EnableDelayedExpansion
        for /f "tokens=*" %%I in ('type list.txt') do set "AllBlockIP=!AllBlockIP!%%I,"
        Netsh Advfirewall Firewall add rule name="Block list" dir=out action=block remoteip="!AllBlockIP:~0,-1!"
    """
        }
    )
    assert verdicts(report)["facebook"] == "unknown"
    assert any(f.code == "TE907" and f.span.line == 4 for f in report.findings)
    assert "TE901" not in codes(report)


def test_set_variable_expands(lint):
    report = lint(
        {
            "fw.bat": """
        set FB=31.13.24.0/21,31.13.64.0/18
        netsh advfirewall firewall add rule name="FB" dir=out action=block remoteip=%FB% protocol=TCP remoteport=443
    """
        }
    )
    # Only HTTPS is stopped: plain HTTP still reaches those prefixes, but browsers use HTTPS.
    assert verdicts(report)["facebook"] == "blocked-partial"


def test_powershell_switches_and_ports(lint):
    off = 'New-NetFirewallRule -DisplayName "FB" -Direction Outbound -Action Block -RemoteAddress 31.13.24.0/21 -Enabled:$false\n'
    assert verdicts(lint({"fw.ps1": off}))["facebook"] == "unaffected"
    udp = 'New-NetFirewallRule -DisplayName "FB" -Direction Outbound -Action Block -Protocol UDP -RemotePort 443 -RemoteAddress 31.13.24.0/21\n'
    assert verdicts(lint({"fw.ps1": udp}))["facebook"] == "unaffected"  # QUIC only: browsers fall back to TCP
    tcp = udp.replace("UDP", "TCP")
    assert verdicts(lint({"fw.ps1": tcp}))["facebook"] == "blocked-partial"


def test_port_without_protocol_is_refused(lint):
    report = lint(
        {"fw.bat": 'netsh advfirewall firewall add rule name="x" dir=out action=block remoteport=443\n'}
    )
    assert "TE901" in codes(report)


# --- issue #13: conditions the linter does not evaluate


def test_each_unmodelled_condition_yields_unknown_from_its_rule(lint):
    for cond in ("localip=10.0.0.5", "interfacetype=wireless", "localport=50000-50100"):
        report = lint(
            {
                "fw.bat": "netsh advfirewall firewall add rule name=fb dir=out action=block "
                f"protocol=TCP remoteip=157.240.0.0/16 {cond}\n"
            }
        )
        assert verdicts(report)["facebook"] == "unknown", cond
        assert any(f.code == "TE106" and f.span.line == 1 for f in report.findings), cond
    report = lint(
        {
            "fw.ps1": "New-NetFirewallRule -DisplayName fb -Direction Outbound -Action Block "
            "-RemoteAddress 157.240.0.0/16 -LocalUser 'D:(A;;CC;;;S-1-5-21-1)'\n"
        }
    )
    assert verdicts(report)["facebook"] == "unknown"


def test_a_service_rule_never_matches_a_browser(lint):
    report = lint(
        {
            "fw.bat": "netsh advfirewall firewall add rule name=fb dir=out action=block "
            "remoteip=157.240.0.0/16 service=wuauserv\n"
        }
    )
    assert verdicts(report)["facebook"] == "unaffected"


def test_an_allow_with_an_unknown_condition_under_default_block_is_unknown(lint):
    report = lint(
        {
            "fw.bat": "netsh advfirewall set allprofiles firewallpolicy blockinbound,blockoutbound\n"
            "netsh advfirewall firewall add rule name=web dir=out action=allow protocol=TCP "
            "remoteport=80,443 interfacetype=lan\n"
        }
    )
    assert set(verdicts(report).values()) == {"unknown"}
    assert "TE105" not in [f.code for f in report.findings]

"""`policy-lint live`: mitmproxy's own dump master with the compliance addon in-process.

    policy-lint live --report /var/lib/te/report.html --interval 30 [--policy P.yaml] \
        -- --mode upstream:http://proxy.corp:3128 -p 8080

is `mitmdump -s addons/te_compliance.py --set te_report=... [mitmdump options]`, except that the
addon (policy_lint.traffic.addon.TeCompliance) is added to the master directly: no script
loader (which imports the file under a generated name, watches it for changes every second and
adds a level to every hook dispatch), and policy-lint's own options instead of `--set te_*`.
Everything after the policy-lint options (or after `--`) is mitmdump's command line, parsed by
mitmdump's own parser (`--mode`, `-p`, `--listen-host`, `--set NAME=VALUE`, `-q`, ...), so
mitmproxy's behaviour, defaults and `confdir` are exactly mitmdump's.

Exit codes, as `policy-lint traffic` once the proxy stops (SIGINT/SIGTERM): 0 when no service
the policy requires was seen blocked or degraded, 1 when one was, 2 when mitmproxy refused to
start (bad option, port in use: mitmproxy prints why) or is not installed. The report is written
on shutdown as with the script.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

EXIT_CLEAN, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2


@click.command(
    "live",
    context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False},
)
@click.option(
    "--report",
    "report_path",
    type=click.Path(path_type=Path),
    help="Write the compliance report here, atomically (.json/.md/.html picks the format; any "
    "other path gets all three). Default: log lines only.",
)
@click.option(
    "--interval",
    type=click.IntRange(min=0),
    default=30,
    show_default=True,
    help="Seconds between report rewrites while traffic flows (0: only on shutdown).",
)
@click.option(
    "--policy",
    "policy_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Policy file (audiences, extra domains); default: built-in strict policy.",
)
@click.option("--no-pseudonymise", is_flag=True, help="Show client addresses as seen (auditor opt-in).")
@click.argument("mitmdump_args", nargs=-1, type=click.UNPROCESSED)
def live(
    report_path: Path | None,
    interval: int,
    policy_path: Path | None,
    no_pseudonymise: bool,
    mitmdump_args: tuple[str, ...],
) -> None:
    """Audit live traffic: run mitmproxy (mitmdump) with the compliance addon in-process.

    Arguments after the options go to mitmdump, e.g. `-- --mode upstream:http://proxy:3128`.
    """
    try:
        from mitmproxy.tools import cmdline, main
        from mitmproxy.tools.dump import DumpMaster

        from policy_lint.traffic.addon import TeCompliance
    except ImportError as exc:
        click.echo(
            f"policy-lint: error: mitmproxy is not installed ({exc}): pip install 'policy-lint[traffic]'",
            err=True,
        )
        sys.exit(EXIT_ERROR)

    addon = TeCompliance()

    class LiveMaster(DumpMaster):
        """mitmdump's master plus the addon, added before mitmdump's arguments are parsed so that
        the te_* options exist when `--set` and confdir/config.yaml are applied."""

        def __init__(self, options: Any, *args: Any, **kwargs: Any) -> None:
            super().__init__(options, *args, **kwargs)
            self.addons.add(addon)

    args = list(mitmdump_args)
    if args[:1] == ["--"]:
        args = args[1:]
    if report_path is not None:
        args += ["--set", f"te_report={report_path}"]
    args += ["--set", f"te_report_interval={interval}"]
    if policy_path is not None:
        args += ["--set", f"te_policy={policy_path}"]
    if no_pseudonymise:
        args += ["--set", "te_client_addresses=true"]

    try:
        # What mitmdump's entry point does (mitmproxy.tools.main.mitmdump), with our master.
        main.run(LiveMaster, cmdline.mitmdump, args, _filter_args)
    except SystemExit as exc:
        # mitmproxy exits 1 on an option it refuses (it has printed why): a usage error here.
        if exc.code not in (None, 0):
            sys.exit(EXIT_ERROR)
        raise
    except OSError as exc:  # e.g. the listen port is taken
        click.echo(f"policy-lint: error: mitmproxy could not start: {exc}", err=True)
        sys.exit(EXIT_ERROR)

    from policy_lint.traffic.compliance import failing_services

    report = addon.report
    if report is None:
        sys.exit(EXIT_CLEAN)
    failing = failing_services(report.to_dict(), report.policy)
    if failing:
        click.echo(f"policy-lint: blocked or degraded: {', '.join(failing)}", err=True)
    sys.exit(EXIT_FINDINGS if failing else EXIT_CLEAN)


def _filter_args(args: Any) -> dict:
    """mitmdump's own handling of a trailing filter expression (mitmproxy.tools.main.mitmdump)."""
    if getattr(args, "filter_args", None):
        v = " ".join(args.filter_args)
        return {"save_stream_filter": v, "readfile_filter": v, "dumper_filter": v}
    return {}

"""The `audit` command.

Exit codes (the project's): 0 when the two sides agree (unknowns are listed on stderr: they
prove nothing either way) and the static check has no error/warning finding; 1 on a
disagreement or such a finding; 2 on usage or input errors (unreadable config dir or log,
bad policy, a config nothing could be read of).

The logs are read by the Python path of `policy-lint traffic` (every format it reads, plain,
.gz or .zst; a directory file by file); --engine is not offered here.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

EXIT_CLEAN, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2
SUFFIX_FORMATS = {".json": "json", ".md": "md", ".html": "html", ".htm": "html"}


@click.command("audit")
@click.argument("config_dir", type=click.Path(path_type=Path))
@click.argument("logs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--policy",
    "policy_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Policy YAML (audiences by networks/users/groups, exceptions); default: the settings' or strict.",
)
@click.option(
    "--root",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where absolute paths inside configs resolve (as for check).",
)
@click.option(
    "--format", "fmt", type=click.Choice(["md", "json", "html"]), help="Default: md, or -o's suffix."
)
@click.option(
    "-o", "--output-file", type=click.Path(dir_okay=False, path_type=Path), help="Write the report here."
)
@click.option("--by-user", is_flag=True, help="Also compare per user, where the logs name users.")
@click.option(
    "--no-pseudonymise", is_flag=True, help="Show client addresses and users as seen (auditor opt-in)."
)
@click.option(
    "--pseudonym-key-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Key for the pseudonyms (keyed hash), kept by the auditor. Default: a random key per run.",
)
def audit(
    config_dir: Path,
    logs: tuple[Path, ...],
    policy_path: Path | None,
    root: Path | None,
    fmt: str | None,
    output_file: Path | None,
    by_user: bool,
    no_pseudonymise: bool,
    pseudonym_key_file: Path | None,
) -> None:
    """Static verdicts of CONFIG_DIR next to what the LOGS show, per service and audience."""
    import os

    from policy_lint import config
    from policy_lint.audit.observe import TrafficSide
    from policy_lint.audit.report import build, disagreements, render
    from policy_lint.audit.static import static_side
    from policy_lint.inputs import InputError
    from policy_lint.policy import catalog_and_policy
    from policy_lint.traffic.command import expand_inputs, fail, read_key
    from policy_lint.traffic.render import write_text_atomic
    from policy_lint.traffic.sources import SourceError

    if not config_dir.is_dir():
        fail(f"{config_dir}: not a directory (audit takes the config directory first)")
    paths = expand_inputs(logs)
    for path in paths:
        if not path.is_file():
            fail(f"{path}: no such file")
    if not paths:
        fail("no log files given")
    key = read_key(pseudonym_key_file) if pseudonym_key_file else os.urandom(32)
    try:
        settings = config.discover(config_dir)
        catalog, policy = catalog_and_policy(policy_path or settings.policy)
        static = static_side(config_dir, catalog, policy, root)
    except InputError as exc:
        fail(str(exc))
    side = TrafficSide(catalog, static.audiences, static.network_view, not no_pseudonymise, key, by_user)
    try:
        side.read(paths)
    except SourceError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"cannot read: {exc.strerror or exc}")
    report = build(str(config_dir), [str(p) for p in paths], static, side, catalog, policy)
    chosen = fmt or (SUFFIX_FORMATS.get(output_file.suffix.lower(), "md") if output_file else "md")
    text = render(report, chosen)
    if output_file is None:
        click.echo(text, nl=False)
    else:
        try:
            write_text_atomic(output_file, text)
        except OSError as exc:
            fail(f"{output_file}: cannot write: {exc.strerror or exc}")
    if report["traffic"]["skipped"]:
        click.echo(
            f"policy-lint: warning: skipped {report['traffic']['skipped']} unreadable log records", err=True
        )
    if report["summary"]["unknown"]:
        click.echo(
            f"policy-lint: warning: {report['summary']['unknown']} audience/service pairs unknown on one side",
            err=True,
        )
    failing = disagreements(report)
    for r in failing[:20]:
        click.echo(f"policy-lint: {r['status']}: {r['service']} for {r['audience']}: {r['why']}", err=True)
    sys.exit(EXIT_FINDINGS if failing or static.findings else EXIT_CLEAN)

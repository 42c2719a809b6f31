"""The command line: thin click commands over the engine.

Exit status: 0 clean, 1 findings (error or warning severity), 2 usage, policy or input errors.
"""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from policy_lint import __version__
from policy_lint.inputs import InputError

EXIT_CLEAN, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2


def _diagnostics(verbose: bool) -> Any:
    """A structlog logger on stderr with -v, else None: structlog is imported only when
    diagnostics are asked for, because importing it costs more than linting a small config."""
    if not verbose:
        return None
    import logging

    import structlog

    return structlog.wrap_logger(
        structlog.PrintLogger(file=sys.stderr),
        wrapper_class=structlog.make_filtering_bound_logger(logging.DEBUG),
        processors=[structlog.processors.add_log_level, structlog.processors.KeyValueRenderer()],
    )


def _fail(message: str) -> None:
    click.echo(f"policy-lint: error: {message}", err=True)
    sys.exit(EXIT_ERROR)


def _load(policy_path: Path | None):
    from policy_lint.policy import catalog_and_policy

    return catalog_and_policy(policy_path)


class _LazyGroup(click.Group):
    """A group whose commands defined in other modules are imported only when one of them is
    run, or when help or shell completion lists them: `check` on one file imports none of
    traffic, probe, live or audit (issue #20, cold start)."""

    def __init__(self, *args: Any, lazy: dict[str, str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = lazy  # command name -> "module:attribute"

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in self.lazy:
            from importlib import import_module

            module, _sep, attribute = self.lazy[cmd_name].partition(":")
            self.add_command(getattr(import_module(module), attribute), cmd_name)
        return self.commands.get(cmd_name)


# The commands in their own modules (each imports its heavy work only when run, too).
LAZY_COMMANDS = {
    "audit": "policy_lint.audit.command:audit",
    "live": "policy_lint.traffic.live:live",
    "probe": "policy_lint.traffic.probe:probe",
    "traffic": "policy_lint.traffic.command:traffic",
}


@click.group(cls=_LazyGroup, lazy=LAZY_COMMANDS, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="policy-lint")
@click.option("-v", "--verbose", is_flag=True, help="Diagnostics on stderr.")
@click.pass_context
def cli(ctx: click.Context, verbose: bool) -> None:
    """Does this network block the social platforms our people use?"""
    ctx.obj = _diagnostics(verbose)


_path_arg = click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
_root_opt = click.option(
    "--root",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where absolute paths inside configs resolve (default: the git work tree, else .).",
)
_policy_opt = click.option(
    "--policy",
    "policy_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Policy YAML (default: the strict Technology Enablement policy).",
)
_dialect_opt = click.option(
    "--dialect",
    type=str,
    help="Skip detection: parse every file as this dialect (listed at the end of --help).",
)


class _ListsDialects(click.Command):
    """`check --help` (and explain's) ends with the dialects --dialect accepts, read from the registry when help
    is printed (the registry names them without importing a dialect module)."""

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        from policy_lint.dialects import DIALECTS

        super().format_epilog(ctx, formatter)
        formatter.write_paragraph()
        formatter.write_text("Dialects (--dialect NAME; detected from file name and content when not given):")
        with formatter.indentation():
            formatter.write_text(", ".join(DIALECTS))


def _check_dialect(dialect: str | None) -> None:
    from policy_lint.dialects import DIALECTS

    if dialect and dialect not in DIALECTS:
        _fail(f"unknown dialect {dialect!r} (known: {', '.join(sorted(DIALECTS))})")


FORMATS = ["text", "json", "sarif", "junit", "github"]
PROGRESS_MIN_FILES = 10


def _codes_option(name: str, help_text: str):
    return click.option(
        name,
        multiple=True,
        metavar="CODES",
        help=help_text,
        callback=lambda _c, _p, v: tuple(
            x.strip().upper() for item in v for x in item.split(",") if x.strip()
        ),
    )


def use_color(choice: str, stream) -> bool:
    import os

    if choice == "always":
        return True
    if choice == "never" or "NO_COLOR" in os.environ:
        return False
    return stream.isatty()


def _render(fmt: str, report, no_trace: bool, quiet: bool, statistics: bool, color: bool) -> str:
    if fmt == "text":
        from policy_lint.report import text

        return text.render(
            report, with_trace=not (no_trace or quiet), summary=not quiet, color=color, statistics=statistics
        )
    from importlib import import_module

    return import_module(f"policy_lint.report.{fmt}").render(report)


def _extra_vars(values: tuple[str, ...]) -> dict[str, Any]:
    """`--extra-vars` as ansible-playbook reads `-e`: a YAML/JSON mapping, or KEY=VALUE words.
    PyYAML is imported only for a mapping, shlex only for words: a lint without them stays light."""
    out: dict[str, Any] = {}
    for value in values:
        text = value.strip()
        if text.startswith("@"):
            raise InputError(f"--extra-vars {value!r}: variables from a file are not read")
        if text.startswith("{"):
            import yaml

            try:
                data = yaml.safe_load(text)
            except yaml.YAMLError:
                data = None
            if not isinstance(data, dict):
                raise InputError(f"--extra-vars {value!r}: not a mapping")
            out.update({str(k): v for k, v in data.items()})
            continue
        import shlex

        try:
            words = shlex.split(text)
        except ValueError as exc:
            raise InputError(f"--extra-vars {value!r}: {exc}") from None
        for word in words:
            key, eq, val = word.partition("=")
            if not eq or not key.isidentifier():
                raise InputError(f"--extra-vars {value!r}: expected KEY=VALUE")
            out[key] = val
    return out


def _progress(files: list):
    with click.progressbar(files, label="policy-lint", file=sys.stderr) as bar:
        yield from bar


@cli.command(cls=_ListsDialects)
@_path_arg
@_dialect_opt
@_root_opt
@_policy_opt
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    help="Output format [default: text; github when GITHUB_ACTIONS=true].",
)
@click.option("--output-file", type=click.Path(dir_okay=False, path_type=Path), help="Write the report here.")
@click.option(
    "--color",
    type=click.Choice(["auto", "always", "never"]),
    default="auto",
    show_default=True,
    help="Colour in text output (auto: on a terminal, unless NO_COLOR is set).",
)
@click.option("--no-trace", is_flag=True, help="Text output without the trace under each finding.")
@click.option("-q", "--quiet", is_flag=True, help="Only the findings: no trace, verdicts or summary.")
@click.option("--statistics", is_flag=True, help="Count findings per code.")
@click.option(
    "--exit-zero", is_flag=True, default=None, help="Exit 0 even with findings (errors still exit 2)."
)
@_codes_option("--select", "Report only codes with these prefixes (comma-separated; replaces the config's).")
@_codes_option("--extend-select", "Also report codes with these prefixes.")
@_codes_option("--ignore", "Do not report codes with these prefixes.")
@click.option(
    "--skip-undetected",
    is_flag=True,
    help="Skip named files whose dialect cannot be told (for hooks that pass every matching file).",
)
@click.option(
    "--baseline",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Report only findings not recorded in this baseline file.",
)
@click.option(
    "--write-baseline",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Record the current findings in this baseline file and exit 0.",
)
@click.option(
    "-j",
    "--jobs",
    type=click.IntRange(min=1),
    metavar="N",
    help="Lint files in N worker processes [default: the usable cores]. Only from 16 files to lint "
    "up: below that, starting workers costs more than it saves, and the files are linted in this "
    "process. The output is the same, in the same order, whatever N.",
)
@click.option(
    "-e",
    "--extra-vars",
    "extra_vars",
    multiple=True,
    metavar="KEY=VALUE",
    help="Ansible extra vars templates are rendered with (highest precedence, as ansible-playbook "
    "-e): KEY=VALUE words or a YAML/JSON mapping; repeatable; wins over the settings' "
    "ansible-extra-vars. Never a file (@file is refused).",
)
@click.pass_obj
def check(
    log: Any,
    paths: tuple[Path, ...],
    dialect: str | None,
    root: Path | None,
    policy_path: Path | None,
    fmt: str | None,
    output_file: Path | None,
    color: str,
    no_trace: bool,
    quiet: bool,
    statistics: bool,
    exit_zero: bool | None,
    select: tuple[str, ...],
    extend_select: tuple[str, ...],
    ignore: tuple[str, ...],
    skip_undetected: bool,
    baseline: Path | None,
    write_baseline: Path | None,
    jobs: int | None,
    extra_vars: tuple[str, ...],
) -> None:
    """Lint config files or directories (dialects are detected)."""
    import os
    from dataclasses import replace

    from policy_lint import config
    from policy_lint.engine import Options, lint_paths, usable_cores
    from policy_lint.refine import refine

    flags: dict[str, Any] = {
        k: v
        for k, v in (
            ("select", select or None),
            ("extend_select", extend_select or None),
            ("ignore", ignore or None),
        )
        if v is not None
    }
    cache: dict[Path, config.Settings] = {}
    # The settings directory of each path asked about: refine() asks once per finding, and
    # resolving the same file anew was ~1,100 lstat calls for a squidGuard config (issue #20).
    directories: dict[Path, Path] = {}

    def settings_for(path: Path) -> config.Settings:
        directory = directories.get(path)
        if directory is None:
            directory = directories[path] = path.resolve().parent if not path.is_dir() else path.resolve()
        if directory not in cache:
            found = config.discover(directory)
            cache[directory] = replace(found, **flags)
        return cache[directory]

    try:
        here = settings_for(paths[0])
        dialect = dialect or here.dialect
        _check_dialect(dialect)
        catalog, policy = _load(policy_path or here.policy)
    except InputError as exc:
        _fail(str(exc))
    fmt = fmt or here.format or ("github" if os.environ.get("GITHUB_ACTIONS") == "true" else "text")
    if fmt not in FORMATS:
        _fail(f"{here.source}: unknown format {fmt!r}")
    progress = _progress if sys.stderr.isatty() and not quiet else None
    try:
        extra = {**here.ansible_extra_vars, **_extra_vars(extra_vars)}
    except InputError as exc:
        _fail(str(exc))
    report = lint_paths(
        list(paths),
        catalog,
        policy,
        Options(
            root=root or here.root,
            dialect=dialect,
            log=log,
            progress=progress,
            skip_undetected=skip_undetected,
            jobs=jobs or usable_cores(),
            extra_vars=tuple(extra.items()),
        ),
    )
    try:
        from policy_lint.network import attach

        attach(report, here.source, root or here.root, catalog, policy)
        report = refine(report, settings_for, None if write_baseline else (baseline or here.baseline))
    except InputError as exc:
        _fail(str(exc))
    if write_baseline:
        from policy_lint import baseline as baselines

        n = baselines.write(report.findings, write_baseline)
        click.echo(f"policy-lint: wrote {n} baseline entries to {write_baseline}", err=True)
        sys.exit(EXIT_ERROR if report.errors else EXIT_CLEAN)
    colored = output_file is None and fmt == "text" and use_color(color, sys.stdout)
    text = _render(fmt, report, no_trace, quiet, statistics, color=colored)
    if output_file is None:
        click.echo(text, nl=False, color=colored)
    else:
        tmp = output_file.with_name(output_file.name + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(output_file)
    for err in report.errors:
        click.echo(f"policy-lint: error: {err}", err=True)
    if report.errors:
        sys.exit(EXIT_ERROR)
    serious = [f for f in report.findings if f.severity.value in ("error", "warning")]
    zero = exit_zero if exit_zero is not None else here.exit_zero
    sys.exit(EXIT_FINDINGS if serious and not zero else EXIT_CLEAN)


@cli.command()
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="Where to write the starter files.",
)
def init(directory: Path) -> None:
    """Write a starter .policy-lint.yaml and policy-lint-policy.yaml."""
    from policy_lint.config import STARTER_CONFIG, STARTER_POLICY, YAML_NAME

    targets = {directory / YAML_NAME: STARTER_CONFIG, directory / "policy-lint-policy.yaml": STARTER_POLICY}
    existing = [str(p) for p in targets if p.exists()]
    if existing:
        _fail(f"{', '.join(existing)} already exist(s); not overwriting")
    directory.mkdir(parents=True, exist_ok=True)
    for path, text in targets.items():
        path.write_text(text, encoding="utf-8")
        click.echo(f"wrote {path}")


@cli.command(cls=_ListsDialects)
@click.argument("arguments", nargs=-1, metavar="[REV1 [REV2]] [PATH...]")
@click.option(
    "--staged", is_flag=True, help="Compare REV1 (default HEAD) with the index: what a commit would hold."
)
@_dialect_opt
@_policy_opt
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "sarif", "github", "markdown"]),
    help="Output format [default: text; github when GITHUB_ACTIONS=true].",
)
@click.option("--output-file", type=click.Path(dir_okay=False, path_type=Path), help="Write the report here.")
@click.pass_obj
def diff(
    log: Any,
    arguments: tuple[str, ...],
    staged: bool,
    dialect: str | None,
    policy_path: Path | None,
    fmt: str | None,
    output_file: Path | None,
) -> None:
    """What a change does to the verdicts: REV1 (default HEAD) against REV2, the index
    (--staged) or the working tree. Exit 1 when it introduces a block, degradation or unknown
    the policy does not accept, 0 otherwise, 2 on errors.

    Leading arguments that name commits are revisions (as in git); the rest are paths that
    limit the comparison. Nothing is checked out: both sides are read from git's objects.
    """
    import os

    from policy_lint.diff import review
    from policy_lint.diff.render import render
    from policy_lint.diff.revisions import commit_side, top_level

    _check_dialect(dialect)
    try:
        repo = top_level(Path.cwd())
        revisions: list[str] = []
        paths: list[Path] = []
        for argument in arguments:
            if not paths and len(revisions) < 2 and not Path(argument).exists():
                commit_side(repo, argument)  # an unknown revision is an error, as in git
                revisions.append(argument)
            else:
                paths.append(Path(argument))
        result = review(
            Path.cwd(),
            tuple(revisions),
            staged,
            tuple(paths),
            policy_path and policy_path.resolve(),
            dialect,
            log,
        )
    except InputError as exc:
        _fail(str(exc))
    fmt = fmt or ("github" if os.environ.get("GITHUB_ACTIONS") == "true" else "text")
    text = render(fmt, result)
    if output_file is None:
        click.echo(text, nl=False)
    else:
        tmp = output_file.with_name(output_file.name + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(output_file)
    for error in result.new_errors:
        click.echo(f"policy-lint: error: {error}", err=True)
    if result.new_errors:
        sys.exit(EXIT_ERROR)
    sys.exit(EXIT_FINDINGS if result.fails() else EXIT_CLEAN)


@cli.command(cls=_ListsDialects)
@click.argument("service")
@click.argument("path", type=click.Path(path_type=Path))
@_dialect_opt
@_root_opt
@_policy_opt
@click.option(
    "--segment",
    metavar="NAME",
    help="Walk the network path of this segment (declared in .policy-lint.yaml or inferred).",
)
def explain(
    service: str,
    path: Path,
    dialect: str | None,
    root: Path | None,
    policy_path: Path | None,
    segment: str | None,
) -> None:
    """Show every decision for SERVICE in the config at PATH, with the full trace.

    SERVICE is a service id, name or alias in any case (facebook, "Twitter / X", x). PATH is a
    config file, or a directory whose configs are explained one after the other. With
    --segment, PATH is the repository and the segment's whole path is walked instead.
    """
    from policy_lint.explain import explain_path

    _check_dialect(dialect)
    if not path.exists():
        _fail(f"{path}: no such file or directory")
    try:
        catalog, _policy = _load(policy_path)
        sid = catalog.lookup(service)
        if sid is None:
            known = ", ".join(
                f"{s.id} ({', '.join(dict.fromkeys((s.name, *s.aliases)))})"
                for s in catalog.services.values()
            )
            _fail(f"unknown service {service!r} (known: {known})")
        assert sid is not None  # _fail exits
        if segment is not None:
            from policy_lint.network.explain import explain_segment

            click.echo(explain_segment(sid, path, catalog, _policy, root, dialect, segment), nl=False)
            return
        click.echo(explain_path(sid, path, catalog, root, dialect), nl=False)
    except InputError as exc:
        _fail(str(exc))


@cli.command()
@_policy_opt
@click.option(
    "--addresses",
    "show_addresses",
    is_flag=True,
    help="The address data per service and ASN: prefix counts, source date and age.",
)
def services(policy_path: Path | None, show_addresses: bool) -> None:
    """The service catalog as a table."""
    try:
        catalog, _policy = _load(policy_path)
    except InputError as exc:
        _fail(str(exc))
    if show_addresses:
        _print_table(_address_rows(catalog, dt.date.today()))
        click.echo(
            f"\naddress data version: {catalog.addresses_version or 'none'}. Prefixes are BGP "
            f"snapshots and go stale: verdicts on addresses are only as fresh as this data."
        )
        return
    rows = [("service", "role", "domains / probe hosts", "source")]
    for svc in catalog.services.values():
        for d in svc.domains:
            rows.append((svc.id, d.role, d.domain, f"{d.source} ({d.confidence})"))
        for asn in svc.asns:
            label = f"AS{asn.asn} {asn.name}".strip()
            rows.append(
                (
                    svc.id,
                    "asn",
                    f"{label}: {len(asn.networks)} prefixes",
                    f"{asn.source} ({asn.date or 'undated'}, {asn.confidence})",
                )
            )
    _print_table(rows)
    click.echo(
        f"\ncontrol probe: {catalog.control_host}; address data version: {catalog.addresses_version or 'none'}"
    )


# Address snapshots older than this are flagged: providers renumber and add prefixes monthly.
STALE_AFTER_DAYS = 180


def _address_rows(catalog, today: dt.date) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = [("service", "asn", "ipv4", "ipv6", "date", "age", "source")]
    for svc in catalog.services.values():
        if not svc.asns:
            rows.append((svc.id, "-", "0", "0", "-", "no address data", "-"))
        for asn in svc.asns:
            v4 = sum(1 for n in asn.networks if n.version == 4)
            v6 = len(asn.networks) - v4
            rows.append(
                (
                    svc.id,
                    f"AS{asn.asn}",
                    str(v4),
                    str(v6),
                    asn.date or "undated",
                    _age(asn.date, today),
                    f"{asn.source} ({asn.confidence})",
                )
            )
    return rows


def _age(date_text: str, today: dt.date) -> str:
    """'312 days (stale)' for a YYYY-MM-DD date, the year's start for a bare year."""
    if not date_text:
        return "unknown"
    try:
        parts = [int(x) for x in date_text.split("-")]
        day = dt.date(parts[0], parts[1] if len(parts) > 1 else 1, parts[2] if len(parts) > 2 else 1)
    except (ValueError, IndexError):
        return "unknown"
    days = (today - day).days
    return f"{days} days (stale)" if days > STALE_AFTER_DAYS else f"{days} days"


def _print_table(rows: Sequence[tuple[str, ...]]) -> None:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    for r in rows:
        cells = [
            f"{c:<{w}}" for c, w in zip(r, widths, strict=False)
        ]  # the last cell is not padded + [r[-1]]
        click.echo("  ".join(cells).rstrip())


@cli.command()
@click.argument("code")
def rule(code: str) -> None:
    """Documentation of a finding code (what, why it matters, how to fix)."""
    from policy_lint.rules import CODES, describe

    code = code.upper()
    if code not in CODES:
        _fail(f"unknown code {code!r} (known: {', '.join(CODES)})")
    click.echo(describe(code), nl=False)


def main() -> None:
    try:
        cli(standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.UsageError as exc:
        click.echo(f"policy-lint: usage error: {exc.format_message()}", err=True)
        sys.exit(EXIT_ERROR)
    except click.Abort:
        sys.exit(EXIT_ERROR)

"""The command line: thin click commands over the engine.

Exit status: 0 clean, 1 findings (error or warning severity), 2 usage, policy or input errors.
"""

from __future__ import annotations

import sys
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
    from policy_lint.catalog import load_catalog
    from policy_lint.policy import load_policy, strict_policy

    catalog = load_catalog()
    if policy_path is None:
        return catalog, strict_policy(catalog)
    policy = load_policy(policy_path, catalog)
    catalog = catalog.extended(policy.extra_domains, policy.custom_services)
    return catalog, policy


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="policy-lint")
@click.option("-v", "--verbose", is_flag=True, help="Diagnostics on stderr.")
@click.pass_context
def cli(ctx: click.Context, verbose: bool) -> None:
    """Does this network block the social platforms our people use?"""
    ctx.obj = _diagnostics(verbose)


_path_arg = click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
_root_opt = click.option("--root", type=click.Path(file_okay=False, path_type=Path),
                         help="Where absolute paths inside configs resolve (default: the git work tree, else .).")
_policy_opt = click.option("--policy", "policy_path", type=click.Path(dir_okay=False, path_type=Path),
                           help="Policy YAML (default: the strict Technology Enablement policy).")
_dialect_opt = click.option("--dialect", type=str, help="Skip detection: parse every file as this dialect.")


def _check_dialect(dialect: str | None) -> None:
    from policy_lint.dialects import DIALECTS

    if dialect and dialect not in DIALECTS:
        _fail(f"unknown dialect {dialect!r} (known: {', '.join(sorted(DIALECTS))})")


@cli.command()
@_path_arg
@_dialect_opt
@_root_opt
@_policy_opt
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--no-trace", is_flag=True, help="Text output without the trace under each finding.")
@click.pass_obj
def check(log: Any, paths: tuple[Path, ...], dialect: str | None, root: Path | None, policy_path: Path | None,
          fmt: str, no_trace: bool) -> None:
    """Lint config files or directories (dialects are detected)."""
    from policy_lint.engine import Options, lint_paths

    _check_dialect(dialect)
    try:
        catalog, policy = _load(policy_path)
    except InputError as exc:
        _fail(str(exc))
    report = lint_paths(list(paths), catalog, policy, Options(root=root, dialect=dialect, log=log))
    if fmt == "json":
        from policy_lint.report import json as reporter

        click.echo(reporter.render(report), nl=False)
    else:
        from policy_lint.report import text as reporter

        click.echo(reporter.render(report, with_trace=not no_trace), nl=False)
    for err in report.errors:
        click.echo(f"policy-lint: error: {err}", err=True)
    if report.errors:
        sys.exit(EXIT_ERROR)
    serious = [f for f in report.findings if f.severity.value in ("error", "warning")]
    sys.exit(EXIT_FINDINGS if serious else EXIT_CLEAN)


@cli.command()
@click.argument("service")
@click.argument("path", type=click.Path(path_type=Path))
@_dialect_opt
@_root_opt
@_policy_opt
def explain(service: str, path: Path, dialect: str | None, root: Path | None, policy_path: Path | None) -> None:
    """Show every decision for SERVICE in the config at PATH, with the full trace."""
    from policy_lint.explain import explain_service

    _check_dialect(dialect)
    try:
        catalog, _policy = _load(policy_path)
        if service not in catalog.services:
            _fail(f"unknown service {service!r} (known: {', '.join(sorted(catalog.services))})")
        click.echo(explain_service(service, path, catalog, root, dialect), nl=False)
    except InputError as exc:
        _fail(str(exc))


@cli.command()
@_policy_opt
def services(policy_path: Path | None) -> None:
    """The service catalog as a table."""
    try:
        catalog, _policy = _load(policy_path)
    except InputError as exc:
        _fail(str(exc))
    rows = [("service", "role", "domains / probe hosts", "source")]
    for svc in catalog.services.values():
        for d in svc.domains:
            rows.append((svc.id, d.role, d.domain, f"{d.source} ({d.confidence})"))
        for asn in svc.asns:
            label = f"AS{asn.asn} {asn.name}".strip()
            rows.append((svc.id, "asn", f"{label}: {len(asn.networks)} prefixes",
                         f"{asn.source} ({asn.date or 'undated'}, {asn.confidence})"))
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    for r in rows:
        click.echo(f"{r[0]:<{widths[0]}}  {r[1]:<{widths[1]}}  {r[2]:<{widths[2]}}  {r[3]}".rstrip())
    click.echo(f"\ncontrol probe: {catalog.control_host}; address data version: {catalog.addresses_version or 'none'}")


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

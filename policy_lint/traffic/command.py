"""`policy-lint traffic FILE|DIR...`: offline analysis of flow files, HAR, squid access.log and
the organisation logs of logread (Zscaler, PAN-OS, FortiGate, Umbrella, Pi-hole, AdGuard Home,
Suricata, Zeek; plain, .gz or .zst); a directory is read file by file.

Exit codes: 0 when no service the policy requires is blocked or degraded outside the audiences
its unexpired exceptions accept (inconclusive services: 0 with a warning on
stderr, since a capture that never touched a service proves nothing either way), 1 when a service
is blocked or degraded, 2 on input errors (unreadable file, HAR not JSON, bad policy).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

EXIT_CLEAN, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2
# From this total input size `--engine auto` classifies in DuckDB: below it the Python path,
# which starts at once, is done before DuckDB has loaded (about 90k records/s against DuckDB's
# start-up of a few tenths of a second); above it DuckDB is several times faster.
AUTO_SQL_BYTES = 32 * 1024 * 1024


@click.command("traffic")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--policy",
    "policy_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Policy file (audiences, extra domains); default: built-in strict policy.",
)
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json", "md", "html"]), default="text", show_default=True
)
@click.option(
    "--output-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the report here (atomically) instead of stdout.",
)
@click.option("--no-pseudonymise", is_flag=True, help="Show client addresses as seen (auditor opt-in).")
@click.option(
    "--engine",
    type=click.Choice(["auto", "python", "duckdb", "spark"]),
    default="auto",
    show_default=True,
    help="duckdb: classify and aggregate in SQL (logs only; needs the `scale` extra); spark: the "
    "same SQL on Apache Spark (needs the `spark` extra and Java); auto: duckdb for logs of 32 MiB "
    "and more when it is installed, else python. Same report whichever runs.",
)
@click.option(
    "--master",
    help="With --engine spark: the Spark master URL, passed through (default local[2]).",
)
@click.option(
    "--pseudonym-key-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Key for the client pseudonyms (keyed hash), kept by the auditor: the same client gets "
    "the same pseudonym across runs. Default: a random key per run.",
)
@click.option(
    "--by",
    "period",
    type=click.Choice(["day", "week"]),
    help="Add a trend: each service's verdict per audience per UTC day / ISO week.",
)
@click.option(
    "--by-address/--no-by-address",
    default=True,
    show_default=True,
    help="Attribute firewall records without a host name (PAN-OS TRAFFIC, FortiGate traffic) to "
    "the service whose published prefixes hold their destination address; off: count them as "
    "records without a host name.",
)
@click.option(
    "--by-user",
    is_flag=True,
    help="Also report per user, where the logs name users (squid, Zscaler, PAN-OS, FortiGate, "
    "Umbrella): each user's verdicts under a keyed pseudonym (the client key), the plain name only "
    "with --no-pseudonymise.",
)
def traffic(
    files: tuple[Path, ...],
    policy_path: Path | None,
    fmt: str,
    output_file: Path | None,
    no_pseudonymise: bool,
    engine: str = "auto",
    pseudonym_key_file: Path | None = None,
    period: str | None = None,
    master: str | None = None,
    by_address: bool = True,
    by_user: bool = False,
) -> None:
    """What actually happened on the wire: per-service verdicts from captured traffic."""
    from policy_lint.traffic.byuser import ByUser
    from policy_lint.traffic.classify import Classifier
    from policy_lint.traffic.compliance import ComplianceReport, failing_services
    from policy_lint.traffic.render import SUFFIX_FORMATS, render, write_report_atomic
    from policy_lint.traffic.sources import SkipCounter, SourceError, read_records

    catalog, policy = load_catalog_and_policy(policy_path)
    classifier = Classifier(catalog, by_address=by_address)
    # one key for the client and the user pseudonyms of this run: random unless the auditor keeps one
    key = read_key(pseudonym_key_file) if pseudonym_key_file else os.urandom(32)
    report = ComplianceReport(catalog, policy, pseudonymise=not no_pseudonymise, key=key, period=period)
    users = (
        ByUser(
            ComplianceReport(catalog, None, pseudonymise=not no_pseudonymise, key=key),
            lambda user: report.pseudonym(user, "user-"),
        )
        if by_user
        else None
    )
    paths = expand_inputs(files)
    for path in paths:
        if not path.is_file():
            fail(f"{path}: no such file")
    if master is not None and engine != "spark":
        fail("--master needs --engine spark")
    if engine == "auto":
        engine = choose_engine(paths)
    if engine == "duckdb":
        run_duckdb(paths, classifier, report, users)
    elif engine == "spark":
        run_spark(paths, classifier, report, master, users)
    for path in paths if engine == "python" else ():
        skipped = SkipCounter()
        try:
            for rec in read_records(path, skipped, keep_addressed=by_address):
                obs = classifier.classify(rec)
                if obs is not None:
                    report.add(obs)
                    if users is not None:
                        users.add(obs)
        except SourceError as exc:
            fail(str(exc))
        except OSError as exc:
            fail(f"{path}: cannot read: {exc.strerror or exc}")
        for reason, n in skipped.reasons.items():
            report.note_skipped(n, reason)
    data = report.to_dict()
    if users is not None:  # per user: verdicts only (no exceptions: they are declared per audience)
        data["users"] = users.report.to_dict()["audiences"]
    if output_file is not None:
        # --format wins; with the default text, a .json/.md/.html suffix picks the format
        chosen = fmt if fmt != "text" else SUFFIX_FORMATS.get(output_file.suffix.lower(), "text")
        write_report_atomic(output_file, data, chosen)
    else:
        click.echo(render(data, fmt), nl=False)
    verdicts = {sid: s["verdict"] for sid, s in data["services"].items()}
    if data["skipped"]:
        click.echo(f"policy-lint: warning: skipped {data['skipped']} unreadable records", err=True)
    unsure = [sid for sid, v in verdicts.items() if v == "inconclusive"]
    if unsure:
        click.echo(f"policy-lint: warning: not enough evidence for: {', '.join(unsure)}", err=True)
    failing = failing_services(data, policy)
    accepted = sorted(sid for sid, s in data["services"].items() if s["accepted"] and sid not in failing)
    if accepted:
        click.echo(f"policy-lint: blocks accepted by policy exceptions: {', '.join(accepted)}", err=True)
    sys.exit(EXIT_FINDINGS if failing else EXIT_CLEAN)


def choose_engine(paths: list[Path], threshold: int = AUTO_SQL_BYTES) -> str:
    """`--engine auto`: "duckdb" when the inputs total `threshold` bytes or more, DuckDB is
    installed and every input is a log it reads (flow files and HAR need the response
    fingerprints of the Python engine); "python" otherwise. Both give the same report."""
    import importlib.util

    try:
        total = sum(path.stat().st_size for path in paths)
    except OSError:
        return "python"  # the Python path reports the unreadable file
    if total < threshold or importlib.util.find_spec("duckdb") is None:
        return "python"
    from policy_lint.traffic import duck
    from policy_lint.traffic.sources import SourceError

    try:
        return "duckdb" if all(duck.reads(path) for path in paths) else "python"
    except SourceError:
        return "python"


def read_key(path: Path) -> bytes:
    try:
        key = path.read_bytes().strip()
    except OSError as exc:
        fail(f"{path}: cannot read the pseudonym key: {exc.strerror or exc}")
    if len(key) < 16:
        fail(f"{path}: pseudonym key shorter than 16 bytes")
    return key


def run_duckdb(paths: list[Path], classifier, report, users) -> None:
    from policy_lint.traffic.sources import SourceError

    try:
        import duckdb

        from policy_lint.traffic import duck
    except ImportError:
        fail("--engine duckdb needs the duckdb package: pip install 'policy-lint[scale]'")

    try:
        duck.analyse(paths, classifier, report, users)
    except SourceError as exc:
        fail(str(exc))
    except duckdb.Error as exc:  # out of memory / disk for the spill: one line, exit 2
        fail(f"duckdb: {str(exc).splitlines()[0]}")
    except OSError as exc:
        fail(f"cannot read: {exc.strerror or exc}")


def run_spark(paths: list[Path], classifier, report, master: str | None, users) -> None:
    from policy_lint.traffic.sources import SourceError

    try:
        import pyspark  # noqa: F401

        from policy_lint.traffic import spark
    except ImportError:
        fail("--engine spark needs the pyspark package: pip install 'policy-lint[spark]'")
    try:
        spark.analyse(paths, classifier, report, master=master or spark.DEFAULT_MASTER, by_user=users)
    except SourceError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"cannot read: {exc.strerror or exc}")
    except Exception as exc:  # Spark's own errors (no Java, a master it cannot reach): one line
        fail(f"spark: {(str(exc).strip().splitlines() or [type(exc).__name__])[0]}")


def expand_inputs(paths: tuple[Path, ...]) -> list[Path]:
    """Files as given; a directory -> its regular files, recursively, in name order (a log
    directory may mix formats and compressions: each file is recognised by its content)."""
    out: list[Path] = []
    for path in paths:
        if path.is_dir():
            out.extend(p for p in sorted(path.rglob("*")) if p.is_file() and not p.name.startswith("."))
        else:
            out.append(path)
    return out


def load_catalog_and_policy(policy_path: Path | None):
    from policy_lint.catalog import load_catalog
    from policy_lint.policy import load_policy, strict_policy

    catalog = load_catalog()
    if policy_path is None:
        return catalog, strict_policy(catalog)
    try:
        policy = load_policy(policy_path, catalog)
    except Exception as exc:  # the policy loader's own error types: one line, exit 2
        fail(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
    return catalog.extended(policy.extra_domains, policy.custom_services), policy


def fail(message: str) -> None:
    click.echo(f"policy-lint: error: {message}", err=True)
    sys.exit(EXIT_ERROR)

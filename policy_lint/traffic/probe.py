"""`policy-lint probe [--proxy URL]`: the auditor's quick check, without waiting for users' traffic.

Requests each service's probe URLs (the catalog's probe hosts over HTTPS and plain HTTP, and the
neutral control host) through a proxy or directly, a bounded number in a bounded time, and
classifies the answers with the same Classifier and ComplianceReport as `policy-lint traffic`
(the machinery is in prober.py; this module stays light because cli.py imports it on every run).

Exit codes: 0 when no service the policy requires is blocked or degraded (inconclusive ones: 0
with a warning), 1 when one is, 2 on usage or input errors and when the audit path itself fails
(the proxy unreachable or asking for credentials): a path we cannot use proves nothing, so it is
never reported as "blocked".
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from policy_lint.traffic.command import EXIT_CLEAN, EXIT_FINDINGS, fail, load_catalog_and_policy


@click.command("probe")
@click.option(
    "--proxy",
    "proxy_url",
    metavar="URL",
    help="Send every request through this HTTP proxy, http://[user:password@]host:port "
    "(it resolves the names, not this machine). Without it: directly.",
)
@click.option(
    "--service",
    "services",
    multiple=True,
    metavar="NAME",
    help="Probe only this service (repeatable); default: every service.",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0.1, max=300),
    default=5.0,
    show_default=True,
    help="Seconds per request (connect, CONNECT, TLS and answer together).",
)
@click.option(
    "--deadline",
    type=click.FloatRange(min=0.5, max=3600),
    default=60.0,
    show_default=True,
    help="Seconds for the whole run; requests still open then are left out.",
)
@click.option(
    "--max-requests",
    type=click.IntRange(min=1, max=1000),
    default=100,
    show_default=True,
    help="Send at most this many requests (control and primary hosts first).",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1, max=32),
    default=8,
    show_default=True,
    help="Requests in flight at once.",
)
@click.option(
    "--insecure",
    is_flag=True,
    help="Do not verify TLS certificates (to see a filter's block page inside HTTPS).",
)
@click.option(
    "--ca-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Also trust this CA (PEM), e.g. your TLS-inspection proxy's.",
)
@click.option(
    "--policy",
    "policy_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Policy file (required services, extra domains); default: built-in strict policy.",
)
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json", "md", "html"]), default="text", show_default=True
)
@click.option(
    "--output-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the report here (atomically) instead of stdout.",
)
def probe(
    proxy_url: str | None,
    services: tuple[str, ...],
    timeout: float,
    deadline: float,
    max_requests: int,
    workers: int,
    insecure: bool,
    ca_file: Path | None,
    policy_path: Path | None,
    fmt: str,
    output_file: Path | None,
) -> None:
    """Request each service's probe URLs now and report what the network does to them."""
    import ssl

    from policy_lint.traffic.classify import Classifier
    from policy_lint.traffic.compliance import ComplianceReport, failing_services
    from policy_lint.traffic.prober import (
        AuditPathError,
        Prober,
        ProbeSettings,
        parse_proxy,
        plan_probes,
        selected_catalog,
    )
    from policy_lint.traffic.render import SUFFIX_FORMATS, render, write_report_atomic

    catalog, policy = load_catalog_and_policy(policy_path)
    try:
        catalog = selected_catalog(catalog, services)
        proxy = parse_proxy(proxy_url) if proxy_url is not None else None
    except (KeyError, ValueError) as exc:
        fail(str(exc.args[0]))
    classifier = Classifier(catalog)
    planned = plan_probes(catalog)
    to_send = planned[:max_requests]
    settings = ProbeSettings(
        proxy=proxy, timeout=timeout, deadline=deadline, workers=workers, verify=not insecure, ca_file=ca_file
    )
    try:
        prober = Prober(settings, classifier.fp, control_addresses=catalog.control_addresses)
    except (OSError, ssl.SSLError) as exc:
        fail(f"{ca_file}: not a usable CA file: {getattr(exc, 'reason', None) or exc}")
    try:
        prober.preflight()
        run = prober.run(to_send)
    except AuditPathError as exc:
        fail(str(exc))

    report = ComplianceReport(catalog, policy)
    control_reachable = control_seen = 0
    for _, record in run.records:
        obs = classifier.classify(record)
        if obs is None:
            continue
        report.add(obs)
        if obs.service is None:
            control_seen += 1
            control_reachable += obs.outcome == "reachable"
    data = report.to_dict()
    data["probe"] = {
        "mode": "proxy" if proxy else "direct",
        "proxy": proxy.shown if proxy else None,  # never the credentials
        "planned": len(planned),
        "sent": len(to_send),
        "completed": len(run.records),
        "unfinished": len(run.unfinished),
        "elapsed_seconds": round(run.elapsed, 2),
        "timeout_seconds": timeout,
        "deadline_seconds": deadline,
        "tls_verified": not insecure,
    }
    if output_file is not None:
        chosen = fmt if fmt != "text" else SUFFIX_FORMATS.get(output_file.suffix.lower(), "text")
        write_report_atomic(output_file, data, chosen)
    else:
        text = render(data, fmt)
        if fmt == "text":
            via = f"through {proxy.shown}" if proxy else "directly"
            tls = "TLS verified" if not insecure else "TLS NOT verified (--insecure)"
            text += (
                f"  probed {len(run.records)} of {len(planned)} requests {via} in "
                f"{run.elapsed:.1f} s; {tls}\n"
            )
        click.echo(text, nl=False)

    if len(to_send) < len(planned):
        click.echo(
            f"policy-lint: warning: --max-requests {max_requests}: sent {len(to_send)} of "
            f"{len(planned)} planned requests",
            err=True,
        )
    if run.unfinished:
        click.echo(
            f"policy-lint: warning: {len(run.unfinished)} requests unfinished at the {deadline:g} s deadline",
            err=True,
        )
    if control_seen and not control_reachable:
        click.echo(
            f"policy-lint: warning: the control host {catalog.control_host} was not reachable "
            "either: blocks seen may not be specific to social media",
            err=True,
        )
    verdicts = {sid: s["verdict"] for sid, s in data["services"].items()}
    unsure = [sid for sid, v in verdicts.items() if v == "inconclusive"]
    if unsure:
        click.echo(f"policy-lint: warning: not enough evidence for: {', '.join(unsure)}", err=True)
    sys.exit(EXIT_FINDINGS if failing_services(data, policy) else EXIT_CLEAN)

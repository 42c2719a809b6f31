"""Technology Enablement compliance, live: a mitmproxy addon over `policy_lint.traffic`.

    policy-lint live --report /var/lib/te/report.html [mitmdump options]     (in-process)
    mitmdump -s addons/te_compliance.py --set te_report=/var/lib/te/report.html \
             --set te_report_interval=30 [--set te_policy=policy.yaml] [--set te_client_addresses=true]

Every finished flow goes through the same code as the offline `policy-lint traffic` command:
`flow_host` (cached per raw Host value; a host the catalog does not cover stops there) ->
`record_from_flow` (host, status, the headers fingerprints read, a body prefix, the error) ->
`Classifier.classify` (reachable / blocked / failed / inconclusive, with the mechanism) ->
`ComplianceReport.add` (counters only). The addon adds no decision of its own.

What it promises:
- It only observes. No hook assigns to a flow, its request, response or metadata, and no hook
  kills, intercepts or replays one. Any exception inside the addon is caught, logged and
  counted in the report's `skipped_reasons`; the traffic goes on.
- Bounded memory: the report keeps counters, a capped host table and capped evidence; the addon
  keeps no per-flow state at all. The per-host caches are capped (flow_host: 4096 raw Host
  values, the classifier: 10,000 hosts), so hostile traffic with endless names only misses them.
- Nothing is lost when the process dies: the report is rewritten atomically (temp file +
  rename, see `render.write_report_atomic`) every `te_report_interval` seconds when something
  changed, and once more on shutdown (`done`, which mitmdump runs on SIGTERM/SIGINT).
- Privacy: hosts and outcomes only (no path, query, cookie or body ever reaches the report or
  the log); client addresses are pseudonymised with a per-run key unless
  `te_client_addresses=true`.

Hooks used, and why (tests/e2e/test_traffic_e2e.py shows each kind of block through real squid):
- `response`: block pages (squid's 403 + X-Squid-Error), filter 403/451, reachable answers.
- `error`: refused upstream CONNECT, resets, upstream proxy down, TLS failures towards the
  server. mitmproxy gives every HTTP flow either `response` or `error`, never both, so nothing
  is counted twice.
- `http_connect_error`: in regular mode with the default (eager) connection strategy, a CONNECT
  whose server connection fails gets a 502 that mitmproxy makes itself and neither `response`
  nor `error` follows; the failure text in that 502 is the only evidence, so it is read as an
  error (no response came from the network). In upstream mode a refused CONNECT surfaces as
  `error` on the inner flow instead (seen with both strategies on 11.0.2).
- `tls_failed_client`: the client did not accept our certificate. That is the audit path
  failing (the client does not trust mitmproxy's CA), never evidence of a block: counted as
  inconclusive under the SNI's service. `tls_failed_server` is not used: mitmproxy also raises
  `error` on the flow for it, which carries the same text.

Scheduling: the periodic write runs as an asyncio task started in `running()`, on mitmproxy's
own event loop, so it never races the hooks (which run on that loop too). Where no loop task
runs (replays without `running`, in-process tests), each event checks the elapsed time instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Optional

from mitmproxy import ctx, exceptions, http
from mitmproxy.addonmanager import Loader

from policy_lint.traffic.classify import Classifier
from policy_lint.traffic.compliance import ComplianceReport
from policy_lint.traffic.mitm import flow_host, record_from_flow
from policy_lint.traffic.record import FlowRecord, Observation
from policy_lint.traffic.render import SUFFIX_FORMATS, write_report_atomic

# A fixed logger name: mitmproxy shows records from every logger, and scripts are imported under a
# generated module name that would make the source of a line unclear.
log = logging.getLogger("te_compliance")

DEFAULT_INTERVAL = 30  # seconds between report rewrites (and summary lines) while traffic flows
MAX_LOGGED_ERRORS = 10  # internal errors logged with a traceback; later ones only every 1000th
# The text recorded for a client-side TLS failure. Fixed on purpose: mitmproxy's own message can
# contain "connection closed", which the classifier would read as a reset, i.e. a block.
CLIENT_TLS_FAILED = "Client TLS handshake failed (client does not trust the proxy's CA?)"


class TeCompliance:
    def __init__(self) -> None:
        self._classifier: Classifier | None = None
        self._report: ComplianceReport | None = None
        self._report_path: Path | None = None
        self._interval: int = DEFAULT_INTERVAL
        self._ticker: asyncio.Task | None = None
        self._last_write = time.monotonic()
        self._dirty = False  # something was added since the last write / summary
        self._verdicts: dict[str, str] = {}  # last verdict logged per service
        self._errors = 0
        self.observed = 0  # observations added (for tests and the shutdown line)

    @property
    def report(self) -> ComplianceReport | None:
        """The report being built (None until mitmproxy has configured the addon)."""
        return self._report

    # ------------------------------------------------------------------ options

    def load(self, loader: Loader) -> None:
        loader.add_option(
            "te_policy",
            # mitmproxy types `typespec` as `type`, yet documents typing.Optional[X] (not a union)
            # for optional options: hence the ignore, and the noqa for ruff's X | None rewrite.
            Optional[str],  # type: ignore[arg-type]  # noqa: UP045
            None,
            "Policy YAML for the Technology Enablement report (audiences, extra "
            "domains); default: the built-in strict policy.",
        )
        loader.add_option(
            "te_report",
            # mitmproxy types `typespec` as `type`, yet documents typing.Optional[X] (not a union)
            # for optional options: hence the ignore, and the noqa for ruff's X | None rewrite.
            Optional[str],  # type: ignore[arg-type]  # noqa: UP045
            None,
            "Where the compliance report is written, atomically. A .json, .md or "
            ".html suffix picks that format; any other path gets all three "
            "(PATH.json, PATH.md, PATH.html). Unset: log lines only.",
        )
        # int, not float: mitmproxy 11 cannot parse `--set name=value` for float options.
        loader.add_option(
            "te_report_interval",
            int,
            DEFAULT_INTERVAL,
            "Seconds between report rewrites and summary lines while traffic "
            "flows (0: only on shutdown). The report is always written on shutdown.",
        )
        loader.add_option(
            "te_client_addresses",
            bool,
            False,
            "Show client addresses as seen in the report instead of per-run pseudonyms (auditor opt-in).",
        )

    def configure(self, updated: set[str]) -> None:
        opts = ctx.options
        if "te_report_interval" in updated:
            interval = int(opts.te_report_interval)
            if interval < 0:
                raise exceptions.OptionsError("te_report_interval must be >= 0 seconds")
            self._interval = interval
        if "te_report" in updated:
            self._report_path = self._check_report_path(opts.te_report)
        if self._report is None or updated & {"te_policy", "te_client_addresses"}:
            classifier, report = self._build(opts.te_policy, bool(opts.te_client_addresses))
            if self._report is not None and self.observed:
                # A new policy means new audiences: start a new report, but keep what the old
                # one proved on disk first.
                self._write("policy changed")
                log.info("te_compliance: options changed, starting a new report")
            self._classifier, self._report = classifier, report
            self._verdicts = {}
            self._dirty = False

    @staticmethod
    def _check_report_path(value: str | None) -> Path | None:
        if not value:
            return None
        path = Path(value).expanduser()
        if path.is_dir():
            raise exceptions.OptionsError(f"te_report {value!r} is a directory; give a file path")
        if not path.parent.is_dir():
            raise exceptions.OptionsError(f"te_report: directory {str(path.parent)!r} does not exist")
        return path

    @staticmethod
    def _build(policy_path: str | None, client_addresses: bool) -> tuple[Classifier, ComplianceReport]:
        from policy_lint.catalog import load_catalog
        from policy_lint.policy import load_policy, strict_policy

        catalog = load_catalog()
        if policy_path:
            try:
                policy = load_policy(Path(policy_path).expanduser(), catalog)
            except Exception as exc:  # the loader's own error types; shown by mitmproxy, not a traceback
                first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                raise exceptions.OptionsError(f"te_policy: {first}") from exc
            catalog = catalog.extended(policy.extra_domains, policy.custom_services)
        else:
            policy = strict_policy(catalog)
        return Classifier(catalog), ComplianceReport(catalog, policy, pseudonymise=not client_addresses)

    # ------------------------------------------------------------------ lifecycle

    def running(self) -> None:
        if self._interval > 0 and self._ticker is None:
            self._ticker = asyncio.get_running_loop().create_task(
                self._tick_forever(), name="te_compliance report"
            )

    async def _tick_forever(self) -> None:
        while True:
            # Re-read each round: `--set te_report_interval` can change at run time.
            await asyncio.sleep(self._interval if self._interval > 0 else DEFAULT_INTERVAL)
            if self._interval > 0:
                self._tick()

    def done(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            self._ticker = None
        try:
            self._summarise(force=True)
            self._write("shutdown")
        except Exception as exc:
            self._internal_error("done", exc)

    # ------------------------------------------------------------------ events (observe only)

    def response(self, flow: http.HTTPFlow) -> None:
        self._observe_flow(flow, "response")

    def error(self, flow: http.HTTPFlow) -> None:
        self._observe_flow(flow, "error")

    def http_connect_error(self, flow: http.HTTPFlow) -> None:
        try:
            record = record_from_flow(flow)
            if record is None:
                return
            # The 502 here is mitmproxy's own ("Cannot connect to HOST:PORT: <why> If you plan
            # ..."), not an answer from anything on the path: classify the reason as an error.
            error = flow.error.msg if flow.error else _connect_failure(flow)
            self._observe_record(
                replace(record, status=None, reason="", headers=(), body_prefix=b"", error=error)
            )
        except Exception as exc:
            self._internal_error("http_connect_error", exc)

    def tls_failed_client(self, data: Any) -> None:
        try:
            sni = getattr(data.context.client, "sni", None)
            if not sni:
                return
            peer = data.context.client.peername
            record = FlowRecord(
                timestamp=time.time(),
                host=str(sni).lower().rstrip("."),
                port=443,
                scheme="https",
                method="CONNECT",
                client=str(peer[0]) if peer else None,
                error=CLIENT_TLS_FAILED,
            )
            self._observe_record(record)
        except Exception as exc:
            self._internal_error("tls_failed_client", exc)

    def _observe_flow(self, flow: http.HTTPFlow, hook: str) -> None:
        # The per-flow path: the host first (cached per raw Host value), then nothing more for a
        # host the catalog does not know, and for ours only the headers fingerprints read.
        try:
            classifier = self._classifier
            if classifier is None or not isinstance(flow, http.HTTPFlow):
                return
            host = flow_host(flow)
            if not host or not classifier.covers(host):
                return
            record = record_from_flow(flow, host=host, header_names=classifier.header_names)
            if record is not None:
                self._observe_record(record)
        except Exception as exc:
            self._internal_error(hook, exc)

    def _observe_record(self, record: FlowRecord) -> None:
        if self._classifier is None or self._report is None:
            return  # not configured yet (events before configure cannot happen in mitmproxy)
        obs = self._classifier.classify(record)
        if obs is None:
            return  # neither a catalog host nor the control host: not our business
        self._report.add(obs)
        self.observed += 1
        self._dirty = True
        self._note_verdict(obs)
        if (
            self._ticker is None
            and self._interval > 0
            and time.monotonic() - self._last_write >= self._interval
        ):
            self._tick()

    def _note_verdict(self, obs: Observation) -> None:
        """One log line when a service's verdict changes: the live view between summaries."""
        if obs.service is None or self._report is None:
            return
        verdict = self._report.verdict(obs.service)
        if self._verdicts.get(obs.service) == verdict:
            return
        self._verdicts[obs.service] = verdict
        level = logging.WARNING if verdict in ("blocked", "degraded") else logging.INFO
        # The observation is already counted; a log handler that raises (mitmproxy 12's, once its
        # event loop is closed) must not turn it into an addon error as well.
        with contextlib.suppress(Exception):
            log.log(
                level,
                "te_compliance: %s is now %s (%s %s: %s %s)",
                obs.service,
                verdict,
                obs.outcome,
                obs.host,
                obs.how,
                obs.evidence,
            )

    # ------------------------------------------------------------------ output

    def _tick(self) -> None:
        try:
            if self._dirty:
                self._summarise()
                self._write("interval")
        except Exception as exc:
            self._internal_error("report", exc)

    def _summarise(self, force: bool = False) -> None:
        if self._report is None or not (self._dirty or force):
            return
        for line in self._report.summary_lines():
            log.info("te_compliance: %s", line)

    def _write(self, why: str) -> None:
        self._last_write = time.monotonic()
        self._dirty = False
        if self._report is None or self._report_path is None:
            return
        path = self._report_path
        fmt = SUFFIX_FORMATS.get(path.suffix.lower())  # None: all three formats beside PATH
        try:
            # Synchronous on the event loop: a few KB, and a thread could finish an older write
            # after the final one on shutdown.
            written = write_report_atomic(path, self._report.to_dict(), fmt)
        except OSError as exc:
            log.error("te_compliance: cannot write the report to %s: %s", path, exc)
            return
        log.debug("te_compliance: report written (%s): %s", why, ", ".join(map(str, written)))

    def _internal_error(self, hook: str, exc: BaseException) -> None:
        self._errors += 1
        if self._errors <= MAX_LOGGED_ERRORS or self._errors % 1000 == 0:
            # Guarded too: a log handler can itself raise (mitmproxy 12's hands records to its
            # event loop and raises once that loop is closed), and this runs inside `except`.
            with contextlib.suppress(Exception):
                log.error(
                    "te_compliance: internal error in %s (#%d), traffic unaffected: %s: %s",
                    hook,
                    self._errors,
                    type(exc).__name__,
                    exc,
                    exc_info=self._errors <= MAX_LOGGED_ERRORS,
                )
        try:
            if self._report is not None:
                self._report.note_skipped(1, f"addon error in {hook}: {type(exc).__name__}")
                self._dirty = True
        except Exception:
            pass


def _connect_failure(flow: http.HTTPFlow) -> str:
    """The reason in the 502 mitmproxy answers a failed CONNECT with, without its advice."""
    if flow.response is None:
        return "CONNECT failed"
    text = bytes(flow.response.raw_content or b"")[:512].decode("utf-8", "replace")
    text = text.split(" If you plan", 1)[0].strip()
    return text[:200] or f"CONNECT failed: HTTP {flow.response.status_code}"

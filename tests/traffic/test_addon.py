"""addons/te_compliance.py in-process: real mitmproxy flows through the real addon, no network.

Each outcome kind of the e2e recipe's table (../shared/recipes/e2e-squid-mitmproxy.md) is built
as mitmproxy would present it, run through the addon's hooks with `taddons.context`, and checked
three ways: the verdict in the report, the flow's full state unchanged, nothing private leaked.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import logging
import os
import time
from pathlib import Path
from types import ModuleType

import pytest
from mitmproxy import exceptions, hooks, http
from mitmproxy.proxy.context import Context
from mitmproxy.proxy.mode_specs import ProxyMode
from mitmproxy.test import taddons, tflow
from mitmproxy.tls import TlsData

from tests.traffic.helpers import make_flow

REPO = Path(__file__).resolve().parents[2]
ADDON_PATH = REPO / "addons" / "te_compliance.py"
UPSTREAM = "upstream:http://127.0.0.1:3128"

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture(scope="module")
def mod() -> ModuleType:
    # Loaded from its path, as `mitmdump -s` does: addons/ is not a package.
    spec = importlib.util.spec_from_file_location("te_compliance_under_test", ADDON_PATH)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def addon(mod):
    return mod.TeCompliance()


def upstream_flow(host: str, **kw) -> http.HTTPFlow:
    """A flow as mitmdump in upstream mode sees it: the peer is the proxy on loopback."""
    f = make_flow(host, server_ip="127.0.0.1", **kw)
    f.client_conn.proxy_mode = ProxyMode.parse(UPSTREAM)
    f.server_conn.via = ("http", ("127.0.0.1", 3128))
    return f


SQUID_PAGE = b"<html><title>ERROR: The requested URL could not be retrieved</title>ERR_ACCESS_DENIED</html>"

# (id, flow factory, service, outcome, how, verdict)
CASES = [
    (
        "reachable-200",
        lambda: upstream_flow("www.linkedin.com"),
        "linkedin",
        "reachable",
        "http",
        "compliant",
    ),
    (
        "squid-403-block-page",
        lambda: upstream_flow(
            "www.facebook.com",
            status=403,
            body=SQUID_PAGE,
            headers={"X-Squid-Error": "ERR_ACCESS_DENIED 0", "Content-Type": "text/html"},
        ),
        "facebook",
        "blocked",
        "block-page:squid",
        "blocked",
    ),
    (
        "connect-refused",
        lambda: upstream_flow(
            "www.facebook.com",
            status=None,
            error="Upstream proxy 127.0.0.1:3128 refused HTTP CONNECT request: 403 Forbidden",
        ),
        "facebook",
        "blocked",
        "connect-refused",
        "blocked",
    ),
    (
        "reset-https",
        lambda: upstream_flow("www.ning.com", status=None, error="connection closed"),
        "ning",
        "blocked",
        "reset",
        "blocked",
    ),
    (
        "reset-by-peer",
        lambda: make_flow("www.ning.com", status=None, error="Connection reset by peer"),
        "ning",
        "blocked",
        "reset",
        "blocked",
    ),
    (
        "dns-sinkhole",
        lambda: make_flow("twitter.com", server_ip="0.0.0.0"),
        "twitter",
        "blocked",
        "dns-sinkhole",
        "blocked",
    ),
    (
        "cdn-blocked-degraded",
        lambda: upstream_flow(
            "pbs.twimg.com", status=403, body=SQUID_PAGE, headers={"X-Squid-Error": "ERR_ACCESS_DENIED 0"}
        ),
        "twitter",
        "blocked",
        "block-page:squid",
        "degraded",
    ),
    (
        "upstream-proxy-down",
        lambda: upstream_flow(
            "www.facebook.com", status=None, error="[Errno 111] Connect call failed ('127.0.0.1', 3128)"
        ),
        "facebook",
        "inconclusive",
        "audit-path",
        "inconclusive",
    ),
]


@pytest.mark.parametrize(
    "make,service,outcome,how,verdict", [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_outcome_kinds_and_flow_untouched(addon, make, service, outcome, how, verdict):
    flow = make()
    before = flow.get_state()
    with taddons.context(addon) as tctx:
        tctx.configure(addon)
        asyncio.run(tctx.cycle(addon, flow))
    assert flow.get_state() == before  # it only observes: not a header, not a timestamp changed
    data = addon._report.to_dict()
    svc = data["services"][service]
    assert svc["requests"] == 1
    assert svc["outcomes"][outcome] == 1
    assert svc["verdict"] == verdict
    if outcome != "reachable":
        assert svc["evidence"][0]["how"] == how


def test_http_reset_wording_is_blocked(addon):
    flow = upstream_flow("www.ning.com", status=None, error="server closed connection")
    with taddons.context(addon) as tctx:
        tctx.configure(addon)
        asyncio.run(tctx.cycle(addon, flow))
    assert addon._report.to_dict()["services"]["ning"]["outcomes"]["blocked"] == 1


def test_unrelated_host_is_ignored(addon):
    with taddons.context(addon) as tctx:
        tctx.configure(addon)
        asyncio.run(tctx.cycle(addon, make_flow("intranet.example.org")))
    assert addon.observed == 0
    assert all(s["requests"] == 0 for s in addon._report.to_dict()["services"].values())


def test_connect_error_in_regular_mode(addon):
    # What mitmproxy does when an eager CONNECT's server connection fails: its own 502, no error.
    flow = tflow.tflow(resp=False)
    flow.request.method = "CONNECT"
    flow.request.host, flow.request.port = "www.facebook.com", 443
    flow.server_conn.peername = None  # the connection never came up
    flow.response = http.Response.make(
        502,
        b"Cannot connect to www.facebook.com:443: [Errno 104] Connection reset by peer "
        b"If you plan to redirect requests away from this server, consider ...",
    )
    before = flow.get_state()
    with taddons.context(addon) as tctx:
        tctx.configure(addon)
        addon.http_connect_error(flow)
    assert flow.get_state() == before
    ev = addon._report.to_dict()["services"]["facebook"]["evidence"]
    assert [(e["outcome"], e["how"]) for e in ev] == [("blocked", "reset")]
    assert "If you plan" not in ev[0]["evidence"]


def test_client_tls_failure_is_inconclusive_not_blocked(addon):
    client = tflow.tclient_conn()
    client.sni = "www.facebook.com"
    client.error = "Client TLS handshake failed: connection closed"  # reset wording: must not count
    with taddons.context(addon) as tctx:
        tctx.configure(addon)
        addon.tls_failed_client(TlsData(client, Context(client, tctx.options)))
    svc = addon._report.to_dict()["services"]["facebook"]
    assert svc["outcomes"]["inconclusive"] == 1 and svc["outcomes"]["blocked"] == 0


def test_classifier_exception_is_logged_and_traffic_goes_on(addon, caplog):
    caplog.set_level(logging.INFO, logger="te_compliance")
    flow = upstream_flow("www.facebook.com")
    before = flow.get_state()
    with taddons.context(addon) as tctx:
        tctx.configure(addon)
        real = addon._classifier.classify

        def boom(record):
            raise RuntimeError("classifier exploded")

        addon._classifier.classify = boom
        asyncio.run(tctx.cycle(addon, flow))  # must not raise
        assert flow.get_state() == before
        addon._classifier.classify = real
        asyncio.run(tctx.cycle(addon, upstream_flow("www.linkedin.com")))  # the next flow still counts
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert errors and "classifier exploded" in errors[0].getMessage()
    assert errors[0].exc_info is not None  # the traceback is in the log, for the bug report
    data = addon._report.to_dict()
    assert data["skipped_reasons"] == {"addon error in response: RuntimeError": 1}
    assert data["services"]["linkedin"]["requests"] == 1
    assert data["services"]["facebook"]["requests"] == 0


def test_internal_error_log_is_rate_limited(mod, addon, caplog):
    caplog.set_level(logging.INFO, logger="te_compliance")
    with taddons.context(addon) as tctx:
        tctx.configure(addon)

        def boom(record):
            raise ValueError("again")

        addon._classifier.classify = boom
        for _ in range(mod.MAX_LOGGED_ERRORS + 20):
            addon.response(upstream_flow("www.facebook.com"))
    assert len([r for r in caplog.records if r.levelno == logging.ERROR]) == mod.MAX_LOGGED_ERRORS
    assert addon._report.to_dict()["skipped"] == mod.MAX_LOGGED_ERRORS + 20


@pytest.mark.parametrize(
    "name,expected",
    [
        ("report.json", ["report.json"]),
        ("report.md", ["report.md"]),
        ("report.html", ["report.html"]),
        ("report", ["report.html", "report.json", "report.md"]),
        ("te-report.txt", ["te-report.txt.html", "te-report.txt.json", "te-report.txt.md"]),
    ],
)
def test_report_suffixes_on_done(addon, tmp_path, name, expected):
    with taddons.context(addon) as tctx:
        tctx.configure(addon, te_report=str(tmp_path / name))
        asyncio.run(
            tctx.cycle(
                addon,
                upstream_flow(
                    "www.facebook.com", status=403, headers={"X-Squid-Error": "ERR_ACCESS_DENIED 0"}
                ),
            )
        )
        assert sorted(os.listdir(tmp_path)) == []  # nothing yet: the interval has not passed
        addon.done()
    assert sorted(os.listdir(tmp_path)) == expected  # and no temp file left behind
    for f in expected:
        text = (tmp_path / f).read_text()
        if f.endswith(".json"):
            assert json.loads(text)["services"]["facebook"]["verdict"] == "blocked"
        else:
            assert "facebook" in text and "blocked" in text


def test_report_rewrite_is_atomic(addon, tmp_path):
    target = tmp_path / "report.json"
    with taddons.context(addon) as tctx:
        tctx.configure(addon, te_report=str(target))
        addon.response(upstream_flow("www.linkedin.com"))
        addon.done()
        first = target.read_text()
        inode = target.stat().st_ino
        with open(target) as reader:  # a reader holding the old file while the addon rewrites
            addon.response(
                upstream_flow(
                    "www.facebook.com", status=403, headers={"X-Squid-Error": "ERR_ACCESS_DENIED 0"}
                )
            )
            addon.done()
            assert reader.read() == first  # complete old content, never a truncated mix
        assert target.stat().st_ino != inode  # replaced by rename, not rewritten in place
    assert json.loads(target.read_text())["services"]["facebook"]["verdict"] == "blocked"
    assert os.listdir(tmp_path) == ["report.json"]


def test_periodic_write_without_event_loop_task(addon, tmp_path):
    # No running() (replays, tests): the elapsed time is checked on each event instead.
    target = tmp_path / "r.json"
    with taddons.context(addon) as tctx:
        tctx.configure(addon, te_report=str(target), te_report_interval=1)
        addon.response(upstream_flow("www.linkedin.com"))
        assert not target.exists()
        addon._last_write = time.monotonic() - 2  # as if the interval had passed
        addon.response(upstream_flow("www.facebook.com"))
        assert json.loads(target.read_text())["services"]["facebook"]["requests"] == 1


def test_periodic_write_from_event_loop_task(addon, tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="te_compliance")
    target = tmp_path / "r.json"

    async def scenario() -> dict:
        with taddons.context(addon) as tctx:
            tctx.configure(addon, te_report=str(target), te_report_interval=1)
            addon.running()
            addon.response(
                upstream_flow(
                    "www.facebook.com", status=403, headers={"X-Squid-Error": "ERR_ACCESS_DENIED 0"}
                )
            )
            deadline = time.monotonic() + 5
            while not target.exists() and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            data = json.loads(target.read_text())  # written by the task, before any shutdown
            addon.done()
            return data

    data = asyncio.run(scenario())
    assert data["services"]["facebook"]["verdict"] == "blocked"
    assert addon._ticker is None
    lines = [r.getMessage() for r in caplog.records]
    assert any(m.startswith("te_compliance: facebook is now blocked") for m in lines)
    assert any(m.startswith("te_compliance: facebook: blocked (1 requests") for m in lines)


def test_interval_zero_writes_only_on_shutdown(addon, tmp_path):
    target = tmp_path / "r.json"
    with taddons.context(addon) as tctx:
        tctx.configure(addon, te_report=str(target), te_report_interval=0)
        addon._last_write = time.monotonic() - 3600
        addon.response(upstream_flow("www.facebook.com"))
        assert not target.exists()
        addon.done()
    assert target.exists()


def test_privacy_pseudonymised_by_default(addon, tmp_path, caplog):
    caplog.set_level(logging.DEBUG, logger="te_compliance")
    with taddons.context(addon) as tctx:
        tctx.configure(addon, te_report=str(tmp_path / "r"))
        addon.response(
            make_flow(
                "www.facebook.com",
                client="10.9.8.7",
                status=403,
                headers={"X-Squid-Error": "ERR_ACCESS_DENIED 0"},
            )
        )
        addon.done()
    everything = "".join(p.read_text() for p in tmp_path.iterdir()) + "".join(
        r.getMessage() for r in caplog.records
    )
    for secret in ("10.9.8.7", "/secret/path", "q=token", "COOKIEVALUE"):
        assert secret not in everything
    assert "client-" in (tmp_path / "r.json").read_text()


def test_client_addresses_opt_in(addon, tmp_path):
    with taddons.context(addon) as tctx:
        tctx.configure(addon, te_report=str(tmp_path / "r.json"), te_client_addresses=True)
        addon.response(make_flow("www.facebook.com", client="10.9.8.7"))
        addon.done()
    data = json.loads((tmp_path / "r.json").read_text())
    assert data["pseudonymised"] is False
    assert "10.9.8.7" in json.dumps(data["audiences"])


def test_policy_audiences(addon, tmp_path):
    policy = REPO / "sample_policies" / "technology-enablement.yaml"
    with taddons.context(addon) as tctx:
        tctx.configure(addon, te_policy=str(policy))
        addon.response(make_flow("www.facebook.com", client="10.9.8.7"))
    assert addon._report.to_dict()["services"]["facebook"]["verdict"] == "compliant"


@pytest.mark.parametrize(
    "option,value,message",
    [
        ("te_report", "/nonexistent-dir-for-te/report.json", "does not exist"),
        ("te_report", "/tmp", "is a directory"),
        ("te_report_interval", -1, ">= 0"),
        ("te_policy", "/nonexistent-policy.yaml", "te_policy"),
    ],
)
def test_bad_options_are_refused(addon, option, value, message):
    with taddons.context(addon) as tctx, pytest.raises(exceptions.OptionsError, match=message):
        tctx.configure(addon, **{option: value})


def test_unwritable_report_is_logged_not_raised(addon, tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="te_compliance")
    out = tmp_path / "gone"
    out.mkdir()
    with taddons.context(addon) as tctx:
        tctx.configure(addon, te_report=str(out / "r.json"))
        out.rmdir()  # the directory disappears while the proxy runs
        addon.response(upstream_flow("www.facebook.com"))
        addon.done()  # must not raise
    assert any("cannot write the report" in r.getMessage() for r in caplog.records)


def test_policy_change_keeps_old_report_on_disk(addon, tmp_path):
    target = tmp_path / "r.json"
    with taddons.context(addon) as tctx:
        tctx.configure(addon, te_report=str(target))
        addon.response(upstream_flow("www.facebook.com"))
        tctx.configure(addon, te_client_addresses=True)  # a new report starts...
        assert json.loads(target.read_text())["services"]["facebook"]["requests"] == 1  # ...old one kept
        assert addon._report.to_dict()["services"]["facebook"]["requests"] == 0


def test_addon_loads_as_mitmproxy_script(tmp_path):
    # What `mitmdump -s addons/te_compliance.py` does: the script loader registers `addons`.
    from mitmproxy.addons import script

    with taddons.context() as tctx:
        # reload=False: loads the file, registers its `addons` and configures them, right now
        sc = script.Script(str(ADDON_PATH), False)
        assert "te_report" in tctx.options and "te_policy" in tctx.options
        tctx.options.update(te_report=str(tmp_path / "r.md"))
        # Outside a ScriptLoader the script is not in the addon chain: deliver configure by hand.
        tctx.master.addons.invoke_addon_sync(sc.ns, hooks.ConfigureHook({"te_report"}))
        (loaded,) = sc.addons[0].addons
        assert type(loaded).__name__ == "TeCompliance"
        assert loaded._report_path == tmp_path / "r.md"


def test_a_log_handler_that_raises_does_not_reach_the_traffic(addon):
    class Broken(logging.Handler):
        def emit(self, record):
            raise RuntimeError("Event loop is closed")  # what mitmproxy 12's handler raises late

    logger = logging.getLogger("te_compliance")
    broken = Broken()
    logger.addHandler(broken)
    try:
        flow = upstream_flow("www.facebook.com", status=403, headers={"X-Squid-Error": "ERR_ACCESS_DENIED 0"})
        before = flow.get_state()
        with taddons.context(addon) as tctx:
            tctx.configure(addon)
            addon.response(flow)  # the verdict-change line raises in the handler: caught
            addon.response(upstream_flow("www.linkedin.com"))
        assert flow.get_state() == before
        data = addon.report.to_dict()
        assert data["services"]["facebook"]["verdict"] == "blocked"  # counted once, not skipped
        assert data["services"]["linkedin"]["requests"] == 1
        assert data["skipped"] == 0

        def boom(record):
            raise ValueError("classifier exploded")

        addon._classifier.classify = boom  # an addon error whose own log line raises too
        addon.response(upstream_flow("www.facebook.com"))  # must not raise
        assert addon.report.to_dict()["skipped_reasons"] == {"addon error in response: ValueError": 1}
    finally:
        logger.removeHandler(broken)

"""Technology Enablement compliance, live, as a mitmproxy script:

    mitmdump -s addons/te_compliance.py --set te_report=/var/lib/te/report.html \
             --set te_report_interval=30 [--set te_policy=policy.yaml] [--set te_client_addresses=true]

The addon itself is policy_lint.traffic.addon.TeCompliance (its docstring says what it does and
promises). `policy-lint live` runs the same addon inside mitmproxy's own dump master, without
the script loader; this file is for an existing mitmdump/mitmproxy/mitmweb set-up.
"""

from __future__ import annotations

from policy_lint.traffic.addon import CLIENT_TLS_FAILED, DEFAULT_INTERVAL, MAX_LOGGED_ERRORS, TeCompliance

__all__ = ["CLIENT_TLS_FAILED", "DEFAULT_INTERVAL", "MAX_LOGGED_ERRORS", "TeCompliance", "addons"]

addons = [TeCompliance()]

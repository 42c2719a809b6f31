"""Traffic analysis: what actually happens on the wire to the catalog's services.

One flow-like record (a live mitmproxy flow, a saved .mitm flow, a HAR entry, a squid
access.log line) -> `classify` -> an Observation -> `compliance` aggregates them into a
report per service and audience -> `render` writes it. The mitmproxy addon (`addon`, run
in-process by `policy-lint live` or as the script addons/te_compliance.py), `policy-lint
traffic` and `policy-lint probe` share every decision.
"""

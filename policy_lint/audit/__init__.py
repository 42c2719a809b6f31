"""`policy-lint audit CONFIG_DIR LOGS...`: the configs' static verdicts next to what the logs
show, per service and audience, with the disagreements in both directions (static.py: the
configs; observe.py: the logs; compare.py: the two together; report.py: JSON, Markdown, HTML)."""

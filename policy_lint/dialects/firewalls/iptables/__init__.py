"""Linux netfilter through iptables/ip6tables (moved whole to evaluate.py; split next)."""

from policy_lint.dialects.firewalls.iptables.evaluate import FILE_PATTERNS, NAME, detect, parse

__all__ = ["FILE_PATTERNS", "NAME", "detect", "parse"]

"""MikroTik RouterOS exports: the module moved whole into this package (split next)."""

from policy_lint.dialects.firewalls.mikrotik.parse import (  # noqa: F401
    FILE_PATTERNS,
    NAME,
    Addr,
    Rule,
    _ChainIndex,
    detect,
    parse,
)

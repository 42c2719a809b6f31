"""The dialect registry: its detection hints equal each module's own constants."""

from __future__ import annotations

import importlib
from pathlib import Path

from policy_lint import dialects
from tests.conftest import detected_dialect


def test_every_module_has_hints_equal_to_its_constants():
    for m in dialects.MODULES:
        module = importlib.import_module(f"policy_lint.dialects.{m}")
        assert dialects.HINTS.get(m) == (module.NAME, tuple(module.FILE_PATTERNS)), m


def test_names_are_unique_and_lazy_lookup_returns_the_module():
    assert len(set(dialects.DIALECTS)) == len(dialects.MODULES)
    assert dialects.DIALECTS["squid"].NAME == "squid"


def test_name_hint_is_tried_first_and_content_decides_otherwise():
    assert detected_dialect(Path("squid.conf"), "") == "squid"
    assert (
        detected_dialect(Path("proxy.txt"), "acl social dstdomain .facebook.com\nhttp_access deny social\n")
        == "squid"
    )
    assert dialects.detect(Path("notes.txt"), "hello\n") is None


def test_a_pf_conf_is_not_taken_for_squidguard():
    pf = (
        'table <blocklist> persist file "/etc/pf/blocklist"\nblock log quick from <blocklist> to any\n'
        "pass out quick proto udp from $ext to $ntp_server port 123\npass in on $int from { 10.0.0.0/8 } to any\n"
    )
    assert detected_dialect(Path("pf.conf"), pf) == "pf"

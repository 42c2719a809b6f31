"""Reading a large ruleset without CPython's cycle collector walking it over and over.

A 200,000-rule file becomes millions of small objects (rules, spans, networks) that all live
until the file is linted. While they are built, every few hundred allocations trigger a
collection, and the oldest generation's collections walk the whole growing heap: on the
packet-filter benchmark (bench/packet_filters.py) that was 2-4 s of a 5-11 s run, finding
nothing to free. Parsers wrapped in `without_cycle_collection` build their rules with the
collector paused; it is switched back on (if it was on) when they return or raise, and any
cyclic garbage made meanwhile is collected by the next run. Reference counting frees
everything else as usual, so memory use does not change.

    @without_cycle_collection
    def parse(path, context): ...
"""

from __future__ import annotations

import functools
import gc
from collections.abc import Callable
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")


def without_cycle_collection(fn: Callable[P, R]) -> Callable[P, R]:
    """`fn` run with the cycle collector paused (restored as it was afterwards)."""

    @functools.wraps(fn)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        was_on = gc.isenabled()
        gc.disable()
        try:
            return fn(*args, **kwargs)
        finally:
            if was_on:
                gc.enable()

    return run

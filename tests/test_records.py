"""policy_lint.records gives what @dataclass's own generated methods give.

Each record class of the package is compared with a twin: the same fields, made by
dataclasses.make_dataclass with @dataclass's eq, repr and (frozen) hash, order when asked.
"""

from __future__ import annotations

import dataclasses
import importlib
import pickle
from typing import Any

import pytest

from policy_lint.model import Decision, Outcome, Probe, Span
from policy_lint.records import FrozenRecord, OrderedRecord, Record

# The modules declaring records (the classes a squid or squidGuard lint creates at start-up).
MODULES = [
    "policy_lint.catalog",
    "policy_lint.config",
    "policy_lint.dialects.proxies.squid",
    "policy_lint.dialects.proxies.squidguard.lists",
    "policy_lint.dialects.proxies.squidguard.model",
    "policy_lint.dialects.proxies.squidguard.syntax",
    "policy_lint.dialects.proxies.squidguard.urls",
    "policy_lint.dialects.semantics.addressing",
    "policy_lint.dialects.semantics.base",
    "policy_lint.dialects.semantics.patterns",
    "policy_lint.engine",
    "policy_lint.extract.model",
    "policy_lint.inputs",
    "policy_lint.model",
    "policy_lint.policy",
    "policy_lint.rules",
    "policy_lint.suppress",
]


def _record_classes() -> list[type]:
    for name in MODULES:
        importlib.import_module(name)
    out: list[type] = []
    todo: list[type] = [Record, FrozenRecord]
    while todo:
        subclasses: list[type] = todo.pop().__subclasses__()
        for sub in subclasses:
            todo.append(sub)
            if dataclasses.is_dataclass(sub) and sub not in out:
                out.append(sub)
    return out


RECORDS = _record_classes()


def test_the_start_up_classes_are_records():
    names = {c.__name__ for c in RECORDS}
    assert {"Span", "Probe", "Decision", "Finding", "Catalog", "Report", "Dest", "AclEntry"} <= names


@pytest.mark.parametrize("cls", RECORDS, ids=lambda c: f"{c.__module__}.{c.__qualname__}")
def test_a_record_is_declared_so_that_dataclass_compiles_no_method_it_inherits(cls):
    params = cls.__dataclass_params__
    assert not params.repr and not params.order
    assert params.frozen == issubclass(cls, FrozenRecord)
    assert (cls.__hash__ is None) == (not params.frozen)
    if not params.eq:
        # It gets eq (and hash) from records, not from a dataclass above it, which would compare
        # only that class's fields.
        above = cls.__mro__[1 : cls.__mro__.index(Record if not params.frozen else FrozenRecord)]
        assert not [c for c in above if "__eq__" in c.__dict__]


def _twin(cls: type, frozen: bool, order: bool) -> type:
    specs = [
        (f.name, Any, dataclasses.field(compare=f.compare, repr=f.repr, hash=f.hash))
        for f in dataclasses.fields(cls)
    ]
    twin = dataclasses.make_dataclass(cls.__name__, specs, frozen=frozen, order=order)
    twin.__qualname__ = cls.__qualname__
    return twin


def _pairs(cls: type) -> list[tuple[Any, Any]]:
    """Instances of cls and of its twin with the same field values, over a few value sets."""
    frozen = issubclass(cls, FrozenRecord)
    twin = _twin(cls, frozen, issubclass(cls, OrderedRecord))
    out = []
    for seed in ("a", "b", "a"):
        values = {f.name: (seed, f.name) for f in dataclasses.fields(cls)}
        mine: Any = object.__new__(cls)
        theirs: Any = object.__new__(twin)
        for name, value in values.items():
            object.__setattr__(mine, name, value)
            object.__setattr__(theirs, name, value)
        out.append((mine, theirs))
    return out


@pytest.mark.parametrize("cls", RECORDS, ids=lambda c: f"{c.__module__}.{c.__qualname__}")
def test_a_record_compares_hashes_and_prints_as_its_dataclass_twin(cls):
    pairs = _pairs(cls)
    for mine_a, theirs_a in pairs:
        if cls.__dict__.get("__repr__") is None:
            assert repr(mine_a) == repr(theirs_a)
        for mine_b, theirs_b in pairs:
            if "__eq__" not in cls.__dict__:
                assert (mine_a == mine_b) == (theirs_a == theirs_b)
                assert (mine_a != mine_b) == (theirs_a != theirs_b)
            if issubclass(cls, OrderedRecord):
                for op in ("__lt__", "__le__", "__gt__", "__ge__"):
                    assert getattr(mine_a, op)(mine_b) == getattr(theirs_a, op)(theirs_b)
        if issubclass(cls, FrozenRecord) and "__hash__" not in cls.__dict__:
            assert hash(mine_a) == hash(theirs_a)
        elif not issubclass(cls, FrozenRecord):
            with pytest.raises(TypeError):
                hash(mine_a)
    assert pairs[0][0] != pairs[0][1]  # never equal to another class with the same fields


def test_records_behave_as_frozen_ordered_dataclasses():
    a, b = Span("x.conf", 2), Span("x.conf", 10)
    assert a < b and b > a and a <= Span("x.conf", 2) and sorted([b, a]) == [a, b]
    assert repr(a) == "Span(path='x.conf', line=2, col=1, text='')"
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.line = 3  # type: ignore[misc]
    with pytest.raises(TypeError):
        assert a < ("x.conf", 3)
    d = Decision(Outcome.DENY, a, (a, b))
    assert dataclasses.replace(d, how="403") == Decision(Outcome.DENY, a, (a, b), how="403")
    assert {d: 1}[Decision(Outcome.DENY, Span("x.conf", 2), (a, b))] == 1
    assert pickle.loads(pickle.dumps(d)) == d
    p = Probe("facebook", "facebook.com", "primary", "https", 443)
    assert dataclasses.asdict(p)["host"] == "facebook.com" and hash(p) == hash(dataclasses.astuple(p))

"""The repr, the mutable classes' eq and order=True's comparisons @dataclass gives, written once
for the classes a lint creates at start-up.

Python 3.11's @dataclass compiles every method it adds from generated source text when the
class is created: about half a million instructions a method, three for a mutable class (init,
repr, eq), six for a frozen one (and setattr, delattr, hash), ten with order=True. A squidGuard
lint creates ~50 dataclasses at import (issue #20, cold start). Declared

    @dataclass(frozen=True, repr=False)         class Probe(FrozenRecord): ...
    @dataclass(frozen=True, repr=False)         class Span(OrderedRecord): ...   (no order=True)
    @dataclass(eq=False, repr=False)            class Report(Record): ...

a class inherits those methods from here, worked out from its fields on first use: the same
results as @dataclass's own (a repr of the qualified name and the repr fields; equal only to an
instance of the very same class whose compared fields are equal; a mutable class unhashable),
which tests/test_records.py holds against @dataclass's methods on every record class. The frozen
classes keep @dataclass's compiled eq and hash: those run on every dict and set lookup of a
probe or a span, where the compiled ones are several times faster than a generic field reader.
"""

from __future__ import annotations

import reprlib
from collections.abc import Callable
from dataclasses import fields
from operator import attrgetter
from typing import Any, ClassVar

Key = Callable[[Any], tuple]


def _getter(names: list[str]) -> Key:
    """A function giving the tuple of these attributes (attrgetter gives a bare value for one)."""
    if len(names) > 1:
        return attrgetter(*names)
    if names:
        one = attrgetter(names[0])
        return lambda obj: (one(obj),)
    return lambda _obj: ()


def _install(cls: type[_Shown]) -> None:
    """Work out cls's compared fields and the names repr shows, on first use (the fields are
    known only once @dataclass has run, after the class statement)."""
    own = fields(cls)  # type: ignore[arg-type]
    cls._record_eq = _getter([f.name for f in own if f.compare])
    cls._record_hash = _getter([f.name for f in own if (f.compare if f.hash is None else f.hash)])
    cls._record_repr = tuple(f.name for f in own if f.repr)


def _compared(record: _Shown) -> Key:
    if record.__class__._record_eq is None:
        _install(record.__class__)
    key = record.__class__._record_eq
    assert key is not None
    return key


class _Shown:
    """@dataclass's repr."""

    # Per class, set on first use by _install: the tuple of the compared fields, of the hashed
    # fields, the names repr shows. Held on the class itself, and each subclass starts again at None (it may add fields).
    _record_eq: ClassVar[Key | None] = None
    _record_hash: ClassVar[Key | None] = None
    _record_repr: ClassVar[tuple[str, ...] | None] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._record_eq = cls._record_hash = cls._record_repr = None

    @reprlib.recursive_repr()
    def __repr__(self) -> str:
        if self.__class__._record_repr is None:
            _install(self.__class__)
        names = self.__class__._record_repr or ()
        inner = ", ".join(f"{name}={getattr(self, name)!r}" for name in names)
        return f"{self.__class__.__qualname__}({inner})"


class _Compared(_Shown):
    """@dataclass's eq."""

    def __eq__(self, other: object) -> bool:
        if other.__class__ is self.__class__:
            key = _compared(self)
            return key(self) == key(other)
        return NotImplemented


class Record(_Compared):
    """@dataclass's eq and repr for a mutable dataclass (declared eq=False, repr=False)."""

    __hash__ = None  # type: ignore[assignment]  # unhashable, as @dataclass(eq=True) leaves it


class FrozenRecord(_Compared):
    """@dataclass's eq, hash and repr for a frozen dataclass (declared frozen=True, eq=False,
    repr=False). A class whose instances are dict keys or set members on a lint's hot path (a
    probe, a span, an audience) is declared frozen=True, repr=False instead: @dataclass's
    compiled eq and hash, which then override these, read the fields several times faster than
    the generic reader here (operator.attrgetter), and tens of thousands of lookups outweigh
    their compilation."""

    def __hash__(self) -> int:
        if self.__class__._record_hash is None:
            _install(self.__class__)
        key = self.__class__._record_hash
        assert key is not None
        return hash(key(self))


class OrderedRecord(FrozenRecord):
    """FrozenRecord with order=True's <, <=, >, >= (the compared fields as a tuple): sorting is
    rare enough for the generic reader. Declared frozen=True, repr=False (and no order=True)."""

    def __lt__(self, other: object) -> bool:
        if other.__class__ is self.__class__:
            key = _compared(self)
            return key(self) < key(other)
        return NotImplemented

    def __le__(self, other: object) -> bool:
        if other.__class__ is self.__class__:
            key = _compared(self)
            return key(self) <= key(other)
        return NotImplemented

    def __gt__(self, other: object) -> bool:
        if other.__class__ is self.__class__:
            key = _compared(self)
            return key(self) > key(other)
        return NotImplemented

    def __ge__(self, other: object) -> bool:
        if other.__class__ is self.__class__:
            key = _compared(self)
            return key(self) >= key(other)
        return NotImplemented

"""squidGuard's list files: domainlist and urllist (with an optional `.diff`), expressionlist.

A domainlist or urllist is streamed once per set of queries (blacklists run to millions of lines)
and summarised: the entries that cover a query as documented, and the neighbours squidGuard
1.6's B-tree would compare it with (`SgList.documented`, `SgList.emulated`).

It is read in blocks of about 1 MiB of whole lines. A block of bare entries (one name per line:
no blank or comment line, no +/- mark, no whitespace, and in a urllist no user@ or :port) is
keyed with whole-block operations and only the lines that can change the summary are looked at
one by one; any other block is read line by line. Both give the same summary (a test holds
them to it).
"""

from __future__ import annotations

import bisect
import functools
import itertools
import operator
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from policy_lint.dialects.proxies.squidguard.urls import ASCII_LOWER, ascii_lower, strip_url_key
from policy_lint.dialects.semantics.patterns import BoundedPattern
from policy_lint.inputs import MAX_FILE_BYTES, InputError
from policy_lint.model import Span
from policy_lint.records import Record


def _order_domain(key: str) -> str:
    """squidGuard's domainCompare as a sort key: reversed, '.' sorting before everything."""
    return key[::-1].replace(".", "\x01")


def sg_str_rncmp(a: str, b: str, blen: int) -> int:
    """squidGuard's sgStrRncmp (compare backwards from the terminating NUL, blen steps)."""
    A, B = a + "\0", b + "\0"
    i, j = len(a), len(b)
    while A[i] == B[j] and blen > 0:
        if j == 0 or i == 0:
            break
        i -= 1
        j -= 1
        blen -= 1
    return (
        ord(A[i]) - ord(B[j])
        if (i == 0 and j == 0) or blen == 0
        else (-1 if i == 0 else 1 if j == 0 else ord(A[i]) - ord(B[j]))
    )


def list_lines(path: Path, display: str) -> Iterator[tuple[int, str]]:
    """Stream a list file (blacklists run to millions of lines): bounded, never all in memory."""
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise InputError(f"{display}: file too large ({size} bytes; limit {MAX_FILE_BYTES})")
        with open(path, "rb") as fh:
            head = fh.read(8192)
            if b"\x00" in head:
                raise InputError(f"{display}: binary file (a Berkeley .db?), not a text list")
            fh.seek(0)
            for n, raw in enumerate(fh, start=1):
                yield n, raw.decode("latin-1").rstrip("\r\n")
    except OSError as exc:
        raise InputError(f"{display}: cannot read: {exc.strerror or exc}") from None


# Bytes that make a block of a list need reading line by line: whitespace as str.split() sees
# it in latin-1 text (a key ends there), \x01 (the order's stand-in for '.'), NUL; and for a
# urllist '@' and ':' (sgStripUrl drops user@ and :port).
_WHITESPACE = b" \t\r\x0b\x0c\x1c\x1d\x1e\x1f\x85\xa0\x00\x01"
_DIRTY_DOMAIN = bytes(b for b in range(256) if bytes([b]) not in _WHITESPACE)  # deleted: the clean ones
_DIRTY_URL = bytes(b for b in _DIRTY_DOMAIN if b not in b"@:")
_MARKS = b"#+-\n"
_BLOCK_BYTES = 1 << 20


def list_blocks(path: Path, display: str) -> Iterator[bytes]:
    """A list file in blocks of whole lines, each without its final newline (a block of n
    newlines holds n + 1 lines): bounded reads, as list_lines, for the whole-block fast path."""
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise InputError(f"{display}: file too large ({size} bytes; limit {MAX_FILE_BYTES})")
        with open(path, "rb") as fh:
            head = fh.read(8192)
            if b"\x00" in head:
                raise InputError(f"{display}: binary file (a Berkeley .db?), not a text list")
            fh.seek(0)
            carry = b""
            while True:
                chunk = fh.read(_BLOCK_BYTES)
                if not chunk:
                    break
                data = carry + chunk
                cut = data.rfind(b"\n")
                if cut < 0:
                    carry = data
                    continue
                block, carry = data[:cut], data[cut + 1 :]
                yield block
            if carry:
                yield carry
    except OSError as exc:
        raise InputError(f"{display}: cannot read: {exc.strerror or exc}") from None


@dataclass(eq=False, repr=False)
class _Summary(Record):
    """What one lookup state (the list as loaded, or after `squidGuard -u`) says about the
    query keys: documented hits, and the neighbours squidGuard 1.6's B-tree would compare.
    Entries are (key, span) pairs; spans are made only for the few entries kept."""

    display: str
    hits: dict[str, Span] = field(default_factory=dict)  # entry key -> where (relevant keys only)
    exact: dict[int, tuple[str, Span]] = field(default_factory=dict)  # query index -> equal entry
    gap_min: dict[int, tuple[str, str, Span]] = field(default_factory=dict)  # gap -> (order, key, span)
    gap_max: dict[int, tuple[str, str, Span]] = field(default_factory=dict)
    entries: int = 0
    source: str = ""  # the file of the entry being added, when not the list itself (a .diff)

    def span(self, n: int, raw: str) -> Span:
        return Span(self.source or self.display, n, 1, raw.strip())

    def add(
        self,
        key: str,
        order: str,
        n: int,
        raw: str,
        interesting: set[str],
        qorder: list[str],
        source: str = "",
    ) -> None:
        if source != self.source:
            self.source = source
        self.entries += 1
        if key in interesting and key not in self.hits:
            self.hits[key] = self.span(n, raw)
        i = bisect.bisect_left(qorder, order)
        if i < len(qorder) and qorder[i] == order:
            if i not in self.exact:
                self.exact[i] = (key, self.span(n, raw))
            return
        lo = self.gap_min.get(i)
        if lo is None or order < lo[0]:
            self.gap_min[i] = (order, key, self.span(n, raw))
        hi = self.gap_max.get(i)
        if hi is None or order > hi[0]:
            self.gap_max[i] = (order, key, self.span(n, raw))

    def neighbours(self, qi: int, nq: int) -> tuple[tuple[str, Span] | None, tuple[str, Span] | None]:
        """(the largest entry below query qi, the smallest entry above it)."""
        pred = succ = None
        for g in range(qi, -1, -1):
            if g in self.gap_max:
                pred = self.gap_max[g][1:]
                break
            if g - 1 >= 0 and g - 1 in self.exact:
                pred = self.exact[g - 1]
                break
        for g in range(qi + 1, nq + 1):
            if g in self.gap_min:
                succ = self.gap_min[g][1:]
                break
            if g in self.exact:
                succ = self.exact[g]
                break
        return pred, succ


def _candidates(
    orders: list[str], states: list[tuple[list[str], list[str]]], must: set[str]
) -> Iterator[int]:
    """The indices, in order, of the entries of a clean block that may change a summary: those
    in `must`, or outside their gap's bounds in some state (`states`: each state's (lower,
    upper) bounds by gap, widened by the caller as it adds entries). The others would only be
    counted.

    The marks are every gap's bounds, sorted; an entry lands (bisect_left) at the first mark >=
    it. Landing on a mark above a gap's lower bound and at most its upper bound in every state
    means lo < entry <= hi. All of it runs in C-level passes over the block. The marks are
    rebuilt per slice, slices growing from a few hundred lines (the bounds are empty at first)
    to 8,192; bounds only widen, so marks a slice old skip nothing they must not."""
    bisect_left = bisect.bisect_left
    empty = "\u0100"  # an empty gap's lower bound
    start, step = 0, 256
    while start < len(orders):
        lows = [max(los) for los in zip(*(lo for lo, _hi in states), strict=True)]
        highs = [min(his) for his in zip(*(hi for _lo, hi in states), strict=True)]
        marks = sorted({b for b in lows if b != empty} | {b for b in highs if b})
        check = [True] * (len(marks) + 1)
        for low, high in zip(lows, highs, strict=True):
            if low == empty or low > high:
                continue  # a gap empty in some state, or with no entry inside both
            a, b = bisect_left(marks, low), bisect_left(marks, high)
            check[a + 1 : b + 1] = [False] * (b - a)
        part = orders[start : start + step]
        outside = map(check.__getitem__, map(functools.partial(bisect_left, marks), part))
        flags = map(operator.or_, outside, map(must.__contains__, part))
        yield from itertools.compress(range(start, start + len(part)), flags)
        start += len(part)
        step = min(step * 2, 8192)


class SgList:
    """One domainlist or urllist file, with its optional `.diff`, read for a set of queries.

    Two states: `base` (the text as loaded, or built with `squidGuard -C`) and `updated` (after
    `squidGuard -u` applied the .diff). Without a .diff both are the same.
    """

    def __init__(
        self,
        kind: str,
        ref: str,
        span: Span,
        path: Path | None,
        display: str,
        diff: Path | None,
        diff_display: str,
    ):
        self.kind = kind  # "domain" | "url"
        self.ref = ref
        self.span = span
        self.path = path
        self.display = display
        self.diff = diff
        self.diff_display = diff_display
        self.error: str | None = None
        self._queries: list[str] = []
        self._query_set: set[str] = set()  # the same, for ensure(): called for every request
        self._states: dict[str, _Summary] = {}

    @property
    def missing(self) -> bool:
        return self.path is None or self.error is not None

    def states(self) -> tuple[str, ...]:
        return ("base", "updated") if self.diff is not None else ("base",)

    # -- keys
    def _key(self, raw: str) -> str | None:
        line = raw
        if not line or line.startswith("#"):
            return None
        if line[0] in "+-":
            line = line[1:]
        parts = line.split(None, 1)
        if not parts:
            return None
        key = ascii_lower(parts[0])
        if self.kind == "domain":
            return "." + key
        return key if key.startswith(".") else strip_url_key(key)

    def _order(self, key: str) -> str:
        return _order_domain(key) if self.kind == "domain" else key

    def _interesting(self, queries: list[str]) -> set[str]:
        out: set[str] = set()
        for q in queries:
            if self.kind == "domain":
                labels = q.split(".")
                out.update("." + ".".join(labels[i:]) for i in range(1, len(labels)))
            else:
                out.update(q[:n] for n in range(1, len(q) + 1))
        return out

    # -- loading
    def ensure(self, queries: list[str]) -> None:
        if self.missing:
            return
        known = self._query_set
        new = [q for q in queries if q not in known]
        if not new and self._states:
            return
        known.update(new)
        self._queries = sorted(known, key=self._order)
        try:
            self._scan()
        except InputError as exc:
            self.error = str(exc)
            self._states = {}

    def _diff_ops(self) -> dict[str, tuple[bool, Span]]:
        """sgDbLoadTextFile(update=1): '+' adds, '-' removes, an unmarked line repeats the last
        mark (deleting until the first '+'). The last operation on a key wins."""
        ops: dict[str, tuple[bool, Span]] = {}
        if self.diff is None:
            return ops
        add = False
        for n, raw in list_lines(self.diff, self.diff_display):
            if not raw or raw.startswith("#"):
                continue
            if raw[0] in "+-":
                add = raw[0] == "+"
            key = self._key(raw)
            if key is not None:
                ops[key] = (add, Span(self.diff_display, n, 1, raw.strip()))
        return ops

    def _scan(self) -> None:
        assert self.path is not None  # ensure() scans only a list that was found
        ops = self._diff_ops()
        qorder = [self._order(q) for q in self._queries]
        interesting = self._interesting(self._queries)
        base = _Summary(self.display)
        updated = _Summary(self.display) if self.diff is not None else base
        domain = self.kind == "domain"
        nq = len(qorder)
        # Each state's gap bounds as lists by gap (mirrors of _Summary.gap_min/gap_max, the
        # entries' own order strings): an entry inside its gap's bounds changes nothing. An
        # empty gap's bounds admit every entry ('\u0100' sorts after any latin-1 text).
        bounds = {id(st): (["\u0100"] * (nq + 1), [""] * (nq + 1)) for st in (base, updated)}
        bisect_left = bisect.bisect_left

        def add(st: _Summary, key: str, order: str, i: int, n: int, raw: str) -> None:
            st.add(key, order, n, raw, interesting, qorder)
            lo, hi = bounds[id(st)]
            g = st.gap_min.get(i)
            if g is not None:
                lo[i], hi[i] = g[0], st.gap_max[i][0]

        def line(n: int, raw: str) -> None:
            """One line, as squidGuard's sgDbLoadTextFile reads it (any text)."""
            if not raw or raw[0] == "#":
                return
            text = raw[1:] if raw[0] in "+-" else raw
            parts = text.split(None, 1)
            if not parts:
                return
            key = parts[0]
            key = key.lower() if key.isascii() else key.translate(ASCII_LOWER)
            if domain:
                key = "." + key
                order = key[::-1].replace(".", "\x01")
            else:
                if key[0] != ".":
                    key = strip_url_key(key)
                order = key
            i = bisect_left(qorder, order)
            for st in (base, updated) if updated is not base else (base,):
                if st is updated and updated is not base:
                    op = ops.get(key)
                    if op is not None and not op[0]:
                        continue
                lo, hi = bounds[id(st)]
                if key in interesting or (i < nq and qorder[i] == order) or order < lo[i] or order > hi[i]:
                    add(st, key, order, i, n, raw)
                else:
                    st.entries += 1

        # A block of bare entries (one name per line: no blanks, comments, marks, spaces, and
        # for urllists no user@ or :port) is read with whole-block operations; the key of each
        # line is then the line itself, and an entry needs a look only when it is of interest
        # or outside its gap's bounds. Any other block goes line by line.
        dirty_bytes = _DIRTY_DOMAIN if domain else _DIRTY_URL
        # Keyed by order, which names a key as well in a clean block (no \x01 in it; a key with
        # one cannot be a clean line's, and its order could be another key's).
        orders_of_interest = {self._order(k) for k in interesting if "\x01" not in k}
        order_ops = {self._order(k): v for k, v in ops.items() if "\x01" not in k}
        first = 1
        # An entry equal to one of these is always looked at: a query, an entry of interest, a
        # key the .diff names (the updated state drops a removed one).
        must = set(qorder) | orders_of_interest | set(order_ops)
        states = [bounds[id(base)]] if updated is base else [bounds[id(base)], bounds[id(updated)]]
        blo, bhi = bounds[id(base)]
        ulo, uhi = bounds[id(updated)]
        diffed = updated is not base
        for block in list_blocks(self.path, self.display):
            if (
                not block
                or block.translate(None, dirty_bytes)
                or block[0] in _MARKS
                or block[-1] == 10  # an empty last line
                or b"\n\n" in block
                # (a one-byte search first: memchr, much cheaper than a two-byte one)
                or (b"#" in block and b"\n#" in block)
                or (b"+" in block and b"\n+" in block)
                or b"\n-" in block
            ):
                texts = block.decode("latin-1").split("\n")
                for k, raw in enumerate(texts):
                    line(first + k, raw.rstrip("\r\n"))
                first += len(texts)
                continue
            low = block.lower()
            if domain:
                # key[::-1].replace(".", "\x01") of every "." + line at once: the block reversed
                # lists the lines last to first.
                orders = (
                    (b"." + low.replace(b"\n", b"\n."))[::-1]
                    .replace(b".", b"\x01")
                    .decode("latin-1")
                    .split("\n")
                )
                orders.reverse()
            else:
                orders = low.decode("latin-1").split("\n")
            # A line as written: its key without the leading "." when the block has no capital
            # letter, else decoded once for the block.
            raws: list[str] | None = None
            lowercase = low == block
            looked = [0, 0]  # lines of this block that base / updated took or dropped itself
            # Only the lines that may change a state are looked at, each in both states.
            for k in _candidates(orders, states, must):
                order = orders[k]
                i = bisect_left(qorder, order)
                key = order[::-1].replace("\x01", ".") if domain else order
                if lowercase:
                    raw = key[1:] if domain else key
                else:
                    if raws is None:
                        raws = block.decode("latin-1").split("\n")
                    raw = raws[k]
                if order < blo[i] or order > bhi[i] or order in must:
                    looked[0] += 1
                    add(base, key, order, i, first + k, raw)
                if diffed:
                    op = order_ops.get(order)
                    if op is not None and not op[0]:
                        looked[1] += 1  # removed by the .diff: not an entry of this state
                    elif order < ulo[i] or order > uhi[i] or order in must:
                        looked[1] += 1
                        add(updated, key, order, i, first + k, raw)
            base.entries += len(orders) - looked[0]
            if diffed:
                updated.entries += len(orders) - looked[1]
            first += len(orders)
        if updated is not base:
            for key, (add_op, span) in ops.items():
                if add_op:
                    updated.add(
                        key, self._order(key), span.line, span.text, interesting, qorder, self.diff_display
                    )
            updated.source = ""
        self._states = {"base": base, "updated": updated}

    # -- lookups
    def documented(self, query: str, state: str) -> Span | None:
        """The entry that covers `query` as the documentation says (domain: the entry is the
        host or a parent domain; url: the entry is a prefix), or None."""
        s = self._states.get(state)
        if s is None:
            return None
        if self.kind == "domain":
            labels = query.split(".")
            for i in range(1, len(labels)):
                hit = s.hits.get("." + ".".join(labels[i:]))
                if hit is not None:
                    return hit
            return None
        for n in range(len(query), 0, -1):
            hit = s.hits.get(query[:n])
            if hit is not None:
                return hit
        return None

    def emulated(self, query: str, state: str) -> tuple[Span | None, Span | None]:
        """squidGuard 1.6's `defined()`: (the entry that matched or None, the neighbour entry
        that decided a miss). Only the entry found by DB_SET_RANGE and its predecessor count."""
        s = self._states.get(state)
        if s is None:
            return None, None
        qi = self._queries.index(query)
        if qi in s.exact:
            return s.exact[qi][1], None
        pred, succ = s.neighbours(qi, len(self._queries))
        if self.kind == "domain":
            if succ is not None:
                if query.startswith(succ[0]):
                    return succ[1], None
                if pred is None:
                    return None, succ[1]
                if (
                    sg_str_rncmp(succ[0], pred[0], len(pred[0])) != 0
                    and sg_str_rncmp(pred[0], query, len(pred[0])) == 0
                ):
                    return pred[1], None
                return None, succ[1] if sg_str_rncmp(pred[0], query, len(pred[0])) == 0 else pred[1]
            if pred is not None and sg_str_rncmp(pred[0], query, len(pred[0])) == 0:
                return pred[1], None
            return None, None
        if succ is not None:
            if query.startswith(succ[0]):
                return succ[1], None
            if pred is None:
                return None, None
            if not succ[0].startswith(pred[0]) and query.startswith(pred[0]):
                return pred[1], None
            return None, succ[1] if query.startswith(pred[0]) else None
        if pred is not None and query.startswith(pred[0]):
            return pred[1], None
        return None, None


@dataclass(eq=False, repr=False)
class ExprList(Record):
    ref: str
    span: Span
    path: Path | None
    display: str
    patterns: list[tuple[BoundedPattern, Span]] = field(default_factory=list)
    truncated: bool = False
    error: str | None = None

    @property
    def missing(self) -> bool:
        return self.path is None or self.error is not None

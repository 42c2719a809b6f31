"""Jinja2 templates rendered without running anything: a sandbox, no loader, symbolic unknowns.

Ansible renders `templates/*.j2` with the variables the role and the inventory give. Here the
same template is rendered by Jinja2's SandboxedEnvironment (no attribute of Python internals,
no file access: `{% include %}`/`{% import %}` find nothing, and say so), with Ansible's
template defaults (`trim_blocks`). A variable nobody defines renders as a symbolic value (its
expression, marked: extract/symbolic), as does any filter or function Jinja2 itself does not
have (Ansible's `ipaddr`, `lookup()`): they are never run. A loop over an undefined value runs
once over a symbolic item, so what it writes is unknown where it matters; `{% if %}` on an
undefined value takes the branch. Output past
MAX_OUTPUT characters, huge repetitions and exponents, and renderings past MAX_SECONDS (nested
loops writing nothing) are refused: no resource exhaustion, no hang.
"""

from __future__ import annotations

import re
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from policy_lint.extract.model import mark

MAX_OUTPUT = 4 * 1024 * 1024
MAX_REPEAT = 100_000
MAX_SECONDS = 10.0
_PROTOCOL = frozenset({"unsafe_callable", "alters_data", "jinja_pass_arg", "jinja_async_variant"})
_TAG = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}")


@dataclass
class Rendered:
    lines: list[str]
    line_map: list[int]  # template line of each output line
    problems: list[tuple[str, int, str]] = field(default_factory=list)  # (code, line, message)
    # Template line ranges (first, last, condition) of `{% if %}` blocks whose condition tests a
    # value nobody defines: what they write, or leave out, is unknown.
    conditional: list[tuple[int, int, str]] = field(default_factory=list)


def environment(problems: list[tuple[str, int, str]], template: str, tested: set[str] | None = None) -> Any:
    """A sandboxed Jinja2 environment whose undefined values and unknown filters stay symbolic."""
    from jinja2 import DictLoader, Undefined
    from jinja2.sandbox import SandboxedEnvironment, SecurityError

    class Symbolic(Undefined):
        __slots__ = ()

        def _name(self) -> str:
            return str(self._undefined_name or "value")

        def __str__(self) -> str:
            return mark("{{ " + self._name() + " }}")

        def __getattr__(self, name: str) -> Any:
            # Markers Jinja2 and its sandbox look up (`unsafe_callable`, `jinja_pass_arg`)
            # must not answer, or every call of an unknown would be refused.
            if name.startswith("_") or name in _PROTOCOL:
                raise AttributeError(name)
            return Symbolic(name=f"{self._name()}.{name}")

        def __getitem__(self, key: Any) -> Any:
            return Symbolic(name=f"{self._name()}[{key!r}]")

        def __call__(self, *args: Any, **kwargs: Any) -> Any:
            return Symbolic(name=f"{self._name()}(...)")

        def __iter__(self) -> Iterator[Any]:
            # A loop over an unknown list runs once over an unknown item: what it writes is
            # then symbolic (unknown where it matters), never silently nothing.
            yield Symbolic(name=f"{self._name()}[item]")

        # A comparison with an unknown is unknown (not False): `{% if mode == "strict" %}`
        # then takes the branch and is remembered as a condition on `mode`.
        def _compare(self, other: Any) -> Any:
            return Symbolic(name=self._name())

        __eq__ = __ne__ = __lt__ = __le__ = __gt__ = __ge__ = _compare  # an unknown, not a bool
        __hash__ = Undefined.__hash__

        def __bool__(self) -> bool:
            # `{% if x %}` on an unknown: take the branch, and remember that a condition on
            # x decided it (render() marks the block's lines unknown).
            if tested is not None:
                tested.add(self._name())
            return True

    class Filters(dict):
        """Jinja2's filters, and a symbolic one for any other name (Ansible's): never run."""

        def get(self, name: Any, default: Any = None) -> Any:
            return dict.get(self, name) or (lambda value, *a, **k: Symbolic(name=f"{value} | {name}"))

        def __missing__(self, name: Any) -> Any:
            return self.get(name)

    class Sandbox(SandboxedEnvironment):
        intercepted_binops = frozenset({"*", "**"})

        def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
            if operator == "**" and isinstance(right, int) and abs(right) > 64:
                raise SecurityError("exponent too large")
            if operator == "*":
                for seq, n in ((left, right), (right, left)):
                    if (
                        isinstance(seq, str | list | tuple)
                        and isinstance(n, int)
                        and n * max(len(seq), 1) > MAX_REPEAT
                    ):
                        raise SecurityError("repetition too large")
            return super().call_binop(context, operator, left, right)

    env = Sandbox(
        loader=DictLoader({}),
        undefined=Symbolic,
        trim_blocks=True,
        keep_trailing_newline=False,
        autoescape=False,
    )
    env.filters = Filters(env.filters)

    def defined(value: Any) -> bool:
        if isinstance(value, Symbolic):
            if tested is not None:
                tested.add(value._name())
            return True  # perhaps defined at deploy time: take the branch, marked unknown
        return True

    def undefined(value: Any) -> bool:
        if isinstance(value, Symbolic) and tested is not None:
            tested.add(value._name())
        return isinstance(value, Symbolic)

    env.tests = {**env.tests, "defined": defined, "undefined": undefined}
    return env


class RenderTimeout(Exception):
    """Rendering took longer than allowed (nested loops that write nothing)."""


@contextmanager
def _deadline(seconds: float) -> Iterator[None]:
    """Interrupt the rendering after `seconds` of CPU-bound work (a timer signal; only in the
    main thread, where Python delivers signals; elsewhere the output and range limits remain)."""
    if threading.current_thread() is not threading.main_thread() or seconds <= 0:
        yield
        return

    def expire(_signum: int, _frame: Any) -> None:
        raise RenderTimeout(f"rendering took longer than {seconds:g}s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def render(template: str, variables: dict[str, Any], seconds: float = MAX_SECONDS) -> Rendered:
    """The template's output lines mapped to template lines, or no lines and a problem."""
    from jinja2 import TemplateError, TemplateSyntaxError
    from jinja2.sandbox import SecurityError

    problems: list[tuple[str, int, str]] = []
    tested: set[str] = set()
    try:
        env = environment(problems, template, tested)
        chunks: list[str] = []
        size = 0
        with _deadline(seconds):
            # One mapping, not keywords: a variable may be called `self`.
            for chunk in env.from_string(template).generate(dict(variables)):
                size += len(chunk)
                if size > MAX_OUTPUT:
                    raise SecurityError(f"output larger than {MAX_OUTPUT} characters")
                chunks.append(chunk)
        output = "".join(chunks)
    except RenderTimeout as exc:
        return Rendered([], [], [("TE907", 1, f"template not rendered: {exc}")])
    except TemplateSyntaxError as exc:
        return Rendered([], [], [("TE901", exc.lineno or 1, f"not a template Jinja2 reads: {exc.message}")])
    except SecurityError as exc:
        return Rendered([], [], [("TE907", 1, f"template refused by the sandbox ({exc}): not rendered")])
    except (TemplateError, RecursionError, TypeError, ValueError, ArithmeticError) as exc:
        line = getattr(exc, "lineno", None) or 1
        return Rendered([], [], [("TE907", line, f"template not rendered: {exc}")])
    lines = output.splitlines()
    rendered = Rendered(lines, map_lines(template.splitlines(), lines), problems)
    rendered.conditional = _conditional_blocks(template.splitlines(), tested)
    return rendered


_IF = re.compile(r"\{%-?\s*(if|elif|else|endif)\b(.*?)-?%\}")


def _conditional_blocks(template: list[str], tested: set[str]) -> list[tuple[int, int, str]]:
    """The `{% if %}` ... `{% endif %}` line ranges whose conditions name a tested unknown."""
    roots = {re.split(r"[.\[(]", name, maxsplit=1)[0] for name in tested}
    if not roots:
        return []
    out: list[tuple[int, int, str]] = []
    stack: list[tuple[int, str]] = []
    for number, line in enumerate(template, start=1):
        for m in _IF.finditer(line):
            word, condition = m.group(1), m.group(2).strip()
            if word == "if":
                stack.append((number, condition))
            elif word == "elif" and stack:
                stack[-1] = (stack[-1][0], f"{stack[-1][1]} / {condition}")
            elif word == "endif" and stack:
                first, condition_text = stack.pop()
                if any(re.search(rf"\b{re.escape(r)}\b", condition_text) for r in roots):
                    out.append((first, number, "{% if " + condition_text + " %}"))
    return out


def _pattern(line: str) -> re.Pattern[str] | None:
    """A template line as a regex over its output (None: a line of tags alone writes nothing)."""
    parts = _TAG.split(line)
    literal = "".join(parts).strip()
    if not literal and _TAG.search(line):
        return None
    return re.compile("^" + ".*?".join(re.escape(p.strip()) for p in parts) + "$" if literal else "^$")


def map_lines(template: list[str], output: list[str]) -> list[int]:
    """Each output line's template line: the next template line whose literal text fits it (a
    loop's body repeats, so the search wraps to the start), else the last one found."""
    patterns = [_pattern(t) for t in template]
    out: list[int] = []
    at = 0
    for text in output:
        stripped = text.strip()
        found = None
        for k in [*range(at, len(patterns)), *range(at)]:
            p = patterns[k]
            if p is not None and p.match(stripped):
                found = k
                break
        if found is not None:
            at = found
        out.append(at + 1 if template else 1)
    return out


def evaluate(expression: Any, variables: dict[str, Any]) -> bool | None:
    """An Ansible `when:` (one expression, or a list all of which must hold) with these
    variables: True/False, or None when it tests a value nobody defines (or cannot be read)."""
    from jinja2 import TemplateError
    from jinja2.sandbox import SecurityError

    parts = expression if isinstance(expression, list) else [expression]
    result = True
    for part in parts:
        if isinstance(part, bool):
            result = result and part
            continue
        text = str(part).strip()
        if text.startswith("{{") and text.endswith("}}"):
            text = text[2:-2]
        tested: set[str] = set()
        try:
            env = environment([], text, tested)
            with _deadline(MAX_SECONDS):
                value = env.compile_expression(text, undefined_to_none=False)(dict(variables))
                truth = bool(value)
        except (
            TemplateError,
            SecurityError,
            RenderTimeout,
            RecursionError,
            TypeError,
            ValueError,
            ArithmeticError,
        ):
            return None
        if tested or type(value).__name__ == "Symbolic":
            return None
        result = result and truth
    return result

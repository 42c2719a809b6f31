"""HAProxy's configuration as the evaluator sees it: proxies (frontend, listen, backend), their
ACLs, ordered request rules and routing."""

from __future__ import annotations

from dataclasses import dataclass, field

from policy_lint.dialects.semantics.patterns import BoundedPattern
from policy_lint.model import Span

NAME = "haproxy"
FILE_PATTERNS = ("haproxy*.cfg", "*.haproxy.cfg", "haproxy.conf", "haproxy*.conf", "*.haproxy")


@dataclass(frozen=True)
class Line:
    """One config line split into words (quotes and escapes resolved), with its span."""

    span: Span
    words: tuple[str, ...]


@dataclass
class AclDef:
    """One `acl NAME FETCH [flags] [patterns]` line, or an anonymous `{ FETCH ... }`."""

    fetch: str
    span: Span
    method: str | None = None  # -m METHOD, else the fetch's own default
    ignore_case: bool = False
    patterns: list[tuple[str, Span]] = field(default_factory=list)
    regexes: list[tuple[BoundedPattern, Span]] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # -f files not found
    broken: str = ""  # why it cannot be evaluated (a bad regex); "" when fine
    # The patterns as a set (case-folded under -i; dom/dir without their outer delimiters),
    # built on first use by fetches.match_acl.
    index: frozenset[str] | None = None

    def key(self) -> str:
        """How an anonymous ACL is named as an audience condition."""
        return "{ " + " ".join([self.fetch, *(p for p, _s in self.patterns[:3])]) + " }"


@dataclass(frozen=True)
class Term:
    """One ACL reference in a condition: a name, or an anonymous ACL; `!` negates it."""

    negated: bool
    name: str = ""
    anonymous: AclDef | None = None


@dataclass(frozen=True)
class Cond:
    """`if|unless` followed by OR-groups of AND-ed terms (AND binds tighter than `||`/`or`)."""

    unless: bool
    groups: tuple[tuple[Term, ...], ...]


@dataclass(frozen=True)
class Rule:
    """A `tcp-request connection|content` or `http-request` rule: action, options, condition."""

    kind: str  # "tcp-connection" | "tcp-content" | "http"
    action: str
    args: tuple[str, ...]
    cond: Cond | None
    span: Span


@dataclass(frozen=True)
class Route:
    """`use_backend NAME [cond]` (or `default_backend NAME`, cond None)."""

    backend: str
    cond: Cond | None
    span: Span


@dataclass(frozen=True)
class Server:
    name: str
    address: str
    disabled: bool
    span: Span


@dataclass
class Proxy:
    """A frontend, listen or backend section with what it inherited from `defaults`."""

    kind: str  # frontend | listen | backend
    name: str
    span: Span
    mode: str = "tcp"
    acls: dict[str, list[AclDef]] = field(default_factory=dict)
    rules: list[Rule] = field(default_factory=list)
    routes: list[Route] = field(default_factory=list)
    default_backend: Route | None = None
    servers: list[Server] = field(default_factory=list)
    # Why requests reach the origin they ask for (set-dst, do-resolve, server 0.0.0.0, option
    # http_proxy, option transparent): the spans that make this a forward proxy.
    forward: list[Span] = field(default_factory=list)
    inspect_delay: bool = False  # tcp-request inspect-delay set (SNI can be waited for)
    binds: list[Span] = field(default_factory=list)
    tls_bind: bool = False  # a bind line with `ssl`: HAProxy terminates TLS itself
    disabled: Span | None = None  # `disabled`: the section does not run

    @property
    def is_frontend(self) -> bool:
        return self.kind in ("frontend", "listen")

    @property
    def is_backend(self) -> bool:
        return self.kind in ("backend", "listen")

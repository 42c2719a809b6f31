"""The shared vocabulary of policy-lint: plain frozen dataclasses, no I/O.

Dialects turn text into rules with spans, evaluate probes into decisions; the engine turns
decisions into verdicts and findings; reporters print findings. Everything that crosses those
boundaries is defined here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from policy_lint.records import FrozenRecord, OrderedRecord, Record


@dataclass(frozen=True, repr=False)
class Span(OrderedRecord):
    """Where a rule stands: 1-based line and column, and the rule's text as written."""

    path: str
    line: int
    col: int = 1
    text: str = ""

    def where(self) -> str:
        return f"{self.path}:{self.line}:{self.col}"


class Outcome(str, Enum):
    """What a device does with one request."""

    ALLOW = "allow"
    DENY = "deny"
    THROTTLE = "throttle"  # delivered, but through a bandwidth or delay limit
    UNKNOWN = "unknown"  # depends on data we do not have (a missing list, a URL rewriter)


@dataclass(frozen=True, repr=False)
class Probe(FrozenRecord):
    """One request a user of a service makes; evaluated against every ruleset.

    `role` says what the host is for the service: `primary` (the site itself), a supporting
    role (`cdn`, `api`, `auth`, `short-link`, `messaging`) whose loss degrades the site, or a
    hygiene role (`ads`, `analytics`, `tracking`, `widget`) whose loss leaves the site working.
    The control probe has service `None`.
    """

    service: str | None
    host: str
    role: str
    scheme: str  # "https" (a CONNECT / TLS with SNI) or "http" (a plain GET)
    port: int
    path: str = "/"
    addresses: tuple[str, ...] = ()

    @property
    def method(self) -> str:
        return "CONNECT" if self.scheme == "https" else "GET"

    @property
    def url(self) -> str:
        if self.scheme == "https":
            return f"https://{self.host}{self.path}"
        return f"http://{self.host}{self.path}"

    @property
    def is_control(self) -> bool:
        return self.service is None

    def label(self) -> str:
        return f"{self.scheme}://{self.host}{self.path if self.path != '/' else ''}"


@dataclass(frozen=True, repr=False)
class Audience(FrozenRecord):
    """A kind of client, as the device tells clients apart.

    `conditions` are the device's own words for it (e.g. `arp menadzerowie`, `time
    godziny_pracy`); `attributes` are concrete representative values a policy can match
    (`src`, `user`, `group`, `mac`, `time`). The empty audience is "everyone".
    """

    key: tuple
    conditions: tuple[str, ...] = ()
    attributes: tuple[tuple[str, str], ...] = ()

    def describe(self) -> str:
        return " & ".join(self.conditions) if self.conditions else "everyone"

    def attribute(self, name: str) -> str | None:
        for k, v in self.attributes:
            if k == name:
                return v
        return None


EVERYONE = Audience(key=())


@dataclass(frozen=True, repr=False)
class Decision(FrozenRecord):
    """The device's answer to one probe from one audience, and why.

    `rule` is the span that decided it (None for a built-in default); `trace` lists the spans
    consulted on the way, in order; `partial` marks a deny that covers only part of the
    service's addresses; `specific` is true when the deciding rule matched because of
    what was requested (a domain, a URL), not only because of who asked; `how` names the
    mechanism (`403`, `reset`, `redirect`, `tls-terminate`, `delay-pool`, ...).
    """

    outcome: Outcome
    rule: Span | None = None
    trace: tuple[Span, ...] = ()
    specific: bool = False
    how: str = ""
    note: str = ""
    scope: str = ""  # who the deciding rule applies to, in the device's words ("" = anyone)
    # A deny that stops only part of what the probe reaches (some of a service's address
    # prefixes): users still get through, so it counts as partial, not as a block.
    partial: bool = False


class Verdict(str, Enum):
    BLOCKED = "blocked"
    BLOCKED_PARTIAL = "blocked-partial"
    DEGRADED = "degraded"
    THROTTLED = "throttled"
    ALLOWED = "allowed"
    UNAFFECTED = "unaffected"
    UNKNOWN = "unknown"


class Severity(str, Enum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


@dataclass(frozen=True, eq=False, repr=False)
class Problem(FrozenRecord):
    """An input problem a dialect met while parsing (becomes a TE9xx finding)."""

    code: str
    span: Span
    message: str


@dataclass(frozen=True, repr=False)
class Finding(FrozenRecord):
    code: str
    severity: Severity
    span: Span
    message: str
    service: str | None = None
    audiences: tuple[str, ...] = ()
    trace: tuple[Span, ...] = ()


@dataclass(eq=False, repr=False)
class ServiceResult(Record):
    """Per config file and service: the verdict and the rules that decided it."""

    verdict: Verdict
    audiences: list[str] = field(default_factory=list)
    rules: list[Span] = field(default_factory=list)
    summary: str = ""

"""dnsmasq (dnsmasq.conf, /etc/dnsmasq.d/*, dnsmasq-format blocklists).

dnsmasq answers a name from its hosts files first (/etc/hosts, `addn-hosts=`, `hostsdir=`:
exact names, the first line wins), then from the most specific `address=`, `server=` or
`local=` domain that the name is or is under. At that domain, for an A query: an IPv4
`address=` answers with it, else `#` (the NULL address), else a `server=` forwards, else a
domain without an upstream answers NXDOMAIN. So in

    address=/facebook.com/            # NXDOMAIN for facebook.com and every subdomain
    server=/twitter.com/              # the same: "local only", never forwarded
    address=/x.com/0.0.0.0            # sinkhole (also 127.0.0.1, ::, and `#` for both families)
    server=/linkedin.com/1.2.3.4      # forwarded to another resolver: not a block
    address=/#/0.0.0.0                # every other name: sinkhole ...
    server=/licdn.com/#               # ... except licdn.com, resolved by the usual servers

Facebook, Twitter and X are blocked (with every subdomain), LinkedIn's pages still resolve,
everything else is sinkholed except licdn.com. `/#/` is the level of the default upstream
servers, where a forward beats a rule without an address: `address=/#/` (no address) answers
NXDOMAIN only when there are no upstreams (`no-resolv` and no `server=IP`). A name in a hosts
file is answered from it for the address families it lists there (checked against dnsmasq 2.90).
`/.d/` means `/d/`, `/*.d/` only d's subdomains (for them more specific than `/d/`, less than
`/www.d/`), `/*d/` any name ending in d (the longest matching suffix wins, as text; the
non-wildcard form first at equal length). `conf-file=`, `conf-dir=DIR[,*.conf|,.bak...]` and `servers-file=` are
followed (inside --root, loop-safe); a referenced file that is missing makes the names it
could decide `unknown` (unless its name says it holds another topic, see listnames.py).
`ipset=`/`nftset=` only fill firewall sets (not a block by themselves); `bogus-nxdomain=`
naming a service's address turns upstream answers holding it into NXDOMAIN (`unknown`);
`conf-script=` runs a program (never run here: `unknown`). Options that answer names in ways not
evaluated here (`cname=`, `host-record=`, `interface-name=`, `dynamic-host=`, `synth-domain=`,
`auth-zone=`, `dns-rr=`, `alias=`, `ignore-address=`, `filter-a`, `filter-rr=`, `connmark-allowlist*`)
make the names they can answer `unknown` (TE908). Since dnsmasq 2.86 an `address=`
with an IPv4 address leaves AAAA queries to the upstream servers: the note says so.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from fnmatch import fnmatch
from pathlib import Path

from policy_lint.catalog import Catalog
from policy_lint.dialects.dns.dnsmasq_stream import lines_to_read, relevant_pattern
from policy_lint.dialects.dns.hosts import (
    HostsScan,
    address_decision,
    parse_address,
    scan_hosts,
    wanted_names,
)
from policy_lint.dialects.semantics.base import ParseContext
from policy_lint.dialects.semantics.linestream import NotStreamable
from policy_lint.dialects.semantics.listnames import classify_list_name
from policy_lint.dialects.semantics.names import NameRuleset, suffixes
from policy_lint.inputs import InputError, read_source
from policy_lint.model import Decision, Outcome, Problem, Span

NAME = "dnsmasq"
FILE_PATTERNS = (
    "dnsmasq.conf",
    "dnsmasq*.conf",
    "*dnsmasq*.conf",
    "*.dnsmasq",
    "dnsmasq*.txt",
    "*-dnsmasq.txt",
)
MAX_INCLUDE_DEPTH = 16
ALL = "#"  # `/#/`: every name

# dnsmasq 2.90 `--help` (long options); an unknown option makes dnsmasq refuse to start.
KNOWN_OPTIONS = frozenset(
    [
        "add-cpe-id",
        "add-mac",
        "add-subnet",
        "addn-hosts",
        "address",
        "alias",
        "all-servers",
        "auth-peer",
        "auth-sec-servers",
        "auth-server",
        "auth-soa",
        "auth-ttl",
        "auth-zone",
        "bind-dynamic",
        "bind-interfaces",
        "bogus-nxdomain",
        "bogus-priv",
        "bootp-dynamic",
        "bridge-interface",
        "caa-record",
        "cache-rr",
        "cache-size",
        "clear-on-reload",
        "cname",
        "conf-dir",
        "conf-file",
        "conf-script",
        "connmark-allowlist",
        "connmark-allowlist-enable",
        "conntrack",
        "dhcp-alternate-port",
        "dhcp-authoritative",
        "dhcp-boot",
        "dhcp-broadcast",
        "dhcp-circuitid",
        "dhcp-client-update",
        "dhcp-duid",
        "dhcp-fqdn",
        "dhcp-generate-names",
        "dhcp-host",
        "dhcp-hostsdir",
        "dhcp-hostsfile",
        "dhcp-ignore",
        "dhcp-ignore-clid",
        "dhcp-ignore-names",
        "dhcp-lease-max",
        "dhcp-leasefile",
        "dhcp-luascript",
        "dhcp-mac",
        "dhcp-match",
        "dhcp-name-match",
        "dhcp-no-override",
        "dhcp-option",
        "dhcp-option-force",
        "dhcp-optsdir",
        "dhcp-optsfile",
        "dhcp-proxy",
        "dhcp-pxe-vendor",
        "dhcp-range",
        "dhcp-rapid-commit",
        "dhcp-relay",
        "dhcp-remoteid",
        "dhcp-reply-delay",
        "dhcp-script",
        "dhcp-scriptuser",
        "dhcp-sequential-ip",
        "dhcp-subscrid",
        "dhcp-ttl",
        "dhcp-userclass",
        "dhcp-vendorclass",
        "dns-forward-max",
        "dns-loop-detect",
        "dns-rr",
        "dnssec",
        "dnssec-check-unsigned",
        "dnssec-debug",
        "dnssec-limits",
        "dnssec-no-timecheck",
        "dnssec-timestamp",
        "domain",
        "domain-needed",
        "dumpfile",
        "dumpmask",
        "dynamic-host",
        "edns-packet-max",
        "enable-dbus",
        "enable-ra",
        "enable-tftp",
        "enable-ubus",
        "except-interface",
        "expand-hosts",
        "fast-dns-retry",
        "filter-a",
        "filter-aaaa",
        "filter-rr",
        "filterwin2k",
        "group",
        "help",
        "host-record",
        "hostsdir",
        "ignore-address",
        "interface",
        "interface-name",
        "ipset",
        "keep-in-foreground",
        "leasefile-ro",
        "listen-address",
        "local",
        "local-service",
        "local-ttl",
        "localise-queries",
        "localmx",
        "log-async",
        "log-debug",
        "log-dhcp",
        "log-facility",
        "log-queries",
        "max-cache-ttl",
        "max-port",
        "max-tcp-connections",
        "max-ttl",
        "min-cache-ttl",
        "min-port",
        "mx-host",
        "mx-target",
        "naptr-record",
        "neg-ttl",
        "nftset",
        "no-daemon",
        "no-dhcp-interface",
        "no-dhcpv4-interface",
        "no-dhcpv6-interface",
        "no-hosts",
        "no-ident",
        "no-negcache",
        "no-ping",
        "no-poll",
        "no-resolv",
        "no-round-robin",
        "pid-file",
        "port",
        "port-limit",
        "proxy-dnssec",
        "ptr-record",
        "pxe-prompt",
        "pxe-service",
        "query-port",
        "quiet-dhcp",
        "quiet-dhcp6",
        "quiet-ra",
        "quiet-tftp",
        "ra-param",
        "read-ethers",
        "rebind-domain-ok",
        "rebind-localhost-ok",
        "resolv-file",
        "rev-server",
        "script-arp",
        "script-on-renewal",
        "selfmx",
        "server",
        "servers-file",
        "shared-network",
        "srv-host",
        "stop-dns-rebind",
        "strict-order",
        "strip-mac",
        "strip-subnet",
        "synth-domain",
        "tag-if",
        "test",
        "tftp-lowercase",
        "tftp-max",
        "tftp-mtu",
        "tftp-no-blocksize",
        "tftp-no-fail",
        "tftp-port-range",
        "tftp-root",
        "tftp-secure",
        "tftp-single-port",
        "tftp-unique-root",
        "trust-anchor",
        "txt-record",
        "umbrella",
        "use-stale-cache",
        "user",
        "version",
        "dhcp-split-relay",
        "no-0x20-encode",
        "do-0x20-encode",
        "no-ident",
        "log-queries",
    ]
)


def _first_names(value: str, keep: int | None = None) -> tuple[str, ...]:
    parts = [p.strip().lower().rstrip(".") for p in value.split(",") if p.strip()]
    return tuple(parts[:keep] if keep is not None else parts)


def _cname_names(value: str) -> tuple[str, ...]:
    """cname=<cname>,[<cname>,...]<target>[,<TTL>]: every name but the target."""
    parts = [p.strip().lower().rstrip(".") for p in value.split(",") if p.strip()]
    if parts and parts[-1].isdigit():
        parts = parts[:-1]
    return tuple(parts[:-1])


def _host_record_names(value: str) -> tuple[str, ...]:
    return tuple(p for p in _first_names(value) if parse_address(p) is None and not p.isdigit())


def _domain_of(value: str) -> tuple[str, ...]:
    return _first_names(value, 1)


# Options that answer A queries in ways this module does not evaluate (dnsmasq(8)): the names
# they can answer are `unknown` (TE905), never `unaffected` and never `blocked`. Each maps the
# option's value to those names (a domain covers its subdomains); () means every name.
UNMODELLED = {
    "cname": _cname_names,  # a CNAME to a local name
    "host-record": _host_record_names,  # A/AAAA records for exact names
    "interface-name": _domain_of,  # a name answered with an interface's address
    "dynamic-host": _domain_of,
    "synth-domain": _domain_of,  # names synthesised from addresses in a domain
    "auth-zone": _domain_of,  # authoritative zone data
    "dns-rr": _domain_of,  # arbitrary records (A among them)
    "alias": lambda _v: (),  # rewrites upstream addresses in every answer
    "ignore-address": lambda _v: (),  # drops upstream answers holding an address
    "filter-a": lambda _v: (),  # no A record in any answer
    "filter-rr": lambda _v: (),
    "connmark-allowlist": lambda _v: (),  # per-client allow-lists of names
    "connmark-allowlist-enable": lambda _v: (),
}

_HINT = re.compile(
    r"^[ \t]*(address|server|local|conf-file|conf-dir|addn-hosts|no-resolv|"
    r"domain-needed|bogus-priv|listen-address|interface|dhcp-range|cache-size|"
    r"ipset|nftset|strict-order|no-hosts|expand-hosts|resolv-file)[ \t]*(=|$)",
    re.M,
)
_DOMAIN_RULE = re.compile(r"^[ \t]*(address|server|local)[ \t]*=[ \t]*/", re.M)


def _known_lines(head: str) -> tuple[int, int]:
    lines = [m.group(0).strip() for m in re.finditer(r"^[ \t]*[^\s#].*$", head, re.M)]
    known = sum(1 for line in lines if line.split("=", 1)[0].strip().lower() in KNOWN_OPTIONS)
    return known, len(lines)


def detect(path: Path, head: str) -> float:
    name = path.name.lower()
    if name == "dnsmasq.conf":
        return 0.95
    known, content = _known_lines(head)
    ratio = known / content if content else 0.0
    specific = bool(_HINT.search(head))
    if any(fnmatch(name, p) for p in FILE_PATTERNS) and (not content or ratio >= 0.3):
        return 0.9
    if path.parent.name.lower() == "dnsmasq.d" and (not content or ratio >= 0.3):
        return 0.85
    if specific and known >= 3 and ratio >= 0.6:
        return 0.8
    if len(_DOMAIN_RULE.findall(head)) >= 1 and ratio >= 0.5:
        return 0.6
    return 0.0


# --------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class DomainRule:
    """One domain of an address=/server=/local=/ipset=/nftset= line."""

    option: str  # address | server | local | ipset | nftset
    domain: str  # lowercase, no leading dot; "#" = every name; "" = unqualified names
    wildcard: str  # "" | "sub" (/*.d/: subdomains only) | "partial" (/*d/: any name ending in d)
    value: str  # the address, upstream server or set names ("" = none)
    span: Span

    @property
    def kind(self) -> str:
        """addr4 | addr6 | zeros | forward | nxdomain | set."""
        if self.option in ("ipset", "nftset"):
            return "set"
        v = self.value
        if self.option == "address":
            if v == "":
                return "nxdomain"
            if v == "#":
                return "zeros"
            ip = parse_address(v.split("%", 1)[0])
            if ip is None:
                return "nxdomain"  # dnsmasq refuses the line; reported separately
            return "addr4" if ip.version == 4 else "addr6"
        return "forward" if v else "nxdomain"


@dataclass
class Missing:
    ref: str
    span: Span
    what: str  # conf-file | conf-dir | addn-hosts | ...
    services: set[str] | None  # services whose names it may decide (None = all)


@dataclass
class _State:
    context: ParseContext
    wanted: frozenset[str]
    relevant: frozenset[str]  # the wanted names and all their parents
    problems: list[Problem] = field(default_factory=list)
    rules: dict[str, list[DomainRule]] = field(default_factory=dict)  # by domain
    partial: list[DomainRule] = field(default_factory=list)  # /*d/ rules
    hosts: list[tuple[HostsScan, Span]] = field(default_factory=list)
    missing: list[Missing] = field(default_factory=list)
    bogus: list[tuple[str, Span]] = field(default_factory=list)
    scripts: list[Span] = field(default_factory=list)
    unmodelled: list[tuple[str, Span, tuple[str, ...]]] = field(default_factory=list)  # option, line, names
    included: list[Path] = field(default_factory=list)
    domain_rules: int = 0
    relevant_re: re.Pattern[bytes] | None = None  # dnsmasq_stream.relevant_pattern(relevant)
    no_resolv: bool = False
    global_servers: list[Span] = field(default_factory=list)  # server=IP (no domain)

    @property
    def has_upstream(self) -> bool:
        """Default upstream servers exist: from /etc/resolv.conf (assumed to name some unless
        `no-resolv`) or from `server=` lines without a domain."""
        return not self.no_resolv or bool(self.global_servers)


# Files from this size on are scanned by dnsmasq_stream.py (small configs: read line by line).
STREAM_FROM_BYTES = 1 << 20


def _strip_comment(line: str) -> str:
    """dnsmasq's reading: `#` at the start or after white space starts a comment; quotes
    protect it (and are removed)."""
    if "#" not in line and '"' not in line:
        return line.strip()
    out = []
    white, quoted = True, False
    for ch in line:
        if ch == '"':
            quoted = not quoted
            continue
        if not quoted and ch == "#" and white:
            break
        white = ch in " \t"
        out.append(ch)
    return "".join(out).strip()


def inside(context: ParseContext, path: Path, config: Path) -> bool:
    return context.resolver.inside(path, config.parent)


class _Reader:
    def __init__(self, state: _State):
        self.state = state

    def read(self, path: Path, stack: tuple[Path, ...], servers_only: bool = False) -> None:
        context = self.state.context
        display = context.resolver.display(path)
        try:  # big blocklists: only the lines the loop below would not skip (dnsmasq_stream.py)
            if path.stat().st_size > STREAM_FROM_BYTES:
                if self.state.relevant_re is None:
                    self.state.relevant_re = relevant_pattern(self.state.relevant)
                lines, skipped_domains = lines_to_read(path, self.state.relevant_re)
                self.state.domain_rules += skipped_domains
                for i, raw in lines:
                    self._line(i, raw, display, path, stack, servers_only)
                return
        except (NotStreamable, OSError):
            pass  # read the ordinary way: the same lines, or the same error
        src = read_source(path, display)
        self.state.problems.extend(src.problems)
        for i, raw in enumerate(src.lines, start=1):
            self._line(i, raw, src.path, path, stack, servers_only)

    def _line(
        self, i: int, raw: str, shown: str, path: Path, stack: tuple[Path, ...], servers_only: bool
    ) -> None:
        relevant = self.state.relevant
        # Fast path for blocklists: address=/d/..., server=/d/..., local=/d/ naming
        # domains no probe can be under are counted, not kept.
        head = raw[:8]
        if head.startswith(("address=", "server=/", "local=/")) and "#" not in raw and '"' not in raw:
            body = raw.strip()
            option, _, value = body.partition("=")
            parts = value.split("/")
            if len(parts) >= 3 and parts[0] == "":
                self.state.domain_rules += len(parts) - 2
                if not any(
                    d.lower().lstrip(".").lstrip("*") in relevant or d.startswith("*") for d in parts[1:-1]
                ):
                    return
        line = _strip_comment(raw)
        if not line:
            return
        col = len(raw) - len(raw.lstrip()) + 1
        span = Span(shown, i, col, line)
        option, eq, value = line.partition("=")
        option = option.strip().lower()
        value = value.strip() if eq else ""
        self._option(option, value, bool(eq), span, path, stack, servers_only)

    # ---- one option
    def _option(
        self,
        option: str,
        value: str,
        has_value: bool,
        span: Span,
        path: Path,
        stack: tuple[Path, ...],
        servers_only: bool,
    ) -> None:
        st = self.state
        if option.startswith("--"):
            option = option[2:]
        if servers_only and option not in ("server", "rev-server", "local", "address"):
            st.problems.append(
                Problem(
                    "TE901",
                    span,
                    f"{option} in a servers-file: dnsmasq allows only server= and rev-server= there",
                )
            )
            return
        if option in ("address", "server", "local", "ipset", "nftset"):
            self._domain_rule(option, value, span)
        elif option in ("conf-file", "servers-file"):
            self._include_file(option, value, span, path, stack)
        elif option == "conf-dir":
            self._include_dir(value, span, path, stack)
        elif option in ("addn-hosts", "hostsdir"):
            self._hosts(option, value, span, path)
        elif option in ("no-resolv",):
            st.no_resolv = True
        elif option == "bogus-nxdomain":
            st.bogus.append((value, span))
        elif option == "conf-script":
            st.scripts.append(span)
            st.problems.append(
                Problem(
                    "TE907",
                    span,
                    "conf-script runs a program whose output is "
                    "configuration; it is never run here, so the "
                    "names it could decide are unknown",
                )
            )
        elif option in UNMODELLED:
            names = UNMODELLED[option](value)
            st.unmodelled.append((option, span, names))
            st.problems.append(
                Problem(
                    "TE908",
                    span,
                    f"{option}= changes DNS answers in ways not evaluated here: the names it can "
                    f"answer ({', '.join(names) if names else 'every name'}) are unknown",
                )
            )
        elif option not in KNOWN_OPTIONS:
            st.problems.append(
                Problem(
                    "TE901",
                    span,
                    f"unknown option '{option}': dnsmasq refuses to start with it ('bad option')",
                )
            )

    def _domain_rule(self, option: str, value: str, span: Span) -> None:
        st = self.state
        if not value.startswith("/"):
            if option in ("server", "local") and value:
                st.global_servers.append(span)  # server=1.2.3.4: a default upstream
            return
        parts = value.split("/")
        domains, target = parts[1:-1], parts[-1]
        if not domains:
            st.problems.append(Problem("TE901", span, f"{option}= without a closing '/'"))
            return
        if option == "local":
            option = "server"
        if option == "address" and target not in ("", "#") and parse_address(target.split("%", 1)[0]) is None:
            st.problems.append(
                Problem("TE901", span, f"'{target}' is not an address; dnsmasq refuses this line")
            )
            return
        for raw in domains:
            d = raw.strip().lower()
            wildcard = ""
            if d.startswith("*."):
                wildcard, d = "sub", d[2:]
            elif d.startswith("*"):
                wildcard, d = "partial", d[1:]
            d = d.lstrip(".").rstrip(".")
            if d == "#" and option not in ("address", "server", "ipset", "nftset"):
                continue
            rule = DomainRule(option, d, wildcard, target.strip(), span)
            if wildcard == "partial":
                st.partial.append(rule)
            elif d in st.relevant or d == ALL:
                st.rules.setdefault(d, []).append(rule)

    def _resolve_dir(self, ref: str, path: Path) -> Path | None:
        for cand in self.state.context.resolver.candidates(ref.rstrip("/") or "/", path):
            if cand.is_dir():
                return cand
        return None

    def _enter(self, target: Path, span: Span, ref: str, stack: tuple[Path, ...]) -> tuple[Path, ...] | None:
        real = target.resolve()
        if real in stack:
            self.state.problems.append(Problem("TE904", span, f"include loop: {ref} includes itself"))
            return None
        if len(stack) >= MAX_INCLUDE_DEPTH:
            self.state.problems.append(
                Problem("TE904", span, f"includes nested deeper than {MAX_INCLUDE_DEPTH}")
            )
            return None
        self.state.included.append(target)
        return stack + (real,)

    def _read_included(self, target: Path, span: Span, stack: tuple[Path, ...], servers_only: bool) -> None:
        try:
            self.read(target, stack, servers_only)
        except InputError as exc:
            self.state.problems.append(Problem("TE902", span, str(exc)))

    def _include_file(self, option: str, value: str, span: Span, path: Path, stack: tuple[Path, ...]) -> None:
        ref = value.strip()
        if ref == "-":
            return  # stdin
        target = self.state.context.resolver.resolve(ref, path)
        if target is None:
            self._missing(ref, span, option)
            return
        inner = self._enter(target, span, ref, stack)
        if inner is not None:
            self._read_included(target, span, inner, option == "servers-file")

    def _include_dir(self, value: str, span: Span, path: Path, stack: tuple[Path, ...]) -> None:
        ref, *exts = [v.strip() for v in value.split(",")]
        directory = self._resolve_dir(ref, path)
        if directory is None:
            self._missing(ref, span, "conf-dir")
            return
        only = [e[1:] for e in exts if e.startswith("*")]
        skip = [e for e in exts if e and not e.startswith("*")]
        for entry in sorted(directory.iterdir(), key=lambda p: p.name):
            n = entry.name
            if n.endswith("~") or n.startswith(".") or (n.startswith("#") and n.endswith("#")):
                continue
            if only and not any(n.endswith(e) for e in only):
                continue
            if any(n.endswith(e) for e in skip):
                continue
            if not entry.is_file() or not inside(self.state.context, entry, path):
                continue
            inner = self._enter(entry, span, f"{ref}/{n}", stack)
            if inner is not None:
                self._read_included(entry, span, inner, False)

    def _hosts(self, option: str, value: str, span: Span, path: Path) -> None:
        ref = value.strip()
        resolver = self.state.context.resolver
        target = resolver.resolve(ref, path)
        files: list[Path]
        if target is not None:
            files = [target]
        else:
            directory = self._resolve_dir(ref, path)
            if directory is None:
                self._missing(ref, span, option)
                return
            files = [
                p
                for p in sorted(directory.iterdir(), key=lambda p: p.name)
                if p.is_file() and inside(self.state.context, p, path)
            ]
        for f in files:
            self.state.included.append(f)
            try:
                scan = scan_hosts(f, resolver.display(f), self.state.wanted)
            except InputError as exc:
                self.state.problems.append(Problem("TE902", span, str(exc)))
                continue
            self.state.problems.extend(scan.problems)
            self.state.hosts.append((scan, span))

    def _missing(self, ref: str, span: Span, what: str) -> None:
        catalog = self.state.context.catalog
        keywords = {sid: s.keywords for sid, s in catalog.services.items()}
        kind, named = classify_list_name(Path(ref.rstrip("/")).name, keywords)
        if kind == "other-topic":
            self.state.problems.append(
                Problem(
                    "TE903",
                    span,
                    f"{what} {ref} not found; its name suggests another topic, so it is "
                    f"assumed not to name the catalog services",
                )
            )
            return
        self.state.missing.append(Missing(ref, span, what, named if kind == "social" else None))
        self.state.problems.append(
            Problem("TE903", span, f"{what} {ref} not found; verdicts that depend on it are unknown")
        )


# --------------------------------------------------------------------------- deciding


@dataclass
class _Answer:
    kind: str  # addr | nxdomain | forward | none
    rules: list[DomainRule]
    index: int = 0  # the level of the deciding domain (_lookup: 0 = the name itself)


def _level_answer(rules: list[DomainRule], qtype: int) -> _Answer | None:
    """dnsmasq's choice among the rules of one domain (domain-match.c, filter_servers)."""
    want = "addr4" if qtype == 4 else "addr6"
    for kind in (want, "zeros", "forward", "nxdomain"):
        hits = [r for r in rules if r.kind == kind]
        if hits:
            return _Answer("addr" if kind in (want, "zeros") else kind, hits)
    return None


class DnsmasqRuleset(NameRuleset):
    def __init__(self, path: str, state: _State):
        self.state = state
        self.catalog: Catalog = state.context.catalog
        self._hosts = state.hosts
        super().__init__(path, NAME, self.decide, state.problems, [str(p.resolve()) for p in state.included])

    # ---- lookup
    def _levels(self, host: str) -> list[list[DomainRule]]:
        """The domains that match `host`, most specific first: dnsmasq takes the longest
        matching suffix, as text. `/d/` matches d and below (the suffix d), `/*.d/` only below
        (the suffix `.d`, one longer: for www.d it beats `/d/`, `/www.d/` beats it), `/*d/` any
        name ending in d; at equal length the non-wildcard form first (dnsmasq(8), --server).
        So `/*facebook.com/` beats `/com/` for www.facebook.com. (Checked against Debian's
        dnsmasq by tests/e2e/test_daemon_fuzz.py.)"""
        rules = self.state.rules
        found: list[tuple[int, int, list[DomainRule]]] = []
        for i, name in enumerate(suffixes(host)):
            here = [r for r in rules.get(name, ()) if r.kind != "set"]
            plain = [r for r in here if r.wildcard == ""]
            sub = [r for r in here if r.wildcard == "sub"] if i > 0 else []
            if plain:
                found.append((len(name), 0, plain))
            if sub:
                found.append((len(name) + 1, 1, sub))
        partial: dict[int, list[DomainRule]] = {}
        for r in self.state.partial:
            if r.kind != "set" and host.endswith(r.domain):
                partial.setdefault(len(r.domain), []).append(r)
        found += [(length, 2, rs) for length, rs in partial.items()]
        found.sort(key=lambda f: (-f[0], f[1]))
        return [rs for _, _, rs in found]

    def _lookup(self, host: str, qtype: int, start: int = 0) -> _Answer:
        """The most specific domain with an answer for this query type, from level `start` on
        (the levels of `_levels`, then /#/)."""
        levels = self._levels(host)
        for k in range(start, len(levels)):
            answer = _level_answer(levels[k], qtype)
            if answer is not None:
                answer.index = k
                return answer
        if start <= len(levels):
            # /#/ is the level of the default upstream servers, and a forward beats a
            # no-address rule there: address=/#/ answers NXDOMAIN only without upstreams.
            level = [r for r in self.state.rules.get(ALL, ()) if r.kind != "set"]
            if self.state.has_upstream:
                level = [r for r in level if r.kind not in ("nxdomain", "forward")]
            answer = _level_answer(level, qtype)
            if answer is not None:
                answer.index = len(levels)
                return answer
        return _Answer("none", [], len(levels) + 1)

    def _sets(self, host: str) -> list[DomainRule]:
        names = set(suffixes(host)) | {ALL}
        return [r for n in names for r in self.state.rules.get(n, ()) if r.kind == "set"]

    def decide(self, host: str) -> Decision | None:
        host = host.lower().rstrip(".")
        for option, span, names in self.state.unmodelled:
            if not names or any(host == n or host.endswith("." + n) for n in names):
                return Decision(
                    Outcome.UNKNOWN,
                    span,
                    (span,),
                    True,
                    option,
                    f"{option}= may answer {host} (not evaluated)",
                )
        pinned = self._from_hosts(host)
        if pinned is not None:
            return pinned
        a = self._lookup(host, 4)
        decision = self._decision(host, a)
        if decision is not None and decision.outcome != Outcome.ALLOW:
            decision = self._ipv4_only(host, decision)
        if decision is None or decision.outcome == Outcome.ALLOW:
            unknown = self._undecidable(host, decision)
            if unknown is not None:
                return unknown
        if decision is None:
            sets = self._sets(host)
            if sets:
                r = sets[0]
                return Decision(
                    Outcome.ALLOW,
                    r.span,
                    (r.span,),
                    False,
                    f"{r.option} {r.value}",
                    f"resolved addresses are added to {r.option} '{r.value}': a firewall "
                    f"rule elsewhere may block them (not a block by itself)",
                )
        return decision

    def _from_hosts(self, host: str) -> Decision | None:
        """Hosts files answer their exact names, per address family: a name listed with an
        IPv6 address only still has its A query decided by the domain rules (and the other
        way round for AAAA)."""
        found: Decision | None = None
        has6 = False
        for scan, span in self._hosts:
            for entry in scan.entries.get(host, ()):
                ip = parse_address(entry.address.split("%", 1)[0])
                if ip is None:
                    continue
                has6 = has6 or ip.version == 6
                if ip.version == 4 and found is None:
                    d = address_decision(entry.address, host, self.catalog, entry.span, (span, entry.span))
                    found = Decision(
                        d.outcome, d.rule, d.trace, d.specific, f"addn-hosts {d.how}".strip(), d.note, d.scope
                    )
        if found is not None and found.outcome != Outcome.ALLOW and not has6:
            return self._ipv4_only(host, found)
        return found

    def _ipv4_only(self, host: str, decision: Decision) -> Decision:
        """Note when the AAAA query for a name blocked over IPv4 still reaches upstream."""
        aaaa = self._lookup(host, 6)
        if aaaa.kind not in ("forward", "none"):
            return decision
        note = (
            "AAAA queries are forwarded (dnsmasq answers only the address family it was "
            "given, since 2.86): IPv6 clients may still resolve the real name"
        )
        return Decision(
            decision.outcome,
            decision.rule,
            decision.trace,
            decision.specific,
            decision.how + " (IPv4 only)",
            f"{decision.note}; {note}" if decision.note else note,
        )

    def _decision(self, host: str, a: _Answer) -> Decision | None:
        if a.kind == "none":
            return None
        rule = a.rules[0]
        trace = (rule.span,)
        if a.kind == "nxdomain":
            return Decision(Outcome.DENY, rule.span, trace, True, "NXDOMAIN")
        if a.kind == "addr":
            address = "0.0.0.0" if rule.kind == "zeros" else rule.value
            return address_decision(address, host, self.catalog, rule.span, trace, "")
        # forward: an exception when a less specific rule would have blocked the name
        below = self._lookup(host, 4, a.index + 1)
        upstream = "the usual servers" if rule.value in ("#", "") else rule.value
        inner = self._decision(host, below) if below.kind in ("nxdomain", "addr") else None
        if inner is not None and inner.outcome == Outcome.DENY:
            return Decision(
                Outcome.ALLOW,
                rule.span,
                (below.rules[0].span, rule.span),
                True,
                f"forwarded to {upstream}",
                f"an exception to '{below.rules[0].span.text}'",
            )
        return Decision(
            Outcome.ALLOW,
            rule.span,
            trace,
            False,
            f"forwarded to {upstream}",
            "a forward to another resolver is not a block (it may filter on its own)",
        )

    def _undecidable(self, host: str, decision: Decision | None) -> Decision | None:
        """Names a missing include, a conf-script or a bogus-nxdomain could decide."""
        owner = self.catalog.service_for_host(host)
        if owner is None:
            return None
        sid = owner[0]
        for m in self.state.missing:
            if m.services is None or sid in m.services:
                if decision is not None and decision.specific:
                    continue  # an explicit rule here decides; the missing file is unlikely to
                return Decision(
                    Outcome.UNKNOWN,
                    m.span,
                    (m.span,),
                    False,
                    "",
                    f"{m.what} {m.ref} is missing: it may decide {host}",
                )
        for span in self.state.scripts:
            return Decision(
                Outcome.UNKNOWN, span, (span,), False, "", f"conf-script output may decide {host} (not run)"
            )
        for value, span in self.state.bogus:
            addr = value.split("/", 1)[0]
            if parse_address(addr) is not None and self.catalog.service_for_ip(addr) == sid:
                return Decision(
                    Outcome.UNKNOWN,
                    span,
                    (span,),
                    True,
                    "bogus-nxdomain",
                    f"upstream answers holding {value} (an address of "
                    f"{self.catalog.services[sid].name}) become NXDOMAIN",
                )
        return None


def _relevant(wanted: frozenset[str]) -> frozenset[str]:
    return frozenset(s for host in wanted for s in suffixes(host))


def parse(path: Path, context: ParseContext) -> DnsmasqRuleset:
    wanted = wanted_names(context.catalog)
    state = _State(context, wanted, _relevant(wanted))
    reader = _Reader(state)
    reader.read(path, (path.resolve(),))
    return DnsmasqRuleset(context.resolver.display(path), state)

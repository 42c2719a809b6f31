"""Hosts files (/etc/hosts, Windows hosts, hosts blocklists such as StevenBlack's, `hosts.d/*`).

Each line is `ADDRESS NAME [NAME...]`; `#` starts a comment anywhere on a line. The resolver
(glibc's `files` source, the Windows DNS client) answers a name from the hosts file before any
DNS server is asked, and only for that exact name: blocking `facebook.com` does not block
`www.facebook.com`. A name listed on several lines takes the address of its first line. So in

    0.0.0.0      facebook.com www.facebook.com   # sinkhole: blocked
    127.0.0.1    twitter.com                      # all of 127/8, ::1, :: and 0.0.0.0 alike
    10.10.10.1   linkedin.com                     # a private address: a block page (pfBlockerNG VIP)
    157.240.1.35 m.facebook.com                   # an address of Facebook itself: pinned, `allowed`

Facebook is blocked on the two names listed (m.facebook.com is pinned to one of Facebook's own
addresses, which the catalog's prefixes confirm), Twitter only on twitter.com (x.com and
www.twitter.com still resolve), LinkedIn on linkedin.com. A pinned public address that is not
in the service's prefixes (addresses.yaml) is `unknown`: the rule every DNS dialect shares,
see semantics/answers.py.

Lists are large (10^6 lines). Only the catalog's probe names matter for exact-name semantics,
so the raw bytes are scanned in chunks for those names' registrable domains and only the
lines that contain one are parsed; malformed lines are counted over the whole file with one
regular expression per chunk and reported once (TE902), as are NUL bytes and non-UTF-8 text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from fnmatch import fnmatch
from pathlib import Path

from policy_lint.catalog import Catalog
from policy_lint.dialects.semantics.answers import (  # noqa: F401  re-exported for other dialects
    address_decision,
    is_sinkhole,
    parse_address,
)
from policy_lint.dialects.semantics.base import ParseContext
from policy_lint.dialects.semantics.names import NameRuleset
from policy_lint.inputs import BINARY_SNIFF_BYTES, MAX_FILE_BYTES, MAX_LINE_CHARS, InputError
from policy_lint.model import Decision, Problem, Span

NAME = "hosts"
FILE_PATTERNS = ("hosts", "hosts.txt", "*.hosts", "hosts.*", "*-hosts", "*_hosts", "*hosts*.txt")
NOT_HOSTS = (
    "hosts.allow",
    "hosts.deny",
    "hosts.equiv",
    "*.py",
    "*.sh",
    "*.bat",
    "*.cmd",
    "*.ps1",
    "*.yaml",
    "*.yml",
    "*.json",
    "*.conf",
    "*.log",
    "*.log.[0-9]*",
    "access.log*",
)

CHUNK_BYTES = 4 * 1024 * 1024
MAX_EXAMPLES = 3  # malformed lines quoted in the finding

# A line that looks like `ADDRESS NAME`: what detection counts in a file's head.
_HOSTS_LINE = re.compile(
    r"^[ \t]*(?:\d{1,10}(?:\.\d{1,3}){0,3}|[0-9a-fA-F]*:[0-9a-fA-F:.]*(?:%\S+)?)"
    r"[ \t]+[A-Za-z0-9_*][^\s#]*",
    re.M,
)
_CONTENT_LINE = re.compile(r"^[ \t]*[^\s#]", re.M)
# A squid access.log line ("1764576000.120 85 10.0.0.5 TCP_DENIED/403 ..."): its epoch timestamp
# looks like a numeric address to _HOSTS_LINE. Traffic logs are `policy-lint traffic` input.
_SQUID_LOG_LINE = re.compile(r"^\d{9,10}\.\d{3}[ \t]+-?\d+[ \t]+\S+[ \t]+[A-Z_]+/\d{3}[ \t]", re.M)
# A line start (after a newline) that is neither blank, a comment, indented, nor an address-like
# token followed by white space: counted as malformed. Checked over the raw bytes, chunk by
# chunk (one regex visit per line, ~40 ns).
_MALFORMED_AFTER_NL = re.compile(rb"\n(?![0-9a-f:.]++(?:%[^\s]+)?[ \t]|[#\n\r \t]|\Z)")
_MALFORMED_FIRST = re.compile(rb"(?![0-9a-f:.]++(?:%[^\s]+)?[ \t]|[#\n\r \t]|\Z)")
# An entry: an address-like word (it holds a dot or a colon) and a name after it. Searched
# for until one is seen (the first chunk of a real hosts file has one): a full count would cost
# a pass over a million-line list.
_ENTRY = re.compile(rb"(?:^|\n)[ \t]*(?=[0-9a-f]*[.:])[0-9a-f:.]+(?:%[^\s]+)?[ \t]+[^\s#]")


# --------------------------------------------------------------------------- scanning


def wanted_names(catalog: Catalog) -> frozenset[str]:
    """Every name the engine will ask about: the probe hosts and the control host."""
    names = {p.host.lower() for svc in catalog.services.values() for p in svc.probes()}
    names.add(catalog.control_host.lower())
    return frozenset(names)


def anchors_for(names: Iterable[str]) -> list[bytes]:
    """Substrings to search the raw text for: each name's last two labels, without those that
    contain another anchor (a line holding `ads-twitter.com` also holds `twitter.com`)."""
    cands = {".".join(n.split(".")[-2:]).encode() for n in names}
    return sorted(a for a in cands if not any(b != a and b in a for b in cands))


def reversed_searches(anchors: list[bytes]) -> list[re.Pattern[bytes]]:
    """One regex per top-level domain over the REVERSED text: `moc\\.(?:koobecaf|rettiwt|x)`
    starts with a literal, which `re` finds at memory speed, and tries the few alternatives
    only where the literal occurs. Searching each anchor forwards would cost one pass each."""
    groups: dict[bytes, list[bytes]] = {}
    singles: list[bytes] = []
    for a in anchors:
        head, dot, tld = a.rpartition(b".")
        if dot:
            groups.setdefault(tld, []).append(head)
        else:
            singles.append(a)
    out = [
        re.compile(
            re.escape((b"." + tld)[::-1])
            + b"(?:"
            + b"|".join(re.escape(h[::-1]) for h in sorted(heads, key=len, reverse=True))
            + b")"
        )
        for tld, heads in sorted(groups.items())
    ]
    out += [re.compile(re.escape(a[::-1])) for a in singles]
    return out


@dataclass
class HostsEntry:
    address: str
    span: Span


@dataclass
class HostsScan:
    """What a hosts file says about the wanted names (in line order), and its problems."""

    path: str
    entries: dict[str, list[HostsEntry]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    lines: int = 0
    entry_seen: bool = False  # some line is an 'ADDRESS NAME' entry
    malformed: int = 0
    malformed_examples: list[tuple[int, str]] = field(default_factory=list)
    nul_lines: list[int] = field(default_factory=list)
    non_utf8_line: int = 0
    listed_names: int = 0  # names on the lines parsed (candidates only)


def _check_size_and_head(path: Path, shown: str) -> int:
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise InputError(f"{shown}: cannot read: {exc.strerror or exc}") from None
    if path.is_dir():
        raise InputError(f"{shown}: is a directory")
    if size > MAX_FILE_BYTES:
        raise InputError(f"{shown}: file too large ({size} bytes; limit {MAX_FILE_BYTES})")
    return size


def _looks_binary(head: bytes) -> bool:
    if not head:
        return False
    if head.count(b"\x00") > len(head) // 64:  # a stray NUL is reported, a binary refused
        return True
    controls = sum(1 for b in head if b < 9 or 13 < b < 32)
    return controls / len(head) > 0.1


def _chunks(path: Path, shown: str) -> Iterable[bytes]:
    """The file in pieces that end at a newline (the last one gets a newline added)."""
    try:
        fh = open(path, "rb")  # noqa: SIM115  closed by the `with fh` below; opening errors are reported apart
    except OSError as exc:
        raise InputError(f"{shown}: cannot read: {exc.strerror or exc}") from None
    with fh:
        carry = b""
        first = True
        while True:
            block = fh.read(CHUNK_BYTES)
            if first:
                if _looks_binary(block[:BINARY_SNIFF_BYTES]):
                    raise InputError(f"{shown}: binary file, not a configuration")
                if block.startswith(b"\xef\xbb\xbf"):
                    block = block[3:]
                first = False
            if not block:
                if carry:
                    yield carry + b"\n"
                return
            data = carry + block
            cut = data.rfind(b"\n")
            if cut < 0:
                carry = data
                continue
            carry = data[cut + 1 :]
            yield data[: cut + 1]


def _decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def scan_hosts(
    path: Path, shown: str, names: frozenset[str], anchors: list[bytes] | None = None
) -> HostsScan:
    """Find the lines naming any of `names` (lowercase) without parsing the others."""
    _check_size_and_head(path, shown)
    scan = HostsScan(shown)
    searches = reversed_searches(anchors if anchors is not None else anchors_for(names))
    base = 0  # lines before the current chunk
    for chunk in _chunks(path, shown):
        low = chunk.lower()
        n_lines = low.count(b"\n")
        # ---- malformed lines, NUL bytes, encoding: over the whole chunk, in C
        if not scan.entry_seen:
            scan.entry_seen = _ENTRY.search(low) is not None
        bad_starts = [m.start() + 1 for m in _MALFORMED_AFTER_NL.finditer(low, 0, len(low) - 1)]
        if _MALFORMED_FIRST.match(low):
            bad_starts.insert(0, 0)
        if bad_starts:
            scan.malformed += len(bad_starts)
            for start in bad_starts[: MAX_EXAMPLES - len(scan.malformed_examples)]:
                end = chunk.find(b"\n", start)
                text = _decode(chunk[start:end]).rstrip("\r")
                scan.malformed_examples.append((base + low.count(b"\n", 0, start) + 1, text[:120]))
        if b"\x00" in chunk and len(scan.nul_lines) < MAX_EXAMPLES:
            pos = chunk.find(b"\x00")
            while pos >= 0 and len(scan.nul_lines) < MAX_EXAMPLES:
                scan.nul_lines.append(base + chunk.count(b"\n", 0, pos) + 1)
                pos = chunk.find(b"\x00", chunk.find(b"\n", pos))
        if not scan.non_utf8_line and not chunk.isascii():
            try:
                chunk.decode("utf-8")
            except UnicodeDecodeError as exc:
                scan.non_utf8_line = base + chunk.count(b"\n", 0, exc.start) + 1
        # ---- candidate lines: those holding an anchor
        starts: set[int] = set()
        rev = low[::-1]
        size = len(low)
        for rx in searches:
            for m in rx.finditer(rev):
                starts.add(low.rfind(b"\n", 0, size - m.end()) + 1)
        del rev
        line_no, pos = base + 1, 0
        for start in sorted(starts):
            line_no += low.count(b"\n", pos, start)
            pos = start
            end = low.find(b"\n", start)
            parse_line(scan, names, chunk[start:end], line_no)
        base += n_lines
    scan.lines = base
    _summarise(scan)
    return scan


def parse_line(scan: HostsScan, names: frozenset[str], raw: bytes, line_no: int) -> None:
    if len(raw) > MAX_LINE_CHARS:
        scan.problems.append(
            Problem(
                "TE902",
                Span(scan.path, line_no, 1),
                f"line of {len(raw)} characters skipped (limit {MAX_LINE_CHARS})",
            )
        )
        return
    text = _decode(raw.split(b"\x00", 1)[0]).rstrip("\r")  # the resolver's C strings end at NUL
    body = text.split("#", 1)[0]
    words = body.split()
    if len(words) < 2:
        return
    address = words[0]
    if parse_address(address.split("%", 1)[0]) is None:
        return  # counted as malformed by the chunk scan when it does not even look like one
    col = len(text) - len(text.lstrip()) + 1
    span = Span(scan.path, line_no, col, text.strip())
    for word in words[1:]:
        name = word.lower()
        if name in names:
            scan.listed_names += 1
            scan.entries.setdefault(name, []).append(HostsEntry(address, span))


def _summarise(scan: HostsScan) -> None:
    if scan.malformed:
        line, text = scan.malformed_examples[0]
        more = "; ".join(f"line {n}: '{t}'" for n, t in scan.malformed_examples[1:])
        scan.problems.append(
            Problem(
                "TE902",
                Span(scan.path, line, 1, text),
                f"{scan.malformed} of {scan.lines} lines are not 'ADDRESS NAME...' and are ignored by "
                f"the resolver (first: '{text}'" + (f"; {more}" if more else "") + ")",
            )
        )
    if scan.nul_lines:
        scan.problems.append(
            Problem(
                "TE902",
                Span(scan.path, scan.nul_lines[0], 1),
                "NUL bytes in the file: the resolver reads each such line only up to the NUL "
                f"(lines {', '.join(map(str, scan.nul_lines))})",
            )
        )
    if scan.non_utf8_line:
        scan.problems.append(
            Problem("TE902", Span(scan.path, scan.non_utf8_line, 1), "not valid UTF-8; read as Latin-1")
        )


# --------------------------------------------------------------------------- evaluation


def hosts_decider(scan: HostsScan, catalog: Catalog, trace_prefix: tuple[Span, ...] = ()):
    """decide(host) for a scanned hosts file: the first line naming the host decides."""

    def decide(host: str) -> Decision | None:
        entries = scan.entries.get(host.lower().rstrip("."))
        if not entries:
            return None
        first = entries[0]
        d = address_decision(first.address, host, catalog, first.span, trace_prefix + (first.span,), "")
        others = [e for e in entries[1:] if e.address != first.address]
        if others:
            later = ", ".join(f"line {e.span.line} ({e.address})" for e in others[:3])
            note = (f"{d.note}; " if d.note else "") + (
                f"also listed at {later}: the first line wins for gethostbyname (getaddrinfo "
                f"may return the later addresses too)"
            )
            d = Decision(d.outcome, d.rule, d.trace, d.specific, d.how, note, d.scope)
        return d

    return decide


def detect(path: Path, head: str) -> float:
    name = path.name.lower()
    if any(fnmatch(name, p) for p in NOT_HOSTS):
        return 0.0
    content = len(_CONTENT_LINE.findall(head))
    if content and len(_SQUID_LOG_LINE.findall(head)) * 2 >= content:
        return 0.0
    hosts_lines = len(_HOSTS_LINE.findall(head))
    ratio = hosts_lines / content if content else 0.0
    named = any(fnmatch(name, p) for p in FILE_PATTERNS) or path.parent.name.lower() == "hosts.d"
    if named and (content == 0 or ratio >= 0.5):
        return 0.9
    if hosts_lines >= 3 and ratio >= 0.8:
        return 0.85
    if named and hosts_lines:
        return 0.55
    return 0.0


class HostsRuleset(NameRuleset):
    def __init__(self, scan: HostsScan, catalog: Catalog):
        super().__init__(scan.path, NAME, hosts_decider(scan, catalog), scan.problems)
        self.scan = scan
        # What was read, for the engine's "nothing understood" check: any well-formed entry
        # counts, whether or not it names a service (a localhost-only hosts file is read);
        # with none, the lines that are no entry are the statements nobody understood. Lower
        # bounds, not counts: the engine asks only whether nothing was understood.
        self.understood = int(scan.entry_seen)
        self.statements = max(scan.malformed, self.understood)


def parse(path: Path, context: ParseContext) -> HostsRuleset:
    shown = context.resolver.display(path)
    scan = scan_hosts(path, shown, wanted_names(context.catalog))
    return HostsRuleset(scan, context.catalog)

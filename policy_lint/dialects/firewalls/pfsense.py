"""pfSense / OPNsense `config.xml`: the firewall's rules (pf underneath), evaluated as pfSense
loads them, plus the pfBlockerNG, Squid and squidGuard package settings stored in the file.

    <filter>
      <rule><type>block</type><interface>lan</interface><protocol>tcp</protocol>
        <source><network>lan</network></source>
        <destination><address>Social</address><port>443</port></destination></rule>
      <rule><type>pass</type><interface>lan</interface>
        <source><network>lan</network></source><destination><any/></destination></rule>
    </filter>
    <aliases><alias><name>Social</name><type>network</type>
      <address>31.13.24.0/21 FB_more</address></alias></aliases>   <!-- aliases nest -->

The user's packet enters the router on a LAN-side interface and leaves on the WAN:

- **Inbound on the client's interface**: pfSense's ruleset starts with a non-quick
  "default deny", then the floating rules, then the interface's own rules (always `quick`: the
  first match decides). A floating rule is quick only with `<quick/>`; non-quick floating rules
  decide by the last match among them, and only when no quick rule matches. A LAN whose rules
  pass nothing blocks everything, the control site included (no web access at all, which the
  engine does not count as a social-media block). Rules on the WAN interface filter traffic
  coming *from* the internet and never stop users.
- **Outbound on the WAN**: pfSense passes everything out (non-quick); floating rules with
  direction `out`/`any` on a WAN interface can block there.
- Matching: `<disabled/>` rules are ignored; `pass`/`block`/`reject`; `<source>`/`<destination>`
  with `<any/>`, `<network>lan</network>` (the interface's subnet, `lanip` its address),
  `<address>` (alias, host, CIDR or range; aliases expand recursively), `<not/>`; `<ipprotocol>`
  inet / inet6 / inet46 (pfSense's default is inet); `<protocol>` (tcp, tcp/udp; absent = any);
  destination `<port>` (number, `a-b`, port alias). Addresses are judged against every catalog
  prefix of the service (addressing.py): covering some is `blocked-partial`.
- `<sched>`: the rule exists only inside its schedule window, so each schedule in use splits
  the clients into "during NAME" and "outside schedules" audiences (a block during working
  hours is `blocked-partial`).
- Audiences: each LAN-side interface, and on it each source host or network the rules name,
  plus "another host" of its subnet.
- `urltable`/`url` aliases whose entries are not in the XML (they are downloaded to
  `/var/db/aliastables/`, read from the repository when there) leave the rules that use them
  undecidable: `unknown`, TE903.
- **pfBlockerNG**: DNSBL groups (`pfblockerngdnsbl`) answer matching names with a sinkhole
  address for every client of the DNS resolver: the exact name, its subdomains too with
  "Wildcard blocking (TLD)"; their `<custom>` lists are base64 text and evaluated; downloaded
  feeds are not in the XML and make verdicts `unknown`, unless the feed's name says it holds
  another topic (ads, malware). IP groups (`pfblockernglistsv4/v6`) with a Deny/Reject
  outbound action become quick block rules at the top of the LAN interfaces, `Permit` ones
  quick pass rules; every group is also an alias `pfB_NAME` rules may use.
- **Squid** (`squid`, `squidacl`): the proxy's ACL fields (base64 text) are turned into the
  squid.conf lines pfSense generates and evaluated by the squid dialect, for clients on the
  proxy's interfaces (transparent mode sees plain HTTP only, unless SSL interception is on).
  **squidGuard** (`squidguard*`): target categories and group ACL pass lists are turned into
  squid ACLs (a request passes squidGuard only after squid allowed it); blacklist categories
  (`blk_BL_*`) live in a downloaded database: `unknown` unless named after another topic.
- **OPNsense**: the same legacy `<filter><rule>`s (interface rules quick, floating quick
  unless `<quick>0</quick>`), the newer `<OPNsense><Firewall><Filter>` rules (evaluated
  before them, by `sequence`), `<OPNsense><Firewall><Alias>` aliases, and the web proxy's
  forward `<blackList>` (comma separated, squid dstdomain semantics).

The XML is read with defusedxml: entity declarations, external entities and DTDs are refused
(TE902, one line), a truncated file is TE901 with its line, and verdicts are then `unknown`.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urlparse

import defusedxml.ElementTree as DET
from defusedxml.common import DefusedXmlException

from policy_lint.catalog import Catalog
from policy_lint.dialects.firewalls.reach import either, narrow_scope
from policy_lint.dialects.semantics.addressing import Target, decide_by_address
from policy_lint.dialects.semantics.base import ParseContext
from policy_lint.dialects.semantics.listnames import classify_list_name
from policy_lint.inputs import InputError, read_source
from policy_lint.model import Audience, Decision, Outcome, Probe, Problem, Span

NAME = "pfsense"
FILE_PATTERNS = ("config.xml", "config-*.xml", "*pfsense*.xml", "*opnsense*.xml", "config-*.xml.bak")

MAX_AUDIENCES = 64
MAX_ALIAS_DEPTH = 16
WAN_ADDRESSING = {"dhcp", "pppoe", "pptp", "l2tp", "ppp"}
# pfSense's factory LAN, assumed when a config (a fragment) has no <interfaces>.
FACTORY_LAN = ipaddress.IPv4Interface("192.168.1.1/24")
PORT_NAMES = {"http": 80, "www": 80, "https": 443, "domain": 53, "ssh": 22}
ON = {"on", "yes", "1", "true", "enabled"}

_ROOT = re.compile(r"<\s*(pfsense|opnsense)\s*>", re.I)

IPNet = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddr = ipaddress.IPv4Address | ipaddress.IPv6Address


def detect(path: Path, head: str) -> float:
    """The root element decides: a pfSense backup may be called anything (`config-host-2019.xml`)."""
    if _ROOT.search(head[:65536]):
        return 0.95
    return 0.0


# ----------------------------------------------------------------------------- XML with lines


class _LineParser(DET.DefusedXMLParser):
    """defusedxml's parser, recording each element's line (ElementTree keeps none)."""

    def _start(self, tag, attr_list):
        # ElementTree's XMLParser._start is private and untyped in typeshed: the hook is stable
        # across the Python versions we support.
        elem = super()._start(tag, attr_list)  # type: ignore[misc]
        elem.sourceline = self.parser.CurrentLineNumber
        return elem


def _line(elem: ET.Element | None) -> int:
    return getattr(elem, "sourceline", 1) if elem is not None else 1


def _text(elem: ET.Element | None, child: str, default: str = "") -> str:
    if elem is None:
        return default
    c = elem.find(child)
    return (c.text or "").strip() if c is not None else default


def _has(elem: ET.Element, child: str) -> bool:
    """pfSense flags are empty elements (`<disabled/>`); OPNsense writes `<disabled>1</disabled>`."""
    c = elem.find(child)
    return c is not None and (c.text or "").strip().lower() not in ("0", "no", "false", "off")


def _b64(text: str) -> str:
    """pfSense stores package textareas base64-encoded; plain text passes through unchanged."""
    compact = "".join(text.split())
    if compact and re.fullmatch(r"[A-Za-z0-9+/]+={0,2}", compact) and len(compact) % 4 == 0:
        try:
            decoded = base64.b64decode(compact, validate=True).decode("utf-8")
            if decoded.isprintable() or all(ch.isprintable() or ch in "\r\n\t" for ch in decoded):
                return decoded
        except (binascii.Error, UnicodeDecodeError):
            pass
    return text


def _lines_of(text: str) -> list[str]:
    out = []
    for raw in re.split(r"[\r\n]+", text):
        line = raw.split("#", 1)[0].strip()
        if line:
            out.append(line)
    return out


# ----------------------------------------------------------------------------- the model


@dataclass
class Interface:
    key: str  # lan, wan, opt1 ...
    descr: str
    span: Span
    net4: ipaddress.IPv4Interface | None = None
    wan: bool = False
    enabled: bool = True

    def label(self) -> str:
        return f"{self.descr} ({self.key})" if self.descr and self.descr.lower() != self.key else self.key


@dataclass
class Alias:
    name: str
    kind: str  # host | network | port | url | urltable | ...
    entries: list[str]
    span: Span
    content_missing: str = ""  # the URL whose content is not in the XML


@dataclass(frozen=True)
class Endpoint:
    kind: str  # any | network | address
    value: str = ""
    negated: bool = False
    port: str = ""


@dataclass
class FwRule:
    action: str  # pass | block | reject
    span: Span
    interfaces: tuple[str, ...]
    floating: bool
    quick: bool
    direction: str  # in | out | any
    family: int | None  # 4 | 6 | None (both)
    protocol: str  # "" = any
    src: Endpoint
    dst: Endpoint
    sched: str = ""
    origin: str = "filter"  # filter | opnsense | pfblockerng
    # Fields that select or steer packets and that are not modelled (tagged, os, gateway,
    # max-src-*, limiters, ...): the rule's match is unknown.
    unknown: tuple[str, ...] = ()
    nat_target: str = ""  # <nat><rule>: the port forward's target
    gateway: str = ""  # a pass rule's <gateway>: policy routing through it
    no_rdr: bool = False  # <nat><rule><nordr/>: an exception


@dataclass
class DnsList:
    """A pfBlockerNG DNSBL group: custom names (known) and feeds (content elsewhere)."""

    name: str
    span: Span
    names: dict[str, Span] = field(default_factory=dict)
    unknown_feeds: list[str] = field(default_factory=list)


@dataclass
class Config:
    path: Path
    shown: str
    problems: list[Problem]
    ok: bool = True
    opnsense: bool = False
    interfaces: dict[str, Interface] = field(default_factory=dict)
    aliases: dict[str, Alias] = field(default_factory=dict)
    rules: list[FwRule] = field(default_factory=list)
    nat: list[FwRule] = field(default_factory=list)  # <nat><rule> port forwards, in order
    schedules: dict[str, Span] = field(default_factory=dict)
    dnsbl: list[DnsList] = field(default_factory=list)
    dnsbl_whitelist: dict[str, Span] = field(default_factory=dict)
    dnsbl_wildcard: bool = False
    proxies: list[ProxyLayer] = field(default_factory=list)


@dataclass
class ProxyLayer:
    """A squid ruleset built from the XML, and whom it filters."""

    label: str
    ruleset: object  # a SquidRuleset
    interfaces: tuple[str, ...]  # () = every LAN-side interface
    https: bool  # False: transparent proxy without SSL interception sees plain HTTP only
    span: Span


# ----------------------------------------------------------------------------- parsing


class _Reader:
    def __init__(self, cfg: Config, context: ParseContext):
        self.cfg = cfg
        self.context = context

    def span(self, elem: ET.Element | None, text: str = "") -> Span:
        return Span(self.cfg.shown, _line(elem), 1, text)

    def problem(self, code: str, elem: ET.Element | None, message: str) -> None:
        self.cfg.problems.append(Problem(code, self.span(elem), message))

    def read(self, root: ET.Element) -> None:
        self.cfg.opnsense = root.tag.lower() == "opnsense"
        self.interfaces(root)
        self.aliases(root)
        self.schedules(root)
        opn = root.find("OPNsense")
        if opn is not None:
            self.opnsense_aliases(opn)
            self.opnsense_rules(opn)
        packages = root.find("installedpackages")
        if packages is not None:
            self.pfblocker(packages)
        for rule in root.findall("filter/rule"):
            parsed = self.rule(rule)
            if parsed is not None:
                self.cfg.rules.append(parsed)
        for rule in root.findall("nat/rule"):
            if _has(rule, "disabled"):
                continue
            interfaces = tuple(i.strip().lower() for i in _text(rule, "interface").split(",") if i.strip())
            src, dst = self.endpoint(rule.find("source")), self.endpoint(rule.find("destination"))
            target = f"{_text(rule, 'target')} port {_text(rule, 'local-port')}".strip()
            summary = f"port forward on {','.join(interfaces) or 'any'} from {_show(src)} to {_show(dst)}"
            self.cfg.nat.append(
                FwRule(
                    "rdr",
                    self.span(rule, summary + (f" -> {target}" if target else "")),
                    interfaces,
                    False,
                    True,
                    "in",
                    _family(_text(rule, "ipprotocol", "inet")),
                    _text(rule, "protocol").lower(),
                    src,
                    dst,
                    nat_target=target,
                    no_rdr=_has(rule, "nordr"),
                )
            )
        self.check_references()
        self.cfg.proxies = _proxies(self, root)

    # ---- interfaces
    def interfaces(self, root: ET.Element) -> None:
        ifaces = root.find("interfaces")
        if ifaces is None:
            self.cfg.interfaces["lan"] = Interface("lan", "LAN", Span(self.cfg.shown, 1, 1), FACTORY_LAN)
            self.cfg.interfaces["wan"] = Interface("wan", "WAN", Span(self.cfg.shown, 1, 1), None, True)
            return
        for elem in ifaces:
            key = elem.tag.lower()
            addr, subnet = _text(elem, "ipaddr"), _text(elem, "subnet")
            net4 = None
            if addr and subnet.isdigit():
                try:
                    net4 = ipaddress.IPv4Interface(f"{addr}/{subnet}")
                except ValueError:
                    net4 = None
            wan = key.startswith("wan") or addr.lower() in WAN_ADDRESSING or bool(_text(elem, "gateway"))
            enabled = elem.find("enable") is not None or key in ("lan", "wan")
            descr = _text(elem, "descr") or key.upper()
            self.cfg.interfaces[key] = Interface(
                key, descr, self.span(elem, f"<{key}> {descr}"), net4, wan, enabled
            )

    # ---- aliases (pfSense)
    def aliases(self, root: ET.Element) -> None:
        for elem in root.findall("aliases/alias"):
            name = _text(elem, "name")
            if not name:
                continue
            kind = _text(elem, "type").lower()
            entries = _text(elem, "address").split()
            alias = Alias(name, kind, entries, self.span(elem, f"alias {name} ({kind})"))
            if kind.startswith("url") and not kind.endswith("ports"):
                self.url_alias(alias, [u.text or "" for u in elem.iter() if u.tag in ("url", "aliasurl")])
            self.cfg.aliases[name] = alias

    def url_alias(self, alias: Alias, urls: list[str]) -> None:
        """`url`/`urltable` aliases hold downloaded content: in the XML (some versions keep the
        entries in <address>), in the repository under /var/db/aliastables, or nowhere."""
        if alias.entries:
            return
        for ref in (f"/var/db/aliastables/{alias.name}.txt", f"aliastables/{alias.name}.txt"):
            target = self.context.resolver.resolve(ref, self.cfg.path)
            if target is not None:
                try:
                    src = read_source(target, self.context.resolver.display(target))
                except InputError as exc:
                    self.cfg.problems.append(Problem("TE902", alias.span, str(exc)))
                    break
                alias.entries = [w for line in src.lines for w in _lines_of(line)[:1] for w in w.split()[:1]]
                return
        url = next((u.strip() for u in urls if u.strip()), "")
        alias.content_missing = url or "(no URL)"
        self.cfg.problems.append(
            Problem(
                "TE903",
                alias.span,
                f"alias {alias.name} ({alias.kind}) loads its entries from {url or 'a URL'}: the content is not in "
                f"config.xml, so rules that use it are undecidable",
            )
        )

    # ---- aliases (OPNsense MVC)
    def opnsense_aliases(self, opn: ET.Element) -> None:
        for elem in opn.findall("Firewall/Alias/aliases/alias"):
            name = _text(elem, "name")
            if not name or _text(elem, "enabled", "1") == "0":
                continue
            kind = _text(elem, "type").lower()
            entries = [e for e in re.split(r"[\s,]+", _text(elem, "content")) if e]
            alias = Alias(name, kind, entries, self.span(elem, f"alias {name} ({kind})"))
            if kind in ("url", "urltable", "geoip", "external", "dynipv6host", "asn"):
                if kind in ("url", "urltable"):
                    alias.entries = []
                    self.url_alias(alias, entries)
                else:
                    alias.entries = []
                    alias.content_missing = f"{kind} data"
                    self.problem(
                        "TE903",
                        elem,
                        f"alias {name} ({kind}): its addresses are computed outside "
                        f"config.xml, so rules that use it are undecidable",
                    )
            self.cfg.aliases[name] = alias

    def schedules(self, root: ET.Element) -> None:
        for elem in root.findall("schedules/schedule"):
            name = _text(elem, "name")
            if name:
                self.cfg.schedules[name] = self.span(elem, f"schedule {name}")

    # ---- rules
    def endpoint(self, elem: ET.Element | None) -> Endpoint:
        if elem is None:
            return Endpoint("any")
        negated = _has(elem, "not")
        port = _text(elem, "port")
        if elem.find("network") is not None:
            return Endpoint("network", _text(elem, "network").lower(), negated, port)
        if elem.find("address") is not None and _text(elem, "address"):
            return Endpoint("address", _text(elem, "address"), negated, port)
        return Endpoint("any", "", negated, port)

    def rule(self, elem: ET.Element) -> FwRule | None:
        if _has(elem, "disabled"):
            return None
        action = _text(elem, "type", "pass").lower()
        if action not in ("pass", "block", "reject"):
            if action != "match":
                self.problem("TE901", elem, f"rule type {action!r} is not pass, block, reject or match")
            return None
        floating = _text(elem, "floating").lower() in ON
        interfaces = tuple(i.strip().lower() for i in _text(elem, "interface").split(",") if i.strip())
        direction = _text(elem, "direction", "in" if not floating else "any").lower() or "in"
        # Interface rules are always quick. Floating rules: pfSense needs <quick/>; OPNsense
        # writes <quick>1</quick> by default and <quick>0</quick> to unset it.
        quick = True if not floating else _has(elem, "quick")
        descr = _text(elem, "descr")
        src, dst = self.endpoint(elem.find("source")), self.endpoint(elem.find("destination"))
        summary = f"{action} on {','.join(interfaces) or 'any'}"
        if floating:
            summary = (
                f"floating {action}{' quick' if quick else ''} {direction} on {','.join(interfaces) or 'any'}"
            )
        summary += f" from {_show(src)} to {_show(dst)}"
        if descr:
            summary += f" ({descr})"
        return FwRule(
            action,
            self.span(elem, summary),
            interfaces,
            floating,
            quick,
            direction,
            _family(_text(elem, "ipprotocol", "inet")),
            _text(elem, "protocol").lower(),
            src,
            dst,
            _text(elem, "sched"),
            unknown=_unmodelled_fields(elem, action),
            gateway=_gateway(elem, action),
        )

    def opnsense_rules(self, opn: ET.Element) -> None:
        """OPNsense's newer rules (Firewall > Automation / MVC filter): evaluated before the legacy ones."""
        found = []
        for elem in opn.findall("Firewall/Filter/rules/rule"):
            if _text(elem, "enabled", "1") == "0":
                continue
            action = _text(elem, "action", "pass").lower()
            if action not in ("pass", "block", "reject"):
                continue
            ifaces = tuple(i.strip().lower() for i in _text(elem, "interface").split(",") if i.strip())
            src = _opn_endpoint(
                _text(elem, "source_net", "any"), _text(elem, "source_not") == "1", _text(elem, "source_port")
            )
            dst = _opn_endpoint(
                _text(elem, "destination_net", "any"),
                _text(elem, "destination_not") == "1",
                _text(elem, "destination_port"),
            )
            seq = _text(elem, "sequence", "0")
            descr = _text(elem, "description")
            summary = f"{action} on {','.join(ifaces) or 'any'} from {_show(src)} to {_show(dst)}"
            summary += f" ({descr})" if descr else ""
            proto = _text(elem, "protocol", "any").lower()
            found.append(
                (
                    int(seq) if seq.isdigit() else 0,
                    FwRule(
                        action,
                        self.span(elem, summary),
                        ifaces,
                        True,
                        _text(elem, "quick", "1") != "0",
                        _text(elem, "direction", "in").lower() or "in",
                        _family(_text(elem, "ipprotocol", "inet")),
                        "" if proto == "any" else proto,
                        src,
                        dst,
                        _text(elem, "sched"),
                        "opnsense",
                    ),
                )
            )
        self.cfg.rules.extend(r for _s, r in sorted(found, key=lambda sr: sr[0]))

    def check_references(self) -> None:
        for rule in self.cfg.rules:
            if rule.sched and rule.sched not in self.cfg.schedules:
                self.cfg.problems.append(
                    Problem("TE901", rule.span, f"schedule {rule.sched!r} is not defined")
                )
            for ep in (rule.src, rule.dst):
                if (
                    ep.kind == "address"
                    and not _literal_host(ep.value)
                    and ep.value not in self.cfg.aliases
                    and self.context.catalog.service_for_host(ep.value) is None
                ):
                    self.cfg.problems.append(
                        Problem("TE901", rule.span, f"alias {ep.value!r} is not defined")
                    )

    # ---- pfBlockerNG
    def pfblocker(self, packages: ET.Element) -> None:
        general = packages.find("pfblockerng/config")
        if general is None or _text(general, "enable_cb").lower() not in ON:
            return
        keywords = {sid: s.keywords for sid, s in self.context.catalog.services.items()}
        settings = packages.find("pfblockerngdnsblsettings/config")
        dnsbl_on = settings is not None and _text(settings, "pfb_dnsbl").lower() in ON
        if settings is not None:
            self.cfg.dnsbl_wildcard = any(
                _text(settings, k).lower() in ON for k in ("pfb_tld", "dnsbl_tld", "pfb_dnsbl_tld")
            )
            for name in _lines_of(_b64(_text(settings, "suppression"))):
                self.cfg.dnsbl_whitelist[name.lower().split()[0]] = self.span(
                    settings.find("suppression"), f"DNSBL whitelist {name}"
                )
        if dnsbl_on:
            for group in packages.findall("pfblockerngdnsbl/config"):
                if _text(group, "action").lower() == "disabled":
                    continue
                name = _text(group, "aliasname") or "DNSBL"
                lst = DnsList(name, self.span(group, f"pfBlockerNG DNSBL {name}"))
                custom = group.find("custom")
                for entry in _lines_of(_b64(_text(group, "custom"))):
                    words = entry.split()
                    host = words[-1] if len(words) > 1 and _literal_host(words[0]) else words[0]
                    lst.names[host.lower().strip(".")] = self.span(custom, f"DNSBL {name}: {host}")
                for row in group.findall("row"):
                    if _text(row, "state", "Enabled").lower() == "disabled":
                        continue
                    url, header = _text(row, "url"), _text(row, "header")
                    if not url:
                        continue
                    kind, _named = classify_list_name(f"{name} {header} {urlparse(url).path}", keywords)
                    if kind == "other-topic":
                        self.problem(
                            "TE903",
                            row,
                            f"DNSBL feed {header or url} is downloaded, not in config.xml; "
                            f"its name suggests another topic, so it is assumed not to name "
                            f"the catalog services",
                        )
                    else:
                        lst.unknown_feeds.append(header or url)
                        self.problem(
                            "TE903",
                            row,
                            f"DNSBL feed {header or url} is downloaded, not in config.xml: "
                            f"verdicts for names it may hold are unknown",
                        )
                self.cfg.dnsbl.append(lst)
        for fam in ("v4", "v6"):
            for group in packages.findall(f"pfblockerngLists{fam}/config") + packages.findall(
                f"pfblockernglists{fam}/config"
            ):
                self.pfblocker_ip(group, keywords)

    def pfblocker_ip(self, group: ET.Element, keywords: dict) -> None:
        name = _text(group, "aliasname") or "list"
        alias_name = f"pfB_{name}"
        action = _text(group, "action").lower()
        entries: list[str] = []
        for entry in _lines_of(_b64(_text(group, "custom"))):
            entries.append(entry.split()[0])
        alias = Alias(alias_name, "pfblockerng", entries, self.span(group, f"pfBlockerNG {name} ({action})"))
        feeds = [
            (_text(r, "header") or _text(r, "url"))
            for r in group.findall("row")
            if _text(r, "url") and _text(r, "state", "Enabled").lower() != "disabled"
        ]
        for feed in feeds:
            kind, _named = classify_list_name(f"{name} {feed}", keywords)
            if kind != "other-topic":
                alias.content_missing = feed
                self.problem(
                    "TE903",
                    group,
                    f"pfBlockerNG IP feed {feed} is downloaded, not in config.xml: "
                    f"rules that use {alias_name} are undecidable",
                )
                break
        self.cfg.aliases[alias_name] = alias
        if action.startswith(
            ("deny_outbound", "deny_both", "reject_outbound", "reject_both", "permit_outbound", "permit_both")
        ):
            lan = tuple(k for k, i in self.cfg.interfaces.items() if not i.wan) or ("lan",)
            verb = (
                "pass"
                if action.startswith("permit")
                else ("reject" if action.startswith("reject") else "block")
            )
            # pfBlockerNG puts its rules first on the outbound (LAN) interfaces, quick.
            self.cfg.rules.insert(
                0,
                FwRule(
                    verb,
                    replace(alias.span, text=f"pfBlockerNG {action} to {alias_name}"),
                    lan,
                    True,
                    True,
                    "in",
                    None,
                    "",
                    Endpoint("any"),
                    Endpoint("address", alias_name),
                    origin="pfblockerng",
                ),
            )


# pfSense rule fields (filter.inc) that decide which packets a rule matches, or where a passed
# connection goes, and that are not modelled.
UNMODELLED_FIELDS = ("tagged", "os", "dscp", "vlanprio", "icmptype")
PASS_ONLY_FIELDS = (
    "max",
    "max-src-nodes",
    "max-src-conn",
    "max-src-states",
    "max-src-conn-rate",
    "max-src-conn-rates",
    "dnpipe",  # limiters: bandwidth shaping
    "pdnpipe",
)


def _gateway(elem: ET.Element, action: str) -> str:
    """A pass rule's `<gateway>` (policy routing: the connection leaves through that gateway or
    gateway group, a VPN perhaps, instead of the default route); "" for the default."""
    value = _text(elem, "gateway").strip()
    return value if action == "pass" and value.lower() not in ("", "none", "default") else ""


def _unmodelled_fields(elem: ET.Element, action: str) -> tuple[str, ...]:
    out = []
    for name in UNMODELLED_FIELDS + (PASS_ONLY_FIELDS if action == "pass" else ()):
        value = _text(elem, name).strip()
        if value and value.lower() not in ("none", "default"):
            out.append(f"<{name}>{value}</{name}>")
    source = elem.find("source")
    if source is not None and _text(source, "port").strip():
        out.append("a source port (the client's port is any ephemeral port)")
    flags_set, flags_of = _text(elem, "tcpflags1").lower(), _text(elem, "tcpflags2").lower()
    if (flags_set or flags_of) and not _has(elem, "tcpflags_any"):
        must = {f for f in flags_set.split(",") if f}
        mask = {f for f in flags_of.split(",") if f} or must
        if ({"syn"} & mask) != must:  # the connection's SYN does not match: later packets might
            out.append(f"tcp flags {flags_set or '-'}/{flags_of or '-'}")
    return tuple(out)


def _endpoint_words(ep: Endpoint) -> str:
    """A rule's source or destination as the GUI shows it: an alias or address, `LAN net`,
    `LAN address`, with `!` for "invert match"."""
    if ep.kind == "network" and ep.value.endswith("ip"):
        text = f"{ep.value[:-2].upper()} address"
    elif ep.kind == "network" and ep.value not in ("(self)", "any"):
        text = f"{ep.value.upper()} net"
    else:
        text = ep.value or ep.kind
    return ("! " if ep.negated else "") + text


def _family(text: str) -> int | None:
    return {"inet": 4, "inet6": 6}.get(text.lower())


def _opn_endpoint(net: str, negated: bool, port: str) -> Endpoint:
    if net.lower() in ("", "any"):
        return Endpoint("any", "", negated, port)
    low = net.lower()
    if re.fullmatch(r"(lan|wan|opt\d+)(ip)?|\(self\)", low):
        return Endpoint("network", low, negated, port)
    return Endpoint("address", net, negated, port)


def _show(ep: Endpoint) -> str:
    text = "any" if ep.kind == "any" else ep.value
    text = f"!{text}" if ep.negated else text
    return f"{text} port {ep.port}" if ep.port else text


def _literal_host(word: str) -> bool:
    try:
        if "-" in word:
            a, b = word.split("-", 1)
            ipaddress.ip_address(a)
            ipaddress.ip_address(b)
        else:
            ipaddress.ip_network(word, strict=False)
        return True
    except ValueError:
        return False


# ----------------------------------------------------------------------------- proxy packages


def _squid_ruleset(label: str, items: list[tuple[Span, tuple[str, ...]]], context: ParseContext, cfg: Config):
    """A squid dialect ruleset from squid.conf lines we build (spans point into config.xml)."""
    from policy_lint.dialects.proxies import squid

    lines = [squid.Line(span, words) for span, words in items]
    problems: list[Problem] = []
    ruleset = squid.ruleset_from_lines(f"{cfg.shown} ({label})", lines, context, problems, cfg.path)
    cfg.problems.extend(problems)
    return ruleset


def _subnets(cfg: Config, keys: Iterable[str]) -> list[str]:
    out = []
    for k in keys:
        iface = cfg.interfaces.get(k.strip().lower())
        if iface is not None and iface.net4 is not None:
            out.append(str(iface.net4.network))
    return out


def _proxies(reader: _Reader, root: ET.Element) -> list[ProxyLayer]:
    cfg, context = reader.cfg, reader.context
    out: list[ProxyLayer] = []
    packages = root.find("installedpackages")
    if packages is not None:
        general = packages.find("squid/config")
        if general is not None and _text(general, "enable_squid").lower() in ON:
            layer = _pfsense_squid(reader, packages, general)
            if layer is not None:
                out.append(layer)
                guard = _pfsense_squidguard(reader, packages, layer)
                if guard is not None:
                    out.append(guard)
    opn = root.find("OPNsense/proxy")
    if opn is not None and _text(opn, "general/enabled") == "1":
        fwd = opn.find("forward")
        acl = opn.find("forward/acl")
        black = (
            [d.strip() for d in _text(acl, "blackList").split(",") if d.strip()] if acl is not None else []
        )
        if black and acl is not None:
            span = reader.span(acl.find("blackList"), "web proxy blacklist " + ",".join(black)[:80])
            items = [
                (span, ("acl", "blacklist", "dstdomain", *black)),
                (span, ("http_access", "deny", "blacklist")),
                (reader.span(acl, "web proxy: allow"), ("http_access", "allow", "all")),
            ]
            transparent = _text(fwd, "transparentMode") == "1"
            ifaces = tuple(i.lower() for i in _text(fwd, "interfaces").split(",") if i)
            out.append(
                ProxyLayer(
                    "web proxy",
                    _squid_ruleset("web proxy", items, context, cfg),
                    ifaces,
                    not transparent or _text(fwd, "sslbump") == "1",
                    span,
                )
            )
    return out


def _pfsense_squid(reader: _Reader, packages: ET.Element, general: ET.Element) -> ProxyLayer | None:
    """The http_access lines pfSense's squid.inc writes from the ACL tab, in its order:
    unrestricted hosts, banned hosts, whitelist, blacklist, allowed subnets, deny all."""
    cfg = reader.cfg
    acl = packages.find("squidacl/config")
    ifaces = tuple(i.lower() for i in _text(general, "active_interface", "lan").split(",") if i)
    transparent = _text(general, "transparent_proxy").lower() in ON
    t_ifaces = tuple(i.lower() for i in _text(general, "transparent_active_interface").split(",") if i)
    ssl = _text(general, "ssl_proxy").lower() in ON
    items: list[tuple[Span, tuple[str, ...]]] = []
    access: list[tuple[Span, tuple[str, ...]]] = []

    def field_lines(name: str) -> tuple[list[str], Span]:
        elem = acl.find(name) if acl is not None else None
        text = _b64((elem.text or "") if elem is not None else "")
        return [w for line in _lines_of(text) for w in line.split()], reader.span(
            elem if elem is not None else acl
        )

    allowed = _subnets(cfg, ifaces + t_ifaces)
    extra, _ = field_lines("allowed_subnets")
    allowed += [e for e in extra if _literal_host(e)]
    for name, action, typ in (
        ("unrestricted_hosts", "allow", "src"),
        ("banned_hosts", "deny", "src"),
        ("whitelist", "allow", "dstdom_regex"),
        ("blacklist", "deny", "dstdom_regex"),
    ):
        values, span = field_lines(name)
        if typ == "src":
            values = [v for v in values if _literal_host(v)]
        if not values:
            continue
        span = replace(span, text=f"squid {name}: {' '.join(values)[:80]}")
        items.append((span, ("acl", name, typ, *(("-i",) if typ == "dstdom_regex" else ()), *values)))
        access.append((span, ("http_access", action, name)))
    gspan = reader.span(general, "squid: allowed subnets")
    if allowed:
        items.append((gspan, ("acl", "allowed_subnets", "src", *allowed)))
        access.append((gspan, ("http_access", "allow", "allowed_subnets")))
    access.append((gspan, ("http_access", "deny", "all")))
    ruleset = _squid_ruleset("squid", items + access, reader.context, cfg)
    return ProxyLayer(
        "squid", ruleset, tuple(dict.fromkeys(ifaces + t_ifaces)), not transparent or ssl, gspan
    )


def _pfsense_squidguard(reader: _Reader, packages: ET.Element, squid_layer: ProxyLayer) -> ProxyLayer | None:
    """squidGuard's pass lists as squid ACL lines: `!dest` denies, `dest`/`^dest`/`all` pass,
    `none` denies; the first group whose source matches decides, else the common ACL."""
    cfg = reader.cfg
    general = packages.find("squidguardgeneral/config")
    if general is None or _text(general, "squidguard_enable").lower() not in ON:
        return None
    items: list[tuple[Span, tuple[str, ...]]] = []
    dests: set[str] = set()
    for d in packages.findall("squidguarddest/config"):
        name = _text(d, "name")
        if not name:
            continue
        domains = [w.lower().lstrip(".") for w in _text(d, "domains").split()]
        span = reader.span(d, f"squidGuard target {name}: {' '.join(domains)[:60]}")
        values = [f".{w}" for w in domains] or ["squidguard.invalid"]
        items.append((span, ("acl", f"sg_{name}", "dstdomain", *values)))
        exprs = _text(d, "expressions").split()
        if exprs:
            items.append((span, ("acl", f"sg_{name}", "dstdomain", "squidguard.invalid")))
        dests.add(name)

    def dest_acl(name: str, span: Span) -> str:
        if name not in dests:
            # A blacklist category (blk_BL_socialnet): its list is in squidGuard's downloaded db.
            items.append((span, ("acl", f"sg_{name}", "dstdomain", f'"/var/db/squidGuard/{name}/domains"')))
            dests.add(name)
        return f"sg_{name}"

    access: list[tuple[Span, tuple[str, ...]]] = []

    def pass_list(text: str, span: Span, who: tuple[str, ...]) -> None:
        # "!blk_BL_socialnet ^allowed all [ ... ]": the bracketed part applies outside the time.
        for word in text.split("[", 1)[0].split():
            if word in ("all", "any"):
                access.append((span, ("http_access", "allow", *who)))
                return
            if word == "none":
                access.append((span, ("http_access", "deny", *who)))
                return
            deny = word.startswith("!")
            name = word.lstrip("!^")
            access.append((span, ("http_access", "deny" if deny else "allow", *who, dest_acl(name, span))))
        access.append((span, ("http_access", "allow", *who)))

    for i, group in enumerate(packages.findall("squidguardacl/config")):
        if _has(group, "disabled"):
            continue
        sources = [w for w in _text(group, "source").split() if _literal_host(w)]
        if not sources:
            continue
        name = f"sg_src{i}"
        span = reader.span(group, f"squidGuard group {_text(group, 'name')}: {_text(group, 'dest')}")
        items.append((span, ("acl", name, "src", *sources)))
        pass_list(_text(group, "dest"), span, (name,))
    default = packages.find("squidguarddefault/config")
    if default is not None:
        span = reader.span(default, f"squidGuard common ACL: {_text(default, 'dest')}")
        pass_list(_text(default, "dest") or "all", span, ())
    access.append((reader.span(general, "squidGuard"), ("http_access", "allow", "all")))
    ruleset = _squid_ruleset("squidGuard", items + access, reader.context, cfg)
    return ProxyLayer(
        "squidGuard", ruleset, squid_layer.interfaces, squid_layer.https, reader.span(general, "squidGuard")
    )


# ----------------------------------------------------------------------------- evaluation


@dataclass
class _Client:
    iface: str
    src: IPAddr | None
    schedule: str  # the schedule window we are in ("" = outside every schedule)


class PfSenseRuleset:
    dialect = NAME

    def __init__(self, cfg: Config, catalog: Catalog):
        self.cfg = cfg
        self.path = cfg.shown
        self.problems = cfg.problems
        self.catalog = catalog
        self._nets_cache: dict[str, tuple[list[IPNet], str]] = {}
        self.wan = {k for k, i in cfg.interfaces.items() if i.wan}
        self.lan = [k for k, i in cfg.interfaces.items() if not i.wan and i.enabled]
        self._decided: dict[tuple, Decision] = {}  # (probe, audience key) -> decision
        self._by_span = {r.span: r for r in self.cfg.rules}
        self._audiences = self._make_audiences()

    # ---- addresses
    def nets(self, word: str, depth: int = 0) -> tuple[list[IPNet], str]:
        """The networks a host word stands for, and the reason when they are unknown."""
        if word in self._nets_cache:
            return self._nets_cache[word]
        result: tuple[list[IPNet], str] = ([], "")
        alias = self.cfg.aliases.get(word)
        if alias is not None:
            if depth >= MAX_ALIAS_DEPTH:
                return [], f"alias {word} nests too deep"
            nets: list[IPNet] = []
            missing = (
                f"alias {word} loads its entries from {alias.content_missing}"
                if alias.content_missing
                else ""
            )
            for entry in alias.entries:
                sub, why = self.nets(entry, depth + 1)
                nets.extend(sub)
                missing = missing or why
            result = (nets, missing)
        elif "-" in word and _literal_host(word):
            a, b = (ipaddress.ip_address(x) for x in word.split("-", 1))
            result = (
                # same version checked first: mypy cannot narrow the pair of unions
                list(ipaddress.summarize_address_range(a, b))
                if a.version == b.version and a <= b  # type: ignore[operator]
                else [],
                "",
            )
        elif _literal_host(word):
            result = ([ipaddress.ip_network(word, strict=False)], "")
        else:
            hit = self.catalog.service_for_host(word)
            if hit:  # a FQDN: pfSense resolves it; the catalog stands in for DNS
                result = ([ipaddress.ip_network(a) for a in self.catalog.services[hit[0]].addresses], "")
            elif word.lower() == self.catalog.control_host:
                result = ([ipaddress.ip_network(a) for a in self.catalog.control_addresses], "")
        self._nets_cache[word] = result
        return result

    def _endpoint_match(
        self, ep: Endpoint, address: IPAddr | None, client: _Client, source: bool
    ) -> bool | None:
        if ep.kind == "any":
            hit: bool | None = True
        elif ep.kind == "network":
            hit = self._network_match(ep.value, address, client, source)
        else:
            if address is None:
                hit = False
            else:
                nets, missing = self.nets(ep.value)
                hit = any(n.version == address.version and address in n for n in nets)
                if not hit and missing:
                    hit = None
        return hit if hit is None else hit != ep.negated

    def _network_match(self, value: str, address: IPAddr | None, client: _Client, source: bool) -> bool:
        if value in ("any",):
            return True
        if value == "(self)" or value.endswith("ip"):
            iface = self.cfg.interfaces.get(value[:-2]) if value.endswith("ip") else None
            return (
                address is not None
                and iface is not None
                and iface.net4 is not None
                and address == iface.net4.ip
            )
        iface = self.cfg.interfaces.get(value)
        if iface is None:
            return False
        if address is None:
            return False
        if iface.net4 is None or address.version == 6:
            # An interface without a static IPv4 subnet (DHCP WAN), or an IPv6 client: its
            # clients are those on that interface.
            return source and client.iface == value
        return address in iface.net4.network

    # ---- audiences
    def _source_words(self, key: str, src: IPAddr) -> str:
        """How a client of interface `key` is told apart: the source networks and aliases its
        rules name that hold its address (and narrower ones that do not), or none of them."""
        named: list[tuple[str, list[IPNet]]] = []
        for rule in self.cfg.rules:
            if rule.src.kind != "address" or not (
                key in rule.interfaces or (rule.floating and not rule.interfaces)
            ):
                continue
            if all(rule.src.value != n for n, _ in named):
                named.append((rule.src.value, self.nets(rule.src.value)[0]))

        def holds(nets: list[IPNet]) -> bool:
            return any(n.version == src.version and src in n for n in nets)

        holding = [(n, nets) for n, nets in named if holds(nets)]
        if not holding:
            names = [n for n, _ in named]
            if not names:
                return ""
            if len(names) > 4:
                return f"from none of the {len(names)} sources its rules name"
            return "not from " + either(names)
        but = [
            n
            for n, nets in named
            if (n, nets) not in holding
            and any(a.version == b.version and a.subnet_of(b) for a in nets for _h, hn in holding for b in hn)  # type: ignore[arg-type]
        ]
        text = "from " + " and ".join(n for n, _ in holding)
        return text + (f" but not from {either(but)}" if but else "")

    def _make_audiences(self) -> list[Audience]:
        schedules = sorted({r.sched for r in self.cfg.rules if r.sched and r.sched in self.cfg.schedules})
        windows = [""] + schedules if schedules else [""]
        out: list[Audience] = []
        for key in self.lan or ["lan"]:
            iface = self.cfg.interfaces.get(key)
            for src in self._sources(key):
                for when in windows:
                    conds = [f"on {iface.label() if iface else key}"]
                    said = self._source_words(key, src)
                    if said:
                        conds.append(said)
                    conds[0] = "clients " + conds[0]
                    if schedules:
                        conds.append(f"during schedule {when}" if when else "outside schedules")
                    attrs = [("src", str(src)), ("interface", key)] + ([("schedule", when)] if when else [])
                    out.append(
                        Audience(key=(key, str(src), when), conditions=tuple(conds), attributes=tuple(attrs))
                    )
        if len(out) > MAX_AUDIENCES:
            self.problems.append(
                Problem(
                    "TE906",
                    Span(self.path, 1, 1),
                    f"{len(out)} kinds of client; the first {MAX_AUDIENCES} are evaluated",
                )
            )
            out = out[:MAX_AUDIENCES]
        return out

    def _sources(self, key: str) -> list[IPAddr]:
        """Hosts the rules of this interface name as sources, and another host of its subnet."""
        iface = self.cfg.interfaces.get(key)
        subnet = iface.net4.network if iface and iface.net4 else None
        named: list[IPNet] = []
        for rule in self.cfg.rules:
            if rule.src.kind != "address" or not (
                key in rule.interfaces or (rule.floating and not rule.interfaces)
            ):
                continue
            for n in self.nets(rule.src.value)[0]:
                # Clients of this interface: inside its subnet (or private, when it has none).
                if n.version == 4 and (n.subnet_of(subnet) if subnet is not None else n.is_private):
                    named.append(n)
        named = sorted(set(named), key=lambda n: (n.network_address, n.prefixlen))
        reps: list[IPAddr] = [
            n.network_address + 1 if n.num_addresses > 2 else n.network_address for n in named
        ]
        pool = subnet or ipaddress.IPv4Network("192.168.77.0/24")
        taken = {iface.net4.ip} if iface and iface.net4 else set()
        for count, host in enumerate(pool.hosts()):
            if count > 1024:
                break
            if host not in taken and not any(host in n for n in named):
                reps.append(host)
                break
        return list(dict.fromkeys(reps))

    def audiences(self) -> list[Audience]:
        return self._audiences

    # ---- the filter
    def _applies(self, rule: FwRule, direction: str, iface: str | None, client: _Client) -> bool:
        if rule.sched and rule.sched != client.schedule:
            return False
        if direction == "in":
            if rule.direction not in ("in", "any"):
                return False
            return (
                iface in rule.interfaces
                or "any" in rule.interfaces
                or (rule.floating and not rule.interfaces)
            )
        # out on the egress (WAN) interface
        if rule.direction not in ("out", "any"):
            return False
        return (
            bool(self.wan & set(rule.interfaces))
            or "any" in rule.interfaces
            or (rule.floating and not rule.interfaces)
        )

    def _rule_match(self, rule: FwRule, target: Target, port: int, client: _Client) -> bool | None:
        if rule.family is not None and rule.family != target.version:
            return False
        if rule.protocol and "tcp" not in rule.protocol:
            return False
        if rule.dst.port and not self._port_match(rule.dst.port, port):
            return False
        src = client.src if client.src is not None and (target.version == client.src.version) else None
        s = (
            self._endpoint_match(rule.src, src if src is not None else client.src, client, source=True)
            if rule.src.kind != "address" or src is not None
            else rule.src.negated
        )
        if s is False:
            return False
        d = self._endpoint_match(rule.dst, target.address, client, source=False)
        if d is False:
            return False
        return None if (s is None or d is None or rule.unknown) else True

    def _port_match(self, spec: str, port: int, depth: int = 0) -> bool:
        for word in spec.replace(",", " ").split():
            alias = self.cfg.aliases.get(word)
            if alias is not None and depth < MAX_ALIAS_DEPTH:
                if self._port_match(" ".join(alias.entries), port, depth + 1):
                    return True
                continue
            lo_s, _sep, hi_s = word.replace(":", "-").partition("-")
            lo = int(lo_s) if lo_s.isdigit() else PORT_NAMES.get(lo_s.lower())
            hi = (int(hi_s) if hi_s.isdigit() else PORT_NAMES.get(hi_s.lower())) if hi_s else lo
            if lo is not None and hi is not None and lo <= port <= hi:
                return True
        return False

    def _filter(self, direction: str, target: Target, port: int, client: _Client) -> Decision:
        """One pass through pf as pfSense loads it (module docstring)."""
        iface = client.iface if direction == "in" else None
        last: FwRule | None = None  # the last matching non-quick rule
        decided: FwRule | None = None
        unsure: list[FwRule] = []
        rules = [r for r in self.cfg.rules if r.floating] + [r for r in self.cfg.rules if not r.floating]
        for rule in rules:
            if not self._applies(rule, direction, iface, client):
                continue
            m = self._rule_match(rule, target, port, client)
            if m is False:
                continue
            if m is None:
                unsure.append(rule)
                continue
            if rule.quick:
                decided = rule
                break
            last = rule
        final = decided or last
        outcome = None if final is None else (Outcome.ALLOW if final.action == "pass" else Outcome.DENY)
        if final is None:
            outcome = Outcome.DENY if direction == "in" else Outcome.ALLOW
        for rule in unsure:
            would = Outcome.ALLOW if rule.action == "pass" else Outcome.DENY
            if would != outcome:
                return Decision(Outcome.UNKNOWN, rule.span, (rule.span,), True, note=self._unsure_note(rule))
        if final is None:
            if direction == "out":
                return Decision(Outcome.ALLOW, note="pfSense passes everything out")
            label = (
                self.cfg.interfaces[client.iface].label()
                if client.iface in self.cfg.interfaces
                else client.iface
            )
            return Decision(
                Outcome.DENY,
                None,
                (),
                False,
                "drop",
                note=f"no rule on {label} passes it: pfSense's default deny",
                scope=f"clients on {label}",
            )
        trace = (final.span,) + tuple(a.span for a in self._aliases_of(final.dst))
        specific = final.dst.kind == "address" and not final.dst.negated
        # Whom the rule names, in the configuration's words (its interface, its source as the
        # GUI shows it), never the sample address the packet carries.
        scope = []
        if final.interfaces and direction == "in":
            named = self.cfg.interfaces.get(client.iface)
            scope.append(f"on {named.label() if named else client.iface}")
        if final.src.kind != "any":
            scope.append(f"from {_endpoint_words(final.src)}")
        if final.sched:
            scope.append(f"during schedule {final.sched}")
        said = "clients " + " ".join(scope) if scope else ""
        if final.action == "pass" and final.gateway:
            return self._routed(final, said)
        if final.action == "pass":
            return Decision(Outcome.ALLOW, final.span, trace, specific, scope=said)
        how = "reject" if final.action == "reject" else "drop"
        return Decision(Outcome.DENY, final.span, trace, specific, how, scope=said)

    def _routed(self, rule: FwRule, scope: str) -> Decision:
        """A pass rule with a `<gateway>` sends the connection out through that gateway (policy
        routing: often a VPN client's interface) instead of the default route: what filters it
        there is not in this file. `unknown`, TE907 at the rule, as for a DNS answer pinned to an
        address the catalog cannot place."""
        if not any(p.code == "TE907" and p.span == rule.span for p in self.problems):
            everything = rule.dst.kind == "any" and not rule.dst.negated and not rule.protocol
            what = "all traffic it passes" if everything else "connections it passes"
            self.problems.append(
                Problem(
                    "TE907",
                    rule.span,
                    f"policy routing: <gateway>{rule.gateway}</gateway> sends {what} through that "
                    "gateway (a VPN, a tunnel, another uplink): what filters it there is not part of "
                    "this file",
                )
            )
        return Decision(
            Outcome.UNKNOWN,
            rule.span,
            (rule.span,),
            False,
            note=f"routed through gateway {rule.gateway}: the path it leaves by decides",
            scope=scope,
        )

    def _port_forward(self, target: Target, port: int, client: _Client) -> Decision | None:
        """`<nat><rule>` port forwards on the client's interface (pf `rdr`, first match; the
        filter then sees the new destination). Forwarding the service's own addresses elsewhere
        is a block; forwarding web traffic at large hands the decision to the target host (a
        proxy, a block page): `unknown`, TE907 at the port forward."""
        for rule in self.cfg.nat:
            if client.iface not in rule.interfaces and "any" not in rule.interfaces:
                continue
            m = self._rule_match(rule, target, port, client)
            if m is False:
                continue
            if m is None:
                return Decision(Outcome.UNKNOWN, rule.span, (rule.span,), True, note=self._unsure_note(rule))
            if rule.no_rdr:
                return None
            if rule.dst.kind == "address" and not rule.dst.negated:
                return Decision(
                    Outcome.DENY,
                    rule.span,
                    (rule.span,) + tuple(a.span for a in self._aliases_of(rule.dst)),
                    True,
                    "redirect",
                    note=f"port forward to {rule.nat_target}",
                )
            if not any(p.code == "TE907" and p.span == rule.span for p in self.problems):
                self.problems.append(
                    Problem(
                        "TE907",
                        rule.span,
                        f"port forward sends the connections to {rule.nat_target}: what listens there "
                        "decides, and its configuration is not part of this file",
                    )
                )
            return Decision(
                Outcome.UNKNOWN,
                rule.span,
                (rule.span,),
                False,
                note=f"forwarded to {rule.nat_target}: what listens there decides",
            )
        return None

    def _aliases_of(self, ep: Endpoint) -> list[Alias]:
        alias = self.cfg.aliases.get(ep.value) if ep.kind == "address" else None
        return [alias] if alias else []

    def _unsure_note(self, rule: FwRule) -> str:
        if rule.unknown:
            return f"{', '.join(rule.unknown)} (not evaluated)"
        for ep in (rule.dst, rule.src):
            if ep.kind == "address":
                _nets, why = self.nets(ep.value)
                if why:
                    return f"{why}, not in config.xml: its addresses are unknown"
        return "an alias this rule uses cannot be read"

    # ---- DNS (pfBlockerNG DNSBL)
    def _dnsbl(self, probe: Probe) -> Decision | None:
        host = probe.host.lower().rstrip(".")
        labels = host.split(".")
        parents = [".".join(labels[i:]) for i in range(len(labels) - 1)]
        # The DNSBL whitelist ("suppression") exempts a name and, pfBlockerNG-style, its subdomains.
        if any(name in self.cfg.dnsbl_whitelist for name in parents):
            return None
        unknown: Decision | None = None
        for lst in self.cfg.dnsbl:
            for name in parents:
                span = lst.names.get(name)
                if span is not None and (name == host or self.cfg.dnsbl_wildcard):
                    return Decision(
                        Outcome.DENY,
                        span,
                        (lst.span, span),
                        True,
                        "dns-sinkhole",
                        note=f"pfBlockerNG DNSBL {lst.name}",
                    )
            if lst.unknown_feeds and unknown is None:
                unknown = Decision(
                    Outcome.UNKNOWN,
                    lst.span,
                    (lst.span,),
                    True,
                    note=f"DNSBL feed {lst.unknown_feeds[0]} is not in config.xml",
                )
        return unknown

    # ---- the whole device
    def evaluate(self, probe: Probe, audience: Audience) -> Decision:
        d = self._evaluate(probe, audience)
        rule = self._by_span.get(d.rule) if d.rule is not None else None
        if rule is None or not d.scope:
            return d
        # The rule names whom it applies to (an interface, a source, a schedule); clients it
        # names that earlier rules let through are not blocked by it: then it blocks this audience.
        return narrow_scope(
            d, audience, self._audiences, lambda a: self._evaluate(probe, a), lambda a: self._reaches(rule, a)
        )

    def _client(self, audience: Audience) -> _Client:
        src_text = audience.attribute("src")
        return _Client(
            audience.attribute("interface") or (self.lan[0] if self.lan else "lan"),
            ipaddress.ip_address(src_text) if src_text else None,
            audience.attribute("schedule") or "",
        )

    def _reaches(self, rule: FwRule, audience: Audience) -> bool:
        """Do the client conditions of `rule` (interface, source, schedule) hold for `audience`?"""
        client = self._client(audience)
        if rule.sched and rule.sched != client.schedule:
            return False
        if rule.direction in ("in", "any") and not self._applies(rule, "in", client.iface, client):
            return False
        return self._endpoint_match(rule.src, client.src, client, True) is not False

    def _evaluate(self, probe: Probe, audience: Audience) -> Decision:
        ck = (probe, audience.key)
        hit = self._decided.get(ck)
        if hit is None:
            hit = self._decide_probe(probe, audience)
            if len(self._decided) < 200_000:
                self._decided[ck] = hit
        return hit

    def _decide_probe(self, probe: Probe, audience: Audience) -> Decision:
        if not self.cfg.ok:
            return Decision(Outcome.UNKNOWN, None, (), note="config.xml could not be read")
        src_text = audience.attribute("src")
        client = _Client(
            audience.attribute("interface") or (self.lan[0] if self.lan else "lan"),
            ipaddress.ip_address(src_text) if src_text else None,
            audience.attribute("schedule") or "",
        )
        dns = self._dnsbl(probe)
        if dns is not None and dns.outcome == Outcome.DENY:
            return dns

        def through(target: Target) -> Decision:
            forwarded = self._port_forward(target, probe.port, client)
            if forwarded is not None:
                return forwarded
            first = self._filter("in", target, probe.port, client)
            if first.outcome != Outcome.ALLOW:
                return first
            second = self._filter("out", target, probe.port, client)
            return second if second.outcome != Outcome.ALLOW or second.rule else first

        # A client denied IPv6 to anywhere (inet-only pass rules, "Allow IPv6" off) connects
        # over IPv4: decide_by_address tells that apart from an IPv6 block of the service.
        decision = decide_by_address(probe, self.catalog, through)
        if decision.outcome != Outcome.ALLOW:
            return decision
        if dns is not None:
            return dns
        for layer in self.cfg.proxies:
            if layer.interfaces and client.iface not in layer.interfaces:
                continue
            if probe.scheme == "https" and not layer.https:
                continue
            d = layer.ruleset.evaluate(probe, self._proxy_audience(layer, client))  # type: ignore[attr-defined]
            if d.outcome != Outcome.ALLOW:
                return replace(d, note=f"{layer.label}: {d.note}" if d.note else layer.label)
        return decision

    def _proxy_audience(self, layer: ProxyLayer, client: _Client) -> Audience:
        """The squid audience of this client: every src ACL's truth for its address."""
        values: dict[str, bool] = {}
        for name, acl in layer.ruleset.acls.items():  # type: ignore[attr-defined]
            if acl.type != "src":
                continue
            hit = False
            for value, _span in acl.values:
                if value == "all":
                    hit = True
                elif client.src is not None and _literal_host(value) and "-" not in value:
                    net = ipaddress.ip_network(value, strict=False)
                    hit = hit or (net.version == client.src.version and client.src in net)
            values[name] = hit
        return Audience(key=tuple(sorted(values.items())), attributes=(("src", str(client.src)),))

    def inert_mentions(self, probe: Probe) -> list[Span]:
        """Aliases holding the service's addresses that no enabled rule uses."""
        svc = self.catalog.services.get(probe.service or "")
        if svc is None:
            return []
        used = {ep.value for r in self.cfg.rules for ep in (r.src, r.dst) if ep.kind == "address"}
        used |= {e for a in self.cfg.aliases.values() if a.name in used for e in a.entries}
        out = []
        for name, alias in self.cfg.aliases.items():
            if name in used or alias.kind == "port":
                continue
            nets = self.nets(name)[0]
            if any(n.overlaps(s) for n in nets for s in svc.networks if n.version == s.version):
                out.append(alias.span)
        return out


def parse(path: Path, context: ParseContext) -> PfSenseRuleset:
    shown = context.resolver.display(path)
    src = read_source(path, shown)
    cfg = Config(path, shown, list(src.problems))
    parser = _LineParser(forbid_dtd=True, forbid_entities=True, forbid_external=True)
    try:
        parser.feed("\n".join(src.lines))
        root = parser.close()
    except DefusedXmlException as exc:
        cfg.ok = False
        cfg.problems.append(
            Problem(
                "TE902",
                Span(shown, 1, 1),
                f"refused to read: the XML declares "
                f"{type(exc).__name__.replace('Forbidden', '').lower() or 'entities'} "
                f"(entity expansion, external entities and DTDs are not read)",
            )
        )
        return PfSenseRuleset(cfg, context.catalog)
    except ET.ParseError as exc:
        cfg.ok = False
        line, col = getattr(exc, "position", (1, 0))
        cfg.problems.append(Problem("TE901", Span(shown, line, col + 1), f"not well-formed XML: {exc}"))
        return PfSenseRuleset(cfg, context.catalog)
    if root.tag.lower() not in ("pfsense", "opnsense"):
        cfg.problems.append(
            Problem(
                "TE901",
                Span(shown, _line(root), 1),
                f"root element <{root.tag}> is not <pfsense> or <opnsense>",
            )
        )
    _Reader(cfg, context).read(root)
    return PfSenseRuleset(cfg, context.catalog)

"""Cisco NBAR2 protocol and category names, from the catalog's vendor_names.yaml.

`match protocol facebook` classifies a flow as Facebook by NBAR2's signatures (HTTP Host, TLS
SNI, the service's addresses), whatever port it uses. The names that stand for a catalog
service, and the category that holds them, come from `policy_lint/catalog/vendor_names.yaml`
(vendor `cisco_nbar2`), each with its source and confidence. Besides those, NBAR2 names that
classify traffic of *another* application or protocol (`youtube`, `ftp`, `netflix`) are listed
here from Cisco's NBAR2 Protocol Library: they never match a social service's web request. A
protocol name in neither list is `unknown` (TE908): policy-lint cannot say what it matches.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import yaml

from policy_lint import catalog as catalog_package

VENDOR = "cisco_nbar2"

# NBAR2 names for traffic that is not web browsing of a social site (Cisco NBAR2 Protocol Pack
# library, protocol names as typed after `match protocol`). Plain-HTTP and TLS-wide names are
# handled apart (ALL_HTTP, ALL_TLS).
OTHER_APPLICATIONS = frozenset(
    [
        "ftp",
        "ftp-data",
        "tftp",
        "ssh",
        "telnet",
        "smtp",
        "secure-smtp",
        "pop3",
        "secure-pop3",
        "imap",
        "secure-imap",
        "dns",
        "domain",
        "ntp",
        "snmp",
        "syslog",
        "dhcp",
        "bootpc",
        "bootps",
        "icmp",
        "ipv6-icmp",
        "gre",
        "ipsec",
        "isakmp",
        "l2tp",
        "pptp",
        "rtp",
        "rtcp",
        "rtsp",
        "sip",
        "sip-tls",
        "h323",
        "skinny",
        "mgcp",
        "cisco-phone",
        "netbios",
        "cifs",
        "nfs",
        "ldap",
        "secure-ldap",
        "kerberos",
        "radius",
        "tacacs",
        "rdp",
        "vnc",
        "citrix",
        "ica",
        "bittorrent",
        "edonkey",
        "gnutella",
        "kazaa2",
        "fasttrack",
        "winmx",
        "directconnect",
        "napster",
        "youtube",
        "netflix",
        "hulu",
        "amazon-instant-video",
        "itunes",
        "spotify",
        "pandora",
        "webex-meeting",
        "webex",
        "skype",
        "ms-lync",
        "ms-teams",
        "zoom-meetings",
        "dropbox",
        "box",
        "google-docs",
        "gmail",
        "google-services",
        "office365",
        "outlook-web-service",
        "exchange",
        "ms-update",
        "windows-update",
        "apple-services",
        "icloud",
        "xbox-live",
        "steam",
        "minecraft",
        "bgp",
        "ospf",
        "eigrp",
        "rip",
        "pim",
        "igmp",
        "vrrp",
        "hsrp",
        "arp",
        "cdp",
        "lldp",
        "stun",
    ]
)
ALL_HTTP = frozenset({"http"})  # every plain HTTP request
ALL_TLS = frozenset({"secure-http", "ssl", "https"})  # every HTTPS connection


@dataclass(frozen=True)
class VendorName:
    service: str
    name: str
    confidence: str
    source: str


@dataclass(frozen=True)
class Vocabulary:
    apps: dict[str, tuple[VendorName, ...]]  # NBAR name (lower case) -> services it names
    categories: dict[str, VendorName]  # category name -> its entry (service "")

    def services_for(self, name: str) -> tuple[VendorName, ...]:
        return self.apps.get(name.lower(), ())

    def category_services(self) -> frozenset[str]:
        """Services NBAR2 files under the social-networking category: those it has a protocol for."""
        return frozenset(v.service for vs in self.apps.values() for v in vs)


@functools.cache
def vocabulary() -> Vocabulary:
    path = Path(catalog_package.__file__).parent / "vendor_names.yaml"
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        data = {}
    apps: dict[str, list[VendorName]] = {}
    for service, entries in (data.get("apps") or {}).items():
        for e in entries or []:
            if e.get("vendor") != VENDOR:
                continue
            for n in e.get("names") or []:
                apps.setdefault(str(n).lower(), []).append(
                    VendorName(service, str(n), str(e.get("confidence", "")), str(e.get("source", "")))
                )
    cats = {
        str(n).lower(): VendorName("", str(n), str(c.get("confidence", "")), str(c.get("source", "")))
        for c in data.get("categories") or []
        if c.get("vendor") == VENDOR
        for n in c.get("names") or []
    }
    return Vocabulary({k: tuple(v) for k, v in apps.items()}, cats)

"""The explicit registry of dialects: one module (or small package) per configuration language.

Dialects are grouped by the kind of device, one package each:

- `proxies/`: proxies, URL filters and browser policies (squid, squidGuard, e2guardian,
  DansGuardian, Privoxy, PAC, Chrome/Edge/Firefox policies);
- `dns/`: DNS filters and block lists (hosts, dnsmasq, unbound, RPZ, Pi-hole, AdBlock/AdGuard
  lists, plain domain lists, Windows hosts scripts);
- `firewalls/`: packet filters and firewalls (iptables, nftables, pf, pfSense/OPNsense,
  MikroTik, Windows firewall, FortiGate);
- `semantics/`: what they share: the Dialect and Ruleset protocols (`semantics/base.py`),
  address coverage, chain results, name indexes, list scanning, bounded regexes.

Each module's docstring documents its device's matching semantics. Add a dialect by adding its
module path (relative to this package) to `MODULES` and its NAME and FILE_PATTERNS to `HINTS`
(tests/dialects/test_registry.py keeps the two equal); CONTRIBUTING.md lists the tests to write.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from fnmatch import fnmatch
from pathlib import Path
from types import ModuleType

MODULES: tuple[str, ...] = (
    "proxies.squid",
    "proxies.squidguard",
    "dns.hosts",
    "dns.dnsmasq",
    "dns.windows_hosts",
    "dns.domainlist",
    "proxies.e2guardian",
    "proxies.dansguardian",
    "proxies.privoxy",
    "dns.unbound",
    "dns.rpz",
    "proxies.pac",
    "proxies.browser_policy",
    "proxies.firefox_policy",
    "dns.adblock",
    "dns.adguard",
    "dns.pihole",
    "dns.pihole_allowlist",
    "firewalls.iptables",
    "firewalls.windows_firewall",
    "firewalls.pf",
    "firewalls.mikrotik",
    "firewalls.pfsense",
    "firewalls.nftables",
    "dns.ctparental",
    "dns.adguardhome",
    "firewalls.cisco_ios",
    "firewalls.cisco_asa",
    "proxies.cloudflare_gateway",
    "firewalls.panos",
    "proxies.haproxy",
    "proxies.nginx",
    "firewalls.junos",
    "firewalls.fortigate",
)

# What detection needs before importing a module: its NAME and FILE_PATTERNS. Importing every
# dialect costs more than linting a small config, so a file whose name matches a dialect's
# patterns is offered to that dialect first, and to all of them only if none claims it.
HINTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "proxies.squid": ("squid", ("squid*.conf", "*.squid", "squid.conf*")),
    "proxies.squidguard": ("squidguard", ("squidguard*.conf", "squidguard.conf*", "*.squidguard")),
    "dns.hosts": ("hosts", ("hosts", "hosts.txt", "*.hosts", "hosts.*", "*-hosts", "*_hosts", "*hosts*.txt")),
    "dns.dnsmasq": (
        "dnsmasq",
        ("dnsmasq.conf", "dnsmasq*.conf", "*dnsmasq*.conf", "*.dnsmasq", "dnsmasq*.txt", "*-dnsmasq.txt"),
    ),
    "dns.windows_hosts": ("windows-batch", ("*.bat", "*.cmd", "*.ps1")),
    "dns.domainlist": (
        "domain-list",
        ("*block*", "*black*list*", "*banned*", "*deny*", "*denylist*", "*reject*"),
    ),
    "proxies.e2guardian": (
        "e2guardian",
        (
            "e2guardian*.conf",
            "*bannedsitelist*",
            "*exceptionsitelist*",
            "*greysitelist*",
            "*bannedurllist*",
            "*exceptionurllist*",
            "*greyurllist*",
            "*regexpurllist*",
            "*phraselist*",
            "*sslsitelist*",
            "*siteiplist*",
        ),
    ),
    "proxies.dansguardian": (
        "dansguardian",
        (
            "dansguardian*.conf",
            "*bannedsitelist*",
            "*exceptionsitelist*",
            "*greysitelist*",
            "*bannedurllist*",
            "*exceptionurllist*",
            "*greyurllist*",
            "*regexpurllist*",
            "*phraselist*",
            "*sslsitelist*",
            "*siteiplist*",
        ),
    ),
    "proxies.privoxy": ("privoxy", ("*.action", "privoxy.conf", "privoxy*.conf", "privoxy.config")),
    "dns.unbound": (
        "unbound",
        ("unbound.conf", "unbound*.conf", "*unbound*.conf", "*.unbound", "unbound.conf.*"),
    ),
    "dns.rpz": (
        "rpz",
        (
            "db.rpz",
            "db.rpz.*",
            "*.rpz",
            "rpz.db",
            "rpz.zone",
            "*.rpz.zone",
            "*.rpz.db",
            "rpz.*.zone",
            "db.rpz-*",
            "*-rpz.zone",
            "*-rpz.db",
            "*_rpz.zone",
            "rpz-*.zone",
            "rpz.*.db",
            "*.rpz.txt",
        ),
    ),
    "proxies.pac": ("pac", ("*.pac", "wpad.dat", "*.pac.js")),
    "proxies.browser_policy": ("chrome-policy", ("*polic*.json", "*.reg", "*.plist", "*.mobileconfig")),
    "proxies.firefox_policy": ("firefox-policy", ("policies.json", "*firefox*.json", "*firefox*.reg")),
    "dns.adblock": (
        "abp",
        (
            "*.easylist",
            "easylist*.txt",
            "easyprivacy*.txt",
            "*adblock*",
            "*ublock*",
            "*.abp",
            "*abp*.txt",
            "*filters*.txt",
            "*filterlist*.txt",
            "*-filter.txt",
        ),
    ),
    "dns.adguard": ("adguard", ("*adguard*",)),
    "dns.pihole": (
        "pihole",
        (
            "gravity.list",
            "adlists.list",
            "regex.list",
            "black.list",
            "blacklist.txt",
            "custom.list",
            "list.*.domains",
            "pihole.toml",
            "*pihole*",
            "*pi-hole*",
            "*.exact.json",
            "*.regex.json",
            "adlist.json",
            "*regex*.list",
            "*regex*.txt",
        ),
    ),
    "dns.pihole_allowlist": (
        "pihole-allowlist",
        (
            "whitelist.txt",
            "whitelist.list",
            "white.list",
            "*whitelist*.txt",
            "*allowlist*.txt",
            "*whitelist*.list",
            "*allowlist*.list",
            "whitelist.exact.json",
            "*whitelist*",
            "*allowlist*",
        ),
    ),
    "firewalls.iptables": (
        "iptables",
        (
            "iptables",
            "ip6tables",
            "*.iptables",
            "iptables*.rules",
            "ip6tables*.rules",
            "rules.v4",
            "rules.v6",
            "iptables-save*",
            "*iptables*.sh",
            "*firewall*.sh",
            "*iptables*.txt",
            "ipset*.conf",
            "*.ipset",
            "iptables.conf",
            "iptables*.save",
        ),
    ),
    "firewalls.pfsense": (
        "pfsense",
        ("config.xml", "config-*.xml", "*pfsense*.xml", "*opnsense*.xml", "config-*.xml.bak"),
    ),
    "firewalls.nftables": (
        "nftables",
        ("nftables.conf", "*.nft", "nftables*.conf", "*nftables*.rules", "*.nft.json", "nftables*.json"),
    ),
    "firewalls.cisco_ios": (
        "cisco-ios",
        ("*.ios", "*-confg", "running-config*", "startup-config*", "*.cisco", "router*.cfg"),
    ),
    "firewalls.cisco_asa": ("cisco-asa", ("*.asa", "asa*.cfg", "asa*.conf", "*asa*-confg", "asa*.txt")),
    "firewalls.pf": ("pf", ("pf.conf", "pf.conf.*", "*.pf.conf", "pf.anchors/*", "pf.rules", "*.pf")),
    "firewalls.mikrotik": ("mikrotik", ("*.rsc", "*mikrotik*", "*routeros*", "export*.txt")),
    "firewalls.windows_firewall": (
        "windows-firewall",
        ("*.bat", "*.cmd", "*.ps1", "*firewall*.txt", "*netsh*"),
    ),
    "dns.ctparental": ("ctparental", ("categories-enabled.conf", "categories-enabled")),
    "dns.adguardhome": (
        "adguardhome",
        ("AdGuardHome.yaml", "AdGuardHome.yml", "adguardhome.yaml", "*AdGuardHome*.yaml"),
    ),
    "proxies.cloudflare_gateway": ("cloudflare-gateway", ("*.tf",)),
    "firewalls.panos": (
        "panos",
        (
            "running-config.xml",
            "candidate-config.xml",
            "*panos*.xml",
            "*palo*alto*.xml",
            "*panorama*.xml",
            "*panos*.set",
            "*panos*.txt",
            "*panos*.tf",
            "*paloalto*.tf",
        ),
    ),
    "proxies.haproxy": (
        "haproxy",
        ("haproxy*.cfg", "*.haproxy.cfg", "haproxy.conf", "haproxy*.conf", "*.haproxy"),
    ),
    "proxies.nginx": ("nginx", ("nginx.conf", "nginx*.conf", "*.nginx", "*.nginx.conf")),
    "firewalls.junos": (
        "junos",
        ("*.junos", "junos*.conf", "*junos*", "*juniper*", "*srx*", "juniper.conf*"),
    ),
    "firewalls.fortigate": (
        "fortigate",
        ("*fortigate*", "*fortios*", "*forti*.conf", "fg*.conf", "*.fgt"),
    ),
}

DETECT_THRESHOLD = 0.5

# A dialect whose `detect` lives in a light module of its own (the dialect module re-exports
# it): detection imports that and the dialect module only when it wins, so a file another
# dialect's name hint also matches (squidGuard.conf and `squid*.conf`) does not import it.
DETECTORS = {"proxies.squid": "proxies.squid_detect"}


def _module(module_name: str) -> ModuleType:
    return importlib.import_module(f"policy_lint.dialects.{module_name}")


class _Registry(Mapping[str, ModuleType]):
    """Dialect NAME -> module, each imported on first use."""

    def __init__(self) -> None:
        self._by_name = {}
        for m in MODULES:
            self._by_name[HINTS[m][0] if m in HINTS else _module(m).NAME] = m

    def module_name(self, name: str) -> str:
        return self._by_name[name]

    def __getitem__(self, name: str) -> ModuleType:
        return _module(self._by_name[name])

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_name)

    def __len__(self) -> int:
        return len(self._by_name)


DIALECTS = _Registry()


def _best(module_names: list[str], path: Path, head: str) -> tuple[float, ModuleType | None]:
    best_score, best = 0.0, ""
    for m in module_names:
        score = _module(DETECTORS.get(m, m)).detect(path, head)
        if score > best_score:
            best_score, best = score, m
    return best_score, (_module(best) if best else None)


def scores(path: Path, head: str) -> dict[str, float]:
    """Every dialect's detect score for the file (for `-v`: why a dialect was chosen), nonzero only."""
    out = {}
    for m in MODULES:
        score = _module(m).detect(path, head)
        if score > 0:
            out[HINTS[m][0] if m in HINTS else _module(m).NAME] = round(score, 2)
    return out


def name_matches(name: str, pattern: str) -> bool:
    """fnmatch(name, pattern), without compiling a regex for the usual `*`-only pattern: detection
    tries ~200 patterns on every file, and compiling them all cost ~10 ms of each run's start."""
    if "?" in pattern or "[" in pattern:
        return fnmatch(name, pattern)
    parts = pattern.split("*")
    if len(parts) == 1:
        return name == pattern
    first, last = parts[0], parts[-1]
    if len(name) < len(first) + len(last) or not name.startswith(first) or not name.endswith(last):
        return False
    # `*` matches anything: each middle part at its leftmost place leaves the most room after it.
    at, end = len(first), len(name) - len(last)
    for middle in parts[1:-1]:
        found = name.find(middle, at, end)
        if found < 0:
            return False
        at = found + len(middle)
    return True


def detect(path: Path, head: str) -> ModuleType | None:
    """The dialect most confident that `path` is its own, if any is confident enough."""
    name = path.name.lower()
    hinted = [m for m in MODULES if m not in HINTS or any(name_matches(name, p) for p in HINTS[m][1])]
    score, module = _best(hinted, path, head)
    if score < DETECT_THRESHOLD:
        # Asking every dialect imports every module: the answer is remembered (detect_cache.py).
        from policy_lint.dialects import detect_cache

        known = detect_cache.lookup(path, head)
        if known is not None and (known in MODULES or not known):
            return _module(known) if known else None
        score, module = max(
            (score, module), _best([m for m in MODULES if m not in hinted], path, head), key=lambda sm: sm[0]
        )
        winner = module.__name__.removeprefix(f"{__name__}.") if module and score >= DETECT_THRESHOLD else ""
        detect_cache.remember(path, head, winner)
    return module if score >= DETECT_THRESHOLD else None

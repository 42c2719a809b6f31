"""FlowRecord -> Observation: one decision shared by the addon, `traffic` and `probe`.

Rules, in order (first match wins):
1. host neither a catalog host nor the control host -> None. The role is the catalog's role for
   that exact host where it lists one (probe and hygiene hosts: api.linkedin.com is "api"),
   else the role of the longest catalog domain the host is under.
   With by_address (`audit`, and `traffic` unless --no-by-address: every engine): a record without a
   host name (PAN-OS TRAFFIC, FortiGate traffic) whose destination address is in a service's
   published prefixes -> that service's primary, host "address:<ip>", how "<how>+by-address".
2. a squid error page whose name says squid could not reach the site (ERR_DNS_FAIL,
   ERR_CONNECT_FAIL, ...) -> failed/proxy-error; one asking for credentials -> inconclusive.
   Any other fingerprinted block page or filter header -> blocked/block-page:<vendor>.
3. server_ip (not via an upstream proxy) is a DNS sinkhole (0.0.0.0, loopback, private,
   vendor sinkholes) -> blocked/dns-sinkhole. Callers that talk to a local origin directly must
   mark via_upstream or leave server_ip None.
4. proxy_tag TCP_DENIED (squid log) -> blocked/proxy-denied; a log's own verdict "denied"
   (the filter that wrote it says it blocked: Zscaler, PAN-OS, FortiGate, Umbrella, Pi-hole,
   AdGuard Home) -> blocked/filter-denied; verdict "unknown" (an action the reader does not
   model) -> inconclusive/action-not-modelled.
5. error text: refused CONNECT -> blocked/connect-refused; reset/closed -> blocked/reset;
   TCP connection refused -> blocked/refused without an upstream proxy when the refusing
   address is known and not loopback (a firewall REJECT, or the address a filter handed out);
   inconclusive/audit-path through an upstream proxy or reverse target (our own path refused
   us), or when the address is loopback (this machine: a local proxy down, say) or unknown;
   audit-path failures (our TLS) -> inconclusive; other errors -> failed.
6. status 403/451 without a fingerprint: blocked/http-<status> only if server_ip is known and
   NOT in the service's prefixes; otherwise the service sent it itself -> reachable.
   (Chosen because services send 403 to bots; an unattributed 403 is not proof of a filter.)
7. 5xx without fingerprint -> failed; any other status -> reachable; no response -> failed,
   except a log's verdict "answered" (DNS answer that is no sinkhole, TLS ServerHello, a session
   with bytes back) -> reachable/answered, and "allowed" (the filter let it through and logged
   no answer) -> reachable/filter-allowed.
"""

from __future__ import annotations

import ipaddress
import re

from policy_lint.traffic.fingerprints import Fingerprints, load_fingerprints
from policy_lint.traffic.record import FlowRecord, Observation

BY_ADDRESS = "address"  # the host of an observation attributed by destination address: "address:<ip>"

# mitmproxy / asyncio: "[Errno 111] Connect call failed ('157.240.1.35', 443)"
# A proxy refusing CONNECT with 502/503/504 and no vendor page named is squid & co. saying it
# could not reach the site (ERR_DNS_FAIL, ERR_CONNECT_FAIL ...: mitmproxy keeps only the status
# line). Filters deny with 403 (squid's ERR_ACCESS_DENIED) or a vendor page; an outage upstream
# is no evidence of a filter, so these are failed, not blocked.
_CONNECT_UNREACHABLE = re.compile(r"refused http connect request: 50[234]\b(?![^(]*\()")
_REFUSED_PEER = re.compile(r"connect call failed \('([^']{1,64})',")


def _refused_peer(record: FlowRecord, low_error: str) -> str | None:
    """The address that refused the connection: the one the error names (it is the peer that
    refused; a failed connect has no peername), else the record's."""
    m = _REFUSED_PEER.search(low_error)
    return m.group(1) if m else record.server_ip


def _is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address.strip("[]")).is_loopback
    except ValueError:
        return False


class Classifier:
    def __init__(
        self, catalog, fingerprints: Fingerprints | None = None, *, by_address: bool = False
    ) -> None:
        self.catalog = catalog
        # by_address (`audit`): a record without a host name whose destination address lies in a
        # service's published prefixes (catalog.service_for_ip) is that service's, as its primary
        # (the prefixes are the service's own networks: a session to them is the service), with
        # the host shown as "address:<ip>" and the evidence saying it was matched by address.
        self.by_address = by_address
        self.fp = fingerprints or load_fingerprints()
        self._cache: dict[str, tuple[str | None, str] | None] = {}
        # Exact hosts the catalog gives a role (probes and hygiene hosts). A path-specific entry
        # (www.facebook.com/tr: tracking) says nothing about the host's other requests: skipped.
        self._host_roles: dict[str, tuple[str, str]] = {}
        for svc in catalog.services.values():
            for ph in (*svc.probe_hosts, *svc.hygiene):
                if ph.path in ("", "/"):
                    self._host_roles.setdefault(ph.host.lower().rstrip("."), (svc.id, ph.role))
        # The response headers _decide reads, as record_from_flow(header_names=) takes them.
        self.header_names: frozenset[bytes] = frozenset(n.encode() for n in self.fp.header_names)

    def covers(self, host: str) -> bool:
        """Whether classify() can say anything about a request to `host` (a catalog host or the
        control host): a caller can skip building the record for the rest (cached per host)."""
        return self._lookup(host) is not None

    def exact_hosts(self) -> dict[str, tuple[str, str]]:
        """The catalog's exact hosts -> (service, role), in the precedence _lookup gives them."""
        return dict(self._host_roles)

    def address_facts(self, address: str) -> tuple[bool, str | None]:
        """(is a DNS sinkhole, the catalog service owning it): what rules 3 and 6 ask of an
        address (the DuckDB engine asks once per distinct address)."""
        try:
            owner = self.catalog.service_for_ip(address)
        except ValueError:
            owner = None
        return self.fp.is_sinkhole(address), owner

    def address_attribution(self, server_ip: str) -> tuple[str, str, str] | None:
        """For a record without a host name (with by_address): (service, shown host, where) when
        its destination address lies in a service's published prefixes, else None. The SQL
        engines ask once per distinct address; classify() builds the same observation."""
        ip = server_ip.strip("[]")
        try:
            service = self.catalog.service_for_ip(ip)
        except ValueError:
            return None
        if service is None:
            return None
        return (
            service,
            f"{BY_ADDRESS}:{ip}",
            f"matched by destination address {ip} in {service}'s published prefixes",
        )

    def _lookup(self, host: str) -> tuple[str | None, str] | None:
        if host in self._cache:
            return self._cache[host]
        hit: tuple[str | None, str] | None
        if host == self.catalog.control_host:
            hit = (None, "control")
        elif host in self._host_roles:
            hit = self._host_roles[host]
        else:
            found = self.catalog.service_for_host(host)
            hit = found if found else None
        if len(self._cache) < 10000:  # bounded: hostile traffic can carry unlimited hosts
            self._cache[host] = hit
        return hit

    def classify(self, record: FlowRecord) -> Observation | None:
        hit = self._lookup(record.host) if record.host else None
        if hit is None and not record.host and self.by_address and record.server_ip:
            return self._by_address(record)
        if hit is None:
            return None
        service, role = hit
        outcome, how, evidence = self._decide(record, service)
        return Observation(
            record.timestamp,
            service,
            role,
            record.host,
            outcome,
            how,
            evidence,
            record.client,
            record.user,
            record.group,
        )

    def _by_address(self, record: FlowRecord) -> Observation | None:
        found = self.address_attribution(record.server_ip or "")
        if found is None:
            return None
        service, shown, where = found
        outcome, how, evidence = self._decide(record, service)
        return Observation(
            record.timestamp,
            service,
            "primary",
            shown,
            outcome,
            f"{how}+by-address",
            f"{evidence}; {where}"[:240],
            record.client,
            record.user,
            record.group,
        )

    def _decide(self, r: FlowRecord, service: str | None) -> tuple[str, str, str]:
        fp = self.fp
        if r.status is not None:
            # Before the block pages: squid marks its "could not reach" pages like its denials.
            not_a_block = fp.squid_non_block(r.headers)
            if not_a_block:
                outcome, evidence = not_a_block
                return outcome, ("proxy-error" if outcome == "failed" else "audit-path"), evidence
            hv = fp.header_vendor(r.headers)
            if hv:
                return "blocked", f"block-page:{hv[0]}", hv[1]
            # A body fingerprint counts on a non-2xx answer only (a 2xx page naming a vendor is
            # the site's own content far more often than a filter's): scan no other body.
            vendor = fp.body_vendor(r.body_prefix) if r.status >= 300 else None
            if vendor:
                return "blocked", f"block-page:{vendor}", f"HTTP {r.status} {vendor} block page"
        # After the fingerprints (a sinkhole that serves a vendor page names the vendor).
        # Via an upstream proxy the peer is the proxy (often private/loopback): not a DNS answer.
        if (
            r.server_ip
            and not r.via_upstream
            and fp.is_sinkhole(r.server_ip)
            and r.server_ip not in self.catalog.control_addresses
        ):
            return "blocked", "dns-sinkhole", f"resolved to {r.server_ip}"
        if r.proxy_tag and "DENIED" in r.proxy_tag.upper():
            return "blocked", "proxy-denied", f"{r.proxy_tag}/{r.status}"
        if r.verdict == "denied":
            return "blocked", "filter-denied", (r.proxy_tag or "denied")[:120]
        if r.verdict == "unknown":
            return "inconclusive", "action-not-modelled", (r.proxy_tag or "")[:120]
        if r.error:
            low = r.error.lower()
            if _CONNECT_UNREACHABLE.search(low):
                return "failed", "proxy-error", r.error[:120]
            for how, needle in fp.errors:
                if needle in low:
                    return "blocked", how, r.error[:120]
            if any(n in low for n in fp.refused):
                # Through an upstream proxy / to a reverse target the refusing peer is on our own
                # path; loopback is this machine; unknown proves nothing either way.
                peer = None if r.via_upstream else _refused_peer(r, low)
                if peer is None or _is_loopback(peer):
                    return "inconclusive", "audit-path", r.error[:120]
                return "blocked", "refused", r.error[:120]
            if any(n in low for n in fp.audit_path):
                return "inconclusive", "audit-path", r.error[:120]
            return "failed", "error", r.error[:120]
        if r.status is None:
            if r.verdict == "answered":
                return "reachable", "answered", (r.reason or r.proxy_tag or "")[:120]
            if r.verdict == "allowed":
                return "reachable", "filter-allowed", (r.proxy_tag or "allowed")[:120]
            return "failed", "no-response", ""
        if r.status in fp.statuses:
            if r.server_ip and service and not self._service_ip(r.server_ip, service):
                return "blocked", f"http-{r.status}", f"HTTP {r.status} from {r.server_ip}"
            return "reachable", f"http-{r.status}", f"HTTP {r.status} from the service"
        if r.status >= 500:
            return "failed", f"http-{r.status}", f"HTTP {r.status}"
        return "reachable", "http", f"HTTP {r.status}"

    def _service_ip(self, ip: str, service: str) -> bool:
        try:
            return self.catalog.service_for_ip(ip) == service
        except ValueError:
            return False

"""FlowRecord -> Observation: one decision shared by the addon, `traffic` and `probe`.

Rules, in order (first match wins):
1. host neither a catalog host nor the control host -> None.
2. a response with a fingerprinted block page or filter header -> blocked/block-page:<vendor>.
3. server_ip (not via an upstream proxy) is a DNS sinkhole (0.0.0.0, loopback, private,
   vendor sinkholes) -> blocked/dns-sinkhole. Callers that talk to a local origin directly must
   mark via_upstream or leave server_ip None.
4. proxy_tag TCP_DENIED (squid log) -> blocked/proxy-denied.
5. error text: refused CONNECT -> blocked/connect-refused; reset/closed -> blocked/reset;
   audit-path failures (upstream proxy down, our TLS) -> inconclusive; other errors -> failed.
6. status 403/451 without a fingerprint: blocked/http-<status> only if server_ip is known and
   NOT in the service's prefixes; otherwise the service sent it itself -> reachable.
   (Chosen because services send 403 to bots; an unattributed 403 is not proof of a filter.)
7. 5xx without fingerprint -> failed; any other status -> reachable; no response -> failed.
"""

from __future__ import annotations

from policy_lint.traffic.fingerprints import Fingerprints, load_fingerprints
from policy_lint.traffic.record import FlowRecord, Observation


class Classifier:
    def __init__(self, catalog, fingerprints: Fingerprints | None = None) -> None:
        self.catalog = catalog
        self.fp = fingerprints or load_fingerprints()
        self._cache: dict[str, tuple[str | None, str] | None] = {}

    def _lookup(self, host: str) -> tuple[str | None, str] | None:
        if host in self._cache:
            return self._cache[host]
        hit: tuple[str | None, str] | None
        if host == self.catalog.control_host:
            hit = (None, "control")
        else:
            found = self.catalog.service_for_host(host)
            hit = found if found else None
        if len(self._cache) < 10000:  # bounded: hostile traffic can carry unlimited hosts
            self._cache[host] = hit
        return hit

    def classify(self, record: FlowRecord) -> Observation | None:
        hit = self._lookup(record.host) if record.host else None
        if hit is None:
            return None
        service, role = hit
        outcome, how, evidence = self._decide(record, service)
        return Observation(record.timestamp, service, role, record.host, outcome, how, evidence,
                           record.client)

    def _decide(self, r: FlowRecord, service: str | None) -> tuple[str, str, str]:
        fp = self.fp
        if r.status is not None:
            hv = fp.header_vendor(r.headers)
            if hv:
                return "blocked", f"block-page:{hv[0]}", hv[1]
            vendor = fp.body_vendor(r.body_prefix) if r.status >= 300 or r.status == 200 else None
            if vendor and r.status != 200:
                return "blocked", f"block-page:{vendor}", f"HTTP {r.status} {vendor} block page"
        # After the fingerprints (a sinkhole that serves a vendor page names the vendor).
        # Via an upstream proxy the peer is the proxy (often private/loopback): not a DNS answer.
        if (r.server_ip and not r.via_upstream and fp.is_sinkhole(r.server_ip)
                and r.server_ip not in self.catalog.control_addresses):
            return "blocked", "dns-sinkhole", f"resolved to {r.server_ip}"
        if r.proxy_tag and "DENIED" in r.proxy_tag.upper():
            return "blocked", "proxy-denied", f"{r.proxy_tag}/{r.status}"
        if r.error:
            low = r.error.lower()
            for how, needle in fp.errors:
                if needle in low:
                    return "blocked", how, r.error[:120]
            if any(n in low for n in fp.audit_path):
                return "inconclusive", "audit-path", r.error[:120]
            return "failed", "error", r.error[:120]
        if r.status is None:
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

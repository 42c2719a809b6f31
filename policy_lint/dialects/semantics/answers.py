"""What answering a name with an address does to the users of the service behind the name.

One rule for every DNS-style dialect (hosts files, Windows hosts scripts, dnsmasq, unbound's
local-data, RPZ, Pi-hole's local records, AdGuard's `$dnsrewrite`, MikroTik's static DNS). A
client that gets address X for a service's name connects to X. So:

- a sinkhole (0.0.0.0, 127/8, ::, ::1) or a non-public address (RFC 1918, link-local ...): the
  client reaches itself, a local block page, or nothing -> `blocked` (DENY);
- an address the catalog's prefixes (addresses.yaml) place in another service: that server
  does not serve this service (TLS names do not match) -> DENY;
- an address in the service's own prefixes: a pin to the service itself -> ALLOW (specific);
- any other public address (for a service without catalog prefixes, any public address): a pin to a server the catalog cannot place. It may be an
  unblocking proxy or a server the snapshot does not list (the service works) or a public
  block page (it does not): the config cannot tell, so the probe is `unknown`, with a finding
  that names the address. It is never `blocked`: a public address is not a known block page.
- a name of no catalog service (the control site) pinned to a public address: ALLOW, not
  specific (a pin to a real server is the usual reason to write one).
"""

from __future__ import annotations

import ipaddress

from policy_lint.catalog import Catalog
from policy_lint.model import Decision, Outcome, Span


def parse_address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """An address as the resolver reads it: IPv4 (also inet_aton's short forms such as `0`
    or `127.1`), IPv6 (with an optional %scope); None when it is not an address."""
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        pass
    if ":" in text:
        return None
    parts = text.split(".")
    if not 1 <= len(parts) <= 4:
        return None
    values = []
    for part in parts:
        try:
            if part.lower().startswith("0x"):
                values.append(int(part[2:], 16))
            elif len(part) > 1 and part.startswith("0"):
                values.append(int(part, 8))
            else:
                values.append(int(part, 10))
        except ValueError:
            return None
    *head, last = values
    if any(v > 255 for v in head) or last >= 256 ** (4 - len(head)):
        return None
    number = 0
    for v in head:
        number = number * 256 + v
    number = number * 256 ** (4 - len(head)) + last
    return ipaddress.IPv4Address(number)


def is_sinkhole(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """0.0.0.0, all of 127/8, :: and ::1 (also IPv4-mapped): the client talks to itself."""
    mapped = getattr(ip, "ipv4_mapped", None)
    if mapped is not None:
        ip = mapped
    return ip.is_unspecified or ip.is_loopback


def address_decision(
    address: str, host: str, catalog: Catalog, span: Span | None, trace: tuple[Span, ...], mechanism: str = ""
) -> Decision:
    """What answering `host` with `address` does to a user of the service that owns `host`
    (the rule in the module docstring)."""
    ip = parse_address(address.split("%", 1)[0])
    prefix = f"{mechanism} " if mechanism else ""
    if ip is None:
        return Decision(
            Outcome.UNKNOWN, span, trace, True, f"{prefix}answer {address}", f"{address} is not an address"
        )
    if is_sinkhole(ip):
        return Decision(Outcome.DENY, span, trace, True, f"{prefix}sinkhole {address}".strip())
    mapped = getattr(ip, "ipv4_mapped", None) or ip
    if not mapped.is_global:
        return Decision(
            Outcome.DENY,
            span,
            trace,
            True,
            f"{prefix}redirected to non-public {address}".strip(),
            "a private address: a local block page, or nothing",
        )
    owner_role = catalog.service_for_host(host)
    owner = owner_role[0] if owner_role else None
    holder = catalog.service_for_ip(str(mapped))
    if owner is None:
        return Decision(Outcome.ALLOW, span, trace, False, f"{prefix}pinned {address}".strip())
    if holder == owner:
        return Decision(
            Outcome.ALLOW,
            span,
            trace,
            True,
            f"{prefix}pinned {address}".strip(),
            f"{address} is an address of {catalog.services[owner].name}",
        )
    if holder is not None:
        return Decision(
            Outcome.DENY,
            span,
            trace,
            True,
            f"{prefix}redirected to {address}".strip(),
            f"{address} is an address of {catalog.services[holder].name}, "
            f"not of {catalog.services[owner].name}",
        )
    return unplaced_pin(address, catalog.services[owner].name, catalog, span, trace, mechanism)


def unplaced_pin(
    address: str,
    service: str,
    catalog: Catalog,
    span: Span | None,
    trace: tuple[Span, ...],
    mechanism: str = "",
) -> Decision:
    """A service's name answered with a public address outside the catalog's prefixes."""
    prefix = f"{mechanism} " if mechanism else ""
    svc = next((s for s in catalog.services.values() if s.name == service), None)
    where = (
        f"outside the catalog's prefixes for {service} (snapshot {catalog.addresses_version or 'undated'})"
        if svc is None or svc.networks
        else f"and the catalog has no prefixes for {service} to confirm it"
    )
    return Decision(
        Outcome.UNKNOWN,
        span,
        trace,
        True,
        f"{prefix}pinned to {address}".strip(),
        f"{address} is a public address {where}: clients connect to it, and whether it serves "
        f"{service} (an unblocking proxy, a server the snapshot does not list) or a block page "
        f"cannot be told from the config",
    )

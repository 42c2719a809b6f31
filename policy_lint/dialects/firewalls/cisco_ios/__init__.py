"""Cisco IOS / IOS-XE configurations (running-config, RANCID/Oxidized backups, snippets),
evaluated the way the router or WLC treats a client's connection.

    ip access-list extended NO-SOCIAL
     10 remark social networks
     20 deny tcp 10.1.1.0 0.0.0.255 object-group FB eq 443
     30 permit ip any any
    class-map match-any SOCIAL
     match protocol facebook
    policy-map LIMIT
     class SOCIAL
      police cir 8000
       conform-action drop
    interface GigabitEthernet0/1
     ip address 10.1.1.1 255.255.255.0
     ip nat inside
     ip access-group NO-SOCIAL in
     service-policy input LIMIT
    interface GigabitEthernet0/0
     ip address dhcp
     ip nat outside

Facebook is blocked for the clients on Gi0/1: first by the ACL (10.1.1.0/24 to FB's addresses),
and for any address by the policer whose conform-action drops every packet.

- **Where a filter decides**: only where it is applied. An ACL by `ip access-group NAME in|out`
  on an interface (sub-interface, SVI); a policy-map by `service-policy input|output` on an
  interface or a C9800 `wireless profile policy` (incl. `service-policy client ...`). The
  audiences are the places clients sit: every interface that is not the Internet side
  (`ip nat outside`, else the interface the default route leaves by, else one with `ip
  address dhcp`) and every wireless policy profile, split by the source addresses the inbound
  ACL tests. `in` on the client's interface sees the client as the source; `out` there sees
  the server's replies; on the Internet side `out` sees the client after NAT (the interface's
  address when `ip nat inside`/`outside` translate) and `in` the replies. Lists are stateless:
  a reply passes an `in` list on the Internet side only if it permits it (`established`),
  unless CBAC (`ip inspect NAME in|out` on either interface) opens the way back. A WLC's
  audiences are its policy profiles only (its SVIs carry those same clients). An ACL or class-map
  applied nowhere is inert (TE202). `access-class` on lines, NAT and route-map lists filter no
  web traffic.
- **ACLs**: numbered (1-99/1300-1999 standard, 100-199/2000-2699 extended) and named, standard
  and extended, wildcard masks, `host`/`any`, `object-group network|service`, port operators,
  `established`, `remark`, sequence numbers (`ip access-list` edits, `no 20`). First match; an
  implicit deny ends a list with entries; an empty list permits all.
- **MQC/NBAR2**: `class-map match-any|match-all` (default match-all) with `match protocol NAME`
  (NBAR names from the catalog's vendor_names.yaml with their source and confidence; `http`
  is all plain HTTP, `ssl`/`secure-http` all HTTPS, other applications' names match none of
  the services), `match protocol http host|url "*pattern*"` (plain HTTP only: a block of
  HTTP alone is blocked-partial at most), `match protocol attribute category
  social-networking`, `match access-group`, `match class-map`, `match not`, `match any`.
  In a `policy-map` the first matching class decides: `drop`, or `police` whose
  conform-action drops (exceed and violate dropping too) is a block; `police`/`shape` throttle;
  `bandwidth`/`priority`/`set` guarantee or mark, limiting nothing; nested `service-policy`.
- **Zone-based firewall**: `zone security`, `zone-member security`, `zone-pair security
  source A destination B` with `service-policy type inspect`; `class-map type inspect`,
  `policy-map type inspect` with `drop`/`pass`/`inspect`, class-default drops; `pass` keeps no
  state, so the replies need the zone-pair back to let them through. No zone-pair
  between two zones, or one interface in a zone and the other in none: dropped.
- **Fragments**: a file without interfaces (a snippet in a repo or a note) does not say where
  its lists and policies apply: what they would drop or limit is `unknown` with TE903 naming
  the missing piece. A C9800 `service-template` applies to the sessions AAA or an identity
  control policy assigns it: TE907, and it is no audience of its own.
- **Not modelled** (-> `unknown`, TE908 at the line): IPv6 access lists (`ipv6
  traffic-filter`), `time-range`, DSCP/precedence matches, `class-map type` other than
  inspect, NBAR names outside the vocabulary, NBAR sub-classification other than HTTP
  host/url, reflexive and dynamic ACLs, policy-based routing, VRFs, and which of several
  interfaces leads to the Internet when the config does not say (unknown when they differ).

The package: `parse` (text to `model.Config`, with the indented-section reader of
cisco_common.tree), `mqc` (class-maps and policy-maps, for QoS and the zone firewall) and
`evaluate` (the Ruleset: where clients sit and what their connections cross).
"""

from policy_lint.dialects.firewalls.cisco_ios.model import NAME
from policy_lint.dialects.firewalls.cisco_ios.parse import FILE_PATTERNS, detect, parse

__all__ = ["FILE_PATTERNS", "NAME", "detect", "parse"]

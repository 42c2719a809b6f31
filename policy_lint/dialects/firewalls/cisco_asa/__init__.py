"""Cisco ASA configurations (`show running-config`, RANCID/Oxidized backups), evaluated the way
the ASA treats a connection from a client's interface to the Internet.

    interface GigabitEthernet0/1
     nameif inside
     security-level 100
     ip address 192.168.1.1 255.255.255.0
    object network FB
     fqdn www.facebook.com
    access-list INSIDE_IN extended deny tcp any object FB eq https
    access-list INSIDE_IN extended permit ip any any
    access-group INSIDE_IN in interface inside

HTTPS to www.facebook.com is denied for clients on `inside`; other Facebook hosts pass.

- **Access rules**: `access-list NAME extended permit|deny` (netmasks, `host`, `any`/`any4`/
  `any6`, `object`/`object-group` network and service references, port operators, `line N`,
  `remark`, `inactive`), first match. Applied by `access-group NAME in interface IF` (the
  client's interface), `out interface IF` (the Internet side; ASA 8.3+ matches real, untranslated
  addresses there) and `global` (after the interface list; the implicit deny follows the last
  list). An ACL applied nowhere is inert (TE202).
- **Security levels**: with no access list for the traffic, a connection from a higher to a
  lower security level passes, from lower to higher (or equal, without `same-security-traffic
  permit inter-interface`) is denied. The ASA is stateful: replies to a permitted connection pass.
- **Objects**: `object network` (`host`, `subnet`, `range`, `fqdn`: the name's own connections
  match at any address, other hosts of the service do not), `object-group network` with
  `network-object`/`group-object`, `object-group service`/`object service`.
- **Audiences**: every named interface that is not the Internet side (the default route's
  interface, else `nameif outside`, else the lowest security level), split by the source
  addresses its lists test.
- **HTTP inspection**: `regex`, `class-map type regex`, `class-map type inspect http` with
  `match [not] request header host regex [class] R` and `match request uri regex`, `policy-map
  type inspect http` with `drop-connection`/`reset` (a block) or `log` (none), attached by
  `inspect http MAP` in a class of a `policy-map` applied by `service-policy ... global|interface
  IF`. It reads plain HTTP only (TLS is not decrypted here): such a block is blocked-partial at
  most, "over plain HTTP only". Regexes are evaluated with a time bound (semantics/patterns).
- **Fragments**: lists with no interface section and no `access-group` do not say where they
  apply: what they would drop is `unknown`, TE903 naming the missing piece.
- **Not modelled** (-> `unknown`, TE908 at the line): other HTTP inspection matches (methods,
  content types, ...), `interface` as an ACL address (to-the-box traffic), time-ranges,
  identity firewall users, FirePOWER/CX redirection, and which of several interfaces leads to the
  Internet when the config does not say (unknown when they differ).
"""

from policy_lint.dialects.firewalls.cisco_asa.model import NAME
from policy_lint.dialects.firewalls.cisco_asa.parse import FILE_PATTERNS, detect, parse

__all__ = ["FILE_PATTERNS", "NAME", "detect", "parse"]

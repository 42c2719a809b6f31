"""Packet filters and firewalls: they see addresses, ports and (sometimes) the TLS SNI or the
HTTP Host, and decide by walking ordered rules.

- `iptables` (package): iptables/ip6tables/ipset saves and scripts, the kernel's chain order.
- `nftables` (package): `nft list ruleset` text, `nft -f` scripts and `nft -j` JSON.
- `pf`: OpenBSD/FreeBSD pf.conf, last match wins unless `quick`.
- `pfsense`: pfSense/OPNsense config.xml (pf rules, aliases, pfBlockerNG, the Squid package).
- `mikrotik` (package): RouterOS exports, raw and filter chains, address lists.
- `windows_firewall`: netsh advfirewall and New-NetFirewallRule scripts, block wins.
- `cisco_ios`, `cisco_asa` (packages, sharing `cisco_common`): IOS/IOS-XE and ASA configs, ACLs,
  NBAR/MQC and inspection policies, evaluated where they are applied.
- `panos` (package): Palo Alto PAN-OS/Panorama security policy (XML, `set` commands, the panos
  Terraform provider), first match with App-ID, URL Filtering profiles and zones as audiences.
- `fortigate` (package): FortiOS configs and fortios Terraform, policies in order, then the
  accepting policy's web filter, application list and DNS filter.

Add a dialect here when the device decides per packet. Destination addresses are judged by
`semantics.addressing` (per-prefix coverage of the catalog's networks, the same wording in every
dialect); a chain walker reports a `semantics.chains.ChainResult`; `reach.narrow_scope` says whom
a rule blocks in the config's words once earlier rules exempted some clients. A dialect past about a
thousand lines is a package split where the data changes form: `parse.py` (text to the
dialect's rule model) and `evaluate.py` (the model to decisions). Register it in
`policy_lint/dialects/__init__.py`.
"""

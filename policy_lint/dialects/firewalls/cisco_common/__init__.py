"""What the Cisco dialects (`cisco_ios`, `cisco_asa`) share.

- `tree`: the configuration's indented sections (banners, `!` comments, Markdown snippets).
- `acl`: access-control entries (wildcard masks or netmasks, `host`/`any`, object references,
  port operators), first match with the implicit deny, three-valued.
- `objects`: network object-groups and ASA network objects (hosts, subnets, ranges, fqdn).
- `vocab`: NBAR2 protocol and category names from the catalog's vendor_names.yaml.
- `stages`: a connection crossing several filters in turn (an ACL, a QoS policy, a zone pair).
"""

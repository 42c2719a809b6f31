"""DNS filters and block lists: they decide by the requested name alone, the same for every
client, port and scheme (one question per host name).

- `hosts`: hosts files and hosts-format block lists; `windows_hosts`: scripts that write them.
- `dnsmasq`, `unbound` (package, with its RPZ zones), `rpz` (package): DNS servers' own blocking.
- `pihole`, `pihole_allowlist`: gravity, exact and regex deny lists, allow-lists (allow wins).
- `adblock`, `adguard`: filter lists evaluated by Brave's adblock-rust engine.
- `domainlist`: plain one-domain-a-line lists that say they are block lists.

Add a dialect here when its device answers per name: parse the text into a lookup (usually a
`semantics.names.DomainIndex`), hand `semantics.names.NameRuleset` a `decide(host)` function, and
stream big lists with `semantics.listscan`. Register it in `policy_lint/dialects/__init__.py`.
"""

"""Proxies, URL filters and browser-side filters: they see the request (host, URL, user).

- `squid`: squid.conf ACLs and `http_access` & co., first match, ACLs ANDed on a line.
- `squidguard` (package): squidGuard.conf, alone or chained behind squid as its URL rewriter.
- `e2guardian`, `dansguardian`: site/URL/regex lists; DansGuardian reuses e2guardian's core.
- `privoxy` (package): the main config and its action files, last matching action wins.
- `pac` (package): proxy auto-config JavaScript, run in an embedded V8 under time and heap bounds.
- `browser_policy`, `firefox_policy`: Chrome/Edge URLBlocklist/URLAllowlist, Firefox WebsiteFilter.
- `cloudflare_gateway` (package): Cloudflare Zero Trust Gateway DNS/HTTP/network policies in
  Terraform, with their wirefilter-like expressions parsed and evaluated by precedence.

Add a dialect here when the device decides per request (a URL, a host name, a user). The module
exposes NAME, FILE_PATTERNS, `detect(path, head)` and `parse(path, context) -> Ruleset` (see
`semantics/base.py`); register it in `policy_lint/dialects/__init__.py` (MODULES and HINTS).
Other dialects use a proxy's semantics only through its public functions (pfSense builds
squid rules with `squid.parse_lines`).
"""

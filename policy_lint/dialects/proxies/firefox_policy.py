"""Firefox enterprise policies: `policies.json` (or a `.reg` export) `WebsiteFilter`.

    {"policies": {"WebsiteFilter": {"Block": ["*://*.facebook.com/*"],
                                    "Exceptions": ["*://www.facebook.com/groups/*"]}}}

`Block` and `Exceptions` hold WebExtension match patterns (`scheme://host/path`: `*` as the
scheme is http and https, `*.example.com` the domain and its subdomains, `<all_urls>` every
URL, `*` globs in the path), compared with the lower-cased URL; a URL matching a Block pattern
is blocked unless an Exceptions pattern matches it too; invalid patterns are skipped and only
the first 1000 of each list count (Firefox's WebsiteFilter.sys.mjs). Firefox checks page loads
only (top-level navigations and frames), not the images, scripts and API calls a page makes.
The reading and the matching live in `browser_policy`, beside Chrome's URL lists.
"""

from __future__ import annotations

from policy_lint.dialects.proxies.browser_policy import (
    FIREFOX_NAME,
    FIREFOX_PATTERNS,
    parse,  # noqa: F401
)
from policy_lint.dialects.proxies.browser_policy import detect_firefox as detect  # noqa: F401

NAME = FIREFOX_NAME
FILE_PATTERNS = FIREFOX_PATTERNS

"""Differential test: our static reading of e2guardian lists against Debian's real e2guardian.

Needs the `e2guardian` package (5.3.x; `apt-get install e2guardian`) and runs it on 127.0.0.1
only (see e2guardian_harness.py): the package's own configuration with some lists replaced,
and an upstream on loopback that answers 200 (a page naming the requested URL) to anything
e2guardian lets through.

For each case, every catalog probe (all services, primary to hygiene, and the neutral control)
is requested through e2guardian, as a plain-HTTP GET and as a CONNECT, and the same generated
e2guardianf1.conf is parsed by `policy_lint.dialects.proxies.e2guardian`. e2guardian's access log
(`*DENIED*` or not) must equal our DENY or ALLOW for every probe. Each case also says what its
author expects for a few URLs, so the comparison cannot pass vacuously.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from policy_lint.catalog import load_catalog
from policy_lint.dialects.proxies import e2guardian as e2g_dialect
from policy_lint.dialects.semantics.base import ParseContext
from policy_lint.inputs import Resolver
from policy_lint.model import Outcome, Probe
from tests.conftest import skip_or_fail
from tests.e2e.e2guardian_harness import find_e2guardian, running_e2guardian

pytestmark = pytest.mark.e2e


@dataclass(frozen=True)
class Case:
    id: str
    files: dict[str, str]  # relative to the config directory: "lists/bannedsitelist", ...
    denied: frozenset[str] = field(default_factory=frozenset)  # logged URLs e2guardian denies
    allowed: frozenset[str] = field(default_factory=frozenset)
    roles: tuple[str, ...] = ()  # compare only probes of these roles (content-filter cases)


def case(
    id: str, files: dict[str, str], denied: str = "", allowed: str = "", roles: tuple[str, ...] = ()
) -> Case:
    return Case(id, files, frozenset(denied.split()), frozenset(allowed.split()), roles)


WALLED_GARDEN_STORY = """.Include</etc/e2guardian/common.story>
.Include</etc/e2guardian/site.story>
function(checkblanketblock)
if(true,,502) return setblock
function(sslcheckblanketblock)
if(true,,506) return setblock
"""

CASES = [
    case(
        "site-list-subdomains",
        {"lists/bannedsitelist": "facebook.com\nwww.linkedin.com\n.gov\n"},
        denied="http://www.facebook.com https://m.facebook.com:443 https://www.linkedin.com:443",
        allowed="https://linkedin.com:443 http://x.com",
    ),
    case(
        "exceptions-win",
        {
            "lists/bannedsitelist": "twitter.com\nx.com\nlinkedin.com\n",
            "lists/exceptionsitelist": "x.com\n",
            "lists/exceptionregexpurllist": "^www\\.linkedin\n",
        },
        denied="https://twitter.com:443 https://linkedin.com:443",
        allowed="https://x.com:443 https://www.linkedin.com:443 http://www.linkedin.com",
    ),
    case(
        "url-list-prefixes",
        {"lists/bannedurllist": "www.facebook.com/tr\nfacebook.com/plugins\nlinkedin.com\n"},
        denied="http://www.facebook.com/tr http://www.facebook.com/plugins/like.php",
        allowed="https://www.facebook.com:443 http://www.linkedin.com",
    ),
    case(
        "regex-url-and-connect-host",
        {"lists/bannedregexpurllist": "(^|\\.)twitter\\.com$\nFBCDN\n^ning\\.com$\n"},
        denied="https://twitter.com:443 http://static.xx.fbcdn.net https://ning.com:443",
        allowed="https://x.com:443 https://www.ning.com:443",
    ),
    case(
        "grey-skips-http-bans-not-connect",
        {
            "lists/bannedsitelist": "ning.com\nningim.com\n",
            "lists/greysitelist": "ning.com\n",
        },
        denied="https://www.ning.com:443 http://chat01.ningim.com",
        allowed="http://www.ning.com",
    ),
    case(
        "list-blanket-markers-ignored-by-v5",
        {"lists/bannedsitelist": "**\n*ip\n**s\nfacebook.com\n"},
        denied="https://www.facebook.com:443",
        allowed="https://www.example.com:443 http://x.com",
    ),
    case(
        "storyboard-walled-garden",
        {
            "examplef1.story": WALLED_GARDEN_STORY,
            "lists/exceptionsitelist": "linkedin.com\nlicdn.com\nlnkd.in\n",
        },
        denied="https://www.example.com:443 http://www.example.com",
        allowed="https://www.linkedin.com:443 http://static.licdn.com",
    ),
    case(
        "include",
        {
            "lists/bannedsitelist": "partypoker.com\n.Include</etc/e2guardian/lists/social>\n",
            "lists/social": "twitter.com\nt.co\n",
        },
        denied="https://twitter.com:443 https://t.co:443",
        allowed="https://x.com:443",
    ),
    case(
        "bannedssl-list-unused-by-the-v5-storyboard",
        {"lists/bannedsslsitelist": "twitter.com\n"},
        allowed="https://twitter.com:443",
    ),
    case(
        "phrase-naming-a-service",
        {"lists/bannedphraselist": "<facebook>\n"},
        denied="http://www.facebook.com",
        allowed="https://www.facebook.com:443 http://www.linkedin.com",
        roles=("primary", "control"),
    ),
]


def _logged_url(probe: Probe) -> str:
    if probe.scheme == "https":
        return f"https://{probe.host}:443"
    return f"http://{probe.host}" + (probe.path if probe.path != "/" else "")


@pytest.fixture(scope="module")
def exe() -> str:
    found = find_e2guardian()
    if found is None:
        skip_or_fail("Debian's e2guardian is not installed (apt-get install e2guardian)")
    assert found is not None  # skip_or_fail raised
    return found


@pytest.mark.parametrize("c", CASES, ids=lambda c: c.id)
def test_static_decisions_match_real_e2guardian(c: Case, exe: str):
    catalog = load_catalog()
    probes = [p for svc in catalog.services.values() for p in svc.probes()] + catalog.control_probes()
    if c.roles:
        probes = [p for p in probes if p.role in c.roles]
    with running_e2guardian(exe, c.files) as e2g:
        seen: set[str] = set()
        for p in probes:
            url = _logged_url(p)
            if url not in seen:
                seen.add(url)
                e2g.fetch(p.host, p.path, p.scheme == "https")
        real = e2g.decisions(len(seen))
        config = e2g.dir / "e2guardianf1.conf"
        ruleset = e2g_dialect.parse(config, ParseContext(Resolver(e2g.dir), catalog))
        ours = {}
        for p in probes:
            d = ruleset.evaluate(p, ruleset.audiences()[0])
            ours[_logged_url(p)] = {Outcome.DENY: "deny", Outcome.ALLOW: "allow"}.get(
                d.outcome, d.outcome.value
            )
    missing = seen - set(real)
    assert not missing, f"e2guardian logged no decision for {sorted(missing)[:5]}"
    for url in c.denied:
        assert real.get(url) == "deny", f"case premise: e2guardian should deny {url}, got {real.get(url)}"
    for url in c.allowed:
        assert real.get(url) == "allow", f"case premise: e2guardian should allow {url}, got {real.get(url)}"
    wrong = {u: (real[u], ours[u]) for u in seen if real.get(u) != ours.get(u)}
    assert not wrong, f"real vs ours: {dict(sorted(wrong.items()))}"

"""What a missing list probably holds, judged by its name.

Configs often reference list files that are not in the repository (deployed separately).
Their content is unknown, so any verdict that depends on them could go either way. An auditor
still reads the name, and so do we, with vocabulary a user can check: the category names of
published blocklist collections (below, each with its source). A finding (TE903) states the
assumption whenever one is made.

- a name naming a catalog service, or a social-networking category -> the list may name the
  service: dependent verdicts are `unknown`;
- a name that is a published category of another topic (UT1's `adult`, Shalla's `porn`,
  squidGuard's `ads`) -> assumed not to name the services, and the finding says so;
- anything else (generic names: `blocked`, `bad_urls`, `jobsites`) -> `unknown`.

Category names are matched as whole tokens of the name (split at anything but letters and
digits; a category of several words, `audio-video`, `social_networks`, as consecutive tokens),
never as substrings: `jobsites.txt` is no category, `adserver` is not `ads`; a category word
also matches in the English plural (`block-trackers` is Shalla's `tracker`). Categories whose
published definition can take in a catalog service are not "another topic" (job search sites
list LinkedIn; chat, blogs, forums, URL shorteners, `mixed_adult`, allow-lists for children...).
"""

from __future__ import annotations

import re


def _words(text: str) -> list[str]:
    return text.split()


# Names of social-networking categories (a list with one of these names may name any service).
# UT1 `social_networks`, Shalla `socialnet`, URLBlacklist.com `socialnetworking`; `social`
# anywhere in a name counts (the direction that keeps verdicts `unknown`).
SOCIAL_WORDS = ("social", "socialnet", "socialnetworking", "social_networks")

# UT1 (Université Toulouse 1 Capitole), https://dsi.ut-capitole.fr/blacklists/ -- category list
# as in the README of the daily mirror https://github.com/olbat/ut1-blacklists.
UT1_CATEGORIES = _words(
    "adult agressif arjel associations_religieuses astrology audio-video bank bitcoin blog "
    "celebrity chat child cleaning cooking cryptojacking dangerous_material dating ddos dialer doh "
    "download drogue educational_games examen_pix filehosting financial forums gambling games "
    "hacking jobsearch lingerie liste_bu malware manga marketingware mixed_adult mobile-phone "
    "phishing press publicite radio reaffected redirector remote-control sect sexual_education "
    "shopping shortener social_networks sports stalkerware strict_redirector strong_redirector "
    "translation tricheur update vpn warez webmail"
)

# Shalla's Blacklists (shallalist.de, discontinued 2022): the top-level categories of BL/.
SHALLA_CATEGORIES = _words(
    "adv aggressive alcohol anonvpn automobile chat costtraps dating downloads drugs dynamic "
    "education finance fortunetelling forum gamble government hacking hobby homestyle hospitals "
    "imagehosting isp jobsearch library military models movies music news podcasts politics porn "
    "radiotv recreation redirector religion remotecontrol ringtones science searchengines sex "
    "shopping socialnet spyware tracker updatesites urlshortener violence warez weapons webmail "
    "webphone webradio webtv"
)

# squidGuard's stock blacklists (blacklists.tar.gz of squidguard.org: `dest` examples in its
# documentation) and DansGuardian/e2guardian's stock phraselists (lists/phraselists/).
SQUIDGUARD_CATEGORIES = _words(
    "ads aggressive audio-video drugs gambling hacking mail porn proxy violence warez"
)
E2GUARDIAN_CATEGORIES = _words(
    "badwords chat conspiracy domainsforsale drugadvertising forums gambling games gore idtheft "
    "illegaldrugs intolerance legaldrugs malware music news nudism peer2peer personals pornography "
    "proxies rta sport translation violence warezhacking weapons webmail"
)

# Categories of those collections that can take in a catalog service, so a list of that name
# may name one: never assumed harmless.
MAY_NAME_SERVICES = frozenset(
    {
        "social_networks",
        "socialnet",
        "jobsearch",  # LinkedIn is a job site
        "chat",  # Messenger
        "blog",
        "forum",
        "forums",
        "shortener",  # t.co, fb.me, lnkd.in
        "urlshortener",
        "mixed_adult",  # sites with adult sections among others
        "child",  # allow-lists (sites fit for children)
        "liste_bu",  # allow-list (educational sites)
        "reaffected",
        "imagehosting",  # fbcdn, twimg
        "filehosting",
    }
)

OTHER_TOPIC_WORDS: tuple[str, ...] = tuple(
    sorted(
        set(UT1_CATEGORIES + SHALLA_CATEGORIES + SQUIDGUARD_CATEGORIES + E2GUARDIAN_CATEGORIES)
        - MAY_NAME_SERVICES
    )
)

_TOKEN = re.compile(r"[^a-z0-9]+")


def _tokens(text: str) -> list[str]:
    return [t for t in _TOKEN.split(text.lower()) if t]


_CATEGORY_TOKENS = [tuple(_tokens(c)) for c in OTHER_TOPIC_WORDS]
_MAY_NAME_TOKENS = [tuple(_tokens(c)) for c in sorted(MAY_NAME_SERVICES)]


def _same_word(token: str, word: str) -> bool:
    """A token names a category word as written or in the English plural (`trackers` for
    Shalla's `tracker`, `forums` for `forum`): list files are named for what they hold."""
    return token == word or token in (word + "s", word + "es")


def _has_category(tokens: list[str], categories: list[tuple[str, ...]]) -> bool:
    # Every word a token can name (itself, or it without a plural ending): a category with a
    # word outside this set cannot match, which rules out nearly all of them at once.
    named = {
        *tokens,
        *(t[:-1] for t in tokens if t.endswith("s")),
        *(t[:-2] for t in tokens if t.endswith("es")),
    }
    for cat in categories:
        if not named.issuperset(cat):
            continue
        n = len(cat)
        for i in range(len(tokens) - n + 1):
            if all(_same_word(t, w) for t, w in zip(tokens[i : i + n], cat, strict=True)):
                return True
    return False


def starts_a_word(text: str, word: str) -> bool:
    """`word` occurs in text at its start or after a character that is no a-z (the regex
    `(^|[^a-z])word`, without compiling one per service keyword on each start-up)."""
    at = text.find(word)
    while at != -1:
        if at == 0 or not "a" <= text[at - 1] <= "z":
            return True
        at = text.find(word, at + 1)
    return False


def classify_list_name(name: str, service_keywords: dict[str, tuple[str, ...]]) -> tuple[str, set[str]]:
    """("social", services) | ("other-topic", set()) | ("generic", set())."""
    lowered = name.lower()
    named = {sid for sid, words in service_keywords.items() if any(starts_a_word(lowered, w) for w in words)}
    if named:
        return "social", named
    if any(w in lowered for w in SOCIAL_WORDS):
        return "social", set(service_keywords)
    tokens = _tokens(lowered)
    if _has_category(tokens, _MAY_NAME_TOKENS):
        return "generic", set()
    if _has_category(tokens, _CATEGORY_TOKENS):
        return "other-topic", set()
    return "generic", set()

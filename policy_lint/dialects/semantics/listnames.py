"""What a missing list probably holds, judged by its name.

Configs often reference list files that are not in the repository (deployed separately).
Their content is unknown, so any verdict that depends on them could go either way. An auditor
still reads the name: `social_networks` or `blocked_sites` may well hold Facebook, `porn` or
`ads` will not block the site itself. We do the same, and say so in a TE903 finding:

- a name naming a catalog service or a social category -> the list may name the service:
  dependent verdicts are `unknown`;
- a name of another well-known filter category (the UT1/Shalla/FortiGuard vocabulary: ads,
  porn, gambling, portals ...) -> assumed not to name the service, and the finding says so;
- anything else (generic names: `blocked`, `bad_urls`, `denykeywords`) -> `unknown`.
"""

from __future__ import annotations

import re

SOCIAL_WORDS = ("social", "socialnet", "redes", "rede_social", "soziale", "spolecz", "community")

# Category names of the common filter vocabularies (UT1, Shalla, FortiGuard, squidGuard
# examples) that are not social networking.
OTHER_TOPIC_WORDS = (
    "ads",
    "adv",
    "advert",
    "banner",
    "tracker",
    "tracking",
    "analytics",
    "telemetry",
    "porn",
    "adult",
    "sex",
    "xxx",
    "nudity",
    "dating",
    "drug",
    "gambl",
    "casino",
    "betting",
    "violence",
    "weapon",
    "warez",
    "malware",
    "phishing",
    "spyware",
    "virus",
    "hacking",
    "crypto",
    "mining",
    "game",
    "gaming",
    "news",
    "shopping",
    "audio",
    "video",
    "music",
    "radio",
    "stream",
    "webmail",
    "download",
    "torrent",
    "p2p",
    "proxy",
    "vpn",
    "update",
    "portal",
    "search",
    "jobs",
    "travel",
    "sport",
    "religion",
    "politic",
    "weather",
    "bank",
    "finance",
    "file",
    "pliki",
    "exe",
    "media",
    "safesearch",
    "redirector",
    "cache",
)


def classify_list_name(name: str, service_keywords: dict[str, tuple[str, ...]]) -> tuple[str, set[str]]:
    """("social", services) | ("other-topic", set()) | ("generic", set())."""
    lowered = name.lower()
    named = {
        sid
        for sid, words in service_keywords.items()
        if any(re.search(rf"(^|[^a-z]){re.escape(w)}", lowered) for w in words)
    }
    if named:
        return "social", named
    if any(w in lowered for w in SOCIAL_WORDS):
        return "social", set(service_keywords)
    tokens = [t for t in re.split(r"[^a-z]+", lowered) if t]
    if any(t.startswith(w) for t in tokens for w in OTHER_TOPIC_WORDS):
        return "other-topic", set()
    return "generic", set()

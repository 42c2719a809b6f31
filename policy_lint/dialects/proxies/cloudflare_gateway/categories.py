"""Cloudflare Gateway's category and application IDs, as Cloudflare documents them.

Source: Cloudflare Zero Trust docs, "Domain categories", table "Category and subcategory IDs"
(developers.cloudflare.com/cloudflare-one/policies/gateway/domain-categories/; the
cloudflare/cloudflare-docs file content/cloudflare-one/policies/filtering/domain-categories.md,
commit 19a36324c4e7d4482aecc91c42f844f0fc93ee81). Cloudflare's own "Common DNS policies" page
blocks social media with `any(dns.content_category[*] in {149})` (149 = Social Networks).

Which hosts a category holds is Cloudflare's categorisation (Cloudflare Radar), decided at
run time and not in any repository. So a category condition decides a probe only where the
documented meaning settles it:

- a category that may hold a catalog service (social networks, professional networking,
  messaging, chat, forums, blogs, photo sharing, content servers, APIs, login screens,
  redirects, miscellaneous, and their parents) -> unknown for the services' hosts (TE907:
  Cloudflare decides), and not matched by the neutral control site;
- a documented category of another topic (gambling, weapons, malware ...) -> assumed not to
  hold the services (the same convention as semantics/listnames for published category names);
- an ID this table does not document -> unknown for every host (TE908: no cited source).

Application IDs (`app.ids`, `app.type.ids`) are published only through Cloudflare's API, not
in its documentation, except the docs' example 606 (Salesforce); no ID of a catalog service
has a citable source, so an application condition is unknown for the services (TE908).
"""

from __future__ import annotations

from dataclasses import dataclass

# Parent categories (ID -> name).
PARENTS: dict[int, str] = {
    1: "Ads",
    2: "Adult Themes",
    3: "Business & Economy",
    6: "Education",
    7: "Entertainment",
    8: "Gambling",
    9: "Government & Politics",
    10: "Health",
    12: "Internet Communication",
    13: "Job Search & Careers",
    15: "Miscellaneous",
    17: "Questionable Content",
    18: "Real Estate",
    19: "Religion",
    20: "Safe for Kids",
    21: "Security threats",
    22: "Shopping & Auctions",
    24: "Society & Lifestyle",
    25: "Sports",
    26: "Technology",
    27: "Travel",
    28: "Vehicles",
    29: "Violence",
    30: "Weather",
    31: "Blocked",
    32: "Security Risks",
}

# Subcategories (ID -> (name, parent ID)).
SUBCATEGORIES: dict[int, tuple[str, int]] = {
    66: ("Advertisements", 1),
    67: ("Adult Themes", 2),
    125: ("Nudity", 2),
    133: ("Pornography", 2),
    75: ("Business", 3),
    89: ("Economy & Finance", 3),
    90: ("Education", 6),
    91: ("Educational Institutions", 6),
    144: ("Science", 6),
    150: ("Space & Astronomy", 6),
    70: ("Arts", 7),
    74: ("Audio Streaming", 7),
    76: ("Cartoons & Anime", 7),
    79: ("Comic Books", 7),
    92: ("Entertainment", 7),
    96: ("Fine Art", 7),
    100: ("Gaming", 7),
    106: ("Home Video/DVD", 7),
    107: ("Humor", 7),
    116: ("Magazines", 7),
    120: ("Movies", 7),
    121: ("Music", 7),
    122: ("News & Media", 7),
    127: ("Paranormal", 7),
    139: ("Radio", 7),
    156: ("Television", 7),
    164: ("Video Streaming", 7),
    99: ("Gambling", 8),
    101: ("Government", 9),
    137: ("Politics, Advocacy, and Government-Related", 9),
    103: ("Health & Fitness", 10),
    146: ("Sex Education", 10),
    77: ("Chat", 12),
    98: ("Forums", 12),
    108: ("Information Security", 12),
    110: ("Instant Messengers", 12),
    111: ("Internet Phone & VOIP", 12),
    118: ("Messaging", 12),
    126: ("P2P", 12),
    129: ("Personal Blogs", 12),
    168: ("Webmail", 12),
    172: ("Photo Sharing", 12),
    113: ("Job Search & Careers", 13),
    115: ("Login Screens", 15),
    119: ("Miscellaneous", 15),
    124: ("No Content", 15),
    141: ("Redirect", 15),
    161: ("Unreachable", 15),
    85: ("Deceptive Ads", 17),
    87: ("Drugs", 17),
    102: ("Hacking", 17),
    135: ("Profanity", 17),
    138: ("Questionable Activities", 17),
    157: ("Militancy, Hate & Extremism", 17),
    162: ("Unreliable Information", 17),
    140: ("Real Estate", 18),
    142: ("Religion", 19),
    143: ("Safe for Kids", 20),
    68: ("Anonymizer", 21),
    80: ("Command and Control & Botnet", 21),
    83: ("Cryptomining", 21),
    117: ("Malware", 21),
    131: ("Phishing", 21),
    134: ("Private IP Address", 21),
    151: ("Spam", 21),
    153: ("Spyware", 21),
    175: ("DNS Tunneling", 21),
    176: ("Domain Generation Algorithm", 21),
    178: ("Typosquatting & Impersonation", 21),
    73: ("Auctions & Marketplaces", 22),
    82: ("Coupons", 22),
    88: ("Ecommerce", 22),
    148: ("Shopping", 22),
    65: ("Abortion", 24),
    71: ("Arts & Crafts", 24),
    72: ("Astrology", 24),
    78: ("Clothing", 24),
    84: ("Dating & Relationships", 24),
    86: ("Digital Postcards", 24),
    93: ("Parenting", 24),
    94: ("Fashion", 24),
    97: ("Food & Drink", 24),
    104: ("Hobbies & Interests", 24),
    105: ("Home & Garden", 24),
    112: ("Jewelry", 24),
    114: ("Lifestyle", 24),
    130: ("Pets", 24),
    132: ("Photography", 24),
    136: ("Professional Networking", 24),
    147: ("Sexuality", 24),
    149: ("Social Networks", 24),
    154: ("Swimsuits", 24),
    158: ("Tobacco", 24),
    171: ("LGBTQ", 24),
    173: ("Body Art", 24),
    174: ("Lingerie & Bikini", 24),
    152: ("Sports", 25),
    155: ("Technology", 26),
    95: ("File Sharing", 26),
    69: ("APIs", 26),
    81: ("Content Servers", 26),
    109: ("Information Technology", 26),
    123: ("News, Portal & Search", 26),
    145: ("Search Engines", 26),
    159: ("Translator", 26),
    160: ("Travel", 27),
    163: ("Vehicles", 28),
    165: ("Violence", 29),
    166: ("Weapons", 29),
    167: ("Weather", 30),
    170: ("Child Abuse", 31),
    128: ("Parked & For Sale Domains", 32),
    169: ("New Domains", 32),
    177: ("Newly Seen Domains", 32),
}

SOCIAL_NETWORKS = 149

# Subcategories whose documented meaning can take in a social platform or one of its supporting
# hosts (the site, its messenger, its photo CDN, its API, its login page, its short links).
MAY_HOLD_SERVICES: frozenset[int] = frozenset({149, 136, 77, 98, 110, 118, 129, 172, 81, 69, 115, 119, 141})
PARENTS_MAY_HOLD: frozenset[int] = frozenset(
    parent for _n, parent in (SUBCATEGORIES[i] for i in MAY_HOLD_SERVICES)
)

# Application IDs with a citable name: Cloudflare's "Common DNS policies" page blocks Salesforce
# with `any(app.ids[*] in {606})`.
APPLICATIONS: dict[int, str] = {606: "Salesforce"}


@dataclass(frozen=True)
class Category:
    id: int
    name: str | None  # None: no documented name
    may_hold_services: bool

    def describe(self) -> str:
        return f"{self.id} ({self.name})" if self.name else f"{self.id} (no documented name)"


def category(number: int) -> Category:
    if number in SUBCATEGORIES:
        return Category(number, SUBCATEGORIES[number][0], number in MAY_HOLD_SERVICES)
    if number in PARENTS:
        return Category(number, PARENTS[number], number in PARENTS_MAY_HOLD)
    return Category(number, None, True)

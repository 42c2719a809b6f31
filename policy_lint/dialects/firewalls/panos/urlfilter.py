"""PAN-OS URL filtering: the category a request is in, custom URL category entries, and the
action a URL Filtering profile takes.

- Action per category: `block`, `override` (a block page that lets through only who knows the
  override password: a block for users), `continue` (a warning page the user can click
  through: a partial block), `alert` and `allow` (no block). A category the profile does not
  list is allowed. When a URL is in several categories the most severe action applies
  (block > override > continue > alert > allow).
- Precedence: the legacy allow list, then the legacy block list (its `action`), then custom
  URL categories, then predefined categories.
- Entries (custom URL List, block/allow lists): `*` stands for one or more host tokens, `^`
  for exactly one; an entry without a path matches every path of its host, and, as PAN-OS
  documents, a host entry without a trailing `/` also matches longer names it is a token
  prefix of (`example.com` matches `example.com.au`). Over HTTPS without decryption only the
  host (SNI) is seen: an entry with a path does not match it.
- A request's predefined categories: the primary sites of catalog services are in PAN-DB's
  social-networking category (vendor_names.yaml); a URL can also carry a risk category, so a
  profile or rule naming `low-risk`/`medium-risk`/`high-risk` may or may not match it. Other
  hosts (CDNs, APIs, the neutral control site) are in categories the linter does not know,
  except that a category named like a published category of another topic (`malware`,
  `adult`, `gambling`; semantics/listnames.py) is taken not to hold them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from policy_lint.dialects.firewalls.panos.model import ANY, CustomCategory, UrlProfile
from policy_lint.dialects.semantics.listnames import classify_list_name
from policy_lint.model import Probe

# alert logs and lets through: as far as access goes it weighs what allow weighs.
SEVERITY = {"allow": 0, "alert": 0, "continue": 2, "override": 3, "block": 4}
RISK = {"low-risk", "medium-risk", "high-risk"}


@dataclass(frozen=True)
class UrlVerdict:
    action: str  # block | override | continue | alert | allow | unknown
    category: str = ""  # the category (or list) that decided
    reason: str = ""


def _tokens_match(pattern: list[str], host: list[str]) -> bool:
    if not pattern:
        return not host
    head, rest = pattern[0], pattern[1:]
    if head == "*":
        return any(_tokens_match(rest, host[i:]) for i in range(1, len(host) + 1))
    if not host:
        return False
    if head == "^" or head == host[0]:
        return _tokens_match(rest, host[1:])
    return False


def entry_matches(entry: str, probe: Probe) -> bool:
    text = entry.strip().lower()
    text = re.sub(r"^[a-z]+://", "", text)
    host_part, slash, path = text.partition("/")
    host = probe.host.lower().split(".")
    pattern = host_part.split(".")
    if not host_part:
        return False
    if path and probe.scheme == "https":
        return False  # only the SNI is seen without decryption
    host_ok = _tokens_match(pattern, host) or (
        not slash and len(host) > len(pattern) and _tokens_match(pattern, host[: len(pattern)])
    )
    if not host_ok:
        return False
    if not path:
        return True
    return probe.path.lstrip("/").lower().startswith(path)


def predefined(category: str, probe: Probe, social: tuple[str, ...]) -> bool | None:
    """Is the probe's URL in this predefined PAN-DB category? None: not known."""
    if category == ANY:
        return True
    if category in RISK:
        return None
    if probe.role == "primary" and not probe.is_control:
        return category in social
    if probe.is_control and category in social:
        return False
    # A service's CDN/API hosts and the neutral control site: their PAN-DB category is not in
    # the data. A category whose name is a published category of another topic (malware,
    # adult, gambling: semantics/listnames.py, the rule every list-name judgement follows)
    # is taken not to hold them; any other may.
    kind, _named = classify_list_name(category, {})
    return False if kind == "other-topic" else None


def custom(cat: CustomCategory, probe: Probe, social: tuple[str, ...]) -> bool | None:
    if cat.kind == "Category Match":
        results = [predefined(c, probe, social) for c in cat.categories]
        if not results or any(r is False for r in results):
            return False
        return True if all(results) else None
    return any(entry_matches(e, probe) for e in cat.urls)


def category_matches(
    name: str, probe: Probe, customs: dict[str, CustomCategory], social: tuple[str, ...]
) -> bool | None:
    if name in customs:
        return custom(customs[name], probe, social)
    return predefined(name, probe, social)


def decide(
    profile: UrlProfile, probe: Probe, customs: dict[str, CustomCategory], social: tuple[str, ...]
) -> UrlVerdict:
    if any(entry_matches(e, probe) for e in profile.allow_list):
        return UrlVerdict("allow", "allow-list")
    if any(entry_matches(e, probe) for e in profile.block_list):
        return UrlVerdict(profile.block_list_action or "block", "block-list")
    custom_hits = [(c, a) for c, a in profile.actions if c in customs]
    sure = [(c, a) for c, a in custom_hits if custom(customs[c], probe, social) is True]
    maybe = [(c, a) for c, a in custom_hits if custom(customs[c], probe, social) is None]
    if not sure:
        for cat, action in profile.actions:
            if cat in customs:
                continue
            hit = predefined(cat, probe, social)
            if hit is True:
                sure.append((cat, action))
            elif hit is None:
                maybe.append((cat, action))
    best = max(sure, key=lambda ca: SEVERITY.get(ca[1], 0)) if sure else ("", "allow")
    worse = [(c, a) for c, a in maybe if SEVERITY.get(a, 0) > SEVERITY.get(best[1], 0)]
    if worse:
        cats = ", ".join(sorted({c for c, _a in worse}))
        return UrlVerdict(
            "unknown",
            worse[0][0],
            f"url-filtering profile '{profile.name}' has {worse[0][1]} for {cats}; whether "
            f"{probe.host} is in it is not known",
        )
    return UrlVerdict(best[1], best[0])

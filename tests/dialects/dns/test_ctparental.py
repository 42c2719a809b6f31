"""CTparental: one test per rule of its category filter (the CTparental script's catChoice,
dnsmasqon, dnsmasqwhitelistonly, reabdomaine and the group ctoff; see the module docstring)."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import detected_dialect, verdicts

D = "etc/CTparental/"
MAIN = D + "categories-enabled.conf"
SOCIAL_5X = "facebook.com\ntwitter.com\nx.com\nlinkedin.com\nning.com\n"
BL = "adult\nexceptions_liste_bu\nsocial_networks\n"
WL = "liste_blanche\nliste_bu\n"


def _tree(categories: str, files: dict[str, str] | None = None) -> dict[str, str]:
    """categories-enabled.conf first (the file linted), then the others under etc/CTparental."""
    out = {MAIN: categories, D + "bl-categories-available": BL, D + "wl-categories-available": WL}
    out.update({D + name: text for name, text in (files or {}).items()})
    return out


def test_an_enabled_blacklist_blocks_its_names_and_their_subdomains(lint):
    report = lint(_tree("adult\nsocial_networks\n", {"dnsfilter-available/social_networks.conf": SOCIAL_5X}))
    assert set(verdicts(report).values()) == {"blocked"}
    f = next(f for f in report.findings if f.code == "TE101" and f.service == "facebook")
    assert f.span.path.endswith("social_networks.conf") and f.span.line == 1


def test_4x_dnsmasq_lists_answer_the_block_page_address(lint):
    lst = "address=/facebook.com/127.0.0.10\naddress=/twitter.com/127.0.0.10\n"
    report = lint(_tree("social_networks\n", {"dnsfilter-available/social_networks.conf": lst}))
    v = verdicts(report)
    assert v["facebook"] == "blocked" and v["linkedin"] == "unaffected"
    f = next(f for f in report.findings if f.code == "TE101" and f.service == "facebook")
    assert "127.0.0.10" in f.message and f.span.line == 1


def test_a_list_that_is_not_enabled_blocks_nothing(lint):
    report = lint(_tree("adult\n", {"dnsfilter-available/social_networks.conf": SOCIAL_5X}))
    assert set(verdicts(report).values()) == {"unaffected"}


def test_an_absent_social_list_is_unknown(lint):
    report = lint(_tree("adult\nsocial_networks\n"))
    assert set(verdicts(report).values()) == {"unknown"}
    f = next(f for f in report.findings if f.code == "TE903" and "social_networks" in f.message)
    assert f.span.line == 2


def test_an_absent_list_of_another_topic_is_assumed_not_to_name_the_services(lint):
    report = lint(_tree("adult\ngambling\n"))
    assert set(verdicts(report).values()) == {"unaffected"}
    assert any(f.code == "TE903" and "assumed not to name" in f.message for f in report.findings)


def test_filtering_off(lint):
    files = _tree("social_networks\n", {"dnsfilter-available/social_networks.conf": SOCIAL_5X})
    files[D + "CTparental.conf"] = "DNSMASQ=OFF\nGCTOFF=ON\n"
    assert set(verdicts(lint(files)).values()) == {"unaffected"}


def test_whitelist_mode_denies_every_name_not_whitelisted(lint):
    files = _tree("liste_blanche\n", {"dnsfilter-available/liste_blanche.conf": "linkedin.com\nlicdn.com\n"})
    files[D + "CTparental.conf"] = "DNSMASQ=WHITE\n"
    v = verdicts(lint(files))
    assert v["facebook"] == "blocked"  # an allow-list: the control is denied too
    assert v["linkedin"] in ("allowed", "degraded")


def test_the_mode_follows_the_first_category_and_grep_finds_substrings(lint):
    # `grep -c liste_bu bl-categories-available` finds exceptions_liste_bu: a blacklist, BLACK mode
    files = _tree("liste_bu\n", {"dnsfilter-available/liste_bu.conf": "facebook.com\n"})
    assert verdicts(lint(files))["facebook"] == "blocked"
    assert verdicts(lint(files))["twitter"] == "unaffected"  # not an allow-list


def test_a_rehabilitated_domain_is_not_blocked(lint):
    files = _tree("social_networks\n", {"dnsfilter-available/social_networks.conf": SOCIAL_5X})
    files[D + "domaine-rehabiliter.conf"] = "linkedin.com\n"
    v = verdicts(lint(files))
    assert v["linkedin"] in ("allowed", "unaffected") and v["facebook"] == "blocked"


def test_4x_rehabilitation_deletes_every_line_its_regex_finds(lint):
    lst = "address=/facebook.com/127.0.0.10\naddress=/twitter.com/x.com/127.0.0.10\n"
    files = _tree("social_networks\n", {"dnsfilter-available/social_networks.conf": lst})
    files[D + "domaine-rehabiliter.conf"] = "book.com\n"  # sed "/book.com/d" removes facebook.com
    v = verdicts(lint(files))
    assert v["facebook"] in ("allowed", "unaffected") and v["twitter"] == "blocked"


def test_a_privileged_user_is_not_filtered(lint):
    files = _tree("social_networks\n", {"dnsfilter-available/social_networks.conf": SOCIAL_5X})
    files[D + "GCToff.conf"] = "#kid\nparent\n+admin\n"
    report = lint(files)
    assert verdicts(report)["facebook"] == "blocked-partial"


def test_filtered_users_and_administrators_are_no_privileged_audience(lint):
    files = _tree("social_networks\n", {"dnsfilter-available/social_networks.conf": SOCIAL_5X})
    files[D + "GCToff.conf"] = "#kid\n+admin\n"
    assert verdicts(lint(files))["facebook"] == "blocked"


def test_gctoff_off_filters_every_user(lint):
    files = _tree("social_networks\n", {"dnsfilter-available/social_networks.conf": SOCIAL_5X})
    files[D + "GCToff.conf"] = "parent\n"
    files[D + "CTparental.conf"] = "DNSCRYPT=BLACK\nGCTOFF=OFF\n"
    assert verdicts(lint(files))["facebook"] == "blocked"


def test_dnscrypt_exact_names_block_only_the_name(lint):
    lst = "=facebook.com\n"
    v = verdicts(lint(_tree("social_networks\n", {"dnsfilter-available/social_networks.conf": lst})))
    assert v["facebook"] == "blocked-partial"  # www.facebook.com still resolves


def test_absent_state_files_are_read_as_installed_and_said_so(lint):
    report = lint(_tree("social_networks\n", {"dnsfilter-available/social_networks.conf": SOCIAL_5X}))
    note = next(f for f in report.findings if f.code == "TE903" and "installs" in f.message)
    assert "CTparental.conf" in note.message and "GCToff.conf" in note.message


def test_whiteiponly_is_not_modelled(lint):
    files = _tree("social_networks\n", {"dnsfilter-available/social_networks.conf": SOCIAL_5X})
    files[D + "CTparental.conf"] = "DNSCRYPT=BLACK\nWHITEIPONLY=ON\n"
    report = lint(files)
    assert set(verdicts(report).values()) == {"unknown"}
    assert any(f.code == "TE908" and f.span.line == 2 for f in report.findings)


def test_detection_by_name_and_content():
    assert detected_dialect(Path("categories-enabled.conf"), "adult\nsocial_networks\n") == "ctparental"
    assert detected_dialect(Path("categories-enabled"), "adult\ndating\n") == "ctparental"


def test_binary_input_is_one_error(lint):
    report = lint({MAIN: "\x00\x01\x02binary"}, dialect="ctparental")
    assert not report.files and len(report.errors) == 1


def test_5x_dnscrypt_allowed_names_lift_blocks(lint):
    files = _tree("social_networks\n", {"dnsfilter-available/social_networks.conf": SOCIAL_5X})
    files[D + "CTparental.conf"] = "DNSCRYPT=BLACK\n"
    files[D + "dnscrypt-allowed-names.txt"] = ".linkedin.com\n"
    v = verdicts(lint(files))
    assert v["linkedin"] in ("allowed", "unaffected") and v["facebook"] == "blocked"

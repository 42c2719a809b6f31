"""FortiGate: FortiOS CLI and fortios Terraform, evaluated as FortiOS documents it (firewall
policies first match in list order, implicit deny, web filter URL filter then FortiGuard
categories, application control, DNS filter, VDOMs, schedules, user groups)."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from policy_lint.cli import cli
from tests.conftest import detected_dialect, verdicts

HEAD = "#config-version=FG100F-7.0.12-FW-build0523-230606:opmode=0:vdom=0:user=admin\n"
LAN = """config firewall address
    edit "LAN"
        set subnet 10.0.0.0 255.255.255.0
    next
end
"""


def policy(
    pid: str, action: str = "accept", dstaddr: str = '"all"', extra: str = "", srcaddr: str = '"LAN"'
) -> str:
    return f"""    edit {pid}
        set srcintf "port1"
        set dstintf "wan1"
        set srcaddr {srcaddr}
        set dstaddr {dstaddr}
        set action {action}
        set schedule "always"
        set service "ALL"
{extra}    next
"""


def policies(*entries: str) -> str:
    return "config firewall policy\n" + "".join(entries) + "end\n"


def webfilter(name: str = "office", filters: str = "", web: str = "") -> str:
    return f"""config webfilter profile
    edit "{name}"
{web}        config ftgd-wf
            config filters
{filters}            end
        end
    next
end
"""


def category(n: int, cat: str, action: str) -> str:
    return f"""                edit {n}
                    set category {cat}
                    set action {action}
                next
"""


UTM = """        set utm-status enable
        set ssl-ssh-profile "certificate-inspection"
        set webfilter-profile "office"
"""


def codes(report) -> list[str]:
    return [f.code for f in report.findings]


def finding(report, code: str):
    return next(f for f in report.findings if f.code == code)


def line_of(text: str, needle: str, nth: int = 1) -> int:
    seen = 0
    for i, line in enumerate(text.splitlines(), 1):
        if needle in line:
            seen += 1
            if seen == nth:
                return i
    raise AssertionError(needle)


# ------------------------------------------------------------------ web filter


def test_category_37_block_on_the_accepting_policy_blocks(lint):
    text = HEAD + LAN + webfilter(filters=category(1, "37", "block")) + policies(policy("7", extra=UTM))
    report = lint({"fgt.conf": text})
    assert verdicts(report)["facebook"] == "blocked"
    f = finding(report, "TE101")
    assert f.span.line == line_of(text, "edit 1")
    assert (
        "policy 7" in f.message and "'office'" in f.message and "category 37 (Social Networking)" in f.message
    )
    assert [s.line for s in f.trace][:2] == [line_of(text, "edit 7"), line_of(text, 'edit "office"')]


def test_warning_is_a_click_through_page_partly_blocked(lint):
    text = HEAD + LAN + webfilter(filters=category(1, "37", "warning")) + policies(policy("7", extra=UTM))
    report = lint({"fgt.conf": text})
    assert verdicts(report)["facebook"] == "blocked-partial"
    assert "click-through" in finding(report, "TE102").message


def test_a_time_quota_on_the_category_is_partial(lint):
    quota = """            config quota
                edit 1
                    set category 37
                    set type time
                    set duration 1h
                next
            end
"""
    text = HEAD + LAN + webfilter(filters=category(1, "37", "monitor")) + policies(policy("7", extra=UTM))
    text = text.replace("            end\n        end\n", "            end\n" + quota + "        end\n", 1)
    report = lint({"fgt.conf": text})
    assert verdicts(report)["facebook"] == "blocked-partial"
    f = finding(report, "TE102")
    assert "quota (time 1h)" in f.message and f.span.line == line_of(text, "config quota") + 1


def test_monitor_lets_it_through(lint):
    text = HEAD + LAN + webfilter(filters=category(1, "37", "monitor")) + policies(policy("7", extra=UTM))
    assert verdicts(lint({"fgt.conf": text}))["facebook"] == "unaffected"


def test_other_topic_categories_leave_the_services_alone(lint):
    text = HEAD + LAN + webfilter(filters=category(1, "14", "block") + category(2, "26", "block"))
    report = lint({"fgt.conf": text + policies(policy("7", extra=UTM))})
    assert verdicts(report)["facebook"] == "unaffected"


def test_a_local_category_holds_only_locally_rated_sites(lint):
    text = HEAD + LAN + webfilter(filters=category(1, "140", "block")) + policies(policy("7", extra=UTM))
    assert verdicts(lint({"fgt.conf": text}))["facebook"] == "unaffected"


def test_content_servers_block_is_unknown_for_the_cdn(lint):
    text = HEAD + LAN + webfilter(filters=category(1, "82", "block")) + policies(policy("7", extra=UTM))
    report = lint({"fgt.conf": text})
    assert verdicts(report)["facebook"] == "unknown"


def test_utm_status_disable_turns_the_profiles_off(lint):
    extra = '        set utm-status disable\n        set webfilter-profile "office"\n'
    text = HEAD + LAN + webfilter(filters=category(1, "37", "block")) + policies(policy("7", extra=extra))
    report = lint({"fgt.conf": text})
    assert verdicts(report)["facebook"] == "unaffected"
    assert "TE202" in codes(report)


def test_a_profile_without_a_utm_status_line_applies_as_in_fortios_7_2(lint):
    extra = '        set ssl-ssh-profile "certificate-inspection"\n        set webfilter-profile "office"\n'
    text = HEAD + LAN + webfilter(filters=category(1, "37", "block")) + policies(policy("7", extra=extra))
    assert verdicts(lint({"fgt.conf": text}))["facebook"] == "blocked"


def test_an_address_of_facebook_networks_no_policy_uses_is_inert(lint):
    nets = LAN.replace(
        "end\n", '    edit "fb-net"\n        set subnet 157.240.0.0 255.255.0.0\n    next\nend\n'
    )
    report = lint({"fgt.conf": HEAD + nets + policies(policy("1"))})
    assert verdicts(report)["facebook"] == "unaffected"
    assert finding(report, "TE202").span.line == line_of(HEAD + nets, 'edit "fb-net"')


def test_unreferenced_profile_is_inert(lint):
    text = HEAD + LAN + webfilter(filters=category(1, "37", "block")) + policies(policy("7"))
    report = lint({"fgt.conf": text})
    assert verdicts(report)["facebook"] == "unaffected"
    assert finding(report, "TE202").span.line == line_of(text, 'edit "office"')


URLFILTER = """config webfilter urlfilter
    edit 1
        set name "social"
        config entries
{entries}        end
    next
end
"""


def url_entry(n: int, url: str, kind: str, action: str) -> str:
    return f"""            edit {n}
                set url "{url}"
                set type {kind}
                set action {action}
            next
"""


WEB = """        config web
            set urlfilter-table 1
        end
"""


def test_url_filter_wildcard_block(lint):
    text = (
        HEAD
        + LAN
        + URLFILTER.format(entries=url_entry(1, "*facebook.com", "wildcard", "block"))
        + webfilter(web=WEB)
        + policies(policy("7", extra=UTM))
    )
    report = lint({"fgt.conf": text})
    assert verdicts(report)["facebook"] == "blocked"
    f = finding(report, "TE101")
    assert f.span.line == line_of(text, "edit 1", 2)
    assert "urlfilter 1 entry '*facebook.com'" in f.message


def test_url_filter_exempt_first_wins_over_category_block(lint):
    entries = url_entry(1, "facebook.com", "simple", "exempt") + url_entry(
        2, ".*facebook.*", "regex", "block"
    )
    text = (
        HEAD
        + LAN
        + URLFILTER.format(entries=entries)
        + webfilter(web=WEB, filters=category(1, "37", "block"))
        + policies(policy("7", extra=UTM))
    )
    report = lint({"fgt.conf": text})
    # The site's hosts are exempt (flow mode: `simple` is a substring of host+path) before the
    # regex block and the category; fbcdn.net is not, and its rating is unknown.
    assert verdicts(report)["facebook"] == "unknown"
    assert not any(f.service == "facebook" for f in report.findings if f.code in ("TE101", "TE102"))
    assert verdicts(report)["twitter"] == "blocked"


def test_url_filter_allow_goes_on_to_the_category_check(lint):
    text = (
        HEAD
        + LAN
        + URLFILTER.format(entries=url_entry(1, "facebook.com", "simple", "allow"))
        + webfilter(web=WEB, filters=category(1, "37", "block"))
        + policies(policy("7", extra=UTM))
    )
    assert verdicts(lint({"fgt.conf": text}))["facebook"] == "blocked"


def test_url_filter_host_entry_matches_https_by_sni_with_certificate_inspection(lint):
    text = (
        HEAD
        + LAN
        + URLFILTER.format(entries=url_entry(1, "www.facebook.com/", "simple", "block"))
        + webfilter(web=WEB)
        + policies(policy("7", extra=UTM))
    )
    report = lint({"fgt.conf": text})
    assert verdicts(report)["facebook"] == "blocked-partial"  # www only: facebook.com, m. stay open
    assert "on www.facebook.com only" in finding(report, "TE102").message


def test_banned_words_are_content_filtering(lint):
    web = "        config web\n            set bword-table 1\n        end\n"
    text = HEAD + LAN + webfilter(web=web) + policies(policy("7", extra=UTM))
    report = lint({"fgt.conf": text})
    assert verdicts(report)["facebook"] == "unaffected"
    assert finding(report, "TE208").span.line == line_of(text, "bword-table")


def test_no_ssl_inspection_makes_https_blocks_unknown(lint):
    extra = UTM.replace("certificate-inspection", "no-inspection")
    text = HEAD + LAN + webfilter(filters=category(1, "37", "block")) + policies(policy("7", extra=extra))
    report = lint({"fgt.conf": text})
    # Plain HTTP is blocked; whether the filter sees HTTPS without inspection is unknown, so
    # no block of HTTPS is claimed.
    assert verdicts(report)["facebook"] == "blocked-partial"
    assert "over plain HTTP only" in finding(report, "TE102").message


def test_local_rating_moves_a_site_into_a_blocked_category(lint):
    rating = """config webfilter ftgd-local-rating
    edit "www.example.com"
        set rating 37
    next
end
"""
    text = (
        HEAD + LAN + rating + webfilter(filters=category(1, "37", "block")) + policies(policy("7", extra=UTM))
    )
    report = lint({"fgt.conf": text})
    assert "TE105" in codes(report)  # the control site is now blocked as well


# ------------------------------------------------------------------ policies


FQDN = """config firewall address
    edit "LAN"
        set subnet 10.0.0.0 255.255.255.0
    next
    edit "fb-apex"
        set type fqdn
        set fqdn "facebook.com"
    next
    edit "fb-wild"
        set type wildcard-fqdn
        set wildcard-fqdn "*.facebook.com"
    next
end
config firewall addrgrp
    edit "social"
        set member "fb-apex" "fb-wild"
    next
end
"""


def test_deny_policy_with_fqdn_group_blocks_before_the_accept(lint):
    text = HEAD + FQDN + policies(policy("3", "deny", '"social"'), policy("1"))
    report = lint({"fgt.conf": text})
    assert verdicts(report)["facebook"] == "blocked"
    assert finding(report, "TE101").span.line == line_of(text, "edit 3")
    assert verdicts(report)["twitter"] == "unaffected"


def test_policy_ids_are_not_the_order(lint):
    text = HEAD + FQDN + policies(policy("1"), policy("3", "deny", '"social"'))
    assert verdicts(lint({"fgt.conf": text}))["facebook"] == "unaffected"


def test_move_reorders_the_list(lint):
    text = (
        HEAD
        + FQDN
        + policies(policy("1"), policy("3", "deny", '"social"')).replace(
            "end\n", "    move 3 before 1\nend\n"
        )
    )
    assert verdicts(lint({"fgt.conf": text}))["facebook"] == "blocked"


def test_edit_0_makes_a_new_policy_each_time(lint):
    text = HEAD + FQDN + policies(policy("0", "deny", '"social"'), policy("0"))
    assert verdicts(lint({"fgt.conf": text}))["facebook"] == "blocked"


def test_disabled_policy_is_skipped(lint):
    text = (
        HEAD + FQDN + policies(policy("3", "deny", '"social"', "        set status disable\n"), policy("1"))
    )
    assert verdicts(lint({"fgt.conf": text}))["facebook"] == "unaffected"


def test_no_policy_is_the_implicit_deny_for_everything(lint):
    report = lint({"fgt.conf": HEAD + LAN + "config firewall policy\nend\n"})
    assert verdicts(report)["facebook"] == "blocked"
    assert "TE105" in codes(report)


def test_internet_service_name_is_unknown(lint):
    extra = '        set internet-service enable\n        set internet-service-name "Facebook-Web"\n'
    text = HEAD + LAN + policies(policy("3", "deny", '"all"', extra), policy("1"))
    report = lint({"fgt.conf": text})
    assert verdicts(report)["facebook"] == "unknown"
    assert finding(report, "TE908").span.line == line_of(text, "internet-service-name")


def test_schedule_makes_a_deny_partial(lint):
    sched = """config firewall schedule recurring
    edit "work"
        set start 08:00
        set end 17:00
        set day monday tuesday wednesday thursday friday
    next
end
"""
    deny = policy("3", "deny", '"social"').replace('"always"', '"work"')
    report = lint({"fgt.conf": HEAD + FQDN + sched + policies(deny, policy("1"))})
    assert verdicts(report)["facebook"] == "blocked-partial"
    assert "schedule work" in finding(report, "TE102").message


def test_group_deny_is_partial(lint):
    groups = 'config user group\n    edit "Staff"\n    next\nend\n'
    deny = policy("3", "deny", '"social"', '        set groups "Staff"\n')
    report = lint({"fgt.conf": HEAD + FQDN + groups + policies(deny, policy("1"))})
    assert verdicts(report)["facebook"] == "blocked-partial"


def test_per_vdom_evaluation(lint):
    text = (
        HEAD
        + "config vdom\nedit root\nnext\nedit guest\nnext\nend\n"
        + "config vdom\nedit root\n"
        + FQDN
        + policies(policy("3", "deny", '"social"'), policy("1"))
        + "next\nedit guest\n"
        + LAN
        + policies(policy("1"))
        + "next\nend\n"
    )
    report = lint({"fgt.conf": text})
    assert verdicts(report)["facebook"] == "blocked-partial"
    assert "vdom root" in finding(report, "TE102").message


def test_a_deny_on_one_interface_leaves_the_others_partly_open(lint):
    deny = policy("3", "deny", '"social"')
    accept_any = policy("1", srcaddr='"all"').replace('"port1"', '"any"')
    report = lint({"fgt.conf": HEAD + FQDN + policies(deny, accept_any)})
    assert verdicts(report)["facebook"] == "blocked-partial"


FACTORY = """config firewall address
    edit "all"
    next
    edit "none"
        set subnet 0.0.0.0 255.255.255.255
    next
end
config firewall schedule recurring
    edit "always"
        set day sunday monday tuesday wednesday thursday friday saturday
    next
    edit "none"
    next
end
config firewall service custom
    edit "ALL"
        set category "General"
        set protocol IP
    next
    edit "HTTPS"
        set tcp-portrange 443
    next
end
"""


def test_factory_objects_of_a_full_backup(lint):
    social = FQDN.replace(
        'config firewall address\n    edit "LAN"\n        set subnet 10.0.0.0 255.255.255.0\n    next\n',
        "config firewall address\n",
    )
    deny = policy("3", "deny", '"social"', srcaddr='"all"').replace('"ALL"', '"HTTPS"')
    report = lint({"fgt.conf": HEAD + FACTORY + social + policies(deny, policy("1", srcaddr='"all"'))})
    # HTTPS to the site denied, plain HTTP passes: browsers reach it over HTTPS.
    assert verdicts(report)["facebook"] == "blocked"
    assert "TE901" not in codes(report)
    never = deny.replace('"always"', '"none"')
    report = lint({"fgt.conf": HEAD + FACTORY + social + policies(never, policy("1", srcaddr='"all"'))})
    assert verdicts(report)["facebook"] == "unaffected"  # schedule "none" never applies


def test_application_list_block_is_unknown_never_a_guess(lint):
    app = """config application list
    edit "apps"
        config entries
            edit 1
                set category 23
                set action block
            next
        end
    next
end
"""
    extra = '        set utm-status enable\n        set application-list "apps"\n'
    text = HEAD + LAN + app + policies(policy("7", extra=extra))
    report = lint({"fgt.conf": text})
    assert verdicts(report)["facebook"] == "unknown"
    assert finding(report, "TE908").span.line == line_of(text, "edit 1")


def test_dns_filter_category_block(lint):
    dns = """config dnsfilter profile
    edit "dns"
        config ftgd-dns
            config filters
                edit 1
                    set category 37
                    set action block
                next
            end
        end
    next
end
"""
    extra = '        set utm-status enable\n        set dnsfilter-profile "dns"\n'
    text = HEAD + LAN + dns + policies(policy("7", extra=extra))
    report = lint({"fgt.conf": text})
    assert verdicts(report)["facebook"] == "blocked"
    assert "dnsfilter-profile 'dns'" in finding(report, "TE101").message


def test_dns_filter_of_the_fortigate_as_dns_server(lint):
    dns = """config dnsfilter profile
    edit "dns"
        config ftgd-dns
            config filters
                edit 1
                    set category 37
                    set action block
                next
            end
        end
    next
end
config system dns-server
    edit "port1"
        set dnsfilter-profile "dns"
    next
end
"""
    report = lint({"fgt.conf": HEAD + LAN + dns + policies(policy("7"))})
    assert verdicts(report)["facebook"] == "blocked"
    f = finding(report, "TE101")
    assert "system dns-server 'port1'" in f.message
    assert "TE202" not in codes(report)


def test_dns_filter_domain_entry(lint):
    dns = """config dnsfilter domain-filter
    edit 1
        config entries
            edit 1
                set domain "linkedin.com"
                set action block
            next
        end
    next
end
config dnsfilter profile
    edit "dns"
        config domain-filter
            set domain-filter-table 1
        end
    next
end
"""
    extra = '        set utm-status enable\n        set dnsfilter-profile "dns"\n'
    report = lint({"fgt.conf": HEAD + LAN + dns + policies(policy("7", extra=extra))})
    assert verdicts(report)["linkedin"] == "blocked"
    assert verdicts(report)["facebook"] == "unaffected"


# ------------------------------------------------------------------ broken and partial configs


def test_missing_end_is_te901_and_what_was_read_counts(lint):
    text = HEAD + FQDN + "config firewall policy\n" + policy("3", "deny", '"social"') + policy("1")
    report = lint({"fgt.conf": text})
    assert finding(report, "TE901").span.line == line_of(text, "config firewall policy")
    assert verdicts(report)["facebook"] == "blocked"


def test_unknown_command_is_te901(lint):
    text = HEAD + LAN + "config firewall policy\n    frobnicate 3\nend\n"
    report = lint({"fgt.conf": text})
    assert finding(report, "TE901").span.line == line_of(text, "frobnicate")


def test_undefined_address_is_te901_and_unknown(lint):
    text = HEAD + LAN + policies(policy("3", "deny", '"fb-nets"'), policy("1"))
    report = lint({"fgt.conf": text})
    assert verdicts(report)["facebook"] == "unknown"
    f = finding(report, "TE901")
    assert f.span.line == line_of(text, 'set dstaddr "fb-nets"') and "fb-nets" in f.message


def test_a_file_of_profiles_without_policies_decides_nothing(lint):
    report = lint({"fgt.conf": HEAD + LAN + webfilter(filters=category(1, "37", "block"))})
    assert verdicts(report)["facebook"] == "unknown"
    assert "TE105" not in codes(report) and "TE202" not in codes(report)
    assert finding(report, "TE908").span.line == 1


def test_a_snippet_of_only_a_policy_lints(lint):
    snippet = policies(policy("3", "deny", '"all"', srcaddr='"all"'))
    report = lint({"policy.conf": snippet})
    assert verdicts(report)["facebook"] == "blocked"  # and everything else: TE105
    assert "TE105" in codes(report)


def test_multiline_quoted_values_do_not_break_reading(lint):
    cert = 'config vpn certificate local\n    edit "c"\n        set private-key "-----BEGIN KEY-----\nabc\nend\n-----END-----"\n    next\nend\n'
    text = HEAD + cert + FQDN + policies(policy("3", "deny", '"social"'), policy("1"))
    report = lint({"fgt.conf": text})
    assert verdicts(report)["facebook"] == "blocked"
    assert "TE901" not in codes(report)


# ------------------------------------------------------------------ Terraform and detection


TF = """
resource "fortios_firewall_address" "fb" {
  name          = "fb-wild"
  type          = "wildcard-fqdn"
  wildcard_fqdn = "*.facebook.com"
}

resource "fortios_firewall_address" "apex" {
  name = "fb-apex"
  type = "fqdn"
  fqdn = "facebook.com"
}

resource "fortios_firewall_addrgrp" "social" {
  name = "social"
  member { name = fortios_firewall_address.fb.name }
  member { name = fortios_firewall_address.apex.name }
}

resource "fortios_firewall_address" "lan" {
  name   = "LAN"
  subnet = "10.0.0.0 255.255.255.0"
}

resource "fortios_firewall_policy" "deny" {
  policyid = 3
  action   = "deny"
  schedule = "always"
  srcintf { name = "port1" }
  dstintf { name = "wan1" }
  srcaddr { name = "LAN" }
  dstaddr { name = fortios_firewall_addrgrp.social.name }
  service { name = "ALL" }
}

resource "fortios_firewall_policy" "out" {
  policyid = 1
  action   = "accept"
  schedule = "always"
  srcintf { name = "port1" }
  dstintf { name = "wan1" }
  srcaddr { name = "LAN" }
  dstaddr { name = "all" }
  service { name = "ALL" }
  depends_on = [fortios_firewall_policy.deny]
}
"""


def test_terraform_and_cli_give_the_same_verdicts(lint, tmp_path):
    cli_text = HEAD + FQDN + policies(policy("3", "deny", '"social"'), policy("1"))
    from_cli = verdicts(lint({"fgt.conf": cli_text}))
    from_tf = verdicts(lint({"main.tf": TF}))
    assert from_cli == from_tf
    assert from_tf["facebook"] == "blocked"


def test_terraform_web_filter_same_as_cli(lint):
    tf = """
resource "fortios_webfilter_profile" "office" {
  name = "office"
  ftgd_wf {
    filters {
      id       = 1
      category = 37
      action   = "warning"
    }
  }
}
resource "fortios_firewall_address" "lan" {
  name   = "LAN"
  subnet = "10.0.0.0 255.255.255.0"
}
resource "fortios_firewall_policy" "out" {
  policyid          = 7
  action            = "accept"
  schedule          = "always"
  utm_status        = "enable"
  ssl_ssh_profile   = "certificate-inspection"
  webfilter_profile = fortios_webfilter_profile.office.name
  srcintf { name = "port1" }
  dstintf { name = "wan1" }
  srcaddr { name = "LAN" }
  dstaddr { name = "all" }
  service { name = "ALL" }
}
"""
    cli_text = HEAD + LAN + webfilter(filters=category(1, "37", "warning")) + policies(policy("7", extra=UTM))
    assert verdicts(lint({"main.tf": tf})) == verdicts(lint({"fgt.conf": cli_text}))


def test_terraform_url_filter_and_dns_filter_same_as_cli(lint):
    tf = """
resource "fortios_webfilter_urlfilter" "t" {
  fosid = 1
  name  = "social"
  entries {
    id     = 1
    url    = "*facebook.com"
    type   = "wildcard"
    action = "block"
  }
}
resource "fortios_webfilter_profile" "office" {
  name = "office"
  web {
    urlfilter_table = fortios_webfilter_urlfilter.t.fosid
  }
}
resource "fortios_dnsfilter_domainfilter" "d" {
  fosid = 1
  name  = "dns"
  entries {
    id     = 1
    domain = "linkedin.com"
    action = "block"
  }
}
resource "fortios_dnsfilter_profile" "dns" {
  name = "dns"
  domain_filter {
    domain_filter_table = 1
  }
}
resource "fortios_firewall_address" "lan" {
  name   = "LAN"
  subnet = "10.0.0.0 255.255.255.0"
}
resource "fortios_firewall_policy" "out" {
  policyid          = 7
  action            = "accept"
  schedule          = "always"
  utm_status        = "enable"
  ssl_ssh_profile   = "certificate-inspection"
  webfilter_profile = "office"
  dnsfilter_profile = "dns"
  srcintf { name = "port1" }
  dstintf { name = "wan1" }
  srcaddr { name = "LAN" }
  dstaddr { name = "all" }
  service { name = "ALL" }
}
"""
    dns = """config dnsfilter domain-filter
    edit 1
        config entries
            edit 1
                set domain "linkedin.com"
                set action block
            next
        end
    next
end
config dnsfilter profile
    edit "dns"
        config domain-filter
            set domain-filter-table 1
        end
    next
end
"""
    extra = UTM + '        set dnsfilter-profile "dns"\n'
    cli_text = (
        HEAD
        + LAN
        + URLFILTER.format(entries=url_entry(1, "*facebook.com", "wildcard", "block"))
        + webfilter(web=WEB)
        + dns
        + policies(policy("7", extra=extra))
    )
    from_tf, from_cli = verdicts(lint({"main.tf": tf})), verdicts(lint({"fgt.conf": cli_text}))
    assert from_tf == from_cli
    assert from_tf["facebook"] == "blocked" and from_tf["linkedin"] == "blocked"


def test_terraform_policies_without_an_order_are_unknown_when_order_decides(lint):
    report = lint({"main.tf": TF.replace("  depends_on = [fortios_firewall_policy.deny]\n", "")})
    assert verdicts(report)["facebook"] == "unknown"


def test_terraform_first_provider_resources_with_lists(lint):
    tf = """
resource "fortios_firewall_object_address" "fb" {
  name = "fb-apex"
  type = "fqdn"
  fqdn = "facebook.com"
}
resource "fortios_firewall_object_address" "wild" {
  name = "fb-wild"
  type = "wildcard-fqdn"
  wildcard_fqdn = "*.facebook.com"
}
resource "fortios_firewall_object_addressgroup" "social" {
  name   = "social"
  member = ["fb-apex", "fb-wild"]
}
resource "fortios_firewall_security_policy" "deny" {
  name     = "deny-social"
  srcintf  = ["port1"]
  dstintf  = ["wan1"]
  srcaddr  = ["all"]
  dstaddr  = ["social"]
  action   = "deny"
  schedule = "always"
  service  = ["ALL"]
}
resource "fortios_firewall_security_policy" "out" {
  name       = "out"
  srcintf    = ["port1"]
  dstintf    = ["wan1"]
  srcaddr    = ["all"]
  dstaddr    = ["all"]
  action     = "accept"
  schedule   = "always"
  service    = ["ALL"]
  depends_on = [fortios_firewall_security_policy.deny]
}
"""
    report = lint({"main.tf": tf})
    assert verdicts(report)["facebook"] == "blocked" and verdicts(report)["twitter"] == "unaffected"
    assert "TE901" not in codes(report) and "TE105" not in codes(report)


def test_terraform_application_list_block_is_unknown(lint):
    tf = """
resource "fortios_application_list" "apps" {
  name = "apps"
  entries {
    id     = 1
    action = "block"
    category {
      id = 23
    }
  }
}
resource "fortios_firewall_policy" "out" {
  policyid         = 7
  action           = "accept"
  schedule         = "always"
  utm_status       = "enable"
  application_list = fortios_application_list.apps.name
  srcintf { name = "port1" }
  dstintf { name = "wan1" }
  srcaddr { name = "all" }
  dstaddr { name = "all" }
  service { name = "ALL" }
}
"""
    report = lint({"main.tf": tf})
    assert verdicts(report)["facebook"] == "unknown"
    f = finding(report, "TE908")
    assert f.span.line == line_of(tf, "entries {") and "category 23" in f.message


def test_terraform_computed_name_is_unknown(lint):
    tf = TF.replace("name = fortios_firewall_addrgrp.social.name", "name = var.blocked")
    report = lint({"main.tf": tf})
    assert verdicts(report)["facebook"] == "unknown"
    assert "TE908" in codes(report)


def test_terraform_dynamic_blocks_and_variable_objects(lint):
    tf = """
variable "deny_all" {
  default = {
    id      = 1000
    srcaddr = "all"
    action  = "deny"
  }
}
variable "sources" {}
resource "fortios_firewall_policy" "first" {
  policyid = var.deny_all.id
  srcintf { name = "any" }
  dstintf { name = "any" }
  srcaddr { name = var.deny_all.srcaddr }
  dstaddr { name = "all" }
  service { name = "ALL" }
  action   = var.deny_all.action
  schedule = "always"
}
resource "fortios_firewall_policy" "second" {
  action   = "accept"
  schedule = "always"
  srcintf { name = "port2" }
  dstintf { name = "port1" }
  dynamic "srcaddr" {
    for_each = var.sources
    content {
      name = srcaddr.value
    }
  }
  dstaddr { name = "all" }
  service { name = "ALL" }
  depends_on = [fortios_firewall_policy.first]
}
"""
    report = lint({"main.tf": tf})
    # The variable's object default decides policy 1000: a deny of everything, first.
    assert "TE105" in codes(report)
    dynamic = finding(report, "TE908")
    assert dynamic.span.line == line_of(tf, 'dynamic "srcaddr"') and "dynamic" in dynamic.message
    assert "TE901" not in codes(report)  # a computed name is no undefined object


def test_explain_shows_policy_profile_and_filter_entry(tmp_path):
    text = HEAD + LAN + webfilter(filters=category(1, "37", "block")) + policies(policy("7", extra=UTM))
    (tmp_path / "fgt.conf").write_text(text)
    result = CliRunner().invoke(cli, ["explain", "facebook", str(tmp_path / "fgt.conf")])
    wanted = (line_of(text, "edit 7"), line_of(text, 'edit "office"'), line_of(text, "edit 1"))
    lines = [f":{n}:" for n in wanted]
    trace = [row for row in result.output.splitlines() if row.strip().startswith("- ")]
    assert all(any(mark in row for row in trace) for mark in lines), result.output
    assert (
        "policy 7 (line " in result.output and "-> webfilter-profile 'office' -> category 37" in result.output
    )


def test_detection():
    assert detected_dialect(Path("backup.conf"), HEAD + "config system global\nend\n") == "fortigate"
    assert detected_dialect(Path("snippet.txt"), "config firewall policy\n    edit 1\n") == "fortigate"
    assert detected_dialect(Path("main.tf"), 'resource "fortios_firewall_policy" "x" {\n}\n') == "fortigate"
    assert detected_dialect(Path("notes.md"), "config firewall policy\n") != "fortigate"


def test_binary_and_truncated_input_exit_2(tmp_path):
    (tmp_path / "fgt.conf").write_bytes(b"\x00\x01\x02config firewall policy\n")
    (tmp_path / "bad.tf").write_text('resource "fortios_firewall_policy" "x" {\n  action = \n')
    runner = CliRunner()
    for name in ("fgt.conf", "bad.tf"):
        result = runner.invoke(cli, ["check", "--dialect", "fortigate", str(tmp_path / name)])
        assert result.exit_code == 2, result.output
        assert "Traceback" not in result.output

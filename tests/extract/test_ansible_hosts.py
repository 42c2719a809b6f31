"""Ansible templates rendered per host: inventories, host patterns and variable precedence.

Each test is one documented rule (docs.ansible.com "How to build your inventory", "Patterns:
targeting hosts and groups", "Understanding variable precedence"), asserted on verdicts,
codes and lines through the `lint` fixture.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from policy_lint.catalog import load_catalog
from policy_lint.engine import Options, lint_paths
from policy_lint.extract import inventory as inv
from policy_lint.policy import strict_policy
from policy_lint.report import json as json_report
from policy_lint.report import text as text_report
from tests.extract.helpers import FIXTURES, where

# A template whose only decision is the `blocked` variable: "none" blocks nothing.
TEMPLATE = """\
acl lan src {{ lan_cidr }}
acl social dstdomain {{ blocked }}
http_access deny social lan
http_access allow lan
http_access deny all
"""
TASKS = "- template:\n    src: squid.conf.j2\n    dest: /etc/squid/squid.conf\n"
PLAY = "- hosts: {hosts}\n  roles: [proxy]\n"


def repo(**extra: str) -> dict[str, str]:
    """A role `proxy` deploying TEMPLATE (first file, the one linted) plus `extra` files
    (keys use `__` for `/`)."""
    files = {
        "roles/proxy/templates/squid.conf.j2": TEMPLATE,
        "roles/proxy/tasks/main.yml": TASKS,
        "roles/proxy/defaults/main.yml": "blocked: .none.invalid\n",
    }
    files.update({k.replace("__", "/"): v for k, v in extra.items()})
    return files


def facebook(report) -> list[str]:
    """The Facebook verdict of each rendering, in report order."""
    return [f.services["facebook"].verdict.value for f in report.files]


def hosts_of(report, code: str = "TE101", service: str = "facebook") -> list[str]:
    return sorted(
        a.split(":")[0]
        for f in report.findings
        if f.code == code and f.service == service
        for a in f.audiences
    )


INI = "[proxies]\np1\np2\n"


# ------------------------------------------------------------------ inventory and patterns


def test_ini_inventory_groups_children_ranges_and_ungrouped():
    i = inv.Inventory()
    assert inv.parse_ini(
        [
            "lonely",
            "[web]",
            "web[01:03] x=1",
            "[db]",
            "db-[a:b]",
            "[site:children]",
            "web",
            "db",
            "[web:vars]",
            "y=2",
        ],
        i,
    )
    i.finish()
    assert i.hosts == ["db-a", "db-b", "lonely", "web01", "web02", "web03"]
    assert i.members("site") == {"db-a", "db-b", "web01", "web02", "web03"}
    assert i.members("ungrouped") == {"lonely"}
    assert i.host_vars["web02"] == {"x": 1} and i.groups["web"].vars == {"y": 2}
    # Parents' variables before their children's: `all`, then site (depth 1), then web.
    assert i.groups_of("web01") == [(0, "all"), (1, "site"), (2, "web")]


def test_yaml_inventory_and_plugin_files_are_not_run():
    i = inv.Inventory()
    data = {"all": {"children": {"proxies": {"hosts": {"p1": {"a": 1}, "p2": None}, "vars": {"b": 2}}}}}
    assert inv.parse_yaml(data, i)
    assert sorted(i.members("proxies")) == ["p1", "p2"] and i.groups["proxies"].vars == {"b": 2}
    assert not inv.parse_yaml({"plugin": "amazon.aws.aws_ec2", "regions": ["x"]}, inv.Inventory())


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("all", ["a1", "a2", "b1"]),
        ("*", ["a1", "a2", "b1"]),
        ("ga", ["a1", "a2"]),
        ("ga:gb", ["a1", "a2", "b1"]),
        ("ga,b1", ["a1", "a2", "b1"]),
        ("all:!gb", ["a1", "a2"]),
        ("ga:&gx", ["a2"]),
        ("a*", ["a1", "a2"]),
        (["b1", "a1"], ["a1", "b1"]),
        ("nosuch", []),
    ],
)
def test_host_patterns(pattern, expected):
    i = inv.Inventory()
    inv.parse_ini(["[ga]", "a1", "a2", "[gb]", "b1", "[gx]", "a2"], i)
    i.finish()
    assert inv.hosts(pattern, i) == expected


@pytest.mark.parametrize("pattern", ["~a\\d", "{{ target }}", "ga[0]"])
def test_patterns_not_evaluated(pattern):
    i = inv.Inventory()
    inv.parse_ini(["[ga]", "a1"], i)
    assert inv.hosts(pattern, i) is None


# ------------------------------------------------------------------ per-host renderings


def test_realistic_repository_renders_each_host():
    catalog = load_catalog()
    root = FIXTURES / "ansible_hosts"
    report = lint_paths(
        [root / "roles/squid_proxy/templates/squid.conf.j2"],
        catalog,
        strict_policy(catalog),
        Options(root=root),
    )
    assert not report.errors
    # proxy-br3 is in `legacy`, which the play excludes: never rendered. hq1 and hq2 render the
    # same text: one report for both. br1's host_vars empty the list; br2 takes its group's.
    labels = [f.services["twitter"].audiences[0].split(":")[0] for f in report.files]
    assert labels == ["host proxy-br1", "host proxy-br2", "hosts proxy-hq1, proxy-hq2"]
    # Each rendering says whose it is, also where no finding names a host (br1 blocks nothing).
    assert [f.rendering for f in report.files] == labels
    summary = [line for line in text_report.render(report).splitlines() if line.endswith("ning=unaffected")]
    assert [line.split(": ")[0].rsplit("(", 1)[1] for line in summary] == [f"squid, {x})" for x in labels]
    assert [f.get("rendering") for f in json.loads(json_report.render(report))["files"]] == labels
    assert facebook(report) == ["unaffected", "blocked", "blocked"]
    assert [f.services["linkedin"].verdict.value for f in report.files] == [
        "unaffected",
        "blocked",
        "unaffected",
    ]
    # The literal set_fact before the template task overrides the role default (open).
    assert {f.services["twitter"].verdict.value for f in report.files} == {"blocked"}
    assert where(report, "TE101", "facebook") == [("squid.conf.j2", 16), ("squid.conf.j2", 16)]
    assert where(report, "TE101", "twitter") == [("squid.conf.j2", 19)] * 3
    assert not any("proxy-br3" in f.message for f in report.findings)
    assert "for host proxy-br2)" in next(f.message for f in report.findings if f.service == "linkedin")


def test_identical_renderings_collapse_into_one_without_a_host_prefix(lint):
    report = lint(
        repo(
            **{
                "hosts.ini": INI,
                "site.yml": PLAY.format(hosts="proxies"),
                "group_vars__all.yml": "blocked: .facebook.com\n",
            }
        )
    )
    assert len(report.files) == 1
    assert report.files[0].rendering == ""  # one reading for every host: nothing to tell apart
    assert "for hosts p1, p2)" in report.findings[0].message
    assert report.files[0].services["facebook"].audiences == ["src lan"]


def test_group_vars_all_below_group_below_host_vars(lint):
    report = lint(
        repo(
            **{
                "hosts.ini": "[proxies]\np1\np2\np3\n[strict]\np2\np3\n",
                "site.yml": PLAY.format(hosts="proxies"),
                "group_vars__all.yml": "blocked: .facebook.com\n",
                "group_vars__strict.yml": "blocked: .facebook.com .linkedin.com\n",
                "host_vars__p3.yml": "blocked: .none.invalid\n",
            }
        )
    )
    by = {
        f.services["facebook"].audiences[0].split(":")[0] if f.services["facebook"].audiences else "-": f
        for f in report.files
    }
    assert by["host p1"].services["linkedin"].verdict.value == "unaffected"
    assert by["host p1"].services["facebook"].verdict.value == "blocked"
    assert by["host p2"].services["linkedin"].verdict.value == "blocked"
    assert sorted(facebook(report)) == ["blocked", "blocked", "unaffected"]
    assert hosts_of(report) == ["host p1", "host p2"]


def test_inventory_file_group_vars_are_below_group_vars_all(lint):
    report = lint(
        repo(
            **{
                "hosts.ini": "[proxies]\np1\n[proxies:vars]\nblocked=.facebook.com\n",
                "site.yml": PLAY.format(hosts="proxies"),
                "group_vars__all.yml": "blocked: .none.invalid\n",
            }
        )
    )
    assert facebook(report) == ["unaffected"]


def test_inventory_inline_host_var_beats_group_vars(lint):
    report = lint(
        repo(
            **{
                "inventory__hosts.yml": "all:\n  children:\n    proxies:\n      hosts:\n        p1:\n"
                "          blocked: .facebook.com\n        p2:\n",
                "site.yml": PLAY.format(hosts="all"),
                "group_vars__proxies.yml": "blocked: .none.invalid\n",
            }
        )
    )
    assert sorted(facebook(report)) == ["blocked", "unaffected"]
    assert hosts_of(report) == ["host p1"]


def test_child_group_beats_parent_group(lint):
    report = lint(
        repo(
            **{
                "hosts.ini": "[edge]\np1\n[proxies:children]\nedge\n",
                "site.yml": PLAY.format(hosts="proxies"),
                "group_vars__proxies.yml": "blocked: .none.invalid\n",
                "group_vars__edge.yml": "blocked: .facebook.com\n",
            }
        )
    )
    assert facebook(report) == ["blocked"]


def test_play_vars_beat_host_vars_and_role_vars_beat_play_vars(lint):
    files = repo(
        **{
            "hosts.ini": INI,
            "site.yml": "- hosts: proxies\n  vars:\n    blocked: .facebook.com\n  roles: [proxy]\n",
            "host_vars__p1.yml": "blocked: .none.invalid\n",
        }
    )
    assert facebook(lint(files)) == ["blocked"]
    files["roles/proxy/vars/main.yml"] = "blocked: .none.invalid\n"
    assert facebook(lint(files)) == ["unaffected"]


def test_play_vars_files_inside_the_repository(lint):
    report = lint(
        repo(
            **{
                "hosts.ini": INI,
                "site.yml": "- hosts: proxies\n  vars_files: [vars/social.yml, /etc/passwd]\n  roles: [proxy]\n",
                "vars__social.yml": "blocked: .facebook.com\n",
            }
        )
    )
    assert facebook(report) == ["blocked"]


def test_set_fact_literal_before_the_template_task(lint):
    tasks = "- set_fact:\n    blocked: .facebook.com\n" + TASKS + "- set_fact:\n    blocked: .none.invalid\n"
    report = lint(
        repo(
            **{
                "hosts.ini": INI,
                "site.yml": PLAY.format(hosts="proxies"),
                "roles__proxy__tasks__main.yml": tasks,
            }
        )
    )
    # The set_fact after the template task does not change what was rendered.
    assert facebook(report) == ["blocked"]


def test_set_fact_under_when_leaves_the_variable_unknown(lint):
    tasks = "- set_fact:\n    blocked: .facebook.com\n  when: ansible_distribution == 'Debian'\n" + TASKS
    report = lint(
        repo(
            **{
                "hosts.ini": INI,
                "site.yml": PLAY.format(hosts="proxies"),
                "roles__proxy__tasks__main.yml": tasks,
            }
        )
    )
    assert facebook(report) == ["unknown"]
    assert where(report, "TE907") == [("squid.conf.j2", 2)]


def test_set_fact_in_pre_tasks_and_role_params_beat_it(lint):
    play = "- hosts: proxies\n  pre_tasks:\n    - set_fact: {blocked: .facebook.com}\n  roles: [proxy]\n"
    files = repo(**{"hosts.ini": INI, "site.yml": play})
    assert facebook(lint(files)) == ["blocked"]
    files["site.yml"] = play.replace(
        "roles: [proxy]", "roles:\n    - role: proxy\n      blocked: .none.invalid"
    )
    assert facebook(lint(files)) == ["unaffected"]


def test_extra_vars_win_over_everything(tmp_path: Path, catalog):
    files = repo(
        **{
            "hosts.ini": INI,
            "site.yml": "- hosts: proxies\n  roles:\n    - role: proxy\n      blocked: .none.invalid\n",
        }
    )
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    template = tmp_path / "roles/proxy/templates/squid.conf.j2"
    options = Options(root=tmp_path, extra_vars=(("blocked", ".facebook.com"),))
    report = lint_paths([template], catalog, strict_policy(catalog), options)
    assert facebook(report) == ["blocked"]


def test_extra_vars_from_settings_and_command_line(tmp_path: Path):
    from click.testing import CliRunner

    from policy_lint.cli import cli

    for name, text in repo(**{"hosts.ini": INI, "site.yml": PLAY.format(hosts="proxies")}).items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    (tmp_path / ".git").mkdir()
    (tmp_path / ".policy-lint.yaml").write_text("ansible-extra-vars:\n  blocked: .facebook.com\n")
    template = str(tmp_path / "roles/proxy/templates/squid.conf.j2")
    runner = CliRunner()
    out = runner.invoke(cli, ["check", template, "--root", str(tmp_path), "--format", "json"])
    assert '"facebook": {\n' in out.output or "facebook" in out.output
    assert out.exit_code == 1 and "TE101" in out.output
    out = runner.invoke(cli, ["check", template, "--root", str(tmp_path), "-e", "blocked=.none.invalid"])
    assert out.exit_code == 0, out.output
    out = runner.invoke(cli, ["check", template, "--root", str(tmp_path), "-e", "@/etc/passwd"])
    assert out.exit_code == 2 and "not read" in out.output


def test_template_task_when_false_for_a_host_skips_it(lint):
    tasks = "- template:\n    src: squid.conf.j2\n    dest: /etc/squid/squid.conf\n  when: inventory_hostname != 'p2'\n"
    report = lint(
        repo(
            **{
                "hosts.ini": INI,
                "site.yml": PLAY.format(hosts="proxies"),
                "roles__proxy__tasks__main.yml": tasks,
                "group_vars__all.yml": "blocked: .facebook.com\n",
            }
        )
    )
    assert facebook(report) == ["blocked"]
    assert "for host p1)" in report.findings[0].message


def test_template_task_when_on_a_fact_is_unknown(lint):
    tasks = TASKS + "  when: ansible_os_family == 'Debian'\n"
    report = lint(
        repo(
            **{
                "hosts.ini": INI,
                "site.yml": PLAY.format(hosts="proxies"),
                "roles__proxy__tasks__main.yml": tasks,
                "group_vars__all.yml": "blocked: .facebook.com\n",
            }
        )
    )
    assert facebook(report) == ["unknown"]
    assert where(report, "TE907")


def test_unevaluated_pattern_is_unknown_not_every_host(lint):
    report = lint(
        repo(
            **{
                "hosts.ini": INI,
                "site.yml": PLAY.format(hosts="'~p[12]'"),
                "group_vars__all.yml": "blocked: .facebook.com\n",
            }
        )
    )
    assert facebook(report) == ["unknown"]
    assert where(report, "TE907") == [("squid.conf.j2", 1)]


def test_no_play_in_the_repository_keeps_one_merged_rendering(lint):
    report = lint(repo(**{"hosts.ini": INI, "group_vars__all.yml": "blocked: .facebook.com\n"}))
    assert facebook(report) == ["blocked"]
    assert "for host" not in report.findings[0].message


def test_magic_variables(lint):
    template = TEMPLATE.replace(
        "{{ blocked }}", "{{ '.facebook.com' if 'strict' in group_names else '.none.invalid' }}"
    )
    report = lint(
        repo(**{"hosts.ini": "[proxies]\np1\np2\n[strict]\np2\n", "site.yml": PLAY.format(hosts="proxies")})
        | {"roles/proxy/templates/squid.conf.j2": template}
    )
    assert hosts_of(report) == ["host p2"]


def test_variables_templated_from_other_variables(lint):
    report = lint(
        repo(
            **{
                "hosts.ini": INI,
                "site.yml": PLAY.format(hosts="proxies"),
                "group_vars__all.yml": 'blocked: "{{ social | join(\' \') }}"\nsocial: "{{ base }}"\nbase: [.facebook.com]\n',
            }
        )
    )
    assert facebook(report) == ["blocked"]


def test_variable_templated_from_an_unknown_stays_symbolic(lint):
    report = lint(
        repo(
            **{
                "hosts.ini": INI,
                "site.yml": PLAY.format(hosts="proxies"),
                "group_vars__all.yml": 'blocked: "{{ site_list }}"\n',
            }
        )
    )
    assert facebook(report) == ["unknown"]
    assert where(report, "TE907") == [("squid.conf.j2", 2)]
    assert "site_list" in next(f.message for f in report.findings if f.code == "TE907")


def test_inventory_outside_the_root_is_never_read(lint, tmp_path):
    (tmp_path.parent / "outside-hosts.ini").write_text("[proxies]\nevil1\n")
    report = lint(
        repo(
            **{
                "ansible.cfg": "[defaults]\ninventory = ../outside-hosts.ini\n",
                "site.yml": PLAY.format(hosts="proxies"),
                "group_vars__all.yml": "blocked: .facebook.com\n",
            }
        )
    )
    assert facebook(report) == ["blocked"]
    assert not any("evil1" in f.message for f in report.findings)


def test_huge_host_range_is_bounded():
    i = inv.Inventory()
    inv.parse_ini(["[web]", "web[0:99999999999]", "db[0:99999][0:99999]"], i)
    assert len(i.hosts) <= 2 * inv.MAX_HOSTS


def test_many_hosts_render_the_first_ones_and_say_so(lint):
    report = lint(
        repo(
            **{
                "hosts.ini": "[proxies]\np[0:299]\n",
                "site.yml": PLAY.format(hosts="proxies"),
                "group_vars__all.yml": "blocked: .facebook.com\n",
            }
        )
    )
    # The 44 hosts past the first 256 are not rendered: they might get another config.
    assert facebook(report) == ["unknown"]
    assert where(report, "TE908") == [("squid.conf.j2", 1)]


def test_role_tasks_are_rendered_per_host(lint):
    tasks = '- lineinfile:\n    path: /etc/hosts\n    line: "0.0.0.0 {{ sinkhole }}"\n'
    report = lint(
        {
            "roles/proxy/tasks/main.yml": tasks,
            "hosts.ini": INI,
            "site.yml": PLAY.format(hosts="proxies"),
            "group_vars/all.yml": "sinkhole: example.invalid\n",
            "host_vars/p2.yml": "sinkhole: linkedin.com\n",
        }
    )
    assert [f.services["linkedin"].verdict.value for f in report.files] == ["unaffected", "blocked-partial"]
    assert where(report, "TE102", "linkedin") == [("main.yml", 3)]
    assert "for host p2)" in next(f.message for f in report.findings if f.service == "linkedin")


def test_play_targeting_no_inventory_host_renders_once(lint):
    report = lint(
        repo(
            **{
                "hosts.ini": INI,
                "site.yml": PLAY.format(hosts="elsewhere"),
                "group_vars__all.yml": "blocked: .facebook.com\n",
            }
        )
    )
    assert facebook(report) == ["blocked"]
    assert "target no host" in report.findings[0].message


def test_each_inventory_directory_keeps_its_own_group_vars(lint):
    report = lint(
        repo(
            **{
                "inventories__production__hosts.ini": "[proxies]\np1\n",
                "inventories__production__group_vars__all.yml": "blocked: .facebook.com\n",
                "inventories__staging__hosts.ini": "[proxies]\np1\n",
                "inventories__staging__group_vars__all.yml": "blocked: .none.invalid\n",
                "site.yml": PLAY.format(hosts="proxies"),
            }
        )
    )
    # The same host name in both: each rendered with its own inventory's variables.
    assert sorted(facebook(report)) == ["blocked", "unaffected"]
    assert hosts_of(report) == ["host p1 (production)"]

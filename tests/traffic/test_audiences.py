"""`policy-lint traffic` audiences of users and groups, and `--by-user`, on every engine.

A record goes to the first policy audience, in the policy's order, holding it by address, user
or group (policy_lint/identity.py); the policy's exceptions apply to those audiences as to
network ones. The logs here carry users in each way the readers know: squid's user column
(native: DuckDB's/Spark's own parse; common format: spooled), Zscaler's login (native parse),
PAN-OS Source User and FortiGate user=/group= (spooled). Python, DuckDB and Spark must give the
same report. Spark runs in local mode (the session of tests/traffic/test_spark.py's fixture).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from policy_lint.traffic.byuser import ByUser
from policy_lint.traffic.classify import Classifier
from policy_lint.traffic.command import load_catalog_and_policy, traffic
from policy_lint.traffic.compliance import ComplianceReport, keyed_pseudonym
from tests.traffic.test_orglogs import SAMPLES
from tests.traffic.test_spark import spark  # noqa: F401  (the module's local Spark session)

KEY = b"0123456789abcdef0123456789abcdef"

# contractors come first: their users' records are theirs from any network; interns come after
# the network audiences: only their records from outside those networks are theirs.
POLICY = """\
version: 1
services:
  facebook: {severity: error}
  linkedin: {severity: error}
audiences:
  contractors:
    users: [asmith, "CORP\\\\u3"]
    groups: [Contractors]
  guests:
    networks: [10.20.0.0/16]
  staff:
    networks: [10.10.0.0/16]
    users: [jdoe@example.com]
  interns:
    users: [u5]
exceptions:
  - {service: facebook, audience: guests, reason: guest bandwidth cap, expires: 2099-12-31}
"""
EXCEPTION = "  - {service: facebook, audience: contractors, reason: vendor ban, expires: 2099-12-31}\n"
HOSTS = ("www.facebook.com", "static.xx.fbcdn.net", "www.linkedin.com", "example.org")


def logs(tmp_path: Path) -> list[Path]:
    """Facebook is denied to contractors and guests only; everyone else reaches everything."""
    squid, common, nss, forti, panos = [], [], [], [], []
    zscaler = (SAMPLES / "zscaler-nss-web.log").read_text().splitlines()
    pan = (SAMPLES / "panos-url.log").read_text().splitlines()[1]
    for i in range(400):
        user = ["-", f"u{i % 9}", f"CORP\\u{i % 7}", "asmith", "ASMITH@corp.example"][i % 5]
        client = f"10.{(10, 20, 30)[i % 3]}.{i % 5}.{i % 31}"
        host = HOSTS[i % 4]
        contractor = user.casefold() in ("corp\\u3", "asmith", "asmith@corp.example")
        guest = client.startswith("10.20.") and not contractor and user != "u5"
        denied = host == "www.facebook.com" and (contractor or guest)
        tag = "TCP_DENIED/403" if denied else "TCP_TUNNEL/200"
        squid.append(
            f"{1655738951 + i}.000 {i % 900} {client} {tag} 3850 CONNECT {host}:443 {user} HIER_NONE/- -"
        )
        status = 403 if denied else 200
        common.append(
            f'{client} - {user} [20/Jun/2022:15:{i % 60:02d}:11 +0000] "CONNECT {host}:443 HTTP/1.1" '
            f'{status} 3850 "-" "-" TCP_{"DENIED" if denied else "TUNNEL"}:HIER_DIRECT'
        )
        f = zscaler[1].split("\t")
        login = ["jdoe@example.com", f"u{i % 9}", "None", "asmith@example.com", "", '"u6"'][i % 6]
        zdenied = host == "www.facebook.com" and (login.startswith("asmith") or client.startswith("10.20."))
        f[1], f[3], f[4], f[19], f[22] = login, host + "/", "Blocked" if zdenied else "Allowed", client, "403"
        if not zdenied:
            f[22] = "200"
        nss.append("\t".join(f))
        group = ["Contractors", "Staff", ""][i % 3]
        action = (
            "blocked" if host == "www.facebook.com" and (group == "Contractors" or guest) else "passthrough"
        )
        forti.append(
            f'date=2022-06-20 time=15:{i % 60:02d}:11 tz="+0000" type="utm" subtype="webfilter" '
            f'srcip={client} dstport=443 hostname="{host}" action="{action}" user="{user}" group="{group}"'
        )
        panos.append(pan.replace("10.10.0.7", client).replace("corp\\asmith", user if user != "-" else ""))
    paths = []
    for name, lines in (
        ("access.log", squid),
        ("common.log", common),
        ("nss.log", nss),
        ("forti.log", forti),
        ("panos.log", panos),
    ):
        paths.append(tmp_path / name)
        paths[-1].write_text("\n".join(lines) + "\n")
    return paths


# squid native lines whose user column the SQL engines' own parses must read as sources.squid_line
# does: tabs and runs of spaces around it, "-", a user followed by more fields, trailing blanks
USER_EDGES = [
    "1655738951.000 5 10.30.0.1 TCP_TUNNEL/200 0 CONNECT www.facebook.com:443 \tu5 HIER_NONE/- -",
    "1655738952.000 5 10.30.0.2 TCP_TUNNEL/200 0 CONNECT www.facebook.com:443 u5\tx HIER_NONE/- -",
    "1655738953.000 5 10.30.0.3 TCP_TUNNEL/200 0 CONNECT www.facebook.com:443 \t  asmith",
    "1655738954.000 5 10.30.0.4 TCP_DENIED/403 0 CONNECT www.facebook.com:443    CORP\\u3  \t",
    "1655738955.000 5 10.30.0.5 TCP_TUNNEL/200 0 CONNECT www.facebook.com:443 - HIER_NONE/- -",
    "1655738956.000 5 10.30.0.6 TCP_TUNNEL/200 0 CONNECT www.linkedin.com:443 \t",
    "1655738957.000 5 10.30.0.7 TCP_TUNNEL/200 0 CONNECT www.linkedin.com:443 u6 -",
]


def policy_file(tmp_path: Path, extra: str = "") -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(POLICY + extra)
    return path


def cli(tmp_path: Path, paths: list[Path], *args: str) -> tuple[int, dict]:
    key = tmp_path / "key"
    key.write_bytes(KEY)
    argv = [*map(str, paths), "--format", "json", "--pseudonym-key-file", str(key), *args]
    result = CliRunner().invoke(traffic, argv)
    assert result.exit_code in (0, 1), result.output
    return result.exit_code, json.loads(result.stdout)


def test_user_audiences_and_by_user_same_on_every_engine(spark, tmp_path):  # noqa: F811
    from policy_lint.traffic import spark as engine

    paths = logs(tmp_path)
    paths.append(tmp_path / "edges.log")
    paths[-1].write_text("\n".join(USER_EDGES) + "\n")
    policy = policy_file(tmp_path)
    code, py = cli(tmp_path, paths, "--policy", str(policy), "--by-user", "--engine", "python")
    assert cli(tmp_path, paths, "--policy", str(policy), "--by-user", "--engine", "duckdb") == (code, py)

    catalog, pol = load_catalog_and_policy(policy)
    report = ComplianceReport(catalog, pol, key=KEY)
    users = ByUser(ComplianceReport(catalog, None, key=KEY), lambda u: keyed_pseudonym(KEY, u, "user-"))
    engine.analyse(paths, Classifier(catalog), report, spark=spark, by_user=users)
    data = report.to_dict()
    data["users"] = users.report.to_dict()["audiences"]
    assert json.loads(json.dumps(data)) == py

    assert set(py["audiences"]) == {"contractors", "guests", "staff", "interns", "other clients"}
    assert py["audiences"]["contractors"]["services"]["facebook"]["verdict"] == "blocked"
    assert py["audiences"]["staff"]["services"]["facebook"]["verdict"] == "compliant"
    assert py["audiences"]["interns"]["services"]["facebook"]["verdict"] == "compliant"
    # users in any letter case and domain count as one policy name, but each spelling is a user
    assert keyed_pseudonym(KEY, "asmith", "user-") in py["users"]
    assert keyed_pseudonym(KEY, "ASMITH@corp.example", "user-") in py["users"]
    assert (
        py["users"][keyed_pseudonym(KEY, "asmith", "user-")]["services"]["facebook"]["verdict"] == "blocked"
    )


def test_exception_on_a_user_audience(tmp_path):
    paths = logs(tmp_path)
    code, data = cli(tmp_path, paths, "--policy", str(policy_file(tmp_path)), "--engine", "duckdb")
    assert code == 1  # facebook blocked for contractors: no exception accepts it
    assert data["services"]["facebook"]["accepted"] == ["guests"]
    for engine in ("python", "duckdb"):
        code, data = cli(
            tmp_path, paths, "--policy", str(policy_file(tmp_path, EXCEPTION)), "--engine", engine
        )
        assert code == 0, engine  # the block is accepted for both audiences it hits
        assert data["services"]["facebook"]["accepted"] == ["contractors", "guests"]


def test_a_record_without_a_user_falls_to_the_network_audiences(tmp_path):
    log = tmp_path / "access.log"
    log.write_text(
        "1655738951.000 5 10.20.0.9 TCP_DENIED/403 0 CONNECT www.facebook.com:443 - HIER_NONE/- -\n"
        "1655738952.000 5 10.20.0.9 TCP_TUNNEL/200 0 CONNECT www.facebook.com:443 asmith HIER_NONE/- -\n"
        "1655738953.000 5 10.30.0.9 TCP_TUNNEL/200 0 CONNECT www.facebook.com:443 u5 HIER_NONE/- -\n"
        "1655738954.000 5 10.10.0.9 TCP_TUNNEL/200 0 CONNECT www.facebook.com:443 u5 HIER_NONE/- -\n"
    )
    policy = policy_file(tmp_path)
    _, py = cli(tmp_path, [log], "--policy", str(policy), "--engine", "python")
    assert cli(tmp_path, [log], "--policy", str(policy), "--engine", "duckdb")[1] == py
    requests = {aud: a["services"]["facebook"]["requests"] for aud, a in py["audiences"].items()}
    # no user: its address decides (guests); asmith: contractors (listed first), from any network;
    # u5: interns only outside the network audiences listed before interns
    assert requests == {"guests": 1, "contractors": 1, "interns": 1, "staff": 1}
    assert py["audiences"]["guests"]["services"]["facebook"]["verdict"] == "blocked"


def test_users_are_pseudonymised_unless_the_auditor_opts_out(tmp_path):
    paths = logs(tmp_path)[:2]
    _, hidden = cli(tmp_path, paths, "--by-user")
    text = json.dumps(hidden)
    assert hidden["users"] and all(name.startswith("user-") for name in hidden["users"])
    assert "asmith" not in text.lower() and "u5" not in text  # neither as a user nor anywhere
    assert "10.20." not in text  # the client sample too
    _, plain = cli(tmp_path, paths, "--by-user", "--no-pseudonymise")
    assert {"asmith", "ASMITH@corp.example", "u5", "CORP\\u3"} <= set(plain["users"])
    assert "-" not in plain["users"]  # squid's placeholder is no user

    def rows(data: dict) -> list[str]:  # the per-user rows, whatever the users' names
        return sorted(json.dumps(u["services"], sort_keys=True) for u in data["users"].values())

    assert rows(plain) == rows(hidden)
    _, without = cli(tmp_path, paths)
    assert "users" not in without


@pytest.mark.parametrize("fmt", ["text", "md", "html"])
def test_per_user_rows_in_every_format(fmt, tmp_path):
    paths = logs(tmp_path)[:1]
    result = CliRunner().invoke(traffic, [str(paths[0]), "--by-user", "--no-pseudonymise", "--format", fmt])
    assert result.exit_code == 1, result.output
    assert "CORP\\u3" in result.stdout and "facebook" in result.stdout

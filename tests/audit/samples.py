"""A small config directory and logs for `audit`, written from the vendors' documented formats.

squid.conf (squid's http_access, first match): guests (10.20.0.0/16) are denied Facebook, the
rest allowed. The logs then say: a guest reached www.facebook.com (a bypass), staff were denied
www.linkedin.com (a layer the repository does not hold), staff reached Facebook (agreement).
"""

from __future__ import annotations

from pathlib import Path

SQUID_CONF = """\
http_port 3128
acl guests src 10.20.0.0/16
acl staff src 10.10.0.0/16
acl social dstdomain .facebook.com .fbcdn.net
http_access deny guests social
http_access allow guests
http_access allow staff
http_access deny all
"""

POLICY = """\
version: 1
audiences:
  guests: {networks: [10.20.0.0/16], description: Guest Wi-Fi}
  staff: {networks: [10.10.0.0/16]}
  marketing: {users: [asmith]}
  sales: {groups: [Sales]}
"""

# squid native access.log: time elapsed remotehost code/status bytes method URL user hier/peer type
ACCESS_LOG = """\
1655738951.123    120 10.20.0.5 TCP_TUNNEL/200 5120 CONNECT www.facebook.com:443 - HIER_DIRECT/157.240.1.35 -
1655738952.123    120 10.10.0.7 TCP_DENIED/403 3900 CONNECT www.linkedin.com:443 asmith HIER_NONE/- text/html
1655738953.123    120 10.10.0.7 TCP_TUNNEL/200 3900 CONNECT www.facebook.com:443 asmith HIER_DIRECT/157.240.1.35 -
"""

# PAN-OS syslog CSV, TRAFFIC (Traffic Log Fields: ... Source User 12, Application 14, Destination
# Port 25, Action 30, Bytes 31, Bytes Sent 32, Bytes Received 33): no host name.
_PAN = (
    "Jun 20 15:40:00 fw01 1,2022/06/20 15:40:00,012801000001,TRAFFIC,{sub},2561,2022/06/20 15:40:00,"
    "{src},{dst},203.0.113.1,{dst},{rule},{user},,{app},vsys1,trust,untrust,ethernet1/3,ethernet1/1,fwd,"
    "2022/06/20 15:40:00,4243,1,51001,443,40001,443,0x400000,tcp,{action},{total},1000,{rcvd},80,"
    "2022/06/20 15:39:59,6,social-networking,0,7000003,0x0,10.0.0.0-10.255.255.255,US,0,40,40"
)


def panos_traffic(src: str, dst: str, action: str, rcvd: int, user: str = "", app: str = "ssl") -> str:
    return _PAN.format(
        sub="end" if action == "allow" else "deny",
        src=src,
        dst=dst,
        rule="Staff-Web",
        user=user,
        app=app,
        action=action,
        total=1000 + rcvd,
        rcvd=rcvd,
    )


# FortiGate traffic log (FortiOS Log Message Reference, type="traffic" subtype="forward"), with
# the firewall-authentication user and group, and no hostname.
FORTI_TRAFFIC = (
    'date=2022-06-20 time=15:41:00 tz="+0000" logid="0000000013" type="traffic" subtype="forward" '
    'level="notice" vd="root" srcip={src} srcport=51004 dstip={dst} dstport=443 action="{action}" '
    'policyid=3 user="{user}" group="{group}" sentbyte=1200 rcvdbyte={rcvd}'
)


def write_config(tmp: Path, with_network: bool = False) -> Path:
    cfg = tmp / "cfg"
    cfg.mkdir()
    (cfg / "squid.conf").write_text(SQUID_CONF)
    if with_network:
        (cfg / ".policy-lint.yaml").write_text(
            "network:\n"
            "  segments:\n"
            "    - name: guest\n"
            "      clients: [10.20.0.0/24]\n"
            "      path: [squid.conf]\n"
            "    - name: office\n"
            "      clients: [10.10.0.0/16]\n"
            "      path: [squid.conf]\n"
            "    - name: lab\n"
            "      clients: [lab0]\n"
            "      path: [squid.conf]\n"
        )
    return cfg

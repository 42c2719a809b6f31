"""Small, realistic network repositories the network-view tests lint (name -> text).

Addresses of the services come from the catalog; client ranges are RFC 1918 / documentation
ranges. Each builder writes the files under a directory and returns it.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

OFFICE = {
    # A Pi-hole for the staff LAN (Pi-hole reads regex.list: these cover the names and subdomains).
    "pihole/regex.list": r"""
        (^|\.)facebook\.com$
        (^|\.)fbcdn\.net$
        """,
    # squid: the guests may not use LinkedIn; staff may use everything.
    "squid/squid.conf": """
        http_port 3128
        acl staff src 10.1.0.0/24
        acl guest src 10.50.0.0/24
        acl social dstdomain .linkedin.com
        http_access deny guest social
        http_access allow staff
        http_access allow guest
        http_access deny all
        """,
    # The router forwards both VLANs; it throttles nothing and drops nothing by name.
    "router/iptables.rules": """
        *filter
        :INPUT ACCEPT [0:0]
        :FORWARD ACCEPT [0:0]
        :OUTPUT ACCEPT [0:0]
        -A FORWARD -i eth0.50 -o eth1 -j ACCEPT
        COMMIT
        """,
    ".policy-lint.yaml": """
        network:
          segments:
            - name: staff
              clients: [10.1.0.0/24]
              path: [pihole/, squid/squid.conf, router/iptables.rules]
            - name: guest
              clients: [10.50.0.0/24]
              path: [pihole/, squid/squid.conf, router/iptables.rules]
              resolver: 9.9.9.9          # the guest VLAN's DHCP hands out a public resolver
        """,
}

# A VPS: dnsmasq fills an ipset with Facebook's addresses as it resolves them; iptables rejects
# forwarded traffic to the set. The VPN clients ask dnsmasq; the guest range asks 9.9.9.9.
VPS = {
    "dnsmasq.conf": """
        listen-address=10.8.0.1
        ipset=/facebook.com/fbcdn.net/social
        dhcp-range=set:vpn,10.8.0.10,10.8.0.200,255.255.255.0,12h
        dhcp-option=tag:vpn,option:dns-server,10.8.0.1
        dhcp-range=set:guest,10.9.0.10,10.9.0.200,255.255.255.0,12h
        dhcp-option=tag:guest,6,9.9.9.9
        """,
    "iptables.rules": """
        *filter
        :INPUT ACCEPT [0:0]
        :FORWARD ACCEPT [0:0]
        :OUTPUT ACCEPT [0:0]
        -A FORWARD -m set --match-set social dst -j REJECT
        COMMIT
        """,
}


def write_repo(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return root


# A captive portal: the guest range's web traffic is DNATed to a portal this repository does
# not hold; the staff range's port 80 is redirected to squid's intercept port.
PORTAL = {
    "dnsmasq.conf": """
        listen-address=10.60.0.1
        dhcp-range=set:guest,10.60.0.10,10.60.0.250,255.255.255.0,2h
        dhcp-range=set:staff,10.61.0.10,10.61.0.250,255.255.255.0,12h
        address=/twitter.com/#
        """,
    "router.rules": """
        *nat
        :PREROUTING ACCEPT [0:0]
        :POSTROUTING ACCEPT [0:0]
        -A PREROUTING -s 10.60.0.0/24 -p tcp --dport 80 -j DNAT --to-destination 10.60.0.2:8080
        -A PREROUTING -s 10.61.0.0/24 -p tcp --dport 80 -j REDIRECT --to-ports 3129
        COMMIT
        *filter
        :INPUT ACCEPT [0:0]
        :FORWARD ACCEPT [0:0]
        :OUTPUT ACCEPT [0:0]
        COMMIT
        """,
    "squid.conf": """
        http_port 3128
        http_port 3129 intercept
        acl lan src 10.61.0.0/24
        acl social dstdomain .linkedin.com
        http_access deny social
        http_access allow lan
        http_access deny all
        """,
}

# The namespace end-to-end test's network (tests/e2e/test_network_netns.py): the router's
# dnsmasq resolves through a stub upstream on its loopback, answers NXDOMAIN for LinkedIn and
# fills an nftables set with Facebook's addresses; nftables drops forwarded traffic to the
# set. The vpn clients ask dnsmasq; the guests ask a resolver elsewhere. Documentation-range
# addresses only.
NETNS_VPN = {
    "dnsmasq.conf": """
        # The router's resolver for the vpn segment: it fills the nftables set with Facebook's
        # addresses and knows no LinkedIn.
        no-resolv
        no-hosts
        server=127.0.0.1#5300
        listen-address=192.0.2.1
        bind-interfaces
        cache-size=0
        address=/linkedin.com/
        nftset=/facebook.com/fbcdn.net/4#inet#filter#social
        dhcp-range=set:vpn,192.0.2.100,192.0.2.120,255.255.255.128,1h
        dhcp-option=tag:vpn,option:dns-server,192.0.2.1
        """,
    "router.nft": """
        table inet filter {
            set social {
                type ipv4_addr
            }
            chain forward {
                type filter hook forward priority 0; policy accept;
                ip daddr @social drop
            }
        }
        """,
    ".policy-lint.yaml": """
        network:
          segments:
            - name: vpn
              clients: [192.0.2.0/25]
              path: [dnsmasq.conf, router.nft]
            - name: guest
              clients: [192.0.2.128/25]
              path: [dnsmasq.conf, router.nft]
              resolver: 198.51.100.53
        """,
}

# A split tunnel: the router marks LAN connections to the addresses dnsmasq resolves for
# Twitter/X and routes the mark into wg0; everything else leaves by the default route.
SPLIT_TUNNEL = {
    "dnsmasq.conf": """
        listen-address=10.1.0.1
        ipset=/twitter.com/x.com/twimg.com/vpnroute
        dhcp-range=set:lan,10.1.0.10,10.1.0.200,255.255.255.0,12h
        """,
    "iptables.rules": """
        *mangle
        :PREROUTING ACCEPT [0:0]
        -A PREROUTING -s 10.1.0.0/24 -m set --match-set vpnroute dst -j MARK --set-mark 0x1
        COMMIT
        *filter
        :INPUT ACCEPT [0:0]
        :FORWARD ACCEPT [0:0]
        :OUTPUT ACCEPT [0:0]
        COMMIT
        """,
    "routing.sh": """
        #!/bin/sh
        # policy routing: marked connections leave through the WireGuard tunnel
        ip rule add fwmark 0x1 table 100
        ip route add default dev wg0 table 100
        """,
}

"""Local proxy and tunnel ports: where a forwarder on the same machine usually listens.

A PAC answer `PROXY 127.0.0.1:9050` or a Privoxy `forward-socks5t / 127.0.0.1:9050 .` sends
requests to a program on the client (or proxy host) itself. Whether something listens there
cannot be seen from the config; on a port below 1024 nothing does (a black hole), and on one
of the ports below a local proxy or tunnel usually does, each being the documented default of
a widely used program:

- 1080: SOCKS (RFC 1928's well-known port; ssh -D, Dante, shadowsocks clients)
- 1086, 1087: ShadowsocksX-NG's SOCKS5 and HTTP ports
- 3128, 3129: Squid's http_port and its usual intercept port (squid.conf.documented)
- 4444, 4447: I2P's HTTP and SOCKS proxies
- 7890, 7891: Clash's HTTP and SOCKS ports
- 8000, 8080, 8081, 8888: the common HTTP proxy ports (Privoxy's `forward` default is 8000)
- 8118: Privoxy's listen-address
- 8123: Polipo
- 9040, 9050, 9150: Tor's TransPort, SocksPort and Tor Browser's SocksPort
- 10808, 10809: v2rayN's SOCKS and HTTP ports

A request sent there goes on through a program whose configuration is not the one linted: what
happens to it is decided elsewhere (README "Unknown, never a guess"): the dialects say
`unknown`, with TE907 naming the line. Used by the PAC and Privoxy dialects.
"""

from __future__ import annotations

LOCAL_PROXY_PORTS = frozenset(
    {1080, 1086, 1087, 3128, 3129, 4444, 4447, 7890, 7891, 8000, 8080, 8081, 8118, 8123, 8888}
    | {9040, 9050, 9150, 10808, 10809}
)

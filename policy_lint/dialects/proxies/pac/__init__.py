"""PAC files (proxy auto-config): `FindProxyForURL(url, host)` run the way browsers run it.

A PAC file is JavaScript. For every request the browser calls `FindProxyForURL(url, host)` and
reads the answer as a list of ways to connect, tried left to right:

    function FindProxyForURL(url, host) {
        if (dnsDomainIs(host, "facebook.com") || shExpMatch(host, "*.facebook.com"))
            return "PROXY 127.0.0.1:0";           // a black hole: Facebook is blocked
        if (shExpMatch(host, "*.twitter.com"))
            return "PROXY 127.0.0.1:0; DIRECT";   // the browser falls back to DIRECT: not a block
        return "DIRECT";
    }

The script runs inside an embedded V8 engine (mini-racer) with no file, network or process
access, with a time bound per call (`CALL_TIMEOUT`, a budget per file) and a heap limit; an
endless loop or a memory bomb makes the verdicts `unknown` (TE905), never a hang. The standard
PAC functions are provided inside the engine with the semantics of Chrome's library (itself
Mozilla's): `dnsDomainIs` is a plain suffix test (`dnsDomainIs(host, "x.com")` also matches
netflix.com), `shExpMatch` a shell glob (`*.x.com` does not match x.com), `isInNet`,
`dnsResolve`, `isResolvable`, `localHostOrDomainIs`, `isPlainHostName`, `dnsDomainLevels`,
`convert_addr`, `weekdayRange`/`dateRange`/`timeRange`, `myIpAddress`, the Microsoft `...Ex`
extensions and `alert`. Name lookups never touch the network: a host resolves to its
service's representative address from the catalog (`addresses.yaml`; www.example.com, the
control, to its own); a name the catalog does not know is unresolvable. A request whose
answer looked at the address of its own host is run again with the host resolving to a
sample address of every IPv4 prefix of its service (dnsResolve is IPv4-only, as in Chrome) and
judged by coverage as the packet filters judge address rules (semantics/addressing.py:
"blocks 18 of 66 Facebook IPv4 prefixes" is blocked-partial); addresses inside the same
networks of the script's literal `isInNet`/`shExpMatch` tests stand for each other.

What browsers pass and do (sources: Chromium net/docs/proxy.md, proxy_list.cc,
proxy_string_util.cc, configured_proxy_resolution_service.cc; Firefox nsHttpChannel.cpp):

- `url`: for https the stripped `https://host/` (Chrome since 52); for http the full URL, as
  Chrome passes it (Firefox strips http paths too, so path rules are at most HTTP-only).
- The answer `PROXY a; SOCKS5 b; DIRECT` is tried in order; only a connection failure moves
  on to the next entry. So a black hole followed by `DIRECT` is *not* a block; a black hole
  alone (or only black holes) is (Chrome: ERR_PROXY_CONNECTION_FAILED; Firefox falls back to
  DIRECT after a failed proxy only for its own "conservative" requests, not for pages).
- Black holes: port 0, 0.0.0.0, 255.255.255.255 and multicast, a port below 1024 on this
  machine (127.0.0.0/8, ::1, localhost, 0.0.0.0: nothing listens there), `.invalid` names
  (RFC 6761), documentation addresses (RFC 5737), hosts named `blackhole`/`blocked`/`sinkhole`
  and the like, and any proxy the script keeps in a variable so named
  (`var blackhole = "PROXY 127.0.0.1:3421"`). A local proxy port (Tor 9050, 1080, 8118 ...,
  semantics/tunnels.py), another high port on this machine, and any other proxy decide what
  happens to the request with a configuration that is not this file: `unknown`, TE907 at the
  return (the rule Privoxy forwarding and DNS answers pinned to unknown addresses follow).
- Entries browsers cannot parse (`PROXY http://host:port`, a non-numeric port) are skipped
  (TE901); an answer with no usable entry, a non-string answer, or a script error is read as
  `DIRECT` (Chrome: "Fall-back to direct when the proxy resolver fails ... matches Firefox 3.5
  and Internet Explorer 8"). A file that does not compile, or has no `FindProxyForURL`, is
  ignored by browsers, which then connect DIRECT: TE901, and it blocks nothing.

Audiences: when the script looks at `myIpAddress()`, every network named in its `isInNet`
calls (and IP globs in `shExpMatch`) gives client addresses to try; when it looks at the clock
(`weekdayRange`, `dateRange`, `timeRange`, `Date`), a week of sample times (hours around the
ones the script names) is tried. Samples that get the same answers form one audience
("client 10.1.0.1", "Mon-Fri at 10:30"). Times are the client's local time; `GMT` ranges are
read the same way (the client's zone is unknown).
"""

from policy_lint.dialects.proxies.pac.answers import classify_entry
from policy_lint.dialects.proxies.pac.evaluate import TIME_BUDGET, pac_url, parse
from policy_lint.dialects.proxies.pac.script import FILE_PATTERNS, NAME, detect, find_returns, instrument

__all__ = [
    "FILE_PATTERNS",
    "NAME",
    "TIME_BUDGET",
    "classify_entry",
    "detect",
    "find_returns",
    "instrument",
    "pac_url",
    "parse",
]

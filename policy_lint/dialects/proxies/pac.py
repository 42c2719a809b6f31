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
control, to its own); a name the catalog does not know is unresolvable.

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
  (`var blackhole = "PROXY 127.0.0.1:3421"`). A local proxy port (Tor 9050, 1080, 8118 ...)
  is a tunnel; another high port on this machine cannot be told from here: `unknown`, unless
  a later entry (`DIRECT`) makes the question moot. Any other proxy is a way through (what that
  proxy does is its own configuration's business).
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

from __future__ import annotations

import ipaddress
import json
import re
import secrets
import time
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

from policy_lint.catalog import Catalog
from policy_lint.dialects.semantics.base import ParseContext
from policy_lint.inputs import InputError, read_source
from policy_lint.model import EVERYONE, Audience, Decision, Outcome, Probe, Problem, Span

NAME = "pac"
FILE_PATTERNS = ("*.pac", "wpad.dat", "*.pac.js")

CALL_TIMEOUT = 1.0  # seconds for one FindProxyForURL call (and for the script's top level)
LOOP_TIMEOUT = 0.1  # seconds per call once the file has looped (a real answer takes microseconds)
PER_JOB_ALLOWANCE = 0.002  # seconds per request added to the limit of a call running many requests
TIME_BUDGET = 8.0  # seconds a file may spend in calls that ran out of time, in all
ABANDON_AFTER = 5  # requests that loop before any has answered: the script loops for every request
MAX_HEAP = 64 * 1024 * 1024  # bytes of JavaScript heap
CHROME_MAX_PAC = 1024 * 1024  # Chrome refuses PAC files of 1 MB or more (net/docs/proxy.md)
MAX_PAC_BYTES = 8 * 1024 * 1024
MAX_SAMPLES = 256
DEFAULT_CLIENT = "192.168.1.10"
DEFAULT_TIME = (2026, 3, 11, 10, 30)  # a Wednesday mid-morning
SAMPLE_WEEK = [(2026, 3, 9 + i) for i in range(7)]  # Monday 9 to Sunday 15 March 2026
DEFAULT_HOURS = (3, 10, 14, 20)
DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
# Stands for a name the catalog knows but has no address for (Ning): a public address that
# belongs to nobody (RFC 5737 TEST-NET-3), so no isInNet test for a real network matches it.
PLACEHOLDER_ADDRESS = "203.0.113.80"

# Ports a local proxy or tunnel usually listens on (Tor, SOCKS, HTTP proxies, I2P ...): the
# same facts the Privoxy dialect uses for its forwarders.
LOCAL_PROXY_PORTS = frozenset(
    {
        1080,
        1086,
        1087,
        3128,
        3129,
        4444,
        4447,
        7890,
        7891,
        8000,
        8080,
        8081,
        8118,
        8123,
        8888,
        9040,
        9050,
        9150,
        10808,
        10809,
    }
)
DEFAULT_PORTS = {
    "PROXY": 80,
    "HTTP": 80,
    "HTTPS": 443,
    "QUIC": 443,
    "SOCKS": 1080,
    "SOCKS4": 1080,
    "SOCKS5": 1080,
}
BLACKHOLE_NAME = re.compile(
    r"black|sink.?hole|block|deny|denied|reject|nowhere|null|void|dead|drop|banned|"
    r"forbid",
    re.I,
)
BLACKHOLE_HOSTS = re.compile(
    r"^(black-?hole|sink-?hole|blocked|block|deny|denied|reject|null|nowhere|void|"
    r"dev-?null|discard)$",
    re.I,
)
DOC_NETS = tuple(
    ipaddress.ip_network(n) for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32")
)
JS_LINE_BREAK = re.compile(r"\r\n|[\n\r\u2028\u2029]")
_TIME_HINT = re.compile(r"\b(weekdayRange|dateRange|timeRange|Date)\b")
_CLIENT_HINT = re.compile(r"\bmyIpAddress(Ex)?\b")
_FN_DEF = re.compile(r"\bFindProxyForURL\b")
_HOSTISH = re.compile(r"^[a-z0-9][a-z0-9.-]*\.[a-z]{2,}$")
_STRING_LITERAL = re.compile(r"""(["'])((?:\\.|(?!\1)[^\\\n])*)\1""")
_ASSIGNED_STRING = re.compile(r"""([A-Za-z_$][\w$]*)\s*[:=]\s*(["'])((?:\\.|(?!\2)[^\\\n])*)\2""")
_IS_IN_NET = re.compile(
    r"""isInNet\s*\([^,()]*(?:\([^()]*\))?[^,()]*,\s*(["'])([\d.]+)\1\s*,\s*(["'])([\d.]+)\3"""
)
_IP_GLOB = re.compile(r"""shExpMatch\s*\([^,]*,\s*(["'])(\d{1,3}(?:\.(?:\d{1,3}|\*)){0,3}\.?\*?)\1""")
_TIME_RANGE_ARGS = re.compile(r"timeRange\s*\(([^)]*)\)")


def detect(path: Path, head: str) -> float:
    name = path.name.lower()
    named = any(fnmatch(name, p) for p in FILE_PATTERNS)
    if not named and "." in name and not name.endswith((".js", ".dat", ".txt")):
        return 0.0  # a README or a web page that shows a PAC file is not one
    if re.search(r"\bfunction\s+FindProxyForURL(Ex)?\s*\(|\bFindProxyForURL(Ex)?\s*=\s*function", head):
        return 0.95 if named else 0.9
    if named:
        return 0.6
    return 0.0


# --------------------------------------------------------------------------- source handling


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("latin-1")  # Chrome's default for PAC bodies is ISO-8859-1


def _lines(text: str) -> list[str]:
    return JS_LINE_BREAK.split(text)


def _short(text: str, most: int = 160) -> str:
    text = text.strip()
    return text if len(text) <= most else text[: most - 1] + "\u2026"


_REGEX_AFTER = set("(,=:[!&|?{};+-*%<>~^")
_REGEX_AFTER_WORDS = {
    "return",
    "typeof",
    "case",
    "do",
    "else",
    "in",
    "instanceof",
    "new",
    "delete",
    "void",
    "throw",
    "yield",
    "await",
}


def find_returns(src: str) -> list[tuple[int, int, int]]:
    """`return EXPR` statements of a script as (offset just after the keyword, line, column).

    A small JavaScript scanner: strings, template literals, comments and regular expression
    literals are skipped, so a `return` inside them is not taken. Bare returns (`return;`,
    `return` before a line break) are left out: they return undefined.
    """
    out: list[tuple[int, int, int]] = []
    n = len(src)
    i = 0
    line, line_start = 1, 0
    prev = ""
    braces = 0
    templates: list[int] = []  # brace depth at each open `${`

    def newline_at(k: int) -> int:
        """Length of the line break at k (0 if none)."""
        if src.startswith("\r\n", k):
            return 2
        return 1 if k < n and src[k] in "\n\r\u2028\u2029" else 0

    def scan_template(k: int) -> int:
        """From inside a template literal at k, to just after its end or its next `${`."""
        nonlocal line, line_start, braces
        while k < n:
            c = src[k]
            if c == "\\":
                k += 2
                continue
            if c == "`":
                return k + 1
            if c == "$" and src.startswith("${", k):
                templates.append(braces)
                return k + 2
            nl = newline_at(k)
            if nl:
                k += nl
                line, line_start = line + 1, k
                continue
            k += 1
        return k

    while i < n:
        c = src[i]
        nl = newline_at(i)
        if nl:
            i += nl
            line, line_start = line + 1, i
            continue
        if c.isspace() or c == "\ufeff":
            i += 1
            continue
        if src.startswith("//", i):
            while i < n and not newline_at(i):
                i += 1
            continue
        if src.startswith("/*", i):
            end = src.find("*/", i + 2)
            end = n if end < 0 else end + 2
            for m in JS_LINE_BREAK.finditer(src, i, end):
                line, line_start = line + 1, m.end()
            i = end
            continue
        if c in "'\"":
            i += 1
            while i < n and src[i] != c and not newline_at(i):
                i += 2 if src[i] == "\\" else 1
            i += 1
            prev = "str"
            continue
        if c == "`":
            i = scan_template(i + 1)
            prev = "str"
            continue
        if c == "/":
            if prev == "" or prev in _REGEX_AFTER or prev in _REGEX_AFTER_WORDS:
                i += 1
                in_class = False
                while i < n and not newline_at(i):
                    ch = src[i]
                    if ch == "\\":
                        i += 2
                        continue
                    if ch == "[":
                        in_class = True
                    elif ch == "]":
                        in_class = False
                    elif ch == "/" and not in_class:
                        break
                    i += 1
                i += 1
                while i < n and (src[i].isalnum() or src[i] in "_$"):
                    i += 1
                prev = "regex"
            else:
                prev = "/"
                i += 1
            continue
        if c.isalpha() or c in "_$" or (ord(c) > 127 and c.isidentifier()):
            j = i + 1
            while j < n and (
                src[j].isalnum() or src[j] in "_$" or (ord(src[j]) > 127 and src[j].isidentifier())
            ):
                j += 1
            word = src[i:j]
            if word == "return" and prev != ".":
                k = j
                while k < n and src[k] in " \t\v\f\u00a0\ufeff":
                    k += 1
                bare = (
                    k >= n
                    or src[k] in ";}:,)]"
                    or newline_at(k)
                    or src.startswith("//", k)
                    or src.startswith("/*", k)
                )
                if not bare:
                    out.append((j, line, i - line_start + 1))
            prev = word
            i = j
            continue
        if c.isdigit():
            j = i + 1
            while j < n and (src[j].isalnum() or src[j] in "._"):
                j += 1
            i = j
            prev = "num"
            continue
        if c == "{":
            braces += 1
        elif c == "}":
            if templates and templates[-1] == braces:
                templates.pop()
                i = scan_template(i + 1)
                prev = "str"
                continue
            braces -= 1
        prev = c
        i += 1
    return out


def instrument(src: str, marker: str = "__policyLintAt") -> str:
    """The script with each `return EXPR` turned into `return __policyLintAt(L,C), EXPR`: the
    same value, and the engine learns which return statement answered."""
    parts: list[str] = []
    last = 0
    for offset, line, col in find_returns(src):
        parts.append(src[last:offset])
        parts.append(f" {marker}({line},{col}),")
        last = offset
    parts.append(src[last:])
    return "".join(parts)


# --------------------------------------------------------------------------- the engine side

# The PAC helper functions and the runner, evaluated before the PAC file. Semantics follow
# Chrome's PAC library (services/proxy_resolver/pac_js_library.h, taken from Mozilla); this is
# an independent implementation. Nothing here reaches outside the engine: names resolve from
# the table the linter passes in, the clock and the client address are the sample's.
PAC_LIBRARY = r"""
var PL_HANDLE = (function (global) {
  "use strict";
  var RealDate = Date, stringify = JSON.stringify, parseJSON = JSON.parse;
  var st = {now: 0, ip: "", host: "", url: "", addrs: [], trail: [], returns: [], unknown: [],
            placeholders: [], dns: {}, filler: {}, alerts: 0};
  Error.stackTraceLimit = 64;

  function frames() { return String(new RealError().stack || "").split("\n"); }
  var RealError = Error;
  function callerFrame() {
    var lines = frames(), first = null;
    for (var i = 1; i < lines.length; i++) {
      var m = /pac-file:(\d+):(\d+)\)?\s*$/.exec(lines[i]);
      if (!m) continue;
      var f = {line: +m[1], col: +m[2]};
      if (/\bat FindProxyForURL\b/.test(lines[i])) return f;
      if (!first) first = f;
    }
    return first;
  }
  function aboutRequest(v) {
    if (typeof v !== "string") return false;
    v = v.toLowerCase();
    return v === st.host || v === st.url || st.addrs.indexOf(v) >= 0;
  }
  function noted(fn, result, subject) {
    if (result) {
      var f = callerFrame();
      if (f && st.trail.length < 64) st.trail.push({fn: fn, line: f.line, col: f.col, req: aboutRequest(subject)});
    }
    return result;
  }
  global.PL_RETURN_MARK = function (line, col) {
    if (st.returns.length < 256) st.returns.push({line: line, col: col, depth: frames().length});
  };

  // --- the clock: every Date the script makes is the sample's
  function FakeDate() {
    if (!(this instanceof FakeDate)) return new RealDate(st.now).toString();
    if (arguments.length === 0) return new RealDate(st.now);
    var args = [null].concat(Array.prototype.slice.call(arguments));
    return new (Function.prototype.bind.apply(RealDate, args))();
  }
  FakeDate.prototype = RealDate.prototype;
  FakeDate.now = function () { return st.now; };
  FakeDate.UTC = RealDate.UTC;
  FakeDate.parse = RealDate.parse;
  global.Date = FakeDate;
  function now() { return new RealDate(st.now); }

  // --- names and addresses
  function validIp(s) {
    var m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
    return m !== null && +m[1] < 256 && +m[2] < 256 && +m[3] < 256 && +m[4] < 256;
  }
  function lookup(host) {
    var key = String(host).toLowerCase().replace(/\.$/, "");
    if (validIp(key)) return [key];
    if (Object.prototype.hasOwnProperty.call(st.dns, key)) {
      if (st.filler[key] && st.placeholders.indexOf(key) < 0) st.placeholders.push(key);
      return st.dns[key];
    }
    if (st.unknown.indexOf(key) < 0 && st.unknown.length < 32) st.unknown.push(key);
    return [];
  }
  global.dnsResolve = function (host) {
    var all = lookup(host);
    for (var i = 0; i < all.length; i++) if (all[i].indexOf(":") < 0) return all[i];
    return null;
  };
  global.dnsResolveEx = function (host) { return lookup(host).join(";"); };
  global.isResolvable = function (host) { return global.dnsResolve(host) !== null; };
  global.isResolvableEx = function (host) { return global.dnsResolveEx(host) !== ""; };
  global.myIpAddress = function () { return st.ip; };
  global.myIpAddressEx = function () { return st.ip; };
  global.convert_addr = function (ipchars) {
    var b = ipchars.split(".");
    return ((b[0] & 0xff) << 24) | ((b[1] & 0xff) << 16) | ((b[2] & 0xff) << 8) | (b[3] & 0xff);
  };
  global.isInNet = function (ipaddr, pattern, maskstr) {
    var subject = ipaddr;
    if (!validIp(pattern) || !validIp(maskstr)) return false;
    if (!validIp(ipaddr)) {
      ipaddr = global.dnsResolve(ipaddr);
      if (ipaddr === null) return false;
    }
    var a = global.convert_addr(ipaddr), p = global.convert_addr(pattern), m = global.convert_addr(maskstr);
    return noted("isInNet", (a & m) === (p & m), subject);
  };
  global.isInNetEx = function (ipaddr, prefix) {
    var parts = String(prefix).split("/");
    if (parts.length !== 2 || !validIp(parts[0]) || !validIp(ipaddr)) return false;
    var bits = +parts[1];
    if (!(bits >= 0 && bits <= 32)) return false;
    var mask = bits === 0 ? 0 : (~0 << (32 - bits));
    return noted("isInNetEx", (global.convert_addr(ipaddr) & mask) === (global.convert_addr(parts[0]) & mask), ipaddr);
  };
  global.sortIpAddressList = function (list) { return String(list); };
  global.getClientVersion = function () { return "1.0"; };
  global.alert = function () { st.alerts++; };

  // --- host tests
  global.isPlainHostName = function (host) {
    return noted("isPlainHostName", host.indexOf(".") < 0 && host.indexOf(":") < 0, host);
  };
  global.dnsDomainIs = function (host, domain) {
    return noted("dnsDomainIs", host.length >= domain.length &&
                 host.substring(host.length - domain.length) == domain, host);
  };
  global.localHostOrDomainIs = function (host, hostdom) {
    return noted("localHostOrDomainIs", host == hostdom || hostdom.lastIndexOf(host + ".", 0) == 0, host);
  };
  global.dnsDomainLevels = function (host) { return host.split(".").length - 1; };
  global.shExpMatch = function (str, shexp) {
    var re = shexp.replace(/\./g, "\\.").replace(/\*/g, ".*").replace(/\?/g, ".");
    return noted("shExpMatch", new RegExp("^" + re + "$").test(str), str);
  };

  // --- the clock tests
  var DAYS = {SUN: 0, MON: 1, TUE: 2, WED: 3, THU: 4, FRI: 5, SAT: 6};
  var MONTHS = {JAN: 0, FEB: 1, MAR: 2, APR: 3, MAY: 4, JUN: 5, JUL: 6, AUG: 7, SEP: 8, OCT: 9, NOV: 10, DEC: 11};
  function argv(args) {
    var a = Array.prototype.slice.call(args);
    if (a.length && a[a.length - 1] == "GMT") a.pop();  // read as local time (see the docstring)
    return a;
  }
  function within(lo, x, hi) { return lo <= hi ? (lo <= x && x <= hi) : (x <= hi || x >= lo); }
  global.weekdayRange = function () {
    var a = argv(arguments);
    if (a.length < 1) return false;
    var d1 = a[0] in DAYS ? DAYS[a[0]] : -1;
    var d2 = a.length == 2 ? (a[1] in DAYS ? DAYS[a[1]] : -1) : d1;
    return noted("weekdayRange", d1 >= 0 && d2 >= 0 && within(d1, now().getDay(), d2), null);
  };
  global.dateRange = function () {
    var a = argv(arguments), d = now();
    if (a.length < 1) return false;
    function month(x) { return x in MONTHS ? MONTHS[x] : -1; }
    if (a.length == 1) {
      var v = parseInt(a[0], 10);
      var hit = isNaN(v) ? d.getMonth() == month(a[0]) : v < 32 ? d.getDate() == v : d.getFullYear() == v;
      return noted("dateRange", hit, null);
    }
    var lo = new RealDate(d.getFullYear(), 0, 1, 0, 0, 0), hi = new RealDate(d.getFullYear(), 11, 31, 23, 59, 59);
    var half = a.length >> 1, dayOnly = false;
    function set(t, x, first) {
      var v = parseInt(x, 10);
      if (isNaN(v)) t.setMonth(month(x));
      else if (v < 32) { if (first) dayOnly = a.length <= 2; t.setDate(v); }
      else t.setFullYear(v);
    }
    for (var i = 0; i < half; i++) set(lo, a[i], true);
    for (var j = half; j < a.length; j++) set(hi, a[j], false);
    if (dayOnly) { lo.setMonth(d.getMonth()); hi.setMonth(d.getMonth()); }
    return noted("dateRange", within(lo, d, hi), null);
  };
  global.timeRange = function () {
    var a = argv(arguments), d = now();
    if (a.length < 1) return false;
    if (a.length == 1) return noted("timeRange", d.getHours() == a[0], null);
    if (a.length == 2) return noted("timeRange", a[0] <= d.getHours() && d.getHours() <= a[1], null);
    var lo = now(), hi = now();
    if (a.length == 6) { lo.setSeconds(a[2]); hi.setSeconds(a[5]); }
    if (a.length == 4 || a.length == 6) {
      var mid = a.length >> 1;
      lo.setHours(a[0]); lo.setMinutes(a[1]);
      hi.setHours(a[mid]); hi.setMinutes(a[mid + 1]);
      if (mid == 2) hi.setSeconds(59);
    } else {
      throw "timeRange: bad number of arguments";
    }
    return noted("timeRange", within(lo, d, hi), null);
  };

  // --- the runner
  function describe(e) {
    var msg = (e && e.message !== undefined) ? String(e.message) : String(e);
    var name = (e && e.name) ? String(e.name) : "Error";
    var line = 0, m = /pac-file:(\d+):\d+/.exec(String((e && e.stack) || ""));
    if (m) line = +m[1];
    return {name: name, message: msg.slice(0, 300), line: line};
  }
  function configure(dns, filler) { st.dns = parseJSON(dns); st.filler = parseJSON(filler); return true; }
  // Python hands over the jobs once (begin), then runs them from an index (runFrom); if a call
  // is cut short (time, memory), `progress` tells which job was running and what was done.
  var jobs = [], done = [], current = -1, jobStart = 0;
  function begin(sample, list) {
    var s = parseJSON(sample);
    st.now = new RealDate(s.t[0], s.t[1] - 1, s.t[2], s.t[3], s.t[4], 0, 0).getTime();
    st.ip = s.ip;
    jobs = parseJSON(list);
    done = [];
    current = -1;
    return jobs.length;
  }
  function runFrom(first) {
    for (var i = first; i < jobs.length; i++) {
      var job = jobs[i];
      current = i;
      jobStart = RealDate.now();
      st.host = job.host; st.url = job.url.toLowerCase(); st.addrs = job.addrs;
      st.trail = []; st.returns = []; st.unknown = []; st.placeholders = [];
      var r = null, err = null, type = "string";
      try {
        var fn = global.FindProxyForURL;
        r = fn(job.url, job.host);
        type = typeof r;
        if (type !== "string") r = type === "object" && r !== null ? "[object]" : String(r);
      } catch (e) {
        err = describe(e);
      }
      done[i] = {r: r, type: type, err: err, trail: st.trail, returns: st.returns, unknown: st.unknown,
                 placeholders: st.placeholders};
    }
    current = jobs.length;
    return true;
  }
  function progress(first) {
    return stringify({current: current, ms: RealDate.now() - jobStart, done: done.slice(first)});
  }
  function hasEntry() { return typeof global.FindProxyForURL === "function"; }
  return {begin: begin, runFrom: runFrom, progress: progress, configure: configure, hasEntry: hasEntry};
})(this);
"""


class _Budget:
    def __init__(self) -> None:
        self.spent = 0.0

    @property
    def left(self) -> float:
        return TIME_BUDGET - self.spent


@dataclass(frozen=True)
class Sample:
    """One client: its address (what myIpAddress() answers) and local time."""

    ip: str
    when: tuple[int, int, int, int, int]

    def day(self) -> str:
        import datetime as dt

        return DAY_NAMES[dt.date(*self.when[:3]).weekday()]

    def clock(self) -> str:
        return f"{self.when[3]:02d}:{self.when[4]:02d}"


@dataclass
class _Loaded:
    status: str  # ok | syntax | timeout | memory | error | no-entry
    message: str = ""
    line: int = 0


class _Engine:
    """One V8 isolate holding the PAC library and the PAC file; rebuilt after a memory blow-up
    (V8 refuses to run anything more in an isolate that hit its heap limit)."""

    def __init__(self, dns: dict[str, list[str]], filler: set[str]) -> None:
        self._dns = json.dumps(dns)
        self._filler = json.dumps(dict.fromkeys(filler, True))
        self._script = ""
        self._ctx: Any = None
        # Names of the evaluator's globals, unknown to the script (which could otherwise clobber
        # them). Calls go through eval of a plain expression: mini-racer's call() relies on the
        # global JSON.stringify, which a script may replace.
        token = secrets.token_hex(6)
        self.handle = f"__policyLint_{token}"
        self.marker = f"__policyLintAt_{token}"
        self._new()

    def _expr(self, expr: str, timeout: float) -> Any:
        return self._ctx.eval(expr, timeout_sec=timeout, max_memory=MAX_HEAP)

    def _new(self) -> None:
        try:
            from py_mini_racer import MiniRacer
        except ImportError:  # pragma: no cover - the package is a dependency
            raise InputError(
                "PAC files are evaluated with the 'mini-racer' package (V8), which is not "
                "installed: pip install mini-racer"
            ) from None
        self.close()
        self._ctx = MiniRacer()
        library = PAC_LIBRARY.replace("PL_RETURN_MARK", self.marker).replace("PL_HANDLE", self.handle)
        self._ctx.eval(library + "\n//# sourceURL=pac-library", timeout_sec=CALL_TIMEOUT, max_memory=MAX_HEAP)
        self._expr(
            f"{self.handle}.configure({json.dumps(self._dns)}, {json.dumps(self._filler)})", CALL_TIMEOUT
        )

    def close(self) -> None:
        if self._ctx is not None:
            # After a timeout V8 still owes mini-racer the cancelled task's callback; arriving
            # after close() it finds the event loop closed and prints a traceback ("Exception
            # ignored ... Event loop is closed"). One trivial evaluation lets it arrive first.
            try:
                self._ctx.eval("0", timeout_sec=CALL_TIMEOUT)
            except Exception:
                pass
            self._ctx.close()
            self._ctx = None

    def load(self, script: str) -> _Loaded:
        from py_mini_racer import JSEvalException, JSOOMException, JSParseException, JSTimeoutException

        if self._script:
            self._new()
        self._script = script
        try:
            self._ctx.eval(script + "\n//# sourceURL=pac-file", timeout_sec=CALL_TIMEOUT, max_memory=MAX_HEAP)
        except JSTimeoutException:
            return _Loaded("timeout")
        except JSOOMException:
            return _Loaded("memory")
        except JSParseException as exc:
            line, msg = _error_line(str(exc))
            return _Loaded("syntax", msg, line)
        except JSEvalException as exc:  # a runtime error, or the isolate terminated
            line, msg = _error_line(str(exc))
            return _Loaded("error", msg, line)
        if self._expr('typeof FindProxyForURL === "function"', CALL_TIMEOUT) is not True:
            return _Loaded("no-entry")
        return _Loaded("ok")

    def reload(self) -> None:
        """A fresh isolate with the same script (after a memory blow-up)."""
        self._new()
        self._ctx.eval(
            self._script + "\n//# sourceURL=pac-file", timeout_sec=CALL_TIMEOUT, max_memory=MAX_HEAP
        )

    def begin(self, sample: Sample, jobs: list[dict]) -> None:
        sample_json = json.dumps({"t": list(sample.when), "ip": sample.ip})
        self._expr(
            f"{self.handle}.begin({json.dumps(sample_json)}, {json.dumps(json.dumps(jobs))})", CALL_TIMEOUT
        )

    def run_from(self, first: int, timeout: float) -> str:
        """Run the jobs from `first` on: "ok", or "timeout" / "memory" when cut short."""
        from py_mini_racer import JSEvalException, JSOOMException, JSTimeoutException

        try:
            self._expr(f"{self.handle}.runFrom({int(first)})", timeout)
        except JSTimeoutException:
            return "timeout"
        except JSOOMException:
            return "memory"
        except JSEvalException:  # terminated for another reason: treat like a blow-up
            return "memory"
        return "ok"

    def progress(self, first: int) -> dict:
        try:
            got = json.loads(self._expr(f"{self.handle}.progress({int(first)})", CALL_TIMEOUT))
        except (TypeError, ValueError):
            raise Tampered("the evaluator's answers came back garbled") from None
        if not (
            isinstance(got, dict)
            and isinstance(got.get("current"), int)
            and isinstance(got.get("ms"), (int, float))
            and isinstance(got.get("done"), list)
            and all(d is None or isinstance(d, dict) for d in got["done"])
        ):
            raise Tampered("the evaluator's answers came back garbled (JSON or Object.prototype replaced?)")
        return got


class Tampered(Exception):
    """The PAC script changed what the evaluator relies on (JSON, Object.prototype ...)."""


def _error_line(text: str) -> tuple[int, str]:
    """(line, message) from a V8 error text such as 'pac-file:7: SyntaxError: Unexpected end'."""
    first = text.strip().splitlines()[0] if text.strip() else text
    m = re.match(r"pac-file:(\d+):\s*(.*)", first)
    if m:
        return int(m.group(1)), m.group(2)
    return 0, first[:300]


# --------------------------------------------------------------------------- proxy answers


@dataclass(frozen=True)
class Entry:
    text: str
    kind: str  # direct | proxy | black-hole | unknown | invalid
    why: str = ""


def _split_host_port(rest: str, default: int) -> tuple[str, int] | None:
    if not rest or "@" in rest or any(c.isspace() for c in rest):
        return None
    if rest.startswith("["):
        host, sep, tail = rest[1:].partition("]")
        if not sep or not host:
            return None
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            return None
        if not tail:
            return host, default
        if not tail.startswith(":"):
            return None
        port_text = tail[1:]
    elif ":" in rest:
        host, _, port_text = rest.rpartition(":")
    else:
        return (rest, default) if re.fullmatch(r"[\w.-]+", rest) else None
    if not host or not re.fullmatch(r"[\w.-]+|[0-9a-fA-F:]+", host) or not port_text.isdigit():
        return None
    port = int(port_text)
    return (host, port) if port <= 65535 else None


def classify_entry(text: str, blackhole_literals: set[str]) -> Entry:
    """One element of a PAC answer, the way Chrome parses it (proxy_string_util.cc), and what
    connecting through it does."""
    text = text.strip()
    kind, _, rest = text.partition(" ")
    kind = kind.upper()
    rest = rest.strip()
    if kind == "DIRECT":
        return Entry(text, "direct") if not rest else Entry(text, "invalid", "DIRECT takes no host")
    if kind not in DEFAULT_PORTS:
        return Entry(text, "invalid", f"'{kind}' is not a proxy type (PROXY, HTTPS, SOCKS, SOCKS5, DIRECT)")
    hp = _split_host_port(rest, DEFAULT_PORTS[kind])
    if hp is None:
        return Entry(text, "invalid", "not host:port")
    host, port = hp
    host = host.lower().rstrip(".")
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        ip = None
    if port == 0:
        return Entry(text, "black-hole", "port 0 accepts no connection")
    if ip is not None and (
        ip.is_unspecified
        or ip.is_multicast
        or ip == ipaddress.ip_address("255.255.255.255")
        or (ip.version == 4 and ip in ipaddress.ip_network("240.0.0.0/4"))
    ):
        return Entry(text, "black-hole", f"{host} is not a reachable host")
    if ip is not None and any(ip.version == n.version and ip in n for n in DOC_NETS):
        return Entry(text, "black-hole", f"{host} is a documentation address (RFC 5737), routed nowhere")
    if host == "invalid" or host.endswith(".invalid"):
        return Entry(text, "black-hole", "a .invalid name never resolves (RFC 6761)")
    if BLACKHOLE_HOSTS.match(host.split(".")[0]):
        return Entry(text, "black-hole", f"a proxy named '{host}'")
    if _norm_entry(text) in blackhole_literals:
        return Entry(text, "black-hole", "the script keeps it in a variable named as a black hole")
    if host == "localhost" or host.endswith(".localhost") or (ip is not None and ip.is_loopback):
        if port < 1024:
            return Entry(text, "black-hole", f"nothing listens on port {port} of the client itself")
        if port not in LOCAL_PROXY_PORTS:
            return Entry(
                text,
                "unknown",
                f"a proxy on the client itself ({host}:{port}): a black hole unless "
                "a local proxy listens there",
            )
        return Entry(text, "proxy", f"a local proxy or tunnel ({host}:{port})")
    return Entry(text, "proxy", f"through {kind} {host}:{port}")


def _norm_entry(text: str) -> str:
    return " ".join(text.split()).upper()


def blackhole_literals(source: str) -> set[str]:
    """Proxy entries the script stores under names such as `blackhole`, `BLOCKED`, `deny`."""
    out: set[str] = set()
    for m in _ASSIGNED_STRING.finditer(source):
        if BLACKHOLE_NAME.search(m.group(1)):
            for part in m.group(3).split(";"):
                if part.strip() and not part.strip().upper().startswith("DIRECT"):
                    out.add(_norm_entry(part))
    return out


# --------------------------------------------------------------------------- client samples


def _networks(source: str) -> list[ipaddress.IPv4Network]:
    nets: list[ipaddress.IPv4Network] = []
    for m in _IS_IN_NET.finditer(source):
        try:
            net = ipaddress.IPv4Network(f"{m.group(2)}/{m.group(4)}", strict=False)
        except ValueError:
            continue
        if net not in nets:
            nets.append(net)
    for m in _IP_GLOB.finditer(source):
        octets = [o for o in m.group(2).rstrip(".*").split(".") if o and o != "*"]
        if not octets or any(not o.isdigit() or int(o) > 255 for o in octets):
            continue
        net = ipaddress.IPv4Network(
            ".".join(octets + ["0"] * (4 - len(octets))) + f"/{8 * len(octets)}", strict=False
        )
        if net not in nets:
            nets.append(net)
    return nets


def client_addresses(source: str) -> list[str]:
    """Addresses to try for myIpAddress(): inside and at the edges of every network the script
    tests, and one outside them all."""
    if not _CLIENT_HINT.search(source):
        return [DEFAULT_CLIENT]
    nets = _networks(source)
    out: list[str] = []
    for net in nets:
        for addr in (net[1], net[-2]) if net.num_addresses > 2 else (net[0],):
            if str(addr) not in out:
                out.append(str(addr))
    for candidate in (DEFAULT_CLIENT, "172.20.30.40", "10.200.30.40", "100.64.30.40", "198.18.30.40"):
        ip = ipaddress.IPv4Address(candidate)
        if not any(ip in n for n in nets):
            out.append(candidate)
            break
    return out or [DEFAULT_CLIENT]


def sample_times(source: str) -> list[tuple[int, int, int, int, int]]:
    if not _TIME_HINT.search(source):
        return [DEFAULT_TIME]
    hours = set(DEFAULT_HOURS)
    for m in _TIME_RANGE_ARGS.finditer(source):
        for num in re.findall(r"\b\d{1,2}\b", m.group(1)):
            h = int(num)
            if h < 24:
                hours.update({(h - 1) % 24, h, (h + 1) % 24})
    out = [(y, mo, d, h, 30) for (y, mo, d) in SAMPLE_WEEK for h in sorted(hours)]
    if "dateRange" in source:
        out += [(2026, mo, 15, 10, 30) for mo in range(1, 13) if mo != 3]
    return out


def _samples(source: str) -> tuple[list[Sample], bool]:
    ips = client_addresses(source)
    times = sample_times(source)
    if len(ips) * len(times) > MAX_SAMPLES and len(times) > len(DEFAULT_HOURS) * 7:
        times = [(y, mo, d, h, 30) for (y, mo, d) in SAMPLE_WEEK for h in DEFAULT_HOURS]
    samples = [Sample(ip, t) for ip in ips for t in times]
    return samples[:MAX_SAMPLES], len(samples) > MAX_SAMPLES


# --------------------------------------------------------------------------- the ruleset


def _probe_key(probe: Probe) -> tuple:
    return (probe.host.lower(), probe.scheme, probe.port, probe.path)


def pac_url(probe: Probe) -> str:
    """The `url` browsers pass: https URLs stripped to scheme://host/ (Chrome 52+)."""
    host = probe.host.lower()
    if probe.scheme == "https":
        return f"https://{host}/" if probe.port == 443 else f"https://{host}:{probe.port}/"
    port = "" if probe.port == 80 else f":{probe.port}"
    return f"http://{host}{port}{probe.path}"


def dns_table(catalog: Catalog, source: str) -> tuple[dict[str, list[str]], set[str]]:
    """What names resolve to inside the engine (catalog facts, never DNS), and which of them
    stand in with a placeholder address."""
    table: dict[str, list[str]] = {}
    filler: set[str] = set()

    def put(name: str, addresses: tuple[str, ...]) -> None:
        name = name.lower()
        if name in table:
            return
        if addresses:
            v4 = [a for a in addresses if ":" not in a]
            table[name] = v4 + [a for a in addresses if ":" in a]
        else:
            table[name] = [PLACEHOLDER_ADDRESS]
            filler.add(name)

    for svc in catalog.services.values():
        for probe in svc.probes():
            put(probe.host, probe.addresses)
    put(catalog.control_host, catalog.control_addresses)
    for m in _STRING_LITERAL.finditer(source):
        word = m.group(2).lower().strip(".")
        if len(word) < 256 and _HOSTISH.match(word):
            hit = catalog.service_for_host(word)
            if hit:
                put(word, catalog.services[hit[0]].addresses)
            elif word == catalog.control_host or word.endswith("example.com"):
                put(word, catalog.control_addresses)
    return table, filler


class PacRuleset:
    """Decisions of one PAC file: every probe evaluated under every client sample at parse time
    (the engine is closed before linting goes on); samples that answer alike are one audience."""

    def __init__(self, path: str, lines: list[str], problems: list[Problem]):
        self.path = path
        self.dialect = NAME
        self.problems = problems
        self._lines = lines
        self._audiences: list[Audience] = [EVERYONE]
        self._by_audience: dict[Audience, dict[tuple, Decision]] = {EVERYONE: {}}
        self._fallback: dict[Audience, Decision] = {}

    def span(self, line: int, col: int = 0) -> Span:
        if line < 1 or line > len(self._lines):
            line = max(1, min(line, len(self._lines) or 1))
        text = self._lines[line - 1] if self._lines else ""
        if col < 1:
            col = len(text) - len(text.lstrip()) + 1
        return Span(self.path, line, col, _short(text))

    def audiences(self) -> list[Audience]:
        return self._audiences

    def evaluate(self, probe: Probe, audience: Audience) -> Decision:
        table = self._by_audience.get(audience) or self._by_audience[self._audiences[0]]
        hit = table.get(_probe_key(probe))
        if hit is not None:
            return hit
        return self._fallback.get(audience) or Decision(
            Outcome.UNKNOWN,
            None,
            (),
            False,
            "",
            "this request was not evaluated (the PAC file ran out of time)",
        )

    def inert_mentions(self, probe: Probe) -> list[Span]:
        return []


class _Evaluator:
    def __init__(self, ruleset: PacRuleset, source: str, catalog: Catalog, engine: _Engine):
        self.rs = ruleset
        self.source = source
        self.catalog = catalog
        self.engine = engine
        self.budget = _Budget()
        self.blackholes = blackhole_literals(source)
        self.fn_line = self._find_fn_line()
        self.reported: set[tuple] = set()
        self.timeouts = 0
        self.per_call = CALL_TIMEOUT
        self.looping: dict[tuple[str, str], str] = {}
        self.answered = 0

    def _find_fn_line(self) -> int:
        m = _FN_DEF.search(self.source)
        return self.source.count("\n", 0, m.start()) + 1 if m else 1  # approximate for \r-only files

    def problem(self, code: str, line: int, message: str, key: tuple | None = None) -> None:
        key = (code, line, key or message)
        if key not in self.reported:
            self.reported.add(key)
            self.rs.problems.append(Problem(code, self.rs.span(line), message))

    # ----------------------------------------------------------- running the script

    def results(self, sample: Sample, probes: list[Probe], dns: dict[str, list[str]]) -> list[dict | str]:
        """The engine's answer for every probe under one client sample, or "timeout", "memory"
        or "budget" for those it could not answer. All probes run in one call; when a call is
        cut short, the probe that was running is judged (an endless loop if it had run for the
        whole per-call limit) and the rest continue. Once a file has looped, the limit per
        request drops to LOOP_TIMEOUT; a request that looped under one sample is not run again."""
        jobs = [
            {"url": pac_url(p), "host": p.host.lower(), "addrs": dns.get(p.host.lower(), [])} for p in probes
        ]
        out: list[dict | str | None] = [self.looping.get((j["url"], j["host"])) for j in jobs]
        todo = [i for i, o in enumerate(out) if o is None]
        if not todo:
            return out  # type: ignore[return-value]
        self.engine.begin(sample, [jobs[i] for i in todo])
        first = 0
        while first < len(todo):
            if self.budget.left <= 0 or (self.answered == 0 and len(self.looping) >= ABANDON_AFTER):
                for k in todo[first:]:
                    out[k] = "budget"
                break
            limit = self.per_call
            start = time.monotonic()
            status = self.engine.run_from(
                first, min(self.budget.left, limit + PER_JOB_ALLOWANCE * (len(todo) - first))
            )
            elapsed = time.monotonic() - start
            if status == "ok":
                got = self.engine.progress(first)
            elif status == "memory":
                self.budget.spent += elapsed
                got = {"current": first, "done": [], "ms": 0}
                try:
                    got = self.engine.progress(first)
                except Exception:  # the isolate is gone: what it had done is lost with it
                    pass
                self.engine.reload()
            else:
                got = self.engine.progress(first)
            for offset, res in enumerate(got["done"]):
                if res is not None:
                    out[todo[first + offset]] = res
                    self.answered += 1
            if status == "ok":
                break
            current = got["current"] if got["current"] >= first else first
            if current >= len(todo):
                break
            if status == "memory" or got["ms"] >= limit * 1000 * 0.9:
                k = todo[current]
                out[k] = status
                self.looping[(jobs[k]["url"], jobs[k]["host"])] = status
                self.budget.spent += limit
                self.per_call = LOOP_TIMEOUT
                if status == "memory":
                    self.engine.begin(sample, [jobs[i] for i in todo])
                first = current + 1
            else:  # slow, not stuck: go on from the request that was running
                self.budget.spent += elapsed
                if status == "memory":
                    self.engine.begin(sample, [jobs[i] for i in todo])
                first = current
        return [o if o is not None else "budget" for o in out]

    # ----------------------------------------------------------- reading one answer

    def decision(self, probe: Probe, res: dict | str) -> Decision:
        try:
            return self._decision(probe, res)
        except (KeyError, TypeError, AttributeError, ValueError):
            raise Tampered("the evaluator's answers came back garbled") from None

    def _decision(self, probe: Probe, res: dict | str) -> Decision:
        url = pac_url(probe)
        if res in ("timeout", "memory", "budget"):
            self.timeouts += 1
            what = {
                "timeout": "did not finish in time (an endless loop?)",
                "memory": f"used more than {MAX_HEAP // (1024 * 1024)} MiB",
                "budget": "was not run: the file used up its time budget",
            }[res]
            span = self.rs.span(self.fn_line)
            return Decision(Outcome.UNKNOWN, span, (span,), False, "", f"FindProxyForURL('{url}') {what}")
        assert isinstance(res, dict)
        trail = [t for t in res.get("trail", []) if t.get("line")]
        returns = res.get("returns", [])
        ret_span = None
        if returns:
            outer = min(r["depth"] for r in returns)
            top = [r for r in returns if r["depth"] == outer][-1]
            ret_span = self.rs.span(top["line"], top["col"])
        trace_spans = [self.rs.span(t["line"]) for t in trail]
        trace = tuple(dict.fromkeys(s for s in trace_spans if ret_span is None or s.line != ret_span.line))
        about = any(t.get("req") for t in trail)
        notes = []
        if res.get("unknown"):
            notes.append("assumed unresolvable: " + ", ".join(res["unknown"][:3]))
        if res.get("placeholders"):
            notes.append(
                "no catalog address for "
                + ", ".join(res["placeholders"][:3])
                + f" (a public placeholder, {PLACEHOLDER_ADDRESS}, stood in)"
            )
        if res.get("err"):
            err = res["err"]
            line = err.get("line") or self.fn_line
            self.problem(
                "TE901",
                line,
                f"FindProxyForURL throws {err['name']}: {err['message']} (for {probe.host} "
                "and maybe others); browsers then connect DIRECT",
                key=(err["name"], err["message"]),
            )
            span = self.rs.span(line)
            return Decision(
                Outcome.ALLOW,
                span,
                trace + (span,),
                False,
                "",
                "; ".join([f"the script fails ({err['name']}): browsers connect DIRECT"] + notes),
            )
        answer = res.get("r")
        if res.get("type") != "string":
            if ret_span is not None:
                self.problem(
                    "TE901",
                    ret_span.line,
                    f"FindProxyForURL returns {res.get('type')}, not a string: browsers connect DIRECT",
                )
            return Decision(
                Outcome.ALLOW,
                ret_span,
                trace,
                False,
                "",
                "; ".join([f"a non-string answer ({res.get('type')}): browsers connect DIRECT"] + notes),
            )
        return self._from_answer(answer, ret_span, trace, about, notes)

    def _from_answer(
        self, answer: str, ret_span: Span | None, trace: tuple[Span, ...], about: bool, notes: list[str]
    ) -> Decision:
        entries = [classify_entry(part, self.blackholes) for part in answer.split(";") if part.strip()]
        line = ret_span.line if ret_span else self.fn_line
        for e in entries:
            if e.kind == "invalid":
                self.problem(
                    "TE901",
                    line,
                    f"'{_short(e.text, 60)}' is not a proxy browsers can use ({e.why}; PAC "
                    "wants e.g. 'PROXY host:port'): they skip it",
                )
        usable = [e for e in entries if e.kind != "invalid"]
        shown = _short(answer, 80)
        if not usable:
            return Decision(
                Outcome.ALLOW,
                ret_span,
                trace,
                False,
                "",
                "; ".join([f"'{shown}' has no usable entry: browsers connect DIRECT"] + notes),
            )
        skipped: list[Entry] = []
        undecided: list[Entry] = []
        for e in usable:
            if e.kind == "black-hole":
                skipped.append(e)
                continue
            if e.kind == "unknown":
                undecided.append(e)
                continue
            # DIRECT or a working proxy: the request gets through (if an undecided local proxy
            # before it works, it goes through that one instead).
            lead = ""
            if skipped or undecided:
                lead = "after " + ", ".join(f"'{x.text}' ({x.why})" for x in skipped + undecided) + " fails, "
            how_text = "connects DIRECT" if e.kind == "direct" else f"goes {e.why}"
            # DIRECT (or a tunnel on the client) for a host the script tested: explicitly let
            # through. A remote proxy decides for itself: the PAC file names no outcome.
            named = about and (e.kind == "direct" or e.why.startswith("a local proxy"))
            return Decision(
                Outcome.ALLOW,
                ret_span,
                trace,
                named,
                "pac-direct" if e.kind == "direct" else "pac-proxy",
                "; ".join([f"'{shown}': {lead}the browser {how_text}"] + notes),
            )
        if undecided:
            return Decision(
                Outcome.UNKNOWN,
                ret_span,
                trace,
                about,
                "pac-proxy",
                "; ".join([f"'{shown}': {undecided[0].why}"] + notes),
            )
        reasons = "; ".join(dict.fromkeys(e.why for e in skipped))
        return Decision(
            Outcome.DENY,
            ret_span,
            trace,
            about,
            "pac-blackhole",
            "; ".join([f"'{shown}' leads nowhere ({reasons}): the request fails"] + notes),
        )


def _describe_group(group: list[Sample], all_ips: list[str], all_times: list[tuple]) -> tuple[str, ...]:
    ips = list(dict.fromkeys(s.ip for s in group))
    times = list(dict.fromkeys(s.when for s in group))
    conds: list[str] = []
    product = len(group) == len(ips) * len(times)
    if product:
        if len(ips) < len(all_ips):
            conds.append(
                "client " + ", ".join(ips[:3]) + (f" and {len(ips) - 3} more" if len(ips) > 3 else "")
            )
        if len(times) < len(all_times):
            conds.append(_describe_times([s for s in group if s.ip == ips[0]]))
        return tuple(conds)
    parts = [
        f"client {s.ip} {s.day()} {s.clock()}" if len(all_ips) > 1 else f"{s.day()} {s.clock()}"
        for s in group
    ]
    return (", ".join(parts[:3]) + (f" and {len(parts) - 3} more" if len(parts) > 3 else ""),)


def _describe_times(samples: list[Sample]) -> str:
    week = [s for s in samples if (s.when[0], s.when[1], s.when[2]) in SAMPLE_WEEK]
    other = [s for s in samples if s not in week]
    days = sorted({SAMPLE_WEEK.index(s.when[:3]) for s in week})
    clocks = sorted({s.clock() for s in week})
    out = []
    if week and len(week) == len(days) * len(clocks):
        out.append(f"{_day_ranges(days)} at {', '.join(clocks)}")
    elif week:
        out.append(", ".join(f"{s.day()} {s.clock()}" for s in week[:4]) + (" ..." if len(week) > 4 else ""))
    if other:
        out.append(
            ", ".join(f"{s.when[0]}-{s.when[1]:02d}-{s.when[2]:02d} {s.clock()}" for s in other[:3])
            + (" ..." if len(other) > 3 else "")
        )
    return "time " + "; ".join(out)


def _day_ranges(days: list[int]) -> str:
    runs: list[list[int]] = []
    for d in days:
        if runs and d == runs[-1][-1] + 1:
            runs[-1].append(d)
        else:
            runs.append([d])
    return ", ".join(
        DAY_NAMES[r[0]] if len(r) == 1 else f"{DAY_NAMES[r[0]]}-{DAY_NAMES[r[-1]]}" for r in runs
    )


def parse(path: Path, context: ParseContext) -> PacRuleset:
    display = str(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise InputError(f"{display}: cannot read: {exc.strerror or exc}") from None
    if size > MAX_PAC_BYTES:
        raise InputError(
            f"{display}: PAC file of {size} bytes is too large to evaluate (limit {MAX_PAC_BYTES})"
        )
    src = read_source(path, display)  # binary and encoding checks (raises InputError)
    data = path.read_bytes()
    source = _decode(data)
    lines = _lines(source)
    ruleset = PacRuleset(display, lines, list(src.problems))
    if len(data) >= CHROME_MAX_PAC:
        ruleset.problems.append(
            Problem(
                "TE901",
                ruleset.span(1),
                f"PAC file of {len(data)} bytes: Chrome refuses PAC "
                "files of 1 MB or more and connects DIRECT",
            )
        )
    catalog = context.catalog
    # The control first: if even it loops, the script loops for everything (ABANDON_AFTER).
    probes = catalog.control_probes() + [p for svc in catalog.services.values() for p in svc.probes()]
    probes = list({_probe_key(p): p for p in probes}.values())
    dns, filler = dns_table(catalog, source)
    samples, truncated = _samples(source)
    if truncated:
        ruleset.problems.append(
            Problem(
                "TE906",
                ruleset.span(1),
                f"too many client addresses and times to try: verdicts rest on {MAX_SAMPLES} samples",
            )
        )
    engine = _Engine(dns, filler)
    ev = _Evaluator(ruleset, source, catalog, engine)
    control = _probe_key(catalog.control_probes()[0])
    per_sample: list[dict[tuple, Decision]] = []
    try:
        instrumented = instrument(source, engine.marker)
        loaded = engine.load(instrumented)
        if loaded.status == "syntax" and instrumented != source:
            loaded = engine.load(source)  # the scanner misread something: run the file as written
        if loaded.status != "ok":
            _not_loaded(ruleset, ev, loaded, probes)
            return ruleset
        for sample in samples:
            answers = ev.results(sample, probes, dns)
            table = {_probe_key(p): ev.decision(p, a) for p, a in zip(probes, answers)}
            per_sample.append(_unspecific_defaults(table, control))
    except Exception as exc:  # the script broke the evaluator (replaced what it relies on)
        if not (isinstance(exc, Tampered) or type(exc).__module__.startswith("py_mini_racer")):
            raise
        first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
        _not_loaded(ruleset, ev, _Loaded("tampered", first), probes)
        return ruleset
    finally:
        engine.close()
    if ev.timeouts:
        ruleset.problems.append(
            Problem(
                "TE905",
                ruleset.span(ev.fn_line),
                f"FindProxyForURL ran out of time or memory for {ev.timeouts} request(s) "
                f"(limits {CALL_TIMEOUT:g} s a call, {MAX_HEAP // (1024 * 1024)} MiB): "
                "those verdicts are unknown",
            )
        )
    _group(ruleset, samples, per_sample, probes)
    return ruleset


def _unspecific_defaults(table: dict[tuple, Decision], control: tuple) -> dict[tuple, Decision]:
    """A request answered by the same return statement as the neutral control got the script's
    default answer, whatever host tests it passed on the way: nothing there names the service."""
    from dataclasses import replace

    default = table[control].rule
    if default is None:
        return table
    return {
        k: (replace(d, specific=False) if d.specific and d.rule == default else d) for k, d in table.items()
    }


def _not_loaded(ruleset: PacRuleset, ev: _Evaluator, loaded: _Loaded, probes: list[Probe]) -> None:
    if loaded.status == "tampered":
        ruleset.problems.append(
            Problem(
                "TE905",
                ruleset.span(1),
                "the PAC file interferes with the evaluator "
                f"({loaded.message or 'its helpers were replaced'}): verdicts are unknown",
            )
        )
        decision = Decision(
            Outcome.UNKNOWN, ruleset.span(1), (), False, "", "the PAC file could not be evaluated"
        )
    elif loaded.status in ("timeout", "memory"):
        limit = f"{CALL_TIMEOUT:g} s" if loaded.status == "timeout" else f"{MAX_HEAP // (1024 * 1024)} MiB"
        ruleset.problems.append(
            Problem(
                "TE905",
                ruleset.span(1),
                f"the PAC file's top-level code ran out of "
                f"{'time' if loaded.status == 'timeout' else 'memory'} ({limit}): "
                "an endless loop? Verdicts are unknown",
            )
        )
        decision = Decision(
            Outcome.UNKNOWN, ruleset.span(1), (), False, "", "the PAC file could not be run to the end"
        )
    else:
        if loaded.status == "syntax":
            last = max((i + 1 for i, text in enumerate(ruleset._lines) if text.strip()), default=1)
            line, what = min(loaded.line or 1, last), f"does not compile ({loaded.message})"
        elif loaded.status == "error":
            line, what = loaded.line or 1, f"fails while loading ({loaded.message})"
        else:
            line, what = 1, "defines no FindProxyForURL function"
        ruleset.problems.append(
            Problem(
                "TE901",
                ruleset.span(line),
                f"the PAC file {what}: browsers ignore it and connect DIRECT, so nothing it lists is blocked",
            )
        )
        decision = Decision(Outcome.ALLOW, None, (), False, "", f"the PAC file {what}: browsers ignore it")
    ruleset._by_audience = {EVERYONE: {_probe_key(p): decision for p in probes}}
    ruleset._fallback = {EVERYONE: decision}


def _group(
    ruleset: PacRuleset, samples: list[Sample], per_sample: list[dict[tuple, Decision]], probes: list[Probe]
) -> None:
    keys = [_probe_key(p) for p in probes]
    groups: dict[tuple, list[int]] = {}
    for i, table in enumerate(per_sample):
        vector = tuple((table[k].outcome, table[k].rule, table[k].how) for k in keys)
        groups.setdefault(vector, []).append(i)
    if len(groups) == 1:
        ruleset._audiences = [EVERYONE]
        ruleset._by_audience = {EVERYONE: per_sample[0]}
        return
    all_ips = list(dict.fromkeys(s.ip for s in samples))
    all_times = list(dict.fromkeys(s.when for s in samples))
    audiences: list[Audience] = []
    tables: dict[Audience, dict[tuple, Decision]] = {}
    for members in groups.values():
        group = [samples[i] for i in members]
        conds = _describe_group(group, all_ips, all_times)
        first = group[0]
        attrs = (("src", first.ip), ("time", f"{first.day()} {first.clock()}"))
        audience = Audience(
            key=("pac", tuple((s.ip, s.when) for s in group)), conditions=conds, attributes=attrs
        )
        scope = audience.describe()
        tables[audience] = {k: _scoped(d, scope) for k, d in per_sample[members[0]].items()}
        audiences.append(audience)
    ruleset._audiences = audiences
    ruleset._by_audience = tables


def _scoped(d: Decision, scope: str) -> Decision:
    from dataclasses import replace

    return replace(d, scope=scope)

"""The sandbox: one V8 isolate (mini-racer) holding the PAC helper library and the PAC file,
with no file, network or process access, a time limit on every call and a heap limit. The
evaluator hands it requests and client samples as JSON and reads back JSON answers; what the
answers mean is the evaluator's business."""

from __future__ import annotations

import contextlib
import json
import re
import secrets
from dataclasses import dataclass
from typing import Any, TypedDict

from policy_lint.dialects.proxies.pac.samples import Sample
from policy_lint.inputs import InputError

CALL_TIMEOUT = 1.0  # seconds for one FindProxyForURL call (and for the script's top level)
MAX_HEAP = 64 * 1024 * 1024  # bytes of JavaScript heap


class Job(TypedDict):
    """One request for the runner: what FindProxyForURL gets, and the addresses the host
    resolves to (a helper called with one of them is noted as a test about this request)."""

    url: str
    host: str
    addrs: list[str]


class PinnedJob(Job, total=False):
    """A job whose host resolves to the given addresses only (one of its service's prefixes)."""

    pin: list[str]


# The PAC helper functions and the runner, evaluated before the PAC file. Semantics follow
# Chrome's PAC library (services/proxy_resolver/pac_js_library.h, taken from Mozilla); this is
# an independent implementation. Nothing here reaches outside the engine: names resolve from
# the table the linter passes in, the clock and the client address are the sample's.
PAC_LIBRARY = r"""
var PL_HANDLE = (function (global) {
  "use strict";
  var RealDate = Date, stringify = JSON.stringify, parseJSON = JSON.parse;
  var st = {now: 0, ip: "", host: "", url: "", addrs: [], trail: [], returns: [], unknown: [],
            placeholders: [], dns: {}, filler: {}, alerts: 0, pin: null, resolved: false};
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
    if (key === st.host) {
      st.resolved = true;  // the answer may depend on where the request's host is served from
      if (st.pin) return st.pin;
    }
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
      st.pin = job.pin || null; st.resolved = false;
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
                 placeholders: st.placeholders, resolved: st.resolved};
    }
    current = jobs.length;
    return true;
  }
  function progress(first) {
    return stringify({current: current, ms: RealDate.now() - jobStart, done: done.slice(first)});
  }
  return {begin: begin, runFrom: runFrom, progress: progress, configure: configure};
})(this);
"""


@dataclass
class Loaded:
    status: str  # ok | syntax | timeout | memory | error | no-entry
    message: str = ""
    line: int = 0


class Engine:
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
            with contextlib.suppress(Exception):
                self._ctx.eval("0", timeout_sec=CALL_TIMEOUT)
            self._ctx.close()
            self._ctx = None

    def load(self, script: str) -> Loaded:
        from py_mini_racer import JSEvalException, JSOOMException, JSParseException, JSTimeoutException

        if self._script:
            self._new()
        self._script = script
        try:
            self._ctx.eval(script + "\n//# sourceURL=pac-file", timeout_sec=CALL_TIMEOUT, max_memory=MAX_HEAP)
        except JSTimeoutException:
            return Loaded("timeout")
        except JSOOMException:
            return Loaded("memory")
        except JSParseException as exc:
            line, msg = _error_line(str(exc))
            return Loaded("syntax", msg, line)
        except JSEvalException as exc:  # a runtime error, or the isolate terminated
            line, msg = _error_line(str(exc))
            return Loaded("error", msg, line)
        if self._expr('typeof FindProxyForURL === "function"', CALL_TIMEOUT) is not True:
            return Loaded("no-entry")
        return Loaded("ok")

    def reload(self) -> None:
        """A fresh isolate with the same script (after a memory blow-up)."""
        self._new()
        self._ctx.eval(
            self._script + "\n//# sourceURL=pac-file", timeout_sec=CALL_TIMEOUT, max_memory=MAX_HEAP
        )

    def begin(self, sample: Sample, jobs: list[Job]) -> None:
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

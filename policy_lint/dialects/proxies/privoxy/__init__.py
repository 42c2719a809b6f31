"""Privoxy: the main `config` and its action files, evaluated the way Privoxy 3.0 decides.

The main `config` names action files (`actionsfile user.action`, relative to `confdir`),
read in order; each action file is a list of sections, a header of actions in braces followed
by URL patterns. For every request Privoxy walks all sections of all files in order and, each
time a pattern matches, applies the section's actions: **the last match wins**, so a later
`{-block}` (or a later file such as `user.action`) undoes an earlier `{+block}`:

    {{alias}}
    unblock = -block -redirect            # aliases: names for action lists (any case)
    { +block{Social media.} }
    .facebook.                            # any host with a `facebook` label (.de, .com ...)
    .twitter.com                          # twitter.com and every subdomain
    linkedin.com                          # exactly linkedin.com (www.linkedin.com passes)
    /.*ning.*                             # any host, a path containing "ning": never HTTPS
    { unblock }
    graph.facebook.com                    # the API stays reachable

Patterns are `host[:port][/path]` (Privoxy user manual 8.4, checked against Debian's
privoxy 3.0.34 in tests/e2e/test_privoxy_differential.py and its source, urlmatch.c):

- host part, compared label by label, case-insensitively: a leading dot leaves the left end
  open (`.example.com` = example.com and its subdomains), a trailing dot the right end
  (`www.` = any host whose first label is www), both (`.example.`) = any host containing that
  label, neither = exactly that many labels. Labels may use `*`, `?` and `[...]` (Privoxy's own
  `simplematch`, ported as is). `.` or no host part matches every host, as does `/`.
  (`PCRE-HOST-PATTERN:` needs a build option Debian's privoxy lacks: read as a plain host.)
- `:port` (or `:80,8000-8100`) limits a pattern to those ports.
- path part: a case-insensitive regular expression (PCRE), anchored at the `/`
  (`/.*facebook` = a path containing "facebook"; time-bounded here). Privoxy sees only
  `host:443` of an HTTPS request (a CONNECT), whose path is taken as `/`: a pattern whose path
  regex needs more than `/` never applies to HTTPS, `.facebook.com/` or `.facebook.com/.*`
  still do. With `+https-inspection` for the host, the real path is seen.
- `TAG:`, `NO-REQUEST-TAG:`, `NO-RESPONSE-TAG:` and `CLIENT-TAG:` lines match request headers
  or clients that opted in, not URLs: they are not evaluated (a known limit of this dialect).

Actions that decide whether a service is reachable: `+block{reason}` / `-block` (the
block page, a 403; with `+handle-as-image` or `+handle-as-empty-document` a substitute,
still a block); `+redirect{URL}` or `+redirect{s@pcrs@command@}` (a 302: to another site it
is a block, to the same site, e.g. an HTTP -> HTTPS upgrade, it is not; a CONNECT cannot follow
a redirect, so any redirect of an HTTPS request is a block); block wins over redirect;
`+limit-connect{ports}` (CONNECT to other ports is refused); `+forward-override{...}`.

In `config`: `forward PATTERN parent[:port]|.` and `forward-socks4/4a/5/5t PATTERN
socks[:port] parent|.`, checked in order, the last match wins. `.` is a direct connection; a
real upstream (any host that is not this machine, or a proxy port on loopback such as Tor's
9050, semantics/tunnels.py) decides what happens to the request with a configuration that is
not this one: `unknown`, TE907 at the forward line (the rule DNS answers pinned to an unknown
public address follow); a black hole (port 0, or a port below 1024 on 127.0.0.1 / 0.0.0.0:
nothing listens there, Privoxy answers 503) is a block; another loopback port cannot be told
from here either (`unknown`, TE907). `toggle 0`
starts Privoxy switched off (no actions); `trustfile` allows only trusted sites (`~pattern`
and `+pattern` lines trust, plain lines distrust, the last matching line wins, anything
unlisted is blocked).

Files: when `config` is linted, its action files are evaluated in order (and not linted again
on their own); a missing one is TE903: Privoxy's standard `match-all.action` and
`default.action`, and files whose name says they hold another topic (`block-trackers.action`),
are assumed not to block the services' sites (the finding says so), any other missing file
leaves the services' verdicts `unknown` unless a later file decides them. An action file linted
on its own is evaluated as Privoxy would with a config naming only that file (no forwarding,
toggle on). Errors Privoxy refuses to start with (an unterminated section header, an unknown
action or alias, a pattern before the first section, an invalid path regex) are TE901/TE905;
the sections concerned decide `unknown`.
"""

from policy_lint.dialects.proxies.privoxy.model import FILE_PATTERNS, NAME, classify_target
from policy_lint.dialects.proxies.privoxy.parse import detect, parse
from policy_lint.dialects.proxies.privoxy.urlmatch import simplematch

__all__ = ["FILE_PATTERNS", "NAME", "classify_target", "detect", "parse", "simplematch"]

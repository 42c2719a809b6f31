"""`nft -j list ruleset` JSON to the nft commands it stands for (`add rule inet f c ip daddr
{ ... } drop`), which the text parser then reads: one grammar, two inputs."""

from __future__ import annotations

import json
import re

from policy_lint.dialects.firewalls.nftables.syntax import JSON_UNKNOWN


def json_offsets(text: str) -> list[int]:
    """Where each element of the top-level "nftables" array starts."""
    m = re.search(r'"nftables"\s*:\s*\[', text)
    if m is None:
        return []
    dec = json.JSONDecoder()
    out: list[int] = []
    i = m.end()
    size = len(text)
    while i < size:
        while i < size and text[i] in " \t\r\n,":
            i += 1
        if i >= size or text[i] == "]":
            break
        out.append(i)
        try:
            _obj, i = dec.raw_decode(text, i)
        except ValueError:
            break
    return out


def _q(s: object) -> str:
    s = str(s)
    return f'"{s}"' if (not s or re.search(r"[\s{};,#]", s)) and '"' not in s else s


def _json_value(v: object) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return str(v)
    if isinstance(v, str):
        return _q(v)
    if isinstance(v, list):
        return ",".join(_json_value(x) for x in v)
    if isinstance(v, dict):
        k, body = next(iter(v.items()))
        if k == "prefix":
            return f"{body['addr']}/{body['len']}"
        if k == "range":
            return f"{_json_value(body[0])}-{_json_value(body[1])}"
        if k == "set":
            elems = body if isinstance(body, list) else [body]
            return "{ " + ", ".join(_json_elem(e) for e in elems) + " }"
        if k == "elem":
            return _json_value(body["val"])
        if k == "concat":
            return " . ".join(_json_value(x) for x in body)
        if k == "payload":
            if "protocol" in body:
                return f"{body['protocol']} {body['field']}"
            return f"{JSON_UNKNOWN} raw-payload"
        if k == "meta":
            return f"meta {body['key']}"
        if k == "ct":
            return f"ct {body['key']}"
        if k in ("&", "|", "^", "<<", ">>"):
            return f"{_json_value(body[0])} & {_json_value(body[1])}"
        return f"{JSON_UNKNOWN} {k}"
    return str(v)


def _json_elem(e: object) -> str:
    if isinstance(e, list) and len(e) == 2:  # a map element: [key, data]
        return f"{_json_value(e[0])} : {_json_verdict(e[1]) or _json_value(e[1])}"
    return _json_value(e)


def _json_verdict(v: object) -> str:
    if isinstance(v, dict) and len(v) == 1:
        ((k, body),) = v.items()
        if k in ("accept", "drop", "return", "continue"):
            return k
        if k in ("jump", "goto"):
            return f"{k} {body['target']}"
    return ""


def _json_statement(x: dict) -> str:
    ((k, body),) = x.items()
    verdict = _json_verdict(x)
    if verdict:
        return verdict
    if k == "match":
        op = body.get("op", "==")
        left = _json_value(body["left"])
        right = _json_value(body["right"])
        if JSON_UNKNOWN in left:
            return left
        if op in ("==", "in"):
            return f"{left} {right}"
        return f"{left} {op} {right}"
    if k == "reject":
        return "reject"
    if k == "queue":
        return "queue"
    if k in ("dnat", "redirect", "tproxy"):
        # {"dnat": {"addr": "10.0.0.1", "port": 8080}}, {"redirect": {"port": 3128}}: where to.
        b = body if isinstance(body, dict) else {}
        addr, port = b.get("addr"), b.get("port")
        if not isinstance(addr, (str, type(None))) or not isinstance(port, (int, type(None))):
            return f"{k} to map"  # an address or port computed by an expression: not read
        where = (f"[{addr}]" if ":" in addr and port else addr) if addr else ""
        where += f":{port}" if port else ""
        return f"{k} to {where}" if where else k
    if k in (
        "counter",
        "log",
        "mangle",
        "snat",
        "masquerade",
        "notrack",
        "dup",
        "fwd",
        "synproxy",
        "flow",
        "set",
        "ct helper",
        "xt",
    ):
        if k == "xt":
            return f"{JSON_UNKNOWN} xt"
        return "counter"
    if k == "limit":
        over = " over" if body.get("inv") else ""
        return f"limit rate{over} {body.get('rate', 1)}/{body.get('per', 'second')}"
    if k == "quota":
        return f"{JSON_UNKNOWN} quota" if not body.get("inv") else "quota over 1 bytes"
    if k == "vmap":
        data = body["data"]
        target = data if isinstance(data, str) else _json_value(data)
        return f"{_json_value(body['key'])} vmap {target}"
    return f"{JSON_UNKNOWN} {k}"


def json_command(obj: dict) -> str:
    ((kind, body),) = obj.items()
    verb = "add"
    if kind in ("add", "create", "insert", "delete", "flush", "replace", "destroy"):
        verb = kind
        ((kind, body),) = body.items()
    if kind == "metainfo":
        return ""
    if kind == "ruleset":
        return f"{verb} ruleset"
    fam, table = body.get("family", "ip"), body.get("table", body.get("name"))
    if kind == "table":
        flags = body.get("flags") or []
        dormant = " { flags dormant }" if "dormant" in (flags if isinstance(flags, list) else [flags]) else ""
        return f"{verb} table {fam} {_q(body['name'])}{dormant}"
    if kind == "chain":
        inner = ""
        if "hook" in body:
            inner = (
                f" {{ type {body.get('type', 'filter')} hook {body['hook']} priority {body.get('prio', 0)};"
            )
            inner += f" policy {body.get('policy', 'accept')}; }}"
        return f"{verb} chain {fam} {_q(table)} {_q(body['name'])}{inner}"
    if kind in ("set", "map"):
        typ = body.get("type", "")
        typ = " . ".join(typ) if isinstance(typ, list) else typ
        if kind == "map":
            typ += f" : {body.get('map', 'verdict')}"
        parts = [f"type {typ}"] if typ else []
        flags = body.get("flags") or []
        flags = flags if isinstance(flags, list) else [flags]
        if flags:
            parts.append("flags " + ", ".join(flags))
        if "timeout" in body:
            parts.append("timeout 1s")
        if body.get("elem"):
            parts.append("elements = { " + ", ".join(_json_elem(e) for e in body["elem"]) + " }")
        return f"{verb} {kind} {fam} {_q(table)} {_q(body['name'])} {{ " + "; ".join(parts) + " }"
    if kind == "element":
        return (
            f"{verb} element {fam} {_q(table)} {_q(body['name'])} "
            f"{{ {', '.join(_json_elem(e) for e in body.get('elem', []))} }}"
        )
    if kind == "rule":
        if verb in ("delete", "replace", "destroy"):
            return ""
        exprs = " ".join(_json_statement(x) for x in body.get("expr", []))
        return f"{verb} rule {fam} {_q(table)} {_q(body['chain'])} {exprs}"
    return ""

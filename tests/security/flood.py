#!/usr/bin/env python3
"""Flood of malformed crmhooks webhooks over loopback HTTP (Python 3 stdlib only).

    python3 tests/security/flood.py --url http://127.0.0.1:18080 [--url http://127.0.0.1:18081]
        [--key KEY | env CRMHOOKS_ACCESS_KEY] [--requests 10000] [--concurrency 8] [--seed N]
        [--big-bodies 6] [--dry-run]

Every request is malformed by construction: it either carries no valid access key, or it carries
the right key together with a defect the library refuses (unknown action, contact ID of the wrong
shape, bytes that are not UTF-8, NUL, a broken/array/over-deep JSON body, a body over 4 MiB, an
unknown method). Before a request is sent, `prove_refused()` re-derives that verdict from the
library's rules (src/request.rs, src/request/form.rs) on the exact bytes the plugin will see; a
request it cannot prove refused is not sent and counts as a generator error.

Where PHP itself parses the input ($_GET, and $_POST for form bodies), parameter counts stay
under max_input_vars (1000) and key nesting under max_input_nesting_level (64): beyond those PHP
logs its own "Input variables exceeded" warning before any plugin code runs. Bigger counts and
deeper nesting (10k levels, 50k pairs) go in bodies only the library reads (text/plain, JSON).
Methods other than GET/HEAD/POST are not sent to `/`: nginx answers those itself (405).

Requests are built deterministically from (seed, index): the same seed sends the same 10,000
requests, whatever the thread scheduling. Each uses its own connection (Connection: close).

Prints one JSON summary on stdout: counts per status and per answer origin (library = the
plugin's JSON answer; wp_rest = WordPress's REST server answering itself; nginx = nginx's own
HTML error page), the identical-401 check, answers containing the key, 5xx samples, elapsed
seconds. Exit status: 0 when every check passed, 1 when one failed, 2 on bad usage.
"""

import argparse
import functools
import hashlib
import json
import os
import random
import re
import socket
import sys
import threading
import time
import urllib.parse

MAX_BODY_BYTES = 4 * 1024 * 1024  # src/request.rs MAX_BODY_BYTES
MAX_DEPTH = 8  # src/request/form.rs MAX_DEPTH
MAX_CONTACT_ID_LEN = 20
SERDE_JSON_DEPTH = 128  # serde_json's recursion limit: deeper documents are invalid JSON
ACTIONS = {"update_tags", "update", "update_user", "add", "add_user", "test"}
ACCEPTED_METHODS = {"GET", "POST", "PUT"}
LIBRARY_STATUSES = {400, 401, 405, 413}
ASCII_WS = " \t\n\x0c\r"  # Rust's char::is_ascii_whitespace (no \x0b)
UNAUTHORIZED_BODY = b'{"success":false,"error":"unauthorized"}'


# ---------------------------------------------------------------------------------------------
# The library's reading of a request, re-implemented (conservatively) for the generator's proofs.
# ---------------------------------------------------------------------------------------------

def trim_ascii(value):
    return value.strip(ASCII_WS)


def percent_decode(data):
    """form_urlencoded decoding of one name or value: '+' is a space, %XX a byte, else literal."""
    if b"%" not in data and b"+" not in data:
        return data
    out = bytearray()
    i, n = 0, len(data)
    hexdigits = b"0123456789abcdefABCDEF"
    while i < n:
        b = data[i]
        if b == 0x25 and i + 2 < n and data[i + 1] in hexdigits and data[i + 2] in hexdigits:
            out.append(int(data[i + 1:i + 3], 16))
            i += 3
        elif b == 0x2B:
            out.append(0x20)
            i += 1
        else:
            out.append(b)
            i += 1
    return bytes(out)


def check_utf8(data):
    """form::check_utf8: every percent-decoded name and value must be UTF-8."""
    for pair in data.split(b"&"):
        name, _, value = pair.partition(b"=")
        for part in (name, value):
            try:
                percent_decode(part).decode("utf-8")
            except UnicodeDecodeError:
                return False
    return True


def split_key(key):
    """form::split_key: `a[b][c]` -> ['a', 'b', 'c']; None when dropped."""
    open_at = key.find("[")
    if open_at < 0:
        return [key] if key else None
    name = key[:open_at]
    if not name:
        return None
    rest = key[open_at:]
    if "]" not in rest[1:]:
        return [key]
    path = [name]
    while rest.startswith("["):
        inner = rest[1:]
        close = inner.find("]")
        if close < 0:
            break
        if len(path) > MAX_DEPTH:
            return None
        path.append(inner[:close])
        rest = inner[close + 1:]
    return path


def urlencoded_params(data):
    """Params::from_urlencoded: path tuple -> value, lossy UTF-8, the last value wins."""
    params = {}
    for piece in data.split(b"&"):
        if not piece:
            continue
        name, _, value = piece.partition(b"=")
        path = split_key(percent_decode(name).decode("utf-8", "replace"))
        if path is not None:
            params[tuple(path)] = percent_decode(value).decode("utf-8", "replace")
    return params


def contains_nul(params):
    return any("\0" in v or any("\0" in s for s in k) for k, v in params.items())


class NotJson(Exception):
    pass


def _reject_constant(name):
    raise NotJson(name)  # NaN / Infinity: serde_json refuses them


JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.S)


def json_depth(text):
    """Deepest bracket nesting outside strings (an unterminated string counts as text)."""
    if text.count("[") + text.count("{") <= SERDE_JSON_DEPTH:
        return 0  # cannot be too deep
    brackets = "".join(ch for ch in JSON_STRING.sub("", text) if ch in "[]{}")
    depth = deepest = 0
    for ch in brackets:
        if ch in "[{":
            depth += 1
            if depth > deepest:
                deepest = depth
        else:
            depth -= 1
    return deepest


def json_scalar(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)  # never all digits, like serde_json's "42.0"
    return None


def json_params(body):
    """request::json_params: (params, None) or (None, reason)."""
    if all(b in b" \t\n\r\x0c" for b in body):
        return {}, None
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return None, "json_not_utf8"
    if json_depth(text) > SERDE_JSON_DEPTH + 10:
        return None, "json_too_deep"
    try:
        value = json.loads(text, parse_constant=_reject_constant)
    except (ValueError, NotJson, RecursionError):
        return None, "json_invalid"
    if not isinstance(value, dict):
        return None, "json_not_object"
    params = {}
    pending = [((k,), v) for k, v in value.items()]
    while pending:
        path, member = pending.pop()
        if isinstance(member, dict):
            if len(path) <= MAX_DEPTH:
                pending.extend((path + (k,), v) for k, v in member.items())
            continue
        scalar = json_scalar(member)
        if scalar is not None:
            params[path] = scalar
    if contains_nul(params):
        return None, "json_nul"
    return params, None


def body_kind(content_type):
    media = content_type.split(";")[0].strip(ASCII_WS).lower()
    if media == "application/x-www-form-urlencoded":
        return "form"
    if media == "application/json" or (media.startswith("application/") and media.endswith("+json")):
        return "json"
    if media == "multipart/form-data":
        return "multipart"
    return "other"


def lenient_params(body):
    first = next((b for b in body if b not in b" \t\n\r\x0c"), None)
    if first == ord("{"):
        params, _ = json_params(body)
        return params or {}
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return {}
    params = urlencoded_params(body)
    return {} if contains_nul(params) else params


def non_empty(value):
    if value is None:
        return None
    value = trim_ascii(value)
    return value or None


def ascii_lower(value):
    return "".join(chr(ord(c) + 32) if "A" <= c <= "Z" else c for c in value)


def given_key(query, content_type, body):
    """request::given_key: query `access_key` first, else the body's (bodies <= 4 MiB)."""
    key = non_empty(urlencoded_params(query).get(("access_key",)))
    if key is not None or len(body) > MAX_BODY_BYTES:
        return key
    kind = body_kind(content_type)
    if kind == "multipart":
        return None
    if kind == "json":
        params = json_params(body)[0] or {}
    elif kind == "form":
        params = urlencoded_params(body)
    else:
        params = lenient_params(body)
    return non_empty(params.get(("access_key",)))


def prove_refused(req, key):
    """Why the library must refuse this request, or None when that cannot be shown.

    Mirrors request::accept on what the plugin passes it: REQUEST_METHOD, QUERY_STRING, the
    Content-Type, and php://input (empty for GET and HEAD). Any one certain error is a proof,
    since every error is a refusal; cheap query checks come first."""
    query = req.query
    query = query[1:] if query.startswith(b"?") else query
    content_type = req.content_type or b""
    lenient_ct = content_type.decode("utf-8", "replace")
    sent_body = req.body or b""
    if "multipart/form-data" in lenient_ct.lower():
        return None  # the plugin rebuilds those from $_POST: not modelled here
    # Authentication first: GET bodies count too, to stay on the safe side.
    given = given_key(query, lenient_ct, sent_body)
    if given is None or given != trim_ascii(key):
        return "unauthorized"
    method = req.method.decode("latin-1")
    body = b"" if method.upper() in ("GET", "HEAD") else sent_body
    if method.strip().upper() not in ACCEPTED_METHODS:
        return "method"
    try:
        query.decode("utf-8")
    except UnicodeDecodeError:
        return "query_raw_not_utf8"
    try:
        content_type.decode("utf-8")
    except UnicodeDecodeError:
        return "content_type_not_utf8"
    if not check_utf8(query):
        return "query_not_utf8"
    qp = urlencoded_params(query)
    if contains_nul(qp):
        return "query_nul"
    for name in ("wpf_action", "crmhooks_action"):
        action = non_empty(qp.get((name,)))
        if action is not None:
            if ascii_lower(action) not in ACTIONS:
                return "unknown_action"
            if ascii_lower(action) == "test":
                return None  # a right key with `test` is a valid webhook
            break
    if len(body) > MAX_BODY_BYTES:
        return "body_too_large"
    kind = body_kind(lenient_ct)
    if kind == "form":
        if not check_utf8(body):
            return "body_not_utf8"
        try:
            body.decode("utf-8")
        except UnicodeDecodeError:
            return "body_not_utf8"
        bp = urlencoded_params(body)
        if contains_nul(bp):
            return "body_nul"
    elif kind == "json":
        bp, reason = json_params(body)
        if reason:
            return reason
    else:
        bp = lenient_params(body)
    action = None
    for source in (qp, bp):
        for name in ("wpf_action", "crmhooks_action"):
            if action is None:
                action = non_empty(source.get((name,)))
    if action is None:
        return "missing_action"
    if ascii_lower(action) not in ACTIONS:
        return "unknown_action"
    raw_id = bp.get(("contact", "id"))
    if raw_id is None:
        raw_id = qp.get(("contact_id",))
    if raw_id is None:
        raw_id = bp.get(("contact_id",))
    if raw_id is not None:
        cid = trim_ascii(raw_id)
        if not (cid and len(cid) <= MAX_CONTACT_ID_LEN and all("0" <= c <= "9" for c in cid)):
            return "bad_contact_id"
    return None


# ---------------------------------------------------------------------------------------------
# Request generation.
# ---------------------------------------------------------------------------------------------

class Req:
    __slots__ = ("category", "method", "path", "query", "content_type", "body", "rest", "extra_headers")

    def __init__(self, category, method, path, query, content_type=None, body=None, rest=False, extra_headers=()):
        self.category = category
        self.method = method
        self.path = path
        self.query = query
        self.content_type = content_type
        self.body = body
        self.rest = rest
        self.extra_headers = extra_headers


def enc(value):
    if isinstance(value, bytes):
        return value
    return urllib.parse.quote(str(value), safe="").encode("ascii")


def qs(pairs):
    """pairs of (name, value); str is percent-encoded, bytes are sent as they are."""
    return b"&".join(enc(k) if v is None else enc(k) + b"=" + enc(v) for k, v in pairs)


# Front-page webhooks are caught on init for any URL; nginx answers odd methods on / itself.
FRONT_PATHS = [b"/", b"/index.php", b"/sample-page/", b"/no-such-page/", b"/hello-world/"]
ODD_METHOD_PATHS = [b"/index.php", b"/sample-page/", b"/no-such-page/", b"/hello-world/"]
REST_ROUTE = b"/wp-json/crmhooks/v1/webhook"
UNKNOWN_ACTIONS = [
    "delete", "delete_everything", "update_tagz", "add_users", "tes", "testing", "create", "subscribe",
    "ping", "updatetags", "ADD_USERR", "../../etc/passwd", "<script>alert(1)</script>",
    "'; DROP TABLE wp_users; --", "${jndi:ldap://127.0.0.1/x}", "{{7*7}}", "über", "漢字", "update\u200b",
    "\u3000add", "add\u00a0", "update\u2028", "a" * 300, "add_user_", "update-tags", "UPDATE TAGS", "0",
    "null", "undefined", "[wpf_action]", "add,update", "add;update",
]
BAD_IDS = [
    "abc", "-1", "1.5", "[Contact ID]", "{contact_id}", "0x1F", "1e5", "１２３", "42\u3000", "4 2", "", "+",
    "-0", "42abc", "4" * 21, "9" * 25, "1" * 64, "١٢٣", "42'", "42;--", "42%", "%%", "\u200b42",
]


def digits(rng, lo=1, hi=12):
    return str(rng.randrange(1, 10)) + "".join(str(rng.randrange(10)) for _ in range(rng.randrange(lo, hi) - 1))


def valid_action(rng):
    return rng.choice(["add", "update", "update_tags", "add_user", "update_user", "ADD", "Update"])


def unknown_action(rng):
    return rng.choice(UNKNOWN_ACTIONS)


def wrong_key(rng, key):
    variant = rng.randrange(12)
    if variant == 0:
        return key[:-1]
    if variant == 1:
        return key + rng.choice("xZ9-_")
    if variant == 2:
        return key[1:]
    if variant == 3:
        flipped = key.swapcase()
        return flipped if flipped != key else key + "A"
    if variant == 4:
        i = rng.randrange(len(key))
        return key[:i] + ("A" if key[i] != "A" else "B") + key[i + 1:]
    if variant == 5:
        return key[::-1] if key[::-1] != key else key + "x"
    if variant == 6:
        return "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") for _ in key)
    if variant == 7:
        return key + key
    if variant == 8:
        return key[: len(key) // 2]
    if variant == 9:
        return "x" * rng.randrange(1, 2000)
    if variant == 10:
        return key[:5] + "\0" + key[5:]
    return rng.choice(["null", "undefined", "true", "0", "*", "%", "' OR '1'='1", "[access_key]", "{{key}}"])


UNICODE_SPACES = [b"%E3%80%80", b"%C2%A0", b"%E2%80%83", b"%E2%80%8B", b"%0B", b"%C2%85", b"%E2%80%A8",
                  b"%EF%BB%BF", b"%E1%9A%80", b"%E2%80%AF", b"%E2%81%9F"]


def right_key_query(rng, key):
    """The right key, in a form the library accepts (ASCII whitespace around it is trimmed)."""
    variant = rng.randrange(6)
    if variant == 0:
        return ("access_key", b"+" + enc(key) + b"%20")
    if variant == 1:
        return ("access_key", b"%09" + enc(key) + b"%0D%0A")
    if variant == 2:
        return ("access_key", b"".join(b"%%%02X" % c for c in key.encode()))
    return ("access_key", key)


def webhook_target(rng, rest, method=b"GET"):
    """(path, leading query pairs): the REST route, or a front-page URL."""
    if rest:
        if rng.random() < 0.7:
            return REST_ROUTE, []
        return rng.choice([b"/", b"/index.php"]), [("rest_route", b"/crmhooks/v1/webhook")]
    # nginx serves / itself (its index module) for methods other than GET, HEAD and POST: 405
    paths = FRONT_PATHS if method in (b"GET", b"POST", b"HEAD") else ODD_METHOD_PATHS
    return rng.choice(paths), []


def sprinkle(rng, pairs):
    """Harmless extra parameters in random order after the first one (role, async, tags...)."""
    extra = [("role", rng.choice(["subscriber", "administrator", "editor", ""])),
             ("async", rng.choice(["true", "false", "1", "0", "maybe"])),
             ("send_notification", rng.choice(["yes", "no", "1"])),
             ("email", rng.choice(["jane.doe@example.com", ""]))]
    rng.shuffle(extra)
    return pairs + extra[: rng.randrange(0, 3)]


# --- authentication failures ---------------------------------------------------------------

def auth_request(rng, key, category, key_pairs, body_parts=None):
    rest = rng.random() < 0.02  # the rest_route category carries the REST share (twice as slow)
    method = b"POST" if body_parts else rng.choice([b"GET", b"GET", b"POST", b"PUT", b"DELETE"] if not rest else [b"GET", b"POST"])
    path, lead = webhook_target(rng, rest, method)
    action = rng.choice(["test", "add", "update", "update_tags", "add_user", "bogus"])
    pairs = lead + [("wpf_action" if rng.random() < 0.85 else "crmhooks_action", action)]
    if rng.random() < 0.7:
        pairs.append(("contact_id", digits(rng)))
    pairs = sprinkle(rng, pairs) + key_pairs
    content_type, body = None, None
    if body_parts:
        content_type, body = body_parts
    elif method in (b"POST", b"PUT") and rng.random() < 0.5:
        content_type = b"application/x-www-form-urlencoded"
        body = qs([("type", "update"), ("contact[id]", digits(rng)), ("contact[email]", "jane.doe@example.com")])
    return Req(category, method, path, qs(pairs), content_type, body, rest)


def gen_no_key(rng, key):
    variant = rng.randrange(6)
    key_pairs = [
        [],
        [("access_key", "")],
        [("access_key", b"+++%20%09")],
        [("access_key[]", key)],
        [(rng.choice(["accesskey", "access-key", "ACCESS_KEY", "access_key ", "access_key%00", "key", "token", "api_key"]), key)],
        [("access_key", key), ("access_key", "")],  # the last (empty) value wins: no key
    ][variant]
    return auth_request(rng, key, "no_key", key_pairs)


def gen_wrong_key(rng, key):
    wrong = wrong_key(rng, key)
    if rng.random() < 0.15:
        return auth_request(rng, key, "wrong_key", [("access_key", key), ("access_key", wrong)])  # last wins
    return auth_request(rng, key, "wrong_key", [("access_key", wrong)])


def gen_unicode_ws_key(rng, key):
    space = rng.choice(UNICODE_SPACES)
    shape = rng.randrange(4)
    if shape == 0:
        value = enc(key) + space
    elif shape == 1:
        value = space + enc(key)
    elif shape == 2:
        value = b"+" + enc(key) + space + b"%20"
    else:
        half = len(key) // 2
        value = enc(key[:half]) + space + enc(key[half:])
    return auth_request(rng, key, "unicode_ws_key", [("access_key", value)])


def gen_body_wrong_key(rng, key):
    wrong = wrong_key(rng, key) if rng.random() < 0.7 else key + rng.choice(["\u3000", "\u00a0", "\u200b"])
    shape = rng.randrange(4)
    if shape == 0:
        body = (b"application/x-www-form-urlencoded",
                qs([("access_key", wrong), ("wpf_action", "update"), ("contact_id", digits(rng))]))
    elif shape == 1:
        body = (rng.choice([b"application/json", b"application/vnd.api+json; charset=utf-8"]),
                json.dumps({"access_key": wrong, "wpf_action": "add", "contact": {"id": digits(rng)}}).encode())
    elif shape == 2:
        body = (rng.choice([b"text/plain", b"", b"application/octet-stream"]),
                qs([("access_key", wrong), ("contact_id", digits(rng))]))
    else:
        body = (b"application/json", json.dumps({"contact": {"access_key": key}, "access_key": wrong}).encode())
    return auth_request(rng, key, "body_wrong_key", [], body)


# --- right key, malformed ------------------------------------------------------------------

def keyed(rng, key, category, pairs, method=b"GET", content_type=None, body=None, rest=None, key_in_body=False):
    """A request with the right key: leading target pairs, `pairs`, the key (query or form body)."""
    if rest is None:
        rest = rng.random() < 0.02 and method in (b"GET", b"POST")
    path, lead = webhook_target(rng, rest, method)
    query = lead + pairs
    if key_in_body and body is not None and content_type == b"application/x-www-form-urlencoded":
        body = body + b"&" + qs([("access_key", key)])
    else:
        query = query + [right_key_query(rng, key)]
    return Req(category, method, path, qs(query), content_type, body, rest)


def good_pairs(rng):
    """The parameters of an otherwise valid webhook (never `test`)."""
    name = "wpf_action" if rng.random() < 0.85 else "crmhooks_action"
    pairs = [(name, valid_action(rng)), ("contact_id", digits(rng))]
    return sprinkle(rng, pairs)


def gen_unknown_action(rng, key):
    action = unknown_action(rng)
    pairs = sprinkle(rng, [("wpf_action", action), ("contact_id", digits(rng))])
    if rng.random() < 0.2:
        pairs = [("wpf_action", action), ("crmhooks_action", "add"), ("contact_id", digits(rng))]
    method = rng.choice([b"GET", b"GET", b"POST", b"PUT"])
    body = ct = None
    if method != b"GET" and rng.random() < 0.6:
        ct = b"application/x-www-form-urlencoded"
        body = qs([("wpf_action", "add"), ("contact[id]", digits(rng))])
    return keyed(rng, key, "unknown_action", pairs, method, ct, body, key_in_body=rng.random() < 0.2)


def gen_bad_contact_id(rng, key):
    bad = rng.choice(BAD_IDS)
    if bad == "" and rng.random() < 0.5:
        bad = " " * rng.randrange(1, 4)
    shape = rng.randrange(4)
    action = valid_action(rng)
    if shape <= 1:  # in the query, no body
        value = b"%00" if rng.random() < 0.08 else enc(bad)
        return keyed(rng, key, "bad_contact_id", sprinkle(rng, [("wpf_action", action), ("contact_id", value)]))
    if shape == 2:  # contact[id] in a form body wins over a good query contact_id
        body = qs([("contact[id]", bad), ("type", "update")])
        return keyed(rng, key, "bad_contact_id", [("wpf_action", action), ("contact_id", digits(rng))],
                     rng.choice([b"POST", b"PUT"]), b"application/x-www-form-urlencoded", body,
                     key_in_body=rng.random() < 0.3)
    value = rng.choice([bad, -1, 1.5, -42, 1e21, True, 4.0])
    body = json.dumps({"contact": {"id": value}, "type": "subscribe"}).encode()
    if value in ("", " ") or (isinstance(value, str) and not value.strip()):
        body = json.dumps({"contact": {"id": "abc"}}).encode()
    return keyed(rng, key, "bad_contact_id", [("wpf_action", action), ("contact_id", digits(rng))],
                 b"POST", b"application/json", body)


BAD_ESCAPES = [b"%", b"%4", b"%zz", b"%G1", b"%%", b"%-1", b"%+1", b"%u0041", b"%%32%35", b"%\xff"]


def gen_bad_percent(rng, key):
    esc = rng.choice(BAD_ESCAPES[:-1]) if rng.random() < 0.9 else BAD_ESCAPES[-1]
    where = rng.randrange(3)
    if where == 0:
        action = rng.choice([b"upd" + esc + b"ate", b"add" + esc, esc + b"update", b"add" + esc + b"_user"])
        pairs = [("wpf_action", action), ("contact_id", digits(rng))]
    elif where == 1:
        pairs = [("wpf_action", valid_action(rng)), ("contact_id", digits(rng, 1, 5).encode() + esc)]
    else:
        pairs = [("wpf_action", valid_action(rng)), (b"contact" + esc + b"_id", digits(rng)),
                 ("contact_id", b"4" + esc + b"2"), (b"tag" + esc, esc)]
    return keyed(rng, key, "bad_percent", sprinkle(rng, pairs))


NON_UTF8 = [b"%FF", b"%FE", b"%C3%28", b"%A0%A1", b"%E2%28%A1", b"%F0%28%8C%BC", b"%ED%A0%80", b"%C0%AF",
            b"%F8%88%80%80%80", b"%80", b"caf%E9"]
RAW_NON_UTF8 = [b"\xff", b"\xfe\xff", b"\xc3\x28", b"\xe9t\xe9", b"\x80", b"\xed\xa0\x80", b"\xc0\xaf"]


def gen_ff_query(rng, key):
    raw = rng.random() < 0.35
    bad = rng.choice(RAW_NON_UTF8 if raw else NON_UTF8)
    param = rng.choice(["role", "contact_id", "wpf_action", "tag", "email", "x", "__name__"])
    pairs = good_pairs(rng)
    if param == "__name__":
        pairs.append((b"n" + bad, "1"))
    elif param in ("wpf_action", "contact_id"):
        pairs = [(k, v) for k, v in pairs if k != param] + [(param, bad)]
    else:
        pairs.append((param, b"a" + bad + b"b"))
    return keyed(rng, key, "ff_query", pairs)


def gen_nonutf8_body(rng, key):
    bad = rng.choice(NON_UTF8 + RAW_NON_UTF8)
    fields = [("type", "update"), ("contact[id]", digits(rng)), ("contact[first_name]", b"J" + bad + b"ne"),
              ("contact[fields][1]", "Gold")]
    rng.shuffle(fields)
    if rng.random() < 0.3:
        fields.append((b"contact%5Bfields%5D%5B" + bad + b"%5D", "x"))
    ct = rng.choice([b"application/x-www-form-urlencoded", b"application/x-www-form-urlencoded; charset=UTF-8",
                     b"Application/X-WWW-Form-URLEncoded"])
    return keyed(rng, key, "nonutf8_body", good_pairs(rng), rng.choice([b"POST", b"PUT"]), ct, qs(fields),
                 key_in_body=rng.random() < 0.2)


def gen_nonutf8_content_type(rng, key):
    ct = rng.choice([b"application/json; charset=\xff", b"text/\xe9", b"application/x-www-form-urlencoded\xff",
                     b"\xc3\x28", b"application/json\x80", b"text/plain; charset=\xfe\xff",
                     b"application/\xe2\x28\xa1+json"])
    method = rng.choice([b"POST", b"PUT", b"GET"])
    body = None if method == b"GET" else qs([("contact[id]", digits(rng))])
    return keyed(rng, key, "nonutf8_content_type", good_pairs(rng), method, ct, body)


INVALID_JSON = [b"{", b"}", b'{"a":', b'{"wpf_action":"add",}', b"{'a':1}", b'{"a":1}}', b'{"a":NaN}',
                b'{"a":Infinity}', b'{"contact":{"id":42}', b'{"a":1} x', b"\xef\xbb\xbf{}", b'{"a":"\x01"}',
                b'{"a":"\\x"}', b'{"a" 1}', b'{"a":01}', b'{"a":.5}', b'{"a":+1}', b'{"a":tru}', b"{,}",
                b'{"a":1,,"b":2}', b'{"a":"b', b"<xml/>", b"wpf_action=add", b'{"a":"\xff"}', b"{\x00}",
                b'{"a":1/*c*/}', b"{\n", b'{"contact":{"id":"42"}}garbage']


def gen_invalid_json(rng, key):
    body = rng.choice(INVALID_JSON)
    if rng.random() < 0.2:
        body = body + b" " * rng.randrange(1, 5000)
    ct = rng.choice([b"application/json", b"application/json; charset=utf-8", b"Application/JSON",
                     b"application/vnd.api+json"])
    return keyed(rng, key, "invalid_json", good_pairs(rng), rng.choice([b"POST", b"POST", b"PUT"]), ct, body)


JSON_NON_OBJECTS = [b"[]", b"[1,2]", b'"str"', b"42", b"null", b"true", b'[{"contact":{"id":1}}]', b"-0",
                    b'["wpf_action","add"]', b"1e999", b'""', b"[[[]]]"]


def gen_json_array(rng, key):
    body = rng.choice(JSON_NON_OBJECTS)
    ct = rng.choice([b"application/json", b"application/ld+json", b"application/json;charset=UTF-8"])
    return keyed(rng, key, "json_array", good_pairs(rng), rng.choice([b"POST", b"PUT"]), ct, body)


def gen_deep_json(rng, key):
    n = rng.choice([300, 1000, 5000, 10000, rng.randrange(200, 10001)])
    shape = rng.randrange(4)
    if shape == 0:
        body = b"[" * n + b"]" * n
    elif shape == 1:
        body = b'{"a":' * n + b"1" + b"}" * n
    elif shape == 2:
        body = b'{"contact":' + b'{"id":' * n + b"42" + b"}" * n + b"}"
    else:
        body = b"[" * n  # never closed
    ct = rng.choice([b"application/json", b"application/vnd.api+json"])
    return keyed(rng, key, "deep_json", good_pairs(rng), b"POST", ct, body)


def poison(rng, pairs):
    """Makes an otherwise valid query certainly refused: unknown action, %FF or %00."""
    kind = rng.randrange(3)
    if kind == 0:
        return [("wpf_action", unknown_action(rng))] + [p for p in pairs if p[0] != "wpf_action"]
    if kind == 1:
        return pairs + [("role", b"%FF")]
    return pairs + [("x", b"a%00b")]


def gen_deep_form_keys(rng, key):
    shape = rng.randrange(3)
    if shape == 0:  # form body, within PHP's max_input_nesting_level (64) so PHP parses it quietly
        depth = rng.randrange(9, 63)
        deep = b"contact" + b"%5Bx%5D" * depth
        body = qs([(deep, "1"), (b"contact" + b"[id]" * depth, digits(rng)), ("contact[id]", "abc")])
        return keyed(rng, key, "deep_form_keys", good_pairs(rng), b"POST", b"application/x-www-form-urlencoded", body)
    if shape == 1:  # body PHP does not parse (text/plain): 10k bracket levels reach the library only
        depth = rng.choice([1000, 5000, 10000])
        body = b"a" + rng.choice([b"[b]", b"[", b"[]", b"]["]) * depth + b"=1&contact[id]=" + enc(digits(rng))
        return keyed(rng, key, "deep_form_keys", poison(rng, good_pairs(rng)), b"POST",
                     rng.choice([b"text/plain", b"application/octet-stream", b""]), body)
    depth = rng.randrange(9, 60)  # query (short enough for nginx's 8k request line)
    pairs = poison(rng, good_pairs(rng)) + [(b"contact" + b"%5B1%5D" * depth, "x"), (b"a" + b"[" * depth, "y")]
    return keyed(rng, key, "deep_form_keys", pairs)


def gen_nul(rng, key):
    shape = rng.randrange(8)
    if shape == 0:
        return keyed(rng, key, "nul_bytes", good_pairs(rng) + [("role", b"sub%00scriber")])
    if shape == 1:
        return keyed(rng, key, "nul_bytes", good_pairs(rng) + [(b"x%00y", "1")])
    if shape == 2:
        return keyed(rng, key, "nul_bytes", [("wpf_action", b"add%00"), ("contact_id", digits(rng))])
    if shape == 3:  # raw NUL in a form body
        body = b"type=update&contact[first_name]=J\x00ne&contact[id]=" + enc(digits(rng))
        return keyed(rng, key, "nul_bytes", good_pairs(rng), b"POST", b"application/x-www-form-urlencoded", body)
    if shape == 4:
        body = b"contact%5Bfirst_name%5D=J%00ne&type=update"
        return keyed(rng, key, "nul_bytes", good_pairs(rng), rng.choice([b"POST", b"PUT"]),
                     b"application/x-www-form-urlencoded", body, key_in_body=True)
    if shape == 5:
        body = json.dumps({"type": "update", "tag": "vip\u0000x", "contact": {"id": digits(rng)}}).encode()
        return keyed(rng, key, "nul_bytes", good_pairs(rng), b"POST", b"application/json", body)
    if shape == 6:  # raw NUL in the request line: nginx refuses it itself
        return keyed(rng, key, "nul_bytes", good_pairs(rng) + [("role", b"a\x00b")])
    # NUL in the Content-Type header: nginx refuses it itself
    return keyed(rng, key, "nul_bytes", poison(rng, good_pairs(rng)), b"POST", b"application/json\x00", b"{}")


HUGE_COUNTS = [10000, 10000, 20000, 50000]


@functools.lru_cache(maxsize=None)
def huge_body(shape, n):
    """Big parameter lists, built once per size (the bytes are the same every time)."""
    if shape == "fields":
        return b"&".join(b"contact[fields][%d]=v" % i for i in range(n))
    if shape == "json_members":
        return b",".join(b'"%d":"v"' % i for i in range(n))
    if shape == "list":
        return b"&".join(b"a[]=%d" % i for i in range(n))
    return b"&".join(b"f%d=%d" % (i, i) for i in range(n))


def gen_huge_params(rng, key):
    shape = rng.choice([0, 0, 1, 1, 2, 3, 4])  # the big bodies (2-4) cost the most
    if shape == 0:  # query with up to ~900 parameters: under PHP's max_input_vars (1000), under 8 KiB
        n = rng.randrange(300, 900)
        pairs = poison(rng, good_pairs(rng)) + [("p%d" % i, b"") for i in range(n)]
        return keyed(rng, key, "huge_params", pairs)
    if shape == 1:  # form body with up to 990 parameters (PHP parses these into $_POST)
        body = huge_body("form", rng.choice([500, 800, 990]))
        return keyed(rng, key, "huge_params", poison(rng, good_pairs(rng)), b"POST",
                     b"application/x-www-form-urlencoded", body)
    if shape == 2:  # 10k-50k pairs in a body PHP does not parse
        body = huge_body("fields", rng.choice(HUGE_COUNTS))
        return keyed(rng, key, "huge_params", poison(rng, good_pairs(rng)), b"POST", b"text/plain", body)
    if shape == 3:  # JSON object with 10k-50k members
        members = huge_body("json_members", rng.choice(HUGE_COUNTS))
        body = b'{"contact":{"id":"' + enc(digits(rng)) + b'","fields":{' + members + b"}}}"
        return keyed(rng, key, "huge_params", poison(rng, good_pairs(rng)), b"POST", b"application/json", body)
    if rng.random() < 0.1:  # rarely: an overlong request line (nginx answers 414 itself)
        pairs = poison(rng, good_pairs(rng)) + [("p%d" % i, b"1") for i in range(2500)]
        return keyed(rng, key, "huge_params", pairs)
    body = huge_body("list", rng.choice(HUGE_COUNTS))
    return keyed(rng, key, "huge_params", poison(rng, good_pairs(rng)), b"PUT", b"application/octet-stream", body)


def gen_bad_method(rng, key):
    method = rng.choice([b"DELETE", b"PATCH", b"HEAD", b"OPTIONS", b"DELETE", b"PATCH", b"HEAD", b"OPTIONS",
                         b"PROPFIND", b"MKCOL", b"LINK"])
    body = ct = None
    if method in (b"DELETE", b"PATCH") and rng.random() < 0.5:
        ct = b"application/x-www-form-urlencoded"
        body = qs([("contact[id]", digits(rng))])
    return keyed(rng, key, "bad_method", good_pairs(rng), method, ct, body, rest=False)


RIGHT_KEY_GENERATORS = [gen_unknown_action, gen_bad_contact_id, gen_bad_percent, gen_ff_query, gen_nonutf8_body,
                        gen_nonutf8_content_type, gen_invalid_json, gen_json_array, gen_deep_json,
                        gen_deep_form_keys, gen_nul]
AUTH_GENERATORS = [gen_no_key, gen_wrong_key, gen_unicode_ws_key, gen_body_wrong_key]


def gen_rest(rng, key):
    """The REST route with the same garbage (GET/POST: the route has no other methods)."""
    while True:
        gen = rng.choice(RIGHT_KEY_GENERATORS + AUTH_GENERATORS)
        req = gen(rng, key)
        if req.method in (b"GET", b"POST") and b"\x00" not in req.query and b"\x00" not in (req.content_type or b""):
            break
    path, lead = webhook_target(rng, True)
    query = req.query
    if req.rest:
        path = req.path
    elif lead:
        query = qs(lead) + (b"&" + query if query else b"")
    req.category, req.path, req.query, req.rest = "rest_route", path, query, True
    return req


def gen_big_body(rng, key):
    size = MAX_BODY_BYTES + rng.choice([1, 2, 100, 4096, 65536])
    shape = rng.randrange(3)
    if shape == 0:
        prefix = b'{"contact":{"id":"42"},"x":"'
        body = prefix + b"a" * (size - len(prefix) - 2) + b'"}'
        ct = b"application/json"
    elif shape == 1:
        body = b"contact[id]=42&x=" + b"b" * (size - 17)
        ct = b"application/x-www-form-urlencoded"
    else:
        body = b"c" * size
        ct = b"application/octet-stream"
    return keyed(rng, key, "big_body", good_pairs(rng), rng.choice([b"POST", b"PUT"]), ct, body, rest=False)


CATEGORIES = AUTH_GENERATORS + RIGHT_KEY_GENERATORS + [gen_huge_params, gen_bad_method, gen_rest]


def build(seed, index, total, big_bodies, key):
    rng = random.Random("%s:%d" % (seed, index))
    big_at = {int((k + 0.5) * total / big_bodies) for k in range(big_bodies)} if big_bodies else set()
    if index in big_at:
        return gen_big_body(rng, key)
    return CATEGORIES[index % len(CATEGORIES)](rng, key)


# ---------------------------------------------------------------------------------------------
# HTTP over raw sockets (arbitrary bytes in the request line and headers).
# ---------------------------------------------------------------------------------------------

def request_bytes(req, host):
    target = req.path + (b"?" + req.query if req.query else b"")
    lines = [req.method + b" " + target + b" HTTP/1.1", b"Host: " + host.encode(), b"Connection: close",
             b"User-Agent: crmhooks-flood/1", b"Accept: */*"]
    if req.content_type is not None:
        lines.append(b"Content-Type: " + req.content_type)
    if req.body is not None:
        lines.append(b"Content-Length: %d" % len(req.body))
    lines.extend(req.extra_headers)
    return b"\r\n".join(lines) + b"\r\n\r\n" + (req.body or b"")


def dechunk(data):
    out = bytearray()
    while True:
        line, sep, rest = data.partition(b"\r\n")
        if not sep:
            return bytes(out)
        try:
            size = int(line.split(b";")[0].strip(), 16)
        except ValueError:
            return bytes(out)
        if size == 0:
            return bytes(out)
        out += rest[:size]
        data = rest[size + 2:]


def send(host, port, req, timeout):
    started = time.monotonic()
    sock = socket.create_connection((host, port), timeout=timeout)
    send_error = None
    try:
        try:
            sock.sendall(request_bytes(req, "%s:%d" % (host, port)))
        except OSError as e:  # the server may answer and close before reading everything
            send_error = e
        chunks = []
        while True:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        sock.close()
    data = b"".join(chunks)
    head, sep, rest = data.partition(b"\r\n\r\n")
    if not sep:
        raise OSError("no HTTP answer (%d bytes; send error: %r)" % (len(data), send_error))
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ")[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower().decode("latin-1")
        headers[name] = (headers[name] + b", " if name in headers else b"") + value.strip()
    if req.method == b"HEAD":
        body = b""
    elif b"chunked" in headers.get("transfer-encoding", b"").lower():
        body = dechunk(rest)
    elif "content-length" in headers:
        body = rest[: int(headers["content-length"])]
    else:
        body = rest
    return status, headers, body, time.monotonic() - started


def origin(req, status, headers, body):
    """(who answered, what it said): the plugin's JSON refusal, WordPress's REST server, nginx."""
    try:
        doc = json.loads(body) if body else None
    except ValueError:
        doc = None
    if isinstance(doc, dict) and doc.get("success") is False and "error" in doc:
        what = str(doc["error"]) + (":" + str(doc["parameter"]) if "parameter" in doc else "")
        return "library", what
    if isinstance(doc, dict) and "code" in doc:
        return "wp_rest", str(doc["code"])
    if not body and headers.get("expires", b"").startswith(b"Wed, 11 Jan 1984"):
        return "library", "(no body: HEAD)"  # the plugin's no-cache headers
    if b"<center>nginx" in body:
        return "nginx", "(html)"
    return "other", "?"


# ---------------------------------------------------------------------------------------------
# The run.
# ---------------------------------------------------------------------------------------------

def shorten(data, limit=240):
    text = repr(data)
    return text if len(text) <= limit else text[:limit] + "...(%d bytes)" % len(data)


class Stats:
    SAMPLES = 5

    def __init__(self):
        self.lock = threading.Lock()
        self.status = {}
        self.by_origin = {}
        self.by_category = {}
        self.proofs = {}
        self.samples = {}
        self.counts = {}
        self.bodies_401 = {}
        self.latencies = []

    def bump(self, table, *keys):
        for key in keys[:-1]:
            table = table.setdefault(key, {})
        table[keys[-1]] = table.get(keys[-1], 0) + 1

    def count(self, name, sample=None):
        self.counts[name] = self.counts.get(name, 0) + 1
        if sample is not None:
            bucket = self.samples.setdefault(name, [])
            if len(bucket) < self.SAMPLES:
                bucket.append(sample)


def describe(index, req, status=None, body=None, note=None):
    entry = {"index": index, "category": req.category, "method": req.method.decode("latin-1"),
             "target": shorten(req.path + b"?" + req.query), "content_type": shorten(req.content_type),
             "body_bytes": len(req.body or b"")}
    if status is not None:
        entry["status"] = status
        entry["answer"] = shorten(body, 400)
    if note:
        entry["note"] = note
    return entry


def run(args, key):
    targets = []
    for url in args.url:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme != "http" or not parts.hostname:
            raise SystemExit("flood.py: only http://host:port URLs (got %r)" % url)
        targets.append((parts.hostname, parts.port or 80))
    stats = Stats()
    next_index = [0]
    index_lock = threading.Lock()
    key_bytes = key.encode()

    def work():
        while True:
            with index_lock:
                index = next_index[0]
                if index >= args.requests:
                    return
                next_index[0] += 1
            try:
                req = build(args.seed, index, args.requests, args.big_bodies, key)
                proof = prove_refused(req, key)
            except Exception as e:  # a generator bug must show, not kill the thread
                with stats.lock:
                    stats.count("generator_errors", {"index": index, "note": repr(e)})
                continue
            with stats.lock:
                stats.bump(stats.proofs, proof or "UNPROVEN")
                if proof is None:
                    stats.count("generator_errors", describe(index, req, note="cannot prove refusal: not sent"))
                    continue
            if args.dry_run:
                with stats.lock:
                    stats.bump(stats.by_category, req.category, "dry_run")
                continue
            host, port = targets[index % len(targets)]
            try:
                status, headers, body, seconds = send(host, port, req, args.timeout)
            except (OSError, ValueError, IndexError) as e:
                with stats.lock:
                    stats.count("transport_errors", describe(index, req, note=repr(e)))
                continue
            where, what = origin(req, status, headers, body)
            with stats.lock:
                stats.latencies.append(seconds)
                stats.bump(stats.status, str(status))
                stats.bump(stats.by_origin, where, str(status))
                stats.bump(stats.by_category, req.category, "%s %d %s" % (where, status, what))
                if status >= 500:
                    stats.count("server_errors", describe(index, req, status, body))
                if where in ("library", "wp_rest") and status not in LIBRARY_STATUSES:
                    stats.count("unexpected_status", describe(index, req, status, body))
                if where == "nginx" and not 400 <= status < 500:
                    stats.count("unexpected_status", describe(index, req, status, body))
                if where == "other":
                    stats.count("unknown_origin", describe(index, req, status, body))
                if proof == "unauthorized" and where == "library" and status != 401:
                    stats.count("unauthorized_not_401", describe(index, req, status, body))
                if proof != "unauthorized" and status == 401:
                    stats.count("keyed_got_401", describe(index, req, status, body))
                if status == 401:
                    digest = hashlib.sha256(body).hexdigest()
                    entry = stats.bodies_401.setdefault(digest, {"count": 0, "body": shorten(body, 400)})
                    entry["count"] += 1
                if key_bytes in body:
                    stats.count("key_in_body", describe(index, req, status, body))
                if any(key_bytes in v for v in headers.values()):
                    stats.count("key_in_headers", describe(index, req, status, body))

    started = time.monotonic()
    threads = [threading.Thread(target=work, daemon=True) for _ in range(args.concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started

    latencies = sorted(stats.latencies)
    pick = lambda q: round(latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000, 1) if latencies else None
    c = lambda name: stats.counts.get(name, 0)
    sent = len(latencies)
    identical_401 = len(stats.bodies_401) <= 1 and all(
        e["body"] == repr(UNAUTHORIZED_BODY) for e in stats.bodies_401.values())
    summary = {
        "requests": args.requests,
        "sent": sent,
        "dry_run": args.dry_run,
        "seed": args.seed,
        "concurrency": args.concurrency,
        "urls": args.url,
        "elapsed_seconds": round(elapsed, 2),
        "latency_ms": {"p50": pick(0.5), "p99": pick(0.99), "max": pick(1.0)},
        "status_counts": dict(sorted(stats.status.items())),
        "origin_counts": {o: dict(sorted(s.items())) for o, s in sorted(stats.by_origin.items())},
        "library_answers": sum(stats.by_origin.get("library", {}).values()),
        "category_counts": {k: dict(sorted(v.items())) for k, v in sorted(stats.by_category.items())},
        "proofs": dict(sorted(stats.proofs.items())),
        "auth_401": {
            "count": sum(e["count"] for e in stats.bodies_401.values()),
            "distinct_bodies": len(stats.bodies_401),
            "bodies": sorted(stats.bodies_401.values(), key=lambda e: -e["count"])[:5],
            "identical": identical_401,
        },
        "server_errors": c("server_errors"),
        "unexpected_status": c("unexpected_status"),
        "unknown_origin": c("unknown_origin"),
        "unauthorized_not_401": c("unauthorized_not_401"),
        "keyed_got_401": c("keyed_got_401"),
        "key_in_body": c("key_in_body"),
        "key_in_headers": c("key_in_headers"),
        "transport_errors": c("transport_errors"),
        "generator_errors": c("generator_errors"),
        "samples": stats.samples,
    }
    failed = [name for name in ("server_errors", "unexpected_status", "unknown_origin", "unauthorized_not_401",
                                "keyed_got_401", "key_in_body", "key_in_headers", "transport_errors",
                                "generator_errors") if summary[name]]
    if not identical_401:
        failed.append("auth_401.identical")
    if not args.dry_run and sent != args.requests:
        failed.append("sent")
    summary["failed_checks"] = failed
    summary["ok"] = not failed
    return summary


def self_test():
    """The proof function must still recognise valid webhooks, or every proof would be worthless."""
    key = "k3y-Value_0123456789abcdef"
    form = b"application/x-www-form-urlencoded"
    valid = [
        Req("", b"GET", b"/", b"wpf_action=update&contact_id=42&access_key=" + key.encode()),
        Req("", b"GET", b"/", b"wpf_action=test&access_key=+" + key.encode() + b"%20"),
        Req("", b"GET", b"/", b"crmhooks_action=ADD&email=jane%40example.com&access_key=" + key.encode()),
        Req("", b"GET", b"/", b"wpf_action=add&contact_id=+42+&access_key=%09" + key.encode()),
        Req("", b"POST", b"/", b"wpf_action=add", form, b"contact%5Bid%5D=42&access_key=" + key.encode()),
        Req("", b"POST", b"/", b"wpf_action=add&access_key=" + key.encode(), b"application/json",
            b'{"contact":{"id":42,"fields":{"1":"Gold"}},"x":' + b"[" * 100 + b"]" * 100 + b"}"),
        Req("", b"POST", b"/", b"wpf_action=update_tags&access_key=" + key.encode(), b"text/plain", b"\xff\x00{"),
        Req("", b"GET", b"/", b"wpf_action=add&contact_id=1&access_key=" + key.encode(), None, b"\xff"),  # GET body unread
        Req("", b"PUT", b"/", b"wpf_action=update&contact_id=1&" + b"a" + b"[x]" * 9 + b"=%00&access_key=" + key.encode()),
    ]
    refused = [
        (Req("", b"GET", b"/", b"wpf_action=update&contact_id=42"), "unauthorized"),
        (Req("", b"GET", b"/", b"wpf_action=update&contact_id=42&access_key=" + key.encode() + b"%E3%80%80"), "unauthorized"),
        (Req("", b"GET", b"/", b"wpf_action=update&contact_id=42&access_key=" + key.encode() + b"%0B"), "unauthorized"),
        (Req("", b"GET", b"/", b"wpf_action=test&access_key=" + key.encode() + b"&access_key=x"), "unauthorized"),
        (Req("", b"GET", b"/", b"wpf_action=update&contact_id=abc&access_key=" + key.encode()), "bad_contact_id"),
        (Req("", b"GET", b"/", b"wpf_action=update&contact_id=1&role=%FF&access_key=" + key.encode()), "query_not_utf8"),
        (Req("", b"DELETE", b"/", b"wpf_action=test&access_key=" + key.encode()), "method"),
        (Req("", b"POST", b"/", b"wpf_action=add&access_key=" + key.encode(), b"application/json", b"[1]"), "json_not_object"),
        (Req("", b"POST", b"/", b"wpf_action=add&access_key=" + key.encode(), b"application/json", b"[" * 200 + b"]" * 200), "json_too_deep"),
    ]
    for req in valid:
        assert prove_refused(req, key) is None, "self-test: a valid webhook was called refused: %r" % req.query
    for req, reason in refused:
        assert prove_refused(req, key) == reason, "self-test: %r is not %s" % (req.query, reason)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", action="append", required=True, help="site base URL; repeat to alternate sites")
    parser.add_argument("--key", default=None, help="the site's access key (default: $CRMHOOKS_ACCESS_KEY)")
    parser.add_argument("--requests", type=int, default=10000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--seed", default="20240601")
    parser.add_argument("--big-bodies", type=int, default=6, help="requests with bodies just over 4 MiB")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per request")
    parser.add_argument("--dry-run", action="store_true", help="build and prove every request, send nothing")
    args = parser.parse_args(argv)
    key = args.key if args.key is not None else os.environ.get("CRMHOOKS_ACCESS_KEY", "")
    if not trim_ascii(key):
        parser.error("no access key: pass --key or set CRMHOOKS_ACCESS_KEY")
    if args.requests < 1 or args.concurrency < 1 or args.big_bodies < 0:
        parser.error("--requests and --concurrency must be positive, --big-bodies not negative")
    self_test()
    summary = run(args, key)
    json.dump(summary, sys.stdout, indent=1, sort_keys=False)
    sys.stdout.write("\n")
    return 0 if summary["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""CRM stand-in: a fake ActiveCampaign (API v3) and Ontraport (API 1) in one process.

Wire formats follow /work/shared/docs/crm-protocols.md. Python 3.11 standard library only.

  python3 tests/standin/standin.py --host 127.0.0.1 --port PORT --seed tests/standin/seed.json [--port-file F]

ActiveCampaign lives under /api/3/, Ontraport under /1/, the test control interface under /_control/.
"""

import argparse
import collections
import copy
import datetime
import json
import os
import re
import signal
import socket
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

OP_ACCOUNT_ID = 12345
AC_RATE_PER_SECOND = 5
OP_RATE_PER_MINUTE = 180
AC_PAGE_DEFAULT, AC_PAGE_MAX = 20, 100
OP_PAGE_MAX = 50
WEBHOOK_TIMEOUT_SECS = 10
DEFAULT_HANG_MS = 30000
AC_LINK_BASE = "https://acct.api-us1.com/api/3"
JSON_TYPE = "application/json; charset=utf-8"
TEXT_TYPE = "text/plain; charset=utf-8"
FORM_TYPE = "application/x-www-form-urlencoded"
OP_STANDARD_KEYS = {"firstname": "first_name", "lastname": "last_name", "email": "email",
                    "office_phone": "phone"}

DEFAULT_CONFIG = {"ac_rate_limit": True, "ac_limit_mode": "429", "op_rate_limit": True,
                  "op_background_delay_ms": 0,
                  # False: GET /contacts/{id} leaves out the sideloaded fieldValues (clients must
                  # then read /contacts/{id}/fieldValues).
                  "ac_sideload_field_values": True,
                  # False: GET /contacts/{id} ignores `include` (a server without it) and
                  # answers with the default sideloads, which leave contactTags out.
                  "ac_include": True,
                  # Seconds the CRM's clock runs ahead of (or, negative, behind) the machine's:
                  # every change stamp (udate, dlm) and list filter uses it.
                  "clock_offset_secs": 0}
INT_CONFIG_KEYS = ("op_background_delay_ms", "clock_offset_secs")

# The CRM's clock: the machine's plus the configured offset (set from Standin.config).
CLOCK = {"offset_secs": 0}


class SeedError(Exception):
    """A seed document that cannot be loaded (message names the problem, never a value)."""


class Reply:
    """One HTTP answer: status, headers, body bytes."""

    def __init__(self, status, body=b"", content_type=JSON_TYPE, headers=None):
        self.status = status
        self.body = body if isinstance(body, bytes) else body.encode("utf-8")
        self.headers = dict(headers or {})
        if content_type is not None:
            self.headers.setdefault("Content-Type", content_type)


def json_reply(status, obj, headers=None):
    return Reply(status, json.dumps(obj), JSON_TYPE, headers)


def text_reply(status, text, headers=None):
    return Reply(status, text, TEXT_TYPE, headers)


def crm_time():
    """Now by the CRM's clock (Unix seconds)."""
    return time.time() + CLOCK["offset_secs"]


def now_iso():
    return datetime.datetime.fromtimestamp(crm_time(), datetime.timezone.utc).astimezone().isoformat(
        timespec="seconds")


def op_stamp():
    return str(int(crm_time()))


def iso_seconds(text):
    """An ISO-8601 time or date as Unix seconds (no zone: the stand-in's local zone); None if bad."""
    try:
        parsed = datetime.datetime.fromisoformat(str(text).strip())
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.astimezone()
    return parsed.timestamp()


def id_sort_key(value):
    return (0, int(value)) if str(value).isdigit() else (1, str(value))


# ---------------------------------------------------------------------------------------------
# Seed loading


def _require(cond, message):
    if not cond:
        raise SeedError(message)


def _str_map(value, where):
    _require(isinstance(value, dict), f"{where} must be an object")
    for key, val in value.items():
        _require(isinstance(val, str), f"{where} values must be strings")
    return {str(k): v for k, v in value.items()}


def load_seed(doc):
    """Validate a seed document and build a fresh state dictionary."""
    _require(isinstance(doc, dict), "seed must be a JSON object")
    try:
        return _load_sections(doc)
    except (TypeError, AttributeError, ValueError) as err:
        raise SeedError(f"malformed seed ({type(err).__name__})") from None


def _load_sections(doc):
    ac_doc = doc.get("activecampaign", {})
    op_doc = doc.get("ontraport", {})
    _require(isinstance(ac_doc, dict) and isinstance(op_doc, dict), "crm sections must be objects")
    return {"ac": _load_ac(ac_doc), "op": _load_op(op_doc)}


def _load_ac(doc):
    _require(isinstance(doc.get("api_token", ""), str), "activecampaign.api_token must be a string")
    ac = {"api_token": doc.get("api_token", "ac-test-token"), "tags": {}, "fields": {},
          "contacts": {}, "field_values": {}, "contact_tags": {},
          "next_tag": 1, "next_fv": 501, "next_ct": 101, "next_contact": 1}
    for tag in doc.get("tags", []):
        _require(isinstance(tag, dict) and "id" in tag and isinstance(tag.get("name"), str),
                 "activecampaign.tags entries need id and name")
        tid = str(tag["id"])
        ac["tags"][tid] = {"id": tid, "name": tag["name"], "tagType": tag.get("tagType", "contact"),
                           "description": tag.get("description", ""), "cdate": now_iso()}
    for field in doc.get("fields", []):
        _require(isinstance(field, dict) and "id" in field and isinstance(field.get("title"), str),
                 "activecampaign.fields entries need id and title")
        fid = str(field["id"])
        ac["fields"][fid] = {"id": fid, "title": field["title"],
                             "perstag": field.get("perstag", re.sub(r"\W+", "_", field["title"]).upper()),
                             "type": field.get("type", "text")}
    ac["next_tag"] = _next_id(ac["tags"], 1)
    for contact in doc.get("contacts", []):
        _require(isinstance(contact, dict) and "id" in contact, "activecampaign.contacts entries need id")
        cid = str(contact["id"])
        tags = [str(t) for t in contact.get("tags", [])]
        for tid in tags:
            _require(tid in ac["tags"], "activecampaign contact refers to an unknown tag id")
        fields = _str_map(contact.get("fields", {}), "activecampaign contact fields")
        for fid in fields:
            _require(fid in ac["fields"], "activecampaign contact refers to an unknown field id")
        ac_put_contact(ac, cid, {"email": contact.get("email", ""),
                                 "first_name": contact.get("first_name", ""),
                                 "last_name": contact.get("last_name", ""),
                                 "phone": contact.get("phone", "")}, tags, fields)
    ac["next_contact"] = _next_id(ac["contacts"], 1)
    return ac


def _load_op(doc):
    _require(isinstance(doc.get("app_id", ""), str) and isinstance(doc.get("api_key", ""), str),
             "ontraport credentials must be strings")
    op = {"app_id": doc.get("app_id", "op-test-app"), "api_key": doc.get("api_key", "op-test-key"),
          "tags": {}, "fields": {}, "contacts": {}, "next_tag": 1}
    for tag in doc.get("tags", []):
        _require(isinstance(tag, dict) and "id" in tag and isinstance(tag.get("name"), str),
                 "ontraport.tags entries need id and name")
        op["tags"][str(tag["id"])] = tag["name"]
    for field in doc.get("fields", []):
        _require(isinstance(field, dict) and isinstance(field.get("key"), str)
                 and isinstance(field.get("alias"), str), "ontraport.fields entries need key and alias")
        op["fields"][field["key"]] = {"alias": field["alias"], "type": field.get("type", "text")}
    op["next_tag"] = _next_id(op["tags"], 1)
    for contact in doc.get("contacts", []):
        _require(isinstance(contact, dict) and "id" in contact, "ontraport.contacts entries need id")
        tags = [str(t) for t in contact.get("tags", [])]
        for tid in tags:
            _require(tid in op["tags"], "ontraport contact refers to an unknown tag id")
        fields = _str_map(contact.get("fields", {}), "ontraport contact fields")
        for key in fields:
            _require(key in op["fields"], "ontraport contact refers to an unknown field key")
        op_put_contact(op, str(contact["id"]), contact, tags, fields)
    return op


def _next_id(table, minimum):
    numbers = [int(k) for k in table if str(k).isdigit()]
    return max([minimum - 1] + numbers) + 1


def ac_put_contact(ac, cid, std, tag_ids, fields):
    """Create or replace an AC contact; row ids of kept tags / fields stay stable."""
    old = ac["contacts"].get(cid)
    stamp = now_iso()
    contact = {"id": cid, "email": std.get("email", "") or "", "first_name": std.get("first_name", "") or "",
               "last_name": std.get("last_name", "") or "", "phone": std.get("phone", "") or "",
               "cdate": old["cdate"] if old else stamp, "udate": stamp,
               "fields": {}, "fv_ids": {}, "tags": [], "ct_ids": {}}
    if old:
        _ac_drop_rows(ac, old)
    for fid, value in fields.items():
        fvid = old["fv_ids"].get(fid) if old else None
        if fvid is None:
            fvid = str(ac["next_fv"])
            ac["next_fv"] += 1
        contact["fields"][fid] = value
        contact["fv_ids"][fid] = fvid
        ac["field_values"][fvid] = {"contact": cid, "field": fid, "cdate": stamp, "udate": stamp}
    for tid in tag_ids:
        if tid in contact["ct_ids"]:
            continue
        ctid = old["ct_ids"].get(tid) if old else None
        if ctid is None:
            ctid = str(ac["next_ct"])
            ac["next_ct"] += 1
        contact["tags"].append(tid)
        contact["ct_ids"][tid] = ctid
        ac["contact_tags"][ctid] = {"contact": cid, "tag": tid, "cdate": stamp}
    ac["contacts"][cid] = contact
    return contact


def _ac_drop_rows(ac, contact):
    for fvid in contact["fv_ids"].values():
        ac["field_values"].pop(fvid, None)
    for ctid in contact["ct_ids"].values():
        ac["contact_tags"].pop(ctid, None)


def op_put_contact(op, cid, std, tag_ids, fields):
    old = op["contacts"].get(cid)
    stamp = op_stamp()
    op["contacts"][cid] = {
        "id": cid, "email": std.get("email", "") or "", "first_name": std.get("first_name", "") or "",
        "last_name": std.get("last_name", "") or "", "phone": std.get("phone", "") or "",
        "tags": list(dict.fromkeys(tag_ids)), "fields": dict(fields),
        "date": old["date"] if old else stamp, "dlm": stamp}


# ---------------------------------------------------------------------------------------------
# The shared state (one lock guards everything below)


class Standin:
    def __init__(self, seed_doc, verbose=False):
        self.lock = threading.Lock()
        self.stop_event = threading.Event()
        self.verbose = verbose
        self.seed_doc = copy.deepcopy(seed_doc)
        self.epoch = 0  # Counts resets (see _reset_locked).
        self._reset_locked(load_seed(seed_doc))

    def _reset_locked(self, state):
        # A request still waiting out a latency fault when the reset came must not count in the
        # new rate windows (admit compares the epoch it started in).
        self.epoch += 1
        self.ac = state["ac"]
        self.op = state["op"]
        self.log = []
        self.seq = 0
        self.faults = []
        self.config = dict(DEFAULT_CONFIG)
        self.pending_op_writes = []  # (due_monotonic, callable) for background writes
        self.ac_window = collections.deque()  # monotonic times of served AC requests, last second
        self.op_window = collections.deque()  # monotonic times of served OP requests, last minute
        self.stats = {"requests": {"ac": 0, "op": 0}, "rate_limited": {"ac": 0, "op": 0},
                      "max_per_second": {"ac": 0}, "max_per_minute": {"op": 0}}

    def reset(self, seed_doc=None):
        previous, CLOCK["offset_secs"] = CLOCK["offset_secs"], 0  # the seed is stamped by the machine's clock
        try:
            state = load_seed(seed_doc if seed_doc is not None else self.seed_doc)
        except SeedError:
            CLOCK["offset_secs"] = previous
            raise
        with self.lock:
            self._reset_locked(state)

    # -- log ---------------------------------------------------------------------------------
    def log_start(self, crm, method, path, query, headers, body, **extra):
        with self.lock:
            self.seq += 1
            entry = {"seq": self.seq, "crm": crm, "method": method, "path": path, "query": query,
                     "headers": headers, "body": body, "status": None, **extra}
            self.log.append(entry)
            return entry

    def log_finish(self, entry, status, **extra):
        with self.lock:
            entry["status"] = status
            entry.update(extra)

    # -- faults ------------------------------------------------------------------------------
    def take_fault(self, crm, path_and_query):
        with self.lock:
            for fault in self.faults:
                if fault["crm"] not in ("any", crm):
                    continue
                if fault["path_regex"] and not re.search(fault["path_regex"], path_and_query):
                    continue
                fault["count"] -= 1
                if fault["count"] <= 0:
                    self.faults.remove(fault)
                return dict(fault)
        return None

    # -- rate limiting -----------------------------------------------------------------------
    def admit(self, crm, epoch):
        """Count one API request; return (allowed, info) where info carries limit details."""
        now = time.monotonic()
        with self.lock:
            if epoch != self.epoch:
                return True, None  # Started before a reset: outside every window (headers computed afresh).
            self.stats["requests"][crm] += 1
            if crm == "ac":
                window, span, limit, enabled = self.ac_window, 1.0, AC_RATE_PER_SECOND, self.config["ac_rate_limit"]
            else:
                window, span, limit, enabled = self.op_window, 60.0, OP_RATE_PER_MINUTE, self.config["op_rate_limit"]
            while window and window[0] <= now - span:
                window.popleft()
            if enabled and len(window) >= limit:
                self.stats["rate_limited"][crm] += 1
                reset = max(1, int(window[0] + span - now + 0.999))
                return False, {"remaining": 0, "reset": reset, "mode": self.config["ac_limit_mode"]}
            window.append(now)
            if crm == "ac":
                self.stats["max_per_second"]["ac"] = max(self.stats["max_per_second"]["ac"], len(window))
            else:
                self.stats["max_per_minute"]["op"] = max(self.stats["max_per_minute"]["op"], len(window))
            reset = max(1, int(window[0] + span - now + 0.999))
            return True, {"remaining": max(0, limit - len(window)), "reset": reset}

    def op_rate_headers(self, info=None):
        if info is None:
            now = time.monotonic()
            with self.lock:
                live = [t for t in self.op_window if t > now - 60.0]
                reset = max(1, int(live[0] + 60.0 - now + 0.999)) if live else 60
                info = {"remaining": max(0, OP_RATE_PER_MINUTE - len(live)), "reset": reset}
        return {"X-Rate-Limit-Limit": str(OP_RATE_PER_MINUTE),
                "X-Rate-Limit-Remaining": str(info["remaining"]),
                "X-Rate-Limit-Reset": str(info["reset"])}

    # -- Ontraport background writes -----------------------------------------------------------
    def apply_due_writes_locked(self):
        now = time.monotonic()
        due = [w for w in self.pending_op_writes if w[0] <= now]
        self.pending_op_writes = [w for w in self.pending_op_writes if w[0] > now]
        for _, apply in due:
            apply()

    def op_write_locked(self, apply):
        delay = self.config.get("op_background_delay_ms") or 0
        if delay > 0:
            self.pending_op_writes.append((time.monotonic() + delay / 1000.0, apply))
        else:
            apply()

    # -- snapshot for /_control/state -------------------------------------------------------------
    def snapshot_locked(self):
        self.apply_due_writes_locked()
        ac, op = self.ac, self.op
        return {
            "activecampaign": {
                "api_token": ac["api_token"],
                "tags": [{"id": t["id"], "name": t["name"], "tagType": t["tagType"]} for t in ac["tags"].values()],
                "fields": [dict(f) for f in ac["fields"].values()],
                "contacts": [{"id": c["id"], "email": c["email"], "first_name": c["first_name"],
                              "last_name": c["last_name"], "phone": c["phone"], "tags": list(c["tags"]),
                              "tag_names": [ac["tags"][t]["name"] for t in c["tags"] if t in ac["tags"]],
                              "fields": dict(c["fields"])} for c in ac["contacts"].values()]},
            "ontraport": {
                "app_id": op["app_id"], "api_key": op["api_key"],
                "tags": [{"id": k, "name": v} for k, v in op["tags"].items()],
                "fields": [{"key": k, "alias": f["alias"], "type": f["type"]} for k, f in op["fields"].items()],
                "contacts": [{"id": c["id"], "email": c["email"], "first_name": c["first_name"],
                              "last_name": c["last_name"], "phone": c["phone"], "tags": list(c["tags"]),
                              "tag_names": [op["tags"][t] for t in c["tags"] if t in op["tags"]],
                              "fields": dict(c["fields"])} for c in op["contacts"].values()],
                "pending_writes": len(self.pending_op_writes)},
        }


# ---------------------------------------------------------------------------------------------
# ActiveCampaign API v3


def ac_not_found(entity, ident):
    return json_reply(404, {"message": f"No Result found for {entity} with id {ident}"})


def ac_unprocessable(title, code="invalid", pointer=""):
    return json_reply(422, {"errors": [{"title": title, "detail": "", "code": code,
                                        "source": {"pointer": pointer}}]})


def ac_field_value_json(ac, fvid, with_audit=False):
    row = ac["field_values"][fvid]
    contact = ac["contacts"][row["contact"]]
    item = {"contact": row["contact"], "field": row["field"], "value": contact["fields"].get(row["field"], ""),
            "cdate": row["cdate"], "udate": row["udate"],
            "links": {"owner": f"{AC_LINK_BASE}/fieldValues/{fvid}/owner",
                      "field": f"{AC_LINK_BASE}/fieldValues/{fvid}/field"},
            "id": fvid, "owner": row["contact"]}
    if with_audit:
        item["created_by"] = None
        item["updated_by"] = None
    return item


def ac_contact_fv_ids(contact):
    return [contact["fv_ids"][fid] for fid in sorted(contact["fv_ids"], key=id_sort_key)]


def ac_contact_json(contact):
    cid = contact["id"]
    local, _, domain = contact["email"].partition("@")
    return {"cdate": contact["cdate"], "email": contact["email"], "phone": contact["phone"],
            "firstName": contact["first_name"], "lastName": contact["last_name"], "orgid": "0",
            "segmentio_id": "", "bounced_hard": "0", "bounced_soft": "0", "bounced_date": None,
            "ip": "0", "ua": None, "hash": "", "socialdata_lastcheck": None, "email_local": local,
            "email_domain": domain, "sentcnt": "0", "rating_tstamp": None, "gravatar": "0", "deleted": "0",
            "adate": None, "udate": contact["udate"], "edate": None, "contactAutomations": [],
            "contactLists": [], "fieldValues": ac_contact_fv_ids(contact), "geoIps": [], "deals": [],
            "accountContacts": [],
            "links": {"contactTags": f"{AC_LINK_BASE}/contacts/{cid}/contactTags",
                      "fieldValues": f"{AC_LINK_BASE}/contacts/{cid}/fieldValues"},
            "id": cid, "organization": None}


def ac_contact_full(ac, contact):
    return {"contactAutomations": [], "contactLists": [], "deals": [],
            "fieldValues": [ac_field_value_json(ac, fvid) for fvid in ac_contact_fv_ids(contact)],
            "geoAddresses": [], "geoIps": [], "contact": ac_contact_json(contact)}


def ac_tag_json(tag, single=False):
    item = {"tagType": tag["tagType"], "tag": tag["name"], "description": tag["description"],
            "cdate": tag["cdate"],
            "links": {"contactGoalTags": f"{AC_LINK_BASE}/tags/{tag['id']}/contactGoalTags"}, "id": tag["id"]}
    if single:
        item["subscriber_count"] = "0"
    return item


def ac_field_json(field, order):
    fid = field["id"]
    return {"title": field["title"], "descript": None, "type": field["type"], "isrequired": "0",
            "perstag": field["perstag"], "defval": None, "show_in_list": "0", "rows": "0", "cols": "0",
            "visible": "1", "service": "", "ordernum": str(order), "cdate": "2024-01-10T09:00:00-06:00",
            "udate": "2024-01-10T09:00:00-06:00", "options": [], "relations": [],
            "links": {"options": f"{AC_LINK_BASE}/fields/{fid}/options",
                      "relations": f"{AC_LINK_BASE}/fields/{fid}/relations"}, "id": fid}


def ac_contact_tag_json(ctid, row):
    stamp = row["cdate"].replace("T", " ")[:19]
    return {"contact": row["contact"], "tag": row["tag"], "cdate": row["cdate"],
            "created_timestamp": stamp, "updated_timestamp": stamp, "created_by": None, "updated_by": None,
            "links": {"tag": f"{AC_LINK_BASE}/contactTags/{ctid}/tag",
                      "contact": f"{AC_LINK_BASE}/contactTags/{ctid}/contact"}, "id": ctid}


def page_params(query, default, maximum, start_key="offset", size_key="limit"):
    def number(key, fallback):
        try:
            return max(0, int(query.get(key, [str(fallback)])[0]))
        except ValueError:
            return fallback
    size = number(size_key, default) or default
    return number(start_key, 0), min(size, maximum)


def ac_set_field_locked(ac, contact, fid, value):
    stamp = now_iso()
    if fid not in contact["fv_ids"]:
        fvid = str(ac["next_fv"])
        ac["next_fv"] += 1
        contact["fv_ids"][fid] = fvid
        ac["field_values"][fvid] = {"contact": contact["id"], "field": fid, "cdate": stamp, "udate": stamp}
    contact["fields"][fid] = value
    ac["field_values"][contact["fv_ids"][fid]]["udate"] = stamp
    contact["udate"] = stamp
    return contact["fv_ids"][fid]


AC_TIME_FILTERS = {"filters[updated_after]": ("udate", lambda at, bound: at > bound),
                   "filters[updated_before]": ("udate", lambda at, bound: at < bound),
                   "filters[created_after]": ("cdate", lambda at, bound: at > bound),
                   "filters[created_before]": ("cdate", lambda at, bound: at < bound)}


def ac_list_contacts(ac, query):
    """GET /contacts filters as the v3 spec documents them: email, tagid, id_greater, id_less,
    filters[updated_after|updated_before|created_after|created_before] (a date or a time with a
    zone; "after" and "before" are strict), orders[id]. Returns the rows or an error Reply."""
    def one(key):
        return query.get(key, [None])[0]

    email = one("email") if one("email") is not None else one("filters[email]")
    rows = [c for c in ac["contacts"].values() if email is None or c["email"].lower() == email.strip().lower()]
    tagid = one("tagid")
    if tagid is not None:
        rows = [c for c in rows if tagid.strip() in c["tags"]]
    for key, keep in (("id_greater", lambda cid, bound: cid > bound), ("id_less", lambda cid, bound: cid < bound)):
        if one(key) is not None:
            if not one(key).strip().isdigit():
                return ac_unprocessable(f"{key} must be an integer")
            rows = [c for c in rows if c["id"].isdigit() and keep(int(c["id"]), int(one(key)))]
    for key, (stamp, keep) in AC_TIME_FILTERS.items():
        if one(key) is not None:
            bound = iso_seconds(one(key))
            if bound is None:
                return ac_unprocessable(f"{key} must be a date")
            rows = [c for c in rows if keep(iso_seconds(c[stamp]), bound)]
    order = one("orders[id]")
    if order is not None:
        rows.sort(key=lambda c: id_sort_key(c["id"]), reverse=order.strip().upper() == "DESC")
    return rows


def handle_ac(st, method, path, query, body):
    """Route one authenticated AC request (path without the /api/3 prefix). Caller holds the lock."""
    ac = st.ac
    parts = [p for p in path.split("/") if p]

    def parse_body():
        try:
            data = json.loads(body.decode("utf-8")) if body else None
        except (ValueError, UnicodeDecodeError):
            return None, ac_unprocessable("Invalid JSON in request body")
        if not isinstance(data, dict):
            return None, ac_unprocessable("Request body must be a JSON object")
        return data, None

    if parts == ["contacts"] and method == "GET":
        rows = ac_list_contacts(ac, query)
        if isinstance(rows, Reply):
            return rows
        offset, limit = page_params(query, AC_PAGE_DEFAULT, AC_PAGE_MAX)
        return json_reply(200, {"contacts": [ac_contact_json(c) for c in rows[offset:offset + limit]],
                                "meta": {"total": str(len(rows))}})
    if len(parts) >= 2 and parts[0] == "contacts":
        cid = parts[1]
        contact = ac["contacts"].get(cid)
        if len(parts) == 2 and method == "GET":
            if not contact:
                return ac_not_found("Subscriber", cid)
            full = ac_contact_full(ac, contact)
            if not st.config["ac_sideload_field_values"]:
                del full["fieldValues"]
            include = ",".join(query.get("include", [])).split(",")
            if st.config["ac_include"] and include != [""]:
                # `include` names the sideloads: only those (and the contact) are answered.
                full["contactTags"] = [ac_contact_tag_json(contact["ct_ids"][t], ac["contact_tags"][contact["ct_ids"][t]])
                                       for t in contact["tags"]]
                full = {key: value for key, value in full.items() if key == "contact" or key in include}
            return json_reply(200, full)
        if len(parts) == 2 and method == "PUT":
            data, error = parse_body()
            if error:
                return error
            if not contact:
                return ac_not_found("Subscriber", cid)
            fields = data.get("contact")
            if not isinstance(fields, dict):
                return ac_unprocessable("contact is required", "field_missing", "/data/attributes/contact")
            for key, std in (("email", "email"), ("firstName", "first_name"), ("lastName", "last_name"),
                             ("phone", "phone")):
                if key in fields and fields[key] is not None:
                    contact[std] = str(fields[key])
            for item in fields.get("fieldValues") or []:
                if isinstance(item, dict) and str(item.get("field")) in ac["fields"]:
                    value = item.get("value")
                    ac_set_field_locked(ac, contact, str(item["field"]), "" if value is None else str(value))
            contact["udate"] = now_iso()
            full = ac_contact_full(ac, contact)
            return json_reply(200, {"fieldValues": full["fieldValues"], "contact": full["contact"]})
        if len(parts) == 3 and parts[2] == "contactTags" and method == "GET":
            if not contact:
                return json_reply(404, {"errors": [{"status": 404, "title": "Not Found",
                                                    "detail": "Contact not found"}]})
            return json_reply(200, {"contactTags": [ac_contact_tag_json(contact["ct_ids"][t],
                                                                        ac["contact_tags"][contact["ct_ids"][t]])
                                                    for t in contact["tags"]]})
        if len(parts) == 3 and parts[2] == "fieldValues" and method == "GET":
            if not contact:
                return ac_not_found("Subscriber", cid)
            return json_reply(200, {"fieldValues": [ac_field_value_json(ac, fvid, True)
                                                    for fvid in ac_contact_fv_ids(contact)]})
    if parts == ["tags"] and method == "GET":
        search = query.get("search", [None])[0]
        rows = [t for t in ac["tags"].values() if search is None or search.lower() in t["name"].lower()]
        rows.sort(key=lambda t: id_sort_key(t["id"]))
        offset, limit = page_params(query, AC_PAGE_DEFAULT, AC_PAGE_MAX)
        return json_reply(200, {"tags": [ac_tag_json(t) for t in rows[offset:offset + limit]],
                                "meta": {"total": str(len(rows))}})
    if parts == ["tags"] and method == "POST":
        data, error = parse_body()
        if error:
            return error
        tag = data.get("tag")
        if not isinstance(tag, dict) or not isinstance(tag.get("tag"), str) or not tag["tag"].strip():
            return ac_unprocessable("Tag name is required", "field_missing", "/data/attributes/tag")
        if any(t["name"].lower() == tag["tag"].lower() for t in ac["tags"].values()):
            return ac_unprocessable("Duplicate entry for tag", "duplicate", "/data/attributes/tag")
        tid = str(ac["next_tag"])
        ac["next_tag"] += 1
        ac["tags"][tid] = {"id": tid, "name": tag["tag"], "tagType": tag.get("tagType", "contact"),
                           "description": tag.get("description", ""), "cdate": now_iso()}
        return json_reply(201, {"tag": ac_tag_json(ac["tags"][tid])})
    if len(parts) == 2 and parts[0] == "tags" and method == "GET":
        tag = ac["tags"].get(parts[1])
        return json_reply(200, {"tag": ac_tag_json(tag, True)}) if tag else ac_not_found("Tag", parts[1])
    if len(parts) == 2 and parts[0] == "tags" and method == "PUT":
        # "Update a tag" (PUT /api/3/tags/{id}): how an admin renames a tag.
        tag = ac["tags"].get(parts[1])
        if not tag:
            return ac_not_found("Tag", parts[1])
        data, error = parse_body()
        if error:
            return error
        item = data.get("tag")
        if not isinstance(item, dict) or not isinstance(item.get("tag"), str) or not item["tag"].strip():
            return ac_unprocessable("Tag name is required", "field_missing", "/data/attributes/tag")
        if any(t["name"].lower() == item["tag"].lower() and t["id"] != tag["id"] for t in ac["tags"].values()):
            return ac_unprocessable("Duplicate entry for tag", "duplicate", "/data/attributes/tag")
        tag["name"] = item["tag"]
        if isinstance(item.get("description"), str):
            tag["description"] = item["description"]
        return json_reply(200, {"tag": ac_tag_json(tag, True)})
    if parts == ["fields"] and method == "GET":
        perstag = query.get("filters[perstag]", [None])[0]
        rows = sorted(ac["fields"].values(), key=lambda f: id_sort_key(f["id"]))
        order = {f["id"]: i + 1 for i, f in enumerate(rows)}
        if perstag is not None:
            rows = [f for f in rows if f["perstag"].lower() == perstag.lower()]
        offset, limit = page_params(query, AC_PAGE_DEFAULT, AC_PAGE_MAX)
        return json_reply(200, {"fieldOptions": [], "fieldRels": [],
                                "fields": [ac_field_json(f, order[f["id"]]) for f in rows[offset:offset + limit]],
                                "meta": {"total": str(len(rows))}})
    if parts[:1] == ["fieldValues"] and ((len(parts) == 1 and method == "POST")
                                         or (len(parts) == 2 and method == "PUT")):
        data, error = parse_body()
        if error:
            return error
        item = data.get("fieldValue")
        if not isinstance(item, dict) or "field" not in item or "value" not in item:
            return ac_unprocessable("fieldValue is required", "field_missing", "/data/attributes/fieldValue")
        if len(parts) == 2:
            row = ac["field_values"].get(parts[1])
            if not row:
                return ac_not_found("FieldValue", parts[1])
            cid = row["contact"]
        else:
            cid = str(item.get("contact", ""))
        contact = ac["contacts"].get(cid)
        if not contact:
            return ac_not_found("Subscriber", cid)
        fid = str(item["field"])
        if fid not in ac["fields"]:
            return ac_not_found("Field", fid)
        value = "" if item["value"] is None else str(item["value"])
        fvid = ac_set_field_locked(ac, contact, fid, value)
        echo = dict(item)
        echo.update({"cdate": ac["field_values"][fvid]["cdate"], "udate": ac["field_values"][fvid]["udate"],
                     "links": {"owner": f"{AC_LINK_BASE}/fieldValues/{fvid}/owner",
                               "field": f"{AC_LINK_BASE}/fieldValues/{fvid}/field"},
                     "owner": item.get("contact", cid), "id": fvid})
        return json_reply(200, {"contacts": [ac_contact_json(contact)], "fieldValue": echo})
    if parts == ["contactTags"] and method == "POST":
        data, error = parse_body()
        if error:
            return error
        item = data.get("contactTag")
        if not isinstance(item, dict) or "contact" not in item or "tag" not in item:
            return ac_unprocessable("contactTag is required", "field_missing", "/data/attributes/contactTag")
        cid, tid = str(item["contact"]), str(item["tag"])
        contact = ac["contacts"].get(cid)
        if not contact:
            return ac_not_found("Subscriber", cid)
        if tid not in ac["tags"]:
            return ac_not_found("Tag", tid)
        if tid not in contact["ct_ids"]:
            ctid = str(ac["next_ct"])
            ac["next_ct"] += 1
            contact["tags"].append(tid)
            contact["ct_ids"][tid] = ctid
            ac["contact_tags"][ctid] = {"contact": cid, "tag": tid, "cdate": now_iso()}
            contact["udate"] = now_iso()
        ctid = contact["ct_ids"][tid]
        return json_reply(201, {"contacts": [ac_contact_json(contact)],
                                "contactTag": ac_contact_tag_json(ctid, ac["contact_tags"][ctid])})
    if len(parts) == 2 and parts[0] == "contactTags" and method == "DELETE":
        row = ac["contact_tags"].pop(parts[1], None)
        if not row:
            return ac_not_found("ContactTag", parts[1])
        contact = ac["contacts"].get(row["contact"])
        if contact:
            contact["tags"] = [t for t in contact["tags"] if t != row["tag"]]
            contact["ct_ids"].pop(row["tag"], None)
            contact["udate"] = now_iso()
        return json_reply(200, {})
    return json_reply(404, {"message": "Not Found"})


# ---------------------------------------------------------------------------------------------
# Ontraport API 1


def op_ok(data):
    return json_reply(200, {"code": 0, "data": data, "account_id": OP_ACCOUNT_ID})


def op_not_found():
    return text_reply(404, "Object not found")


def op_contact_json(op, contact):
    cat = "".join(f"*/*{t}" for t in contact["tags"]) + "*/*" if contact["tags"] else ""
    data = {"id": contact["id"], "owner": "1", "firstname": contact["first_name"],
            "lastname": contact["last_name"], "email": contact["email"], "address": None, "city": None,
            "state": None, "zip": None, "country": None, "birthday": None, "sms_number": None,
            "office_phone": contact["phone"] or None, "company": None, "title": None, "website": None,
            "date": contact["date"], "dla": contact["dlm"], "dlm": contact["dlm"], "system_source": "3",
            "source_location": None, "ip_addy": None, "ip_addy_display": None, "import_id": "0",
            "contact_cat": cat, "bulk_mail": "1", "bulk_sms": "0", "bindex": "1", "profile_image": None,
            "updateSequence": "", "updateCampaign": "", "unique_id": f"SI{int(contact['id']):05d}"
            if contact["id"].isdigit() else "SI00000"}
    for key in op["fields"]:
        data[key] = contact["fields"].get(key, "")
    return data


def op_meta(op):
    fields = {key: {"alias": f["alias"], "type": f["type"], "required": 0, "unique": 0, "editable": 1,
                    "deletable": 1} for key, f in op["fields"].items()}
    return op_ok({"0": {"name": "Contact", "fields": fields}})


def op_parse_body(body, content_type):
    """Ontraport accepts JSON (WP Fusion) and form bodies (vendor SDK)."""
    text = body.decode("utf-8", errors="replace")
    if "json" in content_type or text.lstrip().startswith("{"):
        try:
            data = json.loads(text)
        except ValueError:
            return None
        return data if isinstance(data, dict) else None
    return {k: v[-1] for k, v in urllib.parse.parse_qs(text, keep_blank_values=True).items()}


def op_id_list(value):
    if isinstance(value, list):
        return [str(v).strip() for v in value if str(v).strip()]
    return [v.strip() for v in str(value or "").split(",") if v.strip()]


OP_OPERATORS = {"=": lambda a, b: a == b, "<>": lambda a, b: a != b, ">": lambda a, b: a > b,
                "<": lambda a, b: a < b, ">=": lambda a, b: a >= b, "<=": lambda a, b: a <= b}


def op_comparable(value):
    """Numbers compare as numbers (Ontraport values are strings: "1709126253"), the rest as text."""
    text = "" if value is None else str(value)
    try:
        return (0, float(text), "")
    except ValueError:
        return (1, 0.0, text.lower())


def op_condition_holds(row, condition):
    field = condition.get("field", {}).get("field") if isinstance(condition.get("field"), dict) else None
    op = str(condition.get("op", "")).upper()
    value = condition.get("value") if isinstance(condition.get("value"), dict) else {}
    if not isinstance(field, str) or field not in row:
        raise ValueError("unknown condition field")
    actual = row[field]
    if op in OP_OPERATORS:
        return OP_OPERATORS[op](op_comparable(actual), op_comparable(value.get("value")))
    if op in ("IN", "NOT IN"):
        listed = [op_comparable(item.get("value")) for item in value.get("list", []) if isinstance(item, dict)]
        return (op_comparable(actual) in listed) == (op == "IN")
    if op == "IS":
        return actual in (None, "") if value.get("value") is None else op_comparable(actual) == op_comparable(
            value.get("value"))
    if op == "LIKE":
        pattern = "^" + re.escape(str(value.get("value", ""))).replace("%", ".*").replace("_", ".") + "$"
        return re.match(pattern, "" if actual is None else str(actual), re.IGNORECASE | re.DOTALL) is not None
    raise ValueError("unknown condition operator")


def op_criteria_hold(row, criteria):
    """Ontraport criteria: [condition, "AND"|"OR", condition, ...], read left to right."""
    result, joiner = None, None
    for item in criteria:
        if isinstance(item, str):
            if item.upper() not in ("AND", "OR") or result is None or joiner is not None:
                raise ValueError("bad condition joiner")
            joiner = item.upper()
            continue
        if not isinstance(item, dict):
            raise ValueError("bad condition")
        holds = op_condition_holds(row, item)
        if result is None:
            result = holds
        elif joiner is None:
            raise ValueError("conditions must be joined with AND or OR")
        else:
            result = (result and holds) if joiner == "AND" else (result or holds)
        joiner = None
    if joiner is not None:
        raise ValueError("a condition joiner ends the criteria")
    return True if result is None else result


def op_list(op, contacts, query):
    """A contact list with the documented parameters: condition (criteria JSON), sort + sortDir,
    start + range (at most 50), listFields (comma list; id is always there)."""
    q = {k: v[-1] for k, v in query.items()}
    rows = [op_contact_json(op, c) for c in contacts]
    if q.get("condition", "").strip():
        try:
            criteria = json.loads(q["condition"])
            if isinstance(criteria, dict):
                criteria = [criteria]
            if not isinstance(criteria, list):
                raise ValueError("criteria must be a list")
            rows = [row for row in rows if op_criteria_hold(row, criteria)]
        except (ValueError, TypeError, AttributeError):
            return text_reply(400, "Invalid condition")
    sort = q.get("sort", "").strip()
    if sort:
        if rows and sort not in rows[0]:
            return text_reply(400, "Invalid sort field")
        rows.sort(key=lambda row: op_comparable(row.get(sort)), reverse=q.get("sortDir", "asc").lower() == "desc")
    start, size = page_params(query, OP_PAGE_MAX, OP_PAGE_MAX, "start", "range")
    rows = rows[start:start + size]
    fields = [f.strip() for f in q.get("listFields", "").split(",") if f.strip()]
    if fields:
        rows = [{key: row.get(key) for key in ["id"] + [f for f in fields if f != "id"]} for row in rows]
    return op_ok(rows)


def handle_op(st, method, path, query, body, content_type):
    """Route one authenticated OP request (path without the /1 prefix). Caller holds the lock."""
    op = st.op
    st.apply_due_writes_locked()
    q = {k: v[-1] for k, v in query.items()}
    lower = path.rstrip("/").lower()

    if method == "GET" and (lower == "/contact" or (lower == "/object" and q.get("objectID", "0") == "0")):
        cid = q.get("id", "")
        if not cid:
            return text_reply(400, "Invalid Contact ID")
        contact = op["contacts"].get(cid)
        return op_ok(op_contact_json(op, contact)) if contact else op_not_found()
    if method == "GET" and lower == "/object/getbyemail":
        email = q.get("email", "").strip().lower()
        for contact in op["contacts"].values():
            if email and contact["email"].lower() == email:
                return op_ok({"id": contact["id"]})
        return op_not_found()
    if method == "GET" and (lower == "/tags" or (lower == "/objects" and q.get("objectID") == "14")):
        start, size = page_params(query, OP_PAGE_MAX, OP_PAGE_MAX, "start", "range")
        rows = sorted(op["tags"].items(), key=lambda kv: id_sort_key(kv[0]))[start:start + size]
        return op_ok([{"tag_id": k, "tag_name": v, "object_type_id": "0"} for k, v in rows])
    if method == "GET" and lower == "/tags/getinfo":
        return op_ok({"count": str(len(op["tags"]))})
    if method == "GET" and (lower == "/contacts" or (lower == "/objects" and q.get("objectID") == "0")):
        return op_list(op, list(op["contacts"].values()), query)
    if method == "GET" and lower == "/objects/tag":
        if q.get("objectID") != "0":
            return text_reply(400, "Invalid objectID")
        tag_id = q.get("tag_id", "").strip()
        if not tag_id and q.get("tag_name", "").strip():
            wanted = q["tag_name"].strip().lower()
            tag_id = next((tid for tid, name in op["tags"].items() if name.lower() == wanted), "")
            if not tag_id:
                return op_ok([])
        if not tag_id:
            return text_reply(400, "Either tag_id or tag_name is required")
        return op_list(op, [c for c in op["contacts"].values() if tag_id in c["tags"]], query)
    if method == "GET" and (lower == "/contacts/meta" or (lower == "/objects/meta" and q.get("objectID", "0") == "0")):
        return op_meta(op)
    data = None
    if method in ("PUT", "POST", "DELETE"):
        data = op_parse_body(body, content_type)
        if data is None:
            return text_reply(400, "Invalid request body")
    if method == "PUT" and (lower == "/contacts" or lower == "/objects"):
        if lower == "/objects" and str(data.get("objectID", "0")) != "0":
            return text_reply(400, "Invalid objectID")
        cid = str(data.get("id", "")).strip()
        if not cid:
            return text_reply(400, "Invalid Contact ID")
        if cid not in op["contacts"]:
            return op_not_found()
        changes = {}
        for key, value in data.items():
            if key in OP_STANDARD_KEYS or key in op["fields"]:
                changes[key] = "" if value is None else str(value)

        def apply(cid=cid, changes=changes):
            contact = op["contacts"].get(cid)
            if not contact:
                return
            for key, value in changes.items():
                if key in OP_STANDARD_KEYS:
                    contact[OP_STANDARD_KEYS[key]] = value
                else:
                    contact["fields"][key] = value
            contact["dlm"] = op_stamp()

        st.op_write_locked(apply)
        attrs = dict(changes)
        attrs.update({"dlm": op_stamp(), "id": cid})
        return op_ok({"attrs": attrs})
    if lower == "/objects/tag" and method in ("PUT", "DELETE"):
        if str(data.get("objectID", "0")) != "0":
            return text_reply(400, "Invalid objectID")
        ids = op_id_list(data.get("ids"))
        tag_ids = op_id_list(data.get("add_list" if method == "PUT" else "remove_list"))
        if not ids or not tag_ids:
            return text_reply(400, "Invalid request body")
        if any(cid not in op["contacts"] for cid in ids):
            return op_not_found()
        if any(tid not in op["tags"] for tid in tag_ids):
            return text_reply(400, "Invalid tag id")

        def apply(ids=ids, tag_ids=tag_ids, add=(method == "PUT")):
            for cid in ids:
                contact = op["contacts"].get(cid)
                if not contact:
                    continue
                if add:
                    contact["tags"] = list(dict.fromkeys(contact["tags"] + tag_ids))
                else:
                    contact["tags"] = [t for t in contact["tags"] if t not in tag_ids]
                contact["dlm"] = op_stamp()

        st.op_write_locked(apply)
        return op_ok("The tag is now being processed.")
    if lower == "/tags" and method == "POST":
        name = data.get("tag_name")
        if not isinstance(name, str) or not name.strip():
            return text_reply(400, "Invalid tag name")
        for tid, existing in op["tags"].items():
            if existing.lower() == name.lower():
                return op_ok({"tag_id": tid, "tag_name": existing, "object_type_id": "0"})
        tid = str(op["next_tag"])
        op["next_tag"] += 1
        op["tags"][tid] = name
        return op_ok({"tag_id": tid, "tag_name": name, "object_type_id": "0"})
    return text_reply(404, "Object not found")


# ---------------------------------------------------------------------------------------------
# Webhook sender


def build_ac_account_body(ac, contact, spec):
    kind_type = spec.get("type") or "update"
    tag_names = [ac["tags"][t]["name"] for t in contact["tags"] if t in ac["tags"]]
    source = spec.get("initiated_from") or "admin"
    pairs = [("type", kind_type), ("date_time", spec.get("date_time") or now_iso()),
             ("initiated_from", source), ("initiated_by", spec.get("initiated_by") or source),
             ("list", str(spec.get("list", "1" if kind_type == "subscribe" else "0"))),
             ("contact[id]", contact["id"]), ("contact[email]", contact["email"]),
             ("contact[first_name]", contact["first_name"]), ("contact[last_name]", contact["last_name"]),
             ("contact[phone]", contact["phone"]), ("contact[ip]", "0.0.0.0"),
             ("contact[tags]", ", ".join(tag_names)), ("contact[customer_acct_name]", ""),
             ("contact[orgname]", "")]
    for fid in sorted(contact["fields"], key=id_sort_key):
        pairs.append((f"contact[fields][{fid}]", contact["fields"][fid]))
    pairs += [("customer_acct_name", ""), ("customer_acct_id", "0"), ("orgname", "")]
    if kind_type in ("contact_tag_added", "contact_tag_removed"):
        pairs.append(("tag", spec.get("tag") or ""))
    return urllib.parse.urlencode(pairs)


def build_ac_automation_body(ac, contact, spec):
    tag_names = [ac["tags"][t]["name"] for t in contact["tags"] if t in ac["tags"]]
    pairs = [("contact[id]", contact["id"]), ("contact[email]", contact["email"]),
             ("contact[first_name]", contact["first_name"]), ("contact[last_name]", contact["last_name"]),
             ("contact[phone]", contact["phone"]), ("contact[orgname]", ""),
             ("contact[customer_acct_name]", ""), ("contact[tags]", ", ".join(tag_names)),
             ("contact[ip4]", spec.get("ip4") or "127.0.0.1")]
    for fid in sorted(contact["fields"], key=id_sort_key):
        field = ac["fields"].get(fid)
        if field:
            pairs.append((f"contact[fields][{field['perstag'].lower()}]", contact["fields"][fid]))
    pairs.append(("seriesid", str(spec.get("seriesid") or "12")))
    return urllib.parse.urlencode(pairs)


def with_query_param(url, key, value):
    parts = urllib.parse.urlsplit(url)
    extra = urllib.parse.urlencode([(key, value)])
    query = f"{parts.query}&{extra}" if parts.query else extra
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


def build_webhook(st, spec, contact_id):
    """Return (url, method, headers, body bytes) or raise ValueError with a short reason."""
    url = spec.get("url")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise ValueError("url is required")
    kind = spec.get("kind")
    cid = str(contact_id) if contact_id is not None else ""
    with st.lock:
        st.apply_due_writes_locked()
        if kind in ("ac_account", "ac_automation"):
            contact = st.ac["contacts"].get(cid)
            if not contact:
                raise LookupError("unknown ac contact")
            body = (build_ac_account_body if kind == "ac_account" else build_ac_automation_body)(st.ac, contact, spec)
            return url, spec.get("method", "POST"), {"Content-Type": FORM_TYPE}, body.encode("utf-8")
        if kind == "op_ping":
            shape = spec.get("body") or "blank"
            contact = st.op["contacts"].get(cid)
            if shape != "blank" and not contact:
                raise LookupError("unknown op contact")
            target = with_query_param(url, "contact_id", cid) if cid else url
            if shape == "blank":
                return target, spec.get("method", "POST"), {"Content-Type": FORM_TYPE}, b""
            if shape == "form":
                body = urllib.parse.urlencode([("firstname", contact["first_name"]), ("email", contact["email"])])
                return target, spec.get("method", "POST"), {"Content-Type": FORM_TYPE}, body.encode("utf-8")
            if shape == "json":
                body = json.dumps({"contact_id": cid, "email": contact["email"]})
                return target, spec.get("method", "POST"), {"Content-Type": "application/json"}, body.encode("utf-8")
            raise ValueError("body must be blank, form or json")
    raise ValueError("kind must be ac_account, ac_automation or op_ping")


NO_PROXY_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def deliver(st, url, method, headers, body):
    parts = urllib.parse.urlsplit(url)
    sent_headers = dict(headers)
    sent_headers["User-Agent"] = "crmhooks-standin"
    entry = st.log_start("webhook", method, parts.path, parts.query, sent_headers,
                         body.decode("utf-8", errors="replace"), url=url)
    request = urllib.request.Request(url, data=body if method != "GET" else None, method=method,
                                     headers=sent_headers)
    try:
        with NO_PROXY_OPENER.open(request, timeout=WEBHOOK_TIMEOUT_SECS) as response:
            status, text = response.status, response.read().decode("utf-8", errors="replace")
    except urllib.error.HTTPError as err:
        status, text = err.code, err.read().decode("utf-8", errors="replace")
    except (urllib.error.URLError, OSError) as err:
        status, text = 0, f"delivery failed: {type(err).__name__}"
    st.log_finish(entry, status, response_body=text)
    return {"status": status, "body": text}


def send_for_contact(st, spec, contact_id):
    url, method, headers, body = build_webhook(st, spec, contact_id)
    times = max(1, int(spec.get("times", 1) or 1))
    return [deliver(st, url, method, headers, body) for _ in range(times)]


# ---------------------------------------------------------------------------------------------
# Control interface


def handle_control(st, method, path, query, body):
    parts = [p for p in path.split("/") if p]

    def parse():
        if not body:
            return None
        return json.loads(body.decode("utf-8"))

    try:
        if parts == ["health"] and method == "GET":
            return json_reply(200, {"ok": True})
        if parts == ["reset"] and method == "POST":
            doc = parse()
            try:
                st.reset(doc)
            except SeedError as err:
                return json_reply(400, {"error": f"bad seed: {err}"})
            return json_reply(200, {"ok": True})
        if parts == ["state"] and method == "GET":
            with st.lock:
                return json_reply(200, st.snapshot_locked())
        if len(parts) == 3 and parts[0] in ("ac", "op") and parts[1] == "contacts":
            return control_contact(st, parts[0], parts[2], method, parse)
        if len(parts) == 2 and parts[0] in ("ac", "op") and parts[1] == "contacts" and method == "POST":
            spec = parse()
            if not isinstance(spec, dict):
                raise ValueError("body must be an object")
            return json_reply(200, {"ids": create_contacts(st, parts[0], spec)})
        if parts == ["touch"] and method == "POST":
            spec = parse()
            if not isinstance(spec, dict):
                raise ValueError("body must be an object")
            touched = touch_contacts(st, spec)
            deliveries = []
            if spec.get("webhook") is not None:
                hook = spec["webhook"]
                if not isinstance(hook, dict):
                    raise ValueError("webhook must be an object")
                for cid in touched:
                    build_webhook(st, hook, cid)  # validate everything before sending anything
                for cid in touched:
                    deliveries += [dict(d, contact_id=cid) for d in send_for_contact(st, hook, cid)]
            return json_reply(200, {"touched": touched, "deliveries": deliveries})
        if parts == ["log"] and method == "GET":
            since = int(query.get("since", ["0"])[0] or 0)
            with st.lock:
                return json_reply(200, [dict(e) for e in st.log if e["seq"] > since])
        if parts == ["log", "count"] and method == "GET":
            return json_reply(200, {"count": count_log(st, query)})
        if parts == ["log"] and method == "DELETE":
            with st.lock:
                st.log = []
            return json_reply(200, {"ok": True})
        if parts == ["faults"] and method == "POST":
            doc = parse()
            faults = doc if isinstance(doc, list) else [doc]
            clean = [normalize_fault(f) for f in faults]
            with st.lock:
                st.faults.extend(clean)
                return json_reply(200, {"ok": True, "pending": len(st.faults)})
        if parts == ["faults"] and method == "GET":
            with st.lock:
                return json_reply(200, [dict(f) for f in st.faults])
        if parts == ["faults"] and method == "DELETE":
            with st.lock:
                st.faults = []
            return json_reply(200, {"ok": True})
        if parts == ["config"] and method in ("POST", "PUT"):
            doc = parse() or {}
            if not isinstance(doc, dict) or any(k not in DEFAULT_CONFIG for k in doc):
                return json_reply(400, {"error": "unknown config key"})
            if "ac_limit_mode" in doc and str(doc["ac_limit_mode"]) not in ("429", "503"):
                return json_reply(400, {"error": "ac_limit_mode must be 429 or 503"})
            with st.lock:
                for key, value in doc.items():
                    st.config[key] = str(value) if key == "ac_limit_mode" else (
                        int(value) if key in INT_CONFIG_KEYS else bool(value))
                CLOCK["offset_secs"] = st.config["clock_offset_secs"]
                return json_reply(200, dict(st.config))
        if parts == ["config"] and method == "GET":
            with st.lock:
                return json_reply(200, dict(st.config))
        if parts == ["stats"] and method == "GET":
            with st.lock:
                return json_reply(200, copy.deepcopy(st.stats))
        if parts == ["send_webhook"] and method == "POST":
            spec = parse()
            if not isinstance(spec, dict):
                return json_reply(400, {"error": "body must be an object"})
            return json_reply(200, {"deliveries": send_for_contact(st, spec, spec.get("contact_id"))})
        if parts == ["bulk_edit"] and method == "POST":
            spec = parse()
            if not isinstance(spec, dict) or not isinstance(spec.get("contact_ids"), list):
                return json_reply(400, {"error": "contact_ids is required"})
            for cid in spec["contact_ids"]:
                build_webhook(st, spec, cid)  # validate everything before sending anything
            workers = max(1, min(64, int(spec.get("concurrency", 8) or 8)))
            with ThreadPoolExecutor(max_workers=workers) as pool:
                results = list(pool.map(lambda cid: send_for_contact(st, spec, cid), spec["contact_ids"]))
            deliveries = [dict(d, contact_id=str(cid)) for cid, ds in zip(spec["contact_ids"], results) for d in ds]
            return json_reply(200, {"deliveries": deliveries})
    except LookupError as err:
        return json_reply(404, {"error": str(err)})
    except (ValueError, TypeError, KeyError, re.error) as err:
        return json_reply(400, {"error": f"bad control request: {type(err).__name__}: {err}"})
    return json_reply(404, {"error": "unknown control route"})


def count_log(st, query):
    """How many logged requests match: crm, method, path_regex (searched in path?query), status,
    since (a seq already seen)."""
    q = {k: v[-1] for k, v in query.items()}
    since = int(q.get("since") or 0)
    regex = re.compile(q["path_regex"]) if q.get("path_regex") else None
    with st.lock:
        entries = [dict(e) for e in st.log if e["seq"] > since]
    count = 0
    for entry in entries:
        target = entry["path"] + ("?" + entry["query"] if entry["query"] else "")
        if (q.get("crm") and entry["crm"] != q["crm"]) or (q.get("method") and entry["method"] != q["method"]):
            continue
        if q.get("status") and str(entry["status"]) != q["status"]:
            continue
        if regex and not regex.search(urllib.parse.unquote(target)):
            continue
        count += 1
    return count


def fill(template, cid, n):
    """A string value with {id} (the contact ID) and {n} (1-based position) filled in."""
    return template.replace("{id}", str(cid)).replace("{n}", str(n)) if isinstance(template, str) else template


def create_contacts(st, crm, spec):
    """Create `count` contacts with consecutive IDs (from `first_id`, else after the highest):
    email/first_name/last_name/phone templates, tag names (created when missing), fields."""
    count = int(spec.get("count") or 0)
    if not 1 <= count <= 10000:
        raise ValueError("count must be 1..10000")
    names, fields_in = spec.get("tags") or [], spec.get("fields") or {}
    if not isinstance(names, list) or not isinstance(fields_in, dict):
        raise ValueError("tags must be a list and fields an object")
    with st.lock:
        table = st.ac if crm == "ac" else st.op
        first = int(spec.get("first_id") or _next_id(table["contacts"], 1))
        ids = [str(first + i) for i in range(count)]
        if any(cid in table["contacts"] for cid in ids):
            raise ValueError("a contact with one of those IDs exists")
        tag_ids = [control_tag_id(table, crm, str(name)) for name in names if str(name).strip()]
        keys = {control_field_key(table, crm, str(key)): value for key, value in fields_in.items()}
        for n, cid in enumerate(ids, 1):
            std = {key: fill(spec.get(key, default), cid, n) for key, default in
                   (("email", "contact{id}@example.com"), ("first_name", "First{n}"), ("last_name", "Last{n}"),
                    ("phone", ""))}
            fields = {key: "" if value is None else str(fill(value, cid, n)) for key, value in keys.items()}
            if crm == "ac":
                ac_put_contact(st.ac, cid, std, tag_ids, fields)
            else:
                op_put_contact(st.op, cid, std, tag_ids, fields)
        if crm == "ac":
            st.ac["next_contact"] = _next_id(st.ac["contacts"], 1)
    return ids


def touch_contacts(st, spec):
    """Change contacts as a CRM user would, which stamps them changed now (by the CRM's clock):
    `ids`, or the first `count` by ID. `changes`: first_name, last_name, email, phone ({id} and
    {n} filled in), fields, add_tags / remove_tags (names). No webhook is sent unless asked."""
    crm = spec.get("crm")
    if crm not in ("ac", "op"):
        raise ValueError("crm must be ac or op")
    changes = spec.get("changes") or {}
    if not isinstance(changes, dict):
        raise ValueError("changes must be an object")
    with st.lock:
        st.apply_due_writes_locked()
        table = st.ac if crm == "ac" else st.op
        if spec.get("ids") is not None:
            ids = [str(cid) for cid in spec["ids"]]
            missing = [cid for cid in ids if cid not in table["contacts"]]
            if missing:
                raise LookupError(f"unknown {crm} contact")
        else:
            ids = sorted(table["contacts"], key=id_sort_key)[:max(0, int(spec.get("count") or 0))]
        add = [control_tag_id(table, crm, str(name)) for name in changes.get("add_tags") or []]
        remove = [control_tag_id(table, crm, str(name)) for name in changes.get("remove_tags") or []]
        fields = {control_field_key(table, crm, str(key)): value
                  for key, value in (changes.get("fields") or {}).items()}
        for n, cid in enumerate(ids, 1):
            contact = table["contacts"][cid]
            std = {key: fill(changes.get(key, contact[key]), cid, n)
                   for key in ("email", "first_name", "last_name", "phone")}
            tags = [t for t in contact["tags"] if t not in remove] + [t for t in add if t not in contact["tags"]]
            merged = dict(contact["fields"])
            merged.update({key: "" if value is None else str(fill(value, cid, n)) for key, value in fields.items()})
            if crm == "ac":
                ac_put_contact(st.ac, cid, std, tags, merged)
            else:
                op_put_contact(st.op, cid, std, tags, merged)
    return ids


def normalize_fault(doc):
    if not isinstance(doc, dict) or doc.get("kind") not in ("status", "latency", "drop", "hang"):
        raise ValueError("kind must be status, latency, drop or hang")
    crm = doc.get("crm", "any") or "any"
    if crm not in ("ac", "op", "any"):
        raise ValueError("crm must be ac, op or any")
    regex = doc.get("path_regex")
    if regex:
        re.compile(regex)
    default_delay = DEFAULT_HANG_MS if doc["kind"] == "hang" else 0
    return {"crm": crm, "path_regex": regex or None, "kind": doc["kind"],
            "status": int(doc.get("status") or 500), "retry_after": doc.get("retry_after"),
            "body": doc.get("body"), "content_type": doc.get("content_type"),
            "delay_ms": int(doc.get("delay_ms") if doc.get("delay_ms") is not None else default_delay),
            "count": max(1, int(doc.get("count") or 1))}


def control_contact(st, crm, cid, method, parse):
    with st.lock:
        table = st.ac if crm == "ac" else st.op
        if method == "DELETE":
            contact = table["contacts"].pop(cid, None)
            if not contact:
                return json_reply(404, {"error": "no such contact"})
            if crm == "ac":
                _ac_drop_rows(st.ac, contact)
            return json_reply(200, {"ok": True})
        if method == "GET":
            contact = table["contacts"].get(cid)
            return json_reply(200, contact) if contact else json_reply(404, {"error": "no such contact"})
        if method != "PUT":
            return json_reply(404, {"error": "unknown control route"})
        doc = parse() or {}
        if not isinstance(doc, dict):
            raise ValueError("body must be an object")
        names = doc.get("tags") or []
        fields_in = doc.get("fields") or {}
        if not isinstance(names, list) or not isinstance(fields_in, dict):
            raise ValueError("tags must be a list and fields an object")
        tag_ids = [control_tag_id(table, crm, str(name)) for name in names if str(name).strip()]
        fields = {}
        for key, value in fields_in.items():
            fields[control_field_key(table, crm, str(key))] = "" if value is None else str(value)
        if crm == "ac":
            ac_put_contact(st.ac, cid, doc, tag_ids, fields)
        else:
            op_put_contact(st.op, cid, doc, tag_ids, fields)
        return json_reply(200, {"ok": True, "id": cid, "tags": tag_ids})


def control_tag_id(table, crm, name):
    """Find a tag by name (case-insensitive) or create it."""
    for tid, tag in table["tags"].items():
        if (tag["name"] if crm == "ac" else tag).lower() == name.strip().lower():
            return tid
    tid = str(table["next_tag"])
    table["next_tag"] += 1
    if crm == "ac":
        table["tags"][tid] = {"id": tid, "name": name.strip(), "tagType": "contact", "description": "",
                              "cdate": now_iso()}
    else:
        table["tags"][tid] = name.strip()
    return tid


def control_field_key(table, crm, key):
    """Accept a field id/key, or its title/perstag/alias."""
    if key in table["fields"]:
        return key
    for fid, field in table["fields"].items():
        labels = (field["title"], field["perstag"]) if crm == "ac" else (field["alias"],)
        if key.lower() in (label.lower() for label in labels):
            return fid
    raise ValueError("unknown field key")


# ---------------------------------------------------------------------------------------------
# HTTP plumbing


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "crmhooks-standin"

    def version_string(self):
        return self.server_version

    def log_message(self, fmt, *args):
        if self.server.standin.verbose:
            sys.stderr.write("standin: %s\n" % (fmt % args))

    def do_GET(self):
        self.dispatch()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_GET

    def read_body(self):
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def send(self, reply):
        self.send_response(reply.status)
        for key, value in reply.headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(reply.body)

    def drop(self):
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def dispatch(self):
        st = self.server.standin
        split = urllib.parse.urlsplit(self.path)
        path, raw_query = split.path, split.query
        query = urllib.parse.parse_qs(raw_query, keep_blank_values=True)
        try:
            body = self.read_body()
        except (ValueError, OSError):
            self.send(text_reply(400, "Bad request body"))
            return
        if path.startswith("/api/3/") or path == "/api/3":
            crm = "ac"
        elif path.startswith("/1/"):
            crm = "op"
        else:
            crm = "control"
        if crm == "control" and path in ("/_control/log", "/_control/log/count") and self.command == "GET":
            self.send(handle_control(st, self.command, path[len("/_control"):], query, body))
            return
        headers = {k: v for k, v in self.headers.items()}
        entry = st.log_start(crm, self.command, path, raw_query, headers, body.decode("utf-8", errors="replace"))
        try:
            reply = self.route(st, crm, path, raw_query, query, body)
        except Exception as err:  # a stand-in bug: answer 500, say so on stderr
            sys.stderr.write(f"standin: internal error on {self.command} {path}: {type(err).__name__}: {err}\n")
            reply = json_reply(500, {"message": "stand-in internal error"})
        if reply is None:  # dropped or server stopping
            st.log_finish(entry, 0)
            self.drop()
            return
        st.log_finish(entry, reply.status)
        try:
            self.send(reply)
        except OSError:
            self.close_connection = True

    def route(self, st, crm, path, raw_query, query, body):
        if crm == "control":
            if not path.startswith("/_control/"):
                return json_reply(404, {"error": "unknown route"})
            return handle_control(st, self.command, path[len("/_control"):], query, body)
        epoch = st.epoch
        fault = st.take_fault(crm, path + ("?" + raw_query if raw_query else ""))
        if fault:
            if fault["kind"] == "drop":
                return None
            if fault["kind"] in ("latency", "hang") and fault["delay_ms"] > 0:
                if st.stop_event.wait(fault["delay_ms"] / 1000.0):
                    return None
            if fault["kind"] == "status":
                return self.fault_reply(st, crm, fault)
        allowed, info = st.admit(crm, epoch)
        if crm == "ac":
            if not allowed:
                if info["mode"] == "503":
                    return json_reply(503, {"message": "Service Unavailable"})
                return json_reply(429, {"message": "Too Many Requests"}, {"Retry-After": str(info["reset"])})
            if self.headers.get("Api-Token") != st.ac["api_token"]:
                return json_reply(403, {"message": "Forbidden"})
            with st.lock:
                return handle_ac(st, self.command, path[len("/api/3"):], query, body)
        rate = st.op_rate_headers(info)
        if not allowed:
            return text_reply(429, "Too Many Requests - You have exceeded your maximum rate limit of "
                                   f"{OP_RATE_PER_MINUTE} requests per minute.", rate)
        if (self.headers.get("Api-Appid") != st.op["app_id"]
                or self.headers.get("Api-Key") != st.op["api_key"]):
            return text_reply(401, "Unauthorized", rate)
        with st.lock:
            reply = handle_op(st, self.command, path[len("/1"):], query, body,
                              (self.headers.get("Content-Type") or "").lower())
        reply.headers.update(rate)
        return reply

    def fault_reply(self, st, crm, fault):
        headers = {}
        if fault.get("retry_after") is not None:
            headers["Retry-After"] = str(fault["retry_after"])
        if crm == "op":
            headers.update(st.op_rate_headers())
        body = fault["body"]
        if body is None:
            body = json.dumps({"message": f"injected fault {fault['status']}"})
        return Reply(fault["status"], body, fault["content_type"] or JSON_TYPE, headers)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        err = sys.exc_info()[1]
        if isinstance(err, (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)


def main(argv=None):
    parser = argparse.ArgumentParser(description="CRM stand-in (ActiveCampaign + Ontraport)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--seed", required=True)
    parser.add_argument("--port-file")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)

    try:
        with open(args.seed, encoding="utf-8") as handle:
            doc = json.load(handle)
        standin = Standin(doc, args.verbose)
    except (OSError, ValueError, SeedError) as err:
        reason = err.strerror if isinstance(err, OSError) and err.strerror else (
            "invalid JSON" if isinstance(err, ValueError) and not isinstance(err, SeedError) else str(err))
        print(f"standin: bad seed file {args.seed}: {reason}", file=sys.stderr)
        return 2
    try:
        server = Server((args.host, args.port), Handler)
    except OSError as err:
        print(f"standin: cannot listen on {args.host}:{args.port}: {err.strerror or err}", file=sys.stderr)
        return 3
    server.standin = standin
    port = server.server_address[1]
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w", encoding="utf-8") as handle:
            handle.write(f"{port}\n")
        os.replace(tmp, args.port_file)
    if args.verbose:
        print(f"standin: listening on {args.host}:{port}", file=sys.stderr)

    def stop(signum, frame):
        standin.stop_event.set()
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        server.serve_forever(poll_interval=0.1)
    finally:
        standin.stop_event.set()
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

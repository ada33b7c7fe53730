"""Tests of the CRM stand-in itself (stdlib unittest).

Run from the repository root:
    python3 -m unittest discover -s tests/standin -p 'test_*.py'
"""

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HERE = os.path.dirname(os.path.abspath(__file__))
STANDIN = os.path.join(HERE, "standin.py")
SEED = os.path.join(HERE, "seed.json")
AC = {"Api-Token": "ac-test-token"}
OP = {"Api-Appid": "op-test-app", "Api-Key": "op-test-key"}

# Fixtures copied verbatim from crm-protocols.md §1.3 and §1.4.
FIXTURE_TAG_ADDED = (
    "type=contact_tag_added&date_time=2024-02-28T07%3A04%3A13-06%3A00&initiated_from=admin&initiated_by=admin"
    "&list=0&contact%5Bid%5D=42&contact%5Bemail%5D=jane.doe%40example.com&contact%5Bfirst_name%5D=Jane"
    "&contact%5Blast_name%5D=Doe&contact%5Bphone%5D=%2B1+555-010-1234&contact%5Bip%5D=0.0.0.0"
    "&contact%5Btags%5D=member%2C+vip&contact%5Bcustomer_acct_name%5D=&contact%5Borgname%5D="
    "&contact%5Bfields%5D%5B1%5D=Gold&contact%5Bfields%5D%5B7%5D=%7C%7COption+1%7C%7COption+2%7C%7C"
    "&customer_acct_name=&customer_acct_id=0&orgname=&tag=vip")
FIXTURE_SUBSCRIBE = """type=subscribe
date_time=2024-02-28T07:00:02-06:00
initiated_from=admin
initiated_by=admin
list=1
contact[id]=42
contact[email]=jane.doe@example.com
contact[first_name]=Jane
contact[last_name]=Doe
contact[phone]=
contact[ip]=0.0.0.0
contact[tags]=
contact[orgname]=
contact[customer_acct_name]=
contact[fields][1]=Gold
orgname=
customer_acct_name=
customer_acct_id=0"""
FIXTURE_AUTOMATION = (
    "contact%5Bid%5D=42&contact%5Bemail%5D=jane.doe%40example.com&contact%5Bfirst_name%5D=Jane"
    "&contact%5Blast_name%5D=Doe&contact%5Bphone%5D=&contact%5Borgname%5D=&contact%5Bcustomer_acct_name%5D="
    "&contact%5Btags%5D=member%2C+vip&contact%5Bip4%5D=127.0.0.1"
    "&contact%5Bfields%5D%5Bmembership_level%5D=Gold&seriesid=12")


class Resp:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = {k.lower(): v for k, v in headers}
        self.body = body

    def json(self):
        return json.loads(self.body.decode("utf-8"))


def start_standin(seed=SEED, port=0, extra=()):
    tmp = tempfile.mkdtemp(prefix="standin-test-")
    port_file = os.path.join(tmp, "port")
    proc = subprocess.Popen([sys.executable, STANDIN, "--host", "127.0.0.1", "--port", str(port),
                             "--seed", seed, "--port-file", port_file, *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    for _ in range(200):
        if os.path.exists(port_file):
            with open(port_file, encoding="utf-8") as handle:
                return proc, int(handle.read().strip())
        if proc.poll() is not None:
            raise RuntimeError("stand-in exited: " + proc.stderr.read().decode())
        time.sleep(0.025)
    proc.kill()
    raise RuntimeError("stand-in did not write its port file")


PROC = None
PORT = None


def load_seed():
    with open(SEED, encoding="utf-8") as handle:
        return json.load(handle)


def setUpModule():
    global PROC, PORT
    PROC, PORT = start_standin()


def tearDownModule():
    PROC.send_signal(signal.SIGTERM)
    try:
        code = PROC.wait(timeout=10)
        errors = PROC.stderr.read().decode("utf-8", errors="replace")
    finally:
        PROC.stdout.close()
        PROC.stderr.close()
    # Quiet by default: anything on stderr means a stand-in error (traceback, internal error).
    if code != 0 or errors:
        raise AssertionError(f"stand-in exit {code}, stderr: {errors}")


def call(method, path, body=None, headers=None, timeout=5, port=None):
    conn = http.client.HTTPConnection("127.0.0.1", port or PORT, timeout=timeout)
    try:
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
            headers = dict(headers or {}, **{"Content-Type": "application/json"})
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return Resp(response.status, response.getheaders(), response.read())
    finally:
        conn.close()


def control(method, path, body=None):
    response = call(method, "/_control/" + path, body)
    return response


class Receiver:
    """A tiny HTTP server that records webhook deliveries."""

    def __init__(self):
        self.requests = []
        outer = self

        class H(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                outer.requests.append({"method": self.command, "path": self.path,
                                       "headers": {k.lower(): v for k, v in self.headers.items()},
                                       "body": body.decode("utf-8")})
                reply = b"received"
                self.send_response(200)
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class StandinCase(unittest.TestCase):
    rate_limits = False

    def setUp(self):
        self.assertEqual(control("POST", "reset").status, 200)
        if not self.rate_limits:
            control("POST", "config", {"ac_rate_limit": False, "op_rate_limit": False})

    def ac(self, method, path, body=None, headers=None):
        return call(method, "/api/3" + path, body, dict(AC, **(headers or {})))

    def op(self, method, path, body=None, headers=None):
        return call(method, "/1" + path, body, dict(OP, **(headers or {})))

    def assert_strings(self, value, where="root"):
        """Every id/count in the CRM bodies is a string (or null), never a number."""
        if isinstance(value, dict):
            for key, item in value.items():
                self.assert_strings(item, f"{where}.{key}")
        elif isinstance(value, list):
            for index, item in enumerate(value):
                self.assert_strings(item, f"{where}[{index}]")
        else:
            self.assertTrue(value is None or isinstance(value, str), f"{where} is {value!r}")


class ActiveCampaignTest(StandinCase):
    def test_contact_has_sideloaded_field_values_and_no_tags(self):
        r = self.ac("GET", "/contacts/42")
        self.assertEqual(r.status, 200)
        self.assertTrue(r.headers["content-type"].startswith("application/json"))
        doc = r.json()
        self.assertEqual(set(doc), {"contactAutomations", "contactLists", "deals", "fieldValues",
                                    "geoAddresses", "geoIps", "contact"})
        self.assertNotIn("contactTags", doc)
        self.assertNotIn("contactTags", doc["contact"])
        self.assertIn("contactTags", doc["contact"]["links"])
        contact = doc["contact"]
        self.assertEqual((contact["id"], contact["email"], contact["firstName"], contact["lastName"]),
                         ("42", "jane.doe@example.com", "Jane", "Doe"))
        values = {fv["field"]: fv["value"] for fv in doc["fieldValues"]}
        self.assertEqual(values, {"1": "Gold", "9": ""})
        self.assertEqual(contact["fieldValues"], [fv["id"] for fv in doc["fieldValues"]])
        for fv in doc["fieldValues"]:
            self.assertEqual((fv["contact"], fv["owner"]), ("42", "42"))
        self.assert_strings(doc["fieldValues"])

    def test_auth_is_required(self):
        for headers in ({}, {"Api-Token": "wrong"}):
            r = call("GET", "/api/3/contacts/42", headers=headers)
            self.assertEqual(r.status, 403)
            self.assertEqual(r.json(), {"message": "Forbidden"})
        r = call("GET", "/api/3/contacts/42", headers={"api-token": "ac-test-token"})
        self.assertEqual(r.status, 200)

    def test_not_found_bodies(self):
        cases = [("/contacts/999", {"message": "No Result found for Subscriber with id 999"}),
                 ("/contacts/999/fieldValues", {"message": "No Result found for Subscriber with id 999"}),
                 ("/tags/999", {"message": "No Result found for Tag with id 999"}),
                 ("/contacts/999/contactTags",
                  {"errors": [{"status": 404, "title": "Not Found", "detail": "Contact not found"}]})]
        for path, expected in cases:
            r = self.ac("GET", path)
            self.assertEqual((r.status, r.json()), (404, expected), path)
        r = self.ac("PUT", "/contacts/999", {"contact": {"firstName": "X"}})
        self.assertEqual((r.status, r.json()), (404, {"message": "No Result found for Subscriber with id 999"}))
        r = self.ac("DELETE", "/contactTags/999")
        self.assertEqual(r.status, 404)

    def test_contact_tags_add_and_delete(self):
        r = self.ac("GET", "/contacts/42/contactTags")
        rows = r.json()["contactTags"]
        self.assertEqual([(row["contact"], row["tag"]) for row in rows], [("42", "3")])
        self.assert_strings([{k: v for k, v in row.items() if k not in ("created_by", "updated_by")}
                             for row in rows])
        r = self.ac("POST", "/contactTags", {"contactTag": {"contact": "42", "tag": "4"}})
        self.assertIn(r.status, (200, 201))
        created = r.json()["contactTag"]
        self.assertIsInstance(created["id"], str)
        self.assertEqual((created["contact"], created["tag"]), ("42", "4"))
        tags = [row["tag"] for row in self.ac("GET", "/contacts/42/contactTags").json()["contactTags"]]
        self.assertEqual(tags, ["3", "4"])
        r = self.ac("DELETE", f"/contactTags/{created['id']}")
        self.assertEqual((r.status, r.json()), (200, {}))
        tags = [row["tag"] for row in self.ac("GET", "/contacts/42/contactTags").json()["contactTags"]]
        self.assertEqual(tags, ["3"])
        self.assertEqual(self.ac("POST", "/contactTags", {"contactTag": {"contact": "42", "tag": "999"}}).status, 404)

    def test_field_values_route(self):
        doc = self.ac("GET", "/contacts/42/fieldValues").json()
        self.assertEqual([(fv["field"], fv["value"]) for fv in doc["fieldValues"]], [("1", "Gold"), ("9", "")])
        self.assertIn("created_by", doc["fieldValues"][0])

    def test_tags_paging(self):
        seed = load_seed()
        seed["activecampaign"]["tags"] = [{"id": str(i), "name": f"tag{i}"} for i in range(1, 131)]
        seed["activecampaign"]["contacts"] = []
        self.assertEqual(control("POST", "reset", seed).status, 200)
        control("POST", "config", {"ac_rate_limit": False})
        page = self.ac("GET", "/tags").json()
        self.assertEqual((len(page["tags"]), page["meta"]["total"]), (20, "130"))
        self.assertEqual(page["tags"][0]["id"], "1")
        page = self.ac("GET", "/tags?limit=100&offset=100").json()
        self.assertEqual([t["id"] for t in page["tags"]], [str(i) for i in range(101, 131)])
        page = self.ac("GET", "/tags?limit=500").json()
        self.assertEqual(len(page["tags"]), 100)
        self.assert_strings(page)
        one = self.ac("GET", "/tags/7").json()["tag"]
        self.assertEqual((one["id"], one["tag"], one["subscriber_count"]), ("7", "tag7", "0"))

    def test_create_tag(self):
        r = self.ac("POST", "/tags", {"tag": {"tag": "Newbie", "tagType": "contact"}})
        self.assertEqual(r.status, 201)
        tag = r.json()["tag"]
        self.assertEqual((tag["tag"], tag["tagType"]), ("Newbie", "contact"))
        self.assertIsInstance(tag["id"], str)
        self.assertEqual(self.ac("GET", f"/tags/{tag['id']}").json()["tag"]["tag"], "Newbie")
        self.assertEqual(self.ac("POST", "/tags", {"tag": {"tag": "newbie"}}).status, 422)

    def test_rename_tag(self):
        r = self.ac("PUT", "/tags/4", {"tag": {"tag": "Renamed", "tagType": "contact"}})
        self.assertEqual(r.status, 200)
        self.assertEqual(r.json()["tag"]["tag"], "Renamed")
        self.assertEqual(self.ac("GET", "/tags/4").json()["tag"]["tag"], "Renamed")
        self.assertEqual(self.ac("PUT", "/tags/999", {"tag": {"tag": "x"}}).status, 404)
        self.assertEqual(self.ac("PUT", "/tags/4", {"tag": {"tag": " "}}).status, 422)

    def test_fields(self):
        doc = self.ac("GET", "/fields?limit=100").json()
        self.assertEqual([(f["id"], f["title"], f["perstag"]) for f in doc["fields"]],
                         [("1", "Membership Level", "MEMBERSHIP_LEVEL"), ("7", "Interests", "INTERESTS"),
                          ("9", "WP Password", "WP_PASSWORD")])
        self.assertEqual(doc["meta"]["total"], "3")
        self.assertEqual((doc["fieldOptions"], doc["fieldRels"]), ([], []))
        doc = self.ac("GET", "/fields?filters%5Bperstag%5D=WP_PASSWORD").json()
        self.assertEqual([f["id"] for f in doc["fields"]], ["9"])

    def test_search_by_email(self):
        doc = self.ac("GET", "/contacts?email=JANE.DOE%40example.com").json()
        self.assertEqual(([c["id"] for c in doc["contacts"]], doc["meta"]), (["42"], {"total": "1"}))
        doc = self.ac("GET", "/contacts?filters%5Bemail%5D=jane.doe%40example.com").json()
        self.assertEqual([c["id"] for c in doc["contacts"]], ["42"])
        doc = self.ac("GET", "/contacts?email=nobody%40example.com").json()
        self.assertEqual((doc["contacts"], doc["meta"]), ([], {"total": "0"}))

    def test_put_contact_updates_fields(self):
        r = self.ac("PUT", "/contacts/42", {"contact": {"firstName": "Janet",
                                                        "fieldValues": [{"field": "9", "value": "s3cr3t"},
                                                                        {"field": 1, "value": "Platinum"}]}})
        self.assertEqual(r.status, 200)
        self.assertIn("fieldValues", r.json())
        doc = self.ac("GET", "/contacts/42").json()
        self.assertEqual(doc["contact"]["firstName"], "Janet")
        self.assertEqual({fv["field"]: fv["value"] for fv in doc["fieldValues"]}, {"1": "Platinum", "9": "s3cr3t"})

    def test_bad_json_is_422(self):
        for method, path in (("PUT", "/contacts/42"), ("POST", "/contactTags"), ("POST", "/fieldValues"),
                             ("POST", "/tags")):
            r = self.ac(method, path, "{not json", {"Content-Type": "application/json"})
            self.assertEqual(r.status, 422, path)
            self.assertIn("errors", r.json())

    def test_field_value_post_and_put(self):
        r = self.ac("POST", "/fieldValues", {"fieldValue": {"contact": 43, "field": 9, "value": "pw1"},
                                             "useDefaults": False})
        self.assertEqual(r.status, 200)
        row = r.json()["fieldValue"]
        self.assertIsInstance(row["id"], str)
        r = self.ac("PUT", f"/fieldValues/{row['id']}", {"fieldValue": {"contact": 43, "field": 9, "value": "pw2"}})
        self.assertEqual(r.status, 200)
        doc = self.ac("GET", "/contacts/43").json()
        self.assertEqual({fv["field"]: fv["value"] for fv in doc["fieldValues"]}, {"1": "Silver", "9": "pw2"})
        self.assertEqual(self.ac("PUT", "/fieldValues/99999", {"fieldValue": {"field": 9, "value": "x"}}).json(),
                         {"message": "No Result found for FieldValue with id 99999"})


class OntraportTest(StandinCase):
    def test_contact_envelope_and_strings(self):
        for path in ("/Contact?id=27", "/object?objectID=0&id=27"):
            r = self.op("GET", path)
            self.assertEqual(r.status, 200)
            doc = r.json()
            self.assertEqual((doc["code"], doc["account_id"]), (0, 12345))
            data = doc["data"]
            self.assert_strings(data)
            self.assertEqual((data["id"], data["firstname"], data["lastname"], data["email"]),
                             ("27", "Jane", "Doe", "jane.doe@example.com"))
            self.assertEqual(data["contact_cat"], "*/*3*/*7*/*")
            self.assertEqual((data["f1557"], data["f1558"]), ("Gold", ""))
        self.assertEqual(self.op("GET", "/Contact?id=28").json()["data"]["contact_cat"], "")

    def test_rate_headers_on_every_response(self):
        for r in (self.op("GET", "/Contact?id=27"), self.op("GET", "/Contact?id=999"),
                  call("GET", "/1/Contact?id=27")):
            for name in ("x-rate-limit-limit", "x-rate-limit-remaining", "x-rate-limit-reset"):
                self.assertIn(name, r.headers)
            self.assertEqual(r.headers["x-rate-limit-limit"], "180")

    def test_missing_contact_is_plain_text(self):
        for path in ("/Contact?id=999", "/object?objectID=0&id=999", "/object/getByEmail?objectID=0&email=x%40y.z"):
            r = self.op("GET", path)
            self.assertEqual((r.status, r.body), (404, b"Object not found"), path)
            self.assertTrue(r.headers["content-type"].startswith("text/plain"))

    def test_auth_needs_both_headers(self):
        for headers in ({}, {"Api-Appid": "op-test-app"}, {"Api-Key": "op-test-key"},
                        {"Api-Appid": "op-test-app", "Api-Key": "wrong"}):
            self.assertEqual(call("GET", "/1/Contact?id=27", headers=headers).status, 401)
        r = call("GET", "/1/Contact?id=27", headers={"api-appid": "op-test-app", "Api-key": "op-test-key"})
        self.assertEqual(r.status, 200)

    def test_get_by_email(self):
        doc = self.op("GET", "/object/getByEmail?objectID=0&email=jane.doe%40example.com").json()
        self.assertEqual(doc["data"], {"id": "27"})

    def test_tags_paging(self):
        seed = load_seed()
        seed["ontraport"]["tags"] = [{"id": str(i), "name": f"T{i}"} for i in range(1, 76)]
        seed["ontraport"]["contacts"] = []
        self.assertEqual(control("POST", "reset", seed).status, 200)
        control("POST", "config", {"op_rate_limit": False})
        first = self.op("GET", "/Tags?start=0&range=50").json()["data"]
        self.assertEqual(len(first), 50)
        self.assertEqual(first[0], {"tag_id": "1", "tag_name": "T1", "object_type_id": "0"})
        second = self.op("GET", "/objects?objectID=14&start=50&range=50").json()["data"]
        self.assertEqual([t["tag_id"] for t in second], [str(i) for i in range(51, 76)])
        self.assertEqual(len(self.op("GET", "/Tags?start=0&range=500").json()["data"]), 50)

    def test_meta_routes(self):
        for path in ("/Contacts/meta", "/objects/meta?format=byId&objectID=0"):
            doc = self.op("GET", path).json()
            self.assertEqual(doc["code"], 0)
            meta = doc["data"]["0"]
            self.assertEqual(meta["name"], "Contact")
            self.assertEqual(meta["fields"]["f1558"]["alias"], "WP Password")
            self.assertEqual(meta["fields"]["f1557"]["alias"], "Level")

    def test_put_json_and_form(self):
        r = self.op("PUT", "/Contacts", {"id": 27, "f1558": "s3cr3t"})
        self.assertEqual(r.status, 200)
        attrs = r.json()["data"]["attrs"]
        self.assertEqual((attrs["f1558"], attrs["id"]), ("s3cr3t", "27"))
        self.assertEqual(self.op("GET", "/Contact?id=27").json()["data"]["f1558"], "s3cr3t")
        r = self.op("PUT", "/objects", "objectID=0&id=27&firstname=Janet&f1557=Bronze",
                    {"Content-Type": "application/x-www-form-urlencoded"})
        self.assertEqual(r.status, 200)
        data = self.op("GET", "/Contact?id=27").json()["data"]
        self.assertEqual((data["firstname"], data["f1557"]), ("Janet", "Bronze"))
        r = self.op("PUT", "/Contacts", {"id": 999, "f1558": "x"})
        self.assertEqual((r.status, r.body), (404, b"Object not found"))

    def test_tag_add_remove_and_create(self):
        r = self.op("POST", "/Tags", {"tag_name": "Gold"})
        tag_id = r.json()["data"]["tag_id"]
        self.assertIsInstance(tag_id, str)
        r = self.op("PUT", "/objects/tag", {"objectID": 0, "ids": "28", "add_list": f"3,{tag_id}"})
        self.assertEqual((r.status, r.json()["code"]), (200, 0))
        self.assertEqual(self.op("GET", "/Contact?id=28").json()["data"]["contact_cat"], f"*/*3*/*{tag_id}*/*")
        r = self.op("DELETE", "/objects/tag", {"objectID": 0, "ids": "28", "remove_list": "3"})
        self.assertEqual(r.status, 200)
        self.assertEqual(self.op("GET", "/Contact?id=28").json()["data"]["contact_cat"], f"*/*{tag_id}*/*")

    def test_background_write_delay(self):
        control("POST", "config", {"op_background_delay_ms": 400})
        r = self.op("PUT", "/Contacts", {"id": 27, "f1558": "later", "background_request": True})
        self.assertEqual(r.status, 200)
        self.assertEqual(self.op("GET", "/Contact?id=27").json()["data"]["f1558"], "")
        self.op("PUT", "/objects/tag", {"objectID": 0, "ids": "28", "add_list": "3"})
        self.assertEqual(self.op("GET", "/Contact?id=28").json()["data"]["contact_cat"], "")
        time.sleep(0.5)
        self.assertEqual(self.op("GET", "/Contact?id=27").json()["data"]["f1558"], "later")
        self.assertEqual(self.op("GET", "/Contact?id=28").json()["data"]["contact_cat"], "*/*3*/*")


class RateLimitTest(StandinCase):
    rate_limits = True

    def test_ac_sixth_request_in_a_second_is_429(self):
        statuses = []
        for _ in range(6):
            r = self.ac("GET", "/contacts/42")
            statuses.append(r.status)
        self.assertEqual(statuses[:5], [200] * 5)
        self.assertEqual(statuses[5], 429)
        self.assertGreaterEqual(int(r.headers["retry-after"]), 1)
        stats = control("GET", "stats").json()
        self.assertEqual(stats["rate_limited"]["ac"], 1)
        self.assertEqual(stats["max_per_second"]["ac"], 5)
        self.assertEqual(stats["requests"]["ac"], 6)

    def test_ac_503_mode(self):
        control("POST", "config", {"ac_limit_mode": "503"})
        statuses = [self.ac("GET", "/tags").status for _ in range(6)]
        self.assertEqual(statuses, [200] * 5 + [503])

    def test_ac_limit_can_be_turned_off(self):
        control("POST", "config", {"ac_rate_limit": False})
        self.assertEqual({self.ac("GET", "/tags").status for _ in range(12)}, {200})
        self.assertEqual(control("GET", "stats").json()["max_per_second"]["ac"], 12)

    def test_a_request_hung_across_a_reset_counts_in_no_window(self):
        control("POST", "faults", {"crm": "op", "kind": "hang", "delay_ms": 800})
        with self.assertRaises((socket.timeout, TimeoutError)):
            call("GET", "/1/Tags", headers=OP, timeout=0.3)
        self.assertEqual(control("POST", "reset").status, 200)
        time.sleep(0.8)  # The hung request ends its wait and is served after the reset.
        r = self.op("GET", "/Tags")
        self.assertEqual((r.status, r.headers["x-rate-limit-remaining"]), (200, "179"))
        self.assertEqual(control("GET", "stats").json()["requests"]["op"], 1)

    def test_op_limit_180_per_minute(self):
        remaining = []
        for _ in range(180):
            r = self.op("GET", "/Tags")
            self.assertEqual(r.status, 200)
            remaining.append(int(r.headers["x-rate-limit-remaining"]))
        self.assertEqual((remaining[0], remaining[-1]), (179, 0))
        r = self.op("GET", "/Tags")
        self.assertEqual(r.status, 429)
        self.assertIn(b"maximum rate limit of 180", r.body)
        self.assertEqual(r.headers["x-rate-limit-remaining"], "0")
        self.assertGreaterEqual(int(r.headers["x-rate-limit-reset"]), 1)
        stats = control("GET", "stats").json()
        self.assertEqual((stats["max_per_minute"]["op"], stats["rate_limited"]["op"]), (180, 1))


class FaultTest(StandinCase):
    def test_status_faults_in_order_with_count(self):
        control("POST", "faults", {"crm": "ac", "kind": "status", "status": 500, "count": 2})
        control("POST", "faults", {"crm": "ac", "kind": "status", "status": 429, "retry_after": 2,
                                   "body": "slow down", "content_type": "text/plain"})
        first, second, third = (self.ac("GET", "/contacts/42") for _ in range(3))
        self.assertEqual((first.status, second.status), (500, 500))
        self.assertEqual((third.status, third.headers["retry-after"], third.body), (429, "2", b"slow down"))
        self.assertEqual(self.ac("GET", "/contacts/42").status, 200)

    def test_fault_matching_by_crm_and_path(self):
        control("POST", "faults", {"crm": "op", "path_regex": "getByEmail", "kind": "status", "status": 500})
        self.assertEqual(self.ac("GET", "/contacts/42").status, 200)
        self.assertEqual(self.op("GET", "/Contact?id=27").status, 200)
        r = self.op("GET", "/object/getByEmail?objectID=0&email=a%40b.c")
        self.assertEqual(r.status, 500)
        self.assertIn("x-rate-limit-limit", r.headers)
        self.assertEqual(control("GET", "faults").json(), [])

    def test_latency(self):
        control("POST", "faults", {"crm": "any", "kind": "latency", "delay_ms": 300})
        started = time.monotonic()
        r = self.op("GET", "/Contact?id=27")
        self.assertEqual(r.status, 200)
        self.assertGreaterEqual(time.monotonic() - started, 0.29)

    def test_drop(self):
        control("POST", "faults", {"crm": "ac", "kind": "drop"})
        with self.assertRaises((http.client.HTTPException, ConnectionError)):
            self.ac("GET", "/contacts/42")
        self.assertEqual(self.ac("GET", "/contacts/42").status, 200)

    def test_hang_times_out_the_client(self):
        control("POST", "faults", {"crm": "op", "kind": "hang", "delay_ms": 3000})
        with self.assertRaises((socket.timeout, TimeoutError)):
            call("GET", "/1/Contact?id=27", headers=OP, timeout=0.3)
        self.assertEqual(self.op("GET", "/Contact?id=27").status, 200)

    def test_bad_fault_is_rejected(self):
        self.assertEqual(control("POST", "faults", {"kind": "explode"}).status, 400)
        self.assertEqual(control("POST", "faults", {"kind": "status", "path_regex": "("}).status, 400)


class ControlTest(StandinCase):
    def test_health_state_and_put_contact(self):
        self.assertEqual(control("GET", "health").json(), {"ok": True})
        r = control("PUT", "ac/contacts/50", {"email": "new@example.com", "first_name": "New", "last_name": "One",
                                              "phone": "", "tags": ["member", "Brand New"],
                                              "fields": {"1": "Bronze", "WP Password": "pw"}})
        self.assertEqual(r.status, 200)
        contact = self.ac("GET", "/contacts/50").json()
        self.assertEqual(contact["contact"]["email"], "new@example.com")
        self.assertEqual({fv["field"]: fv["value"] for fv in contact["fieldValues"]}, {"1": "Bronze", "9": "pw"})
        state = control("GET", "state").json()
        stored = [c for c in state["activecampaign"]["contacts"] if c["id"] == "50"][0]
        self.assertEqual(stored["tag_names"], ["member", "Brand New"])
        self.assertEqual(stored["tags"][0], "3")
        control("PUT", "op/contacts/30", {"email": "o@example.com", "first_name": "O", "tags": ["VIP", "Fresh"],
                                          "fields": {"Level": "Gold"}})
        data = self.op("GET", "/Contact?id=30").json()["data"]
        self.assertTrue(data["contact_cat"].startswith("*/*7*/*"))
        self.assertEqual(data["f1557"], "Gold")
        self.assertEqual(control("DELETE", "op/contacts/30").status, 200)
        self.assertEqual(self.op("GET", "/Contact?id=30").status, 404)
        self.assertEqual(control("DELETE", "ac/contacts/50").status, 200)
        self.assertEqual(self.ac("GET", "/contacts/50").status, 404)

    def test_log_records_requests(self):
        control("DELETE", "log")
        self.ac("GET", "/contacts/42")
        self.op("PUT", "/Contacts", {"id": 27, "f1558": "pw"})
        log = control("GET", "log").json()
        api = [e for e in log if e["crm"] in ("ac", "op")]
        self.assertEqual([(e["crm"], e["method"], e["path"], e["status"]) for e in api],
                         [("ac", "GET", "/api/3/contacts/42", 200), ("op", "PUT", "/1/Contacts", 200)])
        self.assertEqual(api[0]["headers"].get("Api-Token"), "ac-test-token")
        self.assertEqual(json.loads(api[1]["body"]), {"id": 27, "f1558": "pw"})
        last = log[-1]["seq"]
        self.op("GET", "/Contact?id=27")
        newer = control("GET", f"log?since={last}").json()
        self.assertEqual([(e["crm"], e["query"]) for e in newer], [("op", "id=27")])

    def test_reset_with_seed_and_bad_seed(self):
        r = control("POST", "reset", {"activecampaign": {"api_token": "t2", "tags": [], "fields": [],
                                                          "contacts": []}})
        self.assertEqual(r.status, 200)
        self.assertEqual(call("GET", "/api/3/tags", headers={"Api-Token": "t2"}).status, 200)
        self.assertEqual(control("POST", "reset", {"activecampaign": {"contacts": [{"id": "1", "tags": ["77"]}]}})
                         .status, 400)
        self.assertEqual(call("GET", "/api/3/tags", headers={"Api-Token": "t2"}).status, 200)
        self.assertEqual(control("POST", "reset").status, 200)
        self.assertEqual(self.ac("GET", "/contacts/42").status, 200)

    def test_config_and_stats(self):
        config = control("POST", "config", {"op_background_delay_ms": 5}).json()
        self.assertEqual(config["op_background_delay_ms"], 5)
        self.assertEqual(control("POST", "config", {"nope": 1}).status, 400)
        stats = control("GET", "stats").json()
        self.assertEqual(set(stats), {"requests", "rate_limited", "max_per_second", "max_per_minute"})


class WebhookTest(StandinCase):
    def setUp(self):
        super().setUp()
        self.receiver = Receiver()
        self.url = self.receiver.url + "/?wpf_action=update&access_key=K"

    def tearDown(self):
        self.receiver.close()

    def send(self, spec):
        r = control("POST", "send_webhook", dict({"url": self.url}, **spec))
        self.assertEqual(r.status, 200, r.body)
        return r.json()["deliveries"]

    def test_ac_tag_added_matches_fixture(self):
        control("PUT", "ac/contacts/42", {"email": "jane.doe@example.com", "first_name": "Jane", "last_name": "Doe",
                                          "phone": "+1 555-010-1234", "tags": ["member", "vip"],
                                          "fields": {"1": "Gold", "7": "||Option 1||Option 2||"}})
        deliveries = self.send({"kind": "ac_account", "type": "contact_tag_added", "contact_id": "42", "tag": "vip",
                                "initiated_from": "admin", "date_time": "2024-02-28T07:04:13-06:00"})
        self.assertEqual(deliveries, [{"status": 200, "body": "received"}])
        got = self.receiver.requests[0]
        self.assertEqual(got["method"], "POST")
        self.assertEqual(got["path"], "/?wpf_action=update&access_key=K")
        self.assertEqual(got["headers"]["content-type"], "application/x-www-form-urlencoded")
        self.assertEqual(got["body"], FIXTURE_TAG_ADDED)

    def test_ac_subscribe_matches_fixture(self):
        control("PUT", "ac/contacts/42", {"email": "jane.doe@example.com", "first_name": "Jane", "last_name": "Doe",
                                          "tags": [], "fields": {"1": "Gold"}})
        self.send({"kind": "ac_account", "type": "subscribe", "contact_id": "42",
                   "date_time": "2024-02-28T07:00:02-06:00"})
        got = urllib.parse.parse_qsl(self.receiver.requests[0]["body"], keep_blank_values=True)
        expected = [tuple(line.split("=", 1)) for line in FIXTURE_SUBSCRIBE.splitlines()]
        self.assertEqual(sorted(got), sorted(expected))
        self.assertNotIn("tag", dict(got))

    def test_ac_automation_matches_fixture(self):
        control("PUT", "ac/contacts/42", {"email": "jane.doe@example.com", "first_name": "Jane", "last_name": "Doe",
                                          "tags": ["member", "vip"], "fields": {"1": "Gold"}})
        self.send({"kind": "ac_automation", "contact_id": "42"})
        body = self.receiver.requests[0]["body"]
        self.assertEqual(body, FIXTURE_AUTOMATION)
        fields = dict(urllib.parse.parse_qsl(body, keep_blank_values=True))
        self.assertNotIn("type", fields)
        self.assertEqual(fields["seriesid"], "12")

    def test_op_ping_bodies(self):
        for shape, expected_body, expected_type in (
                ("blank", "", "application/x-www-form-urlencoded"),
                ("form", "firstname=Jane&email=jane.doe%40example.com", "application/x-www-form-urlencoded"),
                ("json", None, "application/json")):
            self.receiver.requests.clear()
            self.send({"kind": "op_ping", "contact_id": "27", "body": shape})
            got = self.receiver.requests[0]
            self.assertEqual(got["path"], "/?wpf_action=update&access_key=K&contact_id=27", shape)
            self.assertEqual(got["headers"].get("content-type"), expected_type)
            if expected_body is None:
                self.assertEqual(json.loads(got["body"]), {"contact_id": "27", "email": "jane.doe@example.com"})
            else:
                self.assertEqual(got["body"], expected_body)

    def test_times_two_sends_twice_and_logs_deliveries(self):
        control("DELETE", "log")
        deliveries = self.send({"kind": "ac_account", "type": "update", "contact_id": "42", "times": 2})
        self.assertEqual([d["status"] for d in deliveries], [200, 200])
        self.assertEqual(len(self.receiver.requests), 2)
        self.assertEqual(self.receiver.requests[0]["body"], self.receiver.requests[1]["body"])
        sent = [e for e in control("GET", "log").json() if e["crm"] == "webhook"]
        self.assertEqual([e["status"] for e in sent], [200, 200])

    def test_unreachable_receiver_is_recorded(self):
        self.receiver.close()
        deliveries = self.send({"kind": "op_ping", "contact_id": "27", "body": "blank"})
        self.assertEqual(deliveries[0]["status"], 0)
        self.receiver = Receiver()

    def test_unknown_contact_is_404(self):
        r = control("POST", "send_webhook", {"url": self.url, "kind": "ac_account", "contact_id": "999"})
        self.assertEqual(r.status, 404)

    def test_bulk_edit(self):
        r = control("POST", "bulk_edit", {"url": self.url, "kind": "ac_account", "type": "update",
                                          "contact_ids": ["42", "43", "44"], "concurrency": 2})
        self.assertEqual(r.status, 200)
        deliveries = r.json()["deliveries"]
        self.assertEqual([(d["contact_id"], d["status"]) for d in deliveries], [("42", 200), ("43", 200), ("44", 200)])
        ids = sorted(dict(urllib.parse.parse_qsl(q["body"], keep_blank_values=True))["contact[id]"]
                     for q in self.receiver.requests)
        self.assertEqual(ids, ["42", "43", "44"])
        tags_43 = [dict(urllib.parse.parse_qsl(q["body"], keep_blank_values=True)) for q in self.receiver.requests]
        self.assertIn("member, vip", [b["contact[tags]"] for b in tags_43 if b["contact[id]"] == "43"])


class ProcessTest(unittest.TestCase):
    def test_bad_seed_exits_with_one_line(self):
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
            handle.write("{broken")
        proc = subprocess.run([sys.executable, STANDIN, "--port", "0", "--seed", handle.name],
                              capture_output=True, text=True, timeout=20)
        os.unlink(handle.name)
        self.assertNotEqual(proc.returncode, 0)
        self.assertEqual(len(proc.stderr.strip().splitlines()), 1)
        self.assertIn("bad seed file", proc.stderr)

    def test_port_in_use_exits_with_one_line(self):
        proc = subprocess.run([sys.executable, STANDIN, "--host", "127.0.0.1", "--port", str(PORT),
                               "--seed", SEED], capture_output=True, text=True, timeout=20)
        self.assertNotEqual(proc.returncode, 0)
        self.assertEqual(len(proc.stderr.strip().splitlines()), 1)
        self.assertIn("cannot listen", proc.stderr)

    def test_malformed_seed_structure_exits_with_one_line(self):
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
            json.dump({"activecampaign": {"tags": 5}}, handle)
        proc = subprocess.run([sys.executable, STANDIN, "--port", "0", "--seed", handle.name],
                              capture_output=True, text=True, timeout=20)
        os.unlink(handle.name)
        self.assertNotEqual(proc.returncode, 0)
        self.assertEqual(len(proc.stderr.strip().splitlines()), 1, proc.stderr)

    def test_verbose_prints_request_lines_and_sigint_stops(self):
        proc, port = start_standin(extra=("--verbose",))
        try:
            self.assertEqual(call("GET", "/_control/health", port=port).status, 200)
            proc.send_signal(signal.SIGINT)
            self.assertEqual(proc.wait(timeout=10), 0)
            self.assertIn(b"GET /_control/health", proc.stderr.read())
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            proc.stdout.close()
            proc.stderr.close()

    def test_sigterm_stops_cleanly_even_with_a_hung_request(self):
        proc, port = start_standin()
        try:
            call("POST", "/_control/faults", {"kind": "hang"}, port=port)
            hung = threading.Thread(target=lambda: self.assertRaises(Exception, call, "GET", "/1/Contact?id=27",
                                                                     None, OP, 10, port), daemon=True)
            hung.start()
            time.sleep(0.2)
            proc.send_signal(signal.SIGTERM)
            self.assertEqual(proc.wait(timeout=10), 0)
            self.assertEqual(proc.stderr.read(), b"")
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            proc.stdout.close()
            proc.stderr.close()


if __name__ == "__main__":
    unittest.main()

"""The stand-in's contact lists (the reconcile sweep and import by tag use them) and the
controls that prepare them: bulk contacts, touching contacts, the CRM's clock, log counts.

Run from the repository root:
    python3 -m unittest discover -s tests/standin -p 'test_*.py'
"""

import datetime
import http.client
import json
import signal
import socket
import time
import unittest
import urllib.parse

from test_standin import AC, OP, Resp, start_standin

PROC = None
PORT = None


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
    if code != 0 or errors:
        raise AssertionError(f"stand-in exit {code}, stderr: {errors}")


def call(method, path, body=None, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=10)
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
    return call(method, "/_control/" + path, body)


def query(**params):
    return urllib.parse.urlencode(params)


def iso(seconds):
    return datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc).isoformat(timespec="seconds")


class ListCase(unittest.TestCase):
    def setUp(self):
        self.assertEqual(control("POST", "reset").status, 200)
        control("POST", "config", {"ac_rate_limit": False, "op_rate_limit": False})

    def ac(self, path):
        r = call("GET", "/api/3" + path, headers=AC)
        self.assertEqual(r.status, 200, r.body)
        return r.json()

    def op(self, path, status=200):
        r = call("GET", "/1" + path, headers=OP)
        self.assertEqual(r.status, status, r.body)
        return r.json() if status == 200 else r

    def create(self, crm, spec):
        r = control("POST", f"{crm}/contacts", spec)
        self.assertEqual(r.status, 200, r.body)
        return r.json()["ids"]

    def touch(self, spec):
        r = control("POST", "touch", spec)
        self.assertEqual(r.status, 200, r.body)
        return r.json()

    def wait_for_the_next_second(self):
        start = int(time.time())
        while int(time.time()) == start:
            time.sleep(0.02)


class ActiveCampaignListTest(ListCase):
    def ids(self, params):
        return [c["id"] for c in self.ac("/contacts?" + query(**params))["contacts"]]

    def test_keyset_paging_in_id_order(self):
        ids = self.create("ac", {"count": 250, "first_id": 1000, "email": "bulk{n}@example.com"})
        self.assertEqual((ids[0], ids[-1]), ("1000", "1249"))
        seen, after = [], None
        while True:
            params = {"orders[id]": "ASC", "limit": 100}
            if after:
                params["id_greater"] = after
            doc = self.ac("/contacts?" + query(**params))
            page = [c["id"] for c in doc["contacts"]]
            seen += page
            if len(page) < 100:
                break
            after = page[-1]
        self.assertEqual(seen, ["42", "43", "44"] + ids)
        self.assertEqual(self.ids({"orders[id]": "DESC", "limit": 2}), ["1249", "1248"])
        self.assertEqual(self.ids({"id_greater": "1247", "id_less": "1249"}), ["1248"])
        doc = self.ac("/contacts?" + query(**{"orders[id]": "ASC", "id_greater": 1200}))
        self.assertEqual(doc["meta"]["total"], "49", "the total counts what the filters let through")
        r = call("GET", "/api/3/contacts?id_greater=x", headers=AC)
        self.assertEqual(r.status, 422)

    def test_updated_after_is_strict_and_reads_a_time_with_its_zone_or_a_date(self):
        before = int(time.time())
        self.wait_for_the_next_second()
        self.touch({"crm": "ac", "ids": ["43"], "changes": {"first_name": "Touched"}})
        self.assertEqual(self.ids({"filters[updated_after]": iso(before)}), ["43"])
        udate = self.ac("/contacts/43")["contact"]["udate"]
        self.assertEqual(self.ids({"filters[updated_after]": udate}), [], "after is strict")
        self.assertEqual(self.ids({"filters[updated_before]": udate}), ["42", "44"])
        zoned = datetime.datetime.fromtimestamp(before, datetime.timezone(datetime.timedelta(hours=-6)))
        self.assertEqual(self.ids({"filters[updated_after]": zoned.isoformat()}), ["43"], "the zone is honoured")
        yesterday = (datetime.date.today() - datetime.timedelta(days=1)).isoformat()
        self.assertEqual(self.ids({"filters[updated_after]": yesterday}), ["42", "43", "44"])
        r = call("GET", "/api/3/contacts?" + query(**{"filters[updated_after]": "soon"}), headers=AC)
        self.assertEqual(r.status, 422)

    def test_tagid(self):
        self.assertEqual(self.ids({"tagid": "4"}), ["43"])
        self.assertEqual(self.ids({"tagid": "3", "orders[id]": "ASC"}), ["42", "43"])
        self.assertEqual(self.ids({"tagid": "999"}), [])
        ids = self.create("ac", {"count": 3, "tags": ["Import Me"]})
        tag_id = [t for t in control("GET", "state").json()["activecampaign"]["tags"] if t["name"] == "Import Me"][0]
        self.assertEqual(self.ids({"tagid": tag_id["id"]}), ids)


class OntraportListTest(ListCase):
    def condition(self, *parts):
        return json.dumps(list(parts))

    def test_condition_sort_range_and_list_fields(self):
        ids = self.create("op", {"count": 120, "first_id": 500})
        since = int(time.time())
        self.wait_for_the_next_second()
        touched = self.touch({"crm": "op", "ids": ["27", "510", "560", "610"], "changes": {"last_name": "T{id}"}})
        self.assertEqual(touched["touched"], ["27", "510", "560", "610"])
        dlm = {"field": {"field": "dlm"}, "op": ">=", "value": {"value": since + 1}}
        after = {"field": {"field": "id"}, "op": ">", "value": {"value": 510}}
        doc = self.op("/Contacts?" + query(condition=self.condition(dlm), sort="id", sortDir="asc",
                                           listFields="id,email,dlm"))
        self.assertEqual([row["id"] for row in doc["data"]], ["27", "510", "560", "610"])
        self.assertEqual(set(doc["data"][0]), {"id", "email", "dlm"})
        doc = self.op("/Contacts?" + query(condition=self.condition(dlm, "AND", after), sort="id", sortDir="asc"))
        self.assertEqual([row["id"] for row in doc["data"]], ["560", "610"])
        self.assertEqual(doc["data"][0]["lastname"], "T560")
        # range is at most 50; sort by a number, not as text
        doc = self.op("/Contacts?" + query(sort="id", sortDir="desc", range=500))
        self.assertEqual(len(doc["data"]), 50)
        self.assertEqual(doc["data"][0]["id"], ids[-1])
        doc = self.op("/Contacts?" + query(sort="id", sortDir="asc", start=2, range=2, listFields="email"))
        self.assertEqual(doc["data"], [{"id": "500", "email": "contact500@example.com"},
                                       {"id": "501", "email": "contact501@example.com"}])

    def test_other_operators_and_bad_conditions(self):
        def ids(*parts):
            return [row["id"] for row in self.op("/Contacts?" + query(condition=self.condition(*parts),
                                                                     sort="id"))["data"]]
        sam = {"field": {"field": "email"}, "op": "LIKE", "value": {"value": "SAM%"}}
        self.assertEqual(ids(sam), ["28"])
        listed = {"field": {"field": "id"}, "op": "IN", "value": {"list": [{"value": 27}, {"value": 99}]}}
        self.assertEqual(ids(listed), ["27"])
        self.assertEqual(ids(sam, "OR", listed), ["27", "28"])
        self.assertEqual(ids(sam, "AND", listed), [])
        for bad in ["not json", json.dumps([{"field": {"field": "nope"}, "op": "=", "value": {"value": 1}}]),
                    json.dumps([sam, sam]), json.dumps([sam, "AND"]), json.dumps([{"field": {"field": "id"},
                                                                                   "op": "~", "value": {}}])]:
            r = self.op("/Contacts?" + query(condition=bad), status=400)
            self.assertEqual(r.body, b"Invalid condition", bad)

    def test_objects_tag_by_id_or_name(self):
        ids = self.create("op", {"count": 60, "first_id": 700, "tags": ["Import Me"]})
        tag_id = [t for t in control("GET", "state").json()["ontraport"]["tags"] if t["name"] == "Import Me"][0]["id"]
        first = self.op("/objects/tag?" + query(objectID=0, tag_id=tag_id, sort="id", sortDir="asc", range=50,
                                                 listFields="id,email,dlm"))["data"]
        self.assertEqual([row["id"] for row in first], ids[:50])
        after = json.dumps([{"field": {"field": "id"}, "op": ">", "value": {"value": int(ids[49])}}])
        rest = self.op("/objects/tag?" + query(objectID=0, tag_id=tag_id, sort="id", range=50, condition=after))
        self.assertEqual([row["id"] for row in rest["data"]], ids[50:])
        by_name = self.op("/objects/tag?" + query(objectID=0, tag_name="vip"))["data"]
        self.assertEqual([row["id"] for row in by_name], ["27"])
        self.assertEqual(self.op("/objects/tag?" + query(objectID=0, tag_name="Nope"))["data"], [])
        self.assertEqual(self.op("/objects/tag?objectID=0", status=400).status, 400)
        self.assertEqual(self.op("/objects/tag?objectID=14&tag_id=3", status=400).status, 400)


class ControlListTest(ListCase):
    def test_touch_changes_contacts_and_stamps_them_now(self):
        before = int(time.time())
        result = self.touch({"crm": "ac", "count": 2, "changes": {
            "first_name": "Changed {id}", "fields": {"1": "Platinum {n}"}, "add_tags": ["vip"],
            "remove_tags": ["member"]}})
        self.assertEqual(result, {"touched": ["42", "43"], "deliveries": []})
        contact = self.ac("/contacts/42")
        self.assertEqual(contact["contact"]["firstName"], "Changed 42")
        self.assertEqual({fv["field"]: fv["value"] for fv in contact["fieldValues"]}, {"1": "Platinum 1", "9": ""})
        self.assertGreaterEqual(datetime.datetime.fromisoformat(contact["contact"]["udate"]).timestamp(), before)
        tags = [row["tag"] for row in self.ac("/contacts/43/contactTags")["contactTags"]]
        self.assertEqual(tags, ["4"], "member removed, vip kept once")
        self.assertEqual(self.ac("/contacts/44")["contact"]["firstName"], "Nia", "not touched")
        self.assertEqual(control("POST", "touch", {"crm": "ac", "ids": ["999"]}).status, 404)
        self.assertEqual(control("POST", "touch", {"crm": "xx", "ids": ["42"]}).status, 400)

    def test_touch_while_the_site_is_down_records_failed_webhooks(self):
        closed = socket.socket()
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
        closed.close()
        hook = {"url": f"http://127.0.0.1:{port}/?wpf_action=update&access_key=K", "kind": "op_ping"}
        result = self.touch({"crm": "op", "ids": ["27", "28"], "changes": {"first_name": "Down"}, "webhook": hook})
        self.assertEqual([(d["contact_id"], d["status"]) for d in result["deliveries"]], [("27", 0), ("28", 0)])
        data = self.op("/Contact?id=28")["data"]
        self.assertEqual(data["firstname"], "Down")
        log = control("GET", "log").json()
        self.assertEqual(len([e for e in log if e["crm"] == "webhook" and e["status"] == 0]), 2)

    def test_the_crms_clock_can_run_behind(self):
        self.assertEqual(control("POST", "config", {"clock_offset_secs": -3600}).json()["clock_offset_secs"], -3600)
        self.touch({"crm": "op", "ids": ["27"]})
        self.touch({"crm": "ac", "ids": ["42"]})
        dlm = int(self.op("/Contact?id=27")["data"]["dlm"])
        udate = datetime.datetime.fromisoformat(self.ac("/contacts/42")["contact"]["udate"]).timestamp()
        for stamp in (dlm, udate):
            self.assertLess(abs(stamp - (time.time() - 3600)), 5)
        control("POST", "reset")
        self.assertEqual(control("GET", "config").json()["clock_offset_secs"], 0, "reset restores the clock")
        udate = datetime.datetime.fromisoformat(self.ac("/contacts/42")["contact"]["udate"]).timestamp()
        self.assertLess(abs(udate - time.time()), 5, "and stamps the seed by it")

    def test_bulk_create_checks_its_input(self):
        self.assertEqual(control("POST", "ac/contacts", {"count": 0}).status, 400)
        self.assertEqual(control("POST", "ac/contacts", {"count": 2, "first_id": 42}).status, 400, "42 exists")
        ids = self.create("ac", {"count": 2, "email": "x{id}@example.com", "fields": {"Membership Level": "Bronze"}})
        self.assertEqual(ids, ["45", "46"])
        contact = self.ac("/contacts/46")
        self.assertEqual(contact["contact"]["email"], "x46@example.com")
        self.assertEqual({fv["field"]: fv["value"] for fv in contact["fieldValues"]}, {"1": "Bronze"})

    def test_log_count(self):
        control("DELETE", "log")
        self.ac("/contacts/42")
        self.ac("/contacts/43")
        self.ac("/contacts?" + query(**{"orders[id]": "ASC"}))
        self.op("/Contact?id=27")
        call("GET", "/api/3/contacts/999", headers=AC)

        def count(**params):
            return control("GET", "log/count?" + query(**params)).json()["count"]

        self.assertEqual(count(crm="ac"), 4)
        self.assertEqual(count(crm="ac", path_regex=r"^/api/3/contacts/\d+$"), 3)
        self.assertEqual(count(crm="ac", path_regex=r"orders\[id\]=ASC"), 1, "matched on the decoded query")
        self.assertEqual(count(crm="ac", status="404"), 1)
        self.assertEqual(count(method="GET"), 5, "control calls to the log are not logged")
        last = control("GET", "log").json()[-1]["seq"]
        self.op("/Contact?id=28")
        self.assertEqual(count(since=last), 1)
        self.assertEqual(control("GET", "log/count?path_regex=(").status, 400)


if __name__ == "__main__":
    unittest.main()

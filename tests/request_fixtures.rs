//! Webhook request parsing and authentication against the wire fixtures of
//! crm-protocols.md (§1.3, §1.4, §3.1), the URL formats of the product documents, and every
//! class of malformed input.

use std::collections::BTreeMap;

use crmhooks::error::Error;
use crmhooks::request::{parse, Action, WebhookRequest, MAX_BODY_BYTES};

const FORM: &str = "application/x-www-form-urlencoded";
const KEY: &str = "k3y-Secret_value0123456789abcdefghijklmnopq";

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// `request::accept` with text arguments (the FFI passes bytes).
fn accept(method: &str, query: &str, content_type: &str, body: &[u8], key: &str) -> Result<WebhookRequest, Error> {
    crmhooks::request::accept(method.as_bytes(), query.as_bytes(), content_type.as_bytes(), body, key)
}

fn post_form(query: &str, body: &[u8]) -> Result<WebhookRequest, Error> {
    parse("POST", query, FORM, body)
}

fn get(query: &str) -> Result<WebhookRequest, Error> {
    parse("GET", query, "", b"")
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

fn fields(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// The query part of a documented webhook URL.
fn query_of(url: &str) -> &str {
    url.split_once('?').map(|(_, q)| q).unwrap_or("")
}

// --- fixtures -------------------------------------------------------------------------------

#[test]
fn ac_contact_tag_added() {
    let r = post_form("wpf_action=update_tags&access_key=K", &fixture("ac_contact_tag_added.form")).unwrap();
    assert_eq!(r.action, Action::UpdateTags);
    assert_eq!(r.contact_id.as_deref(), Some("42"));
    assert_eq!(r.email, None, "contact[email] is event data, not the top-level email parameter");
    let e = &r.event;
    assert_eq!(e.r#type.as_deref(), Some("contact_tag_added"));
    assert_eq!(e.date_time.as_deref(), Some("2024-02-28T07:04:13-06:00"));
    assert_eq!(e.initiated_from.as_deref(), Some("admin"));
    assert_eq!(e.initiated_by.as_deref(), Some("admin"));
    assert_eq!(e.seriesid, None);
    assert_eq!(e.tag.as_deref(), Some("vip"));
    assert_eq!(e.tags, Some(strings(&["member", "vip"])));
    assert_eq!(e.fields, fields(&[("1", "Gold"), ("7", "||Option 1||Option 2||")]));
    assert_eq!(e.email.as_deref(), Some("jane.doe@example.com"));
    assert_eq!(e.first_name.as_deref(), Some("Jane"));
    assert_eq!(e.last_name.as_deref(), Some("Doe"));
}

#[test]
fn ac_contact_tag_removed() {
    let r = post_form("wpf_action=update_tags&access_key=K", &fixture("ac_contact_tag_removed.form")).unwrap();
    assert_eq!(r.event.r#type.as_deref(), Some("contact_tag_removed"));
    assert_eq!(r.event.tag.as_deref(), Some("vip"));
    assert_eq!(r.contact_id.as_deref(), Some("42"));
}

#[test]
fn ac_subscribe() {
    let r = post_form("wpf_action=add&access_key=K&send_notification=true", &fixture("ac_subscribe.form")).unwrap();
    assert_eq!(r.action, Action::Add);
    assert!(r.send_notification);
    assert_eq!(r.contact_id.as_deref(), Some("42"));
    assert_eq!(r.event.r#type.as_deref(), Some("subscribe"));
    assert_eq!(r.event.date_time.as_deref(), Some("2024-02-28T07:00:02-06:00"));
    assert_eq!(r.event.tags, Some(vec![]), "present but empty contact[tags] means no tags");
    assert_eq!(r.event.tag, None);
    assert_eq!(r.event.fields, fields(&[("1", "Gold")]));
    assert_eq!(r.event.email.as_deref(), Some("jane.doe@example.com"));
}

#[test]
fn ac_update() {
    let r = post_form("wpf_action=update&access_key=K", &fixture("ac_update.form")).unwrap();
    assert_eq!(r.action, Action::Update);
    assert_eq!(r.event.r#type.as_deref(), Some("update"));
    assert_eq!(r.event.tags, Some(strings(&["member", "vip"])));
    assert_eq!(r.event.fields, fields(&[("1", "Gold")]));
}

#[test]
fn ac_automation_webhook() {
    let r = post_form("wpf_action=add&access_key=K", &fixture("ac_automation_webhook.form")).unwrap();
    assert_eq!(r.contact_id.as_deref(), Some("42"));
    let e = &r.event;
    assert_eq!(e.r#type, None);
    assert_eq!(e.date_time, None);
    assert_eq!(e.initiated_from, None);
    assert_eq!(e.seriesid.as_deref(), Some("12"));
    assert_eq!(e.tags, Some(strings(&["member", "vip"])));
    assert_eq!(e.fields, fields(&[("membership_level", "Gold")]), "perstag keys stay strings");
    assert_eq!(e.first_name.as_deref(), Some("Jane"));
}

#[test]
fn ac_fixtures_parse_with_any_form_content_type_spelling() {
    for ct in
        [FORM, "application/x-www-form-urlencoded; charset=utf-8", "APPLICATION/X-WWW-FORM-URLENCODED;charset=UTF-8"]
    {
        let r = parse("POST", "wpf_action=update&access_key=K", ct, &fixture("ac_update.form")).unwrap();
        assert_eq!(r.event.r#type.as_deref(), Some("update"), "{ct}");
    }
}

const OP_QUERY: &str = "wpf_action=update&access_key=K&contact_id=27";

#[test]
fn op_ping_blank_body() {
    for ct in ["", FORM, "text/plain", "application/json"] {
        let r = parse("POST", OP_QUERY, ct, &fixture("op_ping_blank.txt")).unwrap();
        assert_eq!(r.action, Action::Update);
        assert_eq!(r.contact_id.as_deref(), Some("27"), "{ct}");
        assert_eq!(r.event, Default::default());
    }
}

#[test]
fn op_ping_form_body() {
    for ct in [FORM, "", "text/plain", "application/octet-stream"] {
        let r = parse("POST", OP_QUERY, ct, &fixture("op_ping_form.txt")).unwrap();
        assert_eq!(r.contact_id.as_deref(), Some("27"), "{ct}");
        assert_eq!(r.email, None, "{ct}: with a contact ID the email locates nothing and is not kept");
    }
}

#[test]
fn op_ping_json_body() {
    for ct in ["application/json", "application/json; charset=UTF-8", "", "text/plain"] {
        let r = parse("POST", OP_QUERY, ct, &fixture("op_ping_json.txt")).unwrap();
        assert_eq!(r.contact_id.as_deref(), Some("27"), "{ct}");
        assert_eq!(r.email, None, "{ct}: with a contact ID the email locates nothing and is not kept");
    }
}

// --- URL formats from the product documents ---------------------------------------------------

#[test]
fn documented_activecampaign_urls() {
    let cases = [
        ("https://mydomain.com/?wpf_action=update_tags&access_key=YOURACCESSKEY", Action::UpdateTags, false, None),
        ("https://mydomain.com/?wpf_action=update&access_key=YOURACCESSKEY", Action::Update, false, None),
        ("https://mydomain.com/?wpf_action=add&access_key=YOURACCESSKEY", Action::Add, false, None),
        (
            "https://mydomain.com/?wpf_action=add&access_key=YOURACCESSKEY&send_notification=true",
            Action::Add,
            true,
            None,
        ),
        (
            "https://mydomain.com/?wpf_action=add&access_key=YOURACCESSKEY&role=customer",
            Action::Add,
            false,
            Some("customer"),
        ),
    ];
    for (url, action, notify, role) in cases {
        // ActiveCampaign posts the contact in the body; the URL carries the rest.
        let r = post_form(query_of(url), &fixture("ac_automation_webhook.form")).unwrap();
        assert_eq!(r.action, action, "{url}");
        assert_eq!(r.send_notification, notify, "{url}");
        assert_eq!(r.role.as_deref(), role, "{url}");
        assert_eq!(r.contact_id.as_deref(), Some("42"));
        assert_eq!(r.async_mode, None);
    }
}

#[test]
fn documented_ontraport_urls_with_the_merge_field_replaced() {
    let cases = [
        ("https://mydomain.com/?wpf_action=update_tags&access_key=YOURACCESSKEY&contact_id=[Contact ID]", Action::UpdateTags, false, None),
        ("https://mydomain.com/?wpf_action=update&access_key=YOURACCESSKEY&contact_id=[Contact ID]", Action::Update, false, None),
        ("https://mydomain.com/?wpf_action=add&access_key=YOURACCESSKEY&contact_id=[Contact ID]", Action::Add, false, None),
        ("https://mydomain.com/?wpf_action=add&access_key=YOURACCESSKEY&contact_id=[Contact ID]&send_notification=true", Action::Add, true, None),
        ("https://mydomain.com/?wpf_action=add&access_key=YOURACCESSKEY&contact_id=[Contact ID]&role=customer", Action::Add, false, Some("customer")),
    ];
    for (url, action, notify, role) in cases {
        let r = parse("POST", &query_of(url).replace("[Contact ID]", "27"), "", b"").unwrap();
        assert_eq!((r.action, r.send_notification, r.role.as_deref()), (action, notify, role), "{url}");
        assert_eq!(r.contact_id.as_deref(), Some("27"));
        // Unreplaced, the merge field is refused (raw and percent-encoded spellings).
        assert_eq!(get(query_of(url)), Err(Error::InvalidParameter("contact_id")), "{url}");
        let encoded = query_of(url).replace("[Contact ID]", "%5BContact%20ID%5D");
        assert_eq!(get(&encoded), Err(Error::InvalidParameter("contact_id")), "{url}");
    }
}

#[test]
fn documented_browser_test_url() {
    let r = get(query_of("https://mysite.com/?wpf_action=add&access_key=KEY&contact_id=123")).unwrap();
    assert_eq!((r.action, r.contact_id.as_deref()), (Action::Add, Some("123")));
    let r = get("?wpf_action=test&access_key=KEY").unwrap();
    assert_eq!(r.action, Action::Test, "a leading '?' is tolerated");
}

#[test]
fn async_parameter() {
    assert_eq!(get("wpf_action=add&async=true").unwrap().async_mode, Some(true));
    assert_eq!(get("wpf_action=add&async=1").unwrap().async_mode, Some(true));
    assert_eq!(get("wpf_action=add&async=FALSE").unwrap().async_mode, Some(false));
    assert_eq!(get("wpf_action=add&async=0").unwrap().async_mode, Some(false));
    assert_eq!(get("wpf_action=add&async=maybe").unwrap().async_mode, None);
    assert_eq!(get("wpf_action=add").unwrap().async_mode, None);
}

#[test]
fn send_notification_values() {
    for (value, expected) in [
        ("true", true),
        ("1", true),
        ("YES", true),
        ("on", true),
        ("false", false),
        ("0", false),
        ("", false),
        ("nope", false),
    ] {
        let r = get(&format!("wpf_action=add&send_notification={value}")).unwrap();
        assert_eq!(r.send_notification, expected, "{value}");
    }
}

#[test]
fn role_is_trimmed_and_empty_is_absent() {
    assert_eq!(get("wpf_action=add&role=+customer+").unwrap().role.as_deref(), Some("customer"));
    assert_eq!(get("wpf_action=add&role=").unwrap().role, None);
    assert_eq!(get("wpf_action=add&role=%20%20").unwrap().role, None);
}

// --- actions, aliases, case, methods ------------------------------------------------------------

#[test]
fn actions_aliases_and_case() {
    for (value, action) in [
        ("update_tags", Action::UpdateTags),
        ("update", Action::Update),
        ("add", Action::Add),
        ("test", Action::Test),
        ("add_user", Action::Add),
        ("update_user", Action::Update),
        ("ADD", Action::Add),
        ("Update_Tags", Action::UpdateTags),
        ("%20add%20", Action::Add),
        ("+update+", Action::Update),
    ] {
        assert_eq!(get(&format!("wpf_action={value}")).unwrap().action, action, "{value}");
        assert_eq!(get(&format!("crmhooks_action={value}")).unwrap().action, action, "{value}");
    }
}

#[test]
fn missing_and_unknown_actions() {
    assert_eq!(get(""), Err(Error::MissingParameter("wpf_action")));
    assert_eq!(get("wpf_action="), Err(Error::MissingParameter("wpf_action")));
    assert_eq!(get("access_key=K&contact_id=1"), Err(Error::MissingParameter("wpf_action")));
    assert_eq!(get("wpf_action=delete"), Err(Error::UnknownAction));
    assert_eq!(get("wpf_action=add%00"), Err(Error::InvalidParameter("query")));
    assert_eq!(get("wpf_action=ad"), Err(Error::UnknownAction));
}

#[test]
fn action_in_the_body() {
    assert_eq!(post_form("", b"wpf_action=add").unwrap().action, Action::Add);
    assert_eq!(post_form("", b"crmhooks_action=update").unwrap().action, Action::Update);
    assert_eq!(
        parse("POST", "", "application/json", br#"{"wpf_action":"update_tags"}"#).unwrap().action,
        Action::UpdateTags
    );
}

#[test]
fn methods() {
    for m in ["GET", "POST", "PUT", "get", "Post", "put"] {
        assert!(parse(m, "wpf_action=add", "", b"").is_ok(), "{m}");
    }
    for m in ["HEAD", "DELETE", "PATCH", "OPTIONS", "", "G ET", "POST\0"] {
        assert_eq!(parse(m, "wpf_action=add", "", b""), Err(Error::InvalidParameter("method")), "{m:?}");
    }
}

// --- precedence ---------------------------------------------------------------------------------

#[test]
fn query_wins_for_action_key_email_role_and_flags() {
    let body = b"wpf_action=update&access_key=BODY&email=b%40x.com&role=editor&send_notification=false&async=false";
    let r =
        post_form("wpf_action=add&access_key=QUERY&email=q%40x.com&role=customer&send_notification=1&async=1", body)
            .unwrap();
    assert_eq!(r.action, Action::Add);
    assert_eq!(r.email.as_deref(), Some("q@x.com"));
    assert_eq!(r.role.as_deref(), Some("customer"));
    assert!(r.send_notification);
    assert_eq!(r.async_mode, Some(true));
    // Absent from the query, the body fills in.
    let r = post_form("", body).unwrap();
    assert_eq!(r.action, Action::Update);
    assert_eq!(r.email.as_deref(), Some("b@x.com"));
    assert_eq!(r.async_mode, Some(false));
}

#[test]
fn wpf_action_wins_over_its_alias_within_a_source() {
    assert_eq!(get("crmhooks_action=add&wpf_action=update").unwrap().action, Action::Update);
    // ...but a query alias still wins over the body.
    assert_eq!(post_form("crmhooks_action=add", b"wpf_action=update").unwrap().action, Action::Add);
}

#[test]
fn contact_id_precedence() {
    let q = "wpf_action=add&contact_id=200";
    assert_eq!(post_form(q, b"contact%5Bid%5D=100&contact_id=300").unwrap().contact_id.as_deref(), Some("100"));
    assert_eq!(post_form(q, b"contact_id=300").unwrap().contact_id.as_deref(), Some("200"));
    assert_eq!(post_form("wpf_action=add", b"contact_id=300").unwrap().contact_id.as_deref(), Some("300"));
    assert_eq!(post_form("wpf_action=add", b"").unwrap().contact_id, None);
    assert_eq!(post_form("wpf_action=add", b"contact_id=+77+").unwrap().contact_id.as_deref(), Some("77"));
    // The winner is validated even when a lower source would be fine.
    assert_eq!(post_form(q, b"contact%5Bid%5D=").unwrap_err(), Error::InvalidParameter("contact_id"));
}

#[test]
fn duplicate_keys_last_wins() {
    assert_eq!(get("wpf_action=update&wpf_action=add").unwrap().action, Action::Add);
    assert_eq!(get("wpf_action=add&contact_id=1&contact_id=2").unwrap().contact_id.as_deref(), Some("2"));
    let r = post_form(
        "wpf_action=add",
        b"contact[id]=1&contact[tags]=a&contact[id]=2&contact[tags]=b&contact[fields][1]=x&contact[fields][1]=y",
    )
    .unwrap();
    assert_eq!(r.contact_id.as_deref(), Some("2"));
    assert_eq!(r.event.tags, Some(strings(&["b"])));
    assert_eq!(r.event.fields, fields(&[("1", "y")]));
    let r = parse("POST", "", "application/json", br#"{"wpf_action":"update","wpf_action":"add"}"#).unwrap();
    assert_eq!(r.action, Action::Add);
}

// --- JSON bodies ----------------------------------------------------------------------------------

#[test]
fn json_top_level_parameters() {
    let body = br#"{"wpf_action":"Add","access_key":"JK","contact_id":42,"email":"j@x.com","role":"customer","send_notification":true,"async":false}"#;
    let r = parse("POST", "", "application/json", body).unwrap();
    assert_eq!(r.action, Action::Add);
    assert_eq!(r.contact_id.as_deref(), Some("42"), "numbers as IDs become strings");
    assert_eq!(r.email, None, "a contact ID makes the lookup email moot");
    let without_id = br#"{"wpf_action":"add","email":"j@x.com"}"#;
    assert_eq!(parse("POST", "", "application/json", without_id).unwrap().email.as_deref(), Some("j@x.com"));
    assert_eq!(r.role.as_deref(), Some("customer"));
    assert!(r.send_notification);
    assert_eq!(r.async_mode, Some(false));
}

#[test]
fn json_activecampaign_like_contact() {
    let body = br#"{"type":"update","seriesid":7,"tag":"vip","contact":{"id":42,"email":"jane@x.com","first_name":"Jane","last_name":"Doe","tags":"a, b","fields":{"1":"Gold","utm_source":"ads","n":3}}}"#;
    let r = parse("POST", "wpf_action=update&contact_id=9", "application/json", body).unwrap();
    assert_eq!(r.contact_id.as_deref(), Some("42"), "contact.id wins like contact[id]");
    assert_eq!(r.event.r#type.as_deref(), Some("update"));
    assert_eq!(r.event.seriesid.as_deref(), Some("7"));
    assert_eq!(r.event.tag.as_deref(), Some("vip"));
    assert_eq!(r.event.tags, Some(strings(&["a", "b"])));
    assert_eq!(r.event.fields, fields(&[("1", "Gold"), ("n", "3"), ("utm_source", "ads")]));
    assert_eq!(r.event.email.as_deref(), Some("jane@x.com"));
    assert_eq!(r.event.first_name.as_deref(), Some("Jane"));
    assert_eq!(r.event.last_name.as_deref(), Some("Doe"));
}

#[test]
fn declared_json_must_be_valid() {
    let q = "wpf_action=add";
    assert_eq!(parse("POST", q, "application/json", b"{nope"), Err(Error::MalformedBody("invalid JSON")));
    assert_eq!(parse("POST", q, "application/json", b"wpf_action=add"), Err(Error::MalformedBody("invalid JSON")));
    assert_eq!(parse("POST", q, "application/json", b"[]"), Err(Error::MalformedBody("JSON body is not an object")));
    assert_eq!(parse("POST", q, "application/json", b"{\"a\":1} trailing"), Err(Error::MalformedBody("invalid JSON")));
    // 10 000 nested arrays hit serde_json's recursion limit: an error, not a stack overflow.
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    assert_eq!(parse("POST", q, "application/json", deep.as_bytes()), Err(Error::MalformedBody("invalid JSON")));
    let deep_objects = format!("{}1{}", "{\"a\":".repeat(10_000), "}".repeat(10_000));
    assert_eq!(
        parse("POST", q, "application/json", deep_objects.as_bytes()),
        Err(Error::MalformedBody("invalid JSON"))
    );
}

#[test]
fn unknown_content_type_with_bad_body_is_ignored() {
    let q = "wpf_action=add&contact_id=5";
    for body in [&b"{nope"[..], b"\xff\xfe=\x80", b"a=%00", b"a=x\0y", b"just some text", b"[1,2]"] {
        for ct in ["", "text/plain", "application/octet-stream"] {
            let r = parse("POST", q, ct, body).unwrap();
            assert_eq!(r.contact_id.as_deref(), Some("5"), "{ct} {body:?}");
        }
    }
}

#[test]
fn multipart_bodies_are_not_read() {
    let body = b"--x\r\nContent-Disposition: form-data; name=\"wpf_action\"\r\n\r\nadd\r\n--x--\r\n";
    let r = parse("POST", "wpf_action=update", "multipart/form-data; boundary=x", body).unwrap();
    assert_eq!(r.action, Action::Update);
    assert_eq!(r.event, Default::default());
}

// --- malformed input ------------------------------------------------------------------------------

#[test]
fn truncated_and_invalid_percent_escapes_do_not_panic() {
    // form_urlencoded keeps a bad escape literally; validation then decides.
    assert_eq!(get("wpf_action=add&contact_id=4%"), Err(Error::InvalidParameter("contact_id")));
    assert_eq!(get("wpf_action=add&contact_id=%4"), Err(Error::InvalidParameter("contact_id")));
    assert_eq!(get("wpf_action=add&role=%").unwrap().role.as_deref(), Some("%"));
    assert_eq!(get("wpf_action=add&role=%zz").unwrap().role.as_deref(), Some("%zz"));
    assert_eq!(get("wpf_action=ad%"), Err(Error::UnknownAction));
    assert_eq!(get("wpf_action%=add"), Err(Error::MissingParameter("wpf_action")));
    let r = post_form("wpf_action=add", b"contact%5Bfields%5D%5B1%5D=50%&contact%5Btags%5D=a%2").unwrap();
    assert_eq!(r.event.fields, fields(&[("1", "50%")]));
    assert_eq!(r.event.tags, Some(strings(&["a%2"])));
    for q in ["%", "%%", "%%%", "=%", "&%=&", "a=%e2%82", "%ff=%ff"] {
        assert!(get(q).is_err(), "{q}: no action");
    }
}

#[test]
fn invalid_utf8() {
    // Raw invalid UTF-8 in a declared form body is refused.
    assert_eq!(post_form("wpf_action=add", b"contact[id]=4\xff2"), Err(Error::MalformedBody("invalid UTF-8")));
    assert_eq!(post_form("wpf_action=add", b"\xc3"), Err(Error::MalformedBody("invalid UTF-8")));
    assert_eq!(
        parse("POST", "wpf_action=add", "application/json", b"{\"a\":\"\xff\"}"),
        Err(Error::MalformedBody("invalid UTF-8"))
    );
    // Percent-escaped invalid UTF-8 decodes lossily to U+FFFD; an ID then fails validation.
    assert_eq!(post_form("wpf_action=add", b"contact[id]=4%FF2"), Err(Error::InvalidParameter("contact_id")));
    let r = post_form("wpf_action=add", b"contact[first_name]=J%FFne").unwrap();
    assert_eq!(r.event.first_name.as_deref(), Some("J\u{FFFD}ne"));
    // Valid multi-byte UTF-8 is kept.
    let r = post_form("wpf_action=add", "contact[first_name]=Zoë&contact[fields][1]=%E2%82%AC".as_bytes()).unwrap();
    assert_eq!(r.event.first_name.as_deref(), Some("Zoë"));
    assert_eq!(r.event.fields, fields(&[("1", "€")]));
}

#[test]
fn nul_bytes() {
    assert_eq!(post_form("wpf_action=add", b"contact[id]=42\0"), Err(Error::MalformedBody("NUL byte")));
    assert_eq!(post_form("wpf_action=add", b"contact[id]=42%00"), Err(Error::MalformedBody("NUL byte")));
    assert_eq!(post_form("wpf_action=add", b"x%00=1"), Err(Error::MalformedBody("NUL byte")));
    assert_eq!(post_form("wpf_action=add", b"\0"), Err(Error::MalformedBody("NUL byte")));
    assert_eq!(get("wpf_action=add&role=admin%00istrator"), Err(Error::InvalidParameter("query")));
    assert_eq!(get("wpf_action=add&x%00=1"), Err(Error::InvalidParameter("query")));
    assert_eq!(
        parse("POST", "wpf_action=add", "application/json", br#"{"role":"a\u0000b"}"#),
        Err(Error::MalformedBody("NUL byte"))
    );
}

#[test]
fn empty_everything() {
    assert_eq!(parse("", "", "", b""), Err(Error::InvalidParameter("method")));
    assert_eq!(parse("GET", "", "", b""), Err(Error::MissingParameter("wpf_action")));
    assert_eq!(parse("POST", "", FORM, b""), Err(Error::MissingParameter("wpf_action")));
    assert_eq!(parse("POST", "", "application/json", b""), Err(Error::MissingParameter("wpf_action")));
    assert_eq!(parse("POST", "&&&", FORM, b"&&="), Err(Error::MissingParameter("wpf_action")));
    let r = parse("POST", "wpf_action=add", FORM, b"").unwrap();
    assert_eq!((r.contact_id, r.email, r.role), (None, None, None));
    assert_eq!(r.event, Default::default());
    let r = post_form("wpf_action=add", b"type=&tag=&contact[email]=&contact[tags]=&contact[fields][1]=").unwrap();
    assert_eq!((r.event.r#type, r.event.tag, r.event.email), (None, None, None), "empty strings are absent");
    assert_eq!(r.event.tags, Some(vec![]));
    assert_eq!(r.event.fields, fields(&[("1", "")]), "an empty field value is a cleared field");
    assert_eq!(post_form("wpf_action=add", b"").unwrap().event.tags, None, "no contact[tags] at all");
}

#[test]
fn one_mebibyte_body_parses() {
    let prefix = b"contact%5Bid%5D=42&contact%5Bfields%5D%5Bnotes%5D=";
    let mut body = prefix.to_vec();
    body.resize(1024 * 1024, b'a');
    let r = post_form("wpf_action=update", &body).unwrap();
    assert_eq!(r.contact_id.as_deref(), Some("42"));
    assert_eq!(r.event.fields.get("notes").map(String::len), Some(1024 * 1024 - prefix.len()));
    // Many small pairs too.
    let many = "contact[fields][k]=v&".repeat(1024 * 1024 / 21);
    assert!(post_form("wpf_action=update", many.as_bytes()).is_ok());
}

#[test]
fn body_size_cap() {
    let mut body = b"a=".to_vec();
    body.resize(MAX_BODY_BYTES, b'a');
    assert!(post_form("wpf_action=add", &body).is_ok(), "exactly the cap is fine");
    body.push(b'a');
    assert_eq!(post_form("wpf_action=add", &body), Err(Error::BodyTooLarge));
    let five = vec![b'a'; 5 * 1024 * 1024];
    for ct in [FORM, "application/json", "", "multipart/form-data"] {
        assert_eq!(parse("POST", "wpf_action=add", ct, &five), Err(Error::BodyTooLarge), "{ct}");
    }
}

#[test]
fn ten_thousand_nested_brackets() {
    let deep_key = format!("contact{}", "[fields]".repeat(10_000));
    let body = format!("contact[id]=42&{deep_key}=x&a{}=y", "[".repeat(10_000));
    let r = post_form("wpf_action=add", body.as_bytes()).unwrap();
    assert_eq!(r.contact_id.as_deref(), Some("42"));
    assert!(r.event.fields.is_empty(), "keys deeper than the cap are dropped");
    let r = get(&format!("wpf_action=add&{deep_key}=x&contact_id{}=1", "[x]".repeat(10_000))).unwrap();
    assert_eq!(r.contact_id, None);
    // Eight levels are kept, nine are dropped.
    let eight = format!("wpf_action=add&contact[fields][k]=v&a{}=1", "[x]".repeat(8));
    assert!(get(&eight).is_ok());
}

// --- accept: 401 before 400 -------------------------------------------------------------------------

fn accept_get(query: &str, configured: &str) -> Result<WebhookRequest, Error> {
    accept("GET", query, "", b"", configured)
}

#[test]
fn accept_right_key() {
    let r = accept_get(&format!("wpf_action=add&access_key={KEY}&contact_id=1"), KEY).unwrap();
    assert_eq!(r.action, Action::Add);
    let r =
        accept("POST", "wpf_action=update", FORM, format!("access_key={KEY}&contact[id]=42").as_bytes(), KEY).unwrap();
    assert_eq!(r.contact_id.as_deref(), Some("42"));
    let json = format!(r#"{{"wpf_action":"add","access_key":"{KEY}"}}"#);
    assert_eq!(accept("POST", "", "application/json", json.as_bytes(), KEY).unwrap().action, Action::Add);
    assert_eq!(
        accept("POST", "", "", json.as_bytes(), KEY).unwrap().action,
        Action::Add,
        "unknown type, JSON-looking body"
    );
    // Whitespace around the configured key (pasted settings) does not matter.
    assert!(accept_get(&format!("wpf_action=add&access_key={KEY}"), &format!(" {KEY}\n")).is_ok());
}

#[test]
fn accept_fails_closed_without_a_configured_key() {
    for configured in ["", " ", "\t\n"] {
        assert_eq!(accept_get("wpf_action=add&access_key=", configured), Err(Error::Unauthorized));
        assert_eq!(accept_get("wpf_action=add", configured), Err(Error::Unauthorized));
        assert_eq!(
            accept_get(&format!("wpf_action=add&access_key={configured}"), configured),
            Err(Error::Unauthorized)
        );
    }
}

#[test]
fn accept_rejects_missing_and_wrong_keys() {
    let short = &KEY[..KEY.len() - 1];
    let long = format!("{KEY}x");
    let mut flipped = KEY.to_string();
    flipped.replace_range(0..1, "K");
    for given in [None, Some(""), Some(short), Some(long.as_str()), Some(flipped.as_str()), Some("k3y")] {
        let query = match given {
            Some(k) => format!("wpf_action=add&access_key={k}"),
            None => "wpf_action=add".to_string(),
        };
        assert_eq!(accept_get(&query, KEY), Err(Error::Unauthorized), "{given:?}");
    }
}

#[test]
fn accept_query_key_wins_over_body_key() {
    let body = format!("access_key={KEY}");
    assert_eq!(accept("POST", "wpf_action=add&access_key=wrong", FORM, body.as_bytes(), KEY), Err(Error::Unauthorized));
    assert!(accept("POST", &format!("wpf_action=add&access_key={KEY}"), FORM, b"access_key=wrong", KEY).is_ok());
}

#[test]
fn accept_answers_unauthorized_before_any_parse_error() {
    let bad_requests: [(&str, &str, &str, &[u8]); 7] = [
        ("DELETE", "wpf_action=add", "", b""),
        ("GET", "", "", b""),
        ("GET", "wpf_action=frobnicate", "", b""),
        ("GET", "wpf_action=add&contact_id=[Contact ID]", "", b""),
        ("POST", "wpf_action=add", "application/json", b"{nope"),
        ("POST", "wpf_action=add", FORM, b"contact[id]=\xff"),
        ("POST", "wpf_action=add%00", "", b""),
    ];
    for (method, query, ct, body) in bad_requests {
        assert!(parse(method, query, ct, body).is_err());
        assert_eq!(accept(method, query, ct, body, KEY), Err(Error::Unauthorized), "no key: {query}");
        let wrong = format!("{query}&access_key=wrong");
        assert_eq!(accept(method, &wrong, ct, body, KEY), Err(Error::Unauthorized), "wrong key: {query}");
        assert_eq!(accept(method, &format!("{query}&access_key={KEY}"), ct, body, ""), Err(Error::Unauthorized));
        // With the right key the real parse error comes through (bytes that are not UTF-8 are
        // named by parameter, which the lenient `parse` cannot see).
        let right = format!("{query}&access_key={KEY}");
        let expected = match parse(method, &right, ct, body) {
            Err(Error::MalformedBody("invalid UTF-8")) => Err(Error::NotUtf8("contact[id]".into())),
            other => other,
        };
        assert_eq!(accept(method, &right, ct, body, KEY), expected, "right key: {query}");
    }
}

#[test]
fn accept_finds_a_body_key_in_an_otherwise_malformed_body() {
    let mut form_bad_utf8 = format!("access_key={KEY}&contact[id]=").into_bytes();
    form_bad_utf8.push(0xff);
    assert_eq!(accept("POST", "wpf_action=add", FORM, &form_bad_utf8, KEY), Err(Error::NotUtf8("contact[id]".into())));
    let nul = format!("access_key={KEY}&role=a%00b");
    assert_eq!(accept("POST", "wpf_action=add", FORM, nul.as_bytes(), KEY), Err(Error::MalformedBody("NUL byte")));
    let json = format!(r#"{{"access_key":"{KEY}","wpf_action":"frobnicate"}}"#);
    assert_eq!(accept("POST", "", "application/json", json.as_bytes(), KEY), Err(Error::UnknownAction));
}

#[test]
fn accept_and_oversized_bodies() {
    let five = vec![b'a'; 5 * 1024 * 1024];
    assert_eq!(
        accept("POST", "wpf_action=add", FORM, &five, KEY),
        Err(Error::Unauthorized),
        "an oversized body is not searched for a key"
    );
    assert_eq!(accept("POST", &format!("wpf_action=add&access_key={KEY}"), FORM, &five, KEY), Err(Error::BodyTooLarge));
}

// --- output -------------------------------------------------------------------------------------------

#[test]
fn serialized_request_never_contains_the_key() {
    let query = format!("wpf_action=add&access_key={KEY}");
    for body in [fixture("ac_contact_tag_added.form"), format!("access_key={KEY}").into_bytes()] {
        let r = accept("POST", &query, FORM, &body, KEY).unwrap();
        let json = serde_json::to_string(&r).unwrap();
        assert!(!json.contains(KEY), "{json}");
        assert!(!json.contains("access_key"), "{json}");
    }
}

#[test]
fn serialized_shape_matches_the_abi() {
    let r = post_form("wpf_action=update_tags&access_key=K", &fixture("ac_contact_tag_added.form")).unwrap();
    let v: serde_json::Value = serde_json::to_value(&r).unwrap();
    let expected = serde_json::json!({
        "action": "update_tags", "contact_id": "42", "email": null, "role": null,
        "send_notification": false, "async": null,
        // Routing facts only: field values, tags and names from the body never leave the library;
        // of the tag names only their digest does (for the CRM client's rename check).
        "event": {"type": "contact_tag_added", "initiated_from": "admin",
                  "tags_digest": crmhooks::crm::tag_lookup::tag_set_digest(&["vip".into(), "member".into()])}
    });
    assert_eq!(v, expected);
    assert_eq!(r.event.tags, Some(vec!["member".to_string(), "vip".to_string()]), "still parsed for the library");
}

#[test]
fn error_messages_never_echo_request_values() {
    let secret = "S3cretValue";
    let cases = [
        parse("POST", &format!("wpf_action=add&contact_id={secret}!"), "", b""),
        parse("POST", &format!("wpf_action={secret}"), "", b""),
        parse("POST", &format!("wpf_action=add&email={secret}"), "", b""),
        parse("POST", "wpf_action=add", "application/json", format!("{{\"{secret}\"").as_bytes()),
        parse(secret, "wpf_action=add", "", b""),
        accept("GET", &format!("wpf_action=add&access_key={secret}"), "", b"", KEY),
    ];
    for case in cases {
        let message = case.unwrap_err().to_string();
        assert!(!message.contains(secret), "{message}");
    }
}

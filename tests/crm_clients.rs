//! The CRM clients against the stand-in CRM (tests/standin/standin.py), one process per test
//! binary. Tests share it, so each takes a lock and resets the stand-in (state, faults,
//! config, log) and the clients' name caches before it starts.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use once_cell::sync::OnceCell;
use serde_json::{json, Value};

use crmhooks::contact::Contact;
use crmhooks::crm::client::{self, client_for};
use crmhooks::crm::http::PLAIN_HTTP_REFUSED;
use crmhooks::crm::{Crm, CrmConfig, CrmError, TagRef};

const AC_TOKEN: &str = "ac-test-token";
const OP_APP_ID: &str = "op-test-app";
const OP_KEY: &str = "op-test-key";

struct Standin {
    port: u16,
    /// Keeps the wrapper's stdin open; when this test binary exits the pipe closes and the
    /// wrapper stops the stand-in.
    _wrapper: Child,
}

fn standin() -> &'static Standin {
    static STANDIN: OnceCell<Standin> = OnceCell::new();
    STANDIN.get_or_init(start_standin)
}

fn start_standin() -> Standin {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let script = root.join("tests/standin/standin.py");
    let seed = root.join("tests/standin/seed.json");
    assert!(script.exists(), "the stand-in is missing: {}", script.display());
    let port_file = std::env::temp_dir().join(format!("crmhooks-crm-clients-{}.port", std::process::id()));
    let _ = std::fs::remove_file(&port_file);
    let mut wrapper = Command::new("sh")
        .arg("-c")
        .arg(r#"python3 "$0" --host 127.0.0.1 --port 0 --port-file "$1" --seed "$2" & child=$!; echo started; read _unused; kill $child"#)
        .arg(&script)
        .arg(&port_file)
        .arg(&seed)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the stand-in wrapper");
    let mut line = String::new();
    BufReader::new(wrapper.stdout.take().expect("wrapper stdout")).read_line(&mut line).expect("wrapper output");
    let started = Instant::now();
    let port = loop {
        if let Some(port) = std::fs::read_to_string(&port_file).ok().and_then(|text| text.trim().parse::<u16>().ok()) {
            break port;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "the stand-in did not write its port file");
        std::thread::sleep(Duration::from_millis(50));
    };
    let _ = std::fs::remove_file(&port_file);
    Standin { port, _wrapper: wrapper }
}

fn control_url(path: &str) -> String {
    format!("http://127.0.0.1:{}/_control/{path}", standin().port)
}

fn control_agent() -> ureq::Agent {
    ureq::Agent::config_builder().http_status_as_error(false).proxy(None).build().into()
}

/// Call the stand-in's control interface; a failure there is a broken test setup.
fn control(method: &str, path: &str, body: Option<Value>) -> Value {
    let agent = control_agent();
    let url = control_url(path);
    let result = match (method, body) {
        ("GET", _) => agent.get(&url).call(),
        ("DELETE", _) => agent.delete(&url).call(),
        ("POST", Some(body)) => agent.post(&url).content_type("application/json").send(body.to_string()),
        ("POST", None) => agent.post(&url).send_empty(),
        ("PUT", Some(body)) => agent.put(&url).content_type("application/json").send(body.to_string()),
        _ => panic!("unsupported control call {method} {path}"),
    };
    let mut response = result.unwrap_or_else(|e| panic!("control {method} {path}: {e}"));
    let status = response.status().as_u16();
    let text = response.body_mut().read_to_string().expect("control body");
    assert_eq!(status, 200, "control {method} {path}: {text}");
    serde_json::from_str(&text).expect("control JSON")
}

fn fault(spec: Value) {
    control("POST", "faults", Some(spec));
}

/// API requests the stand-in saw since the last `fresh()` or `clear_log()`, as "METHOD path?query".
fn api_log(crm: &str) -> Vec<String> {
    let log = control("GET", "log", None);
    log.as_array()
        .expect("log array")
        .iter()
        .filter(|e| e["crm"] == crm)
        .map(|e| {
            let query = e["query"].as_str().unwrap_or("");
            let path = e["path"].as_str().unwrap_or("");
            let method = e["method"].as_str().unwrap_or("");
            if query.is_empty() {
                format!("{method} {path}")
            } else {
                format!("{method} {path}?{query}")
            }
        })
        .collect()
}

fn clear_log() {
    control("DELETE", "log", None);
}

/// Serialize the tests and reset everything they share.
fn fresh() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    let guard = LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    control("POST", "reset", None);
    client::clear_caches();
    clear_log();
    guard
}

fn ac_config() -> CrmConfig {
    CrmConfig {
        crm: "activecampaign".into(),
        base_url: format!("http://127.0.0.1:{}", standin().port),
        api_token: AC_TOKEN.into(),
        // The stand-in speaks plain HTTP on loopback, as a development setup would.
        allow_http_loopback: true,
        rate_window: None,
        ..Default::default()
    }
}

fn op_config() -> CrmConfig {
    CrmConfig {
        crm: "ontraport".into(),
        base_url: format!("http://127.0.0.1:{}/1/", standin().port),
        app_id: OP_APP_ID.into(),
        api_key: OP_KEY.into(),
        allow_http_loopback: true,
        rate_window: None,
        ..Default::default()
    }
}

fn ac() -> Box<dyn Crm> {
    client_for(&ac_config()).expect("AC client")
}

fn op() -> Box<dyn Crm> {
    client_for(&op_config()).expect("OP client")
}

fn field<'a>(contact: &'a Contact, key: &str) -> Option<(&'a str, &'a str)> {
    contact.fields.iter().find(|f| f.key == key).map(|f| (f.label.as_str(), f.value.as_str()))
}

fn tag_names(contact: &Contact) -> Vec<String> {
    let mut names = contact.tag_names();
    names.sort();
    names
}

/// An error's message must not leak credentials, bodies or request values.
fn assert_clean(error: &CrmError) {
    let text = error.to_string();
    for secret in [AC_TOKEN, OP_APP_ID, OP_KEY, "example.com", "injected", "<html", "Forbidden", "127.0.0.1"] {
        assert!(!text.contains(secret), "error message leaks {secret:?}: {text}");
    }
}

// ---- fetching -------------------------------------------------------------------------------

#[test]
fn ac_fetch_contact_reads_field_values_separately_when_not_sideloaded() {
    let _guard = fresh();
    ac().fetch_contact("42").unwrap(); // warm the name caches
    control("POST", "config", Some(serde_json::json!({"ac_sideload_field_values": false})));
    clear_log();
    let contact = ac().fetch_contact("42").unwrap();
    assert_eq!(field(&contact, "1"), Some(("Membership Level", "Gold")));
    assert_eq!(
        api_log("ac"),
        vec!["GET /api/3/contacts/42?include=contactTags%2CfieldValues", "GET /api/3/contacts/42/fieldValues"]
    );
}

#[test]
fn ac_fetch_contact_costs_one_request_per_contact() {
    let _guard = fresh();
    ac().fetch_contact("42").unwrap(); // warm the name caches
    clear_log();
    let contacts: Vec<Contact> = ["42", "43", "42"].iter().map(|id| ac().fetch_contact(id).unwrap()).collect();
    assert_eq!(api_log("ac").len(), 3, "one request per contact: {:?}", api_log("ac"));
    assert_eq!(tag_names(&contacts[1]), vec!["member", "vip"], "tag names resolved from the sideloaded rows");
    assert_eq!(field(&contacts[0], "1"), Some(("Membership Level", "Gold")));
}

#[test]
fn ac_fetch_contact_reads_tags_separately_from_a_server_without_include() {
    let _guard = fresh();
    ac().fetch_contact("43").unwrap(); // warm the name caches
    control("POST", "config", Some(serde_json::json!({"ac_include": false})));
    clear_log();
    let contact = ac().fetch_contact("43").unwrap();
    assert_eq!(tag_names(&contact), vec!["member", "vip"]);
    assert_eq!(
        api_log("ac"),
        vec!["GET /api/3/contacts/43?include=contactTags%2CfieldValues", "GET /api/3/contacts/43/contactTags"]
    );
}

#[test]
fn ac_fetch_contact_resolves_tag_names_and_field_labels() {
    let _guard = fresh();
    let contact = ac().fetch_contact("42").unwrap();
    assert_eq!(contact.id, "42");
    assert_eq!(contact.email, "jane.doe@example.com");
    assert_eq!((contact.first_name.as_str(), contact.last_name.as_str()), ("Jane", "Doe"));
    assert_eq!(tag_names(&contact), vec!["member"]);
    assert_eq!(contact.tags[0].id, "3");
    assert_eq!(field(&contact, "1"), Some(("Membership Level", "Gold")));
    assert_eq!(field(&contact, "email"), Some(("Email", "jane.doe@example.com")));
    assert_eq!(field(&contact, "first_name"), Some(("First Name", "Jane")));
    assert_eq!(field(&contact, "phone"), Some(("Phone", "")));
    // Cold caches: the contact with its tag rows, the tag listing, the field listing.
    let cold = api_log("ac");
    assert_eq!(cold.len(), 3, "{cold:?}");
    assert!(cold.iter().any(|r| r.starts_with("GET /api/3/tags?limit=100&offset=0")), "{cold:?}");
    assert!(cold.iter().any(|r| r.starts_with("GET /api/3/fields?")), "{cold:?}");

    clear_log();
    let again = ac().fetch_contact("43").unwrap();
    assert_eq!(tag_names(&again), vec!["member", "vip"]);
    assert_eq!(field(&again, "phone"), Some(("Phone", "+1 555-010-4343")));
    assert_eq!(api_log("ac"), vec!["GET /api/3/contacts/43?include=contactTags%2CfieldValues"]);
}

#[test]
fn op_fetch_contact_resolves_contact_cat_and_field_aliases() {
    let _guard = fresh();
    let contact = op().fetch_contact("27").unwrap();
    assert_eq!(contact.id, "27");
    assert_eq!(contact.email, "jane.doe@example.com");
    assert_eq!(contact.first_name, "Jane");
    assert_eq!(tag_names(&contact), vec!["Member", "VIP"]);
    assert_eq!(field(&contact, "f1557"), Some(("Level", "Gold")));
    assert_eq!(field(&contact, "f1558"), Some(("WP Password", "")));
    assert_eq!(field(&contact, "last_name"), Some(("Last Name", "Doe")));
    assert_eq!(api_log("op").len(), 3, "contact, tags, meta when cold");

    clear_log();
    let tagless = op().fetch_contact("28").unwrap();
    assert!(tagless.tags.is_empty());
    assert_eq!(field(&tagless, "f1557"), Some(("Level", "Silver")));
    assert_eq!(api_log("op"), vec!["GET /1/Contact?id=28"]);
}

#[test]
fn an_unknown_tag_id_refreshes_the_tag_cache() {
    let _guard = fresh();
    assert_eq!(tag_names(&ac().fetch_contact("42").unwrap()), vec!["member"]);
    control(
        "PUT",
        "ac/contacts/42",
        Some(json!({"email": "jane.doe@example.com", "first_name": "Jane", "last_name": "Doe",
                    "tags": ["member", "Fresh Tag"], "fields": {"1": "Gold"}})),
    );
    clear_log();
    assert_eq!(tag_names(&ac().fetch_contact("42").unwrap()), vec!["Fresh Tag", "member"]);
    assert!(api_log("ac").iter().any(|r| r.starts_with("GET /api/3/tags?")), "the listing was refreshed");

    assert_eq!(tag_names(&op().fetch_contact("28").unwrap()), Vec::<String>::new());
    control("PUT", "op/contacts/28", Some(json!({"email": "sam.poe@example.com", "tags": ["Late Tag"]})));
    clear_log();
    assert_eq!(tag_names(&op().fetch_contact("28").unwrap()), vec!["Late Tag"]);
    assert!(api_log("op").iter().any(|r| r.starts_with("GET /1/Tags?")), "the listing was refreshed");
}

#[test]
fn unknown_contacts_are_not_found() {
    let _guard = fresh();
    assert_eq!(ac().fetch_contact("999").unwrap_err(), CrmError::NotFound);
    assert_eq!(op().fetch_contact("999").unwrap_err(), CrmError::NotFound);
    control("DELETE", "ac/contacts/44", None);
    assert_eq!(ac().fetch_contact("44").unwrap_err(), CrmError::NotFound);
}

#[test]
fn ac_deleted_contacts_are_not_found() {
    let _guard = fresh();
    control("PUT", "ac/contacts/45", Some(json!({"email": "deleted+45@example.com", "first_name": "Gone"})));
    assert_eq!(ac().fetch_contact("45").unwrap_err(), CrmError::NotFound);
}

#[test]
fn wrong_credentials_are_unauthorized() {
    let _guard = fresh();
    let bad_ac = CrmConfig { api_token: "wrong-token".into(), ..ac_config() };
    let error = client_for(&bad_ac).unwrap().fetch_contact("42").unwrap_err();
    assert_eq!(error, CrmError::Unauthorized);
    let bad_op = CrmConfig { api_key: "wrong-key".into(), ..op_config() };
    assert_eq!(client_for(&bad_op).unwrap().fetch_contact("27").unwrap_err(), CrmError::Unauthorized);
}

#[test]
fn server_errors_are_temporary_and_never_a_contact() {
    let _guard = fresh();
    fault(json!({"crm": "ac", "kind": "status", "status": 500, "count": 1}));
    let error = ac().fetch_contact("42").unwrap_err();
    assert!(matches!(error, CrmError::Temporary(ref m) if m.contains("500")), "{error:?}");
    assert_clean(&error);

    fault(
        json!({"crm": "op", "kind": "status", "status": 500, "body": "Object not found", "content_type": "text/plain", "count": 1}),
    );
    let error = op().fetch_contact("27").unwrap_err();
    assert!(matches!(error, CrmError::Temporary(_)), "a 500 stays temporary whatever its body: {error:?}");

    // A 503 whose body looks like a contact is still an error.
    let contact_like = json!({"contact": {"id": "42", "email": "evil@example.com"}, "fieldValues": []}).to_string();
    fault(
        json!({"crm": "ac", "path_regex": "^/api/3/contacts/42(\\?|$)", "kind": "status", "status": 503, "body": contact_like, "count": 1}),
    );
    let error = ac().fetch_contact("42").unwrap_err();
    assert!(matches!(error, CrmError::Temporary(ref m) if m.contains("503")), "{error:?}");
    assert_clean(&error);

    // A 503 with a long Retry-After is ActiveCampaign throttling: rate limited, not retried inside.
    fault(
        json!({"crm": "ac", "kind": "status", "status": 503, "retry_after": 60, "body": "{\"message\":\"busy\"}", "count": 1}),
    );
    clear_log();
    assert_eq!(ac().fetch_contact("42").unwrap_err(), CrmError::RateLimited { retry_after_secs: 60 });
    assert_eq!(api_log("ac").len(), 1);
}

#[test]
fn malformed_success_answers_are_errors() {
    let _guard = fresh();
    let cases = [
        ("<html><body>Maintenance</body></html>", "text/html"),
        ("", "application/json"),
        ("{\"message\":\"ok\"}", "application/json"),
        ("{\"contact\":{\"id\":\"43\",\"email\":\"x@example.com\"}}", "application/json"),
        ("[]", "application/json"),
    ];
    for (body, content_type) in cases {
        fault(json!({"crm": "ac", "path_regex": "^/api/3/contacts/42(\\?|$)", "kind": "status", "status": 200,
                     "body": body, "content_type": content_type, "count": 1}));
        let error = ac().fetch_contact("42").unwrap_err();
        assert!(matches!(error, CrmError::Temporary(_)), "{body:?}: {error:?}");
        assert_clean(&error);
    }
    let op_cases =
        ["<html>oops</html>", "", "{\"code\":1,\"data\":{\"id\":\"27\"}}", "{\"code\":0,\"data\":{}}", "{\"code\":0}"];
    for body in op_cases {
        fault(
            json!({"crm": "op", "path_regex": "^/1/Contact", "kind": "status", "status": 200, "body": body, "count": 1}),
        );
        let error = op().fetch_contact("27").unwrap_err();
        assert!(matches!(error, CrmError::Temporary(_)), "{body:?}: {error:?}");
    }
}

#[test]
fn other_client_errors_are_permanent_and_plain_text_misses_not_found() {
    let _guard = fresh();
    fault(
        json!({"crm": "ac", "kind": "status", "status": 422, "body": "{\"errors\":[{\"title\":\"secret detail\"}]}", "count": 1}),
    );
    let error = ac().fetch_contact("42").unwrap_err();
    assert!(matches!(error, CrmError::Permanent(ref m) if m.contains("422") && !m.contains("secret")), "{error:?}");
    // Redirects are not followed: they could carry the API headers elsewhere.
    fault(json!({"crm": "ac", "kind": "status", "status": 302, "body": "", "count": 1}));
    clear_log();
    let error = ac().fetch_contact("42").unwrap_err();
    assert!(matches!(error, CrmError::Permanent(ref m) if m.contains("302")), "{error:?}");
    assert_eq!(api_log("ac").len(), 1);
    fault(
        json!({"crm": "op", "kind": "status", "status": 400, "body": "Invalid Contact ID", "content_type": "text/plain", "count": 1}),
    );
    assert_eq!(op().fetch_contact("27").unwrap_err(), CrmError::NotFound);
}

// ---- rate limits ------------------------------------------------------------------------------

#[test]
fn a_short_429_storm_is_waited_out() {
    let _guard = fresh();
    // Two 429s on the contact (its tags come with it): a request retries at most twice.
    fault(
        json!({"crm": "ac", "path_regex": "^/api/3/contacts/42(\\?|$)", "kind": "status", "status": 429, "retry_after": 1, "count": 2}),
    );
    let contact = ac().fetch_contact("42").unwrap();
    assert_eq!(contact.id, "42");
    let log = api_log("ac");
    assert_eq!(
        log.iter().filter(|r| *r == "GET /api/3/contacts/42?include=contactTags%2CfieldValues").count(),
        3,
        "{log:?}"
    );
    assert_eq!(log.iter().filter(|r| r.ends_with("/contactTags")).count(), 0, "{log:?}");

    // Ontraport's 429 carries X-Rate-Limit-Reset; a short one is waited out too.
    fault(
        json!({"crm": "op", "path_regex": "^/1/Contact", "kind": "status", "status": 429, "retry_after": 1, "count": 1}),
    );
    assert_eq!(op().fetch_contact("27").unwrap().id, "27");
}

#[test]
fn a_429_that_outlasts_the_retries_is_rate_limited() {
    let _guard = fresh();
    fault(
        json!({"crm": "ac", "path_regex": "^/api/3/contacts/42(\\?|$)", "kind": "status", "status": 429, "retry_after": 1, "count": 3}),
    );
    assert_eq!(ac().fetch_contact("42").unwrap_err(), CrmError::RateLimited { retry_after_secs: 1 });
    assert_eq!(
        api_log("ac"),
        vec!["GET /api/3/contacts/42?include=contactTags%2CfieldValues"; 3],
        "one try and two retries"
    );

    // A wait longer than 10 s is handed back to the caller at once.
    clear_log();
    fault(json!({"crm": "op", "kind": "status", "status": 429, "retry_after": 45, "count": 1}));
    assert_eq!(op().fetch_contact("27").unwrap_err(), CrmError::RateLimited { retry_after_secs: 45 });
    assert_eq!(api_log("op").len(), 1);
}

#[test]
fn quick_calls_stay_under_the_activecampaign_limit() {
    let _guard = fresh();
    let workers: Vec<_> = (0..4)
        .map(|_| {
            std::thread::spawn(|| {
                let crm = ac();
                (0..5).map(|_| crm.find_contact_by_email("jane.doe@example.com")).collect::<Vec<_>>()
            })
        })
        .collect();
    for worker in workers {
        for result in worker.join().expect("worker") {
            assert_eq!(result.unwrap(), Some("42".to_string()));
        }
    }
    let stats = control("GET", "stats", None);
    assert_eq!(stats["requests"]["ac"], 20);
    assert_eq!(stats["rate_limited"]["ac"], 0, "{stats}");
    let max = stats["max_per_second"]["ac"].as_u64().expect("max_per_second");
    assert!((1..=5).contains(&max), "{stats}");
}

// ---- transport failures -------------------------------------------------------------------------

#[test]
fn a_hanging_server_times_out() {
    let _guard = fresh();
    fault(json!({"crm": "ac", "kind": "hang", "delay_ms": 5000, "count": 1}));
    let config = CrmConfig { timeout_ms: 1500, ..ac_config() };
    let error = client_for(&config).unwrap().fetch_contact("42").unwrap_err();
    assert_eq!(error, CrmError::Temporary("timeout".into()));
}

#[test]
fn a_dropped_connection_is_temporary() {
    let _guard = fresh();
    fault(json!({"crm": "op", "kind": "drop", "count": 1}));
    let error = op().fetch_contact("27").unwrap_err();
    assert!(matches!(error, CrmError::Temporary(_)), "{error:?}");
    assert_clean(&error);
}

#[test]
fn a_refused_connection_is_temporary() {
    let _guard = fresh();
    let closed_port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr").port()
    };
    let config = CrmConfig { base_url: format!("http://127.0.0.1:{closed_port}"), ..ac_config() };
    let error = client_for(&config).unwrap().fetch_contact("42").unwrap_err();
    assert_eq!(error, CrmError::Temporary("connection failed".into()));
}

#[test]
fn plain_http_to_a_remote_host_is_refused_before_any_request() {
    let _guard = fresh();
    for base in ["http://203.0.113.7", "http://crm.example.com/api/3", "http://127.0.0.1.nip.io:8080"] {
        let config = CrmConfig { base_url: base.into(), ..ac_config() };
        assert!(config.allow_http_loopback, "refused even with the development flag");
        let error = client_for(&config).err().expect("refused");
        assert_eq!(error, CrmError::Permanent(PLAIN_HTTP_REFUSED.into()));
    }
    let op_remote = CrmConfig { base_url: "http://api.ontraport.com/1/".into(), ..op_config() };
    assert!(matches!(client_for(&op_remote), Err(CrmError::Permanent(_))));
    // The JSON entry point says the same, and nothing reached the stand-in.
    let config = json!({"crm": "activecampaign", "base_url": "http://203.0.113.7", "api_token": AC_TOKEN,
        "allow_http_loopback": true})
    .to_string();
    let error = client::fetch_contact_json(&config, "42").unwrap_err();
    assert_eq!(error.to_string(), format!("CRM request failed: {PLAIN_HTTP_REFUSED}"));
    assert!(error.to_string().contains("CRMHOOKS_DEV_ALLOW_HTTP"));
    assert!(api_log("ac").is_empty() && api_log("op").is_empty());
}

#[test]
fn plain_http_to_the_loopback_stand_in_needs_the_development_flag() {
    let _guard = fresh();
    for config in [ac_config(), op_config()] {
        let without = CrmConfig { allow_http_loopback: false, ..config.clone() };
        assert_eq!(client_for(&without).err().expect("refused"), CrmError::Permanent(PLAIN_HTTP_REFUSED.into()));
    }
    // Absent from the JSON means false: https only.
    let config =
        json!({"crm": "ac", "base_url": format!("http://127.0.0.1:{}", standin().port), "api_token": AC_TOKEN})
            .to_string();
    let error = client::fetch_contact_json(&config, "42").unwrap_err();
    assert!(error.to_string().contains("CRMHOOKS_DEV_ALLOW_HTTP"), "{error}");
    assert!(api_log("ac").is_empty() && api_log("op").is_empty());
    // With the flag the same URL reaches the stand-in.
    let config = json!({"crm": "ac", "base_url": format!("http://127.0.0.1:{}", standin().port), "api_token": AC_TOKEN,
        "allow_http_loopback": true})
    .to_string();
    let contact: Contact = serde_json::from_str(&client::fetch_contact_json(&config, "42").unwrap()).unwrap();
    assert_eq!(contact.id, "42");
}

#[test]
fn base_urls_with_user_info_or_another_host_are_refused() {
    let _guard = fresh();
    let port = standin().port;
    for base in [
        format!("https://user@127.0.0.1:{port}"),
        format!("https://user:pw@127.0.0.1:{port}"),
        format!("http://127.0.0.1:{port}@203.0.113.7/"),
        format!("http://203.0.113.7\\@127.0.0.1:{port}/"),
        format!("http://127.0.0.1:{port}\\@203.0.113.7/"),
        format!("https://127.0.0.1%2f@203.0.113.7:{port}/"),
    ] {
        let config = CrmConfig { base_url: base.clone(), ..ac_config() };
        assert!(matches!(client_for(&config), Err(CrmError::Permanent(_))), "{base}");
    }
    assert!(api_log("ac").is_empty());
}

// ---- writing ------------------------------------------------------------------------------------

#[test]
fn ac_write_field_then_fetch_sees_it() {
    let _guard = fresh();
    let crm = ac();
    crm.write_field("42", "9", "s3cr3t-pass").unwrap();
    crm.write_field("42", "first_name", "Janet").unwrap();
    let body = control("GET", "log", None);
    let put = body.as_array().unwrap().iter().find(|e| e["method"] == "PUT").expect("a PUT");
    let sent: Value = serde_json::from_str(put["body"].as_str().unwrap()).unwrap();
    assert_eq!(sent, json!({"contact": {"fieldValues": [{"field": "9", "value": "s3cr3t-pass"}]}}));
    let contact = crm.fetch_contact("42").unwrap();
    assert_eq!(field(&contact, "9"), Some(("WP Password", "s3cr3t-pass")));
    assert_eq!(contact.first_name, "Janet");
    assert_eq!(crm.write_field("999", "9", "x").unwrap_err(), CrmError::NotFound);
    assert!(matches!(crm.write_field("42", "../9", "x"), Err(CrmError::Permanent(_))));
    assert!(matches!(crm.write_field("4/2", "9", "x"), Err(CrmError::Permanent(_))));
}

#[test]
fn ac_write_accepts_a_bare_json_answer_but_not_an_html_page() {
    let _guard = fresh();
    let crm = ac();
    fault(json!({"crm": "ac", "path_regex": "^/api/3/contacts/42(\\?|$)", "kind": "status", "status": 200,
                 "body": "{}", "content_type": "application/json", "count": 1}));
    crm.write_field("42", "9", "x").expect("a 2xx JSON answer is a completed write");
    fault(json!({"crm": "ac", "path_regex": "^/api/3/contacts/42(\\?|$)", "kind": "status", "status": 200,
                 "body": "<html>maintenance</html>", "content_type": "text/html", "count": 1}));
    assert!(matches!(crm.write_field("42", "9", "x"), Err(CrmError::Temporary(_))));
}

#[test]
fn op_write_field_is_seen_after_the_background_delay() {
    let _guard = fresh();
    control("POST", "config", Some(json!({"op_background_delay_ms": 400})));
    let crm = op();
    crm.write_field("27", "f1558", "s3cr3t-pass").unwrap();
    crm.write_field("27", "first_name", "Janet").unwrap();
    let started = Instant::now();
    let contact = loop {
        let contact = crm.fetch_contact("27").unwrap();
        let both_applied =
            field(&contact, "f1558").map(|(_, v)| v) == Some("s3cr3t-pass") && contact.first_name == "Janet";
        if both_applied || started.elapsed() > Duration::from_secs(10) {
            break contact;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(field(&contact, "f1558"), Some(("WP Password", "s3cr3t-pass")));
    assert_eq!(contact.first_name, "Janet");
    assert_eq!(crm.write_field("999", "f1558", "x").unwrap_err(), CrmError::NotFound);
    assert!(matches!(crm.write_field("27", "password", "x"), Err(CrmError::Permanent(_))));
}

#[test]
fn ac_change_tags_adds_removes_and_creates() {
    let _guard = fresh();
    let crm = ac();
    crm.change_tags("42", &["VIP".into(), "Brand New".into()], &["member".into()]).unwrap();
    let contact = crm.fetch_contact("42").unwrap();
    assert_eq!(tag_names(&contact), vec!["Brand New", "vip"], "the CRM's spelling wins");
    let log = api_log("ac");
    assert_eq!(log.iter().filter(|r| *r == "POST /api/3/tags").count(), 1, "{log:?}");
    assert_eq!(log.iter().filter(|r| *r == "POST /api/3/contactTags").count(), 2, "{log:?}");
    assert_eq!(log.iter().filter(|r| r.starts_with("DELETE /api/3/contactTags/")).count(), 1, "{log:?}");

    // Warm cache, known names: one POST per addition, one listing + one DELETE per removal.
    clear_log();
    crm.change_tags("42", &["member".into()], &["Brand New".into(), "never existed".into()]).unwrap();
    let log = api_log("ac");
    assert!(log.iter().any(|r| r.starts_with("GET /api/3/tags?")), "an unknown name refreshes once: {log:?}");
    assert_eq!(log.iter().filter(|r| r.starts_with("GET /api/3/tags?")).count(), 1, "{log:?}");
    assert_eq!(tag_names(&crm.fetch_contact("42").unwrap()), vec!["member", "vip"]);

    clear_log();
    crm.change_tags("42", &["vip".into()], &[]).unwrap();
    assert_eq!(api_log("ac"), vec!["POST /api/3/contactTags"]);
    assert_eq!(crm.change_tags("999", &["vip".into()], &[]).unwrap_err(), CrmError::NotFound);
}

#[test]
fn op_change_tags_adds_removes_and_creates() {
    let _guard = fresh();
    let crm = op();
    crm.change_tags("28", &["member".into(), "Brand New".into()], &[]).unwrap();
    crm.change_tags("27", &[], &["VIP".into()]).unwrap();
    assert_eq!(tag_names(&crm.fetch_contact("28").unwrap()), vec!["Brand New", "Member"]);
    assert_eq!(tag_names(&crm.fetch_contact("27").unwrap()), vec!["Member"]);
    let log = api_log("op");
    assert_eq!(log.iter().filter(|r| *r == "POST /1/Tags").count(), 1, "{log:?}");
    assert_eq!(log.iter().filter(|r| *r == "PUT /1/objects/tag").count(), 1, "{log:?}");
    assert_eq!(log.iter().filter(|r| *r == "DELETE /1/objects/tag").count(), 1, "{log:?}");
    assert_eq!(crm.change_tags("999", &["Member".into()], &[]).unwrap_err(), CrmError::NotFound);
}

// ---- lookups and schema ---------------------------------------------------------------------------

#[test]
fn find_by_email_hit_and_miss() {
    let _guard = fresh();
    assert_eq!(ac().find_contact_by_email("Jane.Doe@example.com").unwrap(), Some("42".into()));
    assert_eq!(ac().find_contact_by_email("nobody+x@example.com").unwrap(), None);
    assert_eq!(op().find_contact_by_email("sam.poe@example.com").unwrap(), Some("28".into()));
    assert_eq!(op().find_contact_by_email("nobody@example.com").unwrap(), None);
    let log = api_log("ac");
    assert_eq!(log[1], "GET /api/3/contacts?email=nobody%2Bx%40example.com", "values are encoded");
}

#[test]
fn list_schema_has_tags_and_fields() {
    let _guard = fresh();
    let schema = ac().list_schema().unwrap();
    let tags: Vec<(&str, &str)> = schema.tags.iter().map(|t| (t.id.as_str(), t.name.as_str())).collect();
    assert_eq!(tags, vec![("5", "Gold Customer"), ("3", "member"), ("4", "vip")]);
    let fields: Vec<(&str, &str)> = schema.fields.iter().map(|f| (f.key.as_str(), f.label.as_str())).collect();
    assert_eq!(
        fields[..4],
        [("email", "Email"), ("first_name", "First Name"), ("last_name", "Last Name"), ("phone", "Phone")]
    );
    assert_eq!(fields[4..], [("1", "Membership Level"), ("7", "Interests"), ("9", "WP Password")]);

    let schema = op().list_schema().unwrap();
    assert_eq!(schema.tags.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(), vec!["Member", "VIP"]);
    let custom: Vec<(&str, &str)> = schema.fields[4..].iter().map(|f| (f.key.as_str(), f.label.as_str())).collect();
    assert_eq!(custom, vec![("f1557", "Level"), ("f1558", "WP Password")]);
}

// ---- the JSON entry points the FFI calls ----------------------------------------------------------

#[test]
fn json_entry_points_round_trip() {
    let _guard = fresh();
    let config = serde_json::to_string(&ac_config()).unwrap();
    let contact: Contact = serde_json::from_str(&client::fetch_contact_json(&config, "42").unwrap()).unwrap();
    assert_eq!(contact.tag_names(), vec!["member"]);
    assert_eq!(client::find_contact_json(&config, "jane.doe@example.com").unwrap(), r#"{"contact_id":"42"}"#);
    assert_eq!(client::find_contact_json(&config, "none@example.com").unwrap(), r#"{"contact_id":null}"#);
    let wrote = || -> Value {
        serde_json::from_str::<Value>(&client::last_account_state_json().unwrap()).unwrap()["wrote"].clone()
    };
    assert_eq!(wrote(), Value::Null, "a read writes nothing");
    let ok = r#"{"ok":true}"#;
    assert_eq!(client::write_field_json(&config, r#"{"contact_id":"42","field":"1","value":"Platinum"}"#).unwrap(), ok);
    assert_eq!(wrote(), json!("id:42"), "the host records our write under the contact's key");
    assert_eq!(
        client::change_tags_json(&config, r#"{"contact_id":" 42 ","add":["vip"],"remove":["member"]}"#).unwrap(),
        ok
    );
    assert_eq!(wrote(), json!("id:42"));
    let contact: Contact = serde_json::from_str(&client::fetch_contact_json(&config, "42").unwrap()).unwrap();
    assert_eq!(wrote(), Value::Null, "nor does a read after a write");
    assert_eq!(contact.tag_names(), vec!["vip"]);
    assert_eq!(contact.field("1"), Some("Platinum"));
    let schema: Value = serde_json::from_str(&client::list_schema_json(&config).unwrap()).unwrap();
    assert_eq!(schema["tags"].as_array().map(Vec::len), Some(3));

    let error = client::fetch_contact_json(&config, "999").unwrap_err();
    assert_eq!(error, crmhooks::error::Error::Crm(CrmError::NotFound));
    let op_config = serde_json::to_string(&op_config()).unwrap();
    let contact: Contact = serde_json::from_str(&client::fetch_contact_json(&op_config, "27").unwrap()).unwrap();
    assert_eq!(contact.id, "27");
}

// ---- TLS ----------------------------------------------------------------------------------------

/// A TLS server with a self-signed certificate (python3 + openssl), stopped on drop.
struct SelfSignedServer {
    child: Child,
    port: u16,
}

impl Drop for SelfSignedServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn self_signed_server() -> SelfSignedServer {
    let dir = std::env::temp_dir().join(format!("crmhooks-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let status = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1"])
        .args(["-addext", "subjectAltName=IP:127.0.0.1"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("openssl");
    assert!(status.success(), "openssl could not make a certificate");
    let server = r#"
import http.server, ssl, sys
srv = http.server.HTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(sys.argv[1], sys.argv[2])
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
print(srv.server_address[1], flush=True)
srv.serve_forever()
"#;
    let mut child = Command::new("python3")
        .arg("-c")
        .arg(server)
        .arg(&cert)
        .arg(&key)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("python3");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line).expect("port line");
    let port = line.trim().parse().expect("port");
    SelfSignedServer { child, port }
}

#[test]
fn https_certificates_are_verified() {
    let server = self_signed_server();
    // https needs no development flag, on loopback or anywhere else.
    let config = CrmConfig {
        base_url: format!("https://127.0.0.1:{}", server.port),
        timeout_ms: 5000,
        allow_http_loopback: false,
        rate_window: None,
        ..ac_config()
    };
    let error = client_for(&config).unwrap().fetch_contact("42").unwrap_err();
    assert_eq!(error, CrmError::Permanent("TLS failure".into()));
}

// ---- names shared through the host's document ---------------------------------------------------

fn load(config: &CrmConfig, request: &Value) -> (Contact, Value) {
    let config = serde_json::to_string(config).unwrap();
    let contact = serde_json::from_str(&client::load_contact_json(&config, &request.to_string()).unwrap()).unwrap();
    (contact, serde_json::from_str(&client::last_account_state_json().unwrap()).unwrap())
}

fn digest(names: &[&str]) -> String {
    let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    crmhooks::crm::tag_lookup::tag_set_digest(&names)
}

#[test]
fn names_travel_in_the_host_document_and_a_renamed_tag_is_listed_again() {
    let _guard = fresh();
    let mut config = ac_config();
    config.names = Some(serde_json::Map::new());
    let request = json!({"contact_id": "42", "event": {"tags_digest": digest(&["member"])}});

    // The first worker lists tags and fields once and hands the names back to the host.
    let (contact, state) = load(&config, &request);
    assert_eq!(tag_names(&contact), vec!["member"]);
    let names = state["names"].as_object().expect("a listing is handed back").clone();
    assert!(names.contains_key("ac_tags") && names.contains_key("ac_fields"), "{names:?}");

    // Another worker (nothing cached in its process) reads the host's document: 1 request.
    client::clear_caches();
    clear_log();
    config.names = Some(names.clone());
    let (contact, state) = load(&config, &request);
    assert_eq!(tag_names(&contact), vec!["member"]);
    assert_eq!(api_log("ac").len(), 1, "{:?}", api_log("ac"));
    assert_eq!((state["names"].clone(), state["requests"].clone()), (Value::Null, json!(1)));

    // The tag is renamed in the CRM; the next webhook carries the new name: listed again first.
    let url = format!("http://127.0.0.1:{}/api/3/tags/3", standin().port);
    std::thread::sleep(Duration::from_millis(1100)); // the stand-in's own limit counts this request too
    let renamed = control_agent()
        .put(&url)
        .header("Api-Token", AC_TOKEN)
        .content_type("application/json")
        .send(json!({"tag": {"tag": "Member Plus", "tagType": "contact"}}).to_string())
        .unwrap();
    assert_eq!(renamed.status().as_u16(), 200);
    clear_log();
    let (contact, state) =
        load(&config, &json!({"contact_id": "42", "event": {"tags_digest": digest(&["member plus"])}}));
    assert_eq!(tag_names(&contact), vec!["Member Plus"]);
    assert!(api_log("ac").iter().any(|r| r.starts_with("GET /api/3/tags")), "{:?}", api_log("ac"));
    assert_eq!(state["requests"], json!(2));
    let listed = state["names"]["ac_tags"]["value"].as_object().expect("the new listing is handed back");
    assert_eq!(listed.get("3"), Some(&json!("Member Plus")));

    // A webhook without tag names trusts the document until it expires.
    clear_log();
    let (contact, _) = load(&config, &json!({"contact_id": "42"}));
    assert_eq!(tag_names(&contact), vec!["member"], "the old document, as handed in");
    assert!(!api_log("ac").iter().any(|r| r.starts_with("GET /api/3/tags")), "{:?}", api_log("ac"));
}

#[test]
fn load_contact_finds_by_email_only_without_a_contact_id() {
    let _guard = fresh();
    let config = ac_config();
    let (contact, _) = load(&config, &json!({"email": "jane.doe@example.com"}));
    assert_eq!(contact.id, "42");
    let error = client::load_contact_json(&serde_json::to_string(&config).unwrap(), r#"{"email":"none@example.com"}"#);
    assert_eq!(error.unwrap_err(), crmhooks::error::Error::Crm(CrmError::NotFound));
    let error = client::load_contact_json(&serde_json::to_string(&config).unwrap(), r#"{"contact_id":" "}"#);
    assert_eq!(error.unwrap_err(), crmhooks::error::Error::MissingParameter("contact_id"));
}

// ---- contact lists (the reconcile sweep, import by tag) -------------------------------------------

fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs()
}

/// Sleep into the next whole second, so stamps taken after differ from stamps taken before.
fn next_second() -> u64 {
    let start = unix_now();
    while unix_now() == start {
        std::thread::sleep(Duration::from_millis(20));
    }
    unix_now()
}

fn create_contacts(crm: &str, spec: Value) -> Vec<String> {
    let created = control("POST", &format!("{crm}/contacts"), Some(spec));
    created["ids"].as_array().expect("ids").iter().map(|id| id.as_str().expect("id").to_string()).collect()
}

fn touch(crm: &str, ids: &[&str]) {
    control("POST", "touch", Some(json!({"crm": crm, "ids": ids, "changes": {"last_name": "Touched {id}"}})));
}

/// A page's next cursor and total.
type PageEnd = (Option<String>, Option<u64>);

/// Every page from the first: the listed IDs, and each page's next cursor and total.
fn all_pages(
    list: impl Fn(Option<&str>) -> Result<crmhooks::crm::ContactPage, CrmError>,
) -> (Vec<String>, Vec<PageEnd>) {
    let (mut ids, mut pages, mut cursor) = (Vec::new(), Vec::new(), None::<String>);
    loop {
        let page = list(cursor.as_deref()).expect("a page");
        ids.extend(page.contacts.iter().map(|c| c.id.clone()));
        pages.push((page.next_cursor.clone(), page.total));
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return (ids, pages),
        }
        assert!(pages.len() < 50, "the list does not end");
    }
}

/// The query pairs of a logged request, decoded.
fn query_of(logged: &str) -> Vec<(String, String)> {
    let query = logged.split_once('?').map_or("", |(_, query)| query);
    form_urlencoded::parse(query.as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned())).collect()
}

#[test]
fn ac_list_modified_pages_by_id_and_keeps_only_contacts_changed_since() {
    let _guard = fresh();
    let ids = create_contacts("ac", json!({"count": 150, "first_id": 1000}));
    let since = next_second();
    touch("ac", &["43", "1003", "1099", "1100", "1149"]);
    clear_log();
    let crm = ac();
    let (changed, pages) = all_pages(|cursor| crm.list_modified(since, cursor));
    assert_eq!(changed, ["43", "1003", "1099", "1100", "1149"]);
    assert_eq!(pages, [(None, Some(5))]);
    let log = api_log("ac");
    assert_eq!(log.len(), 1);
    let query = query_of(&log[0]);
    // A second early: ActiveCampaign's "after" may be strict.
    let expected_since = crmhooks::crm::iso_time::format_utc(since - 1);
    assert!(query.contains(&("filters[updated_after]".into(), expected_since)), "{query:?}");
    assert!(query.contains(&("orders[id]".into(), "ASC".into())) && query.contains(&("limit".into(), "100".into())));
    // Everything since long ago: 153 contacts in pages of 100, each after the last ID listed.
    let (all, pages) = all_pages(|cursor| crm.list_modified(since - 86_400, cursor));
    let mut expected = vec!["42".to_string(), "43".into(), "44".into()];
    expected.extend(ids);
    assert_eq!(all, expected);
    assert_eq!(pages, [(Some("1096".into()), Some(153)), (None, None)], "the total is the first page's");
    let second = api_log("ac").pop().unwrap();
    assert!(query_of(&second).contains(&("id_greater".into(), "1096".into())), "{second}");
}

#[test]
fn op_list_modified_pages_by_id_with_a_dlm_condition() {
    let _guard = fresh();
    create_contacts("op", json!({"count": 80, "first_id": 500}));
    let since = next_second();
    touch("op", &["28", "520", "549", "550", "579"]);
    clear_log();
    let crm = op();
    let (changed, pages) = all_pages(|cursor| crm.list_modified(since, cursor));
    assert_eq!(changed, ["28", "520", "549", "550", "579"]);
    assert_eq!(pages, [(None, None)]);
    let query = query_of(&api_log("op")[0]);
    let condition = query.iter().find(|(k, _)| k == "condition").map(|(_, v)| v.clone()).expect("a condition");
    let condition: Value = serde_json::from_str(&condition).unwrap();
    assert_eq!(condition, json!([{"field": {"field": "dlm"}, "op": ">=", "value": {"value": since}}]));
    for pair in [("sort", "id"), ("sortDir", "asc"), ("range", "50"), ("listFields", "id,email,dlm")] {
        assert!(query.contains(&(pair.0.into(), pair.1.into())), "{pair:?} in {query:?}");
    }
    let (all, pages) = all_pages(|cursor| crm.list_modified(0, cursor));
    assert_eq!(all.len(), 82);
    assert_eq!(pages, [(Some("547".into()), None), (None, None)], "27, 28, 500..=547, then the rest");
    let listed = crm.list_modified(since, None).unwrap();
    let jane = &listed.contacts[0];
    assert_eq!(jane.email, "sam.poe@example.com");
    assert!(jane.updated_at.is_some_and(|at| at >= since && at <= unix_now()), "{jane:?}");
}

#[test]
fn listed_update_times_are_the_crms_clock() {
    let _guard = fresh();
    control("POST", "config", Some(json!({"clock_offset_secs": -3600})));
    touch("ac", &["42"]);
    touch("op", &["27"]);
    let hour_ago = unix_now() - 3600;
    for (crm, id) in [(ac(), "42"), (op(), "27")] {
        let page = crm.list_modified(hour_ago - 60, None).unwrap();
        let touched = page.contacts.iter().find(|c| c.id == id).expect("listed");
        let at = touched.updated_at.expect("dated");
        assert!(at.abs_diff(hour_ago) < 5, "{at} vs {hour_ago}");
    }
}

#[test]
fn deleted_contacts_are_not_listed_but_the_list_goes_on() {
    let _guard = fresh();
    control("PUT", "ac/contacts/43", Some(json!({"email": "deleted+43@example.com"})));
    let page = ac().list_modified(0, None).unwrap();
    let ids: Vec<&str> = page.contacts.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, ["42", "44"]);
}

#[test]
fn list_tagged_by_id_or_by_name() {
    let _guard = fresh();
    let ac_ids = create_contacts("ac", json!({"count": 130, "tags": ["Import Me"]}));
    let op_ids = create_contacts("op", json!({"count": 70, "tags": ["Import Me"]}));
    for (crm, expected) in [(ac(), &ac_ids), (op(), &op_ids)] {
        let (ids, pages) = all_pages(|cursor| crm.list_tagged(&TagRef::Name(" import me ".into()), cursor));
        assert_eq!(&ids, expected);
        assert_eq!(pages.len(), 2);
    }
    let (_, pages) = all_pages(|cursor| ac().list_tagged(&TagRef::Name("Import Me".into()), cursor));
    assert_eq!(pages[0].1, Some(130), "ActiveCampaign says how many on the first page");
    let (vip, _) = all_pages(|cursor| ac().list_tagged(&TagRef::Id("4".into()), cursor));
    assert_eq!(vip, ["43"]);
    let (vip, _) = all_pages(|cursor| op().list_tagged(&TagRef::Id("7".into()), cursor));
    assert_eq!(vip, ["27"]);
    let op_log = api_log("op");
    assert!(op_log.iter().any(|r| r.starts_with("GET /1/objects/tag?objectID=0&tag_id=7&")), "{op_log:?}");
    for crm in [ac(), op()] {
        let unknown = crm.list_tagged(&TagRef::Name("No Such Tag".into()), None).unwrap_err();
        assert!(matches!(unknown, CrmError::Permanent(ref m) if m.contains("no tag")), "{unknown:?}");
        assert!(matches!(crm.list_tagged(&TagRef::Id("4 OR 1=1".into()), None), Err(CrmError::Permanent(_))));
        assert!(matches!(crm.list_modified(0, Some("../x")), Err(CrmError::Permanent(_))));
    }
}

#[test]
fn a_failed_list_is_an_error_never_an_empty_page() {
    let _guard = fresh();
    fault(json!({"crm": "ac", "path_regex": "^/api/3/contacts\\?", "kind": "status", "status": 500, "count": 1}));
    assert!(matches!(ac().list_modified(0, None), Err(CrmError::Temporary(_))));
    fault(json!({"crm": "ac", "path_regex": "^/api/3/contacts\\?", "kind": "status", "status": 200,
                 "body": "{\"contacts\":{}}", "count": 1}));
    assert!(matches!(ac().list_modified(0, None), Err(CrmError::Temporary(ref m)) if m.contains("contacts")));
    fault(json!({"crm": "op", "path_regex": "^/1/Contacts", "kind": "status", "status": 200,
                 "body": "{\"code\":0,\"data\":\"busy\"}", "count": 1}));
    assert!(matches!(op().list_modified(0, None), Err(CrmError::Temporary(_))));
    fault(json!({"crm": "op", "kind": "status", "status": 429, "retry_after": 45, "count": 1}));
    assert_eq!(op().list_tagged(&TagRef::Id("3".into()), None), Err(CrmError::RateLimited { retry_after_secs: 45 }));
}

#[test]
fn list_json_entry_points_round_trip() {
    let _guard = fresh();
    let config = serde_json::to_string(&op_config()).unwrap();
    let page: Value =
        serde_json::from_str(&client::list_tagged_json(&config, r#"{"tag_name":"vip","cursor":""}"#).unwrap()).unwrap();
    assert_eq!(page["contacts"][0]["id"], "27");
    assert_eq!(page["contacts"][0]["email"], "jane.doe@example.com");
    assert!(page["contacts"][0]["updated_at"].is_u64());
    assert_eq!((page["next_cursor"].clone(), page["total"].clone()), (Value::Null, Value::Null));
    let page: Value =
        serde_json::from_str(&client::list_modified_json(&config, r#"{"since":0,"cursor":null}"#).unwrap()).unwrap();
    assert_eq!(page["contacts"].as_array().map(Vec::len), Some(2));
    assert_eq!(client::list_tagged_json(&config, "{}"), Err(crmhooks::error::Error::MissingParameter("tag_id")));
    assert!(matches!(
        client::list_modified_json(&config, r#"{"cursor":"5"}"#),
        Err(crmhooks::error::Error::InvalidJson(_))
    ));
}

/// The sweep's verdicts driven over the stand-in as the shim will drive them: 20 linked
/// contacts change while the site is down (their webhooks fail), then one pass queues exactly
/// those 20 and costs one list request per page.
#[test]
fn one_sweep_pass_over_the_stand_in_queues_each_linked_change_once() {
    use crmhooks::reconcile::{sweep_page, sweep_start, SweepSettings, SweepStart, SweepState, UserFact};
    let _guard = fresh();
    // The contacts were made (stamped) an hour ago by the CRM's clock.
    control("POST", "config", Some(json!({"clock_offset_secs": -3600})));
    let ids = create_contacts("op", json!({"count": 120, "first_id": 600}));
    control("POST", "config", Some(json!({"clock_offset_secs": 0})));
    // Users exist for the first 100 of them; the last pass began a minute ago.
    let users: Vec<UserFact> = ids[..100]
        .iter()
        .map(|id| UserFact { user_id: id.parse().unwrap(), contact_id: Some(id.clone()), ..Default::default() })
        .collect();
    let settings = SweepSettings::default();
    let mut state = SweepState { mark: Some(unix_now() - 60), ..Default::default() };
    let changed: Vec<&str> = ids[..100].iter().step_by(5).map(String::as_str).collect();
    let unlinked: Vec<&str> = ids[100..103].iter().map(String::as_str).collect();
    let closed_port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let touched_ids = [changed.clone(), unlinked].concat();
    let touched = control(
        "POST",
        "touch",
        Some(json!({"crm": "op", "ids": touched_ids,
        "changes": {"first_name": "Changed"},
        "webhook": {"url": format!("http://127.0.0.1:{closed_port}/?wpf_action=update&access_key=K"), "kind": "op_ping"}})),
    );
    assert!(touched["deliveries"].as_array().unwrap().iter().all(|d| d["status"] == 0), "the site is down");
    clear_log();
    let crm = op();
    let mut queued: Vec<String> = Vec::new();
    let mut now = unix_now() + 900; // the next pass is due
    loop {
        let (since, cursor, started) = match sweep_start(now, state.clone(), &settings, false) {
            SweepStart::List { since, cursor, state } => (since, cursor, state),
            SweepStart::Idle { retry_at: Some(at), .. } if state.pass.is_some() => {
                now = at;
                continue;
            }
            SweepStart::Idle { .. } => break,
        };
        let page = crm.list_modified(since, cursor.as_deref()).unwrap();
        let out =
            sweep_page(now, started, &page, &users, &queued, &settings, crmhooks::crm::CrmKind::Ontraport).unwrap();
        queued.extend(out.jobs.iter().map(|job| job.contact_key.clone()));
        state = out.state;
        if state.pass.is_none() {
            break;
        }
    }
    let expected: Vec<String> = changed.iter().map(|id| format!("id:{id}")).collect();
    assert_eq!(queued, expected);
    let report = state.last.expect("the pass completed");
    // Seen: the 23 touched and the seed's 27 and 28 (stamped at the reset); only users' get jobs.
    assert_eq!((report.counts.seen, report.counts.queued, report.counts.skipped), (25, 20, 5));
    assert_eq!(api_log("op").len() as u64, report.counts.pages, "one list request per page, nothing else");
}

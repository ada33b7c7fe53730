//! The C ABI called through the rlib, as a C host would: NULL pointers, zero lengths,
//! invalid UTF-8, a contained panic, buffer ownership, and last-error sanitization.

use std::ffi::{c_char, CStr};
use std::ptr;

use crmhooks::ffi::*;

const SECRET_KEY: &str = "k3y-SECRET-6f1c2a9e";
const SECRET_TOKEN: &str = "tok-SECRET-b7d4e0";

fn empty_buf() -> crmh_buf {
    crmh_buf { data: ptr::null_mut(), len: 0, cap: 0 }
}

fn c(s: &str) -> (*const c_char, usize) {
    (s.as_ptr().cast(), s.len())
}

fn last_error() -> String {
    // SAFETY: crmh_last_error returns a valid NUL-terminated string owned by the library.
    unsafe { CStr::from_ptr(crmh_last_error()) }.to_string_lossy().into_owned()
}

fn take(buf: &mut crmh_buf) -> String {
    assert!(!buf.data.is_null(), "output buffer was not filled");
    // SAFETY: data/len describe bytes the library wrote.
    let bytes = unsafe { std::slice::from_raw_parts(buf.data.cast::<u8>(), buf.len) };
    let text = String::from_utf8(bytes.to_vec()).expect("output is UTF-8");
    crmh_buf_free(buf);
    text
}

fn accept(query: &str, body: &str, key: &str) -> (crmh_result, crmh_buf) {
    let mut out = empty_buf();
    let (m, ml) = c("POST");
    let (q, ql) = c(query);
    let (t, tl) = c("application/x-www-form-urlencoded");
    let (b, bl) = c(body);
    let (k, kl) = c(key);
    let rc = crmh_webhook_accept(m, ml, q, ql, t, tl, b, bl, k, kl, &mut out);
    (rc, out)
}

#[test]
fn abi_version_matches_cargo_toml() {
    // SAFETY: static NUL-terminated string.
    let version = unsafe { CStr::from_ptr(crmh_abi_version()) }.to_str().unwrap();
    assert_eq!(version, env!("CARGO_PKG_VERSION"));
    let manifest = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml")).unwrap();
    assert!(manifest.contains(&format!("version = \"{version}\"")));
}

#[test]
fn null_output_pointer_is_rejected() {
    assert_eq!(crmh_key_generate(ptr::null_mut()), crmh_result::CRMH_RESULT_NULL_PARAMETER);
    assert!(last_error().contains("NULL"));
    let (j, jl) = c("{}");
    assert_eq!(crmh_diff_tags(j, jl, ptr::null_mut()), crmh_result::CRMH_RESULT_NULL_PARAMETER);
}

#[test]
fn null_input_with_length_is_rejected_and_without_length_is_empty() {
    let mut out = empty_buf();
    assert_eq!(crmh_diff_tags(ptr::null(), 5, &mut out), crmh_result::CRMH_RESULT_NULL_PARAMETER);
    assert!(out.data.is_null(), "output must stay untouched on failure");
    // NULL with zero length is an empty input: not JSON.
    assert_eq!(crmh_diff_tags(ptr::null(), 0, &mut out), crmh_result::CRMH_RESULT_INVALID_JSON);
    assert!(out.data.is_null());
}

#[test]
fn empty_or_null_configured_key_rejects_everything() {
    assert_eq!(crmh_key_verify(ptr::null(), 0, ptr::null(), 0), crmh_result::CRMH_RESULT_UNAUTHORIZED);
    let (g, gl) = c("");
    assert_eq!(crmh_key_verify(g, gl, g, gl), crmh_result::CRMH_RESULT_UNAUTHORIZED);
    let (k, kl) = c(SECRET_KEY);
    assert_eq!(crmh_key_verify(k, kl, k, kl), crmh_result::CRMH_RESULT_OK);
    let (w, wl) = c("k3y-SECRET-6f1c2a9f");
    assert_eq!(crmh_key_verify(w, wl, k, kl), crmh_result::CRMH_RESULT_UNAUTHORIZED);
    assert!(!last_error().contains(SECRET_KEY));
}

#[test]
fn invalid_utf8_is_reported_not_panicked() {
    let bad = [b'{', 0xff, 0xfe, b'}'];
    let mut out = empty_buf();
    assert_eq!(crmh_diff_tags(bad.as_ptr().cast(), bad.len(), &mut out), crmh_result::CRMH_RESULT_INVALID_UTF8);
    assert!(last_error().contains("UTF-8"));
    let (k, kl) = c(SECRET_KEY);
    assert_eq!(crmh_key_verify(bad.as_ptr().cast(), bad.len(), k, kl), crmh_result::CRMH_RESULT_INVALID_UTF8);
}

#[test]
fn a_panic_is_contained_and_the_next_call_works() {
    assert_eq!(crmh_selftest_panic(), crmh_result::CRMH_RESULT_PANIC);
    assert!(last_error().contains("panic"));
    let mut out = empty_buf();
    assert_eq!(crmh_key_generate(&mut out), crmh_result::CRMH_RESULT_OK);
    assert_eq!(last_error(), "", "a success clears the last error");
    crmh_buf_free(&mut out);
}

#[test]
fn buf_free_is_null_safe_and_idempotent() {
    crmh_buf_free(ptr::null_mut());
    let mut out = empty_buf();
    crmh_buf_free(&mut out);
    assert_eq!(crmh_key_generate(&mut out), crmh_result::CRMH_RESULT_OK);
    crmh_buf_free(&mut out);
    assert!(out.data.is_null() && out.len == 0 && out.cap == 0);
    crmh_buf_free(&mut out);
}

#[test]
fn generated_keys_are_url_safe_long_and_distinct() {
    let mut a = empty_buf();
    let mut b = empty_buf();
    assert_eq!(crmh_key_generate(&mut a), crmh_result::CRMH_RESULT_OK);
    assert_eq!(crmh_key_generate(&mut b), crmh_result::CRMH_RESULT_OK);
    let (a, b) = (take(&mut a), take(&mut b));
    assert_ne!(a, b);
    assert!(a.len() >= 22, "at least 128 bits in base64url");
    assert!(a.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_'));
}

#[test]
fn accept_parses_an_activecampaign_body_and_never_returns_the_key() {
    let body =
        "contact%5Bid%5D=42&contact%5Bemail%5D=jane.doe%40example.com&contact%5Btags%5D=member%2C+vip&seriesid=12";
    let query = format!("wpf_action=update&access_key={SECRET_KEY}");
    let (rc, mut out) = accept(&query, body, SECRET_KEY);
    assert_eq!(rc, crmh_result::CRMH_RESULT_OK, "{}", last_error());
    let json: serde_json::Value = serde_json::from_str(&take(&mut out)).unwrap();
    assert_eq!(json["action"], "update");
    assert_eq!(json["contact_id"], "42");
    // A body's tag list and email stay in the library: the JSON is what a job row stores.
    assert_eq!(json["event"].get("tags"), None);
    assert_eq!(json["email"], serde_json::Value::Null, "a contact ID makes the lookup email moot");
    for private in [SECRET_KEY, "member", "jane.doe"] {
        assert!(!json.to_string().contains(private), "{private}");
    }
}

#[test]
fn every_auth_failure_is_the_same_and_leaks_nothing() {
    let body = format!("contact%5Bid%5D=42&note={SECRET_TOKEN}");
    let cases = [
        (format!("wpf_action=add&access_key={SECRET_KEY}x"), SECRET_KEY),
        ("wpf_action=add".to_string(), SECRET_KEY),
        (format!("wpf_action=add&access_key={SECRET_KEY}"), ""),
        (format!("wpf_action=bogus&access_key=wrong{SECRET_KEY}"), SECRET_KEY),
    ];
    let mut messages = Vec::new();
    for (query, key) in &cases {
        let (rc, out) = accept(query, &body, key);
        assert_eq!(rc, crmh_result::CRMH_RESULT_UNAUTHORIZED, "query {query}");
        assert!(out.data.is_null());
        messages.push(last_error());
    }
    assert!(messages.iter().all(|m| m == &messages[0]), "{messages:?}");
    assert!(!messages[0].contains(SECRET_KEY) && !messages[0].contains(SECRET_TOKEN));
}

#[test]
fn bad_requests_name_the_parameter_but_not_its_value() {
    let query = format!("wpf_action=add&access_key={SECRET_KEY}&contact_id=%5BContact+ID%5D");
    let (rc, _) = accept(&query, "", SECRET_KEY);
    assert_eq!(rc, crmh_result::CRMH_RESULT_BAD_REQUEST);
    let message = last_error();
    assert!(message.contains("contact_id"), "{message}");
    assert!(!message.contains("Contact ID") && !message.contains(SECRET_KEY));

    let query = format!("wpf_action=frobnicate&access_key={SECRET_KEY}");
    let (rc, _) = accept(&query, "", SECRET_KEY);
    assert_eq!(rc, crmh_result::CRMH_RESULT_UNKNOWN_ACTION);
    assert!(!last_error().contains("frobnicate"));
}

#[test]
fn json_errors_do_not_echo_input_values() {
    let input = format!("{{\"current\":[\"{SECRET_TOKEN}\"],\"incoming\":{{\"x\":\"{SECRET_TOKEN}\"}}}}");
    let (j, jl) = c(&input);
    let mut out = empty_buf();
    assert_eq!(crmh_diff_tags(j, jl, &mut out), crmh_result::CRMH_RESULT_INVALID_JSON);
    assert!(!last_error().contains(SECRET_TOKEN), "{}", last_error());
}

#[test]
fn crm_errors_do_not_contain_credentials() {
    // Nothing listens on port 9 of loopback: the call fails fast with a temporary error
    // (plain HTTP to loopback needs allow_http_loopback, as in a development setup).
    let config = format!(
        "{{\"crm\":\"activecampaign\",\"base_url\":\"http://127.0.0.1:9\",\"api_token\":\"{SECRET_TOKEN}\",\"connect_timeout_ms\":500,\"timeout_ms\":1000,\"allow_http_loopback\":true}}"
    );
    let (cfg, cfgl) = c(&config);
    let (id, idl) = c("42");
    let mut out = empty_buf();
    let rc = crmh_crm_fetch_contact(cfg, cfgl, id, idl, &mut out);
    assert_eq!(rc, crmh_result::CRMH_RESULT_CRM_TEMPORARY, "{}", last_error());
    assert!(!last_error().contains(SECRET_TOKEN));
    assert!(out.data.is_null());
}

#[test]
fn diff_tags_round_trip() {
    let (j, jl) = c(r#"{"current":["Member","vip"],"incoming":["member ","Gold"]}"#);
    let mut out = empty_buf();
    assert_eq!(crmh_diff_tags(j, jl, &mut out), crmh_result::CRMH_RESULT_OK, "{}", last_error());
    let json: serde_json::Value = serde_json::from_str(&take(&mut out)).unwrap();
    assert_eq!(json["added"], serde_json::json!(["Gold"]));
    assert_eq!(json["removed"], serde_json::json!(["vip"]));
}

#[test]
fn threads_have_their_own_last_error() {
    assert_eq!(crmh_selftest_panic(), crmh_result::CRMH_RESULT_PANIC);
    let other = std::thread::spawn(last_error).join().unwrap();
    assert_eq!(other, "");
    assert!(last_error().contains("panic"));
}

//! The reconcile exports through the C ABI, as the plugin calls them: `crmh_reconcile_decide`
//! and the two list calls (`crmh_crm_list_modified`, `crmh_crm_list_tagged`). Shipped exports,
//! so no test-only feature is needed.

use std::ffi::{c_char, CStr};
use std::ptr;

use crmhooks::ffi::*;

const SECRET_TOKEN: &str = "tok-SECRET-reconcile";

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

fn take(buf: &mut crmh_buf) -> serde_json::Value {
    assert!(!buf.data.is_null(), "output buffer was not filled");
    // SAFETY: data/len describe bytes the library wrote.
    let bytes = unsafe { std::slice::from_raw_parts(buf.data.cast::<u8>(), buf.len) };
    let json = serde_json::from_slice(bytes).expect("JSON output");
    crmh_buf_free(buf);
    json
}

fn decide(input: &str) -> (crmh_result, crmh_buf) {
    let (j, jl) = c(input);
    let mut out = empty_buf();
    (crmh_reconcile_decide(j, jl, &mut out), out)
}

#[test]
fn a_sweep_runs_through_the_abi() {
    let (rc, mut out) = decide(r#"{"kind":"sweep_start","now":1700000000,"settings":{"overlap_secs":300}}"#);
    assert_eq!(rc, crmh_result::CRMH_RESULT_OK, "{}", last_error());
    let start = take(&mut out);
    assert_eq!((start["action"].as_str(), start["since"].as_u64()), (Some("list"), Some(1_700_000_000 - 900 - 300)));
    let page = serde_json::json!({
        "kind": "sweep_page", "now": 1_700_000_005_u64, "state": start["state"], "crm": "activecampaign",
        "page": {"contacts": [{"id": "42", "email": "a@example.com"}, {"id": "43", "email": "b@example.com"}],
                 "next_cursor": null},
        "users": [{"user_id": 1, "contact_id": "42", "user_email": "a@example.com"}],
    });
    let (rc, mut out) = decide(&page.to_string());
    assert_eq!(rc, crmh_result::CRMH_RESULT_OK, "{}", last_error());
    let out = take(&mut out);
    assert_eq!(out["jobs"].as_array().map(Vec::len), Some(1));
    assert_eq!(out["skipped"]["no_user"], 1);
    assert_eq!(out["state"]["mark"], 1_700_000_000_u64);
}

#[test]
fn bad_reconcile_input_is_reported_and_writes_nothing() {
    for (input, expected) in [
        ("{", crmh_result::CRMH_RESULT_INVALID_JSON),
        (r#"{"kind":"sweep_failed"}"#, crmh_result::CRMH_RESULT_INVALID_JSON),
        (r#"{"kind":"budget","crm":"salesforce","share_percent":20}"#, crmh_result::CRMH_RESULT_BAD_REQUEST),
        (r#"{"kind":"import_start","now":1}"#, crmh_result::CRMH_RESULT_BAD_REQUEST),
    ] {
        let (rc, out) = decide(input);
        assert_eq!(rc, expected, "{input}: {}", last_error());
        assert!(out.data.is_null(), "{input}");
        assert!(!last_error().is_empty());
    }
    let mut out = empty_buf();
    let (j, jl) = c(r#"{"kind":"sweep_start","now":1}"#);
    assert_eq!(crmh_reconcile_decide(j, jl, ptr::null_mut()), crmh_result::CRMH_RESULT_NULL_PARAMETER);
    assert_eq!(crmh_reconcile_decide(ptr::null(), 4, &mut out), crmh_result::CRMH_RESULT_NULL_PARAMETER);
    let bad = [b'{', 0xff, b'}'];
    assert_eq!(crmh_reconcile_decide(bad.as_ptr().cast(), bad.len(), &mut out), crmh_result::CRMH_RESULT_INVALID_UTF8);
    assert!(out.data.is_null());
}

#[test]
fn list_calls_fail_cleanly_and_hand_back_the_rate_window() {
    // Nothing listens on port 9 of loopback: each call fails fast, without the credentials in
    // its error, and the shared rate window it was given comes back with the request recorded.
    let config = format!(
        "{{\"crm\":\"activecampaign\",\"base_url\":\"http://127.0.0.1:9\",\"api_token\":\"{SECRET_TOKEN}\",\
         \"connect_timeout_ms\":300,\"timeout_ms\":800,\"allow_http_loopback\":true,\"rate_window\":[]}}"
    );
    let (cfg, cfgl) = c(&config);
    for (call, args) in [
        (crmh_crm_list_modified as extern "C" fn(_, _, _, _, _) -> _, r#"{"since":1700000000,"cursor":null}"#),
        (crmh_crm_list_tagged, r#"{"tag_id":"3"}"#),
    ] {
        let (a, al) = c(args);
        let mut out = empty_buf();
        assert_eq!(call(cfg, cfgl, a, al, &mut out), crmh_result::CRMH_RESULT_CRM_TEMPORARY, "{args}");
        assert!(out.data.is_null());
        assert!(!last_error().contains(SECRET_TOKEN), "{}", last_error());
        let mut state = empty_buf();
        assert_eq!(crmh_last_account_state(&mut state), crmh_result::CRMH_RESULT_OK);
        let state = take(&mut state);
        assert_eq!(state["rate_window"].as_array().map(Vec::len), Some(1), "one request recorded");
    }
    let mut out = empty_buf();
    let (a, al) = c(r#"{"since":"yesterday"}"#);
    assert_eq!(crmh_crm_list_modified(cfg, cfgl, a, al, &mut out), crmh_result::CRMH_RESULT_INVALID_JSON);
    let (a, al) = c(r#"{"tag_name":"  "}"#);
    assert_eq!(crmh_crm_list_tagged(cfg, cfgl, a, al, &mut out), crmh_result::CRMH_RESULT_BAD_REQUEST);
    assert!(last_error().contains("tag_id"), "{}", last_error());
    assert!(out.data.is_null());
}

//! Exports the plugin does not call, compiled only with the `test-exports` cargo feature (off
//! by default, so the shipped library and the PHP cdef do not have them). The Rust ABI tests
//! (tests/ffi_abi.rs) and the C tests (tests/c) enable the feature to drive the boundary
//! through them: the panic self-test, the parse-only and accept-only webhook paths, the
//! diffs, the lock decisions, key verification, and loading or finding one contact by ID or email
//! (the plugin loads contacts through crmh_crm_load_contact). In the C header
//! they sit behind `#if defined(CRMHOOKS_TEST_EXPORTS)`.

use libc::{c_char, size_t};
use serde::Deserialize;

use super::buf::crmh_buf;
use super::input::{bytes, finish, out_ptr, text};
use super::result::crmh_result;
use crate::error::{Error, Result};
use crate::request::WebhookRequest;

fn parse<'a, T: Deserialize<'a>>(json: &'a str) -> Result<T> {
    serde_json::from_str(json).map_err(|e| Error::from_json(&e))
}

fn render<T: serde::Serialize>(value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(|e| Error::from_json(&e))
}

/// Panics on purpose inside the boundary and returns `CRMH_RESULT_PANIC`: lets our C and Rust
/// tests prove that a panic never takes the process down.
#[no_mangle]
pub extern "C" fn crmh_selftest_panic() -> crmh_result {
    ffi_boundary!(panic!("crmh_selftest_panic panics by design"))
}

/// The four parts of a raw HTTP request, borrowed from the host.
struct RawRequest<'a> {
    method: &'a str,
    query: &'a str,
    content_type: &'a str,
    body: &'a [u8],
}

#[allow(clippy::too_many_arguments)]
fn raw_request<'a>(
    method: *const c_char,
    method_len: size_t,
    query: *const c_char,
    query_len: size_t,
    content_type: *const c_char,
    content_type_len: size_t,
    body: *const c_char,
    body_len: size_t,
) -> std::result::Result<RawRequest<'a>, crmh_result> {
    Ok(RawRequest {
        method: text(method, method_len, "method")?,
        query: text(query, query_len, "query string")?,
        content_type: text(content_type, content_type_len, "content type")?,
        body: bytes(body, body_len)?,
    })
}

fn to_json(request: Result<WebhookRequest>) -> Result<String> {
    request.and_then(|r| render(&r))
}

/// Parse a raw webhook request (method, raw query string, content type, raw body) into
/// WebhookRequest JSON. Does not check the access key: use `crmh_webhook_accept` for that.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub extern "C" fn crmh_request_parse(
    method: *const c_char,
    method_len: size_t,
    query: *const c_char,
    query_len: size_t,
    content_type: *const c_char,
    content_type_len: size_t,
    body: *const c_char,
    body_len: size_t,
    out: *mut crmh_buf,
) -> crmh_result {
    ffi_boundary!({
        let out = try_input!(out_ptr(out));
        let raw = try_input!(raw_request(
            method,
            method_len,
            query,
            query_len,
            content_type,
            content_type_len,
            body,
            body_len
        ));
        finish(out, to_json(crate::request::parse(raw.method, raw.query, raw.content_type, raw.body)))
    })
}

/// Parse a webhook and check its access key against `access_key` (the site's setting).
/// Every authentication failure gives `CRMH_RESULT_UNAUTHORIZED`, checked before any
/// other error, and an empty configured key rejects everything.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub extern "C" fn crmh_webhook_accept(
    method: *const c_char,
    method_len: size_t,
    query: *const c_char,
    query_len: size_t,
    content_type: *const c_char,
    content_type_len: size_t,
    body: *const c_char,
    body_len: size_t,
    access_key: *const c_char,
    access_key_len: size_t,
    out: *mut crmh_buf,
) -> crmh_result {
    ffi_boundary!({
        let out = try_input!(out_ptr(out));
        let raw = try_input!(raw_request(
            method,
            method_len,
            query,
            query_len,
            content_type,
            content_type_len,
            body,
            body_len
        ));
        let access_key = try_input!(text(access_key, access_key_len, "access key"));
        let accepted = crate::request::accept(
            raw.method.as_bytes(),
            raw.query.as_bytes(),
            raw.content_type.as_bytes(),
            raw.body,
            access_key,
        );
        finish(out, to_json(accepted))
    })
}

#[derive(Deserialize)]
struct TagDiffInput {
    current: Vec<String>,
    incoming: Vec<String>,
}

/// `{"current":[names],"incoming":[names]}` -> `{"added":[..],"removed":[..],"kept":[..]}`.
#[no_mangle]
pub extern "C" fn crmh_diff_tags(json: *const c_char, len: size_t, out: *mut crmh_buf) -> crmh_result {
    ffi_boundary!({
        let out = try_input!(out_ptr(out));
        let json = try_input!(text(json, len, "input"));
        let result = parse::<TagDiffInput>(json)
            .and_then(|input| render(&crate::diff::diff_tags(&input.current, &input.incoming)));
        finish(out, result)
    })
}

/// `{"current":{..},"contact":{..},"field_map":[..],"meta_denylist":[..]}` ->
/// `{"set":{..},"cleared":[..],"unchanged":[..],"refused":[..]}`.
#[no_mangle]
pub extern "C" fn crmh_diff_fields(json: *const c_char, len: size_t, out: *mut crmh_buf) -> crmh_result {
    ffi_boundary!({
        let out = try_input!(out_ptr(out));
        let json = try_input!(text(json, len, "input"));
        let result =
            parse::<crate::diff::FieldDiffInput>(json).and_then(|input| render(&crate::diff::diff_fields(&input)));
        finish(out, result)
    })
}

/// Lock decisions (loopback window, duplicate in flight, retry schedule); see lock.rs.
#[no_mangle]
pub extern "C" fn crmh_lock_decide(json: *const c_char, len: size_t, out: *mut crmh_buf) -> crmh_result {
    ffi_boundary!({
        let out = try_input!(out_ptr(out));
        let json = try_input!(text(json, len, "input"));
        finish(out, crate::lock::decide(json))
    })
}

/// `CRMH_RESULT_OK` when `given` equals `expected`, compared in constant time;
/// `CRMH_RESULT_UNAUTHORIZED` otherwise, and always when `expected` is empty (fail closed).
#[no_mangle]
pub extern "C" fn crmh_key_verify(
    given: *const c_char,
    given_len: size_t,
    expected: *const c_char,
    expected_len: size_t,
) -> crmh_result {
    ffi_boundary!({
        let given = try_input!(text(given, given_len, "given key"));
        let expected = try_input!(text(expected, expected_len, "expected key"));
        if crate::auth::verify_key(given, expected) {
            crmh_result::CRMH_RESULT_OK
        } else {
            super::last_error::set_error(&Error::Unauthorized);
            crmh_result::CRMH_RESULT_UNAUTHORIZED
        }
    })
}

/// Load a contact -> normalized Contact JSON.
#[no_mangle]
pub extern "C" fn crmh_crm_fetch_contact(
    config: *const c_char,
    config_len: size_t,
    contact_id: *const c_char,
    contact_id_len: size_t,
    out: *mut crmh_buf,
) -> crmh_result {
    ffi_boundary!(super::crm::config_and_text(
        config,
        config_len,
        contact_id,
        contact_id_len,
        "contact ID",
        out,
        crate::crm::client::fetch_contact_json
    ))
}

/// Find a contact by email -> `{"contact_id":"42"}` or `{"contact_id":null}`.
#[no_mangle]
pub extern "C" fn crmh_crm_find_contact(
    config: *const c_char,
    config_len: size_t,
    email: *const c_char,
    email_len: size_t,
    out: *mut crmh_buf,
) -> crmh_result {
    ffi_boundary!(super::crm::config_and_text(
        config,
        config_len,
        email,
        email_len,
        "email",
        out,
        crate::crm::client::find_contact_json
    ))
}

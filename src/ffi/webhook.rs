//! Webhook requests: authenticate and parse the raw request in one call.

use libc::{c_char, size_t};

use super::buf::crmh_buf;
use super::input::{bytes, finish, out_ptr, text};
use super::result::crmh_result;

/// The webhook door, in one call: authenticate and parse the raw request, and say what to do.
/// Always succeeds for valid pointers; the output is either
/// `{"verdict":"accept","request":{..}}` or
/// `{"verdict":"refuse","reason":"unauthorized","answer":{"status":401,"body":{..},"headers":{..}}}`,
/// the exact answer to send. Query, content type and body are bytes: whether they are UTF-8 is
/// decided after the key check, so it never changes the answer an unauthenticated caller gets.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub extern "C" fn crmh_webhook_receive(
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
        let method = try_input!(bytes(method, method_len));
        let query = try_input!(bytes(query, query_len));
        let content_type = try_input!(bytes(content_type, content_type_len));
        let body = try_input!(bytes(body, body_len));
        let access_key = try_input!(text(access_key, access_key_len, "access key"));
        let reception = crate::answer::receive(method, query, content_type, body, access_key);
        finish(out, serde_json::to_string(&reception).map_err(|e| crate::error::Error::from_json(&e)))
    })
}

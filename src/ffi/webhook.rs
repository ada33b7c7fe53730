//! Webhook requests: parse the raw request, and parse + authenticate in one call.

use std::ffi::c_char;

use super::buf::crmh_buf;
use super::input::{bytes, finish, out_ptr, text};
use super::result::crmh_result;
use crate::request::WebhookRequest;

fn to_json(request: crate::error::Result<WebhookRequest>) -> crate::error::Result<String> {
    request.and_then(|r| serde_json::to_string(&r).map_err(|e| crate::error::Error::from_json(&e)))
}

/// Parse a raw webhook request (method, raw query string, content type, raw body) into
/// WebhookRequest JSON. Does not check the access key: use `crmh_webhook_accept` for that.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub extern "C" fn crmh_request_parse(
    method: *const c_char,
    method_len: usize,
    query: *const c_char,
    query_len: usize,
    content_type: *const c_char,
    content_type_len: usize,
    body: *const c_char,
    body_len: usize,
    out: *mut crmh_buf,
) -> crmh_result {
    ffi_boundary!({
        let out = try_input!(out_ptr(out));
        let method = try_input!(text(method, method_len, "method"));
        let query = try_input!(text(query, query_len, "query string"));
        let content_type = try_input!(text(content_type, content_type_len, "content type"));
        let body = try_input!(bytes(body, body_len));
        finish(out, to_json(crate::request::parse(method, query, content_type, body)))
    })
}

/// Parse a webhook and check its access key against `access_key` (the site's setting).
/// Every authentication failure gives `CRMH_RESULT_UNAUTHORIZED`, checked before any
/// other error, and an empty configured key rejects everything.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub extern "C" fn crmh_webhook_accept(
    method: *const c_char,
    method_len: usize,
    query: *const c_char,
    query_len: usize,
    content_type: *const c_char,
    content_type_len: usize,
    body: *const c_char,
    body_len: usize,
    access_key: *const c_char,
    access_key_len: usize,
    out: *mut crmh_buf,
) -> crmh_result {
    ffi_boundary!({
        let out = try_input!(out_ptr(out));
        let method = try_input!(text(method, method_len, "method"));
        let query = try_input!(text(query, query_len, "query string"));
        let content_type = try_input!(text(content_type, content_type_len, "content type"));
        let body = try_input!(bytes(body, body_len));
        let access_key = try_input!(text(access_key, access_key_len, "access key"));
        finish(out, to_json(crate::request::accept(method, query, content_type, body, access_key)))
    })
}

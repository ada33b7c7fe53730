//! CRM calls. The host passes the CRM configuration (with credentials) on every call; the
//! library keeps only in-memory caches (tag names, rate-limit buckets), never credentials.

use libc::{c_char, size_t};

use super::buf::crmh_buf;
use super::input::{finish, out_ptr, text};
use super::result::crmh_result;
use crate::crm::client;
use crate::error::Result;

/// The shared body of the calls that take a config and one text argument (`what` names it in
/// an input error).
pub(super) fn config_and_text(
    config: *const c_char,
    config_len: size_t,
    arg: *const c_char,
    arg_len: size_t,
    what: &str,
    out: *mut crmh_buf,
    call: fn(&str, &str) -> Result<String>,
) -> crmh_result {
    let out = try_input!(out_ptr(out));
    let config = try_input!(text(config, config_len, "config"));
    let arg = try_input!(text(arg, arg_len, what));
    finish(out, call(config, arg))
}

/// The calls whose one argument is a JSON document.
fn config_and_json(
    config: *const c_char,
    config_len: size_t,
    json: *const c_char,
    len: size_t,
    out: *mut crmh_buf,
    call: fn(&str, &str) -> Result<String>,
) -> crmh_result {
    config_and_text(config, config_len, json, len, "input", out, call)
}

/// Load the contact a stored webhook request names (`{"contact_id":..,"email":..,"event":{..}}`)
/// -> Contact JSON; `CRM_NOT_FOUND` when the CRM has none.
#[no_mangle]
pub extern "C" fn crmh_crm_load_contact(
    config: *const c_char,
    config_len: size_t,
    request_json: *const c_char,
    request_len: size_t,
    out: *mut crmh_buf,
) -> crmh_result {
    ffi_boundary!(config_and_json(config, config_len, request_json, request_len, out, client::load_contact_json))
}

/// Write one field: `{"contact_id":"42","field":"9","value":"..."}` -> `{"ok":true}`.
#[no_mangle]
pub extern "C" fn crmh_crm_write_field(
    config: *const c_char,
    config_len: size_t,
    json: *const c_char,
    len: size_t,
    out: *mut crmh_buf,
) -> crmh_result {
    ffi_boundary!(config_and_json(config, config_len, json, len, out, client::write_field_json))
}

/// Add and remove tags by name: `{"contact_id":"42","add":[..],"remove":[..]}` -> `{"ok":true}`.
#[no_mangle]
pub extern "C" fn crmh_crm_change_tags(
    config: *const c_char,
    config_len: size_t,
    json: *const c_char,
    len: size_t,
    out: *mut crmh_buf,
) -> crmh_result {
    ffi_boundary!(config_and_json(config, config_len, json, len, out, client::change_tags_json))
}

/// One page of the contacts the CRM changed at or after `since` (Unix seconds, the CRM's
/// clock), for the reconcile sweep: `{"since":1700000000,"cursor":null}` ->
/// `{"contacts":[{"id":"42","email":"..","updated_at":1700000000}],"next_cursor":"42"|null,
/// "total":N|null}`. Pages run in contact ID order; pass `next_cursor` back for the next page
/// until it is null. 1 CRM request, paced by the config's shared window like every CRM call.
#[no_mangle]
pub extern "C" fn crmh_crm_list_modified(
    config: *const c_char,
    config_len: size_t,
    json: *const c_char,
    len: size_t,
    out: *mut crmh_buf,
) -> crmh_result {
    ffi_boundary!(config_and_json(config, config_len, json, len, out, client::list_modified_json))
}

/// One page of the contacts carrying a tag, for import by tag: `{"tag_id":"3","cursor":null}`
/// or `{"tag_name":"Members",..}` -> a page as `crmh_crm_list_modified` returns it (`total` on
/// ActiveCampaign's first page). An unknown tag name is `CRMH_RESULT_CRM_PERMANENT`.
#[no_mangle]
pub extern "C" fn crmh_crm_list_tagged(
    config: *const c_char,
    config_len: size_t,
    json: *const c_char,
    len: size_t,
    out: *mut crmh_buf,
) -> crmh_result {
    ffi_boundary!(config_and_json(config, config_len, json, len, out, client::list_tagged_json))
}

/// What the last CRM call on this thread leaves for the host to store for every worker:
/// `{"rate_window":[Unix ms]|null,"names":{..}|null,"requests":n}` (`names` is null when the
/// call listed nothing anew; `requests` counts the HTTP requests it sent).
#[no_mangle]
pub extern "C" fn crmh_last_account_state(out: *mut crmh_buf) -> crmh_result {
    ffi_boundary!({
        let out = try_input!(out_ptr(out));
        finish(out, client::last_account_state_json())
    })
}

/// The account's tags and fields, listed anew (which refreshes the shared name caches):
/// `{"tags":[{id,name}],"fields":[{key,label}]}`. For the settings screen and its
/// "refresh tags and fields" action.
#[no_mangle]
pub extern "C" fn crmh_crm_list_schema(config: *const c_char, config_len: size_t, out: *mut crmh_buf) -> crmh_result {
    ffi_boundary!({
        let out = try_input!(out_ptr(out));
        let config = try_input!(text(config, config_len, "config"));
        finish(out, client::list_schema_json(config))
    })
}

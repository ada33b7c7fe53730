//! Pure decisions, JSON in and JSON out: the plan, the settings review, the queue verdicts,
//! the reconcile sweep and import by tag.

use libc::{c_char, size_t};

use serde::Deserialize;

use super::buf::crmh_buf;
use super::input::{finish, out_ptr, text};
use super::result::crmh_result;
use crate::error::{Error, Result};

fn parse<'a, T: Deserialize<'a>>(json: &'a str) -> Result<T> {
    serde_json::from_str(json).map_err(|e| Error::from_json(&e))
}

fn render<T: serde::Serialize>(value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(|e| Error::from_json(&e))
}

/// Request + contact + current user + settings -> the ordered operations to apply.
/// A strong password is generated here in case the plan creates a user.
#[no_mangle]
pub extern "C" fn crmh_plan(json: *const c_char, len: size_t, out: *mut crmh_buf) -> crmh_result {
    ffi_boundary!({
        let out = try_input!(out_ptr(out));
        let json = try_input!(text(json, len, "input"));
        let result = crate::auth::generate_password(24).and_then(|password| crate::plan::plan_json(json, &password));
        finish(out, result)
    })
}

/// Settings as the admin submitted them (with the site's roles) -> `SettingsReview`: the
/// privileged roles and every refused role or mapping, by the rules webhooks obey.
#[no_mangle]
pub extern "C" fn crmh_settings_review(json: *const c_char, len: size_t, out: *mut crmh_buf) -> crmh_result {
    ffi_boundary!({
        let out = try_input!(out_ptr(out));
        let json = try_input!(text(json, len, "input"));
        let result = parse::<crate::settings::Settings>(json).and_then(|s| render(&crate::settings::review(&s)));
        finish(out, result)
    })
}

/// Queue verdicts (admission and key, merge, claim, finish, inline answer); see queue.rs.
#[no_mangle]
pub extern "C" fn crmh_queue_decide(json: *const c_char, len: size_t, out: *mut crmh_buf) -> crmh_result {
    ffi_boundary!({
        let out = try_input!(out_ptr(out));
        let json = try_input!(text(json, len, "input"));
        finish(out, crate::queue::decide(json))
    })
}

/// The user's stored tags and names to add and remove -> `{tags, added, removed}`, names
/// matched as the plan's tag diff matches them.
#[no_mangle]
pub extern "C" fn crmh_tags_change(json: *const c_char, len: size_t, out: *mut crmh_buf) -> crmh_result {
    ffi_boundary!({
        let out = try_input!(out_ptr(out));
        let json = try_input!(text(json, len, "input"));
        finish(out, crate::diff::change_tags_json(json))
    })
}

/// The plan's login for a new user, its numbering and the existing logins sharing its stem ->
/// `{"user_login": the first free login}`.
#[no_mangle]
pub extern "C" fn crmh_login_choose(json: *const c_char, len: size_t, out: *mut crmh_buf) -> crmh_result {
    ffi_boundary!({
        let out = try_input!(out_ptr(out));
        let json = try_input!(text(json, len, "input"));
        let result = parse::<crate::plan::login::LoginChoice>(json)
            .and_then(|choice| render(&serde_json::json!({"user_login": crate::plan::login::unique_login(&choice)})));
        finish(out, result)
    })
}

/// The settings document: `{"stored":{..},"submitted":{..}|null,"roles":[..],"allow_http_loopback":b}`
/// -> `{"settings": every key valid, "problems": [{field, code, message, value, min?, max?}]}`.
/// Defaults and rules live here only (settings/normalize.rs).
#[no_mangle]
pub extern "C" fn crmh_settings_normalize(json: *const c_char, len: size_t, out: *mut crmh_buf) -> crmh_result {
    ffi_boundary!({
        let out = try_input!(out_ptr(out));
        let json = try_input!(text(json, len, "input"));
        finish(out, crate::settings::normalize_json(json))
    })
}

/// Reconcile verdicts, selected by `"kind"` (see reconcile.rs): `sweep_start` (wait, or list
/// from `since` at `cursor`), `sweep_page` (a listed page and the users it names -> `update`
/// jobs paced to the sweep's rate share, and the state to store in the same transaction),
/// `sweep_failed`; `import_start`, `import_next`, `import_page` (`add` jobs), `import_failed`,
/// `import_job_finished`, `import_progress` (the progress figures); `budget` (what a rate share allows).
#[no_mangle]
pub extern "C" fn crmh_reconcile_decide(json: *const c_char, len: size_t, out: *mut crmh_buf) -> crmh_result {
    ffi_boundary!({
        let out = try_input!(out_ptr(out));
        let json = try_input!(text(json, len, "input"));
        finish(out, crate::reconcile::decide(json))
    })
}

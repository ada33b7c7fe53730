//! The C ABI: the only unsafe code in the crate. It marshals pointers and lengths into
//! Rust values, calls the safe modules, and hands results back in a `crmh_buf`.
//!
//! Conventions (rustls-ffi style): every function is `crmh_*`, returns `crmh_result`
//! (`CRMH_RESULT_OK` = 0), takes inputs as `(const char *ptr, size_t len)` (a NULL pointer
//! is accepted only with a zero length), writes its output only on success, never unwinds
//! into C (a panic becomes `CRMH_RESULT_PANIC`), and leaves a sanitized reason in
//! `crmh_last_error()` on failure.
#![allow(unsafe_code)]
#![allow(non_camel_case_types)]
// Exported functions take raw pointers from C by design; each dereference is guarded by a
// NULL check and documented with a SAFETY note (the rustls-ffi convention).
#![allow(clippy::not_unsafe_ptr_arg_deref)]

#[macro_use]
mod panic;
#[macro_use]
mod input;
mod buf;
mod crm;
mod decide;
mod keys;
mod last_error;
mod result;
#[cfg(feature = "test-exports")]
mod test_exports;
mod webhook;

pub use buf::{crmh_buf, crmh_buf_free};
pub use crm::{
    crmh_crm_change_tags, crmh_crm_list_modified, crmh_crm_list_schema, crmh_crm_list_tagged, crmh_crm_load_contact,
    crmh_crm_write_field, crmh_last_account_state,
};
pub use decide::{
    crmh_login_choose, crmh_plan, crmh_queue_decide, crmh_reconcile_decide, crmh_settings_normalize,
    crmh_settings_review, crmh_tags_change,
};
pub use keys::crmh_key_generate;
pub use last_error::{crmh_last_error, crmh_last_retry_after};
pub use result::{crmh_result, crmh_result_name};
#[cfg(feature = "test-exports")]
pub use test_exports::{
    crmh_crm_fetch_contact, crmh_crm_find_contact, crmh_diff_fields, crmh_diff_tags, crmh_key_verify, crmh_lock_decide,
    crmh_request_parse, crmh_selftest_panic, crmh_webhook_accept,
};
pub use webhook::crmh_webhook_receive;

use libc::c_char;

/// The library version, equal to `Cargo.toml`'s. Hosts compare it with the version they
/// were written for before making any other call. The string is static: never free it.
#[no_mangle]
pub extern "C" fn crmh_abi_version() -> *const c_char {
    static VERSION_NUL: &str = concat!(env!("CARGO_PKG_VERSION"), "\0");
    VERSION_NUL.as_ptr().cast()
}

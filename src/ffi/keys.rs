//! Access keys: generate and verify.

use libc::{c_char, size_t};

use super::buf::crmh_buf;
use super::input::{finish, out_ptr, text};
use super::result::crmh_result;

/// Generate a new access key (URL-safe, at least 128 bits from the OS random source).
#[no_mangle]
pub extern "C" fn crmh_key_generate(out: *mut crmh_buf) -> crmh_result {
    ffi_boundary!({
        let out = try_input!(out_ptr(out));
        finish(out, crate::auth::generate_key())
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
            super::last_error::set_error(&crate::error::Error::Unauthorized);
            crmh_result::CRMH_RESULT_UNAUTHORIZED
        }
    })
}

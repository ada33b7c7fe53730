//! Access keys: generate (verification happens inside `crmh_webhook_receive`).

use super::buf::crmh_buf;
use super::input::{finish, out_ptr};
use super::result::crmh_result;

/// Generate a new access key (URL-safe, at least 128 bits from the OS random source).
#[no_mangle]
pub extern "C" fn crmh_key_generate(out: *mut crmh_buf) -> crmh_result {
    ffi_boundary!({
        let out = try_input!(out_ptr(out));
        finish(out, crate::auth::generate_key())
    })
}

//! The panic boundary. Rust aborts the process when a panic unwinds out of an
//! `extern "C"` function, which would kill a php-fpm worker mid-request; every exported
//! function therefore runs its body inside `ffi_boundary!`, which turns a panic into
//! `CRMH_RESULT_PANIC` and a fixed last error.

use super::result::crmh_result;

/// Run `$body` (an expression of type `crmh_result`) and contain any panic. Clears the
/// last error first so a stale message never describes a later success.
macro_rules! ffi_boundary {
    ($body:expr) => {{
        $crate::ffi::last_error::clear();
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| -> $crate::ffi::result::crmh_result { $body })) {
            Ok(result) => result,
            Err(_) => {
                $crate::ffi::last_error::set_message("internal panic in crmhooks (contained)");
                $crate::ffi::result::crmh_result::CRMH_RESULT_PANIC
            }
        }
    }};
}

/// Panics on purpose inside the boundary and returns `CRMH_RESULT_PANIC`: lets a host
/// (and our C and PHP tests) prove that a panic never takes the process down.
#[no_mangle]
pub extern "C" fn crmh_selftest_panic() -> crmh_result {
    ffi_boundary!(panic!("crmh_selftest_panic panics by design"))
}

//! The panic boundary. Rust aborts the process when a panic unwinds out of an
//! `extern "C"` function, which would kill a php-fpm worker mid-request; every exported
//! function therefore runs its body inside `ffi_boundary!`, which turns a panic into
//! `CRMH_RESULT_PANIC` and a fixed last error.

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

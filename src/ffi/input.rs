//! Turning `(const char *ptr, size_t len)` pairs into Rust slices and strings.

use libc::{c_char, size_t};

use super::result::crmh_result;

/// Borrow `len` bytes at `ptr`. NULL is accepted only with `len == 0` (an empty input).
pub(crate) fn bytes<'a>(ptr: *const c_char, len: size_t) -> Result<&'a [u8], crmh_result> {
    if ptr.is_null() {
        return if len == 0 { Ok(&[]) } else { Err(null_parameter()) };
    }
    if len > isize::MAX as usize {
        super::last_error::set_message("input length too large");
        return Err(crmh_result::CRMH_RESULT_NULL_PARAMETER);
    }
    // SAFETY: the host promises `ptr` points at `len` readable bytes for this call.
    Ok(unsafe { std::slice::from_raw_parts(ptr.cast::<u8>(), len) })
}

/// Borrow `len` bytes at `ptr` as UTF-8 text.
pub(crate) fn text<'a>(ptr: *const c_char, len: size_t, what: &str) -> Result<&'a str, crmh_result> {
    let raw = bytes(ptr, len)?;
    std::str::from_utf8(raw).map_err(|_| {
        super::last_error::set_message(&format!("{what} is not valid UTF-8"));
        crmh_result::CRMH_RESULT_INVALID_UTF8
    })
}

/// The output pointer must be non-NULL.
pub(crate) fn out_ptr<T>(out: *mut T) -> Result<*mut T, crmh_result> {
    if out.is_null() {
        Err(null_parameter())
    } else {
        Ok(out)
    }
}

fn null_parameter() -> crmh_result {
    super::last_error::set_message("a required pointer is NULL");
    crmh_result::CRMH_RESULT_NULL_PARAMETER
}

/// Map a library result to the ABI: on Ok write the output, on Err set the last error.
pub(crate) fn finish(out: *mut super::buf::crmh_buf, result: crate::error::Result<String>) -> crmh_result {
    match result {
        Ok(text) => {
            super::buf::write_out(out, text);
            crmh_result::CRMH_RESULT_OK
        }
        Err(error) => {
            super::last_error::set_error(&error);
            crmh_result::from(&error)
        }
    }
}

/// Unwrap an input step inside an exported function: return its code on failure.
macro_rules! try_input {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(code) => return code,
        }
    };
}

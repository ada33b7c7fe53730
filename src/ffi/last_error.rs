//! The thread-local last error. Messages come only from `Error`'s `Display`, which names a
//! parameter or a category and never carries a key, token, password or body.

use std::cell::{Cell, RefCell};
use std::ffi::CString;

use libc::c_char;

use crate::crm::CrmError;
use crate::error::Error;

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
    static LAST_RETRY_AFTER: Cell<u64> = const { Cell::new(0) };
}

pub(crate) fn clear() {
    LAST_ERROR.with(|e| *e.borrow_mut() = CString::default());
    LAST_RETRY_AFTER.with(|r| r.set(0));
}

pub(crate) fn set_message(message: &str) {
    // Interior NULs cannot be represented in a C string; drop them rather than fail.
    let clean: Vec<u8> = message.bytes().filter(|b| *b != 0).collect();
    let text = CString::new(clean).unwrap_or_default();
    LAST_ERROR.with(|e| *e.borrow_mut() = text);
}

pub(crate) fn set_error(error: &Error) {
    set_message(&error.to_string());
    if let Error::Crm(CrmError::RateLimited { retry_after_secs }) = error {
        LAST_RETRY_AFTER.with(|r| r.set(*retry_after_secs));
    }
}

/// The reason for the last failure on this thread, or "" after a success. The pointer is
/// borrowed: valid until the next crmhooks call on this thread; copy it, never free it.
#[no_mangle]
pub extern "C" fn crmh_last_error() -> *const c_char {
    LAST_ERROR.with(|e| e.borrow().as_ptr())
}

/// After `CRMH_RESULT_CRM_RATE_LIMITED`: how many seconds the CRM asked us to wait.
#[no_mangle]
pub extern "C" fn crmh_last_retry_after() -> u64 {
    LAST_RETRY_AFTER.with(|r| r.get())
}

//! `crmh_buf`: output bytes owned by Rust, released with `crmh_buf_free`. The data is
//! followed by a NUL byte (not counted in `len`) so C callers may treat it as a string.

use libc::{c_char, size_t};

#[repr(C)]
pub struct crmh_buf {
    pub data: *mut c_char,
    pub len: size_t,
    pub cap: size_t,
}

impl crmh_buf {
    fn from_string(text: String) -> crmh_buf {
        let mut bytes = text.into_bytes();
        bytes.push(0);
        let mut bytes = std::mem::ManuallyDrop::new(bytes);
        crmh_buf { data: bytes.as_mut_ptr().cast(), len: bytes.len() - 1, cap: bytes.capacity() }
    }
}

/// Store `text` in `*out`. `out` was checked for NULL by the caller.
pub(crate) fn write_out(out: *mut crmh_buf, text: String) {
    // SAFETY: callers pass a non-NULL pointer from the host; it points at a crmh_buf the
    // host owns. Any previous content is the host's responsibility (documented).
    unsafe { out.write(crmh_buf::from_string(text)) };
}

/// Release a buffer filled by crmhooks. NULL-safe and idempotent: the struct is zeroed, so
/// a second call does nothing.
#[no_mangle]
pub extern "C" fn crmh_buf_free(buf: *mut crmh_buf) {
    if buf.is_null() {
        return;
    }
    // SAFETY: non-NULL; the host passes a crmh_buf it got from us (or a zeroed one).
    let buf = unsafe { &mut *buf };
    if !buf.data.is_null() {
        // SAFETY: data/len/cap came from a Vec<u8> of len+1 bytes leaked in from_string.
        drop(unsafe { Vec::from_raw_parts(buf.data.cast::<u8>(), buf.len + 1, buf.cap) });
    }
    buf.data = std::ptr::null_mut();
    buf.len = 0;
    buf.cap = 0;
}

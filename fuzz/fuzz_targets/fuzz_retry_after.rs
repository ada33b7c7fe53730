//! `Retry-After` and `X-Rate-Limit-Reset` on arbitrary text and clocks: bytes 0-7 are `now`
//! (Unix seconds), the rest is the header value. Parsing never panics or overflows, and no
//! wait is longer than one hour.
#![no_main]

use crmhooks::crm::http::{parse_reset, parse_retry_after, MAX_RETRY_AFTER_SECS};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (now, value) = match data.get(..8) {
        Some(now) => (u64::from_le_bytes(now.try_into().expect("8 bytes")), &data[8..]),
        None => (0, data),
    };
    let value = String::from_utf8_lossy(value);
    for now in [now, 0, u64::MAX] {
        if let Some(secs) = parse_retry_after(&value, now) {
            assert!(secs <= MAX_RETRY_AFTER_SECS, "{value:?} at {now}: {secs}");
        }
        if let Some(secs) = parse_reset(&value, now) {
            assert!(secs <= MAX_RETRY_AFTER_SECS, "{value:?} at {now}: {secs}");
        }
    }
});

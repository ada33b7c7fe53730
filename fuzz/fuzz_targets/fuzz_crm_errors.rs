//! Status and error-envelope mapping on arbitrary answers: bytes 0-1 are the status, byte 2
//! says whether a wait was sent (bytes 3-10 are then its seconds), the rest is the body. Each
//! 0x01 in the body becomes a marker that no error message may contain (messages never
//! echo a body), a success needs a 2xx status, and a rate-limit wait is 1 s..=1 h.
#![no_main]

use crmhooks::crm::http::{expect_object, json_object, status_error, RawResponse, MAX_RETRY_AFTER_SECS};
use crmhooks::crm::{ontraport, CrmError};
use libfuzzer_sys::fuzz_target;

const MARKER: &str = "FuZz-BoDy-MaRkEr";

fn check(error: &CrmError) {
    assert!(!error.to_string().contains(MARKER), "the body leaked into {error:?}");
    if let CrmError::RateLimited { retry_after_secs } = error {
        assert!((1..=MAX_RETRY_AFTER_SECS).contains(retry_after_secs), "{retry_after_secs}");
    }
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 3 {
        return;
    }
    let status = u16::from_le_bytes([data[0], data[1]]);
    let (retry_after, rest) = match (data[2] & 1, data.get(3..11)) {
        (1, Some(secs)) => (Some(u64::from_le_bytes(secs.try_into().expect("8 bytes"))), &data[11..]),
        _ => (None, &data[3..]),
    };
    let body = String::from_utf8_lossy(rest).replace('\u{1}', MARKER);
    let response = RawResponse { status, body, retry_after };

    check(&status_error(&response));
    if let Err(error) = json_object(&response) {
        check(&error);
    }
    match expect_object(&response) {
        Ok(_) => assert!(response.is_success()),
        Err(error) => check(&error),
    }
    match ontraport::data_of(&response) {
        Ok(_) => assert!(response.is_success()),
        Err(error) => check(&error),
    }
    match ontraport::envelope_of(&response) {
        Ok(envelope) => assert!(response.is_success() && envelope.contains_key("code")),
        Err(error) => check(&error),
    }
});

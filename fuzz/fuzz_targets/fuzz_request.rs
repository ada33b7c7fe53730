//! The webhook parser on arbitrary bytes: split the input into method, query, content type
//! and body, and require that parsing and accepting never panic and never echo the key.
#![no_main]

use libfuzzer_sys::fuzz_target;

const KEY: &str = "fuzz-key-0123456789abcdef";

fuzz_target!(|data: &[u8]| {
    let mut parts = data.splitn(4, |b| *b == b'\n');
    let method = String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
    let raw_query = parts.next().unwrap_or_default();
    let query = String::from_utf8_lossy(raw_query).into_owned();
    let content_type = match parts.next().unwrap_or_default().first() {
        Some(b'j') => "application/json",
        Some(b'f') => "application/x-www-form-urlencoded; charset=UTF-8",
        Some(b't') => "text/plain",
        _ => "",
    };
    let body = parts.next().unwrap_or_default();
    if let Ok(request) = crmhooks::request::parse(&method, &query, content_type, body) {
        let json = serde_json::to_string(&request).expect("a parsed request serializes");
        assert!(!json.contains(KEY) || query.contains(KEY) && !json.contains("access_key"));
    }
    // The door takes the raw bytes: whatever they are, it answers without panicking, and the
    // answer never carries the key unless the input itself put it in a value.
    let mut with_key = raw_query.to_vec();
    with_key.extend_from_slice(format!("&access_key={KEY}").as_bytes());
    let reception = crmhooks::answer::receive(method.as_bytes(), &with_key, content_type.as_bytes(), body, KEY);
    let answer = serde_json::to_string(&reception).expect("a reception serializes");
    let key_in_input = query.contains(KEY) || String::from_utf8_lossy(body).contains(KEY);
    assert!(key_in_input || !answer.contains(KEY));
});

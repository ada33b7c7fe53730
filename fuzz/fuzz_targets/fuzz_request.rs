//! The webhook parser on arbitrary bytes: split the input into method, query, content type
//! and body, and require that parsing and accepting never panic and never echo the key.
#![no_main]

use libfuzzer_sys::fuzz_target;

const KEY: &str = "fuzz-key-0123456789abcdef";

fuzz_target!(|data: &[u8]| {
    let mut parts = data.splitn(4, |b| *b == b'\n');
    let method = String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
    let query = String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
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
    let with_key = format!("{query}&access_key={KEY}");
    let _ = crmhooks::request::accept(&method, &with_key, content_type, body, KEY);
});

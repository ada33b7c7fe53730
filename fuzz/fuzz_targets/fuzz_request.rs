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
    // The key may come back only where the input itself put it in a value (a role, a type,
    // percent- or JSON-escaped): the parse of the input alone shows whether it did.
    let parsed = crmhooks::request::parse(&method, &query, content_type, body)
        .map(|request| serde_json::to_string(&request).expect("a parsed request serializes"));
    let key_in_input = decoded(raw_query).contains(KEY)
        || decoded(body).contains(KEY)
        || parsed.as_ref().is_ok_and(|json| json.contains(KEY));
    // The door takes the raw bytes: whatever they are, it answers without panicking; a wrong key
    // always gets the one fixed answer, and no answer carries the key unless the input did.
    let mut with_key = raw_query.to_vec();
    with_key.extend_from_slice(format!("&access_key={KEY}").as_bytes());
    let reception = crmhooks::answer::receive(method.as_bytes(), &with_key, content_type.as_bytes(), body, KEY);
    let answer = serde_json::to_string(&reception).expect("a reception serializes");
    assert!(key_in_input || !answer.contains(KEY));
    let refused =
        crmhooks::answer::receive(method.as_bytes(), raw_query, content_type.as_bytes(), body, "other-key-xyz");
    if let crmhooks::answer::Reception::Refuse { reason, answer } = refused {
        if reason == "unauthorized" {
            assert_eq!(answer.status, 401);
            assert_eq!(answer.body.error.as_deref(), Some("unauthorized"));
            assert!(answer.body.parameter.is_none() && answer.body.message.is_none());
        }
    }
});

/// Percent-decoded, lossy: what the parser sees as values.
fn decoded(input: &[u8]) -> String {
    let text = String::from_utf8_lossy(input).replace('+', " ");
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

//! Tag and field diffs on arbitrary JSON-ish input: never panic; a tag diff's added and
//! kept names all come from the incoming list.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut halves = text.splitn(2, '|');
    let current: Vec<String> = halves.next().unwrap_or_default().split(',').map(str::to_owned).collect();
    let incoming: Vec<String> = halves.next().unwrap_or_default().split(',').map(str::to_owned).collect();
    let diff = crmhooks::diff::diff_tags(&current, &incoming);
    let json = serde_json::to_value(&diff).expect("a diff serializes");
    for name in json["added"].as_array().into_iter().flatten().chain(json["kept"].as_array().into_iter().flatten()) {
        let name = name.as_str().unwrap_or_default();
        assert!(incoming.iter().any(|i| i.trim() == name), "invented tag");
    }
    if let Ok(input) = serde_json::from_slice::<crmhooks::diff::FieldDiffInput>(data) {
        let _ = crmhooks::diff::diff_fields(&input);
    }
    let _ = crmhooks::lock::decide(&text);
});

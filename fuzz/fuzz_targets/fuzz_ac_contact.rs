//! ActiveCampaign contact mapping on arbitrary answers: the input is the contact ID and the
//! five answer bodies separated by 0x1E. Mapping never panics, and a mapped contact is the one
//! asked for, with the standard fields first and no repeated tag or field.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.splitn(6, '\u{1e}');
    let mut next = || parts.next().unwrap_or_default();
    let (id, contact, contact_tags, field_values, tags, fields) = (next(), next(), next(), next(), next(), next());
    let result =
        crmhooks::crm::activecampaign::contact_from_answers(id, contact, contact_tags, field_values, tags, fields);
    if let Ok(contact) = result {
        assert_eq!(contact.id, id.trim(), "another contact");
        let keys: Vec<&str> = contact.fields.iter().map(|f| f.key.as_str()).collect();
        assert_eq!(keys[..4], ["email", "first_name", "last_name", "phone"]);
        assert!(keys.iter().enumerate().all(|(i, k)| !keys[..i].contains(k)), "repeated field");
        let tags: Vec<&str> = contact.tags.iter().map(|t| t.id.as_str()).collect();
        assert!(tags.iter().enumerate().all(|(i, t)| !tags[..i].contains(t)), "repeated tag");
        serde_json::to_string(&contact).expect("a contact serializes");
    }
});

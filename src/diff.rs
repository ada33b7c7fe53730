//! Tags and fields: the user's current WordPress state vs the CRM contact -> the changes.
//!
//! Pure functions over plain data; `crmh_diff_tags` and `crmh_diff_fields` call the `*_json`
//! wrappers.

use std::collections::{BTreeMap, HashSet};

use serde::{Deserialize, Serialize};

use crate::contact::{Contact, Tag};
use crate::error::{Error, Result};
use crate::settings::FieldMapping;

pub mod meta_guard;
pub mod php_json;

pub use meta_guard::is_protected_meta_key;

/// `crmh_tags_change` input: the user's stored tags and the names another plugin or the admin
/// applied or removed (`crmhooks_apply_tags` / `crmhooks_remove_tags`) once the CRM took them.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Default)]
#[serde(default)]
pub struct TagChangeInput {
    #[serde(deserialize_with = "php_json::list")]
    pub current: Vec<Tag>,
    #[serde(deserialize_with = "php_json::list")]
    pub add: Vec<String>,
    #[serde(deserialize_with = "php_json::list")]
    pub remove: Vec<String>,
}

/// The user's tags after the change, and the names that really changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct TagChange {
    pub tags: Vec<Tag>,
    pub added: Vec<String>,
    pub removed: Vec<String>,
}

/// Apply a change by names to stored tags, matching names as the diff does (`tag_match_key`).
pub fn change_tags(input: &TagChangeInput) -> TagChange {
    let remove: HashSet<String> = input.remove.iter().map(|n| tag_match_key(n)).collect();
    let mut change = TagChange::default();
    for tag in &input.current {
        if remove.contains(&tag_match_key(&tag.name)) {
            change.removed.push(tag.name.clone());
        } else {
            change.tags.push(tag.clone());
        }
    }
    for name in unique_trimmed(&input.add) {
        if !change.tags.iter().any(|t| tag_match_key(&t.name) == tag_match_key(&name)) {
            change.tags.push(Tag { id: String::new(), name: name.clone() });
            change.added.push(name);
        }
    }
    change
}

pub fn change_tags_json(json: &str) -> Result<String> {
    let input: TagChangeInput = serde_json::from_str(json).map_err(|e| Error::from_json(&e))?;
    serde_json::to_string(&change_tags(&input)).map_err(|e| Error::from_json(&e))
}

/// `crmh_diff_tags` input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct TagDiffInput {
    /// Tag names the WordPress user has now.
    pub current: Vec<String>,
    /// Tag names the CRM contact has now.
    pub incoming: Vec<String>,
}

/// What changes when the user's tags become the contact's tags.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct TagDiff {
    /// In the CRM, not on the user (CRM spelling, incoming order).
    pub added: Vec<String>,
    /// On the user, not in the CRM (WordPress spelling, current order).
    pub removed: Vec<String>,
    /// On both (CRM spelling, incoming order).
    pub kept: Vec<String>,
}

impl TagDiff {
    pub fn is_unchanged(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty()
    }
}

/// The form two tag names are compared in: trimmed and lowercased, so `"Member "` and
/// `"member"` are the same tag (CRMs and people disagree on case and stray spaces).
pub fn tag_match_key(name: &str) -> String {
    name.trim().to_lowercase()
}

/// Diff tag names case-insensitively after trimming. Empty names are dropped, duplicates
/// collapse onto their first occurrence, and output names are trimmed.
pub fn diff_tags(current: &[String], incoming: &[String]) -> TagDiff {
    let current = unique_trimmed(current);
    let incoming = unique_trimmed(incoming);
    let current_keys: HashSet<String> = current.iter().map(|n| tag_match_key(n)).collect();
    let incoming_keys: HashSet<String> = incoming.iter().map(|n| tag_match_key(n)).collect();

    let mut diff = TagDiff::default();
    for name in incoming {
        if current_keys.contains(&tag_match_key(&name)) {
            diff.kept.push(name);
        } else {
            diff.added.push(name);
        }
    }
    diff.removed = current.into_iter().filter(|n| !incoming_keys.contains(&tag_match_key(n))).collect();
    diff
}

/// Trimmed, non-empty names, first spelling of each case-insensitive duplicate kept.
fn unique_trimmed(names: &[String]) -> Vec<String> {
    let mut seen = HashSet::new();
    names
        .iter()
        .map(|n| n.trim())
        .filter(|n| !n.is_empty() && seen.insert(tag_match_key(n)))
        .map(str::to_string)
        .collect()
}

/// JSON entry point for `crmh_diff_tags`.
pub fn diff_tags_json(json: &str) -> Result<String> {
    let input: TagDiffInput = serde_json::from_str(json).map_err(|e| Error::from_json(&e))?;
    to_json(&diff_tags(&input.current, &input.incoming))
}

/// `crmh_diff_fields` input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct FieldDiffInput {
    /// The user's current values by WordPress key.
    #[serde(deserialize_with = "php_json::string_map")]
    pub current: BTreeMap<String, String>,
    pub contact: Contact,
    pub field_map: Vec<FieldMapping>,
    /// The admin's extra protected keys (see `is_protected_meta_key`).
    pub meta_denylist: Vec<String>,
}

/// What the mapped fields change on the user, by WordPress key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct FieldDiff {
    /// New non-empty values that differ from the current ones.
    pub set: BTreeMap<String, String>,
    /// Keys the CRM now has empty while WordPress has a value.
    pub cleared: Vec<String>,
    /// Keys whose value is already right.
    pub unchanged: Vec<String>,
    /// Mapped keys that are protected and were not considered.
    pub refused: Vec<String>,
}

/// Apply the field map to the contact and compare with the current values.
///
/// A mapped CRM field the contact does not carry at all is left alone: CRMs omit fields, and
/// an omission is not a request to wipe. A value of only whitespace counts as empty. When
/// several mappings target one WordPress key, the first one the contact carries decides.
pub fn diff_fields(input: &FieldDiffInput) -> FieldDiff {
    let mut diff = FieldDiff::default();
    let mut decided: HashSet<String> = HashSet::new();
    for mapping in &input.field_map {
        let wp_key = mapping.wp_key.as_str();
        if decided.contains(wp_key) {
            continue;
        }
        if is_protected_meta_key(wp_key, &input.meta_denylist) {
            decided.insert(wp_key.to_string());
            diff.refused.push(wp_key.to_string());
            continue;
        }
        let Some(new_value) = input.contact.field(&mapping.crm_key) else {
            continue;
        };
        decided.insert(wp_key.to_string());
        let current = input.current.get(wp_key).map(String::as_str).unwrap_or("");
        let new_empty = new_value.trim().is_empty();
        if new_empty && !current.trim().is_empty() {
            diff.cleared.push(wp_key.to_string());
        } else if new_empty || new_value == current {
            diff.unchanged.push(wp_key.to_string());
        } else {
            diff.set.insert(wp_key.to_string(), new_value.to_string());
        }
    }
    diff
}

/// JSON entry point for `crmh_diff_fields`.
pub fn diff_fields_json(json: &str) -> Result<String> {
    let input: FieldDiffInput = serde_json::from_str(json).map_err(|e| Error::from_json(&e))?;
    to_json(&diff_fields(&input))
}

fn to_json<T: Serialize>(value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(|e| Error::from_json(&e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contact::Field;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn brief_example_tags() {
        let diff = diff_tags(&names(&["Member", "vip"]), &names(&["member", "Gold"]));
        assert_eq!(diff.added, names(&["Gold"]));
        assert_eq!(diff.removed, names(&["vip"]));
        assert_eq!(diff.kept, names(&["member"]));
    }

    #[test]
    fn trailing_space_and_case_are_the_same_tag_and_crm_spelling_wins() {
        let diff = diff_tags(&names(&["Member "]), &names(&["  MEMBER"]));
        assert!(diff.added.is_empty() && diff.removed.is_empty());
        assert_eq!(diff.kept, names(&["MEMBER"]));
        assert!(diff.is_unchanged());
    }

    #[test]
    fn empty_names_are_dropped_and_duplicates_collapse_in_incoming_order() {
        let diff = diff_tags(&names(&["", "old", "OLD ", "keep"]), &names(&["b", " ", "a", "B", "Keep", "a", "keep"]));
        assert_eq!(diff.added, names(&["b", "a"]));
        assert_eq!(diff.kept, names(&["Keep"]));
        assert_eq!(diff.removed, names(&["old"]));
    }

    #[test]
    fn unicode_case_folds() {
        let diff = diff_tags(&names(&["ÉLÈVE"]), &names(&["élève"]));
        assert_eq!(diff.kept, names(&["élève"]));
        assert!(diff.is_unchanged());
    }

    #[test]
    fn no_tags_anywhere_is_unchanged() {
        let diff = diff_tags(&[], &[]);
        assert_eq!(diff, TagDiff::default());
        assert!(diff.is_unchanged());
    }

    #[test]
    fn diff_tags_json_matches_brief_shape() {
        let out = diff_tags_json(r#"{"current":["Member","vip"],"incoming":["member","Gold"]}"#).unwrap();
        assert_eq!(out, r#"{"added":["Gold"],"removed":["vip"],"kept":["member"]}"#);
    }

    #[test]
    fn diff_tags_json_rejects_bad_json_without_echoing_it() {
        let err = diff_tags_json(r#"{"current":"s3cr3t"}"#).unwrap_err();
        assert!(matches!(err, Error::InvalidJson(_)));
        assert!(!err.to_string().contains("s3cr3t"));
        assert!(diff_tags_json("not json").is_err());
    }

    fn contact(fields: &[(&str, &str)]) -> Contact {
        Contact {
            id: "42".into(),
            fields: fields
                .iter()
                .map(|(k, v)| Field { key: k.to_string(), label: String::new(), value: v.to_string() })
                .collect(),
            ..Contact::default()
        }
    }

    fn map(pairs: &[(&str, &str)]) -> Vec<FieldMapping> {
        pairs.iter().map(|(c, w)| FieldMapping { crm_key: c.to_string(), wp_key: w.to_string() }).collect()
    }

    fn current(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn changed_value_is_set_same_value_is_unchanged() {
        let input = FieldDiffInput {
            current: current(&[("first_name", "Jane"), ("crmhooks_level", "Silver")]),
            contact: contact(&[("first_name", "Jane"), ("1", "Gold")]),
            field_map: map(&[("1", "crmhooks_level"), ("first_name", "first_name")]),
            meta_denylist: vec![],
        };
        let diff = diff_fields(&input);
        assert_eq!(diff.set, current(&[("crmhooks_level", "Gold")]));
        assert_eq!(diff.unchanged, names(&["first_name"]));
        assert!(diff.cleared.is_empty() && diff.refused.is_empty());
    }

    #[test]
    fn empty_crm_value_clears_a_current_value() {
        let input = FieldDiffInput {
            current: current(&[("level", "Gold"), ("phone", "")]),
            contact: contact(&[("1", ""), ("2", "   ")]),
            field_map: map(&[("1", "level"), ("2", "phone")]),
            meta_denylist: vec![],
        };
        let diff = diff_fields(&input);
        assert_eq!(diff.cleared, names(&["level"]));
        assert_eq!(diff.unchanged, names(&["phone"]));
        assert!(diff.set.is_empty());
    }

    #[test]
    fn absent_crm_field_is_left_alone() {
        let input = FieldDiffInput {
            current: current(&[("level", "Gold")]),
            contact: contact(&[]),
            field_map: map(&[("1", "level")]),
            meta_denylist: vec![],
        };
        assert_eq!(diff_fields(&input), FieldDiff::default());
    }

    #[test]
    fn new_key_without_current_value_is_set() {
        let input = FieldDiffInput {
            current: BTreeMap::new(),
            contact: contact(&[("1", "Gold")]),
            field_map: map(&[("1", "level")]),
            meta_denylist: vec![],
        };
        assert_eq!(diff_fields(&input).set, current(&[("level", "Gold")]));
    }

    #[test]
    fn protected_and_denylisted_keys_are_refused_even_when_absent() {
        let input = FieldDiffInput {
            current: BTreeMap::new(),
            contact: contact(&[("1", "administrator"), ("2", "x"), ("3", "y")]),
            field_map: map(&[
                ("1", "wp_capabilities"),
                ("1", "WP_2_CAPABILITIES"),
                ("2", "session_tokens"),
                ("9", "wp_user_level"),
                ("3", "billing_phone"),
                ("3", "crmhooks_contact_id"),
            ]),
            meta_denylist: names(&["billing_phone"]),
        };
        let diff = diff_fields(&input);
        assert_eq!(
            diff.refused,
            names(&[
                "wp_capabilities",
                "WP_2_CAPABILITIES",
                "session_tokens",
                "wp_user_level",
                "billing_phone",
                "crmhooks_contact_id"
            ])
        );
        assert!(diff.set.is_empty() && diff.cleared.is_empty() && diff.unchanged.is_empty());
    }

    #[test]
    fn first_mapping_the_contact_carries_decides_a_key() {
        let input = FieldDiffInput {
            current: BTreeMap::new(),
            contact: contact(&[("2", "second"), ("3", "third")]),
            field_map: map(&[("1", "level"), ("2", "level"), ("3", "level")]),
            meta_denylist: vec![],
        };
        assert_eq!(diff_fields(&input).set, current(&[("level", "second")]));
    }

    #[test]
    fn diff_fields_json_matches_brief_shape() {
        let json = r#"{"current":{"first_name":"Jane","crmhooks_level":"Silver","x":"old"},
            "contact":{"id":"42","email":"jane@example.com","first_name":"Jane","last_name":"Doe","tags":[],
              "fields":[{"key":"1","label":"Level","value":"Gold"},{"key":"first_name","label":"","value":"Jane"},
                        {"key":"5","label":"","value":""},{"key":"6","label":"","value":"admin"}]},
            "field_map":[{"crm_key":"1","wp_key":"crmhooks_level"},{"crm_key":"5","wp_key":"x"},
                         {"crm_key":"first_name","wp_key":"first_name"},{"crm_key":"6","wp_key":"wp_capabilities"}],
            "meta_denylist":[]}"#;
        let out = diff_fields_json(json).unwrap();
        assert_eq!(
            out,
            r#"{"set":{"crmhooks_level":"Gold"},"cleared":["x"],"unchanged":["first_name"],"refused":["wp_capabilities"]}"#
        );
    }

    #[test]
    fn diff_fields_json_accepts_missing_optional_members_and_rejects_bad_types() {
        let out = diff_fields_json(r#"{"contact":{"id":"1"}}"#).unwrap();
        assert_eq!(out, r#"{"set":{},"cleared":[],"unchanged":[],"refused":[]}"#);
        assert!(matches!(diff_fields_json(r#"{"field_map":"x"}"#), Err(Error::InvalidJson(_))));
    }

    #[test]
    fn a_tag_change_matches_names_like_the_diff() {
        let tag = |id: &str, name: &str| Tag { id: id.into(), name: name.into() };
        let input = TagChangeInput {
            current: vec![tag("3", "Member"), tag("5", "Ärger"), tag("7", "VIP")],
            add: names(&["vip", " Gold ", "gold", ""]),
            remove: names(&["ärger", "absent"]),
        };
        let change = change_tags(&input);
        assert_eq!(change.tags, vec![tag("3", "Member"), tag("7", "VIP"), tag("", "Gold")]);
        assert_eq!((change.added, change.removed), (names(&["Gold"]), names(&["Ärger"])));
        let json = change_tags_json(r#"{"current":{"0":{"id":"1","name":"a"}},"add":[],"remove":["A"]}"#).unwrap();
        assert_eq!(json, r#"{"tags":[],"added":[],"removed":["a"]}"#);
    }
}

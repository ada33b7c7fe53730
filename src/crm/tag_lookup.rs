//! Tag names to tag IDs, the same way for every CRM: names match trimmed and
//! case-insensitively, an exact spelling wins, and missing tags can be created.

use std::collections::HashMap;

use crate::contact::{Field, Tag};
use crate::diff::tag_match_key;

use super::{CrmError, Schema};

/// Trimmed, non-empty, without case-insensitive duplicates.
pub fn clean_names(names: &[String]) -> Vec<String> {
    let mut seen: Vec<String> = Vec::new();
    for name in names {
        let name = name.trim();
        if !name.is_empty() && !seen.iter().any(|s| tag_match_key(s) == tag_match_key(name)) {
            seen.push(name.to_string());
        }
    }
    seen
}

/// Tag IDs to add and to remove.
pub type TagIds = (Vec<String>, Vec<String>);

/// Creates a tag by name in the CRM and returns its ID.
pub type CreateTag<'a> = &'a mut dyn FnMut(&str) -> Result<String, CrmError>;

/// Tag IDs for a change given by names: `(add_ids, remove_ids)`, or `None` when there is
/// nothing to change. One listing serves both lists (`cached`, else `refresh` when a name is
/// unknown); missing tags are created for additions only.
pub fn resolve_change(
    add: &[String],
    remove: &[String],
    cached: Option<HashMap<String, String>>,
    refresh: impl FnOnce() -> Result<HashMap<String, String>, CrmError>,
    create: CreateTag<'_>,
) -> Result<Option<TagIds>, CrmError> {
    let (add, remove) = (clean_names(add), clean_names(remove));
    if add.is_empty() && remove.is_empty() {
        return Ok(None);
    }
    let mut known = match cached {
        Some(names) if add.iter().chain(&remove).all(|n| find_by_name(&names, n).is_some()) => names,
        _ => refresh()?,
    };
    let add_ids = ids_for_names(&add, &mut known, Some(create))?;
    let remove_ids = ids_for_names(&remove, &mut known, None)?;
    Ok(Some((add_ids, remove_ids)))
}

/// A digest of a set of tag names (trimmed, case-folded, order and duplicates ignored): what a
/// queued job keeps of the names its webhook carried (ActiveCampaign's `contact[tags]`), so the
/// names themselves never rest in the database. FNV-1a, stable across builds.
pub fn tag_set_digest(names: &[String]) -> String {
    let keys: std::collections::BTreeSet<String> = clean_names(names).iter().map(|n| tag_match_key(n)).collect();
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in keys.iter().flat_map(|key| key.bytes().chain(std::iter::once(b'\n'))) {
        hash = (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{hash:016x}")
}

/// Whether the tag names a webhook body carried (as `tag_set_digest`) disagree with the names
/// the cache gave the contact's tag IDs: then a tag was renamed, created or deleted since the
/// listing, and the listing must be read again before anything is written.
pub fn names_disagree(expected_digest: &str, resolved: &[String]) -> bool {
    tag_set_digest(resolved) != expected_digest
}

/// The settings screen's schema: tags by name, then the standard fields, then custom fields
/// in key order. `standard` rows are `(our key, wire name, label)`.
pub fn schema(tag_names: HashMap<String, String>, standard: &[(&str, &str, &str)], custom: Vec<Field>) -> Schema {
    let mut tags: Vec<Tag> = tag_names.into_iter().map(|(id, name)| Tag { id, name }).collect();
    tags.sort_by(|a, b| a.name.to_lowercase().cmp(&b.name.to_lowercase()).then(a.id.cmp(&b.id)));
    let mut custom = custom;
    custom.sort_by_key(|f| (f.key.len(), f.key.clone()));
    let mut fields: Vec<Field> = standard
        .iter()
        .map(|(key, _, label)| Field { key: key.to_string(), label: label.to_string(), value: String::new() })
        .collect();
    fields.extend(custom);
    Schema { tags, fields }
}

/// The ID of the tag called `wanted` in `names` (ID -> name). An exact spelling wins over a
/// case-insensitive match; then the shortest, lowest ID, so the choice is stable.
pub fn find_by_name(names: &HashMap<String, String>, wanted: &str) -> Option<String> {
    let wanted = wanted.trim();
    let key = tag_match_key(wanted);
    let mut matches: Vec<(&String, &String)> = names.iter().filter(|(_, name)| tag_match_key(name) == key).collect();
    matches.sort_by_key(|(id, name)| (name.trim() != wanted, id.len(), (*id).clone()));
    matches.first().map(|(id, _)| (*id).clone())
}

/// IDs for these names in `known`. A missing name is created through `create` when given
/// (and added to `known`), else skipped (removing a tag the CRM does not have is a no-op).
pub fn ids_for_names(
    names: &[String],
    known: &mut HashMap<String, String>,
    mut create: Option<CreateTag<'_>>,
) -> Result<Vec<String>, CrmError> {
    let mut ids = Vec::new();
    for name in names {
        match (find_by_name(known, name), create.as_mut()) {
            (Some(id), _) => ids.push(id),
            (None, Some(create)) => {
                let id = create(name)?;
                known.insert(id.clone(), name.clone());
                ids.push(id);
            }
            (None, None) => {}
        }
    }
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_names_trims_and_dedups() {
        let names = vec![" a ".to_string(), "A".into(), "".into(), "b".into()];
        assert_eq!(clean_names(&names), vec!["a".to_string(), "b".into()]);
    }

    #[test]
    fn a_change_lists_tags_only_for_an_unknown_name_and_creates_only_additions() {
        let mut refreshed = 0;
        let mut created = Vec::new();
        let mut create = |name: &str| {
            created.push(name.to_string());
            Ok::<_, CrmError>("50".to_string())
        };
        let (add, remove) = resolve_change(
            &["VIP".into()],
            &["member".into()],
            Some(known()),
            || {
                refreshed += 1;
                Ok(known())
            },
            &mut create,
        )
        .unwrap()
        .unwrap();
        assert_eq!((add, remove, refreshed), (vec!["7".to_string()], vec!["12".to_string()], 0));
        let (add, remove) = resolve_change(
            &["Gold".into()],
            &["Silver".into()],
            Some(known()),
            || {
                refreshed += 1;
                Ok(known())
            },
            &mut create,
        )
        .unwrap()
        .unwrap();
        assert_eq!((add, remove, refreshed), (vec!["50".to_string()], vec![], 1));
        assert!(resolve_change(&[" ".into()], &[], None, || Ok(known()), &mut create).unwrap().is_none());
        assert_eq!(created, vec!["Gold"], "a removal never creates a tag");
    }

    fn known() -> HashMap<String, String> {
        HashMap::from([("3".into(), "Member".into()), ("12".into(), "member".into()), ("7".into(), "VIP".into())])
    }

    #[test]
    fn names_disagree_only_when_the_sets_differ() {
        let names = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let digest = |list: &[&str]| tag_set_digest(&names(list));
        assert!(!names_disagree(&digest(&["Gold", " vip", "gold"]), &names(&["VIP", "gold"])));
        assert!(!names_disagree(&digest(&["Ärger"]), &names(&["ärger "])), "Unicode case folds too");
        assert!(names_disagree(&digest(&["Platinum"]), &names(&["Gold"])), "a renamed tag");
        assert!(names_disagree(&digest(&["Gold", "New"]), &names(&["Gold"])), "a tag unknown to the cache");
        assert!(names_disagree(&digest(&[]), &names(&["Gold"])));
        assert_ne!(digest(&["ab", "c"]), digest(&["a", "bc"]), "names are delimited");
        assert_eq!(digest(&[]).len(), 16);
    }

    #[test]
    fn exact_spelling_wins_then_lowest_id() {
        assert_eq!(find_by_name(&known(), "member").as_deref(), Some("12"));
        assert_eq!(find_by_name(&known(), " MEMBER ").as_deref(), Some("3"));
        assert_eq!(find_by_name(&known(), "gold"), None);
    }

    #[test]
    fn missing_names_are_created_only_when_asked() {
        let mut names = known();
        assert_eq!(ids_for_names(&["vip".into(), "Gold".into()], &mut names, None).unwrap(), vec!["7"]);
        let mut created = Vec::new();
        let mut create = |name: &str| {
            created.push(name.to_string());
            Ok::<_, CrmError>("99".to_string())
        };
        let ids = ids_for_names(&["vip".into(), "Gold".into()], &mut names, Some(&mut create)).unwrap();
        assert_eq!(ids, vec!["7", "99"]);
        assert_eq!(created, vec!["Gold"]);
        assert_eq!(names.get("99").map(String::as_str), Some("Gold"));
    }
}

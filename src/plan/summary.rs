//! What a plan changes, for the log entry's detail on Tools -> crmhooks Activity: the tags added
//! and removed, each changed field with its old and new value, the role, why nothing was written.
//!
//! Field values are personal data the site already holds in `wp_users` / `wp_usermeta`; the log
//! keeps them only for its retention period, and uninstall drops the log. Secrets never: a key
//! that looks secret (a password, token, key, hash or session, or meta webhooks may not write)
//! carries no value, only the fact that it changed. Values are cut to `MAX_VALUE_CHARS`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{Op, SkipReason, UserState};
use crate::diff;

/// Longest value a summary carries, in characters (Unicode scalar values); longer ones are cut
/// and end with `…`. Enough to recognise a value, short enough for a log row.
pub const MAX_VALUE_CHARS: usize = 200;

/// A key containing any of these (case-insensitive) names a secret: `user_pass`, `password`,
/// `api_token`, `license_key`, `pw_hash`, `session_tokens`, ...
const SECRET_KEY_WORDS: [&str; 6] = ["pass", "token", "secret", "key", "hash", "session"];

/// One changed field. A secret-looking key carries no value: `{"hidden": true}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct FieldChange {
    /// The value before; empty when there was none (a new user, a meta key set for the first time).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old: Option<String>,
    /// The value after; empty when the field was cleared.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new: Option<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub hidden: bool,
}

impl FieldChange {
    /// The change of `key` from `old` to `new`, values cut, or hidden when the key looks secret.
    pub fn of(key: &str, old: &str, new: &str, meta_denylist: &[String]) -> FieldChange {
        if value_is_secret(key, meta_denylist) {
            return FieldChange { old: None, new: None, hidden: true };
        }
        FieldChange { old: Some(shortened(old)), new: Some(shortened(new)), hidden: false }
    }
}

/// True when the log may not show this key's value: its name looks secret, or it is meta a
/// webhook may never write (protected keys, the admin's denylist), whatever it holds.
pub fn value_is_secret(key: &str, meta_denylist: &[String]) -> bool {
    let lower = key.to_ascii_lowercase();
    SECRET_KEY_WORDS.iter().any(|word| lower.contains(word))
        || (!super::is_core_or_creation_key(key) && diff::is_protected_meta_key(key, meta_denylist))
}

/// `value` cut to `MAX_VALUE_CHARS` characters (never inside a UTF-8 sequence), `…` when cut.
pub fn shortened(value: &str) -> String {
    match value.char_indices().nth(MAX_VALUE_CHARS) {
        Some((cut, _)) => format!("{}…", &value[..cut]),
        None => value.to_string(),
    }
}

/// What a plan changes, for the log entry's detail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct Summary {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags_added: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags_removed: Vec<String>,
    /// WordPress fields and meta keys written or cleared, by key.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub fields: BTreeMap<String, FieldChange>,
    /// `{"old": "subscriber", "new": "customer"}` when the role changes or a user is created.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skipped_reason: Option<SkipReason>,
}

impl Summary {
    /// The summary of `ops` applied to `user` (`None` when the plan creates one or skips): old
    /// values come from the user as the shim read it, new ones from the ops.
    pub(super) fn of(ops: &[Op], user: Option<&UserState>, meta_denylist: &[String]) -> Summary {
        let mut summary = Summary::default();
        let old_roles = user.map(|u| u.roles.join(", ")).unwrap_or_default();
        let old_value = |key: &str| user.map(|u| u.current_value(key)).unwrap_or_default();
        let change =
            |key: &str, new: &str| (key.to_string(), FieldChange::of(key, &old_value(key), new, meta_denylist));
        for op in ops {
            match op {
                Op::SetTags { added, removed, .. } => {
                    summary.tags_added.extend(added.iter().cloned());
                    summary.tags_removed.extend(removed.iter().cloned());
                }
                Op::UpdateUser { fields } => summary.fields.extend(fields.iter().map(|(key, new)| change(key, new))),
                Op::SetMeta { key, value } => summary.fields.extend([change(key, value)]),
                Op::DeleteMeta { key } => summary.fields.extend([change(key, "")]),
                Op::CreateUser { user_email, first_name, last_name, user_pass, role, .. } => {
                    let created = [("user_email", user_email), ("first_name", first_name), ("last_name", last_name)];
                    let set = created.into_iter().filter(|(_, new)| !new.is_empty());
                    summary.fields.extend(set.map(|(key, new)| change(key, new)));
                    summary.fields.extend([change("user_pass", &user_pass.0)]);
                    summary.role = role_change(&old_roles, role);
                }
                Op::SetRole { role } => summary.role = role_change(&old_roles, role),
                Op::Skip { reason } => summary.skipped_reason = Some(*reason),
                Op::SetContactId { .. } | Op::SendNotification | Op::ReturnPassword { .. } => {}
            }
        }
        summary
    }
}

fn role_change(old: &str, new: &str) -> Option<BTreeMap<String, String>> {
    Some(BTreeMap::from([("old".to_string(), old.to_string()), ("new".to_string(), new.to_string())]))
}

impl UserState {
    /// The value a field had before the plan: core fields from the user row, others from the
    /// mapped meta the shim read (`CrmHooks_Users::user_state`); empty when unknown.
    fn current_value(&self, key: &str) -> String {
        match key {
            "user_email" => self.user_email.clone(),
            "first_name" => self.first_name.clone(),
            "last_name" => self.last_name.clone(),
            _ => self.meta.get(key).cloned().unwrap_or_default(),
        }
    }
}

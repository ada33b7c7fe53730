//! Which user meta keys a webhook may never write, whatever the field mapping says.
//!
//! WordPress keeps roles and capabilities (`wp_capabilities`, `wp_2_user_level` on multisite),
//! login sessions and the password reset key in user meta or user columns. A field mapping
//! that reaches one of them would let the CRM (or whoever can edit a CRM contact) take over an
//! account, so the check is on the key, not on who configured it.
//!
//! MariaDB compares `meta_key` with a case-insensitive, trailing-space-padding collation that
//! ignores control characters and folds many non-ASCII letters onto ASCII ones, so a key that is
//! not plain printable ASCII, or that differs from its trimmed form, could land on a protected
//! row: such keys are refused outright.

/// Longest meta key WordPress stores (`wp_usermeta.meta_key` is VARCHAR(255)).
pub const MAX_META_KEY_BYTES: usize = 255;

/// Protected keys that end with these suffixes, on any site prefix (`wp_`, `wp_2_`, `custom_`).
const PROTECTED_SUFFIXES: &[&str] = &["capabilities", "user_level"];

/// Protected wherever they appear in a key (`wp_user-settings`, `wp_2_user-settings-time`).
const PROTECTED_INFIXES: &[&str] = &["user-settings"];

/// crmhooks' own bookkeeping: the contact link and the stored tags.
pub const OWN_META_KEYS: &[&str] = &["crmhooks_contact_id", "crmhooks_tags", "crmhooks_tag_names"];

/// Protected keys matched exactly (after lowercasing).
const PROTECTED_KEYS: &[&str] = &[
    "session_tokens",
    "user_activation_key",
    "default_password_nag",
    // Multisite: which site the user lands on, and where they signed up.
    "primary_blog",
    "source_domain",
    // Only through the password mapping when a user is created, never as meta.
    "user_pass",
    // Only through the login mapping when a user is created.
    "user_login",
];

/// True when a webhook must not write this meta key. Comparison is case-insensitive.
/// Every `_`-prefixed key is private to the plugin that owns it (`_application_passwords`,
/// WooCommerce's `_stripe_customer_id`), so it is refused too.
/// `extra` is the admin's own denylist: exact keys, or prefixes when an entry ends with `*`
/// (`"billing_*"`).
pub fn is_protected_meta_key(key: &str, extra: &[String]) -> bool {
    if !is_plain_key(key) {
        return true;
    }
    let key = key.to_ascii_lowercase();
    key.starts_with('_')
        || PROTECTED_SUFFIXES.iter().any(|suffix| key.ends_with(suffix))
        || PROTECTED_INFIXES.iter().any(|infix| key.contains(infix))
        || PROTECTED_KEYS.contains(&key.as_str())
        || OWN_META_KEYS.contains(&key.as_str())
        || extra.iter().any(|entry| extra_entry_matches(entry, &key))
}

/// Non-empty, at most 255 bytes, printable ASCII only, no leading or trailing space.
fn is_plain_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= MAX_META_KEY_BYTES
        && key.bytes().all(|b| (0x20..0x7f).contains(&b))
        && key.trim() == key
}

fn extra_entry_matches(entry: &str, lowercase_key: &str) -> bool {
    let entry = entry.trim().to_ascii_lowercase();
    if entry.is_empty() {
        return false;
    }
    match entry.strip_suffix('*') {
        Some(prefix) => lowercase_key.starts_with(prefix),
        None => lowercase_key == entry,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn protected(key: &str) -> bool {
        is_protected_meta_key(key, &[])
    }

    #[test]
    fn capabilities_and_user_level_on_any_prefix_are_protected() {
        for key in [
            "wp_capabilities",
            "WP_2_CAPABILITIES",
            "wp_2_capabilities",
            "custom_prefix_capabilities",
            "capabilities",
            "wp_user_level",
            "wp_2_user_level",
            "Wp_User_Level",
        ] {
            assert!(protected(key), "{key} must be protected");
        }
    }

    #[test]
    fn session_password_login_and_internal_keys_are_protected() {
        for key in [
            "session_tokens",
            "SESSION_TOKENS",
            "user_pass",
            "user_login",
            "user_activation_key",
            "wp_user-settings",
            "wp_2_user-settings-time",
            "crmhooks_contact_id",
            "CRMHOOKS_TAGS",
            "crmhooks_tag_names",
            "_application_passwords",
            "_APPLICATION_PASSWORDS",
            "_anything_private",
            "default_password_nag",
            "primary_blog",
            "Source_Domain",
        ] {
            assert!(protected(key), "{key} must be protected");
        }
    }

    #[test]
    fn ordinary_keys_are_allowed() {
        for key in ["crmhooks_level", "billing_phone", "first_name", "nickname", "membership level"] {
            assert!(!protected(key), "{key} must be allowed");
        }
    }

    #[test]
    fn keys_that_could_collate_onto_another_key_are_refused() {
        assert!(protected(""));
        assert!(protected("wp_\0capabilities"));
        assert!(protected("billing\0"));
        assert!(protected("billing\u{1}phone"));
        assert!(protected("billing_phone "));
        assert!(protected(" billing_phone"));
        assert!(protected("ｗp_capabilities"));
        assert!(protected("level\u{200b}"));
        assert!(protected(&"a".repeat(256)));
        assert!(!protected(&"a".repeat(255)));
    }

    #[test]
    fn admin_extra_list_matches_exact_keys_and_prefixes_case_insensitively() {
        let extra = vec!["Billing_Phone".to_string(), "secret_*".to_string(), "  ".to_string()];
        assert!(is_protected_meta_key("billing_phone", &extra));
        assert!(is_protected_meta_key("SECRET_answer", &extra));
        assert!(!is_protected_meta_key("billing_phone2", &extra));
        assert!(!is_protected_meta_key("shipping_phone", &extra));
    }
}

//! Site settings as the PHP shim passes them (JSON), with safe defaults.

use serde::{Deserialize, Serialize};

mod normalize;
pub use normalize::{normalize, normalize_json, NormalizeInput, Normalized};

/// Which CRM the site is connected to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum CrmKind {
    #[default]
    Activecampaign,
    Ontraport,
}

/// How a new user's login is made when no CRM field is mapped to `user_login`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum UsernameFormat {
    /// The contact's email address (WP Fusion's default).
    #[default]
    Email,
    /// `firstlast`, lowercased, letters and digits only.
    FirstLast,
    /// `first` followed by a number.
    FirstNumber,
}

/// A role registered in WordPress, as the shim reports it: its slug, display name and the
/// capabilities it grants. Whether it is privileged is decided here (`plan::roles`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct RoleInfo {
    pub slug: String,
    #[serde(default)]
    pub name: String,
    #[serde(default, deserialize_with = "crate::diff::php_json::list")]
    pub capabilities: Vec<String>,
}

/// One mapping from a CRM field (stable key) to a WordPress user field or meta key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct FieldMapping {
    pub crm_key: String,
    pub wp_key: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    pub crm: CrmKind,
    /// Role given to new users when the webhook names none (or one that is refused).
    pub default_role: String,
    /// Roles a webhook may ask for. Privileged roles are refused even when listed.
    pub role_allowlist: Vec<String>,
    /// Every role registered on the site.
    pub roles: Vec<RoleInfo>,
    pub field_map: Vec<FieldMapping>,
    pub username_format: UsernameFormat,
    /// Write the generated password back to this CRM field after creating a user.
    pub return_password: bool,
    pub password_field: String,
    /// Seconds after our own write to the CRM during which webhooks for that contact wait.
    pub loopback_window_secs: u64,
    /// Extra meta keys the admin refuses on top of the built-in denylist.
    pub meta_denylist: Vec<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            crm: CrmKind::Activecampaign,
            default_role: "subscriber".into(),
            role_allowlist: Vec::new(),
            roles: Vec::new(),
            field_map: Vec::new(),
            username_format: UsernameFormat::Email,
            return_password: false,
            password_field: String::new(),
            loopback_window_secs: 60,
            meta_denylist: Vec::new(),
        }
    }
}

/// One problem with submitted settings, for `add_settings_error` (field names the setting).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettingsProblem {
    pub field: String,
    pub code: String,
    pub message: String,
    /// The offending entry (a role slug or meta key as the admin typed it; never a credential).
    pub value: String,
    /// The allowed range, for numbers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<u64>,
}

/// What the settings screen must tell the admin, decided by the same rules webhooks obey.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct SettingsReview {
    /// Registered roles a webhook will never grant.
    pub privileged_roles: Vec<String>,
    /// Mappings, roles and defaults that are refused.
    pub problems: Vec<SettingsProblem>,
}

/// Check settings against the webhook rules: privileged roles on the allowlist or as the
/// default, and field mappings onto protected meta keys.
pub fn review(settings: &Settings) -> SettingsReview {
    use crate::plan::roles;
    let privileged_roles = roles::privileged_role_slugs(settings);
    let is_privileged = |slug: &str| {
        roles::find_role(slug, &settings.roles).is_some_and(roles::role_is_privileged)
            || slug.trim().eq_ignore_ascii_case("administrator")
    };
    let problem = |field: &str, code: &str, message: &str, value: &str| SettingsProblem {
        field: field.into(),
        code: code.into(),
        message: message.into(),
        value: value.into(),
        min: None,
        max: None,
    };
    let mut problems = Vec::new();
    for slug in settings.role_allowlist.iter().filter(|s| is_privileged(s)) {
        problems.push(problem(
            "role_allowlist",
            "role_privileged",
            "holds admin-level capabilities; a webhook never grants it",
            slug,
        ));
    }
    if is_privileged(&settings.default_role) {
        problems.push(problem(
            "default_role",
            "role_privileged",
            "holds admin-level capabilities; a webhook never grants it",
            &settings.default_role,
        ));
    }
    for mapping in &settings.field_map {
        if crate::plan::is_mappable_meta_key(&mapping.wp_key, &settings.meta_denylist) {
            continue;
        }
        problems.push(problem(
            "field_map",
            "meta_protected",
            "is a protected user meta key; webhooks never write it",
            &mapping.wp_key,
        ));
    }
    SettingsReview { privileged_roles, problems }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_members_take_safe_defaults() {
        let settings: Settings = serde_json::from_str(r#"{"crm":"ontraport"}"#).unwrap();
        assert_eq!(settings.crm, CrmKind::Ontraport);
        assert_eq!(settings.default_role, "subscriber");
        assert!(settings.role_allowlist.is_empty(), "no role is allowed unless the admin lists it");
        assert!(!settings.return_password);
        assert_eq!(settings.loopback_window_secs, 60);
        assert_eq!(settings.username_format, UsernameFormat::Email);
    }

    #[test]
    fn review_names_privileged_roles_and_protected_mappings() {
        let role = |slug: &str, caps: &[&str]| RoleInfo {
            slug: slug.into(),
            name: slug.into(),
            capabilities: caps.iter().map(|c| c.to_string()).collect(),
        };
        let mapping = |wp_key: &str| FieldMapping { crm_key: "1".into(), wp_key: wp_key.into() };
        let settings = Settings {
            roles: vec![role("subscriber", &["read"]), role("customer", &["read"]), role("fixer", &["edit_plugins"])],
            role_allowlist: vec!["customer".into(), "fixer".into()],
            default_role: "fixer".into(),
            field_map: vec![
                mapping("billing_phone"),
                mapping("WP_Capabilities"),
                mapping("_application_passwords"),
                mapping("first_name"),
                mapping("user_pass"),
            ],
            ..Settings::default()
        };
        let review = review(&settings);
        assert_eq!(review.privileged_roles, ["fixer"]);
        let found: Vec<(&str, &str)> = review.problems.iter().map(|p| (p.field.as_str(), p.value.as_str())).collect();
        assert_eq!(
            found,
            [
                ("role_allowlist", "fixer"),
                ("default_role", "fixer"),
                ("field_map", "WP_Capabilities"),
                ("field_map", "_application_passwords")
            ]
        );
    }

    #[test]
    fn unknown_crm_or_username_format_is_an_error_not_a_guess() {
        assert!(serde_json::from_str::<Settings>(r#"{"crm":"hubspot"}"#).is_err());
        assert!(serde_json::from_str::<Settings>(r#"{"username_format":"random"}"#).is_err());
        let settings: Settings = serde_json::from_str(r#"{"username_format":"first_last"}"#).unwrap();
        assert_eq!(settings.username_format, UsernameFormat::FirstLast);
    }
}

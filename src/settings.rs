//! Site settings as the PHP shim passes them (JSON), with safe defaults.

use serde::{Deserialize, Serialize};

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

/// A role registered in WordPress, as the shim reports it. `privileged` is true when the
/// role has any of manage_options, edit_users, promote_users, unfiltered_html.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct RoleInfo {
    pub slug: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub privileged: bool,
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
    fn unknown_crm_or_username_format_is_an_error_not_a_guess() {
        assert!(serde_json::from_str::<Settings>(r#"{"crm":"hubspot"}"#).is_err());
        assert!(serde_json::from_str::<Settings>(r#"{"username_format":"random"}"#).is_err());
        let settings: Settings = serde_json::from_str(r#"{"username_format":"first_last"}"#).unwrap();
        assert_eq!(settings.username_format, UsernameFormat::FirstLast);
    }
}

//! Who is privileged, and which WordPress role a webhook may give.
//!
//! The webhook caller holds only the access key, and the key leaks (CRM automations, URLs,
//! access logs). So privilege is read from capabilities, never from role names: a custom role
//! that can install plugins is as dangerous as `administrator`. The shim passes each role's and
//! each user's granted capabilities; this module decides.
//!
//! - A role is privileged when it holds any admin-level capability (`is_admin_capability`).
//! - A user is privileged when any of their roles is privileged or unknown, when any capability
//!   is granted to them directly (per-user grants are how admin rights are handed out by hand,
//!   and we cannot tell a harmless one from a dangerous one), or when they are a super admin.
//! - A privileged role is never granted by a webhook, even when allow-listed, and a privileged
//!   user's role is never changed (the plan makes privileged users read-only except their tags).

use serde::{Deserialize, Serialize};

use crate::settings::{RoleInfo, Settings};

/// Used when neither the request nor the site's default role can be granted.
pub const FALLBACK_ROLE: &str = "subscriber";

/// Capabilities the core `administrator` role has and `editor` lacks (WordPress 6.x, single site
/// and multisite), plus the meta capabilities that map onto them. Checked case-insensitively.
const ADMIN_CAPABILITIES: &[&str] = &[
    "activate_plugins",
    "add_users",
    "create_users",
    "customize",
    "delete_plugins",
    "delete_site",
    "delete_themes",
    "delete_users",
    "edit_dashboard",
    "edit_files",
    "edit_plugins",
    "edit_theme_options",
    "edit_themes",
    "edit_users",
    "erase_others_personal_data",
    "export",
    "export_others_personal_data",
    "import",
    "install_languages",
    "install_plugins",
    "install_themes",
    "level_8",
    "level_9",
    "level_10",
    "list_users",
    "manage_options",
    "promote_users",
    "remove_users",
    "resume_plugins",
    "resume_themes",
    "switch_themes",
    "unfiltered_html",
    "unfiltered_upload",
    "update_core",
    "update_https",
    "update_languages",
    "update_php",
    "update_plugins",
    "update_themes",
    "upload_plugins",
    "upload_themes",
    "view_site_health_checks",
];

/// Capability name shapes that are admin-level whatever comes before or after them: every
/// `manage_*`, everything about users, plugins, themes, sites and the network.
const ADMIN_PREFIXES: &[&str] = &["manage_", "setup_network", "upgrade_network"];
const ADMIN_SUFFIXES: &[&str] = &["_users", "_user", "_plugins", "_plugin", "_themes", "_theme", "_sites", "_network"];
const ADMIN_INFIXES: &[&str] = &["network"];

/// True for a capability that only administrators should hold.
pub fn is_admin_capability(capability: &str) -> bool {
    let cap = capability.trim().to_ascii_lowercase();
    ADMIN_CAPABILITIES.contains(&cap.as_str())
        || ADMIN_PREFIXES.iter().any(|p| cap.starts_with(p))
        || ADMIN_SUFFIXES.iter().any(|s| cap.ends_with(s))
        || ADMIN_INFIXES.iter().any(|i| cap.contains(i))
}

/// A role a webhook may never grant: `administrator` by name, or any role holding an
/// admin-level capability.
pub fn role_is_privileged(role: &RoleInfo) -> bool {
    role.slug.trim().eq_ignore_ascii_case("administrator")
        || role.name.trim().eq_ignore_ascii_case("administrator")
        || role.capabilities.iter().any(|cap| is_admin_capability(cap))
}

/// What the shim knows about a user's privileges.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct UserPrivilege {
    /// Role slugs the user holds.
    pub roles: Vec<String>,
    /// Capabilities granted to the user directly (not through a role).
    pub caps: Vec<String>,
    /// Multisite super admin (privileged on every site).
    pub super_admin: bool,
}

/// True when a webhook must treat this user as privileged (see the module comment).
pub fn user_is_privileged(user: &UserPrivilege, settings: &Settings) -> bool {
    user.super_admin
        || !user.caps.is_empty()
        || user.roles.iter().any(|slug| match settings.roles.iter().find(|r| r.slug == *slug) {
            Some(role) => role_is_privileged(role),
            // We cannot tell what an unregistered role grants.
            None => true,
        })
}

/// Why a requested role was not granted. `code()` is the notice code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoleRefusal {
    /// No registered role has that slug or display name.
    Unknown,
    /// Registered but privileged: never granted by a webhook.
    Privileged,
    /// Registered but not on the admin's allowlist.
    NotAllowed,
}

impl RoleRefusal {
    pub fn code(self) -> &'static str {
        match self {
            RoleRefusal::Unknown => "role_unknown",
            RoleRefusal::Privileged => "role_privileged",
            RoleRefusal::NotAllowed => "role_not_allowed",
        }
    }
}

/// The registered role with this slug, else the one with this display name (both trimmed,
/// case-insensitive). An ambiguous display name matches nothing.
pub fn find_role<'a>(wanted: &str, roles: &'a [RoleInfo]) -> Option<&'a RoleInfo> {
    let wanted = wanted.trim().to_lowercase();
    if wanted.is_empty() {
        return None;
    }
    if let Some(role) = roles.iter().find(|r| r.slug.trim().to_lowercase() == wanted) {
        return Some(role);
    }
    let mut by_name = roles.iter().filter(|r| r.name.trim().to_lowercase() == wanted);
    match (by_name.next(), by_name.next()) {
        (Some(role), None) => Some(role),
        _ => None,
    }
}

/// The slug to grant for a requested role (slug or display name), or why not.
pub fn resolve_requested_role(requested: &str, settings: &Settings) -> Result<String, RoleRefusal> {
    let role = find_role(requested, &settings.roles).ok_or(RoleRefusal::Unknown)?;
    if role_is_privileged(role) {
        return Err(RoleRefusal::Privileged);
    }
    let allowed = settings.role_allowlist.iter().any(|slug| slug.trim().eq_ignore_ascii_case(role.slug.trim()));
    if !allowed {
        return Err(RoleRefusal::NotAllowed);
    }
    Ok(role.slug.clone())
}

/// The site's default role when it is registered and not privileged, else `None`
/// (the caller then uses `FALLBACK_ROLE` and says so).
pub fn valid_default_role(settings: &Settings) -> Option<String> {
    find_role(&settings.default_role, &settings.roles).filter(|r| !role_is_privileged(r)).map(|r| r.slug.clone())
}

/// Slugs of the registered roles that are privileged, for the settings screen.
pub fn privileged_role_slugs(settings: &Settings) -> Vec<String> {
    settings.roles.iter().filter(|r| role_is_privileged(r)).map(|r| r.slug.clone()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn role(slug: &str, name: &str, caps: &[&str]) -> RoleInfo {
        RoleInfo { slug: slug.into(), name: name.into(), capabilities: caps.iter().map(|c| c.to_string()).collect() }
    }

    const READER: &[&str] = &["read", "edit_posts", "upload_files"];

    fn site() -> Settings {
        Settings {
            roles: vec![
                role("administrator", "Administrator", &["read", "manage_options"]),
                role("editor", "Editor", &["read", "unfiltered_html", "moderate_comments"]),
                role("author", "Author", READER),
                role("subscriber", "Subscriber", &["read"]),
                role("customer", "Customer", &["read"]),
                role("gold_member", "Gold Member", &["read"]),
                role("dup_a", "Twin", &["read"]),
                role("dup_b", "Twin", &["read"]),
                role("plugin_tinkerer", "Plugin Tinkerer", &["read", "install_plugins"]),
            ],
            role_allowlist: vec![
                "customer".into(),
                "Gold_Member".into(),
                "editor".into(),
                "administrator".into(),
                "plugin_tinkerer".into(),
            ],
            ..Settings::default()
        }
    }

    #[test]
    fn every_admin_level_capability_named_by_the_rule_is_admin_level() {
        for cap in [
            "install_plugins",
            "upload_plugins",
            "edit_plugins",
            "activate_plugins",
            "create_users",
            "delete_users",
            "edit_themes",
            "switch_themes",
            "manage_options",
            "manage_categories",
            "manage_network_options",
            "unfiltered_html",
            "unfiltered_upload",
            "edit_files",
            "update_core",
            "import",
            "export",
            "customize",
            "edit_theme_options",
            "edit_dashboard",
            "promote_users",
            "list_users",
            "remove_users",
            "add_users",
            "delete_sites",
            "create_sites",
            "manage_sites",
            "upgrade_network",
            "setup_network",
            "Install_Plugins",
            " edit_users ",
            "level_10",
        ] {
            assert!(is_admin_capability(cap), "{cap} must be admin-level");
        }
    }

    #[test]
    fn editor_level_and_reader_capabilities_are_not_admin_level() {
        for cap in ["read", "edit_posts", "publish_posts", "upload_files", "moderate_comments", "edit_others_posts"] {
            assert!(!is_admin_capability(cap), "{cap} must not be admin-level");
        }
    }

    #[test]
    fn a_custom_role_holding_any_admin_capability_is_privileged() {
        for cap in ADMIN_CAPABILITIES {
            assert!(role_is_privileged(&role("custom", "Custom", &["read", cap])), "{cap}");
        }
        assert!(!role_is_privileged(&role("custom", "Custom", READER)));
        assert!(role_is_privileged(&role("administrator", "Whatever", &[])), "administrator by slug");
        assert!(role_is_privileged(&role("boss", "Administrator", &[])), "administrator by name");
    }

    #[test]
    fn allowed_role_by_slug_or_display_name() {
        let s = site();
        assert_eq!(resolve_requested_role("customer", &s), Ok("customer".into()));
        assert_eq!(resolve_requested_role(" CUSTOMER ", &s), Ok("customer".into()));
        assert_eq!(resolve_requested_role("Gold Member", &s), Ok("gold_member".into()));
        assert_eq!(resolve_requested_role("gold member", &s), Ok("gold_member".into()));
    }

    #[test]
    fn privileged_roles_are_refused_even_when_allowlisted() {
        let s = site();
        for requested in ["administrator", "Administrator", "editor", "plugin_tinkerer", "Plugin Tinkerer"] {
            assert_eq!(resolve_requested_role(requested, &s), Err(RoleRefusal::Privileged), "{requested}");
        }
    }

    #[test]
    fn unknown_and_unlisted_roles_are_refused() {
        let s = site();
        assert_eq!(resolve_requested_role("shop_manager", &s), Err(RoleRefusal::Unknown));
        assert_eq!(resolve_requested_role("", &s), Err(RoleRefusal::Unknown));
        assert_eq!(resolve_requested_role("Twin", &s), Err(RoleRefusal::Unknown));
        assert_eq!(resolve_requested_role("author", &s), Err(RoleRefusal::NotAllowed));
        assert_eq!(resolve_requested_role("subscriber", &s), Err(RoleRefusal::NotAllowed));
    }

    #[test]
    fn codes() {
        assert_eq!(RoleRefusal::Unknown.code(), "role_unknown");
        assert_eq!(RoleRefusal::NotAllowed.code(), "role_not_allowed");
        assert_eq!(RoleRefusal::Privileged.code(), "role_privileged");
    }

    #[test]
    fn default_role_must_be_registered_and_unprivileged() {
        let mut s = site();
        assert_eq!(valid_default_role(&s), Some("subscriber".into()));
        s.default_role = "Customer".into();
        assert_eq!(valid_default_role(&s), Some("customer".into()));
        for bad in ["editor", "administrator", "plugin_tinkerer", "ghost"] {
            s.default_role = bad.into();
            assert_eq!(valid_default_role(&s), None, "{bad}");
        }
    }

    fn user(roles: &[&str], caps: &[&str], super_admin: bool) -> UserPrivilege {
        UserPrivilege {
            roles: roles.iter().map(|r| r.to_string()).collect(),
            caps: caps.iter().map(|c| c.to_string()).collect(),
            super_admin,
        }
    }

    #[test]
    fn privileged_users() {
        let s = site();
        assert!(!user_is_privileged(&user(&["subscriber", "customer"], &[], false), &s));
        assert!(!user_is_privileged(&user(&[], &[], false), &s));
        assert!(user_is_privileged(&user(&["customer", "editor"], &[], false), &s));
        assert!(user_is_privileged(&user(&["administrator"], &[], false), &s));
        assert!(user_is_privileged(&user(&["plugin_tinkerer"], &[], false), &s));
        assert!(user_is_privileged(&user(&["removed_plugin_role"], &[], false), &s), "unknown role");
        assert!(user_is_privileged(&user(&["subscriber"], &["install_plugins"], false), &s), "per-user grant");
        assert!(user_is_privileged(&user(&["subscriber"], &["some_custom_cap"], false), &s), "any direct grant");
        assert!(user_is_privileged(&user(&["subscriber"], &[], true), &s), "super admin");
    }

    #[test]
    fn privileged_slugs_for_the_settings_screen() {
        assert_eq!(privileged_role_slugs(&site()), ["administrator", "editor", "plugin_tinkerer"]);
    }
}

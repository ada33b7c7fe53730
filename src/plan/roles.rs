//! Which WordPress role a webhook may give.
//!
//! The webhook caller holds only the access key, so its `role` parameter is a wish: it is
//! granted only when the role is registered, on the admin's allowlist, and not privileged.
//! `administrator` is refused by name even if the shim failed to flag it.

use crate::settings::{RoleInfo, Settings};

/// Used when neither the request nor the site's default role can be granted.
pub const FALLBACK_ROLE: &str = "subscriber";

/// Why a requested role was not granted. `code()` is the notice code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoleRefusal {
    /// No registered role has that slug or display name.
    Unknown,
    /// Registered but privileged (or `administrator`): never granted by a webhook.
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

/// A role a webhook may never grant.
pub fn is_privileged(role: &RoleInfo) -> bool {
    role.privileged
        || role.slug.trim().eq_ignore_ascii_case("administrator")
        || role.name.trim().eq_ignore_ascii_case("administrator")
}

/// The slug to grant for a requested role (slug or display name), or why not.
pub fn resolve_requested_role(requested: &str, settings: &Settings) -> Result<String, RoleRefusal> {
    let role = find_role(requested, &settings.roles).ok_or(RoleRefusal::Unknown)?;
    if is_privileged(role) {
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
    find_role(&settings.default_role, &settings.roles).filter(|r| !is_privileged(r)).map(|r| r.slug.clone())
}

/// True when any of the user's roles is privileged, or is not a registered role (we cannot
/// tell what an unknown role grants, so it is treated as privileged).
pub fn user_is_privileged(user_roles: &[String], settings: &Settings) -> bool {
    user_roles.iter().any(|slug| match settings.roles.iter().find(|r| r.slug == *slug) {
        Some(role) => is_privileged(role),
        None => true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn role(slug: &str, name: &str, privileged: bool) -> RoleInfo {
        RoleInfo { slug: slug.into(), name: name.into(), privileged }
    }

    fn site() -> Settings {
        Settings {
            roles: vec![
                role("administrator", "Administrator", true),
                role("editor", "Editor", true),
                role("author", "Author", false),
                role("subscriber", "Subscriber", false),
                role("customer", "Customer", false),
                role("gold_member", "Gold Member", false),
                role("dup_a", "Twin", false),
                role("dup_b", "Twin", false),
                // Flag missing, but the name alone refuses it.
                role("administrator", "Administrator", false),
            ],
            role_allowlist: vec!["customer".into(), "Gold_Member".into(), "editor".into(), "administrator".into()],
            ..Settings::default()
        }
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
        assert_eq!(resolve_requested_role("administrator", &s), Err(RoleRefusal::Privileged));
        assert_eq!(resolve_requested_role("Administrator", &s), Err(RoleRefusal::Privileged));
        assert_eq!(resolve_requested_role("editor", &s), Err(RoleRefusal::Privileged));
        let unflagged = Settings {
            roles: vec![role("administrator", "Administrator", false)],
            role_allowlist: vec!["administrator".into()],
            ..Settings::default()
        };
        assert_eq!(resolve_requested_role("administrator", &unflagged), Err(RoleRefusal::Privileged));
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
        s.default_role = "editor".into();
        assert_eq!(valid_default_role(&s), None);
        s.default_role = "administrator".into();
        assert_eq!(valid_default_role(&s), None);
        s.default_role = "ghost".into();
        assert_eq!(valid_default_role(&s), None);
    }

    #[test]
    fn privileged_users() {
        let s = site();
        assert!(!user_is_privileged(&["subscriber".into(), "customer".into()], &s));
        assert!(!user_is_privileged(&[], &s));
        assert!(user_is_privileged(&["customer".into(), "editor".into()], &s));
        assert!(user_is_privileged(&["administrator".into()], &s));
        assert!(user_is_privileged(&["removed_plugin_role".into()], &s));
    }
}

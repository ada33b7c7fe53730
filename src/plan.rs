//! Request + CRM contact + current WordPress user + settings -> the ordered operations the
//! PHP shim applies with WordPress APIs. "Rust decides; PHP does."
//!
//! Pure: the generated password is passed in (the FFI layer draws it from the OS random
//! source), so a plan is a function of its inputs and every rule is unit-tested here.
//! Nothing in a plan is secret except `create_user.user_pass`.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::contact::{Contact, Tag};
use crate::diff::{self, php_json, FieldDiffInput};
use crate::error::{Error, Result};
use crate::request::{Action, WebhookRequest};
use crate::settings::{Settings, UsernameFormat};

pub mod login;
pub mod roles;
pub mod summary;

pub use summary::{FieldChange, Summary};

/// WordPress user fields that `create_user` / `update_user` carry instead of meta.
const CORE_FIELDS: [&str; 3] = ["user_email", "first_name", "last_name"];
/// Mapped only to give a new user its login and password.
const CREATION_ONLY_FIELDS: [&str; 2] = ["user_login", "user_pass"];

/// The WordPress user as the shim reads it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct UserState {
    pub id: u64,
    pub user_login: String,
    pub user_email: String,
    pub first_name: String,
    pub last_name: String,
    /// The CRM contact this user is linked to (`crmhooks_contact_id`), empty when none.
    pub contact_id: String,
    #[serde(deserialize_with = "php_json::list")]
    pub roles: Vec<String>,
    /// Capabilities granted to the user directly, not through a role.
    #[serde(deserialize_with = "php_json::list")]
    pub caps: Vec<String>,
    /// Multisite super admin.
    pub super_admin: bool,
    #[serde(deserialize_with = "php_json::list")]
    pub tags: Vec<Tag>,
    #[serde(deserialize_with = "php_json::string_map")]
    pub meta: BTreeMap<String, String>,
}

/// `crmh_plan` input. The shim looks users up by two facts only, both from the CRM: the users
/// linked to the contact's ID, and the user holding the contact's email. Which of them the
/// webhook touches is decided here (`choose_user`); the request's `email` never selects a user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanInput {
    pub request: WebhookRequest,
    pub contact: Contact,
    /// Users whose `crmhooks_contact_id` is the contact's ID (the shim reads at most two).
    #[serde(default, deserialize_with = "php_json::list")]
    pub linked_users: Vec<UserState>,
    /// The user whose email is the contact's email, if any.
    #[serde(default)]
    pub email_user: Option<UserState>,
    #[serde(default)]
    pub settings: Settings,
}

/// A password that stays out of `Debug` output (logs, panics); serialized as a plain string.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(transparent)]
pub struct Password(pub String);

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SkipReason {
    /// update/update_tags for a contact with no WordPress user.
    NoUser,
    /// add for a contact without a usable email.
    InvalidEmail,
    /// add with neither a mapped nor a generated password.
    NoPassword,
    /// Two users claim the contact, or its email belongs to a user linked to another contact:
    /// nothing is written and the admin is told.
    Conflict,
}

/// One step for the shim, applied in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Op {
    /// The shim makes `user_login` unique with `crmh_login_choose` (given the logins that
    /// start with `login_stem`) right before it inserts the user.
    CreateUser {
        user_login: String,
        login_stem: String,
        login_numbered: bool,
        user_email: String,
        user_pass: Password,
        password_generated: bool,
        first_name: String,
        last_name: String,
        role: String,
    },
    /// Only the fields that change: `user_email`, `first_name`, `last_name`.
    UpdateUser {
        fields: BTreeMap<String, String>,
    },
    SetRole {
        role: String,
    },
    SetMeta {
        key: String,
        value: String,
    },
    DeleteMeta {
        key: String,
    },
    /// `tags` is the complete new list; `added`/`removed` are names for hooks and logs.
    SetTags {
        tags: Vec<Tag>,
        added: Vec<String>,
        removed: Vec<String>,
    },
    SetContactId {
        contact_id: String,
    },
    SendNotification,
    /// Write the created user's password to this CRM field.
    ReturnPassword {
        field: String,
    },
    Skip {
        reason: SkipReason,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoticeLevel {
    Info,
    Warning,
}

/// Something the admin should see in the log. Messages are fixed text (plus a mapped meta
/// key the admin configured); they never carry request values, contact data or secrets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notice {
    pub level: NoticeLevel,
    pub code: String,
    pub message: String,
}

/// What applying the plan means, for the log, the job and the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlanOutcome {
    /// A user is created.
    Created,
    /// An existing user is changed.
    Updated,
    /// Nothing to write: the user already matches the CRM.
    Unchanged,
    /// No user to work on (update for a contact without a user, add without a valid email).
    Skipped,
    /// Two users claim the contact, or its email belongs to a user linked elsewhere.
    Conflict,
}

impl PlanOutcome {
    fn of(ops: &[Op]) -> PlanOutcome {
        if ops.iter().any(|op| matches!(op, Op::CreateUser { .. })) {
            PlanOutcome::Created
        } else if ops.contains(&Op::Skip { reason: SkipReason::Conflict }) {
            PlanOutcome::Conflict
        } else if ops.iter().any(|op| matches!(op, Op::Skip { .. })) {
            PlanOutcome::Skipped
        } else if ops.is_empty() {
            PlanOutcome::Unchanged
        } else {
            PlanOutcome::Updated
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    pub action: Action,
    /// Decided here from the ops; the shim reports `failed` instead only when an op fails.
    pub outcome: PlanOutcome,
    /// The existing user the ops apply to; `None` when the plan creates one or skips.
    pub user_id: Option<u64>,
    /// True when that user is privileged: only its tags were planned.
    pub privileged: bool,
    pub ops: Vec<Op>,
    pub notices: Vec<Notice>,
    /// What the ops change, with old and new values (secrets hidden), for the log entry's detail.
    pub summary: Summary,
}

/// Why a webhook may not touch any user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conflict {
    /// Two or more users are linked to the contact.
    ContactClaimedTwice,
    /// The contact's email belongs to a user linked to another contact.
    EmailLinkedElsewhere,
}

impl Conflict {
    fn notice(self) -> Notice {
        let (code, message) = match self {
            Conflict::ContactClaimedTwice => {
                ("conflict_contact_claimed", "two WordPress users are linked to this contact; nothing was written")
            }
            Conflict::EmailLinkedElsewhere => (
                "conflict_email_linked",
                "the contact's email belongs to a WordPress user linked to another contact; nothing was written",
            ),
        };
        Notice { level: NoticeLevel::Warning, code: code.into(), message: message.into() }
    }
}

/// A WordPress user as the user choice sees it: its ID and the contact it is linked to.
pub trait Candidate {
    fn user_id(&self) -> u64;
    /// The linked contact's ID, empty when none.
    fn linked_contact(&self) -> &str;
}

impl Candidate for UserState {
    fn user_id(&self) -> u64 {
        self.id
    }

    fn linked_contact(&self) -> &str {
        &self.contact_id
    }
}

/// The user a webhook touches: the one linked to the contact's ID; else the one holding the
/// contact's email, unless that user is linked to another contact. A linked user is never
/// re-linked, and an ambiguity is a conflict, never a guess.
pub fn choose_user(input: &PlanInput) -> std::result::Result<Option<&UserState>, Conflict> {
    choose(&input.contact.id, &input.linked_users, input.email_user.as_ref())
}

/// The rule of `choose_user` over any user facts: `users` are candidates linked to some contact
/// (only those linked to `contact_id` count), `by_email` the user holding the contact's email.
/// The reconcile sweep asks it too, so it queues a job only where a plan would touch a user.
pub fn choose<'a, U: Candidate>(
    contact_id: &str,
    users: &'a [U],
    by_email: Option<&'a U>,
) -> std::result::Result<Option<&'a U>, Conflict> {
    let contact_id = contact_id.trim();
    let linked_elsewhere = |user: &U| {
        let link = user.linked_contact().trim();
        !link.is_empty() && link != contact_id
    };
    let linked: Vec<&U> =
        users.iter().filter(|u| !contact_id.is_empty() && u.linked_contact().trim() == contact_id).collect();
    match linked.as_slice() {
        [_, _, ..] => Err(Conflict::ContactClaimedTwice),
        [user] => match by_email {
            Some(other) if other.user_id() != user.user_id() && linked_elsewhere(other) => {
                Err(Conflict::EmailLinkedElsewhere)
            }
            _ => Ok(Some(user)),
        },
        [] => match by_email {
            Some(user) if linked_elsewhere(user) => Err(Conflict::EmailLinkedElsewhere),
            found => Ok(found),
        },
    }
}

/// Plan the changes for one webhook. `generated_password` is used only when a user is
/// created and no non-empty CRM field is mapped to `user_pass`.
pub fn plan(input: &PlanInput, generated_password: &str) -> Plan {
    let mut planner = Planner { input, ops: Vec::new(), notices: Vec::new() };
    let target = match choose_user(input) {
        Ok(target) => target,
        Err(conflict) => {
            return Plan {
                action: input.request.action,
                outcome: PlanOutcome::Conflict,
                user_id: None,
                privileged: false,
                ops: vec![Op::Skip { reason: SkipReason::Conflict }],
                notices: vec![conflict.notice()],
                summary: Summary { skipped_reason: Some(SkipReason::Conflict), ..Summary::default() },
            };
        }
    };
    match (input.request.action, target) {
        (Action::Test, _) => {}
        (Action::UpdateTags | Action::Update, None) => planner.ops.push(Op::Skip { reason: SkipReason::NoUser }),
        (Action::UpdateTags, Some(user)) => planner.sync_tags(user),
        // `add` for an existing user updates it: never a duplicate account.
        (Action::Update | Action::Add, Some(user)) => planner.update_user(user),
        (Action::Add, None) => planner.create_user(generated_password),
    }
    let privileged = target.is_some_and(|user| roles::user_is_privileged(&user.privilege(), &input.settings));
    if privileged {
        planner.keep_only_tags();
    }
    Plan {
        action: input.request.action,
        outcome: PlanOutcome::of(&planner.ops),
        user_id: target.map(|u| u.id),
        privileged,
        summary: Summary::of(&planner.ops, target, &input.settings.meta_denylist),
        ops: planner.ops,
        notices: planner.notices,
    }
}

impl UserState {
    fn privilege(&self) -> roles::UserPrivilege {
        roles::UserPrivilege { roles: self.roles.clone(), caps: self.caps.clone(), super_admin: self.super_admin }
    }
}

/// JSON entry point for `crmh_plan`: a `PlanInput` in, a `Plan` out.
pub fn plan_json(json: &str, generated_password: &str) -> Result<String> {
    let input: PlanInput = serde_json::from_str(json).map_err(|e| Error::from_json(&e))?;
    serde_json::to_string(&plan(&input, generated_password)).map_err(|e| Error::from_json(&e))
}

struct Planner<'a> {
    input: &'a PlanInput,
    ops: Vec<Op>,
    notices: Vec<Notice>,
}

impl<'a> Planner<'a> {
    fn settings(&self) -> &'a Settings {
        &self.input.settings
    }

    fn contact(&self) -> &'a Contact {
        &self.input.contact
    }

    fn warn(&mut self, code: &str, message: impl Into<String>) {
        self.notices.push(Notice { level: NoticeLevel::Warning, code: code.into(), message: message.into() });
    }

    /// add, no user yet: create_user, set_contact_id, set_meta.., set_tags, send_notification,
    /// return_password.
    fn create_user(&mut self, generated_password: &str) {
        let email = self.core_value("user_email");
        if !login::is_valid_email(&email) {
            self.warn("invalid_email", "the contact has no valid email address; no user was created");
            self.ops.push(Op::Skip { reason: SkipReason::InvalidEmail });
            return;
        }
        let first_name = self.core_value("first_name");
        let last_name = self.core_value("last_name");
        let (user_login, login_numbered) = self.new_user_login(&email, &first_name, &last_name);
        let login_stem = login::login_stem(&user_login, login_numbered).to_string();

        let mapped_password = self.mapped_value("user_pass").filter(|p| !p.trim().is_empty());
        let password_generated = mapped_password.is_none();
        let user_pass = mapped_password.unwrap_or_else(|| generated_password.to_string());
        if user_pass.is_empty() {
            self.warn("no_password", "no password was available; no user was created");
            self.ops.push(Op::Skip { reason: SkipReason::NoPassword });
            return;
        }

        let role = self.role_for_new_user();
        self.ops.push(Op::CreateUser {
            user_login,
            login_stem,
            login_numbered,
            user_email: email,
            user_pass: Password(user_pass),
            password_generated,
            first_name,
            last_name,
            role,
        });
        if !self.contact().id.is_empty() {
            self.ops.push(Op::SetContactId { contact_id: self.contact().id.clone() });
        }
        self.sync_meta(&BTreeMap::new());
        self.sync_tag_list(&[]);
        if self.input.request.send_notification {
            self.ops.push(Op::SendNotification);
        }
        let field = self.settings().password_field.trim().to_string();
        if self.settings().return_password && password_generated && !field.is_empty() {
            self.ops.push(Op::ReturnPassword { field });
        }
    }

    /// update (or add for an existing user): update_user, set_role, meta, set_contact_id,
    /// set_tags. Tags go last so tag hooks see the updated user.
    fn update_user(&mut self, user: &UserState) {
        self.update_core_fields(user);
        self.update_role(user);
        self.sync_meta(&user.meta);
        // choose_user never picks a user linked to another contact, so this only links.
        let contact_id = &self.contact().id;
        if !contact_id.is_empty() && user.contact_id.trim().is_empty() {
            self.ops.push(Op::SetContactId { contact_id: contact_id.clone() });
        }
        self.sync_tags(user);
    }

    /// A privileged user is read-only to webhooks except its tags: drop every other op and name
    /// what was not written (keys and field names only, never values).
    fn keep_only_tags(&mut self) {
        let mut skipped = Vec::new();
        self.ops.retain(|op| {
            let keep = matches!(op, Op::SetTags { .. });
            if !keep {
                skipped.push(op_summary(op));
            }
            keep
        });
        if !skipped.is_empty() {
            let message =
                format!("the user is privileged; webhooks change only its tags. Not written: {}", skipped.join(", "));
            self.warn("user_privileged", message);
        }
    }

    /// Email and names follow the CRM, but an empty CRM value never wipes a WordPress value,
    /// an invalid email is never written, and an email another user holds is never taken.
    /// (Privileged users are handled by `keep_only_tags`.)
    fn update_core_fields(&mut self, user: &UserState) {
        let mut fields = BTreeMap::new();
        let email = self.core_value("user_email");
        let taken = self.input.email_user.as_ref().is_some_and(|other| other.id != user.id);
        if !email.is_empty() && !email.eq_ignore_ascii_case(user.user_email.trim()) {
            if !login::is_valid_email(&email) {
                self.warn("invalid_email", "the contact's email address is not valid; the user's email was kept");
            } else if taken {
                self.warn("email_taken", "another WordPress user has the contact's email; the user's email was kept");
            } else {
                fields.insert("user_email".to_string(), email);
            }
        }
        for (key, current) in [("first_name", &user.first_name), ("last_name", &user.last_name)] {
            let value = self.core_value(key);
            if !value.is_empty() && value != current.trim() {
                fields.insert(key.to_string(), value);
            }
        }
        if !fields.is_empty() {
            self.ops.push(Op::UpdateUser { fields });
        }
    }

    /// An existing user's role changes only when the request names an allowed role; a refused
    /// role leaves the current one (no fallback to the default). A privileged user's role is
    /// never changed (`keep_only_tags`).
    fn update_role(&mut self, user: &UserState) {
        let Some(requested) = self.requested_role() else {
            return;
        };
        match roles::resolve_requested_role(&requested, self.settings()) {
            Ok(slug) => {
                if user.roles.len() != 1 || user.roles.first() != Some(&slug) {
                    self.ops.push(Op::SetRole { role: slug });
                }
            }
            Err(refusal) => self.warn(refusal.code(), refusal_message(refusal, "the user's role was not changed")),
        }
    }

    fn role_for_new_user(&mut self) -> String {
        if let Some(requested) = self.requested_role() {
            match roles::resolve_requested_role(&requested, self.settings()) {
                Ok(slug) => return slug,
                Err(refusal) => self.warn(refusal.code(), refusal_message(refusal, "the default role was used")),
            }
        }
        match roles::valid_default_role(self.settings()) {
            Some(slug) => slug,
            None => {
                self.warn(
                    "default_role_invalid",
                    "the default role is not registered or is privileged; subscriber was used",
                );
                roles::FALLBACK_ROLE.to_string()
            }
        }
    }

    fn requested_role(&self) -> Option<String> {
        self.input.request.role.as_deref().map(str::trim).filter(|r| !r.is_empty()).map(str::to_string)
    }

    /// The login mapped from the CRM when it is one WordPress stores unchanged, else one made
    /// by the site's username format; and whether it counts on (`jane1`, `jane2`) when taken.
    fn new_user_login(&mut self, email: &str, first_name: &str, last_name: &str) -> (String, bool) {
        if let Some(mapped) = self.mapped_value("user_login") {
            let mapped = mapped.trim();
            if login::is_valid_login(mapped) {
                return (mapped.to_string(), false);
            }
            if !mapped.is_empty() {
                self.warn("login_invalid", "the mapped username is not a valid WordPress login; one was generated");
            }
        }
        let format = self.settings().username_format;
        (login::generated_login(format, email, first_name, last_name), format == UsernameFormat::FirstNumber)
    }

    /// set_meta / delete_meta for mapped fields other than core and creation-only ones, with a
    /// notice per protected key.
    fn sync_meta(&mut self, current: &BTreeMap<String, String>) {
        let field_map =
            self.settings().field_map.iter().filter(|m| !is_core_or_creation_key(&m.wp_key)).cloned().collect();
        let diff = diff::diff_fields(&FieldDiffInput {
            current: current.clone(),
            contact: self.contact().clone(),
            field_map,
            meta_denylist: self.settings().meta_denylist.clone(),
        });
        for (key, value) in diff.set {
            self.ops.push(Op::SetMeta { key, value });
        }
        for key in diff.cleared {
            self.ops.push(Op::DeleteMeta { key });
        }
        for key in diff.refused {
            let message = format!("mapped meta key {} is protected; it was not written", printable_key(&key));
            self.warn("meta_refused", message);
        }
    }

    fn sync_tags(&mut self, user: &UserState) {
        let current: Vec<String> = user.tags.iter().map(|t| t.name.clone()).collect();
        self.sync_tag_list(&current);
    }

    /// set_tags with the contact's full tag list, only when a tag is added or removed.
    fn sync_tag_list(&mut self, current: &[String]) {
        let tag_diff = diff::diff_tags(current, &self.contact().tag_names());
        if tag_diff.is_unchanged() {
            return;
        }
        self.ops.push(Op::SetTags {
            tags: clean_tags(&self.contact().tags),
            added: tag_diff.added,
            removed: tag_diff.removed,
        });
    }

    /// Value of the CRM field mapped to this WordPress key, if the contact carries it.
    fn mapped_value(&self, wp_key: &str) -> Option<String> {
        self.settings()
            .field_map
            .iter()
            .filter(|m| m.wp_key.trim().eq_ignore_ascii_case(wp_key))
            .find_map(|m| self.contact().field(&m.crm_key))
            .map(str::to_string)
    }

    /// A core field, trimmed: from a mapping when one is set and present, else the contact's
    /// standard field.
    fn core_value(&self, wp_key: &str) -> String {
        let standard = match wp_key {
            "user_email" => &self.contact().email,
            "first_name" => &self.contact().first_name,
            _ => &self.contact().last_name,
        };
        self.mapped_value(wp_key).unwrap_or_else(|| standard.clone()).trim().to_string()
    }
}

/// What an op would have written, for the privileged-user notice: names and keys, no values.
fn op_summary(op: &Op) -> String {
    match op {
        Op::UpdateUser { fields } => fields.keys().cloned().collect::<Vec<_>>().join(", "),
        Op::SetRole { .. } => "role".into(),
        Op::SetMeta { key, .. } | Op::DeleteMeta { key } => format!("meta {}", printable_key(key)),
        Op::SetContactId { .. } => "contact link".into(),
        Op::SendNotification => "notification".into(),
        Op::CreateUser { .. } => "new user".into(),
        Op::ReturnPassword { .. } => "password".into(),
        Op::SetTags { .. } => "tags".into(),
        Op::Skip { .. } => "skip".into(),
    }
}

/// True when a field may be mapped onto this WordPress key: a core or creation field, or a
/// meta key that is not protected.
pub fn is_mappable_meta_key(wp_key: &str, extra: &[String]) -> bool {
    is_core_or_creation_key(wp_key) || !diff::is_protected_meta_key(wp_key, extra)
}

fn is_core_or_creation_key(wp_key: &str) -> bool {
    let key = wp_key.trim();
    CORE_FIELDS.iter().chain(CREATION_ONLY_FIELDS.iter()).any(|k| k.eq_ignore_ascii_case(key))
}

fn refusal_message(refusal: roles::RoleRefusal, outcome: &str) -> String {
    let why = match refusal {
        roles::RoleRefusal::Unknown => "the requested role is not registered",
        roles::RoleRefusal::Privileged => "the requested role is privileged and is never granted by a webhook",
        roles::RoleRefusal::NotAllowed => "the requested role is not in the role allowlist",
    };
    format!("{why}; {outcome}")
}

/// The key as typed when it is short printable ASCII, else a placeholder (a key refused for
/// control characters must not reach a log as is).
fn printable_key(key: &str) -> String {
    if !key.is_empty() && key.len() <= 64 && key.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        format!("'{key}'")
    } else {
        "(unprintable)".into()
    }
}

/// The contact's tags with trimmed names, empty names dropped, case-insensitive duplicates
/// collapsed onto the first.
fn clean_tags(tags: &[Tag]) -> Vec<Tag> {
    let mut seen = std::collections::HashSet::new();
    tags.iter()
        .filter(|t| !t.name.trim().is_empty() && seen.insert(diff::tag_match_key(&t.name)))
        .map(|t| Tag { id: t.id.clone(), name: t.name.trim().to_string() })
        .collect()
}

#[cfg(test)]
mod tests;

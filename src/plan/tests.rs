use serde_json::{json, Value};

use super::*;
use crate::contact::Field;
use crate::request::Event;
use crate::settings::{FieldMapping, RoleInfo, UsernameFormat};

const GENERATED: &str = "Gen3rated-Passw0rd-XYZ";

fn role(slug: &str, name: &str, privileged: bool) -> RoleInfo {
    let capabilities = if privileged { vec!["read".into(), "manage_options".into()] } else { vec!["read".into()] };
    RoleInfo { slug: slug.into(), name: name.into(), capabilities }
}

fn mapping(crm_key: &str, wp_key: &str) -> FieldMapping {
    FieldMapping { crm_key: crm_key.into(), wp_key: wp_key.into() }
}

fn settings() -> Settings {
    Settings {
        roles: vec![
            role("administrator", "Administrator", true),
            role("editor", "Editor", true),
            role("author", "Author", false),
            role("subscriber", "Subscriber", false),
            role("customer", "Customer", false),
            role("gold_member", "Gold Member", false),
        ],
        role_allowlist: vec!["customer".into(), "gold_member".into(), "editor".into(), "administrator".into()],
        field_map: vec![mapping("1", "crmhooks_level"), mapping("phone", "billing_phone")],
        ..Settings::default()
    }
}

fn field(key: &str, value: &str) -> Field {
    Field { key: key.into(), label: String::new(), value: value.into() }
}

fn tag(id: &str, name: &str) -> Tag {
    Tag { id: id.into(), name: name.into() }
}

fn contact() -> Contact {
    Contact {
        id: "42".into(),
        email: "jane.doe@example.com".into(),
        first_name: "Jane".into(),
        last_name: "Doe".into(),
        tags: vec![tag("3", "member")],
        fields: vec![
            field("email", "jane.doe@example.com"),
            field("first_name", "Jane"),
            field("last_name", "Doe"),
            field("phone", "555-0100"),
            field("1", "Gold"),
        ],
    }
}

fn request(action: Action) -> WebhookRequest {
    WebhookRequest {
        action,
        contact_id: Some("42".into()),
        email: None,
        role: None,
        send_notification: false,
        async_mode: None,
        event: Event::default(),
    }
}

/// A user already in sync with `contact()`.
fn user() -> UserState {
    UserState {
        id: 7,
        user_login: "jane.doe@example.com".into(),
        user_email: "jane.doe@example.com".into(),
        first_name: "Jane".into(),
        last_name: "Doe".into(),
        contact_id: "42".into(),
        roles: vec!["subscriber".into()],
        caps: vec![],
        super_admin: false,
        tags: vec![tag("3", "member")],
        meta: [("crmhooks_level", "Gold"), ("billing_phone", "555-0100")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    }
}

/// The user as the shim finds it: linked when it carries the contact's ID, else by email.
fn input(action: Action, user: Option<UserState>) -> PlanInput {
    let mut i = PlanInput {
        request: request(action),
        contact: contact(),
        linked_users: vec![],
        email_user: None,
        settings: settings(),
    };
    set_user(&mut i, user);
    i
}

fn set_user(i: &mut PlanInput, user: Option<UserState>) {
    i.linked_users.clear();
    i.email_user = None;
    match user {
        Some(u) if u.contact_id == i.contact.id => i.linked_users.push(u),
        other => i.email_user = other,
    }
}

fn run(input: &PlanInput) -> Plan {
    plan(input, GENERATED)
}

fn codes(plan: &Plan) -> Vec<&str> {
    plan.notices.iter().map(|n| n.code.as_str()).collect()
}

fn op_names(plan: &Plan) -> Vec<String> {
    plan.ops.iter().map(|op| serde_json::to_value(op).unwrap()["op"].as_str().unwrap().to_string()).collect()
}

fn created(plan: &Plan) -> (String, String, String, bool, String) {
    match plan.ops.first() {
        Some(Op::CreateUser { user_login, user_email, user_pass, password_generated, role, .. }) => {
            (user_login.clone(), user_email.clone(), user_pass.0.clone(), *password_generated, role.clone())
        }
        other => panic!("expected create_user first, got {other:?}"),
    }
}

fn set_role_ops(plan: &Plan) -> Vec<&str> {
    plan.ops
        .iter()
        .filter_map(|op| match op {
            Op::SetRole { role } => Some(role.as_str()),
            _ => None,
        })
        .collect()
}

// ---- test ----

#[test]
fn test_action_plans_nothing() {
    for user in [None, Some(user())] {
        let mut i = input(Action::Test, user);
        i.request.role = Some("administrator".into());
        let p = run(&i);
        assert_eq!(p.action, Action::Test);
        assert!(p.ops.is_empty() && p.notices.is_empty());
    }
}

// ---- update_tags ----

#[test]
fn update_tags_without_user_skips() {
    assert_eq!(run(&input(Action::UpdateTags, None)).ops, vec![Op::Skip { reason: SkipReason::NoUser }]);
}

#[test]
fn update_tags_with_unchanged_tags_plans_nothing() {
    let mut u = user();
    u.tags = vec![tag("3", " MEMBER ")];
    assert!(run(&input(Action::UpdateTags, Some(u))).ops.is_empty());
}

#[test]
fn update_tags_only_touches_tags() {
    let mut i = input(Action::UpdateTags, Some(user()));
    i.contact.tags = vec![tag("3", "member"), tag("5", "VIP")];
    i.contact.email = "new@example.com".into();
    i.contact.fields.push(field("1", "Platinum"));
    i.request.role = Some("customer".into());
    let mut u = user();
    u.tags = vec![tag("3", "member"), tag("4", "old")];
    set_user(&mut i, Some(u));
    let p = run(&i);
    assert_eq!(
        p.ops,
        vec![Op::SetTags {
            tags: vec![tag("3", "member"), tag("5", "VIP")],
            added: vec!["VIP".into()],
            removed: vec!["old".into()],
        }]
    );
    assert!(p.notices.is_empty());
}

#[test]
fn removing_every_tag_sends_an_empty_list() {
    let mut i = input(Action::UpdateTags, Some(user()));
    i.contact.tags.clear();
    assert_eq!(run(&i).ops, vec![Op::SetTags { tags: vec![], added: vec![], removed: vec!["member".into()] }]);
}

// ---- update ----

#[test]
fn update_without_user_skips() {
    assert_eq!(run(&input(Action::Update, None)).ops, vec![Op::Skip { reason: SkipReason::NoUser }]);
}

#[test]
fn update_of_a_user_in_sync_plans_nothing() {
    let p = run(&input(Action::Update, Some(user())));
    assert!(p.ops.is_empty(), "{:?}", p.ops);
    assert!(p.notices.is_empty());
}

#[test]
fn update_sets_changed_meta_and_deletes_cleared_meta_in_order() {
    let mut i = input(Action::Update, Some(user()));
    i.contact.fields = vec![field("1", "Platinum"), field("phone", "")];
    i.contact.tags.push(tag("5", "vip"));
    i.contact.first_name = "Janet".into();
    let p = run(&i);
    assert_eq!(op_names(&p), ["update_user", "set_meta", "delete_meta", "set_tags"]);
    assert_eq!(p.ops[1], Op::SetMeta { key: "crmhooks_level".into(), value: "Platinum".into() });
    assert_eq!(p.ops[2], Op::DeleteMeta { key: "billing_phone".into() });
}

#[test]
fn update_leaves_meta_alone_when_the_crm_field_is_absent() {
    let mut i = input(Action::Update, Some(user()));
    i.contact.fields.retain(|f| f.key != "1" && f.key != "phone");
    assert!(run(&i).ops.is_empty());
}

#[test]
fn update_refuses_protected_meta_with_a_notice() {
    let mut i = input(Action::Update, Some(user()));
    i.contact.fields.push(field("66", "a:1:{s:13:\"administrator\";b:1;}"));
    i.settings.field_map.extend([
        mapping("66", "wp_capabilities"),
        mapping("66", "WP_2_CAPABILITIES"),
        mapping("66", "wp_user_level"),
        mapping("66", "session_tokens"),
        mapping("66", "crmhooks_tags"),
        mapping("66", "bad\u{1}key"),
    ]);
    let p = run(&i);
    assert!(p.ops.is_empty(), "{:?}", p.ops);
    assert_eq!(codes(&p), ["meta_refused"; 6]);
    assert!(p.notices[0].message.contains("'wp_capabilities'"));
    assert!(p.notices[5].message.contains("(unprintable)"));
    assert!(p.notices.iter().all(|n| !n.message.contains("administrator")));
}

#[test]
fn update_honours_the_admin_denylist() {
    let mut i = input(Action::Update, Some(user()));
    i.contact.fields = vec![field("1", "Platinum")];
    i.settings.meta_denylist = vec!["CRMHOOKS_LEVEL".into()];
    let p = run(&i);
    assert!(p.ops.is_empty());
    assert_eq!(codes(&p), ["meta_refused"]);
}

#[test]
fn login_and_password_mappings_are_silent_on_update() {
    let mut i = input(Action::Update, Some(user()));
    i.contact.fields.extend([field("20", "newlogin"), field("21", "newpass")]);
    i.settings.field_map.extend([mapping("20", "user_login"), mapping("21", "user_pass")]);
    let p = run(&i);
    assert!(p.ops.is_empty() && p.notices.is_empty());
}

#[test]
fn update_changes_only_changed_core_fields() {
    let mut i = input(Action::Update, Some(user()));
    i.contact.email = "  jane.new@example.com ".into();
    i.contact.last_name = "Smith".into();
    let p = run(&i);
    let mut fields = BTreeMap::new();
    fields.insert("user_email".to_string(), "jane.new@example.com".to_string());
    fields.insert("last_name".to_string(), "Smith".to_string());
    assert_eq!(p.ops, vec![Op::UpdateUser { fields }]);
}

#[test]
fn empty_crm_values_never_wipe_core_fields() {
    let mut i = input(Action::Update, Some(user()));
    i.contact.email = String::new();
    i.contact.first_name = "  ".into();
    i.contact.last_name = String::new();
    let p = run(&i);
    assert!(p.ops.is_empty() && p.notices.is_empty());
}

#[test]
fn email_case_change_is_not_a_change() {
    let mut i = input(Action::Update, Some(user()));
    i.contact.email = "Jane.Doe@Example.COM".into();
    assert!(run(&i).ops.is_empty());
}

#[test]
fn invalid_email_is_never_written() {
    let mut i = input(Action::Update, Some(user()));
    i.contact.email = "not-an-email".into();
    i.contact.first_name = "Janet".into();
    let p = run(&i);
    let mut fields = BTreeMap::new();
    fields.insert("first_name".to_string(), "Janet".to_string());
    assert_eq!(p.ops, vec![Op::UpdateUser { fields }]);
    assert_eq!(codes(&p), ["invalid_email"]);
    assert!(!p.notices[0].message.contains("not-an-email"));
}

#[test]
fn mapped_core_field_overrides_the_standard_one() {
    let mut i = input(Action::Update, Some(user()));
    i.contact.fields.push(field("30", "Jay"));
    i.settings.field_map.push(mapping("30", "first_name"));
    let p = run(&i);
    let mut fields = BTreeMap::new();
    fields.insert("first_name".to_string(), "Jay".to_string());
    assert_eq!(p.ops, vec![Op::UpdateUser { fields }]);
}

#[test]
fn update_links_an_unlinked_user_found_by_email() {
    let mut u = user();
    u.contact_id = String::new();
    let p = run(&input(Action::Update, Some(u)));
    assert_eq!(p.ops, vec![Op::SetContactId { contact_id: "42".into() }]);
    assert_eq!(p.user_id, Some(7));
}

#[test]
fn a_user_linked_to_another_contact_is_never_relinked() {
    // Found by the contact's email, but linked to contact 41: a conflict, nothing written.
    let mut u = user();
    u.contact_id = "41".into();
    for action in [Action::Update, Action::Add, Action::UpdateTags] {
        let p = run(&input(action, Some(u.clone())));
        assert_eq!(p.ops, vec![Op::Skip { reason: SkipReason::Conflict }], "{action:?}");
        assert_eq!(codes(&p), ["conflict_email_linked"]);
        assert_eq!(p.user_id, None);
    }
}

#[test]
fn two_users_linked_to_one_contact_is_a_conflict() {
    let mut i = input(Action::Update, Some(user()));
    let mut twin = user();
    twin.id = 8;
    i.linked_users.push(twin);
    let p = run(&i);
    assert_eq!(p.ops, vec![Op::Skip { reason: SkipReason::Conflict }]);
    assert_eq!(codes(&p), ["conflict_contact_claimed"]);
}

#[test]
fn the_crm_email_on_a_user_linked_elsewhere_is_a_conflict_even_with_a_linked_user() {
    let mut i = input(Action::Update, Some(user()));
    let mut other = user();
    other.id = 9;
    other.contact_id = "77".into();
    i.email_user = Some(other);
    assert_eq!(run(&i).ops, vec![Op::Skip { reason: SkipReason::Conflict }]);
}

#[test]
fn the_crm_email_on_an_unlinked_other_user_is_not_taken() {
    let mut i = input(Action::Update, Some(user()));
    i.contact.email = "taken@example.com".into();
    let mut other = user();
    other.id = 9;
    other.contact_id = String::new();
    other.user_email = "taken@example.com".into();
    i.email_user = Some(other);
    let p = run(&i);
    assert_eq!(p.user_id, Some(7), "the linked user wins");
    assert!(p.ops.is_empty(), "{:?}", p.ops);
    assert_eq!(codes(&p), ["email_taken"]);
}

#[test]
fn the_outcome_is_decided_with_the_plan() {
    assert_eq!(run(&input(Action::Add, None)).outcome, PlanOutcome::Created);
    assert_eq!(run(&input(Action::Update, Some(user()))).outcome, PlanOutcome::Unchanged);
    let mut changed = input(Action::Update, Some(user()));
    changed.contact.last_name = "Smith".into();
    assert_eq!(run(&changed).outcome, PlanOutcome::Updated);
    assert_eq!(run(&input(Action::Update, None)).outcome, PlanOutcome::Skipped);
    let mut twin = user();
    twin.id = 8;
    let mut conflict = input(Action::Update, Some(user()));
    conflict.linked_users.push(twin);
    assert_eq!(run(&conflict).outcome, PlanOutcome::Conflict);
}

#[test]
fn the_request_email_never_selects_a_user() {
    // No user for the contact: the request's email (the victim's) plays no part in the plan.
    let mut i = input(Action::Update, None);
    i.request.email = Some("victim@example.com".into());
    let p = run(&i);
    assert_eq!(p.ops, vec![Op::Skip { reason: SkipReason::NoUser }]);
}

// ---- roles on existing users ----

fn update_with_role(requested: &str, user: UserState) -> Plan {
    let mut i = input(Action::Update, Some(user));
    i.request.role = Some(requested.into());
    run(&i)
}

#[test]
fn update_sets_an_allowed_role_by_slug_or_display_name() {
    assert_eq!(update_with_role("customer", user()).ops, vec![Op::SetRole { role: "customer".into() }]);
    assert_eq!(update_with_role("Gold Member", user()).ops, vec![Op::SetRole { role: "gold_member".into() }]);
    let mut u = user();
    u.roles = vec!["customer".into()];
    assert!(update_with_role("Customer", u).ops.is_empty());
}

#[test]
fn the_summary_names_the_role_change() {
    let p = update_with_role("customer", user());
    let role = p.summary.role.expect("a role change");
    assert_eq!((role["old"].as_str(), role["new"].as_str()), (user().roles.join(", ").as_str(), "customer"));
    assert!(update_with_role("administrator", user()).summary.role.is_none(), "a refused role changes nothing");
    let json = serde_json::to_string(&run(&input(Action::Update, Some(user()))).summary).unwrap();
    assert_eq!(json, "{}", "a user in sync: nothing changed, no value carried");
}

fn shown(old: &str, new: &str) -> FieldChange {
    FieldChange { old: Some(old.into()), new: Some(new.into()), hidden: false }
}

fn hidden() -> FieldChange {
    FieldChange { old: None, new: None, hidden: true }
}

#[test]
fn the_summary_carries_the_old_and_new_value_of_each_changed_field() {
    let mut i = input(Action::Update, Some(user()));
    i.contact.fields = vec![field("1", "Platinum"), field("phone", "")];
    i.contact.first_name = "Janet".into();
    let fields = run(&i).summary.fields;
    let expected = [
        ("billing_phone", shown("555-0100", "")),
        ("crmhooks_level", shown("Gold", "Platinum")),
        ("first_name", shown("Jane", "Janet")),
    ];
    assert_eq!(fields, expected.into_iter().map(|(k, c)| (k.to_string(), c)).collect());
    let json = serde_json::to_value(&fields).unwrap();
    assert_eq!(json["crmhooks_level"], json!({"old": "Gold", "new": "Platinum"}));
}

#[test]
fn a_created_user_has_empty_old_values_and_a_hidden_password() {
    let fields = run(&input(Action::Add, None)).summary.fields;
    assert_eq!(fields["user_email"], shown("", "jane.doe@example.com"));
    assert_eq!(fields["crmhooks_level"], shown("", "Gold"));
    assert_eq!(fields["user_pass"], hidden());
    assert_eq!(serde_json::to_value(&fields["user_pass"]).unwrap(), json!({"hidden": true}));
}

#[test]
fn a_secret_looking_key_carries_no_value() {
    let mut i = input(Action::Add, None);
    i.contact.fields.push(field("9", "S3cret-Value-9"));
    i.settings.field_map.extend([
        mapping("9", "user_pass"),
        mapping("9", "crm_api_token"),
        mapping("9", "Backup_Password"),
    ]);
    let p = run(&i);
    assert!(
        p.ops.contains(&Op::SetMeta { key: "crm_api_token".into(), value: "S3cret-Value-9".into() }),
        "control: written"
    );
    assert_eq!((&p.summary.fields["crm_api_token"], &p.summary.fields["Backup_Password"]), (&hidden(), &hidden()));
    assert!(!serde_json::to_string(&p.summary).unwrap().contains("S3cret"));

    let denylist = ["billing_*".to_string()];
    for key in
        ["user_pass", "PASSWD", "license_key", "pw_hash", "session_id", "my_secret", "wp_capabilities", "billing_city"]
    {
        assert!(summary::value_is_secret(key, &denylist), "{key}");
    }
    for key in ["user_email", "first_name", "crmhooks_level", "phone", "company"] {
        assert!(!summary::value_is_secret(key, &denylist), "{key}");
    }
}

#[test]
fn long_values_are_cut_on_a_character_boundary() {
    assert_eq!(summary::shortened(&"é".repeat(200)), "é".repeat(200), "200 characters stay whole");
    assert_eq!(summary::shortened(&"é".repeat(201)), format!("{}…", "é".repeat(200)));
    let mut i = input(Action::Update, Some(user()));
    i.contact.fields = vec![field("1", &"€".repeat(500))];
    let change = &run(&i).summary.fields["crmhooks_level"];
    assert_eq!(change.new.as_deref().map(|v| v.chars().count()), Some(summary::MAX_VALUE_CHARS + 1));
    assert_eq!(change.old.as_deref(), Some("Gold"));
}

#[test]
fn update_with_a_refused_role_keeps_the_current_role() {
    for (requested, code) in [
        ("administrator", "role_privileged"),
        ("Administrator", "role_privileged"),
        ("editor", "role_privileged"),
        ("shop_manager", "role_unknown"),
        ("author", "role_not_allowed"),
    ] {
        let p = update_with_role(requested, user());
        assert!(set_role_ops(&p).is_empty(), "{requested}");
        assert_eq!(codes(&p), [code], "{requested}");
        assert!(!p.notices[0].message.contains(requested), "notice echoes the request: {requested}");
    }
}

#[test]
fn empty_role_parameter_is_no_role() {
    let p = update_with_role("  ", user());
    assert!(p.ops.is_empty() && p.notices.is_empty());
}

#[test]
fn privileged_users_are_read_only_except_their_tags() {
    let privileged_users = {
        let admin = UserState { roles: vec!["administrator".into()], ..user() };
        let editor = UserState { roles: vec!["editor".into()], ..user() };
        let direct_cap = UserState { caps: vec!["install_plugins".into()], ..user() };
        let super_admin = UserState { super_admin: true, ..user() };
        let unlinked_admin = UserState { roles: vec!["administrator".into()], contact_id: String::new(), ..user() };
        [admin, editor, direct_cap, super_admin, unlinked_admin]
    };
    for u in privileged_users {
        for action in [Action::Update, Action::Add] {
            let mut i = input(action, Some(u.clone()));
            i.request.role = Some("customer".into());
            i.request.send_notification = true;
            i.contact.email = "attacker@example.com".into();
            i.contact.last_name = "Smith".into();
            i.contact.tags.push(tag("9", "vip"));
            i.contact.fields.retain(|f| f.key != "1");
            i.contact.fields.push(field("1", "Platinum"));
            let p = run(&i);
            assert!(p.privileged);
            assert_eq!(p.ops.len(), 1, "{u:?} {action:?}: {:?}", p.ops);
            assert!(matches!(p.ops[0], Op::SetTags { .. }));
            let notice = p.notices.iter().find(|n| n.code == "user_privileged").expect("named skip");
            for named in ["user_email", "last_name", "role", "meta 'crmhooks_level'"] {
                assert!(notice.message.contains(named), "{named} in {}", notice.message);
            }
            assert!(!notice.message.contains("Platinum") && !notice.message.contains("attacker"));
        }
    }
}

// ---- add ----

#[test]
fn add_creates_a_user_with_all_steps_in_order() {
    let mut i = input(Action::Add, None);
    i.request.send_notification = true;
    i.settings.return_password = true;
    i.settings.password_field = "9".into();
    let p = run(&i);
    assert_eq!(
        p.ops,
        vec![
            Op::CreateUser {
                user_login: "jane.doe@example.com".into(),
                login_stem: "jane.doe@example.com".into(),
                login_numbered: false,
                user_email: "jane.doe@example.com".into(),
                user_pass: Password(GENERATED.into()),
                password_generated: true,
                first_name: "Jane".into(),
                last_name: "Doe".into(),
                role: "subscriber".into(),
            },
            Op::SetContactId { contact_id: "42".into() },
            Op::SetMeta { key: "billing_phone".into(), value: "555-0100".into() },
            Op::SetMeta { key: "crmhooks_level".into(), value: "Gold".into() },
            Op::SetTags { tags: vec![tag("3", "member")], added: vec!["member".into()], removed: vec![] },
            Op::SendNotification,
            Op::ReturnPassword { field: "9".into() },
        ]
    );
    assert!(p.notices.is_empty());
}

#[test]
fn add_without_notification_or_return_password_settings() {
    let mut i = input(Action::Add, None);
    i.contact.tags.clear();
    i.settings.return_password = true;
    i.settings.password_field = "  ".into();
    let p = run(&i);
    assert_eq!(op_names(&p), ["create_user", "set_contact_id", "set_meta", "set_meta"]);
}

#[test]
fn add_uses_mapped_login_and_password_and_never_returns_a_mapped_password() {
    let mut i = input(Action::Add, None);
    i.contact.fields.extend([field("20", "jdoe"), field("21", "chosen by crm")]);
    i.settings.field_map.extend([mapping("20", "user_login"), mapping("21", "user_pass")]);
    i.settings.return_password = true;
    i.settings.password_field = "9".into();
    let p = run(&i);
    let (login, _, pass, generated, _) = created(&p);
    assert_eq!((login.as_str(), pass.as_str(), generated), ("jdoe", "chosen by crm", false));
    assert!(!op_names(&p).contains(&"return_password".to_string()));
    assert!(
        !op_names(&p).contains(&"set_meta".to_string())
            || p.ops.iter().all(|op| match op {
                Op::SetMeta { key, .. } => key != "user_login" && key != "user_pass",
                _ => true,
            })
    );
}

#[test]
fn add_falls_back_from_an_empty_mapped_password_or_an_invalid_mapped_login() {
    let mut i = input(Action::Add, None);
    i.contact.fields.extend([field("20", "<b>jane</b>"), field("21", "   ")]);
    i.settings.field_map.extend([mapping("20", "user_login"), mapping("21", "user_pass")]);
    let p = run(&i);
    let (login, _, pass, generated, _) = created(&p);
    assert_eq!((login.as_str(), pass.as_str(), generated), ("jane.doe@example.com", GENERATED, true));
    assert_eq!(codes(&p), ["login_invalid"]);
}

#[test]
fn add_username_formats() {
    for (format, expected) in [
        (UsernameFormat::Email, "jane.doe@example.com"),
        (UsernameFormat::FirstLast, "janedoe"),
        (UsernameFormat::FirstNumber, "jane1"),
    ] {
        let mut i = input(Action::Add, None);
        i.settings.username_format = format;
        assert_eq!(created(&run(&i)).0, expected);
    }
    let mut i = input(Action::Add, None);
    i.settings.username_format = UsernameFormat::FirstLast;
    i.contact.first_name = "Ζωή".into();
    i.contact.last_name = String::new();
    assert_eq!(created(&run(&i)).0, "jane.doe");
}

#[test]
fn add_with_an_empty_or_invalid_email_skips() {
    for email in ["", "   ", "jane@", "jane doe@example.com"] {
        let mut i = input(Action::Add, None);
        i.contact.email = email.into();
        let p = run(&i);
        assert_eq!(p.ops, vec![Op::Skip { reason: SkipReason::InvalidEmail }], "{email:?}");
        assert_eq!(codes(&p), ["invalid_email"]);
    }
}

#[test]
fn add_without_any_password_skips() {
    let p = plan(&input(Action::Add, None), "");
    assert_eq!(p.ops, vec![Op::Skip { reason: SkipReason::NoPassword }]);
    assert_eq!(codes(&p), ["no_password"]);
}

fn add_with_role(requested: Option<&str>, default_role: &str) -> Plan {
    let mut i = input(Action::Add, None);
    i.request.role = requested.map(str::to_string);
    i.settings.default_role = default_role.into();
    run(&i)
}

#[test]
fn add_grants_an_allowed_role_by_slug_or_display_name() {
    assert_eq!(created(&add_with_role(Some("customer"), "subscriber")).4, "customer");
    assert_eq!(created(&add_with_role(Some("gold member"), "subscriber")).4, "gold_member");
    assert!(add_with_role(Some("customer"), "subscriber").notices.is_empty());
}

#[test]
fn add_with_a_refused_role_uses_the_default_and_says_why() {
    for (requested, code) in [
        ("administrator", "role_privileged"),
        ("editor", "role_privileged"),
        ("Editor", "role_privileged"),
        ("shop_manager", "role_unknown"),
        ("author", "role_not_allowed"),
    ] {
        let p = add_with_role(Some(requested), "customer");
        assert_eq!(created(&p).4, "customer", "{requested}");
        assert_eq!(codes(&p), [code], "{requested}");
    }
}

#[test]
fn add_never_uses_an_invalid_default_role() {
    for default_role in ["editor", "administrator", "ghost", ""] {
        let p = add_with_role(None, default_role);
        assert_eq!(created(&p).4, "subscriber", "{default_role}");
        assert_eq!(codes(&p), ["default_role_invalid"]);
    }
    let p = add_with_role(Some("administrator"), "administrator");
    assert_eq!(created(&p).4, "subscriber");
    assert_eq!(codes(&p), ["role_privileged", "default_role_invalid"]);
}

#[test]
fn add_for_an_existing_user_updates_it_and_never_notifies() {
    let mut i = input(Action::Add, Some(user()));
    i.request.send_notification = true;
    i.request.role = Some("customer".into());
    i.settings.return_password = true;
    i.settings.password_field = "9".into();
    i.contact.fields = vec![field("1", "Platinum")];
    let p = run(&i);
    assert_eq!(
        p.ops,
        vec![
            Op::SetRole { role: "customer".into() },
            Op::SetMeta { key: "crmhooks_level".into(), value: "Platinum".into() },
        ]
    );
    let p = update_with_role("administrator", user());
    assert!(set_role_ops(&p).is_empty());
}

// ---- secrets and JSON ----

#[test]
fn the_password_appears_only_in_create_user() {
    let mut i = input(Action::Add, None);
    i.settings.return_password = true;
    i.settings.password_field = "9".into();
    i.request.role = Some("administrator".into());
    let p = run(&i);
    let json = serde_json::to_string(&p).unwrap();
    assert_eq!(json.matches(GENERATED).count(), 1);
    let value: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(value["ops"][0]["user_pass"], GENERATED);
    assert!(!format!("{p:?}").contains(GENERATED));
    assert!(format!("{p:?}").contains("redacted"));
    assert!(!serde_json::to_string(&p.notices).unwrap().contains("jane"));
}

#[test]
fn op_json_shapes_match_the_brief() {
    let cases = [
        (Op::SetRole { role: "customer".into() }, json!({"op":"set_role","role":"customer"})),
        (Op::SetMeta { key: "k".into(), value: "v".into() }, json!({"op":"set_meta","key":"k","value":"v"})),
        (Op::DeleteMeta { key: "k".into() }, json!({"op":"delete_meta","key":"k"})),
        (
            Op::SetTags { tags: vec![tag("3", "member")], added: vec!["member".into()], removed: vec!["vip".into()] },
            json!({"op":"set_tags","tags":[{"id":"3","name":"member"}],"added":["member"],"removed":["vip"]}),
        ),
        (Op::SetContactId { contact_id: "42".into() }, json!({"op":"set_contact_id","contact_id":"42"})),
        (Op::SendNotification, json!({"op":"send_notification"})),
        (Op::ReturnPassword { field: "9".into() }, json!({"op":"return_password","field":"9"})),
        (Op::Skip { reason: SkipReason::NoUser }, json!({"op":"skip","reason":"no_user"})),
        (Op::Skip { reason: SkipReason::InvalidEmail }, json!({"op":"skip","reason":"invalid_email"})),
        (
            Op::UpdateUser { fields: [("first_name".to_string(), "J".to_string())].into_iter().collect() },
            json!({"op":"update_user","fields":{"first_name":"J"}}),
        ),
        (
            Op::CreateUser {
                user_login: "jane@example.com".into(),
                login_stem: "jane@example.com".into(),
                login_numbered: false,
                user_email: "jane@example.com".into(),
                user_pass: Password("pw".into()),
                password_generated: true,
                first_name: "Jane".into(),
                last_name: "Doe".into(),
                role: "subscriber".into(),
            },
            json!({"op":"create_user","user_login":"jane@example.com","login_stem":"jane@example.com",
                   "login_numbered":false,"user_email":"jane@example.com","user_pass":"pw",
                   "password_generated":true,"first_name":"Jane","last_name":"Doe","role":"subscriber"}),
        ),
    ];
    for (op, expected) in cases {
        assert_eq!(serde_json::to_value(&op).unwrap(), expected);
        assert_eq!(serde_json::from_value::<Op>(expected).unwrap(), op);
    }
    let notice = Notice { level: NoticeLevel::Warning, code: "role_refused".into(), message: "m".into() };
    assert_eq!(serde_json::to_value(&notice).unwrap(), json!({"level":"warning","code":"role_refused","message":"m"}));
}

fn brief_input(user: Value, action: &str, role: Value) -> String {
    json!({
        "request": {"action": action, "contact_id": "42", "email": null, "role": role,
            "send_notification": true, "async": null,
            "event": {"type": null, "date_time": null, "initiated_from": null, "initiated_by": null,
                "seriesid": null, "tag": null, "tags": ["member", "vip"], "fields": {"1": "Gold"},
                "email": null, "first_name": null, "last_name": null}},
        "contact": {"id": "42", "email": "jane.doe@example.com", "first_name": "Jane", "last_name": "Doe",
            "tags": [{"id": "3", "name": "member"}],
            "fields": [{"key": "1", "label": "Membership Level", "value": "Gold"},
                       {"key": "email", "label": "Email", "value": "jane.doe@example.com"}]},
        "linked_users": if user.is_null() { json!([]) } else { json!([user]) },
        "settings": {"crm": "activecampaign", "default_role": "subscriber", "role_allowlist": ["customer"],
            "roles": [{"slug": "subscriber", "name": "Subscriber", "capabilities": ["read"]},
                      {"slug": "customer", "name": "Customer", "capabilities": {"0": "read"}},
                      {"slug": "administrator", "name": "Administrator", "capabilities": ["manage_options"]}],
            "field_map": [{"crm_key": "1", "wp_key": "crmhooks_level"}],
            "username_format": "email", "return_password": true, "password_field": "9",
            "loopback_window_secs": 60, "meta_denylist": []}
    })
    .to_string()
}

#[test]
fn plan_json_for_a_new_user_matches_the_brief() {
    let out = plan_json(&brief_input(Value::Null, "add", json!("Customer")), GENERATED).unwrap();
    let value: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        value,
        json!({"action": "add", "outcome": "created", "user_id": null, "privileged": false, "notices": [], "ops": [
            {"op": "create_user", "user_login": "jane.doe@example.com", "login_stem": "jane.doe@example.com", "login_numbered": false, "user_email": "jane.doe@example.com",
             "user_pass": GENERATED, "password_generated": true, "first_name": "Jane", "last_name": "Doe",
             "role": "customer"},
            {"op": "set_contact_id", "contact_id": "42"},
            {"op": "set_meta", "key": "crmhooks_level", "value": "Gold"},
            {"op": "set_tags", "tags": [{"id": "3", "name": "member"}], "added": ["member"], "removed": []},
            {"op": "send_notification"},
            {"op": "return_password", "field": "9"}
        ], "summary": {"tags_added": ["member"], "role": {"old": "", "new": "customer"}, "fields": {
            "crmhooks_level": {"old": "", "new": "Gold"}, "first_name": {"old": "", "new": "Jane"},
            "last_name": {"old": "", "new": "Doe"}, "user_email": {"old": "", "new": "jane.doe@example.com"},
            "user_pass": {"hidden": true}}}})
    );
    let back: Plan = serde_json::from_str(&out).unwrap();
    assert_eq!(serde_json::to_value(&back).unwrap(), value);
}

#[test]
fn plan_json_accepts_php_shaped_user_state() {
    // PHP encodes an empty meta array as [] and a list with holes (roles, tags) as an object.
    let user = json!({"id": 7, "user_login": "jane", "user_email": "jane.doe@example.com",
        "first_name": "Jane", "last_name": "Doe", "contact_id": "42", "roles": {"1": "subscriber"}, "caps": [],
        "tags": {"2": {"id": "4", "name": "vip"}}, "meta": []});
    let out = plan_json(&brief_input(user, "update", json!("administrator")), GENERATED).unwrap();
    let value: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        value,
        json!({"action": "update", "outcome": "updated", "user_id": 7, "privileged": false, "ops": [
            {"op": "set_meta", "key": "crmhooks_level", "value": "Gold"},
            {"op": "set_tags", "tags": [{"id": "3", "name": "member"}], "added": ["member"], "removed": ["vip"]}
        ], "notices": [{"level": "warning", "code": "role_privileged",
            "message": "the requested role is privileged and is never granted by a webhook; the user's role was not changed"}],
        "summary": {"tags_added": ["member"], "tags_removed": ["vip"], "fields": {"crmhooks_level": {"old": "", "new": "Gold"}}}})
    );
    assert!(!out.contains(GENERATED));
}

#[test]
fn plan_json_for_a_missing_user_on_update_tags() {
    let out = plan_json(&brief_input(Value::Null, "update_tags", Value::Null), GENERATED).unwrap();
    assert_eq!(
        out,
        r#"{"action":"update_tags","outcome":"skipped","user_id":null,"privileged":false,"ops":[{"op":"skip","reason":"no_user"}],"notices":[],"summary":{"skipped_reason":"no_user"}}"#
    );
}

#[test]
fn plan_json_rejects_bad_input_without_echoing_it() {
    for bad in ["", "[]", r#"{"request":{"action":"s3cr3t"}}"#, r#"{"contact":{"id":"s3cr3t"}}"#] {
        let err = plan_json(bad, GENERATED).unwrap_err();
        assert!(matches!(err, Error::InvalidJson(_)), "{bad}");
        assert!(!err.to_string().contains("s3cr3t"));
        assert!(!err.to_string().contains(GENERATED));
    }
}

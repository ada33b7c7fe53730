//! Picks the CRM client for a configuration, and the JSON entry points the FFI calls:
//! configuration and arguments in as JSON, results out as JSON.

use serde::Deserialize;
use serde_json::json;

use super::activecampaign::ActiveCampaign;
use super::ontraport::Ontraport;
use super::{Crm, CrmConfig, CrmError, CrmKind, TagRef};
use crate::error::{Error, Result};

/// The client for `config.crm` (`activecampaign`/`ac` or `ontraport`/`op`). Checks the base
/// URL policy and the credentials' presence; sends nothing.
pub fn client_for(config: &CrmConfig) -> std::result::Result<Box<dyn Crm>, CrmError> {
    match CrmKind::from_name(&config.crm) {
        Some(CrmKind::ActiveCampaign) => Ok(Box::new(ActiveCampaign::new(config)?)),
        Some(CrmKind::Ontraport) => Ok(Box::new(Ontraport::new(config)?)),
        None => Err(CrmError::Permanent("unknown CRM (expected activecampaign or ontraport)".into())),
    }
}

/// Forget every cached tag name and field label, so the next call lists them again
/// (after the CRM account changed, and between tests that reset a stand-in CRM).
pub fn clear_caches() {
    super::activecampaign::clear_caches();
    super::ontraport::clear_caches();
}

fn parse_config(config_json: &str) -> Result<CrmConfig> {
    serde_json::from_str(config_json).map_err(|e| Error::from_json(&e))
}

fn client(config_json: &str) -> Result<Box<dyn Crm>> {
    Ok(client_for(&parse_config(config_json)?)?)
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(|e| Error::from_json(&e))
}

fn ok_json() -> String {
    json!({"ok": true}).to_string()
}

/// Load a contact -> Contact JSON.
pub fn fetch_contact_json(config_json: &str, contact_id: &str) -> Result<String> {
    shared(config_json, || {
        let crm = client(config_json)?;
        if contact_id.trim().is_empty() {
            return Err(Error::MissingParameter("contact_id"));
        }
        to_json(&crm.fetch_contact(contact_id)?)
    })
}

/// Find a contact by email -> `{"contact_id":"42"}` or `{"contact_id":null}`.
pub fn find_contact_json(config_json: &str, email: &str) -> Result<String> {
    shared(config_json, || {
        let crm = client(config_json)?;
        if email.trim().is_empty() {
            return Err(Error::MissingParameter("email"));
        }
        Ok(json!({"contact_id": crm.find_contact_by_email(email)?}).to_string())
    })
}

/// What `load_contact_json` reads of a stored webhook request.
#[derive(Deserialize, Default)]
#[serde(default)]
struct LoadArgs {
    contact_id: Option<String>,
    email: Option<String>,
    event: LoadEvent,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct LoadEvent {
    tags_digest: Option<String>,
}

/// The contact a webhook request names -> Contact JSON: by its contact ID, else the CRM
/// contact with its lookup email (1 more request; `CrmError::NotFound` when none), checked
/// against the tag names the webhook carried (`Crm::fetch_contact_expecting`).
pub fn load_contact_json(config_json: &str, request_json: &str) -> Result<String> {
    shared(config_json, || {
        let crm = client(config_json)?;
        let args: LoadArgs = serde_json::from_str(request_json).map_err(|e| Error::from_json(&e))?;
        let given = |value: Option<String>| value.map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
        let contact_id = match (given(args.contact_id), given(args.email)) {
            (Some(id), _) => id,
            (None, Some(email)) => crm.find_contact_by_email(&email)?.ok_or(super::CrmError::NotFound)?,
            (None, None) => return Err(Error::MissingParameter("contact_id")),
        };
        to_json(&crm.fetch_contact_expecting(&contact_id, args.event.tags_digest.as_deref())?)
    })
}

#[derive(Deserialize)]
struct WriteFieldArgs {
    contact_id: String,
    field: String,
    value: String,
}

/// `{"contact_id":"42","field":"9","value":"..."}` -> `{"ok":true}`.
pub fn write_field_json(config_json: &str, args_json: &str) -> Result<String> {
    shared(config_json, || {
        let crm = client(config_json)?;
        let args: WriteFieldArgs = serde_json::from_str(args_json).map_err(|e| Error::from_json(&e))?;
        if args.contact_id.trim().is_empty() {
            return Err(Error::MissingParameter("contact_id"));
        }
        if args.field.trim().is_empty() {
            return Err(Error::MissingParameter("field"));
        }
        writing_to(&args.contact_id);
        crm.write_field(&args.contact_id, &args.field, &args.value)?;
        Ok(ok_json())
    })
}

#[derive(Deserialize)]
struct ChangeTagsArgs {
    contact_id: String,
    #[serde(default)]
    add: Vec<String>,
    #[serde(default)]
    remove: Vec<String>,
}

/// `{"contact_id":"42","add":[names],"remove":[names]}` -> `{"ok":true}`.
pub fn change_tags_json(config_json: &str, args_json: &str) -> Result<String> {
    shared(config_json, || {
        let crm = client(config_json)?;
        let args: ChangeTagsArgs = serde_json::from_str(args_json).map_err(|e| Error::from_json(&e))?;
        if args.contact_id.trim().is_empty() {
            return Err(Error::MissingParameter("contact_id"));
        }
        writing_to(&args.contact_id);
        crm.change_tags(&args.contact_id, &args.add, &args.remove)?;
        Ok(ok_json())
    })
}

/// The account's tags and fields -> `{"tags":[..],"fields":[..]}`.
pub fn list_schema_json(config_json: &str) -> Result<String> {
    shared(config_json, || to_json(&client(config_json)?.list_schema()?))
}

/// A list cursor from JSON: absent, `null` and `""` all mean the first page.
fn cursor_of(cursor: &Option<String>) -> Option<&str> {
    cursor.as_deref().map(str::trim).filter(|c| !c.is_empty())
}

#[derive(Deserialize)]
struct ListModifiedArgs {
    since: u64,
    #[serde(default)]
    cursor: Option<String>,
}

/// `{"since":1700000000,"cursor":null}` -> one page:
/// `{"contacts":[{"id","email","updated_at"}],"next_cursor":"..."|null,"total":N|null}`.
pub fn list_modified_json(config_json: &str, args_json: &str) -> Result<String> {
    shared(config_json, || {
        let crm = client(config_json)?;
        let args: ListModifiedArgs = serde_json::from_str(args_json).map_err(|e| Error::from_json(&e))?;
        to_json(&crm.list_modified(args.since, cursor_of(&args.cursor))?)
    })
}

#[derive(Deserialize)]
struct ListTaggedArgs {
    #[serde(default)]
    tag_id: Option<String>,
    #[serde(default)]
    tag_name: Option<String>,
    #[serde(default)]
    cursor: Option<String>,
}

/// `{"tag_id":"3"}` or `{"tag_name":"Members"}`, with `"cursor"` -> one page, as above.
pub fn list_tagged_json(config_json: &str, args_json: &str) -> Result<String> {
    shared(config_json, || {
        let crm = client(config_json)?;
        let args: ListTaggedArgs = serde_json::from_str(args_json).map_err(|e| Error::from_json(&e))?;
        let given =
            |value: &Option<String>| value.as_deref().map(str::trim).filter(|v| !v.is_empty()).map(String::from);
        let tag = match (given(&args.tag_id), given(&args.tag_name)) {
            (Some(id), _) => TagRef::Id(id),
            (None, Some(name)) => TagRef::Name(name),
            (None, None) => return Err(Error::MissingParameter("tag_id")),
        };
        to_json(&crm.list_tagged(&tag, cursor_of(&args.cursor))?)
    })
}

/// Run one call with the account state the host shares between its workers (when the config
/// carries it): requests are paced by its request window and names come from its cache
/// document. What the host must store afterwards is kept for `last_account_state_json`.
fn shared(config_json: &str, call: impl FnOnce() -> Result<String>) -> Result<String> {
    let config = parse_config(config_json).ok();
    let window = config.as_ref().and_then(|config| config.rate_window.clone());
    let names = config.and_then(|config| config.names);
    super::http::take_request_count();
    WROTE.with(|wrote| wrote.take()); // Not an earlier call's, had it panicked.
    let with_names = |call: Box<dyn FnOnce() -> Result<String> + '_>| match names {
        Some(names) => super::cache::with_shared_names(names, call),
        None => (call(), None),
    };
    let ((result, names), window) = match window {
        Some(recent) => {
            let (inner, after) = super::rate_limit::with_shared_window(recent, || with_names(Box::new(call)));
            (inner, Some(after))
        }
        None => (with_names(Box::new(call)), None),
    };
    let requests = super::http::take_request_count();
    let wrote = WROTE.with(|wrote| wrote.take());
    LAST_STATE.with(|last| {
        *last.borrow_mut() = json!({"rate_window": window, "names": names, "requests": requests, "wrote": wrote})
    });
    result
}

thread_local! {
    static LAST_STATE: std::cell::RefCell<serde_json::Value> = const { std::cell::RefCell::new(serde_json::Value::Null) };
    static WROTE: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}

/// Marks the contact this call is about to write to, for `last_account_state_json`: the host
/// records the time under its key, and a webhook for it inside the loopback window (probably
/// the CRM echoing our write) is deferred. Marked before sending: a write that failed half-way
/// may still have reached the CRM.
fn writing_to(contact_id: &str) {
    WROTE.with(|wrote| *wrote.borrow_mut() = Some(crate::queue::id_key(contact_id)));
}

/// What the last CRM call on this thread leaves for the host to store, as JSON:
/// `{"rate_window": [Unix ms]|null, "names": {..}|null (null: unchanged), "requests": n,
/// "wrote": "id:42"|null}` (`wrote`: the key of the contact it wrote to, or tried to).
/// Taken: a second read gives `null`, so a call that failed before it reached the CRM can never
/// hand on an earlier call's state.
pub fn last_account_state_json() -> Result<String> {
    LAST_STATE.with(|last| to_json(&last.replace(serde_json::Value::Null)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_crm_is_permanent() {
        let config = CrmConfig { crm: "hubspot".into(), ..Default::default() };
        assert!(matches!(client_for(&config), Err(CrmError::Permanent(_))));
    }

    #[test]
    fn missing_credentials_are_refused_before_any_request() {
        let ac = CrmConfig {
            crm: "activecampaign".into(),
            base_url: "https://acct.api-us1.com".into(),
            ..Default::default()
        };
        assert!(matches!(client_for(&ac), Err(CrmError::Permanent(m)) if m.contains("api_token")));
        let op = CrmConfig { crm: "ontraport".into(), app_id: "a".into(), ..Default::default() };
        assert!(matches!(client_for(&op), Err(CrmError::Permanent(m)) if m.contains("api_key")));
    }

    #[test]
    fn bad_json_never_echoes_values() {
        let error = fetch_contact_json(r#"{"crm":"ac","api_token":"sekrit-token""#, "42").unwrap_err();
        assert!(matches!(error, Error::InvalidJson(_)));
        assert!(!error.to_string().contains("sekrit"));
        let config = r#"{"crm":"ac","base_url":"https://acct.api-us1.com","api_token":"sekrit-token"}"#;
        let error = write_field_json(config, r#"{"contact_id":"42","field":"9"}"#).unwrap_err();
        assert!(matches!(error, Error::InvalidJson(_)));
        assert_eq!(fetch_contact_json(config, " "), Err(Error::MissingParameter("contact_id")));
        assert_eq!(change_tags_json(config, r#"{"contact_id":""}"#), Err(Error::MissingParameter("contact_id")));
    }
}

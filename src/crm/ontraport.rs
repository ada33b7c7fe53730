//! Ontraport REST API (`https://api.ontraport.com/1/`, headers `Api-Appid` + `Api-Key`).
//!
//! Every answer is an envelope `{"code":0,"data":...}`; anything else is an error. Some
//! errors are plain text (`Object not found`, `Invalid Contact ID`): those mean not found.
//! Tags live in `contact_cat` (`*/*3*/*7*/*`) as IDs; names and custom-field labels come from
//! per-account caches listed again only when an unknown ID or key appears (or after the TTL).

use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeMap, HashMap};
use std::hash::{Hash, Hasher};
use std::time::Instant;

use serde_json::{json, Map, Value};

use super::cache::AccountCache;
use super::http::{self, check_id, encode, expect_object, string_of, HttpClient, Method, RawResponse, Timeouts};
use super::tag_lookup::{resolve_change, schema};
use super::{rate_limit, Crm, CrmConfig, CrmError, Schema};
use crate::contact::{Contact, Field, Tag};

pub const DEFAULT_BASE_URL: &str = "https://api.ontraport.com/1/";
/// Ontraport's maximum `range`.
const PAGE_SIZE: usize = 50;
const MAX_PAGES: usize = 200;

/// Standard contact attributes: our key, Ontraport's attribute, label.
const STANDARD_FIELDS: [(&str, &str, &str); 4] = [
    ("email", "email", "Email"),
    ("first_name", "firstname", "First Name"),
    ("last_name", "lastname", "Last Name"),
    ("phone", "office_phone", "Phone"),
];

/// A custom field's label and, for drop-downs, option ID -> option label.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct FieldMeta {
    alias: String,
    options: HashMap<String, String>,
}

/// Tag ID -> name (contact tags only).
static TAG_NAMES: AccountCache<HashMap<String, String>> = AccountCache::new("op_tags");
/// Custom field key (`f1557`) -> label and options.
static FIELD_META: AccountCache<HashMap<String, FieldMeta>> = AccountCache::new("op_fields");

pub struct Ontraport {
    http: HttpClient,
    /// Cache and rate-limit key. Every account shares the API host, so the key adds a hash
    /// of the app ID (the credential itself is never stored or logged).
    account: String,
}

impl Ontraport {
    pub fn new(config: &CrmConfig) -> Result<Self, CrmError> {
        if config.app_id.trim().is_empty() {
            return Err(CrmError::Permanent("missing credentials: app_id".into()));
        }
        if config.api_key.trim().is_empty() {
            return Err(CrmError::Permanent("missing credentials: api_key".into()));
        }
        let raw_base = if config.base_url.trim().is_empty() { DEFAULT_BASE_URL } else { config.base_url.as_str() };
        let base = http::check_base_url(raw_base, config.allow_http_loopback)?;
        let mut hasher = DefaultHasher::new();
        config.app_id.trim().hash(&mut hasher);
        let account = format!("{}#{:016x}", base.url, hasher.finish());
        let headers =
            vec![("Api-Appid", config.app_id.trim().to_string()), ("Api-Key", config.api_key.trim().to_string())];
        let http =
            HttpClient::new(base, headers, account.clone(), rate_limit::ONTRAPORT, Timeouts::from_config(config))?;
        Ok(Ontraport { http, account })
    }

    /// Send and unwrap the envelope: `data` of a `code: 0` answer.
    fn call(&self, method: Method, path: &str, body: Option<&Value>, deadline: Instant) -> Result<Value, CrmError> {
        data_of(&self.http.send(method, path, body, deadline)?)
    }

    /// A write: a 2xx envelope with code 0 completes it, whatever `data` holds (Ontraport
    /// answers tag changes with a message string and background writes with `attrs`).
    fn write(&self, method: Method, path: &str, body: &Value, deadline: Instant) -> Result<(), CrmError> {
        envelope_of(&self.http.send(method, path, Some(body), deadline)?).map(|_| ())
    }

    fn refresh_tags(&self, deadline: Instant) -> Result<HashMap<String, String>, CrmError> {
        let mut names = HashMap::new();
        for page in 0..MAX_PAGES {
            let start = page * PAGE_SIZE;
            let data = self.call(Method::Get, &format!("Tags?start={start}&range={PAGE_SIZE}"), None, deadline)?;
            if tag_page(&data, &mut names)? < PAGE_SIZE {
                break;
            }
        }
        TAG_NAMES.put(&self.account, names.clone());
        Ok(names)
    }

    fn refresh_fields(&self, deadline: Instant) -> Result<HashMap<String, FieldMeta>, CrmError> {
        let meta = field_meta_of(&self.call(Method::Get, "Contacts/meta", None, deadline)?)?;
        FIELD_META.put(&self.account, meta.clone());
        Ok(meta)
    }

    fn create_tag(&self, name: &str, deadline: Instant) -> Result<String, CrmError> {
        let data = self.call(Method::Post, "Tags", Some(&json!({ "tag_name": name })), deadline)?;
        let id =
            string_of(data.get("tag_id")).or_else(|| string_of(data.get("id"))).ok_or_else(|| malformed("tag_id"))?;
        TAG_NAMES.update(&self.account, |names| {
            names.insert(id.clone(), name.to_string());
        });
        Ok(id)
    }
}

/// The contact from raw 200 answer bodies, with no network and no cache: the same checks and
/// mapping as `fetch_contact`, for tests and fuzzing. `contact` is `GET Contact?id=`, `tags`
/// one page of `GET Tags` (read only when the contact has tags), `meta` `GET Contacts/meta`
/// (read only when the contact has custom fields).
pub fn contact_from_answers(contact_id: &str, contact: &str, tags: &str, meta: &str) -> Result<Contact, CrmError> {
    let id = check_id(contact_id)?;
    let record = contact_record(id, data_of(&RawResponse::ok(contact))?)?;
    let (tag_ids, custom) = record_keys(&record);
    let mut names = HashMap::new();
    if !tag_ids.is_empty() {
        tag_page(&data_of(&RawResponse::ok(tags))?, &mut names)?;
    }
    let meta = if custom.is_empty() { HashMap::new() } else { field_meta_of(&data_of(&RawResponse::ok(meta))?)? };
    Ok(contact_from(id, &record, tag_ids, &names, custom, &meta))
}

/// A `GET Contact?id=` answer's data checked: the contact record, and it is the one asked for.
fn contact_record(id: &str, data: Value) -> Result<Map<String, Value>, CrmError> {
    let Value::Object(record) = data else { return Err(malformed("contact")) };
    let returned_id = string_of(record.get("id")).ok_or_else(|| malformed("contact id"))?;
    if returned_id != id {
        return Err(CrmError::Temporary("malformed CRM answer: another contact".into()));
    }
    Ok(record)
}

/// Custom field values by (key length, key), so `f9` sorts before `f10`.
type CustomValues = BTreeMap<(usize, String), String>;

/// What a contact record needs looked up: its tag IDs and its custom field values.
fn record_keys(record: &Map<String, Value>) -> (Vec<String>, CustomValues) {
    let tag_ids = parse_contact_cat(&string_of(record.get("contact_cat")).unwrap_or_default());
    let custom = record
        .iter()
        .filter(|(key, _)| is_custom_key(key))
        .map(|(key, value)| ((key.len(), key.clone()), string_of(Some(value)).unwrap_or_default()))
        .collect();
    (tag_ids, custom)
}

/// Add one `GET Tags` page's contact tags (object type 0) to `names`; the page's row count.
fn tag_page(data: &Value, names: &mut HashMap<String, String>) -> Result<usize, CrmError> {
    let rows = rows_of(data).ok_or_else(|| malformed("tag list"))?;
    for row in &rows {
        let object_type = string_of(row.get("object_type_id")).unwrap_or_else(|| "0".into());
        if let (true, Some(id), Some(name)) =
            (object_type == "0", string_of(row.get("tag_id")), string_of(row.get("tag_name")))
        {
            names.insert(id, name);
        }
    }
    Ok(rows.len())
}

/// `GET Contacts/meta` data -> field key -> label and drop-down options.
fn field_meta_of(data: &Value) -> Result<HashMap<String, FieldMeta>, CrmError> {
    let object =
        data.get("0").or_else(|| data.as_object().and_then(|m| m.values().next())).ok_or_else(|| malformed("meta"))?;
    let fields = object.get("fields").and_then(Value::as_object).ok_or_else(|| malformed("meta fields"))?;
    let mut meta = HashMap::new();
    for (key, field) in fields {
        let alias = string_of(field.get("alias")).unwrap_or_default();
        let options = field
            .get("options")
            .and_then(Value::as_object)
            .map(|options| {
                options.iter().filter_map(|(id, label)| Some((id.clone(), string_of(Some(label))?))).collect()
            })
            .unwrap_or_default();
        meta.insert(key.clone(), FieldMeta { alias, options });
    }
    Ok(meta)
}

/// The normalized contact: standard fields first, then custom fields by field number, with
/// drop-down values as their labels; tags without a known name are left out.
fn contact_from(
    id: &str,
    record: &Map<String, Value>,
    tag_ids: Vec<String>,
    names: &HashMap<String, String>,
    custom: CustomValues,
    meta: &HashMap<String, FieldMeta>,
) -> Contact {
    let attribute = |name: &str| string_of(record.get(name)).unwrap_or_default();
    let tags: Vec<Tag> = tag_ids
        .into_iter()
        .filter_map(|tag_id| names.get(&tag_id).map(|name| Tag { name: name.clone(), id: tag_id }))
        .collect();
    let mut fields: Vec<Field> = STANDARD_FIELDS
        .iter()
        .map(|(key, attr, label)| Field { key: key.to_string(), label: label.to_string(), value: attribute(attr) })
        .collect();
    for ((_, key), value) in custom {
        let field_meta = meta.get(&key).cloned().unwrap_or_default();
        fields.push(Field { value: option_labels(&value, &field_meta.options), label: field_meta.alias, key });
    }
    Contact {
        id: id.to_string(),
        email: attribute("email"),
        first_name: attribute("firstname"),
        last_name: attribute("lastname"),
        tags,
        fields,
    }
}

/// The envelope's `data` when `code` is 0; plain-text "not found" bodies are `NotFound`.
pub fn data_of(response: &RawResponse) -> Result<Value, CrmError> {
    envelope_of(response)?.remove("data").ok_or_else(|| malformed("data"))
}

/// The envelope of a 2xx answer whose `code` is 0; plain-text "not found" bodies are `NotFound`.
pub fn envelope_of(response: &RawResponse) -> Result<Map<String, Value>, CrmError> {
    let throttled_or_server = matches!(response.status, 401 | 403 | 429 | 500..=599);
    if !throttled_or_server && is_not_found_text(&response.body) {
        return Err(CrmError::NotFound);
    }
    let envelope = expect_object(response)?;
    let code_ok = match envelope.get("code") {
        Some(Value::Number(n)) => n.as_i64() == Some(0),
        Some(Value::String(s)) => s.trim() == "0",
        _ => false,
    };
    if !code_ok {
        return Err(CrmError::Temporary(format!("HTTP {} with an Ontraport error code", response.status)));
    }
    Ok(envelope)
}

fn is_not_found_text(body: &str) -> bool {
    let body = body.trim();
    body.eq_ignore_ascii_case("Object not found") || body.eq_ignore_ascii_case("Invalid Contact ID")
}

/// List rows whether `data` is an array or an object of rows.
fn rows_of(data: &Value) -> Option<Vec<Map<String, Value>>> {
    let rows: Vec<&Value> = match data {
        Value::Array(rows) => rows.iter().collect(),
        Value::Object(rows) => rows.values().collect(),
        _ => return None,
    };
    Some(rows.into_iter().filter_map(Value::as_object).cloned().collect())
}

/// Forget cached tag names and field labels (all accounts).
pub fn clear_caches() {
    TAG_NAMES.clear();
    FIELD_META.clear();
}

fn malformed(what: &str) -> CrmError {
    CrmError::Temporary(format!("malformed CRM answer: no {what}"))
}

/// `*/*3*/*7*/*` -> ["3", "7"]; `""` and `*/*` -> [].
fn parse_contact_cat(value: &str) -> Vec<String> {
    let mut ids: Vec<String> = Vec::new();
    for part in value.split("*/*").map(str::trim) {
        if !part.is_empty() && part.chars().all(|c| c.is_ascii_digit()) && !ids.iter().any(|id| id == part) {
            ids.push(part.to_string());
        }
    }
    ids
}

fn is_custom_key(key: &str) -> bool {
    key.len() > 1 && key.len() <= 20 && key.starts_with('f') && key[1..].chars().all(|c| c.is_ascii_digit())
}

/// A drop-down value (option ID) or a list value (`*/*1*/*2*/*`) as option labels.
fn option_labels(value: &str, options: &HashMap<String, String>) -> String {
    if options.is_empty() {
        return value.to_string();
    }
    if let Some(label) = options.get(value.trim()) {
        return label.clone();
    }
    if value.contains("*/*") {
        let labels: Vec<String> =
            parse_contact_cat(value).iter().map(|id| options.get(id).cloned().unwrap_or_else(|| id.clone())).collect();
        return labels.join(", ");
    }
    value.to_string()
}

/// The numeric ID as a JSON number (as Ontraport's own clients send it).
fn id_value(id: &str) -> Value {
    id.parse::<u64>().map(Value::from).unwrap_or_else(|_| Value::from(id))
}

impl Crm for Ontraport {
    /// 1 request; more when the tag or field cache misses an ID (tag pages, Contacts/meta).
    fn fetch_contact(&self, contact_id: &str) -> Result<Contact, CrmError> {
        let id = check_id(contact_id)?;
        let deadline = self.http.deadline();
        let record = contact_record(id, self.call(Method::Get, &format!("Contact?id={id}"), None, deadline)?)?;
        let (tag_ids, custom) = record_keys(&record);
        let names = TAG_NAMES.covering(&self.account, &tag_ids, || self.refresh_tags(deadline))?;
        let custom_keys: Vec<String> = custom.keys().map(|(_, key)| key.clone()).collect();
        let meta = FIELD_META.covering(&self.account, &custom_keys, || self.refresh_fields(deadline))?;
        Ok(contact_from(id, &record, tag_ids, &names, custom, &meta))
    }

    /// 1 request; 404 or 400 (Ontraport's older miss) mean no such contact.
    fn find_contact_by_email(&self, email: &str) -> Result<Option<String>, CrmError> {
        let email = email.trim();
        if email.is_empty() {
            return Err(CrmError::Permanent("missing email".into()));
        }
        let path = format!("object/getByEmail?objectID=0&email={}", encode(email));
        let response = self.http.send(Method::Get, &path, None, self.http.deadline())?;
        if response.status == 404 || response.status == 400 {
            return Ok(None);
        }
        match data_of(&response) {
            Ok(data) => Ok(Some(string_of(data.get("id")).ok_or_else(|| malformed("contact id"))?)),
            Err(CrmError::NotFound) => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// 1 request. Ontraport may apply the change in the background: a read right after
    /// may still show the old value.
    fn write_field(&self, contact_id: &str, field_key: &str, value: &str) -> Result<(), CrmError> {
        let id = check_id(contact_id)?;
        let key = field_key.trim();
        let attribute = match STANDARD_FIELDS.iter().find(|(ours, _, _)| *ours == key) {
            Some((_, attr, _)) => *attr,
            None if is_custom_key(key) => key,
            None => return Err(CrmError::Permanent("unknown field key".into())),
        };
        let mut body = Map::new();
        body.insert("id".into(), id_value(id));
        body.insert(attribute.into(), Value::from(value));
        self.write(Method::Put, "Contacts", &Value::Object(body), self.http.deadline())
    }

    /// Warm cache: 1 PUT for all additions and 1 DELETE for all removals. Plus the tag
    /// listing when a name is unknown, and 1 POST per tag created.
    fn change_tags(&self, contact_id: &str, add: &[String], remove: &[String]) -> Result<(), CrmError> {
        let id = check_id(contact_id)?;
        let deadline = self.http.deadline();
        let change =
            resolve_change(add, remove, TAG_NAMES.get(&self.account), || self.refresh_tags(deadline), &mut |name| {
                self.create_tag(name, deadline)
            })?;
        let Some((add_ids, remove_ids)) = change else {
            return Ok(());
        };
        if !add_ids.is_empty() {
            let body = json!({"objectID": 0, "ids": id, "add_list": add_ids.join(",")});
            self.write(Method::Put, "objects/tag", &body, deadline)?;
        }
        if !remove_ids.is_empty() {
            let body = json!({"objectID": 0, "ids": id, "remove_list": remove_ids.join(",")});
            self.write(Method::Delete, "objects/tag", &body, deadline)?;
        }
        Ok(())
    }

    /// Tag pages (1 request for up to 49 tags) + 1 meta request; refreshes both caches.
    fn list_schema(&self) -> Result<Schema, CrmError> {
        let deadline = self.http.deadline();
        let tag_names = self.refresh_tags(deadline)?;
        let meta = self.refresh_fields(deadline)?;
        let custom = meta
            .into_iter()
            .filter(|(key, _)| is_custom_key(key))
            .map(|(key, field)| Field { key, label: field.alias, value: String::new() })
            .collect();
        Ok(schema(tag_names, &STANDARD_FIELDS, custom))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contact_cat_forms() {
        assert_eq!(parse_contact_cat("*/*3*/*7*/*"), vec!["3".to_string(), "7".into()]);
        assert!(parse_contact_cat("").is_empty());
        assert!(parse_contact_cat("*/*").is_empty());
        assert_eq!(parse_contact_cat("*/*3*/*3*/*x*/*"), vec!["3".to_string()]);
    }

    #[test]
    fn envelope_rules() {
        let answer = |status, body: &str| RawResponse { status, body: body.into(), retry_after: None };
        assert_eq!(data_of(&answer(200, r#"{"code":0,"data":{"id":"27"}}"#)).unwrap(), json!({"id":"27"}));
        assert_eq!(data_of(&answer(200, r#"{"code":"0","data":[]}"#)).unwrap(), json!([]));
        assert_eq!(data_of(&answer(404, "Object not found")), Err(CrmError::NotFound));
        assert_eq!(data_of(&answer(400, "Invalid Contact ID\n")), Err(CrmError::NotFound));
        assert!(matches!(data_of(&answer(200, r#"{"code":1,"data":{}}"#)), Err(CrmError::Temporary(_))));
        assert!(matches!(data_of(&answer(200, r#"{"code":0}"#)), Err(CrmError::Temporary(_))));
        assert!(matches!(data_of(&answer(500, "Object not found")), Err(CrmError::Temporary(_))));
        assert_eq!(data_of(&answer(401, "{}")), Err(CrmError::Unauthorized));
    }

    #[test]
    fn drop_down_values_become_labels() {
        let options: HashMap<String, String> =
            [("329".to_string(), "Gold".to_string()), ("330".into(), "Silver".into())].into();
        assert_eq!(option_labels("329", &options), "Gold");
        assert_eq!(option_labels("*/*329*/*330*/*", &options), "Gold, Silver");
        assert_eq!(option_labels("free text", &options), "free text");
        assert_eq!(option_labels("329", &HashMap::new()), "329");
    }

    #[test]
    fn custom_keys() {
        assert!(is_custom_key("f1557"));
        assert!(!is_custom_key("f"));
        assert!(!is_custom_key("firstname"));
        assert!(!is_custom_key("F1557"));
    }

    const CONTACT: &str = r#"{"code":0,"data":{"id":"27","email":"jane@example.com","firstname":"Jane",
        "lastname":"Doe","office_phone":"","contact_cat":"*/*3*/*7*/*8*/*3*/*","f1557":"329","f10":"x","f9":"y",
        "fx":"not custom"}}"#;
    const TAGS: &str = r#"{"code":0,"data":[{"tag_id":"3","tag_name":"Member","object_type_id":"0"},
        {"tag_id":"7","tag_name":"VIP"},{"tag_id":"8","tag_name":"Deal tag","object_type_id":"5"}]}"#;
    const META: &str = r#"{"code":0,"data":{"0":{"fields":{"f1557":{"alias":"Level",
        "options":{"329":"Gold","330":"Silver"}},"f9":{"alias":"Nine"}}}}}"#;

    #[test]
    fn contact_from_answers_maps_like_fetch_contact() {
        let contact = contact_from_answers("27", CONTACT, TAGS, META).unwrap();
        assert_eq!((contact.id.as_str(), contact.last_name.as_str()), ("27", "Doe"));
        let tags: Vec<&str> = contact.tags.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(tags, ["Member", "VIP"], "unknown and non-contact tags left out, repeats once");
        let keys: Vec<&str> = contact.fields.iter().map(|f| f.key.as_str()).collect();
        assert_eq!(keys, ["email", "first_name", "last_name", "phone", "f9", "f10", "f1557"]);
        assert_eq!(contact.field("f1557"), Some("Gold"));
        assert_eq!(contact.fields[4].label, "Nine");
    }

    #[test]
    fn contact_from_answers_refuses_what_fetch_contact_refuses() {
        let refuse = |contact: &str| contact_from_answers("27", contact, TAGS, META).unwrap_err();
        assert!(matches!(refuse(r#"{"code":0,"data":{"id":"28"}}"#), CrmError::Temporary(m) if m.contains("another")));
        assert_eq!(refuse(r#"{"code":0,"data":[]}"#), malformed("contact"));
        assert_eq!(refuse(r#"{"code":0,"data":{"id":[]}}"#), malformed("contact id"));
        assert_eq!(refuse("Object not found"), CrmError::NotFound);
        assert!(matches!(refuse(r#"{"code":1,"data":{"id":"27"}}"#), CrmError::Temporary(_)));
        // Lookups are read only when needed, and must be well-formed then.
        assert!(contact_from_answers("27", r#"{"code":0,"data":{"id":27}}"#, "", "").is_ok());
        assert_eq!(contact_from_answers("27", CONTACT, r#"{"code":0,"data":7}"#, META), Err(malformed("tag list")));
        assert_eq!(contact_from_answers("27", CONTACT, TAGS, r#"{"code":0,"data":{}}"#), Err(malformed("meta")));
        let no_fields = r#"{"code":0,"data":{"0":{"fields":[]}}}"#;
        assert_eq!(contact_from_answers("27", CONTACT, TAGS, no_fields), Err(malformed("meta fields")));
    }
}

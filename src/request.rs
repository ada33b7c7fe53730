//! Raw webhook request (method, query string, content type, body) -> typed `WebhookRequest`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::auth::verify_key;
use crate::error::{Error, Result};
use form::{Params, MAX_DEPTH};

pub mod form;

/// What the webhook asks crmhooks to do. Strength order for coalescing: add > update > update_tags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// `wpf_action=test`: answer success after the key check, do nothing else.
    Test,
    UpdateTags,
    Update,
    Add,
}

/// What the body says about the CRM event (ActiveCampaign account or automation webhook,
/// Ontraport ping). Every member is optional: an Ontraport ping usually has none.
///
/// Only the event type, its origin and a digest of the tag names are serialized: that JSON is what the shim stores in a
/// job row, and a body's field values (a password the CRM echoes back, say), tag lists and
/// names must never rest in the database. The contact is always re-read from the CRM.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct Event {
    /// ActiveCampaign account webhook `type` (`subscribe`, `update`, `contact_tag_added`, ...).
    pub r#type: Option<String>,
    /// `public`, `admin`, `api`, `system`.
    pub initiated_from: Option<String>,
    #[serde(skip_serializing)]
    pub date_time: Option<String>,
    #[serde(skip_serializing)]
    pub initiated_by: Option<String>,
    /// ActiveCampaign automation webhooks carry `seriesid` and no `type`.
    #[serde(skip_serializing)]
    pub seriesid: Option<String>,
    /// Top-level `tag` of tag events: the tag's name.
    #[serde(skip_serializing)]
    pub tag: Option<String>,
    /// `contact[tags]` split on commas and trimmed; `None` when the body has no such member.
    #[serde(skip_serializing)]
    pub tags: Option<Vec<String>>,
    /// `crm::tag_lookup::tag_set_digest` of `tags`: what the stored job keeps of them, so the
    /// CRM client can tell a renamed tag without the names resting in the database.
    pub tags_digest: Option<String>,
    /// `contact[fields][KEY]` by KEY as a string (numeric IDs or perstag names).
    #[serde(skip_serializing, deserialize_with = "crate::diff::php_json::string_map")]
    pub fields: BTreeMap<String, String>,
    #[serde(skip_serializing)]
    pub email: Option<String>,
    #[serde(skip_serializing)]
    pub first_name: Option<String>,
    #[serde(skip_serializing)]
    pub last_name: Option<String>,
}

/// Field values may be secrets (a generated password echoed back), so `Debug` shows keys only.
impl std::fmt::Debug for Event {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Event")
            .field("type", &self.r#type)
            .field("initiated_from", &self.initiated_from)
            .field("field_keys", &self.fields.keys().collect::<Vec<_>>())
            .field("tags", &self.tags.as_ref().map(Vec::len))
            .finish_non_exhaustive()
    }
}

/// A parsed webhook: the routing facts only. The access key is not part of it (it is checked
/// and dropped in `accept`), so it can never travel back to PHP, logs or responses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookRequest {
    pub action: Action,
    /// From the body's `contact[id]` (wins), else `contact_id` in the query or body.
    pub contact_id: Option<String>,
    /// The email that locates the CRM contact when no contact ID is given: the top-level
    /// `email` parameter, else the body's `contact[email]`. `None` whenever a contact ID is
    /// given. It only ever finds the CRM contact; it never selects a WordPress user.
    pub email: Option<String>,
    pub role: Option<String>,
    pub send_notification: bool,
    /// `async=true|false`; `None` when absent (the site setting decides).
    #[serde(rename = "async")]
    pub async_mode: Option<bool>,
    #[serde(default)]
    pub event: Event,
}

/// Largest body we read. Real webhook bodies are a few KiB; the cap bounds memory per request.
pub const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

/// Longest contact ID we accept. ActiveCampaign and Ontraport IDs are positive integers
/// (sent as strings), so an ID is 1 to 20 ASCII digits (u64::MAX has 20).
const MAX_CONTACT_ID_LEN: usize = 20;

/// Longest `email` parameter (RFC 5321 path limit).
const MAX_EMAIL_LEN: usize = 254;

/// Parse a raw webhook request without checking the access key (see `accept` for that).
///
/// Body handling by content type (media type before `;`, any case):
/// - `application/x-www-form-urlencoded`: PHP bracket form; the body must be UTF-8 and hold no
///   NUL, else `MalformedBody`.
/// - `application/json` and `*+json`: an object (empty body = no parameters); anything else is
///   `MalformedBody("invalid JSON")` or `MalformedBody("JSON body is not an object")`.
/// - `multipart/form-data`: no body parameters (PHP reads those through `$_POST`).
/// - anything else or missing (Ontraport "Ping a URL" bodies are user-written): read as JSON when it
///   starts with `{`, else as a form; a body that cannot be read that way is ignored, not an error.
pub fn parse(method: &str, query: &str, content_type: &str, body: &[u8]) -> Result<WebhookRequest> {
    check_method(method)?;
    let query = query_params(query)?;
    let body = body_params(content_type, body)?;
    build_request(&query, &body)
}

/// Authenticate and parse. Every auth failure is the same `Error::Unauthorized`, and it comes
/// before any parse error, so an unauthenticated caller learns nothing about the request format.
/// No configured key (empty or whitespace) fails closed. The given key is looked up in the query,
/// then in the body (form or JSON), even when the rest of the request is malformed; a body over
/// `MAX_BODY_BYTES` is not read, so a key only in such a body counts as missing.
///
/// The key compare is on exact bytes after percent-decoding; only ASCII whitespace around the
/// given and the configured key is ignored (a `+` or `%20` pasted after a key, not `%E3%80%80`).
/// Query and content type arrive as bytes: whether they are UTF-8 is checked only after the key,
/// so an unauthenticated caller gets the same answer for every malformed request.
pub fn accept(
    method: &[u8],
    query: &[u8],
    content_type: &[u8],
    body: &[u8],
    configured_key: &str,
) -> Result<WebhookRequest> {
    let configured_key = trim_ascii(configured_key);
    if configured_key.is_empty() {
        return Err(Error::Unauthorized);
    }
    let lenient_content_type = String::from_utf8_lossy(content_type);
    match given_key(query, &lenient_content_type, body) {
        Some(given) if verify_key(&given, configured_key) => {}
        _ => return Err(Error::Unauthorized),
    }
    let method = std::str::from_utf8(method).map_err(|_| Error::InvalidParameter("method"))?;
    let query = std::str::from_utf8(query).map_err(|_| Error::NotUtf8("query".into()))?;
    let content_type = std::str::from_utf8(content_type).map_err(|_| Error::NotUtf8("content_type".into()))?;
    form::check_utf8(strip_question_mark(query).as_bytes(), "query")?;
    if body_kind(content_type) == BodyKind::Form && body.len() <= MAX_BODY_BYTES {
        form::check_utf8(body, "body")?;
    }
    parse(method, query, content_type, body)
}

/// Trim ASCII whitespace only: Unicode spaces are part of a value.
fn trim_ascii(value: &str) -> &str {
    value.trim_matches(|c: char| c.is_ascii_whitespace())
}

/// The access key the caller sent (query wins over body), read leniently.
fn given_key(query: &[u8], content_type: &str, body: &[u8]) -> Option<String> {
    let query = query.strip_prefix(b"?").unwrap_or(query);
    let from_query = Params::from_urlencoded(query);
    if let Some(key) = non_empty(from_query.get(&["access_key"])) {
        return Some(key.to_string());
    }
    if body.len() > MAX_BODY_BYTES {
        return None;
    }
    let from_body = match body_kind(content_type) {
        BodyKind::Multipart => Params::default(),
        BodyKind::Json => json_params(body).unwrap_or_default(),
        BodyKind::Form => Params::from_urlencoded(body),
        BodyKind::Other => lenient_params(body),
    };
    non_empty(from_body.get(&["access_key"])).map(str::to_string)
}

/// GET (browser tests, WP Fusion docs), POST (ActiveCampaign, Ontraport) and PUT (Ontraport's
/// newer UI). HEAD is refused: link checkers and previewers send it, and it must not act.
fn check_method(method: &str) -> Result<()> {
    let method = method.trim();
    let known = ["GET", "POST", "PUT"].iter().any(|m| m.eq_ignore_ascii_case(method));
    if known {
        Ok(())
    } else {
        Err(Error::InvalidParameter("method"))
    }
}

fn strip_question_mark(query: &str) -> &str {
    query.strip_prefix('?').unwrap_or(query)
}

fn query_params(query: &str) -> Result<Params> {
    let params = Params::from_urlencoded(strip_question_mark(query).as_bytes());
    if params.contains_nul() {
        return Err(Error::InvalidParameter("query"));
    }
    Ok(params)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BodyKind {
    Form,
    Json,
    Multipart,
    Other,
}

fn body_kind(content_type: &str) -> BodyKind {
    let media_type = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    match media_type.as_str() {
        "application/x-www-form-urlencoded" => BodyKind::Form,
        "application/json" => BodyKind::Json,
        "multipart/form-data" => BodyKind::Multipart,
        other if other.starts_with("application/") && other.ends_with("+json") => BodyKind::Json,
        _ => BodyKind::Other,
    }
}

fn body_params(content_type: &str, body: &[u8]) -> Result<Params> {
    if body.len() > MAX_BODY_BYTES {
        return Err(Error::BodyTooLarge);
    }
    match body_kind(content_type) {
        BodyKind::Form => form_params(body),
        BodyKind::Json => json_params(body),
        BodyKind::Multipart => Ok(Params::default()),
        BodyKind::Other => Ok(lenient_params(body)),
    }
}

/// A form body: UTF-8 only, and no NUL in any key or value (NUL has no business in a webhook
/// and would only smuggle surprises into WordPress).
fn form_params(body: &[u8]) -> Result<Params> {
    if std::str::from_utf8(body).is_err() {
        return Err(Error::MalformedBody("invalid UTF-8"));
    }
    let params = Params::from_urlencoded(body);
    if params.contains_nul() {
        return Err(Error::MalformedBody("NUL byte"));
    }
    Ok(params)
}

/// A JSON object body, flattened into paths like a form (`{"contact":{"id":42}}` ->
/// `contact[id]=42`). An empty body means no parameters.
fn json_params(body: &[u8]) -> Result<Params> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Params::default());
    }
    if std::str::from_utf8(body).is_err() {
        return Err(Error::MalformedBody("invalid UTF-8"));
    }
    // serde_json's own recursion limit (128) turns hostile nesting into an error, not a crash.
    let value: Value = serde_json::from_slice(body).map_err(|_| Error::MalformedBody("invalid JSON"))?;
    let Value::Object(object) = value else {
        return Err(Error::MalformedBody("JSON body is not an object"));
    };
    let mut params = Params::default();
    // An explicit stack instead of recursion; depth is capped like form keys.
    let mut pending: Vec<(Vec<String>, Value)> = object.into_iter().map(|(k, v)| (vec![k], v)).collect();
    while let Some((path, value)) = pending.pop() {
        match value {
            Value::Object(members) if path.len() <= MAX_DEPTH => {
                for (key, member) in members {
                    let mut child = path.clone();
                    child.push(key);
                    pending.push((child, member));
                }
            }
            Value::String(s) => params.insert(path, s),
            Value::Number(n) => params.insert(path, n.to_string()),
            Value::Bool(b) => params.insert(path, b.to_string()),
            // null, arrays and too-deep objects carry nothing we read.
            _ => {}
        }
    }
    if params.contains_nul() {
        return Err(Error::MalformedBody("NUL byte"));
    }
    Ok(params)
}

/// A body whose content type we do not know: try JSON if it looks like JSON, else a form;
/// whatever fails is ignored (the URL carries what Ontraport integrations need).
fn lenient_params(body: &[u8]) -> Params {
    let looks_like_json = body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
    let parsed = if looks_like_json { json_params(body) } else { form_params(body) };
    parsed.unwrap_or_default()
}

fn non_empty(value: Option<&str>) -> Option<&str> {
    value.map(trim_ascii).filter(|v| !v.is_empty())
}

/// A top-level parameter from the query, else from the body; empty counts as absent.
fn query_or_body<'a>(query: &'a Params, body: &'a Params, name: &str) -> Option<&'a str> {
    non_empty(query.get(&[name])).or_else(|| non_empty(body.get(&[name])))
}

fn build_request(query: &Params, body: &Params) -> Result<WebhookRequest> {
    let action = action(query, body)?;
    let contact_id = contact_id(query, body)?;
    let event = event(body);
    // The lookup email matters only without a contact ID; with one it is not kept at all.
    let email = match (&contact_id, email(query, body)?) {
        (Some(_), _) => None,
        (None, Some(email)) => Some(email),
        (None, None) => event.email.clone().filter(|e| is_email_shaped(e)),
    };
    Ok(WebhookRequest {
        action,
        contact_id,
        email,
        role: query_or_body(query, body, "role").map(str::to_string),
        send_notification: query_or_body(query, body, "send_notification").is_some_and(is_truthy),
        async_mode: query_or_body(query, body, "async").and_then(parse_async),
        event,
    })
}

/// `wpf_action` (WP Fusion's name) or `crmhooks_action`; query before body, and within one
/// source `wpf_action` first.
fn action(query: &Params, body: &Params) -> Result<Action> {
    let value = [query, body]
        .iter()
        .flat_map(|source| ["wpf_action", "crmhooks_action"].map(|name| non_empty(source.get(&[name]))))
        .flatten()
        .next()
        .ok_or(Error::MissingParameter("wpf_action"))?;
    match value.to_ascii_lowercase().as_str() {
        "update_tags" => Ok(Action::UpdateTags),
        "update" | "update_user" => Ok(Action::Update),
        "add" | "add_user" => Ok(Action::Add),
        "test" => Ok(Action::Test),
        _ => Err(Error::UnknownAction),
    }
}

/// Body `contact[id]` (ActiveCampaign) wins over query `contact_id` (WP Fusion URLs, Ontraport),
/// then body `contact_id`. The winner must be a plain ID; Ontraport's unreplaced merge field
/// `[Contact ID]` fails here instead of loading a wrong contact.
fn contact_id(query: &Params, body: &Params) -> Result<Option<String>> {
    let raw = body.get(&["contact", "id"]).or_else(|| query.get(&["contact_id"])).or_else(|| body.get(&["contact_id"]));
    let Some(raw) = raw else { return Ok(None) };
    let id = trim_ascii(raw);
    let valid = !id.is_empty() && id.len() <= MAX_CONTACT_ID_LEN && id.bytes().all(|b| b.is_ascii_digit());
    if valid {
        Ok(Some(id.to_string()))
    } else {
        Err(Error::InvalidParameter("contact_id"))
    }
}

/// A top-level `email`: absent or empty is `None`; otherwise it must look like an address
/// (one `@` with text on both sides, no whitespace or control characters).
fn email(query: &Params, body: &Params) -> Result<Option<String>> {
    let Some(email) = query_or_body(query, body, "email") else { return Ok(None) };
    if is_email_shaped(email) {
        Ok(Some(email.to_string()))
    } else {
        Err(Error::InvalidParameter("email"))
    }
}

/// One `@` with text on both sides, no whitespace or control characters, at most 254 bytes.
fn is_email_shaped(email: &str) -> bool {
    email.len() <= MAX_EMAIL_LEN
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && matches!(email.split_once('@'), Some((local, domain)) if !local.is_empty() && !domain.is_empty() && !domain.contains('@'))
}

fn is_truthy(value: &str) -> bool {
    ["true", "1", "yes", "on"].iter().any(|t| t.eq_ignore_ascii_case(value))
}

/// `true`/`1` and `false`/`0` (any case); any other value leaves the choice to the site setting.
fn parse_async(value: &str) -> Option<bool> {
    match value.to_ascii_lowercase().as_str() {
        "true" | "1" => Some(true),
        "false" | "0" => Some(false),
        _ => None,
    }
}

/// What the body says about the CRM event. Empty strings count as absent, except for custom
/// field values (an empty value is a cleared field) and `contact[tags]` (no tags).
fn event(body: &Params) -> Event {
    let text = |path: &[&str]| non_empty(body.get(path)).map(str::to_string);
    Event {
        r#type: text(&["type"]),
        date_time: text(&["date_time"]),
        initiated_from: text(&["initiated_from"]),
        initiated_by: text(&["initiated_by"]),
        seriesid: text(&["seriesid"]),
        tag: text(&["tag"]),
        tags: body.get(&["contact", "tags"]).map(split_tags),
        tags_digest: body
            .get(&["contact", "tags"])
            .map(|joined| crate::crm::tag_lookup::tag_set_digest(&split_tags(joined))),
        fields: body
            .children(&["contact", "fields"])
            .map(|(key, value)| (key.to_string(), value.to_string()))
            .collect(),
        email: text(&["contact", "email"]),
        first_name: text(&["contact", "first_name"]),
        last_name: text(&["contact", "last_name"]),
    }
}

/// ActiveCampaign joins tag names with `", "`.
fn split_tags(joined: &str) -> Vec<String> {
    joined.split(',').map(str::trim).filter(|t| !t.is_empty()).map(str::to_string).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types_are_matched_on_the_media_type_in_any_case() {
        assert_eq!(body_kind("application/x-www-form-urlencoded"), BodyKind::Form);
        assert_eq!(body_kind("Application/X-WWW-Form-URLEncoded; charset=UTF-8"), BodyKind::Form);
        assert_eq!(body_kind(" application/json ; charset=utf-8"), BodyKind::Json);
        assert_eq!(body_kind("application/vnd.api+json"), BodyKind::Json);
        assert_eq!(body_kind("multipart/form-data; boundary=x"), BodyKind::Multipart);
        assert_eq!(body_kind("text/plain"), BodyKind::Other);
        assert_eq!(body_kind(""), BodyKind::Other);
        assert_eq!(body_kind(";;;"), BodyKind::Other);
    }

    #[test]
    fn tags_are_split_trimmed_and_empties_dropped() {
        assert_eq!(split_tags("member, vip"), vec!["member", "vip"]);
        assert_eq!(split_tags(" a ,, b ,"), vec!["a", "b"]);
        assert_eq!(split_tags(""), Vec::<String>::new());
        assert_eq!(split_tags(" , "), Vec::<String>::new());
    }

    #[test]
    fn async_values() {
        assert_eq!(parse_async("true"), Some(true));
        assert_eq!(parse_async("TRUE"), Some(true));
        assert_eq!(parse_async("1"), Some(true));
        assert_eq!(parse_async("false"), Some(false));
        assert_eq!(parse_async("0"), Some(false));
        assert_eq!(parse_async("yes"), None);
        assert_eq!(parse_async("2"), None);
    }

    #[test]
    fn truthy_values() {
        for t in ["true", "1", "yes", "on", "TRUE", "On", "YES"] {
            assert!(is_truthy(t), "{t}");
        }
        for f in ["false", "0", "", "no", "off", "2", "truee"] {
            assert!(!is_truthy(f), "{f}");
        }
    }

    fn id_from_query(query: &str) -> Result<Option<String>> {
        contact_id(&Params::from_urlencoded(query.as_bytes()), &Params::default())
    }

    #[test]
    fn contact_id_rules() {
        assert_eq!(id_from_query("contact_id=42"), Ok(Some("42".into())));
        assert_eq!(id_from_query("contact_id=+42+"), Ok(Some("42".into())));
        assert_eq!(id_from_query(""), Ok(None));
        assert_eq!(id_from_query(&format!("contact_id={}", "9".repeat(20))), Ok(Some("9".repeat(20))));
        for bad in [
            "contact_id=abc",
            "contact_id=a-B_9",
            "contact_id=-42",
            "contact_id=42%E3%80%80",
            "contact_id=",
            "contact_id=+",
            "contact_id=%5BContact+ID%5D",
            "contact_id=[Contact ID]",
            "contact_id=4.2",
            "contact_id=42%27",
            "contact_id=%C3%A9",
            "contact_id=4%0A2",
        ] {
            assert_eq!(id_from_query(bad), Err(Error::InvalidParameter("contact_id")), "{bad}");
        }
        assert_eq!(
            id_from_query(&format!("contact_id={}", "9".repeat(21))),
            Err(Error::InvalidParameter("contact_id"))
        );
    }

    fn email_from_query(query: &str) -> Result<Option<String>> {
        email(&Params::from_urlencoded(query.as_bytes()), &Params::default())
    }

    #[test]
    fn email_rules() {
        assert_eq!(email_from_query("email=jane%40example.com"), Ok(Some("jane@example.com".into())));
        assert_eq!(email_from_query("email=+jane%40example.com+"), Ok(Some("jane@example.com".into())));
        assert_eq!(email_from_query("email="), Ok(None));
        for bad in [
            "email=jane",
            "email=%40example.com",
            "email=jane%40",
            "email=a%40b%40c",
            "email=ja+ne%40x.com",
            "email=%5BEmail%5D",
        ] {
            assert_eq!(email_from_query(bad), Err(Error::InvalidParameter("email")), "{bad}");
        }
        let long = format!("email={}%40x.com", "a".repeat(250));
        assert_eq!(email_from_query(&long), Err(Error::InvalidParameter("email")));
    }

    #[test]
    fn json_is_flattened_like_a_form() {
        let p = json_params(
            br#"{"contact":{"id":42,"fields":{"1":"Gold","x":null,"y":[1]},"tags":"a, b"},"flag":true,"n":1.5}"#,
        )
        .unwrap();
        assert_eq!(p.get(&["contact", "id"]), Some("42"));
        assert_eq!(p.get(&["contact", "fields", "1"]), Some("Gold"));
        assert_eq!(p.get(&["contact", "fields", "x"]), None);
        assert_eq!(p.get(&["contact", "fields", "y"]), None);
        assert_eq!(p.get(&["contact", "tags"]), Some("a, b"));
        assert_eq!(p.get(&["flag"]), Some("true"));
        assert_eq!(p.get(&["n"]), Some("1.5"));
    }

    #[test]
    fn json_depth_is_capped() {
        let mut deep = String::new();
        for _ in 0..MAX_DEPTH + 2 {
            deep.push_str("{\"a\":");
        }
        deep.push_str("\"v\"");
        deep.push_str(&"}".repeat(MAX_DEPTH + 2));
        let p = json_params(deep.as_bytes()).unwrap();
        assert!(p.is_empty(), "values deeper than MAX_DEPTH are dropped");
    }

    #[test]
    fn json_errors_name_the_problem() {
        assert_eq!(json_params(b"{"), Err(Error::MalformedBody("invalid JSON")));
        assert_eq!(json_params(b"[1]"), Err(Error::MalformedBody("JSON body is not an object")));
        assert_eq!(json_params(b"\"x\""), Err(Error::MalformedBody("JSON body is not an object")));
        assert_eq!(json_params(b"{\"a\":\"\xff\"}"), Err(Error::MalformedBody("invalid UTF-8")));
        assert_eq!(json_params(br#"{"a":"x\u0000y"}"#), Err(Error::MalformedBody("NUL byte")));
        assert_eq!(json_params(b"  \n"), Ok(Params::default()));
    }
}

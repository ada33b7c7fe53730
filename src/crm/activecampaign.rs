//! ActiveCampaign API v3 (`{base}/api/3/...`, header `Api-Token`).
//!
//! A contact is one request: `GET contacts/{id}?include=contactTags,fieldValues`, the contact
//! with its tag rows (tag IDs only) and custom field values sideloaded. A server that leaves
//! either out costs one more request each (`contacts/{id}/contactTags`, `.../fieldValues`).
//! Tag names and field titles come from per-account caches that are listed again only when an
//! unknown ID appears, the webhook's tag names disagree, or the cache TTL ends.
//!
//! Why `include` and not the legacy v1 `admin/api.php?api_action=contact_view` (WP Fusion's
//! call, which also returns tag names): v1 takes the API key in the query string, where proxies
//! and access logs keep it, and is the legacy API; `include` stays on v3 with the `Api-Token`
//! header, and the names it lacks are cached. `include` on single contacts is not in the v3
//! reference (public clients use it, e.g. `include=contactTags.tag`), hence the fallbacks. A contact whose email is `deleted+…@` or whose `deleted` is `"1"` is treated
//! as not found, as WP Fusion does: its data must not update a WordPress user (and lists leave
//! it out). Contact lists are `GET contacts` in ID order, paged with `id_greater`.

use std::collections::HashMap;
use std::time::Instant;

use serde_json::{json, Map, Value};

use super::cache::AccountCache;
use super::http::{
    self, check_id, encode, expect_object, string_of, BaseUrl, HttpClient, Method, RawResponse, Timeouts,
};
use super::tag_lookup::{names_disagree, resolve_change, resolve_tag, schema};
use super::{iso_time, listing, rate_limit, ContactPage, Crm, CrmConfig, CrmError, ListedContact, Schema, TagRef};
use crate::contact::{Contact, Field, Tag};

/// Page size for tag, field and contact listings (ActiveCampaign's maximum).
const PAGE_SIZE: usize = 100;
/// Requests one `fetch_contact` costs with warm name caches: the contact with its tag rows.
pub const REQUESTS_PER_FETCH: u32 = 1;
/// What `GET contacts/{id}` is asked to sideload.
const CONTACT_INCLUDE: &str = "include=contactTags%2CfieldValues";
/// Stop listing after this many pages whatever `meta.total` says.
const MAX_PAGES: usize = 100;

/// Standard contact attributes: our key, ActiveCampaign's attribute, label.
const STANDARD_FIELDS: [(&str, &str, &str); 4] = [
    ("email", "email", "Email"),
    ("first_name", "firstName", "First Name"),
    ("last_name", "lastName", "Last Name"),
    ("phone", "phone", "Phone"),
];

/// Tag ID -> name, contact tags only.
static TAG_NAMES: AccountCache<HashMap<String, String>> = AccountCache::new("ac_tags");
/// Field ID -> title.
static FIELD_TITLES: AccountCache<HashMap<String, String>> = AccountCache::new("ac_fields");

pub struct ActiveCampaign {
    http: HttpClient,
    /// Cache and rate-limit key: the base URL (one account per API URL).
    account: String,
}

impl ActiveCampaign {
    pub fn new(config: &CrmConfig) -> Result<Self, CrmError> {
        if config.api_token.trim().is_empty() {
            return Err(CrmError::Permanent("missing credentials: api_token".into()));
        }
        let base = base_url(&config.base_url, config.allow_http_loopback)?;
        let account = base.url.clone();
        let headers = vec![("Api-Token", config.api_token.trim().to_string())];
        let http =
            HttpClient::new(base, headers, account.clone(), rate_limit::ACTIVECAMPAIGN, Timeouts::from_config(config))?;
        Ok(ActiveCampaign { http, account })
    }

    fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        deadline: Instant,
    ) -> Result<RawResponse, CrmError> {
        self.http.send(method, &format!("api/3/{path}"), body, deadline)
    }

    fn get_object(&self, path: &str, deadline: Instant) -> Result<Map<String, Value>, CrmError> {
        expect_object(&self.send(Method::Get, path, None, deadline)?)
    }

    /// The contact's tag rows: (row ID, tag ID).
    fn contact_tag_rows(&self, contact_id: &str, deadline: Instant) -> Result<Vec<(String, String)>, CrmError> {
        tag_rows_of(contact_id, &self.get_object(&format!("contacts/{contact_id}/contactTags"), deadline)?)
    }

    /// List every contact tag (all pages) and store the result in the cache.
    fn refresh_tags(&self, deadline: Instant) -> Result<HashMap<String, String>, CrmError> {
        let names = contact_tag_names(&self.list_all("tags", "tags", deadline)?);
        TAG_NAMES.put(&self.account, names.clone());
        Ok(names)
    }

    fn refresh_fields(&self, deadline: Instant) -> Result<HashMap<String, String>, CrmError> {
        let titles = field_titles(&self.list_all("fields", "fields", deadline)?);
        FIELD_TITLES.put(&self.account, titles.clone());
        Ok(titles)
    }

    /// Page through a listing (`limit`/`offset`) until `meta.total` rows or a short page.
    fn list_all(&self, resource: &str, key: &str, deadline: Instant) -> Result<Vec<Value>, CrmError> {
        let mut rows = Vec::new();
        for page in 0..MAX_PAGES {
            let offset = page * PAGE_SIZE;
            let answer = self.get_object(&format!("{resource}?limit={PAGE_SIZE}&offset={offset}"), deadline)?;
            let (page_rows, done) = listing_page(answer, key, rows.len())?;
            rows.extend(page_rows);
            if done {
                break;
            }
        }
        Ok(rows)
    }

    /// One page of `GET contacts` narrowed by `filter` (an encoded query part), in ID order
    /// after the cursor: the documented `orders[id]=ASC` with `id_greater`, which
    /// ActiveCampaign recommends over `offset` for contact lists. 1 request.
    fn list_contacts(&self, filter: &str, cursor: Option<&str>, since: Option<u64>) -> Result<ContactPage, CrmError> {
        let after = listing::after_id(cursor)?;
        let mut path = format!("contacts?{filter}&orders%5Bid%5D=ASC&limit={PAGE_SIZE}");
        if let Some(after) = after {
            path.push_str(&format!("&id_greater={after}"));
        }
        let mut answer = self.get_object(&path, self.http.deadline())?;
        // meta.total counts the contacts after the cursor, so only the first page's is the list's.
        let total = answer.get("meta").and_then(|meta| string_of(meta.get("total"))).and_then(|t| t.parse().ok());
        let Some(Value::Array(rows)) = answer.remove("contacts") else { return Err(malformed("contacts")) };
        let answered = rows.len();
        let listed = rows.iter().filter_map(Value::as_object).filter(|row| !is_deleted(row)).filter_map(listed_contact);
        listing::keyset_page(listed.collect(), answered, PAGE_SIZE, after, since, total.filter(|_| after.is_none()))
    }

    fn create_tag(&self, name: &str, deadline: Instant) -> Result<String, CrmError> {
        let body = json!({"tag": {"tag": name, "tagType": "contact", "description": ""}});
        let answer = expect_object(&self.send(Method::Post, "tags", Some(&body), deadline)?)?;
        let id = answer.get("tag").and_then(|tag| string_of(tag.get("id"))).ok_or_else(|| malformed("tag"))?;
        TAG_NAMES.update(&self.account, |names| {
            names.insert(id.clone(), name.to_string());
        });
        Ok(id)
    }
}

/// Accept the API URL with or without a trailing `/api/3`.
fn base_url(raw: &str, allow_http_loopback: bool) -> Result<BaseUrl, CrmError> {
    let trimmed = raw.trim().trim_end_matches('/');
    let trimmed = trimmed.strip_suffix("/api/3").unwrap_or(trimmed);
    if trimmed.is_empty() {
        return Err(CrmError::Permanent("missing base URL".into()));
    }
    http::check_base_url(trimmed, allow_http_loopback)
}

/// Forget cached tag names and field labels (all accounts).
pub fn clear_caches() {
    TAG_NAMES.clear();
    FIELD_TITLES.clear();
}

fn malformed(what: &str) -> CrmError {
    CrmError::Temporary(format!("malformed CRM answer: no {what}"))
}

fn is_deleted(contact: &Map<String, Value>) -> bool {
    let deleted_flag = string_of(contact.get("deleted")).is_some_and(|d| d == "1");
    let deleted_email = contact
        .get("email")
        .and_then(Value::as_str)
        .is_some_and(|email| email.trim().to_ascii_lowercase().starts_with("deleted+"));
    deleted_flag || deleted_email
}

/// The contact from raw 200 answer bodies, with no network and no cache: the same checks and
/// mapping as `fetch_contact`, for tests and fuzzing. `contact` is `GET contacts/{id}?include=...`,
/// `contact_tags` `GET contacts/{id}/contactTags` (read only when `contact` has no sideloaded
/// tag rows), `field_values` `GET contacts/{id}/fieldValues` (read only when `contact` has no
/// sideloaded values), `tags` and `fields` one page each of
/// the tag and field listings (read only when the contact has tags or field values).
pub fn contact_from_answers(
    contact_id: &str,
    contact: &str,
    contact_tags: &str,
    field_values: &str,
    tags: &str,
    fields: &str,
) -> Result<Contact, CrmError> {
    let answer = |body: &str| expect_object(&RawResponse::ok(body));
    let listing = |body: &str, key: &str| Ok::<_, CrmError>(listing_page(answer(body)?, key, 0)?.0);
    let id = check_id(contact_id)?;
    let (record, sideloaded, sideloaded_tags) = contact_answer(id, answer(contact)?)?;
    let tag_rows = match sideloaded_tags {
        Some(rows) => rows,
        None => tag_rows_of(id, &answer(contact_tags)?)?,
    };
    let tag_ids: Vec<String> = tag_rows.into_iter().map(|(_, tag)| tag).collect();
    let names = if tag_ids.is_empty() { HashMap::new() } else { contact_tag_names(&listing(tags, "tags")?) };
    let field_values = match sideloaded {
        Some(values) => values,
        None => listed_field_values(answer(field_values)?)?,
    };
    let values = field_value_pairs(id, &field_values);
    let titles = if values.is_empty() { HashMap::new() } else { field_titles(&listing(fields, "fields")?) };
    Ok(contact_from(id, &record, tag_ids, &names, values, &titles))
}

/// A `GET contacts/{id}` answer checked: the contact record and, when sideloaded, its field
/// values and its tag rows. Another contact is malformed; a deleted one is `NotFound`.
#[allow(clippy::type_complexity)]
fn contact_answer(
    id: &str,
    mut answer: Map<String, Value>,
) -> Result<(Map<String, Value>, Option<Value>, Option<Vec<(String, String)>>), CrmError> {
    let Some(Value::Object(record)) = answer.remove("contact") else { return Err(malformed("contact")) };
    let returned_id = string_of(record.get("id")).ok_or_else(|| malformed("contact id"))?;
    if returned_id != id {
        return Err(CrmError::Temporary("malformed CRM answer: another contact".into()));
    }
    if is_deleted(&record) {
        return Err(CrmError::NotFound);
    }
    let tag_rows = if answer.contains_key("contactTags") { Some(tag_rows_of(id, &answer)?) } else { None };
    Ok((record, answer.remove("fieldValues"), tag_rows))
}

/// A contact list row as `(numeric ID, contact)`; rows without a numeric ID are left out.
/// `udate` (`2024-02-28T07:16:48-06:00`) is when the contact last changed.
fn listed_contact(row: &Map<String, Value>) -> Option<(u64, ListedContact)> {
    let id = string_of(row.get("id"))?;
    let number = check_id(&id).ok()?.parse().ok()?;
    let email = string_of(row.get("email")).unwrap_or_default();
    let updated_at = string_of(row.get("udate")).and_then(|udate| iso_time::parse(&udate));
    Some((number, ListedContact { id: number.to_string(), email, updated_at }))
}

/// The `contactTags` of an answer (listed or sideloaded): (row ID, tag ID) per well-formed row
/// of contact `id` (a row naming another contact is left out).
fn tag_rows_of(id: &str, answer: &Map<String, Value>) -> Result<Vec<(String, String)>, CrmError> {
    let rows = answer.get("contactTags").and_then(Value::as_array).ok_or_else(|| malformed("contactTags"))?;
    Ok(rows
        .iter()
        .filter(|row| string_of(row.get("contact")).map_or(true, |c| c == id))
        .filter_map(|row| Some((string_of(row.get("id"))?, string_of(row.get("tag"))?)))
        .collect())
}

/// A `GET contacts/{id}/fieldValues` answer's values.
fn listed_field_values(mut answer: Map<String, Value>) -> Result<Value, CrmError> {
    answer.remove("fieldValues").ok_or_else(|| malformed("fieldValues"))
}

/// One listing page: its rows under `key`, and whether the listing is complete given the
/// rows listed before this page (`meta.total` reached, or an empty or short page).
fn listing_page(
    mut answer: Map<String, Value>,
    key: &str,
    listed_before: usize,
) -> Result<(Vec<Value>, bool), CrmError> {
    let total =
        answer.get("meta").and_then(|meta| string_of(meta.get("total"))).and_then(|total| total.parse::<usize>().ok());
    let Some(Value::Array(rows)) = answer.remove(key) else { return Err(malformed(key)) };
    let count = rows.len();
    let done = match total {
        Some(total) => listed_before.saturating_add(count) >= total || count == 0,
        None => count < PAGE_SIZE,
    };
    Ok((rows, done))
}

/// Tag ID -> name for the contact tags among listing rows (deal and other tags are left out).
fn contact_tag_names(rows: &[Value]) -> HashMap<String, String> {
    let mut names = HashMap::new();
    for row in rows {
        let tag_type = row.get("tagType").and_then(Value::as_str).unwrap_or("contact");
        if let (true, Some(id), Some(name)) =
            (tag_type == "contact", string_of(row.get("id")), string_of(row.get("tag")))
        {
            names.insert(id, name);
        }
    }
    names
}

/// Field ID -> title from listing rows.
fn field_titles(rows: &[Value]) -> HashMap<String, String> {
    let mut titles = HashMap::new();
    for row in rows {
        if let (Some(id), Some(title)) = (string_of(row.get("id")), string_of(row.get("title"))) {
            titles.insert(id, title);
        }
    }
    titles
}

/// (field ID, value) for the field value rows of contact `id`; rows of another contact, rows
/// without a field and a `fieldValues` that is not an array are left out.
fn field_value_pairs(id: &str, field_values: &Value) -> Vec<(String, String)> {
    field_values
        .as_array()
        .map(|rows| {
            rows.iter()
                .filter(|row| string_of(row.get("contact")).map_or(true, |c| c == id))
                .filter_map(|row| Some((string_of(row.get("field"))?, string_of(row.get("value")).unwrap_or_default())))
                .collect()
        })
        .unwrap_or_default()
}

/// The normalized contact: standard fields first, then custom fields by first appearance;
/// tags without a known contact-tag name and repeated tags or fields are left out.
fn contact_from(
    id: &str,
    record: &Map<String, Value>,
    tag_ids: Vec<String>,
    names: &HashMap<String, String>,
    values: Vec<(String, String)>,
    titles: &HashMap<String, String>,
) -> Contact {
    let attribute = |name: &str| string_of(record.get(name)).unwrap_or_default();
    let mut tags: Vec<Tag> = Vec::new();
    for tag_id in tag_ids {
        // A tag that is not a contact tag (or vanished) has no name to offer: skip it.
        if let Some(name) = names.get(&tag_id) {
            if !tags.iter().any(|t| t.id == tag_id) {
                tags.push(Tag { id: tag_id, name: name.clone() });
            }
        }
    }
    let mut fields: Vec<Field> = STANDARD_FIELDS
        .iter()
        .map(|(key, attr, label)| Field { key: key.to_string(), label: label.to_string(), value: attribute(attr) })
        .collect();
    for (field, value) in values {
        if !fields.iter().any(|f| f.key == field) {
            let label = titles.get(&field).cloned().unwrap_or_default();
            fields.push(Field { key: field, label, value });
        }
    }
    Contact {
        id: id.to_string(),
        email: attribute("email"),
        first_name: attribute("firstName"),
        last_name: attribute("lastName"),
        tags,
        fields,
    }
}

impl Crm for ActiveCampaign {
    /// 1 request (3 from a server that sideloads nothing); more when the tag or field cache
    /// misses an ID (tag and field listings).
    fn fetch_contact(&self, contact_id: &str) -> Result<Contact, CrmError> {
        self.fetch_contact_expecting(contact_id, None)
    }

    /// As `fetch_contact`; 1 more request (the tag listing) when the webhook's tag names
    /// disagree with the cached names of the contact's tags.
    fn fetch_contact_expecting(&self, contact_id: &str, tags_digest: Option<&str>) -> Result<Contact, CrmError> {
        let id = check_id(contact_id)?;
        let deadline = self.http.deadline();
        let answer = self.get_object(&format!("contacts/{id}?{CONTACT_INCLUDE}"), deadline)?;
        let (record, sideloaded, sideloaded_tags) = contact_answer(id, answer)?;
        let tag_rows = match sideloaded_tags {
            Some(rows) => rows,
            None => self.contact_tag_rows(id, deadline)?, // A server without `include`.
        };
        let tag_ids: Vec<String> = tag_rows.into_iter().map(|(_, tag)| tag).collect();
        let mut listed = false;
        let mut names = TAG_NAMES.covering(&self.account, &tag_ids, || {
            listed = true;
            self.refresh_tags(deadline)
        })?;
        if let Some(expected) = tags_digest.filter(|_| !listed) {
            let resolved: Vec<String> = tag_ids.iter().filter_map(|id| names.get(id).cloned()).collect();
            if names_disagree(expected, &resolved) {
                names = self.refresh_tags(deadline)?;
            }
        }
        // A server that leaves fieldValues out costs one more request rather than a contact
        // with no custom fields.
        let field_values = match sideloaded {
            Some(values) => values,
            None => listed_field_values(self.get_object(&format!("contacts/{id}/fieldValues"), deadline)?)?,
        };
        let values = field_value_pairs(id, &field_values);
        let field_ids: Vec<String> = values.iter().map(|(field, _)| field.clone()).collect();
        let titles = FIELD_TITLES.covering(&self.account, &field_ids, || self.refresh_fields(deadline))?;
        Ok(contact_from(id, &record, tag_ids, &names, values, &titles))
    }

    /// 1 request.
    fn find_contact_by_email(&self, email: &str) -> Result<Option<String>, CrmError> {
        let email = email.trim();
        if email.is_empty() {
            return Err(CrmError::Permanent("missing email".into()));
        }
        let answer = self.get_object(&format!("contacts?email={}", encode(email)), self.http.deadline())?;
        let contacts = answer.get("contacts").and_then(Value::as_array).ok_or_else(|| malformed("contacts"))?;
        let found = contacts.iter().filter_map(Value::as_object).find(|contact| {
            let same_email =
                contact.get("email").and_then(Value::as_str).is_some_and(|e| e.trim().eq_ignore_ascii_case(email));
            same_email && !is_deleted(contact)
        });
        Ok(found.and_then(|contact| string_of(contact.get("id"))))
    }

    /// 1 request.
    fn write_field(&self, contact_id: &str, field_key: &str, value: &str) -> Result<(), CrmError> {
        let id = check_id(contact_id)?;
        let key = field_key.trim();
        let contact = if let Some((_, attr, _)) = STANDARD_FIELDS.iter().find(|(ours, _, _)| *ours == key) {
            json!({ *attr: value })
        } else if !key.is_empty() && key.len() <= 20 && key.chars().all(|c| c.is_ascii_digit()) {
            json!({"fieldValues": [{"field": key, "value": value}]})
        } else {
            return Err(CrmError::Permanent("unknown field key".into()));
        };
        // A 2xx JSON answer means the write was taken; its members are not needed, so a server
        // that answers with less than the documented echo is not mistaken for a failure.
        expect_object(&self.send(
            Method::Put,
            &format!("contacts/{id}"),
            Some(&json!({ "contact": contact })),
            self.http.deadline(),
        )?)?;
        Ok(())
    }

    /// Warm cache: 1 POST per added tag; for removals 1 GET of the contact's tags plus
    /// 1 DELETE per removed tag the contact has. Plus the tag listing when a name is
    /// unknown, and 1 POST per tag created.
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

        for tag_id in &add_ids {
            let body = json!({"contactTag": {"contact": id, "tag": tag_id}});
            expect_object(&self.send(Method::Post, "contactTags", Some(&body), deadline)?)?;
        }
        if !remove_ids.is_empty() {
            let rows = self.contact_tag_rows(id, deadline)?;
            for (row_id, _) in rows.iter().filter(|(_, tag)| remove_ids.contains(tag)) {
                let response = self.send(Method::Delete, &format!("contactTags/{}", encode(row_id)), None, deadline)?;
                // Already gone is what we wanted.
                if !response.is_success() && response.status != 404 {
                    return Err(http::status_error(&response));
                }
            }
        }
        Ok(())
    }

    /// Tag pages + field pages (2 requests for small accounts); refreshes both caches.
    fn list_schema(&self) -> Result<Schema, CrmError> {
        let deadline = self.http.deadline();
        let tag_names = self.refresh_tags(deadline)?;
        let titles = self.refresh_fields(deadline)?;
        let custom = titles.into_iter().map(|(key, label)| Field { key, label, value: String::new() }).collect();
        Ok(schema(tag_names, &STANDARD_FIELDS, custom))
    }

    /// 1 request: the documented `filters[updated_after]`, sent as a UTC time with its zone, a
    /// second early so that a strict "after" still lists a change stamped at `since`. The spec
    /// types the filter as a date, so contacts the answer shows as changed before `since` are
    /// dropped here.
    fn list_modified(&self, since: u64, cursor: Option<&str>) -> Result<ContactPage, CrmError> {
        let after = iso_time::format_utc(since.saturating_sub(1));
        let filter = format!("filters%5Bupdated_after%5D={}", encode(&after));
        self.list_contacts(&filter, cursor, Some(since))
    }

    /// 1 request (`tagid`); plus the tag listing when a name is not in the cache.
    fn list_tagged(&self, tag: &TagRef, cursor: Option<&str>) -> Result<ContactPage, CrmError> {
        let tag_id = resolve_tag(tag, TAG_NAMES.get(&self.account), || self.refresh_tags(self.http.deadline()))?;
        self.list_contacts(&format!("tagid={tag_id}"), cursor, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_url_accepts_the_api_suffix() {
        assert_eq!(base_url("https://acct.api-us1.com/api/3/", false).unwrap().url, "https://acct.api-us1.com/");
        assert_eq!(base_url("https://acct.api-us1.com", false).unwrap().url, "https://acct.api-us1.com/");
        assert!(base_url("", false).is_err());
        assert!(base_url("http://127.0.0.1:8085/api/3", false).is_err());
        assert_eq!(base_url("http://127.0.0.1:8085/api/3", true).unwrap().url, "http://127.0.0.1:8085/");
    }

    #[test]
    fn deleted_contacts_are_recognized() {
        let contact = |v: Value| v.as_object().cloned().unwrap();
        assert!(is_deleted(&contact(json!({"email": "deleted+42@example.com", "deleted": "0"}))));
        assert!(is_deleted(&contact(json!({"email": "a@example.com", "deleted": "1"}))));
        assert!(!is_deleted(&contact(json!({"email": "a@example.com", "deleted": "0"}))));
    }

    const CONTACT: &str = r#"{"contact":{"id":"42","email":"jane@example.com","firstName":"Jane","lastName":"Doe",
        "phone":"","deleted":"0"},"fieldValues":[{"contact":"42","field":"1","value":"Gold"},
        {"contact":"43","field":"7","value":"other contact"},{"contact":"42","field":"1","value":"again"}]}"#;
    const CONTACT_TAGS: &str =
        r#"{"contactTags":[{"id":"100","tag":"3"},{"id":"101","tag":"9"},{"id":"102","tag":"3"},{"tag":"4"}]}"#;
    const TAGS: &str = r#"{"tags":[{"id":"3","tag":"member","tagType":"contact"},
        {"id":"9","tag":"deal","tagType":"deal"},{"id":"4","tag":"vip"}],"meta":{"total":"3"}}"#;
    const FIELDS: &str = r#"{"fields":[{"id":"1","title":"Level"},{"id":"7","title":"Interests"}]}"#;

    #[test]
    fn contact_from_answers_maps_like_fetch_contact() {
        let contact = contact_from_answers(" 42 ", CONTACT, CONTACT_TAGS, "", TAGS, FIELDS).unwrap();
        assert_eq!(
            (contact.id.as_str(), contact.email.as_str(), contact.first_name.as_str()),
            ("42", "jane@example.com", "Jane")
        );
        assert_eq!(contact.tags, vec![Tag { id: "3".into(), name: "member".into() }], "deal tags and repeats left out");
        let keys: Vec<&str> = contact.fields.iter().map(|f| f.key.as_str()).collect();
        assert_eq!(keys, ["email", "first_name", "last_name", "phone", "1"]);
        assert_eq!(contact.field("1"), Some("Gold"));
        assert_eq!(contact.fields[4].label, "Level");
    }

    #[test]
    fn sideloaded_tag_rows_replace_the_tag_request() {
        let with_tags = r#"{"contact":{"id":"42","email":"jane@example.com"},"fieldValues":[],
            "contactTags":[{"id":"100","tag":"4","contact":"42"},{"id":"101","tag":"3","contact":"43"}]}"#;
        // The separate answer would fail: it is not read when the rows were sideloaded.
        let contact = contact_from_answers("42", with_tags, "not json", "", TAGS, FIELDS).unwrap();
        assert_eq!(contact.tags, vec![Tag { id: "4".into(), name: "vip".into() }], "another contact's row left out");
        let broken = r#"{"contact":{"id":"42"},"fieldValues":[],"contactTags":{}}"#;
        assert_eq!(contact_from_answers("42", broken, "", "", TAGS, FIELDS).unwrap_err(), malformed("contactTags"));
    }

    #[test]
    fn contact_from_answers_reads_listed_field_values_when_not_sideloaded() {
        let contact = r#"{"contact":{"id":"42","email":"jane@example.com"}}"#;
        let listed = r#"{"fieldValues":[{"contact":"42","field":"7","value":"Golf"}]}"#;
        let mapped = contact_from_answers("42", contact, r#"{"contactTags":[]}"#, listed, "", FIELDS).unwrap();
        assert_eq!(mapped.field("7"), Some("Golf"));
        assert!(mapped.tags.is_empty());
        let error = contact_from_answers("42", contact, r#"{"contactTags":[]}"#, "{}", "", FIELDS).unwrap_err();
        assert_eq!(error, malformed("fieldValues"));
    }

    #[test]
    fn contact_from_answers_refuses_what_fetch_contact_refuses() {
        let tags = r#"{"contactTags":[]}"#;
        let refuse = |contact: &str| contact_from_answers("42", contact, tags, "{}", "{}", "{}").unwrap_err();
        assert_eq!(refuse(r#"{"contact":{"id":"42","deleted":"1"},"fieldValues":[]}"#), CrmError::NotFound);
        assert_eq!(
            refuse(r#"{"contact":{"id":"42","email":"deleted+42@x.com"},"fieldValues":[]}"#),
            CrmError::NotFound
        );
        let another = refuse(r#"{"contact":{"id":"43"},"fieldValues":[]}"#);
        assert!(matches!(another, CrmError::Temporary(m) if m.contains("another")));
        assert_eq!(refuse(r#"{"contact":[]}"#), malformed("contact"));
        assert_eq!(refuse(r#"{"contact":{"id":null}}"#), malformed("contact id"));
        assert!(matches!(refuse("<html>"), CrmError::Temporary(_)));
        assert!(matches!(contact_from_answers("4x", CONTACT, tags, "", "", ""), Err(CrmError::Permanent(_))));
        let no_tags = contact_from_answers("42", r#"{"contact":{"id":"42"},"fieldValues":[]}"#, "{}", "", "", "");
        assert_eq!(no_tags.unwrap_err(), malformed("contactTags"));
        // A tag listing is needed (the contact has tags) and is not one.
        let bad_listing = contact_from_answers("42", CONTACT, CONTACT_TAGS, "", r#"{"tags":{}}"#, FIELDS);
        assert_eq!(bad_listing.unwrap_err(), malformed("tags"));
    }

    #[test]
    fn listing_pages_end_on_total_or_a_short_page() {
        let page = |json: Value, before| listing_page(json.as_object().cloned().unwrap(), "tags", before).unwrap().1;
        assert!(page(json!({"tags": [1, 2], "meta": {"total": "2"}}), 0));
        assert!(!page(json!({"tags": [1, 2], "meta": {"total": 5}}), 0));
        assert!(page(json!({"tags": [], "meta": {"total": "5"}}), 2));
        assert!(page(json!({"tags": [1], "meta": {"total": "x"}}), usize::MAX));
        assert!(!page(json!({"tags": vec![0; PAGE_SIZE]}), 0));
    }
}

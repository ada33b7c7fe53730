//! The settings document (the `crmhooks_settings` option): every key, its default and its rule,
//! in one table. The shim stores what `normalize` returns and reads it back through it, so PHP
//! and the library can never disagree on a default or on what a valid value is.
//!
//! Reading (`submitted` absent): each stored value that breaks its rule falls back to its
//! default, silently (a stored value is not the admin's input). Saving: each submitted value
//! that breaks its rule is refused with a problem naming the field, and the stored value stays;
//! nothing is clamped. Then roles and mappings go through `review`, by the rules webhooks obey.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::{review, RoleInfo, Settings, SettingsProblem};

/// How a key's value is checked.
#[derive(Clone, Copy)]
enum Rule {
    /// One of these words.
    Choice(&'static [&'static str]),
    /// A whole number in this range.
    Number(u64, u64),
    Flag,
    /// One line of text; a credential when `secret` (a blank submission keeps the stored one).
    Text {
        secret: bool,
    },
    /// The CRM's API URL: https, or http to a loopback host on development sites.
    BaseUrl,
    /// The access key: only in the generated format (it has its own screen).
    AccessKey,
    /// A role slug, as WordPress's `sanitize_key` leaves it.
    Slug,
    /// A list of slugs (an array, or words separated by commas or white space).
    SlugList,
    /// Meta keys the admin protects on top of the built-in list (`*` ends a prefix).
    KeyList,
    /// CRM field -> WordPress field pairs (an array of pairs, or `crm = wp` lines).
    FieldMap,
}

const CRMS: &[&str] = &["activecampaign", "ontraport"];
const USERNAME_FORMATS: &[&str] = &["email", "first_last", "first_number"];

/// Every key of the document: name, default, rule. The queue's tuning keys are not on the
/// settings screen; a host may set them (the tests use short values).
fn keys() -> Vec<(&'static str, Value, Rule)> {
    vec![
        ("access_key", json!(""), Rule::AccessKey),
        ("crm", json!("activecampaign"), Rule::Choice(CRMS)),
        ("ac_base_url", json!(""), Rule::BaseUrl),
        ("ac_api_token", json!(""), Rule::Text { secret: true }),
        ("op_base_url", json!("https://api.ontraport.com/1/"), Rule::BaseUrl),
        ("op_app_id", json!(""), Rule::Text { secret: true }),
        ("op_api_key", json!(""), Rule::Text { secret: true }),
        ("default_role", json!("subscriber"), Rule::Slug),
        ("role_allowlist", json!([]), Rule::SlugList),
        ("field_map", json!([]), Rule::FieldMap),
        ("meta_denylist", json!([]), Rule::KeyList),
        ("username_format", json!("email"), Rule::Choice(USERNAME_FORMATS)),
        ("return_password", json!(false), Rule::Flag),
        ("password_field", json!(""), Rule::Text { secret: false }),
        ("async", json!(true), Rule::Flag),
        ("loopback_window_secs", json!(60), Rule::Number(0, 3600)),
        ("queue_max", json!(1000), Rule::Number(1, 1_000_000)),
        ("max_attempts", json!(8), Rule::Number(1, 100)),
        // A busy contact's job runs at the latest this long after its first webhook.
        ("coalesce_cap_secs", json!(30), Rule::Number(0, 3600)),
        // Finished jobs are pruned after retention_days; the log keeps outcomes longer.
        ("retention_days", json!(7), Rule::Number(1, 3650)),
        ("log_retention_days", json!(90), Rule::Number(1, 3650)),
        ("settle_secs", json!(2), Rule::Number(0, 300)),
        ("lease_secs", json!(60), Rule::Number(1, 3600)),
        ("retry_base_secs", json!(30), Rule::Number(0, 86_400)),
        ("retry_max_secs", json!(3600), Rule::Number(0, 86_400)),
        ("drain_budget_secs", json!(20), Rule::Number(1, 300)),
        ("drain_batch", json!(100), Rule::Number(1, 10_000)),
        // Off: no web request drains the queue (no drain after an answer, no successor request);
        // WP-Cron or a system cron does, so a small PHP-FPM pool keeps every worker for answers.
        ("drain_in_web_requests", json!(true), Rule::Flag),
        // The reconcile sweep (src/reconcile.rs): off switch, how often, its share of the CRM's rate.
        ("reconcile_enabled", json!(true), Rule::Flag),
        ("reconcile_interval_mins", json!(15), Rule::Number(5, 1440)),
        ("reconcile_rate_share", json!(20), Rule::Number(1, 100)),
        // Import by tag: an admin waits, but webhooks keep the rest of the rate.
        ("import_rate_share", json!(50), Rule::Number(1, 100)),
    ]
}

/// `crmh_settings_normalize` input.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct NormalizeInput {
    /// The stored option (secrets decrypted), or nothing on a new site.
    pub stored: Map<String, Value>,
    /// What the admin submitted; absent when the document is only read.
    pub submitted: Option<Map<String, Value>>,
    /// The site's roles (for the review of a submission).
    #[serde(deserialize_with = "crate::diff::php_json::list")]
    pub roles: Vec<RoleInfo>,
    /// Plain http to a loopback CRM is allowed (the development constant is defined).
    pub allow_http_loopback: bool,
}

/// The whole document, every key present and valid, and what was refused.
#[derive(Debug, Clone, Serialize, Default, PartialEq)]
pub struct Normalized {
    pub settings: Map<String, Value>,
    pub problems: Vec<SettingsProblem>,
}

pub fn normalize(input: &NormalizeInput) -> Normalized {
    let mut out = Normalized::default();
    for (key, default, rule) in keys() {
        let stored = input.stored.get(key).and_then(|v| check(rule, v, input.allow_http_loopback).ok());
        let mut value = stored.unwrap_or(default);
        if let Some(submitted) = input.submitted.as_ref().and_then(|s| s.get(key)) {
            match check(rule, submitted, input.allow_http_loopback) {
                Ok(_) if is_blank_secret(rule, submitted) => {}
                Ok(accepted) => value = accepted,
                Err(refusal) => out.problems.push(refusal.problem(key, submitted)),
            }
        }
        out.settings.insert(key.to_string(), value);
    }
    if input.submitted.is_some() {
        apply_review(&mut out, &input.roles, &input.stored);
    }
    out
}

pub fn normalize_json(json: &str) -> crate::error::Result<String> {
    let input: NormalizeInput = serde_json::from_str(json).map_err(|e| crate::error::Error::from_json(&e))?;
    serde_json::to_string(&normalize(&input)).map_err(|e| crate::error::Error::from_json(&e))
}

/// Why a value was refused: a code for the shim's translated message, and the allowed range.
struct Refusal {
    code: &'static str,
    message: &'static str,
    range: Option<(u64, u64)>,
}

impl Refusal {
    fn new(code: &'static str, message: &'static str) -> Self {
        Refusal { code, message, range: None }
    }

    fn problem(self, field: &str, submitted: &Value) -> SettingsProblem {
        let value = match submitted {
            Value::String(text) => text.chars().take(100).collect(),
            other => other.to_string().chars().take(100).collect(),
        };
        // A refused credential is never echoed back.
        let value = if matches!(field, "ac_api_token" | "op_app_id" | "op_api_key" | "access_key") {
            String::new()
        } else {
            value
        };
        SettingsProblem {
            field: field.into(),
            code: self.code.into(),
            message: self.message.into(),
            value,
            min: self.range.map(|r| r.0),
            max: self.range.map(|r| r.1),
        }
    }
}

fn is_blank_secret(rule: Rule, value: &Value) -> bool {
    matches!(rule, Rule::Text { secret: true } | Rule::AccessKey)
        && value.as_str().map_or(true, |s| s.trim().is_empty())
}

/// The value as stored, or why it is refused.
fn check(rule: Rule, value: &Value, allow_http_loopback: bool) -> Result<Value, Refusal> {
    let text = || value_text(value);
    match rule {
        Rule::Choice(words) => {
            let word = text().ok_or(Refusal::new("invalid_choice", "choose one of the listed values"))?;
            words
                .iter()
                .find(|w| **w == word.trim())
                .map(|w| json!(w))
                .ok_or(Refusal::new("invalid_choice", "choose one of the listed values"))
        }
        Rule::Number(min, max) => {
            let refusal =
                Refusal { code: "invalid_number", message: "enter a whole number in range", range: Some((min, max)) };
            let number = match value {
                Value::Number(n) => n.as_u64(),
                Value::String(s) if !s.trim().is_empty() && s.trim().bytes().all(|b| b.is_ascii_digit()) => {
                    s.trim().parse().ok()
                }
                _ => None,
            };
            number.filter(|n| (min..=max).contains(n)).map(|n| json!(n)).ok_or(refusal)
        }
        Rule::Flag => match value {
            Value::Bool(b) => Ok(json!(b)),
            Value::Number(n) => Ok(json!(n.as_u64() == Some(1))),
            Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
                "1" | "true" | "yes" | "on" => Ok(json!(true)),
                "" | "0" | "false" | "no" | "off" => Ok(json!(false)),
                _ => Err(Refusal::new("invalid_flag", "choose on or off")),
            },
            Value::Null => Ok(json!(false)),
            _ => Err(Refusal::new("invalid_flag", "choose on or off")),
        },
        Rule::Text { .. } => {
            let line = text().ok_or(Refusal::new("invalid_text", "enter one line of text"))?;
            let line = line.trim();
            if line.chars().any(char::is_control) || line.chars().count() > 500 {
                return Err(Refusal::new("invalid_text", "enter one line of text"));
            }
            Ok(json!(line))
        }
        Rule::BaseUrl => {
            let url = text().ok_or(Refusal::new("invalid_url", "enter the CRM's API URL"))?;
            if url.trim().is_empty() {
                return Ok(json!(""));
            }
            crate::crm::http::check_base_url(&url, allow_http_loopback)
                .map(|_| json!(url.trim()))
                .map_err(|_| Refusal::new("url_not_https", "the CRM API URL must start with https://"))
        }
        Rule::AccessKey => {
            let key = text().unwrap_or_default();
            let key = key.trim();
            let generated = (16..=128).contains(&key.len())
                && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if generated || key.is_empty() {
                Ok(json!(key))
            } else {
                Err(Refusal::new("invalid_access_key", "the access key is generated on its own screen"))
            }
        }
        Rule::Slug => {
            let slug = text().map(|t| slug_of(&t)).unwrap_or_default();
            if slug.is_empty() {
                Err(Refusal::new("invalid_role", "choose a role"))
            } else {
                Ok(json!(slug))
            }
        }
        Rule::SlugList => Ok(json!(unique(words(value).iter().map(|w| slug_of(w))))),
        Rule::KeyList => Ok(json!(unique(words(value).iter().map(|w| meta_key_pattern(w))))),
        Rule::FieldMap => Ok(Value::Array(field_map(value))),
    }
}

fn value_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(if *b { "1" } else { "0" }.into()),
        _ => None,
    }
}

/// WordPress's `sanitize_key`: lowercased, only `a-z 0-9 _ -`.
fn slug_of(text: &str) -> String {
    text.to_ascii_lowercase().chars().filter(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-').collect()
}

/// A meta key as a mapping or the denylist may name it: printable ASCII without spaces.
fn meta_key_pattern(text: &str) -> String {
    text.trim().chars().filter(|c| c.is_ascii_graphic() && !matches!(c, '<' | '>' | '"' | '\'' | '&')).collect()
}

fn unique(items: impl Iterator<Item = String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for item in items.filter(|i| !i.is_empty()) {
        if !out.contains(&item) {
            out.push(item);
        }
    }
    out
}

/// The words of a list value: array members, or text split on commas and white space.
fn words(value: &Value) -> Vec<String> {
    match value {
        Value::Array(items) => items.iter().filter_map(value_text).collect(),
        Value::Object(items) => items.values().filter_map(value_text).collect(),
        Value::String(text) => text.split(|c: char| c == ',' || c.is_whitespace()).map(str::to_string).collect(),
        _ => Vec::new(),
    }
}

fn field_map(value: &Value) -> Vec<Value> {
    let pairs: Vec<(String, String)> = match value {
        Value::String(text) => text
            .lines()
            .filter_map(|line| line.split_once('='))
            .map(|(crm, wp)| (crm.trim().to_string(), wp.trim().to_string()))
            .collect(),
        Value::Array(_) | Value::Object(_) => {
            let rows: Vec<&Value> = match value {
                Value::Array(rows) => rows.iter().collect(),
                Value::Object(rows) => rows.values().collect(),
                _ => Vec::new(),
            };
            rows.iter()
                .map(|row| {
                    let member = |name: &str| row.get(name).and_then(value_text).unwrap_or_default();
                    (member("crm_key"), member("wp_key"))
                })
                .collect()
        }
        _ => Vec::new(),
    };
    pairs
        .into_iter()
        .map(|(crm, wp)| (crm.trim().chars().filter(|c| !c.is_control()).collect::<String>(), slug_of(&wp)))
        .filter(|(crm, wp)| !crm.is_empty() && !wp.is_empty())
        .map(|(crm, wp)| json!({"crm_key": crm, "wp_key": wp}))
        .collect()
}

/// Refuse privileged roles and protected mappings, keeping the stored value for each.
fn apply_review(out: &mut Normalized, roles: &[RoleInfo], stored: &Map<String, Value>) {
    let mut settings: Settings = serde_json::from_value(Value::Object(out.settings.clone())).unwrap_or_default();
    settings.roles = roles.to_vec();
    for problem in review(&settings).problems {
        let value = json!(problem.value);
        match problem.field.as_str() {
            "role_allowlist" => retain(&mut out.settings, "role_allowlist", |v| *v != value),
            "field_map" => retain(&mut out.settings, "field_map", |m| m.get("wp_key") != Some(&value)),
            "default_role" => {
                let kept = stored
                    .get("default_role")
                    .and_then(|v| check(Rule::Slug, v, false).ok())
                    .filter(|v| *v != value)
                    .unwrap_or(json!("subscriber"));
                out.settings.insert("default_role".into(), kept);
            }
            _ => {}
        }
        out.problems.push(problem);
    }
}

fn retain(settings: &mut Map<String, Value>, key: &str, keep: impl Fn(&Value) -> bool) {
    if let Some(Value::Array(items)) = settings.get_mut(key) {
        items.retain(|item| keep(item));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(stored: Value, submitted: Option<Value>) -> Normalized {
        let role = |slug: &str, caps: &[&str]| RoleInfo {
            slug: slug.into(),
            name: slug.into(),
            capabilities: caps.iter().map(|c| c.to_string()).collect(),
        };
        normalize(&NormalizeInput {
            stored: stored.as_object().cloned().unwrap_or_default(),
            submitted: submitted.and_then(|s| s.as_object().cloned()),
            roles: vec![role("subscriber", &["read"]), role("customer", &["read"]), role("fixer", &["edit_plugins"])],
            allow_http_loopback: false,
        })
    }

    #[test]
    fn a_new_site_gets_every_default() {
        let n = run(json!({}), None);
        assert_eq!(n.settings["crm"], "activecampaign");
        assert_eq!(n.settings["queue_max"], 1000);
        assert_eq!(n.settings["async"], true);
        assert_eq!(n.settings["role_allowlist"], json!([]));
        assert_eq!(n.settings["reconcile_enabled"], true);
        assert_eq!(n.settings["reconcile_interval_mins"], 15);
        assert_eq!(n.settings["reconcile_rate_share"], 20);
        assert_eq!(n.settings.len(), keys().len());
        assert!(n.problems.is_empty());
    }

    #[test]
    fn broken_stored_values_fall_back_silently_and_good_ones_stay() {
        let n = run(json!({"queue_max": -5, "crm": "ontraport", "lease_secs": "1", "async": "0", "x": 1}), None);
        assert_eq!((n.settings["queue_max"].clone(), n.settings["crm"].clone()), (json!(1000), json!("ontraport")));
        assert_eq!((n.settings["lease_secs"].clone(), n.settings["async"].clone()), (json!(1), json!(false)));
        assert!(!n.settings.contains_key("x"), "unknown keys are dropped");
        assert!(n.problems.is_empty());
    }

    #[test]
    fn invalid_submissions_are_refused_by_name_and_never_clamped() {
        let n = run(
            json!({"queue_max": 500}),
            Some(
                json!({"queue_max": "-5", "max_attempts": "0", "crm": "hubspot", "ac_base_url": "http://acct.example.com",
                        "retention_days": "30"}),
            ),
        );
        let refused: Vec<&str> = n.problems.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(refused, ["crm", "ac_base_url", "queue_max", "max_attempts"]);
        assert_eq!(n.settings["queue_max"], 500, "the stored value stays");
        assert_eq!(n.settings["max_attempts"], 8);
        assert_eq!(n.settings["retention_days"], 30, "valid keys of the same submission are saved");
        let queue = n.problems.iter().find(|p| p.field == "queue_max").unwrap();
        assert_eq!((queue.code.as_str(), queue.min, queue.max), ("invalid_number", Some(1), Some(1_000_000)));
    }

    #[test]
    fn secrets_keep_their_value_when_blank_and_are_never_echoed() {
        let n =
            run(json!({"ac_api_token": "old-token"}), Some(json!({"ac_api_token": "  ", "op_api_key": "bad\nkey"})));
        assert_eq!(n.settings["ac_api_token"], "old-token");
        let refused = n.problems.iter().find(|p| p.field == "op_api_key").unwrap();
        assert_eq!(refused.value, "", "a refused credential is not echoed");
        let n = run(json!({"ac_api_token": "old"}), Some(json!({"ac_api_token": " new-token "})));
        assert_eq!(n.settings["ac_api_token"], "new-token");
    }

    #[test]
    fn roles_and_mappings_go_through_the_webhook_rules() {
        let n = run(
            json!({"default_role": "customer"}),
            Some(json!({"role_allowlist": "customer, fixer Customer", "default_role": "fixer",
                        "field_map": "1 = billing_phone\n2 = wp_capabilities\nbad line\n 3 = First_Name ",
                        "meta_denylist": ["billing_*", ""]})),
        );
        assert_eq!(n.settings["role_allowlist"], json!(["customer"]));
        assert_eq!(n.settings["default_role"], "customer", "the stored default stays");
        assert_eq!(n.settings["meta_denylist"], json!(["billing_*"]));
        let wp_keys: Vec<&str> =
            n.settings["field_map"].as_array().unwrap().iter().filter_map(|m| m["wp_key"].as_str()).collect();
        assert_eq!(wp_keys, ["first_name"], "protected and admin-denied keys are refused");
        let refused: Vec<(&str, &str)> = n.problems.iter().map(|p| (p.field.as_str(), p.value.as_str())).collect();
        assert_eq!(
            refused,
            [
                ("role_allowlist", "fixer"),
                ("default_role", "fixer"),
                ("field_map", "billing_phone"),
                ("field_map", "wp_capabilities")
            ]
        );
    }

    #[test]
    fn https_urls_only_unless_a_development_site_talks_to_loopback() {
        let n = run(json!({}), Some(json!({"ac_base_url": "https://acct.api-us1.com"})));
        assert_eq!(n.settings["ac_base_url"], "https://acct.api-us1.com");
        let dev = normalize(&NormalizeInput {
            submitted: json!({"ac_base_url": "http://127.0.0.1:9000"}).as_object().cloned(),
            allow_http_loopback: true,
            ..Default::default()
        });
        assert_eq!(dev.settings["ac_base_url"], "http://127.0.0.1:9000");
        let prod = run(json!({}), Some(json!({"ac_base_url": "http://127.0.0.1:9000"})));
        assert_eq!(prod.problems[0].code, "url_not_https");
    }
}

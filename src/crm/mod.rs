//! CRM clients behind one trait. Each CRM is one file; `client_for` picks by settings.
//!
//! A CRM answer is data only when it is a well-formed contact: any error status, an empty
//! body, a body without the contact object is an error, so nothing is written to the user.

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::contact::{Contact, Field, Tag};

/// Every way a CRM call can fail, as the queue needs to know it.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum CrmError {
    #[error("contact not found in the CRM")]
    NotFound,
    #[error("the CRM refused the credentials")]
    Unauthorized,
    /// Retry after this many seconds.
    #[error("the CRM rate limit was reached; retry after {retry_after_secs} s")]
    RateLimited { retry_after_secs: u64 },
    /// 5xx, timeout, connection refused, malformed answer: worth retrying.
    #[error("temporary CRM failure: {0}")]
    Temporary(String),
    /// Anything a retry will not fix (bad configuration, 4xx other than the above).
    #[error("CRM request failed: {0}")]
    Permanent(String),
}

/// Connection settings for one CRM account, passed in by the host on every call and never
/// stored on disk by the library. `Debug` redacts the credentials (see below).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct CrmConfig {
    /// `activecampaign` or `ontraport`.
    pub crm: String,
    /// ActiveCampaign: the account's API URL (`https://acct.api-us1.com`);
    /// Ontraport: defaults to `https://api.ontraport.com/1/`.
    pub base_url: String,
    /// ActiveCampaign `Api-Token`.
    pub api_token: String,
    /// Ontraport `Api-Appid` and `Api-Key`.
    pub app_id: String,
    pub api_key: String,
    /// Connect and total timeouts in milliseconds (0 = default: 5 000 and 30 000).
    pub connect_timeout_ms: u64,
    pub timeout_ms: u64,
    /// Allow `http://` to a loopback host (a local stand-in CRM). The PHP plugin sets it only
    /// when the development constant `CRMHOOKS_DEV_ALLOW_HTTP` is defined; otherwise https only.
    pub allow_http_loopback: bool,
    /// The account's recent request times (Unix ms) as the host's database holds them; when
    /// present, requests are paced by this shared window (see `rate_limit::with_shared_window`)
    /// and the updated window is read back with `crmh_last_account_state`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate_window: Option<Vec<u64>>,
    /// The account's cached tag names and field labels as the host's database holds them (see
    /// `cache::with_shared_names`); a listing made during the call is handed back through
    /// `crmh_last_account_state` for the host to store.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub names: Option<serde_json::Map<String, serde_json::Value>>,
}

/// Written by hand so a `{:?}` in a log, a panic message or a test failure never shows a
/// credential. Destructured so that a new field cannot be added without deciding here.
impl std::fmt::Debug for CrmConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let CrmConfig {
            crm,
            base_url,
            api_token,
            app_id,
            api_key,
            connect_timeout_ms,
            timeout_ms,
            allow_http_loopback,
            rate_window,
            names,
        } = self;
        f.debug_struct("CrmConfig")
            .field("crm", crm)
            .field("base_url", &Redacted::url(base_url))
            .field("api_token", &Redacted::secret(api_token))
            .field("app_id", &Redacted::secret(app_id))
            .field("api_key", &Redacted::secret(api_key))
            .field("connect_timeout_ms", connect_timeout_ms)
            .field("timeout_ms", timeout_ms)
            .field("allow_http_loopback", allow_http_loopback)
            .field("rate_window", &rate_window.as_ref().map(Vec::len))
            .field("names", &names.as_ref().map(serde_json::Map::len))
            .finish()
    }
}

/// A value shown by `Debug` as `"<redacted>"`, or as itself when it cannot hold a secret.
struct Redacted<'a>(Option<&'a str>);

impl<'a> Redacted<'a> {
    /// Whether a credential is set shows; its value never does.
    fn secret(value: &'a str) -> Self {
        Redacted(if value.is_empty() { Some("") } else { None })
    }

    /// A URL with user info, a query or a fragment may carry a credential: hidden whole.
    fn url(value: &'a str) -> Self {
        Redacted(if value.contains(['@', '?', '#']) { None } else { Some(value) })
    }
}

impl std::fmt::Debug for Redacted<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(shown) => std::fmt::Debug::fmt(shown, f),
            None => f.write_str("<redacted>"),
        }
    }
}

/// Tags and fields the CRM account has, for the settings screen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Schema {
    pub tags: Vec<Tag>,
    pub fields: Vec<Field>,
}

/// What crmhooks needs from a CRM.
pub trait Crm {
    fn fetch_contact(&self, contact_id: &str) -> Result<Contact, CrmError>;
    /// The contact, checked against the tag names the webhook body carried (their
    /// `tag_lookup::tag_set_digest`): when they disagree with the cached names of its tag IDs,
    /// the tag listing is read again first, so a renamed tag never reaches a user under its old
    /// name. CRMs whose webhooks carry no tag names fetch as usual.
    fn fetch_contact_expecting(&self, contact_id: &str, tags_digest: Option<&str>) -> Result<Contact, CrmError> {
        let _ = tags_digest;
        self.fetch_contact(contact_id)
    }
    fn find_contact_by_email(&self, email: &str) -> Result<Option<String>, CrmError>;
    fn write_field(&self, contact_id: &str, field_key: &str, value: &str) -> Result<(), CrmError>;
    /// Add and remove tags by name; tags that do not exist yet are created when adding.
    fn change_tags(&self, contact_id: &str, add: &[String], remove: &[String]) -> Result<(), CrmError>;
    fn list_schema(&self) -> Result<Schema, CrmError>;
}
pub mod activecampaign;
mod cache;
pub mod client;
pub mod http;
pub mod ontraport;
pub mod rate_limit;
pub mod tag_lookup;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_credentials() {
        let config = CrmConfig {
            crm: "ontraport".into(),
            base_url: "https://api.ontraport.com/1/".into(),
            api_token: "tok-SECRET-1".into(),
            app_id: "app-SECRET-2".into(),
            api_key: "key-SECRET-3".into(),
            connect_timeout_ms: 500,
            timeout_ms: 1000,
            allow_http_loopback: false,
            rate_window: None,
            names: Some(serde_json::Map::new()),
        };
        for shown in [format!("{config:?}"), format!("{config:#?}"), format!("{:?}", Some(&config))] {
            assert!(!shown.contains("SECRET"), "{shown}");
            assert!(shown.contains("<redacted>") && shown.contains("https://api.ontraport.com/1/"), "{shown}");
            assert!(shown.contains("ontraport") && shown.contains("500"), "{shown}");
        }
        let with_userinfo = CrmConfig { base_url: "https://user:pw-SECRET@host/".into(), ..config.clone() };
        assert!(!format!("{with_userinfo:?}").contains("SECRET"));
        // An unset credential shows as empty, so a missing one is visible when debugging.
        assert!(format!("{:?}", CrmConfig::default()).contains(r#"api_token: """#));
    }

    #[test]
    fn serde_shape_is_unchanged_by_the_redaction() {
        let json = concat!(
            r#"{"crm":"ac","base_url":"https://a.api-us1.com","api_token":"t","app_id":"","api_key":"","#,
            r#""connect_timeout_ms":1,"timeout_ms":2,"allow_http_loopback":true}"#
        );
        let config: CrmConfig = serde_json::from_str(json).unwrap();
        assert_eq!(config.api_token, "t");
        assert!(config.allow_http_loopback);
        assert_eq!(serde_json::to_string(&config).unwrap(), json);
        // Absent means https only.
        let without: CrmConfig = serde_json::from_str(r#"{"crm":"ac"}"#).unwrap();
        assert!(!without.allow_http_loopback);
    }
}

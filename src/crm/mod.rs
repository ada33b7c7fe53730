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
/// stored on disk by the library.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
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

//! Raw webhook request (method, query string, content type, body) -> typed `WebhookRequest`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct Event {
    /// ActiveCampaign account webhook `type` (`subscribe`, `update`, `contact_tag_added`, ...).
    pub r#type: Option<String>,
    pub date_time: Option<String>,
    /// `public`, `admin`, `api`, `system`.
    pub initiated_from: Option<String>,
    pub initiated_by: Option<String>,
    /// ActiveCampaign automation webhooks carry `seriesid` and no `type`.
    pub seriesid: Option<String>,
    /// Top-level `tag` of tag events: the tag's name.
    pub tag: Option<String>,
    /// `contact[tags]` split on commas and trimmed; `None` when the body has no such member.
    pub tags: Option<Vec<String>>,
    /// `contact[fields][KEY]` by KEY as a string (numeric IDs or perstag names).
    pub fields: BTreeMap<String, String>,
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
}

/// A parsed webhook. The access key is kept out of serialization on purpose: it must never
/// travel back to PHP, logs or responses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookRequest {
    pub action: Action,
    #[serde(skip)]
    pub access_key: Option<String>,
    /// From the body's `contact[id]` (wins), else `contact_id` in the query or body.
    pub contact_id: Option<String>,
    /// A top-level `email` parameter (used to find the user when no contact ID matches).
    pub email: Option<String>,
    pub role: Option<String>,
    pub send_notification: bool,
    /// `async=true|false`; `None` when absent (the site setting decides).
    #[serde(rename = "async")]
    pub async_mode: Option<bool>,
    #[serde(default)]
    pub event: Event,
}

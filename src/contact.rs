//! The one contact shape every CRM client returns, whatever the CRM's wire format.

use serde::{Deserialize, Serialize};

/// A tag as the CRM knows it: its ID (string, as CRMs send them) and its name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Tag {
    pub id: String,
    pub name: String,
}

/// One contact field. `key` is stable across renames (ActiveCampaign field ID such as `"9"`,
/// Ontraport `"f1558"`, or a standard name such as `"first_name"`); `label` is for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Field {
    pub key: String,
    #[serde(default)]
    pub label: String,
    #[serde(default)]
    pub value: String,
}

/// A contact loaded from a CRM. Standard fields (`email`, `first_name`, `last_name`, `phone`)
/// are also present in `fields` under those keys, so a field mapping treats them alike.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Contact {
    pub id: String,
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub first_name: String,
    #[serde(default)]
    pub last_name: String,
    #[serde(default)]
    pub tags: Vec<Tag>,
    #[serde(default)]
    pub fields: Vec<Field>,
}

impl Contact {
    /// The value of the field with this stable key, if the contact has it.
    pub fn field(&self, key: &str) -> Option<&str> {
        self.fields.iter().find(|f| f.key == key).map(|f| f.value.as_str())
    }

    /// Tag names in CRM order.
    pub fn tag_names(&self) -> Vec<String> {
        self.tags.iter().map(|t| t.name.clone()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_looks_up_by_stable_key_and_tag_names_keep_order() {
        let contact: Contact = serde_json::from_str(
            r#"{"id":"42","tags":[{"id":"7","name":"vip"},{"id":"3","name":"member"}],
                "fields":[{"key":"1","label":"Level","value":"Gold"},{"key":"email","value":"a@b.c"}]}"#,
        )
        .unwrap();
        assert_eq!(contact.field("1"), Some("Gold"));
        assert_eq!(contact.field("email"), Some("a@b.c"));
        assert_eq!(contact.field("Level"), None, "labels are not keys");
        assert_eq!(contact.tag_names(), vec!["vip", "member"]);
        assert_eq!(contact.email, "", "absent members default to empty");
    }
}

//! Deserializers for JSON that PHP's `json_encode` produced.
//!
//! PHP has one array type, so an empty map arrives as `[]`, a list with holes (WordPress's
//! `$user->roles` after a role was removed) arrives as `{"1":"subscriber"}`, and meta values
//! may be numbers, booleans or nested arrays. These accept those forms instead of failing the
//! whole call.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// A string map: `{}` (any scalar value becomes its string form, null becomes "", nested
/// arrays and objects their JSON text), or an empty `[]`.
pub fn string_map<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, String>, D::Error> {
    match Value::deserialize(d)? {
        Value::Object(map) => Ok(map.into_iter().map(|(k, v)| (k, value_to_string(v))).collect()),
        Value::Array(items) if items.is_empty() => Ok(BTreeMap::new()),
        Value::Null => Ok(BTreeMap::new()),
        _ => Err(D::Error::custom("expected an object")),
    }
}

/// A list: `[..]`, or an object whose values are the list (ordered by key as text).
pub fn list<'de, D: Deserializer<'de>, T: DeserializeOwned>(d: D) -> Result<Vec<T>, D::Error> {
    let items: Vec<Value> = match Value::deserialize(d)? {
        Value::Array(items) => items,
        Value::Object(map) => map.into_values().collect(),
        Value::Null => Vec::new(),
        _ => return Err(D::Error::custom("expected a list")),
    };
    items.into_iter().map(|v| serde_json::from_value(v).map_err(|_| D::Error::custom("unexpected list item"))).collect()
}

fn value_to_string(value: Value) -> String {
    match value {
        Value::String(s) => s,
        Value::Null => String::new(),
        Value::Bool(true) => "1".into(),
        Value::Bool(false) => String::new(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Deserialize)]
    struct Probe {
        #[serde(default, deserialize_with = "string_map")]
        map: BTreeMap<String, String>,
        #[serde(default, deserialize_with = "list")]
        list: Vec<String>,
    }

    fn probe(json: &str) -> serde_json::Result<Probe> {
        serde_json::from_str(json)
    }

    #[test]
    fn accepts_php_shapes() {
        let p = probe(r#"{"map":[],"list":{"1":"subscriber","3":"customer"}}"#).unwrap();
        assert!(p.map.is_empty());
        assert_eq!(p.list, vec!["subscriber".to_string(), "customer".to_string()]);

        let p = probe(r#"{"map":{"a":"x","b":7,"c":null,"d":true,"e":false,"f":["y"]},"list":["a"]}"#).unwrap();
        assert_eq!(p.map["a"], "x");
        assert_eq!(p.map["b"], "7");
        assert_eq!(p.map["c"], "");
        assert_eq!(p.map["d"], "1");
        assert_eq!(p.map["e"], "");
        assert_eq!(p.map["f"], r#"["y"]"#);
        assert_eq!(p.list, vec!["a".to_string()]);

        let p = probe(r#"{"map":null,"list":null}"#).unwrap();
        assert!(p.map.is_empty() && p.list.is_empty());
        assert!(probe("{}").is_ok());
    }

    #[test]
    fn rejects_other_shapes() {
        assert!(probe(r#"{"map":["x"]}"#).is_err());
        assert!(probe(r#"{"map":"x"}"#).is_err());
        assert!(probe(r#"{"list":"x"}"#).is_err());
        assert!(probe(r#"{"list":[1]}"#).is_err());
    }
}

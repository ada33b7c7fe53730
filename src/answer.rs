//! The door: a raw request in, either an accepted `WebhookRequest` or the exact HTTP answer that
//! refuses it. The shim sends that answer as is and counts the refusal (it never stores a row
//! per refused request).
//!
//! Every authentication failure gets the same status and body. Other refusals come only after
//! the key matched, and name the parameter from the typed error.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::error::Error;
use crate::request::{self, WebhookRequest};

/// An HTTP answer for the shim to send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Answer {
    pub status: u16,
    pub body: Body,
    pub headers: BTreeMap<String, String>,
}

/// An answer's JSON body, members in this order (`success` first, as in every answer of ours).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Body {
    pub success: bool,
    /// `processed` or `queued` on success.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parameter: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// The outcome of `receive`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum Reception {
    Accept {
        request: Box<WebhookRequest>,
    },
    /// `reason` is the refusal counter's name (a fixed word such as `unauthorized`).
    Refuse {
        reason: String,
        answer: Answer,
    },
}

/// Authenticate and parse a raw request; see `request::accept` for the rules.
pub fn receive(method: &[u8], query: &[u8], content_type: &[u8], body: &[u8], configured_key: &str) -> Reception {
    match request::accept(method, query, content_type, body, configured_key) {
        Ok(request) => Reception::Accept { request: Box::new(request) },
        Err(error) => {
            let (reason, answer) = refusal(&error);
            Reception::Refuse { reason: reason.into(), answer }
        }
    }
}

fn body(error: &str, parameter: Option<&str>, message: Option<String>) -> Body {
    Body { success: false, status: None, error: Some(error.into()), parameter: parameter.map(str::to_string), message }
}

/// The answer to a refused request, and the refusal counter it counts under.
pub fn refusal(error: &Error) -> (&'static str, Answer) {
    let bad_request = |parameter: &str| body("bad_request", Some(parameter), Some(error.to_string()));
    match error {
        Error::Unauthorized => ("unauthorized", answer(401, body("unauthorized", None, None))),
        Error::InvalidParameter("method") => {
            let mut refused = answer(405, bad_request("method"));
            refused.headers.insert("Allow".into(), "GET, POST, PUT".into());
            ("method", refused)
        }
        Error::MissingParameter(parameter) | Error::InvalidParameter(parameter) => {
            ("bad_request", answer(400, bad_request(parameter)))
        }
        Error::NotUtf8(parameter) => ("not_utf8", answer(400, bad_request(parameter))),
        Error::UnknownAction => ("unknown_action", answer(400, body("unknown_action", Some("wpf_action"), None))),
        Error::MalformedBody(_) => ("malformed_body", answer(400, bad_request("body"))),
        Error::BodyTooLarge => ("body_too_large", answer(413, body("body_too_large", None, None))),
        Error::InvalidJson(_) | Error::Random | Error::Crm(_) => ("failed", answer(500, body("failed", None, None))),
    }
}

fn answer(status: u16, body: Body) -> Answer {
    Answer { status, body, headers: BTreeMap::new() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    const KEY: &str = "k3y-Value_0123456789abcdef";

    fn get(query: &str) -> Reception {
        receive(b"GET", query.as_bytes(), b"", b"", KEY)
    }

    fn refused(reception: Reception) -> (String, u16, Value) {
        match reception {
            Reception::Refuse { reason, answer } => (reason, answer.status, serde_json::to_value(answer.body).unwrap()),
            Reception::Accept { request } => panic!("accepted: {request:?}"),
        }
    }

    #[test]
    fn every_authentication_failure_gets_one_answer() {
        let answers: Vec<_> = [
            format!("wpf_action=update&contact_id=1&access_key={KEY}x"),
            "wpf_action=update&contact_id=1".to_string(),
            format!("wpf_action=update&contact_id=abc&access_key=wrong{KEY}"),
            format!("wpf_action=bogus&access_key={KEY}%E3%80%80"),
            "wpf_action=update&contact_id=%FF".to_string(),
        ]
        .iter()
        .map(|q| refused(get(q)))
        .collect();
        for a in &answers {
            assert_eq!(a, &answers[0]);
        }
        assert_eq!(answers[0].1, 401);
        assert_eq!(answers[0].0, "unauthorized");
    }

    #[test]
    fn non_utf8_bytes_are_refused_after_the_key_naming_the_parameter() {
        let (reason, status, body) = refused(receive(
            b"GET",
            format!("wpf_action=update&access_key={KEY}&contact_id=1&role=%FF").as_bytes(),
            b"",
            b"",
            KEY,
        ));
        assert_eq!((reason.as_str(), status), ("not_utf8", 400));
        assert_eq!(body["parameter"], "role");
        let mut raw = format!("wpf_action=update&access_key={KEY}&contact_id=1&x=").into_bytes();
        raw.push(0xff);
        let (_, status, body) = refused(receive(b"GET", &raw, b"", b"", KEY));
        assert_eq!((status, body["parameter"].as_str()), (400, Some("query")));
        let query = format!("wpf_action=update&access_key={KEY}&contact_id=1");
        let (_, status, body) = refused(receive(b"POST", query.as_bytes(), b"text/\xff", b"", KEY));
        assert_eq!((status, body["parameter"].as_str()), (400, Some("content_type")));
        let (_, status, body) = refused(receive(
            b"POST",
            query.as_bytes(),
            b"application/x-www-form-urlencoded",
            b"contact%5Bfirst_name%5D=J%FFne",
            KEY,
        ));
        assert_eq!((status, body["parameter"].as_str()), (400, Some("contact[first_name]")));
    }

    #[test]
    fn a_contact_id_in_the_wrong_shape_is_refused_naming_it() {
        let (reason, status, body) = refused(get(&format!("wpf_action=update&access_key={KEY}&contact_id=abc")));
        assert_eq!((reason.as_str(), status), ("bad_request", 400));
        assert_eq!(body["parameter"], "contact_id");
    }

    #[test]
    fn key_compare_trims_ascii_whitespace_only() {
        assert!(matches!(get(&format!("wpf_action=test&access_key=+{KEY}%20")), Reception::Accept { .. }));
        for suffix in ["%E3%80%80", "%C2%A0", "%0B%0B%E2%80%8B"] {
            let (reason, ..) = refused(get(&format!("wpf_action=test&access_key={KEY}{suffix}")));
            assert_eq!(reason, "unauthorized", "{suffix}");
        }
    }

    #[test]
    fn unknown_method_is_405_with_allow() {
        match receive(b"DELETE", format!("wpf_action=test&access_key={KEY}").as_bytes(), b"", b"", KEY) {
            Reception::Refuse { answer, .. } => {
                assert_eq!(answer.status, 405);
                assert_eq!(answer.headers.get("Allow").map(String::as_str), Some("GET, POST, PUT"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn an_accepted_request_serializes_routing_facts_only() {
        let body = b"contact%5Bid%5D=42&contact%5Bemail%5D=j%40x.com&contact%5Bfields%5D%5Bpw%5D=Secr3t-Pass\
&contact%5Btags%5D=vip&type=update&initiated_from=admin";
        let reception = receive(
            b"POST",
            format!("wpf_action=update&access_key={KEY}").as_bytes(),
            b"application/x-www-form-urlencoded",
            body,
            KEY,
        );
        let json = serde_json::to_string(&reception).unwrap();
        for secret in ["Secr3t-Pass", "vip", "j@x.com", KEY] {
            assert!(!json.contains(secret), "{secret} in {json}");
        }
        assert!(json.contains(r#""contact_id":"42""#), "{json}");
        assert!(json.contains(r#""initiated_from":"admin""#), "{json}");
        let debug = format!("{reception:?}");
        assert!(!debug.contains("Secr3t-Pass") && !debug.contains(KEY), "{debug}");
    }
}

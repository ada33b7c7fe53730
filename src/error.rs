//! The library's error type. Messages are safe to show: they name a parameter or a
//! category, never a key, a token, a body or a value taken from the request.

use thiserror::Error;

use crate::crm::CrmError;

#[derive(Debug, Error, PartialEq, Eq, Clone)]
pub enum Error {
    /// A required parameter is absent (names the parameter).
    #[error("missing parameter: {0}")]
    MissingParameter(&'static str),
    /// A parameter is present but unusable (names the parameter).
    #[error("invalid parameter: {0}")]
    InvalidParameter(&'static str),
    /// A parameter's bytes are not UTF-8 after percent-decoding (names the parameter, or
    /// `query` / `body` / `content_type`; only names made of `[A-Za-z0-9_-[]]` are echoed).
    #[error("invalid parameter: {0} (not UTF-8)")]
    NotUtf8(String),
    /// `wpf_action` names no action we know.
    #[error("unknown action")]
    UnknownAction,
    /// The body could not be read as its content type says (names the problem).
    #[error("malformed body: {0}")]
    MalformedBody(&'static str),
    #[error("request body too large")]
    BodyTooLarge,
    /// Missing or wrong access key, or no key configured. One message for every case.
    #[error("unauthorized")]
    Unauthorized,
    /// JSON given to the library does not have the expected shape (position only, no values).
    #[error("invalid JSON input: {0}")]
    InvalidJson(String),
    #[error("no random source available")]
    Random,
    #[error(transparent)]
    Crm(#[from] CrmError),
}

impl Error {
    /// Build an `InvalidJson` without echoing the input: serde's messages can quote values.
    pub fn from_json(e: &serde_json::Error) -> Self {
        Error::InvalidJson(format!("{:?} error at line {} column {}", e.classify(), e.line(), e.column()))
    }
}

pub type Result<T> = std::result::Result<T, Error>;

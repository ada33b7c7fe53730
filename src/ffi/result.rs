//! The one result enum of the ABI. Values are explicit and never reused: a retired value
//! stays here as a comment so old hosts cannot misread a new one.

use crate::crm::CrmError;
use crate::error::Error;

#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum crmh_result {
    CRMH_RESULT_OK = 0,
    /// A required pointer was NULL (or NULL with a non-zero length).
    CRMH_RESULT_NULL_PARAMETER = 1,
    /// A text input is not valid UTF-8.
    CRMH_RESULT_INVALID_UTF8 = 2,
    /// A JSON input could not be parsed or lacks a required member.
    CRMH_RESULT_INVALID_JSON = 3,
    /// A panic was contained at the boundary; the process is fine.
    CRMH_RESULT_PANIC = 4,
    /// The webhook request is malformed; `crmh_last_error()` names the parameter.
    CRMH_RESULT_BAD_REQUEST = 5,
    /// Missing or wrong access key, or no key configured (fail closed).
    CRMH_RESULT_UNAUTHORIZED = 6,
    /// `wpf_action` names no known action.
    CRMH_RESULT_UNKNOWN_ACTION = 7,
    CRMH_RESULT_BODY_TOO_LARGE = 8,
    /// The OS random source failed.
    CRMH_RESULT_RANDOM = 9,
    CRMH_RESULT_CRM_NOT_FOUND = 20,
    CRMH_RESULT_CRM_UNAUTHORIZED = 21,
    /// `crmh_last_retry_after()` says how many seconds to wait.
    CRMH_RESULT_CRM_RATE_LIMITED = 22,
    /// 5xx, timeout, refused or dropped connection, malformed answer: retry later.
    CRMH_RESULT_CRM_TEMPORARY = 23,
    CRMH_RESULT_CRM_PERMANENT = 24,
}

impl From<&Error> for crmh_result {
    fn from(error: &Error) -> Self {
        use crmh_result::*;
        match error {
            Error::MissingParameter(_) | Error::InvalidParameter(_) | Error::MalformedBody(_) | Error::NotUtf8(_) => {
                CRMH_RESULT_BAD_REQUEST
            }
            Error::UnknownAction => CRMH_RESULT_UNKNOWN_ACTION,
            Error::BodyTooLarge => CRMH_RESULT_BODY_TOO_LARGE,
            Error::Unauthorized => CRMH_RESULT_UNAUTHORIZED,
            Error::InvalidJson(_) => CRMH_RESULT_INVALID_JSON,
            Error::Random => CRMH_RESULT_RANDOM,
            Error::Crm(crm) => crm.into(),
        }
    }
}

impl From<&CrmError> for crmh_result {
    fn from(error: &CrmError) -> Self {
        use crmh_result::*;
        match error {
            CrmError::NotFound => CRMH_RESULT_CRM_NOT_FOUND,
            CrmError::Unauthorized => CRMH_RESULT_CRM_UNAUTHORIZED,
            CrmError::RateLimited { .. } => CRMH_RESULT_CRM_RATE_LIMITED,
            CrmError::Temporary(_) => CRMH_RESULT_CRM_TEMPORARY,
            CrmError::Permanent(_) => CRMH_RESULT_CRM_PERMANENT,
        }
    }
}

//! The one result enum of the ABI. Values are explicit and never reused: a retired value
//! stays here as a comment so old hosts cannot misread a new one.

use std::ffi::CStr;

use libc::c_char;

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

impl crmh_result {
    /// The variant with this value, or `None` for a number that is no `crmh_result`.
    pub fn from_code(code: u32) -> Option<crmh_result> {
        use crmh_result::*;
        Some(match code {
            0 => CRMH_RESULT_OK,
            1 => CRMH_RESULT_NULL_PARAMETER,
            2 => CRMH_RESULT_INVALID_UTF8,
            3 => CRMH_RESULT_INVALID_JSON,
            4 => CRMH_RESULT_PANIC,
            5 => CRMH_RESULT_BAD_REQUEST,
            6 => CRMH_RESULT_UNAUTHORIZED,
            7 => CRMH_RESULT_UNKNOWN_ACTION,
            8 => CRMH_RESULT_BODY_TOO_LARGE,
            9 => CRMH_RESULT_RANDOM,
            20 => CRMH_RESULT_CRM_NOT_FOUND,
            21 => CRMH_RESULT_CRM_UNAUTHORIZED,
            22 => CRMH_RESULT_CRM_RATE_LIMITED,
            23 => CRMH_RESULT_CRM_TEMPORARY,
            24 => CRMH_RESULT_CRM_PERMANENT,
            _ => return None,
        })
    }

    /// The variant's name without `CRMH_RESULT_`, in lower case: "ok", "unauthorized",
    /// "crm_rate_limited". Hosts log and count failures by it.
    pub fn name(self) -> &'static CStr {
        use crmh_result::*;
        match self {
            CRMH_RESULT_OK => c"ok",
            CRMH_RESULT_NULL_PARAMETER => c"null_parameter",
            CRMH_RESULT_INVALID_UTF8 => c"invalid_utf8",
            CRMH_RESULT_INVALID_JSON => c"invalid_json",
            CRMH_RESULT_PANIC => c"panic",
            CRMH_RESULT_BAD_REQUEST => c"bad_request",
            CRMH_RESULT_UNAUTHORIZED => c"unauthorized",
            CRMH_RESULT_UNKNOWN_ACTION => c"unknown_action",
            CRMH_RESULT_BODY_TOO_LARGE => c"body_too_large",
            CRMH_RESULT_RANDOM => c"random",
            CRMH_RESULT_CRM_NOT_FOUND => c"crm_not_found",
            CRMH_RESULT_CRM_UNAUTHORIZED => c"crm_unauthorized",
            CRMH_RESULT_CRM_RATE_LIMITED => c"crm_rate_limited",
            CRMH_RESULT_CRM_TEMPORARY => c"crm_temporary",
            CRMH_RESULT_CRM_PERMANENT => c"crm_permanent",
        }
    }
}

/// The name of a result code: `"ok"`, `"unauthorized"`, `"crm_rate_limited"`, ... (the
/// enumerator without `CRMH_RESULT_`, in lower case), or NULL for a value that is no
/// `crmh_result`. The string is static: never free it. Reads no pointer, cannot panic, and
/// leaves `crmh_last_error()` alone, so it may be called between a failure and reading it.
#[no_mangle]
pub extern "C" fn crmh_result_name(result: u32) -> *const c_char {
    crmh_result::from_code(result).map_or(std::ptr::null(), |r| r.name().as_ptr())
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The enumerators as cbindgen wrote them into the generated header (OUT_DIR).
    fn header_enumerators() -> Vec<(String, u32)> {
        let header = include_str!(concat!(env!("OUT_DIR"), "/crmhooks.h"));
        header
            .lines()
            .filter_map(|line| {
                let (name, value) = line.trim().strip_suffix(',')?.split_once(" = ")?;
                name.starts_with("CRMH_RESULT_").then(|| (name.to_string(), value.parse().expect("a number")))
            })
            .collect()
    }

    #[test]
    fn every_enumerator_has_its_own_lower_case_name() {
        let enumerators = header_enumerators();
        assert!(enumerators.len() >= 15, "{enumerators:?}");
        for (enumerator, value) in &enumerators {
            let result = crmh_result::from_code(*value).unwrap_or_else(|| panic!("{enumerator} = {value} unknown"));
            assert_eq!(result as u32, *value);
            assert_eq!(&format!("{result:?}"), enumerator);
            let expected = enumerator.strip_prefix("CRMH_RESULT_").unwrap().to_lowercase();
            assert_eq!(result.name().to_str().unwrap(), expected);
            // SAFETY: a non-NULL result is a static NUL-terminated string.
            let exported = unsafe { CStr::from_ptr(crmh_result_name(*value)) };
            assert_eq!(exported.to_str().unwrap(), expected);
        }
        let known = (0..=u16::MAX as u32).filter(|code| crmh_result::from_code(*code).is_some()).count();
        assert_eq!(known, enumerators.len(), "from_code knows a value the header does not");
    }

    #[test]
    fn a_value_that_is_no_result_has_no_name() {
        assert!(crmh_result_name(10).is_null());
        assert!(crmh_result_name(u32::MAX).is_null());
        assert_eq!(crmh_result::from_code(19), None);
    }
}

//! Queue decisions: loopback deferral, duplicate coalescing and retry backoff.
//!
//! Pure: the caller passes the current time (Unix seconds) and the stored state; nothing here
//! reads a clock or the database. `crmh_lock_decide` calls `decide`.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::request::Action;

/// What the queue should do with a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum Decision {
    /// Process it now.
    Run,
    /// Wait: our own write to the CRM is this recent; process at `until`.
    Defer { until: u64 },
    /// A live job for the same contact exists: fold into it with this action.
    Merge { action: Action },
    /// Try again at `at`.
    Retry { at: u64 },
    /// Give up and mark the job failed.
    Fail,
}

/// A job for a contact that a worker holds (or held) a lease on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InFlight {
    pub contact_id: String,
    pub action: Action,
    /// The holder is presumed dead from this time on.
    pub lease_until: u64,
}

/// A webhook for a contact we wrote to within `window_secs` is probably the CRM echoing our own
/// write: wait until the window ends, then the job re-reads the contact, so a real change made
/// meanwhile is still picked up.
pub fn loopback(now: u64, last_write_at: Option<u64>, window_secs: u64) -> Decision {
    match last_write_at {
        Some(written) => {
            let until = written.saturating_add(window_secs);
            if now < until {
                Decision::Defer { until }
            } else {
                Decision::Run
            }
        }
        None => Decision::Run,
    }
}

/// The stronger of two actions: add > update > update_tags > test. Coalescing keeps it, so
/// merging never loses work (an add also updates; an update also updates tags).
pub fn strongest(a: Action, b: Action) -> Action {
    fn rank(action: Action) -> u8 {
        match action {
            Action::Test => 0,
            Action::UpdateTags => 1,
            Action::Update => 2,
            Action::Add => 3,
        }
    }
    if rank(b) > rank(a) {
        b
    } else {
        a
    }
}

/// Merge a new job into a live job for the same contact, or run it. A job whose lease has
/// run out belongs to a dead worker and is not waited for. `test` touches no contact and
/// never merges.
pub fn duplicate(now: u64, in_flight: Option<&InFlight>, contact_id: &str, action: Action) -> Decision {
    let Some(job) = in_flight else {
        return Decision::Run;
    };
    let lease_alive = job.lease_until > now;
    let same_contact = job.contact_id == contact_id && !contact_id.is_empty();
    let mergeable = action != Action::Test && job.action != Action::Test;
    if lease_alive && same_contact && mergeable {
        Decision::Merge { action: strongest(job.action, action) }
    } else {
        Decision::Run
    }
}

/// Backoff after a failed attempt. `attempts` counts attempts made so far, including the one
/// that just failed; at `max_attempts` the job fails.
///
/// Delay = `base_secs * 2^(attempts-1)`, capped at `max_secs`, with "equal jitter": half the
/// delay is fixed and the other half scaled by `jitter` (in [0, 1), clamped; NaN counts as 0),
/// so retries of many jobs spread out but never come sooner than half the backoff. The result
/// is never earlier than `now + retry_after` (the CRM's Retry-After wins over the backoff).
pub fn retry(
    now: u64,
    attempts: u32,
    max_attempts: u32,
    retry_after: Option<u64>,
    base_secs: u64,
    max_secs: u64,
    jitter: f64,
) -> Decision {
    if attempts >= max_attempts {
        return Decision::Fail;
    }
    let delay = backoff_secs(attempts, base_secs, max_secs);
    let jitter = if jitter.is_nan() { 0.0 } else { jitter.clamp(0.0, 1.0) };
    let fixed = delay - delay / 2;
    // The float product is at most delay / 2 (< 2^63), so the cast cannot wrap.
    let spread = ((delay / 2) as f64 * jitter).floor() as u64;
    let jittered = fixed.saturating_add(spread.min(delay / 2));
    let at = now.saturating_add(jittered).max(now.saturating_add(retry_after.unwrap_or(0)));
    Decision::Retry { at }
}

/// `base * 2^(attempts-1)` capped at `max`, without overflow for any `attempts`.
fn backoff_secs(attempts: u32, base_secs: u64, max_secs: u64) -> u64 {
    let exponent = attempts.saturating_sub(1);
    let factor = 1u64.checked_shl(exponent).unwrap_or(u64::MAX);
    base_secs.saturating_mul(factor).min(max_secs)
}

/// `crmh_lock_decide` input, selected by `"kind"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LockQuery {
    Loopback {
        now: u64,
        last_write_at: Option<u64>,
        window_secs: u64,
    },
    Duplicate {
        now: u64,
        in_flight: Option<InFlight>,
        contact_id: String,
        action: Action,
    },
    Retry {
        now: u64,
        attempts: u32,
        max_attempts: u32,
        retry_after: Option<u64>,
        base_secs: u64,
        max_secs: u64,
        #[serde(default)]
        jitter: f64,
    },
}

/// Answer one query.
pub fn decide_query(query: &LockQuery) -> Decision {
    match query {
        LockQuery::Loopback { now, last_write_at, window_secs } => loopback(*now, *last_write_at, *window_secs),
        LockQuery::Duplicate { now, in_flight, contact_id, action } => {
            duplicate(*now, in_flight.as_ref(), contact_id, *action)
        }
        LockQuery::Retry { now, attempts, max_attempts, retry_after, base_secs, max_secs, jitter } => {
            retry(*now, *attempts, *max_attempts, *retry_after, *base_secs, *max_secs, *jitter)
        }
    }
}

/// JSON entry point for `crmh_lock_decide`: a `LockQuery` in, a `Decision` out.
pub fn decide(json: &str) -> Result<String> {
    let query: LockQuery = serde_json::from_str(json).map_err(|e| Error::from_json(&e))?;
    serde_json::to_string(&decide_query(&query)).map_err(|e| Error::from_json(&e))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_700_000_000;

    #[test]
    fn loopback_defers_inside_the_window_and_runs_after() {
        assert_eq!(loopback(NOW, None, 60), Decision::Run);
        assert_eq!(loopback(NOW, Some(NOW - 10), 60), Decision::Defer { until: NOW + 50 });
        assert_eq!(loopback(NOW, Some(NOW - 60), 60), Decision::Run);
        assert_eq!(loopback(NOW, Some(NOW - 61), 60), Decision::Run);
        assert_eq!(loopback(NOW, Some(NOW), 0), Decision::Run);
        // A write stamped in the future (clock skew between servers) still defers.
        assert_eq!(loopback(NOW, Some(NOW + 5), 60), Decision::Defer { until: NOW + 65 });
        assert_eq!(loopback(NOW, Some(u64::MAX), 60), Decision::Defer { until: u64::MAX });
    }

    #[test]
    fn strongest_orders_add_update_update_tags() {
        use Action::*;
        assert_eq!(strongest(Add, Update), Add);
        assert_eq!(strongest(Update, Add), Add);
        assert_eq!(strongest(UpdateTags, Update), Update);
        assert_eq!(strongest(Update, UpdateTags), Update);
        assert_eq!(strongest(UpdateTags, Add), Add);
        assert_eq!(strongest(UpdateTags, UpdateTags), UpdateTags);
        assert_eq!(strongest(Test, UpdateTags), UpdateTags);
    }

    fn job(contact_id: &str, action: Action, lease_until: u64) -> InFlight {
        InFlight { contact_id: contact_id.into(), action, lease_until }
    }

    #[test]
    fn duplicate_merges_into_a_live_job_with_the_strongest_action() {
        let live = job("42", Action::Add, NOW + 30);
        assert_eq!(duplicate(NOW, Some(&live), "42", Action::Update), Decision::Merge { action: Action::Add });
        let live = job("42", Action::UpdateTags, NOW + 30);
        assert_eq!(duplicate(NOW, Some(&live), "42", Action::Update), Decision::Merge { action: Action::Update });
    }

    #[test]
    fn duplicate_runs_when_nothing_live_for_that_contact() {
        assert_eq!(duplicate(NOW, None, "42", Action::Update), Decision::Run);
        assert_eq!(duplicate(NOW, Some(&job("7", Action::Add, NOW + 30)), "42", Action::Update), Decision::Run);
        assert_eq!(duplicate(NOW, Some(&job("", Action::Add, NOW + 30)), "", Action::Update), Decision::Run);
    }

    #[test]
    fn dead_lease_runs() {
        assert_eq!(duplicate(NOW, Some(&job("42", Action::Add, NOW)), "42", Action::Update), Decision::Run);
        assert_eq!(duplicate(NOW, Some(&job("42", Action::Add, NOW - 1)), "42", Action::Update), Decision::Run);
        assert_eq!(
            duplicate(NOW, Some(&job("42", Action::Add, NOW + 1)), "42", Action::Update),
            Decision::Merge { action: Action::Add }
        );
    }

    #[test]
    fn test_action_never_merges() {
        assert_eq!(duplicate(NOW, Some(&job("42", Action::Add, NOW + 30)), "42", Action::Test), Decision::Run);
        assert_eq!(duplicate(NOW, Some(&job("42", Action::Test, NOW + 30)), "42", Action::Update), Decision::Run);
    }

    #[test]
    fn retry_backoff_doubles_and_is_capped() {
        // jitter 0: exactly half the backoff (rounded up); jitter near 1: nearly all of it.
        assert_eq!(retry(NOW, 1, 8, None, 30, 3600, 0.0), Decision::Retry { at: NOW + 15 });
        assert_eq!(retry(NOW, 2, 8, None, 30, 3600, 0.0), Decision::Retry { at: NOW + 30 });
        assert_eq!(retry(NOW, 3, 8, None, 30, 3600, 0.0), Decision::Retry { at: NOW + 60 });
        assert_eq!(retry(NOW, 3, 8, None, 30, 3600, 0.999_999), Decision::Retry { at: NOW + 119 });
        assert_eq!(retry(NOW, 7, 10, None, 30, 3600, 0.0), Decision::Retry { at: NOW + 960 });
        assert_eq!(retry(NOW, 8, 10, None, 30, 3600, 0.0), Decision::Retry { at: NOW + 1800 });
        assert_eq!(retry(NOW, 8, 10, None, 30, 3600, 0.5), Decision::Retry { at: NOW + 2700 });
    }

    #[test]
    fn retry_stays_within_bounds_for_any_jitter() {
        for attempts in 1..=20u32 {
            for jitter in [0.0, 0.1, 0.37, 0.5, 0.9, 0.999_999_9, 1.0, -3.0, 7.0, f64::NAN, f64::INFINITY] {
                let Decision::Retry { at } = retry(NOW, attempts, 100, None, 30, 3600, jitter) else {
                    panic!("expected retry");
                };
                let full = backoff_secs(attempts, 30, 3600);
                assert!(at >= NOW + full / 2, "attempts {attempts} jitter {jitter}");
                assert!(at <= NOW + full, "attempts {attempts} jitter {jitter}");
                assert!(at <= NOW + 3600);
            }
        }
    }

    #[test]
    fn retry_after_is_a_floor_not_a_replacement() {
        assert_eq!(retry(NOW, 1, 8, Some(120), 30, 3600, 0.0), Decision::Retry { at: NOW + 120 });
        assert_eq!(retry(NOW, 5, 8, Some(2), 30, 3600, 0.0), Decision::Retry { at: NOW + 240 });
        // Retry-After beyond max_secs is still honoured: the CRM knows its own limit.
        assert_eq!(retry(NOW, 1, 8, Some(7200), 30, 3600, 0.0), Decision::Retry { at: NOW + 7200 });
    }

    #[test]
    fn retry_fails_at_max_attempts() {
        assert_eq!(retry(NOW, 8, 8, None, 30, 3600, 0.5), Decision::Fail);
        assert_eq!(retry(NOW, 9, 8, Some(5), 30, 3600, 0.5), Decision::Fail);
        assert_eq!(retry(NOW, 0, 0, None, 30, 3600, 0.5), Decision::Fail);
        assert!(matches!(retry(NOW, 7, 8, None, 30, 3600, 0.5), Decision::Retry { .. }));
    }

    #[test]
    fn retry_never_overflows() {
        assert_eq!(retry(NOW, u32::MAX - 1, u32::MAX, None, 30, 3600, 0.0), Decision::Retry { at: NOW + 1800 });
        assert_eq!(retry(NOW, 200, 1000, None, u64::MAX, u64::MAX, 1.0), Decision::Retry { at: u64::MAX });
        assert_eq!(retry(u64::MAX, 1, 8, Some(u64::MAX), 30, 3600, 0.5), Decision::Retry { at: u64::MAX });
        assert_eq!(retry(NOW, 0, 8, None, 30, 3600, 0.0), Decision::Retry { at: NOW + 15 });
    }

    #[test]
    fn decide_json_matches_brief_shapes() {
        let run = r#"{"decision":"run"}"#;
        assert_eq!(
            decide(r#"{"kind":"loopback","now":1700000000,"last_write_at":null,"window_secs":60}"#).unwrap(),
            run
        );
        assert_eq!(
            decide(r#"{"kind":"loopback","now":1700000000,"last_write_at":1699999990,"window_secs":60}"#).unwrap(),
            r#"{"decision":"defer","until":1700000050}"#
        );
        assert_eq!(
            decide(
                r#"{"kind":"duplicate","now":1700000000,"in_flight":{"contact_id":"42","action":"add","lease_until":1700000100},"contact_id":"42","action":"update"}"#
            )
            .unwrap(),
            r#"{"decision":"merge","action":"add"}"#
        );
        assert_eq!(
            decide(r#"{"kind":"duplicate","now":1700000000,"in_flight":null,"contact_id":"42","action":"update"}"#)
                .unwrap(),
            run
        );
        assert_eq!(
            decide(
                r#"{"kind":"retry","now":1700000000,"attempts":3,"max_attempts":8,"retry_after":null,"base_secs":30,"max_secs":3600,"jitter":0.37}"#
            )
            .unwrap(),
            r#"{"decision":"retry","at":1700000082}"#
        );
        assert_eq!(
            decide(
                r#"{"kind":"retry","now":1700000000,"attempts":8,"max_attempts":8,"retry_after":5,"base_secs":30,"max_secs":3600,"jitter":0.37}"#
            )
            .unwrap(),
            r#"{"decision":"fail"}"#
        );
    }

    #[test]
    fn decide_rejects_bad_input_without_echoing_it() {
        for bad in [
            "",
            "{}",
            r#"{"kind":"nope","now":1}"#,
            r#"{"kind":"loopback","now":-1,"window_secs":60}"#,
            r#"{"kind":"duplicate","now":1,"contact_id":"42","action":"s3cr3t"}"#,
        ] {
            let err = decide(bad).unwrap_err();
            assert!(matches!(err, Error::InvalidJson(_)), "{bad}");
            assert!(!err.to_string().contains("s3cr3t"));
        }
    }

    #[test]
    fn decision_round_trips() {
        for d in [
            Decision::Run,
            Decision::Defer { until: 5 },
            Decision::Merge { action: Action::UpdateTags },
            Decision::Retry { at: 9 },
            Decision::Fail,
        ] {
            let json = serde_json::to_string(&d).unwrap();
            assert_eq!(serde_json::from_str::<Decision>(&json).unwrap(), d);
        }
    }
}

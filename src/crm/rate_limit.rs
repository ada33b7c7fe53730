//! A token bucket per CRM account in this process, so a burst of webhooks does not trip the
//! CRM's own limit. Callers sleep until a token is free; when the wait would pass the
//! operation's deadline they get `RateLimited` instead.
//!
//! The CRMs count per account across every client, so this only protects against our own
//! process; 429 answers are still handled by the caller.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use once_cell::sync::Lazy;

use super::CrmError;

/// Bucket size and refill rate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limit {
    pub burst: f64,
    pub per_second: f64,
}

/// ActiveCampaign allows 5 requests per second per account. One token at a time, slightly
/// under 5/s, so that no sliding one-second window ever sees more than 5 even with jitter.
pub const ACTIVECAMPAIGN: Limit = Limit { burst: 1.0, per_second: 4.5 };

/// Ontraport allows 180 requests per rolling minute: burst + 60 s of refill stays below 180.
pub const ONTRAPORT: Limit = Limit { burst: 3.0, per_second: 2.9 };

struct Bucket {
    /// May go negative: each waiting caller reserves its token before sleeping.
    tokens: f64,
    updated: Instant,
}

static BUCKETS: Lazy<Mutex<HashMap<String, Bucket>>> = Lazy::new(|| Mutex::new(HashMap::new()));

/// Take one token from the bucket for `key`, sleeping until it is available.
pub fn acquire(key: &str, limit: Limit, deadline: Instant) -> Result<(), CrmError> {
    let wait = reserve(key, limit, deadline)?;
    if !wait.is_zero() {
        std::thread::sleep(wait);
    }
    Ok(())
}

/// Reserve a token and say how long to wait for it, or refuse when the wait ends after
/// `deadline` (nothing is reserved then).
fn reserve(key: &str, limit: Limit, deadline: Instant) -> Result<Duration, CrmError> {
    let now = Instant::now();
    let mut buckets = BUCKETS.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let bucket = buckets.entry(key.to_string()).or_insert(Bucket { tokens: limit.burst, updated: now });
    let elapsed = now.saturating_duration_since(bucket.updated).as_secs_f64();
    bucket.tokens = (bucket.tokens + elapsed * limit.per_second).min(limit.burst);
    bucket.updated = now;
    let wait = if bucket.tokens >= 1.0 {
        Duration::ZERO
    } else {
        Duration::from_secs_f64((1.0 - bucket.tokens) / limit.per_second)
    };
    if now + wait > deadline {
        return Err(CrmError::RateLimited { retry_after_secs: wait.as_secs().max(1) });
    }
    bucket.tokens -= 1.0;
    Ok(wait)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEST_LIMIT: Limit = Limit { burst: 2.0, per_second: 10.0 };

    #[test]
    fn burst_is_free_then_callers_wait_their_turn() {
        let far = Instant::now() + Duration::from_secs(60);
        let key = "test://burst";
        assert_eq!(reserve(key, TEST_LIMIT, far).unwrap(), Duration::ZERO);
        assert_eq!(reserve(key, TEST_LIMIT, far).unwrap(), Duration::ZERO);
        let third = reserve(key, TEST_LIMIT, far).unwrap();
        let fourth = reserve(key, TEST_LIMIT, far).unwrap();
        assert!(third > Duration::from_millis(50) && third <= Duration::from_millis(100), "{third:?}");
        assert!(fourth > third, "each waiter reserves its own token: {fourth:?}");
    }

    #[test]
    fn a_wait_past_the_deadline_is_refused_without_reserving() {
        let key = "test://deadline";
        let far = Instant::now() + Duration::from_secs(60);
        reserve(key, TEST_LIMIT, far).unwrap();
        reserve(key, TEST_LIMIT, far).unwrap();
        let soon = Instant::now();
        assert_eq!(reserve(key, TEST_LIMIT, soon), Err(CrmError::RateLimited { retry_after_secs: 1 }));
        let next = reserve(key, TEST_LIMIT, far).unwrap();
        assert!(next <= Duration::from_millis(100), "the refused call reserved nothing: {next:?}");
    }

    #[test]
    fn buckets_are_per_key() {
        let far = Instant::now() + Duration::from_secs(60);
        let tiny = Limit { burst: 1.0, per_second: 1.0 };
        assert_eq!(reserve("test://a", tiny, far).unwrap(), Duration::ZERO);
        assert_eq!(reserve("test://b", tiny, far).unwrap(), Duration::ZERO);
    }
}

//! A token bucket per CRM account in this process, so a burst of webhooks does not trip the
//! CRM's own limit. Callers sleep until a token is free; when the wait would pass the
//! operation's deadline they get `RateLimited` instead.
//!
//! The CRMs count per account across every client. So when the host shares a window of the
//! account's recent request times (kept in its database and claimed under a lock, so every
//! worker and web server sees the same one), requests are paced by that window instead: see
//! `with_shared_window`. 429 answers are still handled by the caller.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use once_cell::sync::Lazy;

use super::CrmError;

/// Bucket size and refill rate, and the sliding window used when the host shares one.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limit {
    pub burst: f64,
    pub per_second: f64,
    /// At most this many requests ...
    pub window_count: usize,
    /// ... in any span of this many milliseconds.
    pub window_ms: u64,
}

/// ActiveCampaign allows 5 requests per second per account. One token at a time, slightly
/// under 5/s, so that no sliding one-second window ever sees more than 5 even with jitter.
/// The shared window allows the full 5: it records when each request's answer came back (see
/// `sent`), so a request delayed on its way cannot land in the same second as later ones.
pub const ACTIVECAMPAIGN: Limit = Limit { burst: 1.0, per_second: 4.5, window_count: 5, window_ms: 1000 };

/// Ontraport allows 180 requests per rolling minute: burst + 60 s of refill stays below 180.
pub const ONTRAPORT: Limit = Limit { burst: 3.0, per_second: 2.9, window_count: 170, window_ms: 60_000 };

/// Margin added to every shared-window wait, for clock differences between web servers.
const WINDOW_MARGIN_MS: u64 = 50;

thread_local! {
    /// The host's shared window for the call in progress on this thread, if it passed one.
    static SHARED: std::cell::RefCell<Option<Vec<u64>>> = const { std::cell::RefCell::new(None) };
}

/// Run `call` with the host's window of recent request times (Unix milliseconds) for the
/// account; return its result and the window afterwards (only the times still inside the span
/// of the longest window, newest last), for the host to store.
pub fn with_shared_window<T>(recent_ms: Vec<u64>, call: impl FnOnce() -> T) -> (T, Vec<u64>) {
    SHARED.with(|shared| *shared.borrow_mut() = Some(recent_ms));
    let result = call();
    let mut window = SHARED.with(|shared| shared.borrow_mut().take()).unwrap_or_default();
    let horizon = now_ms().saturating_sub(ONTRAPORT.window_ms.max(ACTIVECAMPAIGN.window_ms));
    window.retain(|&t| t >= horizon);
    (result, window)
}

fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

/// How long to wait before the next request may go, given the window (sorted ascending).
pub fn window_wait_ms(recent_ms: &[u64], now_ms: u64, limit: Limit) -> u64 {
    let inside: Vec<u64> = recent_ms.iter().copied().filter(|&t| t + limit.window_ms > now_ms).collect();
    if inside.len() < limit.window_count {
        return 0;
    }
    // The request that must leave the window before ours may enter it.
    let leaving = inside[inside.len() - limit.window_count];
    (leaving + limit.window_ms + WINDOW_MARGIN_MS).saturating_sub(now_ms)
}

/// Pace one request by the shared window (when the host passed one), recording it there.
/// Returns false when no shared window is active.
fn acquire_shared(limit: Limit, deadline: Instant) -> Result<bool, CrmError> {
    loop {
        let wait = SHARED.with(|shared| {
            let mut shared = shared.borrow_mut();
            let window = shared.as_mut()?;
            window.sort_unstable();
            let now = now_ms();
            let wait = window_wait_ms(window, now, limit);
            if wait == 0 {
                window.push(now);
            }
            Some(wait)
        });
        match wait {
            None => return Ok(false),
            Some(0) => return Ok(true),
            Some(ms) => {
                let wait = Duration::from_millis(ms);
                if Instant::now() + wait > deadline {
                    return Err(CrmError::RateLimited { retry_after_secs: wait.as_secs().max(1) });
                }
                std::thread::sleep(wait);
            }
        }
    }
}

/// After a request paced by the shared window got its answer (or failed): its entry becomes the
/// time of the answer. The CRM counted the request at some moment between the two, so pacing
/// the next ones from the later moment keeps every span the CRM sees within the limit however
/// long the request took to arrive.
pub fn sent() {
    SHARED.with(|shared| {
        if let Some(newest) = shared.borrow_mut().as_mut().and_then(|window| window.last_mut()) {
            *newest = (*newest).max(now_ms());
        }
    });
}

struct Bucket {
    /// May go negative: each waiting caller reserves its token before sleeping.
    tokens: f64,
    updated: Instant,
}

static BUCKETS: Lazy<Mutex<HashMap<String, Bucket>>> = Lazy::new(|| Mutex::new(HashMap::new()));

/// Take one token from the bucket for `key`, sleeping until it is available.
pub fn acquire(key: &str, limit: Limit, deadline: Instant) -> Result<(), CrmError> {
    if acquire_shared(limit, deadline)? {
        return Ok(());
    }
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

    const TEST_LIMIT: Limit = Limit { burst: 2.0, per_second: 10.0, window_count: 2, window_ms: 1000 };

    #[test]
    fn the_shared_window_paces_requests_across_processes() {
        let ac = ACTIVECAMPAIGN;
        assert_eq!(window_wait_ms(&[], 10_000, ac), 0);
        assert_eq!(window_wait_ms(&[9_100, 9_200, 9_300, 9_400], 10_000, ac), 0, "four in the last second");
        // Five in the last second (from any worker): wait until the oldest of them leaves.
        assert_eq!(window_wait_ms(&[9_100, 9_200, 9_300, 9_400, 9_500], 10_000, ac), 100 + WINDOW_MARGIN_MS);
        assert_eq!(window_wait_ms(&[8_000, 9_500, 9_600, 9_700, 9_800, 9_900], 10_000, ac), 500 + WINDOW_MARGIN_MS);
        assert_eq!(window_wait_ms(&[1, 2, 3, 4, 5], 10_000, ac), 0, "old entries do not count");
    }

    #[test]
    fn with_shared_window_records_each_request_and_hands_the_window_back() {
        let far = Instant::now() + Duration::from_secs(60);
        let start = now_ms();
        let (result, window) = with_shared_window(vec![start - 5_000], || {
            for _ in 0..3 {
                acquire("test://shared", TEST_LIMIT, far).unwrap();
            }
            7
        });
        assert_eq!(result, 7);
        assert_eq!(window.len(), 4, "the old entry is kept within the span, plus three requests: {window:?}");
        assert!(window[3] >= start + 1000, "the third request waited for the first to leave: {window:?}");
        // Without a shared window the process bucket applies again.
        assert!(SHARED.with(|s| s.borrow().is_none()));
    }

    #[test]
    fn a_request_counts_in_the_window_from_the_moment_its_answer_came() {
        let far = Instant::now() + Duration::from_secs(60);
        let asked = now_ms();
        let (answered, window) = with_shared_window(vec![], || {
            acquire("test://slow", TEST_LIMIT, far).unwrap();
            std::thread::sleep(Duration::from_millis(150)); // The request is on its way.
            sent();
            now_ms()
        });
        assert_eq!(window.len(), 1);
        assert!(
            window[0] >= asked + 150 && window[0] <= answered,
            "the entry moved to the answer: {window:?}, asked {asked}"
        );
        sent(); // No window active: nothing happens.
    }

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
        let tiny = Limit { burst: 1.0, per_second: 1.0, window_count: 1, window_ms: 1000 };
        assert_eq!(reserve("test://a", tiny, far).unwrap(), Duration::ZERO);
        assert_eq!(reserve("test://b", tiny, far).unwrap(), Duration::ZERO);
    }
}

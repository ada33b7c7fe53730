//! Process-wide caches of CRM names (tag names, field labels) per account, so a webhook
//! costs two requests instead of a full tag listing. Entries expire so a renamed tag is
//! picked up within the TTL even when no unknown ID forces a refresh.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use once_cell::sync::Lazy;

/// How long a listing is trusted when no unknown ID shows up.
pub const TTL: Duration = Duration::from_secs(15 * 60);
/// Accounts kept per cache; the map is cleared when full.
const MAX_ACCOUNTS: usize = 32;

/// A value per account key (a base URL, never a credential).
pub struct AccountCache<V> {
    entries: Lazy<Mutex<HashMap<String, (V, Instant)>>>,
}

impl<V: Clone> AccountCache<V> {
    pub const fn new() -> Self {
        AccountCache { entries: Lazy::new(|| Mutex::new(HashMap::new())) }
    }

    /// The cached value if it is younger than the TTL.
    pub fn get(&self, account: &str) -> Option<V> {
        let entries = self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        entries.get(account).filter(|(_, loaded)| loaded.elapsed() < TTL).map(|(value, _)| value.clone())
    }

    pub fn put(&self, account: &str, value: V) {
        let mut entries = self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if entries.len() >= MAX_ACCOUNTS && !entries.contains_key(account) {
            entries.clear();
        }
        entries.insert(account.to_string(), (value, Instant::now()));
    }

    /// Forget every account's value.
    pub fn clear(&self) {
        self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clear();
    }

    /// Change the cached value in place (e.g. add a tag just created); no-op when absent.
    pub fn update(&self, account: &str, change: impl FnOnce(&mut V)) {
        let mut entries = self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some((value, _)) = entries.get_mut(account) {
            change(value);
        }
    }
}

impl<T: Clone> AccountCache<std::collections::HashMap<String, T>> {
    /// The cached map when it knows every one of `keys`; otherwise `refresh` lists the CRM
    /// again (the refresh stores its result). An unknown ID is what triggers a listing.
    pub fn covering<E>(
        &self,
        account: &str,
        keys: &[String],
        refresh: impl FnOnce() -> Result<HashMap<String, T>, E>,
    ) -> Result<HashMap<String, T>, E> {
        if keys.is_empty() {
            return Ok(HashMap::new());
        }
        match self.get(account) {
            Some(map) if keys.iter().all(|key| map.contains_key(key)) => Ok(map),
            _ => refresh(),
        }
    }
}

impl<V: Clone> Default for AccountCache<V> {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_per_account_and_updatable() {
        static CACHE: AccountCache<Vec<u32>> = AccountCache::new();
        assert_eq!(CACHE.get("a"), None);
        CACHE.put("a", vec![1]);
        CACHE.update("a", |v| v.push(2));
        CACHE.update("b", |v| v.push(3));
        assert_eq!(CACHE.get("a"), Some(vec![1, 2]));
        assert_eq!(CACHE.get("b"), None);
    }

    #[test]
    fn covering_refreshes_only_for_an_unknown_key() {
        static MAP: AccountCache<HashMap<String, String>> = AccountCache::new();
        let listing = || Ok::<_, ()>(HashMap::from([("3".to_string(), "member".to_string())]));
        let mut refreshes = 0;
        let keys = vec!["3".to_string()];
        let first: Result<_, ()> = MAP.covering("a", &keys, || {
            refreshes += 1;
            let map = listing()?;
            MAP.put("a", map.clone());
            Ok(map)
        });
        assert_eq!(first.unwrap()["3"], "member");
        let again = MAP.covering("a", &keys, || {
            refreshes += 1;
            listing()
        });
        assert_eq!(again.unwrap()["3"], "member");
        assert_eq!(refreshes, 1, "a known key is served from the cache");
        assert!(MAP.covering("a", &["9".to_string()], || Err(())).is_err(), "an unknown key lists again");
        assert!(MAP.covering("a", &[], || Err(())).unwrap().is_empty(), "no keys, no listing");
    }
}

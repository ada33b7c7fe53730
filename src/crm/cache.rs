//! Caches of CRM names (tag names, field labels) per account, so a webhook costs two requests
//! instead of a full tag listing. Entries expire so a renamed tag is picked up within the TTL
//! even when no unknown ID forces a refresh.
//!
//! Where they live: when the host passes the account's names with a call (`CrmConfig::names`,
//! kept in its database so every worker and web server reads the same ones), the caches read
//! and write that document for the call, and the host stores it back when it changed
//! (`with_shared_names`). Without it (tests, other hosts) they fall back to this process.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use once_cell::sync::Lazy;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Map, Value};

/// How long a listing is trusted when no unknown ID shows up.
pub const TTL: Duration = Duration::from_secs(15 * 60);
/// Accounts kept per cache; the map is cleared when full.
const MAX_ACCOUNTS: usize = 32;

/// The host's names document for the call in progress on this thread, and whether it changed.
struct SharedNames {
    entries: Map<String, Value>,
    changed: bool,
}

thread_local! {
    static SHARED: RefCell<Option<SharedNames>> = const { RefCell::new(None) };
}

/// Run `call` with the host's names document for the account (`{cache name: {"loaded_at":
/// Unix s, "value": ..}}`); return its result and the document afterwards when the call
/// listed names anew (`None` when nothing changed), for the host to store.
pub fn with_shared_names<T>(names: Map<String, Value>, call: impl FnOnce() -> T) -> (T, Option<Map<String, Value>>) {
    SHARED.with(|shared| *shared.borrow_mut() = Some(SharedNames { entries: names, changed: false }));
    let result = call();
    let after = SHARED.with(|shared| shared.borrow_mut().take());
    (result, after.filter(|names| names.changed).map(|names| names.entries))
}

fn now_secs() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// A value per account key (a base URL, never a credential), named in the shared document.
pub struct AccountCache<V> {
    name: &'static str,
    entries: Lazy<Mutex<HashMap<String, (V, Instant)>>>,
}

impl<V: Clone + Serialize + DeserializeOwned> AccountCache<V> {
    pub const fn new(name: &'static str) -> Self {
        AccountCache { name, entries: Lazy::new(|| Mutex::new(HashMap::new())) }
    }

    /// The cached value if it is younger than the TTL.
    pub fn get(&self, account: &str) -> Option<V> {
        if let Some(shared) = self.shared_get() {
            return shared;
        }
        let entries = self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        entries.get(account).filter(|(_, loaded)| loaded.elapsed() < TTL).map(|(value, _)| value.clone())
    }

    /// `Some(answer)` when a shared document is active for this call (the process map is not
    /// consulted then: every worker must see the same names).
    fn shared_get(&self) -> Option<Option<V>> {
        SHARED.with(|shared| {
            let shared = shared.borrow();
            let names = shared.as_ref()?;
            let entry = names.entries.get(self.name).and_then(Value::as_object);
            let fresh = entry
                .and_then(|e| e.get("loaded_at"))
                .and_then(Value::as_u64)
                .is_some_and(|at| now_secs().saturating_sub(at) < TTL.as_secs());
            let value = entry.and_then(|e| e.get("value")).cloned();
            Some(value.filter(|_| fresh).and_then(|v| serde_json::from_value(v).ok()))
        })
    }

    pub fn put(&self, account: &str, value: V) {
        let stored = SHARED.with(|shared| {
            let mut shared = shared.borrow_mut();
            let Some(names) = shared.as_mut() else { return false };
            if let Ok(value) = serde_json::to_value(&value) {
                names.entries.insert(self.name.to_string(), json!({"loaded_at": now_secs(), "value": value}));
                names.changed = true;
            }
            true
        });
        if stored {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if entries.len() >= MAX_ACCOUNTS && !entries.contains_key(account) {
            entries.clear();
        }
        entries.insert(account.to_string(), (value, Instant::now()));
    }

    /// Forget every account's value (this process's; the host clears its own document).
    pub fn clear(&self) {
        self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clear();
    }

    /// Change the cached value in place (e.g. add a tag just created); no-op when absent. The
    /// listing keeps its age: one added tag does not make the other names fresher.
    pub fn update(&self, account: &str, change: impl FnOnce(&mut V)) {
        let mut change = Some(change);
        let shared_active = SHARED.with(|shared| {
            let mut shared = shared.borrow_mut();
            let Some(names) = shared.as_mut() else { return false };
            let entry = names.entries.get_mut(self.name);
            let value = entry.as_ref().and_then(|e| e.get("value")).cloned();
            if let (Some(entry), Some(mut value)) = (entry, value.and_then(|v| serde_json::from_value::<V>(v).ok())) {
                if let Some(change) = change.take() {
                    change(&mut value);
                }
                if let Ok(value) = serde_json::to_value(&value) {
                    entry["value"] = value;
                    names.changed = true;
                }
            }
            true
        });
        if shared_active {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let (Some((value, _)), Some(change)) = (entries.get_mut(account), change.take()) {
            change(value);
        }
    }
}

impl<T: Clone + Serialize + DeserializeOwned> AccountCache<std::collections::HashMap<String, T>> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_per_account_and_updatable() {
        static CACHE: AccountCache<Vec<u32>> = AccountCache::new("test");
        assert_eq!(CACHE.get("a"), None);
        CACHE.put("a", vec![1]);
        CACHE.update("a", |v| v.push(2));
        CACHE.update("b", |v| v.push(3));
        assert_eq!(CACHE.get("a"), Some(vec![1, 2]));
        assert_eq!(CACHE.get("b"), None);
    }

    #[test]
    fn covering_refreshes_only_for_an_unknown_key() {
        static MAP: AccountCache<HashMap<String, String>> = AccountCache::new("test");
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

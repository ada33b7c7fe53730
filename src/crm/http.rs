//! HTTP plumbing shared by the CRM clients: the base-URL policy, one cached `ureq` agent per
//! base URL and timeouts, the per-account rate limit, 429 retries, and the mapping from
//! statuses and transport failures to `CrmError`.
//!
//! Error messages name a status code or a category only: never a credential, a URL (query
//! values can be emails) or a response body.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use once_cell::sync::Lazy;
use serde_json::Value;
use ureq::tls::{RootCerts, TlsConfig};
use ureq::Agent;

use super::rate_limit::{self, Limit};
use super::{CrmConfig, CrmError};

/// Defaults when `CrmConfig` leaves a timeout at 0.
pub const DEFAULT_CONNECT_TIMEOUT_MS: u64 = 5_000;
pub const DEFAULT_TOTAL_TIMEOUT_MS: u64 = 30_000;
/// A 429 is retried inside the call at most this many times, and only for short waits.
const MAX_RATE_LIMIT_RETRIES: u32 = 2;
const MAX_RETRY_WAIT_SECS: u64 = 10;
/// Used when a 429 carries neither `Retry-After` nor `X-Rate-Limit-Reset`.
const DEFAULT_RETRY_AFTER_SECS: u64 = 1;
/// The longest wait a server can ask for: a longer `Retry-After` or `X-Rate-Limit-Reset` is
/// taken as one hour, so a hostile or broken answer cannot park a job for days.
pub const MAX_RETRY_AFTER_SECS: u64 = 3_600;
/// Agents kept per process; the map is cleared when full (a site uses one or two).
const MAX_CACHED_AGENTS: usize = 32;

thread_local! {
    /// HTTP requests sent on this thread since the last `take_request_count` (retries count).
    static REQUESTS: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// How many HTTP requests this thread sent since the last call, and start counting anew:
/// the host reports CRM requests per job from it.
pub fn take_request_count() -> u32 {
    REQUESTS.with(|n| n.replace(0))
}

/// A base URL that passed the policy: https, or http to a loopback host when allowed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseUrl {
    /// Scheme, host and path, always ending in `/`; no query, no fragment, no user info.
    pub url: String,
    pub loopback: bool,
}

/// Why plain HTTP was refused; the PHP plugin sets `allow_http_loopback` only when this
/// development constant is defined.
pub const PLAIN_HTTP_REFUSED: &str = concat!(
    "the CRM base URL must use https://: plain HTTP (loopback hosts only) ",
    "needs the development constant CRMHOOKS_DEV_ALLOW_HTTP"
);

/// Check a configured base URL: `https://host[:port][/path]`; `http://` only for 127.0.0.0/8,
/// ::1 and localhost, and only when `allow_http_loopback` (development setups). No user info,
/// query, fragment, backslash, percent escape in the host or non-ASCII host, so the URL
/// cannot name one host to us and another to the HTTP client. No network access happens here.
pub fn check_base_url(raw: &str, allow_http_loopback: bool) -> Result<BaseUrl, CrmError> {
    let raw = raw.trim();
    let (scheme, rest) = match raw.split_once("://") {
        Some((scheme, rest)) => (scheme.to_ascii_lowercase(), rest),
        None => return Err(CrmError::Permanent("the CRM base URL must start with https://".into())),
    };
    if scheme != "https" && scheme != "http" {
        return Err(CrmError::Permanent("the CRM base URL must start with https://".into()));
    }
    if rest.contains(['?', '#', '@', ' ', '\\']) || rest.chars().any(|c| c.is_control()) {
        return Err(CrmError::Permanent(
            "the CRM base URL must be a plain URL without query, fragment or user info".into(),
        ));
    }
    let authority = rest.split('/').next().unwrap_or("");
    let host = host_of(authority).ok_or_else(|| CrmError::Permanent("the CRM base URL has no valid host".into()))?;
    let loopback = is_loopback_host(&host);
    if scheme == "http" && !(loopback && allow_http_loopback) {
        return Err(CrmError::Permanent(PLAIN_HTTP_REFUSED.into()));
    }
    let mut url = format!("{scheme}://{rest}");
    if !url.ends_with('/') {
        url.push('/');
    }
    Ok(BaseUrl { url, loopback })
}

/// The host part of `host[:port]` or `[v6][:port]`, lowercased; `None` when empty or
/// malformed. Names are ASCII letters, digits, `-`, `_` and `.` only (IDNs as punycode), and
/// a port is 1..=65535, so nothing in the authority can be read two ways.
fn host_of(authority: &str) -> Option<String> {
    let (host, port) = if let Some(bracketed) = authority.strip_prefix('[') {
        let (v6, after) = bracketed.split_once(']')?;
        let port = match after {
            "" => None,
            _ => Some(after.strip_prefix(':')?),
        };
        v6.parse::<Ipv6Addr>().ok()?;
        (v6, port)
    } else {
        let (host, port) = match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        };
        let name_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
        if !host.chars().all(name_char) || host.starts_with('.') || host.contains("..") {
            return None;
        }
        (host, port)
    };
    if let Some(port) = port {
        if port.is_empty() || port.len() > 5 || !port.chars().all(|c| c.is_ascii_digit()) {
            return None;
        }
        if !(1..=65_535).contains(&port.parse::<u32>().ok()?) {
            return None;
        }
    }
    if host.is_empty() {
        return None;
    }
    Some(host.to_ascii_lowercase())
}

fn is_loopback_host(host: &str) -> bool {
    if host == "localhost" || host == "localhost." {
        return true;
    }
    match host.parse::<IpAddr>() {
        Ok(IpAddr::V4(v4)) => v4.is_loopback(),
        Ok(IpAddr::V6(v6)) => v6.is_loopback(),
        Err(_) => false,
    }
}

/// Connect and total timeouts with the defaults applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    pub connect: Duration,
    pub total: Duration,
}

/// Bounds for configured timeouts, so a wild value can neither hang a worker for hours nor
/// overflow a deadline.
const MIN_TIMEOUT_MS: u64 = 100;
const MAX_TOTAL_TIMEOUT_MS: u64 = 300_000;

impl Timeouts {
    /// The configured timeouts (0 = default), clamped to 100 ms..300 s, connect <= total.
    pub fn from_config(config: &CrmConfig) -> Self {
        let or_default = |ms: u64, default: u64| if ms == 0 { default } else { ms };
        let total = or_default(config.timeout_ms, DEFAULT_TOTAL_TIMEOUT_MS).clamp(MIN_TIMEOUT_MS, MAX_TOTAL_TIMEOUT_MS);
        let connect = or_default(config.connect_timeout_ms, DEFAULT_CONNECT_TIMEOUT_MS).clamp(MIN_TIMEOUT_MS, total);
        Timeouts { connect: Duration::from_millis(connect), total: Duration::from_millis(total) }
    }
}

static AGENTS: Lazy<Mutex<HashMap<String, Agent>>> = Lazy::new(|| Mutex::new(HashMap::new()));

/// The process-wide agent for this base URL and these timeouts (keyed without credentials),
/// so connections are pooled across calls.
fn agent_for(base: &BaseUrl, timeouts: Timeouts) -> Agent {
    let key = format!("{}|{}|{}", base.url, timeouts.connect.as_millis(), timeouts.total.as_millis());
    let mut agents = AGENTS.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(agent) = agents.get(&key) {
        return agent.clone();
    }
    if agents.len() >= MAX_CACHED_AGENTS {
        agents.clear();
    }
    let agent = new_agent(base, timeouts);
    agents.insert(key, agent.clone());
    agent
}

fn new_agent(base: &BaseUrl, timeouts: Timeouts) -> Agent {
    let tls = TlsConfig::builder().root_certs(RootCerts::PlatformVerifier).build();
    let builder = Agent::config_builder()
        // Statuses are read and classified here, not turned into ureq errors.
        .http_status_as_error(false)
        .tls_config(tls)
        .timeout_connect(Some(timeouts.connect))
        .timeout_global(Some(timeouts.total))
        // A redirect could carry the API headers to another host or to plain HTTP.
        .max_redirects(0)
        .user_agent(concat!("crmhooks/", env!("CARGO_PKG_VERSION")));
    // A proxy from the environment must not see loopback test traffic.
    let builder = if base.loopback { builder.proxy(None) } else { builder };
    builder.build().into()
}

/// One HTTP answer with its status, whatever the status.
#[derive(Debug, Clone)]
pub struct RawResponse {
    pub status: u16,
    pub body: String,
    /// Seconds from `Retry-After` (or `X-Rate-Limit-Reset`), when the server sent one.
    pub retry_after: Option<u64>,
}

impl RawResponse {
    /// A 200 answer with this body, for mapping answers without a network (tests, fuzzing).
    pub fn ok(body: &str) -> Self {
        RawResponse { status: 200, body: body.to_string(), retry_after: None }
    }

    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// Seconds to wait before the next try: the server's wait (capped) or the default, at least 1.
    fn wait_secs(&self) -> u64 {
        cap_wait(self.retry_after.unwrap_or(DEFAULT_RETRY_AFTER_SECS)).max(1)
    }
}

/// Request method; bodies are JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Put,
    Delete,
}

/// What one CRM client needs to send requests: the agent, the base URL, the auth headers
/// and the rate-limit bucket. Holds credentials, so it is never printed.
pub struct HttpClient {
    agent: Agent,
    base: BaseUrl,
    headers: Vec<(&'static str, String)>,
    bucket_key: String,
    limit: Limit,
    timeouts: Timeouts,
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpClient").field("base", &self.base.url).finish_non_exhaustive()
    }
}

impl HttpClient {
    /// `bucket_key` names the account for the rate limit and caches (no credentials in it).
    pub fn new(
        base: BaseUrl,
        headers: Vec<(&'static str, String)>,
        bucket_key: String,
        limit: Limit,
        timeouts: Timeouts,
    ) -> Result<Self, CrmError> {
        for (_, value) in &headers {
            if value.chars().any(|c| c.is_control()) {
                return Err(CrmError::Permanent("a credential contains control characters".into()));
            }
        }
        let agent = agent_for(&base, timeouts);
        Ok(HttpClient { agent, base, headers, bucket_key, limit, timeouts })
    }

    pub fn base_url(&self) -> &str {
        &self.base.url
    }

    /// A deadline for one operation: all its requests, waits and retries share the total timeout.
    pub fn deadline(&self) -> Instant {
        Instant::now() + self.timeouts.total
    }

    /// Send one request (`path` is relative to the base URL and already encoded), waiting for
    /// the rate limit and retrying 429s with short waits. Returns any status except a
    /// rate-limit answer that could not be retried, which becomes `RateLimited`.
    pub fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        deadline: Instant,
    ) -> Result<RawResponse, CrmError> {
        let url = format!("{}{}", self.base.url, path);
        let mut retries = 0;
        loop {
            rate_limit::acquire(&self.bucket_key, self.limit, deadline)?;
            let response = self.send_once(method, &url, body, deadline);
            rate_limit::sent();
            let response = response?;
            if !is_rate_limit_answer(&response) {
                return Ok(response);
            }
            let wait = response.wait_secs();
            let fits = Instant::now().checked_add(Duration::from_secs(wait)).is_some_and(|at| at < deadline);
            if retries >= MAX_RATE_LIMIT_RETRIES || wait > MAX_RETRY_WAIT_SECS || !fits {
                return Err(CrmError::RateLimited { retry_after_secs: wait });
            }
            retries += 1;
            std::thread::sleep(Duration::from_secs(wait));
        }
    }

    fn send_once(
        &self,
        method: Method,
        url: &str,
        body: Option<&Value>,
        deadline: Instant,
    ) -> Result<RawResponse, CrmError> {
        REQUESTS.with(|n| n.set(n.get().saturating_add(1)));
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return Err(CrmError::Temporary("timeout".into()));
        }
        let json = body.map(Value::to_string);
        let result = match method {
            Method::Get => {
                self.with_headers(self.agent.get(url)).config().timeout_global(Some(remaining)).build().call()
            }
            Method::Delete => {
                let request = self.with_headers(self.agent.delete(url));
                match json {
                    Some(json) => request
                        .force_send_body()
                        .content_type("application/json")
                        .config()
                        .timeout_global(Some(remaining))
                        .build()
                        .send(json),
                    None => request.config().timeout_global(Some(remaining)).build().call(),
                }
            }
            Method::Post | Method::Put => {
                let request = if method == Method::Post { self.agent.post(url) } else { self.agent.put(url) };
                let request = self.with_headers(request).config().timeout_global(Some(remaining)).build();
                match json {
                    Some(json) => request.content_type("application/json").send(json),
                    None => request.send_empty(),
                }
            }
        };
        let mut response = result.map_err(|e| transport_error(&e))?;
        let status = response.status().as_u16();
        let retry_after = retry_after_secs(response.headers());
        let body = response.body_mut().read_to_string().map_err(|e| body_error(&e))?;
        Ok(RawResponse { status, body, retry_after })
    }

    fn with_headers<B>(&self, mut request: ureq::RequestBuilder<B>) -> ureq::RequestBuilder<B> {
        request = request.header("Accept", "application/json");
        for (name, value) in &self.headers {
            request = request.header(*name, value.as_str());
        }
        request
    }
}

/// 429, or a 503 that says when to come back (ActiveCampaign's other way to throttle).
fn is_rate_limit_answer(response: &RawResponse) -> bool {
    response.status == 429 || (response.status == 503 && response.retry_after.is_some())
}

/// The error for a non-2xx answer (status code and category only, never the body).
pub fn status_error(response: &RawResponse) -> CrmError {
    let status = response.status;
    match status {
        404 => CrmError::NotFound,
        401 | 403 => CrmError::Unauthorized,
        429 => CrmError::RateLimited { retry_after_secs: response.wait_secs() },
        503 if response.retry_after.is_some() => CrmError::RateLimited { retry_after_secs: response.wait_secs() },
        500..=599 => CrmError::Temporary(format!("HTTP {status} server error")),
        300..=399 => CrmError::Permanent(format!("HTTP {status} redirect (check the base URL)")),
        400..=499 => CrmError::Permanent(format!("HTTP {status} client error")),
        _ => CrmError::Temporary(format!("HTTP {status} unexpected status")),
    }
}

/// Parse a 2xx body as a JSON object; empty bodies, HTML pages and other garbage are errors.
pub fn json_object(response: &RawResponse) -> Result<serde_json::Map<String, Value>, CrmError> {
    if response.body.trim().is_empty() {
        return Err(CrmError::Temporary(format!("HTTP {} with an empty body", response.status)));
    }
    match serde_json::from_str::<Value>(&response.body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(CrmError::Temporary(format!("HTTP {} with a body that is not a JSON object", response.status))),
        Err(_) => Err(CrmError::Temporary(format!("HTTP {} with a body that is not JSON", response.status))),
    }
}

/// A 2xx answer's JSON object, or the error its status or body means.
pub fn expect_object(response: &RawResponse) -> Result<serde_json::Map<String, Value>, CrmError> {
    if !response.is_success() {
        return Err(status_error(response));
    }
    json_object(response)
}

/// A transport failure as a `CrmError` (category only: ureq's messages may contain the URL).
fn transport_error(error: &ureq::Error) -> CrmError {
    match error {
        ureq::Error::Timeout(_) => CrmError::Temporary("timeout".into()),
        ureq::Error::Io(io)
            if io.kind() == std::io::ErrorKind::TimedOut || io.kind() == std::io::ErrorKind::WouldBlock =>
        {
            CrmError::Temporary("timeout".into())
        }
        // rustls reports a rejected certificate as an I/O error of kind InvalidData.
        ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::InvalidData => {
            CrmError::Permanent("TLS failure".into())
        }
        ureq::Error::Io(_) | ureq::Error::ConnectionFailed => CrmError::Temporary("connection failed".into()),
        ureq::Error::HostNotFound => CrmError::Temporary("host not found".into()),
        ureq::Error::Protocol(_) => CrmError::Temporary("malformed HTTP response".into()),
        ureq::Error::BodyExceedsLimit(_) => CrmError::Temporary("response too large".into()),
        ureq::Error::Tls(_) | ureq::Error::Rustls(_) | ureq::Error::Pem(_) => CrmError::Permanent("TLS failure".into()),
        ureq::Error::BadUri(_) | ureq::Error::Http(_) => CrmError::Permanent("invalid request URL or header".into()),
        _ => CrmError::Temporary("HTTP transport failure".into()),
    }
}

/// A failure while reading the body (after the status arrived): always worth a retry.
fn body_error(error: &ureq::Error) -> CrmError {
    match error {
        ureq::Error::Timeout(_) => CrmError::Temporary("timeout".into()),
        ureq::Error::Io(io)
            if io.kind() == std::io::ErrorKind::TimedOut || io.kind() == std::io::ErrorKind::WouldBlock =>
        {
            CrmError::Temporary("timeout".into())
        }
        ureq::Error::BodyExceedsLimit(_) => CrmError::Temporary("response too large".into()),
        _ => CrmError::Temporary("response body could not be read".into()),
    }
}

/// Seconds to wait from `Retry-After` (seconds or an HTTP date) or `X-Rate-Limit-Reset`
/// (seconds, or a Unix time when large), at most `MAX_RETRY_AFTER_SECS`.
pub fn retry_after_secs(headers: &ureq::http::HeaderMap) -> Option<u64> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
    if let Some(value) = header("retry-after") {
        if let Some(secs) = parse_retry_after(value, now_unix()) {
            return Some(secs);
        }
    }
    header("x-rate-limit-reset").and_then(|value| parse_reset(value, now_unix()))
}

/// The one place a server's wait is bounded.
fn cap_wait(secs: u64) -> u64 {
    secs.min(MAX_RETRY_AFTER_SECS)
}

fn now_unix() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// `Retry-After`: delta seconds (fractions rounded up) or an IMF-fixdate; capped at
/// `MAX_RETRY_AFTER_SECS`.
pub fn parse_retry_after(value: &str, now: u64) -> Option<u64> {
    let secs = match parse_seconds(value) {
        Some(secs) => secs,
        None => parse_http_date(value)?.saturating_sub(now),
    };
    Some(cap_wait(secs))
}

/// `X-Rate-Limit-Reset`: seconds until the window resets; values that look like a Unix
/// time are turned into a delay. Capped at `MAX_RETRY_AFTER_SECS`.
pub fn parse_reset(value: &str, now: u64) -> Option<u64> {
    let secs = parse_seconds(value)?;
    const UNIX_TIME_THRESHOLD: u64 = 1_000_000_000;
    Some(cap_wait(if secs >= UNIX_TIME_THRESHOLD { secs.saturating_sub(now) } else { secs }))
}

/// Non-negative decimal seconds, rounded up. A huge value saturates (and is capped later)
/// rather than being ignored: it still means "not soon".
fn parse_seconds(value: &str) -> Option<u64> {
    let value = value.trim();
    if value.is_empty() || !value.chars().all(|c| c.is_ascii_digit() || c == '.') {
        return None;
    }
    let secs: f64 = value.parse().ok()?;
    if secs.is_nan() || secs < 0.0 {
        return None;
    }
    // Too many digits parse as infinity; `as` saturates that (and anything past u64) at u64::MAX.
    Some(secs.ceil() as u64)
}

/// Years an HTTP date may name; bounding them keeps the day arithmetic far from overflow.
const HTTP_DATE_YEARS: std::ops::RangeInclusive<i64> = 1970..=9999;

/// `Sun, 06 Nov 1994 08:49:37 GMT` -> Unix seconds; `None` for anything else, including
/// years outside 1970..=9999.
fn parse_http_date(value: &str) -> Option<u64> {
    let parts: Vec<&str> = value.split_whitespace().collect();
    let [_, day, month, year, time, zone] = parts.as_slice() else { return None };
    if *zone != "GMT" {
        return None;
    }
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let month = MONTHS.iter().position(|m| m == month)? as i64 + 1;
    let day: i64 = day.parse().ok()?;
    let year: i64 = year.parse().ok()?;
    let hms: Vec<Option<i64>> = time.split(':').map(|p| p.parse::<i64>().ok()).collect();
    let [Some(h), Some(m), Some(s)] = hms.as_slice() else { return None };
    let (h, m, s) = (*h, *m, *s);
    if !HTTP_DATE_YEARS.contains(&year)
        || !(1..=31).contains(&day)
        || !(0..24).contains(&h)
        || !(0..60).contains(&m)
        || !(0..61).contains(&s)
    {
        return None;
    }
    // Checked anyway, so a wider year range later cannot bring the overflow back.
    let days = days_from_civil(year, month, day)?;
    let secs = days.checked_mul(86_400)?.checked_add(h * 3_600 + m * 60 + s)?;
    u64::try_from(secs).ok()
}

/// Days since 1970-01-01 for a proleptic Gregorian date (Howard Hinnant's algorithm);
/// `None` on overflow.
pub(super) fn days_from_civil(year: i64, month: i64, day: i64) -> Option<i64> {
    let y = if month <= 2 { year.checked_sub(1)? } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era.checked_mul(146_097)?.checked_add(doe)?.checked_sub(719_468)
}

/// Percent-encode one query value or path segment.
pub fn encode(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// CRM IDs go into URL paths: only digits are accepted.
pub fn check_id(id: &str) -> Result<&str, CrmError> {
    let id = id.trim();
    if id.is_empty() || id.len() > 20 || !id.chars().all(|c| c.is_ascii_digit()) {
        return Err(CrmError::Permanent("invalid contact ID".into()));
    }
    Ok(id)
}

/// A JSON value that CRMs send as a string or a number, as a string.
pub fn string_of(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_is_accepted_and_normalized() {
        for allow in [false, true] {
            let base = check_base_url("https://acct.api-us1.com", allow).unwrap();
            assert_eq!(base.url, "https://acct.api-us1.com/");
            assert!(!base.loopback);
            assert_eq!(
                check_base_url("https://api.ontraport.com/1/", allow).unwrap().url,
                "https://api.ontraport.com/1/"
            );
            assert_eq!(
                check_base_url("HTTPS://Acct.API-us1.com:443", allow).unwrap().url,
                "https://Acct.API-us1.com:443/"
            );
            assert!(check_base_url("https://127.0.0.1:8443/", allow).unwrap().loopback);
            assert!(check_base_url("https://[::1]/", allow).is_ok());
            assert!(check_base_url("https://my_acct.api-us1.com", allow).is_ok());
        }
    }

    const LOOPBACK_HTTP: [&str; 6] = [
        "http://127.0.0.1:8085",
        "http://127.9.9.9/1/",
        "http://localhost:1",
        "http://[::1]:80/",
        "http://LOCALHOST",
        "http://localhost./",
    ];

    #[test]
    fn plain_http_to_loopback_is_refused_without_the_development_flag() {
        for url in LOOPBACK_HTTP {
            assert_eq!(check_base_url(url, false), Err(CrmError::Permanent(PLAIN_HTTP_REFUSED.into())), "{url}");
        }
        assert!(PLAIN_HTTP_REFUSED.contains("CRMHOOKS_DEV_ALLOW_HTTP"));
    }

    #[test]
    fn plain_http_to_loopback_is_allowed_with_the_development_flag() {
        for url in LOOPBACK_HTTP {
            assert!(check_base_url(url, true).unwrap().loopback, "{url}");
        }
    }

    #[test]
    fn plain_http_to_other_hosts_is_refused_even_with_the_flag() {
        for refused in [
            "http://example.com",
            "http://10.0.0.1",
            "http://128.0.0.1",
            "http://127.0.0.1.evil.com",
            "http://[::2]/",
            "http://2130706433/",
            "http://0x7f000001/",
            "http://localhost.evil.com/",
            "http://[::ffff:127.0.0.1]/",
        ] {
            for allow in [false, true] {
                assert_eq!(
                    check_base_url(refused, allow),
                    Err(CrmError::Permanent(PLAIN_HTTP_REFUSED.into())),
                    "{refused} {allow}"
                );
            }
        }
    }

    #[test]
    fn malformed_base_urls_are_refused() {
        for bad in [
            "",
            "acct.api-us1.com",
            "ftp://x",
            "https://",
            "https:///path",
            "https://user:pw@host",
            "https://user@host",
            "https://@host",
            "https://host@evil.com",
            "https://evil.com\\@host",
            "https://host\\evil.com",
            "https://host/path@evil.com",
            "https://h/?q=1",
            "https://h#frag",
            "https://h:port",
            "https://h:",
            "https://h:0",
            "https://h:65536",
            "https://h:1:2",
            "https://h:+443",
            "https://[zz]/",
            "https://[::1]x/",
            "https://[::1]:/",
            "https://https://evil.com/",
            "https://evil%2ecom/",
            "https://evil.com%40host/",
            "https://h\u{0}st/",
            "https://h\tost/",
            "https://ho st/",
            "https://hö.st/",
            "https://.host/",
            "https://ho..st/",
            "http://127.0.0.1@evil.com",
            "http://localhost:80@evil.com/",
        ] {
            for allow in [false, true] {
                assert!(matches!(check_base_url(bad, allow), Err(CrmError::Permanent(_))), "{bad:?}");
            }
        }
    }

    #[test]
    fn timeouts_default_and_clamp() {
        let config =
            |connect_timeout_ms, timeout_ms| CrmConfig { connect_timeout_ms, timeout_ms, ..Default::default() };
        let defaults = Timeouts::from_config(&config(0, 0));
        assert_eq!((defaults.connect, defaults.total), (Duration::from_secs(5), Duration::from_secs(30)));
        let wild = Timeouts::from_config(&config(u64::MAX, u64::MAX));
        assert_eq!((wild.connect, wild.total), (Duration::from_secs(300), Duration::from_secs(300)));
        let short = Timeouts::from_config(&config(1, 1500));
        assert_eq!((short.connect, short.total), (Duration::from_millis(100), Duration::from_millis(1500)));
        assert_eq!(Timeouts::from_config(&config(9000, 2000)).connect, Duration::from_millis(2000));
    }

    #[test]
    fn retry_after_forms() {
        assert_eq!(parse_retry_after("2", 0), Some(2));
        assert_eq!(parse_retry_after("1.2", 0), Some(2));
        assert_eq!(parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", 784_111_770), Some(7));
        assert_eq!(parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", 784_111_800), Some(0));
        assert_eq!(parse_retry_after("soon", 0), None);
        assert_eq!(parse_retry_after("-1", 0), None);
        assert_eq!(parse_reset("30", 0), Some(30));
        assert_eq!(parse_reset("1700000030", 1_700_000_000), Some(30));
    }

    #[test]
    fn http_dates_with_huge_years_do_not_overflow() {
        for huge in [
            "Sun, 06 Nov 99999999999999 08:49:37 GMT",
            "Sun, 06 Nov 9223372036854775807 08:49:37 GMT",
            "Sun, 06 Nov -9223372036854775808 08:49:37 GMT",
            "Sun, 06 Nov 10000 00:00:00 GMT",
            "Sun, 06 Nov 1969 23:59:59 GMT",
        ] {
            assert_eq!(parse_http_date(huge), None, "{huge}");
            assert_eq!(parse_retry_after(huge, 0), None, "{huge}");
            assert_eq!(parse_retry_after(huge, u64::MAX), None, "{huge}");
        }
        assert_eq!(parse_http_date("Thu, 01 Jan 1970 00:00:00 GMT"), Some(0));
        assert_eq!(parse_http_date("Fri, 31 Dec 9999 23:59:59 GMT"), Some(253_402_300_799));
        assert_eq!(days_from_civil(i64::MAX, 1, 1), None);
        assert_eq!(days_from_civil(i64::MIN, 3, 1), None);
    }

    #[test]
    fn waits_are_capped_at_one_hour() {
        assert_eq!(parse_retry_after("3600", 0), Some(3600));
        assert_eq!(parse_retry_after("3601", 0), Some(MAX_RETRY_AFTER_SECS));
        assert_eq!(parse_retry_after("3599.5", 0), Some(3600));
        assert_eq!(parse_retry_after("Fri, 31 Dec 9999 23:59:59 GMT", 0), Some(MAX_RETRY_AFTER_SECS));
        assert_eq!(parse_retry_after("Sun, 06 Nov 1994 09:49:37 GMT", 784_111_777), Some(3600));
        assert_eq!(parse_retry_after("Sun, 06 Nov 1994 10:49:37 GMT", 784_111_777), Some(MAX_RETRY_AFTER_SECS));
        assert_eq!(parse_reset("86400", 0), Some(MAX_RETRY_AFTER_SECS));
        assert_eq!(parse_reset("1700086400", 1_700_000_000), Some(MAX_RETRY_AFTER_SECS));
        assert_eq!(parse_reset("1700000000", u64::MAX), Some(0));
        let answer = |status, retry_after| RawResponse { status, body: String::new(), retry_after };
        let capped = CrmError::RateLimited { retry_after_secs: MAX_RETRY_AFTER_SECS };
        assert_eq!(status_error(&answer(429, Some(u64::MAX))), capped);
        assert_eq!(status_error(&answer(503, Some(1_000_000))), capped);
        assert_eq!(status_error(&answer(429, Some(0))), CrmError::RateLimited { retry_after_secs: 1 });
    }

    #[test]
    fn huge_delta_seconds_mean_the_cap_not_garbage() {
        for huge in ["99999999999999999999", "1e400", "340282366920938463463374607431768211456", "18446744073709551616"]
        {
            let expected = if huge.contains('e') { None } else { Some(MAX_RETRY_AFTER_SECS) };
            assert_eq!(parse_retry_after(huge, 0), expected, "{huge}");
            assert_eq!(parse_reset(huge, 0), expected, "{huge}");
            assert_eq!(parse_reset(huge, u64::MAX), expected.map(|_| 0), "{huge}");
        }
        assert_eq!(parse_retry_after(&"9".repeat(10_000), 0), Some(MAX_RETRY_AFTER_SECS));
    }

    #[test]
    fn negative_and_garbage_waits_are_ignored() {
        for bad in [
            "",
            " ",
            "-1",
            "-0.5",
            "+5",
            "1e3",
            "NaN",
            "inf",
            ".",
            "1.2.3",
            "0x10",
            "5 s",
            "Sun, 06 Nov 1994 08:49:37 UTC",
            "Sun, 06 Nov 1994 08:49 GMT",
            "Sun, 06 Nov 1994 08:49:37:00 GMT",
            "Sun, 06 Foo 1994 08:49:37 GMT",
            "Sun, 32 Nov 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 24:00:00 GMT",
            "Sun, 06 Nov 1994 -1:00:00 GMT",
        ] {
            assert_eq!(parse_retry_after(bad, 1_000), None, "{bad:?}");
            if !bad.contains("GMT") {
                assert_eq!(parse_reset(bad, 1_000), None, "{bad:?}");
            }
        }
    }

    #[test]
    fn statuses_map_to_error_classes() {
        let answer = |status, retry_after| RawResponse { status, body: "secret body".into(), retry_after };
        assert_eq!(status_error(&answer(404, None)), CrmError::NotFound);
        assert_eq!(status_error(&answer(401, None)), CrmError::Unauthorized);
        assert_eq!(status_error(&answer(403, None)), CrmError::Unauthorized);
        assert_eq!(status_error(&answer(429, Some(7))), CrmError::RateLimited { retry_after_secs: 7 });
        assert_eq!(status_error(&answer(503, Some(3))), CrmError::RateLimited { retry_after_secs: 3 });
        assert!(matches!(status_error(&answer(503, None)), CrmError::Temporary(_)));
        assert!(matches!(status_error(&answer(500, None)), CrmError::Temporary(_)));
        assert!(matches!(status_error(&answer(422, None)), CrmError::Permanent(_)));
        assert!(matches!(status_error(&answer(302, None)), CrmError::Permanent(_)));
        assert!(!status_error(&answer(500, None)).to_string().contains("secret"));
    }

    #[test]
    fn bodies_that_are_not_json_objects_are_errors() {
        let answer = |body: &str| RawResponse { status: 200, body: body.into(), retry_after: None };
        assert!(json_object(&answer("{}")).is_ok());
        for bad in ["", "  ", "<html><body>hi</body></html>", "[1]", "null", "{\"a\":"] {
            assert!(matches!(json_object(&answer(bad)), Err(CrmError::Temporary(_))), "{bad:?}");
        }
    }

    #[test]
    fn http_client_debug_never_shows_headers() {
        let base = check_base_url("https://acct.api-us1.com", false).unwrap();
        let headers = vec![("Api-Token", "tok-SECRET".to_string())];
        let timeouts = Timeouts::from_config(&CrmConfig::default());
        let client = HttpClient::new(base, headers, "bucket".into(), rate_limit::ACTIVECAMPAIGN, timeouts).unwrap();
        let shown = format!("{client:?} {client:#?}");
        assert!(!shown.contains("SECRET") && !shown.contains("Api-Token"), "{shown}");
        assert!(shown.contains("https://acct.api-us1.com/"), "{shown}");
    }

    #[test]
    fn ids_must_be_digits() {
        assert_eq!(check_id(" 42 ").unwrap(), "42");
        for bad in ["", "4 2", "../x", "42?x=1", "-1", "123456789012345678901"] {
            assert!(check_id(bad).is_err(), "{bad:?}");
        }
    }
}

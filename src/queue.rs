//! Queue verdicts: which contact a webhook is about, whether it is admitted, when its job runs,
//! how a later webhook (or a retried job) folds into a queued one, whether a claimed job runs,
//! and how a finished attempt ends. Pure: times, rows and settings are passed in; the shim only
//! runs the SQL that carries a verdict out. `crmh_queue_decide` calls `decide`.

use serde::{Deserialize, Serialize};

use crate::answer::{Answer, Body};
use crate::error::{Error, Result};
use crate::lock;
use crate::request::WebhookRequest;

mod health;
pub use health::{health, Health, HealthFacts};

/// The queue's tuning, as the site's settings give it (defaults for anything missing).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct QueueSettings {
    /// A job waits this long after its latest webhook, so a burst for one contact is one fetch.
    pub settle_secs: u64,
    /// ... but runs at the latest this long after its first webhook: a busy contact never starves.
    pub coalesce_cap_secs: u64,
    pub lease_secs: u64,
    pub retry_base_secs: u64,
    pub retry_max_secs: u64,
    pub max_attempts: u32,
    pub queue_max: u64,
    /// Seconds after our own write to the CRM during which the contact's jobs wait.
    pub loopback_window_secs: u64,
    /// Queue webhooks (answer at once) unless a webhook says `async=false`; off: process each
    /// while its sender waits, unless it says `async=true`.
    #[serde(rename = "async")]
    pub async_mode: bool,
}

impl Default for QueueSettings {
    fn default() -> Self {
        QueueSettings {
            settle_secs: 2,
            coalesce_cap_secs: 30,
            lease_secs: 60,
            retry_base_secs: 30,
            retry_max_secs: 3600,
            max_attempts: 8,
            queue_max: 1000,
            loopback_window_secs: 60,
            async_mode: true,
        }
    }
}

/// The coalescing key: `id:<contact id>`, else `email:<lowercased lookup email>`, else a key of
/// its own (`none:<nonce>`): such a webhook coalesces with nothing.
pub fn contact_key(request: &WebhookRequest, nonce: &str) -> String {
    let id = request.contact_id.as_deref().map(str::trim).filter(|id| !id.is_empty());
    match (id, request.email.as_deref().and_then(email_key)) {
        (Some(id), _) => id_key(id),
        (None, Some(email)) => email,
        (None, None) => format!("none:{nonce}"),
    }
}

/// The key of a CRM contact ID (queued jobs, the loopback window's write times).
pub fn id_key(contact_id: &str) -> String {
    format!("id:{}", contact_id.trim())
}

/// The key of a lookup email, or `None` for an empty one.
pub fn email_key(email: &str) -> Option<String> {
    Some(email.trim()).filter(|e| !e.is_empty()).map(|e| format!("email:{}", e.to_lowercase()))
}

/// `None` admits the webhook; otherwise the answer that refuses it (the queue is full).
pub fn admit(backlog: u64, settings: &QueueSettings) -> Option<Answer> {
    if backlog < settings.queue_max.max(1) {
        return None;
    }
    let body = Body { success: false, status: None, error: Some("queue_full".into()), parameter: None, message: None };
    let mut answer = Answer { status: 503, body, headers: Default::default() };
    answer.headers.insert("Retry-After".into(), "30".into());
    Some(answer)
}

/// When a job may run: `settle_secs` after its latest webhook, but no later than
/// `coalesce_cap_secs` after its first; never inside the loopback window of our own last write
/// to the contact, and never before `not_before` (a retry's backoff or the CRM's Retry-After).
pub fn run_after(
    now: u64,
    first_received_at: u64,
    last_write_at: Option<u64>,
    not_before: u64,
    settings: &QueueSettings,
) -> u64 {
    let settled = now.saturating_add(settings.settle_secs);
    let cap = first_received_at.min(now).saturating_add(settings.coalesce_cap_secs);
    let loopback_end = last_write_at.map_or(0, |w| w.saturating_add(settings.loopback_window_secs));
    settled.min(cap).max(now).max(loopback_end).max(not_before)
}

/// A queued job as the shim read it (locked) from its row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueuedJob {
    pub request: WebhookRequest,
    /// When its first webhook arrived (the row's `created_at`).
    pub first_received_at: u64,
    pub run_after: u64,
}

/// What a queued job becomes when another webhook (or a retried job) for its contact folds in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Merged {
    pub request: WebhookRequest,
    pub first_received_at: u64,
    pub run_after: u64,
}

/// Fold `incoming` into a queued job: the strongest action (add > update > update_tags), add's
/// parameters kept when the newer webhook lacks them, and the event of the action that wins (the
/// newest on a tie), so a job an import or a sweep queued stays theirs when a weaker webhook
/// folds in and is counted when it ends. `incoming_first` is when
/// the incoming work first arrived (now for a webhook, the retried job's own first arrival for a
/// fold), and `not_before` its backoff, which a fold keeps.
pub fn merge(
    queued: &QueuedJob,
    incoming: &WebhookRequest,
    now: u64,
    incoming_first: u64,
    last_write_at: Option<u64>,
    not_before: u64,
    settings: &QueueSettings,
) -> Merged {
    let older = &queued.request;
    let mut request = incoming.clone();
    request.action = lock::strongest(older.action, incoming.action);
    if request.action != incoming.action {
        request.event = older.event.clone();
    }
    if request.contact_id.is_none() {
        request.contact_id = older.contact_id.clone();
    }
    if request.email.is_none() {
        request.email = older.email.clone();
    }
    if request.role.as_deref().unwrap_or_default().is_empty() {
        request.role = older.role.clone();
    }
    request.send_notification = older.send_notification || incoming.send_notification;
    let first_received_at = queued.first_received_at.min(incoming_first);
    let run_after = run_after(now, first_received_at, last_write_at, not_before, settings).max(queued.run_after);
    Merged { request, first_received_at, run_after }
}

/// A job the claim query found: queued and due, or running with an expired lease.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimCandidate {
    /// True when a worker held it and its lease ran out.
    pub lease_expired: bool,
    pub attempts: u32,
    /// The CRM account that accepted the job (empty for jobs from before accounts were stamped).
    #[serde(default)]
    pub account: String,
}

/// What to do with a claim candidate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum Claim {
    Run,
    /// Our own CRM write is this recent: wait, then read the contact fresh.
    DeferUntil {
        at: u64,
    },
    /// Fail it, visibly, with this outcome and reason (it can be retried by hand).
    Fail {
        outcome: String,
        reason: String,
    },
}

/// Claim verdict. A job is only ever judged by the CRM account that accepted it: when the site
/// now points at another account, the job fails visibly instead of fetching the contact from
/// the wrong CRM (where "not found" would silently end it).
pub fn claim(
    now: u64,
    job: &ClaimCandidate,
    current_account: &str,
    last_write_at: Option<u64>,
    settings: &QueueSettings,
) -> Claim {
    if let lock::Decision::Defer { until } = lock::loopback(now, last_write_at, settings.loopback_window_secs) {
        return Claim::DeferUntil { at: until };
    }
    if job.lease_expired && job.attempts >= settings.max_attempts.max(1) {
        return Claim::Fail {
            outcome: "worker_died".into(),
            reason: "the worker stopped before finishing (lease expired) on every attempt".into(),
        };
    }
    if !job.account.is_empty() && job.account != current_account {
        return Claim::Fail {
            outcome: "account_changed".into(),
            reason: "the CRM account that accepted this webhook is no longer the site's CRM account; \
                     retry it to process it with the current account"
                .into(),
        };
    }
    Claim::Run
}

/// How a processing attempt ended, as the shim reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct Attempt {
    /// created, updated, unchanged, skipped, contact_not_found, conflict, crm_error, busy,
    /// unavailable, failed.
    pub outcome: String,
    /// The library's result name for CRM errors (crm_rate_limited, crm_temporary, ...), or
    /// `exception` when PHP threw.
    pub code: String,
    /// Seconds the CRM asked us to wait.
    pub retry_after: u64,
}

/// The end of an attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum Finish {
    Done,
    RetryAt { at: u64 },
    Failed,
}

/// Outcomes that complete a job.
const DONE: &[&str] = &["created", "updated", "unchanged", "skipped", "contact_not_found"];

/// Finish verdict: done; retry with backoff (never before the CRM's Retry-After) for passing
/// trouble (rate limit, CRM temporarily down, lock busy, library unavailable, a PHP exception)
/// until `max_attempts`; failed for anything else (a conflict, a refused CRM answer), which the
/// admin sees and can retry.
pub fn finish(now: u64, attempts: u32, attempt: &Attempt, jitter: f64, settings: &QueueSettings) -> Finish {
    if DONE.contains(&attempt.outcome.as_str()) {
        return Finish::Done;
    }
    let passing = match attempt.outcome.as_str() {
        "crm_error" => matches!(attempt.code.as_str(), "crm_rate_limited" | "crm_temporary"),
        "busy" | "unavailable" => true,
        _ => attempt.code == "exception",
    };
    if !passing {
        return Finish::Failed;
    }
    let retry_after = if attempt.outcome == "unavailable" { attempt.retry_after.max(60) } else { attempt.retry_after };
    match lock::retry(
        now,
        attempts,
        settings.max_attempts.max(1),
        Some(retry_after),
        settings.retry_base_secs.max(1),
        settings.retry_max_secs.max(settings.retry_base_secs.max(1)),
        jitter,
    ) {
        lock::Decision::Retry { at } => Finish::RetryAt { at },
        _ => Finish::Failed,
    }
}

/// Whether the drainer ends its run after this attempt: the CRM asked us to wait, or the library
/// is unavailable, and the next jobs would meet the same (a successor or cron goes on later).
pub fn stops_draining(attempt: &Attempt) -> bool {
    attempt.outcome == "unavailable" || attempt.code == "crm_rate_limited"
}

/// `kind: finish` output: the verdict, and `stop_draining`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finished {
    #[serde(flatten)]
    pub verdict: Finish,
    pub stop_draining: bool,
}

/// The HTTP answer to a webhook processed inline (`async=false`). It never tells whether a
/// contact or a user exists: not found, skipped and conflicts all read "processed".
pub fn inline_answer(attempt: &Attempt) -> Answer {
    let (status, success, word, retry_after) = match attempt.outcome.as_str() {
        "created" | "updated" | "unchanged" | "skipped" | "conflict" | "contact_not_found" => {
            (200, true, "processed", None)
        }
        "crm_error" if matches!(attempt.code.as_str(), "crm_rate_limited" | "crm_temporary") => {
            let retry = if attempt.retry_after > 0 { attempt.retry_after } else { 30 };
            (503, false, "crm_unavailable", Some(retry))
        }
        "crm_error" => (502, false, "crm_error", None),
        "busy" => (503, false, "busy", Some(5)),
        "unavailable" => (503, false, "unavailable", Some(60)),
        _ => (500, false, "failed", None),
    };
    // A success reads {"success":true,"status":"processed"}; a failure {"success":false,"error":..}.
    simple_answer(status, success, word, retry_after)
}

/// `crmh_queue_decide` input, selected by `"kind"`. One query per call, so the size of the
/// largest variant does not matter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[allow(clippy::large_enum_variant)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum QueueQuery {
    /// A webhook arrives: its key, whether it is admitted, and its job's `run_after` if new.
    Accept {
        now: u64,
        request: WebhookRequest,
        #[serde(default)]
        nonce: String,
        backlog: u64,
        #[serde(default)]
        last_write_at: Option<u64>,
        #[serde(default)]
        settings: QueueSettings,
    },
    /// `run_after` for a new job (`first_received_at` is earlier for a retried job re-queued).
    Schedule {
        now: u64,
        first_received_at: u64,
        #[serde(default)]
        last_write_at: Option<u64>,
        #[serde(default)]
        not_before: u64,
        #[serde(default)]
        settings: QueueSettings,
    },
    Merge {
        now: u64,
        queued: QueuedJob,
        incoming: WebhookRequest,
        #[serde(default)]
        incoming_first: Option<u64>,
        #[serde(default)]
        last_write_at: Option<u64>,
        #[serde(default)]
        not_before: u64,
        #[serde(default)]
        settings: QueueSettings,
    },
    Claim {
        now: u64,
        job: ClaimCandidate,
        current_account: String,
        #[serde(default)]
        last_write_at: Option<u64>,
        #[serde(default)]
        settings: QueueSettings,
    },
    Finish {
        now: u64,
        attempts: u32,
        attempt: Attempt,
        #[serde(default)]
        jitter: f64,
        #[serde(default)]
        settings: QueueSettings,
    },
    InlineAnswer {
        attempt: Attempt,
    },
    /// Site Health: the queue's and background processing's verdicts (`queue/health.rs`).
    Health {
        #[serde(flatten)]
        facts: HealthFacts,
    },
}

/// `kind: accept` output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Acceptance {
    /// Process it now, while the sender waits (`async=false`, or the site's setting), instead
    /// of queueing it; then nothing below applies.
    pub inline: bool,
    pub contact_key: String,
    /// Set when the queue is full: send this answer and store nothing.
    pub refuse: Option<Answer>,
    /// `run_after` for a new job (a merge asks again with `kind: merge`).
    pub run_after: u64,
    /// The answer once the job is stored: `{"success":true,"status":"queued"}`.
    pub answer: Answer,
    /// The answer when the database refused the job (nothing was stored): 503, retry in 5 s.
    pub busy: Answer,
}

fn simple_answer(status: u16, success: bool, word: &str, retry_after: Option<u64>) -> Answer {
    let (status_word, error) = if success { (Some(word.into()), None) } else { (None, Some(word.into())) };
    let body = Body { success, status: status_word, error, parameter: None, message: None };
    let headers = retry_after.map(|secs| ("Retry-After".to_string(), secs.to_string())).into_iter().collect();
    Answer { status, body, headers }
}

/// JSON entry point for `crmh_queue_decide`.
pub fn decide(json: &str) -> Result<String> {
    let query: QueueQuery = serde_json::from_str(json).map_err(|e| Error::from_json(&e))?;
    // Serialized straight to text (not through a `Value`, whose map would sort the members):
    // answers keep `success` first.
    let out = match query {
        QueueQuery::Accept { now, request, nonce, backlog, last_write_at, settings } => {
            serde_json::to_string(&Acceptance {
                inline: !request.async_mode.unwrap_or(settings.async_mode),
                contact_key: contact_key(&request, &nonce),
                refuse: admit(backlog, &settings),
                run_after: run_after(now, now, last_write_at, 0, &settings),
                answer: simple_answer(200, true, "queued", None),
                busy: simple_answer(503, false, "busy", Some(5)),
            })
        }
        QueueQuery::Schedule { now, first_received_at, last_write_at, not_before, settings } => {
            serde_json::to_string(&Scheduled {
                run_after: run_after(now, first_received_at, last_write_at, not_before, &settings),
            })
        }
        QueueQuery::Merge { now, queued, incoming, incoming_first, last_write_at, not_before, settings } => {
            let first = incoming_first.unwrap_or(now);
            serde_json::to_string(&merge(&queued, &incoming, now, first, last_write_at, not_before, &settings))
        }
        QueueQuery::Claim { now, job, current_account, last_write_at, settings } => {
            serde_json::to_string(&claim(now, &job, &current_account, last_write_at, &settings))
        }
        QueueQuery::Finish { now, attempts, attempt, jitter, settings } => {
            let verdict = finish(now, attempts, &attempt, jitter, &settings);
            serde_json::to_string(&Finished { verdict, stop_draining: stops_draining(&attempt) })
        }
        QueueQuery::InlineAnswer { attempt } => serde_json::to_string(&inline_answer(&attempt)),
        QueueQuery::Health { facts } => serde_json::to_string(&health(&facts)),
    };
    out.map_err(|e| Error::from_json(&e))
}

/// `kind: schedule` output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Scheduled {
    pub run_after: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::{Action, Event};

    const NOW: u64 = 1_700_000_000;

    fn request(action: Action, contact_id: Option<&str>) -> WebhookRequest {
        WebhookRequest {
            action,
            contact_id: contact_id.map(str::to_string),
            email: None,
            role: None,
            send_notification: false,
            async_mode: None,
            event: Event::default(),
        }
    }

    fn settings() -> QueueSettings {
        QueueSettings::default()
    }

    #[test]
    fn contact_key_by_id_then_email_then_its_own() {
        assert_eq!(contact_key(&request(Action::Update, Some("42")), "n"), "id:42");
        let mut by_email = request(Action::Add, None);
        by_email.email = Some(" Jane@Example.COM ".into());
        assert_eq!(contact_key(&by_email, "n"), "email:jane@example.com");
        assert_eq!(contact_key(&request(Action::Add, None), "abc"), "none:abc");
    }

    #[test]
    fn admission_refuses_at_the_bound_with_retry_after() {
        assert!(admit(999, &settings()).is_none());
        let refused = admit(1000, &settings()).expect("full");
        assert_eq!(refused.status, 503);
        assert_eq!(refused.headers.get("Retry-After").map(String::as_str), Some("30"));
        assert!(admit(1, &QueueSettings { queue_max: 0, ..settings() }).is_some(), "a zero bound counts as one");
    }

    #[test]
    fn acceptance_words_the_queued_and_busy_answers() {
        let json = r#"{"kind":"accept","now":100,"nonce":"n","backlog":0,"settings":{"queue_max":5},
            "request":{"action":"update","contact_id":"42","email":null,"role":null,"send_notification":false,"async":null,"event":{}}}"#;
        let out: serde_json::Value = serde_json::from_str(&decide(json).unwrap()).unwrap();
        assert_eq!(out["contact_key"], "id:42");
        assert_eq!(out["refuse"], serde_json::Value::Null);
        assert_eq!(out["answer"]["status"], 200);
        assert_eq!(out["answer"]["body"], serde_json::json!({"success": true, "status": "queued"}));
        assert_eq!(out["busy"]["status"], 503);
        assert_eq!(out["busy"]["headers"]["Retry-After"], "5");
        assert!(decide(&json.replace(r#""backlog":0"#, r#""backlog":5"#)).unwrap().contains(r#""error":"queue_full""#));
    }

    #[test]
    fn a_webhook_is_queued_unless_it_or_the_site_says_inline() {
        let json = r#"{"kind":"accept","now":100,"backlog":0,"settings":{"async":SITE},
            "request":{"action":"update","contact_id":"42","send_notification":false,"async":ASKED,"event":{}}}"#;
        for (site, asked, inline) in
            [("true", "null", false), ("false", "null", true), ("true", "false", true), ("false", "true", false)]
        {
            let out: serde_json::Value =
                serde_json::from_str(&decide(&json.replace("SITE", site).replace("ASKED", asked)).unwrap()).unwrap();
            assert_eq!(out["inline"], inline, "site async={site}, webhook async={asked}");
        }
    }

    #[test]
    fn run_after_settles_but_is_capped_after_the_first_webhook() {
        let s = settings();
        assert_eq!(run_after(NOW, NOW, None, 0, &s), NOW + 2);
        // A webhook every second for a minute: the job still runs 30 s after the first.
        let mut at = run_after(NOW, NOW, None, 0, &s);
        for t in 1..60 {
            let queued =
                QueuedJob { request: request(Action::Update, Some("42")), first_received_at: NOW, run_after: at };
            at = merge(&queued, &request(Action::Update, Some("42")), NOW + t, NOW + t, None, 0, &s).run_after;
            assert!(at <= NOW + 30 || at <= NOW + t, "starved at {t}: {at}");
        }
        assert_eq!(run_after(NOW + 100, NOW, None, 0, &s), NOW + 100, "past the cap: now");
    }

    #[test]
    fn run_after_respects_the_loopback_window_and_a_retry_backoff() {
        let s = settings();
        assert_eq!(run_after(NOW, NOW, Some(NOW - 10), 0, &s), NOW + 50);
        assert_eq!(run_after(NOW, NOW, None, NOW + 3600, &s), NOW + 3600);
        assert_eq!(run_after(NOW, NOW, Some(u64::MAX), u64::MAX, &s), u64::MAX, "no overflow");
    }

    #[test]
    fn merge_keeps_the_strongest_action_and_adds_parameters() {
        let mut add = request(Action::Add, Some("42"));
        add.role = Some("customer".into());
        add.send_notification = true;
        let queued = QueuedJob { request: add, first_received_at: NOW - 5, run_after: NOW - 3 };
        let merged = merge(&queued, &request(Action::UpdateTags, Some("42")), NOW, NOW, None, 0, &settings());
        assert_eq!(merged.request.action, Action::Add);
        assert_eq!(merged.request.role.as_deref(), Some("customer"));
        assert!(merged.request.send_notification);
        assert_eq!(merged.first_received_at, NOW - 5);
        assert_eq!(merged.run_after, NOW + 2);
    }

    #[test]
    fn the_event_goes_with_the_action_that_wins() {
        let with_event = |action, event: &str| {
            let mut request = request(action, Some("42"));
            request.event.r#type = Some(event.into());
            request
        };
        let queued = |request| QueuedJob { request, first_received_at: NOW, run_after: NOW + 2 };
        let event_of = |merged: Merged| merged.request.event.r#type;
        // An import's add keeps its event when a webhook's update folds in ...
        let import = queued(with_event(Action::Add, "import"));
        let merged = merge(&import, &with_event(Action::Update, "update"), NOW, NOW, None, 0, &settings());
        assert_eq!(event_of(merged), Some("import".into()));
        // ... a stronger incoming brings its own, and on a tie the newest wins.
        let tags = queued(with_event(Action::UpdateTags, "contact_tag_added"));
        let merged = merge(&tags, &with_event(Action::Update, "reconcile"), NOW, NOW, None, 0, &settings());
        assert_eq!(event_of(merged), Some("reconcile".into()));
        let sweep = queued(with_event(Action::Update, "reconcile"));
        let merged = merge(&sweep, &with_event(Action::Update, "update"), NOW, NOW, None, 0, &settings());
        assert_eq!(event_of(merged), Some("update".into()));
    }

    #[test]
    fn folding_a_retried_job_keeps_its_backoff_and_first_arrival() {
        let newer =
            QueuedJob { request: request(Action::Update, Some("42")), first_received_at: NOW, run_after: NOW + 2 };
        let retried = request(Action::Add, Some("42"));
        let backoff_until = NOW + 900; // The CRM said Retry-After: 900.
        let merged = merge(&newer, &retried, NOW, NOW - 600, None, backoff_until, &settings());
        assert_eq!(merged.run_after, backoff_until);
        assert_eq!(merged.first_received_at, NOW - 600);
        assert_eq!(merged.request.action, Action::Add);
    }

    fn candidate(lease_expired: bool, attempts: u32, account: &str) -> ClaimCandidate {
        ClaimCandidate { lease_expired, attempts, account: account.into() }
    }

    #[test]
    fn claim_runs_defers_or_fails_visibly() {
        let s = settings();
        assert_eq!(claim(NOW, &candidate(false, 0, "ac:1"), "ac:1", None, &s), Claim::Run);
        assert_eq!(claim(NOW, &candidate(false, 0, ""), "ac:1", None, &s), Claim::Run, "unstamped job");
        assert_eq!(
            claim(NOW, &candidate(false, 0, "ac:1"), "ac:1", Some(NOW - 1), &s),
            Claim::DeferUntil { at: NOW + 59 }
        );
        assert!(
            matches!(claim(NOW, &candidate(true, 8, "ac:1"), "ac:1", None, &s), Claim::Fail { outcome, .. } if outcome == "worker_died")
        );
        assert_eq!(claim(NOW, &candidate(true, 7, "ac:1"), "ac:1", None, &s), Claim::Run);
    }

    #[test]
    fn a_job_is_never_judged_by_another_account() {
        let verdict = claim(NOW, &candidate(false, 0, "ac:old"), "op:new", None, &settings());
        assert!(matches!(verdict, Claim::Fail { outcome, .. } if outcome == "account_changed"));
    }

    fn attempt(outcome: &str, code: &str, retry_after: u64) -> Attempt {
        Attempt { outcome: outcome.into(), code: code.into(), retry_after }
    }

    #[test]
    fn finish_verdicts() {
        let s = settings();
        for done in DONE {
            assert_eq!(finish(NOW, 1, &attempt(done, "", 0), 0.5, &s), Finish::Done, "{done}");
        }
        for failed in
            [attempt("conflict", "", 0), attempt("crm_error", "crm_unauthorized", 0), attempt("failed", "", 0)]
        {
            assert_eq!(finish(NOW, 1, &failed, 0.5, &s), Finish::Failed, "{failed:?}");
        }
        assert_eq!(
            finish(NOW, 1, &attempt("crm_error", "crm_rate_limited", 120), 0.0, &s),
            Finish::RetryAt { at: NOW + 120 }
        );
        assert_eq!(finish(NOW, 1, &attempt("unavailable", "", 0), 0.0, &s), Finish::RetryAt { at: NOW + 60 });
        assert!(matches!(finish(NOW, 1, &attempt("failed", "exception", 0), 0.0, &s), Finish::RetryAt { .. }));
        assert_eq!(finish(NOW, 8, &attempt("busy", "", 0), 0.0, &s), Finish::Failed, "out of attempts");
    }

    #[test]
    fn a_rate_limit_or_a_missing_library_ends_the_drainers_run() {
        let json = r#"{"kind":"finish","now":1700000000,"attempts":1,"attempt":{"outcome":"OUTCOME","code":"CODE"}}"#;
        for (outcome, code, stops) in [
            ("crm_error", "crm_rate_limited", true),
            ("unavailable", "", true),
            ("crm_error", "crm_temporary", false),
            ("updated", "", false),
            ("busy", "", false),
        ] {
            let out: serde_json::Value =
                serde_json::from_str(&decide(&json.replace("OUTCOME", outcome).replace("CODE", code)).unwrap())
                    .unwrap();
            assert_eq!(out["stop_draining"], stops, "{outcome} {code}");
            assert!(out["verdict"].is_string(), "the verdict is still there: {out}");
        }
    }

    #[test]
    fn inline_answers_never_tell_whether_a_contact_exists() {
        for outcome in ["created", "updated", "unchanged", "skipped", "conflict", "contact_not_found"] {
            let a = inline_answer(&attempt(outcome, "", 0));
            assert_eq!((a.status, a.body.success), (200, true), "{outcome}");
        }
        let limited = inline_answer(&attempt("crm_error", "crm_rate_limited", 7));
        assert_eq!((limited.status, limited.headers.get("Retry-After").map(String::as_str)), (503, Some("7")));
        assert_eq!(inline_answer(&attempt("crm_error", "crm_permanent", 0)).status, 502);
        assert_eq!(inline_answer(&attempt("weird", "", 0)).status, 500);
    }

    #[test]
    fn decide_round_trips_json() {
        let json = r#"{"kind":"claim","now":1700000000,"job":{"lease_expired":false,"attempts":0,"account":"ac:x"},"current_account":"op:y"}"#;
        let out: serde_json::Value = serde_json::from_str(&decide(json).unwrap()).unwrap();
        assert_eq!(out["verdict"], "fail");
        let answer = decide(r#"{"kind":"inline_answer","attempt":{"outcome":"created"}}"#).unwrap();
        assert!(answer.contains(r#""body":{"success":true,"status":"processed"}"#), "{answer}");
        assert_eq!(out["outcome"], "account_changed");
        assert!(decide(r#"{"kind":"nope"}"#).is_err());
        let health = decide(r#"{"kind":"health","now":1000,"oldest_due_at":100,"failed_24h":0,"next_cron_at":1030,"cron_disabled":false,"settings":{}}"#).unwrap();
        assert!(health.contains(r#""queue":{"status":"critical","reason":"stalled"}"#), "{health}");
    }
}

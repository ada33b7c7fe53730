//! Reconcile with the CRM: the sweep that makes a lost webhook harmless, and import by tag.
//! Pure, like queue.rs: times, list pages, WordPress facts and the stored state come in,
//! verdicts and the next state go out. `crmh_reconcile_decide` calls `decide`.
//!
//! **The sweep.** ActiveCampaign never re-sends a webhook that failed and an Ontraport rule
//! fires once, but both record when each contact changed. So on a schedule the shim lists the
//! contacts changed since the sweep last looked (`crmh_crm_list_modified`) and queues an
//! `update` job for each one that belongs to a WordPress user. Never `add`: a sweep creates
//! no user. One pass, as the shim drives it:
//!
//! 1. `sweep_start` says to wait (off, not due, pacing) or where to list: `since`, `cursor`.
//! 2. `page_lookup` names what to look up in WordPress for that page; `sweep_page`, given the
//!    page and what was found (its users, its queued jobs, when its contacts were last
//!    fetched), returns the jobs and the state after them. Queue the jobs and store that state in ONE transaction: a crash then keeps
//!    both or neither, so a page is never skipped (cursor moved, jobs lost) nor queued twice.
//! 3. A failed list or queue step goes to `sweep_failed`: the error is kept, the cursor and
//!    the mark stay where they were, and the next try waits a little.
//!
//! The pass ends with the page that has no next cursor, and only then the mark moves: to when
//! the pass began (site clock). The next pass lists from the mark minus an overlap, so neither
//! a CRM clock up to the overlap behind the site's nor a change stamped just before a page was
//! listed and committed just after can slip between two passes. The repeats the overlap brings
//! cost nothing: a contact with a job still queued, or whose user was fetched well after the
//! change, gets no new job.
//!
//! **Import by tag.** `import_start`, then `import_next` / `import_page` / `import_failed` in
//! the same way over `crmh_crm_list_tagged`, with one `add` job per contact (the plan's role
//! rules apply when it runs); `import_job_finished` counts each job's end for the progress bar.
//!
//! Both spend only a share of the CRM's rate limit: the list requests and the jobs' fetches
//! are spaced through `run_after`, so webhooks keep the rest.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::crm::{http::check_id, ContactPage, CrmKind, ListedContact};
use crate::error::{Error, Result};
use crate::plan::{self, Candidate, Conflict};
use crate::queue::{contact_key, email_key, id_key};
use crate::request::{Action, Event, WebhookRequest};

/// The event type of the jobs a sweep queues (the queue screen shows where a job came from).
pub const SWEEP_EVENT: &str = "reconcile";
/// The event type of the jobs an import queues.
pub const IMPORT_EVENT: &str = "import";
/// A failed list or queue step waits at least this long before the next try.
const MIN_RETRY_SECS: u64 = 60;
/// Sweeps never run closer together than this, whatever the setting says.
const MIN_INTERVAL_SECS: u64 = 60;
/// Stored error texts are cut to this many characters.
const MAX_ERROR_CHARS: usize = 300;
/// An import lists at most this many failures one by one (all are counted).
const MAX_LISTED_FAILURES: usize = 100;

// ---- the rate share ------------------------------------------------------------------------

/// What a share of the CRM's rate limit allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Budget {
    /// Requests a minute, at least 1.
    pub requests_per_minute: u64,
    /// Requests one job costs (its contact fetch).
    pub requests_per_job: u64,
    /// Milliseconds from one request to the next.
    pub request_interval_ms: u64,
}

/// `share_percent` (1..=100) of the account's limit as the clients pace it: ActiveCampaign
/// 240 requests a minute, so 20 % is 48 (a job fetches 2); Ontraport 170, so 20 % is 34.
pub fn budget(crm: CrmKind, share_percent: u32) -> Budget {
    let limit = crm.limit();
    let account_per_minute = (limit.window_count as u64).saturating_mul(60_000) / limit.window_ms.max(1);
    let share = u64::from(share_percent.clamp(1, 100));
    let requests_per_minute = (account_per_minute.saturating_mul(share) / 100).max(1);
    Budget {
        requests_per_minute,
        requests_per_job: u64::from(crm.requests_per_fetch().max(1)),
        request_interval_ms: 60_000_u64.div_ceil(requests_per_minute),
    }
}

/// Run times (Unix s, rounded up) for `jobs` jobs from a page listed now, and the next free
/// slot (Unix ms). The list request took the first free slot; each job gets its fetch's slots
/// after it, in order.
fn pace(next_slot_ms: u64, now: u64, jobs: usize, budget: Budget) -> (Vec<u64>, u64) {
    let first = next_slot_ms.max(now.saturating_mul(1000)).saturating_add(budget.request_interval_ms);
    let per_job = budget.request_interval_ms.saturating_mul(budget.requests_per_job);
    let at = |i: u64| first.saturating_add(i.saturating_mul(per_job));
    let run_after = (0..jobs as u64).map(|i| at(i).div_ceil(1000)).collect();
    (run_after, at(jobs as u64))
}

fn slot_secs(next_slot_ms: u64) -> u64 {
    next_slot_ms.div_ceil(1000)
}

/// After a failure: not before `retry_after` (the CRM's), and at least a minute from now.
fn backoff(next_slot_ms: u64, now: u64, retry_after: u64) -> u64 {
    next_slot_ms.max(now.saturating_add(retry_after.max(MIN_RETRY_SECS)).saturating_mul(1000))
}

fn clip(error: &str) -> String {
    error.trim().chars().take(MAX_ERROR_CHARS).collect()
}

fn crm_kind(name: &str) -> Result<CrmKind> {
    CrmKind::from_name(name).ok_or(Error::InvalidParameter("crm"))
}

/// A queued job: its coalescing key, its request, and when it may run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Job {
    pub contact_key: String,
    pub request: WebhookRequest,
    pub run_after: u64,
}

fn request(action: Action, contact_id: &str, event: &str) -> WebhookRequest {
    WebhookRequest {
        action,
        contact_id: Some(contact_id.to_string()),
        email: None,
        role: None,
        send_notification: false,
        async_mode: None,
        event: Event { r#type: Some(event.to_string()), ..Event::default() },
    }
}

// ---- the sweep ------------------------------------------------------------------------------

/// The sweep's settings (defaults for anything missing).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SweepSettings {
    /// The off switch.
    pub enabled: bool,
    /// A pass starts this long after the previous one started (at least 60 s).
    pub interval_secs: u64,
    /// How far back of the mark each pass lists: the clock difference between the site and
    /// the CRM it absorbs.
    pub overlap_secs: u64,
    /// The share of the CRM's rate limit the sweep may spend (its lists and its jobs).
    pub rate_share_percent: u32,
}

impl Default for SweepSettings {
    fn default() -> Self {
        SweepSettings { enabled: true, interval_secs: 900, overlap_secs: 120, rate_share_percent: 20 }
    }
}

/// What the shim stores between calls (one option). Only `sweep_page` moves the cursor or the
/// mark, and its state is stored only together with the page's jobs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct SweepState {
    /// When the last complete pass began (site clock, Unix s): every change made before then
    /// has had its job queued. The next pass lists from here less the overlap. `None` before
    /// the first pass completes.
    pub mark: Option<u64>,
    /// The pass in progress; after a crash or an error it resumes here.
    pub pass: Option<Pass>,
    /// The sweep's next request may go at this time (Unix ms): its rate share.
    pub next_slot_ms: u64,
    /// The last complete pass, for the queue screen and Site Health.
    pub last: Option<PassReport>,
}

/// A pass in progress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct Pass {
    /// The list's `since` (Unix s): kept for the whole pass, so a resumed pass lists the same.
    pub since: u64,
    /// When the pass began (site clock): the mark once it completes.
    pub started_at: u64,
    /// Where the next page starts; `None` for the first.
    pub cursor: Option<String>,
    #[serde(flatten)]
    pub counts: Counts,
}

/// What a pass did so far.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct Counts {
    pub pages: u64,
    /// Contacts listed.
    pub seen: u64,
    /// Jobs queued.
    pub queued: u64,
    /// Contacts that needed no job (no user, already queued, fetched since, ...).
    pub skipped: u64,
    /// Failed list or queue steps (each retried).
    pub errors: u64,
    pub last_error: Option<String>,
}

/// A complete pass.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct PassReport {
    pub since: u64,
    pub started_at: u64,
    pub finished_at: u64,
    #[serde(flatten)]
    pub counts: Counts,
}

/// Why the sweep does not list now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IdleReason {
    Disabled,
    /// The next pass is due at `retry_at`.
    NotDue,
    /// The rate share (or a back-off after an error) allows the next request at `retry_at`.
    Pacing,
}

/// `sweep_start` verdict. One per call, so the size of the larger variant does not matter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[allow(clippy::large_enum_variant)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum SweepStart {
    Idle {
        reason: IdleReason,
        retry_at: Option<u64>,
    },
    /// List one page with `crmh_crm_list_modified(since, cursor)`, then call `sweep_page` (or
    /// `sweep_failed`) with this state.
    List {
        since: u64,
        cursor: Option<String>,
        state: SweepState,
    },
}

/// Whether to list now, and from where. A pass in progress resumes at its cursor with its own
/// `since`. A new pass starts when due (`interval_secs` after the last one began, at once when
/// `force`) and lists from the mark minus the overlap; from `interval_secs` before now the
/// first time. A mark ahead of the site clock (the clock went back) counts as now.
pub fn sweep_start(now: u64, mut state: SweepState, settings: &SweepSettings, force: bool) -> SweepStart {
    if !settings.enabled {
        return SweepStart::Idle { reason: IdleReason::Disabled, retry_at: None };
    }
    let slot = slot_secs(state.next_slot_ms);
    if let Some(pass) = &state.pass {
        if now < slot {
            return SweepStart::Idle { reason: IdleReason::Pacing, retry_at: Some(slot) };
        }
        return SweepStart::List { since: pass.since, cursor: pass.cursor.clone(), state };
    }
    let interval = settings.interval_secs.max(MIN_INTERVAL_SECS);
    if let Some(mark) = state.mark.filter(|mark| *mark <= now) {
        let due = mark.saturating_add(interval);
        if now < due && !force {
            return SweepStart::Idle { reason: IdleReason::NotDue, retry_at: Some(due) };
        }
    }
    if now < slot {
        return SweepStart::Idle { reason: IdleReason::Pacing, retry_at: Some(slot) };
    }
    let from = state.mark.map_or(now.saturating_sub(interval), |mark| mark.min(now));
    let since = from.saturating_sub(settings.overlap_secs);
    state.pass = Some(Pass { since, started_at: now, cursor: None, counts: Counts::default() });
    SweepStart::List { since, cursor: None, state }
}

/// What the shim knows about a WordPress user that a listed contact may belong to. It passes
/// the users linked to any of the page's contact IDs and the users holding any of its emails.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct UserFact {
    pub user_id: u64,
    /// The contact the user is linked to (`crmhooks_contact_id`); `None` or empty when none.
    pub contact_id: Option<String>,
    pub user_email: String,
    /// When a job last fetched this user's contact from the CRM (site clock, taken before the
    /// fetch); `None` when unknown.
    pub synced_at: Option<u64>,
}

impl Candidate for UserFact {
    fn user_id(&self) -> u64 {
        self.user_id
    }

    fn linked_contact(&self) -> &str {
        self.contact_id.as_deref().unwrap_or_default()
    }
}

/// Why a listed contact gets no job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SweepSkip {
    /// No WordPress user: a sweep never creates one.
    NoUser,
    /// Its email belongs to a user linked to another contact, or two users claim it: the job
    /// would only end in a conflict.
    Conflict,
    /// A job for it is queued already and will read the change when it runs.
    AlreadyQueued,
    /// Its user was fetched more than the overlap after the change.
    Synced,
    InvalidId,
    /// Listed twice on one page.
    Repeated,
}

/// Skipped contacts by reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct SkipCounts {
    pub no_user: u64,
    pub conflict: u64,
    pub already_queued: u64,
    pub synced: u64,
    pub invalid_id: u64,
    pub repeated: u64,
}

impl SkipCounts {
    fn add(&mut self, skip: SweepSkip) {
        let count = match skip {
            SweepSkip::NoUser => &mut self.no_user,
            SweepSkip::Conflict => &mut self.conflict,
            SweepSkip::AlreadyQueued => &mut self.already_queued,
            SweepSkip::Synced => &mut self.synced,
            SweepSkip::InvalidId => &mut self.invalid_id,
            SweepSkip::Repeated => &mut self.repeated,
        };
        *count += 1;
    }

    fn total(&self) -> u64 {
        self.no_user + self.conflict + self.already_queued + self.synced + self.invalid_id + self.repeated
    }
}

/// `page_lookup` output: what the host looks up in WordPress for a listed page before
/// `sweep_page` (the users linked to its contact IDs or holding its emails; the jobs queued or
/// done under its contact keys), each listed once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct PageLookup {
    pub contact_ids: Vec<String>,
    pub emails: Vec<String>,
    pub contact_keys: Vec<String>,
}

pub fn page_lookup(page: &ContactPage) -> PageLookup {
    let mut lookup = PageLookup::default();
    for contact in &page.contacts {
        if let Ok(id) = check_id(&contact.id) {
            if push_new(&mut lookup.contact_keys, id_key(id)) {
                lookup.contact_ids.push(id.to_string());
            }
        }
        if let Some(key) = email_key(&contact.email) {
            if push_new(&mut lookup.contact_keys, key) {
                lookup.emails.push(contact.email.trim().to_string());
            }
        }
    }
    lookup
}

/// Adds `key` unless it is there: true when added.
fn push_new(keys: &mut Vec<String>, key: String) -> bool {
    if keys.contains(&key) {
        return false;
    }
    keys.push(key);
    true
}

/// Each user's `synced_at` from `synced` (contact key -> when a job that ended applied last
/// fetched that contact, taken when it was claimed), by the contact the user is linked to.
fn with_synced(mut users: Vec<UserFact>, synced: &BTreeMap<String, u64>) -> Vec<UserFact> {
    for user in &mut users {
        let linked = user.contact_id.as_deref().map(id_key);
        user.synced_at = user.synced_at.or_else(|| linked.and_then(|key| synced.get(&key).copied()));
    }
    users
}

/// Whether a listed contact needs an `update` job: only when the plan's user choice finds a
/// user for it (by contact ID, else by email), no job for it is queued (by either of its
/// keys), and its user was not fetched more than `overlap_secs` after the change (the clocks
/// may differ by that much, so a later fetch surely saw it).
pub fn sweep_verdict(
    contact: &ListedContact,
    users: &[UserFact],
    queued_keys: &[String],
    overlap_secs: u64,
) -> std::result::Result<(), SweepSkip> {
    let id = check_id(&contact.id).map_err(|_| SweepSkip::InvalidId)?;
    let email = contact.email.trim();
    let by_email = users.iter().find(|u| !email.is_empty() && u.user_email.trim().eq_ignore_ascii_case(email));
    let user = match plan::choose(id, users, by_email) {
        Ok(Some(user)) => user,
        Ok(None) => return Err(SweepSkip::NoUser),
        Err(Conflict::ContactClaimedTwice | Conflict::EmailLinkedElsewhere) => return Err(SweepSkip::Conflict),
    };
    let keys = [Some(id_key(id)), email_key(email)];
    if keys.iter().flatten().any(|key| queued_keys.contains(key)) {
        return Err(SweepSkip::AlreadyQueued);
    }
    if let (Some(synced), Some(changed)) = (user.synced_at, contact.updated_at) {
        if synced >= changed.saturating_add(overlap_secs) {
            return Err(SweepSkip::Synced);
        }
    }
    Ok(())
}

/// `sweep_page` output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SweepPage {
    /// `update` jobs, paced to the sweep's rate share.
    pub jobs: Vec<Job>,
    pub skipped: SkipCounts,
    /// The state after this page: store it in the same transaction as the jobs.
    pub state: SweepState,
}

/// One listed page: its jobs, and the state once they are queued (cursor on the next page;
/// for the last page, the mark moved to when the pass began and the pass reported).
pub fn sweep_page(
    now: u64,
    mut state: SweepState,
    page: &ContactPage,
    users: &[UserFact],
    queued_keys: &[String],
    settings: &SweepSettings,
    crm: CrmKind,
) -> Result<SweepPage> {
    let Some(mut pass) = state.pass.take() else { return Err(Error::MissingParameter("state.pass")) };
    let mut skipped = SkipCounts::default();
    let mut ids: Vec<&str> = Vec::new();
    for contact in &page.contacts {
        let verdict = if ids.contains(&contact.id.trim()) {
            Err(SweepSkip::Repeated)
        } else {
            sweep_verdict(contact, users, queued_keys, settings.overlap_secs)
        };
        match verdict {
            Ok(()) => ids.push(contact.id.trim()),
            Err(skip) => skipped.add(skip),
        }
    }
    let (times, next_slot_ms) = pace(state.next_slot_ms, now, ids.len(), budget(crm, settings.rate_share_percent));
    let jobs = ids
        .iter()
        .zip(times)
        .map(|(id, run_after)| {
            let request = request(Action::Update, id, SWEEP_EVENT);
            Job { contact_key: contact_key(&request, ""), request, run_after }
        })
        .collect::<Vec<_>>();
    pass.counts.pages += 1;
    pass.counts.seen += page.contacts.len() as u64;
    pass.counts.queued += jobs.len() as u64;
    pass.counts.skipped += skipped.total();
    pass.cursor = page.next_cursor.clone();
    state.next_slot_ms = next_slot_ms;
    if pass.cursor.is_none() {
        state.mark = Some(pass.started_at);
        state.last =
            Some(PassReport { since: pass.since, started_at: pass.started_at, finished_at: now, counts: pass.counts });
    } else {
        state.pass = Some(pass);
    }
    Ok(SweepPage { jobs, skipped, state })
}

/// A failed list or queue step: the error is counted and kept, the cursor and the mark do not
/// move (the same page is listed again), and the next try waits for `retry_after` (at least a
/// minute).
pub fn sweep_failed(now: u64, mut state: SweepState, error: &str, retry_after: u64) -> SweepState {
    if let Some(pass) = state.pass.as_mut() {
        pass.counts.errors += 1;
        pass.counts.last_error = Some(clip(error));
    }
    state.next_slot_ms = backoff(state.next_slot_ms, now, retry_after);
    state
}

// ---- import by tag ----------------------------------------------------------------------------

/// Import settings (defaults for anything missing).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ImportSettings {
    /// The share of the CRM's rate limit the import may spend: an admin is waiting, but
    /// webhooks keep the rest.
    pub rate_share_percent: u32,
}

impl Default for ImportSettings {
    fn default() -> Self {
        ImportSettings { rate_share_percent: 50 }
    }
}

/// One import, as the shim stores it. Resumable: the cursor moves only with a page's jobs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct ImportState {
    /// The tag, by ID or by name, as `crmh_crm_list_tagged` takes it.
    pub tag_id: Option<String>,
    pub tag_name: Option<String>,
    /// The role the new users get (the plan's allowlist rules apply); empty: the site default.
    pub role: String,
    pub send_notification: bool,
    pub started_at: u64,
    pub finished_at: Option<u64>,
    pub cursor: Option<String>,
    /// Every page has been listed and queued.
    pub listing_done: bool,
    /// The CRM's count of tagged contacts (its first page), until the listing is done; then
    /// the count listed.
    pub total: Option<u64>,
    /// Distinct contacts listed.
    pub listed: u64,
    pub queued: u64,
    /// Jobs that made or updated a user.
    pub done: u64,
    /// Contacts that did not become a user (listed with a reason below, the first 100).
    pub failed: u64,
    pub failures: Vec<ImportFailure>,
    /// Failed list or queue steps (each retried).
    pub errors: u64,
    pub last_error: Option<String>,
    pub next_slot_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct ImportFailure {
    pub contact_id: String,
    /// The job's outcome (`skipped`, `conflict`, `crm_error`, ...) or `invalid_id`.
    pub reason: String,
}

/// The figures for the progress bar.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Progress {
    pub total: u64,
    /// False while the CRM has not said how many there are and the listing goes on.
    pub total_known: bool,
    pub done: u64,
    pub failed: u64,
    pub percent: u32,
    pub finished: bool,
}

pub fn progress(state: &ImportState) -> Progress {
    let total = if state.listing_done { state.listed } else { state.total.unwrap_or(0).max(state.listed) };
    let ended = state.done.saturating_add(state.failed);
    let percent = match (state.finished_at, total) {
        (Some(_), _) => 100,
        (None, 0) => 0,
        (None, _) => (ended.min(total) * 100 / total).min(99) as u32,
    };
    Progress {
        total,
        total_known: state.listing_done || state.total.is_some(),
        done: state.done,
        failed: state.failed,
        percent,
        finished: state.finished_at.is_some(),
    }
}

fn fail(state: &mut ImportState, contact_id: &str, reason: &str) {
    state.failed += 1;
    if state.failures.len() < MAX_LISTED_FAILURES {
        state.failures.push(ImportFailure { contact_id: contact_id.to_string(), reason: clip(reason) });
    }
}

/// Finished once every contact is listed and every listed one has ended.
fn check_finished(state: &mut ImportState, now: u64) {
    if state.finished_at.is_none() && state.listing_done && state.done + state.failed >= state.listed {
        state.finished_at = Some(now);
    }
}

/// `import_start` output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImportStarted {
    pub started: bool,
    /// Why not, when not.
    pub reason: Option<String>,
    pub state: ImportState,
    pub progress: Progress,
}

/// A new import of the contacts carrying a tag (its ID when all digits, else its name), unless
/// one is still running (`current`).
pub fn import_start(
    now: u64,
    current: Option<ImportState>,
    tag: &str,
    role: &str,
    send_notification: bool,
) -> Result<ImportStarted> {
    if let Some(running) = current.filter(|state| state.finished_at.is_none()) {
        let progress = progress(&running);
        let reason = Some("an import is still running".to_string());
        return Ok(ImportStarted { started: false, reason, state: running, progress });
    }
    let tag = tag.trim().to_string();
    if tag.is_empty() {
        return Err(Error::MissingParameter("tag"));
    }
    let by_id = tag.chars().all(|c| c.is_ascii_digit());
    let (tag_id, tag_name) = if by_id { (Some(tag), None) } else { (None, Some(tag)) };
    let state = ImportState {
        tag_id,
        tag_name,
        role: role.trim().to_string(),
        send_notification,
        started_at: now,
        ..Default::default()
    };
    Ok(ImportStarted { started: true, reason: None, progress: progress(&state), state })
}

/// `import_next` verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum ImportNext {
    /// Finished, all listed (the queued jobs are running), or pacing until `retry_at`.
    Idle { reason: ImportIdle, retry_at: Option<u64> },
    /// List the page at `cursor` with `crmh_crm_list_tagged`, then call `import_page`.
    List { tag_id: Option<String>, tag_name: Option<String>, cursor: Option<String> },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ImportIdle {
    Finished,
    Listed,
    Pacing,
}

pub fn import_next(now: u64, state: &ImportState) -> ImportNext {
    if state.finished_at.is_some() {
        return ImportNext::Idle { reason: ImportIdle::Finished, retry_at: None };
    }
    if state.listing_done {
        return ImportNext::Idle { reason: ImportIdle::Listed, retry_at: None };
    }
    let slot = slot_secs(state.next_slot_ms);
    if now < slot {
        return ImportNext::Idle { reason: ImportIdle::Pacing, retry_at: Some(slot) };
    }
    ImportNext::List { tag_id: state.tag_id.clone(), tag_name: state.tag_name.clone(), cursor: state.cursor.clone() }
}

/// `import_page` output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImportPage {
    /// `add` jobs with the import's role and notification flag, paced to its rate share.
    pub jobs: Vec<Job>,
    /// The state after this page: store it in the same transaction as the jobs.
    pub state: ImportState,
    pub progress: Progress,
}

/// One listed page of tagged contacts: an `add` job for each (an `add` for a contact that
/// already has a user updates that user; it never makes a second one).
pub fn import_page(
    now: u64,
    mut state: ImportState,
    page: &ContactPage,
    settings: &ImportSettings,
    crm: CrmKind,
) -> Result<ImportPage> {
    if state.finished_at.is_some() || state.listing_done {
        return Err(Error::InvalidParameter("state (the import has listed every page)"));
    }
    let mut ids: Vec<&str> = Vec::new();
    for contact in &page.contacts {
        let id = contact.id.trim();
        if ids.contains(&id) {
            continue;
        }
        state.listed += 1;
        match check_id(id) {
            Ok(id) => ids.push(id),
            Err(_) => fail(&mut state, &id.chars().take(20).collect::<String>(), "invalid_id"),
        }
    }
    let (times, next_slot_ms) = pace(state.next_slot_ms, now, ids.len(), budget(crm, settings.rate_share_percent));
    let role = Some(state.role.clone()).filter(|role| !role.is_empty());
    let jobs: Vec<Job> = ids
        .iter()
        .zip(times)
        .map(|(id, run_after)| {
            let mut request = request(Action::Add, id, IMPORT_EVENT);
            request.role = role.clone();
            request.send_notification = state.send_notification;
            Job { contact_key: contact_key(&request, ""), request, run_after }
        })
        .collect();
    if state.cursor.is_none() && state.total.is_none() {
        state.total = page.total;
    }
    state.queued += jobs.len() as u64;
    state.cursor = page.next_cursor.clone();
    state.next_slot_ms = next_slot_ms;
    if state.cursor.is_none() {
        state.listing_done = true;
        state.total = Some(state.listed);
        check_finished(&mut state, now);
    }
    Ok(ImportPage { jobs, progress: progress(&state), state })
}

/// A failed list or queue step of an import: counted and kept; the cursor stays.
pub fn import_failed(now: u64, mut state: ImportState, error: &str, retry_after: u64) -> ImportState {
    state.errors += 1;
    state.last_error = Some(clip(error));
    state.next_slot_ms = backoff(state.next_slot_ms, now, retry_after);
    state
}

/// One of the import's jobs ended for good (done, or failed after its retries), with the
/// attempt's outcome: `created`, `updated` and `unchanged` count as done, anything else
/// (`skipped`, `conflict`, `contact_not_found`, `crm_error`, ...) as a failure with that reason.
pub fn import_job_finished(now: u64, mut state: ImportState, contact_id: &str, outcome: &str) -> ImportState {
    match outcome.trim() {
        "created" | "updated" | "unchanged" => state.done += 1,
        other => fail(&mut state, contact_id.trim(), if other.is_empty() { "failed" } else { other }),
    }
    check_finished(&mut state, now);
    state
}

/// An import output with its progress figures.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImportUpdate {
    pub state: ImportState,
    pub progress: Progress,
}

impl From<ImportState> for ImportUpdate {
    fn from(state: ImportState) -> Self {
        ImportUpdate { progress: progress(&state), state }
    }
}

// ---- the JSON entry point ----------------------------------------------------------------------

/// `crmh_reconcile_decide` input, selected by `"kind"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ReconcileQuery {
    /// What a rate share allows (for the settings screen and Site Health).
    Budget {
        crm: String,
        share_percent: u32,
    },
    SweepStart {
        now: u64,
        #[serde(default)]
        state: SweepState,
        #[serde(default)]
        settings: SweepSettings,
        /// Start a pass now even when none is due (the admin's "sweep now").
        #[serde(default)]
        force: bool,
    },
    /// What to look up for a listed page (`page_lookup`).
    PageLookup {
        page: ContactPage,
    },
    SweepPage {
        now: u64,
        state: SweepState,
        page: ContactPage,
        #[serde(default)]
        users: Vec<UserFact>,
        /// Keys (`id:42`, `email:..`) of the jobs queued and not yet claimed.
        #[serde(default)]
        queued_keys: Vec<String>,
        /// Contact key -> when a job that ended applied was last claimed for it (`with_synced`).
        #[serde(default)]
        synced: BTreeMap<String, u64>,
        crm: String,
        #[serde(default)]
        settings: SweepSettings,
    },
    SweepFailed {
        now: u64,
        state: SweepState,
        #[serde(default)]
        error: String,
        #[serde(default)]
        retry_after: u64,
    },
    ImportStart {
        now: u64,
        #[serde(default)]
        current: Option<ImportState>,
        /// The tag's ID in the CRM, or its name.
        #[serde(default)]
        tag: String,
        #[serde(default)]
        role: String,
        #[serde(default)]
        send_notification: bool,
    },
    ImportNext {
        now: u64,
        state: ImportState,
    },
    ImportPage {
        now: u64,
        state: ImportState,
        page: ContactPage,
        crm: String,
        #[serde(default)]
        settings: ImportSettings,
    },
    ImportFailed {
        now: u64,
        state: ImportState,
        #[serde(default)]
        error: String,
        #[serde(default)]
        retry_after: u64,
    },
    /// The progress figures of a stored import (for its screen), changing nothing.
    ImportProgress {
        state: ImportState,
    },
    ImportJobFinished {
        now: u64,
        state: ImportState,
        #[serde(default)]
        contact_id: String,
        outcome: String,
    },
}

/// JSON entry point for `crmh_reconcile_decide`.
pub fn decide(json: &str) -> Result<String> {
    let query: ReconcileQuery = serde_json::from_str(json).map_err(|e| Error::from_json(&e))?;
    let out = match query {
        ReconcileQuery::Budget { crm, share_percent } => serde_json::to_string(&budget(crm_kind(&crm)?, share_percent)),
        ReconcileQuery::SweepStart { now, state, settings, force } => {
            serde_json::to_string(&sweep_start(now, state, &settings, force))
        }
        ReconcileQuery::PageLookup { page } => serde_json::to_string(&page_lookup(&page)),
        ReconcileQuery::SweepPage { now, state, page, users, queued_keys, synced, crm, settings } => {
            let users = with_synced(users, &synced);
            serde_json::to_string(&sweep_page(now, state, &page, &users, &queued_keys, &settings, crm_kind(&crm)?)?)
        }
        ReconcileQuery::SweepFailed { now, state, error, retry_after } => {
            serde_json::to_string(&serde_json::json!({ "state": sweep_failed(now, state, &error, retry_after) }))
        }
        ReconcileQuery::ImportStart { now, current, tag, role, send_notification } => {
            serde_json::to_string(&import_start(now, current, &tag, &role, send_notification)?)
        }
        ReconcileQuery::ImportNext { now, state } => serde_json::to_string(&import_next(now, &state)),
        ReconcileQuery::ImportPage { now, state, page, crm, settings } => {
            serde_json::to_string(&import_page(now, state, &page, &settings, crm_kind(&crm)?)?)
        }
        ReconcileQuery::ImportFailed { now, state, error, retry_after } => {
            serde_json::to_string(&ImportUpdate::from(import_failed(now, state, &error, retry_after)))
        }
        ReconcileQuery::ImportProgress { state } => serde_json::to_string(&ImportUpdate::from(state)),
        ReconcileQuery::ImportJobFinished { now, state, contact_id, outcome } => {
            serde_json::to_string(&ImportUpdate::from(import_job_finished(now, state, &contact_id, &outcome)))
        }
    };
    out.map_err(|e| Error::from_json(&e))
}

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::*;
use crate::crm::listing;

const NOW: u64 = 1_700_000_000;
const AC: CrmKind = CrmKind::ActiveCampaign;
const OP: CrmKind = CrmKind::Ontraport;

fn settings() -> SweepSettings {
    SweepSettings::default()
}

fn listed(id: &str, email: &str, updated_at: Option<u64>) -> ListedContact {
    ListedContact { id: id.into(), email: email.into(), updated_at }
}

fn user(user_id: u64, contact_id: Option<&str>, email: &str) -> UserFact {
    UserFact { user_id, contact_id: contact_id.map(str::to_string), user_email: email.into(), synced_at: None }
}

fn page(contacts: Vec<ListedContact>, next_cursor: Option<&str>) -> ContactPage {
    ContactPage { contacts, next_cursor: next_cursor.map(str::to_string), total: None }
}

/// The state `sweep_start` hands back when it lists; panics when it idles.
fn started(verdict: SweepStart) -> (u64, Option<String>, SweepState) {
    match verdict {
        SweepStart::List { since, cursor, state } => (since, cursor, state),
        idle => panic!("expected a list verdict, got {idle:?}"),
    }
}

fn job_ids(jobs: &[Job]) -> Vec<&str> {
    jobs.iter().map(|job| job.request.contact_id.as_deref().unwrap()).collect()
}

// ---- rate share ------------------------------------------------------------------------------

#[test]
fn the_budget_is_a_share_of_each_crms_limit() {
    assert_eq!(
        budget(AC, 20),
        Budget { requests_per_minute: 60, requests_per_job: 1, request_interval_ms: 1000 },
        "ActiveCampaign: 5 a second is 300 a minute"
    );
    assert_eq!(budget(OP, 20), Budget { requests_per_minute: 34, requests_per_job: 1, request_interval_ms: 1765 });
    assert_eq!(budget(AC, 100).requests_per_minute, 300);
    assert_eq!(budget(OP, 0).requests_per_minute, 1, "a zero share is the smallest, not none");
    assert_eq!(budget(AC, 500), budget(AC, 100), "more than all is all");
}

/// Requests (list + each job's fetches) that start in any 60 s window never exceed the share.
fn assert_within_share(list_at_ms: &[u64], job_run_after: &[u64], budget: Budget) {
    let mut starts: Vec<u64> = list_at_ms.to_vec();
    for at in job_run_after {
        for i in 0..budget.requests_per_job {
            starts.push(at * 1000 + i * budget.request_interval_ms);
        }
    }
    starts.sort_unstable();
    for (i, first) in starts.iter().enumerate() {
        let in_window = starts[i..].iter().take_while(|t| **t < first + 60_000).count() as u64;
        // Rounding run_after up to whole seconds may pull one more job (and a list) into a window.
        let slack = budget.requests_per_job + 1;
        assert!(in_window <= budget.requests_per_minute + slack, "{in_window} requests in a minute from {first}");
    }
}

#[test]
fn a_sweep_spends_only_its_share_of_the_rate_limit() {
    for crm in [AC, OP] {
        let mut state = started(sweep_start(NOW, SweepState::default(), &settings(), false)).2;
        let contacts: Vec<ListedContact> =
            (1..=100).map(|i| listed(&i.to_string(), &format!("c{i}@example.com"), Some(NOW))).collect();
        let users: Vec<UserFact> = (1..=100).map(|i| user(i, Some(&i.to_string()), "")).collect();
        let mut lists = vec![NOW * 1000];
        let mut run_after = Vec::new();
        let mut now = NOW;
        for round in 0..3 {
            let next = if round < 2 { Some("100") } else { None };
            let out = sweep_page(now, state, &page(contacts.clone(), next), &users, &[], &settings(), crm).unwrap();
            assert_eq!(out.jobs.len(), 100);
            run_after.extend(out.jobs.iter().map(|job| job.run_after));
            state = out.state;
            if next.is_some() {
                // The next page may be listed only when the share allows it.
                now = match sweep_start(now, state.clone(), &settings(), false) {
                    SweepStart::Idle { reason: IdleReason::Pacing, retry_at: Some(at) } => at,
                    other => panic!("expected pacing, got {other:?}"),
                };
                assert!(matches!(sweep_start(now, state.clone(), &settings(), false), SweepStart::List { .. }));
                lists.push(now * 1000);
            }
        }
        assert_within_share(&lists, &run_after, budget(crm, 20));
        // And it still gets through: 300 ActiveCampaign contacts at 24 a minute take ~12.5 min.
        let last = *run_after.iter().max().unwrap();
        let per_minute = budget(crm, 20).requests_per_minute / budget(crm, 20).requests_per_job;
        assert!(last <= NOW + 300 * 60 / per_minute + 10, "{crm:?}: {}", last - NOW);
    }
}

// ---- when and from where a pass lists ----------------------------------------------------------

#[test]
fn the_first_pass_looks_back_one_interval_and_the_overlap() {
    let (since, cursor, state) = started(sweep_start(NOW, SweepState::default(), &settings(), false));
    assert_eq!((since, cursor), (NOW - 900 - 120, None));
    let pass = state.pass.expect("a pass began");
    assert_eq!((pass.since, pass.started_at), (since, NOW));
}

#[test]
fn every_pass_overlaps_the_mark() {
    let state = SweepState { mark: Some(NOW - 900), ..Default::default() };
    let (since, _, _) = started(sweep_start(NOW, state, &settings(), false));
    assert_eq!(since, NOW - 900 - 120);
    let wide = SweepSettings { overlap_secs: 600, ..settings() };
    let state = SweepState { mark: Some(NOW - 900), ..Default::default() };
    assert_eq!(started(sweep_start(NOW, state, &wide, false)).0, NOW - 1500);
}

#[test]
fn a_pass_is_due_an_interval_after_the_last_began_unless_forced_or_off() {
    let state = SweepState { mark: Some(NOW - 100), ..Default::default() };
    assert_eq!(
        sweep_start(NOW, state.clone(), &settings(), false),
        SweepStart::Idle { reason: IdleReason::NotDue, retry_at: Some(NOW + 800) }
    );
    assert!(matches!(sweep_start(NOW + 800, state.clone(), &settings(), false), SweepStart::List { .. }));
    assert!(matches!(sweep_start(NOW, state.clone(), &settings(), true), SweepStart::List { .. }), "sweep now");
    let off = SweepSettings { enabled: false, ..settings() };
    assert_eq!(
        sweep_start(NOW, state.clone(), &off, true),
        SweepStart::Idle { reason: IdleReason::Disabled, retry_at: None }
    );
    // An interval below a minute is a minute.
    let tiny = SweepSettings { interval_secs: 0, ..settings() };
    let recent = SweepState { mark: Some(NOW - 30), ..Default::default() };
    assert_eq!(
        sweep_start(NOW, recent, &tiny, false),
        SweepStart::Idle { reason: IdleReason::NotDue, retry_at: Some(NOW + 30) }
    );
    assert!(matches!(sweep_start(NOW, state, &tiny, false), SweepStart::List { .. }));
}

#[test]
fn the_site_clock_going_back_never_narrows_the_window() {
    // The last pass began at NOW; then the site clock was set back an hour.
    let state = SweepState { mark: Some(NOW), ..Default::default() };
    let back = NOW - 3600;
    let (since, _, state) = started(sweep_start(back, state, &settings(), false));
    assert_eq!(since, back - 120, "the window starts no later than now minus the overlap");
    // ... and the pass, once complete, brings the mark back to the site's clock.
    let out = sweep_page(back + 5, state, &page(vec![], None), &[], &[], &settings(), AC).unwrap();
    assert_eq!(out.state.mark, Some(back));
}

// ---- the mark and the cursor --------------------------------------------------------------------

#[test]
fn the_mark_never_advances_past_a_failed_page() {
    let (_, _, state) =
        started(sweep_start(NOW, SweepState { mark: Some(NOW - 900), ..Default::default() }, &settings(), false));
    let users = vec![user(1, Some("1"), ""), user(2, Some("2"), ""), user(3, Some("3"), "")];
    // Page 1 is queued: the cursor moves, the mark does not (the pass is not complete).
    let first = page(vec![listed("1", "", Some(NOW - 60))], Some("1"));
    let state = sweep_page(NOW + 1, state, &first, &users, &[], &settings(), AC).unwrap().state;
    assert_eq!((state.mark, state.pass.as_ref().unwrap().cursor.as_deref()), (Some(NOW - 900), Some("1")));
    // Page 2 fails (list error or the queue transaction rolled back): nothing moves.
    let failed = sweep_failed(NOW + 2, state.clone(), "CRM request failed: HTTP 500 server error", 0);
    assert_eq!(failed.mark, Some(NOW - 900));
    assert_eq!(failed.pass.as_ref().unwrap().cursor.as_deref(), Some("1"));
    assert_eq!(failed.pass.as_ref().unwrap().counts.errors, 1);
    assert!(failed.last.is_none());
    // The retry waits at least a minute, then lists page 2 again with the pass's own since.
    assert!(matches!(
        sweep_start(NOW + 3, failed.clone(), &settings(), false),
        SweepStart::Idle { reason: IdleReason::Pacing, retry_at: Some(at) } if at >= NOW + 62
    ));
    let (since, cursor, state) = started(sweep_start(NOW + 70, failed, &settings(), false));
    assert_eq!((since, cursor.as_deref()), (NOW - 900 - 120, Some("1")));
    // The last page completes the pass: now the mark moves, to when the pass began.
    let last = page(vec![listed("2", "", Some(NOW - 30)), listed("3", "", Some(NOW + 20))], None);
    let out = sweep_page(NOW + 71, state, &last, &users, &[], &settings(), AC).unwrap();
    assert_eq!(job_ids(&out.jobs), ["2", "3"]);
    assert_eq!(out.state.mark, Some(NOW));
    assert!(out.state.pass.is_none());
    let report = out.state.last.expect("the pass is reported");
    assert_eq!((report.started_at, report.finished_at, report.since), (NOW, NOW + 71, NOW - 1020));
    assert_eq!((report.counts.pages, report.counts.seen, report.counts.queued, report.counts.errors), (2, 3, 3, 1));
    assert!(report.counts.last_error.unwrap().contains("HTTP 500"));
}

#[test]
fn a_retry_after_from_the_crm_is_honoured() {
    let (_, _, state) = started(sweep_start(NOW, SweepState::default(), &settings(), false));
    let failed = sweep_failed(NOW, state, "rate limited", 900);
    assert_eq!(
        sweep_start(NOW + 600, failed, &settings(), false),
        SweepStart::Idle { reason: IdleReason::Pacing, retry_at: Some(NOW + 900) }
    );
}

// ---- which contacts get a job ------------------------------------------------------------------

#[test]
fn only_contacts_with_a_user_get_a_job_and_it_is_never_add() {
    let users = vec![
        user(7, Some("42"), "jane@example.com"),
        user(8, None, "sam@example.com"),
        user(9, Some("77"), "taken@example.com"),
    ];
    let contacts = vec![
        listed("42", "jane@example.com", Some(NOW)),   // linked by ID
        listed("43", "SAM@example.com", Some(NOW)),    // by email, user not linked yet
        listed("44", "nobody@example.com", Some(NOW)), // no user: never created by a sweep
        listed("45", "taken@example.com", Some(NOW)),  // email of a user linked to contact 77
        listed("46", "", Some(NOW)),                   // no email, no link
        listed("4x", "jane@example.com", Some(NOW)),   // not a contact ID
        listed("42", "jane@example.com", Some(NOW)),   // listed twice
    ];
    let (_, _, state) = started(sweep_start(NOW, SweepState::default(), &settings(), false));
    let out = sweep_page(NOW, state, &page(contacts, None), &users, &[], &settings(), AC).unwrap();
    assert_eq!(job_ids(&out.jobs), ["42", "43"]);
    assert_eq!(
        out.skipped,
        SkipCounts { no_user: 2, conflict: 1, already_queued: 0, synced: 0, invalid_id: 1, repeated: 1 }
    );
    for job in &out.jobs {
        assert_eq!(job.request.action, Action::Update);
        assert_eq!(job.request.event.r#type.as_deref(), Some(SWEEP_EVENT));
        assert_eq!(job.contact_key, format!("id:{}", job.request.contact_id.as_deref().unwrap()));
        assert!(job.request.email.is_none() && job.request.role.is_none() && !job.request.send_notification);
    }
    let counts = &out.state.last.unwrap().counts;
    assert_eq!((counts.seen, counts.queued, counts.skipped), (7, 2, 5));
}

#[test]
fn a_sweep_job_for_a_contact_without_a_user_would_create_nothing() {
    // Even if a sweep job reached the planner for a contact nobody holds, `update` skips.
    let (_, _, state) = started(sweep_start(NOW, SweepState::default(), &settings(), false));
    let users = vec![user(7, Some("42"), "")];
    let out =
        sweep_page(NOW, state, &page(vec![listed("42", "new@example.com", None)], None), &users, &[], &settings(), OP)
            .unwrap();
    let input = json!({
        "request": out.jobs[0].request,
        "contact": {"id": "42", "email": "new@example.com", "fields": [{"key": "email", "value": "new@example.com"}]},
        "linked_users": [], "email_user": null,
    });
    let plan: Value =
        serde_json::from_str(&crate::plan::plan_json(&input.to_string(), "Pw-123456789-abc").unwrap()).unwrap();
    assert_eq!(plan["outcome"], "skipped", "{plan}");
    assert!(!plan["ops"].to_string().contains("create_user"), "{plan}");
}

#[test]
fn a_contact_with_a_job_queued_is_left_to_that_job() {
    let users = vec![user(7, Some("42"), "jane@example.com"), user(8, None, "sam@example.com")];
    let contacts = vec![listed("42", "jane@example.com", Some(NOW)), listed("43", "sam@example.com", Some(NOW))];
    let queued = vec!["id:42".to_string(), "email:sam@example.com".to_string()];
    let (_, _, state) = started(sweep_start(NOW, SweepState::default(), &settings(), false));
    let out = sweep_page(NOW, state, &page(contacts, None), &users, &queued, &settings(), AC).unwrap();
    assert!(out.jobs.is_empty());
    assert_eq!(out.skipped.already_queued, 2);
}

#[test]
fn a_page_names_its_lookups_once_each() {
    let listed_page = page(
        vec![
            listed("42", " Jane@Example.com ", None),
            listed("42", "jane@example.com", None),
            listed("x7", "", None),
            listed("43", "", None),
        ],
        None,
    );
    let lookup = page_lookup(&listed_page);
    assert_eq!(lookup.contact_ids, vec!["42", "43"], "invalid IDs are not looked up");
    assert_eq!(lookup.emails, vec!["Jane@Example.com"], "one email per key");
    assert_eq!(lookup.contact_keys, vec!["id:42", "email:jane@example.com", "id:43"], "the queue's own keys");
}

#[test]
fn a_user_fetched_well_after_the_change_needs_no_job() {
    let contact = listed("42", "", Some(NOW));
    let mut fact = user(7, Some("42"), "");
    for (synced_at, expected) in [
        (None, Ok(())),
        (Some(NOW - 5), Ok(())),   // fetched before the change
        (Some(NOW + 119), Ok(())), // within the overlap: the clocks may differ that much
        (Some(NOW + 120), Err(SweepSkip::Synced)),
    ] {
        fact.synced_at = synced_at;
        assert_eq!(sweep_verdict(&contact, &[fact.clone()], &[], 120), expected, "{synced_at:?}");
    }
    // A change the CRM did not date is always fetched.
    fact.synced_at = Some(NOW + 10_000);
    assert_eq!(sweep_verdict(&listed("42", "", None), &[fact], &[], 120), Ok(()));
}

// ---- a sweep over a CRM, end to end in memory --------------------------------------------------------

/// A CRM: contact ID -> (email, last change by the CRM's clock), which runs `skew` seconds
/// from the site's clock; lists in pages of `page_size` the way the clients do.
struct FakeCrm {
    contacts: BTreeMap<u64, (String, u64)>,
    skew: i64,
    page_size: usize,
}

impl FakeCrm {
    fn new(count: u64, changed_at: u64, skew: i64, page_size: usize) -> Self {
        let contacts = (1..=count).map(|id| (id, (format!("c{id}@example.com"), changed_at))).collect();
        FakeCrm { contacts, skew, page_size }
    }

    fn change(&mut self, id: u64, site_now: u64) {
        self.contacts.get_mut(&id).unwrap().1 = site_now.saturating_add_signed(self.skew);
    }

    fn list(&self, since: u64, cursor: Option<&str>) -> ContactPage {
        let after = listing::after_id(cursor).unwrap();
        let rows: Vec<(u64, ListedContact)> = self
            .contacts
            .iter()
            .filter(|(id, (_, at))| *at >= since && after.map_or(true, |a| **id > a))
            .take(self.page_size)
            .map(|(id, (email, at))| (*id, listed(&id.to_string(), email, Some(*at))))
            .collect();
        let answered = rows.len();
        listing::keyset_page(rows, answered, self.page_size, after, Some(since), None).unwrap()
    }
}

/// The shim: stores the state and queues jobs, either in one transaction per page or (to show
/// what coalescing saves) job by job.
struct Host {
    state: SweepState,
    users: Vec<UserFact>,
    /// Contact keys of jobs queued and not yet run.
    queued: Vec<String>,
    /// Every job ever queued, by contact ID.
    history: Vec<String>,
}

impl Host {
    fn new(linked: u64) -> Self {
        let users = (1..=linked).map(|id| user(id, Some(&id.to_string()), &format!("c{id}@example.com"))).collect();
        Host { state: SweepState::default(), users, queued: Vec::new(), history: Vec::new() }
    }

    /// Run the sweep until it idles. `crash` kills the worker once, at that page (1-based) after
    /// that many of its jobs were inserted: with `transactional`, those inserts roll back.
    fn sweep(&mut self, crm: &FakeCrm, now: &mut u64, crash: Option<(u64, usize)>, transactional: bool) {
        let mut crash = crash;
        let mut pages = 0;
        loop {
            let (since, cursor, state) = match sweep_start(*now, self.state.clone(), &settings(), false) {
                SweepStart::List { since, cursor, state } => (since, cursor, state),
                SweepStart::Idle { reason: IdleReason::Pacing, retry_at: Some(at) } => {
                    *now = at;
                    continue;
                }
                SweepStart::Idle { .. } => return,
            };
            let listed = crm.list(since, cursor.as_deref());
            pages += 1;
            let out = sweep_page(*now, state, &listed, &self.users, &self.queued, &settings(), OP).unwrap();
            let killed_after = crash.filter(|(at_page, _)| *at_page == pages).map(|(_, jobs)| jobs.min(out.jobs.len()));
            if let Some(inserted) = killed_after {
                // Without a transaction the jobs inserted before the kill stay queued.
                if !transactional {
                    self.queue(&out.jobs[..inserted]);
                }
                // The state is not stored: the next run resumes from the stored one.
                crash = None;
                continue;
            }
            self.queue(&out.jobs);
            self.state = out.state;
            *now += 1;
            if self.state.pass.is_none() {
                return;
            }
        }
    }

    fn queue(&mut self, jobs: &[Job]) {
        for job in jobs {
            self.queued.push(job.contact_key.clone());
            self.history.push(job.request.contact_id.clone().unwrap());
        }
    }

    /// The drainer runs every queued job (fetching the contact) at `now`.
    fn drain(&mut self, now: u64) {
        for key in self.queued.drain(..) {
            let id = key.trim_start_matches("id:");
            if let Some(user) = self.users.iter_mut().find(|u| u.contact_id.as_deref() == Some(id)) {
                user.synced_at = Some(now);
            }
        }
    }

    fn history_sorted(&self) -> Vec<u64> {
        let mut ids: Vec<u64> = self.history.iter().map(|id| id.parse().unwrap()).collect();
        ids.sort_unstable();
        ids
    }
}

#[test]
fn changes_made_while_the_site_was_down_are_all_found_once() {
    // 200 contacts, 150 of them with a user; the first pass ran at NOW.
    let mut crm = FakeCrm::new(200, NOW - 86_400, 0, 50);
    let mut host = Host::new(150);
    host.state.mark = Some(NOW);
    // The site is down for two hours; 20 linked and 5 unlinked contacts change meanwhile.
    let changed: Vec<u64> = (1..=20).map(|i| i * 7).chain(151..=155).collect();
    for (i, id) in changed.iter().enumerate() {
        crm.change(*id, NOW + 600 + i as u64 * 60);
    }
    let mut now = NOW + 7200;
    host.sweep(&crm, &mut now, None, true);
    let expected: Vec<u64> = (1..=20).map(|i| i * 7).collect();
    assert_eq!(host.history_sorted(), expected, "every linked change once, no unlinked one");
    assert_eq!(host.state.mark, Some(NOW + 7200));
}

#[test]
fn a_pass_killed_mid_page_resumes_without_skipping_or_duplicating() {
    for transactional in [true, false] {
        for (crash_page, after_jobs) in [(1, 0), (1, 17), (2, 30), (3, 49)] {
            let mut crm = FakeCrm::new(200, NOW - 86_400, 0, 50);
            let mut host = Host::new(200);
            host.state.mark = Some(NOW);
            for id in 1..=200 {
                crm.change(id, NOW + 600);
            }
            let mut now = NOW + 7200;
            host.sweep(&crm, &mut now, Some((crash_page, after_jobs)), transactional);
            assert_eq!(
                host.history_sorted(),
                (1..=200).collect::<Vec<_>>(),
                "crash at page {crash_page} after {after_jobs} jobs (transactional: {transactional})"
            );
        }
    }
}

/// Four passes 900 s apart over a CRM whose clock runs `skew` seconds from the site's, with
/// changes just before each pass began, and just after (while it ran). Returns the contacts
/// that got a job and the contacts that changed.
fn sweep_with_a_skewed_crm_clock(skew: i64) -> (Vec<u64>, Vec<u64>) {
    let mut crm = FakeCrm::new(60, NOW - 86_400, skew, 50);
    let mut host = Host::new(60);
    let mut now = NOW;
    host.sweep(&crm, &mut now, None, true);
    host.drain(now);
    let mut changed = Vec::new();
    for round in 0..4_u64 {
        now += 900;
        let first = round * 10 + 1;
        crm.change(first, now - 1);
        crm.change(first + 1, now - 119);
        let mut during = now;
        host.sweep(&crm, &mut during, None, true);
        crm.change(first + 2, now + 1);
        changed.extend([first, first + 1, first + 2]);
        host.drain(during);
    }
    now += 900;
    host.sweep(&crm, &mut now, None, true);
    let mut found = host.history_sorted();
    found.dedup();
    changed.sort_unstable();
    (found, changed)
}

#[test]
fn a_crm_clock_off_by_less_than_the_overlap_loses_no_change() {
    for skew in [-100, -1, 0, 1, 3600] {
        let (found, changed) = sweep_with_a_skewed_crm_clock(skew);
        assert_eq!(found, changed, "CRM clock {skew} s from the site's");
    }
    // Control: a CRM clock further behind than the overlap loses the changes made just after a
    // pass began (the reason the overlap is a setting).
    let (found, changed) = sweep_with_a_skewed_crm_clock(-130);
    assert_ne!(found, changed);
}

#[test]
fn the_overlap_repeats_are_absorbed() {
    // A contact changed just before a pass is listed by that pass and the next (overlap); once
    // its job ran, the next pass sees a fetch well after the change and queues nothing.
    let mut crm = FakeCrm::new(10, NOW - 86_400, 0, 50);
    let mut host = Host::new(10);
    host.state.mark = Some(NOW - 900);
    crm.change(3, NOW - 10);
    let mut now = NOW;
    host.sweep(&crm, &mut now, None, true);
    assert_eq!(host.history, ["3"]);
    // Still queued at the next pass: coalesced, no second job.
    now = NOW + 60;
    host.state.mark = Some(NOW - 900); // pretend the pass must list it again
    host.sweep(&crm, &mut now, None, true);
    assert_eq!(host.history, ["3"]);
    // Run, and fetched more than the overlap after the change: no job either.
    host.drain(NOW + 200);
    now = NOW + 900;
    host.state.mark = Some(NOW);
    host.sweep(&crm, &mut now, None, true);
    assert_eq!(host.history, ["3"]);
}

// ---- import by tag -----------------------------------------------------------------------------

fn tagged(ids: std::ops::RangeInclusive<u64>, next: Option<&str>, total: Option<u64>) -> ContactPage {
    let contacts = ids.map(|id| listed(&id.to_string(), &format!("c{id}@example.com"), None)).collect();
    ContactPage { contacts, next_cursor: next.map(str::to_string), total }
}

fn import() -> ImportState {
    import_start(NOW, None, " Members ", "customer", true).unwrap().state
}

#[test]
fn an_import_queues_add_jobs_with_its_role_and_counts_to_the_end() {
    let state = import();
    assert_eq!(state.tag_name.as_deref(), Some("Members"));
    assert_eq!(
        import_next(NOW, &state),
        ImportNext::List { tag_id: None, tag_name: Some("Members".into()), cursor: None }
    );
    let out =
        import_page(NOW, state, &tagged(1..=100, Some("100"), Some(150)), &ImportSettings::default(), AC).unwrap();
    assert_eq!(out.jobs.len(), 100);
    let job = &out.jobs[0];
    assert_eq!(job.request.action, Action::Add);
    assert_eq!((job.request.role.as_deref(), job.request.send_notification), (Some("customer"), true));
    assert_eq!(job.request.event.r#type.as_deref(), Some(IMPORT_EVENT));
    assert_eq!(
        out.progress,
        Progress { total: 150, total_known: true, done: 0, failed: 0, percent: 0, finished: false }
    );
    let mut state = out.state;
    for id in 1..=60 {
        state = import_job_finished(NOW + 10, state, &id.to_string(), if id % 2 == 0 { "created" } else { "updated" });
    }
    state = import_job_finished(NOW + 10, state, "61", "skipped");
    let p = progress(&state);
    assert_eq!((p.done, p.failed, p.percent, p.finished), (60, 1, 40, false));
    assert_eq!(state.failures, vec![ImportFailure { contact_id: "61".into(), reason: "skipped".into() }]);
    // The last page: the total is now what was listed.
    let slot = match import_next(NOW + 10, &state) {
        ImportNext::Idle { reason: ImportIdle::Pacing, retry_at } => retry_at.unwrap(),
        ImportNext::List { .. } => NOW + 10,
        other => panic!("{other:?}"),
    };
    let out = import_page(slot, state, &tagged(101..=149, None, Some(999)), &ImportSettings::default(), AC).unwrap();
    assert_eq!(out.progress.total, 149, "the listing decides the total once done");
    let mut state = out.state;
    assert_eq!(import_next(slot, &state), ImportNext::Idle { reason: ImportIdle::Listed, retry_at: None });
    for id in 62..=149 {
        state = import_job_finished(slot + 100, state, &id.to_string(), "created");
    }
    let p = progress(&state);
    assert_eq!((p.total, p.done, p.failed, p.percent, p.finished), (149, 148, 1, 100, true));
    assert_eq!(state.finished_at, Some(slot + 100));
    assert_eq!(import_next(slot + 100, &state), ImportNext::Idle { reason: ImportIdle::Finished, retry_at: None });
}

#[test]
fn an_import_resumes_after_a_failed_page_without_skipping_or_repeating() {
    let settings = ImportSettings { rate_share_percent: 100 };
    let mut state = import();
    let mut queued: Vec<String> = Vec::new();
    let pages = [tagged(1..=50, Some("50"), None), tagged(51..=100, Some("100"), None), tagged(101..=120, None, None)];
    let mut now = NOW;
    let mut failed_once = false;
    let mut index = 0;
    while index < pages.len() {
        match import_next(now, &state) {
            ImportNext::Idle { reason: ImportIdle::Pacing, retry_at } => {
                now = retry_at.unwrap();
                continue;
            }
            ImportNext::List { cursor, .. } => {
                assert_eq!(cursor, index.checked_sub(1).map(|i| pages[i].next_cursor.clone().unwrap()));
            }
            other => panic!("{other:?}"),
        }
        let out = import_page(now, state.clone(), &pages[index], &settings, OP).unwrap();
        if index == 1 && !failed_once {
            // Killed while queuing page 2: its transaction rolled back.
            failed_once = true;
            state = import_failed(now, state, "worker killed", 0);
            continue;
        }
        queued.extend(out.jobs.iter().map(|job| job.request.contact_id.clone().unwrap()));
        state = out.state;
        index += 1;
    }
    assert_eq!(queued, (1..=120).map(|id| id.to_string()).collect::<Vec<_>>());
    assert_eq!((state.listed, state.queued, state.errors, state.listing_done), (120, 120, 1, true));
    assert!(progress(&state).total_known && progress(&state).total == 120);
}

#[test]
fn an_import_total_is_unknown_until_the_crm_says_or_the_listing_ends() {
    let out = import_page(NOW, import(), &tagged(1..=50, Some("50"), None), &ImportSettings::default(), OP).unwrap();
    assert_eq!((out.progress.total, out.progress.total_known), (50, false));
}

#[test]
fn a_running_import_is_not_replaced_and_bad_rows_are_failures() {
    let running = import();
    let again = import_start(NOW + 5, Some(running.clone()), "3", "", false).unwrap();
    assert!(!again.started);
    assert_eq!(again.state, running);
    assert_eq!(import_start(NOW, None, " ", "customer", false), Err(Error::MissingParameter("tag")));
    let bad = ContactPage {
        contacts: vec![listed("5", "", None), listed("x5", "", None), listed("5", "", None)],
        next_cursor: None,
        total: None,
    };
    let out = import_page(NOW, running, &bad, &ImportSettings::default(), AC).unwrap();
    assert_eq!(out.jobs.len(), 1);
    assert_eq!((out.state.listed, out.state.failed), (2, 1));
    assert_eq!(out.state.failures[0].reason, "invalid_id");
    let finished = import_job_finished(NOW + 1, out.state, "5", "created");
    assert!(progress(&finished).finished);
    let after = import_start(NOW + 2, Some(finished), "3", "", false).unwrap();
    assert!(after.started, "a finished import makes way for a new one");
    assert_eq!((after.state.tag_id.as_deref(), after.state.tag_name), (Some("3"), None), "digits name a tag ID");
}

#[test]
fn at_most_a_hundred_failures_are_listed_but_all_are_counted() {
    let mut state = import();
    for id in 0..150 {
        state = import_job_finished(NOW, state, &id.to_string(), "crm_error");
    }
    assert_eq!((state.failed, state.failures.len()), (150, 100));
}

// ---- JSON ----------------------------------------------------------------------------------------

#[test]
fn decide_round_trips_json() {
    let start: Value =
        serde_json::from_str(&decide(&json!({"kind": "sweep_start", "now": NOW}).to_string()).unwrap()).unwrap();
    assert_eq!((start["action"].as_str(), start["since"].as_u64()), (Some("list"), Some(NOW - 1020)));
    let page_query = json!({
        "kind": "sweep_page", "now": NOW, "state": start["state"], "crm": "ac",
        "page": {"contacts": [{"id": "42", "email": "jane@example.com", "updated_at": NOW}], "next_cursor": null},
        "users": [{"user_id": 7, "contact_id": "42", "user_email": "jane@example.com"}],
    });
    let out: Value = serde_json::from_str(&decide(&page_query.to_string()).unwrap()).unwrap();
    assert_eq!(out["jobs"][0]["contact_key"], "id:42");
    assert_eq!(out["jobs"][0]["request"]["action"], "update");
    assert_eq!(out["jobs"][0]["request"]["event"]["type"], SWEEP_EVENT);
    assert_eq!(out["state"]["mark"], NOW);
    assert_eq!(out["state"]["last"]["queued"], 1);
    // The same page, its contact fetched by a job claimed well after the change: no job.
    let mut synced_query = page_query.clone();
    synced_query["synced"] = json!({"id:42": NOW + 200});
    let out: Value = serde_json::from_str(&decide(&synced_query.to_string()).unwrap()).unwrap();
    assert_eq!((out["jobs"].as_array().map(Vec::len), out["skipped"]["synced"].as_u64()), (Some(0), Some(1)));
    synced_query["synced"] = json!({"id:42": NOW + 60, "id:43": NOW + 200}); // Within the overlap; another contact.
    let out: Value = serde_json::from_str(&decide(&synced_query.to_string()).unwrap()).unwrap();
    assert_eq!(out["jobs"].as_array().map(Vec::len), Some(1));
    let failed: Value = serde_json::from_str(
        &decide(&json!({"kind": "sweep_failed", "now": NOW, "state": start["state"], "error": "x"}).to_string())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(failed["state"]["pass"]["errors"], 1);
    let budget: Value =
        serde_json::from_str(&decide(r#"{"kind":"budget","crm":"Ontraport","share_percent":20}"#).unwrap()).unwrap();
    assert_eq!(budget["requests_per_minute"], 34);
    let started: Value = serde_json::from_str(
        &decide(&json!({"kind": "import_start", "now": NOW, "tag": "3", "role": "customer"}).to_string()).unwrap(),
    )
    .unwrap();
    assert_eq!((started["started"].as_bool(), started["progress"]["percent"].as_u64()), (Some(true), Some(0)));
    let shown: Value = serde_json::from_str(
        &decide(
            &json!({"kind": "import_progress", "state": {"listing_done": true, "listed": 4, "done": 1, "failed": 1}})
                .to_string(),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!((shown["progress"]["total"].as_u64(), shown["progress"]["percent"].as_u64()), (Some(4), Some(50)));
    assert_eq!(decide(r#"{"kind":"budget","crm":"hubspot","share_percent":20}"#), Err(Error::InvalidParameter("crm")));
    let no_pass = json!({"kind": "sweep_page", "now": NOW, "state": {}, "crm": "ac", "page": {"contacts": []}});
    assert_eq!(decide(&no_pass.to_string()), Err(Error::MissingParameter("state.pass")));
    assert!(matches!(decide(r#"{"kind":"nope"}"#), Err(Error::InvalidJson(_))));
}

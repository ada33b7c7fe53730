//! Site Health verdicts on the queue and on background processing, from facts the shim reads
//! (the oldest due job, failures in the last day, the drain event's next run). Pure: the shim
//! words each reason in a translated sentence.

use serde::{Deserialize, Serialize};

/// A due job normally waits seconds: a drainer starts after the response that queued it. Cron,
/// the safety net, runs every minute; a wait past these marks shows that neither works.
const DUE_WAIT_RECOMMENDED_SECS: u64 = 120;
const DUE_WAIT_CRITICAL_SECS: u64 = 600;

/// The drain event runs every minute; this late, no WP-Cron or system cron is running it.
const CRON_OVERDUE_SECS: u64 = 600;

/// `kind: health` input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthFacts {
    pub now: u64,
    /// When the oldest due job became due (queued past its run_after, or running past its lease).
    #[serde(default)]
    pub oldest_due_at: Option<u64>,
    #[serde(default)]
    pub failed_24h: u64,
    /// Next run of the drain event (`wp_next_scheduled`), None when it is not scheduled.
    #[serde(default)]
    pub next_cron_at: Option<u64>,
    /// `DISABLE_WP_CRON`: then only a system cron runs the event.
    #[serde(default)]
    pub cron_disabled: bool,
}

/// Site Health's own statuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Good,
    Recommended,
    Critical,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verdict {
    pub status: Status,
    /// What the shim words: queue `ok|failed_recently|due_waiting|stalled`; background
    /// `wp_cron|system_cron|not_scheduled|cron_overdue|system_cron_overdue`.
    pub reason: &'static str,
}

/// `kind: health` output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Health {
    pub queue: Verdict,
    pub due_wait_secs: u64,
    pub background: Verdict,
    pub cron_late_secs: u64,
}

pub fn health(facts: &HealthFacts) -> Health {
    let due_wait_secs = facts.oldest_due_at.map_or(0, |at| facts.now.saturating_sub(at));
    let queue = if due_wait_secs > DUE_WAIT_CRITICAL_SECS {
        Verdict { status: Status::Critical, reason: "stalled" }
    } else if due_wait_secs > DUE_WAIT_RECOMMENDED_SECS {
        Verdict { status: Status::Recommended, reason: "due_waiting" }
    } else if facts.failed_24h > 0 {
        Verdict { status: Status::Recommended, reason: "failed_recently" }
    } else {
        Verdict { status: Status::Good, reason: "ok" }
    };
    let cron_late_secs = facts.next_cron_at.map_or(0, |at| facts.now.saturating_sub(at));
    let background = match (facts.next_cron_at, cron_late_secs > CRON_OVERDUE_SECS, facts.cron_disabled) {
        (None, _, _) => Verdict { status: Status::Critical, reason: "not_scheduled" },
        (Some(_), true, true) => Verdict { status: Status::Critical, reason: "system_cron_overdue" },
        (Some(_), true, false) => Verdict { status: Status::Critical, reason: "cron_overdue" },
        (Some(_), false, true) => Verdict { status: Status::Good, reason: "system_cron" },
        (Some(_), false, false) => Verdict { status: Status::Good, reason: "wp_cron" },
    };
    Health { queue, due_wait_secs, background, cron_late_secs }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_700_000_000;

    fn facts() -> HealthFacts {
        HealthFacts { now: NOW, oldest_due_at: None, failed_24h: 0, next_cron_at: Some(NOW + 30), cron_disabled: false }
    }

    #[test]
    fn an_empty_queue_on_time_is_good() {
        let health = health(&facts());
        assert_eq!((health.queue.status, health.queue.reason), (Status::Good, "ok"));
        assert_eq!((health.background.status, health.background.reason), (Status::Good, "wp_cron"));
    }

    #[test]
    fn the_oldest_due_job_sets_the_queue_verdict() {
        let at = |secs: u64| health(&HealthFacts { oldest_due_at: Some(NOW - secs), ..facts() });
        assert_eq!(at(DUE_WAIT_RECOMMENDED_SECS).queue.status, Status::Good, "a short wait is normal");
        assert_eq!(at(DUE_WAIT_RECOMMENDED_SECS + 1).queue.reason, "due_waiting");
        assert_eq!(at(DUE_WAIT_CRITICAL_SECS + 1).queue.status, Status::Critical);
        assert_eq!(at(DUE_WAIT_CRITICAL_SECS + 1).due_wait_secs, DUE_WAIT_CRITICAL_SECS + 1);
        let future = health(&HealthFacts { oldest_due_at: Some(NOW + 50), ..facts() });
        assert_eq!(future.due_wait_secs, 0, "a clock skew never counts as waiting");
    }

    #[test]
    fn failures_of_the_last_day_are_recommended_unless_the_queue_is_stuck() {
        let failed = health(&HealthFacts { failed_24h: 3, ..facts() });
        assert_eq!((failed.queue.status, failed.queue.reason), (Status::Recommended, "failed_recently"));
        let stuck = health(&HealthFacts { failed_24h: 3, oldest_due_at: Some(NOW - 3600), ..facts() });
        assert_eq!(stuck.queue.reason, "stalled");
    }

    #[test]
    fn an_overdue_or_missing_drain_event_is_critical_and_says_which_cron() {
        let late = NOW - CRON_OVERDUE_SECS - 1;
        let wp = health(&HealthFacts { next_cron_at: Some(late), ..facts() });
        assert_eq!((wp.background.status, wp.background.reason), (Status::Critical, "cron_overdue"));
        assert_eq!(wp.cron_late_secs, CRON_OVERDUE_SECS + 1);
        let system = health(&HealthFacts { next_cron_at: Some(late), cron_disabled: true, ..facts() });
        assert_eq!(system.background.reason, "system_cron_overdue");
        let on_time = health(&HealthFacts { next_cron_at: Some(NOW - 60), cron_disabled: true, ..facts() });
        assert_eq!((on_time.background.status, on_time.background.reason), (Status::Good, "system_cron"));
        let missing = health(&HealthFacts { next_cron_at: None, ..facts() });
        assert_eq!(missing.background.reason, "not_scheduled");
    }
}

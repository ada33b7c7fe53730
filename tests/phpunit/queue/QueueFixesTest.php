<?php
/**
 * Regression tests for queue bugs: a busy contact starved by coalescing, a retried job folded
 * into a newer one losing its Retry-After, jobs judged by another CRM account after the admin
 * switched CRMs, a server-wide drainer lock, and jobs stalling on a quiet site (also when due
 * far ahead, as a retry's backoff).
 */

declare(strict_types=1);

require_once __DIR__ . '/QueueTestCase.php';

final class QueueFixesTest extends CrmHooks_Queue_TestCase
{
    private function job(int $id): array
    {
        global $wpdb;
        CrmHooks_Test_Site::fresh();
        return (array) $wpdb->get_row($wpdb->prepare("SELECT * FROM {$wpdb->prefix}crmhooks_jobs WHERE id = %d", $id), ARRAY_A);
    }

    public function test_coalescing_never_starves_a_busy_contact(): void
    {
        // The cap ends after the last webhook below: a drainer still alive from an earlier test
        // (a successor waits for due work) must not run the job half-way and end the merging.
        CrmHooks_Test_Site::set_settings(array('settle_secs' => 6, 'coalesce_cap_secs' => 8));
        $first = $this->enqueue(array('action' => 'update', 'contact_id' => '42'));
        $this->assertNotNull($first);
        $created = (int) $this->job($first['id'])['created_at'];
        // A webhook for the contact every second: each would push a plain settle window later.
        for ($i = 0; $i < 5; $i++) {
            sleep(1);
            $merged = $this->enqueue(array('action' => 'update', 'contact_id' => '42'));
            $this->assertTrue($merged['merged']);
            $this->assertLessThanOrEqual(max($created + 8, time()), $merged['run_after'], 'runs at the latest cap seconds after the first webhook');
        }
        $this->assertSame(6, (int) $this->job($first['id'])['received_count']);
    }

    public function test_folding_a_retried_job_keeps_its_retry_after(): void
    {
        global $wpdb;
        $first = $this->enqueue(array('action' => 'add', 'contact_id' => '42'));
        $wpdb->query($wpdb->prepare("UPDATE {$wpdb->prefix}crmhooks_jobs SET run_after = 0 WHERE id = %d", $first['id']));
        $claimed = CrmHooks_Jobs::claim('test:1');
        $this->assertSame($first['id'], (int) $claimed['id']);
        // While it runs, a newer webhook queues the contact again.
        $newer = $this->enqueue(array('action' => 'update_tags', 'contact_id' => '42'));
        $this->assertFalse($newer['merged']);

        // The running attempt hits the CRM's rate limit with Retry-After: 900.
        $end = CrmHooks_Jobs::finish($claimed, array('outcome' => 'crm_error', 'code' => 'crm_rate_limited', 'retry_after' => 900, 'message' => 'rate limited'));
        $this->assertSame(array('end' => 'retry', 'stop_draining' => true), $end, 'a rate limit also ends the run');
        $this->assertSame('merged', $this->job($first['id'])['outcome'], 'folded into the newer job');
        $folded = $this->job($newer['id']);
        $this->assertGreaterThanOrEqual(time() + 890, (int) $folded['run_after'], 'the Retry-After survives the fold');
        $this->assertSame('add', $folded['action'], 'and so does the stronger action');
        $this->assertLessThanOrEqual((int) $claimed['created_at'], (int) $folded['created_at'], 'first arrival kept');
    }

    public function test_a_job_is_never_judged_by_another_crm_account(): void
    {
        CrmHooks_Test_Site::set_settings(array('settle_secs' => 3)); // Time to switch before the first drain.
        // Queued while the site points at ActiveCampaign ...
        $this->assertQueued($this->hook(array('wpf_action' => 'update', 'contact_id' => '42')));
        $this->assertQueued($this->hook(array('wpf_action' => 'add', 'contact_id' => '43')));
        // ... then the admin switches to Ontraport before the drainer reaches them.
        CrmHooks_Test_Site::set_settings(array('crm' => 'ontraport'));
        $this->wait_until_idle(30, true);
        $jobs = $this->jobs();
        $this->assertCount(2, $jobs);
        foreach ($jobs as $job) {
            $this->assertSame('failed', $job['status'], 'visible, not silently done');
            $this->assertSame('account_changed', $job['outcome']);
        }
        $this->assertSame(array(), $this->users_for('john.roe@example.com'), 'nothing fetched from the wrong CRM');

        // Retrying by hand processes them with the account the site has now.
        CrmHooks_Test_Site::set_settings(array('crm' => 'activecampaign'));
        $this->assertSame(2, $this->retry_all_failed());
        $this->wait_until_idle(30, true);
        $this->assertNotEmpty($this->users_for('john.roe@example.com', '43'));
    }

    public function test_the_drainer_lock_is_per_database_not_per_server(): void
    {
        global $wpdb;
        // Another site on this database server, with the same table prefix in another database:
        // the plugin's own code names its drainer lock (a PHP process with that DB_NAME) ...
        $script = 'define("DB_NAME", "crmhooks_other_site"); $GLOBALS["wpdb"] = (object) array("prefix" => ' . var_export($wpdb->prefix, true) . ');'
            . ' require ' . var_export(CRMHOOKS_INCLUDES . 'class-crmhooks-jobs.php', true) . '; echo CrmHooks_Jobs::lock_name("drain");';
        $other_name = (string) shell_exec('php -r ' . escapeshellarg($script));
        $this->assertStringStartsWith('crmhooks_drain_', $other_name);
        $this->assertNotSame(CrmHooks_Worker::lock_name(), $other_name);
        // ... and holds it, for good, on its own connection.
        $other = new mysqli('localhost', DB_USER, DB_PASSWORD, DB_NAME, 0, substr(DB_HOST, strlen('localhost:')));
        $this->assertSame('1', (string) $other->query('SELECT GET_LOCK(' . "'" . $other->real_escape_string($other_name) . "'" . ', 0)')->fetch_row()[0]);
        try {
            $this->assertQueued($this->hook(array('wpf_action' => 'update_tags', 'contact_id' => '42')));
            $this->wait_for_drainers();
            // A drainer of this site (after a response, a successor, WP-Cron) may hold the lock a
            // moment; the other database's lock is held for good: only that would keep us out.
            for ($try = 0; $try < 30; $try++) {
                $summary = CrmHooks_Worker::run('test', 1);
                if ($summary['stopped'] !== 'locked') {
                    break;
                }
                usleep(500000);
            }
            $this->assertNotSame('locked', $summary['stopped']);
        } finally {
            $other->close();
        }
    }

    public function test_a_quiet_site_runs_a_deferred_job_within_ten_seconds_of_due(): void
    {
        global $wpdb;
        // A job that becomes due in 14 s (longer than a drainer waits), and no traffic at all.
        $job = $this->enqueue(array('action' => 'add', 'contact_id' => '42'));
        $due = time() + 14;
        $wpdb->query($wpdb->prepare("UPDATE {$wpdb->prefix}crmhooks_jobs SET run_after = %d WHERE id = %d", $due, $job['id']));
        $this->wait_for_drainers();
        $summary = CrmHooks_Worker::run('test', 2);
        $this->assertSame('idle', $summary['stopped']);
        $this->assertSame('queued', $this->job($job['id'])['status'], 'not due yet');

        $deadline = $due + 10;
        do {
            usleep(250000);
            $row = $this->job($job['id']);
        } while ($row['status'] !== 'done' && time() <= $deadline + 2);
        $this->assertSame('done', $row['status'], 'a successor drainer ran it with no other traffic');
        $this->assertLessThanOrEqual($deadline, (int) $row['updated_at'], 'within 10 s of becoming due');
        $this->assertCount(1, $this->users_for('jane.doe@example.com', '42'));
    }

    public function test_a_job_due_later_than_one_wait_starts_on_time_with_one_successor_waiting(): void
    {
        global $wpdb;
        $arrivals = $this->scratch_file('successors');
        $this->install_mu_plugin('successor-probe', '
if (isset($_GET["crmhooks_drain"])) {
    file_put_contents(' . var_export($arrivals, true) . ', "successor\n", FILE_APPEND);
}
');
        // Far ahead (a retry's backoff reaches an hour): a successor waits for it all the same.
        $far = $this->enqueue(array('action' => 'add', 'contact_id' => '43'));
        $wpdb->query($wpdb->prepare("UPDATE {$wpdb->prefix}crmhooks_jobs SET run_after = %d WHERE id = %d", time() + 3600, $far['id']));
        $this->wait_for_drainers();
        $this->assertTrue(CrmHooks_Worker::spawn_successor_if_pending(), 'a job due in an hour gets a successor');
        $waiting = fn(): ?bool => $wpdb->get_var($wpdb->prepare('SELECT IS_USED_LOCK(%s)', CrmHooks_Jobs::lock_name('successor'))) !== null ? true : null;
        $this->wait_for($waiting, 5, 'a successor waiting for the job');
        $this->clear_queue();

        // Due in 45 s, more than two waits of one request; no traffic at all. Three drainers that
        // end with it pending start three successors: one waits, the others end at once.
        @unlink($arrivals);
        $job = $this->enqueue(array('action' => 'add', 'contact_id' => '42'));
        $due = time() + 45;
        $wpdb->query($wpdb->prepare("UPDATE {$wpdb->prefix}crmhooks_jobs SET run_after = %d WHERE id = %d", $due, $job['id']));
        for ($i = 0; $i < 3; $i++) {
            $this->assertTrue(CrmHooks_Worker::spawn_successor_if_pending());
        }
        do {
            usleep(250000);
            $row = $this->job($job['id']);
        } while ($row['status'] !== 'done' && time() <= $due + 12);
        $this->assertSame('done', $row['status'], 'a successor drained it with no other traffic');
        $this->assertLessThanOrEqual($due + 10, (int) $row['updated_at'], 'within 10 s of becoming due');
        $this->assertCount(1, $this->users_for('jane.doe@example.com', '42'));
        // One chain: the three first requests, then one fresh successor per 20-s wait (one per
        // waiting request would make it 3 + 3 + 3).
        $this->assertLessThanOrEqual(6, substr_count((string) @file_get_contents($arrivals), 'successor'), 'one successor waited at a time');
        $this->assertGreaterThanOrEqual(4, substr_count((string) @file_get_contents($arrivals), 'successor'), 'the wait was handed over');
    }
}

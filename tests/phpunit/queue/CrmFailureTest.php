<?php
/**
 * The CRM answering 429, 500, dropping connections or answering slowly: every job succeeds in
 * the end, within the CRM's rate, without duplicate users. Permanent errors and exhausted retries
 * end failed with their reason and can be retried by hand.
 */

declare(strict_types=1);

require_once __DIR__ . '/QueueTestCase.php';

final class CrmFailureTest extends CrmHooks_Queue_TestCase
{
    public function test_rate_limits_errors_and_drops_end_in_success_without_exceeding_the_rate(): void
    {
        $ids = array('201', '202', '203', '204', '205', '206');
        foreach ($ids as $id) {
            $this->ac_contact($id, "c$id@example.com");
        }
        CrmHooks_Test_Standin::clear_log();
        // 429 three times in a row outlasts the library's own two short retries.
        CrmHooks_Test_Standin::add_fault(array('crm' => 'ac', 'path_regex' => '^/api/3/contacts/', 'kind' => 'status', 'status' => 429, 'retry_after' => 1, 'count' => 3));
        CrmHooks_Test_Standin::add_fault(array('crm' => 'ac', 'path_regex' => '^/api/3/contacts/', 'kind' => 'status', 'status' => 500, 'count' => 2));
        CrmHooks_Test_Standin::add_fault(array('crm' => 'ac', 'path_regex' => '^/api/3/contacts/', 'kind' => 'drop', 'count' => 1));
        // No latency fault here: the stand-in counts a delayed request when it is admitted, after
        // the delay, which the client's bucket cannot know (LeaseTest covers slow answers).
        $log_start = $this->last_log_id();

        foreach ($ids as $id) {
            $this->assertQueued($this->hook(array('wpf_action' => 'add', 'contact_id' => $id)));
            // A second delivery of the same add (the CRM retrying) must not duplicate the user.
            $this->assertQueued($this->hook(array('wpf_action' => 'add', 'contact_id' => $id)));
        }
        $this->wait_until_idle(60, true);

        foreach ($this->jobs() as $job) {
            $this->assertSame('done', $job['status'], json_encode($job));
            $this->assertSame('created', $job['outcome']);
        }
        foreach ($ids as $id) {
            $this->assertCount(1, $this->users_for("c$id@example.com", $id), "one user for contact $id");
        }
        $outcomes = array_column($this->log_rows($log_start), 'outcome');
        $this->assertContains('crm_error', $outcomes, 'the failures were seen and retried');
        $this->assertGreaterThan(1, max(array_map('intval', array_column($this->jobs(), 'attempts'))));
        $stats = CrmHooks_Test_Standin::stats();
        $this->assertSame(0, $stats['rate_limited']['ac'], 'the stand-in never had to rate-limit us');
        $this->assertLessThanOrEqual(5, $stats['max_per_second']['ac']);
    }

    public function test_a_rate_limit_ends_the_drainers_run(): void
    {
        global $wpdb;
        CrmHooks_Test_Site::set_settings(array('drain_in_web_requests' => false)); // No successor drains after this run.
        // 429 three times in a row outlasts the library's own two short retries.
        CrmHooks_Test_Standin::add_fault(array('crm' => 'ac', 'path_regex' => '^/api/3/contacts/', 'kind' => 'status', 'status' => 429, 'retry_after' => 1, 'count' => 3));
        $limited = $this->enqueue(array('action' => 'update', 'contact_id' => '42'));
        $waiting = $this->enqueue(array('action' => 'update', 'contact_id' => '43'));
        $wpdb->query($wpdb->prepare("UPDATE {$wpdb->prefix}crmhooks_jobs SET run_after = %d WHERE id = %d", time() - 2, $limited['id']));
        $wpdb->query($wpdb->prepare("UPDATE {$wpdb->prefix}crmhooks_jobs SET run_after = %d WHERE id = %d", time() - 1, $waiting['id']));
        $this->wait_for_drainers();

        $summary = CrmHooks_Worker::run('test', 20);
        $this->assertSame(array('rate_limited', 1), array($summary['stopped'], $summary['processed']), 'the next job would meet the same limit');
        $jobs = array_column($this->jobs(), null, 'id');
        $this->assertSame(array('queued', 'crm_rate_limited'), array($jobs[ $limited['id'] ]['status'], $jobs[ $limited['id'] ]['outcome']), 'retried later');
        $this->assertSame(array('queued', '0'), array($jobs[ $waiting['id'] ]['status'], (string) $jobs[ $waiting['id'] ]['attempts']), 'not tried in this run');
    }

    public function test_a_permanent_error_fails_at_once_and_can_be_retried_by_hand(): void
    {
        CrmHooks_Test_Standin::add_fault(array('crm' => 'ac', 'path_regex' => '^/api/3/contacts/42', 'kind' => 'status', 'status' => 403, 'count' => 1));
        $this->assertQueued($this->hook(array('wpf_action' => 'add', 'contact_id' => '42')));
        $this->wait_until_idle(20, true);

        $failed = $this->failed_jobs();
        $this->assertCount(1, $failed);
        $this->assertSame(1, (int) $failed[0]['attempts'], 'no automatic retry of a permanent error');
        $this->assertSame('crm_unauthorized', $failed[0]['outcome']);
        $this->assertNotSame('', $failed[0]['last_error']);
        $this->assertCount(0, $this->users_for('jane.doe@example.com', '42'));

        $this->assertSame(1, $this->retry_all_failed());
        global $wpdb;
        $wpdb->query("UPDATE {$wpdb->prefix}crmhooks_jobs SET run_after = 0 WHERE status = 'queued'");
        $this->wait_until_idle(20, true);
        $this->assertSame('created', $this->jobs()[0]['outcome']);
        $this->assertCount(1, $this->users_for('jane.doe@example.com', '42'));
    }

    public function test_temporary_errors_beyond_max_attempts_end_failed_with_the_reason(): void
    {
        CrmHooks_Test_Site::set_settings(array('max_attempts' => 2));
        CrmHooks_Test_Standin::add_fault(array('crm' => 'ac', 'path_regex' => '^/api/3/contacts/42', 'kind' => 'status', 'status' => 500, 'count' => 10));
        $this->assertQueued($this->hook(array('wpf_action' => 'add', 'contact_id' => '42')));
        $this->wait_until_idle(30, true);

        $failed = $this->failed_jobs();
        $this->assertCount(1, $failed);
        $this->assertSame(2, (int) $failed[0]['attempts']);
        $this->assertSame('crm_temporary', $failed[0]['outcome']);
        $this->assertCount(0, $this->users_for('jane.doe@example.com', '42'));
    }

    public function test_contact_not_found_ends_done(): void
    {
        $this->assertQueued($this->hook(array('wpf_action' => 'add', 'contact_id' => '999')));
        $this->wait_until_idle(20, true);
        $this->assertSame('done', $this->jobs()[0]['status']);
        $this->assertSame('contact_not_found', $this->jobs()[0]['outcome']);
    }
}

<?php
/**
 * Duplicate and bursty deliveries: concurrent adds make one user, a burst for one contact costs
 * one CRM fetch taken after the last webhook, and the final state is the CRM's latest.
 */

declare(strict_types=1);

require_once __DIR__ . '/QueueTestCase.php';

final class CoalescingTest extends CrmHooks_Queue_TestCase
{
    public function test_fifty_concurrent_adds_of_one_contact_create_one_user(): void
    {
        $log_start = $this->last_log_id();
        $url = $this->webhook_url(array('wpf_action' => 'add', 'contact_id' => '42'));
        $responses = $this->parallel_get(array_fill(0, 50, $url));

        foreach ($responses as $response) {
            $this->assertSame(200, $response['status'], $response['body']);
            $this->assertSame(array('success' => true, 'status' => 'queued'), $response['json']);
        }
        // Only the drainers started after those responses run the jobs here (no help from this process).
        $this->wait_until_idle(40);

        $this->assertCount(1, $this->users_for('jane.doe@example.com', '42'));
        $jobs = $this->jobs();
        $this->assertSame(50, array_sum(array_map(static fn(array $j): int => (int) $j['received_count'], $jobs)), 'every delivery is counted in a job');
        foreach ($jobs as $job) {
            $this->assertSame('done', $job['status']);
            $this->assertContains($job['outcome'], array('created', 'updated', 'unchanged'));
        }
        $this->assertLessThan(50, count($jobs), 'deliveries coalesce');
        $received = array_filter($this->log_rows($log_start), static fn(array $r): bool => $r['outcome'] === 'received');
        $this->assertCount(50, $received, 'every webhook is logged as received');
    }

    public function test_concurrent_inline_adds_create_one_user(): void
    {
        $url = $this->webhook_url(array('wpf_action' => 'add', 'contact_id' => '42', 'async' => 'false'));
        $responses = $this->parallel_get(array_fill(0, 8, $url));

        foreach ($responses as $response) {
            $this->assertContains($response['status'], array(200, 503), $response['body']);
        }
        $this->assertCount(1, $this->users_for('jane.doe@example.com', '42'));
        $this->assertSame(array(), $this->jobs(), 'async=false bypasses the queue');
    }

    public function test_a_burst_for_one_contact_costs_one_fetch_and_ends_in_the_latest_state(): void
    {
        CrmHooks_Test_Site::set_settings(array('settle_secs' => 2));
        CrmHooks_Test_Standin::clear_log();
        $actions = array('add', 'update', 'update_tags', 'update', 'update_tags');
        foreach ($actions as $i => $action) {
            $this->ac_contact('42', 'jane.doe@example.com', array('member'), 'Jane' . $i);
            $this->assertQueued($this->hook(array('wpf_action' => $action, 'contact_id' => '42')));
        }
        $this->wait_until_idle(20);

        $this->assertCount(1, $this->crm_requests('GET', '/api/3/contacts/42'), 'one CRM fetch for five webhooks');
        $jobs = $this->jobs();
        $this->assertCount(1, $jobs);
        $this->assertSame('add', $jobs[0]['action'], 'the strongest action wins');
        $this->assertSame('5', (string) $jobs[0]['received_count']);
        $this->assertSame('created', $jobs[0]['outcome']);
        $users = $this->users_for('jane.doe@example.com', '42');
        $this->assertCount(1, $users);
        $this->assertSame('Jane4', get_user_meta($users[0], 'first_name', true), 'the CRM state after the last webhook');
    }

    public function test_email_only_jobs_coalesce_by_lowercased_email_and_keep_add_parameters(): void
    {
        $first = $this->enqueue(array('action' => 'add', 'contact_id' => null, 'email' => 'Jane.Doe@Example.com', 'role' => 'subscriber', 'send_notification' => true, 'event' => array()));
        $second = $this->enqueue(array('action' => 'update', 'contact_id' => null, 'email' => 'jane.doe@example.COM', 'role' => null, 'send_notification' => false, 'event' => array()));

        $this->assertFalse($first['merged']);
        $this->assertTrue($second['merged']);
        $this->assertSame($first['id'], $second['id']);
        $jobs = $this->jobs();
        $this->assertCount(1, $jobs);
        $this->assertSame('email:jane.doe@example.com', $jobs[0]['contact_key']);
        $request = json_decode($jobs[0]['request_json'], true);
        $this->assertSame('add', $request['action']);
        $this->assertSame('subscriber', $request['role']);
        $this->assertTrue($request['send_notification']);
        $this->assertSame(2, (int) $jobs[0]['received_count']);
    }

    public function test_a_webhook_for_a_running_job_starts_a_new_job(): void
    {
        $request = array('action' => 'update', 'contact_id' => '42', 'email' => null, 'role' => null, 'send_notification' => false, 'event' => array());
        $first = $this->enqueue($request);
        global $wpdb;
        $wpdb->query($wpdb->prepare("UPDATE {$wpdb->prefix}crmhooks_jobs SET run_after = 0 WHERE id = %d", $first['id']));
        $claimed = CrmHooks_Jobs::claim('test:1');
        $this->assertSame($first['id'], (int) $claimed['id']);

        $second = $this->enqueue($request);
        $this->assertFalse($second['merged'], 'never merged into a running job: its CRM read may be older than this webhook');
        $this->assertNotSame($first['id'], $second['id']);
        $wpdb->query($wpdb->prepare("UPDATE {$wpdb->prefix}crmhooks_jobs SET run_after = 0 WHERE id = %d", $second['id']));
        $this->assertNull(CrmHooks_Jobs::claim('test:2'), 'no second job for a contact whose job runs under a live lease');
        $this->assertSame((int) $claimed['lease_until'] + 1, CrmHooks_Jobs::next_due(), 'the queued job is due when the lease ends');
    }
}

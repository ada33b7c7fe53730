<?php
/**
 * Tools -> crmhooks Queue over HTTP: every job state in words, the state views and their counts,
 * Retry and Delete (one job and in bulk) with the database checked after each, refusals without
 * the capability or the nonce, Process now, and the chart's hourly numbers.
 */

declare(strict_types=1);

require_once __DIR__ . '/AdminScreensTestCase.php';

final class QueueScreenTest extends CrmHooks_Admin_Screens_TestCase
{
    private const PAGE = '/wp-admin/tools.php?page=crmhooks-queue';

    public function test_the_list_shows_every_state_in_words(): void
    {
        $this->hold_drainer_lock();
        $jobs = $this->jobs_in_every_state();
        $page = $this->get(self::PAGE, $this->admin_cookie());
        $this->assertSame(200, $page['status']);

        $expected = array(
            'queued'              => array('Queued', 'Due now'),
            'deferred_loopback'   => array('Deferred', 'echo of our own change'),
            'deferred_settle'     => array('Deferred', 'for more webhooks of this contact'),
            'deferred_rate_limit' => array('Deferred', 'rate limit'),
            'running'             => array('Running', 'Being processed by web1:4242 (lease until'),
            'running_expired'     => array('Running', 'Its worker stopped without finishing'),
            'retrying'            => array('Retrying', 'Next try'),
            'failed'              => array('Failed', 'The CRM refused the API credentials'),
            'skipped_not_found'   => array('Skipped', 'The CRM has no such contact'),
            'skipped_conflict'    => array('Skipped', 'two users are linked to this contact'),
            'done'                => array('Done', 'The WordPress user was updated from the CRM.'),
        );
        foreach ($expected as $name => $words) {
            $row = $this->job_row($page['body'], $jobs[ $name ]);
            $this->assertNotSame('', $row, "job $name is listed");
            $this->assertMatchesRegularExpression('/class="crmhooks-state crmhooks-state-\w+">' . preg_quote($words[0], '/') . '</', $row, "state of $name");
            $this->assertStringContainsString($words[1], self::text($row), "words for $name");
        }
        // The retry's reason is the job's last error, with the next try time.
        $this->assertStringContainsString('the CRM answered HTTP 502', self::text($this->job_row($page['body'], $jobs['retrying'])));
        // Retry is offered where CrmHooks_Jobs::retry_failed() takes the job: failed ones only.
        $this->assertStringContainsString('action=retry', $this->job_row($page['body'], $jobs['failed']));
        $this->assertStringContainsString('action=retry', $this->job_row($page['body'], $jobs['skipped_conflict']));
        $this->assertStringNotContainsString('action=retry', $this->job_row($page['body'], $jobs['done']));
        $this->assertStringContainsString('action=delete', $this->job_row($page['body'], $jobs['done']));

        // Views with their counts; a view lists its state only.
        foreach (array('All' => 11, 'Queued' => 1, 'Deferred' => 3, 'Running' => 2, 'Retrying' => 1, 'Failed' => 1, 'Skipped' => 2, 'Done' => 1) as $label => $count) {
            $this->assertMatchesRegularExpression('/>' . $label . ' <span class="count">\(' . $count . '\)<\/span>/', $page['body'], "view $label");
        }
        $deferred = $this->get(self::PAGE . '&job_state=deferred', $this->login_cookie('screens.admin_example.com', self::PASSWORD));
        foreach ($jobs as $name => $id) {
            $listed = $this->job_row($deferred['body'], $id) !== '';
            $this->assertSame(strpos($name, 'deferred_') === 0, $listed, "$name in the deferred view");
        }
    }

    public function test_times_are_in_the_sites_timezone(): void
    {
        $this->hold_drainer_lock();
        $timezone = get_option('timezone_string');
        update_option('timezone_string', 'Asia/Tokyo');
        try {
            $id = $this->insert_job(array('status' => 'done', 'outcome' => 'updated', 'created_at' => 1767225600, 'updated_at' => 1767225600)); // 2026-01-01 00:00 UTC
            $page = $this->get(self::PAGE, $this->admin_cookie());
            $this->assertStringContainsString(wp_date(get_option('date_format') . ' ' . get_option('time_format'), 1767225600), $this->job_row($page['body'], $id));
            $this->assertStringContainsString('9:00', self::text($this->job_row($page['body'], $id)), '00:00 UTC is 09:00 in Tokyo');
        } finally {
            update_option('timezone_string', $timezone);
        }
    }

    public function test_retry_and_delete_one_job_from_its_row_actions(): void
    {
        $this->hold_drainer_lock();
        $failed = $this->insert_job(array('status' => 'failed', 'attempts' => 8, 'outcome' => 'crm_temporary', 'last_error' => '<script>alert(1)</script>'));
        $done = $this->insert_job(array('contact' => '43', 'status' => 'done', 'outcome' => 'updated'));
        $cookie = $this->admin_cookie();
        $page = $this->get(self::PAGE, $cookie);
        $this->assertStringNotContainsString('<script>alert(1)</script>', $page['body'], 'the reason is escaped');
        $this->assertStringContainsString('&lt;script&gt;alert(1)&lt;/script&gt;', $page['body'], 'the reason is shown');

        $retry = $this->row_action_url($page['body'], $failed, 'retry');
        $response = $this->get($retry, $cookie);
        $this->assertSame(302, $response['status'], $response['body']);
        $this->assertStringContainsString('crmhooks_done=retried', $response['location']);
        $this->assertStringContainsString('crmhooks_count=1', $response['location']);
        $this->assertSame('queued', $this->job($failed)['status']);
        $this->assertSame('0', $this->job($failed)['attempts']);
        $notice = $this->get(substr($response['location'], strpos($response['location'], '/wp-admin/')), $cookie);
        $this->assertStringContainsString('1 job is queued again.', self::text($notice['body']));

        $delete = $this->row_action_url($page['body'], $done, 'delete');
        $response = $this->get($delete, $cookie);
        $this->assertSame(302, $response['status'], $response['body']);
        $this->assertStringContainsString('crmhooks_done=deleted', $response['location']);
        $this->assertNull($this->job($done));
        $this->assertNotNull($this->job($failed), 'only the chosen job is deleted');
    }

    public function test_bulk_retry_and_bulk_delete(): void
    {
        $this->hold_drainer_lock();
        $failed_a = $this->insert_job(array('contact' => '60', 'status' => 'failed', 'attempts' => 8, 'outcome' => 'crm_temporary'));
        $failed_b = $this->insert_job(array('contact' => '61', 'status' => 'failed', 'attempts' => 1, 'outcome' => 'account_changed'));
        $done = $this->insert_job(array('contact' => '62', 'status' => 'done', 'outcome' => 'unchanged'));
        $keep = $this->insert_job(array('contact' => '63', 'status' => 'done', 'outcome' => 'created'));
        $cookie = $this->admin_cookie();
        $nonce = $this->bulk_nonce($this->get(self::PAGE, $cookie)['body']);

        // Retry from the top menu: the two failed jobs are queued again, the done one is left.
        $response = $this->post(self::PAGE, array('action' => 'retry', 'action2' => '-1', 'job' => array($failed_a, $failed_b, $done), '_wpnonce' => $nonce), $cookie);
        $this->assertSame(302, $response['status'], $response['body']);
        $this->assertStringContainsString('crmhooks_count=2', $response['location']);
        $this->assertStringContainsString('crmhooks_refused=1', $response['location']);
        $this->assertSame(array('queued', 'queued', 'done'), array($this->job($failed_a)['status'], $this->job($failed_b)['status'], $this->job($done)['status']));
        $this->assertSame(CrmHooks_Settings::account_id(), $this->job($failed_b)['account'], 'a retry runs with the current CRM account');

        // Delete from the bottom menu.
        $response = $this->post(self::PAGE, array('action' => '-1', 'action2' => 'delete', 'job' => array($failed_a, $done), '_wpnonce' => $nonce), $cookie);
        $this->assertSame(302, $response['status'], $response['body']);
        $this->assertStringContainsString('crmhooks_done=deleted', $response['location']);
        $this->assertStringContainsString('crmhooks_count=2', $response['location']);
        $this->assertNull($this->job($failed_a));
        $this->assertNull($this->job($done));
        $this->assertSame(2, $this->job_count(), 'the jobs not chosen stay');
        $this->assertNotNull($this->job($keep));
    }

    public function test_actions_need_the_capability_and_the_nonce(): void
    {
        $this->hold_drainer_lock();
        $failed = $this->insert_job(array('status' => 'failed', 'attempts' => 8, 'outcome' => 'crm_temporary'));
        $admin = $this->admin_cookie();
        $page = $this->get(self::PAGE, $admin);
        $retry = $this->row_action_url($page['body'], $failed, 'retry');
        $delete = $this->row_action_url($page['body'], $failed, 'delete');
        $nonce = $this->bulk_nonce($page['body']);
        preg_match('/name="action" value="crmhooks_queue_process">.*?name="_wpnonce" value="([0-9a-f]+)"/s', $page['body'], $process);
        $this->assertNotEmpty($process, 'Process now carries its own nonce');

        // A subscriber, even holding the administrator's links: refused, nothing changes.
        $subscriber = $this->subscriber_cookie();
        $this->assertSame(403, $this->get(self::PAGE, $subscriber)['status']);
        $this->assertSame(403, $this->get($retry, $subscriber)['status']);
        $this->assertSame(403, $this->get($delete, $subscriber)['status']);
        $this->assertSame(403, $this->post(self::PAGE, array('action' => 'delete', 'job' => array($failed), '_wpnonce' => $nonce), $subscriber)['status']);
        $this->assertSame(403, $this->post('/wp-admin/admin-post.php', array('action' => 'crmhooks_queue_process', '_wpnonce' => $process[1]), $subscriber)['status']);
        // The administrator with a forged or missing nonce: refused too.
        $this->assertSame(403, $this->get(str_replace('_wpnonce=', '_wpnonce=0', $delete), $admin)['status']);
        $this->assertSame(403, $this->post(self::PAGE, array('action' => 'retry', 'job' => array($failed)), $admin)['status']);
        $this->assertSame(403, $this->post('/wp-admin/admin-post.php', array('action' => 'crmhooks_queue_process'), $admin)['status']);
        // Not logged in: sent to the login page.
        $this->assertStringContainsString('wp-login.php', $this->http('GET', CrmHooks_Test_Site::url($delete))['location']);

        $job = $this->job($failed);
        $this->assertNotNull($job, 'not deleted');
        $this->assertSame('failed', $job['status'], 'not retried');
        $this->assertSame('8', $job['attempts']);
    }

    public function test_process_now_runs_the_due_jobs(): void
    {
        // Two due jobs nobody has started (queued as a webhook queues them, without a drainer);
        // until Process now, this test holds the drainer lock so no other queue run takes them.
        $this->hold_drainer_lock();
        $first = $this->enqueue_request('42');
        $second = $this->enqueue_request('43');
        global $wpdb;
        $wpdb->query("UPDATE {$wpdb->prefix}crmhooks_jobs SET run_after = 0");
        $cookie = $this->admin_cookie();
        $page = $this->get(self::PAGE, $cookie);
        preg_match('/name="action" value="crmhooks_queue_process">.*?name="_wpnonce" value="([0-9a-f]+)"/s', $page['body'], $process);

        // While another queue run holds the lock, Process now says so and leaves the jobs.
        $busy = $this->post('/wp-admin/admin-post.php', array('action' => 'crmhooks_queue_process', '_wpnonce' => $process[1]), $cookie);
        $this->assertStringContainsString('crmhooks_done=process_locked', $busy['location']);
        $this->assertSame('queued', $this->job($first)['status']);
        $this->release_drainer_lock();

        $response = $this->post('/wp-admin/admin-post.php', array('action' => 'crmhooks_queue_process', '_wpnonce' => $process[1]), $cookie);
        $this->assertSame(302, $response['status'], $response['body']);
        $this->assertStringContainsString('crmhooks_done=processed', $response['location']);
        $this->assertStringContainsString('crmhooks_count=2', $response['location']);
        $this->assertSame(array('done', 'created'), array($this->job($first)['status'], $this->job($first)['outcome']));
        $this->assertSame(array('done', 'created'), array($this->job($second)['status'], $this->job($second)['outcome']));
        $this->assertCount(1, $this->users_for('jane.doe@example.com', '42'));
        $this->assertCount(1, $this->users_for('john.roe@example.com', '43'));
    }

    public function test_the_chart_counts_webhooks_received_and_jobs_finished_per_hour(): void
    {
        global $wpdb;
        $this->hold_drainer_lock();
        $now = time();
        $hour = intdiv($now, HOUR_IN_SECONDS) * HOUR_IN_SECONDS - 3 * HOUR_IN_SECONDS; // three hours back
        foreach (array('received', 'received', 'received', 'queue_error', 'created') as $outcome) {
            $wpdb->insert($wpdb->prefix . 'crmhooks_log', array('created_at' => gmdate('Y-m-d H:i:s', $hour + 600), 'action' => 'update', 'contact_id' => '42', 'outcome' => $outcome, 'message' => ''));
        }
        $this->insert_job(array('status' => 'done', 'outcome' => 'updated', 'updated_at' => $hour + 100));
        $this->insert_job(array('contact' => '43', 'status' => 'failed', 'outcome' => 'crm_permanent', 'updated_at' => $hour + 200));
        $this->insert_job(array('contact' => '44', 'status' => 'done', 'outcome' => 'merged', 'updated_at' => $hour + 300)); // folded: not a finish
        $this->insert_job(array('contact' => '45', 'status' => 'done', 'outcome' => 'updated', 'updated_at' => $now - 49 * HOUR_IN_SECONDS)); // too old

        $page = $this->get(self::PAGE, $this->admin_cookie());
        $this->assertSame(1, preg_match('/<figure class="crmhooks-chart".*?<\/figure>/s', $page['body'], $chart));
        $this->assertStringNotContainsString('<script', $chart[0], 'drawn without a script');
        $this->assertDoesNotMatchRegularExpression('/(src|href)="https?:/', $chart[0], 'nothing loaded from elsewhere');
        $this->assertSame(48, preg_match_all('/<g class="crmhooks-hour"/', $chart[0]), 'one group per hour for 48 hours');
        $this->assertStringContainsString('data-start="' . $hour . '" data-received="4" data-finished="2"', $chart[0]);
        $this->assertStringContainsString('Webhooks received: 4', self::text($chart[0]));
        $this->assertStringContainsString('Jobs finished: 2', self::text($chart[0]));
    }

    /** The href of a row action of one job, as a path. */
    private function row_action_url(string $html, int $id, string $action): string
    {
        $row = $this->job_row($html, $id);
        $this->assertSame(1, preg_match('/href="([^"]*action=' . $action . '[^"]*)"/', $row, $m), "$action link of job $id");
        $url = html_entity_decode($m[1]);
        return substr($url, strpos($url, '/wp-admin/'));
    }

    private function bulk_nonce(string $html): string
    {
        $this->assertSame(1, preg_match('/id="crmhooks-jobs-form".*?name="_wpnonce" value="([0-9a-f]+)"/s', $html, $m));
        return $m[1];
    }

    /** Queues an update for a stand-in contact the way a webhook does, without starting a drainer. */
    private function enqueue_request(string $contact_id): int
    {
        $request = array(
            'action' => 'add', 'contact_id' => $contact_id, 'email' => null, 'role' => null, 'send_notification' => false, 'async' => null,
            'event' => array('type' => null, 'date_time' => null, 'initiated_from' => null, 'initiated_by' => null, 'seriesid' => null, 'tag' => null, 'tags' => null, 'fields' => new stdClass(), 'email' => null, 'first_name' => null, 'last_name' => null),
        );
        $key = CrmHooks_Jobs::decide(array('kind' => 'accept', 'now' => time(), 'request' => $request, 'nonce' => 'n', 'backlog' => 0))['contact_key'];
        $job = CrmHooks_Jobs::enqueue($key, $request, CrmHooks_Settings::account_id());
        $this->assertNotNull($job);
        return (int) $job['id'];
    }
}

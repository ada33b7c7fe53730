<?php
/**
 * The queue around the library's verdicts (tested where they live, in src/queue.rs): the schema
 * upgrade, retention, the REST route, WP-Cron, and the admin screen's access checks.
 */

declare(strict_types=1);

require_once __DIR__ . '/QueueTestCase.php';

final class QueueRulesTest extends CrmHooks_Queue_TestCase
{
    public function test_schema_is_upgraded_when_its_version_changes(): void
    {
        global $wpdb;
        update_option(CrmHooks_Jobs::DB_VERSION_OPTION, '0');
        CrmHooks_Jobs::maybe_upgrade();
        $this->assertSame(CrmHooks_Jobs::DB_VERSION, get_option(CrmHooks_Jobs::DB_VERSION_OPTION));
        $columns = $wpdb->get_col("SHOW COLUMNS FROM {$wpdb->prefix}crmhooks_jobs");
        foreach (array('id', 'contact_key', 'action', 'request_json', 'status', 'attempts', 'run_after', 'lease_until', 'received_count', 'created_at', 'updated_at', 'last_error', 'outcome') as $column) {
            $this->assertContains($column, $columns);
        }
    }

    public function test_the_access_key_is_never_stored_in_a_job(): void
    {
        $this->assertQueued($this->hook(array('wpf_action' => 'update', 'contact_id' => '42')));
        $json = $this->jobs()[0]['request_json'];
        $this->assertStringNotContainsString(CrmHooks_Test_Site::access_key(), $json);
        $this->assertSame('42', json_decode($json, true)['contact_id']);
    }

    public function test_prune_removes_old_done_jobs_only(): void
    {
        global $wpdb;
        $table = $wpdb->prefix . 'crmhooks_jobs';
        $old = time() - 8 * DAY_IN_SECONDS;
        foreach (array('done', 'failed', 'queued') as $i => $status) {
            $wpdb->insert($table, array('contact_key' => "id:9$i", 'action' => 'update', 'request_json' => '{}', 'status' => $status, 'created_at' => $old, 'updated_at' => $old, 'last_error' => ''));
        }
        $wpdb->insert($table, array('contact_key' => 'id:99', 'action' => 'update', 'request_json' => '{}', 'status' => 'done', 'created_at' => time(), 'updated_at' => time(), 'last_error' => ''));
        $this->assertSame(1, CrmHooks_Jobs::prune());
        $this->assertSame(array('failed', 'queued', 'done'), array_column($this->jobs(), 'status'));
    }

    public function test_the_rest_route_queues_too(): void
    {
        $response = CrmHooks_Test_Site::request('POST', CrmHooks_Test_Site::url('/wp-json/crmhooks/v1/webhook') . '?' . http_build_query(array('wpf_action' => 'add', 'contact_id' => '42', 'access_key' => CrmHooks_Test_Site::access_key())), '');
        $this->assertSame(200, $response['status'], $response['body']);
        $this->assertSame(array('success' => true, 'status' => 'queued'), $response['json']);
        $this->wait_until_idle(20);
        $this->assertSame('created', $this->jobs()[0]['outcome']);
        $this->assertCount(1, $this->users_for('jane.doe@example.com', '42'));
    }

    public function test_wp_cron_drains_due_jobs_every_minute(): void
    {
        CrmHooks_Worker::ensure_scheduled();
        $this->assertNotFalse(wp_next_scheduled(CrmHooks_Worker::CRON_HOOK));
        $this->assertSame(60, wp_get_schedules()[ CrmHooks_Worker::CRON_SCHEDULE ]['interval']);

        // A job queued while no drainer ran (as after a crash) is picked up by the cron run.
        $job = $this->enqueue(array(
            'action' => 'add', 'contact_id' => '42', 'email' => null, 'role' => null, 'send_notification' => false, 'async' => null,
            'event' => array('type' => null, 'date_time' => null, 'initiated_from' => null, 'initiated_by' => null, 'seriesid' => null, 'tag' => null, 'tags' => null, 'fields' => new stdClass(), 'email' => null, 'first_name' => null, 'last_name' => null),
        ));
        global $wpdb;
        $wpdb->query($wpdb->prepare("UPDATE {$wpdb->prefix}crmhooks_jobs SET run_after = 0 WHERE id = %d", $job['id']));
        do_action(CrmHooks_Worker::CRON_HOOK);
        $this->assertSame('done', $this->jobs()[0]['status']);
        $this->assertCount(1, $this->users_for('jane.doe@example.com', '42'));
    }

    public function test_jobs_admin_actions_need_manage_options_and_a_nonce(): void
    {
        $password = (string) @file_get_contents(getenv('CRMHOOKS_STACK_DIR') . '/admin-password');
        if (trim($password) === '') {
            $this->markTestSkipped('admin password file not readable');
        }
        global $wpdb;
        $wpdb->insert($wpdb->prefix . 'crmhooks_jobs', array('contact_key' => 'id:42', 'action' => 'update', 'request_json' => '{"action":"update","contact_id":"42"}', 'status' => 'failed', 'attempts' => 8, 'created_at' => time(), 'updated_at' => time(), 'outcome' => 'crm_temporary', 'last_error' => '<script>alert(1)</script>'));
        $failed_id = (int) $wpdb->insert_id;

        $cookie = $this->login_cookie('admin', trim($password));
        $page = $this->http('GET', CrmHooks_Test_Site::url('/wp-admin/tools.php?page=crmhooks-jobs'), null, array('Cookie: ' . $cookie));
        $this->assertSame(200, $page['status']);
        $this->assertStringContainsString('crmhooks jobs', $page['body']);
        $this->assertStringNotContainsString('<script>alert(1)</script>', $page['body'], 'the reason is escaped');
        $this->assertStringContainsString('&lt;script&gt;alert(1)&lt;/script&gt;', $page['body'], 'the reason is shown');

        // Retry one failed job with the nonce of its button.
        $this->assertMatchesRegularExpression('/name="action" value="crmhooks_jobs_retry"><input type="hidden" name="job_id" value="' . $failed_id . '"><input type="hidden" id="_wpnonce" name="_wpnonce" value="([0-9a-f]+)"/', $page['body']);
        preg_match('/name="action" value="crmhooks_jobs_retry"><input type="hidden" name="job_id" value="' . $failed_id . '"><input type="hidden" id="_wpnonce" name="_wpnonce" value="([0-9a-f]+)"/', $page['body'], $retry);
        $retried = $this->http('POST', CrmHooks_Test_Site::url('/wp-admin/admin-post.php'), http_build_query(array('action' => 'crmhooks_jobs_retry', 'job_id' => $failed_id, '_wpnonce' => $retry[1])), array('Cookie: ' . $cookie, 'Content-Type: application/x-www-form-urlencoded'));
        $this->assertSame(302, $retried['status'], $retried['body']);
        $this->assertStringContainsString('crmhooks_done=retried', $retried['location']);
        $this->assertSame('queued', $this->jobs()[0]['status']);
        $wpdb->query("DELETE FROM {$wpdb->prefix}crmhooks_jobs");
        $this->assertMatchesRegularExpression('/name="action" value="crmhooks_jobs_process".*?name="_wpnonce" value="[0-9a-f]+"/s', $page['body']);

        // No nonce: refused, nothing runs.
        $forged = $this->http('POST', CrmHooks_Test_Site::url('/wp-admin/admin-post.php'), 'action=crmhooks_jobs_retry_all', array('Cookie: ' . $cookie, 'Content-Type: application/x-www-form-urlencoded'));
        $this->assertContains($forged['status'], array(403), $forged['body']);
        // Not logged in: no access.
        $anonymous = $this->http('POST', CrmHooks_Test_Site::url('/wp-admin/admin-post.php'), 'action=crmhooks_jobs_process', array('Content-Type: application/x-www-form-urlencoded'));
        $this->assertStringNotContainsString('crmhooks_done', $anonymous['location']);
        $this->assertStringNotContainsString('crmhooks_done', $anonymous['body']);

        // With the page's nonce: "process now" runs and redirects back with a count.
        preg_match('/name="action" value="crmhooks_jobs_process".*?name="_wpnonce" value="([0-9a-f]+)"/s', $page['body'], $m);
        $done = $this->http('POST', CrmHooks_Test_Site::url('/wp-admin/admin-post.php'), http_build_query(array('action' => 'crmhooks_jobs_process', '_wpnonce' => $m[1], '_wp_http_referer' => '/wp-admin/tools.php?page=crmhooks-jobs')), array('Cookie: ' . $cookie, 'Content-Type: application/x-www-form-urlencoded'));
        $this->assertSame(302, $done['status'], $done['body']);
        $this->assertStringContainsString('crmhooks_done=processed', $done['location']);
    }

    private function login_cookie(string $login, string $password): string
    {
        $response = $this->http('POST', CrmHooks_Test_Site::url('/wp-login.php'), http_build_query(array('log' => $login, 'pwd' => $password, 'wp-submit' => 'Log In', 'testcookie' => '1')), array('Content-Type: application/x-www-form-urlencoded', 'Cookie: wordpress_test_cookie=WP%20Cookie%20check'));
        $cookies = array();
        foreach ($response['set_cookies'] as $line) {
            $pair = explode(';', $line, 2)[0];
            if (strpos($pair, '=deleted') === false) {
                $cookies[] = $pair;
            }
        }
        $this->assertNotEmpty(preg_grep('/^wordpress_logged_in_/', $cookies), 'admin login failed');
        return implode('; ', $cookies);
    }

    /** Plain HTTP without following redirects. */
    private function http(string $method, string $url, ?string $body, array $headers): array
    {
        $set_cookies = array();
        $location = '';
        $ch = curl_init($url);
        curl_setopt_array($ch, array(
            CURLOPT_CUSTOMREQUEST  => $method,
            CURLOPT_RETURNTRANSFER => true,
            CURLOPT_HTTPHEADER     => $headers,
            CURLOPT_TIMEOUT        => 60,
            CURLOPT_HEADERFUNCTION => static function ($ch, string $line) use (&$set_cookies, &$location): int {
                if (stripos($line, 'Set-Cookie:') === 0) {
                    $set_cookies[] = trim(substr($line, 11));
                } elseif (stripos($line, 'Location:') === 0) {
                    $location = trim(substr($line, 9));
                }
                return strlen($line);
            },
        ));
        if ($body !== null) {
            curl_setopt($ch, CURLOPT_POSTFIELDS, $body);
        }
        $text = curl_exec($ch);
        $status = (int) curl_getinfo($ch, CURLINFO_RESPONSE_CODE);
        curl_close($ch);
        return array('status' => $status, 'body' => is_string($text) ? $text : '', 'set_cookies' => $set_cookies, 'location' => $location);
    }
}

<?php
/**
 * The queue around the library's verdicts (tested where they live, in src/queue.rs): the schema
 * upgrade, retention, the REST route and WP-Cron. The Queue screen is tested in
 * tests/phpunit/admin/QueueScreenTest.php.
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
}

<?php
/**
 * A php-fpm worker killed with SIGKILL in the middle of a job: with no other traffic, the dead
 * drainer's standby takes the job again at once (the dead drainer's lock is gone, so its leases
 * are void), and it completes; the other queued job is not lost either.
 */

declare(strict_types=1);

require_once __DIR__ . '/QueueTestCase.php';

final class LeaseTest extends CrmHooks_Queue_TestCase
{
    protected function setUp(): void
    {
        parent::setUp();
        $this->wait_for_drainers(); // The tests below stage a dead drainer's job by hand.
    }

    public function test_a_job_whose_worker_is_killed_is_taken_again_at_once(): void
    {
        $this->ac_contact('43', 'second.contact@example.com');
        // The first fetch of contact 42 takes 8 s: the worker is busy inside the CRM call.
        CrmHooks_Test_Standin::add_fault(array('crm' => 'ac', 'path_regex' => '^/api/3/contacts/42', 'kind' => 'latency', 'delay_ms' => 8000, 'count' => 1));

        $this->assertQueued($this->hook(array('wpf_action' => 'add', 'contact_id' => '42')));
        $job = $this->wait_for(function (): ?array {
            foreach ($this->jobs() as $job) {
                if ($job['status'] === 'running') {
                    return $job;
                }
            }
            return null;
        }, 15, 'the job to be claimed');
        $this->assertSame('42', json_decode($job['request_json'], true)['contact_id']);
        $this->assertSame(1, (int) $job['attempts']);

        // A second job queues behind it while the first worker still drains.
        $this->assertQueued($this->hook(array('wpf_action' => 'add', 'contact_id' => '43')));

        $pid = (int) substr((string) strrchr($job['worker'], ':'), 1);
        $this->assertGreaterThan(1, $pid);
        $cmdline = (string) @file_get_contents('/proc/' . $pid . '/cmdline');
        $this->assertStringContainsString('php-fpm: pool', $cmdline, 'the job runs in a php-fpm worker');
        $this->assertTrue(posix_kill($pid, 9), 'kill -9 the worker');
        $killed = microtime(true);

        $this->wait_until_idle(10); // Nothing drains here: the lease (60 s) has not ended either.
        $this->assertLessThan(10, microtime(true) - $killed);

        $jobs = $this->jobs();
        $this->assertCount(2, $jobs);
        $this->assertSame(array('done', 'done'), array_column($jobs, 'status'));
        $this->assertSame('created', $jobs[0]['outcome']);
        $this->assertSame(2, (int) $jobs[0]['attempts'], 'taken again by the standby');
        $this->assertSame('created', $jobs[1]['outcome']);
        $this->assertCount(1, $this->users_for('jane.doe@example.com', '42'));
        $this->assertCount(1, $this->users_for('second.contact@example.com', '43'));
    }

    public function test_a_job_that_keeps_killing_its_worker_ends_failed_and_visible(): void
    {
        CrmHooks_Test_Site::set_settings(array('max_attempts' => 2));
        global $wpdb;
        $table = $wpdb->prefix . 'crmhooks_jobs';
        $queued = $this->enqueue(array('action' => 'update', 'contact_id' => '42', 'event' => array()));
        // As left by a worker that died on its second attempt: running, lease over.
        $wpdb->query($wpdb->prepare("UPDATE {$table} SET status = 'running', queued_key = NULL, attempts = 2, lease_until = %d WHERE id = %d", time() - 1, $queued['id']));

        $this->assertNull(CrmHooks_Jobs::claim('test:1'));
        $failed = $this->failed_jobs();
        $this->assertCount(1, $failed);
        $this->assertSame('worker_died', $failed[0]['outcome']);

        $this->assertTrue(CrmHooks_Jobs::retry_failed($queued['id']), 'retryable by hand');
        $this->assertSame('queued', $this->jobs()[0]['status']);
        $this->assertSame(0, (int) $this->jobs()[0]['attempts']);
    }

    public function test_the_next_queue_run_takes_a_dead_drainers_job_without_waiting_for_its_lease(): void
    {
        global $wpdb;
        $this->ac_contact('42', 'jane.doe@example.com');
        $queued = $this->enqueue(array('action' => 'add', 'contact_id' => '42', 'event' => array()));
        // As left by a drainer killed a moment ago: running, its lease ten minutes from over.
        $wpdb->query($wpdb->prepare("UPDATE {$wpdb->prefix}crmhooks_jobs SET status = 'running', queued_key = NULL, attempts = 1, lease_until = %d WHERE id = %d", time() + 600, $queued['id']));
        $this->assertNull(CrmHooks_Jobs::claim('test:1'), 'a live lease keeps the job from claim() alone');

        $summary = CrmHooks_Worker::run('test', 10);

        $this->assertSame(1, $summary['processed'], 'the run holding the drain lock knows no other drainer is alive');
        $job = $this->jobs()[0];
        $this->assertSame(array('done', 'created', 2), array($job['status'], $job['outcome'], (int) $job['attempts']));
        $this->assertCount(1, $this->users_for('jane.doe@example.com', '42'));
    }
}

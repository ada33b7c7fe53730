<?php
/**
 * A site with a small PHP-FPM pool switches off drain_in_web_requests: webhooks are still
 * answered and queued, no web request works through the queue (no drain after the answer, no
 * successor request), and a cron run from the command line (as `php wp-cron.php` from the system
 * cron) processes it.
 */

declare(strict_types=1);

require_once __DIR__ . '/QueueTestCase.php';

final class CronOnlyTest extends CrmHooks_Queue_TestCase
{
    protected function tearDown(): void
    {
        wp_clear_scheduled_hook(CrmHooks_Worker::CRON_HOOK);
        CrmHooks_Worker::ensure_scheduled();
        parent::tearDown();
    }

    public function test_with_web_draining_off_only_a_cron_run_processes_the_queue(): void
    {
        // WP-Cron's own event an hour away: only the command-line run below may drain.
        wp_clear_scheduled_hook(CrmHooks_Worker::CRON_HOOK);
        wp_schedule_event(time() + HOUR_IN_SECONDS, CrmHooks_Worker::CRON_SCHEDULE, CrmHooks_Worker::CRON_HOOK);
        CrmHooks_Test_Site::set_settings(array('drain_in_web_requests' => false, 'settle_secs' => 0));

        $this->assertQueued($this->hook(array('wpf_action' => 'add', 'contact_id' => '42')));
        $this->assertQueued($this->hook(array('wpf_action' => 'add', 'contact_id' => '43')));
        sleep(3);
        $this->assertSame(array('queued', 'queued'), array_column($this->jobs(), 'status'), 'no web request worked through the queue');
        $this->assertSame(array(), $this->crm_requests('GET', '/api/3/contacts/42'), 'the CRM was not asked');

        $cron = CrmHooks_Test_Site::run_in_site(CrmHooks_Test_Site::wp_dir(), CrmHooks_Test_Site::url('/'), <<<'PHP'
            CrmHooks_Worker::cron();
            return PHP_SAPI;
            PHP);
        $this->assertSame('cli', $cron);
        $this->assertSame(array('done', 'done'), array_column($this->jobs(), 'status'));
        $this->assertSame(array('created', 'created'), array_column($this->jobs(), 'outcome'));
        $this->assertCount(1, $this->users_for('jane.doe@example.com', '42'));
    }

    public function test_by_default_the_request_that_queued_a_job_processes_it(): void
    {
        $this->assertQueued($this->hook(array('wpf_action' => 'add', 'contact_id' => '42')));
        $this->wait_until_idle(15);
        $this->assertSame('created', $this->jobs()[0]['outcome'], 'control: drained without any cron run');
    }
}

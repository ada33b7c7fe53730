<?php
/**
 * A PHP fatal error (memory exhausted) in the middle of a job in php-fpm: that job stays
 * running until its lease ends and is then run again; the other queued job is not lost.
 */

declare(strict_types=1);

require_once __DIR__ . '/QueueTestCase.php';

final class FatalJobTest extends CrmHooks_Queue_TestCase
{
    private string $mu_plugin = '';
    private string $marker = '';

    protected function tearDown(): void
    {
        if ($this->mu_plugin !== '' && is_file($this->mu_plugin)) {
            unlink($this->mu_plugin);
        }
        if ($this->marker !== '' && is_file($this->marker)) {
            unlink($this->marker);
        }
        parent::tearDown();
    }

    public function test_a_fatal_error_in_one_job_loses_no_job(): void
    {
        CrmHooks_Test_Site::set_settings(array('lease_secs' => 2));
        $this->ac_contact('501', 'fatal.job@example.com');
        $this->ac_contact('502', 'other.job@example.com');
        $this->install_fatal_plugin('fatal.job@example.com');

        $this->assertQueued($this->hook(array('wpf_action' => 'add', 'contact_id' => '501')));
        $this->assertQueued($this->hook(array('wpf_action' => 'add', 'contact_id' => '502')));
        $this->wait_for(fn(): ?bool => is_file($this->marker) ? true : null, 15, 'the fatal error in the php-fpm drainer');
        usleep(500000);
        $fatal_job = $this->jobs()[0];
        $this->assertSame('running', $fatal_job['status'], 'the job of the dead request stays running');
        $this->assertSame(1, (int) $fatal_job['attempts']);

        unlink($this->mu_plugin); // The next attempt runs normally.
        $this->wait_until_idle(30, true);

        $jobs = $this->jobs();
        $this->assertSame(array('done', 'done'), array_column($jobs, 'status'));
        $this->assertSame(2, (int) $jobs[0]['attempts'], 'taken again after the lease');
        $this->assertCount(1, $this->users_for('fatal.job@example.com', '501'));
        $this->assertCount(1, $this->users_for('other.job@example.com', '502'));
    }

    /** A must-use plugin in the site that runs out of memory while importing $email. */
    private function install_fatal_plugin(string $email): void
    {
        $dir = CrmHooks_Test_Site::wp_dir() . '/wp-content/mu-plugins';
        if (! is_dir($dir)) {
            mkdir($dir, 0755, true);
        }
        $this->marker = sys_get_temp_dir() . '/crmhooks-fatal-' . getmypid() . '.marker';
        $this->mu_plugin = $dir . '/crmhooks-test-fatal-' . getmypid() . '.php';
        file_put_contents($this->mu_plugin, '<?php
// Written and removed by tests/phpunit/queue/FatalJobTest.php.
add_action("crmhooks_user_imported", static function ($user_id) {
    $user = get_userdata($user_id);
    if ($user && $user->user_email === ' . var_export($email, true) . ') {
        file_put_contents(' . var_export($this->marker, true) . ', "fatal");
        ini_set("memory_limit", "64M");
        $waste = str_repeat("x", 512 * 1024 * 1024);
    }
});
');
        chmod($this->mu_plugin, 0644);
    }
}

<?php
/**
 * A drainer that dies in the middle of a job in php-fpm, by a PHP fatal error (memory exhausted)
 * or killed outright (SIGKILL, as php-fpm's terminate timeout or the OOM killer do): with no other
 * traffic at all (no webhook, no page view, no cron), its standby request takes the job back
 * within 10 s of the death (the lease is far longer), and the other queued job is not lost.
 */

declare(strict_types=1);

require_once __DIR__ . '/QueueTestCase.php';

final class FatalJobTest extends CrmHooks_Queue_TestCase
{
    private string $marker = '';

    public function test_a_fatal_error_in_one_job_loses_no_job(): void
    {
        $this->assert_death_loses_no_job('ini_set("memory_limit", "64M"); $waste = str_repeat("x", 512 * 1024 * 1024);', '501');
    }

    public function test_a_killed_worker_loses_no_job(): void
    {
        $this->assert_death_loses_no_job('posix_kill(getmypid(), 9); sleep(5);', '511');
    }

    private function assert_death_loses_no_job(string $death, string $first_id): void
    {
        $second_id = (string) ((int) $first_id + 1);
        CrmHooks_Test_Site::set_settings(array('lease_secs' => 600)); // The lease cannot be what ends it.
        $this->ac_contact($first_id, "dies.$first_id@example.com");
        $this->ac_contact($second_id, "other.$second_id@example.com");
        $this->install_dying_plugin("dies.$first_id@example.com", $death);

        $this->assertQueued($this->hook(array('wpf_action' => 'add', 'contact_id' => $first_id)));
        $this->assertQueued($this->hook(array('wpf_action' => 'add', 'contact_id' => $second_id)));
        $this->wait_for(fn(): ?bool => is_file($this->marker) ? true : null, 15, 'the death of the php-fpm drainer');
        $died = microtime(true);

        // No request of ours from here on: only the site's own standby can take the job back.
        $this->wait_for(fn(): ?bool => array_column($this->jobs(), 'status') === array('done', 'done') ? true : null, 10, 'both jobs done within 10 s of the death: ' . json_encode($this->jobs()));
        $after = microtime(true) - $died;
        fwrite(STDERR, sprintf("\n  [dead drainer] job taken back and done %.2f s after the death\n", $after));

        $jobs = $this->jobs();
        $this->assertSame(2, (int) $jobs[0]['attempts'], 'the dead attempt, then the standby\'s');
        $this->assertSame(1, (int) $jobs[1]['attempts']);
        $this->assertCount(1, $this->users_for("dies.$first_id@example.com", $first_id));
        $this->assertCount(1, $this->users_for("other.$second_id@example.com", $second_id));
    }

    /** A must-use plugin in the site that dies (once) right after creating the user for $email. */
    private function install_dying_plugin(string $email, string $death): void
    {
        $this->marker = $this->scratch_file('dies-marker');
        $this->install_mu_plugin('dies', '
add_action("crmhooks_user_created", static function ($user_id) {
    $user = get_userdata($user_id);
    if ($user && $user->user_email === ' . var_export($email, true) . ' && ! is_file(' . var_export($this->marker, true) . ')) {
        file_put_contents(' . var_export($this->marker, true) . ', "died");
        ' . $death . '
    }
});
');
    }
}

<?php
/**
 * Async webhooks answered by the must-use loader: a burst of them while no drainer runs loads
 * the rest of the site in one request only (the one that took the drain lock right after its
 * answer; on a heavy site every extra load costs the site's plugins), and that request drains
 * every job of the burst with no other traffic.
 *
 * The drainer's standby request (which takes over if the drainer dies, FatalJobTest) finds the
 * drain ended and stops before loading the site. Requests of our own refuse a wrong token.
 *
 * A probe must-use plugin writes one line for each standby request that arrived, and for each
 * webhook or standby request that reached plugins_loaded.
 */

declare(strict_types=1);

require_once __DIR__ . '/QueueTestCase.php';

final class EarlyDrainTest extends CrmHooks_Queue_TestCase
{
    private string $loads = '';

    protected function setUp(): void
    {
        parent::setUp();
        if (! CrmHooks_Early::installed()) {
            $this->assertTrue(CrmHooks_Early::install(), 'the loader is written into mu-plugins');
        }
        $this->loads = $this->scratch_file('early-loads');
        $this->install_mu_plugin('load-probe', '
add_action("muplugins_loaded", static function () {
    if (isset($_GET["crmhooks_standby"])) {
        file_put_contents(' . var_export($this->loads, true) . ', "standby arrived\n", FILE_APPEND);
    }
}, 0);
add_action("plugins_loaded", static function () {
    if (isset($_GET["wpf_action"]) || isset($_GET["crmhooks_standby"])) {
        file_put_contents(' . var_export($this->loads, true) . ', (isset($_GET["wpf_action"]) ? "webhook" : "standby") . "\n", FILE_APPEND);
    }
});
');
    }

    public function test_a_burst_loads_the_site_once_and_that_request_drains_it(): void
    {
        $urls = array();
        for ($i = 0; $i < 8; $i++) {
            $contact_id = (string) (801 + $i);
            $this->ac_contact($contact_id, "early.drain.$i@example.com");
            $urls[] = $this->webhook_url(array('wpf_action' => 'add', 'contact_id' => $contact_id));
        }
        foreach ($this->parallel_get($urls) as $answer) {
            $this->assertSame(200, $answer['status'], 'body: ' . $answer['body']);
        }
        $this->wait_until_idle(30); // Nothing drains here: no cron, no other request.

        $this->assertSame(array_fill(0, 8, 'done'), array_column($this->jobs(), 'status'));
        for ($i = 0; $i < 8; $i++) {
            $this->assertCount(1, $this->users_for("early.drain.$i@example.com", (string) (801 + $i)));
        }
        $this->wait_for(fn(): ?bool => str_contains((string) @file_get_contents($this->loads), 'standby arrived') ? true : null, 5, 'the drainer\'s standby request');
        usleep(300000);
        $loads = array_values(array_diff(array_filter(explode("\n", (string) @file_get_contents($this->loads))), array('standby arrived')));
        $this->assertSame(array('webhook'), array_values($loads), 'one webhook request of the burst loaded the regular plugins (to drain); its standby found the drain ended and did not');
    }

    public function test_a_standby_that_outwaits_a_live_drainer_hands_over_to_a_fresh_one(): void
    {
        CrmHooks_Test_Site::set_settings(array('drain_budget_secs' => 1)); // A standby waits 11 s.
        $this->wait_for_drainers();
        $this->assertSame('1', CrmHooks_Jobs::lock(CrmHooks_Worker::lock_name()), 'a drainer that runs long (this test holds its lock)');
        try {
            $standby = CrmHooks_Test_Site::request('POST', CrmHooks_Test_Site::url('/') . '?crmhooks_standby=1', 'crmhooks_token=' . CrmHooks_Worker::own_request_token(), array('Content-Type: application/x-www-form-urlencoded'));
            $this->assertSame(202, $standby['status']);
            $arrivals = fn(): int => substr_count((string) @file_get_contents($this->loads), 'standby arrived');
            $this->wait_for(fn(): ?bool => $arrivals() >= 2 ? true : null, 20, 'a fresh standby when the first one\'s wait ends');
        } finally {
            CrmHooks_Jobs::unlock(CrmHooks_Worker::lock_name());
        }
        $this->wait_for_drainers(); // The fresh one takes the lock, finds nothing due and ends.
        usleep(300000);
        $this->assertSame(2, substr_count((string) @file_get_contents($this->loads), 'standby arrived'), 'no further standby once the drainer ended');
        $this->assertStringNotContainsString("standby\n", (string) @file_get_contents($this->loads), 'neither loaded the site');
    }

    public function test_drain_requests_of_our_own_refuse_a_wrong_token(): void
    {
        foreach (array('crmhooks_standby', 'crmhooks_drain') as $param) {
            // The token rides in the body (query strings end up in access logs): one in the URL counts for nothing.
            $in_url = CrmHooks_Test_Site::request('GET', CrmHooks_Test_Site::url('/') . '?' . $param . '=' . CrmHooks_Worker::own_request_token());
            $this->assertSame(403, $in_url['status'], "$param with the token in the URL");
            foreach (array('', 'x', str_repeat('0', 32), CrmHooks_Worker::own_request_token() . 'x') as $token) {
                $started = microtime(true);
                $response = CrmHooks_Test_Site::request('POST', CrmHooks_Test_Site::url('/') . '?' . $param . '=1', 'crmhooks_token=' . rawurlencode($token), array('Content-Type: application/x-www-form-urlencoded'));
                $this->assertSame(403, $response['status'], "$param, token '$token'");
                $this->assertLessThan(5, microtime(true) - $started, 'refused at once, without waiting for the lock');
            }
        }
        // The right token: a standby with no drainer to watch answers, finds nothing due and ends.
        $standby = CrmHooks_Test_Site::request('POST', CrmHooks_Test_Site::url('/') . '?crmhooks_standby=1', 'crmhooks_token=' . CrmHooks_Worker::own_request_token(), array('Content-Type: application/x-www-form-urlencoded'));
        $this->assertSame(202, $standby['status']);
    }
}

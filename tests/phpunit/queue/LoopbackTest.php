<?php
/**
 * The seed's loopback story: tags applied from WordPress (crmhooks_apply_tags) reach the CRM a
 * moment later, and the CRM's webhook about our own write arrives first. The job waits for the
 * loopback window, then reads the CRM fresh, so the tags survive; nothing is dropped.
 */

declare(strict_types=1);

require_once __DIR__ . '/QueueTestCase.php';

final class LoopbackTest extends CrmHooks_Queue_TestCase
{
    public function test_an_echo_webhook_inside_the_window_does_not_erase_fresh_tags(): void
    {
        CrmHooks_Test_Site::set_settings(array('crm' => 'ontraport', 'loopback_window_secs' => 3));
        // Ontraport applies writes in the background: a read right after a write still misses it.
        CrmHooks_Test_Standin::config(array('op_background_delay_ms' => 1500));
        CrmHooks_Test_Standin::put_contact('op', '27', array('email' => 'jane.doe@example.com', 'first_name' => 'Jane', 'last_name' => 'Doe', 'tags' => array('Member'), 'fields' => new stdClass()));

        // 1. The contact exists in the CRM and is imported.
        $this->assertQueued($this->hook(array('wpf_action' => 'add', 'contact_id' => '27')));
        $this->wait_until_idle(20, true);
        $users = $this->users_for('jane.doe@example.com', '27');
        $this->assertCount(1, $users);
        $user_id = $users[0];
        $this->assertSame(array('Member'), $this->tag_names($user_id));

        // 2. WordPress applies a tag (enrolment) through the public function.
        $this->assertTrue(crmhooks_apply_tags($user_id, array('Course A')));
        $written_at = time();

        // 3. The CRM's webhook about that edit arrives at once, before the CRM shows the tag.
        $deliveries = CrmHooks_Test_Standin::send_webhook(array('url' => $this->webhook_url(array('wpf_action' => 'update_tags')), 'kind' => 'op_ping', 'contact_id' => '27', 'body' => 'blank'));
        $this->assertSame(200, $deliveries['deliveries'][0]['status'], json_encode($deliveries));
        $job = $this->jobs()[1];
        $this->assertSame('queued', $job['status']);
        $this->assertGreaterThanOrEqual($written_at + 3, (int) $job['run_after'], 'deferred to the end of the loopback window');

        $this->wait_until_idle(20, true);
        $this->assertSame('done', $this->jobs()[1]['status'], 'deferred, not dropped');
        $tags = $this->tag_names($user_id);
        sort($tags);
        $this->assertSame(array('Course A', 'Member'), $tags, 'the echo did not erase the tag applied from WordPress');
    }

    public function test_an_activecampaign_api_echo_is_logged_as_echo_and_deferred(): void
    {
        CrmHooks_Test_Site::set_settings(array('loopback_window_secs' => 2));
        $this->assertQueued($this->hook(array('wpf_action' => 'add', 'contact_id' => '42')));
        $this->wait_until_idle(20, true);
        $user_id = $this->users_for('jane.doe@example.com', '42')[0];

        $this->assertTrue(crmhooks_apply_tags($user_id, array('Gold Course')));
        $log_start = $this->last_log_id();
        $deliveries = CrmHooks_Test_Standin::send_webhook(array('url' => $this->webhook_url(array('wpf_action' => 'update_tags')), 'kind' => 'ac_account', 'type' => 'contact_tag_added', 'contact_id' => '42', 'tag' => 'Gold Course', 'initiated_from' => 'api'));
        $this->assertSame(200, $deliveries['deliveries'][0]['status'], json_encode($deliveries));

        $received = array_values(array_filter($this->log_rows($log_start), static fn(array $r): bool => $r['outcome'] === 'received'));
        $this->assertCount(1, $received);
        $this->assertStringContainsString('echo', $received[0]['message']);

        $this->wait_until_idle(20, true);
        $this->assertSame('done', $this->jobs()[1]['status']);
        $this->assertContains('Gold Course', $this->tag_names($user_id));
    }

}

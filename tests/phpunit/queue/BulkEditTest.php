<?php
/**
 * A CRM bulk edit: the stand-in fires ActiveCampaign account webhooks (`update`, each delivered
 * twice, as "at least once" allows) for many contacts at once, as fast as the CRM would. Every
 * delivery is acknowledged at once, every user ends in the CRM's state, and each contact costs
 * one CRM fetch.
 */

declare(strict_types=1);

require_once __DIR__ . '/QueueTestCase.php';

final class BulkEditTest extends CrmHooks_Queue_TestCase
{
    public function test_a_bulk_edit_updates_every_user_with_one_fetch_per_contact(): void
    {
        $ids = array('61', '62', '63', '64', '65', '66');
        foreach ($ids as $id) {
            $this->ac_contact($id, "bulk{$id}@example.com", array('member'), 'Before');
            $this->assertQueued($this->hook(array('wpf_action' => 'add', 'contact_id' => $id)));
        }
        $this->wait_until_idle(30);
        foreach ($ids as $id) {
            $this->assertCount(1, $this->users_for("bulk{$id}@example.com", $id), "user for contact {$id}");
        }

        // The bulk edit: new first name and a new tag on every contact, then one webhook each (twice).
        foreach ($ids as $id) {
            $this->ac_contact($id, "bulk{$id}@example.com", array('member', 'bulk-edited'), 'After');
        }
        CrmHooks_Test_Standin::clear_log();
        $result = CrmHooks_Test_Standin::bulk_edit(array(
            'url'         => $this->webhook_url(array('wpf_action' => 'update')),
            'kind'        => 'ac_account',
            'type'        => 'update',
            'contact_ids' => $ids,
            'times'       => 2,
            'concurrency' => 8,
        ));
        $this->assertCount(count($ids) * 2, $result['deliveries']);
        foreach ($result['deliveries'] as $delivery) {
            $this->assertSame(200, $delivery['status'], (string) ($delivery['body'] ?? ''));
            $this->assertSame(array('success' => true, 'status' => 'queued'), json_decode((string) $delivery['body'], true));
        }
        $this->wait_until_idle(40);

        foreach ($ids as $id) {
            $users = $this->users_for("bulk{$id}@example.com", $id);
            $this->assertCount(1, $users, "still one user for contact {$id}");
            $this->assertSame('After', get_user_meta($users[0], 'first_name', true), "contact {$id} has the CRM's new name");
            $this->assertContains('bulk-edited', $this->tag_names($users[0]), "contact {$id} has the new tag");
            $this->assertLessThanOrEqual(2, count($this->crm_requests('GET', "/api/3/contacts/{$id}")), "contact {$id}: its deliveries coalesce");
        }
        $stats = CrmHooks_Test_Standin::stats();
        $this->assertSame(0, (int) $stats['rate_limited']['ac'], 'the drainer never exceeded the rate limit');
    }
}

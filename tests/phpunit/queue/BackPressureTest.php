<?php
/**
 * A flood larger than queue_max: the excess gets 503 with Retry-After and nothing is stored for
 * it; every acknowledged webhook is processed.
 */

declare(strict_types=1);

require_once __DIR__ . '/QueueTestCase.php';

final class BackPressureTest extends CrmHooks_Queue_TestCase
{
    public function test_a_flood_beyond_queue_max_gets_503_and_every_accepted_job_is_processed(): void
    {
        // The settle delay keeps the first jobs queued while the flood arrives.
        CrmHooks_Test_Site::set_settings(array('queue_max' => 5, 'settle_secs' => 3));
        $ids = range(301, 312);
        foreach ($ids as $id) {
            $this->ac_contact((string) $id, "flood$id@example.com");
        }

        $accepted = array();
        $refused = array();
        foreach ($ids as $id) {
            $response = $this->hook(array('wpf_action' => 'add', 'contact_id' => (string) $id));
            if ($response['status'] === 200) {
                $this->assertSame(array('success' => true, 'status' => 'queued'), $response['json']);
                $accepted[] = $id;
            } else {
                $this->assertSame(503, $response['status'], $response['body']);
                $this->assertSame('queue_full', $response['json']['error']);
                $this->assertGreaterThan(0, (int) ($response['headers']['retry-after'] ?? 0), 'Retry-After on 503');
                $refused[] = $id;
            }
        }
        $this->assertCount(5, $accepted);
        $this->assertCount(7, $refused);
        $this->assertCount(5, $this->jobs(), 'nothing stored for a refused webhook');

        $this->wait_until_idle(30, true);
        foreach ($accepted as $id) {
            $this->assertCount(1, $this->users_for("flood$id@example.com", (string) $id), "accepted contact $id processed");
        }
        foreach ($refused as $id) {
            $this->assertCount(0, $this->users_for("flood$id@example.com", (string) $id));
        }
        $this->assertSame(array('done'), array_values(array_unique(array_column($this->jobs(), 'status'))));

        // Once drained, the queue accepts again.
        $this->assertQueued($this->hook(array('wpf_action' => 'add', 'contact_id' => (string) $refused[0])));
    }
}

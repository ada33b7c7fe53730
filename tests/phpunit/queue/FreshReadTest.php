<?php
/**
 * A drainer plans every job from the database as it is now, not from user rows it cached for an
 * earlier job of the same run: another request may have changed the user in between.
 */

declare(strict_types=1);

require_once __DIR__ . '/QueueTestCase.php';

final class FreshReadTest extends CrmHooks_Queue_TestCase
{
    public function test_a_later_job_of_the_same_run_sees_what_another_request_wrote(): void
    {
        global $wpdb;
        CrmHooks_Test_Site::set_settings(array('settle_secs' => 0, 'loopback_window_secs' => 0));
        $this->ac_contact('42', 'jane.doe@example.com', array(), 'Jane');
        $this->enqueue(array('action' => 'add', 'contact_id' => '42'));
        $this->wait_until_idle(15, true);
        $user_id = $this->users_for('jane.doe@example.com', '42')[0];
        $set_first_name = static function (string $name) use ($wpdb, $user_id): void {
            // As another PHP process writes it: straight to the table, past this process's cache.
            $wpdb->query($wpdb->prepare("UPDATE {$wpdb->usermeta} SET meta_value = %s WHERE user_id = %d AND meta_key = 'first_name'", $name, $user_id));
        };
        $set_first_name('Old');
        clean_user_cache($user_id);

        // Job A brings back "Jane"; right after it, another request writes "Stale" and a
        // second webhook for the contact queues job B, which the same run takes next.
        $second = null;
        $listener = function () use ($set_first_name, &$second): void {
            if ($second === null) {
                $set_first_name('Stale');
                $second = $this->enqueue(array('action' => 'update', 'contact_id' => '42'));
            }
        };
        add_action('crmhooks_user_updated', $listener);
        try {
            $this->enqueue(array('action' => 'update', 'contact_id' => '42'));
            $summary = CrmHooks_Worker::run('test', 10);
        } finally {
            remove_action('crmhooks_user_updated', $listener);
        }

        $this->assertNotNull($second, 'job A updated the user');
        $this->assertSame(2, $summary['processed'], 'both jobs in one run');
        $this->assertSame('updated', $wpdb->get_var($wpdb->prepare("SELECT outcome FROM {$wpdb->prefix}crmhooks_jobs WHERE id = %d", $second['id'])), 'job B saw "Stale", not the "Jane" job A left in the cache');
        $this->assertSame('Jane', $wpdb->get_var($wpdb->prepare("SELECT meta_value FROM {$wpdb->usermeta} WHERE user_id = %d AND meta_key = 'first_name'", $user_id)));
    }
}

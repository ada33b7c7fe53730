<?php
/**
 * The reconcile sweep over the real site and the CRM stand-in: webhooks lost while the site was
 * down cost nothing, an interrupted pass resumes without skipping or repeating a page, and a
 * sweep never creates a user.
 */

declare(strict_types=1);

require_once __DIR__ . '/ReconcileTestCase.php';

final class SweepTest extends CrmHooks_Reconcile_TestCase
{
    public function test_changes_made_while_the_site_was_down_arrive_with_one_sweep(): void
    {
        $users = $this->linked_contacts(3001, 20);
        $this->change_while_site_is_down(array_keys($users));
        CrmHooks_Test_Standin::clear_log();

        $this->assertSame('not_due', CrmHooks_Reconcile::tick()['sweep'], 'control: no pass is due without force');
        $this->assertSame(array(), $this->sweep_jobs());
        CrmHooks_Reconcile::tick(true);
        $this->assertCount(20, $this->sweep_jobs());
        $this->wait_until_idle(90, true);

        foreach ($users as $contact_id => $user_id) {
            clean_user_cache($user_id);
            $this->assertSame('New' . $contact_id, get_userdata($user_id)->first_name, "user of contact $contact_id matches the CRM");
        }
        $fetches = CrmHooks_Test_Standin::log_count(array('crm' => 'ac', 'method' => 'GET', 'path_regex' => '^/api/3/contacts/\d+$'));
        $lists = CrmHooks_Test_Standin::log_count(array('crm' => 'ac', 'method' => 'GET', 'path_regex' => '^/api/3/contacts\?'));
        $this->assertLessThanOrEqual(20, $fetches, 'one contact fetch per changed user at most');
        $this->assertGreaterThanOrEqual(1, $lists);
        $this->assertSame(0, CrmHooks_Test_Standin::log_count(array('status' => '429')));
        $last = CrmHooks_Reconcile::last_sweep();
        // Seen also counts the stand-in's seed contacts (stamped changed at its reset), none linked.
        $this->assertSame(array(true, 20, 0), array($last['seen'] >= 20, $last['queued'], $last['errors']));
    }

    public function test_a_contact_a_job_fetched_well_after_its_change_gets_no_sweep_job(): void
    {
        // The CRM's clock runs five minutes behind the site's: a change is stamped that long
        // before the job that fetches it is claimed, more than the sweep's overlap.
        CrmHooks_Test_Standin::config(array('clock_offset_secs' => -300));
        try {
            $users = $this->linked_contacts(3401, 2);
            $this->change_while_site_is_down(array_keys($users));
            // The site is back and contact 3401's next webhook arrives: its job fetches the change.
            $this->assertQueued($this->hook(array('wpf_action' => 'update', 'contact_id' => '3401')));
            $this->wait_until_idle(30, true);
            clean_user_cache($users[3401]);
            $this->assertSame('New3401', get_userdata($users[3401])->first_name);

            // A pass over a window holding both changes queues only the contact nothing fetched.
            $this->store(CrmHooks_Reconcile::SWEEP_OPTION, array('mark' => time() - 1000));
            CrmHooks_Reconcile::tick(true);
            $this->assertSame(array('id:3402' => 1), $this->sweep_jobs());
            $this->assertSame(1, CrmHooks_Reconcile::last_sweep()['queued']);
        } finally {
            CrmHooks_Test_Standin::config(array('clock_offset_secs' => 0));
        }
    }

    public function test_a_pass_interrupted_by_a_full_queue_resumes_without_skipping_or_repeating(): void
    {
        $users = $this->linked_contacts(3101, 10);
        $this->change_while_site_is_down(array_keys($users));
        // The queue is full (one waiting job, room for one): the page cannot be queued.
        CrmHooks_Test_Site::set_settings(array('queue_max' => 1));
        $this->enqueue(array('action' => 'update', 'contact_id' => '999999'));
        global $wpdb;
        $wpdb->query("UPDATE {$wpdb->prefix}crmhooks_jobs SET run_after = " . (time() + 3600));

        $this->assertSame('failed', CrmHooks_Reconcile::tick(true)['sweep']);
        $state = $this->stored(CrmHooks_Reconcile::SWEEP_OPTION);
        $this->assertSame(array(), $this->sweep_jobs(), 'nothing of the page was queued');
        $this->assertSame(array(1, 'queue full', null, 0), array($state['pass']['errors'], $state['pass']['last_error'], $state['pass']['cursor'], $state['pass']['queued']));
        $this->assertNull(CrmHooks_Reconcile::last_sweep(), 'the pass did not complete');

        // Room again; the back-off (a minute at least, the library's) is skipped by the test.
        $this->clear_queue();
        CrmHooks_Test_Site::set_settings(array('queue_max' => 1000));
        $state['next_slot_ms'] = 0;
        $this->store(CrmHooks_Reconcile::SWEEP_OPTION, $state);
        $this->assertSame('not_due', CrmHooks_Reconcile::tick()['sweep'], 'the pass resumed and completed');
        $queued = $this->sweep_jobs();
        $this->assertSame(array_fill_keys(array_map(static fn($id): string => 'id:' . $id, array_keys($users)), 1), $queued, 'each contact queued exactly once');
        $last = CrmHooks_Reconcile::last_sweep();
        $this->assertSame(array(true, 10, 1), array($last['seen'] >= 10, $last['queued'], $last['errors']));

        // A new pass over the same window queues nothing twice: the jobs are still queued.
        CrmHooks_Reconcile::tick(true);
        $this->assertSame($queued, $this->sweep_jobs());
    }

    public function test_a_sweep_never_creates_users(): void
    {
        $ids = CrmHooks_Test_Standin::create_contacts('ac', array('count' => 5, 'first_id' => 3201, 'email' => 'nouser{id}@example.com'));
        $this->change_while_site_is_down($ids);
        CrmHooks_Reconcile::tick(true);
        $this->wait_until_idle(30, true);
        foreach ($ids as $id) {
            $this->assertSame(array(), $this->users_for('nouser' . $id . '@example.com', (string) $id), "no user for contact $id");
        }
        $this->assertSame(array(), $this->sweep_jobs());
        $last = CrmHooks_Reconcile::last_sweep();
        $this->assertSame(array(true, 0, $last['seen']), array($last['seen'] >= 5, $last['queued'], $last['skipped']));
    }

    public function test_the_last_sweep_shows_on_the_queue_screen_and_in_site_health(): void
    {
        require_once CRMHOOKS_INCLUDES . 'admin/class-crmhooks-import-admin.php';
        $before = CrmHooks_Import_Admin::site_health_test();
        $this->assertSame('recommended', $before['status'], 'control: no pass has completed yet');

        $users = $this->linked_contacts(3301, 2);
        $this->change_while_site_is_down(array_keys($users));
        CrmHooks_Reconcile::tick(true);
        $last = CrmHooks_Reconcile::last_sweep();
        $after = CrmHooks_Import_Admin::site_health_test();
        $this->assertSame('good', $after['status']);
        $words = sprintf('%d contacts seen, 2 jobs queued, 0 errors', $last['seen']);
        $this->assertStringContainsString($words, $after['description']);
        ob_start();
        CrmHooks_Import_Admin::render_sweep_box();
        $this->assertStringContainsString($words, (string) ob_get_clean());
    }
}

<?php
/**
 * The settings, Queue and Activity screens in a real headless Chromium (tests/browser/admin_screens.py,
 * Selenium): the site is given real webhooks, jobs in every state and two days of history, then
 * the script logs in, completes the setup (switch CRM, test connection, copy a URL), uses the screens and saves a screenshot of each into the stack's
 * screenshots/ folder (printed on stderr), and this test asserts what the browser saw.
 */

declare(strict_types=1);

require_once __DIR__ . '/AdminScreensTestCase.php';

final class BrowserTest extends CrmHooks_Admin_Screens_TestCase
{
    private const PYTHON = '/usr/bin/python3'; // Debian's, which has python3-selenium.

    protected function tearDown(): void
    {
        delete_option(CrmHooks_Admin::TESTED_OPTION);
        delete_transient('crmhooks_crm_fields');
        parent::tearDown();
    }

    public function test_an_administrator_sets_up_and_uses_the_screens_in_a_browser(): void
    {
        $this->assertTrue(is_executable('/usr/bin/chromium') && is_executable('/usr/bin/chromedriver'), 'chromium and chromium-driver are missing: run scripts/stack.sh install');
        exec(self::PYTHON . ' -c "import selenium" 2>&1', $unused, $rc);
        $this->assertSame(0, $rc, 'python3-selenium is missing: run scripts/stack.sh install');

        delete_option(CrmHooks_Admin::TESTED_OPTION); // a new site: never tested
        $entry = $this->seed_site();
        $out = dirname(CrmHooks_Test_Site::wp_dir()) . '/screenshots';
        $command = implode(' ', array_map('escapeshellarg', array(
            self::PYTHON, dirname(__DIR__, 2) . '/browser/admin_screens.py',
            CrmHooks_Test_Site::url('/'), 'screens.admin_example.com', self::PASSWORD, $out, (string) $entry,
            (string) $this->user('jane.doe@example.com')->ID, $this->webhook_url(array('wpf_action' => 'add', 'contact_id' => '45')),
        )));
        $output = (string) shell_exec($command . ' 2>&1');
        fwrite(STDERR, "\nbrowser screenshots: $out\n");
        $result = json_decode(trim((string) strrchr("\n" . trim($output), "\n")), true);
        $this->assertIsArray($result, 'the browser script printed no result: ' . $output);
        $this->assertSame('', $result['error'], 'the browser stopped: ' . $output);
        $checks = $result['checks'];

        // Settings: sections, only the chosen CRM's fields (the select switches them), Test
        // connection in words, the notice gone after it, the field map from the CRM, Copy.
        $this->assertSame(array('Connection', 'Users and roles', 'Fields', 'Queue', 'Advanced'), $checks['settings_sections']);
        $this->assertStringContainsString('crmhooks is not connected yet.', $checks['untested_notice_before']);
        $this->assertTrue($checks['ac_token_shown']);
        $this->assertFalse($checks['op_key_shown']);
        $this->assertFalse($checks['switched_ac_token_shown']);
        $this->assertTrue($checks['switched_op_key_shown']);
        $this->assertTrue($checks['switched_op_url_shown']);
        $this->assertSame('reached', $checks['test_result']);
        $this->assertStringStartsWith('Account reached:', $checks['test_message']);
        $this->assertMatchesRegularExpression('/^rgba?\(0, 112, 23(, 1)?\)$/', $checks['test_colour'], 'green');
        $this->assertSame('', $checks['untested_notice_after']);
        $this->assertContains('Email (email)', $checks['field_map_options']);
        $this->assertGreaterThan(5, count($checks['field_map_options']), 'the CRM\'s custom fields too');
        $this->assertSame('Copied', $checks['copy_button']);
        $url = CrmHooks_Test_Site::url('/') . '?wpf_action=update&access_key=' . CrmHooks_Test_Site::access_key();
        $this->assertSame($url, $checks['copied_url_field']);
        $this->assertSame($url, $checks['clipboard']);
        $this->assertSame('Settings', $checks['plugins_first_link']);
        $this->assertSame('Settings', $checks['plugins_link_lands_on']);

        // Queue: menu, tabs, views, every state, the chart drawn at a readable size, actions.
        $this->assertSame('crmhooks Queue', $checks['queue_title']);
        $this->assertSame(array('crmhooks Queue', 'crmhooks Activity', 'crmhooks Import'), $checks['queue_menu_entries']);
        $this->assertSame('Queue', $checks['queue_active_tab']);
        $this->assertSame(array('All', 'Queued', 'Deferred', 'Running', 'Retrying', 'Failed', 'Skipped', 'Done'), $checks['queue_views']);
        $this->assertSame(20, $checks['queue_rows'], 'a full first page');
        $this->assertSame(array('Deferred', 'Done', 'Failed', 'Queued', 'Retrying', 'Running', 'Skipped'), $checks['queue_states_shown']);
        $this->assertSame(48, $checks['chart_hours']);
        $this->assertGreaterThan(30, $checks['chart_bars'], 'two days of history are drawn');
        $this->assertGreaterThan(900, $checks['chart_width_px']);
        $this->assertGreaterThan(150, $checks['chart_height_px']);
        $this->assertTrue($checks['process_now_button']);
        $this->assertSame(array('-1', 'retry', 'delete'), $checks['bulk_actions']);
        $this->assertSame(array('Deferred'), $checks['deferred_view_states']);
        $this->assertStringContainsString('Another queue run is working right now', $checks['process_now_notice']);

        // Activity: highlights, refusals, links to users, filters, search, the detail view.
        $this->assertSame('crmhooks Activity', $checks['activity_title']);
        $this->assertSame(20, $checks['activity_rows']);
        $this->assertMatchesRegularExpression('/^\d+ items$/', $checks['activity_pagination']);
        $this->assertStringContainsString('wrong or missing access key', $checks['refusals_notice']);
        $this->assertGreaterThanOrEqual(2, $checks['highlighted_rows'], 'the duplicate and the deferral');
        $this->assertMatchesRegularExpression('/^rgba?\(252, 249, 232(, 1)?\)$/', $checks['highlight_background'], 'notice-warning yellow');
        $this->assertGreaterThanOrEqual(1, $checks['contact_links']);
        $this->assertStringContainsString('crmhooks_log_outcome=created', $checks['filtered_url']);
        $this->assertStringNotContainsString('_wpnonce', $checks['filtered_url']);
        $this->assertSame(array('User created'), $checks['filtered_outcomes']);
        $this->assertGreaterThanOrEqual(3, $checks['search_rows'], 'jane.doe@ finds contact 42\'s entries');
        $this->assertSame(array('42'), $checks['search_contacts']);
        $this->assertSame('Entry #' . $entry, $checks['entry_heading']);
        $this->assertStringContainsString('Tags added', $checks['entry_changes']);
        $this->assertStringContainsString('Silver → Gold', $checks['entry_changes']);

        $this->assertSame('Settings', $checks['settings_active_tab']);

        // Profile: the tag editor writes to the CRM stand-in and to the user.
        $this->assertSame('42', $checks['profile_contact_id']);
        $this->assertContains('member', $checks['profile_tags']);
        $this->assertSame('The tag changes were saved to the CRM and to this user.', $checks['profile_result']);
        $this->assertContains('Browser Tag', $checks['profile_tags_after']);
        $this->assertNotContains('member', $checks['profile_tags_after']);
        $this->assertContains('Browser Tag', $this->standin_contact('ac', '42')['tag_names'], 'the change arrived in the CRM');
        $this->assertNotContains('member', $this->standin_contact('ac', '42')['tag_names']);

        // Debug page: readable sections, the JSON folded away until asked for.
        $this->assertSame(array('Request', 'Contact loaded from the CRM', 'WordPress user the webhook touches', 'What would change (nothing was applied)'), $checks['debug_headings']);
        $this->assertFalse($checks['debug_raw_visible_before']);
        $this->assertTrue($checks['debug_raw_visible_after']);

        $this->assertCount(17, $result['screenshots']); // 13 settings, queue and activity + 4 profile and debug
        foreach ($result['screenshots'] as $png) {
            $size = getimagesize($png);
            $this->assertIsArray($size, "$png is an image");
            $this->assertSame(1280, $size[0], "$png is 1280 px wide");
        }
    }

    /**
     * Real webhooks (a user created, a duplicate, a loopback deferral, a refused request), jobs in
     * every state, two days of history for the chart, and an entry with a detail. Ends holding the
     * drainer lock, so the screens show exactly this while the browser looks.
     *
     * @return int the log entry with a detail
     */
    private function seed_site(): int
    {
        global $wpdb;
        $this->admin_cookie(); // creates the administrator the browser logs in as
        CrmHooks_Jobs::record_write('id:43');
        $this->assertSame(200, $this->hook(array('wpf_action' => 'add', 'contact_id' => '42'))['status']);
        $this->assertSame(200, $this->hook(array('wpf_action' => 'add', 'contact_id' => '42'))['status']);
        $this->assertSame(200, $this->hook(array('wpf_action' => 'update', 'contact_id' => '43'))['status']);
        $wpdb->query("DELETE FROM {$wpdb->prefix}crmhooks_jobs WHERE contact_key = 'id:43'"); // only its log entry is wanted
        $this->assertSame(401, $this->hook(array('wpf_action' => 'update', 'contact_id' => '42', 'access_key' => 'wrong'))['status']);
        $deadline = microtime(true) + 30;
        while ($this->user('jane.doe@example.com') === null && microtime(true) < $deadline) {
            usleep(200000);
        }
        $this->assertNotNull($this->user('jane.doe@example.com'), 'the queue created the user');
        $this->hold_drainer_lock(); // waits for the queue run that created the user to end

        $now = time();
        for ($hours_ago = 1; $hours_ago < 48; $hours_ago++) {
            $at = $now - $hours_ago * HOUR_IN_SECONDS;
            for ($i = 0; $i < ($hours_ago * 7) % 5; $i++) {
                $wpdb->insert($wpdb->prefix . 'crmhooks_log', array('created_at' => gmdate('Y-m-d H:i:s', $at + $i), 'action' => 'update', 'contact_id' => '44', 'outcome' => 'received', 'duration_ms' => 4, 'message' => 'queued as job 1'));
            }
            if ($hours_ago % 3 === 0) {
                $this->insert_job(array('contact' => '44', 'status' => 'done', 'outcome' => 'unchanged', 'created_at' => $at - 5, 'updated_at' => $at));
            }
        }
        $this->jobs_in_every_state(); // after the history: the first page shows them
        // A contact without a user, for the debug page: an add would create one.
        CrmHooks_Test_Standin::put_contact('ac', '45', array('email' => 'new.person@example.com', 'first_name' => 'New', 'last_name' => 'Person', 'phone' => '', 'tags' => array('member', 'trial')));
        CrmHooks_Log::add('update', '42', 'updated', 230, 2, 'job 12 attempt 1 (3 received): done', array(
            'tags_added'   => array('vip', 'Gold Customer'),
            'tags_removed' => array('trial'),
            'fields'       => array('membership_level' => array('old' => 'Silver', 'new' => 'Gold')),
            'role'         => array('old' => 'subscriber', 'new' => 'customer'),
        ));
        return (int) $wpdb->get_var("SELECT MAX(id) FROM {$wpdb->prefix}crmhooks_log");
    }
}

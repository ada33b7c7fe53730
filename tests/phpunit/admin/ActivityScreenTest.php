<?php
/**
 * Tools -> crmhooks Activity over HTTP: real webhooks appear with their outcome in words, the
 * contact linked to its user, duplicates, loopback deferrals and refused requests highlighted;
 * the outcome and action filters, the search by contact ID or email, pagination, and the detail
 * view of one entry with what changed.
 */

declare(strict_types=1);

require_once __DIR__ . '/AdminScreensTestCase.php';

final class ActivityScreenTest extends CrmHooks_Admin_Screens_TestCase
{
    private const PAGE = '/wp-admin/tools.php?page=crmhooks-activity';

    public function test_webhooks_show_up_with_words_links_and_highlights(): void
    {
        CrmHooks_Jobs::record_write('id:43'); // We just wrote to contact 43: its webhook is deferred.
        $this->assertSame(200, $this->hook(array('wpf_action' => 'add', 'contact_id' => '42'))['status']);
        $this->assertSame(200, $this->hook(array('wpf_action' => 'add', 'contact_id' => '42'))['status']); // merges: a duplicate
        $this->assertSame(200, $this->hook(array('wpf_action' => 'update', 'contact_id' => '43'))['status']);
        // Its job would wait a minute; only its log entry matters here, and no queue run may
        // stay behind waiting for it into the next test.
        global $wpdb;
        $wpdb->query("DELETE FROM {$wpdb->prefix}crmhooks_jobs WHERE contact_key = 'id:43'");
        $this->assertSame(401, $this->hook(array('wpf_action' => 'update', 'contact_id' => '42', 'access_key' => 'wrong'))['status']);
        $user = $this->wait_for_user('jane.doe@example.com');

        $page = $this->get(self::PAGE, $this->admin_cookie());
        $this->assertSame(200, $page['status']);
        $rows = $this->rows($page['body']);
        $this->assertCount(4, $rows, 'received x3 and created');
        $created = $this->row_with($rows, 'User created');
        $this->assertStringContainsString('user-edit.php?user_id=' . $user->ID, $created, 'the contact links to its user');
        $this->assertStringContainsString('Add', self::text($created));
        $this->assertMatchesRegularExpression('/\d+ (ms|s)/', self::text($created), 'the duration');

        $duplicate = $this->row_with($rows, 'Duplicate: merged into a job already waiting');
        $this->assertStringContainsString('crmhooks-attention', $duplicate, 'duplicates stand out');
        $deferred = $this->row_with($rows, 'Deferred: we wrote to this contact in the CRM moments ago');
        $this->assertStringContainsString('crmhooks-attention', $deferred, 'loopback deferrals stand out');
        $this->assertSame(2, substr_count($page['body'], '<tr class="crmhooks-attention'), 'the others do not');

        $this->assertSame(1, preg_match('/<div class="notice notice-warning inline crmhooks-refusals">(.*?)<\/div>/s', $page['body'], $refused), 'refused requests stand out');
        $this->assertStringContainsString('1 webhook request was refused in the last 24 hours.', self::text($refused[1]));
        $this->assertStringContainsString('1 × wrong or missing access key', self::text($refused[1]));
    }

    public function test_filters_search_and_pagination(): void
    {
        $linked = $this->make_user('findme.72@example.com');
        update_user_meta($linked, 'crmhooks_contact_id', '72');
        for ($i = 0; $i < 25; $i++) {
            CrmHooks_Log::add('update', '70', 'updated', 40, 1, 'job attempt');
        }
        for ($i = 0; $i < 15; $i++) {
            CrmHooks_Log::add('add', '71', 'contact_not_found', 30, 1, 'contact not found in the CRM');
        }
        for ($i = 0; $i < 5; $i++) {
            CrmHooks_Log::add('add', '72', 'created', 90, 2, '');
        }
        $cookie = $this->admin_cookie();

        $all = $this->get(self::PAGE, $cookie);
        $this->assertSame('45 items', $this->item_count($all['body']));
        $this->assertCount(20, $this->rows($all['body']), 'page 1');
        $this->assertCount(5, $this->rows($this->get(self::PAGE . '&paged=3', $cookie)['body']), 'page 3');
        $this->assertStringContainsString('paged=3', $all['body'], 'a link to the last page');

        $not_found = $this->get(self::PAGE . '&crmhooks_log_outcome=contact_not_found', $cookie);
        $this->assertSame('15 items', $this->item_count($not_found['body']));
        foreach ($this->rows($not_found['body']) as $row) {
            $this->assertStringContainsString('Contact not found', self::text($row));
        }
        $this->assertSame('20 items', $this->item_count($this->get(self::PAGE . '&crmhooks_log_action=add', $cookie)['body']));
        $this->assertSame('5 items', $this->item_count($this->get(self::PAGE . '&crmhooks_log_action=add&crmhooks_log_outcome=created', $cookie)['body']));
        $this->assertSame('45 items', $this->item_count($this->get(self::PAGE . '&crmhooks_log_outcome=bogus', $cookie)['body']), 'an unknown outcome filters nothing');

        $by_email = $this->get(self::PAGE . '&s=' . rawurlencode('findme.72@'), $cookie);
        $this->assertSame('5 items', $this->item_count($by_email['body']));
        foreach ($this->rows($by_email['body']) as $row) {
            $this->assertStringContainsString('user-edit.php?user_id=' . $linked, $row);
        }
        $by_id = $this->get(self::PAGE . '&s=71', $cookie);
        $this->assertSame('15 items', $this->item_count($by_id['body']));
        $this->assertSame('0 items', $this->item_count($this->get(self::PAGE . '&s=' . rawurlencode('nobody@example.com'), $cookie)['body']));

        // The filter form's own submission (a GET form with the table's nonce fields) lands on a clean URL.
        $form = $this->get(self::PAGE . '&crmhooks_log_outcome=created&filter_action=Filter&_wpnonce=abc&_wp_http_referer=%2Fx', $cookie);
        $this->assertSame(302, $form['status']);
        $this->assertStringContainsString('crmhooks_log_outcome=created', $form['location']);
        $this->assertStringNotContainsString('_wpnonce', $form['location']);
    }

    public function test_the_detail_view_shows_what_changed_as_lists(): void
    {
        $user = $this->make_user('detail.user@example.com');
        update_user_meta($user, 'crmhooks_contact_id', '42');
        CrmHooks_Log::add('update', '42', 'updated', 120, 2, 'job 7 attempt 1 (1 received): done <b>bold</b>', array(
            'tags_added'     => array('vip', 'Gold Customer'),
            'tags_removed'   => array('trial'),
            'fields'         => array('membership_level' => array('old' => 'Silver', 'new' => 'Gold'), 'first_name' => array('old' => '', 'new' => 'Jane'), 'user_pass' => array('hidden' => true), 'phone' => array('old' => '555-0100', 'new' => '')),
            'role'           => array('old' => 'subscriber', 'new' => 'customer'),
            'skipped_reason' => 'the user is privileged; webhooks change only its tags',
        ));
        $id = $this->last_log_id();
        $page = $this->get(self::PAGE . '&entry=' . $id, $this->admin_cookie());
        $this->assertSame(200, $page['status']);
        $body = $page['body'];
        $text = self::text($body);

        $this->assertStringContainsString('Entry #' . $id, $text);
        $this->assertStringContainsString('Back to the activity list', $text);
        $this->assertStringContainsString('The WordPress user was updated from the CRM.', $text);
        $this->assertStringContainsString('user-edit.php?user_id=' . $user, $body);
        $this->assertStringContainsString('done &lt;b&gt;bold&lt;/b&gt;', $body, 'the message is escaped');
        $this->assertMatchesRegularExpression('/Tags added<\/th><td><ul><li>vip<\/li><li>Gold Customer<\/li><\/ul>/', $body);
        $this->assertMatchesRegularExpression('/Tags removed<\/th><td><ul><li>trial<\/li><\/ul>/', $body);
        $this->assertStringContainsString('<code>membership_level</code>: <span class="crmhooks-old">Silver</span> &rarr; Gold', $body);
        $this->assertStringContainsString('<code>first_name</code>: Jane', $body, 'no arrow when there was nothing before');
        $this->assertStringContainsString('<span class="crmhooks-old">subscriber</span> &rarr; customer', $body);
        $this->assertStringContainsString('Why it was skipped</th><td>the user is privileged; webhooks change only its tags</td>', $body);
        $this->assertStringContainsString('user_pass: changed (the value is not shown)', $text);
        $this->assertStringContainsString('<code>phone</code>: <span class="crmhooks-old">555-0100</span> &rarr; <em>(empty)</em>', $body, 'a cleared field');
        $this->assertStringNotContainsString('"tags_added"', $body, 'not raw JSON');

        // An entry without a detail, a duplicate (highlighted) and one that is gone.
        CrmHooks_Log::add('add', '42', 'received', 3, 0, 'merged into job 9');
        $plain = $this->get(self::PAGE . '&entry=' . $this->last_log_id(), $this->login_cookie('screens.admin_example.com', self::PASSWORD));
        $this->assertStringContainsString('No details were recorded for this entry.', self::text($plain['body']));
        $this->assertMatchesRegularExpression('/<div class="notice notice-warning inline crmhooks-attention-notice"><p>Duplicate: merged/', $plain['body']);
        $gone = $this->get(self::PAGE . '&entry=' . ($this->last_log_id() + 100), $this->login_cookie('screens.admin_example.com', self::PASSWORD));
        $this->assertStringContainsString('This log entry does not exist (any more)', self::text($gone['body']));
    }

    public function test_the_activity_screen_is_for_administrators_only(): void
    {
        CrmHooks_Log::add('update', '42', 'updated', 10, 1, 'visible only to administrators');
        $denied = $this->get(self::PAGE, $this->subscriber_cookie());
        $this->assertSame(403, $denied['status']);
        $this->assertStringNotContainsString('visible only to administrators', $denied['body']);
        $entry = $this->get(self::PAGE . '&entry=' . $this->last_log_id(), $this->login_cookie('screens.sub_example.com', self::PASSWORD));
        $this->assertSame(403, $entry['status']);
        $this->assertStringNotContainsString('visible only to administrators', $entry['body']);
    }

    public function test_the_log_table_gets_its_detail_column_on_upgrade(): void
    {
        global $wpdb;
        $wpdb->query("ALTER TABLE {$wpdb->prefix}crmhooks_log DROP COLUMN detail");
        update_option(CrmHooks_Jobs::DB_VERSION_OPTION, '5'); // as the previous schema left it
        CrmHooks_Installer::maybe_upgrade();
        $this->assertContains('detail', $wpdb->get_col("SHOW COLUMNS FROM {$wpdb->prefix}crmhooks_log"));
        $this->assertSame(CrmHooks_Jobs::DB_VERSION, get_option(CrmHooks_Jobs::DB_VERSION_OPTION));
        CrmHooks_Log::add('update', '42', 'updated', 1, 1, 'old callers pass no detail');
        $this->assertNull($wpdb->get_var("SELECT detail FROM {$wpdb->prefix}crmhooks_log ORDER BY id DESC LIMIT 1"));
        CrmHooks_Log::add('update', '42', 'updated', 1, 1, 'with detail', array('tags_added' => array('vip')));
        $this->assertSame('{"tags_added":["vip"]}', $wpdb->get_var("SELECT detail FROM {$wpdb->prefix}crmhooks_log ORDER BY id DESC LIMIT 1"));
    }

    /** The rows of the list's body. */
    private function rows(string $html): array
    {
        if (preg_match('/<tbody id="the-list"[^>]*>(.*?)<\/tbody>/s', $html, $m) !== 1 || strpos($m[1], 'no-items') !== false) {
            return array();
        }
        return array_slice(explode('<tr', $m[1]), 1);
    }

    private function row_with(array $rows, string $words): string
    {
        foreach ($rows as $row) {
            if (strpos(self::text($row), $words) !== false) {
                return $row;
            }
        }
        $this->fail("no row says: $words");
    }

    private function item_count(string $html): string
    {
        $this->assertSame(1, preg_match('/<span class="displaying-num">([^<]*)<\/span>/', $html, $m));
        return $m[1];
    }

    private function last_log_id(): int
    {
        global $wpdb;
        return (int) $wpdb->get_var("SELECT MAX(id) FROM {$wpdb->prefix}crmhooks_log");
    }

    /** Polls until the queue created the user (the drainer runs after the webhook's response). */
    private function wait_for_user(string $email): WP_User
    {
        $deadline = microtime(true) + 30;
        while (microtime(true) < $deadline) {
            $user = $this->user($email);
            if ($user !== null) {
                return $user;
            }
            usleep(200000);
        }
        $this->fail("no user $email after 30 s");
    }
}

<?php
/**
 * Each log entry says what the webhook changed (from the library's plan summary): tag names
 * added and removed, each changed field with its old and new value, the role, why it skipped.
 * A password, or any field whose key looks secret, shows only as "changed": its value reaches
 * neither the log table nor the entry's page on Tools -> crmhooks Activity.
 */

declare(strict_types=1);

require_once __DIR__ . '/PluginTestCase.php';

final class LogDetailTest extends CrmHooks_Plugin_TestCase
{
    private const CRM_PASSWORD = 'Crm-Pass-4711-first';
    private const NEW_CRM_PASSWORD = 'Crm-Pass-4712-second';
    private const ADMIN_PASSWORD = 'Log-Detail-Admin-3391';

    protected function setUp(): void
    {
        parent::setUp();
        // A job queued by an earlier test must not log between a webhook here and its reading.
        $this->assertTrue(CrmHooks_Test_Site::wait_until_queue_idle(60, true), 'control: the queue drains');
    }

    public function test_the_log_entry_shows_old_and_new_values_and_never_a_password(): void
    {
        CrmHooks_Test_Site::set_settings(array('field_map' => array(
            array('crm_key' => '1', 'wp_key' => 'membership_level'),
            array('crm_key' => '9', 'wp_key' => 'user_pass'),
            array('crm_key' => '9', 'wp_key' => 'crm_password_copy'),
        )));
        $this->put_jane('Jane', 'Gold', self::CRM_PASSWORD, array('member'));
        list($created_id, $created) = $this->processed_entry('add', '42');
        $this->assertSame(array('member'), $created['tags_added']);
        $this->assertEquals(array('old' => '', 'new' => 'subscriber'), $created['role']);
        $this->assertSame(array('old' => '', 'new' => 'Gold'), $created['fields']['membership_level'], 'a new user: nothing before');
        $this->assertSame(array('old' => '', 'new' => 'jane.doe@example.com'), $created['fields']['user_email']);
        $this->assertSame(array('hidden' => true), $created['fields']['user_pass']);
        $this->assertSame(array('hidden' => true), $created['fields']['crm_password_copy']);
        $user = $this->user('jane.doe@example.com');
        $this->assertNotNull($user);
        $this->assertTrue(wp_check_password(self::CRM_PASSWORD, $user->user_pass), 'control: the CRM password was set');
        $this->assertSame(self::CRM_PASSWORD, get_user_meta($user->ID, 'crm_password_copy', true), 'control: the secret-looking field was written');

        $this->put_jane('Janet', 'Platinum <Plus>', self::NEW_CRM_PASSWORD, array('vip'));
        list($updated_id, $updated) = $this->processed_entry('update', '42');
        $this->assertSame(array('vip'), $updated['tags_added']);
        $this->assertSame(array('member'), $updated['tags_removed']);
        $this->assertSame(array('old' => 'Jane', 'new' => 'Janet'), $updated['fields']['first_name']);
        $this->assertSame(array('old' => 'Gold', 'new' => 'Platinum <Plus>'), $updated['fields']['membership_level']);
        $this->assertSame(array('hidden' => true), $updated['fields']['crm_password_copy']);
        $this->assertArrayNotHasKey('user_pass', $updated['fields'], 'the password mapping only gives a new user its password');

        // The entry's page, as an administrator sees it over HTTP: "key: old → new", escaped.
        $this->make_user('logdetail.admin@example.com', 'administrator', self::ADMIN_PASSWORD);
        $cookie = $this->login_cookie('logdetail.admin_example.com', self::ADMIN_PASSWORD);
        $page = $this->entry_page($updated_id, $cookie);
        $this->assertNotSame($created_id, $updated_id);
        $this->assertStringContainsString('<code>membership_level</code>: <span class="crmhooks-old">Gold</span> &rarr; Platinum &lt;Plus&gt;', $page);
        $this->assertStringContainsString('<code>first_name</code>: <span class="crmhooks-old">Jane</span> &rarr; Janet', $page);
        $this->assertStringContainsString('<code>crm_password_copy</code>: changed (the value is not shown)', $page);
        $this->assertStringContainsString('<code>user_pass</code>: changed (the value is not shown)', $this->entry_page($created_id, $cookie));

        // No password anywhere: not in the log table, not on either entry's page.
        global $wpdb;
        $log = implode("\n", $wpdb->get_col("SELECT CONCAT(message, ' ', COALESCE(detail, '')) FROM {$wpdb->prefix}crmhooks_log"));
        $this->assertStringContainsString('Platinum <Plus>', $log, 'control: the log keeps values');
        foreach (array(self::CRM_PASSWORD, self::NEW_CRM_PASSWORD) as $password) {
            $this->assertStringNotContainsString($password, $log);
            $this->assertStringNotContainsString($password, $page);
            $this->assertStringNotContainsString($password, $this->entry_page($created_id, $cookie));
        }

        $this->assertSame(array(), $this->processed_entry('update', '999999')[1], 'not found in the CRM: nothing planned');
        $this->assertSame('no_user', $this->processed_entry('update', '43')[1]['skipped_reason']);
    }

    /** Contact 42 at the stand-in with these names, membership level (1), password (9) and tags. */
    private function put_jane(string $first_name, string $level, string $password, array $tags): void
    {
        CrmHooks_Test_Standin::put_contact('ac', '42', array(
            'email' => 'jane.doe@example.com', 'first_name' => $first_name, 'last_name' => 'Doe', 'phone' => '',
            'tags' => $tags, 'fields' => array('1' => $level, '9' => $password),
        ));
    }

    private function entry_page(int $id, string $cookie): string
    {
        $page = $this->http('GET', CrmHooks_Test_Site::url('/wp-admin/tools.php?page=crmhooks-activity&entry=' . $id), null, array('Cookie: ' . $cookie));
        $this->assertSame(200, $page['status']);
        $this->assertStringContainsString('Entry #' . $id, $page['body']);
        return $page['body'];
    }

    /**
     * Sends the webhook, asserts it was processed, and returns its log entry: ID and detail. The
     * entry is found by contact and action among those written since, not as the newest row.
     */
    private function processed_entry(string $action, string $contact_id): array
    {
        global $wpdb;
        CrmHooks_Test_Site::fresh();
        $before = (int) $wpdb->get_var("SELECT COALESCE(MAX(id), 0) FROM {$wpdb->prefix}crmhooks_log");
        $this->assertProcessed($this->hook(array('wpf_action' => $action, 'contact_id' => $contact_id)));
        $row = $wpdb->get_row($wpdb->prepare(
            "SELECT id, detail FROM {$wpdb->prefix}crmhooks_log WHERE id > %d AND contact_id = %s AND action = %s ORDER BY id LIMIT 1",
            $before,
            $contact_id,
            $action
        ));
        $this->assertNotNull($row, "a log entry for $action of contact $contact_id");
        $detail = $row->detail === null ? array() : (array) json_decode((string) $row->detail, true);
        return array((int) $row->id, $detail);
    }
}

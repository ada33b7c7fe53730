<?php
/**
 * Each log entry says what the webhook changed (from the library's plan summary): tag names
 * added and removed, the keys of changed fields (never their values), the role, why it skipped.
 */

declare(strict_types=1);

require_once __DIR__ . '/PluginTestCase.php';

final class LogDetailTest extends CrmHooks_Plugin_TestCase
{
    public function test_the_log_entry_names_what_changed_and_keeps_no_values(): void
    {
        CrmHooks_Test_Site::set_settings(array('field_map' => array(array('crm_key' => '1', 'wp_key' => 'membership_level'))));
        $this->assertProcessed($this->hook(array('wpf_action' => 'add', 'contact_id' => '42')));
        $created = $this->last_detail();
        $this->assertSame(array('member'), $created['tags_added']);
        $this->assertEquals(array('old' => '', 'new' => 'subscriber'), $created['role']);

        CrmHooks_Test_Standin::put_contact('ac', '42', array(
            'email' => 'jane.doe@example.com', 'first_name' => 'Janet', 'last_name' => 'Doe', 'phone' => '',
            'tags' => array('vip'), 'fields' => array('1' => 'Secret-Level-Value'),
        ));
        $this->assertProcessed($this->hook(array('wpf_action' => 'update', 'contact_id' => '42')));
        $updated = $this->last_detail();
        $this->assertSame(array('vip'), $updated['tags_added']);
        $this->assertSame(array('member'), $updated['tags_removed']);
        $this->assertContains('first_name', $updated['fields']);
        $this->assertContains('membership_level', $updated['fields']);
        $this->assertStringNotContainsString('Secret-Level-Value', (string) json_encode($updated));
        $this->assertStringNotContainsString('Janet', (string) json_encode($updated));

        $this->assertProcessed($this->hook(array('wpf_action' => 'update', 'contact_id' => '999999')));
        $this->assertSame(array(), $this->last_detail(), 'not found in the CRM: nothing planned');
        $this->assertProcessed($this->hook(array('wpf_action' => 'update', 'contact_id' => '43')));
        $this->assertSame('no_user', $this->last_detail()['skipped_reason']);
    }

    private function last_detail(): array
    {
        global $wpdb;
        CrmHooks_Test_Site::fresh();
        $detail = $wpdb->get_var("SELECT detail FROM {$wpdb->prefix}crmhooks_log ORDER BY id DESC LIMIT 1");
        return $detail === null ? array() : (array) json_decode((string) $detail, true);
    }
}

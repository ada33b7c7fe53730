<?php
/**
 * What a webhook does to WordPress users: no duplicates, roles within the allowlist, meta, tags,
 * usernames, notifications, the password written back to the CRM.
 */

declare(strict_types=1);

require_once __DIR__ . '/PluginTestCase.php';

final class WebhookUsersTest extends CrmHooks_Plugin_TestCase
{
    protected function tearDown(): void
    {
        remove_role('crmhooks_customer');
        parent::tearDown();
    }

    public function test_add_twice_makes_one_user(): void
    {
        $this->assertProcessed($this->hook(array('wpf_action' => 'add', 'contact_id' => '42')));
        $this->assertProcessed($this->hook(array('wpf_action' => 'add', 'contact_id' => '42')));
        $this->assertCount(1, $this->users_for('jane.doe@example.com', '42'));
    }

    public function test_concurrent_adds_make_one_user(): void
    {
        $multi = curl_multi_init();
        $handles = array();
        for ($i = 0; $i < 4; $i++) {
            $ch = curl_init($this->webhook_url(array('wpf_action' => 'add', 'contact_id' => '42')));
            curl_setopt_array($ch, array(CURLOPT_RETURNTRANSFER => true, CURLOPT_TIMEOUT => 60));
            curl_multi_add_handle($multi, $ch);
            $handles[] = $ch;
        }
        do {
            $status = curl_multi_exec($multi, $running);
            if ($running) {
                curl_multi_select($multi);
            }
        } while ($running && $status === CURLM_OK);
        foreach ($handles as $ch) {
            $this->assertSame(200, curl_getinfo($ch, CURLINFO_RESPONSE_CODE), (string) curl_multi_getcontent($ch));
            curl_multi_remove_handle($multi, $ch);
            curl_close($ch);
        }
        curl_multi_close($multi);
        $this->assertCount(1, $this->users_for('jane.doe@example.com', '42'));
    }

    public function test_add_for_an_existing_email_updates_that_user(): void
    {
        $id = $this->make_user('jane.doe@example.com', 'author');
        $this->assertProcessed($this->hook(array('wpf_action' => 'add', 'contact_id' => '42')));

        $this->assertSame(array($id), $this->users_for('jane.doe@example.com', '42'));
        $user = get_userdata($id);
        $this->assertSame('42', get_user_meta($id, 'crmhooks_contact_id', true));
        $this->assertSame(array('member'), $this->tag_names($id));
        $this->assertSame(array('author'), array_values($user->roles), 'no role param: the role stays');
    }

    public function test_user_is_found_by_stored_contact_id_even_after_an_email_change(): void
    {
        $this->assertProcessed($this->hook(array('wpf_action' => 'add', 'contact_id' => '42')));
        $id = $this->users_for('jane.doe@example.com')[0];

        CrmHooks_Test_Standin::put_contact('ac', '42', array(
            'email' => 'jane.new@example.com', 'first_name' => 'Jane', 'last_name' => 'Doe', 'phone' => '',
            'tags' => array('member', 'vip'), 'fields' => array('1' => 'Gold'),
        ));
        $this->assertProcessed($this->hook(array('wpf_action' => 'update', 'contact_id' => '42')));
        $this->assertSame(array($id), $this->users_for('jane.new@example.com', '42'));
        $this->assertSame('jane.new@example.com', get_userdata($id)->user_email);
        $this->assertEqualsCanonicalizing(array('member', 'vip'), $this->tag_names($id));
    }

    public function test_the_request_email_never_selects_a_user(): void
    {
        $id = $this->make_user('other.address@example.com');
        // Contact 44's own email differs; the request's top-level email must not name the user.
        $this->assertProcessed($this->hook(array('wpf_action' => 'update', 'contact_id' => '44', 'email' => 'other.address@example.com')));
        $this->assertSame('', get_user_meta($id, 'crmhooks_contact_id', true), 'not linked to contact 44');
        $this->assertSame('other.address@example.com', get_userdata($id)->user_email);
        $this->assertSame(array(), $this->users_for('no.tags@example.com', '44'), 'update creates nobody');
    }

    /** @dataProvider refused_roles */
    public function test_privileged_or_unknown_role_falls_back_to_the_default_role(string $role): void
    {
        CrmHooks_Test_Site::set_settings(array('role_allowlist' => array('subscriber', 'administrator', 'editor')));
        $this->assertProcessed($this->hook(array('wpf_action' => 'add', 'contact_id' => '42', 'role' => $role)));
        $user = $this->user('jane.doe@example.com');
        $this->assertNotNull($user);
        $this->assertSame(array('subscriber'), array_values($user->roles));
        $this->assertFalse(user_can($user, 'manage_options'));
    }

    public static function refused_roles(): array
    {
        return array('administrator' => array('administrator'), 'editor' => array('editor'), 'Administrator name' => array('Administrator'), 'unknown' => array('no_such_role'));
    }

    public function test_allowlisted_registered_role_is_given_by_slug_or_display_name(): void
    {
        add_role('crmhooks_customer', 'Crmhooks Customer', array('read' => true));
        CrmHooks_Test_Site::set_settings(array('role_allowlist' => array('subscriber', 'crmhooks_customer')));

        $this->assertProcessed($this->hook(array('wpf_action' => 'add', 'contact_id' => '42', 'role' => 'crmhooks_customer')));
        $this->assertSame(array('crmhooks_customer'), array_values($this->user('jane.doe@example.com')->roles));

        $this->assertProcessed($this->hook(array('wpf_action' => 'add', 'contact_id' => '43', 'role' => 'Crmhooks Customer')));
        $this->assertSame(array('crmhooks_customer'), array_values($this->user('john.roe@example.com')->roles));
    }

    public function test_registered_role_not_on_the_allowlist_is_refused(): void
    {
        add_role('crmhooks_customer', 'Crmhooks Customer', array('read' => true));
        $this->assertProcessed($this->hook(array('wpf_action' => 'add', 'contact_id' => '42', 'role' => 'crmhooks_customer')));
        $this->assertSame(array('subscriber'), array_values($this->user('jane.doe@example.com')->roles));
    }

    public function test_update_tags_without_a_user_creates_nothing(): void
    {
        $this->assertProcessed($this->hook(array('wpf_action' => 'update_tags', 'contact_id' => '42')));
        $this->assertSame(array(), $this->users_for('jane.doe@example.com', '42'));
        $this->assertProcessed($this->hook(array('wpf_action' => 'update', 'contact_id' => '42')));
        $this->assertSame(array(), $this->users_for('jane.doe@example.com', '42'));
    }

    public function test_mapped_field_is_written_and_a_cleared_field_is_cleared(): void
    {
        CrmHooks_Test_Site::set_settings(array('field_map' => array(array('crm_key' => '1', 'wp_key' => 'crmhooks_level'))));
        $this->assertProcessed($this->hook(array('wpf_action' => 'add', 'contact_id' => '42')));
        $id = $this->users_for('jane.doe@example.com')[0];
        $this->assertSame('Gold', get_user_meta($id, 'crmhooks_level', true));

        CrmHooks_Test_Standin::put_contact('ac', '42', array(
            'email' => 'jane.doe@example.com', 'first_name' => 'Jane', 'last_name' => 'Doe', 'phone' => '',
            'tags' => array('member'), 'fields' => array('1' => ''),
        ));
        $this->assertProcessed($this->hook(array('wpf_action' => 'update', 'contact_id' => '42')));
        CrmHooks_Test_Site::fresh();
        $this->assertSame('', get_user_meta($id, 'crmhooks_level', true));
    }

    public function test_protected_meta_is_never_written(): void
    {
        global $wpdb;
        CrmHooks_Test_Site::set_settings(array('field_map' => array(
            array('crm_key' => '1', 'wp_key' => $wpdb->prefix . 'capabilities'),
            array('crm_key' => '1', 'wp_key' => $wpdb->prefix . 'user_level'),
            array('crm_key' => '1', 'wp_key' => 'session_tokens'),
        )));
        $this->assertProcessed($this->hook(array('wpf_action' => 'add', 'contact_id' => '42')));
        $user = $this->user('jane.doe@example.com');
        $this->assertSame(array('subscriber'), array_values($user->roles));
        $this->assertNotSame('Gold', get_user_meta($user->ID, $wpdb->prefix . 'user_level', true));
        $this->assertNotSame('Gold', get_user_meta($user->ID, 'session_tokens', true));
    }

    public function test_first_last_usernames_get_a_number_while_taken(): void
    {
        CrmHooks_Test_Site::set_settings(array('username_format' => 'first_last'));
        $this->assertProcessed($this->hook(array('wpf_action' => 'add', 'contact_id' => '42')));
        $this->assertSame('janedoe', $this->user('jane.doe@example.com')->user_login);

        CrmHooks_Test_Standin::put_contact('ac', '45', array(
            'email' => 'jane.doe2@example.com', 'first_name' => 'Jane', 'last_name' => 'Doe', 'phone' => '', 'tags' => array(), 'fields' => array(),
        ));
        $this->assertProcessed($this->hook(array('wpf_action' => 'add', 'contact_id' => '45')));
        $this->assertSame('janedoe2', $this->user('jane.doe2@example.com')->user_login);
    }

    public function test_first_number_usernames_count_on_while_taken(): void
    {
        CrmHooks_Test_Site::set_settings(array('username_format' => 'first_number'));
        $this->assertProcessed($this->hook(array('wpf_action' => 'add', 'contact_id' => '42')));
        $this->assertSame('jane1', $this->user('jane.doe@example.com')->user_login);

        CrmHooks_Test_Standin::put_contact('ac', '45', array(
            'email' => 'jane.other@example.com', 'first_name' => 'Jane', 'last_name' => 'Other', 'phone' => '', 'tags' => array(), 'fields' => array(),
        ));
        $this->assertProcessed($this->hook(array('wpf_action' => 'add', 'contact_id' => '45')));
        $this->assertSame('jane2', $this->user('jane.other@example.com')->user_login);
    }

    public function test_mapped_login_and_password_are_used_at_creation(): void
    {
        CrmHooks_Test_Site::set_settings(array('field_map' => array(
            array('crm_key' => '1', 'wp_key' => 'user_login'),
            array('crm_key' => '9', 'wp_key' => 'user_pass'),
        )));
        CrmHooks_Test_Standin::put_contact('ac', '42', array(
            'email' => 'jane.doe@example.com', 'first_name' => 'Jane', 'last_name' => 'Doe', 'phone' => '',
            'tags' => array('member'), 'fields' => array('1' => 'janes-login', '9' => 'Crm-Given-Pass-9'),
        ));
        $this->assertProcessed($this->hook(array('wpf_action' => 'add', 'contact_id' => '42')));
        $user = $this->user('jane.doe@example.com');
        $this->assertSame('janes-login', $user->user_login);
        $this->assertTrue(wp_check_password('Crm-Given-Pass-9', $user->user_pass, $user->ID));
        $this->assertSame('', get_user_meta($user->ID, 'user_pass', true), 'never stored as meta');
    }

    public function test_send_notification_only_when_true(): void
    {
        $this->assertProcessed($this->hook(array('wpf_action' => 'add', 'contact_id' => '43', 'send_notification' => 'false')));
        $this->assertSame('', $this->user('john.roe@example.com')->user_activation_key, 'send_notification=false sends nothing');

        $this->assertProcessed($this->hook(array('wpf_action' => 'add', 'contact_id' => '42', 'send_notification' => 'true')));
        // wp_new_user_notification() creates a password-reset key for the link in the mail.
        $this->assertNotSame('', $this->user('jane.doe@example.com')->user_activation_key);
    }

    public function test_generated_password_is_written_back_to_the_crm(): void
    {
        CrmHooks_Test_Site::set_settings(array('return_password' => true, 'password_field' => '9'));
        $this->assertProcessed($this->hook(array('wpf_action' => 'add', 'contact_id' => '42')));
        $user = $this->user('jane.doe@example.com');
        $returned = (string) ($this->standin_contact('ac', '42')['fields']['9'] ?? '');
        $this->assertNotSame('', $returned);
        $this->assertTrue(wp_check_password($returned, $user->user_pass, $user->ID), 'the CRM holds the user\'s real password');

        // An update does not generate or return a new password.
        $this->assertProcessed($this->hook(array('wpf_action' => 'add', 'contact_id' => '42')));
        $this->assertSame($returned, (string) ($this->standin_contact('ac', '42')['fields']['9'] ?? ''));
    }

    public function test_log_has_one_entry_per_webhook_without_the_key(): void
    {
        global $wpdb;
        $table = $wpdb->prefix . 'crmhooks_log';
        $before = (int) $wpdb->get_var("SELECT MAX(id) FROM {$table}");
        $this->assertProcessed($this->hook(array('wpf_action' => 'add', 'contact_id' => '42')));
        $this->hook(array('wpf_action' => 'add', 'contact_id' => '42', 'access_key' => 'wrong-key-123'));
        $rows = $wpdb->get_results($wpdb->prepare("SELECT * FROM {$table} WHERE id > %d ORDER BY id", $before), ARRAY_A);
        $this->assertCount(1, $rows, 'the refused request is counted, not logged');
        $this->assertSame('add', $rows[0]['action']);
        $this->assertSame('42', $rows[0]['contact_id']);
        $this->assertSame('created', $rows[0]['outcome']);
        $this->assertGreaterThanOrEqual(1, (int) $rows[0]['crm_calls']);
        foreach ($rows as $row) {
            $this->assertStringNotContainsString(CrmHooks_Test_Site::access_key(), implode(' ', $row));
            $this->assertStringNotContainsString('ac-test-token', implode(' ', $row));
        }
    }
}

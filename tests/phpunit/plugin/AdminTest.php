<?php
/**
 * The admin side: settings sanitizing, the settings page (capability), key regeneration
 * (capability + nonce), Site Health, uninstall.
 */

declare(strict_types=1);

require_once __DIR__ . '/PluginTestCase.php';

final class AdminTest extends CrmHooks_Plugin_TestCase
{
    private const PASSWORD = 'Test-Admin-Pass-7734';

    public function test_sanitize_allowlists_keys_and_values(): void
    {
        $clean = CrmHooks_Settings_Fields::sanitize(array(
            'crm'             => 'salesforce',
            'default_role'    => 'administrator',
            'role_allowlist'  => 'subscriber, Customer,,EDITOR subscriber',
            'field_map'       => "1 = crmhooks_level\nbroken line\n9 = user_pass",
            'username_format' => 'whatever',
            'return_password' => '0',
            'async'           => '1',
            'queue_max'       => '-5',
            'evil_key'        => 'x',
            'access_key'      => 'short',
        ));
        $this->assertArrayNotHasKey('evil_key', $clean);
        $this->assertSame('activecampaign', $clean['crm']);
        $this->assertSame('subscriber', $clean['default_role'], 'a privileged default role is refused');
        $this->assertSame(array('subscriber', 'customer'), $clean['role_allowlist'], 'editor holds admin-level capabilities: refused');
        $this->assertSame(array(array('crm_key' => '1', 'wp_key' => 'crmhooks_level'), array('crm_key' => '9', 'wp_key' => 'user_pass')), $clean['field_map']);
        $this->assertSame('email', $clean['username_format']);
        $this->assertFalse($clean['return_password']);
        $this->assertTrue($clean['async']);
        $this->assertSame(1000, $clean['queue_max'], 'an invalid number is refused, not clamped: the stored value stays');
        $this->assertSame(CrmHooks_Test_Site::access_key(), $clean['access_key'], 'a malformed key is not taken');
    }

    public function test_site_health_reports_the_loaded_library(): void
    {
        $result = CrmHooks_Health::site_health_test();
        $this->assertSame('good', $result['status']);
        $this->assertStringContainsString(CRMHOOKS_VERSION, $result['description']);
        $this->assertNull(CrmHooks_Health::problem());
    }

    public function test_settings_page_is_for_administrators_only(): void
    {
        $this->make_user('page.admin@example.com', 'administrator', self::PASSWORD);
        $admin_cookie = $this->admin_cookie(); // One session: nonces belong to it.
        $page = $this->http('GET', CrmHooks_Test_Site::url('/wp-admin/options-general.php?page=crmhooks'), null, array('Cookie: ' . $admin_cookie));
        $this->assertSame(200, $page['status']);
        $this->assertStringNotContainsString(CrmHooks_Test_Site::access_key(), $page['body'], 'the key is not in the HTML');
        $this->assertStringContainsString('wpf_action=update_tags&amp;access_key=YOURACCESSKEY', $page['body']);
        // The "show" button fetches it: capability and nonce required.
        preg_match('/id="crmhooks-reveal" data-nonce="([^"]+)"/', $page['body'], $nonce);
        $this->assertNotEmpty($nonce);
        $ajax = CrmHooks_Test_Site::url('/wp-admin/admin-ajax.php');
        $form = array('Cookie: ' . $admin_cookie, 'Content-Type: application/x-www-form-urlencoded');
        $shown = $this->http('POST', $ajax, 'action=crmhooks_reveal_key&_ajax_nonce=' . $nonce[1], $form);
        $this->assertSame(CrmHooks_Test_Site::access_key(), json_decode($shown['body'], true)['data']['key'] ?? null);
        $forged = $this->http('POST', $ajax, 'action=crmhooks_reveal_key&_ajax_nonce=bogus', $form);
        $this->assertStringNotContainsString(CrmHooks_Test_Site::access_key(), $forged['body']);
        $this->assertStringNotContainsString('ac-test-token"', str_replace('value="ac-test-token"', '', $page['body']), 'the token only appears inside its own field');

        $this->make_user('page.sub@example.com', 'subscriber', self::PASSWORD);
        $cookie = $this->login_cookie('page.sub_example.com', self::PASSWORD);
        $denied = $this->http('GET', CrmHooks_Test_Site::url('/wp-admin/options-general.php?page=crmhooks'), null, array('Cookie: ' . $cookie));
        $this->assertStringNotContainsString(CrmHooks_Test_Site::access_key(), $denied['body']);
        $sub_ajax = $this->http('POST', $ajax, 'action=crmhooks_reveal_key&_ajax_nonce=' . $nonce[1], array('Cookie: ' . $cookie, 'Content-Type: application/x-www-form-urlencoded'));
        $this->assertStringNotContainsString(CrmHooks_Test_Site::access_key(), $sub_ajax['body'], 'subscribers never get the key');
    }

    public function test_regenerating_the_key_needs_the_nonce(): void
    {
        $this->make_user('page.admin@example.com', 'administrator', self::PASSWORD);
        $cookie = $this->admin_cookie();
        $old = CrmHooks_Test_Site::access_key();

        $forged = $this->http('POST', CrmHooks_Test_Site::url('/wp-admin/admin-post.php'), 'action=crmhooks_regenerate_key', array('Cookie: ' . $cookie, 'Content-Type: application/x-www-form-urlencoded'));
        $this->assertNotSame(302, $forged['status']);
        CrmHooks_Test_Site::fresh();
        $this->assertSame($old, CrmHooks_Settings::get('access_key'));

        $page = $this->http('GET', CrmHooks_Test_Site::url('/wp-admin/options-general.php?page=crmhooks'), null, array('Cookie: ' . $cookie));
        $this->assertSame(1, preg_match('/name="action" value="crmhooks_regenerate_key">.*?name="_wpnonce" value="([0-9a-f]+)"/s', $page['body'], $m));
        $ok = $this->http('POST', CrmHooks_Test_Site::url('/wp-admin/admin-post.php'), http_build_query(array('action' => 'crmhooks_regenerate_key', '_wpnonce' => $m[1])), array('Cookie: ' . $cookie, 'Content-Type: application/x-www-form-urlencoded'));
        $this->assertSame(302, $ok['status']);
        CrmHooks_Test_Site::fresh();
        $new = (string) CrmHooks_Settings::get('access_key');
        $this->assertNotSame($old, $new);
        $this->assertMatchesRegularExpression('/^[A-Za-z0-9_-]{22,}$/', $new);
        // tearDown restores the stack's key.
    }

    public function test_uninstall_removes_options_meta_and_tables(): void
    {
        global $wpdb;
        $this->assertProcessed($this->hook(array('wpf_action' => 'add', 'contact_id' => '42')));
        $user = $this->user('jane.doe@example.com');
        $settings = get_option('crmhooks_settings');

        $code = '$_SERVER["HTTP_HOST"] = ' . var_export((string) $_SERVER['HTTP_HOST'], true) . '; $_SERVER["REQUEST_URI"] = "/";'
            . 'require ' . var_export(CrmHooks_Test_Site::wp_dir() . '/wp-load.php', true) . ';'
            . 'define("WP_UNINSTALL_PLUGIN", "crmhooks/crmhooks.php");'
            . '(function () { include ' . var_export(CRMHOOKS_DIR . 'uninstall.php', true) . '; })();'
            . 'echo "DONE";';
        try {
            $out = (string) shell_exec(escapeshellarg(PHP_BINARY) . ' -r ' . escapeshellarg($code) . ' 2>&1');
            $this->assertStringEndsWith('DONE', trim($out));
            CrmHooks_Test_Site::fresh();
            $this->assertFalse(get_option('crmhooks_settings'));
            $this->assertSame('', get_user_meta($user->ID, 'crmhooks_contact_id', true));
            $this->assertSame(array(), get_user_meta($user->ID, 'crmhooks_tags'));
            $this->assertNull($wpdb->get_var($wpdb->prepare('SHOW TABLES LIKE %s', $wpdb->prefix . 'crmhooks_log')));
        } finally {
            // Put the stack back as it was: settings, then every activation hook of the plugin.
            update_option('crmhooks_settings', $settings);
            do_action('activate_' . plugin_basename(CRMHOOKS_FILE), false);
            CrmHooks_Test_Site::fresh();
        }
        $this->assertNotNull($wpdb->get_var($wpdb->prepare('SHOW TABLES LIKE %s', $wpdb->prefix . 'crmhooks_log')));
        $this->assertSame(CrmHooks_Test_Site::access_key(), CrmHooks_Settings::get('access_key'));
    }

    private function admin_cookie(): string
    {
        return $this->login_cookie('page.admin_example.com', self::PASSWORD);
    }
}

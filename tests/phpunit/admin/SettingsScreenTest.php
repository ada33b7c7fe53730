<?php
/**
 * Settings -> crmhooks over HTTP as a site owner uses it: the Settings API sections, only the
 * chosen CRM's fields, Test connection answering in words (reached / refused / unreachable;
 * capability and nonce), the notice until the connection was tested, refusals naming the field
 * with nothing saved, the field map filled from the CRM's own fields, and the Plugins screen link.
 */

declare(strict_types=1);

require_once __DIR__ . '/AdminScreensTestCase.php';

final class SettingsScreenTest extends CrmHooks_Admin_Screens_TestCase
{
    private const PAGE = '/wp-admin/options-general.php?page=crmhooks';

    /** A port of this stack's range nothing listens on (stand-in is BASE+5, MariaDB BASE+6). */
    private const DEAD_PORT_OFFSET = 9;

    protected function setUp(): void
    {
        parent::setUp();
        delete_option(CrmHooks_Admin::TESTED_OPTION);
        delete_transient('crmhooks_crm_fields');
    }

    protected function tearDown(): void
    {
        delete_option(CrmHooks_Admin::TESTED_OPTION);
        delete_transient('crmhooks_crm_fields');
        parent::tearDown();
    }

    public function test_the_sections_and_only_the_chosen_crms_fields_are_shown(): void
    {
        $cookie = $this->admin_cookie();
        $page = $this->get(self::PAGE, $cookie);
        $this->assertSame(200, $page['status']);
        preg_match_all('#<h2>([^<]+)</h2>#', $page['body'], $headings);
        foreach (array('Connection', 'Users and roles', 'Fields', 'Queue', 'Advanced') as $section) {
            $this->assertContains($section, $headings[1], "section $section");
        }
        // Labels are bound to their inputs (Settings API label_for).
        $this->assertStringContainsString('<label for="crmhooks_queue_max">Queue limit</label>', $page['body']);

        $this->assertSame(array('ac_base_url' => 'shown', 'ac_api_token' => 'shown', 'op_base_url' => 'hidden', 'op_app_id' => 'hidden', 'op_api_key' => 'hidden'), $this->crm_rows($page['body']));
        $this->assertMatchesRegularExpression('#<div class="crmhooks-crm crmhooks-crm-activecampaign" id="crmhooks-urls-activecampaign">#', $page['body']);
        $this->assertMatchesRegularExpression('#<div class="crmhooks-crm crmhooks-crm-ontraport hidden" id="crmhooks-urls-ontraport">#', $page['body']);

        CrmHooks_Test_Site::set_settings(array('crm' => 'ontraport'));
        $page = $this->get(self::PAGE, $cookie);
        $this->assertSame(array('ac_base_url' => 'hidden', 'ac_api_token' => 'hidden', 'op_base_url' => 'shown', 'op_app_id' => 'shown', 'op_api_key' => 'shown'), $this->crm_rows($page['body']));
    }

    public function test_webhook_urls_per_crm_and_action_without_the_key(): void
    {
        $page = $this->get(self::PAGE, $this->admin_cookie());
        $home = CrmHooks_Test_Site::url('/');
        foreach (array('add', 'update', 'update_tags', 'test') as $action) {
            $this->assertStringContainsString('id="crmhooks-url-activecampaign-' . $action . '" readonly value="' . esc_attr($home . '?wpf_action=' . $action . '&access_key=YOURACCESSKEY') . '"', $page['body']);
            $this->assertStringContainsString('id="crmhooks-url-ontraport-' . $action . '" readonly value="' . esc_attr($home . '?wpf_action=' . $action . '&access_key=YOURACCESSKEY&contact_id=[Contact ID]') . '"', $page['body']);
            $this->assertStringContainsString('class="button crmhooks-copy" data-target="crmhooks-url-activecampaign-' . $action . '"', $page['body']);
        }
        // The stack serves http://: the ActiveCampaign note says webhooks will not arrive.
        $this->assertStringContainsString('so ActiveCampaign will not send webhooks to it', $page['body']);
        $this->assertStringNotContainsString(CrmHooks_Test_Site::access_key(), $page['body']);
    }

    public function test_test_connection_answers_in_words_and_clears_the_notice(): void
    {
        $cookie = $this->admin_cookie();
        $this->assertStringContainsString('crmhooks is not connected yet.', $this->get('/wp-admin/index.php', $cookie)['body'], 'the notice is on every admin page until tested');

        $reached = $this->test_connection($cookie);
        $this->assertTrue($reached['success'], json_encode($reached));
        $this->assertSame('reached', $reached['data']['result']);
        $this->assertStringStartsWith('Account reached:', $reached['data']['message']);
        $this->assertStringNotContainsString('crmhooks is not connected yet.', $this->get('/wp-admin/index.php', $cookie)['body']);

        // A changed credential is another connection: not tested, the notice is back.
        CrmHooks_Test_Site::set_settings(array('ac_api_token' => 'wrong-token'));
        $refused = $this->test_connection($cookie);
        $this->assertFalse($refused['success']);
        $this->assertSame('refused', $refused['data']['result']);
        $this->assertStringStartsWith('Credentials refused:', $refused['data']['message']);
        $this->assertStringContainsString('crmhooks is not connected yet.', $this->get('/wp-admin/index.php', $cookie)['body']);

        CrmHooks_Test_Site::restore_settings();
        CrmHooks_Test_Site::set_settings(array('ac_base_url' => 'http://127.0.0.1:' . ((int) getenv('CRMHOOKS_PORT_BASE') + self::DEAD_PORT_OFFSET)));
        $dead = $this->test_connection($cookie);
        $this->assertFalse($dead['success']);
        $this->assertSame('unreachable', $dead['data']['result']);
        $this->assertStringStartsWith('Host unreachable:', $dead['data']['message']);
        $this->assertStringNotContainsString('wrong-token', $dead['data']['message']);

        // Ontraport's credentials go through the same test.
        CrmHooks_Test_Site::restore_settings();
        CrmHooks_Test_Site::set_settings(array('crm' => 'ontraport'));
        $this->assertSame('reached', $this->test_connection($cookie)['data']['result']);
        CrmHooks_Test_Site::set_settings(array('op_api_key' => 'wrong-key'));
        $this->assertSame('refused', $this->test_connection($cookie)['data']['result']);
    }

    public function test_test_connection_needs_the_nonce_and_the_capability(): void
    {
        $ajax = '/wp-admin/admin-ajax.php';
        $admin = $this->admin_cookie();
        $forged = $this->post($ajax, array('action' => 'crmhooks_test_connection', '_ajax_nonce' => 'bogus'), $admin);
        $this->assertSame(403, $forged['status']);
        $missing = $this->post($ajax, array('action' => 'crmhooks_test_connection'), $admin);
        $this->assertSame(403, $missing['status']);
        $nonce = $this->test_nonce($admin);
        $sub = $this->post($ajax, array('action' => 'crmhooks_test_connection', '_ajax_nonce' => $nonce), $this->subscriber_cookie());
        $this->assertSame(403, $sub['status']);
        foreach (array($forged, $missing, $sub) as $refused) {
            $this->assertStringNotContainsString('reached', $refused['body']);
        }
        CrmHooks_Test_Site::fresh();
        $this->assertFalse(get_option(CrmHooks_Admin::TESTED_OPTION), 'nothing was tested');
        $this->assertSame(array(), $this->crm_requests(), 'the CRM was never asked');
    }

    public function test_invalid_values_are_refused_by_name_and_not_saved(): void
    {
        $cookie = $this->admin_cookie();
        CrmHooks_Test_Site::set_settings(array('queue_max' => 500, 'field_map' => array(array('crm_key' => '1', 'wp_key' => 'crmhooks_level'))));
        $saved = $this->save($cookie, array('queue_max' => '-5', 'field_map' => array(array('crm_key' => '1', 'wp_key' => 'crmhooks_level'), array('crm_key' => '2', 'wp_key' => 'wp_capabilities'))));
        $text = self::text($saved['body']);
        $this->assertStringContainsString('Queue limit: enter a whole number from 1 to 1000000. The saved value was kept.', $text);
        $this->assertStringContainsString('Field map: "wp_capabilities" is a protected user meta key', $text);
        $this->assertStringNotContainsString('Settings saved.', $text);
        CrmHooks_Test_Site::fresh();
        $this->assertSame(500, CrmHooks_Settings::get('queue_max'));
        $this->assertSame(array(array('crm_key' => '1', 'wp_key' => 'crmhooks_level')), CrmHooks_Settings::get('field_map'));

        // The control case: a valid value is saved under "Settings saved."
        $saved = $this->save($cookie, array('queue_max' => '750'));
        $this->assertStringContainsString('Settings saved.', self::text($saved['body']));
        CrmHooks_Test_Site::fresh();
        $this->assertSame(750, CrmHooks_Settings::get('queue_max'));
    }

    public function test_the_catch_up_schedule_can_be_set_and_switched_off(): void
    {
        $cookie = $this->admin_cookie();
        $saved = $this->save($cookie, array('reconcile_interval_mins' => '2'));
        $this->assertStringContainsString('Catch up every (minutes): enter a whole number from 5 to 1440. The saved value was kept.', self::text($saved['body']));
        CrmHooks_Test_Site::fresh();
        $this->assertSame(15, CrmHooks_Settings::get('reconcile_interval_mins'));
        $this->save($cookie, array('reconcile_interval_mins' => '30', 'reconcile_enabled' => '0', 'reconcile_rate_share' => '10'));
        CrmHooks_Test_Site::fresh();
        $this->assertSame(30, CrmHooks_Settings::get('reconcile_interval_mins'));
        $this->assertFalse(CrmHooks_Settings::get('reconcile_enabled'));
        $this->assertSame(10, CrmHooks_Settings::get('reconcile_rate_share'));
    }

    public function test_the_field_map_offers_the_crms_own_fields(): void
    {
        $cookie = $this->admin_cookie();
        $before = $this->get(self::PAGE, $cookie);
        $this->assertStringContainsString('<input type="text" class="regular-text code" id="crmhooks_field_map_0_crm"', $before['body'], 'no listing yet: typed');

        $this->assertTrue($this->test_connection($cookie)['success']);
        $page = $this->get(self::PAGE, $cookie);
        $this->assertSame(1, preg_match('#<select id="crmhooks_field_map_0_crm" name="crmhooks_settings\[field_map\]\[0\]\[crm_key\]">(.*?)</select>#s', $page['body'], $select));
        $fields = CrmHooks_Test_Standin::state()['activecampaign']['fields'];
        $this->assertNotEmpty($fields);
        foreach ($fields as $field) {
            $this->assertStringContainsString('<option value="' . esc_attr((string) $field['id']) . '">' . esc_html($field['title'] . ' (' . $field['id'] . ')') . '</option>', $select[1]);
        }
        $this->assertStringContainsString('<option value="email">', $select[1], 'standard fields too');

        // A mapping saved from the rows keeps the stored format.
        $this->save($cookie, array('field_map' => array(array('crm_key' => (string) $fields[0]['id'], 'wp_key' => 'crmhooks_level'), array('crm_key' => '', 'wp_key' => ''))));
        CrmHooks_Test_Site::fresh();
        $this->assertSame(array(array('crm_key' => (string) $fields[0]['id'], 'wp_key' => 'crmhooks_level')), CrmHooks_Settings::get('field_map'));
        $this->assertStringContainsString('<option value="' . esc_attr((string) $fields[0]['id']) . '" selected=\'selected\'>', $this->get(self::PAGE, $cookie)['body']);
    }

    public function test_the_plugins_screen_links_to_the_settings(): void
    {
        $page = $this->get('/wp-admin/plugins.php', $this->admin_cookie());
        $this->assertSame(200, $page['status']);
        $this->assertSame(1, preg_match('#<tr[^>]*data-plugin="crmhooks/crmhooks.php".*?</tr>#s', $page['body'], $row));
        $this->assertStringContainsString('<a href="' . esc_url(CrmHooks_Test_Site::url(self::PAGE)) . '">Settings</a>', $row[0]);
    }

    /** Which CRM-specific rows the page shows: setting => shown|hidden. */
    private function crm_rows(string $html): array
    {
        preg_match_all('#<tr class="crmhooks-crm crmhooks-crm-\w+( hidden)?"><th scope="row"><label for="crmhooks_(\w+)">#', $html, $rows, PREG_SET_ORDER);
        $out = array();
        foreach ($rows as $row) {
            $out[$row[2]] = $row[1] === '' ? 'shown' : 'hidden';
        }
        return $out;
    }

    private function test_nonce(string $cookie): string
    {
        $page = $this->get(self::PAGE, $cookie);
        $this->assertSame(1, preg_match('/id="crmhooks-test-connection" data-nonce="([0-9a-f]+)"/', $page['body'], $m));
        return $m[1];
    }

    /** Presses Test connection: the JSON answer. */
    private function test_connection(string $cookie): array
    {
        $response = $this->post('/wp-admin/admin-ajax.php', array('action' => 'crmhooks_test_connection', '_ajax_nonce' => $this->test_nonce($cookie)), $cookie);
        $this->assertSame(200, $response['status'], $response['body']);
        CrmHooks_Test_Site::fresh();
        return (array) json_decode($response['body'], true);
    }

    /** Submits the settings form as the page has it, with `$changes`; returns the page after the redirect. */
    private function save(string $cookie, array $changes): array
    {
        $page = $this->get(self::PAGE, $cookie);
        $this->assertSame(1, preg_match('/name="_wpnonce" value="([0-9a-f]+)"/', $page['body'], $nonce));
        $fields = array(
            'option_page'       => 'crmhooks',
            'action'            => 'update',
            '_wpnonce'          => $nonce[1],
            '_wp_http_referer'  => self::PAGE,
            'crmhooks_settings' => $changes,
        );
        $posted = $this->post('/wp-admin/options.php', $fields, $cookie);
        $this->assertSame(302, $posted['status'], self::text($posted['body']));
        $this->assertStringContainsString('page=crmhooks', $posted['location']);
        $this->assertStringStartsWith('/wp-admin/options-general.php', $posted['location'], 'back to the page (wp_get_referer)');
        $after = $this->get($posted['location'], $cookie);
        $this->assertSame(200, $after['status'], $posted['location']);
        return $after;
    }
}

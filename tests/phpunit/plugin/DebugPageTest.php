<?php
/**
 * A browser GET of a webhook URL shows the debug page to a logged-in administrator only; it is a
 * dry run, escaped, with passwords masked.
 */

declare(strict_types=1);

require_once __DIR__ . '/PluginTestCase.php';

final class DebugPageTest extends CrmHooks_Plugin_TestCase
{
    private const PASSWORD = 'Test-Admin-Pass-4821';

    public function test_administrator_sees_a_dry_run_debug_page(): void
    {
        CrmHooks_Test_Site::set_settings(array('return_password' => true, 'password_field' => '9'));
        CrmHooks_Test_Standin::put_contact('ac', '42', array(
            'email' => 'jane.doe@example.com', 'first_name' => '<script>alert(1)</script>', 'last_name' => 'Doe', 'phone' => '',
            'tags' => array('member'), 'fields' => array('1' => 'Gold', '9' => 'S3cret-Stored-Pass'),
        ));
        $this->make_user('debug.admin@example.com', 'administrator', self::PASSWORD);
        $cookie = $this->login_cookie('debug.admin_example.com', self::PASSWORD);

        $page = $this->http('GET', $this->webhook_url(array('wpf_action' => 'add', 'contact_id' => '42')), null, array('Cookie: ' . $cookie));
        $this->assertSame(200, $page['status'], $page['body']);
        $this->assertStringContainsString('text/html', $page['content_type']);
        $this->assertStringContainsString('jane.doe@example.com', $page['body'], 'shows the contact loaded from the CRM');
        $this->assertStringContainsString('create_user', $page['body'], 'shows the plan');
        $this->assertStringContainsString('&lt;script&gt;', $page['body']);
        $this->assertStringNotContainsString('<script>alert', $page['body']);
        $this->assertStringNotContainsString('S3cret-Stored-Pass', $page['body'], 'password values are masked');
        $this->assertMatchesRegularExpression('/user_pass&quot;: &quot;\*{8}&quot;|user_pass": "\*{8}"/', $page['body']);
        $this->assertStringNotContainsString(CrmHooks_Test_Site::access_key(), $page['body']);

        $this->assertSame(array(), $this->users_for('jane.doe@example.com', '42'), 'dry run: nothing applied');
        $this->assertSame('S3cret-Stored-Pass', $this->standin_contact('ac', '42')['fields']['9'], 'nothing written to the CRM');
    }

    public function test_debug_page_still_needs_the_key(): void
    {
        $this->make_user('debug.admin@example.com', 'administrator', self::PASSWORD);
        $cookie = $this->login_cookie('debug.admin_example.com', self::PASSWORD);
        $page = $this->http('GET', $this->webhook_url(array('wpf_action' => 'add', 'contact_id' => '42', 'access_key' => 'wrong')), null, array('Cookie: ' . $cookie));
        $this->assertSame(401, $page['status']);
        $this->assertStringNotContainsString('<html', $page['body']);
    }

    public function test_other_users_get_the_plain_answer(): void
    {
        $this->make_user('debug.subscriber@example.com', 'subscriber', self::PASSWORD);
        $cookie = $this->login_cookie('debug.subscriber_example.com', self::PASSWORD);
        $page = $this->http('GET', $this->webhook_url(array('wpf_action' => 'update_tags', 'contact_id' => '42')), null, array('Cookie: ' . $cookie));
        $this->assertSame(200, $page['status']);
        $this->assertStringContainsString('application/json', $page['content_type']);
        $this->assertSame(array('success' => true, 'status' => 'processed'), json_decode($page['body'], true));

        $anonymous = $this->http('GET', $this->webhook_url(array('wpf_action' => 'update_tags', 'contact_id' => '42')));
        $this->assertSame($page['body'], $anonymous['body']);
    }

    public function test_debug_page_reads_as_sections_with_a_diff_and_the_json_behind_a_disclosure(): void
    {
        CrmHooks_Test_Site::set_settings(array(
            'role_allowlist' => array('subscriber', 'author'),
            'field_map'      => array(array('crm_key' => '1', 'wp_key' => 'membership_level'), array('crm_key' => '9', 'wp_key' => 'portal_password')),
        ));
        CrmHooks_Test_Standin::put_contact('ac', '42', array(
            'email' => 'jane.doe@example.com', 'first_name' => 'Jane', 'last_name' => 'Doe', 'phone' => '',
            'tags' => array('member', 'vip'), 'fields' => array('1' => 'Gold', '9' => 'New-Secret-Pass-2'),
        ));
        $jane = $this->make_user('jane.doe@example.com');
        wp_update_user(array('ID' => $jane, 'first_name' => 'Janet', 'last_name' => 'Doe'));
        update_user_meta($jane, 'crmhooks_contact_id', '42');
        update_user_meta($jane, 'membership_level', 'Silver');
        update_user_meta($jane, 'portal_password', 'Old-Secret-Pass-1');
        CrmHooks_Users::store_tags($jane, array(array('id' => '', 'name' => 'member'), array('id' => '', 'name' => 'trial')));
        $this->make_user('debug.admin@example.com', 'administrator', self::PASSWORD);
        $cookie = $this->login_cookie('debug.admin_example.com', self::PASSWORD);

        $page = $this->http('GET', $this->webhook_url(array('wpf_action' => 'update', 'contact_id' => '42', 'role' => 'author')), null, array('Cookie: ' . $cookie));
        $this->assertSame(200, $page['status'], $page['body']);
        $html = $page['body'];
        foreach (array('crmhooks-request', 'crmhooks-contact', 'crmhooks-user', 'crmhooks-changes') as $section) {
            $this->assertStringContainsString('<table id="' . $section . '">', $html);
        }
        $changes = (string) strstr(strstr($html, '<table id="crmhooks-changes">'), '</table>', true);
        $this->assertStringContainsString('<span class="crmhooks-added">+ vip</span>', $changes);
        $this->assertStringContainsString('<span class="crmhooks-removed">− trial</span>', $changes);
        $this->assertStringContainsString('<th scope="row">first_name</th><td><span class="crmhooks-old">Janet</span> → <span class="crmhooks-new">Jane</span>', $changes);
        $this->assertStringContainsString('<th scope="row">membership_level</th><td><span class="crmhooks-old">Silver</span> → <span class="crmhooks-new">Gold</span>', $changes);
        $this->assertStringContainsString('<span class="crmhooks-old">subscriber</span> → <span class="crmhooks-new">author</span>', $changes);
        $this->assertStringContainsString('<span class="crmhooks-old">********</span> → <span class="crmhooks-new">********</span>', $changes, 'password fields masked on both sides');
        $this->assertMatchesRegularExpression('#<details id="crmhooks-raw"><summary>[^<]+</summary><pre>\{\n#', $html, 'the JSON sits behind a disclosure');
        foreach (array('New-Secret-Pass-2', 'Old-Secret-Pass-1', CrmHooks_Test_Site::access_key()) as $secret) {
            $this->assertStringNotContainsString($secret, $html);
        }
        $this->assertSame(array('member', 'trial'), $this->tag_names($jane), 'still a dry run');
        $this->assertSame('Silver', get_user_meta($jane, 'membership_level', true));
    }
}

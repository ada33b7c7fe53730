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
}

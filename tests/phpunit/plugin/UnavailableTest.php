<?php
/**
 * Without a usable library the site keeps working: webhooks answer 503 {"success":false,
 * "error":"unavailable"} with a log entry, and administrators are told what to change.
 * Runs the handler in this process with the library path pointed at nothing.
 */

declare(strict_types=1);

require_once __DIR__ . '/PluginTestCase.php';

final class UnavailableTest extends CrmHooks_Plugin_TestCase
{
    private $previous_lib;
    private array $server;
    private array $get;

    protected function setUp(): void
    {
        parent::setUp();
        $this->previous_lib = getenv('CRMHOOKS_LIB');
        $this->server = $_SERVER;
        $this->get = $_GET;
        putenv('CRMHOOKS_LIB=/nonexistent/libcrmhooks-gone.so');
        CrmHooks_Native::reset_for_tests();
    }

    protected function tearDown(): void
    {
        putenv($this->previous_lib === false ? 'CRMHOOKS_LIB' : 'CRMHOOKS_LIB=' . $this->previous_lib);
        CrmHooks_Native::reset_for_tests();
        $_SERVER = $this->server;
        $_GET = $this->get;
        delete_option(CrmHooks_Webhook::NATIVE_STATUS_OPTION);
        wp_set_current_user(0);
        parent::tearDown();
    }

    private static function refused(string $reason): int
    {
        foreach (CrmHooks_Log::refusals(time() - HOUR_IN_SECONDS) as $row) {
            if ($row['reason'] === $reason) {
                return (int) $row['refused'];
            }
        }
        return 0;
    }

    public function test_webhook_answers_503_and_is_counted_and_admins_are_told(): void
    {
        global $wpdb;
        $_GET = array('wpf_action' => 'add', 'contact_id' => '42', 'access_key' => CrmHooks_Test_Site::access_key());
        $_SERVER['REQUEST_METHOD'] = 'GET';
        $_SERVER['QUERY_STRING'] = http_build_query($_GET);
        $this->assertTrue(CrmHooks_Webhook::is_webhook_request());

        $log_rows = (int) $wpdb->get_var("SELECT COUNT(*) FROM {$wpdb->prefix}crmhooks_log");
        $counted = self::refused('unavailable');
        $answer = CrmHooks_Webhook::handle();
        $this->assertSame(503, $answer['status']);
        $this->assertSame(array('success' => false, 'error' => 'unavailable'), $answer['body']);
        // Counted (constant storage), not logged per request.
        $this->assertSame($counted + 1, self::refused('unavailable'));
        $this->assertSame($log_rows, (int) $wpdb->get_var("SELECT COUNT(*) FROM {$wpdb->prefix}crmhooks_log"));

        // Admin notice names the missing file and the fix.
        wp_set_current_user(1);
        ob_start();
        CrmHooks_Health::admin_notice();
        $notice = (string) ob_get_clean();
        $this->assertStringContainsString('/nonexistent/libcrmhooks-gone.so', $notice);
        $this->assertStringContainsString('CRMHOOKS_LIB', $notice, 'what set the path');
        $this->assertStringNotContainsString('scripts/', $notice, 'words for a site owner, never a development script');
        $health = CrmHooks_Health::site_health_test();
        $this->assertSame('critical', $health['status']);

        // Subscribers see nothing.
        wp_set_current_user($this->make_user('notice.sub@example.com'));
        ob_start();
        CrmHooks_Health::admin_notice();
        $this->assertSame('', ob_get_clean());
    }

    public function test_plain_requests_are_not_webhooks(): void
    {
        $_GET = array('p' => '1', 'action' => 'add');
        $_POST = array();
        $this->assertFalse(CrmHooks_Webhook::is_webhook_request());
        $_GET = array('crmhooks_action' => 'test');
        $this->assertTrue(CrmHooks_Webhook::is_webhook_request());
    }
}

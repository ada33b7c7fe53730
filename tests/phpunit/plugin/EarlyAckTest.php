<?php
/**
 * The must-use loader (CrmHooks_Early): async webhooks are answered on muplugins_loaded, before
 * regular plugins load, with the job and its log entry written in one transaction; what needs
 * the full WordPress (inline processing) still gets it; deactivation removes the loader, and a
 * loader left behind by an inactive plugin does nothing.
 *
 * A probe mu-plugin adds a response header on plugins_loaded: it can only reach the answer when
 * regular plugins loaded before the answer was sent.
 */

declare(strict_types=1);

require_once __DIR__ . '/PluginTestCase.php';

final class EarlyAckTest extends CrmHooks_Plugin_TestCase
{
    private const PROBE = 'crmhooks-test-probe.php';

    protected function setUp(): void
    {
        parent::setUp();
        $this->assertTrue(CrmHooks_Early::installed(), 'activation installed the loader into mu-plugins');
        $probe = "<?php\nadd_action('plugins_loaded', static function () { if (! headers_sent()) { header('X-Crmhooks-Probe: plugins_loaded'); } });\n";
        file_put_contents(WPMU_PLUGIN_DIR . '/' . self::PROBE, $probe);
    }

    protected function tearDown(): void
    {
        @unlink(WPMU_PLUGIN_DIR . '/' . self::PROBE);
        if (! is_plugin_active('crmhooks/crmhooks.php')) {
            CrmHooks_Early::uninstall();
            activate_plugin('crmhooks/crmhooks.php');
        }
        parent::tearDown();
    }

    private function newest(string $table): int
    {
        global $wpdb;
        return (int) $wpdb->get_var("SELECT COALESCE(MAX(id), 0) FROM {$wpdb->prefix}{$table}");
    }

    public function test_async_webhook_is_answered_before_plugins_load_with_job_and_log_together(): void
    {
        global $wpdb;
        CrmHooks_Test_Site::set_settings(array('async' => true));
        $jobs_before = $this->newest('crmhooks_jobs');
        $log_before = $this->newest('crmhooks_log');
        $response = $this->hook(array('wpf_action' => 'update', 'contact_id' => '42'));
        $this->assertSame(200, $response['status'], 'body: ' . $response['body']);
        $this->assertArrayNotHasKey('x-crmhooks-probe', array_change_key_case($response['headers']), 'answered before regular plugins loaded');

        $jobs = $wpdb->get_results($wpdb->prepare("SELECT id, contact_key FROM {$wpdb->prefix}crmhooks_jobs WHERE id > %d", $jobs_before), ARRAY_A);
        $logs = $wpdb->get_results($wpdb->prepare("SELECT outcome, message FROM {$wpdb->prefix}crmhooks_log WHERE id > %d AND outcome = 'received'", $log_before), ARRAY_A);
        $this->assertCount(1, $jobs, 'one job stored');
        $this->assertSame(array(array('outcome' => 'received', 'message' => 'queued as job ' . $jobs[0]['id'])), $logs, 'its log entry names it');
    }

    public function test_inline_webhook_still_loads_every_plugin(): void
    {
        // The control case: async=false processes inline, after regular plugins loaded.
        $response = $this->hook(array('wpf_action' => 'update', 'contact_id' => '42', 'async' => 'false'));
        $this->assertProcessed($response);
        $this->assertSame('plugins_loaded', array_change_key_case($response['headers'])['x-crmhooks-probe'] ?? null);
    }

    public function test_deactivation_removes_the_loader_and_a_stray_loader_does_nothing(): void
    {
        deactivate_plugins('crmhooks/crmhooks.php');
        $this->assertFileDoesNotExist(CrmHooks_Early::path(), 'deactivation removed the loader');

        // A loader left behind (the plugin inactive) must not answer webhooks.
        $this->assertTrue(CrmHooks_Early::install());
        $response = $this->hook(array('wpf_action' => 'test'));
        $this->assertNull($response['json'], 'the inactive plugin answered: ' . substr($response['body'], 0, 200));

        CrmHooks_Early::uninstall();
        activate_plugin('crmhooks/crmhooks.php');
        $this->assertTrue(CrmHooks_Early::installed(), 'activation installs it again');
        require_once CRMHOOKS_INCLUDES . 'admin/class-crmhooks-health.php';
        $this->assertSame('good', CrmHooks_Health::early_test()['status'], 'Site Health says webhooks are answered early');
        $this->assertSame(array('success' => true), $this->hook(array('wpf_action' => 'test'))['json']);
    }
}

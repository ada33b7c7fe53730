<?php
/**
 * A request without a webhook parameter does no FFI work, the must-use loader included: checked
 * in a fresh PHP process that loads the site for a plain page view and reads CrmHooks_Native's
 * instance counter.
 */

declare(strict_types=1);

require_once __DIR__ . '/PluginTestCase.php';

final class PageViewTest extends CrmHooks_Plugin_TestCase
{
    /** Loads wp-load.php in a subprocess for a GET with $get, prints the counter at shutdown. */
    private function native_instances_for(array $get): array
    {
        $site = parse_url(CrmHooks_Test_Site::url('/'));
        $code = '$_SERVER["HTTP_HOST"] = ' . var_export($site['host'] . ':' . $site['port'], true) . ';'
            . '$_SERVER["REQUEST_METHOD"] = "GET"; $_SERVER["SERVER_PROTOCOL"] = "HTTP/1.1";'
            . '$_GET = ' . var_export($get, true) . ';'
            . '$_SERVER["QUERY_STRING"] = http_build_query($_GET); $_SERVER["REQUEST_URI"] = "/?" . $_SERVER["QUERY_STRING"];'
            . 'register_shutdown_function(static function () {'
            . '  echo "\nRESULT=" . json_encode(array('
            . '    "loaded" => class_exists("CrmHooks_Native", false),'
            . '    "instances" => class_exists("CrmHooks_Native", false) ? CrmHooks_Native::$instances : -1,'
            . '    "init" => did_action("init")));'
            . '});'
            . 'require ' . var_export(CrmHooks_Test_Site::wp_dir() . '/wp-load.php', true) . ';';
        $output = (string) shell_exec(escapeshellarg(PHP_BINARY) . ' -d display_errors=stderr -r ' . escapeshellarg($code) . ' 2>/dev/null');
        $this->assertMatchesRegularExpression('/RESULT=(\{.*\})/', $output);
        preg_match('/RESULT=(\{.*\})/', $output, $m);
        return json_decode($m[1], true);
    }

    public function test_plain_page_view_never_loads_the_library(): void
    {
        $this->assertTrue(CrmHooks_Early::installed(), 'the must-use loader runs in this page view too');
        $result = $this->native_instances_for(array('p' => '1'));
        $this->assertSame(1, $result['init'], 'WordPress ran init with the plugin active');
        $this->assertTrue($result['loaded'], 'the plugin is active in the subprocess');
        $this->assertSame(0, $result['instances']);
    }

    public function test_webhook_request_does_load_the_library(): void
    {
        // The control case: the same subprocess with a webhook parameter loads it once.
        $result = $this->native_instances_for(array('wpf_action' => 'test', 'access_key' => 'wrong'));
        $this->assertSame(1, $result['instances']);
    }
}

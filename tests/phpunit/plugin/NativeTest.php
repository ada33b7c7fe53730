<?php
/**
 * The real libcrmhooks loaded in this PHPUnit (CLI) process through CrmHooks_Native: every
 * exported function, error codes and messages, and the actionable failures.
 */

declare(strict_types=1);

require_once __DIR__ . '/PluginTestCase.php';

final class NativeTest extends CrmHooks_Plugin_TestCase
{
    private CrmHooks_Native $native;

    protected function setUp(): void
    {
        parent::setUp();
        $this->native = CrmHooks_Native::get();
    }

    private function ac_config(string $token = 'ac-test-token'): string
    {
        return (string) json_encode(array('crm' => 'activecampaign', 'base_url' => CrmHooks_Test_Standin::url(), 'api_token' => $token, 'allow_http_loopback' => true));
    }

    private function op_config(): string
    {
        return (string) json_encode(array('crm' => 'ontraport', 'base_url' => CrmHooks_Test_Standin::url() . '/1/', 'app_id' => 'op-test-app', 'api_key' => 'op-test-key', 'allow_http_loopback' => true));
    }

    /** Runs $fn, expects CrmHooks_Native_Error with $code, returns it. */
    private function expect_error(int $code, callable $fn): CrmHooks_Native_Error
    {
        try {
            $fn();
        } catch (CrmHooks_Native_Error $e) {
            $this->assertSame($code, $e->getCode(), $e->getMessage());
            return $e;
        }
        $this->fail('expected ' . CrmHooks_Native::result_name($code));
    }

    public function test_version_matches_the_plugin(): void
    {
        $this->assertSame(CRMHOOKS_VERSION, $this->native->abi_version());
        $this->assertSame(CRMHOOKS_VERSION, CrmHooks_Native::VERSION);
        $this->assertSame($this->native, CrmHooks_Native::get(), 'memoized per process');
    }

    public function test_result_names_and_codes_come_from_the_library(): void
    {
        $this->assertSame(22, CrmHooks_Native::CRM_RATE_LIMITED, 'generated from the Rust enum');
        $this->assertSame('crm_rate_limited', CrmHooks_Native::result_name(CrmHooks_Native::CRM_RATE_LIMITED));
        $this->assertSame('unauthorized', CrmHooks_Native::result_name(CrmHooks_Native::UNAUTHORIZED));
        $this->assertSame('ok', CrmHooks_Native::result_name(CrmHooks_Native::OK));
        $this->assertSame('result_10', CrmHooks_Native::result_name(10), 'no name for a value that is no result');
        $this->assertSame('result_-1', CrmHooks_Native::result_name(-1));
        foreach ((new ReflectionClass(CrmHooks_Result_Codes::class))->getConstants() as $constant => $code) {
            $this->assertSame(strtolower($constant), CrmHooks_Native::result_name($code));
        }
        $e = $this->expect_error(CrmHooks_Native::INVALID_JSON, fn() => $this->native->plan('{'));
        $this->assertStringContainsString('failed: invalid_json (', $e->getMessage(), 'the name and the last error both reach the message');
    }

    public function test_keys(): void
    {
        $a = $this->native->key_generate();
        $b = $this->native->key_generate();
        $this->assertMatchesRegularExpression('/^[A-Za-z0-9_-]{22,}$/', $a);
        $this->assertNotSame($a, $b);
    }

    public function test_webhook_receive_accepts_the_key_and_refuses_everything_else_alike(): void
    {
        $key = 'Kx7-secret-key-0123456789';
        $accepted = $this->native->webhook_receive('POST', 'wpf_action=update&access_key=' . $key, 'application/x-www-form-urlencoded', 'contact%5Bid%5D=42&contact%5Bemail%5D=jane.doe%40example.com', $key);
        $this->assertSame('accept', $accepted['verdict']);
        $this->assertSame('update', $accepted['request']['action']);
        $this->assertSame('42', $accepted['request']['contact_id']);
        $this->assertStringNotContainsString($key, (string) json_encode($accepted));

        $wrong = $this->native->webhook_receive('GET', 'wpf_action=add&access_key=wrong', '', '', $key);
        $this->assertSame(array('refuse', 'unauthorized', 401), array($wrong['verdict'], $wrong['reason'], $wrong['answer']['status']));
        $this->assertStringNotContainsString($key, (string) json_encode($wrong));
        $this->assertStringNotContainsString('wrong', (string) json_encode($wrong));
        $missing = $this->native->webhook_receive('GET', 'wpf_action=add', '', '', $key);
        $this->assertSame($wrong['answer'], $missing['answer'], 'every auth failure gets the same answer');
        $unconfigured = $this->native->webhook_receive('GET', 'wpf_action=add&access_key=', '', '', '');
        $this->assertSame($wrong['answer'], $unconfigured['answer'], 'no key configured fails closed');

        $unknown = $this->native->webhook_receive('GET', 'wpf_action=nuke&access_key=' . $key, '', '', $key);
        $this->assertSame(array('refuse', 'unknown_action', 400), array($unknown['verdict'], $unknown['reason'], $unknown['answer']['status']));
    }

    public function test_test_only_exports_are_not_in_the_shipped_library(): void
    {
        // The library the plugin loads is built without the `test-exports` feature.
        $lib = CrmHooks_Native::library_path();
        $this->assertInstanceOf(\FFI::class, \FFI::cdef('const char *crmh_abi_version(void);', $lib), 'control: a shipped export resolves');
        foreach (array('crmh_selftest_panic', 'crmh_request_parse', 'crmh_webhook_accept', 'crmh_diff_tags', 'crmh_diff_fields', 'crmh_lock_decide', 'crmh_key_verify') as $symbol) {
            try {
                \FFI::cdef('unsigned int ' . $symbol . '(void);', $lib);
                $this->fail($symbol . ' is exported by the shipped library');
            } catch (\FFI\Exception $e) {
                $this->assertStringContainsString($symbol, $e->getMessage());
            }
            $this->assertStringNotContainsString($symbol, (string) file_get_contents(CrmHooks_Native::cdef_path()));
        }
    }

    public function test_plan_for_a_new_user(): void
    {
        $plan = $this->native->plan((string) json_encode(array(
            'request'  => array('action' => 'add', 'contact_id' => '42', 'email' => null, 'role' => 'administrator', 'send_notification' => false, 'async' => null, 'event' => array('fields' => new stdClass())),
            'contact'  => array('id' => '42', 'email' => 'jane.doe@example.com', 'first_name' => 'Jane', 'last_name' => 'Doe', 'tags' => array(array('id' => '3', 'name' => 'member')), 'fields' => array()),
            'user'     => null,
            'settings' => CrmHooks_Settings::plan_settings(),
        )));
        $this->assertSame('add', $plan['action']);
        $create = array_values(array_filter($plan['ops'], static fn(array $op): bool => $op['op'] === 'create_user'));
        $this->assertCount(1, $create);
        $this->assertSame('jane.doe@example.com', $create[0]['user_email']);
        $this->assertSame('subscriber', $create[0]['role'], 'administrator is never granted');
        $this->assertNotEmpty($plan['notices']);
    }

    public function test_a_document_goes_in_as_an_array_encoded_by_one_rule(): void
    {
        $doc = array('user_login' => 'jane/doe', 'login_numbered' => false, 'taken' => array('jane/doe', 'Zoë'));
        $this->assertSame('{"user_login":"jane/doe","login_numbered":false,"taken":["jane/doe","Zoë"]}', CrmHooks_Native::json($doc), 'slashes and Unicode as they are');
        $this->assertSame($this->native->login_choose((string) json_encode($doc)), $this->native->login_choose($doc), 'an array is the same document as its JSON text');
        $this->assertSame("{\"name\":\"ab\u{FFFD}c\"}", CrmHooks_Native::json(array('name' => "ab\xFFc")), 'invalid UTF-8 (a broken meta value) is replaced, not the whole document lost');
        $this->assertSame('', CrmHooks_Native::json(array('n' => NAN)), 'what JSON cannot hold gives no document');
        $this->expect_error(CrmHooks_Native::INVALID_JSON, fn() => $this->native->login_choose(array('n' => NAN)));
    }

    public function test_invalid_json_is_refused_without_echoing_input(): void
    {
        $e = $this->expect_error(CrmHooks_Native::INVALID_JSON, fn() => $this->native->plan('{"request": "SECRET-VALUE-123"'));
        $this->assertStringNotContainsString('SECRET-VALUE-123', $e->last_error);
        $this->assertNotSame('', $e->last_error);
    }

    public function test_crm_calls_against_the_standin(): void
    {
        $contact = $this->native->crm_load_contact($this->ac_config(), '{"contact_id":"42"}');
        $this->assertSame('42', $contact['id']);
        $this->assertSame('jane.doe@example.com', $contact['email']);
        $this->assertSame(array('member'), array_column($contact['tags'], 'name'));

        $this->assertSame('42', $this->native->crm_load_contact($this->ac_config(), '{"email":"jane.doe@example.com"}')['id']);
        $this->expect_error(CrmHooks_Native::CRM_NOT_FOUND, fn() => $this->native->crm_load_contact($this->ac_config(), '{"email":"nobody@example.com"}'));

        $this->assertSame(array('ok' => true), $this->native->crm_write_field($this->ac_config(), '{"contact_id":"42","field":"9","value":"pw-from-test"}'));
        $this->assertSame('pw-from-test', $this->standin_contact('ac', '42')['fields']['9']);

        $this->assertSame(array('ok' => true), $this->native->crm_change_tags($this->ac_config(), '{"contact_id":"42","add":["vip"],"remove":["member"]}'));
        $this->assertSame(array('vip'), $this->standin_contact('ac', '42')['tag_names']);

        $op = $this->native->crm_load_contact($this->op_config(), '{"contact_id":"27"}');
        $this->assertSame('jane.doe@example.com', $op['email']);
        $this->assertEqualsCanonicalizing(array('Member', 'VIP'), array_column($op['tags'], 'name'));
    }

    public function test_crm_errors_map_to_codes_without_secrets(): void
    {
        $this->expect_error(CrmHooks_Native::CRM_NOT_FOUND, fn() => $this->native->crm_load_contact($this->ac_config(), '{"contact_id":"99999"}'));
        $this->expect_error(CrmHooks_Native::CRM_NOT_FOUND, fn() => $this->native->crm_load_contact($this->op_config(), '{"contact_id":"99999"}'));
        $e = $this->expect_error(CrmHooks_Native::CRM_UNAUTHORIZED, fn() => $this->native->crm_load_contact($this->ac_config('wrong-token-xyz'), '{"contact_id":"42"}'));
        $this->assertStringNotContainsString('wrong-token-xyz', $e->last_error);

        CrmHooks_Test_Standin::add_fault(array('crm' => 'ac', 'path_regex' => null, 'kind' => 'status', 'status' => 429, 'retry_after' => 30, 'count' => 20));
        $e = $this->expect_error(CrmHooks_Native::CRM_RATE_LIMITED, fn() => $this->native->crm_load_contact($this->ac_config(), '{"contact_id":"42"}'));
        $this->assertSame(30, $e->retry_after);
        CrmHooks_Test_Standin::clear_faults();

        CrmHooks_Test_Standin::add_fault(array('crm' => 'ac', 'path_regex' => null, 'kind' => 'status', 'status' => 500, 'count' => 20));
        $this->expect_error(CrmHooks_Native::CRM_TEMPORARY, fn() => $this->native->crm_load_contact($this->ac_config(), '{"contact_id":"42"}'));
    }

    public function test_missing_library_gives_an_actionable_message(): void
    {
        $previous = getenv('CRMHOOKS_LIB');
        putenv('CRMHOOKS_LIB=/nonexistent/libcrmhooks-test.so');
        CrmHooks_Native::reset_for_tests();
        try {
            CrmHooks_Native::get();
            $this->fail('expected CrmHooks_Native_Unavailable');
        } catch (CrmHooks_Native_Unavailable $e) {
            $this->assertStringContainsString('/nonexistent/libcrmhooks-test.so', $e->getMessage());
            $this->assertStringContainsString('missing', $e->getMessage());
            $this->assertStringContainsString('CRMHOOKS_LIB', $e->getMessage());
            $this->assertStringNotContainsString('scripts/', $e->getMessage());
        } finally {
            putenv($previous === false ? 'CRMHOOKS_LIB' : 'CRMHOOKS_LIB=' . $previous);
            CrmHooks_Native::reset_for_tests();
        }
        $this->assertSame(CRMHOOKS_VERSION, CrmHooks_Native::get()->abi_version(), 'loads again once the path is right');
    }

    /** A PHP process outside WordPress that only loads the wrapper and prints what get() says. */
    private function subprocess_script(): string
    {
        $dir = dirname(__DIR__, 3) . '/php-shim/includes';
        return 'require ' . var_export($dir . '/class-crmhooks-native-unavailable.php', true) . ';'
            . 'require ' . var_export($dir . '/class-crmhooks-native-error.php', true) . ';'
            . 'require ' . var_export($dir . '/class-crmhooks-native.php', true) . ';'
            . 'try { echo "OK " . CrmHooks_Native::get()->abi_version(); } catch (CrmHooks_Native_Unavailable $e) { echo "UNAVAILABLE " . $e->getMessage(); }';
    }

    public function test_preload_mode_loads_through_ffi_scope(): void
    {
        // opcache.preload compiles the wrapper; ffi.preload declares scope CRMH. A web SAPI
        // (php -S) under ffi.enable=preload may then use the library through FFI::scope only.
        $dir = sys_get_temp_dir() . '/crmhooks-scope-test-' . getmypid();
        @mkdir($dir);
        $header = '#define FFI_SCOPE "CRMH"' . "\n" . '#define FFI_LIB "' . CrmHooks_Native::library_path() . '"' . "\n"
            . file_get_contents(CrmHooks_Native::cdef_path());
        file_put_contents($dir . '/crmhooks-test-preload.h', $header);
        file_put_contents($dir . '/index.php', '<?php try { $n = CrmHooks_Native::get(); echo "OK ", $n->mode, " ", $n->abi_version(); }'
            . ' catch (Throwable $e) { echo "FAIL ", $e->getMessage(); }');
        chmod($dir, 0755);
        $body = $this->serve($dir, array(
            '-d', 'ffi.enable=preload', '-d', 'opcache.enable=1', '-d', 'opcache.enable_cli=1',
            '-d', 'ffi.preload=' . $dir . '/crmhooks-test-preload.h',
            '-d', 'opcache.preload=' . dirname(__DIR__, 3) . '/php-shim/preload.php',
            '-d', 'opcache.preload_user=www-data',
        ));
        @unlink($dir . '/crmhooks-test-preload.h');
        $this->assertSame('OK scope ' . CRMHOOKS_VERSION, $body);
    }

    /** Serves $dir with `php $ini -S` on a free port and returns the body of GET /. */
    private function serve(string $dir, array $ini): string
    {
        $probe = stream_socket_server('tcp://127.0.0.1:0');
        $port = (int) substr(strrchr(stream_socket_get_name($probe, false), ':'), 1);
        fclose($probe);
        $cmd = array_merge(array(PHP_BINARY), $ini, array('-S', '127.0.0.1:' . $port, '-t', $dir));
        $proc = proc_open($cmd, array(0 => array('pipe', 'r'), 1 => array('file', '/dev/null', 'w'), 2 => array('file', '/dev/null', 'w')), $pipes);
        $this->assertIsResource($proc);
        try {
            $body = false;
            for ($i = 0; $i < 100 && $body === false; $i++) {
                usleep(50000);
                $body = @file_get_contents('http://127.0.0.1:' . $port . '/');
            }
            $this->assertIsString($body, 'php -S answered');
            return $body;
        } finally {
            proc_terminate($proc);
            proc_close($proc);
            @unlink($dir . '/index.php');
            @rmdir($dir);
        }
    }

    public function test_ffi_disabled_gives_an_actionable_message(): void
    {
        $out = (string) shell_exec(escapeshellarg(PHP_BINARY) . ' -d ffi.enable=0 -r ' . escapeshellarg($this->subprocess_script()) . ' 2>&1');
        $this->assertStringStartsWith('UNAVAILABLE', $out);
        $this->assertStringContainsString('php_admin_value[ffi.enable] = 1', $out);
    }

    public function test_ffi_enable_preload_under_a_web_sapi_gives_an_actionable_message(): void
    {
        // The CLI may cdef under ffi.enable=preload; a web SAPI may not. Use the built-in server.
        $dir = sys_get_temp_dir() . '/crmhooks-preload-test-' . getmypid();
        @mkdir($dir);
        file_put_contents($dir . '/index.php', '<?php ' . $this->subprocess_script());
        $body = $this->serve($dir, array('-d', 'ffi.enable=preload'));
        $this->assertStringStartsWith('UNAVAILABLE', $body);
        $this->assertStringContainsString('ffi.enable=preload', $body);
        $this->assertStringContainsString('php_admin_value[ffi.enable] = 1', $body);
        $this->assertStringContainsString('opcache.preload=', $body);
    }
}

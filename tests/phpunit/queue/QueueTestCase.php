<?php
/**
 * Shared helpers for the queue tests: webhooks over real HTTP into the stack's site (async mode),
 * the drainer running after the response in php-fpm or, where a test needs it, in this process
 * (the same code WP-Cron and "process now" run), and final state read from the database.
 */

declare(strict_types=1);

use PHPUnit\Framework\TestCase;

abstract class CrmHooks_Queue_TestCase extends TestCase
{
    /** Short windows and leases so the whole queue suite stays quick. */
    protected const BASE_SETTINGS = array(
        'crm'                  => 'activecampaign',
        'default_role'         => 'subscriber',
        'role_allowlist'       => array('subscriber'),
        'field_map'            => array(),
        'username_format'      => 'email',
        'return_password'      => false,
        'password_field'       => '',
        'async'                => true,
        'queue_max'            => 1000,
        'max_attempts'         => 8,
        'retention_days'       => 7,
        'loopback_window_secs' => 0,
        'settle_secs'          => 1,
        'lease_secs'           => 60,
        'retry_base_secs'      => 1,
        'retry_max_secs'       => 2,
        'drain_budget_secs'    => 15,
        'drain_batch'          => 100,
    );

    protected function setUp(): void
    {
        parent::setUp();
        CrmHooks_Test_Standin::reset(null);
        CrmHooks_Test_Standin::clear_faults();
        $this->clear_queue();
        CrmHooks_Test_Site::delete_test_users();
        CrmHooks_Test_Site::set_settings(static::BASE_SETTINGS);
    }

    /** Must-use plugins and scratch files this test wrote (install_mu_plugin, scratch_file): tearDown removes them. */
    private array $written_files = array();

    protected function tearDown(): void
    {
        foreach ($this->written_files as $path) {
            @unlink($path);
        }
        $this->written_files = array();
        CrmHooks_Test_Standin::clear_faults();
        CrmHooks_Test_Standin::config(array('op_background_delay_ms' => 0));
        $this->clear_queue();
        CrmHooks_Test_Site::delete_test_users();
        CrmHooks_Test_Site::restore_settings();
        parent::tearDown();
    }

    protected function clear_queue(): void
    {
        global $wpdb;
        $wpdb->query("DELETE FROM {$wpdb->prefix}crmhooks_jobs");
        $wpdb->query("DELETE FROM {$wpdb->prefix}crmhooks_writes");
    }

    /** A webhook URL with the right key. */
    protected function webhook_url(array $query): string
    {
        return CrmHooks_Test_Site::url('/') . '?' . http_build_query($query + array('access_key' => CrmHooks_Test_Site::access_key()));
    }

    protected function hook(array $query): array
    {
        $response = CrmHooks_Test_Site::webhook('GET', $query + array('access_key' => CrmHooks_Test_Site::access_key()));
        CrmHooks_Test_Site::fresh();
        return $response;
    }

    protected function assertQueued(array $response): void
    {
        $this->assertSame(200, $response['status'], 'body: ' . $response['body']);
        $this->assertSame(array('success' => true, 'status' => 'queued'), $response['json']);
    }

    /**
     * GETs all URLs at once (curl_multi).
     *
     * @return array<int, array{status:int, body:string, json:mixed}>
     */
    protected function parallel_get(array $urls): array
    {
        $multi = curl_multi_init();
        $handles = array();
        foreach ($urls as $i => $url) {
            $handle = curl_init($url);
            curl_setopt_array($handle, array(CURLOPT_RETURNTRANSFER => true, CURLOPT_TIMEOUT => 60, CURLOPT_CONNECTTIMEOUT => 5));
            curl_multi_add_handle($multi, $handle);
            $handles[ $i ] = $handle;
        }
        do {
            $status = curl_multi_exec($multi, $running);
            if ($running > 0) {
                curl_multi_select($multi, 0.5);
            }
        } while ($running > 0 && $status === CURLM_OK);
        $responses = array();
        foreach ($handles as $i => $handle) {
            $body = (string) curl_multi_getcontent($handle);
            $responses[ $i ] = array('status' => (int) curl_getinfo($handle, CURLINFO_RESPONSE_CODE), 'body' => $body, 'json' => json_decode($body, true));
            curl_multi_remove_handle($multi, $handle);
            curl_close($handle);
        }
        curl_multi_close($multi);
        return $responses;
    }

    /** Every job row, oldest first. */
    /** Queues a request the way a webhook does: the library's key, the site's account. */
    protected function enqueue(array $request): ?array
    {
        $request += array('contact_id' => null, 'email' => null, 'role' => null, 'send_notification' => false, 'async' => null);
        $request['event'] = empty($request['event']) ? new stdClass() : $request['event'];
        $key = CrmHooks_Jobs::decide(array('kind' => 'accept', 'now' => time(), 'request' => $request, 'nonce' => bin2hex(random_bytes(4)), 'backlog' => 0))['contact_key'];
        return CrmHooks_Jobs::enqueue($key, $request, CrmHooks_Settings::account_id());
    }

    protected function jobs(): array
    {
        global $wpdb;
        return (array) $wpdb->get_results("SELECT * FROM {$wpdb->prefix}crmhooks_jobs ORDER BY id", ARRAY_A);
    }

    protected function failed_jobs(): array
    {
        global $wpdb;
        return (array) $wpdb->get_results("SELECT * FROM {$wpdb->prefix}crmhooks_jobs WHERE status = 'failed' ORDER BY id DESC", ARRAY_A);
    }

    /** As the Queue screen's bulk "Retry" does: each failed job back in the queue. */
    protected function retry_all_failed(): int
    {
        return count(array_filter(array_map(static fn(array $job): bool => CrmHooks_Jobs::retry_failed((int) $job['id']), $this->failed_jobs())));
    }

    /** Waits until no job is queued or running (with $drain, also draining here as WP-Cron would). */
    protected function wait_until_idle(int $timeout_secs, bool $drain = false): void
    {
        if (!CrmHooks_Test_Site::wait_until_queue_idle($timeout_secs, $drain)) {
            $this->fail('jobs still pending after ' . $timeout_secs . ' s: ' . json_encode($this->jobs()));
        }
    }

    /** Waits until no drainer of this site holds the lock (one may still run from a webhook, or its standby). */
    protected function wait_for_drainers(): void
    {
        global $wpdb;
        $deadline = microtime(true) + 30;
        while ($wpdb->get_var($wpdb->prepare('SELECT IS_USED_LOCK(%s)', CrmHooks_Worker::lock_name())) !== null && microtime(true) < $deadline) {
            usleep(200000);
        }
    }

    /** Writes a must-use plugin into the site ($code: its PHP after the opening tag); tearDown removes it. */
    protected function install_mu_plugin(string $name, string $code): void
    {
        $dir = CrmHooks_Test_Site::wp_dir() . '/wp-content/mu-plugins';
        if (! is_dir($dir)) {
            mkdir($dir, 0755, true);
        }
        $path = $dir . '/crmhooks-test-' . $name . '-' . getmypid() . '.php';
        file_put_contents($path, "<?php\n// Written and removed by " . static::class . " (tests/phpunit/queue).\n" . $code);
        chmod($path, 0644);
        $this->written_files[] = $path;
    }

    /** A path in the temporary directory for this test to write (a must-use plugin's marker); tearDown removes it. */
    protected function scratch_file(string $name): string
    {
        $path = sys_get_temp_dir() . '/crmhooks-' . $name . '-' . getmypid();
        $this->written_files[] = $path;
        return $path;
    }

    /** Polls $probe until it returns a non-null value. */
    protected function wait_for(callable $probe, int $timeout_secs, string $what)
    {
        $deadline = microtime(true) + $timeout_secs;
        while (microtime(true) < $deadline) {
            $value = $probe();
            if ($value !== null) {
                return $value;
            }
            usleep(100000);
        }
        $this->fail('timed out waiting for ' . $what);
    }

    /** IDs of users with this email or this stored contact ID. */
    protected function users_for(string $email, string $contact_id = ''): array
    {
        global $wpdb;
        CrmHooks_Test_Site::fresh();
        $ids = $wpdb->get_col($wpdb->prepare("SELECT ID FROM {$wpdb->users} WHERE user_email = %s", $email));
        if ($contact_id !== '') {
            $ids = array_merge($ids, $wpdb->get_col($wpdb->prepare("SELECT user_id FROM {$wpdb->usermeta} WHERE meta_key = 'crmhooks_contact_id' AND meta_value = %s", $contact_id)));
        }
        return array_values(array_unique(array_map('intval', $ids)));
    }

    protected function tag_names(int $user_id): array
    {
        CrmHooks_Test_Site::fresh();
        $tags = get_user_meta($user_id, 'crmhooks_tags', true);
        return array_map(static fn(array $t): string => (string) $t['name'], is_array($tags) ? $tags : array());
    }

    /** Stand-in API requests (control calls left out) matching a method and an exact path. */
    protected function crm_requests(string $method, string $path): array
    {
        return array_values(array_filter(
            CrmHooks_Test_Standin::log(),
            static fn(array $e): bool => in_array($e['crm'] ?? '', array('ac', 'op'), true) && ($e['method'] ?? '') === $method && ($e['path'] ?? '') === $path
        ));
    }

    /** crmhooks_log rows newer than $after_id. */
    protected function log_rows(int $after_id = 0): array
    {
        global $wpdb;
        return (array) $wpdb->get_results($wpdb->prepare("SELECT * FROM {$wpdb->prefix}crmhooks_log WHERE id > %d ORDER BY id", $after_id), ARRAY_A);
    }

    protected function last_log_id(): int
    {
        global $wpdb;
        return (int) $wpdb->get_var("SELECT COALESCE(MAX(id), 0) FROM {$wpdb->prefix}crmhooks_log");
    }

    /** An ActiveCampaign contact in the stand-in. */
    protected function ac_contact(string $id, string $email, array $tags = array(), string $first = 'Test'): void
    {
        CrmHooks_Test_Standin::put_contact('ac', $id, array('email' => $email, 'first_name' => $first, 'last_name' => 'Contact' . $id, 'phone' => '', 'tags' => $tags, 'fields' => new stdClass()));
    }
}

<?php
/**
 * Shared helpers for the Queue and Activity screens: an administrator and a subscriber logged in
 * over HTTP, jobs in every state written as the queue writes them, and two ways to keep queue
 * runs from changing the jobs while a test reads the screen: WP-Cron's queue run is postponed for
 * every test, and a test may hold the drainer lock itself (every other run then stops at once).
 */

declare(strict_types=1);

require_once __DIR__ . '/../plugin/PluginTestCase.php';

abstract class CrmHooks_Admin_Screens_TestCase extends CrmHooks_Plugin_TestCase
{
    protected const PASSWORD = 'Screens-Admin-Pass-5521';

    protected function setUp(): void
    {
        parent::setUp();
        $this->clear_tables();
        // The admin pages spawn WP-Cron; its queue run must not race "Process now".
        wp_clear_scheduled_hook(CrmHooks_Worker::CRON_HOOK);
        wp_schedule_event(time() + HOUR_IN_SECONDS, CrmHooks_Worker::CRON_SCHEDULE, CrmHooks_Worker::CRON_HOOK);
        CrmHooks_Test_Site::set_settings(array('async' => true, 'loopback_window_secs' => 60, 'settle_secs' => 2));
    }

    protected function tearDown(): void
    {
        $this->release_drainer_lock();
        $this->clear_tables();
        wp_clear_scheduled_hook(CrmHooks_Worker::CRON_HOOK);
        CrmHooks_Worker::ensure_scheduled();
        parent::tearDown();
    }

    protected function clear_tables(): void
    {
        global $wpdb;
        foreach (array('crmhooks_jobs', 'crmhooks_log', 'crmhooks_writes', 'crmhooks_refusals') as $table) {
            $wpdb->query("DELETE FROM {$wpdb->prefix}{$table}");
        }
    }

    /** Queue runs elsewhere see the lock taken and stop at once (CrmHooks_Worker::run()). */
    protected function hold_drainer_lock(): void
    {
        $this->assertSame('1', CrmHooks_Jobs::lock(CrmHooks_Worker::lock_name(), 10));
    }

    protected function release_drainer_lock(): void
    {
        CrmHooks_Jobs::unlock(CrmHooks_Worker::lock_name());
    }

    protected function admin_cookie(): string
    {
        $this->make_user('screens.admin@example.com', 'administrator', self::PASSWORD);
        return $this->login_cookie('screens.admin_example.com', self::PASSWORD);
    }

    protected function subscriber_cookie(): string
    {
        $this->make_user('screens.sub@example.com', 'subscriber', self::PASSWORD);
        return $this->login_cookie('screens.sub_example.com', self::PASSWORD);
    }

    protected function get(string $path, string $cookie): array
    {
        return $this->http('GET', CrmHooks_Test_Site::url($path), null, array('Cookie: ' . $cookie));
    }

    protected function post(string $path, array $fields, string $cookie): array
    {
        return $this->http('POST', CrmHooks_Test_Site::url($path), http_build_query($fields), array('Cookie: ' . $cookie, 'Content-Type: application/x-www-form-urlencoded'));
    }

    /** A job row as the queue writes it; `$columns` override the defaults. Returns its ID. */
    protected function insert_job(array $columns): int
    {
        global $wpdb;
        $now = time();
        $contact = (string) ($columns['contact'] ?? '42');
        unset($columns['contact']);
        $wpdb->insert($wpdb->prefix . 'crmhooks_jobs', $columns + array(
            'contact_key'    => 'id:' . $contact,
            'account'        => CrmHooks_Settings::account_id(),
            'action'         => 'update',
            'request_json'   => (string) json_encode(array('action' => 'update', 'contact_id' => $contact, 'email' => null)),
            'status'         => 'queued',
            'attempts'       => 0,
            'run_after'      => $now - 5,
            'lease_until'    => 0,
            'worker'         => '',
            'received_count' => 1,
            'created_at'     => $now - 60,
            'updated_at'     => $now - 30,
            'last_error'     => '',
            'outcome'        => '',
        ));
        $this->assertGreaterThan(0, (int) $wpdb->insert_id, (string) $wpdb->last_error);
        return (int) $wpdb->insert_id;
    }

    /**
     * One job in every state (and every reason a job is deferred or running), as the queue and
     * the drainer leave them.
     *
     * @return array<string,int> name => job ID
     */
    protected function jobs_in_every_state(): array
    {
        global $wpdb;
        $now = time();
        // Our own CRM write to contact 51 ten seconds ago: its job waits for the window's end.
        $wpdb->insert($wpdb->prefix . 'crmhooks_writes', array('contact_key' => 'id:51', 'last_write_at' => $now - 10));
        return array(
            'queued'              => $this->insert_job(array('contact' => '50', 'queued_key' => 'id:50')),
            'deferred_loopback'   => $this->insert_job(array('contact' => '51', 'queued_key' => 'id:51', 'run_after' => $now + 50)),
            'deferred_settle'     => $this->insert_job(array('contact' => '52', 'queued_key' => 'id:52', 'run_after' => $now + 25, 'received_count' => 3)),
            'deferred_rate_limit' => $this->insert_job(array('contact' => '53', 'queued_key' => 'id:53', 'run_after' => $now + 30, 'attempts' => 1, 'outcome' => 'crm_rate_limited', 'last_error' => 'crm_rate_limited')),
            'running'             => $this->insert_job(array('contact' => '54', 'status' => 'running', 'attempts' => 1, 'lease_until' => $now + 50, 'worker' => 'web1:4242')),
            'running_expired'     => $this->insert_job(array('contact' => '55', 'status' => 'running', 'attempts' => 1, 'lease_until' => $now - 5, 'worker' => 'web1:4243')),
            'retrying'            => $this->insert_job(array('contact' => '56', 'queued_key' => 'id:56', 'run_after' => $now + 40, 'attempts' => 2, 'outcome' => 'crm_temporary', 'last_error' => 'the CRM answered HTTP 502')),
            'failed'              => $this->insert_job(array('contact' => '57', 'status' => 'failed', 'attempts' => 1, 'outcome' => 'crm_unauthorized', 'last_error' => 'the CRM refused the API token (HTTP 401)')),
            'skipped_not_found'   => $this->insert_job(array('contact' => '58', 'status' => 'done', 'attempts' => 1, 'outcome' => 'contact_not_found', 'last_error' => 'contact not found in the CRM')),
            'skipped_conflict'    => $this->insert_job(array('contact' => '59', 'status' => 'failed', 'attempts' => 1, 'outcome' => 'conflict', 'last_error' => 'two WordPress users are linked to this contact; nothing was written')),
            'done'                => $this->insert_job(array('contact' => '42', 'status' => 'done', 'attempts' => 1, 'outcome' => 'updated')),
        );
    }

    /** The jobs table's row of one job on a Queue page, or '' when the page does not list it. */
    protected function job_row(string $html, int $id): string
    {
        foreach (explode('<tr', $html) as $row) {
            if (strpos($row, 'name="job[]" value="' . $id . '"') !== false) {
                return $row;
            }
        }
        return '';
    }

    /** Text without tags and with entities decoded, for reading sentences on a page. */
    protected static function text(string $html): string
    {
        return (string) preg_replace('/\s+/', ' ', html_entity_decode(strip_tags($html), ENT_QUOTES | ENT_HTML5, 'UTF-8'));
    }

    protected function job(int $id): ?array
    {
        global $wpdb;
        CrmHooks_Test_Site::fresh();
        $row = $wpdb->get_row($wpdb->prepare("SELECT * FROM {$wpdb->prefix}crmhooks_jobs WHERE id = %d", $id), ARRAY_A);
        return is_array($row) ? $row : null;
    }

    protected function job_count(): int
    {
        global $wpdb;
        return (int) $wpdb->get_var("SELECT COUNT(*) FROM {$wpdb->prefix}crmhooks_jobs");
    }
}

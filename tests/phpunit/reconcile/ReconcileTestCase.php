<?php
/**
 * Shared helpers for the reconcile suite: contacts in the stand-in, users linked to them, the
 * sweep and import states, and the tick run in this process (the code WP-Cron runs). Short
 * settle and retry settings, and the whole rate for the sweep and imports, keep the suite quick.
 */

declare(strict_types=1);

require_once dirname(__DIR__) . '/queue/QueueTestCase.php';

abstract class CrmHooks_Reconcile_TestCase extends CrmHooks_Queue_TestCase
{
    protected const BASE_SETTINGS = parent::BASE_SETTINGS + array(
        'reconcile_enabled'       => true,
        'reconcile_interval_mins' => 1440,
        'reconcile_rate_share'    => 100,
        'import_rate_share'       => 100,
    );


    protected function setUp(): void
    {
        parent::setUp();
        $this->clear_states();
        // A pass just completed: background WP-Cron ticks find no sweep due; the tests force one.
        $this->store(CrmHooks_Reconcile::SWEEP_OPTION, array('mark' => time() - 5));
    }

    protected function tearDown(): void
    {
        $this->clear_states();
        parent::tearDown();
    }

    protected function clear_states(): void
    {
        global $wpdb;
        $wpdb->query($wpdb->prepare("DELETE FROM {$wpdb->options} WHERE option_name IN (%s, %s)", CrmHooks_Reconcile::SWEEP_OPTION, CrmHooks_Reconcile::IMPORT_OPTION));
    }

    protected function store(string $option, array $state): void
    {
        $this->assertNull(CrmHooks_Jobs::enqueue_page(array(), $option, $state));
    }

    protected function stored(string $option): array
    {
        global $wpdb;
        return (array) json_decode((string) $wpdb->get_var($wpdb->prepare("SELECT option_value FROM {$wpdb->options} WHERE option_name = %s", $option)), true);
    }

    /** $count ActiveCampaign contacts from $first_id, each with a WordPress user linked by contact ID. */
    protected function linked_contacts(int $first_id, int $count): array
    {
        $ids = CrmHooks_Test_Standin::create_contacts('ac', array('count' => $count, 'first_id' => $first_id, 'email' => 'rec{id}@example.com', 'first_name' => 'Old{id}'));
        $users = array();
        foreach ($ids as $id) {
            $user_id = wp_insert_user(array('user_login' => 'rec' . $id, 'user_email' => 'rec' . $id . '@example.com', 'user_pass' => wp_generate_password(), 'first_name' => 'Old' . $id, 'role' => 'subscriber'));
            $this->assertIsInt($user_id);
            update_user_meta($user_id, CrmHooks_Users::META_CONTACT_ID, $id);
            $users[ $id ] = $user_id;
        }
        return $users;
    }

    /** Changes contacts in the CRM; their webhooks go to a dead port (the site is down) and fail. */
    protected function change_while_site_is_down(array $ids): void
    {
        $touched = CrmHooks_Test_Standin::touch(array('crm' => 'ac', 'ids' => array_map('strval', $ids), 'changes' => array('first_name' => 'New{id}'), 'webhook' => array('kind' => 'ac_account', 'url' => $this->dead_url())));
        $this->assertCount(count($ids), $touched['touched']);
        $this->assertSame(array(0), array_values(array_unique(array_column($touched['deliveries'], 'status'))), 'every webhook failed to arrive');
    }

    /** The last port of this stack's range (site port + 9), where nothing listens: as a site that is down. */
    protected function dead_url(): string
    {
        return 'http://127.0.0.1:' . ((int) parse_url(CrmHooks_Test_Site::url('/'), PHP_URL_PORT) + 9) . '/?wpf_action=update';
    }

    /** Jobs the sweep queued, per contact key. */
    protected function sweep_jobs(): array
    {
        return array_count_values(array_column(array_filter($this->jobs(), static fn(array $j): bool => (json_decode($j['request_json'], true)['event']['type'] ?? '') === 'reconcile'), 'contact_key'));
    }
}

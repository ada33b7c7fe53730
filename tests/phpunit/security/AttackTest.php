<?php
/**
 * The attack suite: what a holder of the access key tries (issue "Close the trust boundary"),
 * over HTTP into the real site, asserting the database afterwards. The worst a key holder may
 * do is make the site re-read true data from the CRM.
 */

declare(strict_types=1);

require_once __DIR__ . '/../plugin/PluginTestCase.php';

final class AttackTest extends CrmHooks_Plugin_TestCase
{
    /** Admin-level capabilities (the issue's eight first, then the rest of the rule). */
    private const ADMIN_CAPS = array(
        'install_plugins', 'upload_plugins', 'edit_plugins', 'activate_plugins', 'create_users', 'delete_users',
        'edit_themes', 'switch_themes', 'manage_options', 'manage_categories', 'unfiltered_html', 'unfiltered_upload',
        'edit_files', 'edit_users', 'promote_users', 'list_users', 'remove_users', 'update_core', 'update_plugins',
        'import', 'export', 'customize', 'edit_theme_options', 'edit_dashboard', 'manage_network', 'manage_sites',
        'delete_sites', 'level_10',
    );

    private const SERIALIZED_ADMIN = 'a:1:{s:13:"administrator";b:1;}';

    /** @var string[] */
    private array $roles_added = array();

    protected function setUp(): void
    {
        parent::setUp();
        require_once ABSPATH . 'wp-admin/includes/template.php'; // add_settings_error() for sanitize().
        $GLOBALS['wp_settings_errors'] = array();
    }

    protected function tearDown(): void
    {
        foreach ($this->roles_added as $slug) {
            remove_role($slug);
        }
        parent::tearDown();
    }

    private function link(int $user_id, string $contact_id): void
    {
        update_user_meta($user_id, 'crmhooks_contact_id', $contact_id);
    }

    /** Everything a webhook could change on a user, for before/after comparisons. */
    private function snapshot(int $user_id): array
    {
        CrmHooks_Test_Site::fresh();
        global $wpdb;
        $user = (array) $wpdb->get_row($wpdb->prepare("SELECT user_login, user_email, user_url, user_nicename, display_name, user_pass FROM {$wpdb->users} WHERE ID = %d", $user_id), ARRAY_A);
        $meta = $wpdb->get_results($wpdb->prepare("SELECT meta_key, meta_value FROM {$wpdb->usermeta} WHERE user_id = %d ORDER BY meta_key, umeta_id", $user_id), ARRAY_A);
        return array('user' => $user, 'meta' => $meta);
    }

    private function without_tags(array $snapshot): array
    {
        $snapshot['meta'] = array_values(array_filter($snapshot['meta'], static fn(array $m): bool => ! in_array($m['meta_key'], array('crmhooks_tags', 'crmhooks_tag_names'), true)));
        return $snapshot;
    }

    private function last_log(): array
    {
        global $wpdb;
        return (array) $wpdb->get_row("SELECT * FROM {$wpdb->prefix}crmhooks_log ORDER BY id DESC LIMIT 1", ARRAY_A);
    }

    // ---- which user a webhook touches ----

    public function test_the_email_parameter_cannot_take_over_an_account(): void
    {
        $victim = $this->make_user('victim@example.com');
        CrmHooks_Test_Standin::put_contact('ac', '66', array('email' => 'attacker@evil.test', 'first_name' => 'Eve', 'last_name' => 'Mallory', 'tags' => array('vip'), 'fields' => array('1' => 'Gold')));
        CrmHooks_Test_Site::set_settings(array('field_map' => array(array('crm_key' => '1', 'wp_key' => 'membership_level'))));
        $before = $this->snapshot($victim);
        foreach (array('update', 'add', 'update_tags') as $action) {
            $this->assertProcessed($this->hook(array('wpf_action' => $action, 'contact_id' => '66', 'email' => 'victim@example.com', 'async' => 'false')));
        }
        $this->assertSame($before, $this->snapshot($victim), 'the victim is untouched');
        $this->assertNotNull($this->user('attacker@evil.test'), 'add created the attacker\'s own account, nothing else');
        $this->assertSame('victim@example.com', get_userdata($victim)->user_email);
    }

    public function test_a_crm_email_owned_by_a_user_linked_elsewhere_is_a_conflict(): void
    {
        $victim = $this->make_user('victim@example.com');
        $this->link($victim, '42');
        CrmHooks_Test_Standin::put_contact('ac', '67', array('email' => 'victim@example.com', 'first_name' => 'Eve', 'last_name' => 'Mallory', 'tags' => array('vip'), 'fields' => array()));
        $before = $this->snapshot($victim);
        foreach (array('update', 'add', 'update_tags') as $action) {
            $this->assertProcessed($this->hook(array('wpf_action' => $action, 'contact_id' => '67')), 'no answer tells a conflict apart');
            $log = $this->last_log();
            $this->assertSame('conflict', $log['outcome'], $action);
            $this->assertStringContainsString('linked to another contact', $log['message']);
        }
        $this->assertSame($before, $this->snapshot($victim));
        $this->assertSame(array($victim), $this->users_for('victim@example.com', '67'), 'no second account either');
    }

    public function test_a_linked_user_is_never_relinked_and_two_claims_write_nothing(): void
    {
        $a = $this->make_user('a@example.com');
        $b = $this->make_user('b@example.com');
        $this->link($a, '42');
        $this->link($b, '42');
        $before = array($this->snapshot($a), $this->snapshot($b));
        $this->assertProcessed($this->hook(array('wpf_action' => 'update', 'contact_id' => '42')));
        $this->assertSame('conflict', $this->last_log()['outcome']);
        $this->assertSame($before, array($this->snapshot($a), $this->snapshot($b)));

        // One user linked to 42 whose email a CRM contact 43 now carries: 43 cannot take it.
        delete_user_meta($b, 'crmhooks_contact_id');
        CrmHooks_Test_Standin::put_contact('ac', '43', array('email' => 'a@example.com', 'first_name' => 'X', 'last_name' => 'Y', 'tags' => array(), 'fields' => array()));
        $this->assertProcessed($this->hook(array('wpf_action' => 'add', 'contact_id' => '43')));
        $this->assertSame('42', get_user_meta($a, 'crmhooks_contact_id', true));
        $this->assertSame('conflict', $this->last_log()['outcome']);
    }

    // ---- privilege ----

    public function test_custom_roles_holding_any_admin_capability_are_granted_zero_times(): void
    {
        $slugs = array();
        foreach (self::ADMIN_CAPS as $cap) {
            $slug = 'crmh_atk_' . $cap;
            add_role($slug, 'Attack ' . $cap, array('read' => true, $cap => true));
            $this->roles_added[] = $slug;
            $slugs[] = $slug;
        }
        // Allow-listed behind the settings screen's back: the webhook rule must hold anyway.
        CrmHooks_Test_Site::set_settings(array('role_allowlist' => array_merge(array('subscriber'), $slugs)));
        $user = $this->make_user('jane.doe@example.com');
        $this->link($user, '42');
        $granted = 0;
        foreach ($slugs as $slug) {
            $this->assertProcessed($this->hook(array('wpf_action' => 'update', 'contact_id' => '42', 'role' => $slug)));
            CrmHooks_Test_Site::fresh();
            $granted += in_array($slug, (array) get_userdata($user)->roles, true) ? 1 : 0;
        }
        $this->assertSame(0, $granted);
        $this->assertSame(array('subscriber'), array_values((array) get_userdata($user)->roles));

        // A new user asking for one gets the default role.
        $this->assertProcessed($this->hook(array('wpf_action' => 'add', 'contact_id' => '44', 'role' => $slugs[0])));
        $this->assertSame(array('subscriber'), array_values((array) $this->user('no.tags@example.com')->roles));
    }

    /** @return array<string, array{0:callable}> */
    public function privileged_users(): array
    {
        return array(
            'administrator'         => array(static function (int $id): void { (new WP_User($id))->set_role('administrator'); }),
            'editor'                => array(static function (int $id): void { (new WP_User($id))->set_role('editor'); }),
            'role with edit_plugins' => array(static function (int $id): void {
                add_role('crmh_atk_tinkerer', 'Tinkerer', array('read' => true, 'edit_plugins' => true));
                (new WP_User($id))->set_role('crmh_atk_tinkerer');
            }),
            'per-user install_plugins' => array(static function (int $id): void { (new WP_User($id))->add_cap('install_plugins'); }),
            'per-user custom cap'   => array(static function (int $id): void { (new WP_User($id))->add_cap('view_shop_reports'); }),
        );
    }

    /** @dataProvider privileged_users */
    public function test_privileged_users_are_read_only_to_webhooks_except_tags(callable $make_privileged): void
    {
        $this->roles_added[] = 'crmh_atk_tinkerer';
        $id = $this->make_user('boss@example.com');
        $make_privileged($id);
        wp_update_user(array('ID' => $id, 'first_name' => 'Real', 'last_name' => 'Boss', 'user_url' => 'https://boss.example', 'nickname' => 'boss', 'description' => 'the owner'));
        $this->link($id, '42');
        CrmHooks_Test_Site::set_settings(array(
            'role_allowlist' => array('subscriber'),
            'field_map'      => array(
                array('crm_key' => '1', 'wp_key' => 'user_url'),
                array('crm_key' => '1', 'wp_key' => 'nickname'),
                array('crm_key' => '1', 'wp_key' => 'description'),
                array('crm_key' => '1', 'wp_key' => 'membership_level'),
            ),
        ));
        CrmHooks_Test_Standin::put_contact('ac', '42', array('email' => 'attacker@evil.test', 'first_name' => 'Eve', 'last_name' => 'Mallory', 'tags' => array('member', 'vip'), 'fields' => array('1' => '')));
        CrmHooks_Test_Standin::put_contact('ac', '43', array('email' => 'boss@example.com', 'first_name' => 'Eve', 'last_name' => 'Mallory', 'tags' => array('vip'), 'fields' => array('1' => 'x')));
        $before = $this->without_tags($this->snapshot($id));

        $this->assertProcessed($this->hook(array('wpf_action' => 'update', 'contact_id' => '42', 'role' => 'subscriber')));
        $this->assertSame($before, $this->without_tags($this->snapshot($id)), 'nothing but tags changed');
        $this->assertEqualsCanonicalizing(array('member', 'vip'), $this->tag_names($id), 'tags still follow the CRM');
        $log = $this->last_log();
        $this->assertStringContainsString('privileged', $log['message']);
        $this->assertStringContainsString('user_email', $log['message'], 'every skipped write is named');

        // add for the administrator's email from another contact: no link, no change, no new user.
        $this->assertProcessed($this->hook(array('wpf_action' => 'add', 'contact_id' => '43', 'send_notification' => 'true')));
        $this->assertSame($before, $this->without_tags($this->snapshot($id)));
        $this->assertSame('42', get_user_meta($id, 'crmhooks_contact_id', true), 'not re-pointed');
        $this->assertSame(array($id), $this->users_for('boss@example.com'));
    }

    public function test_add_for_an_unlinked_administrators_email_changes_nothing_but_tags(): void
    {
        $id = $this->make_user('jane.doe@example.com', 'administrator');
        $before = $this->without_tags($this->snapshot($id));
        $this->assertProcessed($this->hook(array('wpf_action' => 'add', 'contact_id' => '42', 'role' => 'subscriber', 'send_notification' => 'true')));
        $this->assertSame($before, $this->without_tags($this->snapshot($id)), 'no contact link, names, role or email written');
        $this->assertSame(array('member'), $this->tag_names($id));
        $this->assertSame(array('administrator'), array_values((array) get_userdata($id)->roles));
    }

    // ---- protected meta ----

    public function test_protected_meta_is_never_written_whatever_the_spelling(): void
    {
        $keys = array(
            'wp_capabilities', 'WP_CAPABILITIES', 'Wp_Capabilities', 'wp_capabilities ', 'wp_2_capabilities', 'wp_user_level',
            'WP_2_USER_LEVEL', 'session_tokens', '_application_passwords', '_APPLICATION_PASSWORDS', 'user_activation_key',
            'default_password_nag', 'wp_user-settings', 'wp_user-settings-time', 'primary_blog', 'source_domain',
            'crmhooks_contact_id', 'crmhooks_tags', 'crmhooks_tag_names', '_any_private_key', "wp_capabilities\0",
        );
        $map = array_map(static fn(string $k): array => array('crm_key' => '1', 'wp_key' => $k), $keys);
        CrmHooks_Test_Site::set_settings(array('field_map' => $map)); // Behind the settings screen's back.
        CrmHooks_Test_Standin::put_contact('ac', '42', array('email' => 'jane.doe@example.com', 'first_name' => 'Jane', 'last_name' => 'Doe', 'tags' => array('member'), 'fields' => array('1' => self::SERIALIZED_ADMIN)));
        $id = $this->make_user('jane.doe@example.com');
        wp_update_user(array('ID' => $id, 'first_name' => 'Jane', 'last_name' => 'Doe')); // In sync: only the map could change it.
        $this->link($id, '42');
        update_user_meta($id, 'crmhooks_tags', array(array('id' => '3', 'name' => 'member')));
        update_user_meta($id, 'crmhooks_tag_names', array('member'));
        $before = $this->snapshot($id);
        foreach (array('update', 'add') as $action) {
            $this->assertProcessed($this->hook(array('wpf_action' => $action, 'contact_id' => '42')));
        }
        $this->assertSame($before, $this->snapshot($id));
        $this->assertSame(array('subscriber'), array_values((array) get_userdata($id)->roles));
        $this->assertStringContainsString('protected', $this->last_log()['message']);

        // A new user created with that map gets none of them either.
        CrmHooks_Test_Standin::put_contact('ac', '44', array('email' => 'no.tags@example.com', 'first_name' => 'N', 'last_name' => 'T', 'tags' => array(), 'fields' => array('1' => self::SERIALIZED_ADMIN)));
        $this->assertProcessed($this->hook(array('wpf_action' => 'add', 'contact_id' => '44')));
        $new = $this->user('no.tags@example.com');
        $this->assertSame(array('subscriber'), array_values((array) $new->roles));
        $this->assertSame('44', get_user_meta($new->ID, 'crmhooks_contact_id', true));

        // And the settings screen refuses each mapping with an error naming the key.
        $clean = CrmHooks_Settings_Fields::sanitize(array('field_map' => implode("\n", array_map(static fn(string $k): string => '1 = ' . $k, $keys)) . "\n1 = membership_level"));
        $this->assertSame(array(array('crm_key' => '1', 'wp_key' => 'membership_level')), $clean['field_map']);
        $errors = wp_list_pluck(get_settings_errors(CrmHooks_Settings::OPTION), 'message');
        $this->assertNotEmpty(preg_grep('/_application_passwords.*protected/', $errors));
    }

    // ---- nothing secret at rest, constant storage for refusals ----

    public function test_job_rows_hold_routing_facts_only(): void
    {
        global $wpdb;
        $wpdb->query("DELETE FROM {$wpdb->prefix}crmhooks_jobs");
        CrmHooks_Test_Site::set_settings(array('async' => true));
        $body = array(
            'type' => 'update', 'initiated_from' => 'admin', 'contact' => array(
                'id' => '42', 'email' => 'jane.doe@example.com', 'first_name' => 'Janet', 'tags' => 'secret-tag-one, secret-tag-two',
                'fields' => array('9' => 'Echoed-Passw0rd-123', '1' => 'Private-Level'),
            ),
        );
        $response = $this->hook(array('wpf_action' => 'update'), 'POST', $body);
        $this->assertSame(200, $response['status'], $response['body']);
        $rows = $wpdb->get_col("SELECT request_json FROM {$wpdb->prefix}crmhooks_jobs");
        $this->assertNotEmpty($rows);
        $all = implode("\n", $rows);
        foreach (array('Echoed-Passw0rd-123', 'Private-Level', 'secret-tag-one', 'Janet', 'jane.doe@example.com', CrmHooks_Test_Site::access_key()) as $private) {
            $this->assertStringNotContainsString($private, $all);
        }
        $job = json_decode($rows[0], true);
        $this->assertSame('42', $job['contact_id']);
        // Of the tag names only a digest is kept (the CRM client's rename check), never the names.
        $this->assertSame(array('type', 'initiated_from', 'tags_digest'), array_keys($job['event']));
        $this->assertMatchesRegularExpression('/^[0-9a-f]{16}$/', $job['event']['tags_digest']);
    }

    public function test_refused_requests_cost_constant_storage(): void
    {
        global $wpdb;
        // Jobs of earlier tests finish (and log) first, so every row counted below is ours.
        $wpdb->query("DELETE FROM {$wpdb->prefix}crmhooks_jobs WHERE status IN ('queued','running')");
        sleep(1);
        CrmHooks_Test_Site::fresh();
        $count = static fn(string $table): int => (int) $wpdb->get_var("SELECT COUNT(*) FROM {$wpdb->prefix}{$table}");
        $before = array($count('crmhooks_log'), $count('crmhooks_jobs'), $count('crmhooks_refusals'));
        $answers = array();
        for ($i = 0; $i < 150; $i++) {
            $query = array('wpf_action' => 'add', 'contact_id' => (string) $i, 'access_key' => 'wrong-' . $i);
            $answers[] = CrmHooks_Test_Site::webhook('GET', $query);
        }
        $answers[] = $this->hook(array('wpf_action' => 'add', 'contact_id' => 'abc'));
        $answers[] = $this->hook(array('wpf_action' => 'nuke', 'contact_id' => '42'));
        CrmHooks_Test_Site::fresh();
        $this->assertSame($before[0], $count('crmhooks_log'), 'no log row per refused request');
        $this->assertSame($before[1], $count('crmhooks_jobs'));
        $this->assertLessThanOrEqual($before[2] + 6, $count('crmhooks_refusals'), 'a few counter rows at most');
        $summary = array_column(CrmHooks_Log::refusals(time() - HOUR_IN_SECONDS), 'refused', 'reason');
        $this->assertGreaterThanOrEqual(150, (int) $summary['unauthorized']);
        foreach (array_slice($answers, 0, 150) as $answer) {
            $this->assertSame(array(401, '{"success":false,"error":"unauthorized"}'), array($answer['status'], $answer['body']));
        }
    }

    // ---- the door ----

    public function test_key_compare_is_exact_bytes_and_all_auth_failures_look_alike(): void
    {
        $key = CrmHooks_Test_Site::access_key();
        $answers = array();
        foreach (array($key . "\u{3000}", $key . "\u{00A0}", "\u{2003}" . $key, substr($key, 0, -1), $key . 'x', strtoupper($key)) as $given) {
            $answers[] = CrmHooks_Test_Site::webhook('GET', array('wpf_action' => 'test', 'access_key' => $given));
        }
        // Malformed requests without the right key get the very same answer as a wrong key.
        $answers[] = CrmHooks_Test_Site::request('GET', CrmHooks_Test_Site::url('/') . '?wpf_action=update&contact_id=%FF&access_key=nope');
        $answers[] = CrmHooks_Test_Site::request('GET', CrmHooks_Test_Site::url('/') . '?wpf_action=update&contact_id=abc');
        foreach ($answers as $answer) {
            $this->assertSame(array(401, '{"success":false,"error":"unauthorized"}'), array($answer['status'], $answer['body']));
        }
        $trimmed = CrmHooks_Test_Site::request('GET', CrmHooks_Test_Site::url('/') . '?wpf_action=test&access_key=+' . rawurlencode($key) . '%20');
        $this->assertSame(200, $trimmed['status'], 'ASCII spaces around a pasted key are ignored');
    }

    public function test_bad_input_is_refused_at_the_door_naming_the_parameter(): void
    {
        global $wpdb;
        CrmHooks_Test_Site::set_settings(array('async' => true));
        $jobs = (int) $wpdb->get_var("SELECT COUNT(*) FROM {$wpdb->prefix}crmhooks_jobs");
        $key = rawurlencode(CrmHooks_Test_Site::access_key());
        $cases = array(
            '?wpf_action=update&contact_id=abc'            => 'contact_id',
            '?wpf_action=update&contact_id=-42'            => 'contact_id',
            '?wpf_action=update&contact_id=%5BContact+ID%5D' => 'contact_id',
            '?wpf_action=update&contact_id=42&role=%FF'    => 'role',
            '?wpf_action=update&contact_id=42&x=%C3'       => 'x',
            '?wpf_action=update&contact_id=42&email=nope'  => 'email',
        );
        foreach ($cases as $query => $parameter) {
            $answer = CrmHooks_Test_Site::request('GET', CrmHooks_Test_Site::url('/') . $query . '&access_key=' . $key);
            $this->assertSame(400, $answer['status'], $query . ' ' . $answer['body']);
            $this->assertSame($parameter, $answer['json']['parameter'] ?? null, $query);
        }
        $answer = CrmHooks_Test_Site::request('POST', CrmHooks_Test_Site::url('/') . '?wpf_action=update&access_key=' . $key, "contact%5Bid%5D=42&contact%5Bfirst_name%5D=J%FFne", array('Content-Type' => 'application/x-www-form-urlencoded'));
        $this->assertSame(array(400, 'contact[first_name]'), array($answer['status'], $answer['json']['parameter'] ?? null));
        CrmHooks_Test_Site::fresh();
        $this->assertSame($jobs, (int) $wpdb->get_var("SELECT COUNT(*) FROM {$wpdb->prefix}crmhooks_jobs"), 'nothing queued');
    }

    public function test_a_huge_retry_after_parks_a_job_for_at_most_an_hour(): void
    {
        global $wpdb;
        CrmHooks_Test_Site::set_settings(array('async' => true, 'settle_secs' => 0));
        foreach (array('99999999999', 'Sun, 06 Nov 99999999999999 08:49:37 GMT') as $retry_after) {
            $wpdb->query("DELETE FROM {$wpdb->prefix}crmhooks_jobs");
            CrmHooks_Test_Standin::clear_faults();
            CrmHooks_Test_Standin::add_fault(array('crm' => 'ac', 'path_regex' => '^/api/3/contacts/42', 'kind' => 'status', 'status' => 429, 'retry_after' => $retry_after, 'count' => 5));
            $this->assertSame(200, $this->hook(array('wpf_action' => 'update', 'contact_id' => '42'))['status']);
            $deadline = microtime(true) + 20;
            do {
                usleep(200000);
                CrmHooks_Test_Site::fresh();
                $job = $wpdb->get_row("SELECT * FROM {$wpdb->prefix}crmhooks_jobs ORDER BY id DESC LIMIT 1", ARRAY_A);
            } while (microtime(true) < $deadline && ! (is_array($job) && (int) $job['attempts'] >= 1 && $job['status'] !== 'running'));
            $this->assertIsArray($job);
            $this->assertSame('queued', $job['status'], $retry_after . ': ' . $job['last_error']);
            $this->assertLessThanOrEqual(time() + 3600 + 5, (int) $job['run_after'], $retry_after);
        }
    }

    // ---- settings and uninstall ----

    public function test_the_settings_page_never_prints_stored_secrets(): void
    {
        $password = wp_generate_password(24);
        $admin = $this->make_user('second.admin@example.com', 'administrator', $password);
        $cookie = $this->login_cookie(get_userdata($admin)->user_login, $password);
        $page = $this->http('GET', CrmHooks_Test_Site::url('/wp-admin/options-general.php?page=crmhooks'), null, array('Cookie: ' . $cookie));
        $this->assertSame(200, $page['status']);
        $this->assertStringContainsString('name="crmhooks_settings[ac_api_token]"', $page['body']);
        foreach (array('ac-test-token', 'op-test-key', 'op-test-app', CrmHooks_Test_Site::access_key()) as $secret) {
            $this->assertStringNotContainsString($secret, $page['body']);
        }
    }

    public function test_a_blank_secret_field_keeps_the_stored_value_and_plain_http_is_refused(): void
    {
        $clean = CrmHooks_Settings_Fields::sanitize(array('ac_api_token' => '', 'op_api_key' => '  ', 'ac_base_url' => 'http://crm.example.com/'));
        $stored = CrmHooks_Settings::all();
        $this->assertSame($stored['ac_api_token'], CrmHooks_Secrets::decrypt_settings($clean)['ac_api_token']);
        $this->assertSame($stored['op_api_key'], CrmHooks_Secrets::decrypt_settings($clean)['op_api_key']);
        $this->assertSame($stored['ac_base_url'], $clean['ac_base_url'], 'plain http to a remote host is refused');
        $this->assertNotEmpty(preg_grep('/https/', wp_list_pluck(get_settings_errors(CrmHooks_Settings::OPTION), 'message')));
    }

    public function test_uninstall_removes_only_the_plugins_own_keys(): void
    {
        global $wpdb;
        $id = $this->make_user('keep.me@example.com');
        update_user_meta($id, 'crmhooks_level', 'Gold'); // An admin mapped CRM data here.
        update_user_meta($id, 'crmhooks_contact_id', '42');
        $saved = get_option(CrmHooks_Settings::OPTION);
        $script = 'define("WP_UNINSTALL_PLUGIN", "crmhooks/crmhooks.php"); $_SERVER["HTTP_HOST"] = ' . var_export((string) $_SERVER['HTTP_HOST'], true) . ';'
            . ' require ' . var_export(CrmHooks_Test_Site::wp_dir() . '/wp-load.php', true) . ';'
            . ' require ' . var_export(WP_PLUGIN_DIR . '/crmhooks/uninstall.php', true) . ';';
        exec(escapeshellarg(PHP_BINARY) . ' -r ' . escapeshellarg($script) . ' 2>&1', $output, $rc);
        try {
            $this->assertSame(0, $rc, implode("\n", $output));
            CrmHooks_Test_Site::fresh();
            wp_cache_flush();
            $this->assertSame('Gold', get_user_meta($id, 'crmhooks_level', true), 'admin-mapped data stays');
            $this->assertSame('', get_user_meta($id, 'crmhooks_contact_id', true));
            $this->assertNull($wpdb->get_var($wpdb->prepare('SHOW TABLES LIKE %s', $wpdb->prefix . 'crmhooks_refusals')));
        } finally {
            update_option(CrmHooks_Settings::OPTION, $saved);
            CrmHooks_Installer::install(); // Put the tables back for the tests that follow.
            update_option(CrmHooks_Jobs::DB_VERSION_OPTION, CrmHooks_Jobs::DB_VERSION);
        }
    }
}

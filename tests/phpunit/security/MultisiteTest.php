<?php
/**
 * Super admins on a real multisite network (the stack's second WordPress, a subdirectory install
 * with crmhooks active on its main site): webhooks treat them as privileged, so they change only
 * their tags -- never the email, names, role, meta or contact link. Webhooks go over HTTP to the
 * network's main site; a control user on the same network shows that the same webhooks do write
 * to an ordinary user.
 *
 * This PHPUnit process has the single site's WordPress loaded, so the network's WordPress work
 * (users, snapshots, settings, log rows) runs in `php -r` subprocesses that load its wp-load.php.
 */

declare(strict_types=1);

require_once __DIR__ . '/../plugin/PluginTestCase.php';

final class MultisiteTest extends CrmHooks_Plugin_TestCase
{
    /** The network's settings for every test (the single site's BASE_SETTINGS plus a field map). */
    private const MS_SETTINGS = array(
        'field_map' => array(
            array('crm_key' => '1', 'wp_key' => 'user_url'),
            array('crm_key' => '1', 'wp_key' => 'description'),
            array('crm_key' => '1', 'wp_key' => 'membership_level'),
        ),
    ) + self::BASE_SETTINGS;

    /** What the subprocess loads after the network's WordPress: admin includes and helpers. */
    private const AFTER_LOAD = <<<'PHP'
        require_once ABSPATH . 'wp-admin/includes/user.php';
        require_once ABSPATH . 'wp-admin/includes/ms.php';

        /** The users row, every usermeta row, super admin or not, roles on the main site. */
        function crmh_ms_snapshot(int $id): array
        {
            global $wpdb;
            clean_user_cache($id);
            $user = get_userdata($id);
            return array(
                'user'        => $wpdb->get_row($wpdb->prepare("SELECT * FROM {$wpdb->users} WHERE ID = %d", $id), ARRAY_A),
                'meta'        => $wpdb->get_results($wpdb->prepare("SELECT meta_key, meta_value FROM {$wpdb->usermeta} WHERE user_id = %d ORDER BY meta_key, umeta_id", $id), ARRAY_A),
                'super_admin' => is_super_admin($id),
                'roles'       => $user instanceof WP_User ? array_values((array) $user->roles) : null,
            );
        }

        /** The plugin's log table of the main site. */
        function crmh_ms_log_table(): string
        {
            global $wpdb;
            return $wpdb->get_blog_prefix(get_main_site_id()) . 'crmhooks_log';
        }
        PHP;


    /** @var mixed crmhooks_settings of the network as stored before the test (restored after). */
    private $ms_settings_before = null;

    private string $ms_url = '';

    protected function setUp(): void
    {
        parent::setUp();
        $missing = array_filter(array('CRMHOOKS_MS_SITE_URL', 'CRMHOOKS_MS_WP_DIR'), static fn(string $n): bool => (string) getenv($n) === '');
        if ($missing) {
            $this->fail('no multisite network in this stack\'s environment (missing ' . implode(', ', $missing) . '). scripts/stack.sh up always '
                . 'starts one and `eval "$(scripts/stack.sh env)"` exports these; restart a stack started by an older stack.sh.');
        }
        if (! is_file(getenv('CRMHOOKS_MS_WP_DIR') . '/wp-config.php')) {
            $this->fail('no multisite network in ' . getenv('CRMHOOKS_MS_WP_DIR') . ': this stack was started by an older stack.sh; run scripts/stack.sh down, then up.');
        }
        $this->ms_url = rtrim((string) getenv('CRMHOOKS_MS_SITE_URL'), '/');
        $this->ms_settings_before = $this->ms(<<<'PHP'
            foreach (get_users(array('blog_id' => 0, 'fields' => array('ID', 'user_login'))) as $u) {
                if ($u->user_login !== 'admin') {
                    revoke_super_admin((int) $u->ID); // wpmu_delete_user() keeps super admins.
                    if (! wpmu_delete_user((int) $u->ID)) {
                        throw new RuntimeException('could not delete the network user ' . $u->user_login);
                    }
                }
            }
            $before = get_option('crmhooks_settings');
            update_option('crmhooks_settings', array_merge(is_array($before) ? $before : array(), $in));
            return $before;
            PHP, self::MS_SETTINGS);
    }

    protected function tearDown(): void
    {
        if ($this->ms_url !== '') {
            $this->ms(<<<'PHP'
                foreach (get_users(array('blog_id' => 0, 'fields' => array('ID', 'user_login'))) as $u) {
                    if ($u->user_login !== 'admin') {
                        revoke_super_admin((int) $u->ID);
                        wpmu_delete_user((int) $u->ID);
                    }
                }
                if (is_array($in['settings'])) {
                    update_option('crmhooks_settings', $in['settings']);
                }
                return true;
                PHP, array('settings' => $this->ms_settings_before));
        }
        parent::tearDown();
    }

    /**
     * Runs `$body` (the body of a function of `$in`) in a PHP subprocess with the network's
     * WordPress loaded; returns what it returns, through JSON.
     *
     * @return mixed
     */
    private function ms(string $body, array $in = array())
    {
        return CrmHooks_Test_Site::run_in_site((string) getenv('CRMHOOKS_MS_WP_DIR'), (string) getenv('CRMHOOKS_MS_SITE_URL'), $body, $in, self::AFTER_LOAD);
    }

    /** A user of the network, made by wpmu_create_user(): no role on any site until given one. */
    private function ms_user(string $login, string $email, array $profile, string $contact_id, bool $super_admin, ?string $main_site_role = null): array
    {
        return $this->ms(<<<'PHP'
            $id = wpmu_create_user($in['login'], wp_generate_password(20), $in['email']);
            if (! $id) {
                throw new RuntimeException('wpmu_create_user failed for ' . $in['email']);
            }
            if ($in['role'] !== null) {
                add_user_to_blog(get_main_site_id(), $id, $in['role']);
            }
            if ($in['super_admin']) {
                grant_super_admin($id);
            }
            $result = wp_update_user(array('ID' => $id) + $in['profile']);
            if (is_wp_error($result)) {
                throw new RuntimeException($result->get_error_message());
            }
            if ($in['contact_id'] !== '') {
                update_user_meta($id, 'crmhooks_contact_id', $in['contact_id']);
            }
            update_user_meta($id, 'membership_level', 'Platinum');
            global $wpdb;
            return array('id' => $id, 'snapshot' => crmh_ms_snapshot($id), 'log_id' => (int) $wpdb->get_var('SELECT COALESCE(MAX(id), 0) FROM ' . crmh_ms_log_table()));
            PHP, array('login' => $login, 'email' => $email, 'profile' => $profile, 'contact_id' => $contact_id, 'super_admin' => $super_admin, 'role' => $main_site_role));
    }

    private function ms_snapshot(int $id): array
    {
        return $this->ms('return crmh_ms_snapshot((int) $in["id"]);', array('id' => $id));
    }

    /** The main site's crmhooks_log rows after `$since`, oldest first. */
    private function ms_log_since(int $since): array
    {
        return $this->ms(<<<'PHP'
            global $wpdb;
            return $wpdb->get_results($wpdb->prepare('SELECT action, contact_id, outcome, message FROM ' . crmh_ms_log_table() . ' WHERE id > %d ORDER BY id', $in['since']), ARRAY_A);
            PHP, array('since' => $since));
    }

    /** A webhook to the network's main site, over HTTP, with the right key. */
    private function ms_hook(array $query): array
    {
        return CrmHooks_Test_Site::webhook('GET', $query + array('access_key' => CrmHooks_Test_Site::access_key()), null, array(), $this->ms_url . '/');
    }

    private static function without_tags(array $snapshot): array
    {
        $snapshot['meta'] = array_values(array_filter($snapshot['meta'], static fn(array $m): bool => ! in_array($m['meta_key'], array('crmhooks_tags', 'crmhooks_tag_names'), true)));
        return $snapshot;
    }

    private static function meta(array $snapshot, string $key): ?string
    {
        foreach ($snapshot['meta'] as $row) {
            if ($row['meta_key'] === $key) {
                return $row['meta_value'];
            }
        }
        return null;
    }

    private static function tag_names_of(array $snapshot): array
    {
        $tags = unserialize((string) self::meta($snapshot, 'crmhooks_tags'), array('allowed_classes' => false));
        return array_map(static fn(array $t): string => (string) $t['name'], is_array($tags) ? $tags : array());
    }

    // ---- the network itself ----

    public function test_the_stack_serves_a_subdirectory_network_with_crmhooks_active_on_its_main_site(): void
    {
        $facts = $this->ms(<<<'PHP'
            global $wpdb;
            $settings = CrmHooks_Settings::all();
            return array(
                'multisite'      => is_multisite(),
                'subdomain'      => is_subdomain_install(),
                'main_site'      => get_main_site_id(),
                'current'        => get_current_blog_id(),
                'base_prefix'    => $wpdb->base_prefix,
                'log_table'      => (string) $wpdb->get_var($wpdb->prepare('SHOW TABLES LIKE %s', crmh_ms_log_table())),
                'active'         => is_plugin_active('crmhooks/crmhooks.php'),
                'home'           => home_url('/'),
                'async'          => (bool) $settings['async'],
                'role_allowlist' => $settings['role_allowlist'],
                'key_matches'    => hash_equals((string) $settings['access_key'], (string) $in['key']),
                'ac_base_url'    => $settings['ac_base_url'],
                'allow_http'     => defined('CRMHOOKS_DEV_ALLOW_HTTP') && CRMHOOKS_DEV_ALLOW_HTTP,
            );
            PHP, array('key' => CrmHooks_Test_Site::access_key()));
        $this->assertSame(array(
            'multisite'      => true,
            'subdomain'      => false,
            'main_site'      => 1,
            'current'        => 1,
            'base_prefix'    => 'ms_',
            'log_table'      => 'ms_crmhooks_log',
            'active'         => true,
            'home'           => $this->ms_url . '/',
            'async'          => false,
            'role_allowlist' => array('subscriber'),
            'key_matches'    => true,
            'ac_base_url'    => CrmHooks_Test_Standin::url(),
            'allow_http'     => true,
        ), $facts);
        $this->assertSame(200, CrmHooks_Test_Site::request('GET', $this->ms_url . '/')['status']);
        $this->assertSame(array('success' => true), $this->ms_hook(array('wpf_action' => 'test'))['json']);
    }

    // ---- super admins are privileged ----

    public function test_a_super_admin_is_read_only_to_webhooks_except_tags(): void
    {
        // A network account (no role on any site) whose only privilege is being a super admin.
        $boss = $this->ms_user('boss', 'boss@example.com', array('first_name' => 'Real', 'last_name' => 'Boss', 'user_url' => 'https://boss.example', 'description' => 'the owner'), '42', true);
        $id = (int) $boss['id'];
        $before = $boss['snapshot'];
        $this->assertTrue($before['super_admin']);
        $this->assertSame(array(), $before['roles'], 'no role on the main site: nothing but super admin makes this user privileged');
        $this->assertSame('42', self::meta($before, 'crmhooks_contact_id'));

        CrmHooks_Test_Standin::put_contact('ac', '42', array('email' => 'attacker@evil.test', 'first_name' => 'Eve', 'last_name' => 'Mallory', 'tags' => array('member', 'vip'), 'fields' => array('1' => 'https://evil.test/')));
        // Another contact carrying the super admin's email, asking to be linked.
        CrmHooks_Test_Standin::put_contact('ac', '66', array('email' => 'boss@example.com', 'first_name' => 'Eve', 'last_name' => 'Mallory', 'tags' => array('vip'), 'fields' => array('1' => 'x')));

        $this->assertProcessed($this->ms_hook(array('wpf_action' => 'update', 'contact_id' => '42', 'role' => 'subscriber', 'async' => 'false')));
        $after = $this->ms_snapshot($id);
        $this->assertSame(self::without_tags($before), self::without_tags($after), 'nothing but the tags changed: email, names, url, roles, meta, contact link');
        $this->assertEqualsCanonicalizing(array('member', 'vip'), self::tag_names_of($after), 'tags still follow the CRM');
        $this->assertEqualsCanonicalizing(array('member', 'vip'), unserialize((string) self::meta($after, 'crmhooks_tag_names')));
        $this->assertTrue($after['super_admin'], 'still a super admin');

        $this->assertProcessed($this->ms_hook(array('wpf_action' => 'add', 'contact_id' => '42', 'role' => 'subscriber', 'send_notification' => 'true', 'async' => 'false')));
        $this->assertProcessed($this->ms_hook(array('wpf_action' => 'add', 'contact_id' => '66', 'send_notification' => 'true', 'async' => 'false')));
        $final = $this->ms_snapshot($id);
        $this->assertSame(self::without_tags($before), self::without_tags($final), 'add changed nothing either, and did not re-link');
        $this->assertEqualsCanonicalizing(array('member', 'vip'), self::tag_names_of($final));
        $this->assertTrue($final['super_admin']);
        $this->assertSame(array($id), $this->ms('return array_map("intval", get_users(array("blog_id" => 0, "search" => "boss@example.com", "search_columns" => array("user_email"), "fields" => "ID")));'), 'no second account for the email');

        // The main site's log names each skipped write.
        $log = $this->ms_log_since((int) $boss['log_id']);
        $this->assertCount(3, $log, json_encode($log));
        foreach (array(0, 1) as $i) {
            $this->assertSame('42', $log[ $i ]['contact_id']);
            $this->assertStringContainsString('privileged', $log[ $i ]['message'], json_encode($log[ $i ]));
            foreach (array('user_email', 'first_name', 'last_name', 'role', "meta 'user_url'", "meta 'description'", "meta 'membership_level'") as $write) {
                $this->assertStringContainsString($write, $log[ $i ]['message'], "the log names the skipped write '$write'");
            }
        }
        $this->assertSame(array('update', 'add'), array($log[0]['action'], $log[1]['action']));
        $this->assertSame(array('add', '66'), array($log[2]['action'], $log[2]['contact_id']));
    }

    public function test_add_for_an_unlinked_super_admins_email_writes_no_contact_link(): void
    {
        // A subscriber of the main site made super admin, not linked; contact 42 carries its email.
        $admin = $this->ms_user('jane', 'jane.doe@example.com', array('first_name' => 'Janet', 'last_name' => 'Real'), '', true, 'subscriber');
        $id = (int) $admin['id'];
        $this->assertTrue($admin['snapshot']['super_admin']);
        $this->assertSame(array('subscriber'), $admin['snapshot']['roles'], 'a subscriber role, which alone is not privileged');
        CrmHooks_Test_Standin::put_contact('ac', '42', array('email' => 'jane.doe@example.com', 'first_name' => 'Eve', 'last_name' => 'Mallory', 'tags' => array('member', 'vip'), 'fields' => array('1' => 'https://evil.test/')));

        $this->assertProcessed($this->ms_hook(array('wpf_action' => 'add', 'contact_id' => '42', 'role' => 'subscriber', 'async' => 'false')));
        $after = $this->ms_snapshot($id);
        $this->assertSame(self::without_tags($admin['snapshot']), self::without_tags($after), 'no contact link, names, url or meta written');
        $this->assertNull(self::meta($after, 'crmhooks_contact_id'));
        $this->assertEqualsCanonicalizing(array('member', 'vip'), self::tag_names_of($after));
        $log = $this->ms_log_since((int) $admin['log_id']);
        $this->assertCount(1, $log);
        $this->assertStringContainsString('privileged', $log[0]['message']);
        $this->assertStringContainsString('contact link', $log[0]['message']);
    }

    // ---- control: the same webhooks do write to an ordinary user of the network ----

    public function test_an_ordinary_user_of_the_same_network_is_updated(): void
    {
        $carol = $this->ms_user('carol', 'carol@example.com', array('first_name' => 'Carol', 'last_name' => 'Old', 'user_url' => 'https://carol.example', 'description' => 'a member'), '43', false);
        $id = (int) $carol['id'];
        $this->assertFalse($carol['snapshot']['super_admin']);
        $this->assertSame(array(), $carol['snapshot']['roles']);
        CrmHooks_Test_Standin::put_contact('ac', '43', array('email' => 'carol.new@example.com', 'first_name' => 'Caroline', 'last_name' => 'New', 'tags' => array('member', 'vip'), 'fields' => array('1' => 'https://carol.example/new')));

        $this->assertProcessed($this->ms_hook(array('wpf_action' => 'update', 'contact_id' => '43', 'role' => 'subscriber', 'async' => 'false')));
        $after = $this->ms_snapshot($id);
        $this->assertSame(array('Caroline', 'New'), array(self::meta($after, 'first_name'), self::meta($after, 'last_name')), 'the names follow the CRM');
        $this->assertSame('carol.new@example.com', $after['user']['user_email']);
        $this->assertSame('https://carol.example/new', $after['user']['user_url']);
        $this->assertSame('https://carol.example/new', self::meta($after, 'membership_level'));
        $this->assertSame(array('subscriber'), $after['roles'], 'the allow-listed role is granted on the main site');
        $this->assertEqualsCanonicalizing(array('member', 'vip'), self::tag_names_of($after));
        $this->assertFalse($after['super_admin']);
        $log = $this->ms_log_since((int) $carol['log_id']);
        $this->assertCount(1, $log);
        $this->assertStringNotContainsString('privileged', $log[0]['message']);

        // add for the same contact: the user is found by its link, no second account.
        CrmHooks_Test_Standin::put_contact('ac', '43', array('email' => 'carol.new@example.com', 'first_name' => 'Caro', 'last_name' => 'Newer', 'tags' => array('member'), 'fields' => array('1' => 'https://carol.example/new')));
        $this->assertProcessed($this->ms_hook(array('wpf_action' => 'add', 'contact_id' => '43', 'async' => 'false')));
        $final = $this->ms_snapshot($id);
        $this->assertSame(array('Caro', 'Newer'), array(self::meta($final, 'first_name'), self::meta($final, 'last_name')));
        $this->assertSame(array('member'), self::tag_names_of($final));
    }
}

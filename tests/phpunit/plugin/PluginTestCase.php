<?php
/**
 * Shared helpers for the plugin tests: webhooks over real HTTP into the stack's site, state read
 * back with WordPress APIs in this process, the CRM stand-in reset before every test.
 */

declare(strict_types=1);

use PHPUnit\Framework\TestCase;

abstract class CrmHooks_Plugin_TestCase extends TestCase
{
    /** Settings every test starts from; webhooks are processed inline (no queue). */
    protected const BASE_SETTINGS = array(
        'crm'             => 'activecampaign',
        'default_role'    => 'subscriber',
        'role_allowlist'  => array('subscriber'),
        'field_map'       => array(),
        'username_format' => 'email',
        'return_password' => false,
        'password_field'  => '',
        'async'           => false,
    );

    protected function setUp(): void
    {
        parent::setUp();
        CrmHooks_Test_Standin::reset(null);
        CrmHooks_Test_Site::delete_test_users();
        CrmHooks_Test_Site::set_settings(self::BASE_SETTINGS);
        CrmHooks_Test_Site::fresh();
    }

    protected function tearDown(): void
    {
        CrmHooks_Test_Standin::clear_faults();
        CrmHooks_Test_Site::delete_test_users();
        CrmHooks_Test_Site::restore_settings();
        parent::tearDown();
    }

    /** A webhook with the right key added to $query. */
    /** @param string|array|null $body */
    protected function hook(array $query, string $method = 'GET', $body = null, array $headers = array()): array
    {
        $query += array('access_key' => CrmHooks_Test_Site::access_key());
        $response = CrmHooks_Test_Site::webhook($method, $query, $body, $headers);
        CrmHooks_Test_Site::fresh();
        return $response;
    }

    protected function assertProcessed(array $response): void
    {
        $this->assertSame(200, $response['status'], 'body: ' . $response['body']);
        $this->assertSame(array('success' => true, 'status' => 'processed'), $response['json']);
    }

    protected function user(string $email): ?WP_User
    {
        CrmHooks_Test_Site::fresh();
        $user = get_user_by('email', $email);
        return $user instanceof WP_User ? $user : null;
    }

    /** IDs of users whose email is $email or whose stored contact ID is $contact_id. */
    protected function users_for(string $email, string $contact_id = ''): array
    {
        CrmHooks_Test_Site::fresh();
        global $wpdb;
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

    /** API requests the stand-in received (control calls left out). */
    protected function crm_requests(): array
    {
        return array_values(array_filter(CrmHooks_Test_Standin::log(), static fn(array $e): bool => in_array($e['crm'] ?? '', array('ac', 'op'), true)));
    }

    /** The stand-in's contact as its /_control/state shows it. */
    protected function standin_contact(string $crm, string $id): ?array
    {
        $state = json_decode((string) file_get_contents(CrmHooks_Test_Standin::url() . '/_control/state'), true);
        foreach ($state[ $crm === 'ac' ? 'activecampaign' : 'ontraport' ]['contacts'] ?? array() as $contact) {
            if ((string) $contact['id'] === $id) {
                return $contact;
            }
        }
        return null;
    }

    /** A user created in this process (for "already exists" cases); deleted by delete_test_users(). */
    protected function make_user(string $email, string $role = 'subscriber', string $password = ''): int
    {
        $id = wp_insert_user(array(
            'user_login' => sanitize_user(str_replace('@', '_', $email), true),
            'user_email' => $email,
            'user_pass'  => $password !== '' ? $password : wp_generate_password(20),
            'role'       => $role,
        ));
        $this->assertIsInt($id);
        return $id;
    }

    /**
     * Logs $login in over HTTP (wp-login.php) and returns the Cookie header value.
     */
    protected function login_cookie(string $login, string $password): string
    {
        $response = $this->http('POST', CrmHooks_Test_Site::url('/wp-login.php'), http_build_query(array(
            'log' => $login, 'pwd' => $password, 'wp-submit' => 'Log In', 'testcookie' => '1',
        )), array('Content-Type: application/x-www-form-urlencoded', 'Cookie: wordpress_test_cookie=WP%20Cookie%20check'));
        $cookies = array();
        foreach ($response['set_cookies'] as $line) {
            $pair = explode(';', $line, 2)[0];
            if (strpos($pair, '=deleted') === false) {
                $cookies[] = $pair;
            }
        }
        $this->assertNotEmpty(preg_grep('/^wordpress_logged_in_/', $cookies), 'login failed for ' . $login);
        return implode('; ', $cookies);
    }

    /** Plain HTTP without following redirects (a redirect's target is in 'location'). */
    protected function http(string $method, string $url, ?string $body = null, array $headers = array()): array
    {
        $set_cookies = array();
        $location = '';
        $ch = curl_init($url);
        curl_setopt_array($ch, array(
            CURLOPT_CUSTOMREQUEST  => $method,
            CURLOPT_RETURNTRANSFER => true,
            CURLOPT_HTTPHEADER     => $headers,
            CURLOPT_TIMEOUT        => 30,
            CURLOPT_HEADERFUNCTION => static function ($ch, string $line) use (&$set_cookies, &$location): int {
                if (stripos($line, 'Set-Cookie:') === 0) {
                    $set_cookies[] = trim(substr($line, 11));
                }
                if (stripos($line, 'Location:') === 0) {
                    $location = trim(substr($line, 9));
                }
                return strlen($line);
            },
        ));
        if ($body !== null) {
            curl_setopt($ch, CURLOPT_POSTFIELDS, $body);
        }
        $text = curl_exec($ch);
        $status = (int) curl_getinfo($ch, CURLINFO_RESPONSE_CODE);
        $type = (string) curl_getinfo($ch, CURLINFO_CONTENT_TYPE);
        curl_close($ch);
        return array('status' => $status, 'body' => is_string($text) ? $text : '', 'content_type' => $type, 'set_cookies' => $set_cookies, 'location' => $location);
    }

    /** The webhook URL (front page) with the right key. */
    protected function webhook_url(array $query): string
    {
        return CrmHooks_Test_Site::url('/') . '?' . http_build_query($query + array('access_key' => CrmHooks_Test_Site::access_key()));
    }
}

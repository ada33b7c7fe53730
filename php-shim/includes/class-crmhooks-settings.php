<?php
/**
 * The option crmhooks_settings: defaults, reading, and the JSON documents the library takes.
 */

declare(strict_types=1);

final class CrmHooks_Settings
{
    public const OPTION = 'crmhooks_settings';

    /** Capabilities that make a role privileged: a webhook never grants such a role. */
    public const PRIVILEGED_CAPS = array('manage_options', 'edit_users', 'promote_users', 'unfiltered_html');

    public static function defaults(): array
    {
        return array(
            'access_key'           => '',
            'crm'                  => 'activecampaign',
            'ac_base_url'          => '',
            'ac_api_token'         => '',
            'op_base_url'          => 'https://api.ontraport.com/1/',
            'op_app_id'            => '',
            'op_api_key'           => '',
            'default_role'         => 'subscriber',
            'role_allowlist'       => array(),
            'field_map'            => array(),
            'username_format'      => 'email',
            'return_password'      => false,
            'password_field'       => '',
            'loopback_window_secs' => 60,
            'async'                => true,
            'queue_max'            => 1000,
            'max_attempts'         => 8,
            // Finished jobs are pruned after retention_days; the log keeps outcomes longer.
            'retention_days'       => 7,
            'log_retention_days'   => 90,
        );
    }

    public static function all(): array
    {
        $stored = get_option(self::OPTION, array());
        return array_merge(self::defaults(), is_array($stored) ? $stored : array());
    }

    /** @return mixed */
    public static function get(string $key)
    {
        $all = self::all();
        return $all[ $key ] ?? null;
    }

    public static function update(array $changes): void
    {
        $stored = get_option(self::OPTION, array());
        $stored = is_array($stored) ? $stored : array();
        update_option(self::OPTION, array_merge($stored, $changes));
    }

    /**
     * Allowlisting sanitizer: only known keys, each coerced to its type. Used by the Settings API
     * and by anything that writes the option. The access key is kept (it has its own screen).
     */
    public static function sanitize($input): array
    {
        $current = self::all();
        $input = is_array($input) ? $input : array();
        $out = $current;

        // The key has its own screen; accept it here only in the generated format.
        if (isset($input['access_key']) && is_string($input['access_key']) && preg_match('/^[A-Za-z0-9_-]{16,128}$/', $input['access_key'])) {
            $out['access_key'] = $input['access_key'];
        }
        $out['crm'] = in_array($input['crm'] ?? '', array('activecampaign', 'ontraport'), true) ? $input['crm'] : $current['crm'];
        foreach (array('ac_base_url', 'op_base_url') as $key) {
            if (isset($input[ $key ])) {
                $out[ $key ] = esc_url_raw(trim((string) $input[ $key ]), array('http', 'https'));
            }
        }
        foreach (array('ac_api_token', 'op_app_id', 'op_api_key', 'password_field') as $key) {
            if (isset($input[ $key ])) {
                $out[ $key ] = sanitize_text_field((string) $input[ $key ]);
            }
        }
        if (isset($input['default_role'])) {
            $role = sanitize_key((string) $input['default_role']);
            $out['default_role'] = self::is_grantable_role($role) ? $role : 'subscriber';
        }
        if (array_key_exists('role_allowlist', $input)) {
            $list = is_array($input['role_allowlist']) ? $input['role_allowlist'] : preg_split('/[\s,]+/', (string) $input['role_allowlist']);
            $out['role_allowlist'] = array_values(array_unique(array_filter(array_map('sanitize_key', (array) $list))));
        }
        if (array_key_exists('field_map', $input)) {
            $out['field_map'] = self::sanitize_field_map($input['field_map']);
        }
        if (isset($input['username_format'])) {
            $out['username_format'] = in_array($input['username_format'], array('email', 'first_last', 'first_number'), true)
                ? $input['username_format'] : 'email';
        }
        foreach (array('return_password', 'async') as $key) {
            if (array_key_exists($key, $input)) {
                $out[ $key ] = self::to_bool($input[ $key ]);
            }
        }
        $ints = array('loopback_window_secs' => array(0, 3600), 'queue_max' => array(1, 1000000), 'max_attempts' => array(1, 100), 'retention_days' => array(1, 3650), 'log_retention_days' => array(1, 3650));
        foreach ($ints as $key => $range) {
            if (isset($input[ $key ]) && is_numeric($input[ $key ])) {
                $out[ $key ] = max($range[0], min($range[1], (int) $input[ $key ]));
            }
        }
        return $out;
    }

    /** Field map from an array of pairs or from "crm_key = wp_key" lines. */
    public static function sanitize_field_map($value): array
    {
        $pairs = array();
        if (is_string($value)) {
            foreach (preg_split('/\r\n|\r|\n/', $value) as $line) {
                $parts = array_map('trim', explode('=', $line, 2));
                if (count($parts) === 2) {
                    $pairs[] = array('crm_key' => $parts[0], 'wp_key' => $parts[1]);
                }
            }
        } elseif (is_array($value)) {
            $pairs = $value;
        }
        $out = array();
        foreach ($pairs as $pair) {
            if (! is_array($pair)) {
                continue;
            }
            $crm_key = sanitize_text_field((string) ($pair['crm_key'] ?? ''));
            $wp_key = sanitize_key((string) ($pair['wp_key'] ?? ''));
            if ($crm_key !== '' && $wp_key !== '') {
                $out[] = array('crm_key' => $crm_key, 'wp_key' => $wp_key);
            }
        }
        return $out;
    }

    public static function to_bool($value): bool
    {
        if (is_bool($value)) {
            return $value;
        }
        return in_array(strtolower(trim((string) $value)), array('1', 'true', 'yes', 'on'), true);
    }

    /** A registered role that carries none of the privileged capabilities. */
    public static function is_grantable_role(string $slug): bool
    {
        if ($slug === 'administrator') {
            return false;
        }
        $role = get_role($slug);
        if ($role === null) {
            return false;
        }
        foreach (self::PRIVILEGED_CAPS as $cap) {
            if (! empty($role->capabilities[ $cap ])) {
                return false;
            }
        }
        return true;
    }

    /** Every registered role with its display name and whether it is privileged. */
    public static function roles(): array
    {
        $roles = array();
        foreach (wp_roles()->roles as $slug => $role) {
            $privileged = false;
            foreach (self::PRIVILEGED_CAPS as $cap) {
                if (! empty($role['capabilities'][ $cap ])) {
                    $privileged = true;
                }
            }
            $roles[] = array('slug' => (string) $slug, 'name' => (string) ($role['name'] ?? $slug), 'privileged' => $privileged);
        }
        return $roles;
    }

    /** Settings JSON document for crmh_plan. */
    public static function plan_settings(): array
    {
        $s = self::all();
        return array(
            'crm'                  => $s['crm'] === 'ontraport' ? 'ontraport' : 'activecampaign',
            'default_role'         => (string) $s['default_role'],
            'role_allowlist'       => array_values(array_map('strval', (array) $s['role_allowlist'])),
            'roles'                => self::roles(),
            'field_map'            => self::sanitize_field_map($s['field_map']),
            'username_format'      => (string) $s['username_format'],
            'return_password'      => (bool) $s['return_password'],
            'password_field'       => (string) $s['password_field'],
            'loopback_window_secs' => (int) $s['loopback_window_secs'],
            'meta_denylist'        => array(),
        );
    }

    /** CrmConfig JSON for the crmh_crm_* calls (credentials travel on every call, never logged). */
    public static function crm_config_json(): string
    {
        $s = self::all();
        if ($s['crm'] === 'ontraport') {
            $config = array(
                'crm'      => 'ontraport',
                'base_url' => (string) $s['op_base_url'],
                'app_id'   => (string) $s['op_app_id'],
                'api_key'  => (string) $s['op_api_key'],
            );
        } else {
            $config = array(
                'crm'       => 'activecampaign',
                'base_url'  => (string) $s['ac_base_url'],
                'api_token' => (string) $s['ac_api_token'],
            );
        }
        return (string) wp_json_encode($config, JSON_UNESCAPED_SLASHES);
    }
}

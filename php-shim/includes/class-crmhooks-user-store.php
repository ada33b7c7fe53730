<?php
/**
 * Reads WordPress users for the library: finding the user of a contact, and the UserState JSON.
 */

declare(strict_types=1);

final class CrmHooks_User_Store
{
    public const META_CONTACT_ID = 'crmhooks_contact_id';
    public const META_TAGS = 'crmhooks_tags';
    public const META_TAG_NAMES = 'crmhooks_tag_names';

    /** Columns of wp_users that a mapping may target; everything else is user meta. */
    public const USER_COLUMNS = array('user_email', 'user_url', 'display_name', 'user_nicename');

    /**
     * The user of a contact: by stored contact ID, then the request's top-level email, then the
     * contact's email. Null when none matches.
     */
    public static function find_user_id(string $contact_id, string $request_email, string $contact_email): ?int
    {
        if ($contact_id !== '') {
            $ids = get_users(array(
                'meta_key'    => self::META_CONTACT_ID,
                'meta_value'  => $contact_id,
                'number'      => 1,
                'fields'      => 'ID',
                'orderby'     => 'ID',
                'order'       => 'ASC',
                'count_total' => false,
            ));
            if (! empty($ids)) {
                return (int) $ids[0];
            }
        }
        foreach (array($request_email, $contact_email) as $email) {
            $email = trim($email);
            if ($email !== '' && is_email($email)) {
                $user = get_user_by('email', $email);
                if ($user instanceof WP_User) {
                    return (int) $user->ID;
                }
            }
        }
        return null;
    }

    /** UserState for crmh_plan; meta holds the current values of the mapped keys only. */
    public static function user_state(int $user_id, array $field_map): ?array
    {
        $user = get_userdata($user_id);
        if (! $user instanceof WP_User) {
            return null;
        }
        $meta = array();
        foreach ($field_map as $mapping) {
            $key = (string) ($mapping['wp_key'] ?? '');
            if ($key === '' || $key === 'user_pass') {
                continue; // Never read a password hash into the plan.
            }
            if ($key === 'user_login') {
                $meta[ $key ] = (string) $user->user_login;
            } elseif (in_array($key, self::USER_COLUMNS, true)) {
                $meta[ $key ] = (string) $user->{$key};
            } else {
                $value = get_user_meta($user_id, $key, true);
                $meta[ $key ] = is_scalar($value) ? (string) $value : (string) wp_json_encode($value);
            }
        }
        return array(
            'id'         => $user_id,
            'user_login' => (string) $user->user_login,
            'user_email' => (string) $user->user_email,
            'first_name' => (string) $user->first_name,
            'last_name'  => (string) $user->last_name,
            'roles'      => array_values(array_map('strval', (array) $user->roles)),
            'tags'       => self::tags($user_id),
            'meta'       => (object) $meta, // Always a JSON object, even when empty.
        );
    }

    /** Stored tags as a list of {id, name}. */
    public static function tags(int $user_id): array
    {
        $stored = get_user_meta($user_id, self::META_TAGS, true);
        $tags = array();
        foreach (is_array($stored) ? $stored : array() as $tag) {
            if (is_array($tag) && isset($tag['name'])) {
                $tags[] = array('id' => (string) ($tag['id'] ?? ''), 'name' => (string) $tag['name']);
            }
        }
        return $tags;
    }

    public static function tag_names(int $user_id): array
    {
        return array_map(static fn(array $t): string => $t['name'], self::tags($user_id));
    }

    /** Stores tags: crmhooks_tags as {id,name} pairs, crmhooks_tag_names as names (for queries). */
    public static function store_tags(int $user_id, array $tags): array
    {
        $clean = array();
        foreach ($tags as $tag) {
            if (is_array($tag) && isset($tag['name']) && (string) $tag['name'] !== '') {
                $clean[] = array('id' => (string) ($tag['id'] ?? ''), 'name' => (string) $tag['name']);
            }
        }
        $names = array_map(static fn(array $t): string => $t['name'], $clean);
        update_user_meta($user_id, self::META_TAGS, $clean);
        update_user_meta($user_id, self::META_TAG_NAMES, $names);
        return $names;
    }

    /**
     * Login made unique by appending 2, 3, ... while it is taken (WP Fusion's behaviour). A
     * numbered login (username format "first name + number": jane1) counts on instead: jane2.
     */
    public static function unique_login(string $login, bool $numbered = false): string
    {
        $base = substr(sanitize_user($login, true), 0, 50);
        if ($base === '') {
            $base = 'user';
        }
        $n = 2;
        if ($numbered && preg_match('/^(.*\D)(\d+)$/', $base, $parts) === 1) {
            $base = $parts[1];
            $n = (int) $parts[2];
        }
        $candidate = $numbered ? $base . ($n++) : $base;
        while (username_exists($candidate)) {
            $candidate = $base . ($n++);
        }
        return $candidate;
    }

    /** Meta keys PHP refuses even if the library allowed them (defence in depth). */
    public static function is_protected_meta(string $key): bool
    {
        $key = strtolower($key);
        if (in_array($key, array('session_tokens', 'user_pass', 'user_login', 'user_activation_key', self::META_CONTACT_ID, self::META_TAGS, self::META_TAG_NAMES), true)) {
            return true;
        }
        return (bool) preg_match('/(capabilities|user_level|user-settings|user-settings-time)$/', $key);
    }
}

<?php
/**
 * Reads WordPress users for the library: finding the user of a contact, and the UserState JSON.
 */

declare(strict_types=1);

final class CrmHooks_User_Store {

	public const META_CONTACT_ID = 'crmhooks_contact_id';
	public const META_TAGS       = 'crmhooks_tags';
	public const META_TAG_NAMES  = 'crmhooks_tag_names';

	/** Columns of wp_users that a mapping may target; everything else is user meta. */
	public const USER_COLUMNS = array( 'user_email', 'user_url', 'display_name', 'user_nicename' );

	/** Users linked to this CRM contact ID (at most two: two already make a conflict). */
	public static function users_linked_to( string $contact_id ): array {
		if ( $contact_id === '' ) {
			return array();
		}
		// The contact link is the user's identity for webhooks; meta_key is indexed.
		// phpcs:disable WordPress.DB.SlowDBQuery
		$ids = get_users(
			array(
				'meta_key'    => self::META_CONTACT_ID,
				'meta_value'  => $contact_id,
				'number'      => 2,
				'fields'      => 'ID',
				'orderby'     => 'ID',
				'order'       => 'ASC',
				'count_total' => false,
				'blog_id'     => 0, // Every user of the network, not only members of this site.
			)
		);
		// phpcs:enable
		return array_map( 'intval', (array) $ids );
	}

	/** The user holding this email (the CRM contact's email), or null. */
	public static function user_with_email( string $email ): ?int {
		$email = trim( $email );
		if ( $email === '' || ! is_email( $email ) ) {
			return null;
		}
		$user = get_user_by( 'email', $email );
		return $user instanceof WP_User ? (int) $user->ID : null;
	}

	/** UserState for crmh_plan; meta holds the current values of the mapped keys only. */
	public static function user_state( int $user_id, array $field_map ): ?array {
		$user = get_userdata( $user_id );
		if ( ! $user instanceof WP_User ) {
			return null;
		}
		$meta = array();
		foreach ( $field_map as $mapping ) {
			$key = (string) ( $mapping['wp_key'] ?? '' );
			if ( $key === '' || $key === 'user_pass' ) {
				continue; // Never read a password hash into the plan.
			}
			if ( $key === 'user_login' ) {
				$meta[ $key ] = (string) $user->user_login;
			} elseif ( in_array( $key, self::USER_COLUMNS, true ) ) {
				$meta[ $key ] = (string) $user->{$key};
			} else {
				$value        = get_user_meta( $user_id, $key, true );
				$meta[ $key ] = is_scalar( $value ) ? (string) $value : (string) wp_json_encode( $value );
			}
		}
		return array(
			'id'          => $user_id,
			'user_login'  => (string) $user->user_login,
			'user_email'  => (string) $user->user_email,
			'first_name'  => (string) $user->first_name,
			'last_name'   => (string) $user->last_name,
			'contact_id'  => (string) get_user_meta( $user_id, self::META_CONTACT_ID, true ),
			'roles'       => array_values( array_map( 'strval', (array) $user->roles ) ),
			'caps'        => self::direct_caps( $user ),
			'super_admin' => is_multisite() && is_super_admin( $user_id ),
			'tags'        => self::tags( $user_id ),
			'meta'        => (object) $meta, // Always a JSON object, even when empty.
		);
	}

	/** Capabilities granted to the user directly: entries of $user->caps that are not roles. */
	private static function direct_caps( WP_User $user ): array {
		$caps = array();
		foreach ( (array) $user->caps as $cap => $granted ) {
			if ( $granted && ! wp_roles()->is_role( (string) $cap ) ) {
				$caps[] = (string) $cap;
			}
		}
		return $caps;
	}

	/** Stored tags as a list of {id, name}. */
	public static function tags( int $user_id ): array {
		$stored = get_user_meta( $user_id, self::META_TAGS, true );
		$tags   = array();
		foreach ( is_array( $stored ) ? $stored : array() as $tag ) {
			if ( is_array( $tag ) && isset( $tag['name'] ) ) {
				$tags[] = array(
					'id'   => (string) ( $tag['id'] ?? '' ),
					'name' => (string) $tag['name'],
				);
			}
		}
		return $tags;
	}

	public static function tag_names( int $user_id ): array {
		return array_map( static fn( array $t ): string => $t['name'], self::tags( $user_id ) );
	}

	/** Stores tags: crmhooks_tags as {id,name} pairs, crmhooks_tag_names as names (for queries). */
	public static function store_tags( int $user_id, array $tags ): array {
		$clean = array();
		foreach ( $tags as $tag ) {
			if ( is_array( $tag ) && isset( $tag['name'] ) && (string) $tag['name'] !== '' ) {
				$clean[] = array(
					'id'   => (string) ( $tag['id'] ?? '' ),
					'name' => (string) $tag['name'],
				);
			}
		}
		$names = array_map( static fn( array $t ): string => $t['name'], $clean );
		update_user_meta( $user_id, self::META_TAGS, $clean );
		update_user_meta( $user_id, self::META_TAG_NAMES, $names );
		return $names;
	}

	/** The first free login for the plan's create_user op: the logins sharing its stem, the library picks. */
	public static function free_login( array $op ): string {
		global $wpdb;
		$taken = $wpdb->get_col( $wpdb->prepare( "SELECT user_login FROM {$wpdb->users} WHERE user_login LIKE %s LIMIT 100000", $wpdb->esc_like( (string) ( $op['login_stem'] ?? '' ) ) . '%' ) );
		$doc   = array(
			'user_login'     => (string) ( $op['user_login'] ?? '' ),
			'login_numbered' => (bool) ( $op['login_numbered'] ?? false ),
			'taken'          => array_map( 'strval', (array) $taken ),
		);
		return (string) CrmHooks_Native::get()->login_choose( (string) wp_json_encode( $doc, JSON_UNESCAPED_UNICODE ) )['user_login'];
	}
}

<?php
/**
 * WordPress users, for the library: the facts it chooses and plans from (the users linked to a
 * contact, the user with the contact's email, a user's state), and the applier that carries out
 * its plan with WordPress APIs, in order. Rust decides; this class only reads and writes.
 */

declare(strict_types=1);

final class CrmHooks_Users {

	public const META_CONTACT_ID = 'crmhooks_contact_id';
	public const META_TAGS       = 'crmhooks_tags';
	public const META_TAG_NAMES  = 'crmhooks_tag_names';

	/** Columns of wp_users that a plan may write; everything else is user meta. */
	private const USER_COLUMNS = array( 'user_email', 'user_url', 'display_name', 'user_nicename', 'first_name', 'last_name', 'nickname' );

	/** Users linked to this CRM contact ID (at most two: two already make a conflict). */
	public static function linked_to( string $contact_id ): array {
		if ( $contact_id === '' ) {
			return array();
		}
		// The contact link is the user's identity for webhooks; meta_key is indexed.
		$query = array(
			'meta_key'    => self::META_CONTACT_ID, // phpcs:ignore WordPress.DB.SlowDBQuery.slow_db_query_meta_key
			'meta_value'  => $contact_id, // phpcs:ignore WordPress.DB.SlowDBQuery.slow_db_query_meta_value
			'number'      => 2,
			'fields'      => 'ID',
			'orderby'     => 'ID',
			'count_total' => false,
			'blog_id'     => 0, // Every user of the network, not only members of this site.
		);
		return array_map( 'intval', (array) get_users( $query ) );
	}

	/** The user holding this email (the CRM contact's email), or null. */
	public static function with_email( string $email ): ?int {
		$user = is_email( trim( $email ) ) ? get_user_by( 'email', trim( $email ) ) : false;
		return $user instanceof WP_User ? (int) $user->ID : null;
	}

	/** UserState for crmh_plan; meta holds the current values of the mapped keys only. */
	public static function user_state( int $user_id, array $field_map ): ?array {
		$user = get_userdata( $user_id );
		if ( ! $user instanceof WP_User ) {
			return null;
		}
		$meta = array();
		foreach ( array_diff( array_column( $field_map, 'wp_key' ), array( '', 'user_pass' ) ) as $key ) { // Never a password hash.
			$value        = in_array( $key, array( 'user_login', 'user_email', 'user_url', 'display_name', 'user_nicename' ), true ) ? $user->{$key} : get_user_meta( $user_id, $key, true );
			$meta[ $key ] = is_scalar( $value ) ? (string) $value : CrmHooks_Native::json( $value );
		}
		// Capabilities granted to the user directly: entries of $user->caps that are not roles.
		$caps = array_keys( array_filter( (array) $user->caps, static fn( $granted, $cap ): bool => (bool) $granted && ! wp_roles()->is_role( (string) $cap ), ARRAY_FILTER_USE_BOTH ) );
		return array(
			'id'          => $user_id,
			'user_login'  => (string) $user->user_login,
			'user_email'  => (string) $user->user_email,
			'first_name'  => (string) $user->first_name,
			'last_name'   => (string) $user->last_name,
			'contact_id'  => (string) get_user_meta( $user_id, self::META_CONTACT_ID, true ),
			'roles'       => array_values( array_map( 'strval', (array) $user->roles ) ),
			'caps'        => array_map( 'strval', $caps ),
			'super_admin' => is_multisite() && is_super_admin( $user_id ),
			'tags'        => self::tags( $user_id ),
			'meta'        => (object) $meta, // Always a JSON object, even when empty.
		);
	}

	/** Stored tags as a list of {id, name}. */
	public static function tags( int $user_id ): array {
		$stored = get_user_meta( $user_id, self::META_TAGS, true );
		return self::clean_tags( is_array( $stored ) ? $stored : array() );
	}

	/** Stores tags: crmhooks_tags as {id,name} pairs, crmhooks_tag_names as names (for queries). */
	public static function store_tags( int $user_id, array $tags ): array {
		$clean = self::clean_tags( $tags );
		$names = array_column( $clean, 'name' );
		update_user_meta( $user_id, self::META_TAGS, $clean );
		update_user_meta( $user_id, self::META_TAG_NAMES, $names );
		return $names;
	}

	private static function clean_tags( array $tags ): array {
		$clean = array();
		foreach ( $tags as $tag ) {
			if ( is_array( $tag ) && (string) ( $tag['name'] ?? '' ) !== '' ) {
				$clean[] = array(
					'id'   => (string) ( $tag['id'] ?? '' ),
					'name' => (string) $tag['name'],
				);
			}
		}
		return $clean;
	}

	/** The first free login for the plan's create_user op: the logins sharing its stem, the library picks. */
	private static function free_login( array $op ): string {
		global $wpdb;
		$taken = $wpdb->get_col( $wpdb->prepare( "SELECT user_login FROM {$wpdb->users} WHERE user_login LIKE %s LIMIT 100000", $wpdb->esc_like( (string) ( $op['login_stem'] ?? '' ) ) . '%' ) );
		$doc   = array(
			'user_login'     => (string) ( $op['user_login'] ?? '' ),
			'login_numbered' => (bool) ( $op['login_numbered'] ?? false ),
			'taken'          => array_map( 'strval', (array) $taken ),
		);
		return (string) CrmHooks_Native::get()->login_choose( $doc )['user_login'];
	}

	/**
	 * Applies the plan to the user it names (plan.user_id), or to the user it creates. Reports
	 * what WordPress refused; decides nothing.
	 *
	 * @return array{user_id:?int, created:bool, changed:bool, replan:bool, error:?string, notices:array}
	 */
	public static function apply( array $plan, array $contact ): array {
		$user_id    = is_numeric( $plan['user_id'] ?? null ) ? (int) $plan['user_id'] : null;
		$result     = array(
			'user_id' => $user_id,
			'created' => false,
			'changed' => false,
			'replan'  => false,
			'error'   => null,
			'notices' => array(),
		);
		$password   = null;
		$tag_events = array();
		$contact_id = (string) ( $contact['id'] ?? '' );
		foreach ( (array) ( $plan['ops'] ?? array() ) as $op ) {
			$kind   = (string) ( $op['op'] ?? '' );
			$notice = null;
			if ( $kind === 'create_user' ) {
				// Re-check right before inserting (the caller holds the per-email lock).
				$email = (string) ( $op['user_email'] ?? '' );
				$id    = $email !== '' && email_exists( $email ) ? new WP_Error( 'existing_user_email' ) : null;
				if ( $id === null ) {
					$password = (string) ( $op['user_pass'] ?? '' );
					$fields   = array_intersect_key( $op, array_flip( array( 'user_email', 'first_name', 'last_name', 'role' ) ) );
					$id       = wp_insert_user(
						array(
							'user_login' => self::free_login( $op ),
							'user_pass'  => $password,
						) + array_map( 'strval', $fields )
					);
				}
				if ( is_wp_error( $id ) ) {
					// A user with this email or login appeared a moment ago: the caller plans again.
					$result['replan'] = in_array( $id->get_error_code(), array( 'existing_user_email', 'existing_user_login' ), true );
					$result['error']  = $result['replan'] ? null : 'create_user: ' . $id->get_error_code();
					return $result;
				}
				$user_id           = (int) $id;
				$result['user_id'] = $user_id;
				$result['created'] = true;
			} elseif ( $kind === 'skip' ) {
				continue;
			} elseif ( $user_id === null ) {
				$notice = 'op_without_user:' . sanitize_key( $kind );
			} elseif ( $kind === 'update_user' ) {
				$notice = self::update_user( $user_id, (array) ( $op['fields'] ?? array() ) );
			} elseif ( $kind === 'set_role' ) {
				( new WP_User( $user_id ) )->set_role( (string) ( $op['role'] ?? '' ) );
			} elseif ( $kind === 'set_meta' || $kind === 'delete_meta' ) {
				$key    = (string) ( $op['key'] ?? '' );
				$value  = $op['value'] ?? '';
				$notice = in_array( $key, self::USER_COLUMNS, true ) ? ( $kind === 'set_meta' ? self::update_user( $user_id, array( $key => $value ) ) : null ) : null;
				if ( ! in_array( $key, self::USER_COLUMNS, true ) ) {
					$kind === 'set_meta' ? update_user_meta( $user_id, $key, is_scalar( $value ) ? (string) $value : $value ) : delete_user_meta( $user_id, $key );
				}
			} elseif ( $kind === 'set_tags' ) {
				$tag_events[] = array( (array) ( $op['added'] ?? array() ), (array) ( $op['removed'] ?? array() ), self::store_tags( $user_id, (array) ( $op['tags'] ?? array() ) ) );
			} elseif ( $kind === 'set_contact_id' ) {
				update_user_meta( $user_id, self::META_CONTACT_ID, (string) ( $op['contact_id'] ?? $contact_id ) );
				continue;
			} elseif ( $kind === 'send_notification' ) {
				wp_new_user_notification( $user_id, null, 'user' );
				$result['notices'][] = 'notification_sent';
				continue;
			} elseif ( $kind === 'return_password' ) {
				$result['notices'][] = $password === null || $contact_id === '' ? 'return_password_skipped' : self::return_password( $contact_id, (string) ( $op['field'] ?? '' ), $password );
				continue;
			} else {
				$notice = 'unknown_op:' . sanitize_key( $kind );
			}
			if ( $notice !== null ) {
				$result['notices'][] = $notice;
			} else {
				$result['changed'] = true;
			}
		}
		// Listeners run once the user is complete.
		if ( $user_id !== null ) {
			foreach ( $tag_events as $event ) {
				do_action( 'crmhooks_tags_modified', $user_id, array_map( 'strval', $event[0] ), array_map( 'strval', $event[1] ), $event[2] );
			}
			if ( $result['created'] ) {
				do_action( 'crmhooks_user_created', $user_id, $contact );
				do_action( 'crmhooks_user_imported', $user_id, $contact ); // Older name, kept for listeners.
			} elseif ( $result['changed'] ) {
				do_action( 'crmhooks_user_updated', $user_id, $contact );
			}
		}
		return $result;
	}

	/** wp_update_user without the "your email/password changed" mails: the CRM made the change. */
	private static function update_user( int $user_id, array $fields ): ?string {
		add_filter( 'send_email_change_email', '__return_false' );
		add_filter( 'send_password_change_email', '__return_false' );
		try {
			$result = wp_update_user( array( 'ID' => $user_id ) + array_map( 'strval', array_intersect_key( $fields, array_flip( self::USER_COLUMNS ) ) ) );
		} finally {
			remove_filter( 'send_email_change_email', '__return_false' );
			remove_filter( 'send_password_change_email', '__return_false' );
		}
		return is_wp_error( $result ) ? 'update_user: ' . $result->get_error_code() : null;
	}

	/** Writes the generated password to the CRM field (the plan asked for it). */
	private static function return_password( string $contact_id, string $field, string $password ): string {
		if ( $field === '' ) {
			return 'return_password_no_field';
		}
		try {
			CrmHooks_Crm::write_field( $contact_id, $field, $password );
			return 'password_returned';
		} catch ( CrmHooks_Native_Error $e ) {
			return 'return_password_failed:' . CrmHooks_Native::result_name( $e->getCode() );
		}
	}
}

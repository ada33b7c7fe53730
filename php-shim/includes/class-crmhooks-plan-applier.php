<?php
/**
 * Applies the library's plan with WordPress APIs, in order. Rust decides; PHP does.
 */

declare(strict_types=1);

final class CrmHooks_Plan_Applier {

	/** Fields update_user may change. */
	private const UPDATABLE = array( 'user_email', 'first_name', 'last_name', 'display_name', 'nickname', 'user_url' );

	private array $contact;

	public function __construct( array $contact ) {
		$this->contact = $contact;
	}

	/**
	 * Applies the plan to the user it names (plan.user_id), or to the user it creates.
	 *
	 * @return array{user_id:?int, created:bool, changed:bool, skipped:?string, replan:bool, error:?string, notices:array}
	 */
	public function apply( array $plan ): array {
		$user_id    = isset( $plan['user_id'] ) && is_numeric( $plan['user_id'] ) ? (int) $plan['user_id'] : null;
		$result     = array(
			'user_id' => $user_id,
			'created' => false,
			'changed' => false,
			'skipped' => null,
			'replan'  => false,
			'error'   => null,
			'notices' => array(),
		);
		$password   = null;
		$tag_events = array();
		$contact_id = (string) ( $this->contact['id'] ?? '' );

		foreach ( (array) ( $plan['ops'] ?? array() ) as $op ) {
			$kind = is_array( $op ) ? (string) ( $op['op'] ?? '' ) : '';
			if ( $kind === 'skip' ) {
				$result['skipped'] = (string) ( $op['reason'] ?? 'skip' );
				continue;
			}
			if ( $kind === 'create_user' ) {
				$email = (string) ( $op['user_email'] ?? '' );
				// Re-check right before inserting (the caller holds the per-email lock).
				if ( $email !== '' && email_exists( $email ) ) {
					$result['replan'] = true;
					return $result;
				}
				$password = (string) ( $op['user_pass'] ?? '' );
				$id       = wp_insert_user(
					array(
						'user_login' => CrmHooks_User_Store::free_login( $op ),
						'user_email' => $email,
						'user_pass'  => $password,
						'first_name' => (string) ( $op['first_name'] ?? '' ),
						'last_name'  => (string) ( $op['last_name'] ?? '' ),
						'role'       => (string) ( $op['role'] ?? '' ),
					)
				);
				if ( is_wp_error( $id ) && $id->get_error_code() === 'existing_user_login' ) {
					$result['replan'] = true; // Another webhook took this login a moment ago.
					return $result;
				}
				if ( is_wp_error( $id ) ) {
					$result['error'] = 'create_user: ' . $id->get_error_code();
					return $result;
				}
				$user_id           = (int) $id;
				$result['user_id'] = $user_id;
				$result['created'] = true;
				$result['changed'] = true;
				continue;
			}
			if ( $user_id === null ) {
				$result['notices'][] = 'op_without_user:' . $kind;
				continue;
			}
			switch ( $kind ) {
				case 'update_user':
					$fields = array_intersect_key( (array) ( $op['fields'] ?? array() ), array_flip( self::UPDATABLE ) );
					if ( $fields !== array() ) {
						$error = $this->update_user( $user_id, $fields );
						if ( $error !== null ) {
							$result['notices'][] = $error;
						} else {
							$result['changed'] = true;
						}
					}
					break;
				case 'set_role':
					$user = get_userdata( $user_id );
					if ( $user instanceof WP_User ) {
						$user->set_role( (string) ( $op['role'] ?? '' ) );
						$result['changed'] = true;
					}
					break;
				case 'set_meta':
					$key   = (string) ( $op['key'] ?? '' );
					$value = $op['value'] ?? '';
					if ( in_array( $key, CrmHooks_User_Store::USER_COLUMNS, true ) ) {
						$error = $this->update_user( $user_id, array( $key => (string) $value ) );
						if ( $error !== null ) {
							$result['notices'][] = $error;
						} else {
							$result['changed'] = true;
						}
					} else {
						update_user_meta( $user_id, $key, is_scalar( $value ) ? (string) $value : $value );
						$result['changed'] = true;
					}
					break;
				case 'delete_meta':
					$key = (string) ( $op['key'] ?? '' );
					if ( ! in_array( $key, CrmHooks_User_Store::USER_COLUMNS, true ) ) {
						delete_user_meta( $user_id, $key );
						$result['changed'] = true;
					}
					break;
				case 'set_tags':
					$names             = CrmHooks_User_Store::store_tags( $user_id, (array) ( $op['tags'] ?? array() ) );
					$tag_events[]      = array(
						array_values( array_map( 'strval', (array) ( $op['added'] ?? array() ) ) ),
						array_values( array_map( 'strval', (array) ( $op['removed'] ?? array() ) ) ),
						$names,
					);
					$result['changed'] = true;
					break;
				case 'set_contact_id':
					update_user_meta( $user_id, CrmHooks_User_Store::META_CONTACT_ID, (string) ( $op['contact_id'] ?? $contact_id ) );
					break;
				case 'send_notification':
					wp_new_user_notification( $user_id, null, 'user' );
					$result['notices'][] = 'notification_sent';
					break;
				case 'return_password':
					if ( $password === null || $contact_id === '' ) {
						$result['notices'][] = 'return_password_skipped';
						break;
					}
					$result['notices'][] = $this->return_password( $contact_id, (string) ( $op['field'] ?? '' ), $password );
					break;
				default:
					$result['notices'][] = 'unknown_op:' . sanitize_key( $kind );
			}
		}

		// Listeners run once the user is complete.
		if ( $user_id !== null ) {
			foreach ( $tag_events as $event ) {
				do_action( 'crmhooks_tags_modified', $user_id, $event[0], $event[1], $event[2] );
			}
			if ( $result['created'] ) {
				do_action( 'crmhooks_user_created', $user_id, $this->contact );
				do_action( 'crmhooks_user_imported', $user_id, $this->contact ); // Older name, kept for listeners.
			} elseif ( $result['changed'] ) {
				do_action( 'crmhooks_user_updated', $user_id, $this->contact );
			}
		}
		return $result;
	}

	/** wp_update_user without the "your email/password changed" mails: the CRM made the change. */
	private function update_user( int $user_id, array $fields ): ?string {
		add_filter( 'send_email_change_email', '__return_false' );
		add_filter( 'send_password_change_email', '__return_false' );
		try {
			$result = wp_update_user( array( 'ID' => $user_id ) + array_map( 'strval', $fields ) );
		} finally {
			remove_filter( 'send_email_change_email', '__return_false' );
			remove_filter( 'send_password_change_email', '__return_false' );
		}
		return is_wp_error( $result ) ? 'update_user: ' . $result->get_error_code() : null;
	}

	private function return_password( string $contact_id, string $field, string $password ): string {
		if ( $field === '' ) {
			return 'return_password_no_field';
		}
		try {
			CrmHooks_Crm::write_field( $contact_id, $field, $password );
			return 'password_returned';
		} catch ( CrmHooks_Native_Error $e ) {
			return 'return_password_failed:' . CrmHooks_Native::result_name( $e->getCode() );
		} finally {
			CrmHooks_Loopback::record_write( $contact_id ); // Internal: no listener can switch it off.
			do_action( 'crmhooks_crm_write', $contact_id );
		}
	}
}

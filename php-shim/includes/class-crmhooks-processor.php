<?php
/**
 * Processes one accepted webhook: load the contact from the CRM, find the user, ask the library
 * for a plan, apply it. Callable inline from the handler or later from a queued job.
 */

declare(strict_types=1);

final class CrmHooks_Processor {

	/**
	 * @param array $request WebhookRequest as decoded from crmh_webhook_receive
	 * @return array outcome: outcome, action, contact_id, user_id, crm_calls, duration_ms, message,
	 *               notices, code (crmh_result name for CRM errors), retry_after
	 */
	public function process( array $request ): array {
		$started = microtime( true );
		CrmHooks_Crm::take_requests();
		$outcome                = $this->run( $request, false );
		$outcome['crm_calls']   = CrmHooks_Crm::take_requests();
		$outcome['duration_ms'] = (int) round( ( microtime( true ) - $started ) * 1000 );
		$outcome['action']      = (string) ( $request['action'] ?? '' );
		return $outcome;
	}

	/** Dry run for the admin debug page: contact, user state and plan; nothing is written. */
	public function preview( array $request ): array {
		return $this->run( $request, true );
	}

	private function run( array $request, bool $dry_run ): array {
		$out = array(
			'outcome'     => '',
			'contact_id'  => (string) ( $request['contact_id'] ?? '' ),
			'user_id'     => null,
			'message'     => '',
			'notices'     => array(),
			'code'        => '',
			'retry_after' => 0,
		);
		try {
			$native = CrmHooks_Native::get();
		} catch ( CrmHooks_Native_Unavailable $e ) {
			return array_merge(
				$out,
				array(
					'outcome' => 'unavailable',
					'message' => $e->getMessage(),
				)
			);
		}
		try {
			// By contact ID; the lookup email only finds the CRM contact, never a WordPress user.
			$contact = CrmHooks_Crm::load_contact( $request );
		} catch ( CrmHooks_Native_Error $e ) {
			$not_found = in_array( $e->getCode(), array( CrmHooks_Native::CRM_NOT_FOUND, CrmHooks_Native::BAD_REQUEST ), true );
			return array_merge(
				$out,
				array(
					'outcome'     => $not_found ? 'contact_not_found' : 'crm_error',
					'code'        => $not_found ? '' : CrmHooks_Native::result_name( $e->getCode() ),
					'retry_after' => $e->retry_after,
					'message'     => $not_found ? 'contact not found in the CRM' : ( $e->last_error !== '' ? $e->last_error : CrmHooks_Native::result_name( $e->getCode() ) ),
				)
			);
		}

		$out['contact_id'] = (string) ( $contact['id'] ?? $out['contact_id'] );
		$settings          = CrmHooks_Settings::plan_settings();
		$contact_email     = (string) ( $contact['email'] ?? '' );

		// add: find + insert under one named lock per email, so concurrent deliveries never duplicate.
		$lock = null;
		if ( ! $dry_run && ( $request['action'] ?? '' ) === 'add' ) {
			$lock = 'crmhooks_add_' . md5( strtolower( trim( $contact_email !== '' ? $contact_email : 'contact:' . $out['contact_id'] ) ) );
			if ( ! $this->acquire_lock( $lock ) ) {
				return array_merge(
					$out,
					array(
						'outcome' => 'busy',
						'message' => 'another delivery for this contact holds the lock',
					)
				);
			}
		}
		try {
			$plan = $this->plan( $native, $request, $contact, $settings );

			if ( $dry_run ) {
				return array_merge(
					$out,
					array(
						'outcome' => 'preview',
						'contact' => $contact,
						'plan'    => $plan,
					)
				);
			}

			$applier = new CrmHooks_Plan_Applier( $contact );
			$result  = $applier->apply( $plan );
			if ( $result['replan'] ) {
				// A user with this email appeared between lookup and insert: gather and plan again.
				$plan   = $this->plan( $native, $request, $contact, $settings );
				$result = $applier->apply( $plan );
			}
		} catch ( CrmHooks_Native_Error $e ) {
			return array_merge(
				$out,
				array(
					'outcome' => 'failed',
					'code'    => CrmHooks_Native::result_name( $e->getCode() ),
					'message' => $e->getMessage(),
				)
			);
		} finally {
			if ( $lock !== null ) {
				$this->release_lock( $lock );
			}
		}

		$notices        = array_merge(
			array_map( static fn( $n ): string => is_array( $n ) ? (string) ( $n['code'] ?? '' ) : (string) $n, (array) ( $plan['notices'] ?? array() ) ),
			$result['notices']
		);
		$out['user_id'] = $result['user_id'];
		$out['notices'] = array_values( array_filter( $notices ) );
		// The library decided what the plan means; an operation WordPress refused makes it failed.
		$out['outcome'] = $result['error'] !== null ? 'failed' : (string) ( $plan['outcome'] ?? 'failed' );
		if ( $result['error'] !== null ) {
			$out['message'] = $result['error'];
		}
		if ( $out['message'] === '' ) {
			// The plan's notices say in words what was skipped and why (keys, never values).
			$messages       = array_map( static fn( $n ): string => is_array( $n ) ? (string) ( $n['message'] ?? '' ) : '', (array) ( $plan['notices'] ?? array() ) );
			$out['message'] = implode( '; ', array_filter( array_merge( $messages, $result['notices'] ) ) );
		}
		return $out;
	}

	/**
	 * The library's plan, which other plugins may adjust (filter `crmhooks_plan`) before it is
	 * applied. The roles a webhook may grant pass through `crmhooks_grantable_roles` first; the
	 * library still refuses every privileged role whatever the filter returns.
	 */
	private function plan( CrmHooks_Native $native, array $request, array $contact, array $settings ): array {
		$settings['role_allowlist'] = array_values( array_map( 'strval', (array) apply_filters( 'crmhooks_grantable_roles', $settings['role_allowlist'], $request, $contact ) ) );
		$plan                       = $native->plan( $this->plan_json( $request, $contact, $settings ) );
		$filtered                   = apply_filters( 'crmhooks_plan', $plan, $request, $contact );
		return is_array( $filtered ) ? $filtered : $plan;
	}

	/**
	 * The plan input: the request, the CRM contact, and the two WordPress facts the library
	 * chooses the user from (users linked to the contact's ID, the user with the contact's email).
	 */
	private function plan_json( array $request, array $contact, array $settings ): string {
		$field_map = $settings['field_map'];
		$linked    = array();
		foreach ( CrmHooks_User_Store::users_linked_to( (string) ( $contact['id'] ?? '' ) ) as $user_id ) {
			$linked[] = CrmHooks_User_Store::user_state( $user_id, $field_map );
		}
		$email_user_id = CrmHooks_User_Store::user_with_email( (string) ( $contact['email'] ?? '' ) );
		$doc           = array(
			'request'      => $request,
			'contact'      => $contact,
			'linked_users' => array_values( array_filter( $linked ) ),
			'email_user'   => $email_user_id !== null ? CrmHooks_User_Store::user_state( $email_user_id, $field_map ) : null,
			'settings'     => $settings,
		);
		return (string) wp_json_encode( $doc, JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE );
	}

	private function acquire_lock( string $name ): bool {
		global $wpdb;
		return (string) $wpdb->get_var( $wpdb->prepare( 'SELECT GET_LOCK(%s, 10)', $name ) ) === '1';
	}

	private function release_lock( string $name ): void {
		global $wpdb;
		$wpdb->get_var( $wpdb->prepare( 'SELECT RELEASE_LOCK(%s)', $name ) );
	}
}

<?php
/**
 * Every CRM call goes through here, with the CRM account's state that all PHP workers and web
 * servers of the site share, in {prefix}crmhooks_rate: the account's recent request times (the
 * library paces its requests by them, so the CRM's rate limit holds site-wide) and its cached
 * tag names and field labels (so every worker writes the same names, and a listing made by one
 * serves all). Each call claims the row under a database lock for the account, hands it to the
 * library and stores what the library hands back. Calls to one account are thus serialized,
 * which costs nothing the CRM would have allowed anyway.
 */

declare(strict_types=1);

final class CrmHooks_Crm {

	/** Longest a CRM call waits for another worker's call to the same account. */
	private const LOCK_WAIT_SECS = 30;

	/** HTTP requests sent to the CRM by this process since the last take_requests(). */
	private static int $requests = 0;

	public static function table(): string {
		global $wpdb;
		return $wpdb->prefix . 'crmhooks_rate';
	}

	/** dbDelta format. */
	public static function table_sql( string $prefix, string $collate ): string {
		return "CREATE TABLE {$prefix}crmhooks_rate (
  account varchar(64) NOT NULL,
  window_json text NOT NULL,
  names_json longtext NOT NULL,
  updated_at bigint(20) unsigned NOT NULL DEFAULT 0,
  PRIMARY KEY  (account)
) $collate;";
	}

	/** The contact a (stored) webhook request names, checked against the tags it carried. */
	public static function load_contact( array $request ): array {
		return self::call( 'crm_load_contact', $request );
	}

	// phpcs:disable Generic.CodeAnalysis.UnusedFunctionParameter.FoundAfterLastUsed -- compact() reads these parameters by name.

	/** Add and remove tags by name on the CRM contact. */
	public static function change_tags( string $contact_id, array $add, array $remove ): void {
		self::call( 'crm_change_tags', compact( 'contact_id', 'add', 'remove' ) );
	}

	/** Write one field of the CRM contact. */
	public static function write_field( string $contact_id, string $field, string $value ): void {
		self::call( 'crm_write_field', compact( 'contact_id', 'field', 'value' ) );
	}

	/** The account's tags and fields, listed anew: this also refreshes the shared name cache. */
	public static function list_schema(): array {
		return self::call( 'crm_list_schema' );
	}

	/** One page of the contacts changed at or after $since (the reconcile sweep). */
	public static function list_modified( int $since, ?string $cursor ): array {
		return self::call( 'crm_list_modified', compact( 'since', 'cursor' ) );
	}

	/** One page of the contacts carrying a tag, by ID or name (import by tag). */
	public static function list_tagged( ?string $tag_id, ?string $tag_name, ?string $cursor ): array {
		return self::call( 'crm_list_tagged', compact( 'tag_id', 'tag_name', 'cursor' ) );
	}

	// phpcs:enable

	/** CRM requests sent since the last call of this (for the log's "CRM calls"). */
	public static function take_requests(): int {
		$count          = self::$requests;
		self::$requests = 0;
		return $count;
	}

	/**
	 * Calls the library's CRM export with the site's CRM config and the account's shared state,
	 * under the account's lock, then stores the window and any new listing it hands back.
	 *
	 * @param string     $export a crm_* export of CrmHooks_Native
	 * @param array|null $doc    its document, for the exports that take one
	 * @throws CrmHooks_Native_Error crm_rate_limited when the lock stays taken (retried later).
	 */
	private static function call( string $export, ?array $doc = null ): array {
		global $wpdb;
		$native  = CrmHooks_Native::get();
		$account = CrmHooks_Settings::account_id();
		$lock    = CrmHooks_Jobs::lock_name( 'crm', $account );
		if ( CrmHooks_Jobs::lock( $lock, self::LOCK_WAIT_SECS ) !== '1' ) {
			throw new CrmHooks_Native_Error( 'crm', CrmHooks_Native::CRM_RATE_LIMITED, 'other requests of this site are using the CRM', 5 );
		}
		try {
			$row                   = $wpdb->get_row( $wpdb->prepare( "SELECT window_json, names_json FROM {$wpdb->prefix}crmhooks_rate WHERE account = %s", $account ), ARRAY_A );
			$window                = json_decode( (string) ( $row['window_json'] ?? '' ), true );
			$names                 = json_decode( (string) ( $row['names_json'] ?? '' ), true );
			$config                = CrmHooks_Settings::crm_config();
			$config['rate_window'] = array_values( array_map( 'intval', is_array( $window ) ? $window : array() ) );
			$config['names']       = (object) ( is_array( $names ) ? $names : array() );
			return $doc === null ? $native->$export( $config ) : $native->$export( $config, $doc );
		} finally {
			$state           = $native->last_account_state();
			self::$requests += (int) ( $state['requests'] ?? 0 );
			if ( is_string( $state['wrote'] ?? null ) ) {
				// Our write to a contact opens its loopback window, whatever the call's end; listeners hear it after.
				CrmHooks_Jobs::record_write( $state['wrote'] );
				do_action( 'crmhooks_crm_write', (string) ( $doc['contact_id'] ?? '' ) );
			}
			$wpdb->query(
				$wpdb->prepare(
					"INSERT INTO {$wpdb->prefix}crmhooks_rate (account, window_json, names_json, updated_at) VALUES (%s, %s, %s, %d)
					 ON DUPLICATE KEY UPDATE window_json = IF(%d, VALUES(window_json), window_json), names_json = IF(%d, VALUES(names_json), names_json), updated_at = VALUES(updated_at)",
					$account,
					CrmHooks_Native::json( array_values( (array) ( $state['rate_window'] ?? array() ) ) ),
					CrmHooks_Native::json( $state['names'] ?? new stdClass() ),
					time(),
					is_array( $state['rate_window'] ?? null ) ? 1 : 0,
					is_array( $state['names'] ?? null ) ? 1 : 0
				)
			);
			CrmHooks_Jobs::unlock( $lock );
		}
	}
}

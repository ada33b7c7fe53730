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
		$json = (string) wp_json_encode( $request, JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE );
		return self::call( static fn( CrmHooks_Native $native, string $config ) => $native->crm_load_contact( $config, $json ) );
	}

	/** Add and remove tags by name on the CRM contact. */
	public static function change_tags( string $contact_id, array $add, array $remove ): void {
		$json = (string) wp_json_encode(
			array(
				'contact_id' => $contact_id,
				'add'        => $add,
				'remove'     => $remove,
			),
			JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE
		);
		self::call( static fn( CrmHooks_Native $native, string $config ) => $native->crm_change_tags( $config, $json ) );
	}

	/** Write one field of the CRM contact. */
	public static function write_field( string $contact_id, string $field, string $value ): void {
		$json = (string) wp_json_encode(
			array(
				'contact_id' => $contact_id,
				'field'      => $field,
				'value'      => $value,
			),
			JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE
		);
		self::call( static fn( CrmHooks_Native $native, string $config ) => $native->crm_write_field( $config, $json ) );
	}

	/** The account's tags and fields, listed anew: this also refreshes the shared name cache. */
	public static function list_schema(): array {
		return self::call( static fn( CrmHooks_Native $native, string $config ) => $native->crm_list_schema( $config ) );
	}

	/** One page of the contacts changed at or after $since (the reconcile sweep). */
	public static function list_modified( int $since, ?string $cursor ): array {
		$json = (string) wp_json_encode(
			array(
				'since'  => $since,
				'cursor' => $cursor,
			)
		);
		return self::call( static fn( CrmHooks_Native $native, string $config ) => $native->crm_list_modified( $config, $json ) );
	}

	/** One page of the contacts carrying a tag, by ID or name (import by tag). */
	public static function list_tagged( ?string $tag_id, ?string $tag_name, ?string $cursor ): array {
		$json = (string) wp_json_encode(
			array(
				'tag_id'   => $tag_id,
				'tag_name' => $tag_name,
				'cursor'   => $cursor,
			),
			JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE
		);
		return self::call( static fn( CrmHooks_Native $native, string $config ) => $native->crm_list_tagged( $config, $json ) );
	}

	/** CRM requests sent since the last call of this (for the log's "CRM calls"). */
	public static function take_requests(): int {
		$count          = self::$requests;
		self::$requests = 0;
		return $count;
	}

	/**
	 * Runs `$call( $native, $config_json_with_shared_state )` under the account's lock, then stores
	 * the window and any new listing the library hands back.
	 *
	 * @return mixed what $call returns
	 * @throws CrmHooks_Native_Error crm_rate_limited when the lock stays taken (retried later).
	 */
	private static function call( callable $call ) {
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
			$config                = json_decode( CrmHooks_Settings::crm_config_json(), true );
			$config['rate_window'] = array_values( array_map( 'intval', is_array( $window ) ? $window : array() ) );
			$config['names']       = (object) ( is_array( $names ) ? $names : array() );
			return $call( $native, (string) wp_json_encode( $config, JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE ) );
		} finally {
			$state           = $native->last_account_state();
			self::$requests += (int) ( $state['requests'] ?? 0 );
			$wpdb->query(
				$wpdb->prepare(
					"INSERT INTO {$wpdb->prefix}crmhooks_rate (account, window_json, names_json, updated_at) VALUES (%s, %s, %s, %d)
					 ON DUPLICATE KEY UPDATE window_json = IF(%d, VALUES(window_json), window_json), names_json = IF(%d, VALUES(names_json), names_json), updated_at = VALUES(updated_at)",
					$account,
					(string) wp_json_encode( array_values( (array) ( $state['rate_window'] ?? array() ) ) ),
					(string) wp_json_encode( $state['names'] ?? new stdClass(), JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE ),
					time(),
					is_array( $state['rate_window'] ?? null ) ? 1 : 0,
					is_array( $state['names'] ?? null ) ? 1 : 0
				)
			);
			CrmHooks_Jobs::unlock( $lock );
		}
	}
}

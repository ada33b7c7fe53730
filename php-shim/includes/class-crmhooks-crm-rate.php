<?php
/**
 * The CRM's rate limit, shared by every PHP worker and web server of the site: the account's
 * recent request times live in {prefix}crmhooks_rate and each CRM call claims them under a
 * database lock for the account, hands them to the library (which paces its requests by them)
 * and stores the window it hands back. Calls to one account are thus serialized across
 * workers, which costs nothing the CRM would have allowed anyway.
 */

declare(strict_types=1);

final class CrmHooks_Crm_Rate {

	/** Longest a CRM call waits for another worker's call to the same account. */
	private const LOCK_WAIT_SECS = 30;

	public static function table(): string {
		global $wpdb;
		return $wpdb->prefix . 'crmhooks_rate';
	}

	/** dbDelta format. */
	public static function table_sql( string $prefix, string $collate ): string {
		return "CREATE TABLE {$prefix}crmhooks_rate (
  account varchar(64) NOT NULL,
  window_json text NOT NULL,
  updated_at bigint(20) unsigned NOT NULL DEFAULT 0,
  PRIMARY KEY  (account)
) $collate;";
	}

	/**
	 * Runs `$call( $config_json_with_window )` under the account's lock with the shared window,
	 * then stores the window the library hands back.
	 *
	 * @return mixed what $call returns
	 * @throws CrmHooks_Native_Error crm_rate_limited when the lock stays taken (retried later).
	 */
	public static function call( string $config_json, callable $call ) {
		global $wpdb;
		$native  = CrmHooks_Native::get();
		$account = CrmHooks_Settings::account_id();
		$lock    = 'crmhooks_crm_' . md5( DB_NAME . '|' . $wpdb->prefix . '|' . $account );
		if ( (string) $wpdb->get_var( $wpdb->prepare( 'SELECT GET_LOCK(%s, %d)', $lock, self::LOCK_WAIT_SECS ) ) !== '1' ) {
			throw new CrmHooks_Native_Error( 'crm', CrmHooks_Native::CRM_RATE_LIMITED, 'other requests of this site are using the CRM', 5 );
		}
		$table = self::table();
		try {
			$stored                = json_decode( (string) $wpdb->get_var( $wpdb->prepare( "SELECT window_json FROM {$table} WHERE account = %s", $account ) ), true );
			$config                = json_decode( $config_json, true );
			$config                = is_array( $config ) ? $config : array();
			$config['rate_window'] = array_values( array_map( 'intval', is_array( $stored ) ? $stored : array() ) );
			return $call( (string) wp_json_encode( $config, JSON_UNESCAPED_SLASHES ) );
		} finally {
			$window = $native->last_rate_window();
			if ( $window !== null ) {
				$wpdb->query(
					$wpdb->prepare(
						"REPLACE INTO {$table} (account, window_json, updated_at) VALUES (%s, %s, %d)",
						$account,
						(string) wp_json_encode( array_values( $window ) ),
						time()
					)
				);
			}
			$wpdb->get_var( $wpdb->prepare( 'SELECT RELEASE_LOCK(%s)', $lock ) );
		}
	}
}

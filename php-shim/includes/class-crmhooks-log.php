<?php
/**
 * What happened, for the admin: one log row per accepted webhook ({prefix}crmhooks_log; never the
 * access key, CRM credentials, passwords or request values beyond the action and the contact ID),
 * and refused requests counted instead of logged: one row per hour and reason
 * ({prefix}crmhooks_refusals) with the count, the last time and the last remote address. A flood
 * of bad requests updates a row; it never adds one per request, so it cannot push real entries
 * out of the log or fill the database. Reasons are the library's fixed words, never request values.
 */

declare(strict_types=1);

final class CrmHooks_Log {

	/** Hourly refusal rows older than this are purged with the log. */
	public const REFUSALS_KEEP_DAYS = 30;

	public static function table(): string {
		global $wpdb;
		return $wpdb->prefix . 'crmhooks_log';
	}

	/** dbDelta format. */
	public static function tables_sql( string $prefix, string $collate ): array {
		return array(
			"CREATE TABLE {$prefix}crmhooks_log (
  id bigint(20) unsigned NOT NULL AUTO_INCREMENT,
  created_at datetime NOT NULL,
  action varchar(20) NOT NULL DEFAULT '',
  contact_id varchar(64) NOT NULL DEFAULT '',
  outcome varchar(40) NOT NULL DEFAULT '',
  duration_ms int(10) unsigned NOT NULL DEFAULT 0,
  crm_calls smallint(5) unsigned NOT NULL DEFAULT 0,
  message text NOT NULL,
  detail text NULL,
  PRIMARY KEY  (id),
  KEY created_at (created_at),
  KEY contact_id (contact_id)
) $collate;",
			"CREATE TABLE {$prefix}crmhooks_refusals (
  hour_start bigint(20) unsigned NOT NULL DEFAULT 0,
  reason varchar(40) NOT NULL DEFAULT '',
  refused int(10) unsigned NOT NULL DEFAULT 0,
  last_at bigint(20) unsigned NOT NULL DEFAULT 0,
  last_addr varchar(45) NOT NULL DEFAULT '',
  PRIMARY KEY  (hour_start,reason)
) $collate;",
		);
	}

	/** Longest stored detail JSON (the column is TEXT); a longer one is replaced by a note. */
	private const DETAIL_MAX_BYTES = 65535;

	/**
	 * Adds one entry. `$detail` (optional) says what the webhook changed or why it did not, for
	 * the entry's view on Tools -> crmhooks Activity: tags_added, tags_removed (names), fields
	 * (key => { old, new }, or { hidden } for a secret-looking key: src/plan/summary.rs decides),
	 * role { old, new }, skipped_reason. Never access keys, tokens or passwords.
	 */
	public static function add( string $action, string $contact_id, string $outcome, int $duration_ms, int $crm_calls, string $message, array $detail = array() ): void {
		global $wpdb;
		$json = $detail === array() ? null : CrmHooks_Native::json( $detail );
		$json = $json !== null && strlen( $json ) > self::DETAIL_MAX_BYTES ? '{"note":"the detail was too large to keep"}' : $json;
		// A prepared INSERT rather than $wpdb->insert(): that one first asks the server for the
		// table's column charsets (SHOW FULL COLUMNS), one more round trip on every acknowledgement.
		$wpdb->query( $wpdb->prepare( "INSERT INTO {$wpdb->prefix}crmhooks_log (created_at, action, contact_id, outcome, duration_ms, crm_calls, message, detail) VALUES (%s, %s, %s, %s, %d, %d, %s, NULLIF(%s, ''))", current_time( 'mysql', true ), substr( $action, 0, 20 ), substr( $contact_id, 0, 64 ), substr( $outcome, 0, 40 ), max( 0, $duration_ms ), max( 0, min( 65535, $crm_calls ) ), substr( $message, 0, 1000 ), (string) $json ) );
	}

	/** Adds the entry of a processed webhook: an outcome of CrmHooks_Worker::process(), under $message. */
	public static function add_outcome( array $outcome, string $message ): void {
		self::add( (string) $outcome['action'], (string) $outcome['contact_id'], (string) $outcome['outcome'], (int) $outcome['duration_ms'], (int) $outcome['crm_calls'], $message, (array) $outcome['detail'] );
	}

	/** Counts one refused request under $reason, with the client's address as the web server saw it (proxy headers are forgeable). */
	public static function count_refusal( string $reason ): void {
		global $wpdb;
		$now    = time();
		$reason = substr( (string) preg_replace( '/[^a-z0-9_]/', '', strtolower( $reason ) ), 0, 40 );
		$addr   = isset( $_SERVER['REMOTE_ADDR'] ) ? sanitize_text_field( wp_unslash( $_SERVER['REMOTE_ADDR'] ) ) : '';
		$wpdb->query( $wpdb->prepare( "INSERT INTO {$wpdb->prefix}crmhooks_refusals (hour_start, reason, refused, last_at, last_addr) VALUES (%d, %s, 1, %d, %s) ON DUPLICATE KEY UPDATE refused = refused + 1, last_at = VALUES(last_at), last_addr = VALUES(last_addr)", $now - $now % HOUR_IN_SECONDS, $reason !== '' ? $reason : 'failed', $now, filter_var( $addr, FILTER_VALIDATE_IP ) !== false ? $addr : '' ) );
	}

	/** Refusal totals per reason since $since (Unix time), most refused first. */
	public static function refusals( int $since ): array {
		global $wpdb;
		return (array) $wpdb->get_results( $wpdb->prepare( "SELECT reason, SUM(refused) AS refused, MAX(last_at) AS last_at, SUBSTRING_INDEX(GROUP_CONCAT(last_addr ORDER BY last_at DESC), ',', 1) AS last_addr FROM {$wpdb->prefix}crmhooks_refusals WHERE hour_start >= %d GROUP BY reason ORDER BY refused DESC", $since - $since % HOUR_IN_SECONDS ), ARRAY_A );
	}

	/** Cron: drops log rows older than the retention setting, and old refusal counters. */
	public static function purge(): void {
		global $wpdb;
		$days = max( 1, (int) CrmHooks_Settings::get( 'log_retention_days' ) );
		$wpdb->query( $wpdb->prepare( "DELETE FROM {$wpdb->prefix}crmhooks_log WHERE created_at < %s", gmdate( 'Y-m-d H:i:s', time() - $days * DAY_IN_SECONDS ) ) );
		$wpdb->query( $wpdb->prepare( "DELETE FROM {$wpdb->prefix}crmhooks_refusals WHERE hour_start < %d", time() - self::REFUSALS_KEEP_DAYS * DAY_IN_SECONDS ) );
	}
}

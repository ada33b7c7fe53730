<?php
/**
 * Refused webhook requests, counted instead of logged: one row per hour and reason
 * ({prefix}crmhooks_refusals), with the count, the last time and the last remote address. A flood
 * of bad requests updates a row; it never adds one per request, so it cannot push real entries
 * out of the log or fill the database. Reasons are the library's fixed words (unauthorized,
 * bad_request, not_utf8, ...), never request values.
 */

declare(strict_types=1);

final class CrmHooks_Refusals {

	/** Hourly rows older than this are purged with the log. */
	public const KEEP_DAYS = 30;

	public static function table(): string {
		global $wpdb;
		return $wpdb->prefix . 'crmhooks_refusals';
	}

	/** dbDelta format. */
	public static function table_sql( string $prefix, string $collate ): string {
		return "CREATE TABLE {$prefix}crmhooks_refusals (
  hour_start bigint(20) unsigned NOT NULL DEFAULT 0,
  reason varchar(40) NOT NULL DEFAULT '',
  refused int(10) unsigned NOT NULL DEFAULT 0,
  last_at bigint(20) unsigned NOT NULL DEFAULT 0,
  last_addr varchar(45) NOT NULL DEFAULT '',
  PRIMARY KEY  (hour_start,reason)
) $collate;";
	}

	/** Counts one refused request under $reason. */
	public static function count( string $reason ): void {
		global $wpdb;
		$now    = time();
		$reason = substr( preg_replace( '/[^a-z0-9_]/', '', strtolower( $reason ) ) ?? '', 0, 40 );
		$table  = self::table();
		$wpdb->query(
			$wpdb->prepare(
				"INSERT INTO {$table} (hour_start, reason, refused, last_at, last_addr) VALUES (%d, %s, 1, %d, %s)
             ON DUPLICATE KEY UPDATE refused = refused + 1, last_at = VALUES(last_at), last_addr = VALUES(last_addr)",
				$now - $now % HOUR_IN_SECONDS,
				$reason !== '' ? $reason : 'failed',
				$now,
				self::remote_addr()
			)
		);
	}

	/** Totals per reason since $since (Unix time), most refused first. */
	public static function summary( int $since ): array {
		global $wpdb;
		$table = self::table();
		$rows  = $wpdb->get_results(
			$wpdb->prepare(
				"SELECT reason, SUM(refused) AS refused, MAX(last_at) AS last_at,
                    SUBSTRING_INDEX(GROUP_CONCAT(last_addr ORDER BY last_at DESC), ',', 1) AS last_addr
               FROM {$table} WHERE hour_start >= %d GROUP BY reason ORDER BY refused DESC",
				$since - $since % HOUR_IN_SECONDS
			),
			ARRAY_A
		);
		return is_array( $rows ) ? $rows : array();
	}

	public static function purge(): void {
		global $wpdb;
		$table = self::table();
		$wpdb->query( $wpdb->prepare( "DELETE FROM {$table} WHERE hour_start < %d", time() - self::KEEP_DAYS * DAY_IN_SECONDS ) );
	}

	/** The client's address as the web server saw it (no proxy headers: those are forgeable). */
	private static function remote_addr(): string {
		$addr = isset( $_SERVER['REMOTE_ADDR'] ) ? sanitize_text_field( wp_unslash( $_SERVER['REMOTE_ADDR'] ) ) : '';
		return filter_var( $addr, FILTER_VALIDATE_IP ) !== false ? $addr : '';
	}
}

<?php
/**
 * Loopback guard: remembers when we last wrote to a CRM contact (record_write() is called
 * directly after every write; other plugins hear it as `crmhooks_crm_write`). A webhook for that contact inside the window
 * (setting loopback_window_secs) is probably the CRM echoing our own write, so its job is
 * deferred to the window's end and then reads the CRM fresh: an echo cannot erase what we just
 * wrote, and a real change is still picked up. Table {prefix}crmhooks_writes.
 */

declare(strict_types=1);

final class CrmHooks_Loopback {

	public static function table(): string {
		global $wpdb;
		return $wpdb->prefix . 'crmhooks_writes';
	}

	public static function table_sql( string $prefix, string $collate ): string {
		return "CREATE TABLE {$prefix}crmhooks_writes (
  contact_key varchar(191) NOT NULL,
  last_write_at bigint(20) unsigned NOT NULL DEFAULT 0,
  PRIMARY KEY  (contact_key)
) $collate;";
	}

	/** Called directly after every write of ours to the CRM (never through a public hook). */
	public static function record_write( $contact_id ): void {
		global $wpdb;
		$contact_id = trim( (string) $contact_id );
		if ( $contact_id === '' ) {
			return;
		}
		$table = self::table();
		$wpdb->query(
			$wpdb->prepare(
				"INSERT INTO {$table} (contact_key, last_write_at) VALUES (%s, %d) ON DUPLICATE KEY UPDATE last_write_at = GREATEST(last_write_at, VALUES(last_write_at))",
				'id:' . substr( $contact_id, 0, 180 ),
				time()
			)
		);
	}

	public static function window_secs(): int {
		$value = CrmHooks_Settings::get( 'loopback_window_secs' );
		return is_numeric( $value ) ? max( 0, (int) $value ) : 60;
	}

	public static function last_write_at( string $contact_key ): ?int {
		global $wpdb;
		if ( strpos( $contact_key, 'id:' ) !== 0 ) {
			return null; // Writes are recorded per contact ID only.
		}
		$table = self::table();
		$value = $wpdb->get_var( $wpdb->prepare( "SELECT last_write_at FROM {$table} WHERE contact_key = %s", $contact_key ) );
		return $value === null ? null : (int) $value;
	}

	/** Row of this table holding when the last drainer run that called the CRM ended (ms). */
	private const DRAINER_KEY = 'drainer:last_end_ms';

	public static function record_drainer_end(): void {
		global $wpdb;
		$table = self::table();
		$wpdb->query(
			$wpdb->prepare(
				"INSERT INTO {$table} (contact_key, last_write_at) VALUES (%s, %d) ON DUPLICATE KEY UPDATE last_write_at = VALUES(last_write_at)",
				self::DRAINER_KEY,
				(int) round( microtime( true ) * 1000 )
			)
		);
	}

	/** Sleeps until $secs after the previous drainer run ended (the CRM's window then is ours). */
	public static function wait_for_previous_drainer( float $secs ): void {
		global $wpdb;
		$table    = self::table();
		$ended_ms = (int) $wpdb->get_var( $wpdb->prepare( "SELECT last_write_at FROM {$table} WHERE contact_key = %s", self::DRAINER_KEY ) );
		$wait     = ( $ended_ms / 1000 + $secs ) - microtime( true );
		if ( $wait > 0 ) {
			usleep( (int) ( min( $secs, $wait ) * 1000000 ) );
		}
	}

	/** Rows older than any window are useless: dropped by the cron run. */
	public static function prune(): void {
		global $wpdb;
		$table = self::table();
		$wpdb->query( $wpdb->prepare( "DELETE FROM {$table} WHERE contact_key LIKE %s AND last_write_at < %d", 'id:%', time() - max( 3600, self::window_secs() * 2 ) ) );
	}
}

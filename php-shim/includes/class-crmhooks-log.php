<?php
/**
 * One log row per webhook. Never the access key, CRM credentials, passwords or request values
 * beyond the action and the contact ID.
 */

declare(strict_types=1);

final class CrmHooks_Log {

	public static function table(): string {
		global $wpdb;
		return $wpdb->prefix . 'crmhooks_log';
	}

	public static function add( string $action, string $contact_id, string $outcome, int $duration_ms, int $crm_calls, string $message ): void {
		global $wpdb;
		$wpdb->insert(
			self::table(),
			array(
				'created_at'  => current_time( 'mysql', true ),
				'action'      => substr( $action, 0, 20 ),
				'contact_id'  => substr( $contact_id, 0, 64 ),
				'outcome'     => substr( $outcome, 0, 40 ),
				'duration_ms' => max( 0, $duration_ms ),
				'crm_calls'   => max( 0, min( 65535, $crm_calls ) ),
				'message'     => substr( $message, 0, 1000 ),
			),
			array( '%s', '%s', '%s', '%s', '%d', '%d', '%s' )
		);
	}

	/** Newest first. */
	public static function recent( int $limit = 50 ): array {
		global $wpdb;
		$table = self::table();
		$rows  = $wpdb->get_results( $wpdb->prepare( "SELECT * FROM {$table} ORDER BY id DESC LIMIT %d", $limit ), ARRAY_A );
		return is_array( $rows ) ? $rows : array();
	}

	/** Cron: drops rows older than the retention setting. */
	public static function purge(): void {
		self::purge_older_than( max( 1, (int) CrmHooks_Settings::get( 'log_retention_days' ) ) );
	}

	public static function purge_older_than( int $days ): void {
		global $wpdb;
		$table = self::table();
		$wpdb->query( $wpdb->prepare( "DELETE FROM {$table} WHERE created_at < %s", gmdate( 'Y-m-d H:i:s', time() - $days * DAY_IN_SECONDS ) ) );
	}
}

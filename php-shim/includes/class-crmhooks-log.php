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

	/** Longest stored detail JSON (the column is TEXT); a longer one is replaced by a note. */
	private const DETAIL_MAX_BYTES = 65535;

	/**
	 * Adds one entry. `$detail` (optional) says what the webhook changed or why it did not, for
	 * the entry's view on Tools -> crmhooks Activity, which shows these keys as lists:
	 *   tags_added, tags_removed  list of tag names
	 *   fields                    { wp_key: { old: string, new: string } }
	 *   role                      { old: string, new: string }
	 *   skipped_reason            string
	 * and any other key as it is. Never keys, tokens or passwords (see the class comment).
	 */
	public static function add( string $action, string $contact_id, string $outcome, int $duration_ms, int $crm_calls, string $message, array $detail = array() ): void {
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
				'detail'      => self::encode_detail( $detail ),
			),
			array( '%s', '%s', '%s', '%s', '%d', '%d', '%s', '%s' )
		);
	}

	/** The stored form of a detail: JSON, or null when there is none. */
	private static function encode_detail( array $detail ): ?string {
		if ( $detail === array() ) {
			return null;
		}
		$json = (string) wp_json_encode( $detail, JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE );
		if ( strlen( $json ) > self::DETAIL_MAX_BYTES ) {
			return (string) wp_json_encode( array( 'note' => 'the detail was too large to keep' ) );
		}
		return $json;
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

<?php
/**
 * The SQL queries of the Activity screen and the user lookups of both screens, prepared. Table
 * names are $wpdb->prefix plus a fixed suffix, interpolated: the %i identifier placeholder needs
 * WordPress 6.2 and the plugin supports 6.1 (Debian 12's). Every query on jobs is the jobs
 * repository's (CrmHooks_Jobs).
 */

declare(strict_types=1);

final class CrmHooks_Admin_Queries {

	/**
	 * Webhooks received and jobs finished per hour, oldest hour first, ending with the current
	 * hour. Received: the log's entry for every webhook the queue accepted (merged ones too) or
	 * could not store, and test webhooks. Finished: jobs that ended done, skipped or failed (not
	 * the bookkeeping rows of a job folded into another one).
	 *
	 * @return array<int, array{start:int, received:int, finished:int}>
	 */
	public static function hourly_activity( int $now, int $hours ): array {
		global $wpdb;
		$first   = ( intdiv( $now, HOUR_IN_SECONDS ) - $hours + 1 ) * HOUR_IN_SECONDS;
		$buckets = array();
		for ( $start = $first; $start <= $now; $start += HOUR_IN_SECONDS ) {
			$buckets[ $start ] = array(
				'start'    => $start,
				'received' => 0,
				'finished' => 0,
			);
		}
		$log      = CrmHooks_Log::table();
		$received = $wpdb->get_results(
			$wpdb->prepare(
				"SELECT DATE_FORMAT(created_at, '%%Y-%%m-%%d %%H:00:00') AS hour, COUNT(*) AS n FROM {$log}
                  WHERE created_at >= %s AND outcome IN ('received', 'queue_error', 'test') GROUP BY hour",
				gmdate( 'Y-m-d H:i:s', $first )
			),
			ARRAY_A
		);
		foreach ( (array) $received as $row ) {
			$start = CrmHooks_Admin_Words::utc_to_timestamp( (string) $row['hour'] );
			if ( isset( $buckets[ $start ] ) ) {
				$buckets[ $start ]['received'] = (int) $row['n'];
			}
		}
		foreach ( CrmHooks_Jobs::finished_per_hour( $first ) as $start => $n ) {
			if ( isset( $buckets[ $start ] ) ) {
				$buckets[ $start ]['finished'] = $n;
			}
		}
		return array_values( $buckets );
	}

	/**
	 * The WHERE clause of the Activity list: outcome and action are exact codes; a search with
	 * an @ finds the contact IDs of users whose email contains it, anything else is a contact ID.
	 */
	private static function log_where( array $filter ): string {
		global $wpdb;
		$where = array( '1=1' );
		if ( ( $filter['outcome'] ?? '' ) !== '' ) {
			$where[] = $wpdb->prepare( 'outcome = %s', (string) $filter['outcome'] );
		}
		if ( ( $filter['action'] ?? '' ) !== '' ) {
			$where[] = $wpdb->prepare( 'action = %s', (string) $filter['action'] );
		}
		$search = trim( (string) ( $filter['search'] ?? '' ) );
		if ( $search !== '' && strpos( $search, '@' ) !== false ) {
			$where[] = $wpdb->prepare(
				"contact_id IN (SELECT um.meta_value FROM {$wpdb->usermeta} um INNER JOIN {$wpdb->users} u ON u.ID = um.user_id
                                 WHERE um.meta_key = %s AND um.meta_value <> '' AND u.user_email LIKE %s)",
				CrmHooks_Users::META_CONTACT_ID,
				'%' . $wpdb->esc_like( $search ) . '%'
			);
		} elseif ( $search !== '' ) {
			$where[] = $wpdb->prepare( 'contact_id = %s', $search );
		}
		return implode( ' AND ', $where );
	}

	/** One page of log entries, newest first (by their time; the ID orders entries of one second). */
	public static function log_entries( array $filter, int $per_page, int $offset ): array {
		global $wpdb;
		$log   = CrmHooks_Log::table();
		$where = self::log_where( $filter );
		$limit = $wpdb->prepare( 'LIMIT %d OFFSET %d', $per_page, $offset );
		$rows  = $wpdb->get_results( "SELECT id, created_at, action, contact_id, outcome, duration_ms, crm_calls, message FROM {$log} WHERE {$where} ORDER BY created_at DESC, id DESC {$limit}", ARRAY_A );
		return is_array( $rows ) ? $rows : array();
	}

	public static function log_total( array $filter ): int {
		global $wpdb;
		$log   = CrmHooks_Log::table();
		$where = self::log_where( $filter );
		return (int) $wpdb->get_var( "SELECT COUNT(*) FROM {$log} WHERE {$where}" );
	}

	public static function log_entry( int $id ): ?array {
		global $wpdb;
		$log = CrmHooks_Log::table();
		$row = $wpdb->get_row( $wpdb->prepare( "SELECT * FROM {$log} WHERE id = %d", $id ), ARRAY_A );
		return is_array( $row ) ? $row : null;
	}

	/**
	 * The WordPress user linked to each of these CRM contact IDs (user meta crmhooks_contact_id;
	 * the lowest user ID when a conflict links two).
	 *
	 * @return array<string,int> contact ID => user ID
	 */
	public static function users_by_contact( array $contact_ids ): array {
		global $wpdb;
		$contact_ids = array_values( array_unique( array_filter( array_map( 'strval', $contact_ids ), static fn( string $id ): bool => $id !== '' ) ) );
		if ( $contact_ids === array() ) {
			return array();
		}
		$rows  = $wpdb->get_results(
			$wpdb->prepare(
				"SELECT meta_value AS contact_id, MIN(user_id) AS user_id FROM {$wpdb->usermeta}
                  WHERE meta_key = %s AND meta_value IN (" . implode( ', ', array_fill( 0, count( $contact_ids ), '%s' ) ) . ') GROUP BY meta_value',
				array_merge( array( CrmHooks_Users::META_CONTACT_ID ), $contact_ids )
			),
			ARRAY_A
		);
		$users = array();
		foreach ( (array) $rows as $row ) {
			$users[ (string) $row['contact_id'] ] = (int) $row['user_id'];
		}
		return $users;
	}
}

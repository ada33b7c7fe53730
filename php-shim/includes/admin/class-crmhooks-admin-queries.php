<?php
/**
 * Every SQL query of the Queue and Activity screens, prepared. Table names are $wpdb->prefix plus
 * a fixed suffix, interpolated: the %i identifier placeholder needs WordPress 6.2 and the plugin
 * supports 6.1 (Debian 12's). Changes to jobs go through CrmHooks_Jobs, except deleting them.
 */

declare(strict_types=1);

final class CrmHooks_Admin_Queries {

	/**
	 * The one place a job's display state is derived from its columns (status, run_after against
	 * now, attempts, outcome, lease) and its contact's last CRM write (`w`, left-joined):
	 *
	 *   state: queued | deferred | running | retrying | failed | skipped | done
	 *   why:   for deferred: loopback | rate_limit | settle; for running: lease | lease_expired
	 *
	 * A retry the CRM's rate limit asked for counts as deferred, not as a failing attempt.
	 * Skipped jobs (nothing to do, contact not found, conflict) end as done or, for a conflict,
	 * as failed: the state says skipped either way, and a conflict can still be retried.
	 */
	private static function job_state_columns( int $now ): string {
		global $wpdb;
		return $wpdb->prepare(
			"CASE
               WHEN j.status = 'running' THEN 'running'
               WHEN j.status = 'queued' AND j.attempts > 0 AND j.outcome <> 'crm_rate_limited' THEN 'retrying'
               WHEN j.status = 'queued' AND j.run_after > %d THEN 'deferred'
               WHEN j.status = 'queued' THEN 'queued'
               WHEN j.outcome IN ('skipped', 'contact_not_found', 'conflict') THEN 'skipped'
               WHEN j.status = 'failed' THEN 'failed'
               ELSE 'done'
             END AS state,
             CASE
               WHEN j.status = 'running' AND j.lease_until < %d THEN 'lease_expired'
               WHEN j.status = 'running' THEN 'lease'
               WHEN j.status <> 'queued' OR j.run_after <= %d THEN ''
               WHEN j.outcome = 'crm_rate_limited' THEN 'rate_limit'
               WHEN w.last_write_at IS NOT NULL AND w.last_write_at + %d >= j.run_after THEN 'loopback'
               ELSE 'settle'
             END AS why",
			$now,
			$now,
			$now,
			(int) CrmHooks_Settings::get( 'loopback_window_secs' )
		);
	}

	/** Jobs with their derived state, as a derived table `s` to filter and count on. */
	private static function jobs_with_state( int $now ): string {
		$jobs   = CrmHooks_Jobs::table();
		$writes = $GLOBALS['wpdb']->prefix . 'crmhooks_writes';
		return '(SELECT j.id, j.contact_key, j.action, j.request_json, j.status, j.attempts, j.run_after, j.lease_until, j.worker,
                        j.received_count, j.created_at, j.updated_at, j.last_error, j.outcome, ' . self::job_state_columns( $now ) . "
                   FROM {$jobs} j LEFT JOIN {$writes} w ON w.contact_key = j.contact_key) s";
	}

	/** @return array<string,int> jobs per state (every state present, 0 when none) */
	public static function job_counts( int $now ): array {
		global $wpdb;
		$counts = array_fill_keys( array_keys( CrmHooks_Admin_Words::states() ), 0 );
		$jobs   = self::jobs_with_state( $now );
		$rows   = $wpdb->get_results( "SELECT state, COUNT(*) AS n FROM {$jobs} GROUP BY state", ARRAY_A );
		foreach ( (array) $rows as $row ) {
			$counts[ (string) $row['state'] ] = (int) $row['n'];
		}
		return $counts;
	}

	/** One page of jobs, newest first; `$state` '' for all. */
	public static function jobs( int $now, string $state, int $per_page, int $offset ): array {
		global $wpdb;
		$jobs  = self::jobs_with_state( $now );
		$where = $state !== '' ? $wpdb->prepare( 'WHERE state = %s', $state ) : '';
		$limit = $wpdb->prepare( 'LIMIT %d OFFSET %d', $per_page, $offset );
		$rows  = $wpdb->get_results( "SELECT * FROM {$jobs} {$where} ORDER BY id DESC {$limit}", ARRAY_A );
		return is_array( $rows ) ? $rows : array();
	}

	/** @return int how many of these jobs were deleted */
	public static function delete_jobs( array $ids ): int {
		global $wpdb;
		$ids = array_values( array_filter( array_map( 'absint', $ids ) ) );
		if ( $ids === array() ) {
			return 0;
		}
		$table = CrmHooks_Jobs::table();
		return (int) $wpdb->query( $wpdb->prepare( "DELETE FROM {$table} WHERE id IN (" . implode( ', ', array_fill( 0, count( $ids ), '%d' ) ) . ')', $ids ) );
	}

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
		$jobs     = CrmHooks_Jobs::table();
		$finished = $wpdb->get_results(
			$wpdb->prepare(
				"SELECT FLOOR(updated_at / %d) * %d AS hour, COUNT(*) AS n FROM {$jobs}
                  WHERE status IN ('done', 'failed') AND outcome NOT IN ('merged', 'requeued') AND updated_at >= %d GROUP BY hour",
				HOUR_IN_SECONDS,
				HOUR_IN_SECONDS,
				$first
			),
			ARRAY_A
		);
		foreach ( (array) $finished as $row ) {
			$start = (int) $row['hour'];
			if ( isset( $buckets[ $start ] ) ) {
				$buckets[ $start ]['finished'] = (int) $row['n'];
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

	/**
	 * Site Health facts: when the oldest due job became due (queued past its run_after, or
	 * running past its lease), how many jobs failed in the last 24 hours, and when the last queue
	 * run ended a job.
	 *
	 * @return array{oldest_due_at:?int, failed_24h:int, last_drainer_end:?int}
	 */
	public static function health_facts( int $now ): array {
		global $wpdb;
		$row      = (array) $wpdb->get_row( $wpdb->prepare( "SELECT MIN(CASE WHEN status = 'queued' AND run_after <= %d THEN run_after WHEN status = 'running' AND lease_until < %d THEN lease_until END) AS oldest_due_at, SUM(status = 'failed' AND updated_at >= %d) AS failed_24h FROM {$wpdb->prefix}crmhooks_jobs WHERE status IN ('queued','running','failed')", $now, $now, $now - DAY_IN_SECONDS ), ARRAY_A );
		$ended_at = $wpdb->get_var( "SELECT MAX(updated_at) FROM {$wpdb->prefix}crmhooks_jobs WHERE status IN ('done','failed') AND attempts > 0" );
		return array(
			'oldest_due_at'    => isset( $row['oldest_due_at'] ) ? (int) $row['oldest_due_at'] : null,
			'failed_24h'       => (int) ( $row['failed_24h'] ?? 0 ),
			'last_drainer_end' => $ended_at === null ? null : (int) $ended_at,
		);
	}
}

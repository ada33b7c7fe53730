<?php
/**
 * The durable job queue: table {prefix}crmhooks_jobs. A webhook is written here before it is
 * answered; the drainer (CrmHooks_Drainer) processes it later.
 *
 * Coalescing is race-free through a unique key: `queued_key` holds the contact key while a job is
 * queued and NULL otherwise, so at most one queued job exists per contact. A new webhook first
 * tries to INSERT; when the key is taken it locks that row (SELECT ... FOR UPDATE) and merges into
 * it. Claiming clears the key in the same UPDATE that sets the lease, so a webhook arriving while
 * its contact's job runs starts a new job: nothing is dropped.
 */

declare(strict_types=1);

final class CrmHooks_Queue {

	/** Schema of the queue tables; a different stored value runs dbDelta on plugins_loaded. */
	public const DB_VERSION        = '5';
	public const DB_VERSION_OPTION = 'crmhooks_queue_db_version';

	/** The queue's hooks, all in one place (called from crmhooks_bootstrap()). */
	public static function register(): void {
		add_action( 'plugins_loaded', array( self::class, 'maybe_upgrade' ) );
		CrmHooks_Drainer::register();
		if ( is_admin() ) {
			require_once __DIR__ . '/admin/class-crmhooks-jobs-admin.php';
			CrmHooks_Jobs_Admin::register();
		}
	}

	public static function table(): string {
		global $wpdb;
		return $wpdb->prefix . 'crmhooks_jobs';
	}

	/** A queue setting (the library gives every key its default and range). */
	public static function setting( string $key ): int {
		return (int) CrmHooks_Settings::get( $key );
	}

	// ----- schema -----

	public static function install(): void {
		global $wpdb;
		require_once ABSPATH . 'wp-admin/includes/upgrade.php';
		foreach ( self::tables_sql( $wpdb->prefix, $wpdb->get_charset_collate() ) as $sql ) {
			dbDelta( $sql );
		}
		update_option( self::DB_VERSION_OPTION, self::DB_VERSION );
	}

	/** plugins_loaded: one autoloaded-option compare; dbDelta only when the schema changed. */
	public static function maybe_upgrade(): void {
		if ( get_option( self::DB_VERSION_OPTION ) !== self::DB_VERSION ) {
			self::install();
		}
	}

	/** dbDelta format: one column per line, two spaces after PRIMARY KEY. */
	public static function tables_sql( string $prefix, string $collate ): array {
		return array(
			"CREATE TABLE {$prefix}crmhooks_jobs (
  id bigint(20) unsigned NOT NULL AUTO_INCREMENT,
  contact_key varchar(191) NOT NULL DEFAULT '',
  queued_key varchar(191) DEFAULT NULL,
  account varchar(64) NOT NULL DEFAULT '',
  action varchar(20) NOT NULL DEFAULT '',
  request_json longtext NOT NULL,
  status varchar(10) NOT NULL DEFAULT 'queued',
  attempts smallint(5) unsigned NOT NULL DEFAULT 0,
  run_after bigint(20) unsigned NOT NULL DEFAULT 0,
  lease_until bigint(20) unsigned NOT NULL DEFAULT 0,
  worker varchar(100) NOT NULL DEFAULT '',
  received_count int(10) unsigned NOT NULL DEFAULT 1,
  created_at bigint(20) unsigned NOT NULL DEFAULT 0,
  updated_at bigint(20) unsigned NOT NULL DEFAULT 0,
  last_error text NOT NULL,
  outcome varchar(40) NOT NULL DEFAULT '',
  PRIMARY KEY  (id),
  UNIQUE KEY queued_key (queued_key),
  KEY status_run_after (status,run_after),
  KEY contact_key (contact_key)
) $collate;",
			CrmHooks_Loopback::table_sql( $prefix, $collate ),
			CrmHooks_Refusals::table_sql( $prefix, $collate ),
			CrmHooks_Crm::table_sql( $prefix, $collate ),
		);
	}

	// ----- keys and merging (pure) -----

	/** One queue verdict from the library (crmh_queue_decide); `$query['kind']` picks which. */
	public static function decide( array $query ): array {
		$query['settings'] = CrmHooks_Settings::public_settings();
		return CrmHooks_Native::get()->queue_decide( (string) wp_json_encode( $query, JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE ) );
	}

	// ----- enqueue -----

	/** Async unless the request says async=false or the site setting is off. */
	public static function is_async( array $request ): bool {
		return is_bool( $request['async'] ?? null ) ? $request['async'] : (bool) CrmHooks_Settings::get( 'async' );
	}

	/** queued + running jobs. */
	public static function backlog(): int {
		global $wpdb;
		$table = self::table();
		return (int) $wpdb->get_var( "SELECT COUNT(*) FROM {$table} WHERE status IN ('queued','running')" );
	}

	/**
	 * Webhook handler entry: the library admits the webhook (or answers 503 when the queue is
	 * full), the job is stored or merged, logged as received, and a drainer starts after the
	 * response.
	 *
	 * @return array{status:int, body:array, headers:array} the HTTP answer
	 */
	public static function accept( array $request, float $started ): array {
		$action     = (string) ( $request['action'] ?? '' );
		$contact_id = (string) ( $request['contact_id'] ?? '' );
		$verdict    = self::decide(
			array(
				'kind'    => 'accept',
				'now'     => time(),
				'request' => $request,
				'nonce'   => bin2hex( random_bytes( 8 ) ),
				'backlog' => self::backlog(),
			)
		);
		if ( is_array( $verdict['refuse'] ?? null ) ) {
			CrmHooks_Refusals::count( 'queue_full' ); // Counted: a flood must not grow the log.
			return CrmHooks_Webhook::library_answer( $verdict['refuse'] );
		}
		$key    = (string) $verdict['contact_key'];
		$result = self::enqueue( $key, $request, CrmHooks_Settings::account_id() );
		$ms     = (int) round( ( microtime( true ) - $started ) * 1000 );
		if ( $result === null ) {
			CrmHooks_Log::add( $action, $contact_id, 'queue_error', $ms, 0, 'the job could not be stored' );
			return array(
				'status'  => 503,
				'body'    => array(
					'success' => false,
					'error'   => 'busy',
				),
				'headers' => array( 'Retry-After' => '5' ),
			);
		}
		$message = $result['merged'] ? 'merged into job ' . $result['id'] : 'queued as job ' . $result['id'];
		if ( $result['run_after'] > time() + self::setting( 'settle_secs' ) ) {
			$message .= '; deferred until ' . gmdate( 'H:i:s', $result['run_after'] ) . ' UTC: our own CRM write to this contact is recent (this is probably its echo), or a retry waits';
		}
		CrmHooks_Log::add( $action, $contact_id, 'received', $ms, 0, $message );
		CrmHooks_Drainer::run_after_response();
		return array(
			'status'  => 200,
			'body'    => array(
				'success' => true,
				'status'  => 'queued',
			),
			'headers' => array(),
		);
	}

	/**
	 * Inserts a job, or merges into the contact's queued job (the library says how). Race-free:
	 * the unique queued_key admits one queued job per contact; the merge holds that row's lock.
	 * A retried job folding in passes its first arrival and its backoff, which the merge keeps.
	 *
	 * @return array{id:int, merged:bool, run_after:int}|null null when the database refused
	 */
	public static function enqueue( string $key, array $request, string $account, int $received = 1, ?int $first = null, int $not_before = 0 ): ?array {
		global $wpdb;
		$table = self::table();
		$last  = CrmHooks_Loopback::last_write_at( $key );
		for ( $try = 0; $try < 5; $try++ ) {
			$now   = time();
			$fresh = self::decide(
				array(
					'kind'              => 'schedule',
					'now'               => $now,
					'first_received_at' => $first ?? $now,
					'last_write_at'     => $last,
					'not_before'        => $not_before,
				)
			);
			// INSERT IGNORE: a taken queued_key gives 0 rows and no error.
			$wpdb->query(
				$wpdb->prepare(
					"INSERT IGNORE INTO {$table} (contact_key, queued_key, account, action, request_json, status, attempts, run_after, lease_until, worker, received_count, created_at, updated_at, last_error, outcome)
                 VALUES (%s, %s, %s, %s, %s, 'queued', 0, %d, 0, '', %d, %d, %d, '', '')",
					$key,
					$key,
					$account,
					(string) ( $request['action'] ?? '' ),
					self::encode( $request ),
					(int) $fresh['run_after'],
					$received,
					$first ?? $now,
					$now
				)
			);
			if ( (int) $wpdb->rows_affected === 1 && (int) $wpdb->insert_id > 0 ) {
				return array(
					'id'        => (int) $wpdb->insert_id,
					'merged'    => false,
					'run_after' => (int) $fresh['run_after'],
				);
			}

			$wpdb->query( 'START TRANSACTION' );
			$row = $wpdb->get_row( $wpdb->prepare( "SELECT id, request_json, run_after, created_at FROM {$table} WHERE queued_key = %s FOR UPDATE", $key ), ARRAY_A );
			if ( ! is_array( $row ) ) {
				$wpdb->query( 'COMMIT' ); // Claimed meanwhile: insert a new job.
				continue;
			}
			$queued  = json_decode( (string) $row['request_json'], true );
			$merged  = self::decide(
				array(
					'kind'           => 'merge',
					'now'            => $now,
					'queued'         => array(
						'request'           => is_array( $queued ) ? $queued : $request,
						'first_received_at' => (int) $row['created_at'],
						'run_after'         => (int) $row['run_after'],
					),
					'incoming'       => $request,
					'incoming_first' => $first ?? $now,
					'last_write_at'  => $last,
					'not_before'     => $not_before,
				)
			);
			$updated = $wpdb->query(
				$wpdb->prepare(
					"UPDATE {$table} SET action = %s, request_json = %s, received_count = received_count + %d, run_after = %d, created_at = %d, updated_at = %d WHERE id = %d",
					(string) ( $merged['request']['action'] ?? '' ),
					self::encode( (array) $merged['request'] ),
					$received,
					(int) $merged['run_after'],
					(int) $merged['first_received_at'],
					$now,
					(int) $row['id']
				)
			);
			if ( $updated === false ) {
				$wpdb->query( 'ROLLBACK' ); // A deadlock victim, for one: try again.
				continue;
			}
			$wpdb->query( 'COMMIT' );
			return array(
				'id'        => (int) $row['id'],
				'merged'    => true,
				'run_after' => (int) $merged['run_after'],
			);
		}
		return null;
	}

	// ----- claim, complete, fail -----

	/**
	 * Takes the next due job: queued with run_after <= now, or running with an expired lease
	 * (its worker died). Never a job whose contact has another job under a live lease. Sets
	 * status running, attempts + 1, lease_until = now + lease. Jobs whose contact is inside the
	 * loopback window are pushed to the window's end instead.
	 *
	 * @return array|null the job row with 'request' decoded
	 */
	public static function claim( string $worker ): ?array {
		global $wpdb;
		$table   = self::table();
		$account = CrmHooks_Settings::account_id();
		for ( $try = 0; $try < 20; $try++ ) {
			$now       = time();
			$candidate = $wpdb->get_row(
				$wpdb->prepare(
					"SELECT j.id, j.contact_key, j.status, j.attempts, j.account FROM {$table} j
                 WHERE ((j.status = 'queued' AND j.run_after <= %d) OR (j.status = 'running' AND j.lease_until < %d))
                   AND NOT EXISTS (SELECT 1 FROM {$table} r WHERE r.contact_key = j.contact_key AND r.id <> j.id AND r.status = 'running' AND r.lease_until >= %d)
                 ORDER BY j.run_after ASC, j.id ASC LIMIT 1",
					$now,
					$now,
					$now
				),
				ARRAY_A
			);
			if ( ! is_array( $candidate ) ) {
				return null;
			}
			$id      = (int) $candidate['id'];
			$running = $candidate['status'] === 'running';
			$verdict = self::decide(
				array(
					'kind'            => 'claim',
					'now'             => $now,
					'job'             => array(
						'lease_expired' => $running,
						'attempts'      => (int) $candidate['attempts'],
						'account'       => (string) $candidate['account'],
					),
					'current_account' => $account,
					'last_write_at'   => CrmHooks_Loopback::last_write_at( (string) $candidate['contact_key'] ),
				)
			);
			if ( ( $verdict['verdict'] ?? '' ) === 'defer_until' ) {
				// Our own write is this recent: wait for the window's end, then read the CRM fresh.
				$column = $running ? 'lease_until' : 'run_after';
				$wpdb->query( $wpdb->prepare( "UPDATE {$table} SET {$column} = %d, updated_at = %d WHERE id = %d AND status = %s", (int) $verdict['at'], $now, $id, $candidate['status'] ) );
				continue;
			}
			if ( ( $verdict['verdict'] ?? '' ) === 'fail' ) {
				// Kept visible as failed (the admin can retry it): never dropped.
				$wpdb->query(
					$wpdb->prepare(
						"UPDATE {$table} SET status = 'failed', queued_key = NULL, outcome = %s, last_error = %s, lease_until = 0, updated_at = %d WHERE id = %d AND status = %s",
						substr( (string) $verdict['outcome'], 0, 40 ),
						substr( (string) $verdict['reason'], 0, 1000 ),
						$now,
						$id,
						$candidate['status']
					)
				);
				do_action( 'crmhooks_job_failed', $id, (string) $verdict['outcome'], (string) $verdict['reason'] );
				continue;
			}

			$condition = $running
				? $wpdb->prepare( "status = 'running' AND lease_until < %d", $now )
				: $wpdb->prepare( "status = 'queued' AND run_after <= %d", $now );
			$wpdb->query(
				$wpdb->prepare(
					"UPDATE {$table} SET status = 'running', queued_key = NULL, attempts = attempts + 1, lease_until = %d, worker = %s, updated_at = %d WHERE id = %d AND {$condition}",
					$now + max( 1, self::setting( 'lease_secs' ) ),
					substr( $worker, 0, 100 ),
					$now,
					$id
				)
			);
			if ( (int) $wpdb->rows_affected !== 1 ) {
				continue; // Someone else took or changed it.
			}
			$job = $wpdb->get_row( $wpdb->prepare( "SELECT * FROM {$table} WHERE id = %d", $id ), ARRAY_A );
			if ( ! is_array( $job ) ) {
				continue;
			}
			$request        = json_decode( (string) $job['request_json'], true );
			$job['request'] = is_array( $request ) ? $request : array();
			return $job;
		}
		return null;
	}

	/** Ends a job as done with its outcome (created, updated, contact_not_found, ...). */
	public static function complete( int $id, string $outcome, string $message = '' ): void {
		global $wpdb;
		$wpdb->update(
			self::table(),
			array(
				'status'      => 'done',
				'outcome'     => substr( $outcome, 0, 40 ),
				'last_error'  => substr( $message, 0, 1000 ),
				'lease_until' => 0,
				'updated_at'  => time(),
			),
			array( 'id' => $id ),
			array( '%s', '%s', '%s', '%d', '%d' ),
			array( '%d' )
		);
	}

	/**
	 * Ends an attempt as the library's finish verdict says: done; back in the queue at the retry
	 * time (folded into a newer queued job of the contact if one arrived, keeping this job's
	 * backoff and first arrival); or failed, visibly, for the admin to retry.
	 *
	 * @param array $job     the claimed row (with 'request')
	 * @param array $attempt outcome, code, retry_after, message
	 * @return string 'done', 'retry' or 'failed'
	 */
	public static function finish( array $job, array $attempt ): string {
		global $wpdb;
		$table   = self::table();
		$now     = time();
		$id      = (int) $job['id'];
		$name    = substr( (string) ( $attempt['outcome'] ?? 'failed' ), 0, 40 );
		$code    = (string) ( $attempt['code'] ?? '' );
		$message = substr( (string) ( $attempt['message'] ?? '' ), 0, 1000 );
		$verdict = self::decide(
			array(
				'kind'     => 'finish',
				'now'      => $now,
				'attempts' => (int) $job['attempts'],
				'attempt'  => array(
					'outcome'     => $name,
					'code'        => $code,
					'retry_after' => max( 0, (int) ( $attempt['retry_after'] ?? 0 ) ),
				),
				'jitter'   => wp_rand( 0, 999999 ) / 1000000,
			)
		);
		$ended   = $code !== '' && $name === 'crm_error' ? $code : $name;
		if ( ( $verdict['verdict'] ?? '' ) === 'done' ) {
			self::complete( $id, $name, $message );
			return 'done';
		}
		if ( ( $verdict['verdict'] ?? '' ) === 'retry_at' ) {
			$at = (int) $verdict['at'];
			$wpdb->query(
				$wpdb->prepare(
					"UPDATE IGNORE {$table} SET status = 'queued', queued_key = contact_key, run_after = %d, lease_until = 0, outcome = %s, last_error = %s, updated_at = %d WHERE id = %d",
					$at,
					$ended,
					$message !== '' ? $message : $ended,
					$now,
					$id
				)
			);
			if ( (int) $wpdb->rows_affected !== 1 ) {
				// A newer webhook queued the contact meanwhile: fold into it, keeping the backoff.
				self::enqueue( (string) $job['contact_key'], (array) $job['request'], (string) $job['account'], (int) $job['received_count'], (int) $job['created_at'], $at );
				self::complete( $id, 'merged', 'folded into the newer queued job after: ' . ( $message !== '' ? $message : $ended ) );
			}
			return 'retry';
		}
		$wpdb->update(
			$table,
			array(
				'status'      => 'failed',
				'outcome'     => $ended,
				'last_error'  => $message !== '' ? $message : $ended,
				'lease_until' => 0,
				'updated_at'  => $now,
			),
			array( 'id' => $id ),
			array( '%s', '%s', '%s', '%d', '%d' ),
			array( '%d' )
		);
		do_action( 'crmhooks_job_failed', $id, $ended, $message );
		return 'failed';
	}

	/** Puts a failed job back in the queue (merging into a queued job of the same contact). */
	public static function retry_failed( int $id ): bool {
		global $wpdb;
		$table = self::table();
		$job   = $wpdb->get_row( $wpdb->prepare( "SELECT * FROM {$table} WHERE id = %d AND status = 'failed'", $id ), ARRAY_A );
		if ( ! is_array( $job ) ) {
			return false;
		}
		// The admin's retry runs the job with the site's current CRM account.
		$now     = time();
		$account = CrmHooks_Settings::account_id();
		$wpdb->query(
			$wpdb->prepare(
				"UPDATE IGNORE {$table} SET status = 'queued', queued_key = contact_key, account = %s, attempts = 0, run_after = %d, lease_until = 0, updated_at = %d WHERE id = %d AND status = 'failed'",
				$account,
				$now,
				$now,
				$id
			)
		);
		if ( (int) $wpdb->rows_affected === 1 ) {
			return true;
		}
		$request = json_decode( (string) $job['request_json'], true );
		if ( ! is_array( $request ) || self::enqueue( (string) $job['contact_key'], $request, $account, (int) $job['received_count'] ) === null ) {
			return false;
		}
		$wpdb->query( $wpdb->prepare( "UPDATE {$table} SET status = 'done', outcome = 'requeued', updated_at = %d WHERE id = %d AND status = 'failed'", $now, $id ) );
		return true;
	}

	/** @return int how many failed jobs were put back */
	public static function retry_all_failed(): int {
		global $wpdb;
		$table = self::table();
		$count = 0;
		foreach ( $wpdb->get_col( "SELECT id FROM {$table} WHERE status = 'failed' ORDER BY id" ) as $id ) {
			$count += self::retry_failed( (int) $id ) ? 1 : 0;
		}
		return $count;
	}

	/** Deletes done jobs older than retention_days (the log keeps their outcomes). */
	public static function prune(): int {
		global $wpdb;
		$table  = self::table();
		$cutoff = time() - max( 1, self::setting( 'retention_days' ) ) * DAY_IN_SECONDS;
		return (int) $wpdb->query( $wpdb->prepare( "DELETE FROM {$table} WHERE status = 'done' AND updated_at < %d", $cutoff ) );
	}

	/** Counts per status plus the oldest due job's wait, for the admin screen. */
	public static function stats(): array {
		global $wpdb;
		$table = self::table();
		$stats = array(
			'queued'  => 0,
			'running' => 0,
			'done'    => 0,
			'failed'  => 0,
		);
		foreach ( (array) $wpdb->get_results( "SELECT status, COUNT(*) AS n FROM {$table} GROUP BY status", ARRAY_A ) as $row ) {
			$stats[ (string) $row['status'] ] = (int) $row['n'];
		}
		$oldest                       = $wpdb->get_var( "SELECT MIN(created_at) FROM {$table} WHERE status IN ('queued','running')" );
		$stats['oldest_pending_secs'] = $oldest === null ? 0 : max( 0, time() - (int) $oldest );
		return $stats;
	}

	public static function failed_jobs( int $limit = 50 ): array {
		global $wpdb;
		$table = self::table();
		$rows  = $wpdb->get_results( $wpdb->prepare( "SELECT id, contact_key, action, attempts, received_count, outcome, last_error, updated_at FROM {$table} WHERE status = 'failed' ORDER BY id DESC LIMIT %d", $limit ), ARRAY_A );
		return is_array( $rows ) ? $rows : array();
	}

	/**
	 * When the next job becomes claimable, or null when none is pending: a queued job at its
	 * run_after, but not before another job of its contact leaves its lease; a running job when
	 * its lease has expired.
	 */
	public static function next_due(): ?int {
		global $wpdb;
		$table = self::table();
		$next  = $wpdb->get_var(
			"SELECT MIN(due) FROM (
               SELECT GREATEST(j.run_after, COALESCE((SELECT MAX(r.lease_until) + 1 FROM {$table} r WHERE r.contact_key = j.contact_key AND r.status = 'running' AND r.id <> j.id), 0)) AS due
                 FROM {$table} j WHERE j.status = 'queued'
               UNION ALL
               SELECT lease_until + 1 AS due FROM {$table} WHERE status = 'running'
             ) pending"
		);
		return $next === null ? null : (int) $next;
	}

	private static function encode( array $request ): string {
		unset( $request['access_key'] ); // Never stored (the library's request has none anyway).
		return (string) wp_json_encode( $request, JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE );
	}
}

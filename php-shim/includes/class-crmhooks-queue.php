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
	public const DB_VERSION        = '2';
	public const DB_VERSION_OPTION = 'crmhooks_queue_db_version';

	/**
	 * Defaults of the queue's tuning keys, which crmhooks_settings may override (tests use short
	 * values). The user-facing ones (async, queue_max, max_attempts, retention_days) have their
	 * defaults in CrmHooks_Settings::defaults().
	 */
	public const DEFAULTS = array(
		'settle_secs'       => 2,
		'lease_secs'        => 60,
		'retry_base_secs'   => 30,
		'retry_max_secs'    => 3600,
		'drain_budget_secs' => 20,
		'drain_batch'       => 100,
	);

	/** Action strength for coalescing: the stronger action also does the weaker one's work. */
	private const ACTION_RANK = array(
		'test'        => 0,
		'update_tags' => 1,
		'update'      => 2,
		'add'         => 3,
	);

	/** The queue's hooks, all in one place (called from crmhooks_bootstrap()). */
	public static function register(): void {
		add_action( 'plugins_loaded', array( self::class, 'maybe_upgrade' ) );
		CrmHooks_Loopback::register();
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

	/** A queue setting: crmhooks_settings value, else the default above. */
	public static function setting( string $key ): int {
		$value = CrmHooks_Settings::get( $key );
		if ( $value === null || $value === '' || ( ! is_numeric( $value ) && ! is_bool( $value ) ) ) {
			$value = self::DEFAULTS[ $key ] ?? ( CrmHooks_Settings::defaults()[ $key ] ?? 0 );
		}
		return max( 0, (int) $value );
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
		);
	}

	// ----- keys and merging (pure) -----

	/** Which contact a request is about: its contact ID, else its lowercased email. */
	public static function contact_key( array $request ): string {
		$contact_id = trim( (string) ( $request['contact_id'] ?? '' ) );
		if ( $contact_id !== '' ) {
			return 'id:' . substr( $contact_id, 0, 180 );
		}
		$email = trim( (string) ( $request['email'] ?? '' ) );
		if ( $email !== '' ) {
			return 'email:' . substr( strtolower( $email ), 0, 180 );
		}
		return 'none:' . bin2hex( random_bytes( 8 ) ); // Nothing to coalesce on.
	}

	/** add > update > update_tags (> test). */
	public static function strongest_action( string $a, string $b ): string {
		return ( self::ACTION_RANK[ $b ] ?? -1 ) > ( self::ACTION_RANK[ $a ] ?? -1 ) ? $b : $a;
	}

	/**
	 * The request a queued job runs after a later webhook for the same contact arrived: the
	 * strongest action, add's parameters kept, the latest event.
	 */
	public static function merge_requests( array $queued, array $incoming ): array {
		$merged           = $incoming;
		$merged['action'] = self::strongest_action( (string) ( $queued['action'] ?? '' ), (string) ( $incoming['action'] ?? '' ) );
		foreach ( array( 'contact_id', 'email', 'role' ) as $key ) {
			$newer = $incoming[ $key ] ?? null;
			if ( $newer === null || $newer === '' ) {
				$merged[ $key ] = $queued[ $key ] ?? null;
			}
		}
		$merged['send_notification'] = ! empty( $queued['send_notification'] ) || ! empty( $incoming['send_notification'] );
		return $merged;
	}

	// ----- enqueue -----

	/** Async unless the request says async=false or the site setting is off. */
	public static function is_async( array $request ): bool {
		if ( isset( $request['async'] ) && is_bool( $request['async'] ) ) {
			return $request['async'];
		}
		$setting = CrmHooks_Settings::get( 'async' );
		return $setting === null ? true : CrmHooks_Settings::to_bool( $setting );
	}

	/** queued + running jobs. */
	public static function backlog(): int {
		global $wpdb;
		$table = self::table();
		return (int) $wpdb->get_var( "SELECT COUNT(*) FROM {$table} WHERE status IN ('queued','running')" );
	}

	/**
	 * Webhook handler entry: stores the request (or answers 503 when the queue is full), logs it
	 * as received and starts a drainer after the response.
	 *
	 * @return array{status:int, body:array, headers:array} the HTTP answer
	 */
	public static function accept( array $request, float $started ): array {
		$action     = (string) ( $request['action'] ?? '' );
		$contact_id = (string) ( $request['contact_id'] ?? '' );
		$ms         = (int) round( ( microtime( true ) - $started ) * 1000 );
		if ( self::backlog() >= max( 1, self::setting( 'queue_max' ) ) ) {
			CrmHooks_Refusals::count( 'queue_full' ); // Counted: a flood must not grow the log.
			return array(
				'status'  => 503,
				'body'    => array(
					'success' => false,
					'error'   => 'queue_full',
				),
				'headers' => array( 'Retry-After' => '30' ),
			);
		}
		$result = self::enqueue( $request );
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
		if ( CrmHooks_Loopback::is_echo( $request ) ) {
			$message .= '; echo of our own API write (initiated_from=api inside the loopback window), deferred';
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
	 * Inserts a job, or merges into the contact's queued job. Race-free: the unique queued_key
	 * admits one queued job per contact; the merge holds that row's lock.
	 *
	 * @return array{id:int, merged:bool}|null null when the database refused (should not happen)
	 */
	public static function enqueue( array $request, int $received = 1 ): ?array {
		global $wpdb;
		$table = self::table();
		$key   = self::contact_key( $request );
		$json  = self::encode( $request );
		for ( $try = 0; $try < 5; $try++ ) {
			$now       = time();
			$run_after = max( $now + self::setting( 'settle_secs' ), CrmHooks_Loopback::deferred_until( $key, $now ) );
			// INSERT IGNORE: a taken queued_key gives 0 rows and no error.
			$wpdb->query(
				$wpdb->prepare(
					"INSERT IGNORE INTO {$table} (contact_key, queued_key, action, request_json, status, attempts, run_after, lease_until, worker, received_count, created_at, updated_at, last_error, outcome)
                 VALUES (%s, %s, %s, %s, 'queued', 0, %d, 0, '', %d, %d, %d, '', '')",
					$key,
					$key,
					(string) ( $request['action'] ?? '' ),
					$json,
					$run_after,
					$received,
					$now,
					$now
				)
			);
			if ( (int) $wpdb->rows_affected === 1 && (int) $wpdb->insert_id > 0 ) {
				return array(
					'id'     => (int) $wpdb->insert_id,
					'merged' => false,
				);
			}

			$wpdb->query( 'START TRANSACTION' );
			$row = $wpdb->get_row( $wpdb->prepare( "SELECT id, request_json, run_after FROM {$table} WHERE queued_key = %s FOR UPDATE", $key ), ARRAY_A );
			if ( ! is_array( $row ) ) {
				$wpdb->query( 'COMMIT' ); // Claimed meanwhile: insert a new job.
				continue;
			}
			$queued  = json_decode( (string) $row['request_json'], true );
			$merged  = self::merge_requests( is_array( $queued ) ? $queued : array(), $request );
			$updated = $wpdb->query(
				$wpdb->prepare(
					"UPDATE {$table} SET action = %s, request_json = %s, received_count = received_count + %d, run_after = GREATEST(run_after, %d), updated_at = %d WHERE id = %d",
					(string) $merged['action'],
					self::encode( $merged ),
					$received,
					$run_after,
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
				'id'     => (int) $row['id'],
				'merged' => true,
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
		$table = self::table();
		for ( $try = 0; $try < 20; $try++ ) {
			$now       = time();
			$candidate = $wpdb->get_row(
				$wpdb->prepare(
					"SELECT j.id, j.contact_key, j.status, j.attempts FROM {$table} j
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

			$until = CrmHooks_Loopback::deferred_until( (string) $candidate['contact_key'], $now );
			if ( $until > $now ) {
				// Our own write is this recent: wait for the window's end, then read the CRM fresh.
				$column = $running ? 'lease_until' : 'run_after';
				$wpdb->query( $wpdb->prepare( "UPDATE {$table} SET {$column} = %d, updated_at = %d WHERE id = %d AND status = %s", $until, $now, $id, $candidate['status'] ) );
				continue;
			}
			if ( $running && (int) $candidate['attempts'] >= max( 1, self::setting( 'max_attempts' ) ) ) {
				// A job that kept killing its worker: stop taking it, keep it visible.
				$wpdb->query(
					$wpdb->prepare(
						"UPDATE {$table} SET status = 'failed', outcome = 'worker_died', last_error = %s, updated_at = %d WHERE id = %d AND status = 'running' AND lease_until < %d",
						'the worker stopped before finishing (lease expired) on every attempt',
						$now,
						$id,
						$now
					)
				);
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
	 * A failed attempt. $retryable: retry with backoff (honouring $retry_after) until
	 * max_attempts, then failed; otherwise failed at once (retryable by hand).
	 *
	 * @return string 'retry' or 'failed'
	 */
	public static function fail( array $job, string $outcome, string $reason, bool $retryable, int $retry_after = 0 ): string {
		global $wpdb;
		$now = time();
		$at  = null;
		if ( $retryable ) {
			$at = self::retry_at( $now, (int) $job['attempts'], max( 1, self::setting( 'max_attempts' ) ), $retry_after );
		}
		if ( $at === null ) {
			$wpdb->update(
				self::table(),
				array(
					'status'      => 'failed',
					'outcome'     => substr( $outcome, 0, 40 ),
					'last_error'  => substr( $reason, 0, 1000 ),
					'lease_until' => 0,
					'updated_at'  => $now,
				),
				array( 'id' => (int) $job['id'] ),
				array( '%s', '%s', '%s', '%d', '%d' ),
				array( '%d' )
			);
			return 'failed';
		}
		// Back to queued. If a newer webhook queued the contact meanwhile, fold this job into it.
		$table = self::table();
		$wpdb->query(
			$wpdb->prepare(
				"UPDATE IGNORE {$table} SET status = 'queued', queued_key = contact_key, run_after = %d, lease_until = 0, outcome = %s, last_error = %s, updated_at = %d WHERE id = %d",
				$at,
				substr( $outcome, 0, 40 ),
				substr( $reason, 0, 1000 ),
				$now,
				(int) $job['id']
			)
		);
		if ( (int) $wpdb->rows_affected !== 1 ) {
			self::enqueue( (array) $job['request'], (int) $job['received_count'] );
			self::complete( (int) $job['id'], 'merged', 'folded into the newer queued job after: ' . $reason );
		}
		return 'retry';
	}

	/**
	 * When to retry, or null to give up: the library's decision (crmh_lock_decide kind retry),
	 * else the same rule in PHP (exponential backoff with equal jitter, never before Retry-After).
	 */
	public static function retry_at( int $now, int $attempts, int $max_attempts, int $retry_after ): ?int {
		$base     = max( 1, self::setting( 'retry_base_secs' ) );
		$max      = max( $base, self::setting( 'retry_max_secs' ) );
		$jitter   = wp_rand( 0, 999999 ) / 1000000;
		$query    = array(
			'kind'         => 'retry',
			'now'          => $now,
			'attempts'     => $attempts,
			'max_attempts' => $max_attempts,
			'retry_after'  => $retry_after > 0 ? $retry_after : null,
			'base_secs'    => $base,
			'max_secs'     => $max,
			'jitter'       => $jitter,
		);
		$decision = self::library_decision( $query );
		if ( $decision !== null ) {
			if ( ( $decision['decision'] ?? '' ) === 'retry' && isset( $decision['at'] ) ) {
				return (int) $decision['at'];
			}
			if ( ( $decision['decision'] ?? '' ) === 'fail' ) {
				return null;
			}
		}
		return self::retry_at_php( $now, $attempts, $max_attempts, $retry_after, $base, $max, $jitter );
	}

	/** The PHP twin of the library's retry rule (tests compare both). */
	public static function retry_at_php( int $now, int $attempts, int $max_attempts, int $retry_after, int $base, int $max, float $jitter ): ?int {
		if ( $attempts >= $max_attempts ) {
			return null;
		}
		$exponent = max( 0, $attempts - 1 );
		$delay    = $exponent >= 62 ? $max : (int) min( $max, $base * ( 2 ** $exponent ) );
		$half     = intdiv( $delay, 2 );
		$jitter   = max( 0.0, min( 1.0, $jitter ) );
		$jittered = ( $delay - $half ) + min( $half, (int) floor( $half * $jitter ) );
		return max( $now + $jittered, $now + max( 0, $retry_after ) );
	}

	/** crmh_lock_decide, or null when the library is unavailable or refuses the query. */
	public static function library_decision( array $query ): ?array {
		try {
			return CrmHooks_Native::get()->lock_decide( (string) wp_json_encode( $query ) );
		} catch ( Throwable $e ) {
			return null;
		}
	}

	// ----- admin and maintenance -----

	/** Puts a failed job back in the queue (merging into a queued job of the same contact). */
	public static function retry_failed( int $id ): bool {
		global $wpdb;
		$table = self::table();
		$job   = $wpdb->get_row( $wpdb->prepare( "SELECT * FROM {$table} WHERE id = %d AND status = 'failed'", $id ), ARRAY_A );
		if ( ! is_array( $job ) ) {
			return false;
		}
		$now = time();
		$wpdb->query(
			$wpdb->prepare(
				"UPDATE IGNORE {$table} SET status = 'queued', queued_key = contact_key, attempts = 0, run_after = %d, lease_until = 0, updated_at = %d WHERE id = %d AND status = 'failed'",
				$now,
				$now,
				$id
			)
		);
		if ( (int) $wpdb->rows_affected === 1 ) {
			return true;
		}
		$request = json_decode( (string) $job['request_json'], true );
		if ( ! is_array( $request ) || self::enqueue( $request, (int) $job['received_count'] ) === null ) {
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

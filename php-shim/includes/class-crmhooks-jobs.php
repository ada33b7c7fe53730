<?php
/**
 * The jobs repository: every SQL statement of the queue, in one place. Tables
 * {prefix}crmhooks_jobs (a webhook is written here before it is answered) and
 * {prefix}crmhooks_writes (when we last wrote to each CRM contact: the loopback window).
 * Every verdict (key, merge, run_after, claim, finish) comes from the library (crmh_queue_decide);
 * this class only runs the SQL mechanisms that make them race-free.
 *
 * Coalescing is race-free through a unique key: `queued_key` holds the contact key while a job is
 * queued and NULL otherwise, so at most one queued job exists per contact. A new webhook first
 * tries to INSERT; when the key is taken it locks that row (SELECT ... FOR UPDATE) and merges into
 * it. Claiming clears the key in the same UPDATE that sets the lease, so a webhook arriving while
 * its contact's job runs starts a new job: nothing is dropped.
 */

declare(strict_types=1);

final class CrmHooks_Jobs {

	/** Schema of the queue tables; a different stored value runs dbDelta on init. */
	public const DB_VERSION        = '7';
	public const DB_VERSION_OPTION = 'crmhooks_queue_db_version';

	public static function table(): string {
		global $wpdb;
		return $wpdb->prefix . 'crmhooks_jobs';
	}

	/** init: one autoloaded-option compare; dbDelta only when the schema changed. */
	public static function maybe_upgrade(): void {
		if ( get_option( self::DB_VERSION_OPTION ) !== self::DB_VERSION ) {
			CrmHooks_Installer::install();
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
  claimed_at bigint(20) unsigned NOT NULL DEFAULT 0,
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
			"CREATE TABLE {$prefix}crmhooks_writes (
  contact_key varchar(191) NOT NULL,
  last_write_at bigint(20) unsigned NOT NULL DEFAULT 0,
  PRIMARY KEY  (contact_key)
) $collate;",
		);
	}

	/**
	 * The name of one of this site's MySQL named locks. Names are server-wide (and at most 64
	 * characters), so they cover the database and the table prefix: sites in different databases
	 * on one server never block each other.
	 */
	public static function lock_name( string $purpose, string $key = '' ): string {
		global $wpdb;
		return 'crmhooks_' . $purpose . '_' . md5( DB_NAME . '|' . $wpdb->prefix . ( $key !== '' ? '|' . $key : '' ) );
	}

	/**
	 * Takes a named lock, waiting up to $wait_secs: '1' taken, '0' the wait ended, null a database
	 * error. The server releases it with unlock() or when the connection closes (a killed worker).
	 */
	public static function lock( string $name, int $wait_secs = 0 ): ?string {
		global $wpdb;
		$got = $wpdb->get_var( $wpdb->prepare( 'SELECT GET_LOCK(%s, %d)', $name, $wait_secs ) );
		return $got === null ? null : (string) $got;
	}

	public static function unlock( string $name ): void {
		global $wpdb;
		$wpdb->get_var( $wpdb->prepare( 'SELECT RELEASE_LOCK(%s)', $name ) );
	}

	/** One queue verdict from the library; `$query['kind']` picks which (see src/queue.rs). */
	public static function decide( array $query ): array {
		$query['settings'] = CrmHooks_Settings::public_settings();
		return CrmHooks_Native::get()->queue_decide( $query );
	}

	/** queued + running jobs. */
	public static function backlog(): int {
		global $wpdb;
		return (int) $wpdb->get_var( "SELECT COUNT(*) FROM {$wpdb->prefix}crmhooks_jobs WHERE status IN ('queued','running')" );
	}

	/**
	 * Inserts a job, or merges into the contact's queued job (the library says how), in one
	 * transaction with `$then` (the acceptance writes its log entry there): the job and its log
	 * entry exist together, and a webhook costs one commit. INSERT ... ON DUPLICATE KEY UPDATE
	 * locks a taken queued_key's row exclusively in the same statement (a plain duplicate takes a
	 * shared lock first, and two of those upgrading deadlock), and LAST_INSERT_ID(id) names it.
	 * A retried job folding in passes its first arrival and its backoff, which the merge keeps.
	 *
	 * @param callable|null $then            called with the job, inside the transaction, before the commit
	 * @param bool          $own_transaction false inside a caller's transaction (enqueue_page): no
	 *                                       commit here, and a failure returns null for the caller to roll back
	 * @return array{id:int, merged:bool, run_after:int}|null null when the database refused
	 */
	public static function enqueue( string $key, array $request, string $account, int $received = 1, ?int $first = null, int $retry_at = 0, ?callable $then = null, bool $own_transaction = true ): ?array {
		global $wpdb;
		// Inside enqueue_page's transaction a START TRANSACTION would commit it: the caller owns it.
		$tx            = static fn( string $sql ) => $own_transaction ? $wpdb->query( $sql ) : null; // phpcs:ignore WordPress.DB.PreparedSQL.NotPrepared -- Only the literal START TRANSACTION, COMMIT and ROLLBACK pass here.
		$last_write_at = self::last_write_at( $key );
		$not_before    = $retry_at; // A retry's backoff or the CRM's Retry-After.
		for ( $try = 0; $try < 5; $try++ ) {
			$now               = time();
			$first_received_at = $first ?? $now;
			$kind              = 'schedule';
			$fresh             = self::decide( compact( 'kind', 'now', 'first_received_at', 'last_write_at', 'not_before' ) );
			$tx( 'START TRANSACTION' );
			// 1 row: inserted; 0 rows: the key was taken and its row is now ours to merge into.
			$inserted = $wpdb->query( $wpdb->prepare( "INSERT INTO {$wpdb->prefix}crmhooks_jobs (contact_key, queued_key, account, action, request_json, status, run_after, received_count, created_at, updated_at, last_error) VALUES (%s, %s, %s, %s, %s, 'queued', %d, %d, %d, %d, '') ON DUPLICATE KEY UPDATE id = LAST_INSERT_ID(id)", $key, $key, $account, (string) ( $request['action'] ?? '' ), self::encode( $request ), (int) $fresh['run_after'], $received, $first_received_at, $now ) );
			$job      = array(
				'id'        => (int) $wpdb->insert_id,
				'merged'    => $inserted === 0,
				'run_after' => (int) $fresh['run_after'],
			);
			$row      = $job['merged'] ? $wpdb->get_row( $wpdb->prepare( "SELECT id, request_json, run_after, created_at FROM {$wpdb->prefix}crmhooks_jobs WHERE id = %d FOR UPDATE", $job['id'] ), ARRAY_A ) : null;
			$failed   = $inserted === false || $job['id'] <= 0 || ( $job['merged'] && ! is_array( $row ) );
			if ( $failed && ! $own_transaction ) {
				return null; // The caller's transaction is lost: it rolls back and tries later.
			}
			if ( $failed ) {
				$tx( 'ROLLBACK' ); // A deadlock victim, for one: try again.
				continue;
			}
			if ( is_array( $row ) ) {
				$stored         = json_decode( (string) $row['request_json'], true );
				$queued         = array(
					'request'           => is_array( $stored ) ? $stored : $request,
					'first_received_at' => (int) $row['created_at'],
					'run_after'         => (int) $row['run_after'],
				);
				$kind           = 'merge';
				$incoming       = $request;
				$incoming_first = $first_received_at;
				$merged         = self::decide( compact( 'kind', 'now', 'queued', 'incoming', 'incoming_first', 'last_write_at', 'not_before' ) );
				$updated        = $wpdb->query( $wpdb->prepare( "UPDATE {$wpdb->prefix}crmhooks_jobs SET action = %s, request_json = %s, received_count = received_count + %d, run_after = %d, created_at = %d, updated_at = %d WHERE id = %d", (string) ( $merged['request']['action'] ?? '' ), self::encode( (array) $merged['request'] ), $received, (int) $merged['run_after'], (int) $merged['first_received_at'], $now, $job['id'] ) );
				if ( $updated === false && ! $own_transaction ) {
					return null;
				}
				if ( $updated === false ) {
					$tx( 'ROLLBACK' );
					continue;
				}
				$job['run_after'] = (int) $merged['run_after'];
			}
			if ( $then !== null ) {
				$then( $job );
			}
			if ( ! $own_transaction || $wpdb->query( 'COMMIT' ) !== false ) {
				return $job;
			}
		}
		return null;
	}

	/**
	 * Queues a reconcile or import page and stores its state (an option, JSON) in ONE transaction:
	 * a crash keeps both or neither, so a page is never skipped nor queued twice. The jobs
	 * coalesce like webhooks, each not before its paced run_after.
	 *
	 * @param array $jobs the library's jobs: contact_key, request, run_after
	 * @return string|null why nothing was written (queue full, database error), or null
	 */
	public static function enqueue_page( array $jobs, string $option, array $state ): ?string {
		global $wpdb;
		$account = CrmHooks_Settings::account_id();
		$wpdb->query( 'START TRANSACTION' );
		$error = count( $jobs ) > (int) CrmHooks_Settings::get( 'queue_max' ) - self::backlog() ? 'queue full' : null;
		foreach ( $error === null ? $jobs : array() as $job ) {
			if ( self::enqueue( (string) $job['contact_key'], (array) $job['request'], $account, 1, null, (int) $job['run_after'], null, false ) === null ) {
				$error = 'the database refused a job: ' . $wpdb->last_error;
				break;
			}
		}
		$stored = $error === null && $wpdb->query( $wpdb->prepare( "INSERT INTO {$wpdb->options} (option_name, option_value, autoload) VALUES (%s, %s, 'no') ON DUPLICATE KEY UPDATE option_value = VALUES(option_value)", $option, CrmHooks_Native::json( $state ) ) ) !== false;
		if ( $stored ) {
			$wpdb->query( 'COMMIT' );
		} else {
			$wpdb->query( 'ROLLBACK' );
		}
		wp_cache_delete( $option, 'options' );
		return $stored ? null : ( $error ?? 'the database refused the state: ' . $wpdb->last_error );
	}

	/**
	 * For the reconcile sweep, of these contact keys: which have a job queued and not yet claimed
	 * (`queued_keys`), and when a job that ended applied (created, updated, unchanged) was last
	 * claimed for each (`synced`: key => time; the contact was fetched after that).
	 */
	public static function key_facts( array $keys ): array {
		global $wpdb;
		$in   = implode( ',', array_fill( 0, count( $keys ), '%s' ) );
		$rows = $keys === array() ? array() : (array) $wpdb->get_results( $wpdb->prepare( "SELECT contact_key, MAX(queued_key IS NOT NULL) AS queued, MAX(CASE WHEN status = 'done' AND outcome IN ('created', 'updated', 'unchanged') THEN claimed_at END) AS synced FROM {$wpdb->prefix}crmhooks_jobs WHERE contact_key IN ($in) GROUP BY contact_key", array_values( $keys ) ), ARRAY_A ); // phpcs:ignore WordPress.DB.PreparedSQLPlaceholders.UnfinishedPrepare -- One %s per key, built just above.
		return array(
			'queued_keys' => array_column( array_filter( $rows, static fn( array $row ): bool => (bool) $row['queued'] ), 'contact_key' ),
			'synced'      => (object) array_map( 'intval', array_filter( array_column( $rows, 'synced', 'contact_key' ), 'is_numeric' ) ),
		);
	}

	/**
	 * Called by the drainer holding the site's drain lock: every job still marked running was
	 * claimed by a drainer that died (the lock is the server's, released when its connection
	 * closed), so its lease ends now instead of after lease_secs.
	 */
	public static function release_orphans(): void {
		global $wpdb;
		$wpdb->query( $wpdb->prepare( "UPDATE {$wpdb->prefix}crmhooks_jobs SET lease_until = %d WHERE status = 'running' AND lease_until >= %d", time() - 1, time() ) );
	}

	/**
	 * Takes the next due job: queued with run_after <= now, or running with an expired lease (its
	 * worker died); never a job whose contact has another job under a live lease. The library's
	 * claim verdict may defer it (our own CRM write is recent) or fail it (its CRM account is gone).
	 *
	 * @return array|null the job row with 'request' decoded
	 */
	public static function claim( string $worker ): ?array {
		global $wpdb;
		$current_account = CrmHooks_Settings::account_id();
		for ( $try = 0; $try < 20; $try++ ) {
			$now       = time();
			$candidate = $wpdb->get_row( $wpdb->prepare( "SELECT j.id, j.contact_key, j.status, j.attempts, j.account FROM {$wpdb->prefix}crmhooks_jobs j WHERE ((j.status = 'queued' AND j.run_after <= %d) OR (j.status = 'running' AND j.lease_until < %d)) AND NOT EXISTS (SELECT 1 FROM {$wpdb->prefix}crmhooks_jobs r WHERE r.contact_key = j.contact_key AND r.id <> j.id AND r.status = 'running' AND r.lease_until >= %d) ORDER BY j.run_after ASC, j.id ASC LIMIT 1", $now, $now, $now ), ARRAY_A );
			if ( ! is_array( $candidate ) ) {
				return null;
			}
			$id            = (int) $candidate['id'];
			$status        = (string) $candidate['status'];
			$running       = $status === 'running';
			$kind          = 'claim';
			$job           = array(
				'lease_expired' => $running,
				'attempts'      => (int) $candidate['attempts'],
				'account'       => (string) $candidate['account'],
			);
			$last_write_at = self::last_write_at( (string) $candidate['contact_key'] );
			$verdict       = self::decide( compact( 'kind', 'now', 'job', 'current_account', 'last_write_at' ) );
			if ( ( $verdict['verdict'] ?? '' ) === 'defer_until' ) {
				// Our own write is this recent: wait for the window's end, then read the CRM fresh.
				$column = $running ? 'lease_until' : 'run_after';
				$wpdb->query( $wpdb->prepare( "UPDATE {$wpdb->prefix}crmhooks_jobs SET {$column} = %d, updated_at = %d WHERE id = %d AND status = %s", (int) $verdict['at'], $now, $id, $status ) );
				continue;
			}
			if ( ( $verdict['verdict'] ?? '' ) === 'fail' ) {
				self::fail( $id, (string) $verdict['outcome'], (string) $verdict['reason'], $status ); // Visible; the admin can retry it.
				continue;
			}
			$due = $running ? $wpdb->prepare( "status = 'running' AND lease_until < %d", $now ) : $wpdb->prepare( "status = 'queued' AND run_after <= %d", $now );
			$wpdb->query( $wpdb->prepare( "UPDATE {$wpdb->prefix}crmhooks_jobs SET status = 'running', queued_key = NULL, attempts = attempts + 1, lease_until = %d, claimed_at = %d, worker = %s, updated_at = %d WHERE id = %d AND {$due}", $now + max( 1, (int) CrmHooks_Settings::get( 'lease_secs' ) ), $now, substr( $worker, 0, 100 ), $now, $id ) );
			$row = (int) $wpdb->rows_affected === 1 ? $wpdb->get_row( $wpdb->prepare( "SELECT * FROM {$wpdb->prefix}crmhooks_jobs WHERE id = %d", $id ), ARRAY_A ) : null;
			if ( is_array( $row ) ) {
				$row['request'] = (array) ( json_decode( (string) $row['request_json'], true ) ?? array() );
				return $row;
			}
		}
		return null;
	}

	/**
	 * Ends an attempt as the library's finish verdict says: done; back in the queue at the retry
	 * time (folded into a newer queued job of the contact if one arrived, keeping this job's
	 * backoff and first arrival); or failed, visibly, for the admin to retry.
	 *
	 * @param array $job     the claimed row (with 'request')
	 * @param array $attempt outcome, code, retry_after, message
	 * @return array{end:string, stop_draining:bool} end: 'done', 'retry' or 'failed'; stop_draining:
	 *               the drainer ends its run (the CRM asked us to wait, or the library is unavailable)
	 */
	public static function finish( array $job, array $attempt ): array {
		global $wpdb;
		$now      = time();
		$id       = (int) $job['id'];
		$outcome  = substr( (string) ( $attempt['outcome'] ?? 'failed' ), 0, 40 );
		$code     = (string) ( $attempt['code'] ?? '' );
		$message  = substr( (string) ( $attempt['message'] ?? '' ), 0, 1000 );
		$ended    = self::ended_as( $attempt );
		$kind     = 'finish';
		$attempts = (int) $job['attempts'];
		$jitter   = wp_rand( 0, 999999 ) / 1000000;
		$attempt  = array(
			'outcome'     => $outcome,
			'code'        => $code,
			'retry_after' => max( 0, (int) ( $attempt['retry_after'] ?? 0 ) ),
		);
		$verdict  = self::decide( compact( 'kind', 'now', 'attempts', 'attempt', 'jitter' ) );
		$end      = array(
			'end'           => 'retry',
			'stop_draining' => (bool) ( $verdict['stop_draining'] ?? true ),
		);
		if ( ( $verdict['verdict'] ?? '' ) === 'done' ) {
			self::complete( $id, $outcome, $message );
			return array( 'end' => 'done' ) + $end;
		}
		if ( ( $verdict['verdict'] ?? '' ) !== 'retry_at' ) {
			self::fail( $id, $ended, $message !== '' ? $message : $ended, 'running' );
			return array( 'end' => 'failed' ) + $end;
		}
		$at = (int) $verdict['at'];
		$wpdb->query( $wpdb->prepare( "UPDATE IGNORE {$wpdb->prefix}crmhooks_jobs SET status = 'queued', queued_key = contact_key, run_after = %d, lease_until = 0, outcome = %s, last_error = %s, updated_at = %d WHERE id = %d", $at, $ended, $message !== '' ? $message : $ended, $now, $id ) );
		if ( (int) $wpdb->rows_affected !== 1 ) {
			// A newer webhook queued the contact meanwhile: fold into it, keeping the backoff.
			self::enqueue( (string) $job['contact_key'], (array) $job['request'], (string) $job['account'], (int) $job['received_count'], (int) $job['created_at'], $at );
			self::complete( $id, 'merged', 'folded into the newer queued job after: ' . ( $message !== '' ? $message : $ended ) );
		}
		return $end;
	}

	/** The word an attempt ends with: a CRM error by its result name (crm_rate_limited, ...), else its outcome. */
	public static function ended_as( array $attempt ): string {
		$outcome = substr( (string) ( $attempt['outcome'] ?? 'failed' ), 0, 40 );
		return $outcome === 'crm_error' && (string) ( $attempt['code'] ?? '' ) !== '' ? (string) $attempt['code'] : $outcome;
	}

	/** Ends a job as done with its outcome (created, updated, contact_not_found, ...). */
	public static function complete( int $id, string $outcome, string $message = '' ): void {
		global $wpdb;
		$wpdb->query( $wpdb->prepare( "UPDATE {$wpdb->prefix}crmhooks_jobs SET status = 'done', outcome = %s, last_error = %s, lease_until = 0, updated_at = %d WHERE id = %d", substr( $outcome, 0, 40 ), substr( $message, 0, 1000 ), time(), $id ) );
	}

	/** Ends a job as failed, kept visible for the admin to retry; listeners hear crmhooks_job_failed. */
	private static function fail( int $id, string $outcome, string $reason, string $from_status ): void {
		global $wpdb;
		$wpdb->query( $wpdb->prepare( "UPDATE {$wpdb->prefix}crmhooks_jobs SET status = 'failed', queued_key = NULL, outcome = %s, last_error = %s, lease_until = 0, updated_at = %d WHERE id = %d AND status = %s", substr( $outcome, 0, 40 ), substr( $reason, 0, 1000 ), time(), $id, $from_status ) );
		if ( (int) $wpdb->rows_affected === 1 ) {
			do_action( 'crmhooks_job_failed', $id, $outcome, $reason );
		}
	}

	/** Puts a failed job back in the queue, for the site's current CRM account (merging when needed). */
	public static function retry_failed( int $id ): bool {
		global $wpdb;
		$job     = $wpdb->get_row( $wpdb->prepare( "SELECT * FROM {$wpdb->prefix}crmhooks_jobs WHERE id = %d AND status = 'failed'", $id ), ARRAY_A );
		$now     = time();
		$account = CrmHooks_Settings::account_id();
		if ( ! is_array( $job ) ) {
			return false;
		}
		$wpdb->query( $wpdb->prepare( "UPDATE IGNORE {$wpdb->prefix}crmhooks_jobs SET status = 'queued', queued_key = contact_key, account = %s, attempts = 0, run_after = %d, lease_until = 0, updated_at = %d WHERE id = %d AND status = 'failed'", $account, $now, $now, $id ) );
		if ( (int) $wpdb->rows_affected === 1 ) {
			return true;
		}
		$request = json_decode( (string) $job['request_json'], true );
		if ( ! is_array( $request ) || self::enqueue( (string) $job['contact_key'], $request, $account, (int) $job['received_count'] ) === null ) {
			return false;
		}
		$wpdb->query( $wpdb->prepare( "UPDATE {$wpdb->prefix}crmhooks_jobs SET status = 'done', outcome = 'requeued', updated_at = %d WHERE id = %d AND status = 'failed'", $now, $id ) );
		return true;
	}

	/** Cron: done jobs older than retention_days (the log keeps their outcomes), and old write times. */
	public static function prune(): int {
		global $wpdb;
		$wpdb->query( $wpdb->prepare( "DELETE FROM {$wpdb->prefix}crmhooks_writes WHERE last_write_at < %d", time() - max( 3600, 2 * (int) CrmHooks_Settings::get( 'loopback_window_secs' ) ) ) );
		return (int) $wpdb->query( $wpdb->prepare( "DELETE FROM {$wpdb->prefix}crmhooks_jobs WHERE status = 'done' AND updated_at < %d", time() - max( 1, (int) CrmHooks_Settings::get( 'retention_days' ) ) * DAY_IN_SECONDS ) );
	}

	/** Counts per status plus the oldest pending job's wait, for the admin screen. */
	public static function stats(): array {
		global $wpdb;
		$rows                         = (array) $wpdb->get_results( "SELECT status, COUNT(*) AS n FROM {$wpdb->prefix}crmhooks_jobs GROUP BY status", ARRAY_A );
		$stats                        = array_merge( array_fill_keys( array( 'queued', 'running', 'done', 'failed' ), 0 ), array_map( 'intval', array_column( $rows, 'n', 'status' ) ) );
		$stats['oldest_pending_secs'] = max( 0, time() - (int) ( $wpdb->get_var( "SELECT MIN(created_at) FROM {$wpdb->prefix}crmhooks_jobs WHERE status IN ('queued','running')" ) ?? time() ) );
		return $stats;
	}

	// The admin screens' queries (Queue, its chart, Site Health).

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
	private static function state_columns( int $now ): string {
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
		$jobs   = self::table();
		$writes = $GLOBALS['wpdb']->prefix . 'crmhooks_writes';
		return '(SELECT j.id, j.contact_key, j.action, j.request_json, j.status, j.attempts, j.run_after, j.lease_until, j.worker,
                        j.received_count, j.created_at, j.updated_at, j.last_error, j.outcome, ' . self::state_columns( $now ) . "
                   FROM {$jobs} j LEFT JOIN {$writes} w ON w.contact_key = j.contact_key) s";
	}

	/** @return array<string,int> jobs per display state (states with no job left out) */
	public static function state_counts( int $now ): array {
		global $wpdb;
		$jobs = self::jobs_with_state( $now );
		$rows = (array) $wpdb->get_results( "SELECT state, COUNT(*) AS n FROM {$jobs} GROUP BY state", ARRAY_A );
		return array_map( 'intval', array_column( $rows, 'n', 'state' ) );
	}

	/** One page of jobs with their display state, newest first; `$state` '' for all. */
	public static function page( int $now, string $state, int $per_page, int $offset ): array {
		global $wpdb;
		$jobs  = self::jobs_with_state( $now );
		$where = $state !== '' ? $wpdb->prepare( 'WHERE state = %s', $state ) : '';
		$limit = $wpdb->prepare( 'LIMIT %d OFFSET %d', $per_page, $offset );
		$rows  = $wpdb->get_results( "SELECT * FROM {$jobs} {$where} ORDER BY id DESC {$limit}", ARRAY_A );
		return is_array( $rows ) ? $rows : array();
	}

	/** @return int how many of these jobs were deleted */
	public static function delete( array $ids ): int {
		global $wpdb;
		$ids = array_values( array_filter( array_map( 'absint', $ids ) ) );
		if ( $ids === array() ) {
			return 0;
		}
		$table = self::table();
		return (int) $wpdb->query( $wpdb->prepare( "DELETE FROM {$table} WHERE id IN (" . implode( ', ', array_fill( 0, count( $ids ), '%d' ) ) . ')', $ids ) );
	}

	/**
	 * Jobs that ended done, skipped or failed per hour since $first (not the bookkeeping rows of
	 * a job folded into another one), for the Queue screen's chart.
	 *
	 * @return array<int,int> hour start => jobs
	 */
	public static function finished_per_hour( int $first ): array {
		global $wpdb;
		$rows = (array) $wpdb->get_results( $wpdb->prepare( "SELECT FLOOR(updated_at / %d) * %d AS hour, COUNT(*) AS n FROM {$wpdb->prefix}crmhooks_jobs WHERE status IN ('done', 'failed') AND outcome NOT IN ('merged', 'requeued') AND updated_at >= %d GROUP BY hour", HOUR_IN_SECONDS, HOUR_IN_SECONDS, $first ), ARRAY_A );
		return array_map( 'intval', array_column( $rows, 'n', 'hour' ) );
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

	/**
	 * When the next job becomes claimable, or null when none is pending: a queued job at its
	 * run_after, but not before another job of its contact leaves its lease; a running job when
	 * its lease has expired.
	 */
	public static function next_due(): ?int {
		global $wpdb;
		$next = $wpdb->get_var( "SELECT MIN(due) FROM (SELECT GREATEST(j.run_after, COALESCE((SELECT MAX(r.lease_until) + 1 FROM {$wpdb->prefix}crmhooks_jobs r WHERE r.contact_key = j.contact_key AND r.status = 'running' AND r.id <> j.id), 0)) AS due FROM {$wpdb->prefix}crmhooks_jobs j WHERE j.status = 'queued' UNION ALL SELECT lease_until + 1 AS due FROM {$wpdb->prefix}crmhooks_jobs WHERE status = 'running') pending" );
		return $next === null ? null : (int) $next;
	}

	/**
	 * Remembers when we last wrote to a CRM contact (its key, as the library names it), right
	 * after every write of ours (CrmHooks_Crm, never a public hook). A webhook for it inside the
	 * loopback window is probably the CRM echoing that write: the library defers its job to the
	 * window's end, so the echo cannot erase what we just wrote and a real change is still read fresh.
	 */
	public static function record_write( string $contact_key ): void {
		global $wpdb;
		$wpdb->query( $wpdb->prepare( "INSERT INTO {$wpdb->prefix}crmhooks_writes (contact_key, last_write_at) VALUES (%s, %d) ON DUPLICATE KEY UPDATE last_write_at = GREATEST(last_write_at, VALUES(last_write_at))", $contact_key, time() ) );
	}

	/** When we last wrote to the contact of this key, or null. */
	public static function last_write_at( string $contact_key ): ?int {
		global $wpdb;
		$value = $wpdb->get_var( $wpdb->prepare( "SELECT last_write_at FROM {$wpdb->prefix}crmhooks_writes WHERE contact_key = %s", $contact_key ) );
		return $value === null ? null : (int) $value;
	}

	private static function encode( array $request ): string {
		unset( $request['access_key'] ); // Never stored (the library's request has none anyway).
		return CrmHooks_Native::json( $request );
	}
}

<?php
/**
 * The reconcile sweep and import by tag, as the library decides them (src/reconcile.rs,
 * crmh_reconcile_decide): this class only lists pages from the CRM, gathers the WordPress facts
 * a page needs, and queues each page's jobs together with the state after it
 * (CrmHooks_Jobs::enqueue_page), so a crash never skips or repeats a page.
 *
 * Both advance on a WP-Cron tick every minute (the library says when a pass is due and paces the
 * pages to their share of the CRM's rate); the jobs they queue run in the ordinary drainer.
 * States are options holding the library's JSON: the sweep's mark, pass and last report; the
 * current import with its progress.
 */

declare(strict_types=1);

final class CrmHooks_Reconcile {

	public const CRON_HOOK     = 'crmhooks_reconcile';
	public const SWEEP_OPTION  = 'crmhooks_reconcile_sweep';
	public const IMPORT_OPTION = 'crmhooks_reconcile_import';

	/** One tick lists pages for at most this long: it shares WP-Cron with the drainer. */
	private const TICK_SECS = 20;

	/** A tick sleeps for a paced slot this close; a later one waits for the next tick. */
	private const MAX_WAIT_SECS = 5;

	public static function register(): void {
		add_action( self::CRON_HOOK, array( self::class, 'tick' ) );
		add_action( 'init', array( self::class, 'ensure_scheduled' ) );
	}

	public static function ensure_scheduled(): void {
		if ( ! wp_next_scheduled( self::CRON_HOOK ) ) {
			wp_schedule_event( time() + 60, CrmHooks_Worker::CRON_SCHEDULE, self::CRON_HOOK );
		}
	}

	/**
	 * WP-Cron: the sweep (when due, or at once with $force_sweep), then the import's next pages.
	 * One tick at a time per site; the drainer is started for what they queued.
	 *
	 * @return array{sweep:string, import:string} what each did last (listed, not_due, pacing, failed, ...)
	 */
	public static function tick( bool $force_sweep = false, int $budget_secs = self::TICK_SECS ): array {
		$lock = CrmHooks_Jobs::lock_name( 'reconcile' );
		if ( CrmHooks_Jobs::lock( $lock ) !== '1' ) {
			return array(
				'sweep'  => 'locked',
				'import' => 'locked',
			);
		}
		try {
			$deadline = microtime( true ) + $budget_secs;
			$done     = array(
				'sweep'  => self::sweep( $deadline, $force_sweep ),
				'import' => self::import( $deadline ),
			);
		} finally {
			CrmHooks_Jobs::unlock( $lock );
		}
		CrmHooks_Worker::spawn_successor_if_pending();
		return $done;
	}

	/** Lists and queues pages until the pass ends, the rate share says wait, or a step fails. */
	private static function sweep( float $deadline, bool $force ): string {
		$settings = array(
			'enabled'            => (bool) CrmHooks_Settings::get( 'reconcile_enabled' ),
			'interval_secs'      => 60 * (int) CrmHooks_Settings::get( 'reconcile_interval_mins' ),
			'rate_share_percent' => (int) CrmHooks_Settings::get( 'reconcile_rate_share' ),
		);
		do {
			$e     = null; // The failure of this page only.
			$start = self::decide( 'sweep_start', array( 'state' => self::state( self::SWEEP_OPTION ) ?? new stdClass() ) + compact( 'settings', 'force' ) );
			$force = false; // Forcing starts one pass, not one after the other.
			if ( $start['action'] !== 'list' ) {
				if ( self::wait( $start['retry_at'] ?? null, $deadline ) ) {
					continue;
				}
				return (string) $start['reason'];
			}
			$state = $start['state'];
			try {
				$page  = CrmHooks_Crm::list_modified( (int) $start['since'], $start['cursor'] );
				$facts = self::facts( $page );
				$crm   = (string) CrmHooks_Settings::get( 'crm' );
				$done  = self::decide( 'sweep_page', compact( 'state', 'page', 'crm', 'settings' ) + $facts );
				$error = CrmHooks_Jobs::enqueue_page( $done['jobs'], self::SWEEP_OPTION, $done['state'] );
			} catch ( Throwable $e ) {
				$error = self::error_of( $e );
			}
			if ( $error !== null ) {
				$failed = self::decide( 'sweep_failed', compact( 'state', 'error' ) + array( 'retry_after' => self::retry_after( $e ?? null ) ) );
				self::store( self::SWEEP_OPTION, $failed['state'] );
				return 'failed';
			}
		} while ( microtime( true ) < $deadline );
		return 'page_queued';
	}

	/** The import's next pages, under the import's lock (its jobs count their ends meanwhile). */
	private static function import( float $deadline ): string {
		do {
			$step = self::with_import_lock(
				static function ( ?array $state ) use ( $deadline ): array {
					if ( $state === null ) {
						return array( 'none', null );
					}
					$next = self::decide( 'import_next', compact( 'state' ) );
					if ( $next['action'] !== 'list' ) {
						return array( self::wait( $next['retry_at'] ?? null, $deadline ) ? 'waited' : (string) $next['reason'], null );
					}
					try {
						$page     = CrmHooks_Crm::list_tagged( $next['tag_id'], $next['tag_name'], $next['cursor'] );
						$crm      = (string) CrmHooks_Settings::get( 'crm' );
						$settings = array( 'rate_share_percent' => (int) CrmHooks_Settings::get( 'import_rate_share' ) );
						$done     = self::decide( 'import_page', compact( 'state', 'page', 'crm', 'settings' ) );
						$error    = CrmHooks_Jobs::enqueue_page( $done['jobs'], self::IMPORT_OPTION, $done['state'] );
					} catch ( Throwable $e ) {
						$error = self::error_of( $e );
					}
					if ( $error === null ) {
						return array( 'page_queued', null ); // Not 'listed': that is the library's "every page is queued".
					}
					return array( 'failed', self::decide( 'import_failed', compact( 'state', 'error' ) + array( 'retry_after' => self::retry_after( $e ?? null ) ) )['state'] );
				}
			);
		} while ( in_array( $step, array( 'page_queued', 'waited' ), true ) && microtime( true ) < $deadline );
		return $step;
	}

	/**
	 * Starts an import of every CRM contact with the tag (an ID, or a name) as a user with $role
	 * (the plan's allowlist rules apply when each job runs), unless one is still running. Lists
	 * its first page at once; the tick lists the rest.
	 *
	 * @return array started, reason, progress
	 */
	public static function start_import( string $tag, string $role, bool $notify ): array {
		$started = self::with_import_lock(
			static function ( ?array $current ) use ( $tag, $role, $notify ): array {
				$query   = array(
					'current'           => $current,
					'tag'               => $tag, // The library tells an ID from a name.
					'role'              => $role,
					'send_notification' => $notify,
				);
				$verdict = self::decide( 'import_start', $query );
				return array( $verdict, $verdict['started'] ? $verdict['state'] : null );
			}
		);
		if ( $started['started'] ) {
			self::import( microtime( true ) );
			CrmHooks_Worker::spawn_successor_if_pending();
		}
		return $started;
	}

	/** The worker calls this when a job ended for good: an import job counts for the progress bar. */
	public static function job_ended( array $request, string $outcome ): void {
		if ( ( $request['event']['type'] ?? '' ) !== 'import' ) {
			return;
		}
		self::with_import_lock(
			static function ( ?array $state ) use ( $request, $outcome ): array {
				if ( $state === null ) {
					return array( null, null );
				}
				$contact_id = (string) ( $request['contact_id'] ?? '' );
				return array( null, self::decide( 'import_job_finished', compact( 'state', 'contact_id', 'outcome' ) )['state'] );
			}
		);
	}

	/** The stored import and its progress figures (state, progress), or null when none was started. */
	public static function import_status(): ?array {
		$state = self::state( self::IMPORT_OPTION );
		return $state === null ? null : self::decide( 'import_progress', compact( 'state' ) );
	}

	/** The last complete sweep pass (since, started_at, finished_at, pages, seen, queued, errors, ...), or null. */
	public static function last_sweep(): ?array {
		$state = self::state( self::SWEEP_OPTION );
		return is_array( $state['last'] ?? null ) ? $state['last'] : null;
	}

	/** Errors of the pass in progress (retried on later ticks): count and last error. */
	public static function sweep_trouble(): ?array {
		$pass = self::state( self::SWEEP_OPTION )['pass'] ?? null;
		return is_array( $pass ) && (int) ( $pass['errors'] ?? 0 ) > 0 ? $pass : null;
	}

	/**
	 * WordPress facts for a listed page, as the library names them (page_lookup): the users
	 * linked to its contact IDs or holding its emails, and its contact keys' jobs.
	 */
	private static function facts( array $page ): array {
		global $wpdb;
		$lookup = self::decide( 'page_lookup', array( 'page' => $page ) );
		$ids    = (array) $lookup['contact_ids'];
		$emails = (array) $lookup['emails'];
		$found  = array();
		if ( $ids !== array() ) {
			$in    = implode( ',', array_fill( 0, count( $ids ), '%s' ) );
			$found = $wpdb->get_col( $wpdb->prepare( "SELECT user_id FROM {$wpdb->usermeta} WHERE meta_key = %s AND meta_value IN ($in)", array_merge( array( CrmHooks_Users::META_CONTACT_ID ), $ids ) ) ); // phpcs:ignore WordPress.DB.PreparedSQLPlaceholders.UnfinishedPrepare, WordPress.DB.PreparedSQLPlaceholders.ReplacementsWrongNumber -- One %s per ID, built just above.
		}
		if ( $emails !== array() ) {
			$in    = implode( ',', array_fill( 0, count( $emails ), '%s' ) );
			$found = array_merge( $found, $wpdb->get_col( $wpdb->prepare( "SELECT ID FROM {$wpdb->users} WHERE user_email IN ($in)", $emails ) ) ); // phpcs:ignore WordPress.DB.PreparedSQLPlaceholders.UnfinishedPrepare -- One %s per email, built just above.
		}
		$users = array();
		foreach ( array_unique( array_map( 'intval', $found ) ) as $user_id ) {
			$user    = get_userdata( $user_id );
			$users[] = array(
				'user_id'    => $user_id,
				'contact_id' => (string) get_user_meta( $user_id, CrmHooks_Users::META_CONTACT_ID, true ),
				'user_email' => $user ? (string) $user->user_email : '',
			);
		}
		return array( 'users' => $users ) + CrmHooks_Jobs::key_facts( (array) $lookup['contact_keys'] );
	}

	/**
	 * Runs $step( $import_state_or_null ) under the import's lock; $step returns [result, state
	 * to store or null]. The lock is short: one list request at most.
	 *
	 * @return mixed the step's result
	 */
	private static function with_import_lock( callable $step ) {
		$lock = CrmHooks_Jobs::lock_name( 'import' );
		if ( CrmHooks_Jobs::lock( $lock, 30 ) !== '1' ) {
			throw new RuntimeException( 'crmhooks: the import state stayed locked' );
		}
		try {
			list( $result, $store ) = $step( self::state( self::IMPORT_OPTION ) );
			if ( is_array( $store ) ) {
				self::store( self::IMPORT_OPTION, $store );
			}
			return $result;
		} finally {
			CrmHooks_Jobs::unlock( $lock );
		}
	}

	/** Sleeps until $retry_at when it is this close and within the deadline. */
	private static function wait( ?int $retry_at, float $deadline ): bool {
		$wait = (float) ( $retry_at ?? PHP_INT_MAX ) - microtime( true );
		if ( $wait > self::MAX_WAIT_SECS || microtime( true ) + $wait >= $deadline ) {
			return false;
		}
		usleep( (int) ( max( 0.0, $wait ) * 1000000 ) + 50000 );
		return true;
	}

	private static function error_of( Throwable $e ): string {
		return $e instanceof CrmHooks_Native_Error && $e->last_error !== '' ? $e->last_error : $e->getMessage();
	}

	private static function retry_after( ?Throwable $e ): int {
		return $e instanceof CrmHooks_Native_Error ? $e->retry_after : 0;
	}

	/** One reconcile verdict from the library. */
	private static function decide( string $kind, array $query ): array {
		$query = array(
			'kind' => $kind,
			'now'  => time(),
		) + $query;
		return CrmHooks_Native::get()->reconcile_decide( $query );
	}

	/** A stored state, read from the database (another process may have written it). */
	private static function state( string $option ): ?array {
		global $wpdb;
		$value = json_decode( (string) $wpdb->get_var( $wpdb->prepare( "SELECT option_value FROM {$wpdb->options} WHERE option_name = %s", $option ) ), true );
		return is_array( $value ) ? $value : null;
	}

	/** Stores a state with no jobs (a failed step, a new import): the page path is CrmHooks_Jobs::enqueue_page. */
	private static function store( string $option, array $state ): void {
		CrmHooks_Jobs::enqueue_page( array(), $option, $state );
	}
}

<?php
/**
 * Works through the job queue. One drainer per site at a time (MySQL GET_LOCK, released by the
 * server when the connection dies), started: after the response of a request that queued a job
 * (fastcgi_finish_request on shutdown), by WP-Cron every minute as a safety net, and by the
 * admin's "process now". Each run stops after a time budget and a batch size, and for the rest of
 * the run as soon as the CRM rate-limits us. The library's token bucket keeps one process at or
 * below the CRM's rate; one drainer per site makes that the site's rate.
 */

declare(strict_types=1);

final class CrmHooks_Drainer {

	public const CRON_HOOK     = 'crmhooks_drain';
	public const CRON_SCHEDULE = 'crmhooks_every_minute';

	/** Longest the drainer sleeps for a job that becomes due soon (a settling coalesced job). */
	private const MAX_WAIT_SECS = 10;

	/**
	 * The CRM's rate limit counts per second across processes, and each process has its own
	 * token bucket: a drainer starting right after another waits this long since it ended.
	 */
	private const HANDOFF_SECS = 1.0;

	/**
	 * A drainer that stops while work is pending (its budget or batch ran out, the CRM asked us
	 * to wait, or a job becomes due soon) starts its successor with a non-blocking loopback
	 * request, as WordPress spawns WP-Cron, so no job waits for page traffic. The successor sleeps
	 * until the next job is due, at most one drain budget, then drains; work due later than this
	 * horizon is left to WP-Cron or a system cron (README), so a quiet site never keeps a web
	 * worker busy just to wait.
	 */
	private const SUCCESSOR_HORIZON_SECS = 300;

	/** Query parameter of the successor request. */
	public const SUCCESSOR_PARAM = 'crmhooks_drain';

	private static bool $after_response_scheduled = false;

	public static function register(): void {
		add_filter( 'cron_schedules', array( self::class, 'cron_schedules' ) ); // phpcs:ignore WordPress.WP.CronInterval.CronSchedulesInterval -- A one-minute safety net for queued webhooks; a tick with nothing due costs one indexed query.
		add_action( self::CRON_HOOK, array( self::class, 'cron' ) );
		add_action( 'init', array( self::class, 'ensure_scheduled' ) );
		add_action( 'init', array( self::class, 'maybe_run_as_successor' ), 0 );
		if ( defined( 'CRMHOOKS_FILE' ) ) {
			register_deactivation_hook( CRMHOOKS_FILE, array( self::class, 'unschedule' ) );
		}
	}

	public static function cron_schedules( array $schedules ): array {
		$schedules[ self::CRON_SCHEDULE ] = array(
			'interval' => 60,
			'display'  => __( 'Every minute (crmhooks)', 'crmhooks' ),
		);
		return $schedules;
	}

	public static function ensure_scheduled(): void {
		if ( ! wp_next_scheduled( self::CRON_HOOK ) ) {
			wp_schedule_event( time() + 60, self::CRON_SCHEDULE, self::CRON_HOOK );
		}
	}

	public static function unschedule(): void {
		wp_clear_scheduled_hook( self::CRON_HOOK );
	}

	/** WP-Cron: drain, then housekeeping. */
	public static function cron(): void {
		self::prepare_long_run();
		self::run( 'cron' );
		CrmHooks_Queue::prune();
		CrmHooks_Loopback::prune();
	}

	/** Called when a job was queued: drain once the client has its answer. */
	public static function run_after_response(): void {
		if ( self::$after_response_scheduled ) {
			return;
		}
		self::$after_response_scheduled = true;
		add_action( 'shutdown', array( self::class, 'after_response' ), 1000 );
	}

	/**
	 * shutdown callback: finish the HTTP response, then drain in this worker. Without a way to
	 * end the response first (mod_php, php -S) the sender must not wait: WP-Cron drains instead.
	 */
	public static function after_response(): void {
		if ( function_exists( 'fastcgi_finish_request' ) ) {
			self::prepare_long_run();
			fastcgi_finish_request();
		} elseif ( function_exists( 'litespeed_finish_request' ) ) {
			self::prepare_long_run();
			litespeed_finish_request();
		} else {
			return;
		}
		self::run( 'response' );
	}

	/**
	 * One drainer run. Returns a summary: processed, stopped (idle|budget|batch|rate_limited|
	 * locked), trigger.
	 */
	public static function run( string $trigger, ?int $budget_secs = null ): array {
		global $wpdb;
		$summary  = array(
			'trigger'   => $trigger,
			'processed' => 0,
			'stopped'   => '',
		);
		$budget   = $budget_secs ?? max( 1, CrmHooks_Queue::setting( 'drain_budget_secs' ) );
		$deadline = microtime( true ) + $budget;
		$lock     = self::lock_name();
		do {
			if ( (string) $wpdb->get_var( $wpdb->prepare( 'SELECT GET_LOCK(%s, 0)', $lock ) ) !== '1' ) {
				$summary['stopped'] = 'locked'; // Another drainer runs for this site.
				return $summary;
			}
			$before = $summary['processed'];
			try {
				CrmHooks_Loopback::wait_for_previous_drainer( self::HANDOFF_SECS );
				self::drain_locked( $deadline, $summary );
			} finally {
				if ( $summary['processed'] > $before ) {
					CrmHooks_Loopback::record_drainer_end();
				}
				$wpdb->get_var( $wpdb->prepare( 'SELECT RELEASE_LOCK(%s)', $lock ) );
			}
			// A request that queued a job while we held the lock could not start a drainer:
			// look again after releasing it, so its job does not wait for cron.
		} while ( $summary['stopped'] === 'idle' && self::has_due_job() && microtime( true ) < $deadline );
		if ( $summary['stopped'] !== 'locked' ) {
			self::spawn_successor_if_pending();
		}
		return $summary;
	}

	/** The token a successor request carries: only the site can start drains this way. */
	public static function successor_token(): string {
		return substr( wp_hash( 'crmhooks drain successor' ), 0, 32 );
	}

	/** Starts the next drainer when work is pending within the horizon. */
	public static function spawn_successor_if_pending(): bool {
		$next = CrmHooks_Queue::next_due();
		if ( $next === null || $next > time() + self::SUCCESSOR_HORIZON_SECS ) {
			return false;
		}
		$url = add_query_arg( self::SUCCESSOR_PARAM, self::successor_token(), home_url( '/' ) );
		wp_remote_post(
			$url,
			array(
				'timeout'   => 0.01,
				'blocking'  => false,
				'sslverify' => apply_filters( 'https_local_ssl_verify', false ), // phpcs:ignore WordPress.NamingConventions.PrefixAllGlobals.NonPrefixedHooknameFound -- WordPress core's own filter, as spawn_cron() uses it.
			)
		);
		return true;
	}

	/**
	 * init: a successor request. It answers at once, then (after the response) sleeps until the
	 * next job is due, within one drain budget, and drains.
	 */
	public static function maybe_run_as_successor(): void {
		// A request of our own, authenticated by its token; nothing from it is stored or echoed.
		$token = isset( $_GET[ self::SUCCESSOR_PARAM ] ) ? sanitize_text_field( wp_unslash( $_GET[ self::SUCCESSOR_PARAM ] ) ) : ''; // phpcs:ignore WordPress.Security.NonceVerification.Recommended
		if ( $token === '' ) {
			return;
		}
		if ( ! hash_equals( self::successor_token(), $token ) ) {
			status_header( 403 );
			exit;
		}
		status_header( 202 );
		nocache_headers();
		self::prepare_long_run();
		if ( function_exists( 'fastcgi_finish_request' ) ) {
			fastcgi_finish_request();
		} elseif ( function_exists( 'litespeed_finish_request' ) ) {
			litespeed_finish_request();
		}
		$budget = max( 1, CrmHooks_Queue::setting( 'drain_budget_secs' ) );
		$next   = CrmHooks_Queue::next_due();
		if ( $next !== null && $next > time() ) {
			sleep( (int) min( $budget, $next - time() ) );
		}
		self::run( 'successor' );
		exit;
	}

	/**
	 * One drainer per site: the lock name covers the database and the table prefix, so sites in
	 * different databases on one server never block each other (GET_LOCK names are server-wide
	 * and at most 64 characters).
	 */
	public static function lock_name(): string {
		global $wpdb;
		return 'crmhooks_drain_' . md5( DB_NAME . '|' . $wpdb->prefix );
	}

	private static function drain_locked( float $deadline, array &$summary ): void {
		$batch  = max( 1, CrmHooks_Queue::setting( 'drain_batch' ) );
		$worker = substr( (string) gethostname(), 0, 60 ) . ':' . getmypid();
		while ( true ) {
			if ( $summary['processed'] >= $batch ) {
				$summary['stopped'] = 'batch';
				return;
			}
			if ( microtime( true ) >= $deadline ) {
				$summary['stopped'] = 'budget';
				return;
			}
			// Settings are read afresh for every job: an admin may have switched the CRM meanwhile.
			CrmHooks_Settings::refresh();
			$job = CrmHooks_Queue::claim( $worker );
			if ( $job === null ) {
				if ( self::wait_for_next_job( $deadline ) ) {
					continue;
				}
				$summary['stopped'] = 'idle';
				return;
			}
			$outcome = self::process_job( $job );
			++$summary['processed'];
			if ( ( $outcome['code'] ?? '' ) === 'crm_rate_limited' || ( $outcome['outcome'] ?? '' ) === 'unavailable' ) {
				$summary['stopped'] = 'rate_limited';
				return;
			}
		}
	}

	/** Sleeps until the next queued job is due when that is soon and within the budget. */
	private static function wait_for_next_job( float $deadline ): bool {
		$next = CrmHooks_Queue::next_due();
		if ( $next === null ) {
			return false;
		}
		$wait = $next - microtime( true );
		if ( $wait > self::MAX_WAIT_SECS || microtime( true ) + $wait >= $deadline ) {
			return false;
		}
		usleep( (int) ( max( 0.05, $wait + 0.05 ) * 1000000 ) );
		return true;
	}

	private static function has_due_job(): bool {
		$next = CrmHooks_Queue::next_due();
		return $next !== null && $next <= time();
	}

	/** Runs one claimed job and records its end: done, retry later, or failed. */
	public static function process_job( array $job ): array {
		$request = (array) $job['request'];
		try {
			$outcome = ( new CrmHooks_Processor() )->process( $request );
		} catch ( Throwable $e ) {
			$outcome = array(
				'outcome'     => 'failed',
				'code'        => 'exception',
				'message'     => get_class( $e ) . ': ' . $e->getMessage(),
				'retry_after' => 0,
				'contact_id'  => (string) ( $request['contact_id'] ?? '' ),
				'duration_ms' => 0,
				'crm_calls'   => 0,
			);
		}
		$name    = (string) ( $outcome['outcome'] ?? 'failed' );
		$message = substr( (string) ( $outcome['message'] ?? '' ), 0, 800 );
		$id      = (int) $job['id'];
		$attempt = (int) $job['attempts'];
		$end     = CrmHooks_Queue::finish( $job, $outcome );

		$note = sprintf( 'job %d attempt %d (%d received): %s', $id, $attempt, (int) $job['received_count'], $end );
		if ( $message !== '' ) {
			$note .= ': ' . $message;
		}
		CrmHooks_Log::add( (string) ( $request['action'] ?? '' ), (string) ( $outcome['contact_id'] ?? '' ), $name, (int) ( $outcome['duration_ms'] ?? 0 ), (int) ( $outcome['crm_calls'] ?? 0 ), $note );
		return $outcome;
	}

	/** The drainer outlives the client: never stop on a closed connection, allow the budget. */
	private static function prepare_long_run(): void {
		ignore_user_abort( true );
		if ( function_exists( 'set_time_limit' ) ) {
			@set_time_limit( max( 1, CrmHooks_Queue::setting( 'drain_budget_secs' ) ) + 60 ); // phpcs:ignore WordPress.PHP.NoSilencedErrors.Discouraged -- Hosts that forbid it warn; the budget check still ends the drain.
		}
	}
}

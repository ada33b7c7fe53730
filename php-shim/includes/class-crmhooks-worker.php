<?php
/**
 * The worker: drains the job queue and processes one webhook (load the contact from the CRM,
 * gather the WordPress facts, ask the library for the plan, apply it with CrmHooks_Users).
 *
 * One drainer per site at a time (MySQL GET_LOCK, released by the server when the connection
 * dies), started: after the response of a request that queued a job (fastcgi_finish_request on
 * shutdown), by a successor request when a drainer stops with work pending, by a standby request
 * when a drainer dies, by WP-Cron every minute as a safety net (or a system cron, README), and by
 * the admin's "process now". Each run stops after a time budget and a batch size, and as soon as
 * the CRM rate-limits us.
 *
 * A successor waits until the next job is due, however far ahead (a retry's backoff reaches an
 * hour), so a job starts on time on a site with no traffic: one successor per site waits at a
 * time, before the site's plugins load, and hands over to a fresh one every WAIT_SECS.
 *
 * A drainer that claims a job starts one standby request: it waits on the drain lock, and the
 * server hands it the lock the moment the drainer's connection closes, which a killed worker
 * (SIGKILL, a PHP fatal, php-fpm's terminate timeout) cannot prevent. The standby then takes back
 * the dead drainer's job and drains; when the drainer simply ended, the standby finds nothing due
 * and ends without loading the site.
 */

declare(strict_types=1);

final class CrmHooks_Worker {

	public const CRON_HOOK     = 'crmhooks_drain';
	public const CRON_SCHEDULE = 'crmhooks_every_minute';

	/** Body field of successor and standby requests: their token (own_request_token). */
	private const TOKEN_FIELD = 'crmhooks_token';

	/** Longest the drainer sleeps for a job that becomes due soon (a settling coalesced job). */
	private const MAX_WAIT_SECS = 10;

	/**
	 * Longest a standby or successor request waits (for the drain lock, for the next due job)
	 * before it hands over to a fresh one: under the 30 s after which many hosts kill a request.
	 */
	private const WAIT_SECS = 20;

	/** Budget of a drain run from the command line (a system cron every minute). */
	private const CLI_BUDGET_SECS = 50;

	private static bool $after_response_scheduled = false;

	/** Set when this request took the drain lock before loading on (drain_after_early_answer, stand_by). */
	private static bool $lock_taken_early = false;

	/** Whether this standby or successor request loads on to drain; null until own_request() decided. */
	private static ?bool $own_request_drains = null;

	/** Set once this request started its standby: one per drainer request. */
	private static bool $standby_started = false;

	public static function register(): void {
		add_filter( 'cron_schedules', array( self::class, 'cron_schedules' ) ); // phpcs:ignore WordPress.WP.CronInterval.CronSchedulesInterval -- A one-minute safety net for queued webhooks; a tick with nothing due costs one indexed query.
		add_action( self::CRON_HOOK, array( self::class, 'cron' ) );
		add_action( 'init', array( self::class, 'ensure_scheduled' ) );
		add_action( 'init', array( self::class, 'maybe_run_own_request' ), 0 );
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

	/** WP-Cron: drain, then housekeeping. */
	public static function cron(): void {
		self::prepare_long_run();
		// Run by a system cron (php wp-cron.php, WP-CLI), the drain holds no web worker: it may
		// use most of the minute until the next run.
		self::run( 'cron', PHP_SAPI === 'cli' ? max( self::CLI_BUDGET_SECS, (int) CrmHooks_Settings::get( 'drain_budget_secs' ) ) : null );
		CrmHooks_Jobs::prune();
	}

	/**
	 * Called when a job was queued: drain once the client has its answer (shutdown), unless the
	 * site processes its queue from cron only (drain_in_web_requests off).
	 */
	public static function run_after_response(): void {
		if ( ! self::$after_response_scheduled && CrmHooks_Settings::get( 'drain_in_web_requests' ) ) {
			self::$after_response_scheduled = true;
			add_action( 'shutdown', array( self::class, 'after_response' ), 1000 );
		}
	}

	/**
	 * After the must-use loader's answer: ends the response at once (the answer is durable and
	 * complete; nothing after it may delay the CRM), then true when this request should load on
	 * and drain at shutdown with every plugin loaded: it queued a job and took the drain lock
	 * (no drainer runs; a running one picks the job up). The lock is taken now, not at shutdown,
	 * so that of many acknowledgements arriving while no drainer runs only one loads the rest of
	 * the site (on a heavy site every such load costs the site's plugins). Otherwise the drain
	 * is called off: it must never run without the site's plugins, and the request ends, holding
	 * no web worker.
	 */
	public static function drain_after_early_answer(): bool {
		$drain                  = self::finish_response() && self::$after_response_scheduled && CrmHooks_Jobs::lock( self::lock_name() ) === '1';
		self::$lock_taken_early = $drain;
		if ( ! $drain ) {
			remove_action( 'shutdown', array( self::class, 'after_response' ), 1000 );
		}
		return $drain;
	}

	/** Without a way to end the response first (mod_php, php -S) the sender must not wait: cron drains. */
	public static function after_response(): void {
		if ( self::finish_response() ) {
			self::run( 'response' );
		}
	}

	/**
	 * One drainer run. Returns a summary: processed, stopped (idle|budget|batch|rate_limited|
	 * locked), trigger.
	 */
	public static function run( string $trigger, ?int $budget_secs = null ): array {
		$summary  = array(
			'trigger'   => $trigger,
			'processed' => 0,
			'stopped'   => '',
		);
		$deadline = microtime( true ) + ( $budget_secs ?? (int) CrmHooks_Settings::get( 'drain_budget_secs' ) );
		do {
			$held                   = self::$lock_taken_early; // Taken before this request loaded on.
			self::$lock_taken_early = false;
			if ( ! $held && CrmHooks_Jobs::lock( self::lock_name() ) !== '1' ) {
				$summary['stopped'] = 'locked'; // Another drainer runs for this site.
				return $summary;
			}
			try {
				CrmHooks_Jobs::release_orphans();
				self::drain_locked( $deadline, $summary );
			} finally {
				CrmHooks_Jobs::unlock( self::lock_name() );
			}
			// A request that queued a job while we held the lock could not start a drainer:
			// look again after releasing it, so its job does not wait for cron.
		} while ( $summary['stopped'] === 'idle' && ( CrmHooks_Jobs::next_due() ?? PHP_INT_MAX ) <= time() && microtime( true ) < $deadline );
		self::spawn_successor_if_pending();
		return $summary;
	}

	/** One drainer per site. */
	public static function lock_name(): string {
		return CrmHooks_Jobs::lock_name( 'drain' );
	}

	/**
	 * The token successor and standby requests carry: only the site can start drains this way.
	 * Not wp_hash(): a standby is answered by the must-use loader, before pluggable functions exist.
	 */
	public static function own_request_token(): string {
		return substr( CrmHooks_Secrets::identity_hash( 'crmhooks drain successor' ), 0, 32 );
	}

	/**
	 * Starts a successor when work is pending, now or later (and web requests may drain), with a
	 * non-blocking loopback request, as WordPress spawns WP-Cron, so no job waits for page traffic.
	 */
	public static function spawn_successor_if_pending(): bool {
		if ( ! CrmHooks_Settings::get( 'drain_in_web_requests' ) || CrmHooks_Jobs::next_due() === null ) {
			return false;
		}
		self::spawn( CrmHooks_Early::SUCCESSOR_PARAM );
		return true;
	}

	/**
	 * A non-blocking loopback request to this site, as WordPress spawns WP-Cron. The token rides
	 * in the body: query strings end up in access logs.
	 */
	private static function spawn( string $param ): void {
		$args = array(
			'timeout'   => 0.01,
			'blocking'  => false,
			'body'      => array( self::TOKEN_FIELD => self::own_request_token() ),
			'sslverify' => apply_filters( 'https_local_ssl_verify', false ), // phpcs:ignore WordPress.NamingConventions.PrefixAllGlobals.NonPrefixedHooknameFound -- WordPress core's own filter, as spawn_cron() uses it.
		);
		wp_remote_post( add_query_arg( $param, '1', home_url( '/' ) ), $args );
	}

	/**
	 * A standby or successor request (on muplugins_loaded when the must-use loader is installed,
	 * else on init): answers at once (or refuses a wrong token), then waits as its kind does.
	 * True when it goes on to drain.
	 */
	public static function own_request( string $kind ): bool {
		self::answer_own_request();
		self::$own_request_drains = $kind === 'standby' ? self::stand_by() : self::wait_for_due_work();
		return self::$own_request_drains;
	}

	/** init: a standby or successor request drains when own_request() says so, then ends. */
	public static function maybe_run_own_request(): void {
		$kind = CrmHooks_Early::own_request_kind();
		if ( $kind === '' ) {
			return;
		}
		if ( self::$own_request_drains ?? self::own_request( $kind ) ) {
			self::run( $kind );
		}
		exit;
	}

	/**
	 * A standby waits for the drain lock while the drainer that started it runs. True when it got
	 * the lock and work is due (the dead drainer's job is taken back at once). A drainer still
	 * running when the wait ends (a long job) gets a fresh standby, so a live drainer is always
	 * watched.
	 */
	private static function stand_by(): bool {
		$got = CrmHooks_Jobs::lock( self::lock_name(), min( (int) CrmHooks_Settings::get( 'drain_budget_secs' ) + 10, self::WAIT_SECS ) );
		if ( $got === '0' ) {
			self::spawn( CrmHooks_Early::STANDBY_PARAM ); // Timed out: the drainer still runs.
		}
		if ( $got !== '1' ) {
			return false; // NULL, a database error: no new standby, or errors would chain requests.
		}
		CrmHooks_Jobs::release_orphans();
		if ( ( CrmHooks_Jobs::next_due() ?? PHP_INT_MAX ) > time() + self::MAX_WAIT_SECS ) {
			CrmHooks_Jobs::unlock( self::lock_name() );
			return false; // The drainer ended its work; a successor waits for later work.
		}
		self::$lock_taken_early = true;
		return true;
	}

	/**
	 * A successor waits until the next job is due, at most WAIT_SECS, and then drains, or hands
	 * over to a fresh successor while no job is due yet. One per site waits at a time (a named
	 * lock): the others, started by every drainer that ended with work pending, end at once, so
	 * the one waiting looks again every second: a job queued meanwhile may be due sooner.
	 */
	private static function wait_for_due_work(): bool {
		$waiting = CrmHooks_Jobs::lock_name( 'successor' );
		if ( CrmHooks_Jobs::lock( $waiting ) !== '1' ) {
			return false; // Another successor waits for this site's jobs.
		}
		$until = microtime( true ) + self::WAIT_SECS;
		$next  = CrmHooks_Jobs::next_due();
		while ( $next !== null && $next > time() && microtime( true ) < $until ) {
			usleep( 1000000 );
			$next = CrmHooks_Jobs::next_due();
		}
		CrmHooks_Jobs::unlock( $waiting );
		if ( $next !== null && $next > time() ) {
			self::spawn_successor_if_pending(); // Not due yet: a fresh successor waits on (unless web draining was switched off).
		}
		return $next !== null && $next <= time();
	}

	/**
	 * Answers a request of our own (202, the response ends at once) or refuses it (403, exits)
	 * when its token is wrong; nothing from it is stored or echoed.
	 */
	private static function answer_own_request(): void {
		$token = isset( $_POST[ self::TOKEN_FIELD ] ) ? sanitize_text_field( wp_unslash( $_POST[ self::TOKEN_FIELD ] ) ) : ''; // phpcs:ignore WordPress.Security.NonceVerification.Missing -- The token authenticates it.
		if ( ! hash_equals( self::own_request_token(), $token ) ) {
			status_header( 403 );
			exit;
		}
		status_header( 202 );
		nocache_headers();
		self::finish_response();
	}

	private static function drain_locked( float $deadline, array &$summary ): void {
		$worker = substr( (string) gethostname(), 0, 60 ) . ':' . getmypid();
		while ( true ) {
			$batch_done = $summary['processed'] >= (int) CrmHooks_Settings::get( 'drain_batch' );
			if ( $batch_done || microtime( true ) >= $deadline ) {
				$summary['stopped'] = $batch_done ? 'batch' : 'budget';
				return;
			}
			// Every job reads the database afresh: an admin may have switched the CRM meanwhile,
			// and other requests may have changed the users this run read earlier (without a
			// persistent object cache the runtime cache would still hold their old rows).
			wp_cache_flush_runtime();
			CrmHooks_Settings::refresh();
			$job = CrmHooks_Jobs::claim( $worker );
			if ( $job === null ) {
				$wait = ( CrmHooks_Jobs::next_due() ?? PHP_INT_MAX ) - microtime( true );
				if ( $wait <= self::MAX_WAIT_SECS && microtime( true ) + $wait < $deadline ) {
					usleep( (int) ( max( 0.05, $wait + 0.05 ) * 1000000 ) ); // A job becomes due soon.
					continue;
				}
				$summary['stopped'] = 'idle';
				return;
			}
			if ( ! self::$standby_started && CrmHooks_Settings::get( 'drain_in_web_requests' ) ) {
				self::$standby_started = true;
				self::spawn( CrmHooks_Early::STANDBY_PARAM ); // Takes over if this worker dies.
			}
			$end = self::process_job( $job );
			++$summary['processed'];
			if ( $end['stop_draining'] ) {
				$summary['stopped'] = 'rate_limited';
				return;
			}
		}
	}

	/**
	 * Runs one claimed job and records its end: done, retry later, or failed.
	 *
	 * @return array{end:string, stop_draining:bool} as CrmHooks_Jobs::finish() says
	 */
	public static function process_job( array $job ): array {
		$request = (array) $job['request'];
		try {
			$outcome = self::process( $request );
		} catch ( Throwable $e ) {
			$outcome = self::outcome( $request, 'failed', get_class( $e ) . ': ' . $e->getMessage(), 'exception' );
		}
		$end = CrmHooks_Jobs::finish( $job, $outcome );
		if ( $end['end'] !== 'retry' ) {
			CrmHooks_Reconcile::job_ended( $request, (string) $outcome['outcome'] ); // An import counts its jobs.
		}
		$note = sprintf( 'job %d attempt %d (%d received): %s', (int) $job['id'], (int) $job['attempts'], (int) $job['received_count'], $end['end'] );
		CrmHooks_Log::add_outcome( $outcome, $note . ( $outcome['message'] !== '' ? ': ' . substr( (string) $outcome['message'], 0, 800 ) : '' ) );
		return $end;
	}

	/**
	 * Processes one accepted webhook, inline or as a job.
	 *
	 * @return array outcome, action, contact_id, user_id, crm_calls, duration_ms, message, notices,
	 *               code (result name of a CRM error), retry_after
	 */
	public static function process( array $request ): array {
		$started = microtime( true );
		CrmHooks_Crm::take_requests();
		$outcome                = self::run_request( $request, false );
		$outcome['crm_calls']   = CrmHooks_Crm::take_requests();
		$outcome['duration_ms'] = (int) round( ( microtime( true ) - $started ) * 1000 );
		return $outcome;
	}

	/** Dry run for the admin debug page: contact, user state and plan; nothing is written. */
	public static function preview( array $request ): array {
		return self::run_request( $request, true );
	}

	private static function run_request( array $request, bool $dry_run ): array {
		try {
			// By contact ID; the lookup email only finds the CRM contact, never a WordPress user.
			$contact = CrmHooks_Crm::load_contact( $request );
		} catch ( CrmHooks_Native_Unavailable $e ) {
			return self::outcome( $request, 'unavailable', $e->getMessage() );
		} catch ( CrmHooks_Native_Error $e ) {
			if ( in_array( $e->getCode(), array( CrmHooks_Native::CRM_NOT_FOUND, CrmHooks_Native::BAD_REQUEST ), true ) ) {
				return self::outcome( $request, 'contact_not_found', 'contact not found in the CRM' );
			}
			$code                   = CrmHooks_Native::result_name( $e->getCode() );
			$outcome                = self::outcome( $request, 'crm_error', $e->last_error !== '' ? $e->last_error : $code, $code );
			$outcome['retry_after'] = $e->retry_after;
			return $outcome;
		}
		$found = array( 'contact_id' => (string) ( $contact['id'] ?? ( $request['contact_id'] ?? '' ) ) ) + $request;
		// add: find + insert under one named lock per email, so concurrent deliveries never duplicate.
		$email = strtolower( trim( (string) ( $contact['email'] ?? '' ) ) );
		$lock  = ! $dry_run && ( $request['action'] ?? '' ) === 'add' ? CrmHooks_Jobs::lock_name( 'add', $email !== '' ? $email : 'contact:' . $found['contact_id'] ) : null;
		if ( $lock !== null && CrmHooks_Jobs::lock( $lock, 10 ) !== '1' ) {
			return self::outcome( $found, 'busy', 'another delivery for this contact holds the lock' );
		}
		try {
			$plan = self::plan( $request, $contact );
			if ( $dry_run ) {
				return array( 'contact' => $contact ) + self::outcome( $found, 'preview', '' ) + array( 'plan' => $plan );
			}
			$result = CrmHooks_Users::apply( $plan, $contact );
			if ( $result['replan'] ) {
				// A user with this email or login appeared between lookup and insert: plan again.
				$plan   = self::plan( $request, $contact );
				$result = CrmHooks_Users::apply( $plan, $contact );
			}
			if ( $result['replan'] ) {
				return self::outcome( $found, 'busy', 'a user with this email or login appeared twice while the user was created' ); // Retried later.
			}
		} catch ( CrmHooks_Native_Error $e ) {
			return self::outcome( $found, 'failed', $e->getMessage(), CrmHooks_Native::result_name( $e->getCode() ) );
		} finally {
			if ( $lock !== null ) {
				CrmHooks_Jobs::unlock( $lock );
			}
		}
		// The library decided what the plan means; an operation WordPress refused makes it failed.
		$notices            = (array) ( $plan['notices'] ?? array() );
		$message            = $result['error'] ?? implode( '; ', array_filter( array_merge( array_column( $notices, 'message' ), $result['notices'] ) ) );
		$outcome            = self::outcome( $found, $result['error'] !== null ? 'failed' : (string) ( $plan['outcome'] ?? 'failed' ), $message );
		$outcome['user_id'] = $result['user_id'];
		$outcome['notices'] = array_values( array_filter( array_merge( array_column( $notices, 'code' ), $result['notices'] ) ) );
		$outcome['detail']  = (array) ( $plan['summary'] ?? array() ); // For the Activity screen: tags, fields old -> new (secrets hidden: src/plan/summary.rs), role.
		return $outcome;
	}

	/** An outcome with every member the callers read. */
	private static function outcome( array $request, string $outcome, string $message, string $code = '' ): array {
		return array(
			'outcome'     => $outcome,
			'action'      => (string) ( $request['action'] ?? '' ),
			'contact_id'  => (string) ( $request['contact_id'] ?? '' ),
			'user_id'     => null,
			'message'     => $message,
			'notices'     => array(),
			'code'        => $code,
			'retry_after' => 0,
			'crm_calls'   => 0,
			'duration_ms' => 0,
			'detail'      => array(),
		);
	}

	/**
	 * The library's plan from the request, the CRM contact and the WordPress facts it chooses the
	 * user from (users linked to the contact's ID, the user with the contact's email). Other
	 * plugins may narrow the roles a webhook may grant (`crmhooks_grantable_roles`; the library
	 * still refuses every privileged role) and adjust the plan (`crmhooks_plan`).
	 */
	private static function plan( array $request, array $contact ): array {
		$settings                   = CrmHooks_Settings::plan_settings();
		$settings['role_allowlist'] = array_values( array_map( 'strval', (array) apply_filters( 'crmhooks_grantable_roles', $settings['role_allowlist'], $request, $contact ) ) );
		$field_map                  = (array) $settings['field_map'];
		$linked_users               = array_values( array_filter( array_map( static fn( int $id ) => CrmHooks_Users::user_state( $id, $field_map ), CrmHooks_Users::linked_to( (string) ( $contact['id'] ?? '' ) ) ) ) );
		$email_user_id              = CrmHooks_Users::with_email( (string) ( $contact['email'] ?? '' ) );
		$email_user                 = $email_user_id !== null ? CrmHooks_Users::user_state( $email_user_id, $field_map ) : null;
		$plan                       = CrmHooks_Native::get()->plan( compact( 'request', 'contact', 'linked_users', 'email_user', 'settings' ) );
		$filtered                   = apply_filters( 'crmhooks_plan', $plan, $request, $contact );
		return is_array( $filtered ) ? $filtered : $plan;
	}

	/** Ends the HTTP response so the client does not wait; false when the server cannot. */
	private static function finish_response(): bool {
		self::prepare_long_run();
		if ( function_exists( 'fastcgi_finish_request' ) ) {
			fastcgi_finish_request();
			return true;
		}
		if ( function_exists( 'litespeed_finish_request' ) ) {
			litespeed_finish_request();
			return true;
		}
		return false;
	}

	/** The drainer outlives the client: never stop on a closed connection, allow the budget. */
	private static function prepare_long_run(): void {
		ignore_user_abort( true );
		if ( function_exists( 'set_time_limit' ) ) {
			@set_time_limit( (int) CrmHooks_Settings::get( 'drain_budget_secs' ) + 60 ); // phpcs:ignore WordPress.PHP.NoSilencedErrors.Discouraged -- Hosts that forbid it warn; the budget check still ends the drain.
		}
	}
}

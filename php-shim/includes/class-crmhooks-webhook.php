<?php
/**
 * HTTP in and out: `?wpf_action=...` (or `crmhooks_action`) on any URL, caught early on init, and
 * the REST route GET/POST/PUT /wp-json/crmhooks/v1/webhook. The library decides at the door
 * (accept, or the exact answer to refuse with) and words every answer; this class hands it the
 * raw request, stores accepted webhooks as jobs (or runs them inline) and sends the answer.
 */

declare(strict_types=1);

final class CrmHooks_Webhook {

	public const NATIVE_STATUS_OPTION = 'crmhooks_native_status';

	/** Set when the must-use loader answered this request: init has nothing left to answer. */
	private static bool $answered_early = false;

	/** Cheap isset checks only: a plain page view must not touch FFI. */
	public static function is_webhook_request(): bool {
		// phpcs:disable WordPress.Security.NonceVerification -- Webhooks come from a CRM, not a browser form: the access key authenticates them.
		return isset( $_GET['wpf_action'] ) || isset( $_POST['wpf_action'] ) || isset( $_GET['crmhooks_action'] ) || isset( $_POST['crmhooks_action'] );
		// phpcs:enable
	}

	/**
	 * muplugins_loaded (CrmHooks_Early): answers an async webhook, a test or a refusal before
	 * regular plugins load. A signed-in browser (the debug page needs the user), a multipart body
	 * (read from $_POST, which is not slashed yet) and a REST path are left to init, and so is
	 * what handle() leaves (inline processing). When a job was queued and no drainer runs, the
	 * request loads on after its answer and drains at shutdown with every plugin loaded.
	 */
	public static function acknowledge_early(): void {
		// The cookie's name by default, or as wp-config.php names it (cookie constants come later).
		$signed_in    = array_filter( array_keys( $_COOKIE ), static fn( $name ): bool => strpos( (string) $name, 'wordpress_logged_in_' ) === 0 || ( defined( 'LOGGED_IN_COOKIE' ) && $name === LOGGED_IN_COOKIE ) );
		$content_type = (string) ( $_SERVER['CONTENT_TYPE'] ?? ( $_SERVER['HTTP_CONTENT_TYPE'] ?? '' ) ); // phpcs:ignore WordPress.Security.ValidatedSanitizedInput -- Only searched.
		if ( $signed_in !== array() || stripos( $content_type, 'multipart/form-data' ) !== false || self::is_rest_path() ) {
			return;
		}
		$answer = self::handle( true );
		if ( $answer === null ) {
			return;
		}
		self::$answered_early = true;
		self::emit( $answer );
		if ( ! CrmHooks_Worker::drain_after_early_answer() ) {
			exit;
		}
	}

	/** init callback. */
	public static function maybe_handle(): void {
		if ( self::$answered_early ) {
			exit; // Answered on muplugins_loaded; the drainer runs at shutdown.
		}
		if ( self::is_webhook_request() && ! defined( 'REST_REQUEST' ) && ! self::is_rest_path() ) {
			self::send( self::handle() ); // REST requests are the REST route's.
		}
	}

	public static function register_rest_route(): void {
		$route = array(
			'methods'             => array( 'GET', 'POST', 'PUT' ), // PUT: Ontraport's newer webhook UI.
			'callback'            => array( self::class, 'rest_callback' ),
			'permission_callback' => '__return_true', // The access key is the authentication.
		);
		register_rest_route( 'crmhooks/v1', '/webhook', $route );
	}

	/** @return WP_REST_Response */
	public static function rest_callback( WP_REST_Request $rest_request ) { // phpcs:ignore Generic.CodeAnalysis.UnusedFunctionParameter.Found -- The raw request is read the same way for both entry points.
		$answer = self::handle();
		if ( isset( $answer['html'] ) ) {
			self::send( $answer ); // Exits.
		}
		$response = new WP_REST_Response( $answer['body'], $answer['status'] );
		// wp_get_nocache_headers() marks headers to remove with false.
		foreach ( array_filter( array_merge( wp_get_nocache_headers(), $answer['headers'] ), static fn( $v ): bool => $v !== false && $v !== '' ) as $name => $value ) {
			$response->header( $name, (string) $value );
		}
		return $response;
	}

	/**
	 * Authenticates, parses and processes (or queues) the current request.
	 *
	 * @param bool $early on muplugins_loaded: return null for what needs the full WordPress
	 * @return array{status:int, body:array, headers:array, html?:string}|null
	 */
	public static function handle( bool $early = false ): ?array {
		$started = microtime( true );
		// The library reads the raw request bytes (the key compare and the UTF-8 checks need them
		// unaltered), so nothing is unslashed or sanitized here; nothing is echoed either.
		// phpcs:disable WordPress.Security.ValidatedSanitizedInput
		$method       = strtoupper( (string) ( $_SERVER['REQUEST_METHOD'] ?? 'GET' ) );
		$query        = (string) ( $_SERVER['QUERY_STRING'] ?? '' );
		$content_type = (string) ( $_SERVER['CONTENT_TYPE'] ?? ( $_SERVER['HTTP_CONTENT_TYPE'] ?? '' ) );
		// phpcs:enable
		$body = self::raw_body( $method, $content_type );
		if ( stripos( $content_type, 'multipart/form-data' ) !== false ) {
			$content_type = 'application/x-www-form-urlencoded'; // raw_body() re-encoded it that way.
		}
		try {
			// A failure on record is cleared by the admin's check (CrmHooks_Health), not here: no query per webhook.
			$native    = CrmHooks_Native::get();
			$reception = $native->webhook_receive( $method, $query, $content_type, $body, (string) CrmHooks_Settings::get( 'access_key' ) );
		} catch ( CrmHooks_Native_Unavailable $e ) {
			self::remember_native_failure( $e->getMessage() );
			return self::refused( 'unavailable', 503, array( 'Retry-After' => '60' ) ); // Counted: nothing is known about the caller yet.
		} catch ( CrmHooks_Native_Error $e ) {
			return self::refused( 'failed', 500 );
		}
		if ( ( $reception['verdict'] ?? '' ) !== 'accept' || ! is_array( $reception['request'] ?? null ) ) {
			CrmHooks_Log::count_refusal( (string) ( $reception['reason'] ?? 'failed' ) );
			return self::answer( (array) ( $reception['answer'] ?? array() ) );
		}
		$request = $reception['request'];
		if ( $request['action'] === 'test' ) {
			CrmHooks_Log::add( 'test', (string) ( $request['contact_id'] ?? '' ), 'test', self::ms( $started ), 0, 'test webhook' );
			return self::answer( array( 'body' => array( 'success' => true ) ) );
		}
		// is_user_logged_in() works here: init runs after the auth cookie is read.
		if ( ! $early && $method === 'GET' && is_user_logged_in() && current_user_can( 'manage_options' ) ) {
			require_once CRMHOOKS_INCLUDES . 'admin/class-crmhooks-debug-page.php';
			return self::answer( array( 'html' => CrmHooks_Debug_Page::render( $request, CrmHooks_Worker::preview( $request ) ) ) );
		}
		$kind    = 'accept';
		$now     = time();
		$nonce   = bin2hex( random_bytes( 8 ) );
		$backlog = CrmHooks_Jobs::backlog();
		$verdict = CrmHooks_Jobs::decide( compact( 'kind', 'now', 'request', 'nonce', 'backlog' ) );
		if ( ! $verdict['inline'] ) {
			return self::accept( $request, $verdict, $started );
		}
		if ( $early ) {
			return null; // Inline processing runs other plugins' hooks: init does it.
		}
		$outcome = CrmHooks_Worker::process( $request );
		CrmHooks_Log::add_outcome( $outcome, (string) $outcome['message'] );
		$kind    = 'inline_answer';
		$attempt = array_intersect_key( $outcome, array_flip( array( 'outcome', 'code', 'retry_after' ) ) );
		return self::answer( CrmHooks_Jobs::decide( compact( 'kind', 'attempt' ) ) ); // Never tells whether a contact or user exists.
	}

	/**
	 * An async webhook, as the library's acceptance says: refused when the queue is full (503),
	 * else stored or merged and logged as received, and a drainer starts after the response.
	 */
	private static function accept( array $request, array $verdict, float $started ): array {
		$now = time();
		if ( is_array( $verdict['refuse'] ?? null ) ) {
			CrmHooks_Log::count_refusal( 'queue_full' ); // Counted: a flood must not grow the log.
			return self::answer( $verdict['refuse'] );
		}
		$settle = (int) CrmHooks_Settings::get( 'settle_secs' );
		$log    = static function ( array $job ) use ( $request, $started, $now, $settle ): void {
			$message = ( $job['merged'] ? 'merged into job ' : 'queued as job ' ) . $job['id'];
			if ( $job['run_after'] > $now + $settle ) {
				$message .= '; deferred until ' . gmdate( 'H:i:s', $job['run_after'] ) . ' UTC: our own CRM write to this contact is recent (this is probably its echo), or a retry waits';
			}
			CrmHooks_Log::add( (string) $request['action'], (string) ( $request['contact_id'] ?? '' ), 'received', self::ms( $started ), 0, $message );
		};
		// The job and its log entry: one transaction (DESIGN.md step 3).
		if ( CrmHooks_Jobs::enqueue( (string) $verdict['contact_key'], $request, CrmHooks_Settings::account_id(), 1, null, 0, $log ) === null ) {
			CrmHooks_Log::add( (string) $request['action'], (string) ( $request['contact_id'] ?? '' ), 'queue_error', self::ms( $started ), 0, 'the job could not be stored' );
			return self::answer( (array) $verdict['busy'] );
		}
		CrmHooks_Worker::run_after_response();
		return self::answer( (array) $verdict['answer'] );
	}

	private static function refused( string $reason, int $status, array $headers = array() ): array {
		CrmHooks_Log::count_refusal( $reason );
		$body = array(
			'success' => false,
			'error'   => $reason,
		);
		return self::answer(
			array(
				'status'  => $status,
				'body'    => $body,
				'headers' => $headers,
			)
		);
	}

	/** An answer as the library composed it: {status, body, headers} (and html for the debug page). */
	private static function answer( array $answer ): array {
		$failed = array(
			'success' => false,
			'error'   => 'failed',
		);
		return array(
			'status'  => (int) ( $answer['status'] ?? ( isset( $answer['body'] ) || isset( $answer['html'] ) ? 200 : 500 ) ),
			'body'    => (array) ( $answer['body'] ?? $failed ),
			'headers' => (array) ( $answer['headers'] ?? array() ),
		) + array_intersect_key( $answer, array( 'html' => true ) );
	}

	/** Sends the answer and ends the request. */
	public static function send( array $answer ): void {
		self::emit( $answer );
		exit;
	}

	/** Sends the answer (JSON, or the debug page's HTML) without ending the request. */
	private static function emit( array $answer ): void {
		if ( ! headers_sent() ) {
			nocache_headers();
			foreach ( $answer['headers'] as $name => $value ) {
				header( $name . ': ' . $value );
			}
			status_header( $answer['status'] );
			header( 'Content-Type: ' . ( isset( $answer['html'] ) ? 'text/html' : 'application/json' ) . '; charset=utf-8' );
		}
		// The HTML is built from escaped parts by CrmHooks_Debug_Page::render(); JSON is encoded here.
		echo isset( $answer['html'] ) ? $answer['html'] : wp_json_encode( $answer['body'] ); // phpcs:ignore WordPress.Security.EscapeOutput.OutputNotEscaped
	}

	/** The raw body; multipart bodies are not readable from php://input, so rebuild them from $_POST. */
	private static function raw_body( string $method, string $content_type ): string {
		if ( $method === 'GET' || $method === 'HEAD' ) {
			return '';
		}
		if ( stripos( $content_type, 'multipart/form-data' ) !== false ) {
			return http_build_query( wp_unslash( $_POST ) ); // phpcs:ignore WordPress.Security.NonceVerification.Missing -- A CRM webhook, authenticated by its access key.
		}
		return (string) file_get_contents( 'php://input' );
	}

	private static function is_rest_path(): bool {
		$uri   = isset( $_SERVER['REQUEST_URI'] ) ? sanitize_text_field( wp_unslash( $_SERVER['REQUEST_URI'] ) ) : '';
		$route = isset( $_GET['rest_route'] ) ? sanitize_text_field( wp_unslash( $_GET['rest_route'] ) ) : ''; // phpcs:ignore WordPress.Security.NonceVerification.Recommended -- Only compared, to leave REST requests to the REST route.
		return strpos( $uri, '/' . rest_get_url_prefix() . '/crmhooks/' ) !== false || strpos( $route, '/crmhooks/' ) === 0;
	}

	/** Keeps the last library failure a webhook saw, for the admin notice. */
	private static function remember_native_failure( string $message ): void {
		$current = get_option( self::NATIVE_STATUS_OPTION );
		if ( ( $current['message'] ?? '' ) !== $message ) {
			$time = time();
			update_option( self::NATIVE_STATUS_OPTION, compact( 'message', 'time' ), false );
		}
	}

	private static function ms( float $started ): int {
		return (int) round( ( microtime( true ) - $started ) * 1000 );
	}
}

<?php
/**
 * The webhook endpoint: `?wpf_action=...` (or `crmhooks_action`) on any URL, caught early on init,
 * and the REST route POST/GET /wp-json/crmhooks/v1/webhook. Answers are short JSON, never 410.
 */

declare(strict_types=1);

final class CrmHooks_Webhook {

	public const NATIVE_STATUS_OPTION = 'crmhooks_native_status';

	/** Cheap isset checks only: a plain page view must not touch FFI. */
	public static function is_webhook_request(): bool {
		// phpcs:disable WordPress.Security.NonceVerification -- Webhooks come from a CRM, not a browser form: the access key authenticates them.
		return isset( $_GET['wpf_action'] ) || isset( $_POST['wpf_action'] )
			|| isset( $_GET['crmhooks_action'] ) || isset( $_POST['crmhooks_action'] );
		// phpcs:enable
	}

	/** init callback. */
	public static function maybe_handle(): void {
		if ( ! self::is_webhook_request() ) {
			return;
		}
		if ( defined( 'REST_REQUEST' ) || self::is_rest_path() ) {
			return; // The REST route answers it.
		}
		self::send( self::handle() );
	}

	public static function register_rest_route(): void {
		register_rest_route(
			'crmhooks/v1',
			'/webhook',
			array(
				'methods'             => array( 'GET', 'POST', 'PUT' ), // PUT: Ontraport's newer webhook UI.
				'callback'            => array( self::class, 'rest_callback' ),
				'permission_callback' => '__return_true', // The access key is the authentication.
			)
		);
	}

	/** @return WP_REST_Response */
	public static function rest_callback( WP_REST_Request $rest_request ) { // phpcs:ignore Generic.CodeAnalysis.UnusedFunctionParameter.Found -- The raw request is read the same way for both entry points.
		$answer = self::handle();
		if ( isset( $answer['html'] ) ) {
			self::send( $answer ); // Exits.
		}
		$response = new WP_REST_Response( $answer['body'], $answer['status'] );
		foreach ( array_merge( wp_get_nocache_headers(), $answer['headers'] ) as $name => $value ) {
			// wp_get_nocache_headers() marks headers to remove with false.
			if ( $value !== false && $value !== '' ) {
				$response->header( $name, (string) $value );
			}
		}
		return $response;
	}

	/**
	 * Authenticates, parses and processes the current request.
	 *
	 * @return array{status:int, body:array, headers:array, html?:string}
	 */
	public static function handle(): array {
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
			$native = CrmHooks_Native::get();
		} catch ( CrmHooks_Native_Unavailable $e ) {
			// Counted, not logged per request: nothing is known about the caller yet.
			self::remember_native_failure( $e->getMessage() );
			CrmHooks_Refusals::count( 'unavailable' );
			return self::answer(
				503,
				array(
					'success' => false,
					'error'   => 'unavailable',
				),
				array( 'Retry-After' => '60' )
			);
		}
		self::forget_native_failure();

		// The library decides at the door: accept, or the exact answer to refuse with.
		try {
			$reception = $native->webhook_receive( $method, $query, $content_type, $body, (string) CrmHooks_Settings::get( 'access_key' ) );
		} catch ( CrmHooks_Native_Error $e ) {
			CrmHooks_Refusals::count( 'failed' );
			return self::answer(
				500,
				array(
					'success' => false,
					'error'   => 'failed',
				)
			);
		}
		if ( ( $reception['verdict'] ?? '' ) !== 'accept' || ! is_array( $reception['request'] ?? null ) ) {
			CrmHooks_Refusals::count( (string) ( $reception['reason'] ?? 'failed' ) );
			return self::library_answer( (array) ( $reception['answer'] ?? array() ) );
		}
		$request = $reception['request'];

		$action     = (string) ( $request['action'] ?? '' );
		$contact_id = (string) ( $request['contact_id'] ?? '' );
		if ( $action === 'test' ) {
			CrmHooks_Log::add( 'test', $contact_id, 'test', self::ms( $started ), 0, 'test webhook' );
			return self::answer( 200, array( 'success' => true ) );
		}

		// is_user_logged_in() works here: init runs after the auth cookie is read.
		if ( $method === 'GET' && is_user_logged_in() && current_user_can( 'manage_options' ) ) {
			$preview = ( new CrmHooks_Processor() )->preview( $request );
			return array(
				'status'  => 200,
				'body'    => array(),
				'headers' => array(),
				'html'    => CrmHooks_Debug_Page::render( $request, $preview ),
			);
		}

		if ( CrmHooks_Queue::is_async( $request ) ) {
			return CrmHooks_Queue::accept( $request, $started ); // Stored, answered 200 queued (503 when full).
		}
		$outcome = ( new CrmHooks_Processor() )->process( $request );
		CrmHooks_Log::add( $action, (string) $outcome['contact_id'], (string) $outcome['outcome'], (int) $outcome['duration_ms'], (int) $outcome['crm_calls'], (string) $outcome['message'] );
		return self::answer_for_outcome( $outcome );
	}

	/**
	 * The HTTP answer for an inline outcome, as the library words it (it never tells whether a
	 * contact or user exists).
	 */
	public static function answer_for_outcome( array $outcome ): array {
		$answer = CrmHooks_Queue::decide(
			array(
				'kind'    => 'inline_answer',
				'attempt' => array(
					'outcome'     => (string) ( $outcome['outcome'] ?? '' ),
					'code'        => (string) ( $outcome['code'] ?? '' ),
					'retry_after' => max( 0, (int) ( $outcome['retry_after'] ?? 0 ) ),
				),
			)
		);
		return self::library_answer( $answer );
	}

	/** An answer the library composed: {status, body, headers}. */
	public static function library_answer( array $answer ): array {
		return self::answer(
			(int) ( $answer['status'] ?? 500 ),
			(array) ( $answer['body'] ?? array(
				'success' => false,
				'error'   => 'failed',
			) ),
			(array) ( $answer['headers'] ?? array() )
		);
	}
	private static function answer( int $status, array $body, array $headers = array() ): array {
		return array(
			'status'  => $status,
			'body'    => $body,
			'headers' => $headers,
		);
	}

	/** Sends the answer and ends the request. */
	public static function send( array $answer ): void {
		if ( ! headers_sent() ) {
			nocache_headers();
			foreach ( $answer['headers'] as $name => $value ) {
				header( $name . ': ' . $value );
			}
		}
		if ( isset( $answer['html'] ) ) {
			status_header( $answer['status'] );
			if ( ! headers_sent() ) {
				header( 'Content-Type: text/html; charset=utf-8' );
			}
			echo $answer['html']; // phpcs:ignore WordPress.Security.EscapeOutput.OutputNotEscaped -- Built from escaped parts by CrmHooks_Debug_Page::render().
			exit;
		}
		wp_send_json( $answer['body'], $answer['status'] );
	}

	/** The raw body; multipart bodies are not readable from php://input, so rebuild them from $_POST. */
	private static function raw_body( string $method, string $content_type ): string {
		if ( $method === 'GET' || $method === 'HEAD' ) {
			return '';
		}
		if ( stripos( $content_type, 'multipart/form-data' ) !== false ) {
			return http_build_query( wp_unslash( $_POST ) ); // phpcs:ignore WordPress.Security.NonceVerification.Missing -- A CRM webhook, authenticated by its access key.
		}
		$body = file_get_contents( 'php://input' );
		return is_string( $body ) ? $body : '';
	}

	private static function is_rest_path(): bool {
		$uri   = isset( $_SERVER['REQUEST_URI'] ) ? sanitize_text_field( wp_unslash( $_SERVER['REQUEST_URI'] ) ) : '';
		$route = isset( $_GET['rest_route'] ) ? sanitize_text_field( wp_unslash( $_GET['rest_route'] ) ) : ''; // phpcs:ignore WordPress.Security.NonceVerification.Recommended -- Only compared, to leave REST requests to the REST route.
		return strpos( $uri, '/' . rest_get_url_prefix() . '/crmhooks/' ) !== false || strpos( $route, '/crmhooks/' ) === 0;
	}

	private static function remember_native_failure( string $message ): void {
		$current = get_option( self::NATIVE_STATUS_OPTION );
		if ( ! is_array( $current ) || ( $current['message'] ?? '' ) !== $message ) {
			update_option(
				self::NATIVE_STATUS_OPTION,
				array(
					'message' => $message,
					'time'    => time(),
				),
				false
			);
		}
	}

	private static function forget_native_failure(): void {
		if ( get_option( self::NATIVE_STATUS_OPTION ) !== false ) {
			delete_option( self::NATIVE_STATUS_OPTION );
		}
	}

	private static function ms( float $started ): int {
		return (int) round( ( microtime( true ) - $started ) * 1000 );
	}
}

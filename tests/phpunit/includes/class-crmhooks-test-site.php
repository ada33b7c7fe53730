<?php
/**
 * The site under test: HTTP requests to it (webhooks, page views) and WordPress state helpers.
 * Values come from the stack's environment (scripts/stack.sh env), set by bootstrap.php.
 */
final class CrmHooks_Test_Site {

	/** @var array<string,string> CRMHOOKS_* values of the running stack. */
	private static $env = array();

	/** @var array|null crmhooks_settings as the stack wrote them, for restore_settings(). */
	private static $original_settings = null;

	public static function init( array $env ): void {
		self::$env = $env;
	}

	/** URL on the runtime-FFI site (port BASE). */
	public static function url( string $path = '/' ): string {
		return rtrim( self::$env['CRMHOOKS_SITE_URL'], '/' ) . '/' . ltrim( $path, '/' );
	}

	/** URL on the preload-FFI site (port BASE+1): same WordPress, other php-fpm pool. */
	public static function preload_url( string $path = '/' ): string {
		return rtrim( self::$env['CRMHOOKS_PRELOAD_URL'], '/' ) . '/' . ltrim( $path, '/' );
	}

	public static function access_key(): string {
		return self::$env['CRMHOOKS_ACCESS_KEY'];
	}

	public static function wp_dir(): string {
		return self::$env['CRMHOOKS_WP_DIR'];
	}

	/**
	 * Sends a webhook to the site's front page: `$query` becomes the query string (nothing is
	 * added: pass access_key yourself). `$body`: null (none), a string (sent as is) or an array
	 * (form-encoded, or JSON when a Content-Type header says json). `$base_url` picks the site
	 * (default: the runtime-FFI site; pass self::preload_url()).
	 *
	 * @return array{status:int,headers:array<string,string>,body:string,json:mixed}
	 */
	public static function webhook( string $method, array $query, $body = null, array $headers = array(), ?string $base_url = null ): array {
		$url = $base_url ?? self::url( '/' );
		if ( $query ) {
			$url .= ( false === strpos( $url, '?' ) ? '?' : '&' ) . http_build_query( $query, '', '&', PHP_QUERY_RFC3986 );
		}
		return self::request( $method, $url, $body, $headers );
	}

	/**
	 * One HTTP request with the curl extension; headers as ['Name' => 'value'] or ['Name: value'].
	 *
	 * @return array{status:int,headers:array<string,string>,body:string,json:mixed}
	 */
	public static function request( string $method, string $url, $body = null, array $headers = array() ): array {
		$header_lines = array();
		$content_type = null;
		foreach ( $headers as $name => $value ) {
			$line           = is_int( $name ) ? (string) $value : $name . ': ' . $value;
			$header_lines[] = $line;
			if ( 0 === stripos( $line, 'content-type:' ) ) {
				$content_type = strtolower( trim( substr( $line, 13 ) ) );
			}
		}
		if ( is_array( $body ) ) {
			if ( null !== $content_type && false !== strpos( $content_type, 'json' ) ) {
				$body = (string) json_encode( $body );
			} else {
				$body = http_build_query( $body, '', '&' );
				if ( null === $content_type ) {
					$header_lines[] = 'Content-Type: application/x-www-form-urlencoded';
				}
			}
		}
		// No "Expect: 100-continue" round trip for larger bodies.
		$header_lines[] = 'Expect:';

		$response_headers = array();
		$curl             = curl_init( $url );
		curl_setopt_array(
			$curl,
			array(
				CURLOPT_CUSTOMREQUEST  => strtoupper( $method ),
				CURLOPT_RETURNTRANSFER => true,
				CURLOPT_HTTPHEADER     => $header_lines,
				CURLOPT_TIMEOUT        => 60,
				CURLOPT_CONNECTTIMEOUT => 5,
				CURLOPT_FOLLOWLOCATION => false,
				CURLOPT_HEADERFUNCTION => static function ( $handle, $line ) use ( &$response_headers ) {
					$parts = explode( ':', $line, 2 );
					if ( 2 === count( $parts ) ) {
						$response_headers[ strtolower( trim( $parts[0] ) ) ] = trim( $parts[1] );
					}
					return strlen( $line );
				},
			)
		);
		if ( null !== $body ) {
			curl_setopt( $curl, CURLOPT_POSTFIELDS, (string) $body );
		}
		$response_body = curl_exec( $curl );
		if ( false === $response_body ) {
			$error = curl_error( $curl );
			curl_close( $curl );
			throw new RuntimeException( "HTTP $method $url failed: $error" );
		}
		$status = (int) curl_getinfo( $curl, CURLINFO_RESPONSE_CODE );
		curl_close( $curl );

		return array(
			'status'  => $status,
			'headers' => $response_headers,
			'body'    => (string) $response_body,
			'json'    => json_decode( (string) $response_body, true ),
		);
	}

	/** Forget this process's cached options and users: the web workers write the same database. */
	public static function fresh(): void {
		wp_cache_flush();
	}

	/** Merges `$overrides` into crmhooks_settings (restore_settings() puts the stack's back). */
	public static function set_settings( array $overrides ): void {
		self::fresh();
		$settings = get_option( 'crmhooks_settings' );
		$settings = is_array( $settings ) ? $settings : array();
		update_option( 'crmhooks_settings', array_merge( $settings, $overrides ) );
		self::fresh();
	}

	public static function remember_settings(): void {
		self::fresh();
		$settings                = get_option( 'crmhooks_settings' );
		self::$original_settings = is_array( $settings ) ? $settings : null;
	}

	public static function restore_settings(): void {
		if ( null !== self::$original_settings ) {
			update_option( 'crmhooks_settings', self::$original_settings );
		}
		self::fresh();
	}

	/** Deletes every user except `admin`: the test stack's users all come from tests. */
	public static function delete_test_users(): void {
		self::fresh();
		foreach ( get_users( array( 'fields' => array( 'ID', 'user_login' ) ) ) as $user ) {
			if ( 'admin' !== $user->user_login ) {
				wp_delete_user( (int) $user->ID );
			}
		}
		self::fresh();
	}

	/**
	 * Waits until no job is queued or running; false if some still are after `$timeout_secs`.
	 * With `$drain`, this process also runs the drainer (as WP-Cron would), for jobs whose retry
	 * or lease ends after the response drainer stopped.
	 */
	public static function wait_until_queue_idle( int $timeout_secs, bool $drain = false ): bool {
		$deadline = microtime( true ) + $timeout_secs;
		do {
			self::fresh(); // Forget what this process cached: web workers and the drain below change rows.
			if ( 0 === CrmHooks_Jobs::backlog() ) {
				return true;
			}
			if ( $drain ) {
				CrmHooks_Worker::run( 'test', 5 );
			}
			usleep( 200000 );
		} while ( microtime( true ) < $deadline );
		return false;
	}

	/**
	 * Runs `$body` (the body of a function of `$in`) in a PHP subprocess that loads another
	 * WordPress of the stack (the fresh site, the network) as a GET of `$url`, then `$after_load`
	 * (extra includes and helper functions); returns what the body returns, through JSON.
	 *
	 * @return mixed
	 */
	public static function run_in_site( string $wp_dir, string $url, string $body, array $in = array(), string $after_load = '' ) {
		$marker  = '@@crmhooks-subprocess-result@@';
		$prelude = '$in = json_decode((string) getenv("CRMHOOKS_SUBPROCESS_INPUT"), true);'
			. '$_SERVER["HTTP_HOST"] = ' . var_export( parse_url( $url, PHP_URL_HOST ) . ':' . parse_url( $url, PHP_URL_PORT ), true ) . ';'
			. '$_SERVER["SERVER_NAME"] = "127.0.0.1"; $_SERVER["SERVER_PORT"] = ' . var_export( (string) parse_url( $url, PHP_URL_PORT ), true ) . ';'
			. '$_SERVER["REQUEST_URI"] = "/"; $_SERVER["REQUEST_METHOD"] = "GET";'
			. 'require ' . var_export( $wp_dir . '/wp-load.php', true ) . '; require_once ABSPATH . "wp-admin/includes/plugin.php";';
		$code    = $prelude . "\n" . $after_load . "\n" . '$out = (static function (array $in) {' . "\n" . $body . "\n" . '})(is_array($in) ? $in : array());'
			. "\n" . 'echo "\n", ' . var_export( $marker, true ) . ', json_encode($out), "\n";';
		$env     = getenv();
		$env['CRMHOOKS_SUBPROCESS_INPUT'] = (string) json_encode( $in );
		$process = proc_open( array( PHP_BINARY, '-r', $code ), array( 1 => array( 'pipe', 'w' ), 2 => array( 'pipe', 'w' ) ), $pipes, null, $env );
		if ( ! is_resource( $process ) ) {
			throw new RuntimeException( "cannot start a PHP subprocess for $url" );
		}
		$stdout = (string) stream_get_contents( $pipes[1] );
		$stderr = (string) stream_get_contents( $pipes[2] );
		fclose( $pipes[1] );
		fclose( $pipes[2] );
		$rc = proc_close( $process );
		$at = strrpos( $stdout, $marker );
		if ( 0 !== $rc || false === $at ) {
			throw new RuntimeException( "the subprocess for $url failed (exit $rc):\n$stdout\n$stderr" );
		}
		return json_decode( trim( substr( $stdout, $at + strlen( $marker ) ) ), true );
	}
}

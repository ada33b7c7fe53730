<?php
/**
 * Client for the CRM stand-in's control interface (tests/standin/standin.py, /_control/...).
 * Every call throws RuntimeException on an HTTP error, so a broken stand-in fails the test loudly.
 */
final class CrmHooks_Test_Standin {

	/** @var string Base URL, e.g. http://127.0.0.1:18085 */
	private static $base = '';

	public static function init( string $base_url ): void {
		self::$base = rtrim( $base_url, '/' );
	}

	public static function url( string $path = '' ): string {
		return self::$base . ( '' === $path ? '' : '/' . ltrim( $path, '/' ) );
	}

	public static function health(): array {
		return self::call( 'GET', '/_control/health' );
	}

	/**
	 * Resets state, log, faults and counters; with `$seed`, loads that seed document instead.
	 * The site's cached CRM names go too: they described the CRM as it was before the reset.
	 */
	public static function reset( ?array $seed = null ): array {
		global $wpdb;
		$wpdb->query( "UPDATE {$wpdb->prefix}crmhooks_rate SET names_json = '{}'" );
		return self::call( 'POST', '/_control/reset', $seed );
	}

	public static function state(): array {
		return self::call( 'GET', '/_control/state' );
	}

	/** @param string $crm 'ac' or 'op' */
	public static function put_contact( string $crm, string $id, array $data ): array {
		return self::call( 'PUT', '/_control/' . rawurlencode( $crm ) . '/contacts/' . rawurlencode( $id ), $data );
	}

	public static function delete_contact( string $crm, string $id ): array {
		return self::call( 'DELETE', '/_control/' . rawurlencode( $crm ) . '/contacts/' . rawurlencode( $id ) );
	}

	/** Requests the stand-in received, oldest first; `$since` = last seq already seen. */
	public static function log( ?int $since = null ): array {
		return self::call( 'GET', '/_control/log' . ( null === $since ? '' : '?since=' . $since ) );
	}

	public static function clear_log(): array {
		return self::call( 'DELETE', '/_control/log' );
	}

	public static function add_fault( array $fault ): array {
		return self::call( 'POST', '/_control/faults', $fault );
	}

	public static function clear_faults(): array {
		return self::call( 'DELETE', '/_control/faults' );
	}

	public static function config( array $config ): array {
		return self::call( 'POST', '/_control/config', $config );
	}

	public static function stats(): array {
		return self::call( 'GET', '/_control/stats' );
	}

	/** Has the stand-in deliver a CRM-shaped webhook to `$spec['url']`; returns its deliveries. */
	public static function send_webhook( array $spec ): array {
		return self::call( 'POST', '/_control/send_webhook', $spec );
	}

	public static function bulk_edit( array $spec ): array {
		return self::call( 'POST', '/_control/bulk_edit', $spec );
	}

	/** Creates `count` contacts (email/name templates with {id} and {n}, tags by name); returns their IDs. */
	public static function create_contacts( string $crm, array $spec ): array {
		return self::call( 'POST', '/_control/' . rawurlencode( $crm ) . '/contacts', $spec )['ids'];
	}

	/** Changes contacts as a CRM user would (stamped changed now), optionally sending their webhooks. */
	public static function touch( array $spec ): array {
		return self::call( 'POST', '/_control/touch', $spec );
	}

	/** How many logged requests match: crm, method, path_regex, status, since. */
	public static function log_count( array $query ): int {
		return (int) self::call( 'GET', '/_control/log/count?' . http_build_query( $query ) )['count'];
	}

	private static function call( string $method, string $path, ?array $body = null ): array {
		$headers = array();
		if ( null !== $body ) {
			$headers['Content-Type'] = 'application/json';
		}
		$response = CrmHooks_Test_Site::request( $method, self::url( $path ), null === $body ? null : (string) json_encode( $body ), $headers );
		if ( $response['status'] < 200 || $response['status'] >= 300 ) {
			throw new RuntimeException( "stand-in $method $path answered HTTP {$response['status']}: " . substr( $response['body'], 0, 300 ) );
		}
		if ( '' === trim( $response['body'] ) ) {
			return array();
		}
		if ( ! is_array( $response['json'] ) ) {
			throw new RuntimeException( "stand-in $method $path did not answer JSON" );
		}
		return $response['json'];
	}
}

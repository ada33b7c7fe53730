<?php
/**
 * The option crmhooks_settings. Its keys, defaults and rules live in the library
 * (crmh_settings_normalize): reading goes through it (every key present and valid) and so does
 * saving on the settings screen (CrmHooks_Settings_Fields::sanitize: each invalid value refused
 * by name, nothing clamped). This class only reads the option, decrypts its secrets and adds the
 * WordPress facts the library needs.
 */

declare(strict_types=1);

final class CrmHooks_Settings {

	public const OPTION = 'crmhooks_settings';

	/**
	 * Defining this constant (development and test sites only) lets the CRM base URL use plain
	 * http to a loopback host; everywhere else the API token only travels over https.
	 */
	public const DEV_HTTP_CONSTANT = 'CRMHOOKS_DEV_ALLOW_HTTP';

	/** The stored option the memo below was made from, and the document it gave. */
	private static $memo_stored = null;
	private static array $memo  = array();

	/** Every setting, valid, secrets decrypted (as stored, when the library is unavailable). */
	public static function all(): array {
		$stored = get_option( self::OPTION, array() );
		if ( $stored !== self::$memo_stored || self::$memo === array() ) {
			$plain = CrmHooks_Secrets::decrypt_settings( is_array( $stored ) ? $stored : array() );
			try {
				self::$memo = (array) self::normalize( $plain, null )['settings'];
			} catch ( Throwable $e ) {
				return $plain; // Webhooks answer 503 then; the admin sees why.
			}
			self::$memo_stored = $stored;
		}
		return self::$memo;
	}

	/** The settings without credentials: what the library's decisions read. */
	public static function public_settings(): array {
		return array_diff_key( self::all(), array_flip( CrmHooks_Secrets::KEYS ) );
	}

	/** @return mixed */
	public static function get( string $key ) {
		return self::all()[ $key ] ?? null;
	}

	/**
	 * Forget this request's copy of the option: a long-running drainer must judge each job by
	 * the settings as they are now, not as they were when it started.
	 */
	public static function refresh(): void {
		wp_cache_delete( self::OPTION, 'options' );
		wp_cache_delete( 'alloptions', 'options' );
		wp_cache_delete( 'notoptions', 'options' );
	}

	public static function update( array $changes ): void {
		update_option( self::OPTION, array_merge( self::all(), $changes ) );
	}

	/**
	 * The library's settings document: $stored made whole and valid, or $submitted checked
	 * against it (the settings screen), with every refused value under `problems`.
	 *
	 * @throws CrmHooks_Native_Unavailable|CrmHooks_Native_Error
	 */
	public static function normalize( array $stored, ?array $submitted ): array {
		$doc = array(
			'stored'              => (object) $stored,
			'submitted'           => $submitted === null ? null : (object) $submitted,
			'roles'               => $submitted === null ? array() : self::roles(),
			'allow_http_loopback' => self::dev_http_allowed(),
		);
		return CrmHooks_Native::get()->settings_normalize( $doc );
	}

	/**
	 * Which CRM account the site points at: a keyed hash of the CRM, its API URL and the
	 * account's credential (never the credential itself). A job records the account that
	 * accepted it and is never judged by another one.
	 */
	public static function account_id(): string {
		$c = self::crm_config(); // Ontraport's account is its app ID, ActiveCampaign's its token (the other is '').
		return ( $c['crm'] === 'ontraport' ? 'op:' : 'ac:' ) . substr( CrmHooks_Secrets::identity_hash( $c['crm'] . '|' . $c['base_url'] . '|' . $c['api_token'] . $c['app_id'] ), 0, 32 );
	}

	private static function dev_http_allowed(): bool {
		return defined( self::DEV_HTTP_CONSTANT ) && constant( self::DEV_HTTP_CONSTANT ) === true;
	}

	/** Every registered role with its display name and granted capabilities (the library decides privilege). */
	public static function roles(): array {
		$roles = array();
		foreach ( wp_roles()->roles as $slug => $role ) {
			$roles[] = array(
				'slug'         => (string) $slug,
				'name'         => (string) ( $role['name'] ?? $slug ),
				'capabilities' => array_map( 'strval', array_keys( array_filter( (array) ( $role['capabilities'] ?? array() ) ) ) ),
			);
		}
		return $roles;
	}

	/** The settings document for crmh_plan: the settings and the site's roles. */
	public static function plan_settings(): array {
		return array( 'roles' => self::roles() ) + self::public_settings();
	}

	/** The CrmConfig document of the crmh_crm_* calls (credentials travel on every call, never logged). */
	public static function crm_config(): array {
		$s     = self::all();
		$ontra = ( $s['crm'] ?? '' ) === 'ontraport';
		return array(
			'crm'                 => $ontra ? 'ontraport' : 'activecampaign',
			'base_url'            => (string) ( $ontra ? ( $s['op_base_url'] ?? '' ) : ( $s['ac_base_url'] ?? '' ) ),
			'api_token'           => $ontra ? '' : (string) ( $s['ac_api_token'] ?? '' ),
			'app_id'              => $ontra ? (string) ( $s['op_app_id'] ?? '' ) : '',
			'api_key'             => $ontra ? (string) ( $s['op_api_key'] ?? '' ) : '',
			'allow_http_loopback' => self::dev_http_allowed(),
		);
	}
}

<?php
/**
 * The option crmhooks_settings. Its keys, defaults and rules live in the library
 * (crmh_settings_normalize): reading goes through it (every key present and valid) and so does
 * saving (each invalid value refused by name, nothing clamped). This class only reads the
 * option, decrypts its secrets and adds the WordPress facts the library needs.
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
	 * Settings API sanitizer: the library checks every submitted value against its rule and the
	 * roles and mappings against the webhook rules; each refusal is shown naming the field.
	 */
	public static function sanitize( $input ): array {
		try {
			$normalized = self::normalize( self::all(), is_array( $input ) ? $input : array() );
		} catch ( Throwable $e ) {
			self::refuse( array( 'field' => 'library' ) );
			return (array) get_option( self::OPTION, array() );
		}
		foreach ( (array) $normalized['problems'] as $problem ) {
			self::refuse( (array) $problem );
		}
		return (array) $normalized['settings'];
	}

	/** @throws CrmHooks_Native_Unavailable|CrmHooks_Native_Error */
	private static function normalize( array $stored, ?array $submitted ): array {
		$doc = array(
			'stored'              => (object) $stored,
			'submitted'           => $submitted === null ? null : (object) $submitted,
			'roles'               => $submitted === null ? array() : self::roles(),
			'allow_http_loopback' => self::dev_http_allowed(),
		);
		return CrmHooks_Native::get()->settings_normalize( $doc );
	}

	/** add_settings_error (when the Settings API is loaded), in words, naming the field. */
	private static function refuse( array $problem ): void {
		if ( ! function_exists( 'add_settings_error' ) ) {
			return;
		}
		// Named as the settings screen labels it (the key itself where the screen is not loaded).
		$field   = (string) ( $problem['field'] ?? '' );
		$field   = class_exists( 'CrmHooks_Settings_Fields', false ) ? CrmHooks_Settings_Fields::label( $field ) : $field;
		$value   = (string) ( $problem['value'] ?? '' );
		$code    = (string) ( $problem['code'] ?? '' );
		$message = array(
			'invalid_number'     => sprintf( /* translators: 1: setting, 2: smallest allowed number, 3: largest allowed number */ __( '%1$s: enter a whole number from %2$d to %3$d. The saved value was kept.', 'crmhooks' ), $field, (int) ( $problem['min'] ?? 0 ), (int) ( $problem['max'] ?? 0 ) ),
			'url_not_https'      => sprintf( /* translators: %s: setting */ __( '%s: the CRM API URL must start with https:// (the API token must never travel unencrypted). The saved value was kept.', 'crmhooks' ), $field ),
			'role_privileged'    => sprintf( /* translators: 1: setting, 2: role slug */ __( '%1$s: the role "%2$s" holds admin-level capabilities; a webhook never grants it, so it was not saved.', 'crmhooks' ), $field, $value ),
			'meta_protected'     => sprintf( /* translators: %s: user meta key */ __( 'Field map: "%s" is a protected user meta key (roles, sessions, passwords, private or crmhooks keys, or one you listed as protected); the mapping was not saved.', 'crmhooks' ), $value ),
			'invalid_choice'     => sprintf( /* translators: %s: setting */ __( '%s: choose one of the listed values. The saved value was kept.', 'crmhooks' ), $field ),
			'invalid_access_key' => __( 'The access key is generated on its own; use "Generate a new access key".', 'crmhooks' ),
		)[ $code ] ?? ( $field === 'library'
			? __( 'The crmhooks library is not available, so the settings could not be checked and were not changed.', 'crmhooks' )
			/* translators: %s: setting */
			: sprintf( __( '%s: this value is not valid. The saved value was kept.', 'crmhooks' ), $field ) );
		add_settings_error( self::OPTION, 'crmhooks_' . sanitize_key( (string) ( $problem['field'] ?? '' ) ) . '_' . $code, $message, 'error' );
	}

	/**
	 * Which CRM account the site points at: a keyed hash of the CRM, its API URL and the
	 * account's credential (never the credential itself). A job records the account that
	 * accepted it and is never judged by another one.
	 */
	public static function account_id(): string {
		$s        = self::all();
		$ontra    = ( $s['crm'] ?? '' ) === 'ontraport';
		$identity = $ontra ? 'ontraport|' . ( $s['op_base_url'] ?? '' ) . '|' . ( $s['op_app_id'] ?? '' ) : 'activecampaign|' . ( $s['ac_base_url'] ?? '' ) . '|' . ( $s['ac_api_token'] ?? '' );
		return ( $ontra ? 'op:' : 'ac:' ) . substr( CrmHooks_Secrets::identity_hash( $identity ), 0, 32 );
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

	/** The library's review of these settings with the site's roles (privileged roles, refused mappings). */
	public static function review( array $settings ): ?array {
		try {
			return CrmHooks_Native::get()->settings_review( array( 'roles' => self::roles() ) + array_diff_key( $settings, array_flip( CrmHooks_Secrets::KEYS ) ) );
		} catch ( Throwable $e ) {
			return null;
		}
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

<?php
/**
 * The option crmhooks_settings: defaults, reading, and the JSON documents the library takes.
 */

declare(strict_types=1);

final class CrmHooks_Settings {

	public const OPTION = 'crmhooks_settings';

	/** Credentials: never printed back into a form; a blank submission keeps the stored value. */
	public const SECRET_KEYS = array( 'ac_api_token', 'op_app_id', 'op_api_key' );

	/**
	 * Defining this constant (development and test sites only) lets the CRM base URL use plain
	 * http to a loopback host; everywhere else the API token only travels over https.
	 */
	public const DEV_HTTP_CONSTANT = 'CRMHOOKS_DEV_ALLOW_HTTP';

	public static function defaults(): array {
		return array(
			'access_key'           => '',
			'crm'                  => 'activecampaign',
			'ac_base_url'          => '',
			'ac_api_token'         => '',
			'op_base_url'          => 'https://api.ontraport.com/1/',
			'op_app_id'            => '',
			'op_api_key'           => '',
			'default_role'         => 'subscriber',
			'role_allowlist'       => array(),
			'field_map'            => array(),
			'username_format'      => 'email',
			'return_password'      => false,
			'password_field'       => '',
			'loopback_window_secs' => 60,
			'async'                => true,
			'queue_max'            => 1000,
			'max_attempts'         => 8,
			// A busy contact's job runs at the latest this long after its first webhook.
			'coalesce_cap_secs'    => 30,
			// Finished jobs are pruned after retention_days; the log keeps outcomes longer.
			'retention_days'       => 7,
			'log_retention_days'   => 90,
		);
	}

	/** The settings with defaults filled in and the stored secrets decrypted. */
	public static function all(): array {
		$stored = get_option( self::OPTION, array() );
		return CrmHooks_Secrets::decrypt_settings( array_merge( self::defaults(), is_array( $stored ) ? $stored : array() ) );
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

	/**
	 * Which CRM account the site points at: a keyed hash of the CRM, its API URL and the
	 * account's credential (never the credential itself). A job records the account that
	 * accepted it and is never judged by another one.
	 */
	public static function account_id(): string {
		$s = self::all();
		if ( $s['crm'] === 'ontraport' ) {
			$identity = 'ontraport|' . $s['op_base_url'] . '|' . $s['op_app_id'];
		} else {
			$identity = 'activecampaign|' . $s['ac_base_url'] . '|' . $s['ac_api_token'];
		}
		return ( $s['crm'] === 'ontraport' ? 'op:' : 'ac:' ) . substr( hash_hmac( 'sha256', $identity, wp_salt( 'auth' ) ), 0, 32 );
	}

	/** @return mixed */
	public static function get( string $key ) {
		$all = self::all();
		return $all[ $key ] ?? null;
	}

	public static function update( array $changes ): void {
		$stored = get_option( self::OPTION, array() );
		$stored = is_array( $stored ) ? $stored : array();
		update_option( self::OPTION, array_merge( $stored, $changes ) );
	}

	/**
	 * Allowlisting sanitizer: only known keys, each checked. An invalid value is refused with an
	 * error naming the field and the stored value is kept; nothing is silently clamped. Roles and
	 * field mappings are checked by the library, by the same rules webhooks obey.
	 */
	public static function sanitize( $input ): array {
		$current = self::all();
		$input   = is_array( $input ) ? $input : array();
		$out     = $current;

		// The key has its own screen; accept it here only in the generated format.
		if ( isset( $input['access_key'] ) && is_string( $input['access_key'] ) && preg_match( '/^[A-Za-z0-9_-]{16,128}$/', $input['access_key'] ) ) {
			$out['access_key'] = $input['access_key'];
		}
		if ( isset( $input['crm'] ) ) {
			if ( in_array( $input['crm'], array( 'activecampaign', 'ontraport' ), true ) ) {
				$out['crm'] = $input['crm'];
			} else {
				self::refuse( 'crm', __( 'Choose ActiveCampaign or Ontraport.', 'crmhooks' ) );
			}
		}
		foreach ( array( 'ac_base_url', 'op_base_url' ) as $key ) {
			if ( isset( $input[ $key ] ) && trim( (string) $input[ $key ] ) !== '' ) {
				$url = esc_url_raw( trim( (string) $input[ $key ] ), array( 'http', 'https' ) );
				if ( self::base_url_allowed( $url ) ) {
					$out[ $key ] = $url;
				} else {
					self::refuse( $key, __( 'The CRM API URL must start with https:// (the API token must never travel unencrypted).', 'crmhooks' ) );
				}
			}
		}
		foreach ( self::SECRET_KEYS as $key ) {
			// A blank field keeps the stored secret: the form never shows it.
			if ( isset( $input[ $key ] ) && trim( (string) $input[ $key ] ) !== '' ) {
				$out[ $key ] = sanitize_text_field( (string) $input[ $key ] );
			}
		}
		if ( isset( $input['password_field'] ) ) {
			$out['password_field'] = sanitize_text_field( (string) $input['password_field'] );
		}
		if ( isset( $input['default_role'] ) ) {
			$out['default_role'] = sanitize_key( (string) $input['default_role'] );
		}
		if ( array_key_exists( 'role_allowlist', $input ) ) {
			$list                  = is_array( $input['role_allowlist'] ) ? $input['role_allowlist'] : preg_split( '/[\s,]+/', (string) $input['role_allowlist'] );
			$out['role_allowlist'] = array_values( array_unique( array_filter( array_map( 'sanitize_key', (array) $list ) ) ) );
		}
		if ( array_key_exists( 'field_map', $input ) ) {
			$out['field_map'] = self::sanitize_field_map( $input['field_map'] );
		}
		if ( isset( $input['username_format'] ) ) {
			if ( in_array( $input['username_format'], array( 'email', 'first_last', 'first_number' ), true ) ) {
				$out['username_format'] = $input['username_format'];
			} else {
				self::refuse( 'username_format', __( 'Choose one of the listed username formats.', 'crmhooks' ) );
			}
		}
		foreach ( array( 'return_password', 'async' ) as $key ) {
			if ( array_key_exists( $key, $input ) ) {
				$out[ $key ] = self::to_bool( $input[ $key ] );
			}
		}
		$ints = array(
			'loopback_window_secs' => array( 0, 3600 ),
			'queue_max'            => array( 1, 1000000 ),
			'max_attempts'         => array( 1, 100 ),
			'coalesce_cap_secs'    => array( 0, 3600 ),
			'retention_days'       => array( 1, 3650 ),
			'log_retention_days'   => array( 1, 3650 ),
		);
		foreach ( $ints as $key => $range ) {
			if ( ! isset( $input[ $key ] ) ) {
				continue;
			}
			$raw = trim( (string) $input[ $key ] );
			if ( preg_match( '/^\d+$/', $raw ) === 1 && (int) $raw >= $range[0] && (int) $raw <= $range[1] ) {
				$out[ $key ] = (int) $raw;
			} else {
				/* translators: 1: smallest allowed number, 2: largest allowed number */
				self::refuse( $key, sprintf( __( 'Enter a whole number from %1$d to %2$d.', 'crmhooks' ), $range[0], $range[1] ) );
			}
		}
		return self::apply_review( $out, $current );
	}

	/**
	 * Refuses roles and mappings the library flags (privileged roles on the allowlist or as the
	 * default, mappings onto protected meta keys), keeping the stored value for each.
	 */
	private static function apply_review( array $out, array $current ): array {
		$review = self::review( $out );
		if ( $review === null ) {
			// Without the library nothing can be checked: keep the stored roles and mappings.
			foreach ( array( 'default_role', 'role_allowlist', 'field_map' ) as $key ) {
				if ( $out[ $key ] !== $current[ $key ] ) {
					$out[ $key ] = $current[ $key ];
					self::refuse( $key, __( 'The crmhooks library is not available, so this setting could not be checked and was not changed.', 'crmhooks' ) );
				}
			}
			return $out;
		}
		foreach ( (array) ( $review['problems'] ?? array() ) as $problem ) {
			$field = (string) ( $problem['field'] ?? '' );
			$value = (string) ( $problem['value'] ?? '' );
			if ( $field === 'role_allowlist' ) {
				$out['role_allowlist'] = array_values( array_diff( $out['role_allowlist'], array( $value ) ) );
				/* translators: %s: role slug */
				self::refuse( $field, sprintf( __( 'The role "%s" holds admin-level capabilities; a webhook never grants it, so it was removed from the list.', 'crmhooks' ), $value ) );
			} elseif ( $field === 'default_role' ) {
				$out['default_role'] = $current['default_role'];
				/* translators: %s: role slug */
				self::refuse( $field, sprintf( __( 'The role "%s" holds admin-level capabilities and cannot be the default role.', 'crmhooks' ), $value ) );
			} elseif ( $field === 'field_map' ) {
				$out['field_map'] = array_values( array_filter( $out['field_map'], static fn( array $m ): bool => $m['wp_key'] !== $value ) );
				/* translators: %s: user meta key */
				self::refuse( $field, sprintf( __( '"%s" is a protected user meta key (roles, sessions, passwords, private or crmhooks keys); the mapping was not saved.', 'crmhooks' ), $value ) );
			}
		}
		return $out;
	}

	/** The library's review of these settings with the site's roles, or null without the library. */
	public static function review( array $settings ): ?array {
		$doc = array(
			'default_role'   => (string) $settings['default_role'],
			'role_allowlist' => array_values( array_map( 'strval', (array) $settings['role_allowlist'] ) ),
			'roles'          => self::roles(),
			'field_map'      => self::sanitize_field_map( $settings['field_map'] ),
		);
		try {
			return CrmHooks_Native::get()->settings_review( (string) wp_json_encode( $doc, JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE ) );
		} catch ( Throwable $e ) {
			return null;
		}
	}

	/** https always; plain http only to a loopback host on a site that defines the dev constant. */
	public static function base_url_allowed( string $url ): bool {
		$scheme = strtolower( (string) wp_parse_url( $url, PHP_URL_SCHEME ) );
		if ( $scheme === 'https' ) {
			return true;
		}
		$host = strtolower( trim( (string) wp_parse_url( $url, PHP_URL_HOST ), '[]' ) );
		return $scheme === 'http' && self::dev_http_allowed() && in_array( $host, array( 'localhost', '127.0.0.1', '::1' ), true );
	}

	private static function dev_http_allowed(): bool {
		return defined( self::DEV_HTTP_CONSTANT ) && constant( self::DEV_HTTP_CONSTANT ) === true;
	}

	/** add_settings_error when the Settings API is loaded (admin), so the admin sees the reason. */
	private static function refuse( string $field, string $message ): void {
		if ( function_exists( 'add_settings_error' ) ) {
			add_settings_error( self::OPTION, 'crmhooks_' . $field, $message, 'error' );
		}
	}

	/** Field map from an array of pairs or from "crm_key = wp_key" lines. */
	public static function sanitize_field_map( $value ): array {
		$pairs = array();
		if ( is_string( $value ) ) {
			foreach ( preg_split( '/\r\n|\r|\n/', $value ) as $line ) {
				$parts = array_map( 'trim', explode( '=', $line, 2 ) );
				if ( count( $parts ) === 2 ) {
					$pairs[] = array(
						'crm_key' => $parts[0],
						'wp_key'  => $parts[1],
					);
				}
			}
		} elseif ( is_array( $value ) ) {
			$pairs = $value;
		}
		$out = array();
		foreach ( $pairs as $pair ) {
			if ( ! is_array( $pair ) ) {
				continue;
			}
			$crm_key = sanitize_text_field( (string) ( $pair['crm_key'] ?? '' ) );
			$wp_key  = sanitize_key( (string) ( $pair['wp_key'] ?? '' ) );
			if ( $crm_key !== '' && $wp_key !== '' ) {
				$out[] = array(
					'crm_key' => $crm_key,
					'wp_key'  => $wp_key,
				);
			}
		}
		return $out;
	}

	public static function to_bool( $value ): bool {
		if ( is_bool( $value ) ) {
			return $value;
		}
		return in_array( strtolower( trim( (string) $value ) ), array( '1', 'true', 'yes', 'on' ), true );
	}

	/** Every registered role with its display name and granted capabilities (the library decides privilege). */
	public static function roles(): array {
		$roles = array();
		foreach ( wp_roles()->roles as $slug => $role ) {
			$caps    = array_keys( array_filter( (array) ( $role['capabilities'] ?? array() ) ) );
			$roles[] = array(
				'slug'         => (string) $slug,
				'name'         => (string) ( $role['name'] ?? $slug ),
				'capabilities' => array_map( 'strval', $caps ),
			);
		}
		return $roles;
	}

	/** Settings JSON document for crmh_plan. */
	public static function plan_settings(): array {
		$s = self::all();
		return array(
			'crm'                  => $s['crm'] === 'ontraport' ? 'ontraport' : 'activecampaign',
			'default_role'         => (string) $s['default_role'],
			'role_allowlist'       => array_values( array_map( 'strval', (array) $s['role_allowlist'] ) ),
			'roles'                => self::roles(),
			'field_map'            => self::sanitize_field_map( $s['field_map'] ),
			'username_format'      => (string) $s['username_format'],
			'return_password'      => (bool) $s['return_password'],
			'password_field'       => (string) $s['password_field'],
			'loopback_window_secs' => (int) $s['loopback_window_secs'],
			'meta_denylist'        => array(),
		);
	}

	/** CrmConfig JSON for the crmh_crm_* calls (credentials travel on every call, never logged). */
	public static function crm_config_json(): string {
		$s = self::all();
		if ( $s['crm'] === 'ontraport' ) {
			$config = array(
				'crm'                 => 'ontraport',
				'base_url'            => (string) $s['op_base_url'],
				'app_id'              => (string) $s['op_app_id'],
				'api_key'             => (string) $s['op_api_key'],
				'allow_http_loopback' => self::dev_http_allowed(),
			);
		} else {
			$config = array(
				'crm'                 => 'activecampaign',
				'base_url'            => (string) $s['ac_base_url'],
				'api_token'           => (string) $s['ac_api_token'],
				'allow_http_loopback' => self::dev_http_allowed(),
			);
		}
		return (string) wp_json_encode( $config, JSON_UNESCAPED_SLASHES );
	}
}

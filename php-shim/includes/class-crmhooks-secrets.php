<?php
/**
 * Credentials at rest: the access key and the CRM credentials are stored encrypted in the
 * crmhooks_settings option (libsodium secretbox, bundled with WordPress), with a key that lives
 * outside the database: the CRMHOOKS_ENCRYPTION_KEY constant when wp-config.php defines one,
 * else one derived from the site's AUTH_KEY and SECURE_AUTH_SALT. A database dump or backup alone
 * then reveals no secret. Every write of the option passes through encrypt_option(), whoever
 * writes it (settings screen, activation, update_option from other code).
 */

declare(strict_types=1);

final class CrmHooks_Secrets {

	/** Settings members that hold secrets. */
	public const KEYS = array( 'access_key', 'ac_api_token', 'op_app_id', 'op_api_key' );

	private const PREFIX = 'crmhooks-enc:1:';

	/** sanitize_option_crmhooks_settings, after the Settings API's sanitizer. */
	public static function encrypt_option( $value ) {
		if ( ! is_array( $value ) ) {
			return $value;
		}
		foreach ( self::KEYS as $key ) {
			if ( isset( $value[ $key ] ) && is_string( $value[ $key ] ) && $value[ $key ] !== '' && ! self::is_encrypted( $value[ $key ] ) ) {
				$value[ $key ] = self::encrypt( $value[ $key ] );
			}
		}
		return $value;
	}

	/** The stored settings with their secrets in plain text (for this request only). */
	public static function decrypt_settings( array $settings ): array {
		foreach ( self::KEYS as $key ) {
			if ( isset( $settings[ $key ] ) && is_string( $settings[ $key ] ) && self::is_encrypted( $settings[ $key ] ) ) {
				$settings[ $key ] = self::decrypt( $settings[ $key ] );
			}
		}
		return $settings;
	}

	public static function is_encrypted( string $value ): bool {
		return strncmp( $value, self::PREFIX, strlen( self::PREFIX ) ) === 0;
	}

	public static function encrypt( string $plain ): string {
		$nonce = random_bytes( SODIUM_CRYPTO_SECRETBOX_NONCEBYTES );
		return self::PREFIX . sodium_bin2base64( $nonce . sodium_crypto_secretbox( $plain, $nonce, self::key() ), SODIUM_BASE64_VARIANT_ORIGINAL );
	}

	/**
	 * The plain text, or '' when it cannot be decrypted (the salts or the constant changed):
	 * webhooks then fail closed (401) and Site Health says to enter the credentials again.
	 */
	public static function decrypt( string $stored ): string {
		try {
			$raw = sodium_base642bin( substr( $stored, strlen( self::PREFIX ) ), SODIUM_BASE64_VARIANT_ORIGINAL );
		} catch ( SodiumException $e ) {
			return '';
		}
		if ( strlen( $raw ) <= SODIUM_CRYPTO_SECRETBOX_NONCEBYTES ) {
			return '';
		}
		$plain = sodium_crypto_secretbox_open( substr( $raw, SODIUM_CRYPTO_SECRETBOX_NONCEBYTES ), substr( $raw, 0, SODIUM_CRYPTO_SECRETBOX_NONCEBYTES ), self::key() );
		return is_string( $plain ) ? $plain : '';
	}

	/** Names of stored secrets that no longer decrypt, for Site Health. */
	public static function undecryptable(): array {
		$stored = get_option( CrmHooks_Settings::OPTION, array() );
		$broken = array();
		foreach ( self::KEYS as $key ) {
			$value = is_array( $stored ) ? ( $stored[ $key ] ?? '' ) : '';
			if ( is_string( $value ) && self::is_encrypted( $value ) && self::decrypt( $value ) === '' ) {
				$broken[] = $key;
			}
		}
		return $broken;
	}

	/**
	 * A keyed hash of $identity under the site's secret. Not wp_salt(): the must-use loader runs
	 * before pluggable functions exist.
	 */
	public static function identity_hash( string $identity ): string {
		return hash_hmac( 'sha256', $identity, sodium_crypto_generichash( 'crmhooks identity v1|' . self::material() ) );
	}

	private static function key(): string {
		return sodium_crypto_generichash( 'crmhooks settings v1|' . self::material(), '', SODIUM_CRYPTO_SECRETBOX_KEYBYTES );
	}

	private static function material(): string {
		return defined( 'CRMHOOKS_ENCRYPTION_KEY' )
			? (string) constant( 'CRMHOOKS_ENCRYPTION_KEY' )
			: ( defined( 'AUTH_KEY' ) ? AUTH_KEY : '' ) . ( defined( 'SECURE_AUTH_SALT' ) ? SECURE_AUTH_SALT : '' );
	}
}

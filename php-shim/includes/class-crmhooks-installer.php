<?php
/**
 * Activation and upgrades: tables (dbDelta) and the access key.
 */

declare(strict_types=1);

final class CrmHooks_Installer {

	public const DB_VERSION_OPTION = 'crmhooks_db_version';
	public const CRON_HOOK         = 'crmhooks_daily';

	/**
	 * Schema of the log table; part of the stored DB version, so a site that already runs this
	 * plugin version still gets a new column (2: the `detail` column).
	 */
	public const LOG_SCHEMA = '2';

	public static function activate( bool $network_wide = false ): void {
		// Ready for preload mode; harmless when the host uses ffi.enable=true instead.
		CrmHooks_Native::write_preload_header();
		if ( is_multisite() && $network_wide ) {
			foreach ( get_sites(
				array(
					'fields' => 'ids',
					'number' => 1000,
				)
			) as $site_id ) {
				switch_to_blog( (int) $site_id );
				self::install();
				restore_current_blog();
			}
			return;
		}
		self::install();
	}

	public static function deactivate(): void {
		wp_clear_scheduled_hook( self::CRON_HOOK );
	}

	/** Runs on plugins_loaded: a cheap autoloaded-option compare, install only on change. */
	public static function maybe_upgrade(): void {
		if ( get_option( self::DB_VERSION_OPTION ) !== self::db_version() ) {
			self::install();
		}
	}

	/** What DB_VERSION_OPTION holds once install() ran: the plugin version and the log schema. */
	public static function db_version(): string {
		return CRMHOOKS_VERSION . '/log' . self::LOG_SCHEMA;
	}

	public static function install(): void {
		global $wpdb;
		require_once ABSPATH . 'wp-admin/includes/upgrade.php';
		foreach ( self::tables_sql( $wpdb->prefix, $wpdb->get_charset_collate() ) as $sql ) {
			dbDelta( $sql );
		}
		CrmHooks_Queue::install();
		// Stored whole, as the library normalizes it (defaults for every key).
		$settings = CrmHooks_Settings::all();
		if ( empty( $settings['access_key'] ) ) {
			$settings['access_key'] = self::new_access_key();
		}
		update_option( CrmHooks_Settings::OPTION, $settings );
		update_option( self::DB_VERSION_OPTION, self::db_version() );
		if ( ! wp_next_scheduled( self::CRON_HOOK ) ) {
			wp_schedule_event( time() + HOUR_IN_SECONDS, 'daily', self::CRON_HOOK );
		}
	}

	/** The table definitions in dbDelta format. */
	public static function tables_sql( string $prefix, string $collate ): array {
		return array(
			"CREATE TABLE {$prefix}crmhooks_log (
  id bigint(20) unsigned NOT NULL AUTO_INCREMENT,
  created_at datetime NOT NULL,
  action varchar(20) NOT NULL DEFAULT '',
  contact_id varchar(64) NOT NULL DEFAULT '',
  outcome varchar(40) NOT NULL DEFAULT '',
  duration_ms int(10) unsigned NOT NULL DEFAULT 0,
  crm_calls smallint(5) unsigned NOT NULL DEFAULT 0,
  message text NOT NULL,
  detail text NULL,
  PRIMARY KEY  (id),
  KEY created_at (created_at),
  KEY contact_id (contact_id)
) $collate;",
		);
	}

	/** A new access key from the library (URL-safe, >= 128 bits), else from random_bytes. */
	public static function new_access_key(): string {
		try {
			return CrmHooks_Native::get()->key_generate();
		} catch ( Throwable $e ) {
			return sodium_bin2base64( random_bytes( 32 ), SODIUM_BASE64_VARIANT_URLSAFE_NO_PADDING );
		}
	}

	/** Table names, for uninstall. */
	public static function table_names( string $prefix ): array {
		return array( $prefix . 'crmhooks_log', $prefix . 'crmhooks_jobs', $prefix . 'crmhooks_writes', $prefix . 'crmhooks_refusals', $prefix . 'crmhooks_rate' );
	}
}

<?php
/**
 * Activation, upgrades and deactivation: tables (dbDelta), the settings document and the access
 * key, the cron events.
 */

declare(strict_types=1);

final class CrmHooks_Installer {

	public const DB_VERSION_OPTION = 'crmhooks_db_version';
	public const CRON_HOOK         = 'crmhooks_daily';

	public static function activate( bool $network_wide = false ): void {
		// Ready for preload mode; harmless when the host uses ffi.enable=true instead.
		CrmHooks_Native::write_preload_header();
		CrmHooks_Early::install(); // Webhooks are answered before other plugins load (init serves when mu-plugins is read-only).
		$sites = is_multisite() && $network_wide ? get_sites(
			array(
				'fields' => 'ids',
				'number' => 1000,
			)
		) : array( 0 );
		foreach ( $sites as $site_id ) {
			if ( $site_id ) {
				switch_to_blog( (int) $site_id );
			}
			self::install();
			if ( $site_id ) {
				restore_current_blog();
			}
		}
	}

	public static function deactivate(): void {
		CrmHooks_Early::uninstall();
		wp_clear_scheduled_hook( self::CRON_HOOK );
		wp_clear_scheduled_hook( CrmHooks_Worker::CRON_HOOK );
		wp_clear_scheduled_hook( CrmHooks_Reconcile::CRON_HOOK );
	}

	/** init: a cheap autoloaded-option compare, install only on change. */
	public static function maybe_upgrade(): void {
		if ( get_option( self::DB_VERSION_OPTION ) !== CRMHOOKS_VERSION ) {
			self::install();
		} else {
			CrmHooks_Jobs::maybe_upgrade();
		}
	}

	public static function install(): void {
		global $wpdb;
		require_once ABSPATH . 'wp-admin/includes/upgrade.php';
		$collate = $wpdb->get_charset_collate();
		$tables  = array_merge( CrmHooks_Log::tables_sql( $wpdb->prefix, $collate ), CrmHooks_Jobs::tables_sql( $wpdb->prefix, $collate ), array( CrmHooks_Crm::table_sql( $wpdb->prefix, $collate ) ) );
		foreach ( $tables as $sql ) {
			dbDelta( $sql );
		}
		// Stored whole, as the library normalizes it (defaults for every key).
		$settings = CrmHooks_Settings::all();
		if ( empty( $settings['access_key'] ) ) {
			$settings['access_key'] = self::new_access_key();
		}
		update_option( CrmHooks_Settings::OPTION, $settings );
		update_option( self::DB_VERSION_OPTION, CRMHOOKS_VERSION );
		update_option( CrmHooks_Jobs::DB_VERSION_OPTION, CrmHooks_Jobs::DB_VERSION );
		if ( ! wp_next_scheduled( self::CRON_HOOK ) ) {
			wp_schedule_event( time() + HOUR_IN_SECONDS, 'daily', self::CRON_HOOK );
		}
	}

	/** A new access key from the library (URL-safe, >= 128 bits), else from random_bytes. */
	public static function new_access_key(): string {
		try {
			return CrmHooks_Native::get()->key_generate();
		} catch ( Throwable $e ) {
			return sodium_bin2base64( random_bytes( 32 ), SODIUM_BASE64_VARIANT_URLSAFE_NO_PADDING );
		}
	}
}

<?php
/**
 * The must-use loader: a stub the plugin writes into mu-plugins on activation (and removes on
 * deactivation) so that async webhooks are acknowledged on muplugins_loaded, before regular
 * plugins load: a site whose plugins take 100-400 ms to load answers the CRM as fast as a bare
 * one. Only the acceptance is loaded here (FFI facade, settings, jobs, log, webhook, worker);
 * everything that needs the full WordPress (the admin's debug page, inline async=false,
 * processing jobs) keeps the init path. The drainer's own requests (standby, successor) wait
 * here too, and load the site only to drain. Where mu-plugins is not writable, the init path is all.
 */

declare(strict_types=1);

final class CrmHooks_Early {

	/** The stub's file name in mu-plugins. */
	public const FILE = 'crmhooks-early.php';

	/** Query parameter of a drainer's standby request (CrmHooks_Worker::own_request). */
	public const STANDBY_PARAM = 'crmhooks_standby';

	/** Query parameter of a successor request (CrmHooks_Worker::own_request). */
	public const SUCCESSOR_PARAM = 'crmhooks_drain';

	/** Written into the stub: uninstall() removes only a file that carries it. */
	private const MARKER = 'Installed by crmhooks on activation';

	/** Called by the stub for every request: a plain page view costs a few isset checks. */
	public static function boot( string $basename ): void {
		require_once __DIR__ . '/class-crmhooks-webhook.php';
		$own = self::own_request_kind();
		if ( $own !== '' || CrmHooks_Webhook::is_webhook_request() ) {
			add_action(
				'muplugins_loaded',
				static function () use ( $basename, $own ): void {
					self::acknowledge( $basename, $own );
				}
			);
		}
	}

	/** 'standby' or 'successor' for a request of the drainer's own (authenticated by its token), else ''. */
	public static function own_request_kind(): string {
		// phpcs:disable WordPress.Security.NonceVerification.Recommended -- Authenticated by its token in CrmHooks_Worker::own_request().
		if ( isset( $_GET[ self::STANDBY_PARAM ] ) ) {
			return 'standby';
		}
		return isset( $_GET[ self::SUCCESSOR_PARAM ] ) ? 'successor' : '';
		// phpcs:enable
	}

	/**
	 * muplugins_loaded: a no-op unless the plugin is active (one autoloaded option read). The
	 * drainer's own requests wait here, before the site's plugins load, and load on only to drain.
	 */
	private static function acknowledge( string $basename, string $own ): void {
		$network = is_multisite() ? (array) get_site_option( 'active_sitewide_plugins', array() ) : array();
		if ( ! in_array( $basename, (array) get_option( 'active_plugins', array() ), true ) && ! isset( $network[ $basename ] ) ) {
			return;
		}
		if ( ! class_exists( 'CrmHooks_Native', false ) ) { // Else opcache.preload declared it.
			require_once __DIR__ . '/class-crmhooks-native-unavailable.php';
			require_once __DIR__ . '/class-crmhooks-native-error.php';
			require_once __DIR__ . '/class-crmhooks-native.php';
		}
		foreach ( array( 'settings', 'secrets', 'jobs', 'log', 'worker' ) as $part ) {
			require_once __DIR__ . '/class-crmhooks-' . $part . '.php';
		}
		if ( $own === '' ) {
			CrmHooks_Webhook::acknowledge_early();
		} elseif ( ! CrmHooks_Worker::own_request( $own ) ) {
			exit;
		}
	}

	/** Activation: writes the stub; false when mu-plugins is not writable (the init path serves). */
	public static function install(): bool {
		$stub = "<?php\n/**\n * Plugin Name: crmhooks early acknowledgement\n * Description: " . self::MARKER . ', removed on deactivation: acknowledges CRM webhooks before regular plugins load.'
			. "\n */\n\nif ( defined( 'ABSPATH' ) && is_readable( " . var_export( __FILE__, true ) . " ) ) {\n\trequire_once " . var_export( __FILE__, true ) . ";\n\tCrmHooks_Early::boot( " . var_export( plugin_basename( dirname( __DIR__ ) . '/crmhooks.php' ), true ) . " );\n}\n"; // phpcs:ignore WordPress.PHP.DevelopmentFunctions.error_log_var_export -- Quotes the paths as PHP literals.
		// A direct write: WP_Filesystem may need FTP credentials that activation cannot ask for.
		return wp_mkdir_p( WPMU_PLUGIN_DIR ) && file_put_contents( self::path(), $stub ) !== false; // phpcs:ignore WordPress.WP.AlternativeFunctions.file_system_operations_file_put_contents
	}

	/** Deactivation: removes the stub (only ours). */
	public static function uninstall(): void {
		if ( self::installed() ) {
			wp_delete_file( self::path() );
		}
	}

	public static function installed(): bool {
		return is_readable( self::path() ) && strpos( (string) file_get_contents( self::path() ), self::MARKER ) !== false; // phpcs:ignore WordPress.WP.AlternativeFunctions.file_get_contents_file_get_contents -- A local file.
	}

	public static function path(): string {
		return WPMU_PLUGIN_DIR . '/' . self::FILE;
	}
}

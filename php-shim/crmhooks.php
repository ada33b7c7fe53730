<?php
/**
 * Plugin Name:       crmhooks
 * Description:       Receives CRM webhooks (ActiveCampaign, Ontraport; WP Fusion URL format) and creates or updates WordPress users, roles, meta and tags.
 * Version:           0.1.0
 * Requires at least: 6.1
 * Requires PHP:      8.1
 * License:           GPL-2.0-or-later
 * Text Domain:       crmhooks
 * Domain Path:       /languages
 */

declare(strict_types=1);

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

if ( PHP_VERSION_ID < 80100 ) {
	// Too old for this plugin: say so to admins instead of failing on syntax later.
	add_action(
		'admin_notices',
		static function (): void {
			if ( current_user_can( 'manage_options' ) ) {
				echo '<div class="notice notice-error"><p>'
				. esc_html__( 'crmhooks needs PHP 8.1 or newer; the plugin is inactive.', 'crmhooks' )
				. '</p></div>';
			}
		}
	);
	return;
}

define( 'CRMHOOKS_VERSION', '0.1.0' );
define( 'CRMHOOKS_FILE', __FILE__ );
define( 'CRMHOOKS_DIR', __DIR__ . '/' );
define( 'CRMHOOKS_INCLUDES', CRMHOOKS_DIR . 'includes/' );

// The FFI wrapper may already be declared by opcache.preload (php-shim/preload.php).
if ( ! class_exists( 'CrmHooks_Native', false ) ) {
	require_once CRMHOOKS_INCLUDES . 'class-crmhooks-native-unavailable.php';
	require_once CRMHOOKS_INCLUDES . 'class-crmhooks-native-error.php';
	require_once CRMHOOKS_INCLUDES . 'class-crmhooks-native.php';
}
// By lifecycle: settings and secrets; HTTP in and out; the jobs repository; the worker; the
// WordPress users (lookup + applier); CRM calls with the shared account state; the log.
require_once CRMHOOKS_INCLUDES . 'class-crmhooks-settings.php';
require_once CRMHOOKS_INCLUDES . 'class-crmhooks-secrets.php';
require_once CRMHOOKS_INCLUDES . 'class-crmhooks-webhook.php';
require_once CRMHOOKS_INCLUDES . 'class-crmhooks-jobs.php';
require_once CRMHOOKS_INCLUDES . 'class-crmhooks-worker.php';
require_once CRMHOOKS_INCLUDES . 'class-crmhooks-users.php';
require_once CRMHOOKS_INCLUDES . 'class-crmhooks-crm.php';
require_once CRMHOOKS_INCLUDES . 'class-crmhooks-log.php';
require_once CRMHOOKS_INCLUDES . 'class-crmhooks-reconcile.php';
require_once CRMHOOKS_INCLUDES . 'class-crmhooks-installer.php';
require_once CRMHOOKS_INCLUDES . 'class-crmhooks-early.php';
require_once CRMHOOKS_INCLUDES . 'functions.php';

register_activation_hook( __FILE__, array( 'CrmHooks_Installer', 'activate' ) );
register_deactivation_hook( __FILE__, array( 'CrmHooks_Installer', 'deactivate' ) );

/** init: loads the plugin's translations (not earlier: WordPress 6.7 warns before init). */
function crmhooks_load_textdomain(): void {
	load_plugin_textdomain( 'crmhooks', false, dirname( plugin_basename( CRMHOOKS_FILE ) ) . '/languages' );
}

/**
 * Registers every hook of the plugin, in one place.
 */
function crmhooks_bootstrap(): void {
	// Credentials are encrypted on every write of the option, whoever writes it.
	add_filter( 'sanitize_option_' . CrmHooks_Settings::OPTION, array( 'CrmHooks_Secrets', 'encrypt_option' ), 20 );

	// Translations: WordPress.org language packs first, then the plugin's own languages/ folder.
	add_action( 'init', 'crmhooks_load_textdomain', 0 );

	// Tables follow the plugin version even when the plugin was updated without re-activation.
	// On init, before the webhook and the drainer: installing schedules cron events, which reads
	// our translated schedule name (WordPress 6.7+ warns when that happens before init).
	add_action( 'init', array( 'CrmHooks_Installer', 'maybe_upgrade' ), 0 );

	// Webhooks: early on init (the user is known then, for the admin debug page).
	add_action( 'init', array( 'CrmHooks_Webhook', 'maybe_handle' ), 1 );
	add_action( 'rest_api_init', array( 'CrmHooks_Webhook', 'register_rest_route' ) );
	// Site Health's async CRM test calls the REST API, where is_admin() is false.
	add_action(
		'rest_api_init',
		static function (): void {
			require_once CRMHOOKS_INCLUDES . 'admin/class-crmhooks-health.php';
			CrmHooks_Health::register_rest_route();
		}
	);

	// The drainer: after responses, successor requests, WP-Cron.
	CrmHooks_Worker::register();

	// The reconcile sweep and import by tag: a WP-Cron tick every minute.
	CrmHooks_Reconcile::register();

	// Housekeeping once a day.
	add_action( CrmHooks_Installer::CRON_HOOK, array( 'CrmHooks_Log', 'purge' ) );

	// Admin views: Settings -> crmhooks, Tools -> crmhooks Queue and Activity, FFI status (notice, Site Health), user profiles.
	if ( is_admin() ) {
		require_once CRMHOOKS_INCLUDES . 'admin/class-crmhooks-health.php';
		require_once CRMHOOKS_INCLUDES . 'admin/class-crmhooks-admin.php';
		require_once CRMHOOKS_INCLUDES . 'admin/class-crmhooks-jobs-admin.php';
		add_action( 'admin_notices', array( 'CrmHooks_Health', 'admin_notice' ) );
		add_filter( 'site_status_tests', array( 'CrmHooks_Health', 'register_site_health_test' ) );
		add_filter( 'debug_information', array( 'CrmHooks_Health', 'debug_information' ) );
		CrmHooks_Admin::register();
		CrmHooks_Jobs_Admin::register();
		require_once CRMHOOKS_INCLUDES . 'admin/class-crmhooks-activity-admin.php';
		CrmHooks_Activity_Admin::register();
		// User profile (contact ID, tag editor, Pull from CRM) and the Users screen's Tags column.
		require_once CRMHOOKS_INCLUDES . 'admin/class-crmhooks-profile.php';
		CrmHooks_Profile::register();
		// Tools -> crmhooks Import, the last-sweep box and its Site Health test.
		require_once CRMHOOKS_INCLUDES . 'admin/class-crmhooks-import-admin.php';
		CrmHooks_Import_Admin::register();
	}
}

crmhooks_bootstrap();

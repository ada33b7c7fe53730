<?php
/**
 * Removes what crmhooks itself stored: its options, its tables and its own three user meta keys.
 * Meta keys an admin mapped CRM fields to (even ones named crmhooks_*) are site data and stay.
 * Multisite-aware.
 */

declare(strict_types=1);

if ( ! defined( 'WP_UNINSTALL_PLUGIN' ) ) {
	exit;
}

global $wpdb; // uninstall.php is included from inside a function.

/** Cleans the current site. */
function crmhooks_uninstall_site(): void {
	global $wpdb;
	foreach ( array( 'crmhooks_settings', 'crmhooks_db_version', 'crmhooks_native_status', 'crmhooks_queue_db_version', 'crmhooks_connection_tested', 'crmhooks_reconcile_sweep', 'crmhooks_reconcile_import' ) as $option ) {
		delete_option( $option );
	}
	delete_transient( 'crmhooks_crm_fields' );
	wp_clear_scheduled_hook( 'crmhooks_daily' );
	wp_clear_scheduled_hook( 'crmhooks_reconcile' );
	$wpdb->query( "DROP TABLE IF EXISTS {$wpdb->prefix}crmhooks_log" );
	$wpdb->query( "DROP TABLE IF EXISTS {$wpdb->prefix}crmhooks_jobs" );
	$wpdb->query( "DROP TABLE IF EXISTS {$wpdb->prefix}crmhooks_writes" );
	$wpdb->query( "DROP TABLE IF EXISTS {$wpdb->prefix}crmhooks_refusals" );
	$wpdb->query( "DROP TABLE IF EXISTS {$wpdb->prefix}crmhooks_rate" );
	wp_clear_scheduled_hook( 'crmhooks_drain' );
}

if ( is_multisite() ) {
	foreach ( get_sites(
		array(
			'fields' => 'ids',
			'number' => 0,
		)
	) as $crmhooks_site_id ) {
		switch_to_blog( (int) $crmhooks_site_id );
		crmhooks_uninstall_site();
		restore_current_blog();
	}
} else {
	crmhooks_uninstall_site();
}

// User meta is network-wide (one usermeta table): only the plugin's own keys, by exact name.
foreach ( array( 'crmhooks_contact_id', 'crmhooks_tags', 'crmhooks_tag_names' ) as $crmhooks_meta_key ) {
	$wpdb->delete( $wpdb->usermeta, array( 'meta_key' => $crmhooks_meta_key ), array( '%s' ) ); // phpcs:ignore WordPress.DB.SlowDBQuery.slow_db_query_meta_key -- meta_key is indexed; runs once.
}

<?php
/**
 * Removes everything crmhooks stored: options, user meta crmhooks_*, tables. Multisite-aware.
 */

declare(strict_types=1);

if (! defined('WP_UNINSTALL_PLUGIN')) {
    exit;
}

global $wpdb; // uninstall.php is included from inside a function.

/** Cleans the current site. */
function crmhooks_uninstall_site(): void
{
    global $wpdb;
    foreach (array('crmhooks_settings', 'crmhooks_db_version', 'crmhooks_native_status', 'crmhooks_queue_db_version') as $option) {
        delete_option($option);
    }
    wp_clear_scheduled_hook('crmhooks_daily');
    $wpdb->query("DROP TABLE IF EXISTS {$wpdb->prefix}crmhooks_log");
    $wpdb->query("DROP TABLE IF EXISTS {$wpdb->prefix}crmhooks_jobs");
    $wpdb->query("DROP TABLE IF EXISTS {$wpdb->prefix}crmhooks_writes");
    wp_clear_scheduled_hook('crmhooks_drain');
}

if (is_multisite()) {
    foreach (get_sites(array('fields' => 'ids', 'number' => 0)) as $crmhooks_site_id) {
        switch_to_blog((int) $crmhooks_site_id);
        crmhooks_uninstall_site();
        restore_current_blog();
    }
} else {
    crmhooks_uninstall_site();
}

// User meta is network-wide (one usermeta table).
$wpdb->query($wpdb->prepare("DELETE FROM {$wpdb->usermeta} WHERE meta_key LIKE %s", $wpdb->esc_like('crmhooks_') . '%'));

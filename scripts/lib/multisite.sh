# The multisite network: a second WordPress (subdirectory install) in $WP_MS_DIR, in the same
# MariaDB database with the table prefix ms_, served by nginx on BASE+2 through the runtime-FFI
# php-fpm pool. crmhooks is active on its main site. Sourced by stack.sh (after wordpress.sh).
#
# No wp-cli: scripts/lib/wp-setup-network.php installs the site and turns it into a network
# (install_network + populate_network) while WordPress still loads as a single site; then
# scripts/lib/wp-setup.php activates the plugin and writes its settings with the network loaded.

wp_ms_write_config() {
    local site
    site="$(cat <<PHP
// Same database as the single site (prefix wp_), other tables.
\$table_prefix = '$WP_MS_PREFIX';

define( 'WP_ALLOW_MULTISITE', true );
// scripts/lib/wp-setup-network.php defines CRMHOOKS_NETWORK_SETUP to create the network: until
// its tables exist, WordPress must load as a single site. Everyone else gets the network.
// The domain keeps the port: WordPress only refuses ports in its network setup screen
// (network_step1), and ms-settings.php compares HTTP_HOST with it as it comes (nginx sends
// host:port).
if ( ! defined( 'CRMHOOKS_NETWORK_SETUP' ) ) {
	define( 'MULTISITE', true );
	define( 'SUBDOMAIN_INSTALL', false );
	define( 'DOMAIN_CURRENT_SITE', '127.0.0.1:$PORT_MS' );
	define( 'PATH_CURRENT_SITE', '/' );
	define( 'SITE_ID_CURRENT_SITE', 1 );
	define( 'BLOG_ID_CURRENT_SITE', 1 );
}
PHP
)"
    wp_config_write "$WP_MS_DIR/wp-config.php" "the local stack's multisite network" "$site" "$LOG_DIR/wp-ms-debug.log"
}

wp_ms_prepare_writable() {
    mkdir -p "$WP_MS_DIR/wp-content/uploads"
    touch "$LOG_DIR/wp-ms-debug.log"
    chown www-data:www-data "$LOG_DIR/wp-ms-debug.log" "$WP_MS_DIR/wp-content/uploads"
    chmod 664 "$LOG_DIR/wp-ms-debug.log"
}

# True when the network exists on this port already (one query instead of a WordPress load).
wp_ms_network_ready() {
    local p="wordpress.$WP_MS_PREFIX" host="127.0.0.1:$PORT_MS" answer
    answer="$(mariadb --no-defaults --socket="$DB_SOCKET" -uroot -N -B -e "SELECT
        (SELECT domain FROM ${p}site WHERE id = 1) = '$host'
        AND (SELECT domain FROM ${p}blogs WHERE blog_id = 1) = '$host'
        AND (SELECT COUNT(*) FROM ${p}options WHERE option_name IN ('home', 'siteurl') AND option_value = 'http://$host') = 2" 2>/dev/null)" || return 1
    [ "$answer" = 1 ]
}

# Install + network (single-site load, skipped when done), then plugin + settings (network load).
wp_ms_setup() {
    step "wordpress multisite: install / network / plugin / settings"
    if ! wp_ms_network_ready; then
        CRMHOOKS_WP_DIR="$WP_MS_DIR" \
        CRMHOOKS_HOST="127.0.0.1:$PORT_MS" \
        CRMHOOKS_ADMIN_PASSWORD="$(cat "$ADMIN_PASSWORD_FILE")" \
            php "$REPO/scripts/lib/wp-setup-network.php" \
            || die "WordPress multisite network setup failed (see above; debug log: $LOG_DIR/wp-ms-debug.log)"
        wp_ms_network_ready || die "the multisite network in ${WP_MS_PREFIX}* tables is not on 127.0.0.1:$PORT_MS after setup"
    fi
    # Same settings as the single site, plus webhooks processed inline by default.
    CRMHOOKS_WP_DIR="$WP_MS_DIR" \
    CRMHOOKS_HOST="127.0.0.1:$PORT_MS" \
    CRMHOOKS_ADMIN_PASSWORD="$(cat "$ADMIN_PASSWORD_FILE")" \
    CRMHOOKS_ACCESS_KEY="$(cat "$ACCESS_KEY_FILE")" \
    CRMHOOKS_STANDIN_URL="http://127.0.0.1:$PORT_STANDIN" \
    CRMHOOKS_SEED="$STANDIN_SEED" \
    CRMHOOKS_SETTINGS_DEFAULTS='{"async":false}' \
        php "$REPO/scripts/lib/wp-setup.php" \
        || die "WordPress multisite setup failed (see above; debug log: $LOG_DIR/wp-ms-debug.log)"
}

# After wp_prepare (which makes the secrets, the access key and the admin password).
wp_ms_prepare() {
    wp_copy_site "$WP_MS_DIR"
    wp_ms_write_config
    wp_ms_prepare_writable
    wp_link_plugin "$WP_MS_DIR"
    wp_ms_setup
}

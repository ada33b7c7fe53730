# The fresh site: a WordPress without crmhooks on BASE+3, in $WP_FRESH_DIR, in the same MariaDB
# database with the table prefix fresh_, served by nginx through the runtime-FFI php-fpm pool.
# `stack.sh fresh-site` lays it anew (files and tables) whenever it is called, so the release
# zip can be installed the way a site owner does: Plugins -> Add New -> Upload, or the same
# Plugin_Upgrader from PHP (tests/phpunit/release/). Sourced by stack.sh (after wordpress.sh).

wp_fresh_write_config() {
    local site
    site="$(cat <<PHP
// Same database as the single site (prefix wp_), other tables.
\$table_prefix = '$WP_FRESH_PREFIX';

define( 'WP_HOME', 'http://127.0.0.1:$PORT_FRESH' );
define( 'WP_SITEURL', 'http://127.0.0.1:$PORT_FRESH' );
PHP
)"
    wp_config_write "$WP_FRESH_DIR/wp-config.php" "a local WordPress without crmhooks" "$site" "$LOG_DIR/wp-fresh-debug.log"
}

# Every fresh_ table goes, so nothing of an earlier install (options, crmhooks tables) survives.
wp_fresh_drop_tables() {
    local tables
    tables="$(mariadb --no-defaults --socket="$DB_SOCKET" -uroot -N -B -e "SELECT GROUP_CONCAT(CONCAT('\`', table_name, '\`'))
        FROM information_schema.tables WHERE table_schema = 'wordpress' AND table_name LIKE '${WP_FRESH_PREFIX}%'")" \
        || die "could not list the ${WP_FRESH_PREFIX}* tables"
    [ -z "$tables" ] || [ "$tables" = NULL ] || db_sql "DROP TABLE wordpress.${tables//,/, wordpress.}" \
        || die "could not drop the ${WP_FRESH_PREFIX}* tables"
}

cmd_fresh_site() {
    resolve_port_base
    db_running && nginx_running && fpm_running "$FPM_A_DIR" || die "the stack in $STACK_DIR is not up; run: $0 up"
    grep -q "127.0.0.1:$PORT_FRESH;" "$NGINX_DIR/nginx.conf" 2>/dev/null \
        || die "nginx of $STACK_DIR does not serve port $PORT_FRESH (started by an older stack.sh): run $0 down, then up"
    step "fresh site: a WordPress without crmhooks in $WP_FRESH_DIR, tables ${WP_FRESH_PREFIX}*"
    db_ensure_wordpress_db # sets DB_PASSWORD for wp-config.php
    wp_fresh_drop_tables
    rm -rf "$WP_FRESH_DIR"
    wp_copy_site "$WP_FRESH_DIR"
    wp_fresh_write_config
    # The web server's user installs plugins (Plugins -> Add New -> Upload) and writes uploads.
    chown -R www-data:www-data "$WP_FRESH_DIR/wp-content"
    touch "$LOG_DIR/wp-fresh-debug.log"
    chown www-data:www-data "$LOG_DIR/wp-fresh-debug.log"
    chmod 664 "$LOG_DIR/wp-fresh-debug.log"
    CRMHOOKS_WP_DIR="$WP_FRESH_DIR" \
    CRMHOOKS_HOST="127.0.0.1:$PORT_FRESH" \
    CRMHOOKS_ADMIN_PASSWORD="$(cat "$ADMIN_PASSWORD_FILE")" \
        php "$REPO/scripts/lib/wp-setup-fresh.php" \
        || die "installing the fresh site failed (debug log: $LOG_DIR/wp-fresh-debug.log)"
    [ ! -e "$WP_FRESH_DIR/wp-content/plugins/crmhooks" ] || die "the fresh site has a crmhooks plugin already"
    local code
    code="$(http_status "http://127.0.0.1:$PORT_FRESH/")"
    [ "$code" = 200 ] || { show_log_tail "$LOG_DIR/wp-fresh-debug.log" 15; die "the fresh site answered HTTP $code instead of 200"; }
    say "fresh site: http://127.0.0.1:$PORT_FRESH/wp-admin/ (user admin, password in $ADMIN_PASSWORD_FILE); no crmhooks yet"
}

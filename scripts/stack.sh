#!/usr/bin/env bash
# The crmhooks development stack: MariaDB, WordPress with the plugin, two php-fpm pools behind
# nginx, a multisite WordPress network with the plugin, and the CRM stand-in, all private to one
# directory and one port range. `fresh-site` lays a WordPress without the plugin anew, for
# installing the release zip (scripts/release.sh) as a site owner does.
#
#   scripts/stack.sh install|build|up|down|restart|reset|status|env|fresh-site|crm <activecampaign|ontraport>
#
#   CRMHOOKS_STACK_DIR  where everything lives (default <repo>/.stack)
#   CRMHOOKS_PORT_BASE  BASE (default 8080): site BASE, preload site BASE+1, multisite network BASE+2,
#                       fresh site BASE+3, stand-in BASE+5, MariaDB BASE+6
#   CRMHOOKS_WP_SOURCE  the WordPress tree the sites are copied from (default /usr/share/wordpress,
#                       Debian 12's 6.1; scripts/wordpress-trixie.sh prints Debian 13's 6.8); kept until reset
#
# Processes are stopped by the PIDs recorded in the stack dir only, never by name, so several
# stacks (different dirs and bases) can run side by side.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
for lib in common install build mariadb wordpress multisite fresh-site fpm nginx standin; do
    # shellcheck source=/dev/null
    . "$REPO/scripts/lib/$lib.sh"
done
set_stack_paths

usage() {
    sed -n '2,16p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

all_running() {
    db_running && fpm_running "$FPM_A_DIR" && fpm_running "$FPM_B_DIR" && nginx_running \
        && { [ ! -f "$STANDIN_SCRIPT" ] || standin_running; }
}

any_running() {
    db_running || fpm_running "$FPM_A_DIR" || fpm_running "$FPM_B_DIR" || nginx_running || standin_running
}

# A running stack keeps its ports: refuse a different base instead of starting a second copy.
check_base_matches_running() {
    if [ -n "$RECORDED_PORT_BASE" ] && [ "$RECORDED_PORT_BASE" != "$PORT_BASE" ] && any_running; then
        die "the stack in $STACK_DIR is running on port base $RECORDED_PORT_BASE, not $PORT_BASE. Use CRMHOOKS_PORT_BASE=$RECORDED_PORT_BASE, or run down first."
    fi
}

print_urls() {
    say "site (runtime FFI):   http://127.0.0.1:$PORT_SITE/"
    say "site (preload FFI):   http://127.0.0.1:$PORT_PRELOAD/"
    say "admin:                http://127.0.0.1:$PORT_SITE/wp-admin/  user admin, password in $ADMIN_PASSWORD_FILE"
    say "multisite network:    http://127.0.0.1:$PORT_MS/ (runtime FFI; $WP_MS_DIR, tables ${WP_MS_PREFIX}*, super admin admin)"
    say "fresh site:           http://127.0.0.1:$PORT_FRESH/ (no crmhooks; $0 fresh-site lays it anew, for the release zip)"
    [ -f "$STANDIN_SCRIPT" ] && say "CRM stand-in:         http://127.0.0.1:$PORT_STANDIN/_control/health"
    say "MariaDB:              $DB_SOCKET (127.0.0.1:$PORT_DB)"
    say "logs:                 $LOG_DIR, $NGINX_DIR, $FPM_A_DIR, $FPM_B_DIR"
}

smoke_check() {
    local port code
    for port in "$PORT_SITE" "$PORT_PRELOAD" "$PORT_MS"; do
        code="$(http_status "http://127.0.0.1:$port/")"
        if [ "$code" != 200 ]; then
            show_log_tail "$NGINX_DIR/error.log" 10
            show_log_tail "$LOG_DIR/wp-debug.log" 15
            [ "$port" = "$PORT_MS" ] && show_log_tail "$LOG_DIR/wp-ms-debug.log" 15
            die "http://127.0.0.1:$port/ answered HTTP $code instead of 200"
        fi
    done
    say "smoke check: both sites and the multisite network answer 200"
}

cmd_up() {
    resolve_port_base
    check_base_matches_running
    if all_running; then
        say "stack already up in $STACK_DIR (port base $PORT_BASE)"
        print_urls
        return 0
    fi
    command -v mariadbd >/dev/null && command -v "$FPM_BIN" >/dev/null && command -v nginx >/dev/null \
        || die "missing server packages; run: $0 install"
    local started=$SECONDS
    # On a failure (die exits the script), say that some parts may be running and how to stop them.
    trap 'rc=$?; [ $rc -eq 0 ] || printf "stack in %s is partially up: %s down stops it\n" "$STACK_DIR" "$0" >&2' EXIT
    mkdir -p "$STACK_DIR" "$LOG_DIR"
    chmod 755 "$STACK_DIR"
    printf '%s\n' "$PORT_BASE" > "$STACK_DIR/port-base"
    [ -f "$SHIM_DIR/lib/libcrmhooks-$(crate_version).so" ] \
        || warn "php-shim/lib/libcrmhooks-$(crate_version).so is missing: run $0 build (webhooks answer 503 without it)"
    db_start
    db_ensure_wordpress_db
    wp_prepare
    wp_ms_prepare
    standin_start
    fpm_start_runtime
    fpm_start_preload
    nginx_start
    smoke_check
    say "stack up in $STACK_DIR (port base $PORT_BASE) in $((SECONDS - started)) s"
    print_urls
    say "admin password: $(cat "$ADMIN_PASSWORD_FILE")"
}

cmd_down() {
    resolve_port_base
    if [ ! -d "$STACK_DIR" ]; then say "no stack in $STACK_DIR"; return 0; fi
    nginx_stop
    fpm_stop_all
    standin_stop
    db_stop
    say "stack in $STACK_DIR is down"
}

cmd_reset() {
    cmd_down
    case "$STACK_DIR" in
        /|"$REPO"|"$HOME") die "refusing to remove $STACK_DIR" ;;
    esac
    rm -rf "$STACK_DIR"
    say "removed $STACK_DIR"
}

status_line() {
    local name="$1" file="$2" expect="$3" where="$4" pid
    if pid="$(live_pid "$file" "$expect")"; then
        printf '%-22s running  pid %-8s %s\n' "$name" "$pid" "$where"
    else
        printf '%-22s stopped\n' "$name"
        return 1
    fi
}

cmd_status() {
    resolve_port_base
    say "stack dir $STACK_DIR, port base $PORT_BASE"
    local ok=0
    status_line mariadb "$DB_PID" mariadbd "127.0.0.1:$PORT_DB $DB_SOCKET" || ok=1
    status_line "php-fpm runtime FFI" "$(fpm_pid_file "$FPM_A_DIR")" php-fpm "$(fpm_socket "$FPM_A_DIR")" || ok=1
    status_line "php-fpm preload" "$(fpm_pid_file "$FPM_B_DIR")" php-fpm "$(fpm_socket "$FPM_B_DIR")" || ok=1
    status_line nginx "$(NGINX_PID_FILE)" nginx "http://127.0.0.1:$PORT_SITE/ http://127.0.0.1:$PORT_PRELOAD/ http://127.0.0.1:$PORT_MS/ (multisite) http://127.0.0.1:$PORT_FRESH/ (fresh site)" || ok=1
    status_line stand-in "$STANDIN_PID" standin.py "http://127.0.0.1:$PORT_STANDIN/" || ok=1
    return $ok
}

cmd_env() {
    resolve_port_base
    local key=""
    [ -f "$ACCESS_KEY_FILE" ] && key="$(cat "$ACCESS_KEY_FILE")"
    printf 'export CRMHOOKS_STACK_DIR=%q\n' "$STACK_DIR"
    printf 'export CRMHOOKS_PORT_BASE=%q\n' "$PORT_BASE"
    printf 'export CRMHOOKS_SITE_URL=%q\n' "http://127.0.0.1:$PORT_SITE"
    printf 'export CRMHOOKS_PRELOAD_URL=%q\n' "http://127.0.0.1:$PORT_PRELOAD"
    printf 'export CRMHOOKS_STANDIN_URL=%q\n' "http://127.0.0.1:$PORT_STANDIN"
    printf 'export CRMHOOKS_WP_DIR=%q\n' "$WP_DIR"
    printf 'export CRMHOOKS_ACCESS_KEY=%q\n' "$key"
    printf 'export CRMHOOKS_DB_SOCKET=%q\n' "$DB_SOCKET"
    printf 'export CRMHOOKS_MS_SITE_URL=%q\n' "http://127.0.0.1:$PORT_MS"
    printf 'export CRMHOOKS_MS_WP_DIR=%q\n' "$WP_MS_DIR"
    printf 'export CRMHOOKS_FRESH_SITE_URL=%q\n' "http://127.0.0.1:$PORT_FRESH"
    printf 'export CRMHOOKS_FRESH_WP_DIR=%q\n' "$WP_FRESH_DIR"
}

# Which CRM the site's settings talk to (the stand-in serves both).
cmd_crm() {
    local crm="${1:-}"
    case "$crm" in activecampaign|ontraport) ;; *) die "usage: $0 crm activecampaign|ontraport" ;; esac
    resolve_port_base
    [ -f "$WP_DIR/wp-config.php" ] || die "no site in $STACK_DIR; run: $0 up"
    db_running || die "MariaDB of $STACK_DIR is not running; run: $0 up"
    CRMHOOKS_CRM="$crm" CRMHOOKS_WP_DIR="$WP_DIR" php -r '
        $_SERVER["HTTP_HOST"] = "127.0.0.1";
        require getenv("CRMHOOKS_WP_DIR") . "/wp-load.php";
        $s = get_option("crmhooks_settings");
        $s = is_array($s) ? $s : array();
        $s["crm"] = getenv("CRMHOOKS_CRM");
        update_option("crmhooks_settings", $s);
        echo "crmhooks_settings: crm = ", $s["crm"], "\n";
    ' || die "could not update crmhooks_settings"
}

main() {
    local cmd="${1:-}"
    [ $# -gt 0 ] && shift
    case "$cmd" in
        install) cmd_install ;;
        build)   cmd_build ;;
        up)      cmd_up ;;
        down)    cmd_down ;;
        reset)   cmd_reset ;;
        restart) cmd_down; cmd_up ;;
        status)  cmd_status ;;
        env)     cmd_env ;;
        crm)     cmd_crm "$@" ;;
        fresh-site) cmd_fresh_site ;;
        -h|--help|help) usage ;;
        *) usage >&2; exit 2 ;;
    esac
}

main "$@"

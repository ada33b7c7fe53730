# Private MariaDB instance in the stack directory (socket + TCP on 127.0.0.1). Sourced by stack.sh.
# Never uses the Debian init script: it would act on every mariadbd on the machine.

db_running() { live_pid "$DB_PID" mariadbd >/dev/null; }

db_ping() { mariadb-admin --no-defaults --socket="$DB_SOCKET" -uroot ping; }

db_sql() { mariadb --no-defaults --socket="$DB_SOCKET" -uroot -e "$1"; }

db_start() {
    if db_running; then
        say "mariadb: already running (pid $(live_pid "$DB_PID" mariadbd))"
        return 0
    fi
    require_free_port "$PORT_DB" "MariaDB"
    [ "${#DB_SOCKET}" -lt 100 ] || die "socket path too long for a unix socket (${#DB_SOCKET} chars): $DB_SOCKET; use a shorter CRMHOOKS_STACK_DIR"
    mkdir -p "$DB_DIR"
    chown mysql:mysql "$DB_DIR"
    if [ ! -d "$DB_DATA/mysql" ]; then
        step "mariadb: initialising $DB_DATA"
        rm -rf "$DB_DATA"
        if ! mariadb-install-db --no-defaults --datadir="$DB_DATA" --user=mysql \
                --auth-root-authentication-method=socket --skip-test-db > "$DB_DIR/install.log" 2>&1; then
            show_log_tail "$DB_DIR/install.log"
            die "mariadb-install-db failed"
        fi
    fi
    touch "$DB_LOG" && chown mysql:mysql "$DB_LOG"
    rm -f "$DB_SOCKET" "$DB_PID"
    step "mariadb: starting on 127.0.0.1:$PORT_DB and $DB_SOCKET"
    # setsid: not tied to this terminal; mariadbd writes its own PID file.
    setsid mariadbd --no-defaults --datadir="$DB_DATA" --user=mysql \
        --socket="$DB_SOCKET" --port="$PORT_DB" --bind-address=127.0.0.1 \
        --pid-file="$DB_PID" --log-error="$DB_LOG" --skip-log-bin --skip-name-resolve \
        --innodb-buffer-pool-size=64M --character-set-server=utf8mb4 \
        --collation-server=utf8mb4_unicode_ci </dev/null >/dev/null 2>&1 &
    if ! wait_until 30 db_ping; then
        show_log_tail "$DB_LOG"
        die "mariadb did not become ready within 30 s"
    fi
    wait_until 5 db_running || { show_log_tail "$DB_LOG"; die "mariadb is up but wrote no PID file at $DB_PID"; }
    say "mariadb: ready (pid $(live_pid "$DB_PID" mariadbd))"
}

# The WordPress database and its user; the password is made once and kept in the stack dir.
db_ensure_wordpress_db() {
    local pw_file="$STACK_DIR/db-password" pw
    [ -s "$pw_file" ] || { random_token > "$pw_file"; chmod 600 "$pw_file"; }
    pw="$(cat "$pw_file")"
    db_sql "CREATE DATABASE IF NOT EXISTS wordpress CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
        CREATE USER IF NOT EXISTS 'crmhooks'@'localhost' IDENTIFIED BY '$pw';
        CREATE USER IF NOT EXISTS 'crmhooks'@'127.0.0.1' IDENTIFIED BY '$pw';
        GRANT ALL PRIVILEGES ON wordpress.* TO 'crmhooks'@'localhost';
        GRANT ALL PRIVILEGES ON wordpress.* TO 'crmhooks'@'127.0.0.1';" \
        || die "could not create the WordPress database and user"
    DB_PASSWORD="$pw"
}

db_stop() { stop_by_pidfile mariadb "$DB_PID" mariadbd 60; }

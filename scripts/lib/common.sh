# Shared helpers for scripts/*.sh: paths, ports, messages, PID files.
# Sourced, never run. Expects REPO to be set by the caller.

umask 022

STACK_DIR="${CRMHOOKS_STACK_DIR:-$REPO/.stack}"
# Absolute, so config files and PID files stay valid from any working directory.
case "$STACK_DIR" in /*) ;; *) STACK_DIR="$PWD/$STACK_DIR" ;; esac

say()  { printf '%s\n' "$*"; }
step() { printf '==> %s\n' "$*"; }
warn() { printf 'WARNING: %s\n' "$*" >&2; }
die()  { printf 'ERROR: %s\n' "$*" >&2; exit 1; }

# Print the last lines of a log file, framed, for "it failed to start" messages.
show_log_tail() {
    local file="$1" lines="${2:-25}"
    if [ -s "$file" ]; then
        printf -- '--- last %s lines of %s ---\n' "$lines" "$file" >&2
        tail -n "$lines" "$file" >&2
        printf -- '--- end of %s ---\n' "$file" >&2
    else
        printf '(%s is empty or missing)\n' "$file" >&2
    fi
}

# The port base: the environment wins, else the one this stack was last started with, else 8080.
resolve_port_base() {
    local recorded=""
    [ -f "$STACK_DIR/port-base" ] && recorded="$(cat "$STACK_DIR/port-base")"
    PORT_BASE="${CRMHOOKS_PORT_BASE:-${recorded:-8080}}"
    case "$PORT_BASE" in
        ''|*[!0-9]*) die "CRMHOOKS_PORT_BASE must be a number (got '$PORT_BASE')" ;;
    esac
    [ "$PORT_BASE" -ge 1024 ] && [ "$PORT_BASE" -le 65529 ] \
        || die "CRMHOOKS_PORT_BASE must be between 1024 and 65529 (got $PORT_BASE)"
    RECORDED_PORT_BASE="$recorded"
    PORT_SITE=$PORT_BASE
    PORT_PRELOAD=$((PORT_BASE + 1))
    PORT_MS=$((PORT_BASE + 2))
    PORT_FRESH=$((PORT_BASE + 3))
    PORT_STANDIN=$((PORT_BASE + 5))
    PORT_DB=$((PORT_BASE + 6))
}

# Layout of the stack directory, in one place.
set_stack_paths() {
    WP_DIR="$STACK_DIR/wordpress"
    # The multisite network (subdirectory install): same database, table prefix ms_.
    WP_MS_DIR="$STACK_DIR/wordpress-ms"
    WP_MS_PREFIX=ms_
    # A WordPress without crmhooks, laid anew by `stack.sh fresh-site`, for installing the release zip.
    WP_FRESH_DIR="$STACK_DIR/wordpress-fresh"
    WP_FRESH_PREFIX=fresh_
    LOG_DIR="$STACK_DIR/logs"
    DB_DIR="$STACK_DIR/db"
    DB_DATA="$DB_DIR/data"
    DB_SOCKET="$DB_DIR/mariadb.sock"
    DB_PID="$DB_DIR/mariadb.pid"
    DB_LOG="$DB_DIR/error.log"
    FPM_A_DIR="$STACK_DIR/fpm-runtime"
    FPM_B_DIR="$STACK_DIR/fpm-preload"
    NGINX_DIR="$STACK_DIR/nginx"
    STANDIN_DIR="$STACK_DIR/standin"
    STANDIN_PID="$STANDIN_DIR/standin.pid"
    STANDIN_LOG="$STANDIN_DIR/standin.log"
    ACCESS_KEY_FILE="$STACK_DIR/access-key"
    ADMIN_PASSWORD_FILE="$STACK_DIR/admin-password"
    SHIM_DIR="$REPO/php-shim"
    STANDIN_SCRIPT="$REPO/tests/standin/standin.py"
    STANDIN_SEED="$REPO/tests/standin/seed.json"
}

crate_version() {
    sed -n 's/^version *= *"\([^"]*\)".*/\1/p' "$REPO/Cargo.toml" | head -n 1
}

# A process that exited but is not reaped yet (a zombie) counts as gone: here PID 1 reaps slowly.
process_alive() {
    local state
    state="$(awk '{ sub(/.*\) /, ""); print $1 }' "/proc/$1/stat" 2>/dev/null)" || return 1
    [ -n "$state" ] && [ "$state" != Z ]
}

# PID from a file, only if that process is alive and its command line contains $2
# (guards against a recycled PID after a reboot or a crash).
live_pid() {
    local file="$1" expect="$2" pid
    [ -f "$file" ] || return 1
    pid="$(tr -dc '0-9' < "$file")"
    [ -n "$pid" ] || return 1
    process_alive "$pid" || return 1
    tr '\0' ' ' < "/proc/$pid/cmdline" | grep -q -- "$expect" || return 1
    printf '%s\n' "$pid"
}

# All descendants of a PID, from one read of /proc (no procps needed).
descendants_of() {
    # processes may vanish between the glob and the read: cat then fails, which is fine
    { cat /proc/[0-9]*/stat 2>/dev/null || true; } | awk -v root="$1" '
        { pid = $1; sub(/.*\) /, ""); parent[pid] = $2 }
        END {
            found[root] = 1
            do {
                more = 0
                for (p in parent) if (!(p in found) && (parent[p] in found)) { found[p] = 1; more = 1; print p }
            } while (more)
        }'
}

# Stop the process recorded in a PID file, and whatever it forked, by PID only.
stop_by_pidfile() {
    local name="$1" file="$2" expect="$3" wait_secs="${4:-15}" pid kids i
    if ! pid="$(live_pid "$file" "$expect")"; then
        rm -f "$file"
        return 0
    fi
    kids="$(descendants_of "$pid")" || kids=""
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < wait_secs * 10; i++)); do
        process_alive "$pid" || break
        sleep 0.1
    done
    if process_alive "$pid"; then
        warn "$name (pid $pid) did not stop within ${wait_secs}s; sending KILL"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    # Leftover children (workers of a master that had to be killed); the command line check
    # keeps a PID that was meanwhile reused by something else safe.
    for pid in $kids; do
        if process_alive "$pid" && tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$expect"; then
            kill -KILL "$pid" 2>/dev/null || true
        fi
    done
    rm -f "$file"
    say "stopped $name"
}

# True when something accepts TCP connections on 127.0.0.1:PORT.
port_in_use() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

require_free_port() {
    local port="$1" what="$2"
    if port_in_use "$port"; then
        die "port $port (for $what) is already in use by another process. Stop it, or pick another base: CRMHOOKS_PORT_BASE=<n> (uses n, n+1, n+2, n+3, n+5, n+6)."
    fi
}

# Poll a command until it succeeds; 0.1 s steps.
wait_until() {
    local secs="$1" i
    shift
    for ((i = 0; i < secs * 10; i++)); do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    return 1
}

http_status() {
    curl -s -o /dev/null -m 20 -w '%{http_code}' "$1" || true
}

random_token() {
    # URL-safe, 192 bits
    head -c 24 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n'
}

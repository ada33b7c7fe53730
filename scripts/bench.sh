#!/usr/bin/env bash
# Benchmark of the plugin on the real stack (nginx + php-fpm with 4 workers + MariaDB + the CRM
# stand-in), with wrk. Not part of the test command; loopback only; bounded (about 14 min with the
# defaults on 2 cores, every wait has a deadline). It prints one table: every figure with its baseline
# measured in the same run and the ratio (and the issue's floor where it has one), because
# absolute numbers depend on the machine. Latency figures are medians of ROUNDS rounds with the
# spread (min-max) of the p50s; the rounds are interleaved (each round measures the baseline and
# every figure in turn), so load drift on a shared machine hits both sides of a ratio alike.
#
# Baselines come from a bench must-use plugin this script installs (and removes on exit):
#   ?crmhooks_bench=bare     WordPress and all plugins loaded, exits on init
#   ?crmhooks_bench=insert   the same plus one committed INSERT: the floor of a durable answer
# and, for the heavy site, a flag file that makes it burn 60 ms of CPU on plugins_loaded.
# Sections:
#   1. acknowledgement: bare, floor, `wpf_action=test`, `update` acknowledged (must-use loader,
#      runtime FFI and preload pools) on a light and a heavy site; the `init` path (no loader)
#   2. where the time goes (Server-Timing marks), page views with the plugin active vs inactive
#   3. ack p50/p99 while a drainer works through a backlog vs with no drainer (the bench holds
#      the drain lock)
#   4. flood: the stand-in's bulk edit, 1,000 webhooks for 200 contacts at concurrency 16, async
#      (CRM requests, 429s, drain time vs requests / 5 per s, users checked) and inline
#   5. memory: php-fpm workers' RSS after 100 and 10,000 webhooks; the library over 100,000 calls
#   6. the FFI path: µs per webhook in Rust, through FFI::cdef and FFI::scope; loading costs
# Usage: scripts/bench.sh [seconds per measurement (default 3)] [rounds (default 5)] [connections (default 4)]
#   BENCH_DRAIN_BUDGET=N  drain_budget_secs for sections 3-5 (default: the site's setting)
#   BENCH_INLINE_SECS=N   deadline of the inline flood (default 360); BENCH_SKIP_CARGO=1 skips `cargo bench`
#   BENCH_SECTIONS="4 5"  run only these sections (default: all six)
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SECONDS_EACH="${1:-3}"
ROUNDS="${2:-5}"
CONNECTIONS="${3:-4}"
INLINE_SECS="${BENCH_INLINE_SECS:-360}"
export CRMHOOKS_STACK_DIR="${CRMHOOKS_STACK_DIR:-$REPO/.stack-bench}"
export CRMHOOKS_PORT_BASE="${CRMHOOKS_PORT_BASE:-18180}"
BENCH_STARTED=$SECONDS
SECTIONS=" ${BENCH_SECTIONS:-1 2 3 4 5 6} "
section() { [[ "$SECTIONS" == *" $1 "* ]]; }

command -v wrk >/dev/null || { apt-get install -y -qq --no-install-recommends wrk >/dev/null || { echo "ERROR: wrk could not be installed" >&2; exit 1; }; }
"$REPO/scripts/stack.sh" install >/dev/null
"$REPO/scripts/stack.sh" build >/dev/null
was_up=0
"$REPO/scripts/stack.sh" status >/dev/null 2>&1 && was_up=1
"$REPO/scripts/stack.sh" up >/dev/null
eval "$("$REPO/scripts/stack.sh" env)"
MU_DIR="$CRMHOOKS_WP_DIR/wp-content/mu-plugins"
HEAVY_FLAG="$MU_DIR/crmhooks-bench-heavy.flag"
TMP="$(mktemp -d)"
LUA="$TMP/request.lua"
LOCK_FLAG="$TMP/hold-lock"
FPM_PID_FILE="$CRMHOOKS_STACK_DIR/fpm-runtime/php-fpm.pid"
ACCESS_LOG="$CRMHOOKS_STACK_DIR/nginx/access.log"
FIRST=5001 # The bench's 200 stand-in contacts and their users: IDs 5001-5200.
COUNT=200

# PHP in the site (WordPress loaded), for switching the plugin and the loader.
site_php() {
    php -r '$_SERVER["HTTP_HOST"]=parse_url(getenv("CRMHOOKS_SITE_URL"), PHP_URL_HOST).":".parse_url(getenv("CRMHOOKS_SITE_URL"), PHP_URL_PORT);
        require getenv("CRMHOOKS_WP_DIR")."/wp-load.php"; require_once ABSPATH."wp-admin/includes/plugin.php"; '"$1" 2>/dev/null
}
site() { php "$REPO/scripts/lib/bench-site.php" "$@"; }

cleanup() {
    rm -f "$LOCK_FLAG"
    wait 2>/dev/null || true
    rm -f "$MU_DIR/crmhooks-bench.php" "$HEAVY_FLAG"
    site_php 'activate_plugin("crmhooks/crmhooks.php"); CrmHooks_Early::install();' || true
    if [ -f "$TMP/settings.json" ]; then
        site cleanup "$FIRST" "$COUNT" >/dev/null || true
        site settings-restore "$TMP/settings.json" >/dev/null || true
    fi
    rm -rf "$TMP"
    [ "$was_up" = 1 ] || "$REPO/scripts/stack.sh" down >/dev/null 2>&1 || true
}
trap cleanup EXIT

mkdir -p "$MU_DIR"
cat > "$MU_DIR/crmhooks-bench.php" <<'PHP'
<?php
// Installed by scripts/bench.sh for its baselines; removed when it ends.
if ( file_exists( __DIR__ . '/crmhooks-bench-heavy.flag' ) ) {
	add_action( 'plugins_loaded', static function () { $end = hrtime( true ) + 60000000; while ( hrtime( true ) < $end ) {} }, 0 );
}
if ( isset( $_GET['crmhooks_profile'] ) ) {
	// Where a request's time goes, as a Server-Timing header: marks at this file (core booted),
	// muplugins_loaded, the end of plugins_loaded and init, and the answer (headers leave).
	$GLOBALS['crmhooks_marks'] = array( 'core' => microtime( true ) );
	add_action( 'muplugins_loaded', static function () { $GLOBALS['crmhooks_marks']['mu-plugins'] = microtime( true ); }, PHP_INT_MIN );
	add_action( 'plugins_loaded', static function () { $GLOBALS['crmhooks_marks']['plugins'] = microtime( true ); }, PHP_INT_MAX );
	add_action( 'init', static function () { $GLOBALS['crmhooks_marks']['theme+init'] = microtime( true ); }, PHP_INT_MIN );
	header_register_callback( static function () {
		$at = $_SERVER['REQUEST_TIME_FLOAT'];
		$parts = array();
		foreach ( $GLOBALS['crmhooks_marks'] + array( 'answer' => microtime( true ) ) as $name => $t ) {
			$parts[] = $name . ';dur=' . round( ( $t - $at ) * 1000, 2 );
			$at = $t;
		}
		header( 'Server-Timing: ' . implode( ', ', $parts ) );
	} );
}
if ( isset( $_GET['crmhooks_own'] ) ) {
	// The plugin's own share of a page view, timed inside the request: from the active-plugins
	// lookup before the plugin loop to crmhooks.php's plugin_loaded (its include, plus the
	// validation of the plugins before it: an overcount), and every crmhooks callback that runs.
	$GLOBALS['crmhooks_own'] = array( 'mark' => 0, 'ns' => 0 );
	add_filter( 'option_active_plugins', static function ( $plugins ) { $GLOBALS['crmhooks_own']['mark'] = hrtime( true ); return $plugins; }, PHP_INT_MAX );
	add_action( 'plugin_loaded', static function ( $file ) {
		$now = hrtime( true );
		if ( substr( (string) $file, -strlen( '/crmhooks/crmhooks.php' ) ) === '/crmhooks/crmhooks.php' ) {
			$GLOBALS['crmhooks_own']['ns'] += $now - $GLOBALS['crmhooks_own']['mark'];
		}
		$GLOBALS['crmhooks_own']['mark'] = $now;
	} );
	add_action( 'plugins_loaded', static function () {
		foreach ( $GLOBALS['wp_filter'] as $hook ) {
			foreach ( $hook->callbacks as $priority => $callbacks ) {
				foreach ( $callbacks as $id => $callback ) {
					$f    = $callback['function'];
					$name = is_array( $f ) ? ( is_string( $f[0] ) ? $f[0] : get_class( $f[0] ) ) : ( is_string( $f ) ? $f : '' );
					if ( stripos( $name, 'crmhooks' ) === 0 ) {
						$hook->callbacks[ $priority ][ $id ]['function'] = static function ( ...$args ) use ( $f ) {
							$t = hrtime( true );
							try { return $f( ...$args ); } finally { $GLOBALS['crmhooks_own']['ns'] += hrtime( true ) - $t; }
						};
					}
				}
			}
		}
	}, PHP_INT_MAX );
	add_action( 'shutdown', static function () {
		printf( "\n<!-- crmhooks-own %.3f total %.3f -->\n", $GLOBALS['crmhooks_own']['ns'] / 1e6, ( microtime( true ) - $_SERVER['REQUEST_TIME_FLOAT'] ) * 1000 );
	}, PHP_INT_MAX );
}
if ( isset( $_GET['crmhooks_bench'] ) ) {
	add_action( 'init', static function () {
		global $wpdb;
		if ( $_GET['crmhooks_bench'] === 'insert' ) {
			$wpdb->query( $wpdb->prepare( "INSERT INTO {$wpdb->prefix}crmhooks_bench (at) VALUES (%d)", time() ) );
		}
		header( 'Content-Type: application/json; charset=utf-8' );
		echo '{"success":true}';
		exit;
	}, 0 );
}
PHP
site_php 'global $wpdb; $wpdb->query("CREATE TABLE IF NOT EXISTS {$wpdb->prefix}crmhooks_bench (id bigint unsigned NOT NULL AUTO_INCREMENT PRIMARY KEY, at bigint unsigned NOT NULL) ENGINE=InnoDB");'

# wrk's request script: a URL with {contact} in it gets a random contact ID from $2 to $3 on
# every request (a bulk edit touches many contacts; one contact's webhooks merge into one job).
lua_for() {
    printf 'local path = "%s"\nrequest = function()\n  return wrk.format("GET", (path:gsub("{contact}", tostring(math.random(%d, %d)))))\nend\n' "/${1#*://*/}" "$2" "$3" > "$LUA"
}

# "p50 p99" in ms of one wrk run against one URL, after a short warm-up; non-2xx answers fail.
measure_once() {
    local url="$1" out script=()
    if [[ "$url" == *"{contact}"* ]]; then lua_for "$url" 1 200; script=(-s "$LUA"); url="${url%%\?*}"; fi
    wrk -t 1 -c "$CONNECTIONS" -d 1s "${script[@]}" "$url" >/dev/null 2>&1 || true
    out="$(wrk -t 2 -c "$CONNECTIONS" -d "${SECONDS_EACH}s" --latency "${script[@]}" "$url" 2>&1)" || { echo "ERROR: wrk failed for $url" >&2; echo "$out" >&2; exit 1; }
    if printf '%s\n' "$out" | grep -q 'Non-2xx'; then
        echo "ERROR: non-2xx answers from $url:" >&2; printf '%s\n' "$out" >&2; exit 1
    fi
    printf '%s\n' "$out" | awk '
        function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
        $1 == "50%" { p50 = ms($2) } $1 == "99%" { p99 = ms($2) }
        END { printf "%.2f %.2f\n", p50, p99 }'
}

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# Interleaved rounds: `interleave name=url ...` measures every URL once per round, in order,
# ROUNDS times. A name starting with heavy_ is measured with the heavy flag set.
declare -A RUNS=()
interleave() {
    local i pair name
    for ((i = 0; i < ROUNDS; i++)); do
        for pair in "$@"; do
            name="${pair%%=*}"
            if [[ "$name" == heavy_* ]]; then touch "$HEAVY_FLAG"; else rm -f "$HEAVY_FLAG"; fi
            RUNS[$name]+="$(measure_once "${pair#*=}")"$'\n'
        done
    done
    rm -f "$HEAVY_FLAG"
}

# "p50 p99 min50 max50" of a name: medians over its rounds, and the spread of the p50s.
summary() {
    local runs="${RUNS[$1]}"
    printf '%s %s %s %s\n' "$(awk 'NF { print $1 }' <<<"$runs" | median)" "$(awk 'NF { print $2 }' <<<"$runs" | median)" \
        "$(awk 'NF { print $1 }' <<<"$runs" | sort -n | head -n 1)" "$(awk 'NF { print $1 }' <<<"$runs" | sort -n | tail -n 1)"
}

# One latency row: label, figure name, baseline name, [floor ratio]. Ratios of the medians.
row() {
    local p50 p99 lo hi b50 b99 lo_b hi_b
    read -r p50 p99 lo hi <<<"$(summary "$2")"
    read -r b50 b99 lo_b hi_b <<<"$(summary "$3")"
    awk -v l="$1" -v p="$p50" -v q="$p99" -v lo="$lo" -v hi="$hi" -v b="$b50" -v c="$b99" -v n="$3" -v f="${4:-}" -v only="${5:-}" \
        'BEGIN { v = ""; if (f != "") v = sprintf("  floor <=%.2f: p50 %s, p99 %s", f, p / b <= f ? "met" : "NOT met", q / c <= f ? "met" : "NOT met");
                 if (f != "" && only == "p50") v = sprintf("  floor <=%.2f (p50): %s", f, p / b <= f ? "met" : "NOT met");
                 printf "%-52s p50 %7.2f ms (%6.2f-%6.2f)  p99 %7.2f ms   x%5.2f p50  x%5.2f p99  vs %s%s\n", l, p, lo, hi, q, p / b, q / c, n, v }'
}

# One row of any other figure: label, value, unit, baseline value, baseline label, [floor ratio].
srow() {
    awk -v l="$1" -v v="$2" -v u="$3" -v b="$4" -v n="$5" -v f="${6:-}" \
        'BEGIN { s = ""; if (f != "") s = sprintf("  floor <=%.2f: %s", f, v / b <= f ? "met" : "NOT met");
                 if (b + 0 > 0) printf "%-52s %12.2f %-6s  x%6.2f  vs %.2f %s%s\n", l, v, u, v / b, b, n, s
                 else printf "%-52s %12.2f %-6s  %s\n", l, v, u, n }'
}

hook="$CRMHOOKS_SITE_URL/?access_key=$CRMHOOKS_ACCESS_KEY"
phook="$CRMHOOKS_PRELOAD_URL/?access_key=$CRMHOOKS_ACCESS_KEY"
echo "crmhooks benchmark: wrk, $CONNECTIONS connections, ${SECONDS_EACH}s x $ROUNDS interleaved rounds per figure (medians; p50 spread), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg), $(date -u '+%Y-%m-%d %H:%M UTC')"

# The bench holds the site's drain lock (no drainer can run, as while one runs elsewhere) while it
# resets state, and in section 1 (the acknowledgement itself; section 3 measures what a working
# drainer costs it), and section 3's baseline.
hold_lock() {
    touch "$LOCK_FLAG"
    site hold-lock "$LOCK_FLAG" &
    local deadline=$((SECONDS + 150))
    until [ -f "$LOCK_FLAG.held" ]; do
        [ $SECONDS -lt $deadline ] || { echo "ERROR: the drain lock was not taken" >&2; exit 1; }
        sleep 0.1
    done
}
release_lock() { rm -f "$LOCK_FLAG"; wait; }

# 1. The acknowledgement, light and heavy site, interleaved with their floors, with no drainer
# running (the bench holds the drain lock: every ack ends at its answer); the jobs they queued
# are cleared at the end.
if section 1; then
hold_lock
interleave bare="$CRMHOOKS_SITE_URL/?crmhooks_bench=bare" floor="$CRMHOOKS_SITE_URL/?crmhooks_bench=insert" \
    test="$hook&wpf_action=test" one="$hook&wpf_action=update&contact_id=42&async=true" \
    many="$hook&wpf_action=update&contact_id={contact}&async=true" \
    preload="$phook&wpf_action=update&contact_id={contact}&async=true" \
    heavy_floor="$CRMHOOKS_SITE_URL/?crmhooks_bench=insert" heavy_many="$hook&wpf_action=update&contact_id={contact}&async=true" \
    heavy_preload="$phook&wpf_action=update&contact_id={contact}&async=true"
site_php 'CrmHooks_Early::uninstall();'
interleave floor_b="$CRMHOOKS_SITE_URL/?crmhooks_bench=insert" init="$hook&wpf_action=update&contact_id={contact}&async=true" \
    heavy_floor_b="$CRMHOOKS_SITE_URL/?crmhooks_bench=insert" heavy_init="$hook&wpf_action=update&contact_id={contact}&async=true"
site_php 'CrmHooks_Early::install();'
site queue-clear >/dev/null
release_lock
echo "1. acknowledgement, no drainer running (floor = bare request + one committed INSERT, same rounds)"
row "light: bare request (exits at init)" bare floor
row "light: floor = bare + one committed INSERT" floor floor
row "light: wpf_action=test" test floor
row "light: update, one contact, must-use loader" one floor 1.15
row "light: update, 200 contacts, must-use loader" many floor 1.15
row "light: same, opcache.preload FFI pool" preload floor 1.15
row "heavy (plugins +60 ms): floor" heavy_floor floor
row "heavy: update, 200 contacts, must-use loader" heavy_many floor 1.15 p50 # The issue's heavy-site floor is on p50.
row "heavy: same, opcache.preload FFI pool" heavy_preload floor 1.15 p50
row "light: update, 200 contacts, init path (no loader)" init floor_b
row "heavy: update, 200 contacts, init path (no loader)" heavy_init heavy_floor_b
fi

# 2. Median ms per phase over 40 sequential requests, from the Server-Timing header of the bench plugin.
profile() { # label url
    local i
    for ((i = 0; i < 40; i++)); do
        curl -s -o /dev/null -D - "$2&crmhooks_profile=1" | tr -d '\r' | sed -n 's/^Server-Timing: //Ip'
    done | awk -v l="$1" '
        { n = split($0, parts, ", "); for (i = 1; i <= n; i++) { split(parts[i], kv, ";dur="); name[i] = kv[1]; v[i, NR] = kv[2]; total[NR] += kv[2] } cols = n; rows = NR }
        function median(i,   j, k, t, a) { for (j = 1; j <= rows; j++) a[j] = v[i, j]; for (j = 2; j <= rows; j++) { t = a[j]; for (k = j - 1; k >= 1 && a[k] > t; k--) a[k + 1] = a[k]; a[k + 1] = t } return a[int((rows + 1) / 2)] }
        END { printf "%-52s", l; for (i = 1; i <= cols; i++) printf " %s %.2f", name[i], median(i); printf "  (ms, medians)\n" }'
}
if section 2; then
echo "2. where the time goes (phases up to the answer; sequential requests, light site)"
profile "  floor (bare + INSERT)" "$CRMHOOKS_SITE_URL/?crmhooks_bench=insert"
profile "  update acknowledged, must-use loader" "$hook&wpf_action=update&contact_id=42&async=true"
profile "  wpf_action=test, must-use loader" "$hook&wpf_action=test"
site_php 'CrmHooks_Early::uninstall();'
profile "  update acknowledged, init path (no loader)" "$hook&wpf_action=update&contact_id=42&async=true"
site_php 'CrmHooks_Early::install();'

page="$CRMHOOKS_SITE_URL/hello-world/"
for ((r = 0; r < ROUNDS; r++)); do
    site_php 'deactivate_plugins("crmhooks/crmhooks.php");'
    RUNS[inactive]+="$(measure_once "$page")"$'\n'
    site_php 'activate_plugin("crmhooks/crmhooks.php");'
    RUNS[active]+="$(measure_once "$page")"$'\n'
done
row "page view, plugin deactivated (baseline)" inactive inactive
row "page view, plugin active (no FFI loaded)" active inactive 1.01
# The same share without the noise of two measurements: timed inside 40 sequential page views.
for ((i = 0; i < 40; i++)); do
    curl -s "$page?crmhooks_own=1" | sed -n 's/^<!-- crmhooks-own \([0-9.]*\) total \([0-9.]*\) -->$/\1 \2/p'
done > "$TMP/own"
awk -v own="$(awk '{ print $1 }' "$TMP/own" | median)" -v all="$(awk '{ print $2 }' "$TMP/own" | median)" \
    'BEGIN { p = all > 0 ? 100 * own / all : 100; printf "%-52s %12.3f ms      = %.2f %% of %.2f ms, the whole page view (medians of 40)  floor <=1%%: %s\n",
             "page view: the plugin'"'"'s own time (load + callbacks)", own, p, all, p <= 1 ? "met" : "NOT met" }'
fi

# The bench's contacts (stand-in) and users, the field the flood checks, and a drain budget.
site settings-save "$TMP/settings.json" >/dev/null
site settings-set "{\"crm\":\"activecampaign\",\"async\":true,\"queue_max\":1000,\"loopback_window_secs\":0,\"field_map\":[{\"crm_key\":\"1\",\"wp_key\":\"crmhooks_bench_level\"}]${BENCH_DRAIN_BUDGET:+,\"drain_budget_secs\":$BENCH_DRAIN_BUDGET}}" >/dev/null
site contacts "$FIRST" "$COUNT" >/dev/null
site queue-clear >/dev/null
budget="$(site_php 'echo CrmHooks_Settings::get("drain_budget_secs"), " ", CrmHooks_Settings::get("drain_batch");')"

# How many requests the stand-in logged: count_log crm=ac status=429 'path_regex=^/api/3/tags' ...
count_log() {
    local kv args=()
    for kv in "$@"; do args+=(--data-urlencode "$kv"); done
    curl -s -G "${args[@]}" "$CRMHOOKS_STANDIN_URL/_control/log/count" | sed 's/[^0-9]//g'
}

# 3. Ack while a drainer works through a backlog (200 due jobs, ActiveCampaign at 5 requests/s)
# vs. with no drainer at all (the bench holds the drain lock, so every ack ends at its answer).
ack="$hook&wpf_action=update&contact_id={contact}&async=true"
drained=0
if section 3; then
for ((r = 0; r < ROUNDS; r++)); do
    hold_lock
    RUNS[idle]+="$(measure_once "$ack")"$'\n'
    site backlog "$FIRST" "$COUNT" >/dev/null # Due now: the first ack after the lock is gone starts a drainer.
    release_lock
    before="$(count_log crm=ac)"
    RUNS[draining]+="$(measure_once "$ack")"$'\n'
    drained=$((drained + $(count_log crm=ac) - before))
done
echo "3. ack while a drainer works (drain_budget_secs $budget jobs per run; it made $drained CRM requests during the measurements)"
row "update ack, no drainer (baseline)" idle idle
row "update ack while the queue drains" draining idle 1.5
fi

# 4. Flood: the stand-in's bulk edit sends 1,000 webhooks (5 per contact) for 200 contacts at
# concurrency 16. Acks' latencies come from nginx's access log (POST answered 200; successor and
# standby drain requests are answered 202); CRM requests, 429s from the stand-in's request log; drain time from
# the first webhook to the last job's end (the jobs table, whole seconds).
ids="$(seq -s, "$FIRST" $((FIRST + COUNT - 1)))"
# "p50 p99 answered" of the POSTs answered 200 in the access log after line $1.
ack_latency() {
    tail -n +"$(($1 + 1))" "$ACCESS_LOG" | awk '$5 == "\"POST" && $6 == "/index.php" && $8 == 200 { print $NF * 1000 }' | sort -n \
        | awk '{ v[NR] = $1 } END { if (NR == 0) { print "0 0 0"; exit } printf "%.2f %.2f %d\n", v[int((NR + 1) / 2)], v[int(NR * 0.99 + 0.999)], NR }'
}
flood() { # url max_secs -> "non2xx delivered"
    curl -s -m "$2" -X POST "$CRMHOOKS_STANDIN_URL/_control/bulk_edit" \
        -d "{\"url\":\"$1\",\"kind\":\"ac_account\",\"type\":\"update\",\"contact_ids\":[$ids],\"times\":5,\"concurrency\":16}" \
        | python3 -c 'import json, sys; d = json.load(sys.stdin)["deliveries"]; print(sum(1 for x in d if not 200 <= x["status"] < 300), len(d))' 2>/dev/null \
        || echo "unknown unknown"
}
# Before each flood: the users back to a stale state and the queue empty, while no drainer runs
# (one still at work from section 3 must not process the reset half-way); then where the access
# log and the clock stand, for the flood's figures.
start_flood() {
    hold_lock
    site stale "$FIRST" "$COUNT" >/dev/null
    site queue-clear >/dev/null
    release_lock
    log_at="$(wc -l < "$ACCESS_LOG")"
    flood_start="$(date +%s.%N)"
}
if section 4; then
start_flood
read -r non2xx delivered <<<"$(flood "$hook&wpf_action=update" 300)"
sent_secs="$(awk -v s="$flood_start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')"
read -r state done_jobs failed_jobs last_end <<<"$(site wait-idle 300)"
read -r f50 f99 answered <<<"$(ack_latency "$log_at")"
fetches="$(count_log crm=ac method=GET 'path_regex=^/api/3/contacts/[0-9]+([?]|$)')"
names="$(count_log crm=ac method=GET 'path_regex=^/api/3/(tags|fields)')"
crm_all="$(count_log crm=ac)"
limited="$(count_log crm=ac status=429)"
read -r matched total first_bad <<<"$(site verify "$FIRST" "$COUNT")"
drain_secs="$(awk -v s="$flood_start" -v e="$last_end" 'BEGIN { printf "%.1f", e - s }')"
echo "4. flood: 1,000 webhooks for 200 contacts, concurrency 16, 4 php-fpm workers, ActiveCampaign 5 requests/s (queue $state: $done_jobs jobs done, $failed_jobs failed)"
srow "async: webhooks answered non-2xx (of $delivered)" "$non2xx" "" 1000 "webhooks"
srow "async: ack p50 in the flood (nginx, $answered answers)" "$f50" ms 0 "(16 senders on 4 workers: the inline rows compare to it)"
srow "async: ack p99 in the flood" "$f99" ms 0 ""
srow "async: all 1,000 acknowledged after" "$sent_secs" s 0 "(the bulk edit's own time)"
srow "async: CRM requests, all (contacts $fetches, names $names)" "$crm_all" req "$((COUNT + names))" "200 contacts + name listings" 1.0
srow "async: CRM answers 429" "$limited" "" 0 "(floor: 0)"
srow "async: drain time, first webhook -> last job done" "$drain_secs" s "$(awk -v n="$crm_all" 'BEGIN { print n / 5 }')" "CRM requests / 5 per s" 1.2
srow "async: users matching the stand-in (first mismatch $first_bad)" "$matched" users "$total" "contacts"
# The same flood processed inline (async=false: each webhook fetches its contact before it is
# answered, the incumbent's way), bounded by BENCH_INLINE_SECS; what it reached is reported.
start_flood
read -r non2xx delivered <<<"$(flood "$hook&wpf_action=update&async=false" "$INLINE_SECS")"
inline_secs="$(awk -v s="$flood_start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')"
if [ "$delivered" = unknown ]; then
    # The deadline passed: count what was delivered by then, and let the stand-in finish sending
    # (it has no way to call a bulk edit off; each delivery times out after 10 s) before going on.
    delivered="$(count_log crm=webhook status=200)"
    non2xx="$(($(count_log crm=webhook) - delivered)) (incl. unfinished)"
    deadline=$((SECONDS + 600))
    while [ "$(count_log crm=webhook)" -lt 1000 ] && [ $SECONDS -lt $deadline ]; do sleep 2; done
    sleep 10
fi
read -r i50 i99 answered <<<"$(ack_latency "$log_at")"
i_crm="$(count_log crm=ac)"
i_limited="$(count_log crm=ac status=429)"
read -r i_matched total first_bad <<<"$(site verify "$FIRST" "$COUNT")"
srow "inline: webhooks answered non-2xx: $non2xx, answered 2xx" "$delivered" "" 1000 "webhooks"
srow "inline: answer p50 in the flood (nginx)" "$i50" ms "$f50" "async ack p50"
srow "inline: answer p99 in the flood" "$i99" ms "$f99" "async ack p99"
srow "inline: CRM requests (429s: $i_limited)" "$i_crm" req "$crm_all" "async CRM requests"
srow "inline: total time (bound ${INLINE_SECS}s)" "$inline_secs" s "$drain_secs" "async drain time"
srow "inline: users matching the stand-in" "$i_matched" users "$total" "contacts"
fi

# 5. Memory: the runtime pool's workers (RSS from /proc, sum and largest) after 100 and after
# 10,000 acknowledged webhooks (their jobs drained meanwhile), from a fresh pool (graceful
# reload); and the library in one PHP process over 100,000 webhooks (webhook_receive + plan).
pool_rss() { # "sum_kb max_kb workers"
    local pid sum=0 max=0 n=0 kb
    for pid in $(ps -o pid= --ppid "$(cat "$FPM_PID_FILE")"); do
        kb="$(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status" 2>/dev/null || echo 0)"
        sum=$((sum + kb)); n=$((n + 1)); [ "$kb" -le "$max" ] || max="$kb"
    done
    echo "$sum $max $n"
}
acks() { # how many: exactly that many `update` webhooks to the bench's contacts, CONNECTIONS at a time
    local i
    for ((i = 0; i < $1; i++)); do
        printf 'url = "%s"\noutput = "/dev/null"\n' "$hook&wpf_action=update&contact_id=$((FIRST + RANDOM % COUNT))&async=true"
    done > "$TMP/acks.curl"
    curl -s --fail --parallel --parallel-max "$CONNECTIONS" -K "$TMP/acks.curl" 2>/dev/null || { echo "ERROR: a webhook was not acknowledged" >&2; exit 1; }
}
if section 5; then
site queue-clear >/dev/null
kill -USR2 "$(cat "$FPM_PID_FILE")" # php-fpm's graceful reload: new workers, same master.
sleep 2
acks 100
read -r sum100 max100 n100 <<<"$(pool_rss)"
acks 9900
read -r sum10k max10k n10k <<<"$(pool_rss)"
site_php 'echo json_encode(CrmHooks_Settings::plan_settings());' > "$TMP/plan-settings.json"
read -r _ _ lib1k lib100k <<<"$(php -d ffi.enable=1 "$REPO/scripts/lib/bench-ffi.php" calls 100000 "$TMP/plan-settings.json")"
echo "5. memory"
mb() { awk -v k="$1" 'BEGIN { printf "%.2f", k / 1024 }'; }
srow "php-fpm pool RSS sum after 10,000 webhooks ($n10k workers)" "$(mb "$sum10k")" MB "$(mb "$sum100")" "MB after 100" 1.1
srow "php-fpm largest worker RSS after 10,000 webhooks" "$(mb "$max10k")" MB "$(mb "$max100")" "MB after 100" 1.1
srow "library: PHP process RSS after 100,000 webhooks" "$(mb "$lib100k")" MB "$(mb "$lib1k")" "MB after 1,000" 1.05
fi

# 6. The FFI path: one webhook (webhook_receive + plan) inside the library (benches/webhook.rs,
# in Rust), through FFI::cdef and through FFI::scope (ffi.preload), and what loading costs:
# the first load in a fresh process, and cdef again with the library mapped (every request of
# a warm php-fpm worker under FFI::cdef) vs the scope lookup.
if section 6; then
header="$REPO/php-shim/lib/crmhooks-preload.h"
site_php 'echo json_encode(CrmHooks_Settings::plan_settings());' > "$TMP/plan-settings.json"
read -r _ cdef_us _ _ <<<"$(php -d ffi.enable=1 "$REPO/scripts/lib/bench-ffi.php" calls 20000 "$TMP/plan-settings.json")"
read -r _ scope_us _ _ <<<"$(php -d ffi.enable=preload -d "ffi.preload=$header" "$REPO/scripts/lib/bench-ffi.php" calls 20000 "$TMP/plan-settings.json")"
for ((r = 0; r < 9; r++)); do
    php -d ffi.enable=1 "$REPO/scripts/lib/bench-ffi.php" load >> "$TMP/load-cdef"
    php -d ffi.enable=preload -d "ffi.preload=$header" "$REPO/scripts/lib/bench-ffi.php" load >> "$TMP/load-scope"
done
rust_us=""
if [ -z "${BENCH_SKIP_CARGO:-}" ] && command -v cargo >/dev/null; then
    rust_us="$(cd "$REPO" && cargo bench --quiet --bench webhook 2>/dev/null | awk '/^parse \+ key check/ { print $(NF - 3) }')" || rust_us=""
fi
echo "6. the FFI path (PHP ${PHP_VERSION:-$(php -r 'echo PHP_VERSION;')} CLI; the plugin loads FFI::scope when ffi.preload declared it, else FFI::cdef)"
[ -z "$rust_us" ] || srow "one webhook inside the library (Rust, no FFI)" "$rust_us" "us" "$rust_us" "Rust"
[ -z "$rust_us" ] || srow "one webhook through FFI::cdef" "$cdef_us" us "$rust_us" "us in Rust"
srow "one webhook through FFI::cdef" "$cdef_us" us "$scope_us" "us through FFI::scope"
srow "first load in a fresh process: FFI::cdef + dlopen" "$(awk '{ print $2 }' "$TMP/load-cdef" | median)" us "$(awk '{ print $2 }' "$TMP/load-scope" | median)" "us FFI::scope"
srow "per request, warm worker: FFI::cdef (library mapped)" "$(awk '{ print $3 }' "$TMP/load-cdef" | median)" us "$(awk '{ print $3 }' "$TMP/load-scope" | median)" "us FFI::scope"
fi
echo "bench time: $((SECONDS - BENCH_STARTED)) s"

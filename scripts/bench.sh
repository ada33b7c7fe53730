#!/usr/bin/env bash
# Request-level benchmark of the plugin on the real stack (nginx + php-fpm + MariaDB), with wrk.
# Not part of the test command; loopback only; bounded: ROUNDS x rows x SECONDS (about 4 min by
# default). Every figure is printed with its baseline from the same run and the ratio, because
# absolute numbers depend on the machine; each figure is the median of ROUNDS rounds, with the
# spread (min-max) of the p50s.
#
# Baselines come from a bench must-use plugin this script installs (and removes on exit):
#   ?crmhooks_bench=bare     WordPress and all plugins loaded, exits on init
#   ?crmhooks_bench=insert   the same plus one committed INSERT: the floor of a durable answer
# and, for the heavy site, a flag file that makes it burn 60 ms of CPU on plugins_loaded (a site
# whose plugins are slow to load). Rows:
#   - light and heavy site: bare, floor, `wpf_action=test`, `update` acknowledged (async) with the
#     must-use loader, and the same `update` with the loader removed (the init path);
#   - page views with the plugin active vs. deactivated.
# Usage: scripts/bench.sh [seconds per measurement (default 4)] [rounds (default 3)] [connections (default 4)]
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SECONDS_EACH="${1:-4}"
ROUNDS="${2:-3}"
CONNECTIONS="${3:-4}"
export CRMHOOKS_STACK_DIR="${CRMHOOKS_STACK_DIR:-$REPO/.stack-bench}"
export CRMHOOKS_PORT_BASE="${CRMHOOKS_PORT_BASE:-18180}"

command -v wrk >/dev/null || { apt-get install -y -qq --no-install-recommends wrk >/dev/null || { echo "ERROR: wrk could not be installed" >&2; exit 1; }; }
"$REPO/scripts/stack.sh" install >/dev/null
"$REPO/scripts/stack.sh" build >/dev/null
was_up=0
"$REPO/scripts/stack.sh" status >/dev/null 2>&1 && was_up=1
"$REPO/scripts/stack.sh" up >/dev/null
eval "$("$REPO/scripts/stack.sh" env)"
MU_DIR="$CRMHOOKS_WP_DIR/wp-content/mu-plugins"
HEAVY_FLAG="$MU_DIR/crmhooks-bench-heavy.flag"
LUA="$(mktemp --suffix=.lua)"

# PHP in the site (WordPress loaded), for switching the plugin and the loader.
site_php() {
    php -r '$_SERVER["HTTP_HOST"]=parse_url(getenv("CRMHOOKS_SITE_URL"), PHP_URL_HOST).":".parse_url(getenv("CRMHOOKS_SITE_URL"), PHP_URL_PORT);
        require getenv("CRMHOOKS_WP_DIR")."/wp-load.php"; require_once ABSPATH."wp-admin/includes/plugin.php"; '"$1" 2>/dev/null
}

cleanup() {
    rm -f "$MU_DIR/crmhooks-bench.php" "$HEAVY_FLAG" "$LUA"
    site_php 'activate_plugin("crmhooks/crmhooks.php"); CrmHooks_Early::install();' || true
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

# A URL with {contact} in it is requested with a random contact ID from 1 to 200 each time (a
# bulk edit touches many contacts; one contact's webhooks merge into one locked row).
lua_for() {
    printf 'local path = "%s"\nrequest = function()\n  return wrk.format("GET", (path:gsub("{contact}", tostring(math.random(1, 200)))))\nend\n' "/${1#*://*/}" > "$LUA"
}

# "p50 p99" in ms of one wrk run against one URL, after a short warm-up; non-2xx answers fail.
measure_once() {
    local url="$1" out script=()
    if [[ "$url" == *"{contact}"* ]]; then lua_for "$url"; script=(-s "$LUA"); url="${url%%\?*}"; fi
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

median() { awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }' <<<"$1"; }

# "p50 p99 min50 max50": medians over ROUNDS rounds, and the spread of the p50s.
measure() {
    local i runs p50s p99s
    runs="$(for ((i = 0; i < ROUNDS; i++)); do measure_once "$1"; done)"
    p50s="$(awk '{ print $1 }' <<<"$runs" | sort -n)"
    p99s="$(awk '{ print $2 }' <<<"$runs" | sort -n)"
    printf '%s %s %s %s\n' "$(median "$p50s")" "$(median "$p99s")" "$(head -n 1 <<<"$p50s")" "$(tail -n 1 <<<"$p50s")"
}

row() { # label "p50 p99 min max" "base_p50 base_p99" base_label
    read -r p50 p99 lo hi <<<"$2"
    read -r b50 b99 <<<"$3"
    awk -v l="$1" -v p="$p50" -v q="$p99" -v lo="$lo" -v hi="$hi" -v b="$b50" -v c="$b99" -v n="$4" \
        'BEGIN { printf "%-46s p50 %7.2f ms (%6.2f-%6.2f)  p99 %7.2f ms   x%5.2f p50  x%5.2f p99  vs %s\n", l, p, lo, hi, q, p / b, q / c, n }'
}

hook="$CRMHOOKS_SITE_URL/?access_key=$CRMHOOKS_ACCESS_KEY"
suite() { # site label
    local bare floor test early init
    bare="$(measure "$CRMHOOKS_SITE_URL/?crmhooks_bench=bare")"
    floor="$(measure "$CRMHOOKS_SITE_URL/?crmhooks_bench=insert")"
    test="$(measure "$hook&wpf_action=test")"
    early="$(measure "$hook&wpf_action=update&contact_id=42&async=true")"
    many="$(measure "$hook&wpf_action=update&contact_id={contact}&async=true")"
    preload="$(measure "$CRMHOOKS_PRELOAD_URL/?access_key=$CRMHOOKS_ACCESS_KEY&wpf_action=update&contact_id={contact}&async=true")"
    site_php 'CrmHooks_Early::uninstall();'
    init="$(measure "$hook&wpf_action=update&contact_id={contact}&async=true")"
    site_php 'CrmHooks_Early::install();'
    [ -n "${LIGHT_FLOOR:-}" ] || LIGHT_FLOOR="$floor"
    row "$1: bare request (exits at init)" "$bare" "${floor% * *}" "$1 floor"
    row "$1: floor = bare + one committed INSERT" "$floor" "${floor% * *}" "$1 floor"
    row "$1: wpf_action=test" "$test" "${floor% * *}" "$1 floor"
    row "$1: update, one contact, must-use loader" "$early" "${floor% * *}" "$1 floor"
    row "$1: update, 200 contacts, must-use loader" "$many" "${floor% * *}" "$1 floor"
    [ "$floor" = "$LIGHT_FLOOR" ] || row "$1: update, 200 contacts, must-use loader" "$many" "${LIGHT_FLOOR% * *}" "light floor"
    row "$1: same, opcache.preload FFI pool" "$preload" "${floor% * *}" "$1 floor"
    row "$1: update, 200 contacts, init path (no loader)" "$init" "${floor% * *}" "$1 floor"
}

echo "crmhooks request benchmark: wrk, $CONNECTIONS connections, ${SECONDS_EACH}s x $ROUNDS rounds per figure (medians; p50 spread), $(nproc) cores, $(date -u '+%Y-%m-%d %H:%M UTC')"
rm -f "$HEAVY_FLAG"
suite light
touch "$HEAVY_FLAG"
suite "heavy (plugins +60 ms)"
rm -f "$HEAVY_FLAG"

# Median ms per phase over 40 sequential requests, from the Server-Timing header of the bench plugin.
profile() { # label url
    local i
    for ((i = 0; i < 40; i++)); do
        curl -s -o /dev/null -D - "$2&crmhooks_profile=1" | tr -d '\r' | sed -n 's/^Server-Timing: //Ip'
    done | awk -v l="$1" '
        { n = split($0, parts, ", "); for (i = 1; i <= n; i++) { split(parts[i], kv, ";dur="); name[i] = kv[1]; v[i, NR] = kv[2]; total[NR] += kv[2] } cols = n; rows = NR }
        function median(i,   j, k, t, a) { for (j = 1; j <= rows; j++) a[j] = v[i, j]; for (j = 2; j <= rows; j++) { t = a[j]; for (k = j - 1; k >= 1 && a[k] > t; k--) a[k + 1] = a[k]; a[k + 1] = t } return a[int((rows + 1) / 2)] }
        END { printf "%-52s", l; for (i = 1; i <= cols; i++) printf " %s %.2f", name[i], median(i); printf "  (ms, medians)\n" }'
}
echo "where the time goes (phases up to the answer; sequential requests, light site):"
profile "  floor (bare + INSERT)" "$CRMHOOKS_SITE_URL/?crmhooks_bench=insert"
profile "  update acknowledged, must-use loader" "$hook&wpf_action=update&contact_id=42&async=true"
site_php 'CrmHooks_Early::uninstall();'
profile "  update acknowledged, init path (no loader)" "$hook&wpf_action=update&contact_id=42&async=true"
site_php 'CrmHooks_Early::install();'

page="$CRMHOOKS_SITE_URL/hello-world/"
site_php 'deactivate_plugins("crmhooks/crmhooks.php");'
inactive="$(measure "$page")"
site_php 'activate_plugin("crmhooks/crmhooks.php");'
active="$(measure "$page")"
row "page view, plugin deactivated (baseline)" "$inactive" "${inactive% * *}" "inactive"
row "page view, plugin active (no FFI loaded)" "$active" "${inactive% * *}" "inactive"

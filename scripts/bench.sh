#!/usr/bin/env bash
# Request-level benchmark of the plugin on the real stack (nginx + php-fpm + MariaDB), with ab.
# Every figure is printed next to a baseline measured in the same run, as a ratio, because
# absolute numbers depend on the machine:
#   - a plain page view with the plugin active vs. the same page with the plugin deactivated
#     (the plugin must cost nothing on non-webhook requests: no FFI is loaded there);
#   - an authenticated webhook (`wpf_action=test`: parse + constant-time key check through FFI)
#     on the runtime-cdef pool and on the preload pool vs. the plain page view;
#   - an `update` webhook for a stand-in contact (acknowledged; processed after the response
#     when the queue is on) vs. the plain page view.
# Usage: scripts/bench.sh [requests (default 300)] [concurrency (default 4)]
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
REQUESTS="${1:-300}"
CONCURRENCY="${2:-4}"
export CRMHOOKS_STACK_DIR="${CRMHOOKS_STACK_DIR:-$REPO/.stack-bench}"
export CRMHOOKS_PORT_BASE="${CRMHOOKS_PORT_BASE:-18180}"

command -v ab >/dev/null || { apt-get install -y -qq --no-install-recommends apache2-utils >/dev/null || { echo "ERROR: ab (apache2-utils) could not be installed" >&2; exit 1; }; }
"$REPO/scripts/stack.sh" install >/dev/null
"$REPO/scripts/stack.sh" build >/dev/null
"$REPO/scripts/stack.sh" up >/dev/null
trap '"$REPO/scripts/stack.sh" down >/dev/null 2>&1 || true' EXIT
eval "$("$REPO/scripts/stack.sh" env)"

set_plugin() { # activate|deactivate
    php -r '$_SERVER["HTTP_HOST"]="127.0.0.1"; require getenv("CRMHOOKS_WP_DIR")."/wp-load.php";
        require_once ABSPATH."wp-admin/includes/plugin.php";
        if ($argv[1] === "activate") { activate_plugin("crmhooks/crmhooks.php"); } else { deactivate_plugins("crmhooks/crmhooks.php"); }' -- "$1" >/dev/null
}

# Requests per second and median latency (ms) of ab against one URL, after a warm-up.
measure() {
    local url="$1" out rps p50
    ab -q -n 20 -c "$CONCURRENCY" "$url" >/dev/null 2>&1 || true
    out="$(ab -q -n "$REQUESTS" -c "$CONCURRENCY" "$url" 2>&1)" || { echo "ERROR: ab failed for $url" >&2; echo "$out" >&2; exit 1; }
    rps="$(printf '%s\n' "$out" | awk '/Requests per second/ {print $4}')"
    p50="$(printf '%s\n' "$out" | awk '$1 == "50%" {print $2}')"
    non2xx="$(printf '%s\n' "$out" | awk '/Non-2xx responses/ {print $3}')"
    [ -z "$non2xx" ] || { echo "ERROR: $non2xx non-2xx answers from $url" >&2; exit 1; }
    printf '%s %s\n' "$rps" "$p50"
}

row() { # label rps p50 base_rps
    awk -v l="$1" -v r="$2" -v p="$3" -v b="$4" 'BEGIN { printf "%-52s %8.1f req/s  p50 %4d ms  %5.2fx baseline\n", l, r, p, r / b }'
}

page="$CRMHOOKS_SITE_URL/hello-world/"
echo "crmhooks request benchmark: $REQUESTS requests, concurrency $CONCURRENCY, $(nproc) cores"
set_plugin deactivate
read -r base_rps base_p50 < <(measure "$page")
row "baseline: page view, plugin deactivated" "$base_rps" "$base_p50" "$base_rps"
set_plugin activate
read -r rps p50 < <(measure "$page")
row "page view, plugin active (no FFI loaded)" "$rps" "$p50" "$base_rps"
read -r rps p50 < <(measure "$CRMHOOKS_SITE_URL/?wpf_action=test&access_key=$CRMHOOKS_ACCESS_KEY")
row "webhook test (FFI::cdef pool)" "$rps" "$p50" "$base_rps"
read -r rps p50 < <(measure "$CRMHOOKS_PRELOAD_URL/?wpf_action=test&access_key=$CRMHOOKS_ACCESS_KEY")
row "webhook test (opcache.preload + FFI::scope pool)" "$rps" "$p50" "$base_rps"
read -r rps p50 < <(measure "$CRMHOOKS_SITE_URL/?wpf_action=update&access_key=$CRMHOOKS_ACCESS_KEY&contact_id=42")
row "webhook update, contact 42 (answer)" "$rps" "$p50" "$base_rps"

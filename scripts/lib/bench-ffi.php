<?php
/**
 * The FFI path, for scripts/bench.sh (PHP CLI, no WordPress): the library is loaded the way the
 * plugin loads it (CrmHooks_Native::get(): FFI::scope when ffi.preload declared the scope, else
 * FFI::cdef), so the mode follows the ini settings bench.sh passes.
 *
 *   php bench-ffi.php calls N PLAN_SETTINGS_JSON_FILE
 *       one webhook = webhook_receive + plan, N times: "mode us_per_webhook rss_kb_at_1000 rss_kb_at_N"
 *   php bench-ffi.php load
 *       the first load in a fresh process (header parse + dlopen, or the scope lookup), then the
 *       same load again with the library mapped (what FFI::cdef costs each request of a warm
 *       php-fpm worker): "mode first_load_us reload_us"
 */

declare(strict_types=1);

$shim = dirname( __DIR__, 2 ) . '/php-shim/includes/';
require_once $shim . 'class-crmhooks-native-unavailable.php';
require_once $shim . 'class-crmhooks-native-error.php';
require_once $shim . 'class-crmhooks-native.php';

/** Resident set size of this process, in kB (/proc). */
function bench_rss_kb(): int {
	preg_match( '/^VmRSS:\s+(\d+)/m', (string) file_get_contents( '/proc/self/status' ), $m );
	return (int) ( $m[1] ?? 0 );
}

$what = $argv[1] ?? '';
if ( $what === 'load' ) {
	$t0     = hrtime( true );
	$native = CrmHooks_Native::get();
	$first  = ( hrtime( true ) - $t0 ) / 1000;
	// A warm php-fpm worker keeps the library mapped; cdef still parses the header per request.
	$t0 = hrtime( true );
	for ( $i = 0; $i < 200; $i++ ) {
		$native->mode === 'scope' ? FFI::scope( 'CRMH' ) : FFI::cdef( (string) file_get_contents( CrmHooks_Native::cdef_path() ), CrmHooks_Native::library_path() );
	}
	printf( "%s %.1f %.3f\n", $native->mode, $first, ( hrtime( true ) - $t0 ) / 1000 / 200 ); // A scope lookup is well under 0.1 us.
	exit( 0 );
}
if ( $what !== 'calls' ) {
	fwrite( STDERR, "usage: bench-ffi.php calls N SETTINGS_FILE | load\n" );
	exit( 2 );
}

$n        = max( 1000, (int) ( $argv[2] ?? 100000 ) );
$settings = json_decode( (string) file_get_contents( (string) ( $argv[3] ?? '' ) ), true );
$key      = 'bench-access-key-8c1f0e2d9a7b6c5d';
$query    = 'wpf_action=update&access_key=' . $key;
// A typical ActiveCampaign account webhook (the body of benches/webhook.rs).
$body    = 'type=update&date_time=2024-02-28T07%3A04%3A13-06%3A00&initiated_from=admin&initiated_by=admin&list=0&contact%5Bid%5D=42&contact%5Bemail%5D=jane.doe%40example.com&contact%5Bfirst_name%5D=Jane&contact%5Blast_name%5D=Doe&contact%5Bphone%5D=%2B1+555-010-1234&contact%5Bip%5D=0.0.0.0&contact%5Btags%5D=member%2C+vip&contact%5Bfields%5D%5B1%5D=Gold';
$contact = array(
	'id'         => '42',
	'email'      => 'jane.doe@example.com',
	'first_name' => 'Jane',
	'last_name'  => 'Doe',
	'tags'       => array( array( 'id' => '3', 'name' => 'member' ), array( 'id' => '7', 'name' => 'vip' ) ),
	'fields'     => array( array( 'key' => '1', 'label' => 'Membership Level', 'value' => 'Gold' ) ),
);
$linked  = array(
	array( 'id' => 7, 'user_login' => 'jane.doe@example.com', 'user_email' => 'jane.doe@example.com', 'first_name' => 'Jane', 'last_name' => 'Doe', 'contact_id' => '42', 'roles' => array( 'subscriber' ), 'tags' => array( array( 'id' => '3', 'name' => 'member' ) ), 'meta' => array() ),
);
$native  = CrmHooks_Native::get();
$one     = static function () use ( $native, $query, $body, $key, $contact, $linked, $settings ): void {
	$reception = $native->webhook_receive( 'POST', $query, 'application/x-www-form-urlencoded', $body, $key );
	if ( ( $reception['verdict'] ?? '' ) !== 'accept' ) {
		fwrite( STDERR, 'the library refused the benchmark webhook: ' . json_encode( $reception ) . "\n" );
		exit( 1 );
	}
	$native->plan( (string) json_encode( array( 'request' => $reception['request'], 'contact' => $contact, 'linked_users' => $linked, 'email_user' => null, 'settings' => $settings ) ) );
};
for ( $i = 0; $i < 1000; $i++ ) {
	$one();
}
$rss_1k = bench_rss_kb();
$t0     = hrtime( true );
for ( $i = 1000; $i < $n; $i++ ) {
	$one();
}
printf( "%s %.2f %d %d\n", $native->mode, ( hrtime( true ) - $t0 ) / 1000 / ( $n - 1000 ), $rss_1k, bench_rss_kb() );

<?php
/**
 * PHPUnit bootstrap: finds the running stack (CRMHOOKS_* environment, or `scripts/stack.sh env`
 * for the test stack in <repo>/.stack-test), loads the helper classes, then loads the site's
 * wp-load.php so tests read the database with WordPress APIs.
 */

$crmhooks_repo = dirname( __DIR__, 2 );

/**
 * The stack's CRMHOOKS_* values: from the environment when scripts/test.sh exported them,
 * otherwise from `scripts/stack.sh env` (default stack dir: <repo>/.stack-test).
 * The multisite network's and the fresh site's values are passed on when present, not required
 * here: the tests that need them (security/MultisiteTest.php, release/ReleaseTest.php) fail with
 * their own message without them.
 */
function crmhooks_test_stack_env( string $repo ): array {
	$names    = array( 'CRMHOOKS_SITE_URL', 'CRMHOOKS_PRELOAD_URL', 'CRMHOOKS_STANDIN_URL', 'CRMHOOKS_WP_DIR', 'CRMHOOKS_ACCESS_KEY', 'CRMHOOKS_DB_SOCKET' );
	$optional = array( 'CRMHOOKS_MS_SITE_URL', 'CRMHOOKS_MS_WP_DIR', 'CRMHOOKS_FRESH_SITE_URL', 'CRMHOOKS_FRESH_WP_DIR' );
	$env      = array();
	foreach ( array_merge( $names, $optional ) as $name ) {
		$value = getenv( $name );
		if ( false !== $value && '' !== $value ) {
			$env[ $name ] = $value;
		}
	}
	if ( ! array_diff( $names, array_keys( $env ) ) ) {
		return $env;
	}
	$stack_dir = getenv( 'CRMHOOKS_STACK_DIR' );
	$prefix    = 'CRMHOOKS_STACK_DIR=' . escapeshellarg( $stack_dir ? $stack_dir : $repo . '/.stack-test' ) . ' ';
	$script    = 'eval "$(' . $prefix . escapeshellarg( $repo . '/scripts/stack.sh' ) . ' env)" && env';
	$output    = shell_exec( 'bash -c ' . escapeshellarg( $script ) );
	foreach ( explode( "\n", (string) $output ) as $line ) {
		$parts = explode( '=', $line, 2 );
		if ( 2 === count( $parts ) && in_array( $parts[0], array_merge( $names, $optional ), true ) && '' !== $parts[1] ) {
			$env[ $parts[0] ] = $parts[1];
		}
	}
	$missing = array_diff( $names, array_keys( $env ) );
	if ( $missing ) {
		fwrite( STDERR, 'crmhooks tests: no running stack (missing ' . implode( ', ', $missing ) . "). Start one with:\n"
			. "  CRMHOOKS_STACK_DIR=$repo/.stack-test CRMHOOKS_PORT_BASE=18080 scripts/stack.sh up\n" );
		exit( 1 );
	}
	return $env;
}

$crmhooks_env = crmhooks_test_stack_env( $crmhooks_repo );
foreach ( $crmhooks_env as $crmhooks_name => $crmhooks_value ) {
	putenv( "$crmhooks_name=$crmhooks_value" );
}

require_once __DIR__ . '/includes/class-crmhooks-test-site.php';
require_once __DIR__ . '/includes/class-crmhooks-test-standin.php';
CrmHooks_Test_Site::init( $crmhooks_env );
CrmHooks_Test_Standin::init( $crmhooks_env['CRMHOOKS_STANDIN_URL'] );

if ( ! is_file( $crmhooks_env['CRMHOOKS_WP_DIR'] . '/wp-load.php' ) ) {
	fwrite( STDERR, 'crmhooks tests: no WordPress at ' . $crmhooks_env['CRMHOOKS_WP_DIR'] . "\n" );
	exit( 1 );
}

// WordPress builds its URLs from the host (wp-config.php of the stack), so use the site's.
$_SERVER['HTTP_HOST']       = (string) parse_url( $crmhooks_env['CRMHOOKS_SITE_URL'], PHP_URL_HOST ) . ':' . (string) parse_url( $crmhooks_env['CRMHOOKS_SITE_URL'], PHP_URL_PORT );
$_SERVER['SERVER_NAME']     = '127.0.0.1';
$_SERVER['SERVER_PORT']     = (string) parse_url( $crmhooks_env['CRMHOOKS_SITE_URL'], PHP_URL_PORT );
$_SERVER['REQUEST_URI']     = '/';
$_SERVER['REQUEST_METHOD']  = 'GET';
$_SERVER['SERVER_PROTOCOL'] = 'HTTP/1.1';

// PHPUnit includes this file inside a function: WordPress's file-scope globals must be declared.
// phpcs:ignore
global $wpdb, $table_prefix, $wp_rewrite, $wp, $wp_query, $wp_the_query, $wp_roles, $wp_version,
	$wp_db_version, $current_site, $current_blog, $shortcode_tags, $phpmailer, $wp_theme_directories,
	$wp_locale, $wp_embed, $wp_widget_factory, $wp_filter, $wp_actions, $wp_current_filter,
	$allowedposttags, $allowedtags, $wp_plugin_paths, $pagenow, $blog_id, $wp_object_cache;

require_once $crmhooks_env['CRMHOOKS_WP_DIR'] . '/wp-load.php';
require_once ABSPATH . 'wp-admin/includes/plugin.php';
require_once ABSPATH . 'wp-admin/includes/user.php';
// The plugin loads its admin views only in wp-admin; tests call some of them directly.
require_once CRMHOOKS_INCLUDES . 'admin/class-crmhooks-health.php';
require_once CRMHOOKS_INCLUDES . 'admin/class-crmhooks-admin.php';

CrmHooks_Test_Site::remember_settings();

<?php
/**
 * Brings the stack's WordPress to a known state, from the PHP CLI (no wp-cli in Debian):
 * install (admin user), theme, pretty permalinks, crmhooks activation, crmhooks_settings
 * pointing at the CRM stand-in. Idempotent. Called by scripts/stack.sh with CRMHOOKS_* env vars,
 * for the single site and for the multisite network's main site (made a network before by
 * scripts/lib/wp-setup-network.php).
 */

function crmhooks_setup_env( $name ) {
	$value = getenv( $name );
	if ( false === $value || '' === $value ) {
		fwrite( STDERR, "wp-setup: missing environment variable $name\n" );
		exit( 2 );
	}
	return $value;
}

$wp_dir = crmhooks_setup_env( 'CRMHOOKS_WP_DIR' );
$host   = crmhooks_setup_env( 'CRMHOOKS_HOST' );

$_SERVER['HTTP_HOST']   = $host;
$_SERVER['SERVER_NAME'] = '127.0.0.1';
$_SERVER['REQUEST_URI'] = '/';
define( 'WP_INSTALLING', true );

// wp_install() mails the admin; there is no MTA here ("sendmail: not found"), so skip that mail.
function wp_new_blog_notification( $blog_title, $blog_url, $user_id, $password ) {}

require $wp_dir . '/wp-load.php';
require_once ABSPATH . 'wp-admin/includes/upgrade.php';
require_once ABSPATH . 'wp-admin/includes/plugin.php';

if ( ! is_blog_installed() ) {
	$result = wp_install( 'crmhooks dev site', 'admin', 'admin@example.com', true, '', crmhooks_setup_env( 'CRMHOOKS_ADMIN_PASSWORD' ) );
	if ( is_wp_error( $result ) ) {
		fwrite( STDERR, 'wp-setup: wp_install failed: ' . $result->get_error_message() . "\n" );
		exit( 1 );
	}
	echo "wordpress: installed (admin user: admin)\n";
}

if ( 'twentytwentythree' !== get_stylesheet() ) {
	if ( wp_get_theme( 'twentytwentythree' )->exists() ) {
		switch_theme( 'twentytwentythree' );
		echo "wordpress: theme twentytwentythree\n";
	} else {
		fwrite( STDERR, "wp-setup: WARNING theme twentytwentythree not found (apt package wordpress-theme-twentytwentythree)\n" );
	}
}

// A network's main site keeps the structure populate_network() gave it (/blog/...: subdirectory
// sites own the paths below /).
if ( ! is_multisite() && '/%postname%/' !== get_option( 'permalink_structure' ) ) {
	global $wp_rewrite;
	$wp_rewrite->set_permalink_structure( '/%postname%/' );
	$wp_rewrite->flush_rules( false );
	echo "wordpress: permalinks /%postname%/\n";
}

// The stand-in's credentials come from its seed, so the plugin and the stand-in always agree.
$seed      = array();
$seed_file = getenv( 'CRMHOOKS_SEED' );
if ( $seed_file && is_readable( $seed_file ) ) {
	$seed = json_decode( (string) file_get_contents( $seed_file ), true );
	if ( ! is_array( $seed ) ) {
		fwrite( STDERR, "wp-setup: $seed_file is not valid JSON\n" );
		exit( 1 );
	}
} else {
	fwrite( STDERR, "wp-setup: WARNING stand-in seed not found ($seed_file); using the documented default credentials\n" );
}
$standin = crmhooks_setup_env( 'CRMHOOKS_STANDIN_URL' );

// WP_INSTALLING keeps WordPress from loading plugins here: load crmhooks ourselves, so its
// option filter encrypts the credentials written below (activate_plugin() includes it once).
$crmhooks_main = WP_PLUGIN_DIR . '/crmhooks/crmhooks.php';
if ( file_exists( $crmhooks_main ) ) {
	include_once $crmhooks_main;
}

$settings = get_option( 'crmhooks_settings' );
$settings = is_array( $settings ) ? $settings : array();
// Defaults only where the plugin has not set a value; a later `up` keeps what tests or the admin changed.
// The plugin's own defaults when it is active, plus: the demo allows webhooks to ask for `subscriber`.
$settings += array( 'crm' => 'activecampaign', 'role_allowlist' => array( 'subscriber' ) );
// More defaults from the caller, as a JSON object (the multisite network: {"async":false}).
$more_defaults = getenv( 'CRMHOOKS_SETTINGS_DEFAULTS' );
if ( $more_defaults ) {
	$more_defaults = json_decode( $more_defaults, true );
	if ( ! is_array( $more_defaults ) ) {
		fwrite( STDERR, "wp-setup: CRMHOOKS_SETTINGS_DEFAULTS is not a JSON object\n" );
		exit( 1 );
	}
	$settings += $more_defaults;
}
// Every other key takes the library's default when the plugin reads the option.
// Always: the key and the CRM endpoints of this stack.
$settings['access_key']   = crmhooks_setup_env( 'CRMHOOKS_ACCESS_KEY' );
$settings['ac_base_url']  = $standin;
$settings['ac_api_token'] = $seed['activecampaign']['api_token'] ?? 'ac-test-token';
$settings['op_base_url']  = $standin . '/1/';
$settings['op_app_id']    = $seed['ontraport']['app_id'] ?? 'op-test-app';
$settings['op_api_key']   = $seed['ontraport']['api_key'] ?? 'op-test-key';

$plugin_file = 'crmhooks/crmhooks.php';
if ( ! file_exists( WP_PLUGIN_DIR . '/' . $plugin_file ) ) {
	fwrite( STDERR, "wp-setup: WARNING php-shim/crmhooks.php does not exist yet: plugin NOT activated (settings written anyway)\n" );
} elseif ( ! is_plugin_active( $plugin_file ) ) {
	// Settings first, so the activation hook sees the stack's values.
	update_option( 'crmhooks_settings', $settings );
	$result = activate_plugin( $plugin_file );
	if ( is_wp_error( $result ) ) {
		fwrite( STDERR, 'wp-setup: activating crmhooks failed: ' . $result->get_error_message() . "\n" );
		exit( 1 );
	}
	echo "wordpress: plugin crmhooks activated\n";
	// The activation hook may have filled in its own defaults; ours win for the stack's endpoints.
	$after    = get_option( 'crmhooks_settings' );
	$settings = array_merge( is_array( $after ) ? $after : array(), array_intersect_key( $settings, array_flip( array( 'access_key', 'ac_base_url', 'ac_api_token', 'op_base_url', 'op_app_id', 'op_api_key' ) ) ) );
}

update_option( 'crmhooks_settings', $settings );
echo 'wordpress: crmhooks_settings crm=' . $settings['crm'] . " ac/op -> $standin\n";

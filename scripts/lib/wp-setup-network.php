<?php
/**
 * Makes the stack's second WordPress a multisite network (subdirectory install), from the PHP CLI
 * (no wp-cli in Debian): wp_install() for the main site, then install_network() and
 * populate_network() -- what Tools > Network Setup does, minus its screen. Idempotent.
 *
 * Runs while WordPress loads as a single site (CRMHOOKS_NETWORK_SETUP keeps the MULTISITE
 * constants of the stack's wp-config.php undefined): a network load needs the tables made here.
 *
 * Ports: the network's domain is 127.0.0.1:PORT. Only the setup screen refuses ports
 * (network_step1(): "You cannot use port numbers such as :PORT"); install_network(),
 * populate_network() and ms-settings.php take such a domain as it is. A stack dir started again
 * on another port base gets its domain, main site and URLs moved to the new port.
 *
 * Called by scripts/lib/multisite.sh with CRMHOOKS_WP_DIR, CRMHOOKS_HOST, CRMHOOKS_ADMIN_PASSWORD.
 */

function crmhooks_network_env( $name ) {
	$value = getenv( $name );
	if ( false === $value || '' === $value ) {
		fwrite( STDERR, "wp-setup-network: missing environment variable $name\n" );
		exit( 2 );
	}
	return $value;
}

function crmhooks_network_fail( $message ) {
	fwrite( STDERR, "wp-setup-network: $message\n" );
	exit( 1 );
}

$wp_dir = crmhooks_network_env( 'CRMHOOKS_WP_DIR' );
$host   = crmhooks_network_env( 'CRMHOOKS_HOST' );
$url    = 'http://' . $host;

$_SERVER['HTTP_HOST']   = $host;
$_SERVER['SERVER_NAME'] = '127.0.0.1';
$_SERVER['REQUEST_URI'] = '/';
define( 'WP_INSTALLING', true );
define( 'CRMHOOKS_NETWORK_SETUP', true );

// No MTA here: skip the mail to the new site's admin.
function wp_new_blog_notification( $blog_title, $blog_url, $user_id, $password ) {}

require $wp_dir . '/wp-load.php';
if ( is_multisite() ) {
	crmhooks_network_fail( 'WordPress loaded as a network; the stack\'s wp-config.php must leave MULTISITE undefined under CRMHOOKS_NETWORK_SETUP' );
}
require_once ABSPATH . 'wp-admin/includes/upgrade.php'; // wp_install(), install_network(), populate_network() (schema.php)
require_once ABSPATH . 'wp-admin/includes/network.php'; // network_domain_check()

global $wpdb;
// A single-site load leaves the network tables' names empty ($wpdb->site, ->blogs, ...): name
// them, as wp-admin/network.php does before its setup screen.
foreach ( $wpdb->tables( 'ms_global' ) as $table => $prefixed_table ) {
	$wpdb->$table = $prefixed_table;
}

if ( ! is_blog_installed() ) {
	$result = wp_install( 'crmhooks dev network', 'admin', 'admin@example.com', true, '', crmhooks_network_env( 'CRMHOOKS_ADMIN_PASSWORD' ) );
	if ( is_wp_error( $result ) ) {
		crmhooks_network_fail( 'wp_install failed: ' . $result->get_error_message() );
	}
	echo "wordpress multisite: main site installed (admin user: admin)\n";
}
// wp_install() guesses the URL from the script path; the main site lives at the root.
foreach ( array( 'home', 'siteurl' ) as $option ) {
	if ( get_option( $option ) !== $url ) {
		update_option( $option, $url );
	}
}

$domain = network_domain_check(); // The network's domain, or false before install_network().
if ( false === $domain || null === $domain ) {
	install_network(); // The global tables: blogs, site, sitemeta, signups, ...
	$result = populate_network( 1, $host, 'admin@example.com', 'crmhooks dev network', '/', false );
	if ( is_wp_error( $result ) ) {
		crmhooks_network_fail( 'populate_network failed: ' . implode( '; ', $result->get_error_messages() ) );
	}
	if ( (string) network_domain_check() !== $host ) {
		crmhooks_network_fail( 'populate_network wrote no network for ' . $host );
	}
	echo "wordpress multisite: network created (subdirectory install, domain $host, super admin: admin)\n";
} elseif ( $domain !== $host ) {
	// The stack dir was started on another port base before: move the network to this port.
	$wpdb->update( $wpdb->site, array( 'domain' => $host ), array( 'domain' => $domain ) );
	$wpdb->update( $wpdb->blogs, array( 'domain' => $host ), array( 'domain' => $domain ) );
	foreach ( $wpdb->get_col( "SELECT blog_id FROM {$wpdb->blogs} WHERE blog_id <> 1" ) as $blog_id ) {
		$options = $wpdb->get_blog_prefix( (int) $blog_id ) . 'options';
		$wpdb->query( $wpdb->prepare( "UPDATE {$options} SET option_value = REPLACE(option_value, %s, %s) WHERE option_name IN ('home', 'siteurl')", 'http://' . $domain, $url ) );
	}
	echo "wordpress multisite: network moved from $domain to $host\n";
}

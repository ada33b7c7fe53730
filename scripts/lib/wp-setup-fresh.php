<?php
/**
 * Installs the stack's fresh site (scripts/lib/fresh-site.sh) from the PHP CLI: wp_install(),
 * the theme and pretty permalinks, and nothing of crmhooks, which is installed from the release
 * zip afterwards. Called with CRMHOOKS_WP_DIR, CRMHOOKS_HOST, CRMHOOKS_ADMIN_PASSWORD.
 */

function crmhooks_fresh_env( $name ) {
	$value = getenv( $name );
	if ( false === $value || '' === $value ) {
		fwrite( STDERR, "wp-setup-fresh: missing environment variable $name\n" );
		exit( 2 );
	}
	return $value;
}

$_SERVER['HTTP_HOST']   = crmhooks_fresh_env( 'CRMHOOKS_HOST' );
$_SERVER['SERVER_NAME'] = '127.0.0.1';
$_SERVER['REQUEST_URI'] = '/';
define( 'WP_INSTALLING', true );

// wp_install() mails the admin; there is no MTA here ("sendmail: not found"), so skip that mail.
function wp_new_blog_notification( $blog_title, $blog_url, $user_id, $password ) {}

require crmhooks_fresh_env( 'CRMHOOKS_WP_DIR' ) . '/wp-load.php';
require_once ABSPATH . 'wp-admin/includes/upgrade.php';

$result = wp_install( 'crmhooks fresh site', 'admin', 'admin@example.com', true, '', crmhooks_fresh_env( 'CRMHOOKS_ADMIN_PASSWORD' ) );
if ( is_wp_error( $result ) ) {
	fwrite( STDERR, 'wp-setup-fresh: wp_install failed: ' . $result->get_error_message() . "\n" );
	exit( 1 );
}
if ( wp_get_theme( 'twentytwentythree' )->exists() ) {
	switch_theme( 'twentytwentythree' );
}
global $wp_rewrite;
$wp_rewrite->set_permalink_structure( '/%postname%/' );
$wp_rewrite->flush_rules( false );
echo "fresh site: installed (admin user: admin, theme twentytwentythree, permalinks /%postname%/)\n";

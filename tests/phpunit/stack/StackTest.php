<?php
use PHPUnit\Framework\TestCase;

/**
 * The development stack itself: both php-fpm pools serve the site, the plugin is active and
 * configured for the stand-in, the stand-in and the admin user exist.
 */
final class StackTest extends TestCase {

	public function test_runtime_ffi_site_answers_200(): void {
		$response = CrmHooks_Test_Site::request( 'GET', CrmHooks_Test_Site::url( '/' ) );
		$this->assertSame( 200, $response['status'] );
	}

	public function test_preload_site_answers_200(): void {
		$response = CrmHooks_Test_Site::request( 'GET', CrmHooks_Test_Site::preload_url( '/' ) );
		$this->assertSame( 200, $response['status'] );
	}

	public function test_links_keep_the_port_of_the_request(): void {
		$response = CrmHooks_Test_Site::request( 'GET', CrmHooks_Test_Site::preload_url( '/' ) );
		$this->assertStringContainsString( CrmHooks_Test_Site::preload_url( '/' ), $response['body'] );
	}

	public function test_plugin_is_active(): void {
		CrmHooks_Test_Site::fresh();
		$this->assertTrue( is_plugin_active( 'crmhooks/crmhooks.php' ), 'crmhooks/crmhooks.php is not active' );
	}

	public function test_page_view_without_webhook_params_is_200(): void {
		$response = CrmHooks_Test_Site::request( 'GET', CrmHooks_Test_Site::url( '/hello-world/' ) );
		$this->assertSame( 200, $response['status'] );
		$this->assertStringContainsString( 'Hello world', $response['body'] );
	}

	public function test_rest_api_answers_through_pretty_permalinks(): void {
		$response = CrmHooks_Test_Site::request( 'GET', CrmHooks_Test_Site::url( '/wp-json/' ) );
		$this->assertSame( 200, $response['status'] );
		$this->assertIsArray( $response['json'] );
		$this->assertArrayHasKey( 'routes', $response['json'] );
	}

	public function test_standin_answers_health(): void {
		$this->assertSame( true, CrmHooks_Test_Standin::health()['ok'] ?? null );
	}

	public function test_admin_user_exists(): void {
		CrmHooks_Test_Site::fresh();
		$admin = get_user_by( 'login', 'admin' );
		$this->assertInstanceOf( WP_User::class, $admin );
		$this->assertContains( 'administrator', $admin->roles );
	}

	public function test_settings_point_at_the_standin(): void {
		CrmHooks_Test_Site::fresh();
		$stored = get_option( 'crmhooks_settings' );
		$this->assertIsArray( $stored );
		$this->assertStringStartsWith( 'crmhooks-enc:', $stored['access_key'], 'the key is encrypted at rest' );
		$settings = CrmHooks_Settings::all();
		$this->assertSame( CrmHooks_Test_Site::access_key(), $settings['access_key'] );
		$this->assertSame( CrmHooks_Test_Standin::url(), $settings['ac_base_url'] );
		$this->assertSame( CrmHooks_Test_Standin::url( '/1/' ), $settings['op_base_url'] );
	}
}

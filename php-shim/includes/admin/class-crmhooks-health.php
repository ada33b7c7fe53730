<?php
/**
 * Tells administrators when FFI or the library is unusable, and exactly what to change:
 * an admin notice (ini/file checks only, no FFI call) and a Site Health test (loads the library).
 */

declare(strict_types=1);

final class CrmHooks_Health {

	/** What is wrong, or null. No FFI call: ini values, files, and the last failure a webhook saw. */
	public static function problem(): ?string {
		$problem = CrmHooks_Native::diagnose();
		if ( $problem !== null ) {
			return $problem;
		}
		$seen = get_option( CrmHooks_Webhook::NATIVE_STATUS_OPTION );
		if ( ! is_array( $seen ) || empty( $seen['message'] ) ) {
			return null;
		}
		// A webhook failed to load the library earlier: check once whether that still holds
		// (only on admin screens, and only while a failure is on record).
		try {
			CrmHooks_Native::get();
			delete_option( CrmHooks_Webhook::NATIVE_STATUS_OPTION );
			return null;
		} catch ( Throwable $e ) {
			return (string) $seen['message'];
		}
	}

	public static function admin_notice(): void {
		if ( ! current_user_can( 'manage_options' ) ) {
			return;
		}
		$problem = self::problem();
		if ( $problem === null ) {
			return;
		}
		echo '<div class="notice notice-error"><p><strong>' . esc_html__( 'crmhooks cannot process webhooks:', 'crmhooks' )
			. '</strong> ' . esc_html( $problem ) . ' '
			. esc_html__( 'The site keeps working; webhooks answer 503 until this is fixed.', 'crmhooks' ) . '</p></div>';
	}

	public static function register_site_health_test( array $tests ): array {
		$tests['direct']['crmhooks_ffi']     = array(
			'label' => __( 'crmhooks library (PHP FFI)', 'crmhooks' ),
			'test'  => array( self::class, 'site_health_test' ),
		);
		$tests['direct']['crmhooks_secrets'] = array(
			'label' => __( 'crmhooks stored credentials', 'crmhooks' ),
			'test'  => array( self::class, 'secrets_test' ),
		);
		$tests['direct']['crmhooks_early']   = array(
			'label' => __( 'crmhooks early acknowledgement', 'crmhooks' ),
			'test'  => array( self::class, 'early_test' ),
		);
		return $tests;
	}

	/** The must-use loader answers webhooks before other plugins load; without it, init does. */
	public static function early_test(): array {
		$installed = CrmHooks_Early::installed();
		$result    = array(
			'badge'   => array(
				'label' => __( 'crmhooks', 'crmhooks' ),
				'color' => $installed ? 'blue' : 'orange',
			),
			'test'    => 'crmhooks_early',
			'actions' => '',
		);
		if ( $installed || CrmHooks_Early::install() ) {
			return $result + array(
				'status'      => 'good',
				'label'       => __( 'crmhooks answers webhooks before other plugins load', 'crmhooks' ),
				'description' => '<p>' . esc_html__( 'The must-use loader in wp-content/mu-plugins acknowledges CRM webhooks before regular plugins load, so the CRM gets its answer quickly however heavy the site is.', 'crmhooks' ) . '</p>',
			);
		}
		return $result + array(
			'status'      => 'recommended',
			'label'       => __( 'crmhooks answers webhooks only after every plugin has loaded', 'crmhooks' ),
			/* translators: %s: a directory path */
			'description' => '<p>' . esc_html( sprintf( __( 'crmhooks could not write its must-use loader into %s (not writable). Webhooks still work, but each answer waits for every plugin of the site to load. Make the directory writable and open this page again.', 'crmhooks' ), WPMU_PLUGIN_DIR ) ) . '</p>',
		);
	}

	/** Credentials are encrypted with a key from wp-config.php; changed salts make them unreadable. */
	public static function secrets_test(): array {
		$broken = CrmHooks_Secrets::undecryptable();
		$result = array(
			'badge'   => array(
				'label' => __( 'crmhooks', 'crmhooks' ),
				'color' => $broken === array() ? 'blue' : 'red',
			),
			'test'    => 'crmhooks_secrets',
			'actions' => '',
		);
		if ( $broken === array() ) {
			return $result + array(
				'status'      => 'good',
				'label'       => __( 'crmhooks credentials are stored encrypted', 'crmhooks' ),
				'description' => '<p>' . esc_html__( 'The access key and CRM credentials are encrypted in the database with a key from wp-config.php.', 'crmhooks' ) . '</p>',
			);
		}
		return $result + array(
			'status'      => 'critical',
			'label'       => __( 'crmhooks cannot read its stored credentials', 'crmhooks' ),
			'description' => '<p>' . esc_html(
				sprintf(
				/* translators: %s: setting names */
					__( 'These settings no longer decrypt, usually because the salts in wp-config.php changed: %s. Webhooks are refused until you enter them again under Settings → crmhooks (or generate a new access key).', 'crmhooks' ),
					implode( ', ', $broken )
				)
			) . '</p>',
		);
	}

	public static function site_health_test(): array {
		$result = array(
			'badge'   => array(
				'label' => __( 'crmhooks', 'crmhooks' ),
				'color' => 'blue',
			),
			'test'    => 'crmhooks_ffi',
			'actions' => '',
		);
		try {
			$native = CrmHooks_Native::get();
			return $result + array(
				'status'      => 'good',
				'label'       => __( 'The crmhooks library is loaded', 'crmhooks' ),
				'description' => '<p>' . esc_html(
					sprintf(
					/* translators: 1: library version, 2: loading mode */
						__( 'libcrmhooks %1$s is loaded through FFI (%2$s); webhooks can be processed.', 'crmhooks' ),
						$native->abi_version(),
						$native->mode
					)
				) . '</p>',
			);
		} catch ( Throwable $e ) {
			return array_merge(
				$result,
				array(
					'status'      => 'critical',
					'badge'       => array(
						'label' => __( 'crmhooks', 'crmhooks' ),
						'color' => 'red',
					),
					'label'       => __( 'crmhooks cannot load its library; webhooks answer 503', 'crmhooks' ),
					'description' => '<p>' . esc_html( $e->getMessage() ) . '</p>',
				)
			);
		}
	}
}

<?php
/**
 * Tells administrators when FFI or the library is unusable, and exactly what to change:
 * an admin notice (ini/file checks only, no FFI call) and Site Health: the library, the stored
 * credentials, the CRM connection (async, over REST), the queue, background processing, and a
 * section on the Info tab without secrets. The queue and cron verdicts come from the library
 * (src/queue/health.rs); this class gathers the facts and words the verdicts.
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
		$tests['direct']['crmhooks_ffi']        = array(
			'label' => __( 'crmhooks library (PHP FFI)', 'crmhooks' ),
			'test'  => array( self::class, 'site_health_test' ),
		);
		$tests['direct']['crmhooks_secrets']    = array(
			'label' => __( 'crmhooks stored credentials', 'crmhooks' ),
			'test'  => array( self::class, 'secrets_test' ),
		);
		$tests['direct']['crmhooks_queue']      = array(
			'label' => __( 'crmhooks queue', 'crmhooks' ),
			'test'  => array( self::class, 'queue_test' ),
		);
		$tests['direct']['crmhooks_background'] = array(
			'label' => __( 'crmhooks background processing', 'crmhooks' ),
			'test'  => array( self::class, 'background_test' ),
		);
		// A CRM call may take seconds: Site Health runs it after the page loads, over REST.
		$tests['async']['crmhooks_crm']    = array(
			'label'             => __( 'crmhooks CRM connection', 'crmhooks' ),
			'test'              => rest_url( self::REST_NAMESPACE . self::REST_CRM_ROUTE ),
			'has_rest'          => true,
			'async_direct_test' => array( self::class, 'crm_test' ),
		);
		$tests['direct']['crmhooks_early'] = array(
			'label' => __( 'crmhooks early acknowledgement', 'crmhooks' ),
			'test'  => array( self::class, 'early_test' ),
		);
		return $tests;
	}

	public const REST_NAMESPACE = 'crmhooks/v1';
	public const REST_CRM_ROUTE = '/site-health/crm';

	/** rest_api_init: the async CRM test, for users who may view Site Health checks. */
	public static function register_rest_route(): void {
		register_rest_route(
			self::REST_NAMESPACE,
			self::REST_CRM_ROUTE,
			array(
				'methods'             => 'GET',
				'callback'            => static fn(): WP_REST_Response => new WP_REST_Response( self::crm_test() ),
				'permission_callback' => static fn(): bool => current_user_can( 'view_site_health_checks' ),
			)
		);
	}

	/** A Site Health result with the plugin's badge (blue when good, red otherwise). */
	private static function result( string $test, string $status, string $label, string $description ): array {
		return array(
			'badge'       => array(
				'label' => __( 'crmhooks', 'crmhooks' ),
				'color' => $status === 'good' ? 'blue' : ( $status === 'critical' ? 'red' : 'orange' ),
			),
			'test'        => $test,
			'status'      => $status,
			'label'       => $label,
			'description' => '<p>' . esc_html( $description ) . '</p>',
			'actions'     => '',
		);
	}

	/** The CRM answers with the stored credentials: a listing of its tags and fields (also refreshes the name cache). */
	public static function crm_test(): array {
		try {
			$schema = CrmHooks_Crm::list_schema();
			/* translators: 1: CRM name, 2: number of tags, 3: number of fields */
			$words = sprintf( __( '%1$s answered with the stored credentials (%2$d tags, %3$d fields).', 'crmhooks' ), (string) CrmHooks_Settings::get( 'crm' ), count( (array) ( $schema['tags'] ?? array() ) ), count( (array) ( $schema['fields'] ?? array() ) ) );
			return self::result( 'crmhooks_crm', 'good', __( 'crmhooks reaches the CRM', 'crmhooks' ), $words );
		} catch ( CrmHooks_Native_Unavailable $e ) {
			return self::result( 'crmhooks_crm', 'critical', __( 'crmhooks cannot load its library', 'crmhooks' ), $e->getMessage() );
		} catch ( CrmHooks_Native_Error $e ) {
			$words = array(
				CrmHooks_Native::CRM_UNAUTHORIZED => array( __( 'The CRM refused the crmhooks credentials', 'crmhooks' ), __( 'The CRM was reached but refused the API credentials. Enter them again under Settings → crmhooks.', 'crmhooks' ) ),
				CrmHooks_Native::CRM_TEMPORARY    => array( __( 'crmhooks cannot reach the CRM', 'crmhooks' ), __( 'The CRM could not be reached or had a temporary error. Check the API URL under Settings → crmhooks and that this server may connect to it.', 'crmhooks' ) ),
			)[ $e->getCode() ] ?? array( __( 'The CRM refused the crmhooks request', 'crmhooks' ), __( 'Check the CRM and its credentials under Settings → crmhooks.', 'crmhooks' ) );
			return self::result( 'crmhooks_crm', 'critical', $words[0], $words[1] . ( $e->last_error !== '' ? ' (' . $e->last_error . ')' : '' ) );
		}
	}

	/**
	 * The library's verdicts on the queue and on cron, from the facts read here.
	 *
	 * @return array{0:array, 1:array} the verdicts, and the queue facts (for the words)
	 */
	private static function verdicts(): array {
		$kind          = 'health';
		$now           = time();
		$cron_disabled = defined( 'DISABLE_WP_CRON' ) && DISABLE_WP_CRON;
		$next          = wp_next_scheduled( CrmHooks_Worker::CRON_HOOK );
		$next_cron_at  = $next === false ? null : (int) $next;
		$facts         = CrmHooks_Jobs::health_facts( $now );
		$query         = compact( 'kind', 'now', 'cron_disabled', 'next_cron_at' ) + array_intersect_key( $facts, array_flip( array( 'oldest_due_at', 'failed_24h' ) ) );
		return array( CrmHooks_Jobs::decide( $query ), $facts );
	}

	public static function queue_test(): array {
		try {
			list( $verdict, $facts ) = self::verdicts();
		} catch ( Throwable $e ) {
			return self::result( 'crmhooks_queue', 'critical', __( 'crmhooks cannot judge its queue', 'crmhooks' ), $e->getMessage() );
		}
		$stats = CrmHooks_Jobs::stats();
		/* translators: 1: queued jobs, 2: running jobs, 3: failed jobs in the last 24 hours */
		$counts = sprintf( __( 'Queued: %1$d, running: %2$d, failed in the last 24 hours: %3$d.', 'crmhooks' ), $stats['queued'], $stats['running'], $facts['failed_24h'] );
		$wait   = human_time_diff( 0, max( 1, (int) $verdict['due_wait_secs'] ) );
		$words  = array(
			'ok'              => array( __( 'The crmhooks queue is healthy', 'crmhooks' ), __( 'No job waits past its time.', 'crmhooks' ) ),
			'failed_recently' => array( __( 'crmhooks jobs failed in the last 24 hours', 'crmhooks' ), __( 'Tools → crmhooks Queue lists them with the reason; retry them once the cause is fixed.', 'crmhooks' ) ),
			/* translators: %s: how long, e.g. "5 mins" */
			'due_waiting'     => array( __( 'crmhooks jobs wait longer than usual', 'crmhooks' ), sprintf( __( 'The oldest due job has waited %s. Queue runs start after each webhook and from WP-Cron every minute; check the background processing test.', 'crmhooks' ), $wait ) ),
			/* translators: %s: how long, e.g. "2 hours" */
			'stalled'         => array( __( 'The crmhooks queue is not being processed', 'crmhooks' ), sprintf( __( 'The oldest due job has waited %s: no queue run is working. Use "Process now" under Tools → crmhooks Queue and check the background processing test.', 'crmhooks' ), $wait ) ),
		)[ (string) $verdict['queue']['reason'] ];
		return self::result( 'crmhooks_queue', (string) $verdict['queue']['status'], $words[0], $words[1] . ' ' . $counts );
	}

	public static function background_test(): array {
		try {
			list( $verdict, $facts ) = self::verdicts();
		} catch ( Throwable $e ) {
			return self::result( 'crmhooks_background', 'critical', __( 'crmhooks cannot judge its background processing', 'crmhooks' ), $e->getMessage() );
		}
		/* translators: %s: how long, e.g. "20 mins" */
		$late  = sprintf( __( 'The every-minute queue run is %s late.', 'crmhooks' ), human_time_diff( 0, max( 1, (int) $verdict['cron_late_secs'] ) ) );
		$words = array(
			'wp_cron'             => array( __( 'crmhooks background processing works', 'crmhooks' ), __( 'Webhooks are processed right after they are answered, and WP-Cron runs the queue every minute as a safety net.', 'crmhooks' ) ),
			'system_cron'         => array( __( 'crmhooks background processing works (system cron)', 'crmhooks' ), __( 'DISABLE_WP_CRON is set and a system cron runs wp-cron.php on time: the queue runs every minute as a safety net.', 'crmhooks' ) ),
			'not_scheduled'       => array( __( 'crmhooks queue runs are not scheduled', 'crmhooks' ), __( 'The every-minute queue run is missing from WP-Cron. Deactivate and activate the plugin to schedule it again.', 'crmhooks' ) ),
			'cron_overdue'        => array( __( 'WP-Cron does not run crmhooks queue runs', 'crmhooks' ), $late . ' ' . __( 'WP-Cron needs page traffic and working loopback requests; add a system cron that calls wp-cron.php every minute (README).', 'crmhooks' ) ),
			'system_cron_overdue' => array( __( 'No cron runs crmhooks queue runs', 'crmhooks' ), $late . ' ' . __( 'DISABLE_WP_CRON is set, so a system cron must call wp-cron.php every minute; none does. Add it (README) or remove DISABLE_WP_CRON.', 'crmhooks' ) ),
		)[ (string) $verdict['background']['reason'] ];
		$last  = $facts['last_drainer_end'] === null
			? __( 'No queue run has processed a job yet.', 'crmhooks' )
			/* translators: %s: how long ago, e.g. "3 mins" */
			: sprintf( __( 'The last queue run that processed jobs ended %s ago.', 'crmhooks' ), human_time_diff( $facts['last_drainer_end'] ) );
		return self::result( 'crmhooks_background', (string) $verdict['background']['status'], $words[0], $words[1] . ' ' . $last );
	}

	/**
	 * debug_information: versions, how FFI is loaded, the settings and the queue, for the Info
	 * tab (and support copies). Credentials show only whether they are set, never a value.
	 */
	public static function debug_information( array $info ): array {
		try {
			$native  = CrmHooks_Native::get();
			$library = $native->abi_version() . ' (' . $native->mode . ', ' . ( $native->mode === 'scope' ? 'opcache.preload + ffi.preload' : CrmHooks_Native::library_path() ) . ')';
		} catch ( Throwable $e ) {
			$library = $e->getMessage();
		}
		$fields = array(
			'plugin_version' => array( __( 'Plugin version', 'crmhooks' ), CRMHOOKS_VERSION ),
			'library'        => array( __( 'Library', 'crmhooks' ), $library ),
			'ffi_enable'     => array( 'ffi.enable', (string) ini_get( 'ffi.enable' ) ),
			'ffi_preload'    => array( 'ffi.preload', (string) ini_get( 'ffi.preload' ) ),
			'queue'          => array( __( 'Queue', 'crmhooks' ), (string) wp_json_encode( CrmHooks_Jobs::stats() ) ),
		);
		$all    = CrmHooks_Settings::all();
		foreach ( CrmHooks_Secrets::KEYS as $key ) {
			$fields[ $key ] = array( $key, (string) ( $all[ $key ] ?? '' ) !== '' ? __( 'set', 'crmhooks' ) : __( 'not set', 'crmhooks' ) );
		}
		foreach ( CrmHooks_Settings::public_settings() as $key => $value ) {
			$fields[ 'setting_' . $key ] = array( $key, is_bool( $value ) ? ( $value ? 'true' : 'false' ) : ( is_scalar( $value ) ? (string) $value : (string) wp_json_encode( $value, JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE ) ) );
		}
		$info['crmhooks'] = array(
			'label'  => __( 'crmhooks', 'crmhooks' ),
			'fields' => array_map(
				static fn( array $field ): array => array(
					'label' => $field[0],
					'value' => $field[1],
				),
				$fields
			),
		);
		return $info;
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
					/* translators: 1: library version, 2: how it is loaded, 3: the version the plugin needs */
						__( 'libcrmhooks %1$s is loaded through FFI: %2$s. Its version matches the plugin (%3$s); webhooks can be processed.', 'crmhooks' ),
						$native->abi_version(),
						$native->mode === 'scope'
							? __( 'preloaded at PHP start (opcache.preload and ffi.preload, FFI::scope)', 'crmhooks' )
							/* translators: 1: ffi.enable value, 2: library path */
							: sprintf( __( 'at run time (FFI::cdef, ffi.enable=%1$s) from %2$s', 'crmhooks' ), (string) ini_get( 'ffi.enable' ), CrmHooks_Native::library_path() ),
						CrmHooks_Native::expected_version()
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

<?php
/**
 * The settings screen's sections and fields (Settings API): which setting sits in which section
 * under which label, how each is drawn, and the sanitizer of a save. Labels live here once; the
 * refusals on save name the field by the same label. Defaults and rules stay in the library.
 */

declare(strict_types=1);

final class CrmHooks_Settings_Fields {

	/** The settings page slug, also the Settings API page the sections belong to. */
	public const PAGE = 'crmhooks';

	/** Field map rows left empty below the stored ones, for new mappings. */
	private const EMPTY_MAP_ROWS = 2;

	/** WordPress profile fields offered for a mapping; any other meta key may be typed. */
	private const WP_KEYS = array( 'first_name', 'last_name', 'nickname', 'description' );

	/** Section slug => title. */
	private static function sections(): array {
		return array(
			'connection' => __( 'Connection', 'crmhooks' ),
			'users'      => __( 'Users and roles', 'crmhooks' ),
			'fields'     => __( 'Fields', 'crmhooks' ),
			'queue'      => __( 'Queue', 'crmhooks' ),
			'advanced'   => __( 'Advanced', 'crmhooks' ),
		);
	}

	/**
	 * Setting key => [section, label, kind, help, CRM it belongs to ('' for both)]. The kind picks
	 * the input (render()).
	 */
	private static function fields(): array {
		return array(
			'crm'                     => array( 'connection', __( 'CRM', 'crmhooks' ), 'crm', '', '' ),
			'ac_base_url'             => array( 'connection', __( 'ActiveCampaign API URL', 'crmhooks' ), 'url', __( 'Settings → Developer in ActiveCampaign, e.g. https://youraccount.api-us1.com', 'crmhooks' ), 'activecampaign' ),
			'ac_api_token'            => array( 'connection', __( 'ActiveCampaign API key', 'crmhooks' ), 'secret', '', 'activecampaign' ),
			'op_base_url'             => array( 'connection', __( 'Ontraport API URL', 'crmhooks' ), 'url', '', 'ontraport' ),
			'op_app_id'               => array( 'connection', __( 'Ontraport App ID', 'crmhooks' ), 'secret', __( 'Administration → Integrations → Ontraport API Instructions and Key Manager in Ontraport.', 'crmhooks' ), 'ontraport' ),
			'op_api_key'              => array( 'connection', __( 'Ontraport API key', 'crmhooks' ), 'secret', '', 'ontraport' ),
			'default_role'            => array( 'users', __( 'Role of new users', 'crmhooks' ), 'role', '', '' ),
			'role_allowlist'          => array( 'users', __( 'Roles a webhook may set', 'crmhooks' ), 'roles', __( 'A contact\'s role field may switch a user only between these roles.', 'crmhooks' ), '' ),
			'username_format'         => array( 'users', __( 'Usernames of new users', 'crmhooks' ), 'username', '', '' ),
			'return_password'         => array( 'users', __( 'Send the generated password back to the CRM', 'crmhooks' ), 'flag', '', '' ),
			'password_field'          => array( 'users', __( 'CRM field for the password', 'crmhooks' ), 'text', __( 'The CRM field key the new user\'s password is written to.', 'crmhooks' ), '' ),
			'field_map'               => array( 'fields', __( 'Field map', 'crmhooks' ), 'field_map', '', '' ),
			'meta_denylist'           => array( 'fields', __( 'Protected meta keys', 'crmhooks' ), 'list', __( 'Never written by a webhook; comma separated, * ends a prefix (e.g. billing_*). Roles, capabilities, sessions, passwords and private (_) keys are always protected.', 'crmhooks' ), '' ),
			'async'                   => array( 'queue', __( 'Process webhooks in the background', 'crmhooks' ), 'flag', __( 'Recommended: the CRM gets its answer at once and the user is updated right after.', 'crmhooks' ), '' ),
			'drain_in_web_requests'   => array( 'queue', __( 'Process the queue right after webhooks', 'crmhooks' ), 'flag', __( 'On: the request that queued a job works through the queue after its answer (one PHP worker per site at a time, at most 20 seconds a run). Off: only WP-Cron or a system cron does, so every PHP worker stays free for answers; run php wp-cron.php from the system cron every minute (README).', 'crmhooks' ), '' ),
			'queue_max'               => array( 'queue', __( 'Queue limit', 'crmhooks' ), 'number', __( 'Jobs waiting at most; beyond it the CRM is told to try again later (HTTP 503).', 'crmhooks' ), '' ),
			'max_attempts'            => array( 'queue', __( 'Tries before a job fails', 'crmhooks' ), 'number', '', '' ),
			'coalesce_cap_secs'       => array( 'queue', __( 'Longest wait for more webhooks of a contact (seconds)', 'crmhooks' ), 'number', '', '' ),
			'reconcile_enabled'       => array( 'queue', __( 'Catch up with the CRM on a schedule', 'crmhooks' ), 'flag', __( 'Asks the CRM which contacts changed since the last look and updates their users, so a webhook missed while the site was down is harmless. Never creates users.', 'crmhooks' ), '' ),
			'reconcile_interval_mins' => array( 'queue', __( 'Catch up every (minutes)', 'crmhooks' ), 'number', '', '' ),
			'reconcile_rate_share'    => array( 'queue', __( 'Share of the CRM rate limit for catching up (%)', 'crmhooks' ), 'number', __( 'Webhooks keep the rest.', 'crmhooks' ), '' ),
			'import_rate_share'       => array( 'queue', __( 'Share of the CRM rate limit for imports (%)', 'crmhooks' ), 'number', __( 'Tools → crmhooks Import.', 'crmhooks' ), '' ),
			'loopback_window_secs'    => array( 'advanced', __( 'Loopback window (seconds)', 'crmhooks' ), 'number', __( 'Webhooks caused by this site\'s own CRM writes within this time are deferred, so a change does not come back as an echo.', 'crmhooks' ), '' ),
			'retention_days'          => array( 'advanced', __( 'Keep finished jobs (days)', 'crmhooks' ), 'number', '', '' ),
			'log_retention_days'      => array( 'advanced', __( 'Keep log entries (days)', 'crmhooks' ), 'number', '', '' ),
		);
	}

	/** The label a setting has on the screen (refusals name it), or the key itself. */
	public static function label( string $key ): string {
		return self::fields()[ $key ][1] ?? $key;
	}

	/**
	 * Settings API sanitizer: the library checks every submitted value against its rule and the
	 * roles and mappings against the webhook rules; each refusal is shown naming the field.
	 */
	public static function sanitize( $input ): array {
		try {
			$normalized = CrmHooks_Settings::normalize( CrmHooks_Settings::all(), is_array( $input ) ? $input : array() );
		} catch ( Throwable $e ) {
			self::refuse( array( 'field' => 'library' ) );
			return (array) get_option( CrmHooks_Settings::OPTION, array() );
		}
		foreach ( (array) $normalized['problems'] as $problem ) {
			self::refuse( (array) $problem );
		}
		return (array) $normalized['settings'];
	}

	/** add_settings_error (when the Settings API is loaded), in words, naming the field by its label. */
	private static function refuse( array $problem ): void {
		if ( ! function_exists( 'add_settings_error' ) ) {
			return;
		}
		$field   = self::label( (string) ( $problem['field'] ?? '' ) );
		$value   = (string) ( $problem['value'] ?? '' );
		$code    = (string) ( $problem['code'] ?? '' );
		$message = array(
			'invalid_number'     => sprintf( /* translators: 1: setting, 2: smallest allowed number, 3: largest allowed number */ __( '%1$s: enter a whole number from %2$d to %3$d. The saved value was kept.', 'crmhooks' ), $field, (int) ( $problem['min'] ?? 0 ), (int) ( $problem['max'] ?? 0 ) ),
			'url_not_https'      => sprintf( /* translators: %s: setting */ __( '%s: the CRM API URL must start with https:// (the API token must never travel unencrypted). The saved value was kept.', 'crmhooks' ), $field ),
			'role_privileged'    => sprintf( /* translators: 1: setting, 2: role slug */ __( '%1$s: the role "%2$s" holds admin-level capabilities; a webhook never grants it, so it was not saved.', 'crmhooks' ), $field, $value ),
			'meta_protected'     => sprintf( /* translators: %s: user meta key */ __( 'Field map: "%s" is a protected user meta key (roles, sessions, passwords, private or crmhooks keys, or one you listed as protected); the mapping was not saved.', 'crmhooks' ), $value ),
			'invalid_choice'     => sprintf( /* translators: %s: setting */ __( '%s: choose one of the listed values. The saved value was kept.', 'crmhooks' ), $field ),
			'invalid_access_key' => __( 'The access key is generated on its own; use "Generate a new access key".', 'crmhooks' ),
		)[ $code ] ?? ( $field === 'library'
			? __( 'The crmhooks library is not available, so the settings could not be checked and were not changed.', 'crmhooks' )
			/* translators: %s: setting */
			: sprintf( __( '%s: this value is not valid. The saved value was kept.', 'crmhooks' ), $field ) );
		add_settings_error( CrmHooks_Settings::OPTION, 'crmhooks_' . sanitize_key( (string) ( $problem['field'] ?? '' ) ) . '_' . $code, $message, 'error' );
	}

	/** admin_init: the sections and fields, each input bound to its label. */
	public static function register(): void {
		foreach ( self::sections() as $slug => $title ) {
			add_settings_section( 'crmhooks_' . $slug, $title, '__return_null', self::PAGE );
		}
		$crm = (string) CrmHooks_Settings::get( 'crm' );
		foreach ( self::fields() as $key => $field ) {
			$only = $field[4];
			add_settings_field(
				'crmhooks_' . $key,
				$field[1],
				array( self::class, 'render' ),
				self::PAGE,
				'crmhooks_' . $field[0],
				array(
					'label_for' => in_array( $field[2], array( 'roles', 'field_map' ), true ) ? '' : 'crmhooks_' . $key,
					// Rows of the other CRM are hidden; the CRM select shows them (script()).
					'class'     => $only === '' ? '' : 'crmhooks-crm crmhooks-crm-' . $only . ( $only === $crm ? '' : ' hidden' ),
					'key'       => $key,
				)
			);
		}
		add_settings_field( 'crmhooks_test_connection', __( 'Test connection', 'crmhooks' ), array( self::class, 'render_test' ), self::PAGE, 'crmhooks_connection' );
	}

	/** One field's input (Settings API callback). */
	public static function render( array $args ): void {
		$key   = (string) $args['key'];
		$field = self::fields()[ $key ];
		$value = CrmHooks_Settings::get( $key );
		$name  = CrmHooks_Settings::OPTION . '[' . $key . ']';
		$id    = 'crmhooks_' . $key;
		switch ( $field[2] ) {
			case 'crm':
				self::select(
					$id,
					$name,
					(string) $value,
					array(
						'activecampaign' => 'ActiveCampaign',
						'ontraport'      => 'Ontraport',
					)
				);
				break;
			case 'url':
				echo '<input type="url" class="regular-text code" id="' . esc_attr( $id ) . '" name="' . esc_attr( $name ) . '" value="' . esc_attr( (string) $value ) . '" autocomplete="off">';
				break;
			case 'secret':
				// Never filled with the stored value; blank keeps it.
				$placeholder = (string) $value !== '' ? __( 'Stored. Leave blank to keep it.', 'crmhooks' ) : '';
				echo '<input type="password" class="regular-text" id="' . esc_attr( $id ) . '" name="' . esc_attr( $name ) . '" value="" placeholder="' . esc_attr( $placeholder ) . '" autocomplete="new-password">';
				break;
			case 'role':
				self::select( $id, $name, (string) $value, self::grantable_roles() );
				break;
			case 'roles':
				self::render_roles( $name, (array) $value );
				break;
			case 'username':
				self::select(
					$id,
					$name,
					(string) $value,
					array(
						'email'        => __( 'The email address', 'crmhooks' ),
						'first_last'   => __( 'First and last name (janedoe)', 'crmhooks' ),
						'first_number' => __( 'First name and a number (jane42)', 'crmhooks' ),
					)
				);
				break;
			case 'flag':
				// The hidden 0 makes an unchecked box arrive as false instead of "unchanged".
				echo '<input type="hidden" name="' . esc_attr( $name ) . '" value="0"><input type="checkbox" id="' . esc_attr( $id ) . '" name="' . esc_attr( $name ) . '" value="1"' . checked( (bool) $value, true, false ) . '>';
				break;
			case 'number':
				echo '<input type="number" class="small-text" id="' . esc_attr( $id ) . '" name="' . esc_attr( $name ) . '" value="' . esc_attr( (string) $value ) . '">';
				break;
			case 'list':
				echo '<input type="text" class="regular-text code" id="' . esc_attr( $id ) . '" name="' . esc_attr( $name ) . '" value="' . esc_attr( implode( ', ', (array) $value ) ) . '">';
				break;
			case 'field_map':
				self::render_field_map( $name, (array) $value );
				break;
			default:
				echo '<input type="text" class="regular-text" id="' . esc_attr( $id ) . '" name="' . esc_attr( $name ) . '" value="' . esc_attr( (string) $value ) . '">';
		}
		if ( $field[3] !== '' ) {
			echo '<p class="description">' . esc_html( $field[3] ) . '</p>';
		}
	}

	/** The Test connection button and where its answer appears (script() sends it). */
	public static function render_test(): void {
		echo '<button type="button" class="button" id="crmhooks-test-connection" data-nonce="' . esc_attr( wp_create_nonce( CrmHooks_Admin::TEST_ACTION ) ) . '">'
			. esc_html__( 'Test connection', 'crmhooks' ) . '</button> <span class="spinner" id="crmhooks-test-spinner"></span>'
			. '<p id="crmhooks-test-result" role="status" aria-live="polite"></p>'
			. '<p class="description">' . esc_html__( 'Tests the saved settings: save your changes first.', 'crmhooks' ) . '</p>';
	}

	/** The library's review of the settings with the site's roles (privileged roles, refused mappings). */
	private static function review(): ?array {
		try {
			return CrmHooks_Native::get()->settings_review( CrmHooks_Settings::plan_settings() );
		} catch ( Throwable $e ) {
			return null;
		}
	}

	/** Roles a webhook may grant: every role the library does not count as privileged. */
	private static function grantable_roles(): array {
		$review     = self::review();
		$privileged = $review !== null ? (array) ( $review['privileged_roles'] ?? array() ) : array();
		$roles      = array();
		foreach ( CrmHooks_Settings::roles() as $role ) {
			if ( ! in_array( $role['slug'], $privileged, true ) ) {
				$roles[ $role['slug'] ] = translate_user_role( $role['name'] );
			}
		}
		return $roles;
	}

	private static function render_roles( string $name, array $allowed ): void {
		// The empty member makes "no box ticked" arrive as an empty list instead of "unchanged".
		echo '<fieldset><legend class="screen-reader-text">' . esc_html( self::label( 'role_allowlist' ) ) . '</legend>'
			. '<input type="hidden" name="' . esc_attr( $name ) . '[]" value="">';
		foreach ( self::grantable_roles() as $slug => $label ) {
			echo '<label><input type="checkbox" name="' . esc_attr( $name ) . '[]" value="' . esc_attr( (string) $slug ) . '"' . checked( in_array( $slug, $allowed, true ), true, false ) . '> '
				. esc_html( $label ) . '</label><br>';
		}
		echo '</fieldset>';
	}

	/**
	 * Rows of CRM field -> WordPress key. The CRM fields come from the cached listing (Test
	 * connection and Refresh fill it); without one the CRM key is typed.
	 */
	private static function render_field_map( string $name, array $map ): void {
		$crm_fields = CrmHooks_Admin::cached_fields();
		$rows       = array_merge(
			$map,
			array_fill(
				0,
				self::EMPTY_MAP_ROWS,
				array(
					'crm_key' => '',
					'wp_key'  => '',
				)
			)
		);
		echo '<table class="widefat striped crmhooks-field-map"><thead><tr><th scope="col">' . esc_html__( 'CRM field', 'crmhooks' ) . '</th><th scope="col">'
			. esc_html__( 'WordPress field or meta key', 'crmhooks' ) . '</th></tr></thead><tbody>';
		foreach ( array_values( $rows ) as $i => $row ) {
			$crm_id = 'crmhooks_field_map_' . $i . '_crm';
			$wp_id  = 'crmhooks_field_map_' . $i . '_wp';
			echo '<tr><td><label class="screen-reader-text" for="' . esc_attr( $crm_id ) . '">' . esc_html__( 'CRM field', 'crmhooks' ) . '</label>';
			if ( $crm_fields === null ) {
				echo '<input type="text" class="regular-text code" id="' . esc_attr( $crm_id ) . '" name="' . esc_attr( $name . '[' . $i . '][crm_key]' ) . '" value="' . esc_attr( (string) $row['crm_key'] ) . '">';
			} else {
				$options = array( '' => __( '— none —', 'crmhooks' ) );
				foreach ( $crm_fields as $field ) {
					/* translators: 1: field label in the CRM, 2: field key */
					$options[ $field['key'] ] = sprintf( __( '%1$s (%2$s)', 'crmhooks' ), $field['label'] !== '' ? $field['label'] : $field['key'], $field['key'] );
				}
				if ( ! isset( $options[ $row['crm_key'] ] ) ) {
					/* translators: %s: field key */
					$options[ $row['crm_key'] ] = sprintf( __( '%s (not in the CRM\'s field list)', 'crmhooks' ), $row['crm_key'] );
				}
				self::select( $crm_id, $name . '[' . $i . '][crm_key]', (string) $row['crm_key'], $options );
			}
			echo '</td><td><label class="screen-reader-text" for="' . esc_attr( $wp_id ) . '">' . esc_html__( 'WordPress field or meta key', 'crmhooks' ) . '</label>'
				. '<input type="text" class="regular-text code" list="crmhooks-wp-keys" id="' . esc_attr( $wp_id ) . '" name="' . esc_attr( $name . '[' . $i . '][wp_key]' ) . '" value="' . esc_attr( (string) $row['wp_key'] ) . '"></td></tr>';
		}
		echo '</tbody></table><datalist id="crmhooks-wp-keys">';
		foreach ( self::WP_KEYS as $key ) {
			echo '<option value="' . esc_attr( $key ) . '"></option>';
		}
		echo '</datalist><p class="description">';
		echo $crm_fields === null
			? esc_html__( 'Test the connection to choose from the CRM\'s own fields. Rows left at none are dropped on save.', 'crmhooks' )
			: esc_html__( 'Fields as the CRM listed them; press Refresh tags and fields below after adding fields in the CRM. Rows left at none are dropped on save.', 'crmhooks' );
		echo ' ' . esc_html__( 'Keys WordPress or other plugins guard (roles, capabilities, passwords, private keys, protected keys below) are refused with a message.', 'crmhooks' ) . '</p>';
	}

	private static function select( string $id, string $name, string $current, array $options ): void {
		echo '<select id="' . esc_attr( $id ) . '" name="' . esc_attr( $name ) . '">';
		foreach ( $options as $value => $label ) {
			echo '<option value="' . esc_attr( (string) $value ) . '"' . selected( $current, (string) $value, false ) . '>' . esc_html( (string) $label ) . '</option>';
		}
		echo '</select>';
	}
}

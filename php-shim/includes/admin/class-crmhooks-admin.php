<?php
/**
 * Settings -> crmhooks: settings (Settings API), access key (show + regenerate), webhook URLs.
 * What the webhooks did is on Tools -> crmhooks Activity and Queue (tabs above the form).
 * Loaded only in is_admin().
 */

declare(strict_types=1);

require_once __DIR__ . '/class-crmhooks-admin-html.php';

final class CrmHooks_Admin {

	private const PAGE              = 'crmhooks';
	private const REGENERATE_ACTION = 'crmhooks_regenerate_key';
	private const REVEAL_ACTION     = 'crmhooks_reveal_key';
	private const REFRESH_ACTION    = 'crmhooks_refresh_names';

	/** Stands for the key in the page's URLs until the administrator asks to see it. */
	private const KEY_PLACEHOLDER = 'YOURACCESSKEY';

	public static function register(): void {
		add_action( 'admin_menu', array( self::class, 'add_menu' ) );
		add_action( 'admin_init', array( self::class, 'register_settings' ) );
		add_action( 'admin_post_' . self::REGENERATE_ACTION, array( self::class, 'regenerate_key' ) );
		add_action( 'wp_ajax_' . self::REVEAL_ACTION, array( self::class, 'reveal_key' ) );
		add_action( 'admin_post_' . self::REFRESH_ACTION, array( self::class, 'refresh_names' ) );
	}

	public static function add_menu(): void {
		add_options_page( __( 'crmhooks', 'crmhooks' ), __( 'crmhooks', 'crmhooks' ), 'manage_options', self::PAGE, array( self::class, 'render_page' ) );
	}

	public static function register_settings(): void {
		register_setting(
			'crmhooks',
			CrmHooks_Settings::OPTION,
			array(
				'type'              => 'array',
				'sanitize_callback' => array( 'CrmHooks_Settings', 'sanitize' ),
				'show_in_rest'      => false,
			)
		);
	}

	/** admin-post handler: capability and nonce, then a new key. */
	public static function regenerate_key(): void {
		if ( ! current_user_can( 'manage_options' ) ) {
			wp_die( esc_html__( 'You are not allowed to do this.', 'crmhooks' ), '', array( 'response' => 403 ) );
		}
		check_admin_referer( self::REGENERATE_ACTION );
		CrmHooks_Settings::update( array( 'access_key' => CrmHooks_Installer::new_access_key() ) );
		wp_safe_redirect(
			add_query_arg(
				array(
					'page'         => self::PAGE,
					'crmhooks_key' => 'regenerated',
				),
				admin_url( 'options-general.php' )
			)
		);
		exit;
	}

	/**
	 * admin-post handler: list the CRM's tags and fields anew (capability and nonce). The listing
	 * replaces the names every worker uses, so a tag renamed in the CRM reaches users at once.
	 */
	public static function refresh_names(): void {
		if ( ! current_user_can( 'manage_options' ) ) {
			wp_die( esc_html__( 'You are not allowed to do this.', 'crmhooks' ), '', array( 'response' => 403 ) );
		}
		check_admin_referer( self::REFRESH_ACTION );
		try {
			$schema = CrmHooks_Crm::list_schema();
			$result = count( (array) ( $schema['tags'] ?? array() ) ) . '-' . count( (array) ( $schema['fields'] ?? array() ) );
		} catch ( Throwable $e ) {
			$result = 'failed';
		}
		wp_safe_redirect(
			add_query_arg(
				array(
					'page'           => self::PAGE,
					'crmhooks_names' => $result,
				),
				admin_url( 'options-general.php' )
			)
		);
		exit;
	}

	/**
	 * admin-ajax: the access key, for an administrator who asks for it (capability and nonce).
	 * The key is never part of the page's HTML, so cached pages, saved pages and screenshots of
	 * the settings screen do not carry it.
	 */
	public static function reveal_key(): void {
		if ( ! current_user_can( 'manage_options' ) ) {
			wp_send_json_error( array( 'message' => __( 'You are not allowed to do this.', 'crmhooks' ) ), 403 );
		}
		check_ajax_referer( self::REVEAL_ACTION );
		nocache_headers();
		wp_send_json_success( array( 'key' => (string) CrmHooks_Settings::get( 'access_key' ) ) );
	}

	public static function render_page(): void {
		if ( ! current_user_can( 'manage_options' ) ) {
			return;
		}
		$s    = CrmHooks_Settings::all();
		$name = CrmHooks_Settings::OPTION;
		echo '<div class="wrap"><h1>' . esc_html__( 'crmhooks', 'crmhooks' ) . '</h1>';
		CrmHooks_Admin_Html::tabs( self::PAGE );
		// A fixed word after our own redirect, only compared: no state changes here.
		if ( isset( $_GET['crmhooks_key'] ) && 'regenerated' === sanitize_key( wp_unslash( $_GET['crmhooks_key'] ) ) ) { // phpcs:ignore WordPress.Security.NonceVerification.Recommended
			echo '<div class="notice notice-success"><p>' . esc_html__( 'A new access key was generated. Update the webhook URLs in your CRM.', 'crmhooks' ) . '</p></div>';
		}

		// Counts after our own redirect, only compared and printed as numbers.
		$names = isset( $_GET['crmhooks_names'] ) ? sanitize_key( wp_unslash( $_GET['crmhooks_names'] ) ) : ''; // phpcs:ignore WordPress.Security.NonceVerification.Recommended
		if ( preg_match( '/^(\d+)-(\d+)$/', $names, $counts ) === 1 ) {
			/* translators: 1: number of tags, 2: number of fields */
			echo '<div class="notice notice-success"><p>' . esc_html( sprintf( __( 'Loaded %1$d tags and %2$d fields from the CRM; every webhook uses these names from now on.', 'crmhooks' ), (int) $counts[1], (int) $counts[2] ) ) . '</p></div>';
		} elseif ( $names === 'failed' ) {
			echo '<div class="notice notice-error"><p>' . esc_html__( 'The CRM could not be reached to load its tags and fields. Check the connection settings and try again.', 'crmhooks' ) . '</p></div>';
		}

		// Settings form (options.php checks the nonce and manage_options).
		echo '<form method="post" action="options.php">';
		settings_fields( 'crmhooks' );
		echo '<table class="form-table" role="presentation">';
		self::row(
			__( 'CRM', 'crmhooks' ),
			self::select(
				$name . '[crm]',
				(string) $s['crm'],
				array(
					'activecampaign' => 'ActiveCampaign',
					'ontraport'      => 'Ontraport',
				)
			)
		);
		self::row( __( 'ActiveCampaign API URL', 'crmhooks' ), self::text( $name . '[ac_base_url]', (string) $s['ac_base_url'] ) );
		self::row( __( 'ActiveCampaign API token', 'crmhooks' ), self::secret( $name . '[ac_api_token]', (string) $s['ac_api_token'] !== '' ) );
		self::row( __( 'Ontraport API URL', 'crmhooks' ), self::text( $name . '[op_base_url]', (string) $s['op_base_url'] ) );
		self::row( __( 'Ontraport App ID', 'crmhooks' ), self::secret( $name . '[op_app_id]', (string) $s['op_app_id'] !== '' ) );
		self::row( __( 'Ontraport API key', 'crmhooks' ), self::secret( $name . '[op_api_key]', (string) $s['op_api_key'] !== '' ) );
		// Which roles are privileged is the library's decision (admin-level capabilities).
		$review     = CrmHooks_Settings::review( $s );
		$privileged = $review !== null ? (array) ( $review['privileged_roles'] ?? array() ) : array();
		$roles      = array();
		foreach ( CrmHooks_Settings::roles() as $role ) {
			if ( ! in_array( $role['slug'], $privileged, true ) ) {
				$roles[ $role['slug'] ] = $role['name'];
			}
		}
		self::row( __( 'Default role', 'crmhooks' ), self::select( $name . '[default_role]', (string) $s['default_role'], $roles ) );
		$never = $privileged !== array()
			/* translators: %s: comma-separated role slugs */
			? '<p class="description">' . esc_html( sprintf( __( 'Never granted by a webhook, even if listed (they hold admin-level capabilities): %s', 'crmhooks' ), implode( ', ', $privileged ) ) ) . '</p>'
			: '';
		self::row( __( 'Roles a webhook may set (slugs, comma separated)', 'crmhooks' ), self::text( $name . '[role_allowlist]', implode( ', ', (array) $s['role_allowlist'] ) ) . $never );
		$map_lines = array();
		foreach ( (array) $s['field_map'] as $m ) {
			$map_lines[] = $m['crm_key'] . ' = ' . $m['wp_key'];
		}
		self::row(
			__( 'Field map (one "CRM field key = WordPress key" per line)', 'crmhooks' ),
			'<textarea class="large-text code" rows="5" name="' . esc_attr( $name . '[field_map]' ) . '">' . esc_textarea( implode( "\n", $map_lines ) ) . '</textarea>'
		);
		self::row(
			__( 'Protected meta keys (never written by a webhook; comma separated, * ends a prefix)', 'crmhooks' ),
			self::text( $name . '[meta_denylist]', implode( ', ', (array) ( $s['meta_denylist'] ?? array() ) ) )
				. '<p class="description">' . esc_html__( 'Roles, capabilities, sessions, passwords and private (_) keys are always protected; add keys other plugins own, e.g. billing_*.', 'crmhooks' ) . '</p>'
		);
		self::row(
			__( 'Usernames', 'crmhooks' ),
			self::select(
				$name . '[username_format]',
				(string) $s['username_format'],
				array(
					'email'        => __( 'Email address', 'crmhooks' ),
					'first_last'   => __( 'firstlast', 'crmhooks' ),
					'first_number' => __( 'first name + number', 'crmhooks' ),
				)
			)
		);
		self::row( __( 'Return generated password to the CRM', 'crmhooks' ), self::checkbox( $name . '[return_password]', (bool) $s['return_password'] ) );
		self::row( __( 'CRM field for the password', 'crmhooks' ), self::text( $name . '[password_field]', (string) $s['password_field'] ) );
		self::row( __( 'Loopback window (seconds)', 'crmhooks' ), self::text( $name . '[loopback_window_secs]', (string) $s['loopback_window_secs'], 'number' ) );
		self::row( __( 'Process webhooks in the background', 'crmhooks' ), self::checkbox( $name . '[async]', (bool) $s['async'] ) );
		self::row( __( 'Queue limit (jobs waiting; more get 503 + Retry-After)', 'crmhooks' ), self::text( $name . '[queue_max]', (string) $s['queue_max'], 'number' ) );
		self::row( __( 'Tries before a job ends as failed', 'crmhooks' ), self::text( $name . '[max_attempts]', (string) $s['max_attempts'], 'number' ) );
		self::row( __( 'Longest wait for more webhooks of one contact (seconds after its first)', 'crmhooks' ), self::text( $name . '[coalesce_cap_secs]', (string) $s['coalesce_cap_secs'], 'number' ) );
		self::row( __( 'Keep finished jobs (days)', 'crmhooks' ), self::text( $name . '[retention_days]', (string) $s['retention_days'], 'number' ) );
		self::row( __( 'Keep log entries (days)', 'crmhooks' ), self::text( $name . '[log_retention_days]', (string) $s['log_retention_days'], 'number' ) );
		echo '</table>';
		submit_button();
		echo '</form>';

		// Access key and URLs.
		echo '<h2>' . esc_html__( 'Access key', 'crmhooks' ) . '</h2>';
		echo '<p><code id="crmhooks-key">' . esc_html( self::KEY_PLACEHOLDER ) . '</code> ';
		echo '<button type="button" class="button" id="crmhooks-reveal" data-nonce="' . esc_attr( wp_create_nonce( self::REVEAL_ACTION ) ) . '">'
			. esc_html__( 'Show the access key in the key and the URLs', 'crmhooks' ) . '</button></p>';
		echo '<p class="description">' . esc_html__( 'The key is loaded only when you ask for it, so it never sits in this page\'s HTML.', 'crmhooks' ) . '</p>';
		echo '<form method="post" action="' . esc_url( admin_url( 'admin-post.php' ) ) . '">';
		echo '<input type="hidden" name="action" value="' . esc_attr( self::REGENERATE_ACTION ) . '">';
		wp_nonce_field( self::REGENERATE_ACTION );
		submit_button( __( 'Generate a new access key', 'crmhooks' ), 'secondary', 'submit', false );
		echo '</form>';

		echo '<h2>' . esc_html__( 'CRM tags and fields', 'crmhooks' ) . '</h2>';
		echo '<p class="description">' . esc_html__( 'Tag names and field labels are cached for every webhook; a webhook that names other tags than the cache lists them again by itself. Refresh now after renaming tags or fields in the CRM.', 'crmhooks' ) . '</p>';
		echo '<form method="post" action="' . esc_url( admin_url( 'admin-post.php' ) ) . '">';
		echo '<input type="hidden" name="action" value="' . esc_attr( self::REFRESH_ACTION ) . '">';
		wp_nonce_field( self::REFRESH_ACTION );
		submit_button( __( 'Refresh tags and fields', 'crmhooks' ), 'secondary', 'submit', false );
		echo '</form>';

		echo '<h2>' . esc_html__( 'Webhook URLs', 'crmhooks' ) . '</h2><ul>';
		$suffix = $s['crm'] === 'ontraport' ? '&contact_id=[Contact ID]' : '';
		foreach ( array( 'add', 'update', 'update_tags' ) as $action ) {
			$url = home_url( '/' ) . '?wpf_action=' . $action . '&access_key=' . self::KEY_PLACEHOLDER . $suffix;
			echo '<li><input type="text" class="large-text code crmhooks-url" readonly onfocus="this.select()" value="' . esc_attr( $url ) . '"></li>';
		}
		echo '</ul>';
		self::print_reveal_script();

		echo '</div>';
	}

	/** The "show" button: fetches the key (admin-ajax, nonce) and fills it into the page. */
	private static function print_reveal_script(): void {
		$script = 'document.getElementById("crmhooks-reveal").addEventListener("click",function(){'
			. 'var b=this,f=new FormData();f.append("action",' . wp_json_encode( self::REVEAL_ACTION ) . ');f.append("_ajax_nonce",b.dataset.nonce);'
			. 'fetch(' . wp_json_encode( admin_url( 'admin-ajax.php' ) ) . ',{method:"POST",body:f,credentials:"same-origin"})'
			. '.then(function(r){return r.json();}).then(function(j){if(!j.success){return;}'
			. 'var k=encodeURIComponent(j.data.key);document.getElementById("crmhooks-key").textContent=j.data.key;'
			. 'document.querySelectorAll(".crmhooks-url").forEach(function(i){i.value=i.value.replace(' . wp_json_encode( self::KEY_PLACEHOLDER ) . ',k);});b.disabled=true;});});';
		wp_print_inline_script_tag( $script );
	}

	private static function row( string $label, string $field_html ): void {
		echo '<tr><th scope="row">' . esc_html( $label ) . '</th><td>' . $field_html . '</td></tr>'; // phpcs:ignore WordPress.Security.EscapeOutput.OutputNotEscaped -- $field_html is built from escaped parts by text(), secret(), select() and checkbox().
	}

	private static function text( string $name, string $value, string $type = 'text' ): string {
		return '<input type="' . esc_attr( $type ) . '" class="regular-text" name="' . esc_attr( $name ) . '" value="' . esc_attr( $value ) . '" autocomplete="off">';
	}

	/** A credential field: never filled with the stored value; blank keeps it. */
	private static function secret( string $name, bool $stored ): string {
		$placeholder = $stored ? __( 'Stored. Leave blank to keep it.', 'crmhooks' ) : '';
		return '<input type="password" class="regular-text" name="' . esc_attr( $name ) . '" value="" placeholder="' . esc_attr( $placeholder ) . '" autocomplete="new-password">';
	}

	private static function checkbox( string $name, bool $checked ): string {
		// The hidden 0 makes an unchecked box arrive as false instead of "unchanged".
		return '<input type="hidden" name="' . esc_attr( $name ) . '" value="0"><input type="checkbox" name="' . esc_attr( $name ) . '" value="1"' . checked( $checked, true, false ) . '>';
	}

	private static function select( string $name, string $current, array $options ): string {
		$html = '<select name="' . esc_attr( $name ) . '">';
		foreach ( $options as $value => $label ) {
			$html .= '<option value="' . esc_attr( (string) $value ) . '"' . selected( $current, (string) $value, false ) . '>' . esc_html( (string) $label ) . '</option>';
		}
		return $html . '</select>';
	}
}

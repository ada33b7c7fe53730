<?php
/**
 * Settings -> crmhooks: the settings (Settings API sections, CrmHooks_Settings_Fields), Test
 * connection, the access key (show + regenerate), the webhook URLs per CRM and action, the
 * "not connected yet" notice and the Plugins screen link. What the webhooks did is on
 * Tools -> crmhooks Activity and Queue (tabs above the form). Loaded only in is_admin().
 */

declare(strict_types=1);

require_once __DIR__ . '/class-crmhooks-admin-html.php';
require_once __DIR__ . '/class-crmhooks-settings-fields.php';

final class CrmHooks_Admin {

	public const TEST_ACTION        = 'crmhooks_test_connection';
	private const PAGE              = CrmHooks_Settings_Fields::PAGE;
	private const REGENERATE_ACTION = 'crmhooks_regenerate_key';
	private const REVEAL_ACTION     = 'crmhooks_reveal_key';
	private const REFRESH_ACTION    = 'crmhooks_refresh_names';

	/**
	 * The connection that last passed Test connection (a keyed hash of the CRM, its URL and
	 * credentials). Another connection is "not tested", so changing any of them brings the
	 * notice back without a hook to forget.
	 */
	public const TESTED_OPTION = 'crmhooks_connection_tested';

	/** The CRM's field listing for the field map, with the connection it came from. */
	private const SCHEMA_TRANSIENT = 'crmhooks_crm_fields';

	/** Stands for the key in the page's URLs until the administrator asks to see it. */
	private const KEY_PLACEHOLDER = 'YOURACCESSKEY';

	public static function register(): void {
		add_action( 'admin_menu', array( self::class, 'add_menu' ) );
		add_action( 'admin_init', array( self::class, 'register_settings' ) );
		add_action( 'admin_post_' . self::REGENERATE_ACTION, array( self::class, 'regenerate_key' ) );
		add_action( 'wp_ajax_' . self::REVEAL_ACTION, array( self::class, 'reveal_key' ) );
		add_action( 'wp_ajax_' . self::TEST_ACTION, array( self::class, 'test_connection' ) );
		add_action( 'admin_post_' . self::REFRESH_ACTION, array( self::class, 'refresh_names' ) );
		add_action( 'admin_notices', array( self::class, 'untested_notice' ) );
		add_filter( 'plugin_action_links_' . plugin_basename( CRMHOOKS_FILE ), array( self::class, 'plugin_links' ) );
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
				'sanitize_callback' => array( 'CrmHooks_Settings_Fields', 'sanitize' ),
				'show_in_rest'      => false,
			)
		);
		CrmHooks_Settings_Fields::register();
	}

	/** plugin_action_links_crmhooks/crmhooks.php: "Settings" first, as WordPress's own plugins do. */
	public static function plugin_links( array $links ): array {
		array_unshift( $links, '<a href="' . esc_url( self::page_url() ) . '">' . esc_html__( 'Settings', 'crmhooks' ) . '</a>' );
		return $links;
	}

	private static function page_url(): string {
		return admin_url( 'options-general.php?page=' . self::PAGE );
	}

	/** Identifies the CRM connection (CRM, URL, credentials) without holding a credential. */
	private static function connection_hash(): string {
		return hash_hmac( 'sha256', CrmHooks_Native::json( CrmHooks_Settings::crm_config() ), wp_salt( 'auth' ) );
	}

	/** admin_notices: on every admin page until this connection has passed Test connection once. */
	public static function untested_notice(): void {
		if ( ! current_user_can( 'manage_options' ) || get_option( self::TESTED_OPTION ) === self::connection_hash() ) {
			return;
		}
		echo '<div class="notice notice-warning crmhooks-untested"><p><strong>' . esc_html__( 'crmhooks is not connected yet.', 'crmhooks' ) . '</strong> '
			. esc_html__( 'Webhooks are accepted but cannot be processed until the CRM connection works. Enter the CRM\'s API URL and credentials, save, and press Test connection.', 'crmhooks' )
			. ' <a href="' . esc_url( self::page_url() ) . '">' . esc_html__( 'Open the crmhooks settings', 'crmhooks' ) . '</a></p></div>';
	}

	/**
	 * admin-ajax: lists the saved CRM account's tags and fields and says in words what happened.
	 * Success marks this connection as tested and keeps its fields for the field map.
	 */
	public static function test_connection(): void {
		if ( ! current_user_can( 'manage_options' ) ) {
			wp_send_json_error( array( 'message' => __( 'You are not allowed to do this.', 'crmhooks' ) ), 403 );
		}
		check_ajax_referer( self::TEST_ACTION );
		nocache_headers();
		try {
			$schema = self::load_schema();
		} catch ( CrmHooks_Native_Error $e ) {
			wp_send_json_error( self::connection_failure( $e ) );
		} catch ( Throwable $e ) {
			wp_send_json_error(
				array(
					'result'  => 'unavailable',
					'message' => __( 'The crmhooks library is not available, so the CRM could not be asked. Tools → Site Health says what is missing.', 'crmhooks' ),
				)
			);
		}
		update_option( self::TESTED_OPTION, self::connection_hash() );
		wp_send_json_success(
			array(
				'result'  => 'reached',
				/* translators: 1: number of tags, 2: number of fields */
				'message' => sprintf( __( 'Account reached: the CRM accepted the credentials and listed %1$d tags and %2$d fields.', 'crmhooks' ), count( (array) ( $schema['tags'] ?? array() ) ), count( (array) ( $schema['fields'] ?? array() ) ) ),
			)
		);
	}

	/** A failed CRM call in words: which of reached / refused / unreachable, and what to do. */
	private static function connection_failure( CrmHooks_Native_Error $e ): array {
		switch ( $e->getCode() ) {
			case CrmHooks_Native::CRM_UNAUTHORIZED:
				return array(
					'result'  => 'refused',
					'message' => __( 'Credentials refused: the CRM answered but did not accept the API key. Copy it again from the CRM, save, and test again.', 'crmhooks' ),
				);
			case CrmHooks_Native::CRM_TEMPORARY:
				return array(
					'result'  => 'unreachable',
					/* translators: %s: what went wrong, e.g. "connection refused" */
					'message' => sprintf( __( 'Host unreachable: the CRM at this API URL did not answer (%s). Check the API URL, or try again in a few minutes if the CRM is down.', 'crmhooks' ), $e->last_error ),
				);
			case CrmHooks_Native::CRM_RATE_LIMITED:
				return array(
					'result'  => 'busy',
					'message' => __( 'The CRM asked us to slow down. Test again in a minute.', 'crmhooks' ),
				);
			case CrmHooks_Native::CRM_NOT_FOUND:
				return array(
					'result'  => 'not_found',
					'message' => __( 'The server at this API URL answered, but has no CRM API there. Check the API URL.', 'crmhooks' ),
				);
			default:
				return array(
					'result'  => 'rejected',
					/* translators: %s: the reason the library gave, e.g. "the CRM base URL must start with https://" */
					'message' => sprintf( __( 'The CRM could not be asked: %s. Check the connection settings.', 'crmhooks' ), $e->last_error !== '' ? $e->last_error : $e->getMessage() ),
				);
		}
	}

	/** Lists the CRM's tags and fields (refreshing the names every worker uses) and keeps the fields. */
	private static function load_schema(): array {
		$schema = CrmHooks_Crm::list_schema();
		$fields = array();
		foreach ( (array) ( $schema['fields'] ?? array() ) as $field ) {
			$fields[] = array(
				'key'   => (string) ( $field['key'] ?? '' ),
				'label' => (string) ( $field['label'] ?? '' ),
			);
		}
		set_transient(
			self::SCHEMA_TRANSIENT,
			array(
				'connection' => self::connection_hash(),
				'fields'     => $fields,
			),
			WEEK_IN_SECONDS
		);
		return $schema;
	}

	/** The CRM's fields as last listed for the current connection, or null when there is no listing. */
	public static function cached_fields(): ?array {
		$cached = get_transient( self::SCHEMA_TRANSIENT );
		if ( ! is_array( $cached ) || ( $cached['connection'] ?? '' ) !== self::connection_hash() ) {
			return null;
		}
		return (array) $cached['fields'];
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
				array( 'crmhooks_key' => 'regenerated' ),
				self::page_url()
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
			$schema = self::load_schema();
			$result = count( (array) ( $schema['tags'] ?? array() ) ) . '-' . count( (array) ( $schema['fields'] ?? array() ) );
		} catch ( Throwable $e ) {
			$result = 'failed';
		}
		wp_safe_redirect(
			add_query_arg(
				array( 'crmhooks_names' => $result ),
				self::page_url()
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
		echo '<div class="wrap"><h1>' . esc_html__( 'crmhooks', 'crmhooks' ) . '</h1>';
		CrmHooks_Admin_Html::tabs( self::PAGE );
		self::redirect_notices();

		// Settings form (options.php checks the nonce and manage_options; refusals show above).
		echo '<form method="post" action="options.php" id="crmhooks-settings-form">';
		settings_fields( 'crmhooks' );
		do_settings_sections( self::PAGE );
		submit_button();
		echo '</form>';

		self::render_webhook_urls();

		echo '<h2>' . esc_html__( 'Access key', 'crmhooks' ) . '</h2>';
		echo '<p class="description">' . esc_html__( 'The key in the URLs is what lets the CRM in. A new key stops every URL with the old one: update them in the CRM afterwards.', 'crmhooks' ) . '</p>';
		echo '<form method="post" action="' . esc_url( admin_url( 'admin-post.php' ) ) . '">';
		echo '<input type="hidden" name="action" value="' . esc_attr( self::REGENERATE_ACTION ) . '">';
		wp_nonce_field( self::REGENERATE_ACTION );
		submit_button( __( 'Generate a new access key', 'crmhooks' ), 'secondary', 'submit', false );
		echo '</form>';

		echo '<h2>' . esc_html__( 'CRM tags and fields', 'crmhooks' ) . '</h2>';
		echo '<p class="description">' . esc_html__( 'Tag names and field labels are cached for every webhook and for the field map; a webhook that names other tags than the cache lists them again by itself. Refresh now after renaming tags or adding fields in the CRM.', 'crmhooks' ) . '</p>';
		echo '<form method="post" action="' . esc_url( admin_url( 'admin-post.php' ) ) . '">';
		echo '<input type="hidden" name="action" value="' . esc_attr( self::REFRESH_ACTION ) . '">';
		wp_nonce_field( self::REFRESH_ACTION );
		submit_button( __( 'Refresh tags and fields', 'crmhooks' ), 'secondary', 'submit', false );
		echo '</form>';

		self::print_script();
		echo '</div>';
	}

	/** Notices after our own redirects: fixed words picked by a fixed value, no state changes here. */
	private static function redirect_notices(): void {
		// phpcs:disable WordPress.Security.NonceVerification.Recommended
		if ( isset( $_GET['crmhooks_key'] ) && 'regenerated' === sanitize_key( wp_unslash( $_GET['crmhooks_key'] ) ) ) {
			CrmHooks_Admin_Html::notice( 'success', __( 'A new access key was generated. Update the webhook URLs in your CRM.', 'crmhooks' ) );
		}
		$names = isset( $_GET['crmhooks_names'] ) ? sanitize_key( wp_unslash( $_GET['crmhooks_names'] ) ) : '';
		// phpcs:enable
		if ( preg_match( '/^(\d+)-(\d+)$/', $names, $counts ) === 1 ) {
			/* translators: 1: number of tags, 2: number of fields */
			CrmHooks_Admin_Html::notice( 'success', sprintf( __( 'Loaded %1$d tags and %2$d fields from the CRM; every webhook uses these names from now on.', 'crmhooks' ), (int) $counts[1], (int) $counts[2] ) );
		} elseif ( $names === 'failed' ) {
			CrmHooks_Admin_Html::notice( 'error', __( 'The CRM could not be reached to load its tags and fields. Check the connection settings and press Test connection.', 'crmhooks' ) );
		}
	}

	/**
	 * The URLs to paste into the CRM, per CRM and action. The key stays out of the HTML: the
	 * URLs carry a placeholder until "Show" (or a Copy button) fetches the key.
	 */
	private static function render_webhook_urls(): void {
		$crm = (string) CrmHooks_Settings::get( 'crm' );
		// Action => [label, what it does].
		$actions = array(
			'add'         => array( __( 'Add', 'crmhooks' ), __( 'Creates the WordPress user when there is none, then keeps it up to date. Use it where a contact should get an account (a tag applied, a purchase).', 'crmhooks' ) ),
			'update'      => array( __( 'Update', 'crmhooks' ), __( 'Updates the existing user from the contact; contacts without a user are skipped.', 'crmhooks' ) ),
			'update_tags' => array( __( 'Update tags', 'crmhooks' ), __( 'Updates the existing user\'s tags (and role) only.', 'crmhooks' ) ),
			'test'        => array( __( 'Test', 'crmhooks' ), __( 'Answers success when the URL and key are right, and changes nothing.', 'crmhooks' ) ),
		);
		$crms    = array(
			'activecampaign' => array(
				'ActiveCampaign',
				'',
				__( 'In ActiveCampaign: Settings → Developer → Webhooks (for every contact) or an automation\'s "Webhook" action. ActiveCampaign sends webhooks only to https:// addresses on port 443.', 'crmhooks' ),
			),
			'ontraport'      => array(
				'Ontraport',
				'&contact_id=[Contact ID]',
				__( 'In Ontraport: an automation\'s "Send a Webhook" (Ping URL) step, method POST, data left blank. [Contact ID] is Ontraport\'s merge field: pick it from the merge field list so Ontraport fills in the contact.', 'crmhooks' ),
			),
		);
		echo '<h2>' . esc_html__( 'Webhook URLs', 'crmhooks' ) . '</h2>';
		echo '<p><code id="crmhooks-key">' . esc_html( self::KEY_PLACEHOLDER ) . '</code> ';
		echo '<button type="button" class="button" id="crmhooks-reveal" data-nonce="' . esc_attr( wp_create_nonce( self::REVEAL_ACTION ) ) . '">'
			. esc_html__( 'Show the access key in the key and the URLs', 'crmhooks' ) . '</button></p>';
		echo '<p class="description">' . esc_html__( 'The key is loaded only when you ask for it (Show or Copy), so it never sits in this page\'s HTML.', 'crmhooks' ) . '</p>';
		$https = wp_parse_url( home_url( '/' ), PHP_URL_SCHEME ) === 'https';
		foreach ( $crms as $slug => $about ) {
			echo '<div class="crmhooks-crm crmhooks-crm-' . esc_attr( $slug ) . ( $slug === $crm ? '' : ' hidden' ) . '" id="crmhooks-urls-' . esc_attr( $slug ) . '">';
			/* translators: %s: CRM name */
			echo '<h3>' . esc_html( sprintf( __( 'URLs for %s', 'crmhooks' ), $about[0] ) ) . '</h3><p>' . esc_html( $about[2] ) . '</p>';
			if ( $slug === 'activecampaign' && ! $https ) {
				echo '<div class="notice notice-warning inline"><p>' . esc_html__( 'This site\'s address starts with http://, so ActiveCampaign will not send webhooks to it. Serve the site over https:// first.', 'crmhooks' ) . '</p></div>';
			}
			echo '<table class="form-table" role="presentation">';
			foreach ( $actions as $action => $words ) {
				$id  = 'crmhooks-url-' . $slug . '-' . $action;
				$url = home_url( '/' ) . '?wpf_action=' . $action . '&access_key=' . self::KEY_PLACEHOLDER . $about[1];
				echo '<tr><th scope="row"><label for="' . esc_attr( $id ) . '">' . esc_html( $words[0] ) . '</label></th><td>'
					. '<input type="text" class="code crmhooks-url" id="' . esc_attr( $id ) . '" readonly value="' . esc_attr( $url ) . '"> '
					. '<button type="button" class="button crmhooks-copy" data-target="' . esc_attr( $id ) . '">' . esc_html__( 'Copy', 'crmhooks' ) . '</button>'
					. '<p class="description">' . esc_html( $words[1] ) . '</p></td></tr>';
			}
			echo '</table></div>';
		}
	}

	/**
	 * The page's script, local and small: the CRM select shows its own rows and URLs; Show and
	 * Copy fetch the key (admin-ajax, nonce); Test connection asks the CRM and prints the answer.
	 */
	private static function print_script(): void {
		$words  = array(
			'ajax'        => admin_url( 'admin-ajax.php' ),
			'placeholder' => self::KEY_PLACEHOLDER,
			'reveal'      => self::REVEAL_ACTION,
			'test'        => self::TEST_ACTION,
			'copied'      => __( 'Copied', 'crmhooks' ),
			'copy_failed' => __( 'Select the URL and copy it by hand', 'crmhooks' ),
			'failed'      => __( 'The site did not answer; reload the page and try again.', 'crmhooks' ),
		);
		$script = 'var crmhooks=' . wp_json_encode( $words ) . ';
(function(c){
function $(id){return document.getElementById(id);}
function post(action,nonce){var f=new FormData();f.append("action",action);f.append("_ajax_nonce",nonce);
 return fetch(c.ajax,{method:"POST",body:f,credentials:"same-origin"}).then(function(r){return r.json();});}
var crm=$("crmhooks_crm");
function showCrm(){document.querySelectorAll(".crmhooks-crm").forEach(function(el){el.classList.toggle("hidden",!el.classList.contains("crmhooks-crm-"+crm.value));});}
if(crm){crm.addEventListener("change",showCrm);}
var key=null;
function reveal(){if(key!==null){return Promise.resolve(key);}
 return post(c.reveal,$("crmhooks-reveal").dataset.nonce).then(function(j){if(!j.success){throw new Error("refused");}
  key=j.data.key;$("crmhooks-key").textContent=key;$("crmhooks-reveal").disabled=true;
  document.querySelectorAll(".crmhooks-url").forEach(function(i){i.value=i.value.replace(c.placeholder,encodeURIComponent(key));});return key;});}
$("crmhooks-reveal").addEventListener("click",function(){reveal();});
document.querySelectorAll(".crmhooks-copy").forEach(function(b){b.addEventListener("click",function(){
 var input=$(b.dataset.target);
 reveal().then(function(){input.select();
  return navigator.clipboard?navigator.clipboard.writeText(input.value):(document.execCommand("copy")?null:Promise.reject());})
 .then(function(){b.textContent=c.copied;},function(){b.textContent=c.copy_failed;});});});
var test=$("crmhooks-test-connection");
if(test){test.addEventListener("click",function(){var out=$("crmhooks-test-result"),spin=$("crmhooks-test-spinner");
 test.disabled=true;spin.classList.add("is-active");out.className="";out.textContent="";
 post(c.test,test.dataset.nonce).then(function(j){out.dataset.result=j.data.result;out.textContent=j.data.message;
  out.className="crmhooks-test-"+(j.success?"good":"bad");},function(){out.dataset.result="failed";out.textContent=c.failed;out.className="crmhooks-test-bad";})
 .then(function(){test.disabled=false;spin.classList.remove("is-active");});});}
})(crmhooks);';
		wp_print_inline_script_tag( $script );
		echo '<style>.crmhooks-test-good{color:#007017;font-weight:600}.crmhooks-test-bad{color:#b32d2e;font-weight:600}'
			. '.crmhooks-field-map{max-width:760px}.crmhooks-field-map th,.crmhooks-field-map td{padding:6px 10px;width:auto}.crmhooks-url{width:calc(100% - 90px);max-width:720px}.crmhooks-field-map select,.crmhooks-field-map input{width:100%;max-width:none}'
			. '#crmhooks-settings-form h2{border-top:1px solid #c3c4c7;padding-top:1em;margin-top:1.5em}</style>';
	}
}

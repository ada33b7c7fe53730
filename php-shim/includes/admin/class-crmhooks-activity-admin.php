<?php
/**
 * Tools -> crmhooks Activity: what every webhook did, from {prefix}crmhooks_log
 * (CrmHooks_Activity_List_Table), one entry in detail (`&entry=ID`) with what changed, and the
 * refused requests of the last 24 hours ({prefix}crmhooks_refusals, counted per hour). Read-only:
 * the screen changes nothing, so it needs the capability but no nonce.
 */

declare(strict_types=1);

require_once __DIR__ . '/class-crmhooks-admin-words.php';
require_once __DIR__ . '/class-crmhooks-admin-html.php';
require_once __DIR__ . '/class-crmhooks-admin-queries.php';

final class CrmHooks_Activity_Admin {

	public const PAGE = CrmHooks_Admin_Html::ACTIVITY_PAGE;

	/** Query argument of the detail view. */
	public const ENTRY_ARG = 'entry';

	public static function register(): void {
		add_action( 'admin_menu', array( self::class, 'add_menu' ) );
		add_action( 'admin_enqueue_scripts', array( 'CrmHooks_Admin_Html', 'enqueue_styles' ) );
	}

	public static function add_menu(): void {
		$hook = add_management_page( __( 'crmhooks Activity', 'crmhooks' ), __( 'crmhooks Activity', 'crmhooks' ), 'manage_options', self::PAGE, array( self::class, 'render_page' ) );
		if ( $hook !== false ) {
			add_action( 'load-' . $hook, array( self::class, 'load_page' ) );
		}
	}

	/** Before the page prints: loads the table; drops the list form's nonce fields from the URL. */
	public static function load_page(): void {
		require_once __DIR__ . '/class-crmhooks-activity-list-table.php';
		// The filter form is a GET form that carries the table's nonce fields: not needed here.
		if ( isset( $_GET['_wpnonce'] ) || isset( $_GET['_wp_http_referer'] ) ) { // phpcs:ignore WordPress.Security.NonceVerification.Recommended
			$uri = isset( $_SERVER['REQUEST_URI'] ) ? esc_url_raw( wp_unslash( $_SERVER['REQUEST_URI'] ) ) : '';
			wp_safe_redirect( remove_query_arg( array( '_wpnonce', '_wp_http_referer', 'filter_action' ), $uri ) );
			exit;
		}
	}

	public static function entry_url( int $id ): string {
		return CrmHooks_Admin_Html::activity_url( array( self::ENTRY_ARG => $id ) );
	}

	/**
	 * Why an entry needs a look, from the words the queue logs on arrival
	 * (CrmHooks_Jobs::accept()): 'duplicate' (merged into a job already waiting for the
	 * contact), 'deferred' (waits for the loopback window or a retry), or ''.
	 */
	public static function attention( array $entry ): string {
		if ( (string) $entry['outcome'] !== 'received' ) {
			return '';
		}
		$message = (string) $entry['message'];
		if ( strpos( $message, '; deferred until ' ) !== false ) {
			return 'deferred';
		}
		return strpos( $message, 'merged into job ' ) === 0 ? 'duplicate' : '';
	}

	public static function attention_words( string $attention ): string {
		$words = array(
			'duplicate' => __( 'Duplicate: merged into a job already waiting for this contact; the contact is fetched once.', 'crmhooks' ),
			'deferred'  => __( 'Deferred: we wrote to this contact in the CRM moments ago, so this is probably the echo of our own change (or a retry of the contact waits). The contact is read fresh when the wait ends.', 'crmhooks' ),
		);
		return $words[ $attention ] ?? '';
	}

	public static function render_page(): void {
		if ( ! current_user_can( 'manage_options' ) ) {
			return;
		}
		echo '<div class="wrap"><h1>' . esc_html__( 'crmhooks Activity', 'crmhooks' ) . '</h1>';
		CrmHooks_Admin_Html::tabs( self::PAGE );
		$entry = isset( $_GET[ self::ENTRY_ARG ] ) ? absint( wp_unslash( $_GET[ self::ENTRY_ARG ] ) ) : 0; // phpcs:ignore WordPress.Security.NonceVerification.Recommended -- Which entry to show.
		if ( $entry > 0 ) {
			self::render_entry( $entry );
		} else {
			self::render_list();
		}
		echo '</div>';
	}

	private static function render_list(): void {
		self::render_refusals();
		$table = new CrmHooks_Activity_List_Table();
		$table->prepare_items();
		echo '<form method="get" action="' . esc_url( admin_url( 'tools.php' ) ) . '" id="crmhooks-activity-form">';
		echo '<input type="hidden" name="page" value="' . esc_attr( self::PAGE ) . '">';
		$table->search_box( __( 'Search contact ID or email', 'crmhooks' ), 'crmhooks-activity' );
		$table->display();
		echo '</form>';
	}

	/** Refused requests are counted per hour and reason, never logged one by one: shown here. */
	private static function render_refusals(): void {
		$rows = CrmHooks_Log::refusals( time() - DAY_IN_SECONDS );
		if ( $rows === array() ) {
			return;
		}
		$total = array_sum( array_map( 'intval', array_column( $rows, 'refused' ) ) );
		echo '<div class="notice notice-warning inline crmhooks-refusals"><p><strong>';
		/* translators: %s: number of requests */
		echo esc_html( sprintf( _n( '%s webhook request was refused in the last 24 hours.', '%s webhook requests were refused in the last 24 hours.', $total, 'crmhooks' ), number_format_i18n( $total ) ) );
		echo '</strong> ' . esc_html__( 'Refused requests are counted, not listed one by one. If the reason is a wrong access key, check the webhook URLs in your CRM.', 'crmhooks' ) . '</p><ul>';
		foreach ( $rows as $row ) {
			$line = sprintf(
				/* translators: 1: number of requests, 2: why they were refused, 3: date and time, 4: IP address */
				__( '%1$s × %2$s (last %3$s from %4$s)', 'crmhooks' ),
				number_format_i18n( (int) $row['refused'] ),
				CrmHooks_Admin_Words::refusal( (string) $row['reason'] ),
				CrmHooks_Admin_Words::when( (int) $row['last_at'] ),
				(string) $row['last_addr'] !== '' ? (string) $row['last_addr'] : __( 'an unknown address', 'crmhooks' )
			);
			echo '<li>' . esc_html( $line ) . '</li>';
		}
		echo '</ul></div>';
	}

	private static function render_entry( int $id ): void {
		echo '<p><a href="' . esc_url( CrmHooks_Admin_Html::activity_url() ) . '">&larr; ' . esc_html__( 'Back to the activity list', 'crmhooks' ) . '</a></p>';
		$entry = CrmHooks_Admin_Queries::log_entry( $id );
		if ( $entry === null ) {
			echo '<div class="notice notice-error inline"><p>' . esc_html__( 'This log entry does not exist (any more): old entries are removed after the retention period.', 'crmhooks' ) . '</p></div>';
			return;
		}
		/* translators: %d: log entry number */
		echo '<h2>' . esc_html( sprintf( __( 'Entry #%d', 'crmhooks' ), $id ) ) . '</h2>';
		$attention = self::attention( $entry );
		if ( $attention !== '' ) {
			echo '<div class="notice notice-warning inline crmhooks-attention-notice"><p>' . esc_html( self::attention_words( $attention ) ) . '</p></div>';
		}
		$outcome = (string) $entry['outcome'];
		$users   = CrmHooks_Admin_Queries::users_by_contact( array( (string) $entry['contact_id'] ) );
		$rows    = array(
			__( 'Time', 'crmhooks' )      => esc_html( CrmHooks_Admin_Words::when( CrmHooks_Admin_Words::utc_to_timestamp( (string) $entry['created_at'] ) ) ),
			__( 'Action', 'crmhooks' )    => esc_html( CrmHooks_Admin_Words::action( (string) $entry['action'] ) ),
			__( 'Contact', 'crmhooks' )   => CrmHooks_Admin_Html::contact( (string) $entry['contact_id'], $users ),
			__( 'Outcome', 'crmhooks' )   => '<strong>' . esc_html( CrmHooks_Admin_Words::outcome_label( $outcome ) ) . '</strong> <code>' . esc_html( $outcome ) . '</code><br>' . esc_html( CrmHooks_Admin_Words::outcome_sentence( $outcome ) ),
			__( 'Duration', 'crmhooks' )  => esc_html( CrmHooks_Admin_Words::duration( (int) $entry['duration_ms'] ) ),
			__( 'CRM calls', 'crmhooks' ) => esc_html( number_format_i18n( (int) $entry['crm_calls'] ) ),
			__( 'Message', 'crmhooks' )   => (string) $entry['message'] !== '' ? esc_html( (string) $entry['message'] ) : '—',
		);
		self::print_rows( $rows, 'crmhooks-entry' );

		echo '<h2>' . esc_html__( 'What changed', 'crmhooks' ) . '</h2>';
		$detail = json_decode( (string) ( $entry['detail'] ?? '' ), true );
		if ( ! is_array( $detail ) || $detail === array() ) {
			echo '<p>' . esc_html__( 'No details were recorded for this entry.', 'crmhooks' ) . '</p>';
			return;
		}
		self::print_rows( self::detail_rows( $detail ), 'crmhooks-changes' );
	}

	/**
	 * A detail (see CrmHooks_Log::add()) as labelled rows of escaped HTML: tag lists, fields
	 * old -> new, the role, why it was skipped, and any other key as it is.
	 *
	 * @return array<string,string> label => HTML
	 */
	private static function detail_rows( array $detail ): array {
		$known = array(
			'tags_added'     => __( 'Tags added', 'crmhooks' ),
			'tags_removed'   => __( 'Tags removed', 'crmhooks' ),
			'fields'         => __( 'Fields', 'crmhooks' ),
			'role'           => __( 'Role', 'crmhooks' ),
			'skipped_reason' => __( 'Why it was skipped', 'crmhooks' ),
		);
		$rows  = array();
		foreach ( $detail as $key => $value ) {
			$key = (string) $key;
			switch ( $key ) {
				case 'fields':
					$html = self::fields_html( is_array( $value ) ? $value : array() );
					break;
				case 'role':
					$html = is_array( $value ) ? self::change_html( $value['old'] ?? '', $value['new'] ?? '' ) : esc_html( self::scalar( $value ) );
					break;
				default:
					$html = self::value_html( $value );
			}
			$rows[ $known[ $key ] ?? ucfirst( str_replace( '_', ' ', $key ) ) ] = $html;
		}
		return $rows;
	}

	/**
	 * The library's summary (src/plan/summary.rs) decides what is shown: key => {old, new}, or
	 * {hidden: true} for a key that looks secret. Entries logged before values were kept list
	 * the changed keys only.
	 *
	 * @param array<string|int,mixed> $fields
	 */
	private static function fields_html( array $fields ): string {
		if ( $fields === array() ) {
			return '—';
		}
		if ( array_is_list( $fields ) ) {
			$items = array_map( static fn( $key ): string => '<li><code>' . esc_html( (string) $key ) . '</code>: ' . esc_html__( 'changed', 'crmhooks' ) . '</li>', $fields );
			return '<ul>' . implode( '', $items ) . '</ul>';
		}
		$html = '<ul>';
		foreach ( $fields as $key => $change ) {
			$change = is_array( $change ) ? $change : array( 'hidden' => true );
			$html  .= '<li><code>' . esc_html( (string) $key ) . '</code>: ';
			$html  .= ! empty( $change['hidden'] ) ? esc_html__( 'changed (the value is not shown)', 'crmhooks' ) : self::change_html( $change['old'] ?? '', $change['new'] ?? '' );
			$html  .= '</li>';
		}
		return $html . '</ul>';
	}

	/** "old → new", or "new" alone when there was nothing before. */
	private static function change_html( $before, $after ): string {
		$before = self::scalar( $before );
		$after  = self::scalar( $after );
		$to     = $after !== '' ? esc_html( $after ) : '<em>' . esc_html__( '(empty)', 'crmhooks' ) . '</em>';
		if ( $before === '' ) {
			return $to;
		}
		return '<span class="crmhooks-old">' . esc_html( $before ) . '</span> &rarr; ' . $to;
	}

	/** Any other value: a list as a bulleted list, a map as "key: value" items, else the text. */
	private static function value_html( $value, int $depth = 0 ): string {
		if ( ! is_array( $value ) ) {
			return esc_html( self::scalar( $value ) );
		}
		if ( $value === array() ) {
			return '—';
		}
		if ( $depth > 3 ) {
			return esc_html( (string) wp_json_encode( $value ) );
		}
		$is_list = array_keys( $value ) === range( 0, count( $value ) - 1 );
		$html    = '<ul>';
		foreach ( $value as $key => $item ) {
			$html .= '<li>' . ( $is_list ? '' : '<code>' . esc_html( (string) $key ) . '</code>: ' ) . self::value_html( $item, $depth + 1 ) . '</li>';
		}
		return $html . '</ul>';
	}

	private static function scalar( $value ): string {
		if ( is_bool( $value ) ) {
			return $value ? __( 'yes', 'crmhooks' ) : __( 'no', 'crmhooks' );
		}
		return is_scalar( $value ) ? (string) $value : (string) wp_json_encode( $value );
	}

	/** @param array<string,string> $rows label => escaped HTML */
	private static function print_rows( array $rows, string $css_class ): void {
		echo '<table class="widefat striped crmhooks-detail ' . esc_attr( $css_class ) . '"><tbody>';
		foreach ( $rows as $label => $html ) {
			echo '<tr><th scope="row">' . esc_html( (string) $label ) . '</th><td>' . $html . '</td></tr>'; // phpcs:ignore WordPress.Security.EscapeOutput.OutputNotEscaped -- Every value is built from escaped parts above.
		}
		echo '</tbody></table>';
	}
}

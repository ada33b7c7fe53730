<?php
/**
 * The Activity screen's table over {prefix}crmhooks_log: time, action, contact, outcome in words,
 * duration and CRM calls; filters by outcome and action, search by contact ID or email,
 * pagination. Entries that need a look (duplicates, loopback deferrals) are highlighted.
 */

declare(strict_types=1);

require_once ABSPATH . 'wp-admin/includes/class-wp-list-table.php';

final class CrmHooks_Activity_List_Table extends WP_List_Table {

	public const OUTCOME_ARG = 'crmhooks_log_outcome';
	public const ACTION_ARG  = 'crmhooks_log_action'; // Not crmhooks_action: that names a webhook.

	private const PER_PAGE = 20;

	/** @var array<string,int> contact ID => user ID for this page's entries */
	private array $users = array();

	public function __construct() {
		parent::__construct(
			array(
				'singular' => 'crmhooks_entry',
				'plural'   => 'crmhooks_entries',
				'ajax'     => false,
			)
		);
	}

	/**
	 * The filters asked for: outcome and action only when they are known codes, the search as
	 * typed. Read-only view filters: no nonce.
	 *
	 * @return array{outcome:string, action:string, search:string}
	 */
	public static function filter(): array {
		// phpcs:disable WordPress.Security.NonceVerification.Recommended
		$outcome = isset( $_GET[ self::OUTCOME_ARG ] ) ? sanitize_key( wp_unslash( $_GET[ self::OUTCOME_ARG ] ) ) : '';
		$action  = isset( $_GET[ self::ACTION_ARG ] ) ? sanitize_key( wp_unslash( $_GET[ self::ACTION_ARG ] ) ) : '';
		$search  = isset( $_GET['s'] ) ? sanitize_text_field( wp_unslash( $_GET['s'] ) ) : '';
		// phpcs:enable
		return array(
			'outcome' => array_key_exists( $outcome, CrmHooks_Admin_Words::outcomes() ) ? $outcome : '',
			'action'  => array_key_exists( $action, CrmHooks_Admin_Words::actions() ) ? $action : '',
			'search'  => $search,
		);
	}

	public function prepare_items(): void {
		$filter      = self::filter();
		$this->items = CrmHooks_Admin_Queries::log_entries( $filter, self::PER_PAGE, ( $this->get_pagenum() - 1 ) * self::PER_PAGE );
		$this->users = CrmHooks_Admin_Queries::users_by_contact( array_column( $this->items, 'contact_id' ) );

		$this->_column_headers = array( $this->get_columns(), array(), array(), 'time' );
		$this->set_pagination_args(
			array(
				'total_items' => CrmHooks_Admin_Queries::log_total( $filter ),
				'per_page'    => self::PER_PAGE,
			)
		);
	}

	public function get_columns(): array {
		return array(
			'time'      => __( 'Time', 'crmhooks' ),
			'action'    => __( 'Action', 'crmhooks' ),
			'contact'   => __( 'Contact', 'crmhooks' ),
			'outcome'   => __( 'Outcome', 'crmhooks' ),
			'duration'  => __( 'Duration', 'crmhooks' ),
			'crm_calls' => __( 'CRM calls', 'crmhooks' ),
		);
	}

	public function no_items(): void {
		esc_html_e( 'No webhook activity matches.', 'crmhooks' );
	}

	/** Highlighted rows carry the warning colours (CrmHooks_Admin_Html::enqueue_styles()). */
	public function single_row( $item ): void {
		$attention = CrmHooks_Activity_Admin::attention( $item );
		echo '<tr' . ( $attention !== '' ? ' class="crmhooks-attention crmhooks-attention-' . esc_attr( $attention ) . '"' : '' ) . '>';
		$this->single_row_columns( $item );
		echo '</tr>';
	}

	/** The outcome and action filters, above the table. */
	protected function extra_tablenav( $which ): void {
		if ( $which !== 'top' ) {
			return;
		}
		$filter = self::filter();
		echo '<div class="alignleft actions">';
		echo '<label class="screen-reader-text" for="crmhooks-filter-outcome">' . esc_html__( 'Filter by outcome', 'crmhooks' ) . '</label>';
		echo '<select name="' . esc_attr( self::OUTCOME_ARG ) . '" id="crmhooks-filter-outcome">';
		echo '<option value="">' . esc_html__( 'All outcomes', 'crmhooks' ) . '</option>';
		foreach ( CrmHooks_Admin_Words::outcomes() as $code => $words ) {
			echo '<option value="' . esc_attr( $code ) . '"' . selected( $filter['outcome'], $code, false ) . '>' . esc_html( $words[0] ) . '</option>';
		}
		echo '</select>';
		echo '<label class="screen-reader-text" for="crmhooks-filter-action">' . esc_html__( 'Filter by action', 'crmhooks' ) . '</label>';
		echo '<select name="' . esc_attr( self::ACTION_ARG ) . '" id="crmhooks-filter-action">';
		echo '<option value="">' . esc_html__( 'All actions', 'crmhooks' ) . '</option>';
		foreach ( CrmHooks_Admin_Words::actions() as $code => $label ) {
			echo '<option value="' . esc_attr( $code ) . '"' . selected( $filter['action'], $code, false ) . '>' . esc_html( $label ) . '</option>';
		}
		echo '</select>';
		submit_button( __( 'Filter', 'crmhooks' ), '', 'filter_action', false, array( 'id' => 'crmhooks-filter-submit' ) );
		if ( $filter !== array(
			'outcome' => '',
			'action'  => '',
			'search'  => '',
		) ) {
			echo ' <a class="button" href="' . esc_url( CrmHooks_Admin_Html::activity_url() ) . '">' . esc_html__( 'Clear filters', 'crmhooks' ) . '</a>';
		}
		echo '</div>';
	}

	/** @param array $item */
	protected function column_time( $item ): string {
		$when = CrmHooks_Admin_Words::when( CrmHooks_Admin_Words::utc_to_timestamp( (string) $item['created_at'] ) );
		return '<a href="' . esc_url( CrmHooks_Activity_Admin::entry_url( (int) $item['id'] ) ) . '">' . esc_html( $when ) . '</a>';
	}

	protected function handle_row_actions( $item, $column_name, $primary ): string {
		if ( $column_name !== $primary ) {
			return '';
		}
		return $this->row_actions(
			array(
				'view' => '<a href="' . esc_url( CrmHooks_Activity_Admin::entry_url( (int) $item['id'] ) ) . '">' . esc_html__( 'View details', 'crmhooks' ) . '</a>',
			)
		);
	}

	/** @param array $item */
	protected function column_action( $item ): string {
		return esc_html( CrmHooks_Admin_Words::action( (string) $item['action'] ) );
	}

	/** @param array $item */
	protected function column_contact( $item ): string {
		return CrmHooks_Admin_Html::contact( (string) $item['contact_id'], $this->users );
	}

	/** @param array $item */
	protected function column_outcome( $item ): string {
		$html      = '<strong>' . esc_html( CrmHooks_Admin_Words::outcome_label( (string) $item['outcome'] ) ) . '</strong>';
		$attention = CrmHooks_Activity_Admin::attention( $item );
		if ( $attention !== '' ) {
			$html .= '<br><span class="crmhooks-attention-note">' . esc_html( CrmHooks_Activity_Admin::attention_words( $attention ) ) . '</span>';
		}
		return $html;
	}

	/** @param array $item */
	protected function column_duration( $item ): string {
		return esc_html( CrmHooks_Admin_Words::duration( (int) $item['duration_ms'] ) );
	}

	/** @param array $item */
	protected function column_crm_calls( $item ): string {
		return esc_html( number_format_i18n( (int) $item['crm_calls'] ) );
	}
}

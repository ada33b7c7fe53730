<?php
/**
 * The Queue screen's table: every job in every state, with views per state (and their counts),
 * row and bulk actions Retry and Delete, and pagination. CrmHooks_Jobs_Admin handles the actions.
 */

declare(strict_types=1);

require_once ABSPATH . 'wp-admin/includes/class-wp-list-table.php';

final class CrmHooks_Queue_List_Table extends WP_List_Table {

	/** Query argument of the state view. */
	public const STATE_ARG = 'job_state';

	/** Nonce action of the table's row and bulk actions (the bulk form's own nonce). */
	public const NONCE = 'bulk-crmhooks_jobs';

	private const PER_PAGE = 20;

	private int $now;

	/** @var array<string,int> */
	private array $counts = array();

	/** @var array<string,int> contact ID => user ID for this page's jobs */
	private array $users = array();

	public function __construct() {
		parent::__construct(
			array(
				'singular' => 'crmhooks_job',
				'plural'   => 'crmhooks_jobs',
				'ajax'     => false,
			)
		);
		$this->now = time();
	}

	/** The state view asked for, or '' for all. */
	public static function current_state(): string {
		// A view filter: only compared against the known states.
		$state = isset( $_REQUEST[ self::STATE_ARG ] ) ? sanitize_key( wp_unslash( $_REQUEST[ self::STATE_ARG ] ) ) : ''; // phpcs:ignore WordPress.Security.NonceVerification.Recommended
		return array_key_exists( $state, CrmHooks_Admin_Words::states() ) ? $state : '';
	}

	public function prepare_items(): void {
		$this->counts = array_merge( array_fill_keys( array_keys( CrmHooks_Admin_Words::states() ), 0 ), CrmHooks_Jobs::state_counts( $this->now ) );
		$state        = self::current_state();
		$total        = $state === '' ? array_sum( $this->counts ) : $this->counts[ $state ];
		$this->items  = CrmHooks_Jobs::page( $this->now, $state, self::PER_PAGE, ( $this->get_pagenum() - 1 ) * self::PER_PAGE );
		$contacts     = array();
		foreach ( $this->items as $job ) {
			$contacts[] = self::request( $job )['contact_id'];
		}
		$this->users           = CrmHooks_Admin_Queries::users_by_contact( $contacts );
		$this->_column_headers = array( $this->get_columns(), array(), array(), 'job' );
		$this->set_pagination_args(
			array(
				'total_items' => $total,
				'per_page'    => self::PER_PAGE,
			)
		);
	}

	public function get_columns(): array {
		return array(
			'cb'       => '<input type="checkbox" />',
			'job'      => __( 'Job', 'crmhooks' ),
			'state'    => __( 'State', 'crmhooks' ),
			'contact'  => __( 'Contact', 'crmhooks' ),
			'action'   => __( 'Action', 'crmhooks' ),
			'webhooks' => __( 'Webhooks', 'crmhooks' ),
			'attempts' => __( 'Attempts', 'crmhooks' ),
			'received' => __( 'First received', 'crmhooks' ),
			'updated'  => __( 'Last change', 'crmhooks' ),
		);
	}

	protected function get_views(): array {
		$current = self::current_state();
		$views   = array(
			'all' => self::view_link( '', __( 'All', 'crmhooks' ), array_sum( $this->counts ), $current === '' ),
		);
		foreach ( CrmHooks_Admin_Words::states() as $state => $label ) {
			$views[ $state ] = self::view_link( $state, $label, $this->counts[ $state ] ?? 0, $current === $state );
		}
		return $views;
	}

	private static function view_link( string $state, string $label, int $count, bool $current ): string {
		$url = CrmHooks_Admin_Html::queue_url( $state !== '' ? array( self::STATE_ARG => $state ) : array() );
		return '<a href="' . esc_url( $url ) . '"' . ( $current ? ' class="current" aria-current="page"' : '' ) . '>'
			. esc_html( $label ) . ' <span class="count">(' . esc_html( number_format_i18n( $count ) ) . ')</span></a>';
	}

	protected function get_bulk_actions(): array {
		return array(
			'retry'  => __( 'Retry', 'crmhooks' ),
			'delete' => __( 'Delete', 'crmhooks' ),
		);
	}

	public function no_items(): void {
		esc_html_e( 'No jobs in this state.', 'crmhooks' );
	}

	/** @param array $item */
	protected function column_cb( $item ): string {
		/* translators: %d: job number */
		$label = sprintf( __( 'Select job %d', 'crmhooks' ), (int) $item['id'] );
		return '<label class="screen-reader-text" for="crmhooks-job-' . esc_attr( (string) $item['id'] ) . '">' . esc_html( $label ) . '</label>'
			. '<input type="checkbox" id="crmhooks-job-' . esc_attr( (string) $item['id'] ) . '" name="job[]" value="' . esc_attr( (string) $item['id'] ) . '" />';
	}

	/** @param array $item */
	protected function column_job( $item ): string {
		return '<strong>#' . esc_html( (string) $item['id'] ) . '</strong>';
	}

	/** Retry (failed jobs only: what CrmHooks_Jobs::retry_failed() takes) and Delete. */
	protected function handle_row_actions( $item, $column_name, $primary ): string {
		if ( $column_name !== $primary ) {
			return '';
		}
		$id      = (int) $item['id'];
		$actions = array();
		if ( (string) $item['status'] === 'failed' ) {
			$actions['retry'] = '<a href="' . esc_url( self::action_url( 'retry', $id ) ) . '">' . esc_html__( 'Retry', 'crmhooks' ) . '</a>';
		}
		$actions['delete'] = '<a href="' . esc_url( self::action_url( 'delete', $id ) ) . '" class="submitdelete">' . esc_html__( 'Delete', 'crmhooks' ) . '</a>';
		return $this->row_actions( $actions );
	}

	/** A row action's link: the table's action and nonce, for this one job. */
	private static function action_url( string $action, int $id ): string {
		$args = array(
			'action' => $action,
			'job'    => $id,
		);
		if ( self::current_state() !== '' ) {
			$args[ self::STATE_ARG ] = self::current_state();
		}
		return wp_nonce_url( CrmHooks_Admin_Html::queue_url( $args ), self::NONCE );
	}

	/** @param array $item */
	protected function column_state( $item ): string {
		$state = (string) $item['state'];
		return '<span class="crmhooks-state crmhooks-state-' . esc_attr( $state ) . '">' . esc_html( CrmHooks_Admin_Words::states()[ $state ] ?? $state ) . '</span>'
			. '<br><span class="crmhooks-state-why">' . esc_html( CrmHooks_Admin_Words::job_state_sentence( $item ) ) . '</span>';
	}

	/** @param array $item */
	protected function column_contact( $item ): string {
		$request = self::request( $item );
		return CrmHooks_Admin_Html::contact( $request['contact_id'], $this->users, $request['email'] );
	}

	/** @param array $item */
	protected function column_action( $item ): string {
		return esc_html( CrmHooks_Admin_Words::action( (string) $item['action'] ) );
	}

	/** @param array $item */
	protected function column_webhooks( $item ): string {
		return esc_html( number_format_i18n( (int) $item['received_count'] ) );
	}

	/** @param array $item */
	protected function column_attempts( $item ): string {
		return esc_html( number_format_i18n( (int) $item['attempts'] ) );
	}

	/** @param array $item */
	protected function column_received( $item ): string {
		return esc_html( CrmHooks_Admin_Words::when( (int) $item['created_at'] ) );
	}

	/** @param array $item */
	protected function column_updated( $item ): string {
		return esc_html( CrmHooks_Admin_Words::when( (int) $item['updated_at'] ) );
	}

	/**
	 * The routing facts a job holds: contact ID and lookup email.
	 *
	 * @return array{contact_id:string, email:string}
	 */
	private static function request( array $job ): array {
		$request = json_decode( (string) $job['request_json'], true );
		$request = is_array( $request ) ? $request : array();
		return array(
			'contact_id' => (string) ( $request['contact_id'] ?? '' ),
			'email'      => (string) ( $request['email'] ?? '' ),
		);
	}
}

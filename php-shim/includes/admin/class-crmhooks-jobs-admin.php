<?php
/**
 * Tools -> crmhooks Queue: every job in every state (CrmHooks_Queue_List_Table), a chart of the
 * last 48 hours, Retry and Delete (per row and in bulk) and Process now. Every action checks
 * manage_options and a nonce, then redirects back; all output is escaped.
 * Registered by CrmHooks_Jobs::register().
 */

declare(strict_types=1);

require_once __DIR__ . '/class-crmhooks-admin-words.php';
require_once __DIR__ . '/class-crmhooks-admin-html.php';
require_once __DIR__ . '/class-crmhooks-admin-queries.php';

final class CrmHooks_Jobs_Admin {

	public const PAGE           = CrmHooks_Admin_Html::QUEUE_PAGE;
	public const ACTION_PROCESS = 'crmhooks_queue_process';

	private const CHART_HOURS = 48;

	/** Longest "Process now" keeps the administrator's request busy. */
	private const PROCESS_BUDGET_SECS = 20;

	public static function register(): void {
		add_action( 'admin_menu', array( self::class, 'add_menu' ) );
		add_action( 'admin_enqueue_scripts', array( 'CrmHooks_Admin_Html', 'enqueue_styles' ) );
		add_action( 'admin_post_' . self::ACTION_PROCESS, array( self::class, 'handle_process' ) );
	}

	public static function add_menu(): void {
		$hook = add_management_page( __( 'crmhooks Queue', 'crmhooks' ), __( 'crmhooks Queue', 'crmhooks' ), 'manage_options', self::PAGE, array( self::class, 'render_page' ) );
		if ( $hook !== false ) {
			add_action( 'load-' . $hook, array( self::class, 'load_page' ) );
		}
	}

	/**
	 * Before the page prints (WordPress has checked manage_options for it): loads the table, and
	 * acts on a row or bulk action (Retry, Delete) on the jobs in `job`, then goes back to the
	 * same view.
	 */
	public static function load_page(): void {
		require_once __DIR__ . '/class-crmhooks-queue-list-table.php';
		require_once __DIR__ . '/class-crmhooks-queue-chart.php';
		$action = self::requested_action();
		if ( $action === '' ) {
			return;
		}
		self::authorize( CrmHooks_Queue_List_Table::NONCE );
		// authorize() checked the capability and the nonce.
		$ids  = isset( $_REQUEST['job'] ) ? array_map( 'absint', (array) wp_unslash( $_REQUEST['job'] ) ) : array(); // phpcs:ignore WordPress.Security.NonceVerification.Recommended
		$ids  = array_values( array_filter( $ids ) );
		$back = CrmHooks_Admin_Html::queue_url( self::view_args() );
		if ( $action === 'delete' ) {
			$deleted = CrmHooks_Jobs::delete( $ids );
			CrmHooks_Admin_Html::redirect( $back, 'deleted', $deleted, count( $ids ) - $deleted );
		}
		$retried = 0;
		foreach ( $ids as $id ) {
			$retried += CrmHooks_Jobs::retry_failed( $id ) ? 1 : 0;
		}
		CrmHooks_Admin_Html::redirect( $back, 'retried', $retried, count( $ids ) - $retried );
	}

	/** admin-post: runs the due jobs now, within a time budget, and says how many ran. */
	public static function handle_process(): void {
		self::authorize( self::ACTION_PROCESS );
		ignore_user_abort( true );
		$summary = CrmHooks_Worker::run( 'admin', min( self::PROCESS_BUDGET_SECS, max( 1, (int) CrmHooks_Settings::get( 'drain_budget_secs' ) ) ) );
		$done    = (string) $summary['stopped'] === 'locked' ? 'process_locked' : 'processed';
		CrmHooks_Admin_Html::redirect( CrmHooks_Admin_Html::queue_url(), $done, (int) $summary['processed'] );
	}

	public static function render_page(): void {
		if ( ! current_user_can( 'manage_options' ) ) {
			return;
		}
		$table = new CrmHooks_Queue_List_Table();
		$table->prepare_items();

		echo '<div class="wrap"><h1>' . esc_html__( 'crmhooks Queue', 'crmhooks' ) . '</h1>';
		CrmHooks_Admin_Html::tabs( self::PAGE );
		self::render_notice();

		echo '<form method="post" action="' . esc_url( admin_url( 'admin-post.php' ) ) . '" class="crmhooks-process">';
		echo '<input type="hidden" name="action" value="' . esc_attr( self::ACTION_PROCESS ) . '">';
		wp_nonce_field( self::ACTION_PROCESS );
		echo '<p>';
		submit_button( __( 'Process now', 'crmhooks' ), 'primary', 'submit', false, array( 'id' => 'crmhooks-process-now' ) );
		/* translators: %d: seconds */
		echo ' <span class="description">' . esc_html( sprintf( __( 'Runs the jobs that are due now, for up to %d seconds, instead of waiting for the next background run.', 'crmhooks' ), self::PROCESS_BUDGET_SECS ) ) . '</span></p>';
		echo '</form>';

		CrmHooks_Import_Admin::render_sweep_box();
		echo CrmHooks_Queue_Chart::render( CrmHooks_Admin_Queries::hourly_activity( time(), self::CHART_HOURS ) ); // phpcs:ignore WordPress.Security.EscapeOutput.OutputNotEscaped -- Built from escaped parts and numbers by CrmHooks_Queue_Chart.

		echo '<h2 class="screen-reader-text">' . esc_html__( 'Jobs', 'crmhooks' ) . '</h2>';
		$table->views();
		echo '<form method="post" action="' . esc_url( CrmHooks_Admin_Html::queue_url( self::view_args() ) ) . '" id="crmhooks-jobs-form">';
		$table->display();
		echo '</form></div>';
	}

	private static function render_notice(): void {
		$result = CrmHooks_Admin_Html::redirect_result();
		if ( $result === null ) {
			return;
		}
		$count   = $result['count'];
		$refused = $result['refused'];
		switch ( $result['done'] ) {
			case 'retried':
				/* translators: %d: number of jobs */
				$text = sprintf( _n( '%d job is queued again.', '%d jobs are queued again.', $count, 'crmhooks' ), $count );
				if ( $refused > 0 ) {
					/* translators: %d: number of jobs */
					$text .= ' ' . sprintf( _n( '%d job was left as it is: only failed jobs can be retried.', '%d jobs were left as they are: only failed jobs can be retried.', $refused, 'crmhooks' ), $refused );
				}
				break;
			case 'deleted':
				/* translators: %d: number of jobs */
				$text = sprintf( _n( '%d job deleted.', '%d jobs deleted.', $count, 'crmhooks' ), $count );
				if ( $refused > 0 ) {
					/* translators: %d: number of jobs */
					$text .= ' ' . sprintf( _n( '%d job no longer existed.', '%d jobs no longer existed.', $refused, 'crmhooks' ), $refused );
				}
				break;
			case 'processed':
				/* translators: %d: number of jobs */
				$text = sprintf( _n( 'Processed %d job.', 'Processed %d jobs.', $count, 'crmhooks' ), $count );
				break;
			case 'process_locked':
				$text    = __( 'Another queue run is working right now; it processes the due jobs.', 'crmhooks' );
				$refused = 1;
				break;
			default:
				return;
		}
		CrmHooks_Admin_Html::notice( $refused > 0 ? 'warning' : 'success', $text );
	}

	/** The bulk action of either bulk menu (top: action, bottom: action2), or a row action. */
	private static function requested_action(): string {
		// Only compared against the two actions; authorize() checks the nonce before anything runs.
		// phpcs:disable WordPress.Security.NonceVerification.Recommended
		foreach ( array( 'action', 'action2' ) as $field ) {
			$value = isset( $_REQUEST[ $field ] ) ? sanitize_key( wp_unslash( $_REQUEST[ $field ] ) ) : '';
			if ( in_array( $value, array( 'retry', 'delete' ), true ) ) {
				return $value;
			}
		}
		// phpcs:enable
		return '';
	}

	/** The state view and page to come back to. */
	private static function view_args(): array {
		$args  = array();
		$state = CrmHooks_Queue_List_Table::current_state();
		if ( $state !== '' ) {
			$args[ CrmHooks_Queue_List_Table::STATE_ARG ] = $state;
		}
		$paged = isset( $_REQUEST['paged'] ) ? absint( wp_unslash( $_REQUEST['paged'] ) ) : 0; // phpcs:ignore WordPress.Security.NonceVerification.Recommended -- A page number to return to.
		if ( $paged > 1 ) {
			$args['paged'] = $paged;
		}
		return $args;
	}

	private static function authorize( string $nonce_action ): void {
		if ( ! current_user_can( 'manage_options' ) ) {
			wp_die( esc_html__( 'You are not allowed to do this.', 'crmhooks' ), '', array( 'response' => 403 ) );
		}
		check_admin_referer( $nonce_action );
	}
}

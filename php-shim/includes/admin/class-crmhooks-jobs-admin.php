<?php
/**
 * Tools -> crmhooks jobs: queue counts, failed jobs with their reason, retry one / all failed,
 * process now. Every action checks manage_options and a nonce; all output is escaped.
 */

declare(strict_types=1);

final class CrmHooks_Jobs_Admin {

	public const PAGE             = 'crmhooks-jobs';
	public const ACTION_RETRY     = 'crmhooks_jobs_retry';
	public const ACTION_RETRY_ALL = 'crmhooks_jobs_retry_all';
	public const ACTION_PROCESS   = 'crmhooks_jobs_process';

	public static function register(): void {
		add_action( 'admin_menu', array( self::class, 'add_menu' ) );
		add_action( 'admin_post_' . self::ACTION_RETRY, array( self::class, 'handle_retry' ) );
		add_action( 'admin_post_' . self::ACTION_RETRY_ALL, array( self::class, 'handle_retry_all' ) );
		add_action( 'admin_post_' . self::ACTION_PROCESS, array( self::class, 'handle_process' ) );
	}

	public static function add_menu(): void {
		add_management_page( __( 'crmhooks jobs', 'crmhooks' ), __( 'crmhooks jobs', 'crmhooks' ), 'manage_options', self::PAGE, array( self::class, 'render_page' ) );
	}

	public static function handle_retry(): void {
		self::authorize( self::ACTION_RETRY );
		$id = isset( $_POST['job_id'] ) ? absint( wp_unslash( $_POST['job_id'] ) ) : 0; // phpcs:ignore WordPress.Security.NonceVerification.Missing -- authorize() checked the capability and the nonce.
		$ok = $id > 0 && CrmHooks_Jobs::retry_failed( $id );
		self::back( array( 'crmhooks_done' => $ok ? 'retried' : 'not_retried' ) );
	}

	public static function handle_retry_all(): void {
		self::authorize( self::ACTION_RETRY_ALL );
		$count = CrmHooks_Jobs::retry_all_failed();
		self::back(
			array(
				'crmhooks_done'  => 'retried_all',
				'crmhooks_count' => $count,
			)
		);
	}

	public static function handle_process(): void {
		self::authorize( self::ACTION_PROCESS );
		ignore_user_abort( true );
		$summary = CrmHooks_Worker::run( 'admin', min( 20, max( 1, (int) CrmHooks_Settings::get( 'drain_budget_secs' ) ) ) );
		self::back(
			array(
				'crmhooks_done'    => 'processed',
				'crmhooks_count'   => (int) $summary['processed'],
				'crmhooks_stopped' => sanitize_key( (string) $summary['stopped'] ),
			)
		);
	}

	public static function render_page(): void {
		if ( ! current_user_can( 'manage_options' ) ) {
			return;
		}
		echo '<div class="wrap"><h1>' . esc_html__( 'crmhooks jobs', 'crmhooks' ) . '</h1>';
		self::render_notice();

		$stats = CrmHooks_Jobs::stats();
		echo '<table class="widefat" style="max-width:40em"><tbody>';
		$rows = array(
			__( 'Queued', 'crmhooks' )  => $stats['queued'],
			__( 'Running', 'crmhooks' ) => $stats['running'],
			__( 'Done (kept for the retention period)', 'crmhooks' ) => $stats['done'],
			__( 'Failed', 'crmhooks' )  => $stats['failed'],
			__( 'Oldest pending job (seconds)', 'crmhooks' ) => $stats['oldest_pending_secs'],
		);
		foreach ( $rows as $label => $value ) {
			echo '<tr><th scope="row">' . esc_html( $label ) . '</th><td>' . esc_html( (string) $value ) . '</td></tr>';
		}
		echo '</tbody></table>';

		echo '<p>';
		self::button( self::ACTION_PROCESS, __( 'Process now', 'crmhooks' ), array(), 'primary' );
		echo ' ';
		if ( $stats['failed'] > 0 ) {
			self::button( self::ACTION_RETRY_ALL, __( 'Retry all failed jobs', 'crmhooks' ) );
		}
		echo '</p>';

		echo '<h2>' . esc_html__( 'Failed jobs', 'crmhooks' ) . '</h2>';
		$failed = CrmHooks_Jobs::failed_jobs( 100 );
		if ( $failed === array() ) {
			echo '<p>' . esc_html__( 'No failed jobs.', 'crmhooks' ) . '</p></div>';
			return;
		}
		echo '<table class="widefat striped"><thead><tr>';
		foreach ( array( __( 'Job', 'crmhooks' ), __( 'Contact', 'crmhooks' ), __( 'Action', 'crmhooks' ), __( 'Attempts', 'crmhooks' ), __( 'Webhooks', 'crmhooks' ), __( 'Reason', 'crmhooks' ), __( 'Last try (UTC)', 'crmhooks' ), '' ) as $head ) {
			echo '<th>' . esc_html( $head ) . '</th>';
		}
		echo '</tr></thead><tbody>';
		foreach ( $failed as $job ) {
			echo '<tr>';
			echo '<td>' . esc_html( (string) $job['id'] ) . '</td>';
			echo '<td>' . esc_html( (string) $job['contact_key'] ) . '</td>';
			echo '<td>' . esc_html( (string) $job['action'] ) . '</td>';
			echo '<td>' . esc_html( (string) $job['attempts'] ) . '</td>';
			echo '<td>' . esc_html( (string) $job['received_count'] ) . '</td>';
			echo '<td>' . esc_html( trim( (string) $job['outcome'] . ': ' . (string) $job['last_error'], ': ' ) ) . '</td>';
			echo '<td>' . esc_html( gmdate( 'Y-m-d H:i:s', (int) $job['updated_at'] ) ) . '</td>';
			echo '<td>';
			self::button( self::ACTION_RETRY, __( 'Retry', 'crmhooks' ), array( 'job_id' => (int) $job['id'] ) );
			echo '</td></tr>';
		}
		echo '</tbody></table></div>';
	}

	private static function render_notice(): void {
		// Fixed words and a count after our own redirect, only used to pick a message.
		// phpcs:disable WordPress.Security.NonceVerification.Recommended
		$done  = isset( $_GET['crmhooks_done'] ) ? sanitize_key( wp_unslash( $_GET['crmhooks_done'] ) ) : '';
		$count = isset( $_GET['crmhooks_count'] ) ? absint( wp_unslash( $_GET['crmhooks_count'] ) ) : 0;
		// phpcs:enable
		$messages = array(
			'retried'     => __( 'The job is queued again.', 'crmhooks' ),
			'not_retried' => __( 'That job is not a failed job (any more).', 'crmhooks' ),
			/* translators: %d: number of jobs */
			'retried_all' => sprintf( __( '%d failed jobs are queued again.', 'crmhooks' ), $count ),
			/* translators: %d: number of jobs */
			'processed'   => sprintf( __( 'Processed %d jobs.', 'crmhooks' ), $count ),
		);
		if ( isset( $messages[ $done ] ) ) {
			echo '<div class="notice notice-info"><p>' . esc_html( $messages[ $done ] ) . '</p></div>';
		}
	}

	/** A one-button form posting to admin-post.php with its own nonce. */
	private static function button( string $action, string $label, array $fields = array(), string $type = 'secondary' ): void {
		echo '<form method="post" action="' . esc_url( admin_url( 'admin-post.php' ) ) . '" style="display:inline">';
		echo '<input type="hidden" name="action" value="' . esc_attr( $action ) . '">';
		foreach ( $fields as $name => $value ) {
			echo '<input type="hidden" name="' . esc_attr( (string) $name ) . '" value="' . esc_attr( (string) $value ) . '">';
		}
		wp_nonce_field( $action );
		submit_button( $label, $type, 'submit', false );
		echo '</form>';
	}

	private static function authorize( string $action ): void {
		if ( ! current_user_can( 'manage_options' ) ) {
			wp_die( esc_html__( 'You are not allowed to do this.', 'crmhooks' ), '', array( 'response' => 403 ) );
		}
		check_admin_referer( $action );
	}

	private static function back( array $args ): void {
		wp_safe_redirect( add_query_arg( $args, admin_url( 'tools.php?page=' . self::PAGE ) ) );
		exit;
	}
}

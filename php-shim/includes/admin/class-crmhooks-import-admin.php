<?php
/**
 * Tools -> crmhooks Import: import every CRM contact with a tag as users with a role, and watch
 * its progress (done / total, failures listed). The import advances in the background (WP-Cron
 * ticks and the drainer), not in this tab: the page only shows the stored figures and reloads.
 * Also the last-sweep box of the Queue screen and the sweep's Site Health test.
 */

declare(strict_types=1);

final class CrmHooks_Import_Admin {

	public const PAGE   = 'crmhooks-import';
	public const ACTION = 'crmhooks_import_start';

	/** The page reloads this often while an import runs. */
	private const REFRESH_SECS = 5;

	/** A sweep that has not completed a pass for this many intervals is reported. */
	private const LATE_INTERVALS = 3;

	public static function register(): void {
		add_action( 'admin_menu', array( self::class, 'add_menu' ) );
		add_action( 'admin_post_' . self::ACTION, array( self::class, 'handle_start' ) );
		add_filter( 'site_status_tests', array( self::class, 'register_site_health_test' ) );
	}

	public static function add_menu(): void {
		add_management_page( __( 'crmhooks Import', 'crmhooks' ), __( 'crmhooks Import', 'crmhooks' ), 'manage_options', self::PAGE, array( self::class, 'render_page' ) );
	}

	/** admin-post: capability and nonce, then start the import and go back to its progress. */
	public static function handle_start(): void {
		if ( ! current_user_can( 'manage_options' ) ) {
			wp_die( esc_html__( 'You are not allowed to do this.', 'crmhooks' ), '', array( 'response' => 403 ) );
		}
		check_admin_referer( self::ACTION );
		$tag     = isset( $_POST['tag'] ) ? sanitize_text_field( wp_unslash( $_POST['tag'] ) ) : '';
		$role    = isset( $_POST['role'] ) ? sanitize_key( wp_unslash( $_POST['role'] ) ) : '';
		$started = crmhooks_import_by_tag( $tag, $role, ! empty( $_POST['notify'] ) );
		$message = is_wp_error( $started ) ? $started->get_error_message() : (string) ( $started['reason'] ?? '' );
		wp_safe_redirect( add_query_arg( 'crmhooks_message', rawurlencode( $message ), admin_url( 'tools.php?page=' . self::PAGE ) ) );
		exit;
	}

	public static function render_page(): void {
		if ( ! current_user_can( 'manage_options' ) ) {
			return;
		}
		$status  = CrmHooks_Reconcile::import_status();
		$running = $status !== null && ! $status['progress']['finished'];
		if ( $running ) {
			echo '<meta http-equiv="refresh" content="' . esc_attr( (string) self::REFRESH_SECS ) . '">';
		}
		echo '<div class="wrap"><h1>' . esc_html__( 'crmhooks Import', 'crmhooks' ) . '</h1>';
		$message = isset( $_GET['crmhooks_message'] ) ? sanitize_text_field( wp_unslash( $_GET['crmhooks_message'] ) ) : ''; // phpcs:ignore WordPress.Security.NonceVerification.Recommended -- A message to show, from our own redirect.
		if ( $message !== '' ) {
			echo '<div class="notice notice-warning"><p>' . esc_html( $message ) . '</p></div>';
		}
		if ( $status !== null ) {
			self::render_progress( $status['state'], $status['progress'] );
		}
		if ( ! $running ) {
			self::render_form();
		}
		echo '</div>';
	}

	private static function render_progress( array $state, array $progress ): void {
		$tag = (string) ( $state['tag_name'] ?? $state['tag_id'] ?? '' );
		/* translators: 1: tag, 2: role */
		echo '<h2>' . esc_html( sprintf( __( 'Import of tag "%1$s" as %2$s', 'crmhooks' ), $tag, $state['role'] !== '' ? $state['role'] : __( 'the default role', 'crmhooks' ) ) ) . '</h2>';
		echo '<progress id="crmhooks-import-progress" max="100" value="' . esc_attr( (string) $progress['percent'] ) . '" style="width:100%;max-width:600px"></progress>';
		/* translators: 1: users done, 2: total contacts, 3: failures, 4: percent */
		$figures = sprintf( __( '%1$d of %2$d done, %3$d failed (%4$d%%)', 'crmhooks' ), $progress['done'], $progress['total'], $progress['failed'], $progress['percent'] );
		echo '<p id="crmhooks-import-figures">' . esc_html( $figures . ( $progress['total_known'] ? '' : ' ' . __( '(still counting)', 'crmhooks' ) ) ) . ( $progress['finished'] ? ' ' . esc_html__( 'Finished.', 'crmhooks' ) : '' ) . '</p>';
		if ( ! empty( $state['last_error'] ) ) {
			/* translators: %s: error */
			echo '<p>' . esc_html( sprintf( __( 'Last listing error (retried): %s', 'crmhooks' ), $state['last_error'] ) ) . '</p>';
		}
		if ( (array) $state['failures'] !== array() ) {
			echo '<table class="widefat striped" style="max-width:600px"><thead><tr><th>' . esc_html__( 'Contact', 'crmhooks' ) . '</th><th>' . esc_html__( 'Reason', 'crmhooks' ) . '</th></tr></thead><tbody>';
			foreach ( (array) $state['failures'] as $failure ) {
				echo '<tr><td>' . esc_html( (string) $failure['contact_id'] ) . '</td><td>' . esc_html( (string) $failure['reason'] ) . '</td></tr>';
			}
			echo '</tbody></table>';
		}
	}

	private static function render_form(): void {
		echo '<form method="post" action="' . esc_url( admin_url( 'admin-post.php' ) ) . '">';
		echo '<input type="hidden" name="action" value="' . esc_attr( self::ACTION ) . '">';
		wp_nonce_field( self::ACTION );
		echo '<table class="form-table"><tr><th><label for="crmhooks-tag">' . esc_html__( 'CRM tag (name or ID)', 'crmhooks' ) . '</label></th><td><input type="text" id="crmhooks-tag" name="tag" class="regular-text" required></td></tr>';
		echo '<tr><th><label for="crmhooks-role">' . esc_html__( 'Role', 'crmhooks' ) . '</label></th><td><select id="crmhooks-role" name="role"><option value="">' . esc_html__( 'Default role', 'crmhooks' ) . '</option>';
		wp_dropdown_roles();
		echo '</select><p class="description">' . esc_html__( 'Only roles on the allowlist in Settings → crmhooks are granted; others get the default role.', 'crmhooks' ) . '</p></td></tr>';
		echo '<tr><th>' . esc_html__( 'Welcome email', 'crmhooks' ) . '</th><td><label><input type="checkbox" name="notify" value="1"> ' . esc_html__( 'Send new users the WordPress welcome email', 'crmhooks' ) . '</label></td></tr></table>';
		submit_button( __( 'Start import', 'crmhooks' ) );
		echo '</form>';
	}

	/** The Queue screen's box: the last complete sweep pass, and trouble in the current one. */
	public static function render_sweep_box(): void {
		$last    = CrmHooks_Reconcile::last_sweep();
		$trouble = CrmHooks_Reconcile::sweep_trouble();
		echo '<div class="crmhooks-chart" id="crmhooks-last-sweep"><h2>' . esc_html__( 'Reconcile sweep', 'crmhooks' ) . '</h2><p>';
		if ( ! CrmHooks_Settings::get( 'reconcile_enabled' ) ) {
			echo esc_html__( 'The sweep is switched off in the settings.', 'crmhooks' ) . ' ';
		}
		if ( $last === null ) {
			echo esc_html__( 'No sweep has completed yet.', 'crmhooks' );
		} else {
			/* translators: 1: date and time, 2: contacts seen, 3: jobs queued, 4: errors */
			echo esc_html( sprintf( __( 'Last sweep %1$s: %2$d contacts seen, %3$d jobs queued, %4$d errors.', 'crmhooks' ), wp_date( 'Y-m-d H:i:s', (int) $last['finished_at'] ), $last['seen'], $last['queued'], $last['errors'] ) );
		}
		if ( $trouble !== null ) {
			/* translators: 1: error count, 2: last error */
			echo ' ' . esc_html( sprintf( __( 'The current sweep failed %1$d times (retried): %2$s', 'crmhooks' ), $trouble['errors'], (string) ( $trouble['last_error'] ?? '' ) ) );
		}
		echo '</p></div>';
	}

	public static function register_site_health_test( array $tests ): array {
		$tests['direct']['crmhooks_reconcile'] = array(
			'label' => __( 'crmhooks reconcile sweep', 'crmhooks' ),
			'test'  => array( self::class, 'site_health_test' ),
		);
		return $tests;
	}

	/** Good when the sweep is off by choice or completed a pass lately; recommended otherwise. */
	public static function site_health_test(): array {
		$last    = CrmHooks_Reconcile::last_sweep();
		$trouble = CrmHooks_Reconcile::sweep_trouble();
		$late    = time() - self::LATE_INTERVALS * 60 * (int) CrmHooks_Settings::get( 'reconcile_interval_mins' );
		$good    = ! CrmHooks_Settings::get( 'reconcile_enabled' ) || ( $last !== null && (int) $last['finished_at'] >= $late && $trouble === null );
		$words   = $last === null ? __( 'No sweep has completed yet.', 'crmhooks' )
			/* translators: 1: date and time, 2: contacts seen, 3: jobs queued, 4: errors */
			: sprintf( __( 'Last sweep %1$s: %2$d contacts seen, %3$d jobs queued, %4$d errors.', 'crmhooks' ), wp_date( 'Y-m-d H:i:s', (int) $last['finished_at'] ), $last['seen'], $last['queued'], $last['errors'] );
		if ( $trouble !== null ) {
			$words .= ' ' . __( 'The current sweep keeps failing:', 'crmhooks' ) . ' ' . (string) ( $trouble['last_error'] ?? '' );
		}
		return array(
			'status'      => $good ? 'good' : 'recommended',
			'label'       => $good ? __( 'The crmhooks reconcile sweep is up to date', 'crmhooks' ) : __( 'The crmhooks reconcile sweep is behind', 'crmhooks' ),
			'badge'       => array(
				'label' => __( 'crmhooks', 'crmhooks' ),
				'color' => $good ? 'blue' : 'orange',
			),
			'description' => '<p>' . esc_html( $words ) . ' ' . esc_html__( 'The sweep asks the CRM which contacts changed and queues updates for their users, so a webhook lost while the site was down costs nothing.', 'crmhooks' ) . '</p>',
			'test'        => 'crmhooks_reconcile',
			'actions'     => '',
		);
	}
}

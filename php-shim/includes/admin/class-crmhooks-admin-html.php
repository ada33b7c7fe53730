<?php
/**
 * Pieces the Queue and Activity screens share: their URLs, the tabs between them and the
 * settings page, the contact cell, the notice after a redirect, and the screens' styles.
 * Every method returns or prints escaped HTML.
 */

declare(strict_types=1);

final class CrmHooks_Admin_Html {

	public const QUEUE_PAGE    = 'crmhooks-queue';
	public const ACTIVITY_PAGE = 'crmhooks-activity';

	/** The settings page slug (CrmHooks_Admin, Settings -> crmhooks). */
	private const SETTINGS_PAGE = 'crmhooks';

	public static function queue_url( array $args = array() ): string {
		return add_query_arg( $args, admin_url( 'tools.php?page=' . self::QUEUE_PAGE ) );
	}

	public static function activity_url( array $args = array() ): string {
		return add_query_arg( $args, admin_url( 'tools.php?page=' . self::ACTIVITY_PAGE ) );
	}

	/** Tabs between the plugin's screens, as WooCommerce's status screens have them. */
	public static function tabs( string $current ): void {
		$tabs = array(
			self::QUEUE_PAGE    => array( __( 'Queue', 'crmhooks' ), self::queue_url() ),
			self::ACTIVITY_PAGE => array( __( 'Activity', 'crmhooks' ), self::activity_url() ),
			self::SETTINGS_PAGE => array( __( 'Settings', 'crmhooks' ), admin_url( 'options-general.php?page=' . self::SETTINGS_PAGE ) ),
		);
		echo '<nav class="nav-tab-wrapper wp-clearfix" aria-label="' . esc_attr__( 'crmhooks screens', 'crmhooks' ) . '">';
		foreach ( $tabs as $slug => $tab ) {
			$active = $slug === $current;
			echo '<a href="' . esc_url( $tab[1] ) . '" class="nav-tab' . ( $active ? ' nav-tab-active' : '' ) . '"' . ( $active ? ' aria-current="page"' : '' ) . '>' . esc_html( $tab[0] ) . '</a>';
		}
		echo '</nav>';
	}

	/**
	 * A CRM contact ID, linked to the profile of the WordPress user who carries it when the
	 * current user may edit that user; the lookup email when there is no ID.
	 *
	 * @param array<string,int> $users contact ID => user ID (CrmHooks_Admin_Queries::users_by_contact())
	 */
	public static function contact( string $contact_id, array $users, string $email = '' ): string {
		if ( $contact_id === '' ) {
			return $email !== '' ? esc_html( $email ) : '—';
		}
		$label   = esc_html( $contact_id );
		$user_id = $users[ $contact_id ] ?? 0;
		$user    = $user_id > 0 ? get_userdata( $user_id ) : false;
		if ( ! $user instanceof WP_User ) {
			return $label;
		}
		$link = get_edit_user_link( $user->ID ); // Empty when the current user may not edit that user.
		$name = esc_html( $user->user_login );
		if ( $link === '' ) {
			return $label . ' <span class="crmhooks-user">(' . $name . ')</span>';
		}
		/* translators: %s: user login */
		$title = sprintf( __( 'Edit the WordPress user %s', 'crmhooks' ), $user->user_login );
		return '<a href="' . esc_url( $link ) . '" title="' . esc_attr( $title ) . '">' . $label . ' <span class="crmhooks-user">(' . $name . ')</span></a>';
	}

	/** A dismissible notice; $type is success, info, warning or error. */
	public static function notice( string $type, string $text ): void {
		echo '<div class="notice notice-' . esc_attr( $type ) . ' is-dismissible"><p>' . esc_html( $text ) . '</p></div>';
	}

	/**
	 * admin_enqueue_scripts: the screens' few styles, inline on their pages only (no file to
	 * load, nothing from outside the site). Highlighted rows take the colours of WordPress's
	 * notice-warning.
	 */
	public static function enqueue_styles( string $hook_suffix ): void {
		if ( ! in_array( $hook_suffix, array( 'tools_page_' . self::QUEUE_PAGE, 'tools_page_' . self::ACTIVITY_PAGE ), true ) ) {
			return;
		}
		wp_register_style( 'crmhooks-admin', false, array(), CRMHOOKS_VERSION );
		wp_enqueue_style( 'crmhooks-admin' );
		wp_add_inline_style(
			'crmhooks-admin',
			'.crmhooks-chart{background:#fff;border:1px solid #c3c4c7;padding:12px 16px;margin:16px 0;max-width:1100px}'
			. '.crmhooks-chart svg{display:block;width:100%;height:auto}'
			. '.crmhooks-chart .crmhooks-legend{margin:0 0 8px}.crmhooks-legend span{display:inline-block;margin-right:20px}'
			. '.crmhooks-swatch{display:inline-block;width:12px;height:12px;margin-right:6px;vertical-align:-1px}'
			. '.crmhooks-chart .description{margin:8px 0 0}'
			. '.crmhooks-state{font-weight:600}.crmhooks-state-failed{color:#b32d2e}.crmhooks-state-retrying,.crmhooks-state-deferred{color:#996800}'
			. '.crmhooks-state-running{color:#2271b1}.crmhooks-state-done{color:#007017}'
			. '.crmhooks-user{color:#646970}'
			. 'tr.crmhooks-attention th.check-column,tr.crmhooks-attention td{background:#fcf9e8}'
			. 'tr.crmhooks-attention td:first-child{box-shadow:inset 4px 0 0 #dba617}'
			. '.crmhooks-detail{max-width:900px}.crmhooks-detail th{width:12em}'
			. '.crmhooks-changes ul{margin:0 0 0 1.5em;list-style:disc}.crmhooks-old{text-decoration:line-through;color:#646970}'
			. '.crmhooks_jobs .column-job{width:5%}.crmhooks_jobs .column-state{width:27%}.crmhooks_jobs .column-contact{width:13%}'
			. '.crmhooks_jobs .column-action,.crmhooks_jobs .column-webhooks,.crmhooks_jobs .column-attempts{width:8%}'
			. '.crmhooks_jobs .column-received,.crmhooks_jobs .column-updated{width:14%}'
			. '.crmhooks_entries .column-time{width:22%}.crmhooks_entries .column-action,.crmhooks_entries .column-duration,.crmhooks_entries .column-crm_calls{width:10%}'
		);
	}

	/** Redirects back to a screen with what was done (read back by redirect_result()). */
	public static function redirect( string $url, string $done, int $count = 0, int $refused = 0 ): void {
		wp_safe_redirect(
			add_query_arg(
				array(
					'crmhooks_done'    => $done,
					'crmhooks_count'   => $count,
					'crmhooks_refused' => $refused,
				),
				$url
			)
		);
		exit;
	}

	/**
	 * What our own redirect reported, or null. The query values only pick a fixed message and
	 * its counts; nothing changes here.
	 *
	 * @return array{done:string, count:int, refused:int}|null
	 */
	public static function redirect_result(): ?array {
		// phpcs:disable WordPress.Security.NonceVerification.Recommended
		if ( ! isset( $_GET['crmhooks_done'] ) ) {
			return null;
		}
		return array(
			'done'    => sanitize_key( wp_unslash( $_GET['crmhooks_done'] ) ),
			'count'   => isset( $_GET['crmhooks_count'] ) ? absint( wp_unslash( $_GET['crmhooks_count'] ) ) : 0,
			'refused' => isset( $_GET['crmhooks_refused'] ) ? absint( wp_unslash( $_GET['crmhooks_refused'] ) ) : 0,
		);
		// phpcs:enable
	}
}

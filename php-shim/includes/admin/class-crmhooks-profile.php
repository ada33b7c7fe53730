<?php
/**
 * The user profile's crmhooks section (contact ID, tags, a tag editor that writes to the CRM, and
 * "Pull from CRM") and the Tags column of Users. Shown to, and usable by, users who may edit
 * users (edit_users) and this user; every action also checks its nonce. The library decides what
 * a pull may change (privileged users: tags only); this class only gathers input and shows results.
 */

declare(strict_types=1);

final class CrmHooks_Profile {

	public const TAGS_ACTION = 'crmhooks_profile_tags';
	public const PULL_ACTION = 'crmhooks_profile_pull';

	/** Query argument that carries the result back to the profile after a redirect. */
	private const RESULT_ARG = 'crmhooks_profile';

	/** The user whose section was rendered: the footer form acts on them. */
	private static int $form_user = 0;

	public static function register(): void {
		add_action( 'show_user_profile', array( self::class, 'render' ) );
		add_action( 'edit_user_profile', array( self::class, 'render' ) );
		add_action( 'admin_post_' . self::TAGS_ACTION, array( self::class, 'change_tags' ) );
		add_action( 'admin_post_' . self::PULL_ACTION, array( self::class, 'pull' ) );
		add_filter( 'manage_users_columns', array( self::class, 'add_column' ) );
		add_filter( 'manage_users_custom_column', array( self::class, 'column' ), 10, 3 );
	}

	public static function add_column( array $columns ): array {
		$columns['crmhooks_tags'] = __( 'Tags', 'crmhooks' );
		return $columns;
	}

	/** @param string $output what earlier filters made of the cell */
	public static function column( $output, $column, $user_id ): string {
		if ( $column !== 'crmhooks_tags' ) {
			return (string) $output;
		}
		$names = array_column( CrmHooks_Users::tags( (int) $user_id ), 'name' );
		return $names === array() ? '—' : esc_html( implode( ', ', $names ) );
	}

	public static function render( WP_User $user ): void {
		if ( ! self::may_edit( $user->ID ) ) {
			return;
		}
		$contact_id = (string) get_user_meta( $user->ID, CrmHooks_Users::META_CONTACT_ID, true );
		echo '<h2 id="crmhooks-profile">' . esc_html__( 'CRM (crmhooks)', 'crmhooks' ) . '</h2>';
		self::result_notice();
		echo '<table class="form-table" role="presentation"><tr><th scope="row">' . esc_html__( 'CRM contact ID', 'crmhooks' ) . '</th><td id="crmhooks-contact-id">'
			. ( $contact_id !== '' ? esc_html( $contact_id ) : esc_html__( 'Not linked to a CRM contact: a webhook for this user\'s email links it.', 'crmhooks' ) ) . '</td></tr>';
		if ( $contact_id === '' ) {
			echo '</table>';
			return;
		}
		// Forms cannot nest: these controls belong (form="...") to a form printed in the footer.
		self::$form_user = $user->ID;
		add_action( 'admin_footer', array( self::class, 'print_form' ) );
		echo '<tr><th scope="row">' . esc_html__( 'Tags', 'crmhooks' ) . '</th><td><fieldset id="crmhooks-tags"><legend class="screen-reader-text">' . esc_html__( 'Tags to remove', 'crmhooks' ) . '</legend>';
		$tags = CrmHooks_Users::tags( $user->ID );
		foreach ( $tags as $i => $tag ) {
			echo '<label for="crmhooks-remove-' . (int) $i . '" class="crmhooks-tag"><input type="checkbox" id="crmhooks-remove-' . (int) $i . '" name="crmhooks_remove[]" form="crmhooks-profile-form" value="' . esc_attr( $tag['name'] ) . '"> '
				. esc_html( $tag['name'] ) . '</label><br>';
		}
		echo $tags === array() ? '<p>' . esc_html__( 'No tags.', 'crmhooks' ) . '</p>' : '<p class="description">' . esc_html__( 'Tick a tag to remove it.', 'crmhooks' ) . '</p>';
		echo '</fieldset></td></tr><tr><th scope="row"><label for="crmhooks-add">' . esc_html__( 'Apply tags', 'crmhooks' ) . '</label></th><td>'
			. '<input type="text" class="regular-text" id="crmhooks-add" name="crmhooks_add" value="" autocomplete="off" form="crmhooks-profile-form">'
			. '<p class="description">' . esc_html__( 'Tag names, separated by commas. Tags are applied to and removed from the contact in the CRM first, then here.', 'crmhooks' ) . '</p>'
			. '<p><button type="submit" class="button" id="crmhooks-save-tags" form="crmhooks-profile-form" name="action" value="' . esc_attr( self::TAGS_ACTION ) . '">' . esc_html__( 'Save tag changes to the CRM', 'crmhooks' ) . '</button></p></td></tr>'
			. '<tr><th scope="row">' . esc_html__( 'Pull from CRM', 'crmhooks' ) . '</th><td><button type="submit" class="button" id="crmhooks-pull" form="crmhooks-profile-form" name="action" value="' . esc_attr( self::PULL_ACTION ) . '">' . esc_html__( 'Pull from CRM now', 'crmhooks' ) . '</button>'
			. '<p class="description">' . esc_html__( 'Loads the contact from the CRM and updates this user as an update webhook would (administrators: tags only).', 'crmhooks' ) . '</p>'
			. '</td></tr></table>';
	}

	/** admin_footer: the form the profile section's controls submit, outside the profile form. */
	public static function print_form(): void {
		echo '<form id="crmhooks-profile-form" method="post" action="' . esc_url( admin_url( 'admin-post.php' ) ) . '">'
			. '<input type="hidden" name="crmhooks_user" value="' . (int) self::$form_user . '">';
		wp_nonce_field( self::nonce_action( self::$form_user ), 'crmhooks_profile_nonce' );
		echo '</form>';
	}

	/** admin-post: apply and remove tags in the CRM, then locally (crmhooks_apply_tags/remove_tags). */
	public static function change_tags(): void {
		$user_id = self::checked_user();
		// phpcs:disable WordPress.Security.NonceVerification.Missing -- Verified in checked_user().
		$add    = array_map( 'trim', explode( ',', sanitize_text_field( wp_unslash( $_POST['crmhooks_add'] ?? '' ) ) ) );
		$remove = array_map( 'sanitize_text_field', (array) wp_unslash( $_POST['crmhooks_remove'] ?? array() ) );
		// phpcs:enable
		$result = crmhooks_apply_tags( $user_id, $add );
		$result = is_wp_error( $result ) ? $result : crmhooks_remove_tags( $user_id, $remove );
		self::back( $user_id, is_wp_error( $result ) ? 'tags_failed:' . $result->get_error_code() : 'tags_saved' );
	}

	/** admin-post: process an update for this user's contact now, as a webhook would, and log it. */
	public static function pull(): void {
		$user_id    = self::checked_user();
		$contact_id = (string) get_user_meta( $user_id, CrmHooks_Users::META_CONTACT_ID, true );
		if ( $contact_id === '' ) {
			self::back( $user_id, 'tags_failed:crmhooks_no_contact' );
		}
		$request = array(
			'action'            => 'update',
			'contact_id'        => $contact_id,
			'email'             => null,
			'role'              => null,
			'send_notification' => false,
		);
		$outcome = CrmHooks_Worker::process( $request );
		CrmHooks_Log::add_outcome( $outcome, 'pulled from the profile: ' . $outcome['message'] );
		self::back( $user_id, 'pulled:' . CrmHooks_Jobs::ended_as( $outcome ) );
	}

	private static function may_edit( int $user_id ): bool {
		return current_user_can( 'edit_users' ) && current_user_can( 'edit_user', $user_id );
	}

	private static function nonce_action( int $user_id ): string {
		return 'crmhooks_profile_' . $user_id;
	}

	/** The target user of an admin-post action, after its capability and nonce checks. */
	private static function checked_user(): int {
		$user_id = isset( $_POST['crmhooks_user'] ) ? absint( $_POST['crmhooks_user'] ) : 0; // phpcs:ignore WordPress.Security.NonceVerification.Missing -- The nonce names this user; checked below.
		if ( $user_id === 0 || ! self::may_edit( $user_id ) ) {
			wp_die( esc_html__( 'You are not allowed to edit this user.', 'crmhooks' ), '', array( 'response' => 403 ) );
		}
		check_admin_referer( self::nonce_action( $user_id ), 'crmhooks_profile_nonce' );
		return $user_id;
	}

	private static function back( int $user_id, string $result ): void {
		wp_safe_redirect( add_query_arg( self::RESULT_ARG, rawurlencode( $result ), get_edit_user_link( $user_id ) ) . '#crmhooks-profile' );
		exit;
	}

	/** The result of the last action, in words (the redirect carries a code, never a message). */
	private static function result_notice(): void {
		$result = isset( $_GET[ self::RESULT_ARG ] ) ? sanitize_text_field( wp_unslash( $_GET[ self::RESULT_ARG ] ) ) : ''; // phpcs:ignore WordPress.Security.NonceVerification.Recommended -- Only shown, never acted on.
		if ( $result === '' ) {
			return;
		}
		list( $kind, $code ) = array_pad( explode( ':', $result, 2 ), 2, '' );
		require_once CRMHOOKS_INCLUDES . 'admin/class-crmhooks-admin-words.php';
		if ( $kind === 'tags_saved' ) {
			$class = 'success';
			$text  = __( 'The tag changes were saved to the CRM and to this user.', 'crmhooks' );
		} elseif ( $kind === 'tags_failed' ) {
			$class = 'error';
			$text  = array(
				'crmhooks_no_contact'  => __( 'This user has no CRM contact ID; nothing was changed.', 'crmhooks' ),
				'crmhooks_unavailable' => CrmHooks_Admin_Words::outcome_sentence( 'unavailable' ),
			)[ $code ] ?? __( 'The CRM refused the tag change or could not be reached; nothing was changed here. The Activity screen and Site Health say more.', 'crmhooks' );
		} else {
			$class = in_array( $code, array( 'updated', 'unchanged', 'created' ), true ) ? 'success' : 'warning';
			/* translators: 1: outcome label, 2: sentence saying what happened */
			$text = sprintf( __( 'Pulled from the CRM: %1$s. %2$s', 'crmhooks' ), CrmHooks_Admin_Words::outcome_label( $code ), CrmHooks_Admin_Words::outcome_sentence( $code ) );
		}
		echo '<div class="notice notice-' . esc_attr( $class ) . ' inline" id="crmhooks-profile-result"><p>' . esc_html( $text ) . '</p></div>';
	}
}

<?php
/**
 * The browser view of a webhook URL for a logged-in administrator: what the request says, what
 * the CRM returned and what would change. A dry run: nothing is applied. Everything is escaped
 * and password values are masked.
 */

declare(strict_types=1);

final class CrmHooks_Debug_Page {

	private const MASK = '********';

	/**
	 * The page: readable sections (request, contact, the user, what would change), then the raw
	 * JSON behind a disclosure. Values pass through esc_html() once, where they are printed.
	 */
	public static function render( array $request, array $preview ): string {
		$secret_keys = self::secret_field_keys();
		$contact     = self::mask_contact( (array) ( $preview['contact'] ?? array() ), $secret_keys );
		$plan        = self::mask_plan( (array) ( $preview['plan'] ?? array() ), $secret_keys );
		$user_id     = is_numeric( $plan['user_id'] ?? null ) ? (int) $plan['user_id'] : null;
		$user        = $user_id !== null ? get_userdata( $user_id ) : false;
		$yes_no      = static fn( $flag ): string => $flag === null ? __( 'site setting', 'crmhooks' ) : ( $flag ? __( 'yes', 'crmhooks' ) : __( 'no', 'crmhooks' ) );

		$html = self::section(
			'request',
			__( 'Request', 'crmhooks' ),
			array(
				__( 'Action', 'crmhooks' )            => (string) ( $request['action'] ?? '' ),
				__( 'Contact ID', 'crmhooks' )        => (string) ( $request['contact_id'] ?? '' ),
				__( 'Lookup email', 'crmhooks' )      => (string) ( $request['email'] ?? '' ),
				__( 'Role asked for', 'crmhooks' )    => (string) ( $request['role'] ?? '' ),
				__( 'Send notification', 'crmhooks' ) => $yes_no( (bool) ( $request['send_notification'] ?? false ) ),
				__( 'Queued (async)', 'crmhooks' )    => $yes_no( $request['async'] ?? null ),
			)
		);
		if ( ( $preview['outcome'] ?? '' ) !== 'preview' ) {
			require_once CRMHOOKS_INCLUDES . 'admin/class-crmhooks-admin-words.php';
			$code  = (string) ( $preview['code'] ?? '' ) !== '' ? (string) $preview['code'] : (string) ( $preview['outcome'] ?? '' );
			$html .= self::section(
				'result',
				__( 'Result', 'crmhooks' ),
				array(
					__( 'Outcome', 'crmhooks' ) => CrmHooks_Admin_Words::outcome_label( $code ),
					__( 'Meaning', 'crmhooks' ) => CrmHooks_Admin_Words::outcome_sentence( $code ),
					__( 'Message', 'crmhooks' ) => (string) ( $preview['message'] ?? '' ),
				)
			);
		} else {
			$rows = array(
				__( 'Contact ID', 'crmhooks' ) => (string) ( $contact['id'] ?? '' ),
				__( 'Email', 'crmhooks' )      => (string) ( $contact['email'] ?? '' ),
				__( 'Name', 'crmhooks' )       => trim( ( $contact['first_name'] ?? '' ) . ' ' . ( $contact['last_name'] ?? '' ) ),
				__( 'Tags', 'crmhooks' )       => implode( ', ', array_column( (array) ( $contact['tags'] ?? array() ), 'name' ) ),
			);
			foreach ( (array) ( $contact['fields'] ?? array() ) as $field ) {
				/* translators: 1: CRM field label, 2: CRM field key */
				$rows[ sprintf( __( 'Field %1$s (%2$s)', 'crmhooks' ), $field['label'] ?? '', $field['key'] ?? '' ) ] = (string) ( $field['value'] ?? '' );
			}
			$html .= self::section( 'contact', __( 'Contact loaded from the CRM', 'crmhooks' ), $rows );
			$html .= self::section(
				'user',
				__( 'WordPress user the webhook touches', 'crmhooks' ),
				$user instanceof WP_User ? array(
					__( 'User', 'crmhooks' )       => '#' . $user->ID . ' ' . $user->user_login,
					__( 'Email', 'crmhooks' )      => $user->user_email,
					__( 'Roles', 'crmhooks' )      => implode( ', ', (array) $user->roles ),
					__( 'Contact ID', 'crmhooks' ) => (string) get_user_meta( $user->ID, CrmHooks_Users::META_CONTACT_ID, true ),
					__( 'Tags', 'crmhooks' )       => implode( ', ', array_column( CrmHooks_Users::tags( $user->ID ), 'name' ) ),
				) : array( __( 'User', 'crmhooks' ) => __( 'none: an add creates one, other actions skip', 'crmhooks' ) )
			);
			$html .= self::changes( $plan, $user, $secret_keys );
		}
		$raw = array(
			'request' => $request,
			'contact' => $contact,
			'plan'    => $plan,
		) + ( ( $preview['outcome'] ?? '' ) === 'preview' ? array() : array( 'result' => array_intersect_key( $preview, array_flip( array( 'outcome', 'code', 'message' ) ) ) ) );

		return '<!DOCTYPE html><html><head><meta charset="utf-8"><meta name="robots" content="noindex">'
			. '<title>' . esc_html__( 'crmhooks webhook debug', 'crmhooks' ) . '</title>'
			. '<style>body{font:14px/1.4 sans-serif;margin:2em;max-width:60em;color:#1d2327}table{border-collapse:collapse;width:100%;margin-bottom:1em}th,td{text-align:left;vertical-align:top;padding:.35em .6em;border-bottom:1px solid #dcdcde}th{width:14em;font-weight:600}'
			. '.crmhooks-added{color:#00701a}.crmhooks-removed{color:#b32d2e;text-decoration:line-through}.crmhooks-old{color:#646970}pre{background:#f6f7f7;padding:1em;overflow:auto}summary{cursor:pointer;font-weight:600}</style>'
			. '</head><body><h1>' . esc_html__( 'crmhooks webhook debug', 'crmhooks' ) . '</h1>'
			. '<p>' . esc_html__( 'Shown only to administrators. This is a dry run: no user, meta or tag was changed.', 'crmhooks' ) . '</p>'
			. $html
			. '<details id="crmhooks-raw"><summary>' . esc_html__( 'Raw JSON (request, contact, plan)', 'crmhooks' ) . '</summary><pre>'
			. esc_html( (string) wp_json_encode( $raw, JSON_PRETTY_PRINT | JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE ) ) . '</pre></details></body></html>';
	}

	/** A titled table of label => text rows. */
	private static function section( string $id, string $title, array $rows ): string {
		$html = '<h2>' . esc_html( $title ) . '</h2><table id="crmhooks-' . esc_attr( $id ) . '">';
		foreach ( $rows as $label => $text ) {
			$html .= '<tr><th scope="row">' . esc_html( (string) $label ) . '</th><td>' . ( $text === '' ? '—' : esc_html( (string) $text ) ) . '</td></tr>';
		}
		return $html . '</table>';
	}

	/** What would change, op by op: tags added and removed, fields old -> new, the role. */
	private static function changes( array $plan, $user, array $secret_keys ): string {
		require_once CRMHOOKS_INCLUDES . 'admin/class-crmhooks-admin-words.php';
		$rows = array();
		$old  = static function ( string $key ) use ( $user, $secret_keys ): string {
			if ( ! $user instanceof WP_User ) {
				return '';
			}
			if ( self::looks_secret( $key ) || in_array( $key, $secret_keys, true ) ) {
				return self::MASK;
			}
			$value = isset( $user->data->{$key} ) ? $user->data->{$key} : get_user_meta( $user->ID, $key, true );
			return is_scalar( $value ) ? (string) $value : (string) wp_json_encode( $value );
		};
		$diff = static fn( string $from, string $to ): string => '<span class="crmhooks-old">' . esc_html( $from === '' ? '(empty)' : $from ) . '</span> → <span class="crmhooks-new">' . esc_html( $to === '' ? '(empty)' : $to ) . '</span>';
		foreach ( (array) ( $plan['ops'] ?? array() ) as $op ) {
			$kind = (string) ( $op['op'] ?? '' );
			if ( $kind === 'set_tags' ) {
				$tags   = array_map( static fn( $t ): string => '<span class="crmhooks-added">+ ' . esc_html( (string) $t ) . '</span>', (array) ( $op['added'] ?? array() ) );
				$tags   = array_merge( $tags, array_map( static fn( $t ): string => '<span class="crmhooks-removed">− ' . esc_html( (string) $t ) . '</span>', (array) ( $op['removed'] ?? array() ) ) );
				$rows[] = array( __( 'Tags', 'crmhooks' ), implode( ' ', $tags ) );
			} elseif ( $kind === 'update_user' ) {
				foreach ( (array) ( $op['fields'] ?? array() ) as $key => $value ) {
					$rows[] = array( (string) $key, $diff( $old( (string) $key ), (string) $value ) );
				}
			} elseif ( $kind === 'set_meta' ) {
				$rows[] = array( (string) $op['key'], $diff( $old( (string) $op['key'] ), (string) $op['value'] ) );
			} elseif ( $kind === 'delete_meta' ) {
				$rows[] = array( (string) $op['key'], $diff( $old( (string) $op['key'] ), '' ) );
			} elseif ( $kind === 'set_role' ) {
				$rows[] = array( __( 'Role', 'crmhooks' ), $diff( $user instanceof WP_User ? implode( ', ', (array) $user->roles ) : '', (string) $op['role'] ) );
			} elseif ( $kind === 'set_contact_id' ) {
				$rows[] = array( __( 'CRM contact ID', 'crmhooks' ), $diff( $old( CrmHooks_Users::META_CONTACT_ID ), (string) ( $op['contact_id'] ?? '' ) ) );
			} elseif ( $kind === 'create_user' ) {
				foreach ( array( 'user_login', 'user_email', 'first_name', 'last_name', 'role', 'user_pass' ) as $key ) {
					$rows[] = array( $key, $diff( '', (string) ( $op[ $key ] ?? '' ) ) );
				}
			} else {
				$rows[] = array( $kind, esc_html( (string) wp_json_encode( array_diff_key( $op, array( 'op' => true ) ), JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE ) ) );
			}
		}
		foreach ( (array) ( $plan['notices'] ?? array() ) as $notice ) {
			$rows[] = array( __( 'Notice', 'crmhooks' ), esc_html( (string) ( $notice['message'] ?? '' ) ) );
		}
		$outcome = (string) ( $plan['outcome'] ?? '' );
		$html    = '<h2>' . esc_html__( 'What would change (nothing was applied)', 'crmhooks' ) . '</h2><p id="crmhooks-outcome"><strong>'
			/* translators: %s: outcome label, e.g. "User created" */
			. esc_html( sprintf( __( 'If applied: %s.', 'crmhooks' ), CrmHooks_Admin_Words::outcome_label( $outcome ) ) ) . '</strong> ' . esc_html( CrmHooks_Admin_Words::outcome_sentence( $outcome ) ) . '</p><table id="crmhooks-changes">';
		foreach ( $rows as $row ) {
			$html .= '<tr><th scope="row">' . esc_html( $row[0] ) . '</th><td>' . $row[1] . '</td></tr>'; // $row[1] is escaped where it was built.
		}
		return $html . ( $rows === array() ? '<tr><td>' . esc_html__( 'Nothing: the user already matches the CRM.', 'crmhooks' ) . '</td></tr>' : '' ) . '</table>';
	}

	/** CRM field keys that carry passwords: the return-password field and any field mapped to user_pass. */
	private static function secret_field_keys(): array {
		$keys           = array();
		$password_field = (string) CrmHooks_Settings::get( 'password_field' );
		if ( $password_field !== '' ) {
			$keys[] = $password_field;
		}
		foreach ( (array) CrmHooks_Settings::get( 'field_map' ) as $mapping ) {
			if ( $mapping['wp_key'] === 'user_pass' ) {
				$keys[] = $mapping['crm_key'];
			}
		}
		return $keys;
	}

	private static function mask_contact( array $contact, array $secret_keys ): array {
		foreach ( (array) ( $contact['fields'] ?? array() ) as $i => $field ) {
			if ( is_array( $field ) && ( in_array( (string) ( $field['key'] ?? '' ), $secret_keys, true ) || self::looks_secret( (string) ( $field['key'] ?? '' ) . ' ' . (string) ( $field['label'] ?? '' ) ) ) ) {
				$contact['fields'][ $i ]['value'] = self::MASK;
			}
		}
		return $contact;
	}

	private static function mask_plan( array $plan, array $secret_keys ): array {
		foreach ( (array) ( $plan['ops'] ?? array() ) as $i => $op ) {
			if ( ! is_array( $op ) ) {
				continue;
			}
			if ( isset( $op['user_pass'] ) ) {
				$plan['ops'][ $i ]['user_pass'] = self::MASK;
			}
			if ( isset( $op['value'] ) && ( self::looks_secret( (string) ( $op['key'] ?? '' ) ) || in_array( (string) ( $op['key'] ?? '' ), $secret_keys, true ) ) ) {
				$plan['ops'][ $i ]['value'] = self::MASK;
			}
		}
		return $plan;
	}

	private static function looks_secret( string $name ): bool {
		return (bool) preg_match( '/pass(word)?|user_pass|secret/i', $name );
	}
}

<?php
/**
 * The browser view of a webhook URL for a logged-in administrator: what the request says, what
 * the CRM returned and what would change. A dry run: nothing is applied. Everything is escaped
 * and password values are masked.
 */

declare(strict_types=1);

final class CrmHooks_Debug_Page {

	private const MASK = '********';

	public static function render( array $request, array $preview ): string {
		$sections = array(
			__( 'Request', 'crmhooks' ) => $request,
		);
		if ( ( $preview['outcome'] ?? '' ) === 'preview' ) {
			$secret_keys = self::secret_field_keys();
			$sections[ __( 'Contact loaded from the CRM', 'crmhooks' ) ] = self::mask_contact( (array) $preview['contact'], $secret_keys );
			$user_id = $preview['plan']['user_id'] ?? null;
			$sections[ __( 'WordPress user the webhook touches', 'crmhooks' ) ]            = $user_id !== null ? '#' . (int) $user_id : __( '(none: created on add, skipped otherwise)', 'crmhooks' );
			$sections[ __( 'Plan (what would change; nothing was applied)', 'crmhooks' ) ] = self::mask_plan( (array) $preview['plan'], $secret_keys );
		} else {
			$sections[ __( 'Result', 'crmhooks' ) ] = array(
				'outcome' => (string) ( $preview['outcome'] ?? '' ),
				'code'    => (string) ( $preview['code'] ?? '' ),
				'message' => (string) ( $preview['message'] ?? '' ),
			);
		}

		$html = '<!DOCTYPE html><html><head><meta charset="utf-8"><meta name="robots" content="noindex">'
			. '<title>' . esc_html__( 'crmhooks webhook debug', 'crmhooks' ) . '</title>'
			. '<style>body{font:14px/1.4 sans-serif;margin:2em;max-width:60em}pre{background:#f6f7f7;padding:1em;overflow:auto}</style>'
			. '</head><body><h1>' . esc_html__( 'crmhooks webhook debug', 'crmhooks' ) . '</h1>'
			. '<p>' . esc_html__( 'Shown only to administrators. This is a dry run: no user, meta or tag was changed.', 'crmhooks' ) . '</p>';
		foreach ( $sections as $title => $data ) {
			$text  = is_string( $data ) ? $data : (string) wp_json_encode( $data, JSON_PRETTY_PRINT | JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE );
			$html .= '<h2>' . esc_html( $title ) . '</h2><pre>' . esc_html( $text ) . '</pre>';
		}
		return $html . '</body></html>';
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

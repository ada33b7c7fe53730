<?php
/**
 * Public functions for other plugins.
 */

declare(strict_types=1);

/**
 * Applies tags to a user's CRM contact and to the user's local tags.
 *
 * @param int      $user_id WordPress user ID (must have a crmhooks_contact_id).
 * @param string[] $tags    Tag names.
 * @return bool|WP_Error true on success
 */
function crmhooks_apply_tags( $user_id, array $tags ) {
	return crmhooks_change_tags( (int) $user_id, $tags, array() );
}

/**
 * Removes tags from a user's CRM contact and from the user's local tags.
 *
 * @param int      $user_id WordPress user ID.
 * @param string[] $tags    Tag names.
 * @return bool|WP_Error
 */
function crmhooks_remove_tags( $user_id, array $tags ) {
	return crmhooks_change_tags( (int) $user_id, array(), $tags );
}

/**
 * @internal Shared by crmhooks_apply_tags() and crmhooks_remove_tags().
 * @return bool|WP_Error
 */
function crmhooks_change_tags( int $user_id, array $add, array $remove ) {
	$add    = array_values( array_filter( array_map( 'strval', $add ), static fn( string $t ): bool => trim( $t ) !== '' ) );
	$remove = array_values( array_filter( array_map( 'strval', $remove ), static fn( string $t ): bool => trim( $t ) !== '' ) );
	if ( $add === array() && $remove === array() ) {
		return true;
	}
	$contact_id = (string) get_user_meta( $user_id, CrmHooks_User_Store::META_CONTACT_ID, true );
	if ( $contact_id === '' ) {
		return new WP_Error( 'crmhooks_no_contact', __( 'This user has no CRM contact ID.', 'crmhooks' ) );
	}
	try {
		$native = CrmHooks_Native::get();
		$json   = (string) wp_json_encode(
			array(
				'contact_id' => $contact_id,
				'add'        => $add,
				'remove'     => $remove,
			),
			JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE
		);
		try {
			CrmHooks_Crm_Rate::call( CrmHooks_Settings::crm_config_json(), static fn( string $c ) => $native->crm_change_tags( $c, $json ) );
		} finally {
			CrmHooks_Loopback::record_write( $contact_id ); // Internal: no listener can switch it off.
			do_action( 'crmhooks_crm_write', $contact_id );
		}
	} catch ( CrmHooks_Native_Unavailable $e ) {
		return new WP_Error( 'crmhooks_unavailable', $e->getMessage() );
	} catch ( CrmHooks_Native_Error $e ) {
		return new WP_Error( 'crmhooks_crm_error', $e->getMessage() );
	}

	// Local tags: drop removed names, add new ones; names match case-insensitively, like the library's diff.
	$remove_lower = array_map( static fn( string $t ): string => strtolower( trim( $t ) ), $remove );
	$tags         = array();
	$removed      = array();
	foreach ( CrmHooks_User_Store::tags( $user_id ) as $tag ) {
		if ( in_array( strtolower( trim( $tag['name'] ) ), $remove_lower, true ) ) {
			$removed[] = $tag['name'];
		} else {
			$tags[] = $tag;
		}
	}
	$added = array();
	foreach ( $add as $name ) {
		$present = array_map( static fn( array $t ): string => strtolower( trim( $t['name'] ) ), $tags );
		if ( ! in_array( strtolower( trim( $name ) ), $present, true ) ) {
			$tags[]  = array(
				'id'   => '',
				'name' => trim( $name ),
			);
			$added[] = trim( $name );
		}
	}
	$all = CrmHooks_User_Store::store_tags( $user_id, $tags );
	do_action( 'crmhooks_tags_modified', $user_id, $added, $removed, $all );
	return true;
}

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
 * Imports every CRM contact carrying a tag as a WordPress user with a role (the role allowlist
 * applies; an existing user is updated, never duplicated), optionally sending the welcome email.
 * Runs in the background (queued jobs, paced, resumable); one import at a time.
 *
 * @param string $tag    The tag's ID in the CRM, or its name.
 * @param string $role   Role slug for the new users; empty for the site's default role.
 * @param bool   $notify Send WordPress's new-user email.
 * @return array|WP_Error started (false when an import is still running), reason, progress
 */
function crmhooks_import_by_tag( $tag, $role = '', $notify = false ) {
	try {
		return CrmHooks_Reconcile::start_import( (string) $tag, (string) $role, (bool) $notify );
	} catch ( Throwable $e ) {
		return new WP_Error( 'crmhooks_import', $e->getMessage() );
	}
}

/**
 * @internal Shared by crmhooks_apply_tags() and crmhooks_remove_tags().
 * @return bool|WP_Error
 */
function crmhooks_change_tags( int $user_id, array $add, array $remove ) {
	$add    = array_values( array_filter( array_map( 'strval', $add ), 'strlen' ) );
	$remove = array_values( array_filter( array_map( 'strval', $remove ), 'strlen' ) );
	if ( $add === array() && $remove === array() ) {
		return true;
	}
	$contact_id = (string) get_user_meta( $user_id, CrmHooks_Users::META_CONTACT_ID, true );
	if ( $contact_id === '' ) {
		return new WP_Error( 'crmhooks_no_contact', __( 'This user has no CRM contact ID.', 'crmhooks' ) );
	}
	try {
		CrmHooks_Crm::change_tags( $contact_id, $add, $remove );
	} catch ( CrmHooks_Native_Unavailable $e ) {
		return new WP_Error( 'crmhooks_unavailable', $e->getMessage() );
	} catch ( CrmHooks_Native_Error $e ) {
		return new WP_Error( 'crmhooks_crm_error', $e->getMessage() );
	}

	// Local tags follow, names matched as the library's tag diff matches them.
	$current = CrmHooks_Users::tags( $user_id );
	$change  = CrmHooks_Native::get()->tags_change( compact( 'current', 'add', 'remove' ) );
	$all     = CrmHooks_Users::store_tags( $user_id, (array) $change['tags'] );
	$added   = (array) $change['added'];
	$removed = (array) $change['removed'];
	do_action( 'crmhooks_tags_modified', $user_id, $added, $removed, $all );
	return true;
}

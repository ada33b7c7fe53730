<?php
/**
 * What the admin screens say, in one place: outcome codes, job states, refusal reasons and
 * actions in plain, translatable words, and times in the site's timezone. The codes themselves
 * come from the library and the processor; this class only names them.
 */

declare(strict_types=1);

final class CrmHooks_Admin_Words {

	/**
	 * Outcomes a log entry or a job can carry: code => [short label, sentence saying what
	 * happened and what to do]. A code missing here is shown as it is.
	 */
	public static function outcomes(): array {
		return array(
			'received'          => array( __( 'Received', 'crmhooks' ), __( 'The webhook was accepted and queued; a job fetches the contact from the CRM next.', 'crmhooks' ) ),
			'created'           => array( __( 'User created', 'crmhooks' ), __( 'A WordPress user was created for the contact.', 'crmhooks' ) ),
			'updated'           => array( __( 'User updated', 'crmhooks' ), __( 'The WordPress user was updated from the CRM.', 'crmhooks' ) ),
			'unchanged'         => array( __( 'No change', 'crmhooks' ), __( 'The WordPress user already matched the CRM; nothing was written.', 'crmhooks' ) ),
			'skipped'           => array( __( 'Skipped', 'crmhooks' ), __( 'Nothing was written: there is no user to work on (an update for a contact without a user, or an add without a valid email). The details say why.', 'crmhooks' ) ),
			'conflict'          => array( __( 'Conflict', 'crmhooks' ), __( 'Nothing was written: two users are linked to this contact, or the contact\'s email belongs to a user linked to another contact. Fix the users\' contact IDs, then retry.', 'crmhooks' ) ),
			'contact_not_found' => array( __( 'Contact not found', 'crmhooks' ), __( 'The CRM has no such contact; nothing was written. Check the contact ID or email the CRM sends.', 'crmhooks' ) ),
			'crm_error'         => array( __( 'CRM error', 'crmhooks' ), __( 'The CRM answered with an error. The message says which; retry once the CRM works again.', 'crmhooks' ) ),
			'crm_unauthorized'  => array( __( 'CRM refused the credentials', 'crmhooks' ), __( 'The CRM refused the API credentials. Check them in Settings → crmhooks, then retry.', 'crmhooks' ) ),
			'crm_rate_limited'  => array( __( 'CRM rate limit', 'crmhooks' ), __( 'The CRM asked us to slow down; the job waits as long as the CRM asked.', 'crmhooks' ) ),
			'crm_temporary'     => array( __( 'CRM unavailable', 'crmhooks' ), __( 'The CRM could not be reached or had a temporary error; the job is tried again later.', 'crmhooks' ) ),
			'crm_permanent'     => array( __( 'CRM refused the request', 'crmhooks' ), __( 'The CRM refused the request. Check the CRM settings and the message, then retry.', 'crmhooks' ) ),
			'busy'              => array( __( 'Busy', 'crmhooks' ), __( 'Another delivery for this contact was being processed at the same time; the job is tried again.', 'crmhooks' ) ),
			'unavailable'       => array( __( 'Library unavailable', 'crmhooks' ), __( 'The crmhooks library could not be loaded. Tools → Site Health says what is missing.', 'crmhooks' ) ),
			'failed'            => array( __( 'Failed', 'crmhooks' ), __( 'WordPress refused a change or an error stopped the job. The message says which.', 'crmhooks' ) ),
			'exception'         => array( __( 'PHP error', 'crmhooks' ), __( 'A PHP error stopped the job; it is tried again. The message names the error.', 'crmhooks' ) ),
			'worker_died'       => array( __( 'Worker stopped', 'crmhooks' ), __( 'The worker stopped before finishing on every attempt (a PHP time limit or crash). Check the PHP error log, then retry.', 'crmhooks' ) ),
			'account_changed'   => array( __( 'CRM account changed', 'crmhooks' ), __( 'The site now uses another CRM account than the one that sent this webhook. Retry to process it with the current account.', 'crmhooks' ) ),
			'merged'            => array( __( 'Merged', 'crmhooks' ), __( 'Folded into a newer job of the same contact, which does the work.', 'crmhooks' ) ),
			'requeued'          => array( __( 'Queued again', 'crmhooks' ), __( 'Retried as part of a newer job of the same contact.', 'crmhooks' ) ),
			'queue_error'       => array( __( 'Not stored', 'crmhooks' ), __( 'The webhook could not be stored in the queue (a database error); the CRM was told to try again.', 'crmhooks' ) ),
			'test'              => array( __( 'Test', 'crmhooks' ), __( 'A test webhook: the URL and the access key work.', 'crmhooks' ) ),
		);
	}

	/** Short label of an outcome code. */
	public static function outcome_label( string $code ): string {
		return self::outcomes()[ $code ][0] ?? $code;
	}

	/** The sentence for an outcome code. */
	public static function outcome_sentence( string $code ): string {
		return self::outcomes()[ $code ][1] ?? $code;
	}

	/** Job states (CrmHooks_Jobs::state_columns() derives them), in list order. */
	public static function states(): array {
		return array(
			'queued'   => __( 'Queued', 'crmhooks' ),
			'deferred' => __( 'Deferred', 'crmhooks' ),
			'running'  => __( 'Running', 'crmhooks' ),
			'retrying' => __( 'Retrying', 'crmhooks' ),
			'failed'   => __( 'Failed', 'crmhooks' ),
			'skipped'  => __( 'Skipped', 'crmhooks' ),
			'done'     => __( 'Done', 'crmhooks' ),
		);
	}

	/**
	 * The sentence under a job's state: until when and why it waits, what its last attempt said,
	 * or how it ended. `$job` is a row of CrmHooks_Jobs::page() (state and why derived).
	 */
	public static function job_state_sentence( array $job ): string {
		$state   = (string) $job['state'];
		$outcome = (string) $job['outcome'];
		$error   = trim( (string) $job['last_error'] );
		$run_at  = self::when( (int) $job['run_after'] );
		// The last attempt in words: what the outcome means, and the error when it says more.
		$last_try = $error !== '' && $error !== $outcome
			/* translators: 1: short name of what went wrong, 2: the error as the CRM or WordPress gave it */
			? sprintf( __( '%1$s (%2$s)', 'crmhooks' ), self::outcome_label( $outcome ), $error )
			: self::outcome_sentence( $outcome );
		switch ( $state ) {
			case 'queued':
				return __( 'Due now: the next queue run processes it.', 'crmhooks' );
			case 'deferred':
				$why = array(
					/* translators: %s: date and time */
					'loopback'   => __( 'Waits until %s: we wrote to this contact in the CRM moments ago, so this webhook is probably the echo of our own change. The contact is read fresh once the loopback window ends.', 'crmhooks' ),
					/* translators: %s: date and time */
					'rate_limit' => __( 'Waits until %s: the CRM asked us to slow down (rate limit).', 'crmhooks' ),
					/* translators: %s: date and time */
					'settle'     => __( 'Waits until %s for more webhooks of this contact, so that a burst of changes costs one CRM fetch.', 'crmhooks' ),
				);
				return sprintf( $why[ (string) $job['why'] ] ?? $why['settle'], $run_at );
			case 'running':
				if ( (string) $job['why'] === 'lease_expired' ) {
					/* translators: %s: date and time */
					return sprintf( __( 'Its worker stopped without finishing (lease ended %s); the next queue run takes it again.', 'crmhooks' ), self::when( (int) $job['lease_until'] ) );
				}
				/* translators: 1: worker name, 2: date and time */
				return sprintf( __( 'Being processed by %1$s (lease until %2$s).', 'crmhooks' ), (string) $job['worker'], self::when( (int) $job['lease_until'] ) );
			case 'retrying':
				/* translators: 1: date and time, 2: what went wrong */
				return sprintf( __( 'Next try %1$s. Last attempt: %2$s', 'crmhooks' ), $run_at, $last_try );
			case 'failed':
				if ( $error === '' || $error === $outcome ) {
					return self::outcome_sentence( $outcome );
				}
				/* translators: 1: what the outcome means, 2: the error as the CRM or WordPress gave it */
				return sprintf( __( '%1$s Details: %2$s', 'crmhooks' ), self::outcome_sentence( $outcome ), $error );
			default:
				return self::outcome_sentence( $outcome );
		}
	}

	/** Refusal reasons counted in {prefix}crmhooks_refusals (the library's words and the queue's). */
	public static function refusal( string $reason ): string {
		$words = array(
			'unauthorized'   => __( 'wrong or missing access key', 'crmhooks' ),
			'bad_request'    => __( 'a parameter was missing or invalid', 'crmhooks' ),
			'not_utf8'       => __( 'a parameter was not valid UTF-8', 'crmhooks' ),
			'method'         => __( 'an HTTP method other than GET, POST or PUT', 'crmhooks' ),
			'unknown_action' => __( 'an unknown wpf_action', 'crmhooks' ),
			'malformed_body' => __( 'a body that could not be read', 'crmhooks' ),
			'body_too_large' => __( 'a body that was too large', 'crmhooks' ),
			'queue_full'     => __( 'the queue was full (answered 503, the CRM may retry)', 'crmhooks' ),
			'unavailable'    => __( 'the crmhooks library could not be loaded', 'crmhooks' ),
			'failed'         => __( 'an internal error', 'crmhooks' ),
		);
		return $words[ $reason ] ?? $reason;
	}

	/** Webhook actions (wpf_action values). */
	public static function actions(): array {
		return array(
			'add'         => __( 'Add', 'crmhooks' ),
			'update'      => __( 'Update', 'crmhooks' ),
			'update_tags' => __( 'Update tags', 'crmhooks' ),
			'test'        => __( 'Test', 'crmhooks' ),
		);
	}

	public static function action( string $action ): string {
		return self::actions()[ $action ] ?? $action;
	}

	/** A Unix time in the site's timezone and formats; within a day, also how long ago or ahead. */
	public static function when( int $timestamp ): string {
		if ( $timestamp <= 0 ) {
			return '—';
		}
		$text = (string) wp_date( get_option( 'date_format' ) . ' ' . get_option( 'time_format' ), $timestamp );
		$now  = time();
		if ( abs( $now - $timestamp ) >= DAY_IN_SECONDS ) {
			return $text;
		}
		$relative = $timestamp > $now
			/* translators: %s: a time span such as "5 mins" */
			? sprintf( __( 'in %s', 'crmhooks' ), human_time_diff( $now, $timestamp ) )
			/* translators: %s: a time span such as "5 mins" */
			: sprintf( __( '%s ago', 'crmhooks' ), human_time_diff( $timestamp, $now ) );
		return $text . ' (' . $relative . ')';
	}

	/** A log row's created_at (UTC, MySQL format) as a Unix time. */
	public static function utc_to_timestamp( string $mysql_utc ): int {
		$date = date_create_immutable( $mysql_utc, new DateTimeZone( 'UTC' ) );
		return $date !== false ? $date->getTimestamp() : 0;
	}

	/** A duration in milliseconds, as a person reads it. */
	public static function duration( int $ms ): string {
		if ( $ms < 1000 ) {
			/* translators: %d: milliseconds */
			return sprintf( __( '%d ms', 'crmhooks' ), $ms );
		}
		/* translators: %s: seconds with decimals */
		return sprintf( __( '%s s', 'crmhooks' ), number_format_i18n( $ms / 1000, 1 ) );
	}
}

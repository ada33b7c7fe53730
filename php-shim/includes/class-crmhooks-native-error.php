<?php
/**
 * A library call returned a non-zero crmh_result.
 */

declare(strict_types=1);

final class CrmHooks_Native_Error extends RuntimeException {

	/** The library's sanitized last error (never contains keys, bodies or values). */
	public string $last_error;

	/** Seconds to wait, after CRMH_RESULT_CRM_RATE_LIMITED; 0 otherwise. */
	public int $retry_after;

	/** The exported function that failed. */
	public string $function_name;

	public function __construct( string $function_name, int $code, string $last_error, int $retry_after = 0 ) {
		$this->function_name = $function_name;
		$this->last_error    = $last_error;
		$this->retry_after   = $retry_after;
		$name                = CrmHooks_Native::result_name( $code );
		parent::__construct( $function_name . ' failed: ' . $name . ( $last_error !== '' ? ' (' . $last_error . ')' : '' ), $code );
	}
}

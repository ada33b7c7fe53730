<?php
/**
 * The only user of PHP FFI: loads libcrmhooks once per process and wraps each exported function.
 *
 * Loading order: FFI::scope('CRMH') (opcache.preload + ffi.preload), else FFI::cdef with the
 * generated preprocessor-free header, else CrmHooks_Native_Unavailable naming what to change.
 * This file is also compiled by php-shim/preload.php, so it must not depend on WordPress.
 */

declare(strict_types=1);

// The result-code constants (OK, UNAUTHORIZED, CRM_NOT_FOUND, ...), generated from the Rust enum.
require_once __DIR__ . '/interface-crmhooks-result-codes.php';

final class CrmHooks_Native implements CrmHooks_Result_Codes {

	/** Version of the library this plugin was written against (= CRMHOOKS_VERSION). */
	public const VERSION = '0.1.0';

	/**
	 * Machine type (php_uname('m'), lower case) => the folder lib/<arch>/ of the release zip
	 * (scripts/release.sh builds one library per folder). Kernels spell the same CPU differently.
	 */
	public const RELEASE_ARCHES = array(
		'x86_64'  => 'x86_64',
		'amd64'   => 'x86_64',
		'aarch64' => 'aarch64',
		'arm64'   => 'aarch64',
	);

	/** How many times the library was loaded in this process (tests assert a plain page view loads nothing). */
	public static int $instances = 0;

	private static ?self $instance                       = null;
	private static ?CrmHooks_Native_Unavailable $failure = null;

	/** @var \FFI */
	private $ffi;

	/** 'scope' or 'cdef': how the library was loaded. */
	public string $mode;

	private function __construct( \FFI $ffi, string $mode ) {
		$this->ffi  = $ffi;
		$this->mode = $mode;
		++self::$instances;
	}

	/**
	 * The loaded library, memoized per process. Throws CrmHooks_Native_Unavailable (also memoized).
	 */
	public static function get(): self {
		if ( self::$instance !== null ) {
			return self::$instance;
		}
		if ( self::$failure !== null ) {
			throw self::$failure;
		}
		try {
			self::$instance = self::load();
		} catch ( CrmHooks_Native_Unavailable $e ) {
			self::$failure = $e;
			throw $e;
		}
		return self::$instance;
	}

	/** Forget the memoized library or failure (tests only; the FFI handle itself stays mapped). */
	public static function reset_for_tests(): void {
		self::$instance = null;
		self::$failure  = null;
	}

	/**
	 * The library's name for a result code ("unauthorized", "crm_rate_limited", ...; from
	 * crmh_result_name), or "result_<code>" for a number that is no result code or when the
	 * library cannot be loaded. Does not disturb the last error of a failed call.
	 */
	public static function result_name( int $code ): string {
		$name = null;
		if ( $code >= 0 && $code <= 0xFFFFFFFF ) {
			try {
				$name = self::get()->ffi->crmh_result_name( $code );
			} catch ( CrmHooks_Native_Unavailable $e ) {
				$name = null;
			}
		}
		return is_string( $name ) ? $name : 'result_' . $code;
	}

	/**
	 * Path of the shared library: the CRMHOOKS_LIB env or constant when set; else the first of
	 * library_candidates() that exists, or the first candidate (the path the error names).
	 */
	public static function library_path(): string {
		$override = self::library_override();
		if ( $override !== null ) {
			return $override;
		}
		$candidates = self::library_candidates();
		foreach ( $candidates as $path ) {
			if ( is_file( $path ) ) {
				return $path;
			}
		}
		return $candidates[0];
	}

	/** The CRMHOOKS_LIB environment variable, then the CRMHOOKS_LIB constant, or null. */
	private static function library_override(): ?string {
		$env = getenv( 'CRMHOOKS_LIB' );
		if ( is_string( $env ) && $env !== '' ) {
			return $env;
		}
		if ( defined( 'CRMHOOKS_LIB' ) && is_string( constant( 'CRMHOOKS_LIB' ) ) && constant( 'CRMHOOKS_LIB' ) !== '' ) {
			return (string) constant( 'CRMHOOKS_LIB' );
		}
		return null;
	}

	/**
	 * Where the library may be, in order: the release zip's lib/<arch>/ for this machine (none
	 * on an architecture the release does not ship), then the development build in lib/
	 * (scripts/stack.sh build).
	 *
	 * @param string|null $machine machine() of another server (tests); null: this one.
	 * @return string[]
	 */
	public static function library_candidates( ?string $machine = null ): array {
		$file       = 'libcrmhooks-' . self::expected_version() . '.so';
		$arch       = self::release_arch( $machine ?? self::machine() );
		$candidates = array();
		if ( $arch !== null ) {
			$candidates[] = dirname( __DIR__ ) . '/lib/' . $arch . '/' . $file;
		}
		$candidates[] = dirname( __DIR__ ) . '/lib/' . $file;
		return $candidates;
	}

	/** This server's machine type (php_uname('m'): x86_64, aarch64, ...); some hosts disable php_uname. */
	public static function machine(): string {
		return function_exists( 'php_uname' ) ? php_uname( 'm' ) : 'unknown';
	}

	/**
	 * The release's folder name for a machine type (machine()), or null when the release
	 * ships no library for it.
	 */
	public static function release_arch( string $machine ): ?string {
		return self::RELEASE_ARCHES[ strtolower( $machine ) ] ?? null;
	}

	/** Path of the preprocessor-free header for FFI::cdef (generated by build.rs, copied by scripts/regen-headers.sh). */
	public static function cdef_path(): string {
		return __DIR__ . '/crmhooks-cdef.h';
	}

	/**
	 * Path of the ffi.preload header (FFI_SCOPE "CRMH" + FFI_LIB). It is written per install
	 * (write_preload_header) because FFI_LIB must be absolute: dlopen resolves a relative path
	 * against the php-fpm worker's working directory, not the header's.
	 */
	public static function preload_header_path(): string {
		return dirname( __DIR__ ) . '/lib/crmhooks-preload.h';
	}

	/** Write the ffi.preload header for this install; false when the lib/ folder is read-only. */
	public static function write_preload_header(): bool {
		// Plain file functions on purpose: this runs from activation and from the stack scripts,
		// where WP_Filesystem may ask for FTP credentials; a failure only means "write it yourself"
		// (the README says how), so it is reported as false rather than as a warning.
		// phpcs:disable WordPress.PHP.NoSilencedErrors.Discouraged, WordPress.WP.AlternativeFunctions
		$cdef   = @file_get_contents( self::cdef_path() );
		$target = self::preload_header_path();
		if ( $cdef === false || ! is_dir( dirname( $target ) ) || ! is_writable( dirname( $target ) ) ) {
			return false;
		}
		$header = "#define FFI_SCOPE \"CRMH\"\n#define FFI_LIB \"" . addcslashes( self::library_path(), '"\\' ) . "\"\n" . $cdef;
		$tmp    = $target . '.' . getmypid() . '.tmp';
		if ( @file_put_contents( $tmp, $header ) === false ) {
			return false;
		}
		return @rename( $tmp, $target ); // Atomic: a PHP worker never reads a half-written header.
		// phpcs:enable
	}

	public static function expected_version(): string {
		return defined( 'CRMHOOKS_VERSION' ) ? (string) constant( 'CRMHOOKS_VERSION' ) : self::VERSION;
	}

	/**
	 * What is wrong with the FFI setup, judged from ini settings and files only (no FFI call),
	 * or null when nothing visible is wrong. Cheap enough for every admin page.
	 */
	public static function diagnose(): ?string {
		if ( ! extension_loaded( 'ffi' ) ) {
			return self::msg_no_extension();
		}
		$enable  = strtolower( (string) ini_get( 'ffi.enable' ) );
		$enabled = in_array( $enable, array( '1', 'on', 'true', 'yes' ), true );
		$preload = $enable === 'preload';
		if ( ! $enabled && ! $preload ) {
			return self::msg_ffi_disabled( $enable );
		}
		$scope_configured = (string) ini_get( 'ffi.preload' ) !== '' && class_exists( 'FFI', false );
		if ( $preload && PHP_SAPI !== 'cli' && ( $scope_configured === false || (string) ini_get( 'opcache.preload' ) === '' ) ) {
			return self::msg_preload_restricted();
		}
		if ( ! $scope_configured ) {
			if ( ! is_file( self::cdef_path() ) ) {
				return self::msg_no_header();
			}
			if ( ! is_file( self::library_path() ) ) {
				return self::msg_no_library();
			}
		}
		return null;
	}

	private static function load(): self {
		if ( ! extension_loaded( 'ffi' ) || ! class_exists( 'FFI', false ) ) {
			throw new CrmHooks_Native_Unavailable( self::msg_no_extension() );
		}
		$enable = strtolower( (string) ini_get( 'ffi.enable' ) );
		if ( ! in_array( $enable, array( '1', 'on', 'true', 'yes', 'preload' ), true ) ) {
			throw new CrmHooks_Native_Unavailable( self::msg_ffi_disabled( $enable ) );
		}

		$ffi  = null;
		$mode = 'cdef';
		if ( (string) ini_get( 'ffi.preload' ) !== '' ) {
			try {
				$ffi  = \FFI::scope( 'CRMH' );
				$mode = 'scope';
			} catch ( \Throwable $e ) {
				$ffi = null; // Fall back to cdef below.
			}
		}

		if ( $ffi === null ) {
			$header_path = self::cdef_path();
			$lib         = self::library_path();
			if ( ! is_file( $lib ) ) {
				throw new CrmHooks_Native_Unavailable( self::msg_no_library() );
			}
			$header = is_file( $header_path ) ? file_get_contents( $header_path ) : false; // phpcs:ignore WordPress.WP.AlternativeFunctions.file_get_contents_file_get_contents -- A local file of the plugin, read before WordPress's filesystem API is usable (preload).
			if ( ! is_string( $header ) || $header === '' ) {
				throw new CrmHooks_Native_Unavailable( self::msg_no_header() );
			}
			try {
				$ffi = \FFI::cdef( $header, $lib );
			} catch ( \Throwable $e ) {
				if ( stripos( $e->getMessage(), 'ffi.enable' ) !== false ) {
					throw new CrmHooks_Native_Unavailable( self::msg_preload_restricted() );
				}
				throw new CrmHooks_Native_Unavailable(
					'crmhooks: the library at ' . $lib . ' could not be loaded (' . $e->getMessage()
					. '). Rebuild it (scripts/stack.sh build) so it matches php-shim/includes/crmhooks-cdef.h.'
				);
			}
		}

		$version = (string) $ffi->crmh_abi_version();
		if ( $version !== self::expected_version() ) {
			throw new CrmHooks_Native_Unavailable(
				'crmhooks: the library reports version ' . $version . ' but the plugin needs '
				. self::expected_version() . '. Install libcrmhooks-' . self::expected_version()
				. '.so in ' . dirname( __DIR__ ) . '/lib/ (scripts/stack.sh build).'
			);
		}
		return new self( $ffi, $mode );
	}

	private static function msg_no_extension(): string {
		return 'crmhooks: the PHP extension "ffi" is not loaded. Enable it for PHP ' . PHP_MAJOR_VERSION . '.'
			. PHP_MINOR_VERSION . ' (extension=ffi in php.ini; it ships with php' . PHP_MAJOR_VERSION . '.'
			. PHP_MINOR_VERSION . '-common on Debian).';
	}

	private static function msg_ffi_disabled( string $value ): string {
		return 'crmhooks: FFI is disabled (ffi.enable=' . ( $value === '' ? '0' : $value ) . '). Set '
			. '"php_admin_value[ffi.enable] = 1" in the php-fpm pool, or keep ffi.enable=preload and start '
			. 'php-fpm with -d ffi.preload=' . self::preload_header_path() . ' -d opcache.preload='
			. dirname( __DIR__ ) . '/preload.php -d opcache.preload_user=www-data.';
	}

	private static function msg_preload_restricted(): string {
		return 'crmhooks: FFI is restricted by ffi.enable=preload in this PHP (' . PHP_SAPI . '). Either set '
			. '"php_admin_value[ffi.enable] = 1" in the php-fpm pool, or start php-fpm with -d ffi.preload='
			. self::preload_header_path() . ' -d opcache.preload=' . dirname( __DIR__ ) . '/preload.php'
			. ' -d opcache.preload_user=www-data (ffi.preload cannot be set per pool).';
	}

	private static function msg_no_library(): string {
		if ( self::library_override() !== null ) {
			return 'crmhooks: the library file is missing at ' . self::library_path() . ' (set by CRMHOOKS_LIB). Build and install it '
				. '(scripts/stack.sh build), or point the CRMHOOKS_LIB environment variable or constant at libcrmhooks.so.';
		}
		$machine = self::machine();
		$looked  = implode( ' and ', self::library_candidates() );
		$shipped = implode( ' and ', array_unique( self::RELEASE_ARCHES ) );
		if ( self::release_arch( $machine ) === null ) {
			return 'crmhooks: the release ships the library for ' . $shipped . ' only, and this server is ' . $machine
				. ' (looked for ' . $looked . '). Build libcrmhooks for ' . $machine . ' from the sources '
				. '(cargo build --release) and point the CRMHOOKS_LIB constant at it.';
		}
		return 'crmhooks: no library for this server\'s architecture (' . $machine . '): looked for ' . $looked
			. '. Reinstall the plugin from the crmhooks-' . self::expected_version() . '.zip release (it ships the library for '
			. $shipped . '), or in a development checkout run scripts/stack.sh build.';
	}

	private static function msg_no_header(): string {
		return 'crmhooks: the FFI header is missing at ' . self::cdef_path() . '. It is generated from the '
			. 'library sources (scripts/regen-headers.sh) and ships with the plugin; reinstall the plugin.';
	}

	// ----- exported functions -----

	public function abi_version(): string {
		return (string) $this->ffi->crmh_abi_version();
	}

	public function last_error(): string {
		return (string) $this->ffi->crmh_last_error();
	}

	public function last_retry_after(): int {
		return (int) $this->ffi->crmh_last_retry_after();
	}

	public function key_generate(): string {
		return $this->call_out( 'crmh_key_generate', array() );
	}

	/**
	 * The webhook door: array{verdict:'accept', request:array} or
	 * array{verdict:'refuse', reason:string, answer:array{status:int, body:array, headers:array}}.
	 */
	public function webhook_receive( string $method, string $query, string $content_type, string $body, string $access_key ): array {
		return $this->decode(
			$this->call_out(
				'crmh_webhook_receive',
				array(
					$method,
					strlen( $method ),
					$query,
					strlen( $query ),
					$content_type,
					strlen( $content_type ),
					$body,
					strlen( $body ),
					$access_key,
					strlen( $access_key ),
				)
			)
		);
	}

	/** Queue verdicts (accept, schedule, merge, claim, finish, inline_answer): see src/queue.rs. */
	public function queue_decide( string $json ): array {
		return $this->json_call( 'crmh_queue_decide', $json );
	}

	/** Settings (with the site's roles) -> privileged_roles and problems, by the webhook rules. */
	public function settings_review( string $json ): array {
		return $this->json_call( 'crmh_settings_review', $json );
	}

	public function plan( string $json ): array {
		return $this->json_call( 'crmh_plan', $json );
	}

	public function crm_fetch_contact( string $config, string $contact_id ): array {
		return $this->decode( $this->call_out( 'crmh_crm_fetch_contact', array( $config, strlen( $config ), $contact_id, strlen( $contact_id ) ) ) );
	}

	/** @return string|null the contact ID, or null when no contact has this email */
	public function crm_find_contact( string $config, string $email ): ?string {
		$out = $this->decode( $this->call_out( 'crmh_crm_find_contact', array( $config, strlen( $config ), $email, strlen( $email ) ) ) );
		$id  = $out['contact_id'] ?? null;
		return ( $id === null || $id === '' ) ? null : (string) $id;
	}

	public function crm_write_field( string $config, string $json ): array {
		return $this->decode( $this->call_out( 'crmh_crm_write_field', array( $config, strlen( $config ), $json, strlen( $json ) ) ) );
	}

	public function crm_change_tags( string $config, string $json ): array {
		return $this->decode( $this->call_out( 'crmh_crm_change_tags', array( $config, strlen( $config ), $json, strlen( $json ) ) ) );
	}

	/** The account's request window after the last CRM call (Unix ms), or null when it had none. */
	public function last_rate_window(): ?array {
		$window = json_decode( $this->call_out( 'crmh_last_rate_window', array() ), true );
		return is_array( $window ) ? $window : null;
	}

	// ----- marshalling -----

	private function json_call( string $symbol, string $json ): array {
		return $this->decode( $this->call_out( $symbol, array( $json, strlen( $json ) ) ) );
	}

	/**
	 * Calls $symbol with $args plus a trailing crmh_buf* out-parameter and returns the buffer's
	 * bytes. The buffer is freed in finally; a non-zero result becomes CrmHooks_Native_Error.
	 */
	private function call_out( string $symbol, array $args ): string {
		$out    = $this->ffi->new( 'crmh_buf' );
		$args[] = \FFI::addr( $out );
		$rc     = (int) $this->ffi->$symbol( ...$args );
		if ( $rc !== self::OK ) {
			throw $this->error( $symbol, $rc ); // Out buffers are written only on OK.
		}
		try {
			$len = (int) $out->len;
			return $len === 0 ? '' : \FFI::string( $out->data, $len );
		} finally {
			$this->ffi->crmh_buf_free( \FFI::addr( $out ) );
		}
	}

	/** Builds the error right after the failing call: the last error is thread-local and fragile. */
	private function error( string $symbol, int $rc ): CrmHooks_Native_Error {
		$message = (string) $this->ffi->crmh_last_error();
		$retry   = $rc === self::CRM_RATE_LIMITED ? (int) $this->ffi->crmh_last_retry_after() : 0;
		return new CrmHooks_Native_Error( $symbol, $rc, $message, $retry );
	}

	private function decode( string $json ): array {
		$value = json_decode( $json, true );
		if ( ! is_array( $value ) ) {
			throw new CrmHooks_Native_Error( 'json_decode', self::INVALID_JSON, 'library output is not a JSON object' );
		}
		return $value;
	}
}

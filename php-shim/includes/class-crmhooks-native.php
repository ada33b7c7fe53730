<?php
/**
 * The only user of PHP FFI: loads libcrmhooks once per process and calls its exports.
 *
 * Loading order: FFI::scope('CRMH') (opcache.preload + ffi.preload), else FFI::cdef with the
 * generated preprocessor-free header, else CrmHooks_Native_Unavailable naming what to change.
 * This file is also compiled by php-shim/preload.php, so it must not depend on WordPress.
 *
 * The exports that take strings and return JSON are called by their name without `crmh_`
 * (each string goes in with its length, an array as its JSON document (json()), the JSON comes
 * back decoded; see include/crmhooks.h):
 *
 * @method array webhook_receive(string $method, string $query, string $content_type, string $body, string $access_key)
 * @method array queue_decide(array $query)       Queue verdicts (src/queue.rs).
 * @method array plan(array $facts)               Request + contact + users + settings -> ops.
 * @method array settings_normalize(array $doc)   The settings document: defaults, rules, problems.
 * @method array settings_review(array $doc)      Privileged roles and refused mappings.
 * @method array tags_change(array $doc)          Stored tags + names to add/remove.
 * @method array login_choose(array $doc)         The first free login.
 * @method array crm_load_contact(array $config, array $request)
 * @method array crm_write_field(array $config, array $doc)
 * @method array crm_change_tags(array $config, array $doc)
 * @method array crm_list_schema(array $config)
 * @method array crm_list_modified(array $config, array $doc) One page of contacts changed since.
 * @method array crm_list_tagged(array $config, array $doc)   One page of contacts with a tag.
 * @method array reconcile_decide(array $query)   Sweep and import verdicts (src/reconcile.rs).
 * @method array last_account_state()             What the last CRM call leaves to store.
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

	/** The JSON exports callable by name (see the class comment). */
	private const JSON_EXPORTS = array( 'webhook_receive', 'queue_decide', 'plan', 'settings_normalize', 'settings_review', 'tags_change', 'login_choose', 'crm_load_contact', 'crm_write_field', 'crm_change_tags', 'crm_list_schema', 'crm_list_modified', 'crm_list_tagged', 'reconcile_decide', 'last_account_state' );

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

	/** The loaded library, memoized per process. Throws CrmHooks_Native_Unavailable (also memoized). */
	public static function get(): self {
		if ( self::$failure !== null ) {
			throw self::$failure;
		}
		try {
			self::$instance = self::$instance ?? self::load();
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
	 * The library's name for a result code ("unauthorized", "crm_rate_limited", ...), or
	 * "result_<code>" for a number that is no result code or when the library cannot be loaded.
	 * Does not disturb the last error of a failed call.
	 */
	public static function result_name( int $code ): string {
		try {
			$name = $code >= 0 && $code <= 0xFFFFFFFF ? self::get()->ffi->crmh_result_name( $code ) : null;
		} catch ( CrmHooks_Native_Unavailable $e ) {
			$name = null;
		}
		return is_string( $name ) ? $name : 'result_' . $code;
	}

	/**
	 * Path of the shared library: the CRMHOOKS_LIB env or constant when set; else the first of
	 * library_candidates() that exists, or the first candidate (the path the error names).
	 */
	public static function library_path(): string {
		$override = self::library_override();
		$found    = array_filter( self::library_candidates(), 'is_file' );
		return $override ?? ( $found !== array() ? reset( $found ) : self::library_candidates()[0] );
	}

	/** The CRMHOOKS_LIB environment variable, then the CRMHOOKS_LIB constant, or null. */
	private static function library_override(): ?string {
		$env = getenv( 'CRMHOOKS_LIB' );
		if ( is_string( $env ) && $env !== '' ) {
			return $env;
		}
		return defined( 'CRMHOOKS_LIB' ) && is_string( constant( 'CRMHOOKS_LIB' ) ) && constant( 'CRMHOOKS_LIB' ) !== '' ? (string) constant( 'CRMHOOKS_LIB' ) : null;
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
		$file = 'libcrmhooks-' . self::expected_version() . '.so';
		$arch = self::release_arch( $machine ?? self::machine() );
		return array_merge( $arch !== null ? array( dirname( __DIR__ ) . '/lib/' . $arch . '/' . $file ) : array(), array( dirname( __DIR__ ) . '/lib/' . $file ) );
	}

	/** This server's machine type (php_uname('m'): x86_64, aarch64, ...); some hosts disable php_uname. */
	public static function machine(): string {
		return function_exists( 'php_uname' ) ? php_uname( 'm' ) : 'unknown';
	}

	/** The release's folder name for a machine type (machine()), or null when the release ships none for it. */
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
		$tmp = $target . '.' . getmypid() . '.tmp';
		if ( @file_put_contents( $tmp, "#define FFI_SCOPE \"CRMH\"\n#define FFI_LIB \"" . addcslashes( self::library_path(), '"\\' ) . "\"\n" . $cdef ) === false ) {
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
		$enable  = strtolower( (string) ini_get( 'ffi.enable' ) );
		$scope   = (string) ini_get( 'ffi.preload' ) !== '' && class_exists( 'FFI', false );
		$problem = self::extension_problem();
		if ( $problem !== null ) {
			return $problem;
		}
		if ( $enable === 'preload' && PHP_SAPI !== 'cli' && ( ! $scope || (string) ini_get( 'opcache.preload' ) === '' ) ) {
			return self::message( 'preload_restricted' );
		}
		if ( ! $scope && ! is_file( self::cdef_path() ) ) {
			return self::message( 'no_header' );
		}
		return ! $scope && ! is_file( self::library_path() ) ? self::message( 'no_library' ) : null;
	}

	/** The FFI extension missing or switched off by ffi.enable, or null. */
	private static function extension_problem(): ?string {
		$enable = strtolower( (string) ini_get( 'ffi.enable' ) );
		if ( ! extension_loaded( 'ffi' ) || ! class_exists( 'FFI', false ) ) {
			return self::message( 'no_extension' );
		}
		return in_array( $enable, array( '1', 'on', 'true', 'yes', 'preload' ), true ) ? null : self::message( 'disabled', $enable === '' ? '0' : $enable );
	}

	private static function load(): self {
		$problem = self::extension_problem();
		if ( $problem !== null ) {
			throw new CrmHooks_Native_Unavailable( $problem );
		}
		try {
			list( $ffi, $mode ) = array( \FFI::scope( 'CRMH' ), 'scope' );
		} catch ( \Throwable $e ) {
			list( $ffi, $mode ) = array( self::load_cdef(), 'cdef' ); // No preloaded scope: the header and the library file.
		}
		$version = (string) $ffi->crmh_abi_version();
		if ( $version !== self::expected_version() ) {
			throw new CrmHooks_Native_Unavailable( self::message( 'version', $version ) );
		}
		return new self( $ffi, $mode );
	}

	private static function load_cdef(): \FFI {
		$lib    = self::library_path();
		$header = is_file( self::cdef_path() ) ? (string) file_get_contents( self::cdef_path() ) : ''; // phpcs:ignore WordPress.WP.AlternativeFunctions.file_get_contents_file_get_contents -- A local file of the plugin, read before WordPress's filesystem API is usable (preload).
		if ( ! is_file( $lib ) || $header === '' ) {
			throw new CrmHooks_Native_Unavailable( self::message( is_file( $lib ) ? 'no_header' : 'no_library' ) );
		}
		try {
			return \FFI::cdef( $header, $lib );
		} catch ( \Throwable $e ) {
			throw new CrmHooks_Native_Unavailable( stripos( $e->getMessage(), 'ffi.enable' ) !== false ? self::message( 'preload_restricted' ) : self::message( 'unloadable', $e->getMessage() ) );
		}
	}

	/** What to change, in words, for each way loading fails. */
	private static function message( string $problem, string $detail = '' ): string {
		$php     = PHP_MAJOR_VERSION . '.' . PHP_MINOR_VERSION;
		$preload = ' -d ffi.preload=' . self::preload_header_path() . ' -d opcache.preload=' . dirname( __DIR__ ) . '/preload.php -d opcache.preload_user=www-data';
		$words   = array(
			'no_extension'       => 'the PHP extension "ffi" is not loaded. Enable it for PHP ' . $php . ' (extension=ffi in php.ini; it ships with php' . $php . '-common on Debian).',
			'disabled'           => 'FFI is disabled (ffi.enable=' . $detail . '). Set "php_admin_value[ffi.enable] = 1" in the php-fpm pool, or keep ffi.enable=preload and start php-fpm with' . $preload . '.',
			'preload_restricted' => 'FFI is restricted by ffi.enable=preload in this PHP (' . PHP_SAPI . '). Either set "php_admin_value[ffi.enable] = 1" in the php-fpm pool, or start php-fpm with' . $preload . ' (ffi.preload cannot be set per pool).',
			'no_library'         => self::no_library_words(),
			'no_header'          => 'the FFI header is missing at ' . self::cdef_path() . ': the plugin\'s files are incomplete. Reinstall the plugin from ' . self::release_zip() . '.',
			'unloadable'         => 'the library at ' . self::library_path() . ' could not be loaded (' . $detail . '). Reinstall the plugin from ' . self::release_zip() . ' (its libraries run on Linux x86_64 and aarch64 with glibc 2.17 or newer).',
			'version'            => 'the library reports version ' . $detail . ' but the plugin needs ' . self::expected_version() . ': the plugin\'s files come from two releases. Reinstall the plugin from ' . self::release_zip() . '.',
		);
		return 'crmhooks: ' . $words[ $problem ];
	}

	/** The release zip to reinstall from: what a site owner has, never a development script. */
	private static function release_zip(): string {
		return 'the crmhooks-' . self::expected_version() . '.zip release';
	}

	/** Which library is missing and what to do, naming the architecture and every path looked for. */
	private static function no_library_words(): string {
		$machine = self::machine();
		$looked  = implode( ' and ', self::library_candidates() );
		$shipped = implode( ' and ', array_unique( self::RELEASE_ARCHES ) );
		if ( self::library_override() !== null ) {
			return 'the library file is missing at ' . self::library_path() . ' (set by CRMHOOKS_LIB). Point the CRMHOOKS_LIB environment variable or constant at an existing libcrmhooks-' . self::expected_version() . '.so, or remove it to use the library that ships in the plugin\'s lib/ folder.';
		}
		if ( self::release_arch( $machine ) === null ) {
			return 'the release ships the library for ' . $shipped . ' only, and this server is ' . $machine . ' (looked for ' . $looked . '). Build libcrmhooks for ' . $machine . ' from the sources (cargo build --release) and point the CRMHOOKS_LIB constant at it.';
		}
		return 'no library for this server\'s architecture (' . $machine . '): looked for ' . $looked . '. Reinstall the plugin from ' . self::release_zip() . ' (it ships the library for ' . $shipped . ') or from crmhooks-' . self::expected_version() . '-' . self::release_arch( $machine ) . '.zip.';
	}

	public function abi_version(): string {
		return (string) $this->ffi->crmh_abi_version();
	}

	/** A new access key (URL-safe text, not JSON). */
	public function key_generate(): string {
		return $this->call_out( 'crmh_key_generate', array() );
	}

	/** A JSON export by name (see the class comment): each string or document with its length, the JSON decoded. */
	public function __call( string $name, array $inputs ): array {
		if ( ! in_array( $name, self::JSON_EXPORTS, true ) ) {
			throw new BadMethodCallException( 'CrmHooks_Native has no method ' . $name ); // phpcs:ignore WordPress.Security.EscapeOutput.ExceptionNotEscaped -- A programming error, never shown in HTML.
		}
		$args = array();
		foreach ( $inputs as $input ) {
			$text = is_array( $input ) ? self::json( $input ) : (string) $input;
			array_push( $args, $text, strlen( $text ) );
		}
		$value = json_decode( $this->call_out( 'crmh_' . $name, $args ), true );
		if ( ! is_array( $value ) && $value !== null ) {
			throw new CrmHooks_Native_Error( 'json_decode', self::INVALID_JSON, 'library output is not a JSON object' );
		}
		return (array) $value;
	}

	/**
	 * The JSON document of $value, as every document for the library is written: slashes and
	 * Unicode as they are, invalid UTF-8 (a broken meta value) replaced rather than failing the
	 * whole document; '' for what JSON cannot hold (the library then refuses it as invalid JSON).
	 * Not wp_json_encode(): this class also runs before WordPress (preload).
	 */
	public static function json( $value ): string {
		return (string) json_encode( $value, JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE | JSON_INVALID_UTF8_SUBSTITUTE ); // phpcs:ignore WordPress.WP.AlternativeFunctions.json_encode_json_encode -- See above.
	}

	/**
	 * Calls $symbol with $args plus a trailing crmh_buf* out-parameter and returns the buffer's
	 * bytes. The buffer is freed in finally; a non-zero result becomes CrmHooks_Native_Error,
	 * built right after the call (the last error is thread-local and fragile).
	 */
	private function call_out( string $symbol, array $args ): string {
		$out    = $this->ffi->new( 'crmh_buf' );
		$args[] = \FFI::addr( $out );
		$rc     = (int) $this->ffi->$symbol( ...$args );
		if ( $rc !== self::OK ) {
			$retry = $rc === self::CRM_RATE_LIMITED ? (int) $this->ffi->crmh_last_retry_after() : 0;
			throw new CrmHooks_Native_Error( $symbol, $rc, (string) $this->ffi->crmh_last_error(), $retry ); // Out buffers are written only on OK.
		}
		try {
			return (int) $out->len === 0 ? '' : \FFI::string( $out->data, (int) $out->len );
		} finally {
			$this->ffi->crmh_buf_free( \FFI::addr( $out ) );
		}
	}
}

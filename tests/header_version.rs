//! The version a host sees must be Cargo.toml's everywhere it is written down: the checked-in
//! C header's `CRMHOOKS_VERSION` (generated, so stale when not regenerated after a bump), and
//! the plugin's hand-written copies (the facade's `VERSION`, the plugin header's `Version:` and
//! its `CRMHOOKS_VERSION` define). After a version bump this fails until every copy follows.
//! The idea of rustls-ffi's tools/tests/rustls_header_version.rs.

use std::path::Path;

const CARGO_VERSION: &str = env!("CARGO_PKG_VERSION");

fn read(path: &str) -> String {
    let full = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("read {}: {e}", full.display()))
}

/// The one value in `path` written as `prefix VALUE suffix` on a line (surrounding space
/// ignored); fails when there is none or more than one.
fn only_value(path: &str, prefix: &str, suffix: &str) -> String {
    let text = read(path);
    let values: Vec<&str> =
        text.lines().filter_map(|line| line.trim().strip_prefix(prefix)?.trim().strip_suffix(suffix)).collect();
    assert_eq!(values.len(), 1, "{path}: expected one line `{prefix}<version>{suffix}`, found {values:?}");
    values[0].trim().to_string()
}

#[test]
fn c_header_version_define_equals_cargo_toml() {
    let version = only_value("include/crmhooks.h", "#define CRMHOOKS_VERSION \"", "\"");
    assert_eq!(version, CARGO_VERSION, "include/crmhooks.h is stale: run scripts/regen-headers.sh");
}

#[test]
fn php_facade_version_equals_cargo_toml() {
    let version = only_value("php-shim/includes/class-crmhooks-native.php", "public const VERSION = '", "';");
    assert_eq!(version, CARGO_VERSION, "CrmHooks_Native::VERSION");
}

#[test]
fn plugin_header_and_define_equal_cargo_toml() {
    let header = only_value("php-shim/crmhooks.php", "* Version:", "");
    assert_eq!(header, CARGO_VERSION, "php-shim/crmhooks.php `Version:` header");
    let define = only_value("php-shim/crmhooks.php", "define( 'CRMHOOKS_VERSION', '", "' );");
    assert_eq!(define, CARGO_VERSION, "php-shim/crmhooks.php CRMHOOKS_VERSION define");
}

#[test]
fn cdef_carries_no_preprocessor_line() {
    // FFI::cdef rejects `#` lines, so the version define must stay out of the PHP copy.
    let cdef = read("php-shim/includes/crmhooks-cdef.h");
    assert!(cdef.lines().all(|line| !line.trim_start().starts_with('#')), "a # line in crmhooks-cdef.h");
}

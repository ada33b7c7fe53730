<?php
/**
 * opcache.preload script for FFI preload mode (ffi.enable=preload).
 *
 * Start php-fpm with:
 *   -d ffi.preload=<plugin>/lib/crmhooks-preload.h   (FFI_SCOPE "CRMH", absolute FFI_LIB; written on activation)
 *   -d opcache.preload=<plugin>/preload.php -d opcache.preload_user=www-data
 * Only code compiled here may call FFI::scope() under ffi.enable=preload, so the FFI wrapper class
 * is compiled by this script; the plugin skips its own require when the class already exists.
 */

declare(strict_types=1);

require_once __DIR__ . '/includes/class-crmhooks-native-unavailable.php';
require_once __DIR__ . '/includes/class-crmhooks-native-error.php';
require_once __DIR__ . '/includes/class-crmhooks-native.php';

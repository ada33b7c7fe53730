<?php
/**
 * The release zips, as a site owner gets them: scripts/release.sh builds crmhooks-<version>.zip
 * (both architectures) and one zip per architecture once for this class; each is checked (one
 * crmhooks/ folder, readme.txt, a non-empty .pot, its architectures' libraries needing no glibc
 * newer than 2.17, nothing that must not ship; a one-architecture zip smaller than PHP's default
 * 2 MB upload limit). Then crmhooks-<version>.zip is installed into the stack's fresh site (a WordPress without crmhooks, laid anew by
 * `scripts/stack.sh fresh-site`, port BASE+3, tables fresh_*) through WordPress's own upload
 * path -- Plugin_Upgrader::install() on the zip file, as Plugins -> Add New -> Upload does --,
 * activated, pointed at the CRM stand-in and sent webhooks over HTTP; the user it creates is read
 * from the fresh site's tables.
 *
 * This PHPUnit process has the single site's WordPress loaded, so the fresh site's WordPress
 * work runs in `php -r` subprocesses that load its wp-load.php.
 */

declare(strict_types=1);

use PHPUnit\Framework\TestCase;

final class ReleaseTest extends TestCase
{
    private const GLIBC_BASELINE = '2.17';

    /** The ELF machine (readelf) each lib/<arch>/ folder must hold. */
    private const ELF_MACHINES = array(
        'x86_64'  => 'Advanced Micro Devices X86-64',
        'aarch64' => 'AArch64',
    );

    /** PHP's default upload_max_filesize ("2M"): a bigger zip is refused by the upload screen. */
    private const UPLOAD_LIMIT_BYTES = 2 * 1024 * 1024;

    /** The zip of every architecture, next to the one-architecture zips in self::$zips. */
    private const ALL = 'all';

    private static string $repo = '';
    private static string $version = '';
    /** @var array<string,string> arch (or self::ALL) => zip path */
    private static array $zips = array();
    /** The zips unpacked with unzip(1) into <this>/<arch>/, to read their files. */
    private static string $unpacked = '';

    public static function setUpBeforeClass(): void
    {
        self::$repo = dirname(__DIR__, 3);
        preg_match('/^version\s*=\s*"([^"]+)"/m', (string) file_get_contents(self::$repo . '/Cargo.toml'), $m);
        self::$version = $m[1] ?? '';
        self::$zips[self::ALL] = self::$repo . '/dist/crmhooks-' . self::$version . '.zip';
        foreach (array_keys(self::ELF_MACHINES) as $arch) {
            self::$zips[$arch] = self::$repo . '/dist/crmhooks-' . self::$version . '-' . $arch . '.zip';
        }
        array_map(static fn(string $zip) => @unlink($zip), self::$zips); // Only this run's build counts.
        $started = microtime(true);
        [$rc, $output] = self::command(array(self::$repo . '/scripts/release.sh'));
        if ($rc !== 0) {
            throw new RuntimeException("scripts/release.sh failed (exit $rc):\n" . $output);
        }
        fwrite(STDERR, sprintf("\nscripts/release.sh built %s in %.0f s\n", implode(', ', array_map('basename', self::$zips)), microtime(true) - $started));

        self::$unpacked = sys_get_temp_dir() . '/crmhooks-release-' . getmypid();
        self::command(array('rm', '-rf', self::$unpacked));
        foreach (self::$zips as $arch => $zip) {
            mkdir(self::$unpacked . '/' . $arch, 0777, true);
            [$rc, $output] = self::command(array('unzip', '-q', $zip, '-d', self::$unpacked . '/' . $arch));
            if ($rc !== 0) {
                throw new RuntimeException("unzip $zip failed (exit $rc):\n" . $output);
            }
        }
    }

    public static function tearDownAfterClass(): void
    {
        if (self::$unpacked !== '') {
            self::command(array('rm', '-rf', self::$unpacked));
        }
    }

    /** @return array{0:int,1:string} exit code, stdout and stderr together */
    private static function command(array $command, array $env = array()): array
    {
        $process = proc_open($command, array(1 => array('pipe', 'w'), 2 => array('redirect', 1)), $pipes, null, $env + getenv());
        $output = (string) stream_get_contents($pipes[1]);
        fclose($pipes[1]);
        return array(proc_close($process), $output);
    }

    /** @return string[] the zip's entries, as unzip lists them */
    private static function entries(string $zip): array
    {
        [$rc, $output] = self::command(array('unzip', '-Z1', $zip));
        return $rc === 0 ? array_values(array_filter(explode("\n", $output))) : array();
    }

    private static function readelf(string $option, string $file): string
    {
        [$rc, $output] = self::command(array('readelf', $option, '--wide', $file));
        return $rc === 0 ? $output : '';
    }

    public function test_each_zip_holds_the_plugin_and_its_libraries_and_one_architecture_fits_the_upload_limit(): void
    {
        foreach (self::$zips as $arch => $zip) {
            $this->assertFileExists($zip);
            $size = (int) filesize($zip);
            $this->assertGreaterThan(500 * 1024, $size, "control: the $arch zip holds a library");
            if ($arch !== self::ALL) {
                $this->assertLessThan(self::UPLOAD_LIMIT_BYTES, $size, sprintf("%s is %d bytes: not below PHP's default upload_max_filesize (2 MB), so Plugins -> Add New -> Upload would refuse it", basename($zip), $size));
            }
            $this->check_zip($zip, self::$unpacked . '/' . $arch . '/crmhooks', $arch === self::ALL ? array_keys(self::ELF_MACHINES) : array($arch));
        }
    }

    /** @param string[] $arches the architectures whose libraries the zip must hold, and no other */
    private function check_zip(string $zip, string $plugin, array $arches): void
    {
        $entries = self::entries($zip);
        $this->assertNotEmpty($entries, 'unzip -Z1 lists the zip');
        foreach ($entries as $entry) {
            $this->assertStringStartsWith('crmhooks/', $entry, 'everything is inside the plugin folder crmhooks/');
            $this->assertDoesNotMatchRegularExpression('~(^|/)(\.stack[^/]*|tests|\.git[^/]*)(/|$)|Test\.php$|crmhooks-preload\.h$~', $entry, 'must not ship');
        }

        // Every PHP file of the plugin ships, and no other.
        [, $tracked] = self::command(array('git', '-C', self::$repo . '/php-shim', 'ls-files', '--cached', '--others', '--exclude-standard', '*.php'));
        $expected = array_map(static fn(string $f): string => 'crmhooks/' . $f, array_filter(explode("\n", $tracked)));
        $shipped = array_values(array_filter($entries, static fn(string $e): bool => str_ends_with($e, '.php')));
        sort($expected);
        sort($shipped);
        $this->assertContains('crmhooks/crmhooks.php', $shipped);
        $this->assertSame($expected, $shipped);

        // readme.txt in WordPress's format, agreeing with the plugin header.
        $readme = (string) @file_get_contents($plugin . '/readme.txt');
        $this->assertStringStartsWith("=== crmhooks ===\n", $readme);
        foreach (array('Contributors', 'Tags', 'Requires at least', 'Tested up to', 'Requires PHP', 'Stable tag', 'License') as $field) {
            $this->assertMatchesRegularExpression('/^' . $field . ': *\S/m', $readme, "readme.txt header $field");
        }
        foreach (array('Description', 'Installation', 'Frequently Asked Questions', 'Changelog') as $section) {
            $this->assertStringContainsString("\n== $section ==\n", $readme);
        }
        $this->assertMatchesRegularExpression('/^Stable tag: ' . preg_quote(self::$version, '/') . '$/m', $readme);
        $this->assertStringContainsString("\n= " . self::$version . " =\n", $readme, 'a changelog entry for this version');
        $header = (string) file_get_contents($plugin . '/crmhooks.php');
        foreach (array('Requires at least', 'Requires PHP') as $field) {
            preg_match('/^' . $field . ': *(\S+)/m', $readme, $in_readme);
            preg_match('/^ \* ' . $field . ': *(\S+)/m', $header, $in_header);
            $this->assertSame($in_header[1] ?? 'the plugin header', $in_readme[1] ?? 'readme.txt', "$field: readme.txt and the plugin header");
        }

        // The .pot holds the plugin's strings (one from each kind of call at least).
        $pot = (string) @file_get_contents($plugin . '/languages/crmhooks.pot');
        $this->assertStringContainsString('"Project-Id-Version: crmhooks ' . self::$version . '\n"', $pot);
        $this->assertStringContainsString('"Content-Type: text/plain; charset=UTF-8\n"', $pot);
        $this->assertStringContainsString("\nmsgid \"crmhooks needs PHP 8.1 or newer; the plugin is inactive.\"\n", $pot, 'an esc_html__() string');
        $this->assertGreaterThan(20, preg_match_all('/^msgid "[^"]/m', $pot), 'the .pot holds the plugin\'s strings');

        // These architectures' libraries only, each for the right machine, glibc 2.17 at most.
        $this->assertSame(array_keys(self::ELF_MACHINES), array_values(array_unique(CrmHooks_Native::RELEASE_ARCHES)), 'the loader\'s folders are the ones checked here');
        $libs = array_values(preg_grep('~\.so$~', $entries));
        $expected_libs = array_map(static fn(string $arch): string => 'crmhooks/lib/' . $arch . '/libcrmhooks-' . self::$version . '.so', $arches);
        sort($libs);
        sort($expected_libs);
        $this->assertSame($expected_libs, $libs, basename($zip) . ' ships the libraries of ' . implode(' and ', $arches) . ' only');
        foreach ($arches as $arch) {
            $lib = $plugin . '/lib/' . $arch . '/libcrmhooks-' . self::$version . '.so';
            $this->assertMatchesRegularExpression('/^\s*Machine:\s+' . preg_quote(self::ELF_MACHINES[$arch], '/') . '$/m', self::readelf('--file-header', $lib), "$arch library");
            preg_match_all('/GLIBC_([0-9][0-9.]*)/', self::readelf('--dyn-syms', $lib), $m);
            $versions = array_unique($m[1]);
            $this->assertContains(self::GLIBC_BASELINE, $versions, "control: the $arch library is a glibc build that reads its symbol versions");
            usort($versions, 'version_compare');
            $this->assertTrue(version_compare((string) end($versions), self::GLIBC_BASELINE, '<='), "$arch library needs GLIBC_" . end($versions));
        }
    }

    public function test_the_zip_installs_through_the_upload_path_activates_and_answers_webhooks(): array
    {
        foreach (array('CRMHOOKS_FRESH_SITE_URL', 'CRMHOOKS_FRESH_WP_DIR') as $name) {
            $this->assertNotSame('', (string) getenv($name), "$name: this stack was started by an older stack.sh (no fresh site); run scripts/stack.sh down, then up");
        }
        // The stack this process tests, whichever way bootstrap.php found it.
        [$rc, $output] = self::command(array(self::$repo . '/scripts/stack.sh', 'fresh-site'), array('CRMHOOKS_STACK_DIR' => dirname((string) getenv('CRMHOOKS_FRESH_WP_DIR'))));
        $this->assertSame(0, $rc, "scripts/stack.sh fresh-site failed:\n" . $output);
        $plugin_dir = getenv('CRMHOOKS_FRESH_WP_DIR') . '/wp-content/plugins/crmhooks';
        $this->assertDirectoryDoesNotExist($plugin_dir, 'the fresh site starts without crmhooks');

        // What wp-admin/update.php?action=upload-plugin does with the uploaded file.
        $installed = $this->fresh(<<<'PHP'
            require_once ABSPATH . 'wp-admin/includes/admin.php'; // What every wp-admin screen has loaded.
            require_once ABSPATH . 'wp-admin/includes/class-wp-upgrader.php';
            $skin = new Automatic_Upgrader_Skin();
            $upgrader = new Plugin_Upgrader($skin);
            $result = $upgrader->install($in['zip']);
            return array(
                'result'   => is_wp_error($result) ? $result->get_error_message() : $result,
                'plugin'   => $upgrader->plugin_info(),
                'messages' => $skin->get_upgrade_messages(),
            );
            PHP, array('zip' => self::$zips[self::ALL]));
        $this->assertTrue($installed['result'], 'Plugin_Upgrader::install: ' . json_encode($installed));
        $this->assertSame('crmhooks/crmhooks.php', $installed['plugin']);
        $this->assertFileExists($plugin_dir . '/lib/x86_64/libcrmhooks-' . self::$version . '.so');

        // Activate as Plugins -> Activate does; connect to the stand-in's ActiveCampaign.
        $seed = json_decode((string) file_get_contents(self::$repo . '/tests/standin/seed.json'), true);
        $site = $this->fresh(<<<'PHP'
            $activated = activate_plugin('crmhooks/crmhooks.php');
            if (is_wp_error($activated)) {
                return array('activated' => $activated->get_error_message());
            }
            CrmHooks_Settings::update(array(
                'crm'            => 'activecampaign',
                'ac_base_url'    => $in['standin'],
                'ac_api_token'   => $in['token'],
                'role_allowlist' => array('subscriber'),
            ));
            $candidates = array();
            foreach (array_keys(CrmHooks_Native::RELEASE_ARCHES) as $machine) {
                $candidates[$machine] = CrmHooks_Native::library_candidates($machine)[0];
            }
            return array(
                'activated'  => is_plugin_active('crmhooks/crmhooks.php'),
                'access_key' => CrmHooks_Settings::all()['access_key'],
                'library'    => CrmHooks_Native::library_path(),
                'abi'        => CrmHooks_Native::get()->abi_version(),
                'candidates' => $candidates,
            );
            PHP, array('standin' => rtrim((string) getenv('CRMHOOKS_STANDIN_URL'), '/'), 'token' => $seed['activecampaign']['api_token']));
        $this->assertTrue($site['activated'], 'activate_plugin: ' . json_encode($site));
        $this->assertSame($plugin_dir . '/lib/x86_64/libcrmhooks-' . self::$version . '.so', $site['library'], 'this x86_64 machine loads lib/x86_64/');
        $this->assertSame(self::$version, $site['abi']);
        // Every machine name the loader knows points at a library the zip ships.
        foreach ($site['candidates'] as $machine => $path) {
            $this->assertFileExists($path, "the library for a $machine server");
        }
        $this->assertMatchesRegularExpression('/^[A-Za-z0-9_-]{16,}$/', $site['access_key'], 'activation made an access key');

        // Webhooks over HTTP through nginx and php-fpm (FFI at runtime) into the fresh site.
        $url = rtrim((string) getenv('CRMHOOKS_FRESH_SITE_URL'), '/') . '/';
        $wrong = CrmHooks_Test_Site::webhook('GET', array('wpf_action' => 'test', 'access_key' => 'wrong-key-0123456789'), null, array(), $url);
        $this->assertSame(401, $wrong['status'], 'control: a wrong key is refused: ' . $wrong['body']);
        $test = CrmHooks_Test_Site::webhook('GET', array('wpf_action' => 'test', 'access_key' => $site['access_key']), null, array(), $url);
        $this->assertSame(200, $test['status'], $test['body']);
        $this->assertSame(array('success' => true), $test['json']);

        CrmHooks_Test_Standin::reset(null);
        global $wpdb;
        $user_row = static fn(): ?array => $wpdb->get_row("SELECT u.ID, u.user_email, m.meta_value AS contact_id FROM fresh_users u
            JOIN fresh_usermeta m ON m.user_id = u.ID AND m.meta_key = 'crmhooks_contact_id' WHERE u.user_email = 'jane.doe@example.com'", ARRAY_A);
        $this->assertNull($user_row(), 'control: no such user before the webhook');
        $add = CrmHooks_Test_Site::webhook('GET', array('wpf_action' => 'add', 'access_key' => $site['access_key'], 'contact_id' => '42', 'async' => 'false'), null, array(), $url);
        $this->assertSame(200, $add['status'], $add['body']);
        $this->assertSame(array('success' => true, 'status' => 'processed'), $add['json']);
        $this->assertSame(array('user_email' => 'jane.doe@example.com', 'contact_id' => '42'), array_diff_key((array) $user_row(), array('ID' => 1)));
        $this->assertSame(array('test', 'add'), $wpdb->get_col('SELECT action FROM fresh_crmhooks_log ORDER BY id'), 'both webhooks in the fresh site\'s log');

        return array('url' => $url, 'key' => $site['access_key'], 'plugin_dir' => $plugin_dir);
    }

    /**
     * @depends test_the_zip_installs_through_the_upload_path_activates_and_answers_webhooks
     */
    public function test_a_server_without_its_library_is_told_which_architecture_and_path(array $installed): void
    {
        $lib_dir = $installed['plugin_dir'] . '/lib/x86_64';
        $expected = $lib_dir . '/libcrmhooks-' . self::$version . '.so';
        $this->assertTrue(rename($lib_dir, $lib_dir . '.away'));
        try {
            $told = $this->fresh(<<<'PHP'
                wp_set_current_user(1);
                require_once CRMHOOKS_INCLUDES . 'admin/class-crmhooks-health.php'; // an admin view, loaded in wp-admin only
                ob_start();
                CrmHooks_Health::admin_notice();
                return array('diagnose' => CrmHooks_Native::diagnose(), 'notice' => ob_get_clean());
                PHP);
            $this->assertStringContainsString('architecture (x86_64)', (string) $told['diagnose']);
            $this->assertStringContainsString($expected, (string) $told['diagnose'], 'names the path looked for');
            $this->assertStringContainsString(esc_html($expected), $told['notice'], 'the admin notice shows it');
            $this->assertStringContainsString('architecture (x86_64)', $told['notice']);
            $this->assertStringContainsString('crmhooks-' . self::$version . '.zip', $told['notice'], 'what to reinstall from');
            $this->assertStringNotContainsString('scripts/', $told['notice'], 'words for a site owner, never a development script');

            $answer = CrmHooks_Test_Site::webhook('GET', array('wpf_action' => 'test', 'access_key' => $installed['key']), null, array(), $installed['url']);
            $this->assertSame(503, $answer['status'], 'webhooks wait for the library: ' . $answer['body']);
        } finally {
            rename($lib_dir . '.away', $lib_dir);
        }
        $again = CrmHooks_Test_Site::webhook('GET', array('wpf_action' => 'test', 'access_key' => $installed['key']), null, array(), $installed['url']);
        $this->assertSame(200, $again['status'], 'control: with its library back the site answers: ' . $again['body']);
    }

    /**
     * Runs `$body` (the body of a function of `$in`) in a PHP subprocess with the fresh site's
     * WordPress loaded; returns what it returns, through JSON.
     *
     * @return mixed
     */
    private function fresh(string $body, array $in = array())
    {
        return CrmHooks_Test_Site::run_in_site((string) getenv('CRMHOOKS_FRESH_WP_DIR'), (string) getenv('CRMHOOKS_FRESH_SITE_URL'), $body, $in);
    }
}

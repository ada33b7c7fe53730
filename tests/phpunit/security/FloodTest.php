<?php
/**
 * A flood of 10,000 malformed webhooks (tests/security/flood.py) against the running stack, both
 * php-fpm pools: no 5xx, one byte-identical 401, the key never echoed, no PHP fatal or warning
 * (and no notice or deprecation from the plugin) in the stack's logs, and no row per request:
 * crmhooks_log, crmhooks_jobs and crmhooks_writes keep their rows, crmhooks_refusals gains at
 * most one row per reason and hour.
 */

declare(strict_types=1);

use PHPUnit\Framework\TestCase;

final class FloodTest extends TestCase
{
    /** Requests per run; CRMHOOKS_FLOOD_REQUESTS (at least 500) overrides it for a quick local run. */
    private const REQUESTS = 10000;
    private const CONCURRENCY = 8;
    private const SEED = '20240601';

    /** Reasons the library refuses with (src/answer.rs refusal()); anything else is a 5xx path. */
    private const REFUSAL_REASONS = array('unauthorized', 'bad_request', 'not_utf8', 'unknown_action', 'malformed_body', 'body_too_large', 'method');

    /** New refusal rows allowed per clock hour the flood touches. */
    private const MAX_NEW_REFUSAL_ROWS_PER_HOUR = 12;

    protected function setUp(): void
    {
        parent::setUp();
        CrmHooks_Test_Site::restore_settings();
    }

    public function test_a_flood_of_malformed_webhooks_is_refused_without_errors_or_rows(): void
    {
        $this->assertSame(
            CrmHooks_Test_Site::access_key(),
            (string) CrmHooks_Settings::get('access_key'),
            'the site must use the stack\'s access key, or every request would only test the 401 path'
        );

        $logs = $this->log_files();
        $db_before = $this->quiet_db_state();
        $log_sizes_before = $this->log_sizes($logs);
        $hour_before = intdiv(time(), HOUR_IN_SECONDS);

        $run = $this->run_flood();

        $hour_after = intdiv(time(), HOUR_IN_SECONDS);
        CrmHooks_Test_Site::fresh();
        $db_after = $this->db_state();
        clearstatcache();
        $new_lines = $this->new_log_lines($logs, $log_sizes_before);

        $summary = $run['summary'];
        $requests = $run['requests'];
        $this->write_report($summary, $db_before, $db_after, $new_lines);
        $brief = $this->brief($summary, $run);

        // The flood ran completely, and sent only requests it proved malformed.
        $this->assertIsArray($summary, 'flood.py printed no JSON summary: ' . $brief);
        $this->assertSame($requests, $summary['sent'], 'requests answered: ' . $brief);
        $this->assertSame(0, $summary['generator_errors'], 'requests the generator could not prove refused: ' . $brief);
        $this->assertSame(0, $summary['transport_errors'], 'requests without an HTTP answer: ' . $brief);

        // Statuses.
        $this->assertSame(0, $summary['server_errors'], 'answers with status >= 500: ' . $brief);
        foreach ($summary['status_counts'] as $status => $count) {
            $this->assertLessThan(500, (int) $status, $brief);
        }
        foreach (array('library', 'wp_rest') as $origin) {
            foreach ($summary['origin_counts'][ $origin ] ?? array() as $status => $count) {
                $this->assertContains((int) $status, array(400, 401, 405, 413), "$origin answered $status: " . $brief);
            }
        }
        foreach ($summary['origin_counts']['nginx'] ?? array() as $status => $count) {
            $this->assertContains((int) $status, array(400, 414, 431), "nginx answered $status itself: " . $brief);
        }
        $this->assertSame(0, $summary['unknown_origin'], 'answers from neither the plugin, the REST server nor nginx: ' . $brief);
        $this->assertSame(0, $summary['unexpected_status'], $brief);
        $this->assertSame(0, $summary['unauthorized_not_401'], 'a request without a valid key got past the key check: ' . $brief);
        $this->assertSame(0, $summary['keyed_got_401'], 'a request with the right key was answered 401: ' . $brief);

        // One 401, byte for byte; the key never in an answer.
        $this->assertGreaterThan(intdiv($requests, 10), $summary['auth_401']['count'], $brief);
        $this->assertSame(1, $summary['auth_401']['distinct_bodies'], 'every 401 must be the same: ' . $brief);
        $this->assertTrue($summary['auth_401']['identical'], $brief);
        $this->assertSame(0, $summary['key_in_body'], 'answer bodies containing the access key: ' . $brief);
        $this->assertSame(0, $summary['key_in_headers'], 'answer headers containing the access key: ' . $brief);
        $this->assertTrue($summary['ok'], 'flood.py checks failed: ' . $brief);
        $this->assertSame(0, $run['exit_code'], 'flood.py exit status; stderr: ' . $run['stderr']);

        // No row per request. (Housekeeping on WP-Cron may delete old rows meanwhile: counts may
        // only stay or fall, and AUTO_INCREMENT shows an insert even if its row was deleted again.)
        $db = json_encode(array(
            'before' => array_intersect_key($db_before, array('counts' => 1, 'next_id' => 1)),
            'after'  => array_intersect_key($db_after, array('counts' => 1, 'next_id' => 1)),
        ));
        foreach (array('crmhooks_log', 'crmhooks_jobs', 'crmhooks_writes') as $table) {
            $this->assertLessThanOrEqual($db_before['counts'][ $table ], $db_after['counts'][ $table ], "$table grew during the flood: $db");
        }
        foreach (array('crmhooks_log', 'crmhooks_jobs') as $table) {
            $this->assertSame($db_before['next_id'][ $table ], $db_after['next_id'][ $table ], "rows were inserted into $table during the flood (AUTO_INCREMENT moved): $db");
        }
        $new_rows = array_diff_key($db_after['refusals'], $db_before['refusals']);
        $hours = $hour_after - $hour_before + 1;
        $this->assertLessThanOrEqual(self::MAX_NEW_REFUSAL_ROWS_PER_HOUR * $hours, count($new_rows), 'refusal rows added: ' . implode(', ', array_keys($new_rows)));
        foreach (array_keys($new_rows) as $row) {
            list( $hour_start, $reason ) = explode('/', $row, 2);
            $this->assertContains($reason, self::REFUSAL_REASONS, "refusal row $row");
            $this->assertGreaterThanOrEqual($hour_before * HOUR_IN_SECONDS, (int) $hour_start, "refusal row $row");
            $this->assertLessThanOrEqual($hour_after * HOUR_IN_SECONDS, (int) $hour_start, "refusal row $row");
        }
        // Every refusal the plugin answered is counted, once.
        $this->assertSame(
            $summary['library_answers'],
            $db_after['refused_total'] - $db_before['refused_total'],
            'refusals counted in crmhooks_refusals vs. refusals the plugin answered'
        );

        // Logs: no PHP fatal or warning at all, no notice or deprecation from the plugin, no crash.
        $this->assertSame(array(), $this->bad_log_lines($new_lines), 'new log lines during the flood');
    }

    /**
     * Runs flood.py against both sites (runtime FFI and preload pools). The key goes through the
     * environment, not the command line.
     *
     * @return array{summary:mixed,requests:int,exit_code:int,stdout:string,stderr:string,seconds:float}
     */
    private function run_flood(): array
    {
        $repo = dirname(__DIR__, 3);
        $requests = (int) getenv('CRMHOOKS_FLOOD_REQUESTS') ?: self::REQUESTS;
        $requests = max(500, $requests);
        $command = array(
            'python3', $repo . '/tests/security/flood.py',
            '--url', rtrim(CrmHooks_Test_Site::url('/'), '/'),
            '--url', rtrim(CrmHooks_Test_Site::preload_url('/'), '/'),
            '--requests', (string) $requests,
            '--concurrency', (string) self::CONCURRENCY,
            '--seed', self::SEED,
        );
        $env = getenv();
        $env['CRMHOOKS_ACCESS_KEY'] = CrmHooks_Test_Site::access_key();
        $stderr_file = tempnam(sys_get_temp_dir(), 'crmhooks-flood-');
        $started = microtime(true);
        $process = proc_open($command, array(0 => array('file', '/dev/null', 'r'), 1 => array('pipe', 'w'), 2 => array('file', $stderr_file, 'w')), $pipes, $repo, $env);
        $this->assertIsResource($process, 'could not start python3 tests/security/flood.py');
        $stdout = (string) stream_get_contents($pipes[1]);
        fclose($pipes[1]);
        $exit_code = proc_close($process);
        $stderr = (string) file_get_contents($stderr_file);
        unlink($stderr_file);
        return array(
            'summary'   => json_decode($stdout, true),
            'requests'  => $requests,
            'exit_code' => $exit_code,
            'stdout'    => $stdout,
            'stderr'    => $stderr,
            'seconds'   => microtime(true) - $started,
        );
    }

    /**
     * db_state() once the tables are quiet: a drainer left running by an earlier test (it works
     * after its response) must not write during the flood and be taken for the flood's rows.
     */
    private function quiet_db_state(): array
    {
        $state = $this->db_state();
        $quiet = 0;
        for ($i = 0; $i < 30 && $quiet < 2; $i++) {
            sleep(1);
            $next = $this->db_state();
            $quiet = ($next['counts'] === $state['counts'] && $next['next_id'] === $state['next_id'] && $next['refusals'] === $state['refusals']) ? $quiet + 1 : 0;
            $state = $next;
        }
        return $state;
    }

    /** Row counts, next AUTO_INCREMENT values and the refusal rows, read straight from MariaDB. */
    private function db_state(): array
    {
        global $wpdb;
        $state = array('counts' => array(), 'next_id' => array(), 'refusals' => array(), 'refused_total' => 0);
        foreach (array('crmhooks_log', 'crmhooks_jobs', 'crmhooks_writes', 'crmhooks_refusals') as $table) {
            $count = $wpdb->get_var("SELECT COUNT(*) FROM {$wpdb->prefix}{$table}");
            $this->assertNotNull($count, "table {$wpdb->prefix}{$table}: " . $wpdb->last_error);
            $state['counts'][ $table ] = (int) $count;
        }
        foreach (array('crmhooks_log', 'crmhooks_jobs') as $table) {
            // information_schema may serve cached statistics; SHOW TABLE STATUS reads the counter.
            $status = $wpdb->get_row($wpdb->prepare('SHOW TABLE STATUS LIKE %s', $wpdb->prefix . $table), ARRAY_A);
            $state['next_id'][ $table ] = (string) ( $status['Auto_increment'] ?? '' );
        }
        foreach ((array) $wpdb->get_results("SELECT hour_start, reason, refused FROM {$wpdb->prefix}crmhooks_refusals", ARRAY_A) as $row) {
            $state['refusals'][ $row['hour_start'] . '/' . $row['reason'] ] = (int) $row['refused'];
            $state['refused_total'] += (int) $row['refused'];
        }
        return $state;
    }

    /**
     * The stack's logs: WordPress's debug log, each pool's PHP error log, the php-fpm masters'
     * logs and nginx's error log (scripts/lib/*.sh decide where they are).
     *
     * @return array<string,string> path => kind (php, fpm or nginx)
     */
    private function log_files(): array
    {
        $stack = dirname(CrmHooks_Test_Site::wp_dir());
        $files = array();
        $debug_log = defined('WP_DEBUG_LOG') && is_string(WP_DEBUG_LOG) ? WP_DEBUG_LOG : $stack . '/logs/wp-debug.log';
        $files[ $debug_log ] = 'php';
        foreach ((array) glob($stack . '/logs/php-*.log') as $file) {
            $files[ $file ] = 'php';
        }
        foreach ((array) glob($stack . '/fpm-*/php-fpm.log') as $file) {
            $files[ $file ] = 'fpm';
        }
        $files[ $stack . '/nginx/error.log' ] = 'nginx';
        $this->assertGreaterThanOrEqual(5, count(array_filter(array_keys($files), 'is_file')), 'stack logs not found under ' . $stack . ': ' . implode(', ', array_keys($files)));
        return $files;
    }

    private function log_sizes(array $files): array
    {
        clearstatcache();
        $sizes = array();
        foreach (array_keys($files) as $file) {
            $sizes[ $file ] = is_file($file) ? (int) filesize($file) : 0;
        }
        return $sizes;
    }

    /** @return array<string,array{kind:string,lines:string[]}> lines written since $sizes */
    private function new_log_lines(array $files, array $sizes): array
    {
        $new = array();
        foreach ($files as $file => $kind) {
            if (! is_file($file)) {
                continue;
            }
            $size = (int) filesize($file);
            $from = $size >= $sizes[ $file ] ? $sizes[ $file ] : 0; // rotated or truncated: read it all
            $text = $size > $from ? (string) file_get_contents($file, false, null, $from) : '';
            $lines = array_values(array_filter(explode("\n", $text), static fn(string $l): bool => trim($l) !== ''));
            $new[ $file ] = array('kind' => $kind, 'lines' => $lines);
        }
        return $new;
    }

    /**
     * The lines that fail the test: any PHP fatal, parse error or warning; any PHP notice or
     * deprecation from the plugin; a php-fpm worker that died or a master warning; nginx errors
     * about the upstream or PHP messages on FastCGI stderr. WordPress core's own deprecations
     * (WP-Cron loading Requests, for one) are not the plugin's and pass.
     */
    private function bad_log_lines(array $new_lines): array
    {
        $stack = dirname(CrmHooks_Test_Site::wp_dir());
        $plugin_dir = realpath(CrmHooks_Test_Site::wp_dir() . '/wp-content/plugins/crmhooks');
        $bad = array();
        foreach ($new_lines as $file => $entry) {
            foreach ($entry['lines'] as $line) {
                // Paths of the stack itself may contain "crmhooks" (the repository's name).
                $scrubbed = str_replace(array($stack, CrmHooks_Test_Site::wp_dir()), '', $line);
                $from_plugin = stripos($scrubbed, 'crmhooks') !== false
                    || ($plugin_dir !== false && strpos($line, $plugin_dir) !== false);
                switch ($entry['kind']) {
                    case 'php':
                        $serious = preg_match('/PHP (Fatal error|Parse error|Recoverable fatal error|Warning|Core error|Compile error)|Uncaught|Allowed memory size|Maximum execution time/i', $line) === 1;
                        $is_bad = $serious || $from_plugin;
                        break;
                    case 'fpm':
                        $is_bad = preg_match('/WARNING|ERROR|ALERT|signal|exited|terminated/i', $line) === 1 || $from_plugin;
                        break;
                    default: // nginx: request bodies buffered to temp files are expected ([warn])
                        $is_bad = preg_match('/\[(error|crit|alert|emerg)\]|FastCGI sent in stderr|PHP (Fatal|Parse|Warning|Notice|Deprecated)/i', $line) === 1;
                }
                if ($is_bad) {
                    $bad[] = basename(dirname($file)) . '/' . basename($file) . ': ' . substr($line, 0, 500);
                }
            }
        }
        return array_slice($bad, 0, 40);
    }

    /** The summary and the log/database observations, kept next to the stack's logs. */
    private function write_report($summary, array $db_before, array $db_after, array $new_lines): void
    {
        $report = array(
            'summary'   => $summary,
            'db_before' => array_diff_key($db_before, array('refusals' => 1)),
            'db_after'  => array_diff_key($db_after, array('refusals' => 1)),
            'new_refusal_rows' => array_keys(array_diff_key($db_after['refusals'], $db_before['refusals'])),
            'new_log_lines' => array_map(static fn(array $e): array => array('count' => count($e['lines']), 'first' => array_slice($e['lines'], 0, 10)), $new_lines),
        );
        $file = dirname(CrmHooks_Test_Site::wp_dir()) . '/logs/flood-report.json';
        @file_put_contents($file, (string) json_encode($report, JSON_PRETTY_PRINT | JSON_UNESCAPED_SLASHES | JSON_INVALID_UTF8_SUBSTITUTE));
    }

    /** A short account of the run for failure messages. */
    private function brief($summary, array $run): string
    {
        if (! is_array($summary)) {
            return 'exit ' . $run['exit_code'] . ', stdout: ' . substr($run['stdout'], 0, 2000) . ' stderr: ' . substr($run['stderr'], 0, 2000);
        }
        $keep = array_intersect_key($summary, array_flip(array('sent', 'elapsed_seconds', 'status_counts', 'origin_counts', 'auth_401', 'failed_checks', 'samples')));
        return (string) json_encode($keep, JSON_UNESCAPED_SLASHES | JSON_INVALID_UTF8_SUBSTITUTE);
    }
}

<?php
/**
 * The secrets sweep: after a run with Return Password on (a user created, its generated password
 * written to the CRM, the CRM echoing it back in a webhook body, the admin's debug page opened),
 * search every table of the database, every log file the stack writes and every answer the site
 * gave for the access key, the CRM credentials and the generated password: 0 hits.
 */

declare(strict_types=1);

require_once __DIR__ . '/../plugin/PluginTestCase.php';

final class SecretsSweepTest extends CrmHooks_Plugin_TestCase
{
    /** @var array<int, array{status:int, headers:array, body:string}> */
    private array $answers = array();

    private function keep(array $answer): array
    {
        $this->answers[] = $answer;
        return $answer;
    }

    /** Files the stack writes logs to: every *.log and log directory under the stack dir, not the data dir. */
    private static function log_files(): array
    {
        $stack = dirname(CrmHooks_Test_Site::wp_dir());
        $files = array();
        $walk = new RecursiveIteratorIterator(new RecursiveDirectoryIterator($stack, FilesystemIterator::SKIP_DOTS));
        foreach ($walk as $file) {
            $path = (string) $file;
            if (strpos($path, $stack . '/db/') === 0 || ! $file->isFile() || ! $file->isReadable()) {
                continue;
            }
            if (preg_match('/\.log$|\/logs\//', $path) === 1) {
                $files[] = $path;
            }
        }
        return $files;
    }

    public function test_no_secret_in_the_database_the_logs_or_any_answer(): void
    {
        global $wpdb;
        CrmHooks_Test_Site::set_settings(array('return_password' => true, 'password_field' => '9', 'field_map' => array(array('crm_key' => '1', 'wp_key' => 'membership_level'))));

        // Inline add: the user is created and its generated password written to CRM field 9.
        $this->assertProcessed($this->keep($this->hook(array('wpf_action' => 'add', 'contact_id' => '42', 'send_notification' => 'false'))));
        $password = (string) ($this->standin_contact('ac', '42')['fields']['9'] ?? '');
        $this->assertGreaterThanOrEqual(12, strlen($password), 'the password reached the CRM');
        $user = $this->user('jane.doe@example.com');
        $this->assertTrue(wp_check_password($password, $user->user_pass, $user->ID));

        // The CRM echoes the write back (ActiveCampaign posts the field values), queued.
        // (A short loopback window: the echo is deferred until it ends, then read from the CRM.)
        CrmHooks_Test_Site::set_settings(array('async' => true, 'settle_secs' => 0, 'loopback_window_secs' => 2));
        $echo = array(
            'type' => 'update', 'initiated_from' => 'api', 'contact' => array(
                'id' => '42', 'email' => 'jane.doe@example.com', 'tags' => 'member', 'fields' => array('9' => $password, '1' => 'Gold'),
            ),
        );
        $this->assertSame(200, $this->keep($this->hook(array('wpf_action' => 'update'), 'POST', $echo))['status']);
        $this->keep($this->hook(array('wpf_action' => 'update', 'contact_id' => '42', 'async' => 'false')));
        $this->keep($this->hook(array('wpf_action' => 'test')));
        $this->keep(CrmHooks_Test_Site::webhook('GET', array('wpf_action' => 'add', 'access_key' => 'wrong')));
        $this->keep($this->hook(array('wpf_action' => 'add', 'contact_id' => 'abc')));
        $this->assertTrue(CrmHooks_Test_Site::wait_until_queue_idle(30, true), 'the queue did not drain in 30 s');

        // The administrator's debug view of the same webhook.
        $admin_password = wp_generate_password(24);
        $admin = $this->make_user('sweep.admin@example.com', 'administrator', $admin_password);
        $cookie = $this->login_cookie(get_userdata($admin)->user_login, $admin_password);
        $debug = $this->http('GET', $this->webhook_url(array('wpf_action' => 'update', 'contact_id' => '42')), null, array('Cookie: ' . $cookie));
        $this->assertSame(200, $debug['status']);
        $this->keep(array('status' => $debug['status'], 'headers' => array(), 'body' => $debug['body']));
        $settings_page = $this->http('GET', CrmHooks_Test_Site::url('/wp-admin/options-general.php?page=crmhooks'), null, array('Cookie: ' . $cookie));
        $this->assertSame(200, $settings_page['status']);
        // The screens that show what the webhooks did, with every entry's detail view.
        $screen_paths = array('/wp-admin/tools.php?page=crmhooks-queue', '/wp-admin/tools.php?page=crmhooks-activity');
        foreach ($wpdb->get_col("SELECT id FROM {$wpdb->prefix}crmhooks_log") as $entry) {
            $screen_paths[] = '/wp-admin/tools.php?page=crmhooks-activity&entry=' . $entry;
        }
        $screens = array();
        foreach ($screen_paths as $path) {
            $screens[ $path ] = $this->http('GET', CrmHooks_Test_Site::url($path), null, array('Cookie: ' . $cookie));
            $this->assertSame(200, $screens[ $path ]['status'], $path);
        }

        $needles = array(
            'generated password'   => $password,
            'ActiveCampaign token' => 'ac-test-token',
            'Ontraport API key'    => 'op-test-key',
            'Ontraport app ID'     => 'op-test-app',
            'drain request token'  => CrmHooks_Worker::own_request_token(),
        );
        $key_needles = $needles + array('access key' => CrmHooks_Test_Site::access_key());

        // Every row of every table (the site's own and the plugin's), as text.
        CrmHooks_Test_Site::fresh();
        $hits = array();
        foreach ($wpdb->get_col('SHOW TABLES') as $table) {
            $text = (string) json_encode($wpdb->get_results("SELECT * FROM `{$table}`", ARRAY_A), JSON_INVALID_UTF8_SUBSTITUTE | JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE);
            foreach ($key_needles as $what => $needle) {
                if (strpos($text, $needle) !== false) {
                    $hits[] = "$what in table $table";
                }
            }
        }
        $files = self::log_files();
        $this->assertNotEmpty($files, 'the stack writes logs');
        foreach ($files as $file) {
            $text = (string) file_get_contents($file);
            foreach ($key_needles as $what => $needle) {
                if (strpos($text, $needle) !== false) {
                    $hits[] = "$what in $file";
                }
            }
        }
        foreach ($this->answers as $i => $answer) {
            $text = $answer['body'] . json_encode($answer['headers'] ?? array());
            foreach ($key_needles as $what => $needle) {
                if (strpos($text, $needle) !== false) {
                    $hits[] = "$what in answer #$i";
                }
            }
        }
        // The settings page never carries the key (it is fetched on request), credentials or passwords.
        foreach ($key_needles as $what => $needle) {
            if (strpos($settings_page['body'], $needle) !== false) {
                $hits[] = "$what on the settings page";
            }
            foreach ($screens as $path => $screen) {
                if (strpos($screen['body'], $needle) !== false) {
                    $hits[] = "$what on $path";
                }
            }
        }
        $this->assertSame(array(), $hits);
    }
}

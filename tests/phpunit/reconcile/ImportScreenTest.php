<?php
/**
 * Tools -> crmhooks Import over HTTP: only an administrator with the form's nonce starts an
 * import; the screen then shows the stored progress (done / total, failures) while the import
 * advances in the background, without the tab.
 */

declare(strict_types=1);

require_once dirname(__DIR__) . '/admin/AdminScreensTestCase.php';

final class ImportScreenTest extends CrmHooks_Admin_Screens_TestCase
{
    private const PAGE = '/wp-admin/tools.php?page=crmhooks-import';

    protected function setUp(): void
    {
        parent::setUp();
        $this->clear_import();
        CrmHooks_Test_Site::delete_test_users();
        CrmHooks_Test_Site::set_settings(array('import_rate_share' => 100, 'settle_secs' => 0));
    }

    protected function tearDown(): void
    {
        $this->clear_import();
        parent::tearDown();
    }

    private function clear_import(): void
    {
        global $wpdb;
        $wpdb->query($wpdb->prepare("DELETE FROM {$wpdb->options} WHERE option_name = %s", CrmHooks_Reconcile::IMPORT_OPTION));
    }

    public function test_only_an_administrator_with_the_nonce_starts_an_import_and_the_screen_shows_progress(): void
    {
        CrmHooks_Test_Standin::create_contacts('ac', array('count' => 3, 'first_id' => 7001, 'email' => 'tagged{id}@example.com', 'tags' => array('Screen import')));
        $admin = $this->admin_cookie();
        $page = $this->get(self::PAGE, $admin);
        $this->assertSame(200, $page['status']);
        $this->assertSame(1, preg_match('/name="action" value="crmhooks_import_start">.*?name="_wpnonce" value="([0-9a-f]+)"/s', $page['body'], $nonce), 'the form carries a nonce');
        $fields = array('action' => 'crmhooks_import_start', 'tag' => 'Screen import', 'role' => 'subscriber', '_wpnonce' => $nonce[1]);

        $subscriber = $this->subscriber_cookie();
        $this->assertSame(403, $this->get(self::PAGE, $subscriber)['status']);
        $this->assertSame(403, $this->post('/wp-admin/admin-post.php', $fields, $subscriber)['status']);
        $this->assertSame(403, $this->post('/wp-admin/admin-post.php', array('_wpnonce' => '0') + $fields, $admin)['status']);
        $this->assertNull(CrmHooks_Reconcile::import_status(), 'nothing started');

        $started = $this->post('/wp-admin/admin-post.php', $fields, $admin);
        $this->assertSame(302, $started['status']);
        $status = CrmHooks_Reconcile::import_status();
        $this->assertSame(array('Screen import', 3), array($status['state']['tag_name'], $status['state']['listed']), 'the first page is listed at once');

        // The background (drainer started by the site, or WP-Cron) finishes it; the tab only reads.
        $deadline = microtime(true) + 60;
        while (! CrmHooks_Reconcile::import_status()['progress']['finished'] && microtime(true) < $deadline) {
            CrmHooks_Worker::run('test', 5);
            usleep(200000);
        }
        $body = $this->get(self::PAGE, $admin)['body'];
        $this->assertStringContainsString('id="crmhooks-import-progress" max="100" value="100"', $body);
        $this->assertStringContainsString('3 of 3 done, 0 failed (100%)', $body);
        global $wpdb;
        $this->assertSame('3', $wpdb->get_var("SELECT COUNT(*) FROM {$wpdb->users} WHERE user_email LIKE 'tagged%@example.com'"));
    }
}

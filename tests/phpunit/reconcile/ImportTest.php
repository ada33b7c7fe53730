<?php
/**
 * Import by tag over the real site and the CRM stand-in: 500 tagged Ontraport contacts become 500
 * users with the chosen role, within the CRM's rate limit, with correct progress figures, even
 * when the process driving the import is killed half-way and another one resumes it.
 */

declare(strict_types=1);

require_once __DIR__ . '/ReconcileTestCase.php';

final class ImportTest extends CrmHooks_Reconcile_TestCase
{
    private const COUNT = 500;

    /** @var resource|null the driver process, killed half-way */
    private $driver = null;

    protected function tearDown(): void
    {
        if (is_resource($this->driver)) {
            proc_terminate($this->driver, 9);
            proc_close($this->driver);
        }
        parent::tearDown();
    }

    public function test_importing_500_tagged_contacts_survives_a_kill_half_way(): void
    {
        CrmHooks_Test_Site::set_settings(array('crm' => 'ontraport', 'role_allowlist' => array('subscriber', 'contributor'), 'lease_secs' => 5));
        CrmHooks_Test_Standin::create_contacts('op', array('count' => self::COUNT, 'first_id' => 5001, 'email' => 'imp{id}@example.com', 'tags' => array('Members')));
        CrmHooks_Test_Standin::create_contacts('op', array('count' => 3, 'first_id' => 6001, 'email' => 'other{id}@example.com', 'tags' => array('Others')));
        CrmHooks_Test_Standin::clear_log();

        $started = crmhooks_import_by_tag('Members', 'contributor', false);
        $this->assertTrue($started['started'], (string) json_encode($started));
        $again = crmhooks_import_by_tag('Members', 'contributor', false);
        $this->assertSame(array(false, 'an import is still running'), array($again['started'], $again['reason']));

        // A separate process drives the import as WP-Cron would, and is killed with SIGKILL half-way.
        $code = 'require getenv("CRMHOOKS_TEST_BOOTSTRAP"); while (true) { CrmHooks_Reconcile::tick(); CrmHooks_Worker::run("driver", 5); usleep(100000); }';
        $this->driver = proc_open(array(PHP_BINARY, '-r', $code), array(1 => array('file', '/dev/null', 'w'), 2 => array('file', '/dev/null', 'w')), $pipes, null, array('CRMHOOKS_TEST_BOOTSTRAP' => dirname(__DIR__) . '/bootstrap.php') + getenv());
        $this->wait_for(fn() => $this->imported_users() >= self::COUNT / 2 ? true : null, 300, 'half of the users');
        proc_terminate($this->driver, 9);
        proc_close($this->driver);
        $this->driver = null;
        $half = CrmHooks_Reconcile::import_status()['progress'];
        $this->assertFalse($half['finished'], 'killed before the end');
        $this->assertLessThan(self::COUNT, $half['done']);

        // This process resumes: the lease of a job the driver held expires, the listing goes on.
        $progress = $this->wait_for(
            static function (): ?array {
                CrmHooks_Reconcile::tick();
                CrmHooks_Worker::run('test', 5);
                $progress = CrmHooks_Reconcile::import_status()['progress'];
                return $progress['finished'] ? $progress : null;
            },
            400,
            'the import to finish'
        );

        $this->assertSame(array('total' => self::COUNT, 'done' => self::COUNT, 'failed' => 0, 'percent' => 100), array_intersect_key($progress, array_flip(array('total', 'done', 'failed', 'percent'))));
        $this->assertSame(self::COUNT, $this->imported_users(), 'one user per contact, no duplicates');
        global $wpdb;
        $linked = $wpdb->get_col($wpdb->prepare("SELECT meta_value FROM {$wpdb->usermeta} WHERE meta_key = %s", CrmHooks_Users::META_CONTACT_ID));
        $this->assertCount(self::COUNT, array_unique($linked));
        $this->assertSame(array(), $this->users_for('other6001@example.com', '6001'), 'contacts without the tag are not imported');
        CrmHooks_Test_Site::fresh();
        $roles = array();
        foreach ($wpdb->get_col("SELECT ID FROM {$wpdb->users} WHERE user_email LIKE 'imp%@example.com'") as $user_id) {
            $roles[] = implode(',', get_userdata((int) $user_id)->roles);
        }
        $this->assertSame(array('contributor' => self::COUNT), array_count_values($roles), 'every imported user has the chosen role');
        $this->assertSame(0, CrmHooks_Test_Standin::log_count(array('status' => '429')), 'no request over the rate limit');
    }

    private function imported_users(): int
    {
        global $wpdb;
        return (int) $wpdb->get_var("SELECT COUNT(*) FROM {$wpdb->users} WHERE user_email LIKE 'imp%@example.com'");
    }
}

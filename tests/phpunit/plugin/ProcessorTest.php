<?php
/**
 * CrmHooks_Worker::process() and the public tag functions, run in this process (as a queued job would
 * run them), so the actions they fire can be observed.
 */

declare(strict_types=1);

require_once __DIR__ . '/PluginTestCase.php';

final class ProcessorTest extends CrmHooks_Plugin_TestCase
{
    /** @var array<string, array> hook name => list of argument lists */
    private array $fired = array();
    private array $listeners = array();

    protected function setUp(): void
    {
        parent::setUp();
        $this->fired = array();
        foreach (array('crmhooks_tags_modified' => 4, 'crmhooks_user_imported' => 2, 'crmhooks_user_created' => 2, 'crmhooks_user_updated' => 2, 'crmhooks_crm_write' => 1, 'crmhooks_job_failed' => 3) as $hook => $args) {
            $listener = function (...$a) use ($hook): void {
                $this->fired[ $hook ][] = $a;
            };
            add_action($hook, $listener, 10, $args);
            $this->listeners[ $hook ] = $listener;
        }
    }

    protected function tearDown(): void
    {
        foreach ($this->listeners as $hook => $listener) {
            remove_action($hook, $listener, 10);
        }
        parent::tearDown();
    }

    private function request(string $action, ?string $contact_id, array $extra = array()): array
    {
        return $extra + array(
            'action' => $action, 'contact_id' => $contact_id, 'email' => null, 'role' => null,
            'send_notification' => false, 'async' => null, 'event' => array('fields' => array()),
        );
    }

    public function test_add_then_update_fire_the_documented_actions(): void
    {
        $outcome = CrmHooks_Worker::process($this->request('add', '42'));
        $this->assertSame('created', $outcome['outcome'], $outcome['message']);
        $this->assertSame('42', $outcome['contact_id']);
        $this->assertGreaterThanOrEqual(1, $outcome['crm_calls'], 'HTTP requests: the contact with its tags, plus any name listing');
        $user_id = (int) $outcome['user_id'];

        $this->assertCount(1, $this->fired['crmhooks_user_imported']);
        $this->assertSame($user_id, $this->fired['crmhooks_user_imported'][0][0]);
        $this->assertSame('jane.doe@example.com', $this->fired['crmhooks_user_imported'][0][1]['email']);
        $this->assertSame(array($user_id, array('member'), array(), array('member')), $this->fired['crmhooks_tags_modified'][0]);
        $this->assertArrayNotHasKey('crmhooks_user_updated', $this->fired);

        CrmHooks_Test_Standin::put_contact('ac', '42', array(
            'email' => 'jane.doe@example.com', 'first_name' => 'Janet', 'last_name' => 'Doe', 'phone' => '',
            'tags' => array('vip'), 'fields' => array('1' => 'Gold'),
        ));
        $this->fired = array();
        $outcome = CrmHooks_Worker::process($this->request('update', '42'));
        $this->assertSame('updated', $outcome['outcome'], $outcome['message']);
        $this->assertSame(1, $outcome['crm_calls'], 'names cached: one request, the contact with its tags sideloaded');
        $this->assertSame($user_id, $outcome['user_id']);
        $this->assertSame('Janet', get_userdata($user_id)->first_name);
        $this->assertSame(array($user_id, array('vip'), array('member'), array('vip')), $this->fired['crmhooks_tags_modified'][0]);
        $this->assertSame($user_id, $this->fired['crmhooks_user_updated'][0][0]);
        $this->assertArrayNotHasKey('crmhooks_user_imported', $this->fired);
    }

    public function test_contact_found_by_email_when_the_request_has_no_id(): void
    {
        $outcome = CrmHooks_Worker::process($this->request('add', null, array('email' => 'john.roe@example.com')));
        $this->assertSame('created', $outcome['outcome'], $outcome['message']);
        $this->assertSame('43', $outcome['contact_id']);
        $this->assertGreaterThanOrEqual(2, $outcome['crm_calls'], 'find by email, then the contact with its tags');

        $none = CrmHooks_Worker::process($this->request('add', null, array('email' => 'nobody@example.com')));
        $this->assertSame('contact_not_found', $none['outcome']);
    }

    public function test_return_password_fires_crm_write(): void
    {
        CrmHooks_Test_Site::set_settings(array('return_password' => true, 'password_field' => '9'));
        $outcome = CrmHooks_Worker::process($this->request('add', '42'));
        $this->assertSame('created', $outcome['outcome'], $outcome['message']);
        $this->assertSame(array(array('42')), $this->fired['crmhooks_crm_write']);
        $this->assertContains('password_returned', $outcome['notices']);
        $this->assertStringNotContainsString((string) $this->standin_contact('ac', '42')['fields']['9'], (string) wp_json_encode($outcome), 'the password is not in the outcome');
    }

    public function test_crm_errors_become_outcomes(): void
    {
        $missing = CrmHooks_Worker::process($this->request('add', '99999'));
        $this->assertSame('contact_not_found', $missing['outcome']);

        CrmHooks_Test_Standin::add_fault(array('crm' => 'ac', 'path_regex' => null, 'kind' => 'status', 'status' => 429, 'retry_after' => 30, 'count' => 5));
        $limited = CrmHooks_Worker::process($this->request('add', '42'));
        $this->assertSame('crm_error', $limited['outcome']);
        $this->assertSame('crm_rate_limited', $limited['code']);
        $this->assertSame(30, $limited['retry_after']);
        $this->assertSame(array(), $this->users_for('jane.doe@example.com', '42'));
    }

    public function test_apply_and_remove_tags_write_to_the_crm_and_locally(): void
    {
        $outcome = CrmHooks_Worker::process($this->request('add', '42'));
        $user_id = (int) $outcome['user_id'];
        $this->fired = array();

        $this->assertTrue(crmhooks_apply_tags($user_id, array('vip', 'MEMBER')));
        $this->assertEqualsCanonicalizing(array('member', 'vip'), $this->standin_contact('ac', '42')['tag_names']);
        $this->assertEqualsCanonicalizing(array('member', 'vip'), $this->tag_names($user_id));
        $this->assertSame(array(array('42')), $this->fired['crmhooks_crm_write']);
        $this->assertSame(array('vip'), $this->fired['crmhooks_tags_modified'][0][1]);

        $this->assertTrue(crmhooks_remove_tags($user_id, array('Member')));
        $this->assertSame(array('vip'), $this->standin_contact('ac', '42')['tag_names']);
        $this->assertSame(array('vip'), $this->tag_names($user_id));
        $this->assertSame(array('vip'), get_user_meta($user_id, 'crmhooks_tag_names', true));

        $no_contact = $this->make_user('plain.user@example.com');
        $this->assertInstanceOf(WP_Error::class, crmhooks_apply_tags($no_contact, array('vip')));
    }

    public function test_grantable_roles_filter_widens_the_allowlist_but_never_to_privileged_roles(): void
    {
        add_role('crmh_member', 'Member', array('read' => true));
        $filter = static fn(array $roles): array => array_merge($roles, array('crmh_member', 'administrator', 'editor'));
        add_filter('crmhooks_grantable_roles', $filter);
        try {
            $outcome = CrmHooks_Worker::process($this->request('add', '42', array('role' => 'crmh_member')));
            $this->assertSame('created', $outcome['outcome'], $outcome['message']);
            $this->assertSame(array('crmh_member'), array_values((array) get_userdata((int) $outcome['user_id'])->roles));
            $again = CrmHooks_Worker::process($this->request('update', '42', array('role' => 'administrator')));
            $this->assertSame(array('crmh_member'), array_values((array) get_userdata((int) $outcome['user_id'])->roles), 'privileged stays refused');
            $this->assertStringContainsString('privileged', $again['message']);
        } finally {
            remove_filter('crmhooks_grantable_roles', $filter);
            remove_role('crmh_member');
        }
    }

    public function test_the_plan_filter_sees_and_can_change_the_plan_before_it_is_applied(): void
    {
        $seen   = array();
        $filter = static function (array $plan, array $request) use (&$seen): array {
            $seen[]      = array($plan['outcome'], $request['action']);
            $plan['ops'] = array_values(array_filter($plan['ops'], static fn(array $op): bool => $op['op'] !== 'set_tags'));
            return $plan;
        };
        add_filter('crmhooks_plan', $filter, 10, 2);
        try {
            $outcome = CrmHooks_Worker::process($this->request('add', '42'));
        } finally {
            remove_filter('crmhooks_plan', $filter, 10);
        }
        $this->assertSame(array(array('created', 'add')), $seen);
        $this->assertSame('created', $outcome['outcome']);
        $this->assertSame(array(), $this->tag_names((int) $outcome['user_id']), 'the filtered plan was applied');
        $this->assertCount(1, $this->fired['crmhooks_user_created']);
        $this->assertSame((int) $outcome['user_id'], $this->fired['crmhooks_user_created'][0][0]);
    }

    public function test_job_failed_fires_when_a_job_ends_as_failed(): void
    {
        global $wpdb;
        // Contact 44: earlier tests wrote to 42, whose loopback window would defer the claim.
        $wpdb->query("DELETE FROM {$wpdb->prefix}crmhooks_jobs WHERE contact_key = 'id:44'");
        $request = $this->request('update', '44');
        $request['event'] = new stdClass();
        $key = CrmHooks_Jobs::decide(array('kind' => 'accept', 'now' => time(), 'request' => $request, 'nonce' => 'x', 'backlog' => 0))['contact_key'];
        $job = CrmHooks_Jobs::enqueue($key, $request, CrmHooks_Settings::account_id());
        $wpdb->query($wpdb->prepare("UPDATE {$wpdb->prefix}crmhooks_jobs SET run_after = 0 WHERE id = %d", $job['id']));
        $claimed = CrmHooks_Jobs::claim('test:failed');
        try {
            $this->assertSame('failed', CrmHooks_Jobs::finish($claimed, array('outcome' => 'conflict', 'message' => 'two users'))['end']);
            $this->assertSame(array(array((int) $job['id'], 'conflict', 'two users')), $this->fired['crmhooks_job_failed']);
        } finally {
            $wpdb->query($wpdb->prepare("DELETE FROM {$wpdb->prefix}crmhooks_jobs WHERE id = %d", $job['id']));
        }
    }
}

<?php
/**
 * Refusals and failures: one answer for every auth failure, 400 naming the parameter, the same
 * 200 whether or not a contact exists, and nothing written when the CRM fails.
 */

declare(strict_types=1);

require_once __DIR__ . '/PluginTestCase.php';

final class WebhookErrorsTest extends CrmHooks_Plugin_TestCase
{
    public function test_wrong_and_missing_key_get_the_same_401(): void
    {
        $wrong = $this->hook(array('wpf_action' => 'add', 'contact_id' => '42', 'access_key' => 'not-the-key'));
        $missing = CrmHooks_Test_Site::webhook('GET', array('wpf_action' => 'add', 'contact_id' => '42'));
        $empty = $this->hook(array('wpf_action' => 'add', 'contact_id' => '42', 'access_key' => ''));
        foreach (array($wrong, $missing, $empty) as $response) {
            $this->assertSame(401, $response['status']);
            $this->assertSame(array('success' => false, 'error' => 'unauthorized'), $response['json']);
        }
        $this->assertSame($wrong['body'], $missing['body']);
        $this->assertSame(array(), $this->users_for('jane.doe@example.com', '42'));
        $this->assertSame(array(), $this->crm_requests(), 'no CRM call before the key is checked');
    }

    public function test_wrong_key_with_test_action_is_401(): void
    {
        $response = $this->hook(array('wpf_action' => 'test', 'access_key' => 'nope'));
        $this->assertSame(401, $response['status']);
    }

    public function test_unknown_action_is_400_naming_the_parameter(): void
    {
        $response = $this->hook(array('wpf_action' => 'delete_everything', 'contact_id' => '42'));
        $this->assertSame(400, $response['status']);
        $this->assertFalse($response['json']['success']);
        $this->assertStringContainsString('wpf_action', $response['body']);
        $this->assertSame(array(), $this->crm_requests());
    }

    public function test_body_too_large_is_413(): void
    {
        $response = $this->hook(array('wpf_action' => 'add', 'contact_id' => '42'), 'POST', '{"x":"' . str_repeat('a', 5 * 1024 * 1024) . '"}', array('Content-Type' => 'application/json'));
        $this->assertSame(413, $response['status']);
        $this->assertSame(array('success' => false, 'error' => 'body_too_large'), $response['json']);
        $this->assertSame(array(), $this->users_for('jane.doe@example.com', '42'));
    }

    public function test_answers_are_json_and_never_cached(): void
    {
        $response = $this->hook(array('wpf_action' => 'add', 'contact_id' => '42', 'access_key' => 'nope'));
        $this->assertStringContainsString('application/json', $response['headers']['content-type'] ?? '');
        $this->assertStringContainsString('no-cache', $response['headers']['cache-control'] ?? '');
    }

    public function test_contact_unknown_to_the_crm_answers_like_success_and_writes_nothing(): void
    {
        $known = $this->hook(array('wpf_action' => 'update', 'contact_id' => '42'));
        $unknown = $this->hook(array('wpf_action' => 'add', 'contact_id' => '99999'));
        $this->assertProcessed($unknown);
        $this->assertSame($known['body'], $unknown['body'], 'the answer never says whether a contact exists');
        $this->assertSame(array(), $this->users_for('jane.doe@example.com', '99999'));
        $this->assertSame(array(), $this->users_for('jane.doe@example.com', '42'));
    }

    /** @dataProvider crm_faults */
    public function test_crm_failure_answers_an_error_and_writes_nothing(array $fault, array $statuses): void
    {
        CrmHooks_Test_Standin::add_fault($fault + array('crm' => 'ac', 'path_regex' => null, 'count' => 20));
        $response = $this->hook(array('wpf_action' => 'add', 'contact_id' => '42'));
        $this->assertContains($response['status'], $statuses, $response['body']);
        $this->assertFalse($response['json']['success']);
        $this->assertStringNotContainsString('ac-test-token', $response['body']);
        $this->assertSame(array(), $this->users_for('jane.doe@example.com', '42'), 'no partial user');

        // Once the CRM is back, the same webhook works.
        CrmHooks_Test_Standin::clear_faults();
        $this->assertProcessed($this->hook(array('wpf_action' => 'add', 'contact_id' => '42')));
        $this->assertCount(1, $this->users_for('jane.doe@example.com', '42'));
    }

    public static function crm_faults(): array
    {
        return array(
            'status 500'  => array(array('kind' => 'status', 'status' => 500), array(502, 503)),
            'dropped'     => array(array('kind' => 'drop'), array(502, 503)),
            'rate limit'  => array(array('kind' => 'status', 'status' => 429, 'retry_after' => 30), array(503)),
            'bad token'   => array(array('kind' => 'status', 'status' => 403, 'body' => '{"message":"Forbidden"}', 'content_type' => 'application/json'), array(502)),
        );
    }

    /** Retry-After 30 is longer than the library waits inside one call, so it reports it at once. */
    public function test_rate_limit_answer_carries_retry_after(): void
    {
        CrmHooks_Test_Standin::add_fault(array('crm' => 'ac', 'path_regex' => null, 'kind' => 'status', 'status' => 429, 'retry_after' => 30, 'count' => 20));
        $response = $this->hook(array('wpf_action' => 'add', 'contact_id' => '42'));
        $this->assertSame(503, $response['status']);
        $this->assertSame('30', $response['headers']['retry-after'] ?? null, 'the CRM\'s Retry-After is passed on');
    }

    public function test_never_410(): void
    {
        $cases = array(
            array('wpf_action' => 'add', 'contact_id' => '42', 'access_key' => 'nope'),
            array('wpf_action' => 'nope', 'contact_id' => '42'),
            array('wpf_action' => 'add'),
        );
        foreach ($cases as $query) {
            $this->assertNotSame(410, $this->hook($query)['status']);
        }
    }
}

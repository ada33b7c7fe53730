<?php
/**
 * Every URL/body format of the seeds: ActiveCampaign automation and account webhooks (form bodies
 * built by the stand-in), Ontraport pings (contact_id in the URL), plain GET and POST.
 */

declare(strict_types=1);

require_once __DIR__ . '/PluginTestCase.php';

final class WebhookFormatsTest extends CrmHooks_Plugin_TestCase
{
    private function send(string $kind, string $action, string $contact_id, array $extra = array(), array $query = array()): array
    {
        $spec = array('url' => $this->webhook_url(array('wpf_action' => $action) + $query), 'kind' => $kind, 'contact_id' => $contact_id) + $extra;
        $result = CrmHooks_Test_Standin::send_webhook($spec);
        CrmHooks_Test_Site::fresh();
        $this->assertCount(1, $result['deliveries']);
        return $result['deliveries'][0];
    }

    public function test_activecampaign_automation_body_adds_the_user(): void
    {
        $delivery = $this->send('ac_automation', 'add', '42');
        $this->assertSame(200, $delivery['status'], $delivery['body']);
        $this->assertSame(array('success' => true, 'status' => 'processed'), json_decode($delivery['body'], true));

        $user = $this->user('jane.doe@example.com');
        $this->assertNotNull($user);
        $this->assertSame('jane.doe@example.com', $user->user_login);
        $this->assertSame(array('subscriber'), array_values($user->roles));
        $this->assertSame('Jane', $user->first_name);
        $this->assertSame('Doe', $user->last_name);
        $this->assertSame('42', get_user_meta($user->ID, 'crmhooks_contact_id', true));
        $this->assertSame(array('member'), $this->tag_names($user->ID));
        $this->assertSame(array('member'), get_user_meta($user->ID, 'crmhooks_tag_names', true));
    }

    public function test_activecampaign_account_webhook_updates_tags_of_the_existing_user(): void
    {
        $this->assertProcessed($this->hook(array('wpf_action' => 'add', 'contact_id' => '43')));
        $user = $this->user('john.roe@example.com');
        $this->assertEqualsCanonicalizing(array('member', 'vip'), $this->tag_names($user->ID));

        CrmHooks_Test_Standin::put_contact('ac', '43', array(
            'email' => 'john.roe@example.com', 'first_name' => 'John', 'last_name' => 'Roe', 'phone' => '',
            'tags' => array('vip', 'Gold Customer'), 'fields' => array('1' => 'Silver'),
        ));
        $delivery = $this->send('ac_account', 'update_tags', '43', array('type' => 'contact_tag_added', 'tag' => 'Gold Customer', 'initiated_from' => 'admin'));
        $this->assertSame(200, $delivery['status'], $delivery['body']);
        $this->assertEqualsCanonicalizing(array('vip', 'Gold Customer'), $this->tag_names($user->ID));
        $this->assertCount(1, $this->users_for('john.roe@example.com', '43'));
    }

    public function test_activecampaign_account_body_contact_id_wins_over_the_query(): void
    {
        // URL says 43, the body (contact[id]) says 42: the body wins.
        $delivery = $this->send('ac_account', 'add', '42', array('type' => 'update', 'initiated_from' => 'admin'), array('contact_id' => '43'));
        $this->assertSame(200, $delivery['status'], $delivery['body']);
        $this->assertNotNull($this->user('jane.doe@example.com'));
        $this->assertNull($this->user('john.roe@example.com'));
    }

    public function test_ontraport_ping_with_contact_id_in_the_url(): void
    {
        CrmHooks_Test_Site::set_settings(array('crm' => 'ontraport'));
        foreach (array('blank', 'form', 'json') as $i => $body) {
            CrmHooks_Test_Site::delete_test_users();
            $delivery = $this->send('op_ping', 'add', '27', array('body' => $body));
            $this->assertSame(200, $delivery['status'], $body . ': ' . $delivery['body']);
            $user = $this->user('jane.doe@example.com');
            $this->assertNotNull($user, "op_ping body=$body");
            $this->assertSame('27', get_user_meta($user->ID, 'crmhooks_contact_id', true));
            $this->assertEqualsCanonicalizing(array('Member', 'VIP'), $this->tag_names($user->ID));
        }
    }

    public function test_get_and_post_query_formats(): void
    {
        $this->assertProcessed($this->hook(array('wpf_action' => 'add', 'contact_id' => '42')));
        $this->assertNotNull($this->user('jane.doe@example.com'));

        // POST with the action and contact in a form body, key in the query.
        $response = $this->hook(array(), 'POST', array('wpf_action' => 'add', 'contact_id' => '43'));
        $this->assertProcessed($response);
        $this->assertNotNull($this->user('john.roe@example.com'));
    }

    public function test_multipart_body_is_read_from_post_fields(): void
    {
        // php://input is empty for multipart/form-data: the plugin rebuilds the body from $_POST.
        $ch = curl_init($this->webhook_url(array()));
        curl_setopt_array($ch, array(
            CURLOPT_RETURNTRANSFER => true,
            CURLOPT_POST           => true,
            CURLOPT_POSTFIELDS     => array('wpf_action' => 'add', 'contact[id]' => '42', 'contact[email]' => 'jane.doe@example.com'),
        ));
        $body = (string) curl_exec($ch);
        $status = curl_getinfo($ch, CURLINFO_RESPONSE_CODE);
        curl_close($ch);
        $this->assertSame(200, $status, $body);
        $this->assertNotNull($this->user('jane.doe@example.com'));
    }

    public function test_action_is_case_insensitive_and_aliases_work(): void
    {
        $this->assertProcessed($this->hook(array('wpf_action' => 'ADD', 'contact_id' => '42')));
        $this->assertNotNull($this->user('jane.doe@example.com'));

        $this->assertProcessed($this->hook(array('wpf_action' => 'add_user', 'contact_id' => '43')));
        $this->assertNotNull($this->user('john.roe@example.com'));

        $this->assertProcessed($this->hook(array('crmhooks_action' => 'update_user', 'contact_id' => '43')));
    }

    public function test_rest_route_accepts_webhooks(): void
    {
        $query = array('wpf_action' => 'add', 'contact_id' => '42', 'access_key' => CrmHooks_Test_Site::access_key());
        $response = CrmHooks_Test_Site::webhook('POST', $query, null, array(), CrmHooks_Test_Site::url('/wp-json/crmhooks/v1/webhook'));
        $this->assertSame(200, $response['status'], $response['body']);
        $this->assertSame(array('success' => true, 'status' => 'processed'), $response['json']);
        $this->assertNotNull($this->user('jane.doe@example.com'));
    }

    public function test_test_action_answers_success_and_writes_nothing(): void
    {
        $response = $this->hook(array('wpf_action' => 'test'));
        $this->assertSame(200, $response['status']);
        $this->assertSame(array('success' => true), $response['json']);
        $this->assertSame(array(), $this->crm_requests(), 'no CRM call for a test webhook');
    }

    public function test_preload_site_processes_webhooks_too(): void
    {
        $query = array('wpf_action' => 'add', 'contact_id' => '42', 'access_key' => CrmHooks_Test_Site::access_key());
        $response = CrmHooks_Test_Site::webhook('GET', $query, null, array(), CrmHooks_Test_Site::preload_url('/'));
        $this->assertSame(200, $response['status'], $response['body']);
        $this->assertNotNull($this->user('jane.doe@example.com'));
    }
}

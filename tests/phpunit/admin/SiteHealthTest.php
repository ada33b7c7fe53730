<?php
/**
 * Site Health: the queue and background-processing tests judge real rows and the real cron
 * schedule (good, then critical), the CRM test reaches the stand-in and words a refusal, its
 * async REST endpoint answers administrators only, and the Info tab's crmhooks section holds no
 * secret.
 */

declare(strict_types=1);

require_once __DIR__ . '/AdminScreensTestCase.php';
require_once CRMHOOKS_INCLUDES . 'admin/class-crmhooks-health.php';

final class SiteHealthTest extends CrmHooks_Admin_Screens_TestCase
{
    public function test_queue_test_is_good_when_empty_and_critical_when_a_due_job_waits(): void
    {
        $this->hold_drainer_lock(); // no queue run takes the jobs below
        $good = CrmHooks_Health::queue_test();
        $this->assertSame('good', $good['status'], $good['label']);
        $this->assertSame('crmhooks_queue', $good['test']);

        $this->insert_job(array('contact' => '61', 'status' => 'failed', 'outcome' => 'crm_unauthorized', 'updated_at' => time() - 60));
        $failed = CrmHooks_Health::queue_test();
        $this->assertSame('recommended', $failed['status']);
        $this->assertStringContainsString('failed in the last 24 hours: 1', $failed['description']);

        $this->insert_job(array('contact' => '62', 'queued_key' => 'id:62', 'run_after' => time() - 2 * HOUR_IN_SECONDS));
        $stalled = CrmHooks_Health::queue_test();
        $this->assertSame('critical', $stalled['status']);
        $this->assertSame('The crmhooks queue is not being processed', $stalled['label']);
        $this->assertStringContainsString('2 hours', $stalled['description']);
    }

    public function test_background_test_follows_the_drain_event(): void
    {
        wp_clear_scheduled_hook(CrmHooks_Worker::CRON_HOOK);
        wp_schedule_event(time() + 30, CrmHooks_Worker::CRON_SCHEDULE, CrmHooks_Worker::CRON_HOOK);
        $good = CrmHooks_Health::background_test();
        $this->assertSame('good', $good['status'], $good['label']);
        $this->assertStringContainsString('No queue run has processed a job yet.', $good['description'], 'setUp emptied the jobs table');
        $this->insert_job(array('status' => 'done', 'outcome' => 'updated', 'attempts' => 1, 'updated_at' => time() - 5));
        $this->assertMatchesRegularExpression('/The last queue run that processed jobs ended \d+ seconds? ago\./', CrmHooks_Health::background_test()['description']);

        wp_clear_scheduled_hook(CrmHooks_Worker::CRON_HOOK);
        wp_schedule_event(time() - HOUR_IN_SECONDS, CrmHooks_Worker::CRON_SCHEDULE, CrmHooks_Worker::CRON_HOOK);
        $late = CrmHooks_Health::background_test();
        $this->assertSame('critical', $late['status']);
        $this->assertSame('WP-Cron does not run crmhooks queue runs', $late['label']);

        wp_clear_scheduled_hook(CrmHooks_Worker::CRON_HOOK);
        $this->assertSame('critical', CrmHooks_Health::background_test()['status'], 'not scheduled at all');
    }

    public function test_crm_test_reaches_the_standin_and_words_a_refusal(): void
    {
        $good = CrmHooks_Health::crm_test();
        $this->assertSame('good', $good['status'], $good['description']);
        $this->assertNotEmpty(array_filter($this->crm_requests(), static fn(array $e): bool => $e['crm'] === 'ac'), 'the stand-in was asked');

        CrmHooks_Test_Standin::add_fault(array('crm' => 'ac', 'path_regex' => '^/api/3/', 'kind' => 'status', 'status' => 401, 'count' => 10));
        $refused = CrmHooks_Health::crm_test();
        $this->assertSame('critical', $refused['status']);
        $this->assertSame('The CRM refused the crmhooks credentials', $refused['label']);
    }

    public function test_async_crm_endpoint_answers_only_who_may_view_site_health(): void
    {
        $site_health = $this->get('/wp-admin/site-health.php', $admin = $this->admin_cookie());
        $this->assertStringContainsString('crmhooks\/v1\/site-health\/crm', $site_health['body'], 'Site Health schedules the async test');

        $url = CrmHooks_Test_Site::url('/wp-json/crmhooks/v1/site-health/crm');
        $nonce = $this->get('/wp-admin/admin-ajax.php?action=rest-nonce', $admin)['body'];
        $answer = $this->http('GET', $url, null, array('Cookie: ' . $admin, 'X-WP-Nonce: ' . $nonce));
        $this->assertSame(200, $answer['status'], $answer['body']);
        $result = json_decode($answer['body'], true);
        $this->assertSame('good', $result['status']);
        $this->assertSame('crmhooks_crm', $result['test']);

        $subscriber = $this->subscriber_cookie();
        $sub_nonce = $this->get('/wp-admin/admin-ajax.php?action=rest-nonce', $subscriber)['body'];
        $this->assertSame(403, $this->http('GET', $url, null, array('Cookie: ' . $subscriber, 'X-WP-Nonce: ' . $sub_nonce))['status']);
        $this->assertSame(401, $this->http('GET', $url)['status']);
    }

    public function test_info_section_has_versions_and_no_secret(): void
    {
        CrmHooks_Test_Site::set_settings(array('ac_api_token' => 'Token-Must-Not-Show-7731'));
        $info = CrmHooks_Health::debug_information(array())['crmhooks'];
        $this->assertSame(CRMHOOKS_VERSION, $info['fields']['plugin_version']['value']);
        $this->assertStringStartsWith(CrmHooks_Native::expected_version() . ' (', $info['fields']['library']['value']);
        $this->assertSame('set', $info['fields']['ac_api_token']['value']);
        $this->assertSame('activecampaign', $info['fields']['setting_crm']['value']);

        $page = $this->get('/wp-admin/site-health.php?tab=debug', $this->admin_cookie());
        $this->assertSame(200, $page['status']);
        $this->assertStringContainsString('id="health-check-accordion-block-crmhooks"', $page['body']);
        foreach (array(CrmHooks_Test_Site::access_key(), 'Token-Must-Not-Show-7731') as $secret) {
            $this->assertStringNotContainsString($secret, $page['body']);
            $this->assertStringNotContainsString($secret, (string) wp_json_encode($info));
        }
    }
}

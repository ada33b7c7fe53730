<?php
/**
 * The CRM's rate limit holds across every PHP worker and web server: inline webhooks
 * (async=false) sent concurrently to two front ends (two php-fpm pools, as two web servers
 * would be) never make the CRM answer 429.
 */

declare(strict_types=1);

require_once __DIR__ . '/QueueTestCase.php';

final class SharedRateTest extends CrmHooks_Queue_TestCase
{
    public function test_concurrent_inline_webhooks_on_two_front_ends_never_exceed_the_crm_limit(): void
    {
        CrmHooks_Test_Site::set_settings(array('async' => false));
        $before = CrmHooks_Test_Standin::stats();
        $urls = array();
        for ($i = 0; $i < 24; $i++) {
            $query = array(
                'wpf_action' => 'update_tags',
                'contact_id' => (string) (42 + $i % 3),
                'access_key' => CrmHooks_Test_Site::access_key(),
                'async'      => 'false',
            );
            $base = $i % 2 === 0 ? CrmHooks_Test_Site::url('/') : CrmHooks_Test_Site::preload_url('/');
            $urls[] = $base . '?' . http_build_query($query);
        }
        $responses = $this->parallel_get($urls);
        foreach ($responses as $i => $response) {
            $this->assertSame(200, $response['status'], "request $i: " . $response['body']);
        }
        $after = CrmHooks_Test_Standin::stats();
        $made = (int) $after['requests']['ac'] - (int) $before['requests']['ac'];
        $this->assertGreaterThanOrEqual(24, $made, 'every webhook read the CRM');
        $this->assertSame((int) $before['rate_limited']['ac'], (int) $after['rate_limited']['ac'], '0 answers 429 from the CRM');

        // The shared window is in the database, where every worker reads it.
        global $wpdb;
        CrmHooks_Test_Site::fresh();
        $window = json_decode((string) $wpdb->get_var("SELECT window_json FROM {$wpdb->prefix}crmhooks_rate LIMIT 1"), true);
        $this->assertNotEmpty($window);
    }
}

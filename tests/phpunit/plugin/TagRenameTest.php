<?php
/**
 * Tag names are cached once for every worker and web server (in the database), a webhook that
 * names other tags than the cache is checked against a fresh listing before anything is written,
 * and the admin can list the CRM's tags and fields anew. CRM requests per contact do not rise.
 */

declare(strict_types=1);

require_once __DIR__ . '/PluginTestCase.php';

final class TagRenameTest extends CrmHooks_Plugin_TestCase
{
    private const PASSWORD = 'Rename-Admin-Pass-93';

    public function test_a_renamed_tag_reaches_users_under_its_new_name_on_every_front_end(): void
    {
        CrmHooks_Test_Standin::put_contact('ac', '601', array('email' => 'rename.one@example.com', 'first_name' => 'Rena', 'last_name' => 'Me', 'phone' => '', 'tags' => array('member'), 'fields' => new stdClass()));
        $this->assertProcessed($this->tagged_hook('add', '601', 'member'));
        $user = $this->user('rename.one@example.com');
        $this->assertNotNull($user);
        $this->assertSame(array('member'), $this->tag_names($user->ID));
        $this->assertStringContainsString('"member"', $this->names_json(), 'the listing is kept in the database');

        // Renamed in the CRM; the next webhook names the new tag: a listing first, then the write.
        $this->rename_tag('3', 'Member Plus');
        CrmHooks_Test_Standin::clear_log();
        $this->assertProcessed($this->tagged_hook('update', '601', 'Member Plus'));
        $this->assertSame(array('Member Plus'), $this->tag_names($user->ID));
        $this->assertCount(1, $this->api_requests('GET', '/api/3/tags'), 'one listing');
        $this->assertStringContainsString('"Member Plus"', $this->names_json());

        // The other front end (another php-fpm pool, as another web server) reads the same names:
        // a webhook without tag names costs the usual 1 request and writes the new name.
        CrmHooks_Test_Standin::clear_log();
        $response = CrmHooks_Test_Site::webhook('GET', array('wpf_action' => 'update_tags', 'contact_id' => '601', 'access_key' => CrmHooks_Test_Site::access_key()), null, array(), CrmHooks_Test_Site::preload_url('/'));
        CrmHooks_Test_Site::fresh();
        $this->assertProcessed($response);
        $this->assertSame(array('Member Plus'), $this->tag_names($user->ID));
        $this->assertCount(1, $this->api_requests('GET', null), 'the contact with its tags, nothing more');
    }

    public function test_the_admin_refreshes_tags_and_fields_with_capability_and_nonce(): void
    {
        CrmHooks_Test_Standin::put_contact('ac', '602', array('email' => 'rename.two@example.com', 'first_name' => 'Rena', 'last_name' => 'Two', 'phone' => '', 'tags' => array('vip'), 'fields' => new stdClass()));
        $this->assertProcessed($this->hook(array('wpf_action' => 'add', 'contact_id' => '602')));
        $user = $this->user('rename.two@example.com');
        $this->assertSame(array('vip'), $this->tag_names($user->ID));
        $this->rename_tag('4', 'VIP Gold');

        $this->make_user('rename.admin@example.com', 'administrator', self::PASSWORD);
        $cookie = $this->login_cookie('rename.admin_example.com', self::PASSWORD);
        $post = CrmHooks_Test_Site::url('/wp-admin/admin-post.php');
        $form = array('Cookie: ' . $cookie, 'Content-Type: application/x-www-form-urlencoded');
        $forged = $this->http('POST', $post, 'action=crmhooks_refresh_names&_wpnonce=bogus', $form);
        $this->assertNotSame(302, $forged['status'], 'no nonce, no refresh');
        $this->assertStringNotContainsString('VIP Gold', $this->names_json());

        $page = $this->http('GET', CrmHooks_Test_Site::url('/wp-admin/options-general.php?page=crmhooks'), null, array('Cookie: ' . $cookie));
        $this->assertSame(1, preg_match('/name="action" value="crmhooks_refresh_names">.*?name="_wpnonce" value="([0-9a-f]+)"/s', $page['body'], $m));
        $done = $this->http('POST', $post, http_build_query(array('action' => 'crmhooks_refresh_names', '_wpnonce' => $m[1])), $form);
        $this->assertSame(302, $done['status']);
        $this->assertStringContainsString('"VIP Gold"', $this->names_json());

        CrmHooks_Test_Standin::clear_log();
        $this->assertProcessed($this->hook(array('wpf_action' => 'update_tags', 'contact_id' => '602')));
        $this->assertSame(array('VIP Gold'), $this->tag_names($user->ID));
        $this->assertCount(1, $this->api_requests('GET', null), 'the contact with its tags, no listing');
    }

    /** An ActiveCampaign-shaped POST naming the contact's tags, processed inline. */
    private function tagged_hook(string $action, string $contact_id, string $tags): array
    {
        $body = http_build_query(array('type' => 'update', 'contact' => array('id' => $contact_id, 'tags' => $tags)));
        return $this->hook(array('wpf_action' => $action, 'contact_id' => $contact_id), 'POST', $body, array('Content-Type: application/x-www-form-urlencoded'));
    }

    /** "Update a tag" through the stand-in's ActiveCampaign API, as an admin renaming it would. */
    private function rename_tag(string $id, string $name): void
    {
        usleep(1100000); // The stand-in's own rate limit counts this request too.
        $response = $this->http('PUT', CrmHooks_Test_Standin::url('/api/3/tags/' . $id), (string) json_encode(array('tag' => array('tag' => $name, 'tagType' => 'contact'))), array('Api-Token: ac-test-token', 'Content-Type: application/json'));
        $this->assertSame(200, $response['status'], $response['body']);
    }

    private function names_json(): string
    {
        global $wpdb;
        CrmHooks_Test_Site::fresh();
        return (string) $wpdb->get_var("SELECT GROUP_CONCAT(names_json) FROM {$wpdb->prefix}crmhooks_rate");
    }

    /** Stand-in API requests (control calls left out) by method and, when given, path. */
    private function api_requests(string $method, ?string $path): array
    {
        return array_values(array_filter(
            CrmHooks_Test_Standin::log(),
            static fn(array $e): bool => ($e['crm'] ?? '') === 'ac' && ($e['method'] ?? '') === $method && ($path === null || ($e['path'] ?? '') === $path)
        ));
    }
}

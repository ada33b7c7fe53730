<?php
/**
 * The user profile's crmhooks section over HTTP: contact ID and tags shown (escaped), the tag
 * editor writing to the CRM stand-in and to the user (capability and nonce checked), "Pull from
 * CRM" updating the user as the library plans it (an administrator: tags only), and the Users
 * screen's Tags column.
 */

declare(strict_types=1);

require_once __DIR__ . '/AdminScreensTestCase.php';
require_once CRMHOOKS_INCLUDES . 'admin/class-crmhooks-profile.php';

final class ProfileTest extends CrmHooks_Admin_Screens_TestCase
{
    /** A subscriber linked to contact 42, with tags stored as the applier stores them. */
    private function member(array $tags = array('member', 'old-tag')): int
    {
        $id = $this->make_user('profile.member@example.com', 'subscriber');
        update_user_meta($id, 'crmhooks_contact_id', '42');
        CrmHooks_Users::store_tags($id, array_map(static fn(string $name): array => array('id' => '', 'name' => $name), $tags));
        return $id;
    }

    private function profile(int $user_id, string $cookie): string
    {
        $page = $this->get('/wp-admin/user-edit.php?user_id=' . $user_id, $cookie);
        $this->assertSame(200, $page['status']);
        return $page['body'];
    }

    private static function nonce(string $html): string
    {
        return preg_match('/name="crmhooks_profile_nonce" value="([0-9a-f]+)"/', $html, $m) === 1 ? $m[1] : '';
    }

    public function test_profile_shows_the_contact_id_and_the_tags_escaped(): void
    {
        $id = $this->member(array('member', '<b>bold</b>'));
        $cookie = $this->admin_cookie();
        $html = $this->profile($id, $cookie);
        $this->assertMatchesRegularExpression('#<td id="crmhooks-contact-id">42</td>#', $html);
        $this->assertStringContainsString('value="member"', $html);
        $this->assertStringContainsString('&lt;b&gt;bold&lt;/b&gt;', $html);
        $this->assertStringNotContainsString('<b>bold</b>', $html);
        $this->assertNotSame('', self::nonce($html), 'the editor carries its nonce');
        $this->assertMatchesRegularExpression('#<form id="crmhooks-profile-form" method="post" action="[^"]*admin-post\.php">#', $html, 'the controls\' own form sits outside the profile form');

        $unlinked = $this->make_user('profile.unlinked@example.com');
        $this->assertStringNotContainsString('id="crmhooks-pull"', $this->profile($unlinked, $cookie), 'no CRM actions without a contact');
    }

    public function test_tag_editor_applies_and_removes_in_the_crm_and_locally(): void
    {
        CrmHooks_Test_Standin::put_contact('ac', '42', array('email' => 'profile.member@example.com', 'first_name' => 'Pat', 'last_name' => 'Member', 'phone' => '', 'tags' => array('member', 'old-tag')));
        $id = $this->member();
        $cookie = $this->admin_cookie();
        $nonce = self::nonce($this->profile($id, $cookie));

        $answer = $this->post('/wp-admin/admin-post.php', array(
            'action' => CrmHooks_Profile::TAGS_ACTION, 'crmhooks_user' => $id, 'crmhooks_profile_nonce' => $nonce,
            'crmhooks_add' => 'Gold Course, vip', 'crmhooks_remove' => array('old-tag'),
        ), $cookie);
        $this->assertSame(302, $answer['status'], $answer['body']);
        $this->assertStringContainsString('crmhooks_profile=tags_saved', $answer['location']);

        $this->assertEqualsCanonicalizing(array('member', 'Gold Course', 'vip'), $this->standin_contact('ac', '42')['tag_names'], 'the CRM has the change');
        $this->assertEqualsCanonicalizing(array('member', 'Gold Course', 'vip'), $this->tag_names($id), 'and the user too');
        $this->assertNotNull(CrmHooks_Jobs::last_write_at('id:42'), 'the write opened the loopback window');

        $after = $this->get(str_replace(CrmHooks_Test_Site::url('/'), '/', $answer['location']), $cookie);
        $this->assertStringContainsString('The tag changes were saved to the CRM and to this user.', $after['body']);
    }

    public function test_a_forged_nonce_or_a_subscriber_changes_nothing(): void
    {
        CrmHooks_Test_Standin::put_contact('ac', '42', array('email' => 'profile.member@example.com', 'first_name' => 'Pat', 'last_name' => 'Member', 'phone' => '', 'tags' => array('member')));
        $id = $this->member(array('member'));
        $fields = array('action' => CrmHooks_Profile::TAGS_ACTION, 'crmhooks_user' => $id, 'crmhooks_add' => 'hacked');

        $forged = $this->post('/wp-admin/admin-post.php', $fields + array('crmhooks_profile_nonce' => 'abcdef1234'), $this->admin_cookie());
        $this->assertSame(403, $forged['status']);

        $subscriber = $this->subscriber_cookie();
        $own_nonce = $this->get('/wp-admin/admin-ajax.php?action=rest-nonce', $subscriber)['body']; // any nonce of the subscriber's
        foreach (array(CrmHooks_Profile::TAGS_ACTION, CrmHooks_Profile::PULL_ACTION) as $action) {
            $refused = $this->post('/wp-admin/admin-post.php', array('action' => $action, 'crmhooks_profile_nonce' => $own_nonce) + $fields, $subscriber);
            $this->assertSame(403, $refused['status'], $action);
        }
        $this->assertStringNotContainsString('crmhooks-profile', $this->profile((int) get_user_by('email', 'screens.sub@example.com')->ID, $subscriber), 'a subscriber sees no CRM section');

        $this->assertSame(array('member'), $this->standin_contact('ac', '42')['tag_names']);
        $this->assertSame(array('member'), $this->tag_names($id));
        $this->assertSame(array(), $this->crm_requests(), 'no CRM call at all');
    }

    public function test_pull_from_crm_updates_the_user_and_says_so(): void
    {
        CrmHooks_Test_Standin::put_contact('ac', '42', array('email' => 'profile.member@example.com', 'first_name' => 'Jane', 'last_name' => 'Pulled', 'phone' => '', 'tags' => array('member', 'vip')));
        $id = $this->member(array('member'));
        $cookie = $this->admin_cookie();
        $nonce = self::nonce($this->profile($id, $cookie));

        $answer = $this->post('/wp-admin/admin-post.php', array('action' => CrmHooks_Profile::PULL_ACTION, 'crmhooks_user' => $id, 'crmhooks_profile_nonce' => $nonce), $cookie);
        $this->assertSame(302, $answer['status'], $answer['body']);
        $this->assertStringContainsString('crmhooks_profile=pulled%3Aupdated', $answer['location']);
        $user = $this->user('profile.member@example.com');
        $this->assertSame('Jane', $user->first_name);
        $this->assertSame('Pulled', $user->last_name);
        $this->assertEqualsCanonicalizing(array('member', 'vip'), $this->tag_names($id));

        $after = $this->get(str_replace(CrmHooks_Test_Site::url('/'), '/', $answer['location']), $cookie);
        $this->assertStringContainsString('Pulled from the CRM: User updated.', self::text($after['body']));
        global $wpdb;
        $this->assertSame('updated', $wpdb->get_var("SELECT outcome FROM {$wpdb->prefix}crmhooks_log WHERE message LIKE 'pulled from the profile%' ORDER BY id DESC LIMIT 1"), 'the Activity screen lists the pull');
    }

    public function test_pull_for_an_administrator_changes_only_tags(): void
    {
        CrmHooks_Test_Standin::put_contact('ac', '43', array('email' => 'profile.boss@example.com', 'first_name' => 'Mallory', 'last_name' => 'Changed', 'phone' => '', 'tags' => array('vip')));
        $boss = $this->make_user('profile.boss@example.com', 'administrator');
        wp_update_user(array('ID' => $boss, 'first_name' => 'Boss'));
        update_user_meta($boss, 'crmhooks_contact_id', '43');
        $cookie = $this->admin_cookie();
        $nonce = self::nonce($this->profile($boss, $cookie));

        $answer = $this->post('/wp-admin/admin-post.php', array('action' => CrmHooks_Profile::PULL_ACTION, 'crmhooks_user' => $boss, 'crmhooks_profile_nonce' => $nonce), $cookie);
        $this->assertSame(302, $answer['status'], $answer['body']);
        $user = $this->user('profile.boss@example.com');
        $this->assertSame('Boss', $user->first_name, 'a privileged user\'s fields are not the webhook\'s');
        $this->assertSame(array('administrator'), $user->roles);
        $this->assertSame(array('vip'), $this->tag_names($boss), 'its tags are');
    }

    public function test_users_screen_has_an_escaped_tags_column(): void
    {
        $id = $this->member(array('member', '<i>x</i>'));
        $page = $this->get('/wp-admin/users.php', $this->admin_cookie());
        $this->assertSame(200, $page['status']);
        $this->assertMatchesRegularExpression("#<th scope=\"col\" id='crmhooks_tags' class='manage-column column-crmhooks_tags'[^>]*>Tags</th>#", $page['body']); // WordPress 6.8 adds spaces (empty attributes) before the >.
        $this->assertMatchesRegularExpression("#<tr id='user-" . $id . "'>" . '.*?<td class=\'crmhooks_tags column-crmhooks_tags\' data-colname="Tags">member, &lt;i&gt;x&lt;/i&gt;</td>#s', $page['body']);
        $this->assertStringNotContainsString('<i>x</i>', $page['body']);
    }
}

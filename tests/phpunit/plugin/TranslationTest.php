<?php
/**
 * The plugin's strings are translatable from its own languages/ folder: a German catalogue
 * compiled with msgfmt into that folder changes a string the plugin shows (the WP-Cron schedule's
 * name) once crmhooks_load_textdomain() runs.
 */

declare(strict_types=1);

require_once __DIR__ . '/PluginTestCase.php';

final class TranslationTest extends CrmHooks_Plugin_TestCase
{
    private string $mo = '';
    private bool $made_dir = false;

    protected function tearDown(): void
    {
        // Reloadable: later tests still see the plugin's strings (just-in-time loading).
        unload_textdomain('crmhooks', true);
        remove_all_filters('determine_locale');
        if ($this->mo !== '' && is_file($this->mo)) {
            unlink($this->mo);
        }
        if ($this->made_dir) {
            rmdir(CRMHOOKS_DIR . 'languages');
        }
        parent::tearDown();
    }

    public function test_the_plugin_loads_its_translations_from_its_languages_folder(): void
    {
        $this->assertSame('/languages', get_file_data(CRMHOOKS_FILE, array('path' => 'Domain Path'))['path']);
        $this->assertSame(0, has_action('init', 'crmhooks_load_textdomain'), 'loaded on init, before the webhook handler');

        $po = tempnam(sys_get_temp_dir(), 'crmhooks-po');
        file_put_contents($po, "msgid \"\"\nmsgstr \"Content-Type: text/plain; charset=UTF-8\\n\"\n\nmsgid \"Every minute (crmhooks)\"\nmsgstr \"Jede Minute (crmhooks)\"\n");
        if (!is_dir(CRMHOOKS_DIR . 'languages')) {
            $this->made_dir = mkdir(CRMHOOKS_DIR . 'languages');
        }
        $this->mo = CRMHOOKS_DIR . 'languages/crmhooks-de_DE.mo';
        exec('msgfmt -o ' . escapeshellarg($this->mo) . ' ' . escapeshellarg($po), $out, $rc);
        unlink($po);
        $this->assertSame(0, $rc, 'msgfmt compiled the catalogue');

        // The site's locale, not `plugin_locale`: WordPress 6.7+ loads plugin translations just in
        // time for determine_locale(), and no longer applies that filter.
        add_filter('determine_locale', static fn(): string => 'de_DE');
        crmhooks_load_textdomain();

        $schedules = CrmHooks_Worker::cron_schedules(array());
        $this->assertSame('Jede Minute (crmhooks)', $schedules[CrmHooks_Worker::CRON_SCHEDULE]['display']);
    }
}

#!/usr/bin/python3
"""Drives the crmhooks admin screens in a real headless Chromium, as an administrator.

Logs in through wp-login.php, completes the setup on Settings -> crmhooks (switches the CRM,
tests the connection, copies a webhook URL), follows the Settings link on the Plugins screen,
opens Tools -> crmhooks Queue and Activity, uses a state view, the filters, the detail view and
Process now; edits a user's tags on the profile; opens a webhook URL (the debug page) and its
JSON disclosure; and saves a full-page screenshot of every screen it visits. Prints one JSON
object: {"checks": {name: value}, "screenshots": [paths]}; the PHPUnit
test (tests/phpunit/admin/BrowserTest.php) seeds the site first and asserts every check.

Needs Debian's chromium, chromium-driver and python3-selenium (scripts/lib/install.sh).

    admin_screens.py SITE_URL USER PASSWORD SCREENSHOT_DIR ENTRY_ID PROFILE_USER_ID WEBHOOK_URL
"""

import json
import os
import sys

from selenium import webdriver
from selenium.common.exceptions import NoSuchElementException, TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import Select, WebDriverWait

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
WIDTH = 1280


def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=%d,900" % WIDTH, "--hide-scrollbars", "--lang=en-US"):
        options.add_argument(arg)
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


class Run:
    def __init__(self, driver, site, out):
        self.driver = driver
        self.site = site.rstrip("/")
        self.out = out
        self.checks = {}
        self.screenshots = []

    def open(self, path, ready):
        self.driver.get(self.site + path)
        return self.wait_for(ready)

    def wait_for(self, css, timeout=20):
        return WebDriverWait(self.driver, timeout).until(ec.presence_of_element_located((By.CSS_SELECTOR, css)))

    def all(self, css):
        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def text(self, css):
        try:
            return self.driver.find_element(By.CSS_SELECTOR, css).text
        except NoSuchElementException:
            return ""

    def shot(self, name):
        """A full-page PNG from the top: the window as tall as the page, then back."""
        self.driver.execute_script("window.scrollTo(0, 0)")
        for _ in range(2):  # The viewport is shorter than the window: measure again once resized.
            height = self.driver.execute_script(
                "return Math.max(document.body.scrollHeight, document.documentElement.scrollHeight)"
                " + window.outerHeight - window.innerHeight")
            self.driver.set_window_size(WIDTH, max(900, int(height)))
        path = os.path.join(self.out, name + ".png")
        self.driver.save_screenshot(path)
        self.screenshots.append(path)
        self.driver.set_window_size(WIDTH, 900)

    def login(self, user, password):
        self.open("/wp-login.php", "#user_login")
        self.driver.find_element(By.ID, "user_login").send_keys(user)
        self.driver.find_element(By.ID, "user_pass").send_keys(password)
        self.driver.find_element(By.ID, "wp-submit").click()
        self.wait_for("#wpadminbar")
        self.checks["logged_in"] = True

    def settings(self):
        self.open("/wp-admin/options-general.php?page=crmhooks", "#crmhooks-settings-form")
        self.checks["settings_sections"] = [h.text for h in self.all("#crmhooks-settings-form h2")]
        self.checks["untested_notice_before"] = self.text(".crmhooks-untested")
        self.checks["ac_token_shown"] = self.driver.find_element(By.ID, "crmhooks_ac_api_token").is_displayed()
        self.checks["op_key_shown"] = self.driver.find_element(By.ID, "crmhooks_op_api_key").is_displayed()
        self.shot("settings-start")

        # The CRM select shows the other CRM's fields and URLs at once, then back.
        crm = Select(self.driver.find_element(By.ID, "crmhooks_crm"))
        crm.select_by_value("ontraport")
        self.checks["switched_ac_token_shown"] = self.driver.find_element(By.ID, "crmhooks_ac_api_token").is_displayed()
        self.checks["switched_op_key_shown"] = self.driver.find_element(By.ID, "crmhooks_op_api_key").is_displayed()
        self.checks["switched_op_url_shown"] = self.driver.find_element(By.ID, "crmhooks-url-ontraport-update").is_displayed()
        self.shot("settings-ontraport")
        crm.select_by_value("activecampaign")

        # Test connection answers in words.
        self.driver.find_element(By.ID, "crmhooks-test-connection").click()
        result = self.wait_for("#crmhooks-test-result[data-result]")
        self.checks["test_result"] = result.get_attribute("data-result")
        self.checks["test_message"] = result.text
        self.checks["test_colour"] = result.value_of_css_property("color")
        self.shot("settings-tested")

        # After the test: no notice, the field map offers the CRM's fields.
        self.open("/wp-admin/options-general.php?page=crmhooks", "#crmhooks-settings-form")
        self.checks["untested_notice_after"] = self.text(".crmhooks-untested")
        self.checks["field_map_options"] = [o.text for o in self.all("#crmhooks_field_map_0_crm option")]

        # Copy fetches the key into the URL and puts the URL on the clipboard.
        self.driver.execute_cdp_cmd("Browser.grantPermissions", {
            "origin": self.site, "permissions": ["clipboardReadWrite", "clipboardSanitizedWrite"]})
        button = self.driver.find_element(By.CSS_SELECTOR, ".crmhooks-copy[data-target='crmhooks-url-activecampaign-update']")
        button.click()
        WebDriverWait(self.driver, 10).until(lambda d: button.text != "Copy")
        self.checks["copy_button"] = button.text
        self.checks["copied_url_field"] = self.driver.find_element(By.ID, "crmhooks-url-activecampaign-update").get_attribute("value")
        self.checks["clipboard"] = self.driver.execute_async_script(
            "var done=arguments[0];navigator.clipboard.readText().then(done,function(e){done('unreadable: '+e);});")
        self.driver.execute_script("document.getElementById('crmhooks-urls-activecampaign').scrollIntoView();")
        self.shot("settings-copied")

        # The Plugins screen links here.
        self.open("/wp-admin/plugins.php", "tr[data-plugin='crmhooks/crmhooks.php']")
        link = self.driver.find_element(By.CSS_SELECTOR, "tr[data-plugin='crmhooks/crmhooks.php'] .row-actions a")
        self.checks["plugins_first_link"] = link.text
        self.shot("plugins")
        link.click()
        self.wait_for("#crmhooks-settings-form")
        self.checks["plugins_link_lands_on"] = self.text(".nav-tab-wrapper .nav-tab-active")

    def queue(self):
        self.open("/wp-admin/tools.php?page=crmhooks-queue", "#crmhooks-chart svg")
        self.checks["queue_title"] = self.text(".wrap h1")
        self.checks["queue_menu_entries"] = [a.text for a in self.all("#menu-tools .wp-submenu a") if "crmhooks" in a.text]
        self.checks["queue_active_tab"] = self.text(".nav-tab-wrapper .nav-tab-active")
        self.checks["queue_views"] = [li.text.split(" (")[0] for li in self.all(".subsubsub li")]
        self.checks["queue_rows"] = len(self.all("#the-list tr"))
        self.checks["queue_states_shown"] = sorted({s.text for s in self.all("#the-list .crmhooks-state")})
        self.checks["chart_hours"] = len(self.all("#crmhooks-chart g.crmhooks-hour"))
        self.checks["chart_bars"] = len(self.all("#crmhooks-chart g.crmhooks-hour rect[fill^='#']"))
        svg = self.driver.find_element(By.CSS_SELECTOR, "#crmhooks-chart svg")
        self.checks["chart_width_px"] = svg.size["width"]
        self.checks["chart_height_px"] = svg.size["height"]
        self.checks["process_now_button"] = self.driver.find_element(By.ID, "crmhooks-process-now").is_displayed()
        self.checks["bulk_actions"] = [o.get_attribute("value") for o in Select(
            self.driver.find_element(By.ID, "bulk-action-selector-top")).options]
        self.checks["pagination"] = self.text(".tablenav.top .displaying-num")
        self.shot("queue")

        # A state view: only deferred jobs.
        self.driver.find_element(By.CSS_SELECTOR, ".subsubsub li.deferred a").click()
        self.wait_for(".subsubsub li.deferred a.current")
        self.checks["deferred_view_states"] = sorted({s.text for s in self.all("#the-list .crmhooks-state")})
        self.shot("queue-deferred")

        # Process now (the test holds the drainer lock: the screen says another run is working).
        self.driver.find_element(By.ID, "crmhooks-process-now").click()
        notice = self.wait_for(".wrap .notice")
        self.checks["process_now_notice"] = notice.text
        self.shot("queue-process-now")

    def activity(self, entry_id):
        self.open("/wp-admin/tools.php?page=crmhooks-activity", "#crmhooks-activity-form")
        self.checks["activity_title"] = self.text(".wrap h1")
        self.checks["activity_rows"] = len(self.all("#the-list tr"))
        self.checks["activity_pagination"] = self.text(".tablenav.top .displaying-num")
        self.checks["refusals_notice"] = self.text(".crmhooks-refusals")
        highlighted = self.all("#the-list tr.crmhooks-attention")
        self.checks["highlighted_rows"] = len(highlighted)
        if highlighted:
            cell = highlighted[0].find_element(By.CSS_SELECTOR, "td")
            self.checks["highlight_background"] = cell.value_of_css_property("background-color")
        self.checks["contact_links"] = len(self.all("#the-list td.column-contact a[href*='user-edit.php']"))
        self.shot("activity")

        # Filter by outcome, then search by email.
        Select(self.driver.find_element(By.ID, "crmhooks-filter-outcome")).select_by_value("created")
        self.driver.find_element(By.ID, "crmhooks-filter-submit").click()
        self.wait_for("#crmhooks-filter-outcome option[value='created'][selected]")
        self.checks["filtered_url"] = self.driver.current_url
        self.checks["filtered_outcomes"] = sorted({c.text.split("\n")[0] for c in self.all("#the-list td.column-outcome")})
        self.shot("activity-filtered")
        Select(self.driver.find_element(By.ID, "crmhooks-filter-outcome")).select_by_value("")
        search = self.driver.find_element(By.ID, "crmhooks-activity-search-input")
        search.clear()
        search.send_keys("jane.doe@")
        self.driver.find_element(By.ID, "search-submit").click()
        self.wait_for("#crmhooks-activity-search-input[value='jane.doe@']")
        self.checks["search_rows"] = len(self.all("#the-list tr:not(.no-items)"))
        self.checks["search_contacts"] = sorted({c.text.split(" ")[0] for c in self.all("#the-list td.column-contact")})
        self.shot("activity-search")

        # One entry's detail view.
        self.open("/wp-admin/tools.php?page=crmhooks-activity&entry=%d" % entry_id, ".crmhooks-entry")
        self.checks["entry_heading"] = self.text(".wrap h2")
        self.checks["entry_changes"] = self.text(".crmhooks-changes")
        self.shot("activity-entry")

        # The tabs lead to the settings page, which has them too.
        self.driver.find_element(By.CSS_SELECTOR, ".nav-tab-wrapper a[href*='options-general.php?page=crmhooks']").click()
        self.wait_for("form[action='options.php'] input[name^='crmhooks_settings']")
        self.checks["settings_active_tab"] = self.text(".nav-tab-wrapper .nav-tab-active")
        self.shot("settings")

    def profile(self, user_id):
        """The user's crmhooks section: apply one tag, remove another, read the result."""
        self.open("/wp-admin/user-edit.php?user_id=%d" % user_id, "#crmhooks-profile")
        self.checks["profile_contact_id"] = self.text("#crmhooks-contact-id")
        self.checks["profile_tags"] = [label.text for label in self.all("#crmhooks-tags label")]
        self.shot("profile")
        self.driver.find_element(By.ID, "crmhooks-add").send_keys("Browser Tag")
        self.driver.find_element(By.CSS_SELECTOR, "#crmhooks-tags input[value='member']").click()
        self.driver.find_element(By.ID, "crmhooks-save-tags").click()
        self.checks["profile_result"] = self.wait_for("#crmhooks-profile-result").text
        self.checks["profile_tags_after"] = [label.text for label in self.all("#crmhooks-tags label")]
        self.shot("profile-tags-saved")

    def debug_page(self, webhook_url):
        """A webhook URL opened by the logged-in administrator: sections, then the JSON."""
        self.driver.get(webhook_url)
        self.wait_for("#crmhooks-changes")
        self.checks["debug_headings"] = [h.text for h in self.all("h2")]
        self.checks["debug_raw_visible_before"] = self.driver.find_element(By.CSS_SELECTOR, "#crmhooks-raw pre").is_displayed()
        self.shot("debug-page")
        self.driver.find_element(By.CSS_SELECTOR, "#crmhooks-raw summary").click()
        self.checks["debug_raw_visible_after"] = self.driver.find_element(By.CSS_SELECTOR, "#crmhooks-raw pre").is_displayed()
        self.shot("debug-page-json")


def main():
    site, user, password, out, entry_id, profile_user, webhook_url = sys.argv[1:8]
    os.makedirs(out, exist_ok=True)
    driver = browser()
    run = Run(driver, site, out)
    error = ""
    try:
        run.login(user, password)
        run.settings()
        run.queue()
        run.activity(int(entry_id))
        run.profile(int(profile_user))
        run.debug_page(webhook_url)
    except (TimeoutException, NoSuchElementException) as exc:
        error = "%s at %s" % (exc.__class__.__name__, driver.current_url)
        try:
            run.shot("failure")
        except Exception:  # noqa: BLE001 - the failure itself is what gets reported
            pass
    finally:
        driver.quit()
    print(json.dumps({"checks": run.checks, "screenshots": run.screenshots, "error": error}))
    return 1 if error else 0


if __name__ == "__main__":
    sys.exit(main())

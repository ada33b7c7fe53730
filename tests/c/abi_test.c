/* Exercises the crmhooks C ABI as a C host would, using only include/crmhooks.h.
 * Built with -Wall -Wextra -Werror -pedantic, run under ASan+UBSan and valgrind by run.sh. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crmhooks.h"

static int failures = 0;
static int checks = 0;

#define CHECK(cond, what)                                                   \
  do {                                                                      \
    checks++;                                                               \
    if (!(cond)) {                                                          \
      failures++;                                                           \
      fprintf(stderr, "FAIL %s:%d: %s (last error: %s)\n", __FILE__,       \
              __LINE__, what, crmh_last_error());                           \
    }                                                                       \
  } while (0)

static const char *KEY = "c-host-secret-key-0123456789";

static crmh_result accept_request(const char *query, const char *body, const char *key, crmh_buf *out) {
  const char *method = "POST";
  const char *type = "application/x-www-form-urlencoded";
  return crmh_webhook_accept(method, strlen(method), query, strlen(query), type, strlen(type),
                             body, strlen(body), key, strlen(key), out);
}

static void test_version(void) {
  const char *version = crmh_abi_version();
  CHECK(version != NULL && strlen(version) > 0, "abi version is a non-empty string");
  CHECK(strchr(version, '.') != NULL, "abi version looks like x.y.z");
  CHECK(strcmp(version, CRMHOOKS_VERSION) == 0, "library version equals the header's CRMHOOKS_VERSION");
}

static void test_result_names(void) {
  CHECK(strcmp(crmh_result_name(CRMH_RESULT_OK), "ok") == 0, "name of OK");
  CHECK(strcmp(crmh_result_name(CRMH_RESULT_CRM_RATE_LIMITED), "crm_rate_limited") == 0, "name of CRM_RATE_LIMITED");
  CHECK(crmh_result_name(10) == NULL, "no name for a value that is no result");
  crmh_buf out = {0};
  CHECK(crmh_plan("{", 1, &out) == CRMH_RESULT_INVALID_JSON, "truncated plan input rejected");
  CHECK(strcmp(crmh_result_name(CRMH_RESULT_INVALID_JSON), "invalid_json") == 0, "name of INVALID_JSON");
  CHECK(crmh_last_error()[0] != '\0', "naming a result keeps the last error");
}

static void test_keys(void) {
  crmh_buf a = {0}, b = {0};
  CHECK(crmh_key_generate(&a) == CRMH_RESULT_OK, "generate key a");
  CHECK(crmh_key_generate(&b) == CRMH_RESULT_OK, "generate key b");
  CHECK(a.len >= 22 && a.data[a.len] == '\0', "key is long and NUL-terminated");
  CHECK(strcmp(a.data, b.data) != 0, "two keys differ");
  CHECK(crmh_key_verify(a.data, a.len, a.data, a.len) == CRMH_RESULT_OK, "key verifies against itself");
  CHECK(crmh_key_verify(a.data, a.len, b.data, b.len) == CRMH_RESULT_UNAUTHORIZED, "other key rejected");
  CHECK(crmh_key_verify(a.data, a.len, "", 0) == CRMH_RESULT_UNAUTHORIZED, "empty configured key fails closed");
  CHECK(crmh_key_verify(NULL, 0, NULL, 0) == CRMH_RESULT_UNAUTHORIZED, "NULL keys fail closed");
  crmh_buf_free(&a);
  crmh_buf_free(&a); /* idempotent */
  crmh_buf_free(&b);
  crmh_buf_free(NULL);
  CHECK(a.data == NULL && a.len == 0, "freed buffer is zeroed");
}

static void test_webhook(void) {
  char query[256];
  crmh_buf out = {0};
  const char *body =
      "type=contact_tag_added&initiated_from=admin&contact%5Bid%5D=42"
      "&contact%5Bemail%5D=jane.doe%40example.com&contact%5Btags%5D=member%2C+vip"
      "&contact%5Bfields%5D%5B1%5D=Gold&tag=vip";
  snprintf(query, sizeof query, "wpf_action=update_tags&access_key=%s", KEY);
  CHECK(accept_request(query, body, KEY, &out) == CRMH_RESULT_OK, "accept an ActiveCampaign webhook");
  CHECK(out.data != NULL && strstr(out.data, "\"contact_id\":\"42\"") != NULL, "contact id parsed");
  CHECK(out.data != NULL && strstr(out.data, KEY) == NULL, "the key is never echoed");
  crmh_buf_free(&out);

  snprintf(query, sizeof query, "wpf_action=update_tags&access_key=%sX", KEY);
  CHECK(accept_request(query, body, KEY, &out) == CRMH_RESULT_UNAUTHORIZED, "wrong key rejected");
  CHECK(out.data == NULL, "no output on failure");
  CHECK(strstr(crmh_last_error(), KEY) == NULL, "last error does not contain the key");

  snprintf(query, sizeof query, "wpf_action=nope&access_key=%s", KEY);
  CHECK(accept_request(query, "", KEY, &out) == CRMH_RESULT_UNKNOWN_ACTION, "unknown action");

  CHECK(crmh_webhook_accept(NULL, 4, NULL, 0, NULL, 0, NULL, 0, NULL, 0, &out) == CRMH_RESULT_NULL_PARAMETER,
        "NULL with a length is rejected");
  CHECK(accept_request(query, "", KEY, NULL) == CRMH_RESULT_NULL_PARAMETER, "NULL output rejected");
}

static void test_diff_and_plan(void) {
  crmh_buf out = {0};
  const char *tags = "{\"current\":[\"Member\",\"vip\"],\"incoming\":[\"member\",\"Gold\"]}";
  CHECK(crmh_diff_tags(tags, strlen(tags), &out) == CRMH_RESULT_OK, "diff tags");
  CHECK(out.data != NULL && strstr(out.data, "\"added\":[\"Gold\"]") != NULL, "Gold added");
  crmh_buf_free(&out);

  const char *bad = "{\"current\":";
  CHECK(crmh_diff_tags(bad, strlen(bad), &out) == CRMH_RESULT_INVALID_JSON, "truncated JSON rejected");
  const char invalid_utf8[] = {'{', (char)0xff, '}'};
  CHECK(crmh_diff_tags(invalid_utf8, sizeof invalid_utf8, &out) == CRMH_RESULT_INVALID_UTF8, "invalid UTF-8");

  const char *lock = "{\"kind\":\"loopback\",\"now\":1000,\"last_write_at\":990,\"window_secs\":60}";
  CHECK(crmh_lock_decide(lock, strlen(lock), &out) == CRMH_RESULT_OK, "loopback decision");
  CHECK(out.data != NULL && strstr(out.data, "defer") != NULL, "inside the window: defer");
  crmh_buf_free(&out);
}

static void test_panic_and_crm(void) {
  crmh_buf out = {0};
  CHECK(crmh_selftest_panic() == CRMH_RESULT_PANIC, "panic contained");
  CHECK(strstr(crmh_last_error(), "panic") != NULL, "panic reported");
  CHECK(crmh_key_generate(&out) == CRMH_RESULT_OK, "library usable after a panic");
  crmh_buf_free(&out);

  const char *config =
      "{\"crm\":\"activecampaign\",\"base_url\":\"http://127.0.0.1:9\",\"api_token\":\"tok-c-secret\","
      "\"connect_timeout_ms\":500,\"timeout_ms\":1000,\"allow_http_loopback\":true}";
  crmh_result rc = crmh_crm_fetch_contact(config, strlen(config), "42", 2, &out);
  CHECK(rc == CRMH_RESULT_CRM_TEMPORARY, "closed port is a temporary CRM failure");
  CHECK(strstr(crmh_last_error(), "tok-c-secret") == NULL, "token not in last error");
  CHECK(out.data == NULL, "no output on CRM failure");
}

static void test_reconcile(void) {
  crmh_buf out = {0};
  const char *start = "{\"kind\":\"sweep_start\",\"now\":1700000000}";
  CHECK(crmh_reconcile_decide(start, strlen(start), &out) == CRMH_RESULT_OK, "sweep start");
  CHECK(out.data != NULL && strstr(out.data, "\"since\":1699998980") != NULL, "first pass: interval + overlap back");
  crmh_buf_free(&out);
  const char *no_pass = "{\"kind\":\"sweep_page\",\"now\":1,\"state\":{},\"crm\":\"ac\",\"page\":{\"contacts\":[]}}";
  CHECK(crmh_reconcile_decide(no_pass, strlen(no_pass), &out) == CRMH_RESULT_BAD_REQUEST, "a page outside a pass");
  CHECK(out.data == NULL, "no output on failure");

  const char *config =
      "{\"crm\":\"ontraport\",\"base_url\":\"http://127.0.0.1:9/1/\",\"app_id\":\"app-c-secret\","
      "\"api_key\":\"key-c-secret\",\"connect_timeout_ms\":500,\"timeout_ms\":1000,\"allow_http_loopback\":true}";
  const char *since = "{\"since\":0}";
  CHECK(crmh_crm_list_modified(config, strlen(config), since, strlen(since), &out) == CRMH_RESULT_CRM_TEMPORARY,
        "list modified: closed port is a temporary CRM failure");
  CHECK(strstr(crmh_last_error(), "secret") == NULL, "credentials not in last error");
  const char *no_tag = "{\"cursor\":null}";
  CHECK(crmh_crm_list_tagged(config, strlen(config), no_tag, strlen(no_tag), &out) == CRMH_RESULT_BAD_REQUEST,
        "list tagged needs a tag");
  CHECK(crmh_crm_list_tagged(config, strlen(config), NULL, 3, &out) == CRMH_RESULT_NULL_PARAMETER, "NULL with a length");
}

int main(void) {
  test_version();
  test_result_names();
  test_keys();
  test_webhook();
  test_diff_and_plan();
  test_panic_and_crm();
  test_reconcile();
  printf("%d passed, %d failed\n", checks - failures, failures);
  return failures == 0 ? 0 : 1;
}

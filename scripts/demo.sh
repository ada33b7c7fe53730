#!/usr/bin/env bash
# The whole thing on one machine: installs packages, builds the library, starts the stack
# (WordPress + crmhooks + the CRM stand-in), then prints the admin login and webhook URLs.
#
#   scripts/demo.sh                      (defaults: .stack in the repo, ports 8080..8086)
#   CRMHOOKS_PORT_BASE=9000 scripts/demo.sh
#
# Stop with `scripts/stack.sh down`; remove everything with `scripts/stack.sh reset`.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STACK="$REPO/scripts/stack.sh"

"$STACK" install
"$STACK" build
"$STACK" up
eval "$("$STACK" env)"

site="$CRMHOOKS_SITE_URL"
key="$CRMHOOKS_ACCESS_KEY"
password="$(cat "$CRMHOOKS_STACK_DIR/admin-password")"

cat <<TEXT

================================================================================
crmhooks demo stack is up ($CRMHOOKS_STACK_DIR)

Site:            $site/            (same site, preload FFI mode: $CRMHOOKS_PRELOAD_URL/)
Admin:           $site/wp-admin/
  login:         admin
  password:      $password
CRM stand-in:    $CRMHOOKS_STANDIN_URL   (fake ActiveCampaign + Ontraport, seeded from tests/standin/seed.json)
Access key:      $key

ActiveCampaign (the site's CRM now) -- paste into an automation's "Webhook" step;
ActiveCampaign posts the contact (contact[id]=42, ...) in the body:
  add:          $site/?wpf_action=add&access_key=$key
  update:       $site/?wpf_action=update&access_key=$key
  update_tags:  $site/?wpf_action=update_tags&access_key=$key
For a test from a browser or curl, name the contact in the URL:
  $site/?wpf_action=add&access_key=$key&contact_id=42

Try it (what an AC automation sends for contact 42, jane.doe@example.com):
  curl -i -X POST '$site/?wpf_action=add&access_key=$key' \\
       --data 'contact[id]=42&contact[email]=jane.doe@example.com'
or let the stand-in build and send the real AC body:
  curl -s -X POST $CRMHOOKS_STANDIN_URL/_control/send_webhook -H 'Content-Type: application/json' \\
       -d '{"url":"$site/?wpf_action=add&access_key=$key","kind":"ac_automation","contact_id":"42"}'
Then look at Users in the admin (jane.doe@example.com).

Ontraport (contact 27) -- switch the site's CRM first:
  $STACK crm ontraport        (back: $STACK crm activecampaign)
then use these as the rule's "Ping a URL" / campaign "Send a Webhook" URLs
(Ontraport fills [Contact ID]; here it is 27):
  add:          $site/?wpf_action=add&access_key=$key&contact_id=27
  update:       $site/?wpf_action=update&access_key=$key&contact_id=27
  update_tags:  $site/?wpf_action=update_tags&access_key=$key&contact_id=27
  curl -i '$site/?wpf_action=add&access_key=$key&contact_id=27'

Stop:   $STACK down        (start again: $STACK up)
Reset:  $STACK reset       (removes $CRMHOOKS_STACK_DIR)
================================================================================
TEXT

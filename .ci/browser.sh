#!/bin/sh
# Headless Chromium for the docs-page end-to-end test (playwright-core drives /usr/bin/chromium).
# Idempotent: installs Debian's package only when the binary is missing.
set -e
if [ ! -x /usr/bin/chromium ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium
fi

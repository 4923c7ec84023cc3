#!/bin/sh
# Headless Chromium (Debian's chromium package): test/e2e/docs-page.spec.ts renders the API
# docs page in it through playwright-core.
set -eu
command -v chromium >/dev/null 2>&1 && exit 0
sh "$(dirname "$0")/lib/apt-install.sh" chromium chromium

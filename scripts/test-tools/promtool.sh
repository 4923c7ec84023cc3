#!/bin/sh
# promtool (Debian's prometheus package): test/deploy/monitoring.spec.ts checks the Prometheus
# config and alert rules with it and runs the rules' unit tests.
set -eu
command -v promtool >/dev/null 2>&1 && exit 0
sh "$(dirname "$0")/lib/apt-install.sh" promtool --no-install-recommends prometheus
# Only promtool is wanted: under an init system the package may have started a server on :9090.
if command -v service >/dev/null 2>&1; then service prometheus stop >/dev/null 2>&1 || true; fi

#!/bin/sh
# `npm test`'s set-up (the pretest script): runs every executable script in
# scripts/test-tools/ (or the folder given), in name order, and stops at the first that fails.
# Each script provides one tool some suite drives: it returns at once when the tool is there,
# installs it quietly when it can, and otherwise exits with one line naming what to install.
set -eu
dir="${1:-$(dirname "$0")/test-tools}"
for script in "$dir"/*; do
  if [ -f "$script" ] && [ -x "$script" ]; then "$script"; fi
done

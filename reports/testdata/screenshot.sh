#!/bin/sh
# Screenshot a report in headless Chromium (Debian package: apt-get install
# chromium). Usage: screenshot.sh REPORT.html OUT.png
set -eu
report=$(realpath "$1")
out=$2
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
chromium --headless --no-sandbox --disable-gpu --disable-background-networking \
  --disable-component-update --disable-sync --no-first-run \
  --user-data-dir="$profile" --screenshot="$out" --window-size=1280,2400 \
  "file://$report"

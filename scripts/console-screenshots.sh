#!/usr/bin/env bash
# Screenshots of every page of the operators' console at 1280 px (and the health page at
# phone width), in a real headless chromium over a small shop with some history.
#
#   scripts/console-screenshots.sh [dir]     default: target/console-screenshots
#
# Needs what the tests need: PostgreSQL's server binaries, chromium and chromedriver
# (Debian: apt-get install postgresql chromium chromium-driver).
set -euo pipefail
cd "$(dirname "$0")/.."
dir="$(realpath -m "${1:-target/console-screenshots}")"
mkdir -p "$dir"
ORDO_SCREENSHOTS="$dir" cargo test --test api console::screenshots -- --ignored --exact
ls -l "$dir"

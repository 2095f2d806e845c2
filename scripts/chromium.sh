#!/usr/bin/env bash
# Headless Chromium for the browser tests (test/browser/): Debian's `chromium` package, driven by playwright-core
# through `executablePath`. Prints the executable's path. Idempotent: installs only when it is missing.
source "$(dirname "$0")/lib.sh"
apt_install chromium
bin=$(command -v chromium || true)
[ -n "$bin" ] || die "the chromium package is installed but no chromium executable is on PATH"
echo "$bin"

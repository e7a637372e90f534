#!/bin/sh
# Best-effort install of headless Chromium for tests/test_screenshot.py.
# Installs only when /usr/bin/chromium is missing and we are root; never fails (exit 0).
if [ -x /usr/bin/chromium ]; then
    echo "install_chromium: /usr/bin/chromium already present"
    exit 0
fi
if [ "$(id -u)" != "0" ]; then
    echo "install_chromium: not root; skipping (test_screenshot.py will skip)"
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "install_chromium: no apt-get; skipping (test_screenshot.py will skip)"
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
if apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core; then
    echo "install_chromium: installed $(/usr/bin/chromium --version 2>/dev/null)"
else
    echo "install_chromium: apt-get install failed; test_screenshot.py will skip"
fi
exit 0

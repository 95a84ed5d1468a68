#!/usr/bin/env bash
# Runs the end-to-end tests: the real app under Xvfb, driven through
# tauri-driver (which starts WebKitWebDriver). The app's home, caches and
# vault live in a fresh temporary directory.
#   KINKO_APP=/usr/bin/kinko-app bash tests/e2e/run.sh   # the installed .deb
# KINKO_APP must be built with the `webdriver` feature (debug); and
# KINKO_APP_SHIPPED a build without it, for the inspector checks.
set -euo pipefail
self="$(cd "$(dirname "$0")" && pwd)/$(basename "$0")"
cd "$(dirname "$self")"
if [ "${1:-}" = "--inside-xvfb" ]; then
  # A session bus of its own, watched: the app tells the desktop of new
  # alerts over it (org.freedesktop.Notifications), and the tests read
  # what it asked for in notifications.log.
  if [ -z "${KINKO_E2E_BUS:-}" ]; then
    KINKO_E2E_BUS=1 exec dbus-run-session -- bash "$self" --inside-xvfb
  fi
  dbus-monitor --session "interface='org.freedesktop.Notifications'" >"$KINKO_E2E_DIR/notifications.log" 2>&1 &
  tauri-driver --port 4444 --native-port 4445 >"$KINKO_E2E_DIR/driver.log" 2>&1 &
  driver=$!
  for _ in $(seq 50); do
    python3 -c 'import urllib.request; urllib.request.urlopen("http://127.0.0.1:4444/status", timeout=1)' 2>/dev/null && break
    sleep 0.2
  done
  rc=0
  # KINKO_E2E_TESTS picks modules (or Class.test_names) to run.
  python3 -m unittest -v ${KINKO_E2E_TESTS:-test_app test_server} || rc=$?
  kill "$driver" 2>/dev/null || true
  exit $rc
fi
work=$(mktemp -d)
trap 'cp "$work/driver.log" /tmp/kinko-e2e-driver.log 2>/dev/null; rm -rf "$work"' EXIT
mkdir -p "$work/home"
# Everything the app or WebKit keeps (caches, storage) lands under $HOME.
export KINKO_E2E_DIR="$work" HOME="$work/home" XDG_CACHE_HOME="$work/home/.cache" \
  XDG_DATA_HOME="$work/home/.local/share" XDG_CONFIG_HOME="$work/home/.config"
# Debug builds honour this; release builds refuse automation. (Setting
# WEBKIT_DISABLE_COMPOSITING_MODE=1 here makes screenshots hang.)
export TAURI_WEBVIEW_AUTOMATION=true
# The drivable build answers its file chooser from this file.
export KINKO_E2E_CHOOSER="$work/chooser"
xvfb-run -a -s "-screen 0 1280x900x24" bash "$self" --inside-xvfb

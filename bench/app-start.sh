#!/usr/bin/env bash
# How long the desktop app takes to show its sign-in screen: starts the
# app N times (default 5) under Xvfb through tauri-driver, against a vault
# made with the `kinko` command, and prints each time and the median, from
# the WebDriver session request (which launches the app) to the sign-in
# form on screen. Needs the debug app and CLI built (scripts/test.sh does).
#   bash bench/app-start.sh [N] [APP]
set -euo pipefail
self="$(cd "$(dirname "$0")" && pwd)/$(basename "$0")"
cd "$(dirname "$self")/.."
source scripts/target-dir.sh
n="${1:-5}"
app="${2:-$CARGO_TARGET_DIR/debug/kinko-app}"
if [ "${INSIDE_XVFB:-}" = 1 ]; then
  tauri-driver --port 4444 --native-port 4445 >"$work/driver.log" 2>&1 &
  driver=$!
  sleep 1
  python3 - "$n" "$app" "$work/vault" <<'PY'
import statistics, sys, time
sys.path.insert(0, "tests/e2e")
from webdriver import Session
n, app, vault = int(sys.argv[1]), sys.argv[2], sys.argv[3]
times = []
for i in range(n):
    t0 = time.monotonic()
    w = Session("http://127.0.0.1:4444", app, ["--vault", vault])
    w.wait("#signin")
    times.append(time.monotonic() - t0)
    w.quit()
    time.sleep(0.5)
print("start to sign-in screen (s):", " ".join(f"{t:.2f}" for t in times))
print(f"median {statistics.median(times):.2f} s over {n} starts")
PY
  kill "$driver" 2>/dev/null || true
  exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export work HOME="$work" TAURI_WEBVIEW_AUTOMATION=true INSIDE_XVFB=1
KINKO_PASSWORD="Bench-Vault-5t8q!w" "$CARGO_TARGET_DIR/debug/kinko" --vault "$work/vault" init --officer kanri \
  --name "管理 責任者" --council "計測協議会" >/dev/null
xvfb-run -a -s "-screen 0 1280x900x24" bash "$self" "$n" "$app"

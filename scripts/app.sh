#!/usr/bin/env bash
# Kinko's main job: set up what is missing on a Debian/Ubuntu machine,
# build the desktop app (release: no devtools, no WebDriver) and start it.
# The vault lives in ~/.local/share/kinko/vault unless --vault DIR or
# $KINKO_VAULT says otherwise; the first start offers to create it.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/target-dir.sh
bash scripts/setup.sh
(cd ui && npm run build)
cargo build --release --locked -j2 -p kinko-app
exec "$CARGO_TARGET_DIR/release/kinko-app" "$@"

#!/usr/bin/env bash
# Builds the release .deb a council installs (apt install ./Kinko_*.deb):
# the app in release mode, its icons and desktop entry, depending on
# Debian 12's WebKitGTK. AppImage is not built: its bundler downloads tools
# at build time, which these machines cannot do.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/target-dir.sh
bash scripts/setup.sh
(cd ui && npm run build)
ui/node_modules/.bin/tauri build --bundles deb -- --locked -j2
ls -l "$CARGO_TARGET_DIR"/release/bundle/deb/*.deb

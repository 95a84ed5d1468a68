#!/usr/bin/env bash
# The office server under load (issue 16), on demand, never in the tests:
#   bash bench/server-load.sh [TERMINALS=50] [SECONDS=60] [OPEN_MIB=256]
# Builds the release server and bench, then runs them on loopback with a
# PostgreSQL cluster of the bench's own (Debian's postgresql must be
# installed: scripts/setup.sh does it). Prints actions a second, p50/p99
# latency and the server's RSS beside a standalone vault's figures.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/target-dir.sh
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}" CARGO_INCREMENTAL=0
cargo build --locked --release -p kinko-server -p kinko-bench
exec "$CARGO_TARGET_DIR/release/kinko-bench" server-load "$@"

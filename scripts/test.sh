#!/usr/bin/env bash
# Sets up what is missing, then runs every check CI runs: formatting,
# clippy with -D warnings, and every test (unit, property, core, and the
# end-to-end tests that run the real `kinko` binary).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}"
# The app embeds the built front end, so it is built (and its unit tests
# run) before anything compiles the shell.
(cd ui && npm run build && npm test)
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
# The end-to-end tests run the built binary, so build it first.
cargo build --workspace --locked
cargo test --workspace --locked

#!/usr/bin/env bash
# Sets up what is missing, then runs every check CI runs: formatting,
# clippy with -D warnings, and every test: unit, property, core, the
# end-to-end tests that run the real `kinko` binary, the front end's unit
# tests, the app's command tests, and the app itself installed from its
# .deb and driven in a real window under Xvfb.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source scripts/target-dir.sh
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}"
# No incremental caches: a test run builds each version once, and the
# caches of every earlier version would fill the disk (tens of GiB).
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"
# Supply-chain checks (I4): the SBOM generator and the license checker,
# pinned, built once into ~/.cargo/bin.
# strace shows the no-network test every socket a command makes (I4).
command -v strace >/dev/null 2>&1 || {
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq strace
}
command -v cargo-cyclonedx >/dev/null 2>&1 || cargo install --locked cargo-cyclonedx --version 0.5.9 -j2
command -v cargo-deny >/dev/null 2>&1 || cargo install --locked cargo-deny --version 0.20.2 -j2
# The app embeds the built front end, so it is built (and its unit tests
# run) before anything compiles the shell.
(cd ui && npm run build && npm test)
cargo fmt --all -- --check
# The layers hold (docs/architecture.md): no import circle in the core, the
# command, the shell or the page; only the actions layer names the session;
# only crypto names a primitive crate.
python3 scripts/layers.py
# Every `file.rs::name` the docs cite still exists there.
python3 scripts/doc-refs.py
cargo clippy --workspace --all-targets --locked -- -D warnings
# Every dependency's license is on the allow list (deny.toml), every crate
# comes from crates.io, and sbom/ still lists exactly what Cargo.lock holds.
cargo deny --offline check licenses bans sources
bash scripts/sbom.sh --check
# The end-to-end tests run the built binary, so build it first. The app
# built here is the one that ships (no `webdriver` feature): the window
# e2e checks that it opens no inspector, even when asked.
cargo build --workspace --locked
cp "$CARGO_TARGET_DIR/debug/kinko-app" "$CARGO_TARGET_DIR/kinko-app-shipped"
cargo test --workspace --locked
# The matrix's second half: the end-to-end tests again, each vault on an
# office server of its own (PostgreSQL started by the tests), every command
# through an enrolled terminal's replica; the tests that do not apply yet
# are listed with their reasons in tests/cli/server-skips.txt.
mapfile -t server_skips < <(sed -e 's/#.*//' -e 's/[[:space:]]*$//' -e '/^$/d' -e 's/^/--skip=/' tests/cli/server-skips.txt)
KINKO_TEST_SERVER=1 cargo test --locked -p kinko-e2e --test cli -- "${server_skips[@]}"
# Coverage-guided fuzzing of every parser of outside bytes, 20 s a target
# (found crashes become files in fuzz/regressions, replayed by cargo test).
bash scripts/fuzz.sh 20
# The .deb the Tauri CLI builds (debug, with the `webdriver` feature: it
# reuses the build above and lets WebDriver in), installed as a council
# would install it, then driven.
ui/node_modules/.bin/tauri build --debug --bundles deb --features webdriver -- --locked
sudo_cmd=""
[ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --reinstall "$CARGO_TARGET_DIR"/debug/bundle/deb/Kinko_*_amd64.deb
KINKO_APP=/usr/bin/kinko-app KINKO_APP_SHIPPED="$CARGO_TARGET_DIR/kinko-app-shipped" bash tests/e2e/run.sh
# The office server's .deb, installed, its systemd unit checked.
bash tests/package/server-deb.sh

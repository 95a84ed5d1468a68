# Sourced by the scripts: where cargo builds. Outside the clone, so that a
# fresh clone (CI's) reuses earlier builds while a fresh machine still
# builds from cold. Set CARGO_TARGET_DIR to build elsewhere.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/kinko/target}"
mkdir -p "$CARGO_TARGET_DIR"

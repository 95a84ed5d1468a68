#!/usr/bin/env bash
# Installs what building Kinko needs on Debian/Ubuntu and is missing:
# a C toolchain, perl and make (SQLCipher's vendored OpenSSL builds from
# source), pkg-config. Rust itself must already be there (rustup).
set -euo pipefail

need=()
for pkg in build-essential perl make pkg-config; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "Installing: ${need[*]}"
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${need[@]}"
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "Rust is not installed: install it with rustup (https://rustup.rs) and run again." >&2
  exit 1
fi
for comp in clippy rustfmt; do
  rustup component list --installed 2>/dev/null | grep -q "^$comp" || rustup component add "$comp"
done

#!/usr/bin/env bash
# Installs what building Kinko needs on Debian/Ubuntu and is missing:
# a C toolchain, perl and make (SQLCipher's vendored OpenSSL builds from
# source), pkg-config; for the desktop app WebKitGTK 4.1 and, to test it
# in a real window, WebKitWebDriver, Xvfb, xclip and xdotool (clipboard
# and real clicks), bubblewrap (WebKit's web-process sandbox) and a
# Japanese font; jq and oathtool (README's command blocks, run by a test,
# read JSON and one-time codes with them); a D-Bus session bus and its
# monitor (the window tests watch the app's desktop notifications);
# SoftHSM2 (a PKCS#11 token for the tests of the possession factor);
# PostgreSQL (the office server's tests start clusters of their own);
# systemd (its systemd-analyze checks the server's unit);
# python3-venv (moto, the S3 server of the tests, in an environment of its own);
# libclang (bindgen builds SQLite's session extension bindings);
# Node.js and npm for the front end. Rust itself must
# already be there (rustup).
set -euo pipefail

need=()
for pkg in build-essential perl make pkg-config libwebkit2gtk-4.1-dev libdbus-1-dev \
  webkit2gtk-driver xvfb xauth xclip xdotool bubblewrap libgl1-mesa-dri fonts-ipafont-gothic python3 \
  jq oathtool dbus softhsm2 postgresql libclang-dev systemd python3-venv; do
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

if ! command -v npm >/dev/null 2>&1; then
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq nodejs npm
fi
(cd "$(dirname "$0")/../ui" && npm ci --no-audit --no-fund)

# tauri-driver: the WebDriver front the end-to-end tests talk to (it starts
# WebKitWebDriver and the app). Pinned; built once into ~/.cargo/bin.
if ! command -v tauri-driver >/dev/null 2>&1; then
  cargo install --locked tauri-driver --version 2.1.0 -j2
fi

# moto's S3 server (the office server's tests keep objects in it), pinned,
# in a virtual environment of its own outside the clone.
moto_env="${XDG_CACHE_HOME:-$HOME/.cache}/kinko/moto"
if ! "$moto_env/bin/python3" -c 'import moto.server' >/dev/null 2>&1; then
  python3 -m venv "$moto_env"
  "$moto_env/bin/python3" -m pip install --quiet --disable-pip-version-check 'moto[server]==5.2.1'
fi

#!/usr/bin/env bash
# Builds the office server's .deb (issue 16): /usr/bin/kinko-server, its
# systemd unit (installed, not enabled: the server is made first with
# `kinko-server init`), a system user of its own made at install, and
# docs/server.md. Debian's dpkg-deb packs it.
#
#   bash scripts/package-server.sh          # release build, .deb beside the app's
#
# $KINKO_PACKAGE_BIN names a folder holding a built kinko-server to pack
# instead (the test command packs its debug build); $KINKO_PACKAGE_OUT
# where the .deb goes.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/target-dir.sh
if [ -n "${KINKO_PACKAGE_BIN:-}" ]; then
  bin="$KINKO_PACKAGE_BIN"
else
  bash scripts/setup.sh
  cargo build --release --locked -j2 -p kinko-server
  bin="$CARGO_TARGET_DIR/release"
fi
out="${KINKO_PACKAGE_OUT:-$CARGO_TARGET_DIR/release/bundle/deb}"
version="$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)"
stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
root="$stage/kinko-server"
install -D -m 0755 "$bin/kinko-server" "$root/usr/bin/kinko-server"
install -D -m 0644 packaging/kinko-server/kinko-server.service \
  "$root/lib/systemd/system/kinko-server.service"
install -D -m 0644 docs/server.md "$root/usr/share/doc/kinko-server/server.md"
printf 'Kinko\nLicense: Apache-2.0 (/usr/share/common-licenses/Apache-2.0)\n' \
  | install -D -m 0644 /dev/stdin "$root/usr/share/doc/kinko-server/copyright"
install -d -m 0755 "$root/DEBIAN"
install -m 0755 packaging/kinko-server/postinst packaging/kinko-server/prerm \
  packaging/kinko-server/postrm "$root/DEBIAN/"
cat > "$root/DEBIAN/control" <<CONTROL
Package: kinko-server
Version: $version
Architecture: amd64
Maintainer: Kinko <kinko@localhost>
Depends: adduser, libc6, libgcc-s1
Recommends: postgresql (>= 15)
Section: admin
Priority: optional
Description: Kinko's office server
 Holds a council's Kinko vault for its terminals as ciphertext, sealed
 changes and signed events, over mutual TLS; reads none of it. See
 /usr/share/doc/kinko-server/server.md.
CONTROL
mkdir -p "$out"
dpkg-deb --root-owner-group --build "$root" "$out/kinko-server_${version}_amd64.deb" >/dev/null
echo "$out/kinko-server_${version}_amd64.deb"

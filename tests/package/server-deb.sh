#!/usr/bin/env bash
# The office server's .deb (issue 16), installed as an office would: the
# binary runs, the unit passes systemd's own check, the server's user and
# its private folder exist. Run by scripts/test.sh after the build (it
# packs the debug build; as root, or with sudo).
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/target-dir.sh
sudo_cmd=""
[ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
deb="$(KINKO_PACKAGE_BIN="$CARGO_TARGET_DIR/debug" KINKO_PACKAGE_OUT="$out" bash scripts/package-server.sh)"
contents="$(dpkg-deb --contents "$deb")"
grep -q ' ./lib/systemd/system/kinko-server.service$' <<<"$contents"
grep -q ' ./usr/bin/kinko-server$' <<<"$contents"
DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --reinstall "$deb" >/dev/null
/usr/bin/kinko-server --version
getent passwd kinko-server >/dev/null
test "$(stat -c '%U %a' /var/lib/kinko-server)" = "kinko-server 700"
systemd-analyze verify /lib/systemd/system/kinko-server.service
# The unit's command, as its user: a server not made yet says so (exit
# 1, one line) rather than serving.
set +e
said="$($sudo_cmd runuser -u kinko-server -- /usr/bin/kinko-server run --dir /var/lib/kinko-server 2>&1)"
code=$?
set -e
[ "$code" -eq 1 ] || { echo "kinko-server run without init: exit $code: $said"; exit 1; }
[ "$(printf '%s\n' "$said" | wc -l)" -eq 1 ] || { echo "more than one line: $said"; exit 1; }
echo "server .deb: installed, unit verified ($said)"

#!/usr/bin/env bash
# A trial office server for a newcomer (issue 16, docs/server.md): sets up
# what is missing, builds kinko-server and kinko, makes a PostgreSQL
# cluster in a folder of its own (loopback only, a password of its own),
# creates the server once, prints how a terminal enrols, and serves until
# Ctrl-C, then stops PostgreSQL. Run it again to serve the same server.
#
#   bash scripts/server.sh            # serve on 127.0.0.1:8443
#   KINKO_TRIAL_LISTEN=0.0.0.0:8443 bash scripts/server.sh   # for the LAN
#
# Where: $KINKO_TRIAL_DIR, else ~/.local/share/kinko-trial (as root:
# /var/lib/kinko-trial, since PostgreSQL runs as its own user then).
# $KINKO_TRIAL_BIN names a folder of built kinko-server and kinko to use
# instead of building (the test of this script uses its debug build).
# This is a trial: an office installs the .deb's kinko-server.service on
# a box of its own with a PostgreSQL run by the system (docs/server.md).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -n "${KINKO_TRIAL_BIN:-}" ]; then
  bin="$KINKO_TRIAL_BIN"
else
  source scripts/target-dir.sh
  bash scripts/setup.sh
  cargo build --release --locked -j2 -p kinko-server -p kinko-cli
  bin="$CARGO_TARGET_DIR/release"
fi

if [ "$(id -u)" -eq 0 ]; then
  base="${KINKO_TRIAL_DIR:-/var/lib/kinko-trial}"
  as_pg=(runuser -u postgres --)
else
  base="${KINKO_TRIAL_DIR:-${XDG_DATA_HOME:-$HOME/.local/share}/kinko-trial}"
  as_pg=()
fi
pg_port="${KINKO_TRIAL_PG_PORT:-5439}"
listen="${KINKO_TRIAL_LISTEN:-127.0.0.1:8443}"
pg_bin="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)"
pg_dir="$base/postgres"
umask 077
mkdir -p "$base"
# A folder of this user's own, not a link to somewhere else: the password
# of the cluster is written into it.
if [ -L "$base" ] || [ "$(stat -c %u "$base")" != "$(id -u)" ]; then
  echo "scripts/server.sh: $base is not a folder of $(id -un)'s own; set KINKO_TRIAL_DIR" >&2
  exit 1
fi
# As root, PostgreSQL's own user must reach its folder inside.
[ "$(id -u)" -eq 0 ] && chmod 711 "$base"

if [ ! -f "$pg_dir/data/PG_VERSION" ]; then
  mkdir -p "$pg_dir"
  # The cluster's password: random, kept beside it for the server's URL.
  head -c 24 /dev/urandom | base64 | tr -d '/+=' > "$base/pg-password"
  cp "$base/pg-password" "$pg_dir/pwfile"
  [ "$(id -u)" -eq 0 ] && chown -R postgres "$pg_dir"
  "${as_pg[@]}" "$pg_bin/initdb" -D "$pg_dir/data" -U kinko -E UTF8 --locale=C \
    --auth-local=peer --auth-host=scram-sha-256 --pwfile="$pg_dir/pwfile" >/dev/null
  rm -f "$pg_dir/pwfile"
  fresh=1
fi
"${as_pg[@]}" "$pg_bin/pg_ctl" -D "$pg_dir/data" -w -l "$pg_dir/log" \
  -o "-c listen_addresses=127.0.0.1 -p $pg_port -k '$pg_dir'" start >/dev/null
stop_pg() { "${as_pg[@]}" "$pg_bin/pg_ctl" -D "$pg_dir/data" -w -m fast stop >/dev/null || true; }
trap stop_pg EXIT
export PGPASSWORD="$(cat "$base/pg-password")"
[ -n "${fresh:-}" ] && "$pg_bin/createdb" -h 127.0.0.1 -p "$pg_port" -U kinko kinko

database="postgresql://kinko:$PGPASSWORD@127.0.0.1:$pg_port/kinko"
unset PGPASSWORD
if [ ! -f "$base/server/server.json" ]; then
  host="${listen%:*}"
  [ "$host" = "0.0.0.0" ] && host="$(hostname)"
  # The URL (with the password) through the environment, not the
  # command line other users can read.
  KINKO_SERVER_DATABASE="$database" "$bin/kinko-server" init --dir "$base/server" \
    --host "$host" --host localhost --host 127.0.0.1 \
    | sed "s#https://[^ ]*:8443#https://$host:${listen##*:}#"
else
  echo "the trial server in $base/server (a new enrolment token: $bin/kinko-server device token --dir $base/server)"
fi
echo "kinko on a terminal: $bin/kinko --server https://${listen%:*}:${listen##*:} …  (Ctrl-C stops the server)"
"$bin/kinko-server" run --dir "$base/server" --listen "$listen"

#!/usr/bin/env bash
# Writes the seed corpus in fuzz/corpus/<target>/ from real files made by
# the real `kinko` binary (a small vault, a backup, a session, a signed
# plan, a checkpoint, a return package, an inbox file, recipient keys), so
# the fuzzer starts from inputs that pass each parser's first checks.
# Run once after a format changes: bash fuzz/make-seeds.sh [path/to/kinko]
# fuzz/corpus/statements is written by hand (a certificate, a statement, a
# grant, a revocation detail: cells of the database, which kinko never
# prints) and left alone here.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
kinko="${1:-$root/target/debug/kinko}"
out="$root/fuzz/corpus"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export KINKO_VAULT="$work/vault" KINKO_LANG=en
export KINKO_PASSWORD='Kinko-Vault-7q2x!'
unset KINKO_SESSION KINKO_USER
as_boss() { KINKO_USER=boss "$kinko" "$@"; }

for t in object keyslots session backup package signed inbox recovery_code; do
    rm -rf "${out:?}/$t"
    mkdir -p "$out/$t"
done

"$kinko" --json init --officer boss --name Officer --council 'テスト' \
    --policy totp.required=false >"$work/init.json"
python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["recovery_code"], end="")' \
    "$work/init.json" >"$out/recovery_code/code"
printf 'AAAAA-BBBBB' >"$out/recovery_code/short"

printf 'personal data, small\n' >"$work/a.txt"
head -c 70000 /dev/urandom >"$work/b.bin"
doc=$(as_boss import "$work/a.txt" --from bureau --purpose contract)
as_boss import "$work/b.bin" --from bureau --purpose contract >/dev/null
for f in "$KINKO_VAULT"/objects/*; do cp "$f" "$out/object/$(basename "$f" | head -c 8)"; done
cp "$KINKO_VAULT/keyslots" "$out/keyslots/plain"

# A session: its token and its sealed file.
token=$(as_boss login | sed -n 's/^KINKO_SESSION=//p')
printf '%s' "$token" >"$out/session/token"
cp "$KINKO_VAULT"/sessions/* "$out/session/file"
KINKO_SESSION="$token" "$kinko" logout >/dev/null

# An inbox file: a failed sign-in, sealed before the database is open.
KINKO_USER=nobody KINKO_PASSWORD='Wrong-Password-1!' "$kinko" list >/dev/null 2>&1 || true
cp "$KINKO_VAULT"/inbox/*.evt "$out/inbox/failed-signin"

# Signed files: a checkpoint, a disposal plan (HTML and JSON).
as_boss audit checkpoint --out "$work/checkpoint.json" >/dev/null
cp "$work/checkpoint.json" "$out/signed/checkpoint"
as_boss account add mika --name Mika --role manager >/dev/null
as_boss disposal plan --executor mika --confirmer boss --out "$work/plan.html" \
    --complete-by 2026-12-25 --return >/dev/null
cp "$work/plan.html" "$out/signed/plan.html"
cp "$work/plan.json" "$out/signed/plan.json"

# A return package for a recipient key, and the key files.
"$kinko" recipient new --out "$work/bureau" >/dev/null
cp "$work/bureau.pub" "$out/package/recipient.pub"
cp "$work/bureau.key" "$out/package/recipient.key"
as_boss disposal approve --ref 'seed' --date 2026-12-01 >/dev/null
as_boss return --out "$work/return.kinko" --recipient "$work/bureau.pub" >/dev/null
cp "$work/return.kinko" "$out/package/return"

# A backup (small enough for the fuzzer's length limit), and the archive
# format as the body holds it.
as_boss backup --out "$work/vault.kinkobak" >/dev/null
cp "$work/vault.kinkobak" "$out/backup/backup"
python3 - "$out/backup/archive" <<'PY'
import struct, sys
entries = [(b"kinko.db", b"SQLite format 3\0"), (b"objects/" + b"0" * 32, b"KINKOOBJ"), (b"inbox/1-a.evt", b"{}")]
body = b"".join(b"F" + struct.pack(">H", len(n)) + n + struct.pack(">Q", len(d)) + d for n, d in entries) + b"E"
open(sys.argv[1], "wb").write(body)
PY

# After a rekey the keyslots carry keys waiting for each account.
KINKO_USER=boss KINKO_RECOVERY_CODE="$(cat "$out/recovery_code/code")" \
    "$kinko" rekey --suite 2 >/dev/null 2>&1
cp "$KINKO_VAULT/keyslots" "$out/keyslots/after-rekey"
for f in "$KINKO_VAULT"/objects/*; do cp "$f" "$out/object/suite2-$(basename "$f" | head -c 8)"; done

du -sh "$out"/* | sed "s|$root/||"

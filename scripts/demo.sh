#!/usr/bin/env bash
# Kinko's main job, scripted, in a temporary vault: create the vault, add a
# handler, receive a file with personal data, grant it, open it as the
# handler, verify the vault, and print the audit log.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/target-dir.sh
bash scripts/setup.sh
cargo build -j2 --locked -p kinko-cli
kinko="$CARGO_TARGET_DIR/debug/kinko"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export KINKO_VAULT="$work/vault" KINKO_LANG="${KINKO_LANG:-ja}"
officer_pw="Demo-Vault-4r7k!x"

step() { printf '\n== %s\n' "$*"; }

step "金庫を作成 / create the vault"
# A real vault keeps one-time codes (TOTP) required, the default; the demo
# has no authenticator app, so it starts with them optional.
KINKO_PASSWORD="$officer_pw" "$kinko" init --officer kanri --name "管理 責任者" --council "デモ協議会" --policy totp.required=false

step "サインイン / sign in (session token)"
eval "$(KINKO_PASSWORD="$officer_pw" "$kinko" --user kanri login)"

step "情報取扱者を追加 / add a handler"
handler_pw=$("$kinko" --json account add tanaka --name "田中 花子" --role handler | sed -n 's/.*"initial_password": "\(.*\)".*/\1/p')
echo "tanaka: 初期パスワードは本人が最初のサインインで変更します / the initial password must be changed at first sign-in"
fingerprint=$(KINKO_SESSION= KINKO_PASSWORD="$handler_pw" KINKO_NEW_PASSWORD="Demo-Handler-8w3j!z" "$kinko" --json --user tanaka passwd | sed -n 's/.*"key_fingerprint": "\([^"]*\)".*/\1/p')
handler_pw="Demo-Handler-8w3j!z"
echo "tanaka: 鍵の指紋 / key fingerprint $fingerprint"

step "認証 / the officer certifies tanaka, comparing the fingerprint on tanaka's screen"
"$kinko" account certify tanaka --fingerprint "$fingerprint"
"$kinko" account list

step "名簿 / the handler roster: request, then record the bureau's approval"
req=$("$kinko" roster request add tanaka --name "田中 花子" --address "東京都千代田区霞が関1-2-2" \
  --birth-date 1985-04-01 --department "相談課" --position "主任" --duty "情報取扱者")
"$kinko" roster approve "$req" --ref "労発1125第2号" --date 2026-11-25
"$kinko" roster list

step "受領 / receive a file with personal data"
printf '氏名,住所\n山田 太郎,東京都千代田区1-1\n' > "$work/受講者名簿.csv"
doc=$("$kinko" import "$work/受講者名簿.csv" --from "東京労働局" --purpose "委託契約 R8-01" --via USB --personal-data)
"$kinko" list

step "付与 / grant it to the handler"
"$kinko" grant "$doc" --to tanaka
"$kinko" show "$doc"

step "持ち出し承認と閲覧 / export approval, then the handler opens it"
"$kinko" approve-export "$doc" --ref "労発1125第1号" --for tanaka
(unset KINKO_SESSION; KINKO_PASSWORD="$handler_pw" "$kinko" --user tanaka open "$doc" --out -)

step "拒否の例 / a refused action (exit 4, logged)"
(unset KINKO_SESSION; KINKO_PASSWORD="$handler_pw" "$kinko" --user tanaka import "$work/受講者名簿.csv" --from x --purpose y) || echo "exit $?"

step "完全性検査 / verify"
"$kinko" verify

step "監査ログ / audit log"
"$kinko" audit log
"$kinko" logout

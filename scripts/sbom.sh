#!/usr/bin/env bash
# The CycloneDX SBOMs of the programs Kinko ships (I4), kept in sbom/:
# kinko-cli.cdx.json (the `kinko` command, also embedded in it and printed
# by `kinko about --sbom`), kinko-app.cdx.json (the desktop app) and
# kinko-server.cdx.json (the office server).
#   bash scripts/sbom.sh          write them
#   bash scripts/sbom.sh --check  fail if they no longer match Cargo.lock
# They are made reproducible (no timestamp, no serial number, paths relative
# to the repository) so that a check is a plain comparison.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
command -v cargo-cyclonedx >/dev/null 2>&1 ||
    cargo install cargo-cyclonedx --version 0.5.9 --locked -j2

generate() {
    local into="$1"
    cargo cyclonedx --format json --spec-version 1.5 -q
    for made in crates/kinko-cli/kinko-cli src-tauri/kinko-app crates/kinko-server/kinko-server; do
        python3 - "$made.cdx.json" "$into/$(basename "$made").cdx.json" "$root" <<'PY'
import json, sys
src, dst, root = sys.argv[1:4]
text = open(src, encoding="utf-8").read().replace("file://" + root, "file://.")
bom = json.loads(text)
bom.pop("serialNumber", None)
bom.get("metadata", {}).pop("timestamp", None)
with open(dst, "w", encoding="utf-8") as f:
    json.dump(bom, f, indent=2, ensure_ascii=False, sort_keys=True)
    f.write("\n")
PY
    done
    find . -name '*.cdx.json' -not -path './sbom/*' -not -path './target/*' \
        -not -path './ui/node_modules/*' -delete
}

if [ "${1:-}" = "--check" ]; then
    tmp="$(mktemp -d)"
    trap 'rm -rf "$tmp"' EXIT
    generate "$tmp"
    for f in kinko-cli kinko-app kinko-server; do
        if ! cmp -s "$tmp/$f.cdx.json" "sbom/$f.cdx.json"; then
            diff <(python3 -c 'import json,sys; [print(c["name"], c["version"]) for c in json.load(open(sys.argv[1]))["components"]]' "sbom/$f.cdx.json") \
                 <(python3 -c 'import json,sys; [print(c["name"], c["version"]) for c in json.load(open(sys.argv[1]))["components"]]' "$tmp/$f.cdx.json") | head -20 || true
            echo "sbom/$f.cdx.json is out of date: run bash scripts/sbom.sh and commit it" >&2
            exit 1
        fi
    done
    echo "SBOMs match Cargo.lock"
else
    mkdir -p sbom
    generate sbom
    echo "wrote sbom/kinko-cli.cdx.json, sbom/kinko-app.cdx.json and sbom/kinko-server.cdx.json"
fi

#!/usr/bin/env bash
# Vendor qrcode-generator (npm package, MIT, no dependencies) into
# lawline/web/static/vendor/qrcode-generator: the admins' page draws a new village
# terminal's address as a QR code to scan on the box, with no build step and no
# internet. Only its ES module build is kept. Run again with a new version to update.
set -euo pipefail
VERSION="${1:-2.0.4}"
DEST="$(cd "$(dirname "$0")/.." && pwd)/lawline/web/static/vendor/qrcode-generator"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
(cd "$WORK" && npm pack --silent "qrcode-generator@$VERSION" >/dev/null && tar xzf ./*.tgz)
rm -rf "$DEST"
mkdir -p "$DEST"
cp "$WORK/package/dist/qrcode.mjs" "$DEST/qrcode.mjs"
printf '%s\nMIT licence (Kazuhiko Arase), as its package.json states.\n' "$VERSION" > "$DEST/VERSION"
echo "qrcode-generator $VERSION vendored into $DEST"

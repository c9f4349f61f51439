#!/usr/bin/env bash
# Vendor Swagger UI (npm package swagger-ui-dist) into lawline/web/static/swagger-ui,
# so /docs works where there is no internet. Run again with a new version to update.
set -euo pipefail
VERSION="${1:-5.35.0}"
DEST="$(cd "$(dirname "$0")/.." && pwd)/lawline/web/static/swagger-ui"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
(cd "$WORK" && npm pack --silent "swagger-ui-dist@$VERSION" >/dev/null && tar xzf ./*.tgz)
mkdir -p "$DEST"
for f in swagger-ui-bundle.js swagger-ui-bundle.js.LICENSE.txt swagger-ui.css \
         favicon-32x32.png LICENSE NOTICE; do
  cp "$WORK/package/$f" "$DEST/$f"
done
echo "$VERSION" > "$DEST/VERSION"
echo "swagger-ui-dist $VERSION vendored into $DEST"

#!/usr/bin/env bash
# Vendor lit-html (npm package lit-html) into lawline/web/static/vendor/lit-html, so the
# pages render with it and no build step and no internet. Run again with a new version
# to update. Only the files the pages import are kept: the ES module build imports its
# own files by relative path, so they load as they are. lit-html renders from tagged
# template literals (values are escaped by construction) with no eval, new Function or
# inline script, so the pages' Content-Security-Policy ("script-src 'self'") holds.
# Why lit-html rather than Preact with htm: one package with no dependencies (htm needs
# Preact beside it, found through an import map, an inline script the policy forbids,
# or rewritten imports), templates that are the pages' own HTML with ${} holes, and no
# virtual DOM: it updates only the parts whose values changed, so the page's own
# elements (forms, videos) are left alone.
set -euo pipefail
VERSION="${1:-3.3.3}"
DEST="$(cd "$(dirname "$0")/.." && pwd)/lawline/web/static/vendor/lit-html"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
(cd "$WORK" && npm pack --silent "lit-html@$VERSION" >/dev/null && tar xzf ./*.tgz)
rm -rf "$DEST"
mkdir -p "$DEST/directives"
for f in lit-html.js directive.js directive-helpers.js directives/repeat.js LICENSE; do
  cp "$WORK/package/$f" "$DEST/$f"
done
echo "$VERSION" > "$DEST/VERSION"
echo "lit-html $VERSION vendored into $DEST"

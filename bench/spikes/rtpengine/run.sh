#!/bin/sh
# Runs run.py in a network namespace of its own (only loopback), then deletes it.
#   bench/spikes/rtpengine/run.sh --calls 4 --mode pcma
set -e
here=$(cd "$(dirname "$0")" && pwd)
# SIP.js for the lawyers' page, fetched from the npm registry once (not kept in git).
if [ ! -f "$here/vendor/sip.js/index.js" ]; then
    tmp=$(mktemp -d)
    (cd "$tmp" && npm pack --silent sip.js@0.21.2 >/dev/null && tar xzf ./*.tgz)
    mkdir -p "$here/vendor/sip.js"
    cp -r "$tmp/package/lib/." "$here/vendor/sip.js/"
    cp "$tmp/package/LICENSE.md" "$tmp/package/package.json" "$here/vendor/sip.js/"
    rm -rf "$tmp"
fi
ns=s19rtpe-$$
ip netns add "$ns"
trap 'ip netns delete "$ns"' EXIT
ip -n "$ns" link set lo up
ip netns exec "$ns" "$here/../../../.venv/bin/python" "$here/run.py" "$@"

#!/bin/sh
# Runs run.py in a network namespace of its own (only loopback), then deletes it.
#   bench/spikes/rtpengine/run.sh --calls 4 --mode pcma
set -e
here=$(cd "$(dirname "$0")" && pwd)
ns=s19rtpe-$$
ip netns add "$ns"
trap 'ip netns delete "$ns"' EXIT
ip -n "$ns" link set lo up
ip netns exec "$ns" "$here/../../../.venv/bin/python" "$here/run.py" "$@"

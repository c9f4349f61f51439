#!/usr/bin/env bash
# Set up if needed, lint, then run the tests (pytest options pass through).
#
# The tests run inside a network namespace that has only loopback, when this
# machine allows one (root): every peer they start (Redis, SIP, WebRTC, the
# browser) can then reach nothing but 127.0.0.1, and WebRTC has no other
# interface to pick. Without it the browser tests skip; the rest still run.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
.venv/bin/ruff check .
.venv/bin/ruff format --check .  # the tree stays as ruff format writes it

# Most of a test waits on its peers (a call to ring, a browser to draw), so the files are
# shared between two workers (about 20 minutes on two cores instead of 32), each in a
# namespace of its own: their Redis, PostgreSQL, Kamailio and Janus never meet. The
# tests that judge real-time audio with their own peer in the test process (marked
# `alone`: tests/conftest.py) run after the rest, one at a time with nothing beside
# them, as a centre's machine runs media ahead of batch work.
# LAWLINE_TEST_WORKERS=1 runs everything one after another in one namespace.
workers=${LAWLINE_TEST_WORKERS:-2}
((workers >= 1)) || workers=1

netns_ok() {  # the namespace exists (made now if need be) with loopback up
    ip netns exec "$1" true 2>/dev/null || ip netns add "$1" 2>/dev/null || true
    ip -n "$1" link set lo up 2>/dev/null
}

if ((EUID != 0)) || ! command -v ip >/dev/null || ! netns_ok lawline-tests; then
    echo "test: no network namespace here; browser tests will be skipped" >&2
    exec .venv/bin/python -m pytest "$@"
fi
if ((workers == 1)); then
    exec ip netns exec lawline-tests env LAWLINE_TEST_NETNS=lawline-tests \
        .venv/bin/python -m pytest "$@"
fi
tx=()
for ((i = 1; i <= workers; i++)); do
    ns=lawline-tests-$i
    netns_ok "$ns"
    tx+=(--tx "popen//python=ip netns exec $ns .venv/bin/python//env:LAWLINE_TEST_NETNS=$ns")
done
passed() { (($1 == 0 || $1 == 5)); } # 5: nothing of that kind among the tests asked for
rc=0
.venv/bin/python -m pytest --dist loadfile "${tx[@]}" -m "not alone" "$@" || rc=$?
rc_alone=0
ip netns exec lawline-tests env LAWLINE_TEST_NETNS=lawline-tests \
    .venv/bin/python -m pytest -p no:xdist -m alone "$@" || rc_alone=$?
passed "$rc" || exit "$rc"
passed "$rc_alone" || exit "$rc_alone"
exit 0

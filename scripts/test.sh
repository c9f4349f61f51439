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

NETNS=lawline-tests
in_netns=()
if ((EUID == 0)) && command -v ip >/dev/null; then
    if ! ip netns exec "$NETNS" true 2>/dev/null; then
        ip netns add "$NETNS" 2>/dev/null || true
    fi
    if ip -n "$NETNS" link set lo up 2>/dev/null; then
        in_netns=(ip netns exec "$NETNS" env LAWLINE_TEST_NETNS="$NETNS")
    else
        echo "test: no network namespace here; browser tests will be skipped" >&2
    fi
fi
exec "${in_netns[@]}" .venv/bin/python -m pytest "$@"

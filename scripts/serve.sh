#!/usr/bin/env bash
# Set up if needed, then run `lawline serve` with the given options.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
exec .venv/bin/lawline serve "$@"

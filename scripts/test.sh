#!/usr/bin/env bash
# Set up if needed, lint, then run the tests (pytest options pass through).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
.venv/bin/ruff check .
exec .venv/bin/python -m pytest "$@"

#!/usr/bin/env bash
# The README's test command: installs what is missing, builds, and runs every
# test (unit and process-level). CI runs exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh
tools/build.sh release
ctest --preset release -j 2

#!/usr/bin/env bash
# The README's test command: installs what is missing, builds, and runs every
# test (unit and process-level), first in the release build, then with
# AddressSanitizer and UndefinedBehaviorSanitizer. CI runs exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh
echo "== release build and tests"
tools/build.sh release
ctest --preset release -j 2
echo "== asan build and tests (AddressSanitizer + UndefinedBehaviorSanitizer)"
tools/build.sh asan
ctest --preset asan -j 2

#!/usr/bin/env bash
# The README's test command: installs what is missing, builds, and runs every
# test (unit and process-level), first in the release build, then with
# AddressSanitizer and UndefinedBehaviorSanitizer, then every fuzz target for
# TRIAD_FUZZ_SECONDS each (default 30) on its seed corpus. CI runs exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh
echo "== release build and tests"
tools/build.sh release
ctest --preset release -j 2
echo "== asan build and tests (AddressSanitizer + UndefinedBehaviorSanitizer)"
tools/build.sh asan
ctest --preset asan -j 2
echo "== fuzz targets, ${TRIAD_FUZZ_SECONDS:-30} s each (libFuzzer, ASan + UBSan)"
tools/fuzz.sh "${TRIAD_FUZZ_SECONDS:-30}"
